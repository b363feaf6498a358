// Tests for mime/render: iCalendar (RFC 5545) and vCard 3.0 (RFC 2426) output.
#include "mailmill/mime/render.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mm::mime {
namespace {

// 2021-07-27 22:19:50 UTC
constexpr i64 T0 = 1627424390;

// Structural checks every rendering must pass: CRLF only, no line over 75 octets, no fold
// inside a UTF-8 sequence, BEGIN/END balanced and properly nested.
void expect_well_formed(const Bytes &out) {
  ASSERT_GE(out.size(), 2u);
  ASSERT_EQ(out.substr(out.size() - 2), "\r\n");
  std::vector<std::string> stack;
  std::size_t pos = 0;
  while (pos < out.size()) {
    const std::size_t eol = out.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos);
    const std::string line = out.substr(pos, eol - pos);
    EXPECT_LE(line.size(), 75u) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    if (!line.empty() && line[0] == ' ' && line.size() > 1) {
      // A continuation must not start in the middle of a UTF-8 character.
      EXPECT_NE(static_cast<unsigned char>(line[1]) & 0xC0, 0x80) << line;
    }
    if (line.rfind("BEGIN:", 0) == 0) stack.push_back(line.substr(6));
    if (line.rfind("END:", 0) == 0) {
      ASSERT_FALSE(stack.empty()) << line;
      EXPECT_EQ(stack.back(), line.substr(4));
      stack.pop_back();
    }
    pos = eol + 2;
  }
  EXPECT_TRUE(stack.empty());
}

// Undoes RFC 5545 3.1 folding.
std::string unfold(const Bytes &out) {
  std::string s;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 3, "\r\n ") == 0) {
      i += 2;
      continue;
    }
    s += out[i];
  }
  return s;
}

model::Message sample_appointment() {
  model::Message m;
  m.kind = model::ItemKind::Appointment;
  m.message_class = "IPM.Appointment";
  m.subject = "Budget review; Q3, final";
  m.modification_time = T0;
  m.body_text = "Agenda:\r\n1. numbers\\totals";
  m.categories = {"Work", "Finance, Q3"};
  m.sensitivity = 2;
  m.importance = 2;
  model::Recipient to;
  to.type = model::RecipientType::To;
  to.address.name = "Bob Jones";
  to.address.smtp = "bob@example.com";
  model::Recipient cc;
  cc.type = model::RecipientType::Cc;
  cc.address.name = "Smith, Carol";
  cc.address.smtp = "carol@example.com";
  m.recipients = {to, cc};
  model::Appointment a;
  a.start = T0 + 3600;
  a.end = T0 + 7200;
  a.location = "Room 1";
  a.organizer_name = "Alice";
  a.organizer_smtp = "alice@example.com";
  a.busy_status = 2;
  a.reminder_minutes = 15;
  a.global_object_id_hex = "040000008200E00074C5B7101A82E008";
  m.appointment = a;
  return m;
}

TEST(RenderIcs, Appointment) {
  const Bytes out = render_ics(sample_appointment());
  expect_well_formed(out);
  EXPECT_EQ(out,
            "BEGIN:VCALENDAR\r\n"
            "VERSION:2.0\r\n"
            "PRODID:-//mailmill//EN\r\n"
            "BEGIN:VEVENT\r\n"
            "UID:040000008200E00074C5B7101A82E008\r\n"
            "DTSTAMP:20210727T221950Z\r\n"
            "DTSTART:20210727T231950Z\r\n"
            "DTEND:20210728T001950Z\r\n"
            "SUMMARY:Budget review\\; Q3\\, final\r\n"
            "LOCATION:Room 1\r\n"
            "DESCRIPTION:Agenda:\\n1. numbers\\\\totals\r\n"
            "ORGANIZER;CN=Alice:mailto:alice@example.com\r\n"
            "ATTENDEE;CN=Bob Jones;ROLE=REQ-PARTICIPANT:mailto:bob@example.com\r\n"
            "ATTENDEE;CN=\"Smith, Carol\";ROLE=OPT-PARTICIPANT:mailto:carol@example.com\r\n"
            "CATEGORIES:Work,Finance\\, Q3\r\n"
            "CLASS:PRIVATE\r\n"
            "PRIORITY:1\r\n"
            "TRANSP:OPAQUE\r\n"
            "X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\n"
            "BEGIN:VALARM\r\n"
            "ACTION:DISPLAY\r\n"
            "DESCRIPTION:Reminder\r\n"
            "TRIGGER:-PT15M\r\n"
            "END:VALARM\r\n"
            "END:VEVENT\r\n"
            "END:VCALENDAR\r\n");
}

