// Ground truth through the whole chain: a recurring appointment whose recurrence blob this test
// builds is written with the PST writer, read back by the native reader, converted and rendered
// as .ics; libical (an independent parser) parses it, checks its restrictions and expands the
// series, and the occurrences must be the ones the test intended.
#include <gtest/gtest.h>

#include <libical/ical.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "mailmill/format/pst/writer.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/render.h"
#include "mailmill/source/open.h"
#include "recurrence_blob.h"
#include "test_support.h"

namespace mm {
namespace {

using testing::day_minutes;
using testing::RecurBlob;

// US Pacific as a TZSTRUCT: UTC-8, DST (-60) from the 2nd Sunday of March 02:00 to the 1st
// Sunday of November 02:00.
std::string pacific_tzstruct() {
  std::string s;
  auto p16 = [&](u16 v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>(v >> 8);
  };
  auto p32 = [&](u32 v) {
    p16(static_cast<u16>(v));
    p16(static_cast<u16>(v >> 16));
  };
  p32(480);
  p32(0);
  p32(static_cast<u32>(-60));
  p16(0);
  for (u16 v : {0, 11, 0, 1, 2, 0, 0, 0}) p16(v);
  p16(0);
  for (u16 v : {0, 3, 0, 2, 2, 0, 0, 0}) p16(v);
  return s;
}

i64 utc_of(icalcomponent *cal, icalproperty *prop, icaltimetype t) {
  if (icalparameter *p = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER)) {
    icaltimezone *zone = icalcomponent_get_timezone(cal, icalparameter_get_tzid(p));
    EXPECT_NE(zone, nullptr) << "TZID without VTIMEZONE: " << icalparameter_get_tzid(p);
    return static_cast<i64>(icaltime_as_timet_with_zone(t, zone));
  }
  return static_cast<i64>(icaltime_as_timet(t));
}

// Every X-LIC-ERROR property libical attached while parsing or checking.
std::vector<std::string> lic_errors(icalcomponent *c) {
  std::vector<std::string> out;
  for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
       p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
    out.emplace_back(icalproperty_get_xlicerror(p));
  }
  for (icalcomponent *s = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); s;
       s = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
    for (std::string &e : lic_errors(s)) out.push_back(std::move(e));
  }
  return out;
}

i64 utc(int y, unsigned m, unsigned d, int hh, int mm) {
  return static_cast<i64>(day_minutes(y, m, d)) * 60 - 11644473600LL + hh * 3600 + mm * 60;
}

