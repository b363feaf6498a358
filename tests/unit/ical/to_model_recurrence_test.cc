// to_model's handling of PidLidAppointmentRecur: a valid blob becomes model::Recurrence with
// its zone; a malformed one is a warning on the item and the output of before (the single
// instance), never a failure.
#include <gtest/gtest.h>

#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/render.h"
#include "recurrence_blob.h"

namespace mm::mapi {
namespace {

using ::mm::testing::day_minutes;
using ::mm::testing::RecurBlob;

std::string ft(i64 unix_secs) {
  const u64 v = static_cast<u64>(unix_secs + 11644473600LL) * 10000000ULL;
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

NameMap names() {
  NameMap n;
  n.add(0x8001, PropertyName{psetid::Appointment, false, 0x820D, ""});
  n.add(0x8002, PropertyName{psetid::Appointment, false, 0x820E, ""});
  n.add(0x8003, PropertyName{psetid::Appointment, false, 0x8223, ""});
  n.add(0x8004, PropertyName{psetid::Appointment, false, 0x8216, ""});
  return n;
}

RawMessage recurring(const std::string &blob) {
  RawMessage m;
  m.props.set_unicode(pid::MESSAGE_CLASS, "IPM.Appointment");
  m.props.set_unicode(pid::SUBJECT, "Weekly");
  // First instance 2016-08-02 08:00 local = 15:00 UTC (a UTC-7 offset, no zone property).
  m.props.set(make_tag(0x8001, PT_SYSTIME), ft(1470150000));
  m.props.set(make_tag(0x8002, PT_SYSTIME), ft(1470151800));
  m.props.set_bool(make_tag(0x8003, PT_BOOLEAN), true);
  m.props.set(make_tag(0x8004, PT_BINARY), blob);
  return m;
}

RecurBlob weekly() {
  RecurBlob b;
  b.freq = 0x200B;
  b.pattern = 0x0001;
  b.pattern_specific = {0x04};
  b.period = 1;
  b.start_date = day_minutes(2016, 8, 2);
  b.start_offset = 480;
  b.end_offset = 510;
  b.end_type = 0x2022;
  b.occurrences = 3;
  return b;
}

TEST(ToModelRecurrence, ValidBlobWithoutZoneUsesTheFirstInstancesOffset) {
  const NameMap n = names();
  ConvertContext ctx;
  ctx.names = &n;
  Result<model::Message> r = to_model(recurring(weekly().bytes()), ctx);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->appointment && r->appointment->recurrence);
  ASSERT_TRUE(r->appointment->time_zone);
  EXPECT_EQ(r->appointment->time_zone->bias, 420);
  ASSERT_EQ(r->warnings.size(), 1u);  // "no time zone; instances written in UTC"
  const std::string ics = mime::render_ics(*r);
  EXPECT_NE(ics.find("\r\nDTSTART:20160802T150000Z\r\nDTEND:20160802T153000Z\r\n"
                     "RRULE:FREQ=WEEKLY;BYDAY=TU;WKST=SU;COUNT=3\r\n"),
            std::string::npos)
      << ics;
}

TEST(ToModelRecurrence, MalformedBlobIsAWarningAndTheSingleInstance) {
  const NameMap n = names();
  ConvertContext ctx;
  ctx.names = &n;
  std::string blob = weekly().bytes();
  blob[4] = '\x99';  // RecurFrequency 0x2099
  Result<model::Message> r = to_model(recurring(blob), ctx);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->appointment);
  EXPECT_TRUE(r->appointment->is_recurring);
  EXPECT_FALSE(r->appointment->recurrence);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].detail.find("RecurFrequency"), std::string::npos)
      << r->warnings[0].detail;
  const std::string ics = mime::render_ics(*r);
  EXPECT_NE(ics.find("\r\nDTSTART:20160802T150000Z\r\n"), std::string::npos);
  EXPECT_EQ(ics.find("RRULE"), std::string::npos);
  // Truncated to every length: never a crash, always an item.
  const std::string good = weekly().bytes();
  for (std::size_t len = 0; len < good.size(); ++len) {
    Result<model::Message> t = to_model(recurring(good.substr(0, len)), ctx);
    ASSERT_TRUE(t.ok()) << len;
    (void)mime::render_ics(*t);
  }
}

TEST(ToModelRecurrence, InstanceOfASeriesGetsItsOriginalStart) {
  NameMap n = names();
  n.add(0x8005, PropertyName{psetid::Meeting, false, 0x0003, ""});
  n.add(0x8006, PropertyName{psetid::Appointment, false, 0x8228, ""});
  ConvertContext ctx;
  ctx.names = &n;
  RawMessage m;
  m.props.set_unicode(pid::MESSAGE_CLASS, "IPM.Schedule.Meeting.Request");
  m.props.set(make_tag(0x8001, PT_SYSTIME), ft(1470150000));
  m.props.set(make_tag(0x8006, PT_SYSTIME), ft(1470146400));
  std::string goid("\x04\x00\x00\x00\x82\x00\xE0\x00\x74\xC5\xB7\x10\x1A\x82\xE0\x08", 16);
  goid += std::string("\x07\xE0\x08\x02", 4) + std::string(20, '\0') + "abcd";
  m.props.set(make_tag(0x8005, PT_BINARY), goid);
  Result<model::Message> r = to_model(m, ctx);
  ASSERT_TRUE(r.ok() && r->appointment);
  EXPECT_EQ(r->appointment->instance_start.value_or(0), 1470146400);
  // Without an instance date in the id the replace time is not an instance of anything.
  goid[16] = goid[17] = goid[18] = goid[19] = '\0';
  m.props.set(make_tag(0x8005, PT_BINARY), goid);
  r = to_model(m, ctx);
  ASSERT_TRUE(r.ok() && r->appointment);
  EXPECT_FALSE(r->appointment->instance_start);
}

}  // namespace
}  // namespace mm::mapi
