#include "test_support.h"
#include "mailmill/mapi/to_model.h"

#include <gtest/gtest.h>

#include <cstring>

#include "mailmill/mapi/oneoff.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/model/limits.h"
#include "mailmill/util/text.h"

namespace mm::mapi {
namespace {

using testing::le64;
using testing::mv;

// unix seconds -> FILETIME bytes
std::string ft(i64 unix_secs) {
  return le64(static_cast<u64>(unix_secs + 11644473600LL) * 10000000ULL);
}

RawMessage note(std::string_view cls = "IPM.Note") {
  RawMessage m;
  m.props.set_unicode(pid::MESSAGE_CLASS, cls);
  return m;
}

Result<model::Message> convert(const RawMessage &m, const NameMap *names = nullptr) {
  ConvertContext ctx;
  ctx.names = names;
  return to_model(m, ctx);
}

TEST(ToModel, EmptyItemIsAProblem) {
  RawMessage m;
  Result<model::Message> r = convert(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::ItemUnreadable);
}

TEST(ToModel, KindFromMessageClass) {
  const std::pair<const char *, model::ItemKind> cases[] = {
      {"IPM.Note", model::ItemKind::Message},
      {"ipm.note.smime", model::ItemKind::Message},
      {"REPORT.IPM.Note.NDR", model::ItemKind::Message},
      {"IPM.Schedule.Meeting.Request", model::ItemKind::Message},
      {"IPM.Appointment", model::ItemKind::Appointment},
      {"IPM.Task", model::ItemKind::Task},
      {"IPM.TaskRequest", model::ItemKind::Other},
      {"IPM.Contact", model::ItemKind::Contact},
      {"IPM.DistList", model::ItemKind::DistList},
      {"IPM.StickyNote", model::ItemKind::StickyNote},
      {"IPM.Activity", model::ItemKind::Journal},
      {"IPM.Post", model::ItemKind::Other},
  };
  for (const auto &[cls, kind] : cases) {
    Result<model::Message> r = convert(note(cls));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->kind, kind) << cls;
    EXPECT_EQ(r->message_class, cls);
  }
  RawMessage no_class;
  no_class.props.set_unicode(pid::SUBJECT, "x");
  EXPECT_EQ(convert(no_class)->kind, model::ItemKind::Message);
}

TEST(ToModel, SubjectPrefixMarkerStripped) {
  RawMessage m = note();
  // U+0001, then U+0005 (length of "RE: " + 1 per [MS-OXCMSG]), then the full subject.
  m.props.set_unicode(pid::SUBJECT, std::string("\x01\x05RE: Hello \xF0\x9F\x98\x80"));
  EXPECT_EQ(convert(m)->subject, "RE: Hello \xF0\x9F\x98\x80");

  RawMessage plain = note();
  plain.props.set_unicode(pid::SUBJECT, "No marker");
  EXPECT_EQ(convert(plain)->subject, "No marker");

  RawMessage parts = note();
  parts.props.set_unicode(pid::SUBJECT_PREFIX, "FW: ");
  parts.props.set_unicode(pid::NORMALIZED_SUBJECT, "Report");
  EXPECT_EQ(convert(parts)->subject, "FW: Report");
}

TEST(ToModel, String8UsesMessageCodepage) {
  RawMessage m = note();
  m.props.set_i32(make_tag(pid::MESSAGE_CODEPAGE, PT_LONG), 1251);
  m.props.set(make_tag(pid::SUBJECT, PT_STRING8), "\xCF\xF0\xE8\xE2\xE5\xF2");
  m.props.set(make_tag(pid::BODY, PT_STRING8), "\xCF\xF0\xE8");
  Result<model::Message> r = convert(m);
  EXPECT_EQ(r->subject, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");  // Привет
  EXPECT_EQ(*r->body_text, "\xD0\x9F\xD1\x80\xD0\xB8");

  RawMessage j = note();
  j.props.set_i32(make_tag(pid::INTERNET_CPID, PT_LONG), 932);
  j.props.set(make_tag(pid::SUBJECT, PT_STRING8), "\x93\xFA\x96\x7B");
  EXPECT_EQ(convert(j)->subject, "\xE6\x97\xA5\xE6\x9C\xAC");

  RawMessage d = note();  // no codepage: ctx default 1252
  d.props.set(make_tag(pid::SUBJECT, PT_STRING8), "\x80 5");
  EXPECT_EQ(convert(d)->subject, "\xE2\x82\xAC 5");
}

TEST(ToModel, SmtpSenderResolution) {
  RawMessage m = note();
  m.props.set_unicode(pid::SENT_REPRESENTING_NAME, "Alice");
  m.props.set_unicode(pid::SENT_REPRESENTING_ADDRTYPE, "SMTP");
  m.props.set_unicode(pid::SENT_REPRESENTING_EMAIL_ADDRESS, "alice@example.com");
  Result<model::Message> r = convert(m);
  EXPECT_EQ(r->from.name, "Alice");
  EXPECT_EQ(r->from.smtp, "alice@example.com");
  EXPECT_EQ(r->from.addr_type, "SMTP");
  EXPECT_TRUE(r->from.x500.empty());
  EXPECT_TRUE(r->sender.empty());
}

TEST(ToModel, ExSenderKeepsX500AndUsesSmtpProperty) {
  const std::string dn = "/O=CORP/OU=EXCHANGE/CN=RECIPIENTS/CN=BOB";
  RawMessage m = note();
  m.props.set_unicode(pid::SENT_REPRESENTING_NAME, "Bob");
  m.props.set_unicode(pid::SENT_REPRESENTING_ADDRTYPE, "EX");
  m.props.set_unicode(pid::SENT_REPRESENTING_EMAIL_ADDRESS, dn);
  m.props.set_unicode(pid::SENT_REPRESENTING_SMTP_ADDRESS, "bob@corp.example");
  Result<model::Message> r = convert(m);
  EXPECT_EQ(r->from.x500, dn);
  EXPECT_EQ(r->from.smtp, "bob@corp.example");
}

TEST(ToModel, ExSenderNeverInventsAddress) {
  const std::string dn = "/O=CORP/OU=EXCHANGE/CN=RECIPIENTS/CN=BOB";
  RawMessage m = note();
  m.props.set_unicode(pid::SENT_REPRESENTING_NAME, "Bob");
  m.props.set_unicode(pid::SENT_REPRESENTING_ADDRTYPE, "EX");
  m.props.set_unicode(pid::SENT_REPRESENTING_EMAIL_ADDRESS, dn);
  m.props.set(make_tag(pid::SENT_REPRESENTING_SEARCH_KEY, PT_BINARY), "EX:" + dn + '\0');
  Result<model::Message> r = convert(m);
  EXPECT_EQ(r->from.x500, dn);
  EXPECT_TRUE(r->from.smtp.empty());
}

TEST(ToModel, ExSenderFromSearchKeyThenHeaders) {
  const std::string dn = "/O=CORP/CN=CAROL";
  RawMessage k = note();
  k.props.set_unicode(pid::SENT_REPRESENTING_ADDRTYPE, "EX");
  k.props.set_unicode(pid::SENT_REPRESENTING_EMAIL_ADDRESS, dn);
  k.props.set(make_tag(pid::SENT_REPRESENTING_SEARCH_KEY, PT_BINARY),
              std::string("SMTP:CAROL@CORP.EXAMPLE\0", 24));
  EXPECT_EQ(convert(k)->from.smtp, "CAROL@CORP.EXAMPLE");

  RawMessage h = note();
  h.props.set_unicode(pid::SENT_REPRESENTING_NAME, "Carol");
  h.props.set_unicode(pid::SENT_REPRESENTING_ADDRTYPE, "EX");
  h.props.set_unicode(pid::SENT_REPRESENTING_EMAIL_ADDRESS, dn);
  h.props.set_unicode(pid::TRANSPORT_MESSAGE_HEADERS,
                      "Received: from x\r\nFrom: \"Carol, C.\"\r\n <carol@corp.example>\r\n"
                      "Subject: hi\r\n\r\n");
  Result<model::Message> r = convert(h);
  EXPECT_EQ(r->from.smtp, "carol@corp.example");
  EXPECT_EQ(r->from.x500, dn);
  EXPECT_NE(r->transport_headers.find("Received: from x"), std::string::npos);
}

TEST(ToModel, SenderDifferentFromRepresenting) {
  RawMessage m = note();
  m.props.set_unicode(pid::SENT_REPRESENTING_NAME, "Boss");
  m.props.set_unicode(pid::SENT_REPRESENTING_ADDRTYPE, "SMTP");
  m.props.set_unicode(pid::SENT_REPRESENTING_EMAIL_ADDRESS, "boss@example.com");
  m.props.set_unicode(pid::SENDER_NAME, "Assistant");
  m.props.set_unicode(pid::SENDER_ADDRTYPE, "SMTP");
  m.props.set_unicode(pid::SENDER_EMAIL_ADDRESS, "assistant@example.com");
  Result<model::Message> r = convert(m);
  EXPECT_EQ(r->from.smtp, "boss@example.com");
  EXPECT_EQ(r->sender.smtp, "assistant@example.com");

  RawMessage only_sender = note();
  only_sender.props.set_unicode(pid::SENDER_NAME, "Dan");
  only_sender.props.set_unicode(pid::SENDER_SMTP_ADDRESS, "dan@example.com");
  Result<model::Message> r2 = convert(only_sender);
  EXPECT_EQ(r2->from.smtp, "dan@example.com");
  EXPECT_TRUE(r2->sender.empty());
}

TEST(ToModel, RecipientsTypesAndResolution) {
  RawMessage m = note();
  {
    PropertyBag to;
    to.set_i32(make_tag(pid::RECIPIENT_TYPE, PT_LONG), 1);
    to.set_unicode(pid::DISPLAY_NAME, "To Person");
    to.set_unicode(pid::ADDRTYPE, "SMTP");
    to.set_unicode(pid::EMAIL_ADDRESS, "to@example.com");
    m.recipients.push_back(std::move(to));
  }
  {
    PropertyBag cc;
    cc.set_i32(make_tag(pid::RECIPIENT_TYPE, PT_LONG), 2);
    cc.set_unicode(pid::DISPLAY_NAME, "Cc Person");
    cc.set_unicode(pid::ADDRTYPE, "EX");
    cc.set_unicode(pid::EMAIL_ADDRESS, "/O=CORP/CN=CC");
    cc.set_unicode(pid::SMTP_ADDRESS, "cc@corp.example");
    m.recipients.push_back(std::move(cc));
  }
  {
    PropertyBag bcc;  // only a one-off entry id
    bcc.set_i32(make_tag(pid::RECIPIENT_TYPE, PT_LONG), 3);
    bcc.set(make_tag(pid::ENTRYID, PT_BINARY),
            make_one_off_entry_id("Hidden \xC3\x9C", "SMTP", "bcc@example.org"));
    m.recipients.push_back(std::move(bcc));
  }
  {
    PropertyBag ex;  // EX without any SMTP hint
    ex.set_i32(make_tag(pid::RECIPIENT_TYPE, PT_LONG), 1);
    ex.set_unicode(pid::DISPLAY_NAME, "Ex Only");
    ex.set_unicode(pid::ADDRTYPE, "EX");
    ex.set_unicode(pid::EMAIL_ADDRESS, "/O=CORP/CN=EXONLY");
    m.recipients.push_back(std::move(ex));
  }
  Result<model::Message> r = convert(m);
  ASSERT_EQ(r->recipients.size(), 4u);
  EXPECT_EQ(r->recipients[0].type, model::RecipientType::To);
  EXPECT_EQ(r->recipients[0].address.smtp, "to@example.com");
  EXPECT_EQ(r->recipients[1].type, model::RecipientType::Cc);
  EXPECT_EQ(r->recipients[1].address.smtp, "cc@corp.example");
  EXPECT_EQ(r->recipients[1].address.x500, "/O=CORP/CN=CC");
  EXPECT_EQ(r->recipients[2].type, model::RecipientType::Bcc);
  EXPECT_EQ(r->recipients[2].address.name, "Hidden \xC3\x9C");
  EXPECT_EQ(r->recipients[2].address.smtp, "bcc@example.org");
  EXPECT_EQ(r->recipients[2].address.addr_type, "SMTP");
  EXPECT_EQ(r->recipients[3].address.x500, "/O=CORP/CN=EXONLY");
  EXPECT_TRUE(r->recipients[3].address.smtp.empty());
}

TEST(ToModel, TimesFlagsImportance) {
  RawMessage m = note();
  m.props.set(make_tag(pid::CLIENT_SUBMIT_TIME, PT_SYSTIME), ft(1234567890));
  m.props.set(make_tag(pid::MESSAGE_DELIVERY_TIME, PT_SYSTIME), ft(1234567900));
  m.props.set(make_tag(pid::CREATION_TIME, PT_SYSTIME), le64(0));
  m.props.set_i32(make_tag(pid::MESSAGE_FLAGS, PT_LONG),
                  pid::MSGFLAG_READ | pid::MSGFLAG_UNSENT | pid::MSGFLAG_HASATTACH);
  m.props.set_i32(make_tag(pid::LAST_VERB_EXECUTED, PT_LONG), 103);
  m.props.set_i32(make_tag(pid::FLAG_STATUS, PT_LONG), 2);
  m.props.set_i32(make_tag(pid::IMPORTANCE, PT_LONG), 2);
  m.props.set_i32(make_tag(pid::SENSITIVITY, PT_LONG), 3);
  Result<model::Message> r = convert(m);
  EXPECT_EQ(*r->submit_time, 1234567890);
  EXPECT_EQ(*r->delivery_time, 1234567900);
  EXPECT_FALSE(r->creation_time.has_value());
  EXPECT_TRUE(r->flags.read);
  EXPECT_TRUE(r->flags.draft);
  EXPECT_TRUE(r->flags.has_attachments);
  EXPECT_TRUE(r->flags.answered);
  EXPECT_FALSE(r->flags.forwarded);
  EXPECT_TRUE(r->flags.flagged);
  EXPECT_EQ(r->importance, 2);
  EXPECT_EQ(r->sensitivity, 3);
  EXPECT_TRUE(r->warnings.empty());

  RawMessage fwd = note();
  fwd.props.set_i32(make_tag(pid::LAST_VERB_EXECUTED, PT_LONG), 104);
  EXPECT_TRUE(convert(fwd)->flags.forwarded);
  EXPECT_FALSE(convert(fwd)->flags.read);
}

TEST(ToModel, MalformedSizesBecomeWarnings) {
  RawMessage m = note();
  m.props.set(make_tag(pid::MESSAGE_FLAGS, PT_LONG), std::string("\x01\x00", 2));
  m.props.set(make_tag(pid::CLIENT_SUBMIT_TIME, PT_SYSTIME), "abc");
  Result<model::Message> r = convert(m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->flags.read);
  EXPECT_FALSE(r->submit_time.has_value());
  EXPECT_EQ(r->warnings.size(), 2u);
}

TEST(ToModel, HeadersIdsAndBodies) {
  RawMessage m = note();
  m.props.set_unicode(pid::INTERNET_MESSAGE_ID, "<id1@example.com>");
  m.props.set_unicode(pid::IN_REPLY_TO_ID, "<id0@example.com>");
  m.props.set_unicode(pid::INTERNET_REFERENCES, "<a@x> <id0@example.com>");
  m.props.set_unicode(pid::BODY, "text body");
  m.props.set(make_tag(pid::HTML, PT_BINARY),
              "<html><head><meta charset=\"iso-8859-2\"></head>\xB1</html>");
  m.props.set(make_tag(pid::RTF_COMPRESSED, PT_BINARY), std::string("\x10\x00\x00\x00LZFu", 8));
  m.props.set_bool(make_tag(pid::RTF_IN_SYNC, PT_BOOLEAN), true);
  Result<model::Message> r = convert(m);
  EXPECT_EQ(r->message_id, "<id1@example.com>");
  EXPECT_EQ(r->in_reply_to, "<id0@example.com>");
  EXPECT_EQ(r->references, "<a@x> <id0@example.com>");
  EXPECT_EQ(*r->body_text, "text body");
  EXPECT_EQ(r->html_charset, "iso-8859-2");  // no PR_INTERNET_CPID: from the meta tag
  EXPECT_EQ(r->body_html->back(), '>');
  EXPECT_NE(r->body_html->find('\xB1'), std::string::npos);  // bytes as stored
  EXPECT_EQ(*r->body_rtf, std::string("\x10\x00\x00\x00LZFu", 8));
  EXPECT_TRUE(r->rtf_in_sync);

  RawMessage c = note();
  c.props.set_i32(make_tag(pid::INTERNET_CPID, PT_LONG), 65001);
  c.props.set(make_tag(pid::HTML, PT_BINARY), "<html><meta charset=iso-8859-1>x</html>");
  EXPECT_EQ(convert(c)->html_charset, "utf-8");

  RawMessage u = note();
  u.props.set_unicode(pid::HTML, "<p>\xE2\x82\xAC</p>");
  EXPECT_EQ(*convert(u)->body_html, "<p>\xE2\x82\xAC</p>");
  EXPECT_EQ(convert(u)->html_charset, "utf-8");
}

TEST(ToModel, CategoriesThroughNameMap) {
  NameMap names;
  names.add(0x8123, PropertyName{psetid::PublicStrings, true, 0, "Keywords"});
  RawMessage m = note();
  m.props.set(make_tag(0x8123, PT_MV_UNICODE),
              mv({text::utf8_to_utf16le("Red"), text::utf8_to_utf16le("Projekt \xC3\x84")}));
  Result<model::Message> r = convert(m, &names);
  EXPECT_EQ(r->categories, (std::vector<std::string>{"Red", "Projekt \xC3\x84"}));
  EXPECT_TRUE(convert(m)->categories.empty());  // no name map: nothing resolved
}

TEST(ToModel, AttachmentKinds) {
  RawMessage m = note();
  m.props.set(make_tag(pid::HTML, PT_BINARY), "<img src=\"cid:img1@x\">");
  {
    RawAttachment a;  // by value, inline through HTML reference
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 1);
    a.props.set_unicode(pid::ATTACH_LONG_FILENAME, "photo.png");
    a.props.set_unicode(pid::ATTACH_FILENAME, "PHOTO~1.PNG");
    a.props.set_unicode(pid::ATTACH_MIME_TAG, "Image/PNG");
    a.props.set_unicode(pid::ATTACH_CONTENT_ID, "<img1@x>");
    a.props.set(make_tag(pid::ATTACH_DATA, PT_BINARY), std::string("\x89PNG\0\x01", 6));
    m.attachments.push_back(std::move(a));
  }
  {
    RawAttachment a;  // embedded message
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 5);
    a.props.set_unicode(pid::DISPLAY_NAME, "Forwarded");
    a.embedded = std::make_unique<RawMessage>(note());
    a.embedded->props.set_unicode(pid::SUBJECT, "inner");
    m.attachments.push_back(std::move(a));
  }
  {
    RawAttachment a;  // by reference
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 2);
    a.props.set_unicode(pid::ATTACH_PATHNAME, "\\\\srv\\s\\f.doc");
    a.props.set_unicode(pid::ATTACH_LONG_PATHNAME, "\\\\server\\share\\file.docx");
    a.props.set_unicode(pid::ATTACH_EXTENSION, ".docx");
    m.attachments.push_back(std::move(a));
  }
  {
    RawAttachment a;  // embedded but the object is missing
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 5);
    m.attachments.push_back(std::move(a));
  }
  {
    RawAttachment a;  // reader could not read it
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 1);
    a.problem = Problem{ProblemCode::AttachmentUnreadable, "bad node", 4096};
    m.attachments.push_back(std::move(a));
  }
  {
    RawAttachment a;  // hidden with content id but not referenced -> still inline
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 1);
    a.props.set_unicode(pid::ATTACH_CONTENT_ID, "other@x");
    a.props.set_bool(make_tag(pid::ATTACHMENT_HIDDEN, PT_BOOLEAN), true);
    a.props.set(make_tag(pid::ATTACH_DATA, PT_BINARY), "x");
    m.attachments.push_back(std::move(a));
  }
  {
    RawAttachment a;  // content id, not hidden, not referenced -> not inline
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 1);
    a.props.set_unicode(pid::ATTACH_CONTENT_ID, "third@x");
    a.props.set(make_tag(pid::ATTACH_DATA, PT_BINARY), "y");
    m.attachments.push_back(std::move(a));
  }
  Result<model::Message> r = convert(m);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attachments.size(), 7u);
  const model::Attachment &v = r->attachments[0];
  EXPECT_EQ(v.kind, model::AttachmentKind::ByValue);
  EXPECT_EQ(v.filename, "photo.png");
  EXPECT_EQ(v.mime_type, "image/png");
  EXPECT_EQ(v.content_id, "img1@x");
  EXPECT_TRUE(v.is_inline);
  EXPECT_EQ(v.data, std::string("\x89PNG\0\x01", 6));

  const model::Attachment &e = r->attachments[1];
  EXPECT_EQ(e.kind, model::AttachmentKind::Embedded);
  EXPECT_EQ(e.filename, "Forwarded");
  ASSERT_NE(e.embedded, nullptr);
  EXPECT_EQ(e.embedded->subject, "inner");

  const model::Attachment &ref = r->attachments[2];
  EXPECT_EQ(ref.kind, model::AttachmentKind::Reference);
  EXPECT_EQ(ref.reference_path, "\\\\server\\share\\file.docx");
  EXPECT_EQ(ref.filename, "attachment.docx");

  EXPECT_EQ(r->attachments[3].kind, model::AttachmentKind::Unreadable);
  ASSERT_TRUE(r->attachments[3].problem.has_value());
  EXPECT_EQ(r->attachments[3].problem->code, ProblemCode::EmbeddedUnreadable);

  EXPECT_EQ(r->attachments[4].kind, model::AttachmentKind::Unreadable);
  EXPECT_EQ(r->attachments[4].problem->detail, "bad node");

  EXPECT_TRUE(r->attachments[5].is_inline);
  EXPECT_FALSE(r->attachments[6].is_inline);
  EXPECT_TRUE(r->flags.has_attachments);
}

