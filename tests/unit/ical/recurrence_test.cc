// The recurrence-blob parser (mapi/recurrence) and the RRULE/EXDATE it becomes (mime/ical), on
// blobs built here field by field from the [MS-OXOCAL] 2.2.1.44 layout.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mailmill/mapi/recurrence.h"
#include "mailmill/mime/ical.h"
#include "mailmill/mime/render.h"
#include "recurrence_blob.h"

namespace mm {
namespace {

using testing::RecurBlob;
using testing::day_minutes;

std::string rrule(const model::Recurrence &r, bool all_day = false) {
  return mime::format_rrule(r, std::nullopt, all_day);
}

model::Recurrence parse_ok(const std::string &blob) {
  Result<mapi::ParsedRecurrence> p = mapi::parse_appointment_recurrence(blob, 1252);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.problem().detail);
  if (!p.ok()) return {};
  EXPECT_TRUE(p->notes.empty()) << p->notes.front();
  return p->recurrence;
}

// 2016-08-02 is a Tuesday.
constexpr i64 AUG2_2016 = 1470096000;

TEST(Recurrence, DailyEveryThreeDaysCount) {
  RecurBlob b;
  b.freq = 0x200A;
  b.pattern = 0x0000;
  b.period = 3 * 1440;
  b.start_date = day_minutes(2016, 8, 2);
  b.end_type = 0x2022;
  b.occurrences = 10;
  b.start_offset = 9 * 60;
  b.end_offset = 9 * 60 + 45;
  const model::Recurrence r = parse_ok(b.bytes());
  EXPECT_EQ(rrule(r), "FREQ=DAILY;INTERVAL=3;COUNT=10");
  EXPECT_EQ(r.start, AUG2_2016 + 9 * 3600);
  EXPECT_EQ(r.duration_minutes, 45);
}

TEST(Recurrence, WeeklyTwoDaysEndByDateWithWeekStart) {
  RecurBlob b;
  b.freq = 0x200B;
  b.pattern = 0x0001;
  b.pattern_specific = {0x04 | 0x10};  // Tuesday, Thursday
  b.period = 2;
  b.first_dow = 1;
  b.start_date = day_minutes(2016, 8, 2);
  b.end_type = 0x2021;
  b.end_date = day_minutes(2016, 9, 29);
  b.start_offset = 8 * 60;
  b.end_offset = 8 * 60 + 30;
  const model::Recurrence r = parse_ok(b.bytes());
  // UNTIL: the last instance's start, local = UTC here (no zone given).
  EXPECT_EQ(rrule(r), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=MO;UNTIL=20160929T080000Z");
  // With US Pacific (UTC-8, DST from the 2nd Sunday of March to the 1st Sunday of November)
  // the last instance at 08:00 PDT is 15:00 UTC.
  model::TimeZone pacific;
  pacific.name = "Pacific Standard Time";
  pacific.bias = 480;
  pacific.daylight_bias = -60;
  pacific.standard_date = {11, 0, 1, 2, 0};
  pacific.daylight_date = {3, 0, 2, 2, 0};
  EXPECT_EQ(mime::format_rrule(r, pacific, false),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=MO;UNTIL=20160929T150000Z");
  // ... and an all-day series has a DATE UNTIL.
  EXPECT_EQ(rrule(r, true), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=MO;UNTIL=20160929");
}

TEST(Recurrence, EveryWeekdayIsDailyFrequencyWithWeekPattern) {
  RecurBlob b;
  b.freq = 0x200A;
  b.pattern = 0x0001;
  b.pattern_specific = {0x3E};
  b.period = 1;
  b.start_date = day_minutes(2016, 8, 1);
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;WKST=SU");
}

TEST(Recurrence, MonthlyNthWeekdayAndLastWeekday) {
  RecurBlob b;
  b.freq = 0x200C;
  b.pattern = 0x0004;
  b.pattern_specific = {0x04, 2};  // second Tuesday
  b.period = 1;
  b.start_date = day_minutes(2016, 8, 9);
  b.end_type = 0x2022;
  b.occurrences = 6;
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=MONTHLY;BYDAY=2TU;COUNT=6");
  b.pattern_specific = {0x3E, 5};  // last weekday, every 2 months
  b.period = 2;
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=6");
}

TEST(Recurrence, MonthlyDayOfMonthAndMonthEnd) {
  RecurBlob b;
  b.freq = 0x200C;
  b.pattern = 0x0002;
  b.pattern_specific = {15};
  b.period = 1;
  b.start_date = day_minutes(2016, 8, 15);
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=MONTHLY;BYMONTHDAY=15");
  b.pattern_specific = {30};  // Outlook: the 30th, or the last day of February
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1");
  b.pattern_specific = {31};
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=MONTHLY;BYMONTHDAY=-1");
  b.pattern = 0x0003;  // MonthEnd
  b.pattern_specific = {31};
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=MONTHLY;BYMONTHDAY=-1");
}

TEST(Recurrence, YearlyDayAndNth) {
  RecurBlob b;
  b.freq = 0x200D;
  b.pattern = 0x0002;
  b.pattern_specific = {14};
  b.period = 12;
  b.start_date = day_minutes(2017, 2, 14);
  b.end_type = 0x2022;
  b.occurrences = 5;
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=14;COUNT=5");
  b.pattern = 0x0004;
  b.pattern_specific = {0x10, 4};  // fourth Thursday of November, every 2 years
  b.period = 24;
  b.start_date = day_minutes(2016, 11, 24);
  EXPECT_EQ(rrule(parse_ok(b.bytes())), "FREQ=YEARLY;INTERVAL=2;BYMONTH=11;BYDAY=4TH;COUNT=5");
}

TEST(Recurrence, DeletedAndModifiedInstances) {
  RecurBlob b;
  b.freq = 0x200B;
  b.pattern = 0x0001;
  b.pattern_specific = {0x04};
  b.period = 1;
  b.start_date = day_minutes(2016, 8, 2);
  b.end_type = 0x2023;
  b.start_offset = 8 * 60;
  b.end_offset = 8 * 60 + 30;
  // Aug 9 deleted; Aug 16 moved to Aug 17 10:00-11:00 with a new subject and location;
  // Aug 23 moved within its day (body only). DeletedInstanceDates lists all three.
  b.deleted = {day_minutes(2016, 8, 9), day_minutes(2016, 8, 16), day_minutes(2016, 8, 23)};
  b.modified = {day_minutes(2016, 8, 17), day_minutes(2016, 8, 23)};
  RecurBlob::Exception e1;
  e1.start = day_minutes(2016, 8, 17) + 600;
  e1.end = day_minutes(2016, 8, 17) + 660;
  e1.original = day_minutes(2016, 8, 16) + 480;
  e1.flags = 0x0001 | 0x0010 | 0x0020;
  e1.subject = "Moved";
  e1.location = "Room 2";
  e1.wide_subject = u"Verschoben \u00fc";
  e1.wide_location = u"Raum 2";
  e1.busy = 1;
  RecurBlob::Exception e2;
  e2.start = day_minutes(2016, 8, 23) + 540;
  e2.end = day_minutes(2016, 8, 23) + 570;
  e2.original = day_minutes(2016, 8, 23) + 480;
  e2.flags = 0x0200;
  b.exceptions = {e1, e2};
  const model::Recurrence r = parse_ok(b.bytes());
  EXPECT_EQ(rrule(r), "FREQ=WEEKLY;BYDAY=TU;WKST=SU");
  ASSERT_EQ(r.deleted.size(), 1u);
  EXPECT_EQ(r.deleted[0], AUG2_2016 + 7 * 86400 + 8 * 3600);
  ASSERT_EQ(r.exceptions.size(), 2u);
  EXPECT_EQ(r.exceptions[0].original_start, AUG2_2016 + 14 * 86400 + 8 * 3600);
  EXPECT_EQ(r.exceptions[0].start, AUG2_2016 + 15 * 86400 + 10 * 3600);
  EXPECT_EQ(r.exceptions[0].subject.value_or(""), "Verschoben \xc3\xbc");  // the Unicode one
  EXPECT_EQ(r.exceptions[0].location.value_or(""), "Raum 2");
  EXPECT_EQ(r.exceptions[0].busy_status.value_or(-1), 1);
  EXPECT_FALSE(r.exceptions[1].subject.has_value());

  // In the .ics: EXDATE for Aug 9, and one VEVENT per exception with its RECURRENCE-ID.
  model::Message m;
  m.kind = model::ItemKind::Appointment;
  m.subject = "Weekly";
  model::Appointment a;
  a.is_recurring = true;
  a.recurrence = r;
  m.appointment = a;
  const std::string ics = mime::render_ics(m);
  EXPECT_NE(ics.find("\r\nRRULE:FREQ=WEEKLY;BYDAY=TU;WKST=SU\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("\r\nEXDATE:20160809T080000Z\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("\r\nRECURRENCE-ID:20160816T080000Z\r\nDTSTART:20160817T100000Z\r\n"
                     "DTEND:20160817T110000Z\r\nSUMMARY:Verschoben \xc3\xbc\r\n"
                     "LOCATION:Raum 2\r\n"),
            std::string::npos)
      << ics;
  EXPECT_NE(ics.find("\r\nRECURRENCE-ID:20160823T080000Z\r\nDTSTART:20160823T090000Z\r\n"),
            std::string::npos)
      << ics;
}

TEST(Recurrence, ExtendedExceptionTruncatedKeepsAnsiSubjectWithNote) {
  RecurBlob b;
  b.freq = 0x200A;
  b.period = 1440;
  b.start_date = day_minutes(2016, 8, 2);
  b.deleted = {day_minutes(2016, 8, 3)};
  b.modified = {day_minutes(2016, 8, 3)};
  RecurBlob::Exception e;
  e.start = day_minutes(2016, 8, 3) + 60;
  e.end = day_minutes(2016, 8, 3) + 90;
  e.original = day_minutes(2016, 8, 3);
  e.flags = 0x0001;
  e.subject = "Ansi";
  e.wide_subject = u"Wide";
  b.exceptions = {e};
  std::string blob = b.bytes();
  blob.resize(blob.size() - 14);  // cut into the ExtendedException's subject
  Result<mapi::ParsedRecurrence> p = mapi::parse_appointment_recurrence(blob, 1252);
  ASSERT_TRUE(p.ok()) << p.problem().detail;
  ASSERT_EQ(p->notes.size(), 1u);
  EXPECT_EQ(p->recurrence.exceptions.at(0).subject.value_or(""), "Ansi");
}

TEST(Recurrence, MalformedBlobsAreProblemsNeverCrashes) {
  RecurBlob b;
  b.freq = 0x200B;
  b.pattern = 0x0001;
  b.pattern_specific = {0x04};
  b.period = 1;
  b.start_date = day_minutes(2016, 8, 2);
  b.deleted = {day_minutes(2016, 8, 9)};
  const std::string good = b.bytes();
  ASSERT_TRUE(mapi::parse_appointment_recurrence(good, 1252).ok());
  // Every truncation of the fixed part is an error (the trailing reserved blocks are lenient).
  for (std::size_t n = 0; n + 8 < good.size(); ++n) {
    Result<mapi::ParsedRecurrence> p = mapi::parse_appointment_recurrence(good.substr(0, n), 1252);
    EXPECT_FALSE(p.ok()) << "prefix " << n;
  }
  auto with = [&](std::size_t off, u32 v) {
    std::string s = good;
    for (int i = 0; i < 4; ++i) s[off + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
  };
  // A huge DeletedInstanceCount (offset 38: after 22 header bytes, the day mask, end type,
  // occurrence count and first day of week) must not allocate or read past the end.
  EXPECT_FALSE(mapi::parse_appointment_recurrence(with(38, 0x40000000), 1252).ok());
  // Hijri month pattern and an unknown end type are refused with a reason.
  RecurBlob hj = b;
  hj.freq = 0x200C;
  hj.pattern = 0x000A;
  hj.pattern_specific = {5};
  Result<mapi::ParsedRecurrence> p = mapi::parse_appointment_recurrence(hj.bytes(), 1252);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.problem().detail.find("Hijri"), std::string::npos);
  RecurBlob bad_end = b;
  bad_end.end_type = 0x1234;
  EXPECT_FALSE(mapi::parse_appointment_recurrence(bad_end.bytes(), 1252).ok());
}

TEST(TimeZone, StructAndDefinition) {
  // TZSTRUCT of US Pacific as Outlook writes it.
  std::string tz;
  auto p32 = [&](u32 v) { for (int i = 0; i < 4; ++i) tz += static_cast<char>((v >> (8 * i)) & 0xFF); };
  auto p16 = [&](u16 v) { tz += static_cast<char>(v & 0xFF); tz += static_cast<char>(v >> 8); };
  p32(480); p32(0); p32(static_cast<u32>(-60));
  p16(0);
  for (u16 v : {0, 11, 0, 1, 2, 0, 0, 0}) p16(v);
  p16(0);
  for (u16 v : {0, 3, 0, 2, 2, 0, 0, 0}) p16(v);
  std::optional<model::TimeZone> z = mapi::parse_time_zone_struct(tz);
  ASSERT_TRUE(z);
  EXPECT_EQ(z->bias, 480);
  EXPECT_EQ(z->daylight_bias, -60);
  EXPECT_EQ(z->standard_date.month, 11);
  EXPECT_EQ(z->daylight_date.week, 2);
  // 2016-03-13 01:59 local is PST (UTC-8); 03:00 is PDT (UTC-7); 2016-11-06 01:00 is PST.
  const i64 mar13 = 1457827200;
  EXPECT_EQ(mime::local_to_utc(*z, mar13 + 3540), mar13 + 3540 + 8 * 3600);
  EXPECT_EQ(mime::local_to_utc(*z, mar13 + 3 * 3600), mar13 + 3 * 3600 + 7 * 3600);
  const i64 nov6 = 1478390400;
  EXPECT_EQ(mime::local_to_utc(*z, nov6 + 2 * 3600), nov6 + 2 * 3600 + 8 * 3600);
  EXPECT_FALSE(mapi::parse_time_zone_struct(tz.substr(0, 47)));

  // TZDEFINITION with two rules; the second is flagged effective.
  std::string def;
  auto d16 = [&](u16 v) { def += static_cast<char>(v & 0xFF); def += static_cast<char>(v >> 8); };
  auto d32 = [&](u32 v) { d16(static_cast<u16>(v)); d16(static_cast<u16>(v >> 16)); };
  const std::u16string key = u"Test Zone";
  def += "\x02\x01";
  d16(static_cast<u16>(6 + key.size() * 2));
  d16(2);
  d16(static_cast<u16>(key.size()));
  for (char16_t c : key) d16(c);
  d16(2);
  for (int rule = 0; rule < 2; ++rule) {
    def += "\x02\x01";
    d16(0x3E);
    d16(rule == 1 ? 2 : 0);
    d16(static_cast<u16>(2000 + rule));
    def += std::string(14, '\0');
    d32(static_cast<u32>(rule == 1 ? -300 : -240));
    d32(0);
    d32(0);
    def += std::string(32, '\0');
  }
  z = mapi::parse_time_zone_definition(def);
  ASSERT_TRUE(z);
  EXPECT_EQ(z->name, "Test Zone");
  EXPECT_EQ(z->bias, -300);
  EXPECT_FALSE(z->has_dst());
  EXPECT_FALSE(mapi::parse_time_zone_definition(def.substr(0, def.size() - 1)));
}

TEST(MeetingUid, VcalUidAndOutlookId) {
  // [MS-ASEMAIL] 4.3 example 1: an Outlook id, instance date zeroed, hex.
  std::string goid("\x04\x00\x00\x00\x82\x00\xE0\x00\x74\xC5\xB7\x10\x1A\x82\xE0\x08"
                   "\x07\xD4\x09\x10"
                   "\xE0\x40\xC9\xC1\x26\x85\xC4\x01\x00\x00\x00\x00\x00\x00\x00\x00"
                   "\x10\x00\x00\x00"
                   "\x0B\xF0\xED\x4B\x6E\x4E\xE9\x4E\x9E\x39\xE3\x86\x7B\x37\x8E\xF3",
                   56);
  EXPECT_EQ(mime::uid_from_global_object_id(goid),
            "040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000100000000BF0"
            "ED4B6E4EE94E9E39E3867B378EF3");
  // A third-party UID carried in the id.
  std::string vcal = goid.substr(0, 40) + "vCal-Uid" + std::string("\x01\x00\x00\x00", 4) +
                     "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}" + std::string(1, '\0');
  EXPECT_EQ(mime::uid_from_global_object_id(vcal), "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}");
}

}  // namespace
}  // namespace mm
