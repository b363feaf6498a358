// Meeting messages get their iTIP part (RFC 5546) as a text/calendar alternative; libical (an
// independent parser) checks each one against the iTIP restrictions of its METHOD.
#include <gtest/gtest.h>

#include <libical/ical.h>

#include <string>
#include <vector>

#include "mailmill/mime/build.h"
#include "mailmill/mime/ical.h"

namespace mm {
namespace {

model::Message meeting(const std::string &cls) {
  model::Message m;
  m.kind = model::ItemKind::Message;
  m.message_class = cls;
  m.subject = "Planning";
  m.from = {"Olga Organizer", "olga@example.com", "", "SMTP"};
  m.recipients.push_back({model::RecipientType::To, {"Ann", "ann@example.com", "", "SMTP"}});
  m.recipients.push_back({model::RecipientType::Cc, {"Bob", "bob@example.com", "", "SMTP"}});
  m.submit_time = 1600000000;
  m.body_html = std::string("<p>Agenda</p>");
  m.html_charset = "utf-8";
  model::Appointment a;
  a.start = 1600100000;
  a.end = 1600103600;
  a.location = "Room 1";
  a.sequence = 2;
  a.response_requested = true;
  a.global_object_id_hex = "040000008200E00074C5B7101A82E00807E4091000000000000000000000000000000000"
                           "10000000AABBCCDDEEFF00112233445566778899";
  m.appointment = a;
  return m;
}

// Parses `ics` with libical, runs icalrestriction_check and returns every X-LIC-ERROR.
std::vector<std::string> libical_errors(const std::string &ics) {
  std::vector<std::string> out;
  icalcomponent *cal = icalparser_parse_string(ics.c_str());
  if (cal == nullptr) return {"not parsed"};
  icalrestriction_check(cal);
  std::vector<icalcomponent *> todo = {cal};
  while (!todo.empty()) {
    icalcomponent *c = todo.back();
    todo.pop_back();
    for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
      out.emplace_back(icalproperty_get_xlicerror(p));
    }
    for (icalcomponent *s = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); s;
         s = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
      todo.push_back(s);
    }
  }
  icalcomponent_free(cal);
  return out;
}

TEST(MeetingMessage, RequestIsATextCalendarAlternativeBesideTheHtml) {
  const model::Message m = meeting("IPM.Schedule.Meeting.Request");
  mime::BuildOptions opts;
  Result<mime::Built> b = mime::build_message(m, opts);
  ASSERT_TRUE(b.ok());
  const std::string &out = b->bytes;
  const std::size_t alt = out.find("Content-Type: multipart/alternative");
  const std::size_t html = out.find("Content-Type: text/html");
  const std::size_t cal = out.find("Content-Type: text/calendar; method=REQUEST; charset=utf-8");
  ASSERT_NE(alt, std::string::npos) << out;
  ASSERT_NE(html, std::string::npos);
  ASSERT_NE(cal, std::string::npos) << out;
  EXPECT_LT(alt, html);
  EXPECT_LT(html, cal);  // RFC 2046 5.1.4: the richest alternative last, as Outlook sends it

  std::optional<Bytes> ics = mime::render_meeting_ics(m);
  ASSERT_TRUE(ics);
  EXPECT_NE(ics->find("\r\nMETHOD:REQUEST\r\n"), std::string::npos);
  // The UID is the global object id with its instance date (bytes 16..19) zeroed.
  EXPECT_NE(ics->find("\r\nUID:040000008200E00074C5B7101A82E0080000000000000000000000000000000"),
            std::string::npos)
      << *ics;
  EXPECT_NE(ics->find("\r\nSEQUENCE:2\r\n"), std::string::npos);
  EXPECT_NE(ics->find("\r\nORGANIZER;CN=Olga Organizer:mailto:olga@example.com\r\n"),
            std::string::npos);
  EXPECT_NE(ics->find("ATTENDEE;CN=Ann;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mail"),
            std::string::npos)
      << *ics;
  EXPECT_NE(ics->find("ATTENDEE;CN=Bob;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mail"),
            std::string::npos);
  EXPECT_NE(ics->find("\r\nDTSTART:20200914T161320Z\r\n"), std::string::npos) << *ics;
  const std::vector<std::string> errors = libical_errors(*ics);
  EXPECT_TRUE(errors.empty()) << errors.front() << "\n" << *ics;
}