TEST(ToModel, EmbeddedDepthLimit) {
  RawMessage root = note();
  RawMessage *cur = &root;
  for (int i = 0; i < model::limits::MAX_EMBED_DEPTH + 8; ++i) {
    RawAttachment a;
    a.props.set_i32(make_tag(pid::ATTACH_METHOD, PT_LONG), 5);
    a.embedded = std::make_unique<RawMessage>(note());
    RawMessage *next = a.embedded.get();
    cur->attachments.push_back(std::move(a));
    cur = next;
  }
  Result<model::Message> r = convert(root);
  ASSERT_TRUE(r.ok());
  int depth = 0;
  const model::Message *m = &*r;
  while (!m->attachments.empty() && m->attachments[0].embedded) {
    m = m->attachments[0].embedded.get();
    ++depth;
  }
  EXPECT_EQ(depth, model::limits::MAX_EMBED_DEPTH);
  ASSERT_EQ(m->attachments.size(), 1u);
  EXPECT_EQ(m->attachments[0].kind, model::AttachmentKind::Unreadable);
  EXPECT_EQ(m->attachments[0].problem->code, ProblemCode::LimitExceeded);
}

NameMap calendar_names() {
  NameMap n;
  n.add(0x8001, PropertyName{psetid::Appointment, false, 0x820D, ""});
  n.add(0x8002, PropertyName{psetid::Appointment, false, 0x820E, ""});
  n.add(0x8003, PropertyName{psetid::Appointment, false, 0x8208, ""});
  n.add(0x8004, PropertyName{psetid::Appointment, false, 0x8215, ""});
  n.add(0x8005, PropertyName{psetid::Appointment, false, 0x8205, ""});
  n.add(0x8006, PropertyName{psetid::Appointment, false, 0x8223, ""});
  n.add(0x8007, PropertyName{psetid::Meeting, false, 0x0003, ""});
  n.add(0x8008, PropertyName{psetid::Common, false, 0x8501, ""});
  n.add(0x8009, PropertyName{psetid::Common, false, 0x8503, ""});
  return n;
}