TEST(RenderIcs, AllDayRecurringEventWithGeneratedUid) {
  model::Message m;
  m.kind = model::ItemKind::Appointment;
  m.subject = "Holiday";
  m.creation_time = T0;
  model::Appointment a;
  // Local midnight of 2021-07-28 in UTC+2 and of 2021-07-29 in UTC+2 (stored as UTC).
  a.start = 1627423200;  // 2021-07-27T22:00:00Z
  a.end = 1627509600;    // 2021-07-28T22:00:00Z
  a.all_day = true;
  a.busy_status = 0;
  a.recurrence_rule = "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=28";
  m.appointment = a;
  const Bytes out = render_ics(m);
  expect_well_formed(out);
  const Bytes again = render_ics(m);
  EXPECT_EQ(out, again);  // deterministic, including the generated UID
  const std::size_t uid_at = out.find("UID:");
  ASSERT_NE(uid_at, std::string::npos);
  const std::string uid = out.substr(uid_at + 4, out.find("\r\n", uid_at) - uid_at - 4);
  EXPECT_EQ(uid.size(), 16u + 9u);
  EXPECT_EQ(uid.substr(16), "@mailmill");
  EXPECT_EQ(out,
            "BEGIN:VCALENDAR\r\n"
            "VERSION:2.0\r\n"
            "PRODID:-//mailmill//EN\r\n"
            "BEGIN:VEVENT\r\n"
            "UID:" + uid + "\r\n"
            "DTSTAMP:20210727T221950Z\r\n"
            "DTSTART;VALUE=DATE:20210728\r\n"
            "DTEND;VALUE=DATE:20210729\r\n"
            "RRULE:FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=28\r\n"
            "SUMMARY:Holiday\r\n"
            "CLASS:PUBLIC\r\n"
            "PRIORITY:5\r\n"
            "TRANSP:TRANSPARENT\r\n"
            "X-MICROSOFT-CDO-BUSYSTATUS:FREE\r\n"
            "END:VEVENT\r\n"
            "END:VCALENDAR\r\n");
  // A different subject gives a different UID.
  m.subject = "Holiday 2";
  EXPECT_EQ(render_ics(m).find("UID:" + uid), std::string::npos);
}

TEST(RenderIcs, Task) {
  model::Message m;
  m.kind = model::ItemKind::Task;
  m.subject = "File report";
  m.modification_time = T0;
  m.importance = 0;
  m.body_text = "Quarterly";
  model::Task t;
  t.start = 1627344000;     // 2021-07-27T00:00:00Z
  t.due = 1627516800;       // 2021-07-29T00:00:00Z
  t.completed = T0;
  t.percent_complete = 0.5;
  t.status = 1;
  m.task = t;
  const Bytes out = render_ics(m);
  expect_well_formed(out);
  const std::size_t uid_at = out.find("UID:");
  ASSERT_NE(uid_at, std::string::npos);
  const std::string uid = out.substr(uid_at + 4, out.find("\r\n", uid_at) - uid_at - 4);
  EXPECT_EQ(out,
            "BEGIN:VCALENDAR\r\n"
            "VERSION:2.0\r\n"
            "PRODID:-//mailmill//EN\r\n"
            "BEGIN:VTODO\r\n"
            "UID:" + uid + "\r\n"
            "DTSTAMP:20210727T221950Z\r\n"
            "DTSTART;VALUE=DATE:20210727\r\n"
            "DUE;VALUE=DATE:20210729\r\n"
            "COMPLETED:20210727T221950Z\r\n"
            "SUMMARY:File report\r\n"
            "DESCRIPTION:Quarterly\r\n"
            "PERCENT-COMPLETE:50\r\n"
            "STATUS:IN-PROCESS\r\n"
            "CLASS:PUBLIC\r\n"
            "PRIORITY:9\r\n"
            "END:VTODO\r\n"
            "END:VCALENDAR\r\n");
  m.task->complete = true;
  EXPECT_NE(render_ics(m).find("\r\nSTATUS:COMPLETED\r\n"), std::string::npos);
}