TEST(MeetingMessage, RequestForOneInstanceHasItsRecurrenceId) {
  model::Message m = meeting("IPM.Schedule.Meeting.Request");
  m.appointment->instance_start = 1600185600;  // 2020-09-15 16:00 UTC, the original start
  std::optional<Bytes> ics = mime::render_meeting_ics(m);
  ASSERT_TRUE(ics);
  EXPECT_NE(ics->find("\r\nRECURRENCE-ID:20200915T160000Z\r\nDTSTART:20200914T161320Z\r\n"),
            std::string::npos)
      << *ics;
  const std::vector<std::string> errors = libical_errors(*ics);
  EXPECT_TRUE(errors.empty()) << errors.front() << "\n" << *ics;
}

TEST(MeetingMessage, RepliesCarryTheSendersParticipationStatus) {
  const std::pair<const char *, const char *> cases[] = {
      {"IPM.Schedule.Meeting.Resp.Pos", "ACCEPTED"},
      {"IPM.Schedule.Meeting.Resp.Neg", "DECLINED"},
      {"IPM.Schedule.Meeting.Resp.Tent", "TENTATIVE"},
  };
  for (const auto &[cls, partstat] : cases) {
    model::Message m = meeting(cls);
    // A reply goes from the attendee to the organizer.
    m.from = {"Ann", "ann@example.com", "", "SMTP"};
    m.recipients = {{model::RecipientType::To, {"Olga Organizer", "olga@example.com", "", "SMTP"}}};
    std::optional<Bytes> ics = mime::render_meeting_ics(m);
    ASSERT_TRUE(ics) << cls;
    EXPECT_NE(ics->find("\r\nMETHOD:REPLY\r\n"), std::string::npos);
    EXPECT_NE(ics->find("\r\nORGANIZER;CN=Olga Organizer:mailto:olga@example.com\r\n"),
              std::string::npos)
        << *ics;
    EXPECT_NE(ics->find(std::string("\r\nATTENDEE;CN=Ann;PARTSTAT=") + partstat +
                        ":mailto:ann@example.com\r\n"),
              std::string::npos)
        << *ics;
    EXPECT_EQ(ics->find("VALARM"), std::string::npos);
    const std::vector<std::string> errors = libical_errors(*ics);
    EXPECT_TRUE(errors.empty()) << cls << ": " << errors.front() << "\n" << *ics;
  }
}

TEST(MeetingMessage, CancelAndOtherClasses) {
  std::optional<Bytes> ics = mime::render_meeting_ics(meeting("IPM.Schedule.Meeting.Canceled"));
  ASSERT_TRUE(ics);
  EXPECT_NE(ics->find("\r\nMETHOD:CANCEL\r\n"), std::string::npos);
  EXPECT_NE(ics->find("\r\nSTATUS:CANCELLED\r\n"), std::string::npos);
  const std::vector<std::string> errors = libical_errors(*ics);
  EXPECT_TRUE(errors.empty()) << errors.front() << "\n" << *ics;
  // Not meeting messages: no part (and the message keeps its single HTML body).
  for (const char *cls : {"IPM.Note", "IPM.Schedule.Meeting.Notification.Forward",
                          "IPM.Schedule.Meeting.RequestX", "IPM.Appointment"}) {
    EXPECT_FALSE(mime::render_meeting_ics(meeting(cls))) << cls;
  }
  model::Message note = meeting("IPM.Note");
  Result<mime::Built> b = mime::build_message(note, {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->bytes.find("text/calendar"), std::string::npos);
  EXPECT_EQ(mime::meeting_method("ipm.schedule.meeting.request").value_or(""), "REQUEST");
}

}  // namespace
}  // namespace mm