TEST(ToModel, AppointmentNamedProperties) {
  const NameMap names = calendar_names();
  RawMessage m = note("IPM.Appointment");
  m.props.set_unicode(pid::SENT_REPRESENTING_NAME, "Org");
  m.props.set_unicode(pid::SENT_REPRESENTING_SMTP_ADDRESS, "org@example.com");
  m.props.set(make_tag(0x8001, PT_SYSTIME), ft(1700000000));
  m.props.set(make_tag(0x8002, PT_SYSTIME), ft(1700003600));
  m.props.set_unicode(0x8003, "Room 1");
  m.props.set_bool(make_tag(0x8004, PT_BOOLEAN), true);
  m.props.set_i32(make_tag(0x8005, PT_LONG), 2);
  m.props.set_bool(make_tag(0x8006, PT_BOOLEAN), false);
  m.props.set(make_tag(0x8007, PT_BINARY), std::string("\x04\x00\x00\x00\x82\xE0", 6));
  m.props.set_i32(make_tag(0x8008, PT_LONG), 15);
  m.props.set_bool(make_tag(0x8009, PT_BOOLEAN), true);
  Result<model::Message> r = convert(m, &names);
  ASSERT_EQ(r->kind, model::ItemKind::Appointment);
  ASSERT_TRUE(r->appointment.has_value());
  const model::Appointment &a = *r->appointment;
  EXPECT_EQ(*a.start, 1700000000);
  EXPECT_EQ(*a.end, 1700003600);
  EXPECT_EQ(a.location, "Room 1");
  EXPECT_TRUE(a.all_day);
  EXPECT_EQ(*a.busy_status, 2);
  EXPECT_FALSE(a.is_recurring);
  EXPECT_EQ(a.global_object_id_hex,
            "04000000"
            "82E0");
  EXPECT_EQ(*a.reminder_minutes, 15);
  EXPECT_EQ(a.organizer_name, "Org");
  EXPECT_EQ(a.organizer_smtp, "org@example.com");

  RawMessage req = note("IPM.Schedule.Meeting.Request");
  req.props.set_unicode(0x8003, "Room 2");
  Result<model::Message> rr = convert(req, &names);
  EXPECT_EQ(rr->kind, model::ItemKind::Message);
  ASSERT_TRUE(rr->appointment.has_value());
  EXPECT_EQ(rr->appointment->location, "Room 2");
  EXPECT_FALSE(rr->appointment->reminder_minutes.has_value());
}