TEST(GeneratedRecurringPst, LibicalExpandsTheIntendedOccurrences) {
  // Every Monday and Wednesday at 09:30-10:00 Pacific, 12 instances from 2021-03-01 (DST
  // begins on 2021-03-14). Wednesday 03-10 deleted; Monday 03-15 moved to Tuesday 03-16
  // 11:00-12:00 with another subject.
  RecurBlob b;
  b.freq = 0x200B;
  b.pattern = 0x0001;
  b.pattern_specific = {0x02 | 0x08};
  b.period = 1;
  b.first_dow = 1;
  b.start_date = day_minutes(2021, 3, 1);
  b.end_type = 0x2022;
  b.occurrences = 12;
  b.end_date = day_minutes(2021, 4, 7);
  b.start_offset = 9 * 60 + 30;
  b.end_offset = 10 * 60;
  b.deleted = {day_minutes(2021, 3, 10), day_minutes(2021, 3, 15)};
  b.modified = {day_minutes(2021, 3, 16)};
  RecurBlob::Exception ex;
  ex.start = day_minutes(2021, 3, 16) + 11 * 60;
  ex.end = day_minutes(2021, 3, 16) + 12 * 60;
  ex.original = day_minutes(2021, 3, 15) + 9 * 60 + 30;
  ex.flags = 0x0001;
  ex.subject = "Moved standup";
  ex.wide_subject = u"Moved standup";
  b.exceptions = {ex};

  model::Message m;
  m.kind = model::ItemKind::Appointment;
  m.message_class = "IPM.Appointment";
  m.subject = "Standup";
  m.from = {"Org", "org@example.com", "", "SMTP"};
  m.creation_time = utc(2021, 2, 20, 12, 0);
  model::Appointment a;
  a.start = utc(2021, 3, 1, 17, 30);
  a.end = utc(2021, 3, 1, 18, 0);
  a.is_recurring = true;
  a.recurrence_blob = b.bytes();
  a.time_zone_blob = pacific_tzstruct();
  a.time_zone = model::TimeZone{};
  a.time_zone->name = "Pacific Standard Time";
  m.appointment = a;

  const std::string dir = ::mm::testing::make_tmp_dir("mm_ical_gen");
  const std::string path = dir + "/recurring.pst";
  {
    auto w = pst::PstWriter::create(path, {});
    ASSERT_TRUE(w.ok()) << w.problem().detail;
    Result<u64> folder = (*w)->add_folder(0, "Calendar", "IPF.Appointment");
    ASSERT_TRUE(folder.ok());
    ASSERT_TRUE((*w)->add_message(*folder, m).ok());
    ASSERT_TRUE((*w)->finish().ok());
  }
  auto store = source::open_store(path, source::Reader::Native);
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  std::string ics;
  for (const mapi::FolderInfo &f : *folders) {
    if (f.path.empty() || f.path.back() != "Calendar") continue;
    auto items = (*store)->items_in(f.node_id);
    ASSERT_TRUE(items.ok());
    ASSERT_EQ(items->size(), 1u);
    auto raw = (*store)->read_item(items->front());
    ASSERT_TRUE(raw.ok());
    mapi::ConvertContext ctx;
    ctx.names = &(*store)->names();
    Result<model::Message> back = mapi::to_model(*raw, ctx);
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(back->appointment && back->appointment->recurrence);
    for (const Problem &p : back->warnings) ADD_FAILURE() << "warning: " << p.detail;
    ics = mime::render_ics(*back);
  }
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(ics.empty());

  icalcomponent *cal = icalparser_parse_string(ics.c_str());
  ASSERT_NE(cal, nullptr) << ics;
  EXPECT_TRUE(lic_errors(cal).empty()) << lic_errors(cal).front();
  icalrestriction_check(cal);
  const std::vector<std::string> errors = lic_errors(cal);
  EXPECT_TRUE(errors.empty()) << errors.front() << "\n" << ics;

  std::set<i64> occurrences, exdates;
  std::vector<std::pair<i64, i64>> overrides;  // RECURRENCE-ID -> DTSTART, UTC
  for (icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); ev;
       ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    icalproperty *dtstart = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    ASSERT_NE(dtstart, nullptr);
    const i64 start = utc_of(cal, dtstart, icalproperty_get_dtstart(dtstart));
    if (icalproperty *rid = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY)) {
      overrides.emplace_back(utc_of(cal, rid, icalproperty_get_recurrenceid(rid)), start);
      EXPECT_STREQ(icalcomponent_get_summary(ev), "Moved standup");
      continue;
    }
    icalproperty *rrule = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    ASSERT_NE(rrule, nullptr) << ics;
    icaltimetype t0 = icalproperty_get_dtstart(dtstart);
    if (icalparameter *p = icalproperty_get_first_parameter(dtstart, ICAL_TZID_PARAMETER))
      t0 = icaltime_set_timezone(&t0, icalcomponent_get_timezone(cal, icalparameter_get_tzid(p)));
    icalrecur_iterator *it = icalrecur_iterator_new(icalproperty_get_rrule(rrule), t0);
    ASSERT_NE(it, nullptr);
    int guard = 0;
    for (icaltimetype t = icalrecur_iterator_next(it); !icaltime_is_null_time(t) && guard < 100;
         t = icalrecur_iterator_next(it), ++guard) {
      occurrences.insert(static_cast<i64>(icaltime_as_timet_with_zone(t, t0.zone)));
    }
    icalrecur_iterator_free(it);
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
      exdates.insert(utc_of(cal, p, icalproperty_get_exdate(p)));
    }
  }
  icalcomponent_free(cal);

  EXPECT_EQ(occurrences.size(), 12u);
  std::set<i64> shown;
  for (i64 o : occurrences)
    if (!exdates.count(o)) shown.insert(o);
  for (const auto &[rid, start] : overrides) {
    EXPECT_EQ(shown.erase(rid), 1u) << "RECURRENCE-ID is not an instance: " << rid;
    shown.insert(start);
  }
  // The intended instances in UTC: PST (+8h) before 2021-03-14, PDT (+7h) after.
  const std::set<i64> intended = {
      utc(2021, 3, 1, 17, 30),  utc(2021, 3, 3, 17, 30),  utc(2021, 3, 8, 17, 30),
      utc(2021, 3, 16, 18, 0),  utc(2021, 3, 17, 16, 30), utc(2021, 3, 22, 16, 30),
      utc(2021, 3, 24, 16, 30), utc(2021, 3, 29, 16, 30), utc(2021, 3, 31, 16, 30),
      utc(2021, 4, 5, 16, 30),  utc(2021, 4, 7, 16, 30)};
  EXPECT_EQ(shown, intended) << ics;
}

}  // namespace
}  // namespace mm