TEST(RenderIcs, FoldsAt75OctetsWithoutSplittingUtf8) {
  model::Message m;
  m.kind = model::ItemKind::Appointment;
  // 60 x "é" (2 octets) and 30 x "€" (3 octets), with ASCII offsets so folds land everywhere.
  std::string subject = "x";
  for (int i = 0; i < 60; ++i) subject += "\xc3\xa9";
  for (int i = 0; i < 30; ++i) subject += "\xe2\x82\xac";
  subject += "; end";
  for (int shift = 0; shift < 4; ++shift) {
    m.subject = std::string(shift, 'a') + subject;
    m.body_text = std::string(300, 'b') + "\n" + m.subject;
    const Bytes out = render_ics(m);
    expect_well_formed(out);
    const std::string unfolded = unfold(out);
    EXPECT_NE(unfolded.find("\r\nSUMMARY:" + std::string(shift, 'a') + "x" +
                            subject.substr(1, subject.size() - 6) + "\\; end\r\n"),
              std::string::npos);
  }
  // The first line of a long ASCII value is exactly 75 octets, continuations 1 + 74.
  m.subject = std::string(200, 'z');
  m.body_text.reset();
  const Bytes out = render_ics(m);
  const std::size_t at = out.find("SUMMARY:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(out.substr(at, 77), "SUMMARY:" + std::string(67, 'z') + "\r\n");
  EXPECT_EQ(out.substr(at + 77, 77), " " + std::string(74, 'z') + "\r\n");
}

TEST(RenderIcs, ControlCharactersAndQuotesAreNeutralised) {
  model::Message m = sample_appointment();
  m.subject = std::string("a\x01" "b\tc\rd");
  m.appointment->organizer_name = "Al \"The Boss\" Smith: CEO";
  const Bytes out = render_ics(m);
  expect_well_formed(out);
  EXPECT_NE(out.find("\r\nSUMMARY:ab\tc\\nd\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nORGANIZER;CN=\"Al 'The Boss' Smith: CEO\":mailto:alice@example.com"),
            std::string::npos);
}

TEST(RenderVcf, Contact) {
  model::Message m;
  m.kind = model::ItemKind::Contact;
  m.subject = "Jane Doe";
  m.categories = {"Friends"};
  model::Contact c;
  c.display_name = "Jane Q. Doe";
  c.given_name = "Jane";
  c.middle_name = "Q.";
  c.surname = "Doe";
  c.title_prefix = "Dr.";
  c.suffix = "PhD";
  c.nickname = "JD";
  c.company = "Acme, Inc.";
  c.department = "R&D";
  c.job_title = "Chief Scientist";
  c.emails = {{"jane@example.com", "Jane"}, {"jd@home.example", ""}};
  c.phones = {{"work", "+1 555 0100"}, {"cell", "+1 555 0199"}, {"fax", "+1 555 0101"}};
  c.addresses = {{"work", "1 Main St\r\nSuite 5", "Springfield", "IL", "62701", "USA"}};
  c.web_page = "https://example.com/a,b";
  c.birthday = 331171200;  // 1980-06-30T00:00:00Z
  c.notes = "Met at conf; likes tea";
  m.contact = c;
  const Bytes out = render_vcf(m);
  expect_well_formed(out);
  EXPECT_EQ(out,
            "BEGIN:VCARD\r\n"
            "VERSION:3.0\r\n"
            "FN:Jane Q. Doe\r\n"
            "N:Doe;Jane;Q.;Dr.;PhD\r\n"
            "NICKNAME:JD\r\n"
            "ORG:Acme\\, Inc.;R&D\r\n"
            "TITLE:Chief Scientist\r\n"
            "EMAIL;TYPE=INTERNET:jane@example.com\r\n"
            "EMAIL;TYPE=INTERNET:jd@home.example\r\n"
            "TEL;TYPE=WORK,VOICE:+1 555 0100\r\n"
            "TEL;TYPE=CELL,VOICE:+1 555 0199\r\n"
            "TEL;TYPE=FAX:+1 555 0101\r\n"
            "ADR;TYPE=WORK:;;1 Main St\\nSuite 5;Springfield;IL;62701;USA\r\n"
            "URL:https://example.com/a,b\r\n"
            "BDAY:1980-06-30\r\n"
            "NOTE:Met at conf\\; likes tea\r\n"
            "CATEGORIES:Friends\r\n"
            "END:VCARD\r\n");
}

TEST(RenderVcf, MinimalContactStillHasFnAndN) {
  model::Message m;
  m.kind = model::ItemKind::Contact;
  model::Contact c;
  c.given_name = "Ann";
  c.surname = "Lee";
  c.phones = {{"", "123"}, {"home", ""}};
  m.contact = c;
  EXPECT_EQ(render_vcf(m),
            "BEGIN:VCARD\r\n"
            "VERSION:3.0\r\n"
            "FN:Ann Lee\r\n"
            "N:Lee;Ann;;;\r\n"
            "TEL;TYPE=VOICE:123\r\n"
            "END:VCARD\r\n");
  model::Message empty;
  const Bytes out = render_vcf(empty);
  expect_well_formed(out);
  EXPECT_NE(out.find("\r\nFN:\r\nN:;;;;\r\n"), std::string::npos);
}

TEST(RenderVcf, LongMultibyteNoteIsFolded) {
  model::Message m;
  model::Contact c;
  c.display_name = "Ümlaut";
  for (int i = 0; i < 100; ++i) c.notes += "\xe6\x97\xa5\xf0\x9f\x98\x80";  // 日😀
  m.contact = c;
  const Bytes out = render_vcf(m);
  expect_well_formed(out);
  EXPECT_NE(unfold(out).find("\r\nNOTE:" + c.notes + "\r\n"), std::string::npos);
}

}  // namespace
}  // namespace mm::mime