TEST(ToModel, TaskNamedProperties) {
  NameMap n;
  n.add(0x8101, PropertyName{psetid::Task, false, 0x8105, ""});
  n.add(0x8102, PropertyName{psetid::Task, false, 0x8102, ""});
  n.add(0x8103, PropertyName{psetid::Task, false, 0x8101, ""});
  n.add(0x8104, PropertyName{psetid::Task, false, 0x811C, ""});
  n.add(0x8105, PropertyName{psetid::Task, false, 0x811F, ""});
  RawMessage m = note("IPM.Task");
  m.props.set(make_tag(0x8101, PT_SYSTIME), ft(1700000000));
  double half = 0.5;
  u64 bits;
  std::memcpy(&bits, &half, 8);
  m.props.set(make_tag(0x8102, PT_DOUBLE), le64(bits));
  m.props.set_i32(make_tag(0x8103, PT_LONG), 1);
  m.props.set_bool(make_tag(0x8104, PT_BOOLEAN), false);
  m.props.set_unicode(0x8105, "Owner");
  Result<model::Message> r = convert(m, &n);
  ASSERT_TRUE(r->task.has_value());
  EXPECT_EQ(*r->task->due, 1700000000);
  EXPECT_DOUBLE_EQ(*r->task->percent_complete, 0.5);
  EXPECT_EQ(*r->task->status, 1);
  EXPECT_FALSE(r->task->complete);
  EXPECT_EQ(r->task->owner, "Owner");
}

TEST(ToModel, ContactFields) {
  NameMap n;
  n.add(0x8201, PropertyName{psetid::Address, false, 0x8083, ""});
  n.add(0x8202, PropertyName{psetid::Address, false, 0x8080, ""});
  n.add(0x8203, PropertyName{psetid::Address, false, 0x8093, ""});
  n.add(0x8204, PropertyName{psetid::Address, false, 0x8046, ""});
  RawMessage m = note("IPM.Contact");
  m.props.set_unicode(pid::DISPLAY_NAME, "Eve Example");
  m.props.set_unicode(pid::GIVEN_NAME, "Eve");
  m.props.set_unicode(pid::SURNAME, "Example");
  m.props.set_unicode(pid::MOBILE_TELEPHONE_NUMBER, "+1 555");
  m.props.set_unicode(pid::HOME_ADDRESS_CITY, "Springfield");
  m.props.set_unicode(0x8201, "eve@example.com");
  m.props.set_unicode(0x8202, "Eve (eve@example.com)");
  m.props.set_unicode(0x8203, "eve2@example.com");
  m.props.set_unicode(0x8204, "Worktown");
  Result<model::Message> r = convert(m, &n);
  ASSERT_TRUE(r->contact.has_value());
  const model::Contact &c = *r->contact;
  EXPECT_EQ(c.display_name, "Eve Example");
  EXPECT_EQ(c.given_name, "Eve");
  ASSERT_EQ(c.emails.size(), 2u);
  EXPECT_EQ(c.emails[0].address, "eve@example.com");
  EXPECT_EQ(c.emails[0].display, "Eve (eve@example.com)");
  EXPECT_EQ(c.emails[1].address, "eve2@example.com");
  ASSERT_EQ(c.phones.size(), 1u);
  EXPECT_EQ(c.phones[0].type, "cell");
  ASSERT_EQ(c.addresses.size(), 2u);
  EXPECT_EQ(c.addresses[0].type, "work");
  EXPECT_EQ(c.addresses[0].city, "Worktown");
  EXPECT_EQ(c.addresses[1].city, "Springfield");
}

TEST(ToModel, DistListOneOffMembers) {
  NameMap n;
  n.add(0x8301, PropertyName{psetid::Address, false, 0x8054, ""});
  RawMessage m = note("IPM.DistList");
  m.props.set(make_tag(0x8301, PT_MV_BINARY),
              mv({make_one_off_entry_id("A", "SMTP", "a@example.com"),
                  make_one_off_entry_id("Fax", "FAX", "12345"), std::string("junk")}));
  Result<model::Message> r = convert(m, &n);
  ASSERT_TRUE(r->dist_list.has_value());
  ASSERT_EQ(r->dist_list->members.size(), 2u);
  EXPECT_EQ(r->dist_list->members[0].name, "A");
  EXPECT_EQ(r->dist_list->members[0].smtp, "a@example.com");
  EXPECT_EQ(r->dist_list->members[1].name, "Fax");
  EXPECT_TRUE(r->dist_list->members[1].smtp.empty());
  EXPECT_EQ(r->warnings.size(), 1u);  // the junk entry
}

}  // namespace
}  // namespace mm::mapi
