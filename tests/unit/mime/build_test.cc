#include "mailmill/mime/build.h"

#include <gtest/gtest.h>
#include <mimetic/mimetic.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "mailmill/mime/encode.h"
#include "mailmill/mime/limits.h"
#include "mailmill/mime/mbox.h"
#include "openssl_sha256.h"

namespace mm::mime {
namespace {

// ---------------------------------------------------------------------------------------------
// Python oracle: tests/unit/mime/check_email.py parses the bytes with email.policy.default.

struct Fact {
  std::string kind, path;
  std::vector<std::string> values;
};

struct Parsed {
  std::vector<Fact> facts;
  std::vector<std::string> all(const std::string &kind, const std::string &path = "0") const {
    std::vector<std::string> out;
    for (const Fact &f : facts)
      if (f.kind == kind && f.path == path && !f.values.empty()) out.push_back(f.values[0]);
    return out;
  }
  std::string one(const std::string &kind, const std::string &path = "0") const {
    std::vector<std::string> v = all(kind, path);
    return v.empty() ? std::string("<missing>") : v[0];
  }
  std::vector<Fact> attachments(const std::string &path = "0") const {
    std::vector<Fact> out;
    for (const Fact &f : facts)
      if (f.kind == "attachment" && f.path == path) out.push_back(f);
    return out;
  }
  /// Every defect, except the one we accept on purpose: an RFC 2047 encoded-word inside the
  /// quoted Content-Type name= parameter (compatibility duplicate of filename*=).
  std::vector<std::string> defects() const {
    std::vector<std::string> out;
    for (const Fact &f : facts) {
      if (f.kind == "defect") out.push_back(f.path + " " + f.values[0]);
      if (f.kind == "hdefect" && f.values[0] != "Content-Type")
        out.push_back(f.path + " " + f.values[0] + " " + f.values[1]);
    }
    return out;
  }
};

std::string unescape(const std::string &s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c);
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Parsed parse_with_python(const Bytes &bytes) {
  static int counter = 0;
  std::filesystem::path file = std::filesystem::path(::testing::TempDir()) /
                               ("mm_mime_" + std::to_string(::getpid()) + "_" +
                                std::to_string(counter++) + ".eml");
  {
    std::ofstream f(file, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // Not __FILE__: with ccache's base_dir it is relative to the build directory, not to the
  // test's working directory.
  std::filesystem::path script =
      std::filesystem::path(MM_TESTS_DIR) / "unit" / "mime" / "check_email.py";
  std::string cmd = "python3 '" + script.string() + "' '" + file.string() + "'";
  Parsed p;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << cmd;
    return p;
  }
  std::string output;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int rc = ::pclose(pipe);
  EXPECT_EQ(rc, 0) << cmd;
  std::filesystem::remove(file);
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t nl = output.find('\n', start);
    if (nl == std::string::npos) nl = output.size();
    std::string line = output.substr(start, nl - start);
    start = nl + 1;
    std::vector<std::string> cols;
    std::size_t s = 0;
    for (;;) {
      std::size_t tab = line.find('\t', s);
      cols.push_back(unescape(line.substr(s, tab == std::string::npos ? std::string::npos : tab - s)));
      if (tab == std::string::npos) break;
      s = tab + 1;
    }
    if (cols.size() < 2) continue;
    Fact f{cols[0], cols[1], {cols.begin() + 2, cols.end()}};
    p.facts.push_back(std::move(f));
  }
  return p;
}

std::string sha256_hex(std::string_view data) { return testing::openssl_sha256_hex(data); }

Bytes build(const model::Message &m, bool crlf = true, FlagStyle flags = FlagStyle::Eml) {
  BuildOptions o;
  o.crlf = crlf;
  o.flags = flags;
  Result<Built> r = build_message(m, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.problem().detail);
  return r.ok() ? r->bytes : Bytes();
}

std::string header_block(const Bytes &b) {
  std::size_t end = b.find("\r\n\r\n");
  if (end != Bytes::npos) return b.substr(0, end + 2);
  end = b.find("\n\n");
  return b.substr(0, end + 1);
}

const std::string GRUESSE = "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x98\x80";  // Grüße 😀

model::Message basic() {
  model::Message m;
  m.subject = "Hello";
  m.from = {"Alice Example", "alice@example.com", "", "SMTP"};
  m.recipients.push_back({model::RecipientType::To, {"Bob", "bob@example.com", "", "SMTP"}});
  m.submit_time = 1627424390;
  m.message_id = "<abc@example.com>";
  return m;
}

Bytes sample_binary(int n, int seed) {
  Bytes b;
  for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((i * 131 + seed * 7) & 0xFF));
  return b;
}

model::Attachment file_attachment(std::string name, Bytes data, std::string mime = "") {
  model::Attachment a;
  a.kind = model::AttachmentKind::ByValue;
  a.filename = std::move(name);
  a.data = std::move(data);
  a.mime_type = std::move(mime);
  return a;
}

// ---------------------------------------------------------------------------------------------

TEST(BuildMessage, SimpleTextIsSinglePart) {
  model::Message m = basic();
  m.body_text = "Hello\r\nWorld\r\n";
  Bytes b = build(m);
  EXPECT_EQ(b,
            "Date: Tue, 27 Jul 2021 22:19:50 +0000\r\n"
            "From: Alice Example <alice@example.com>\r\n"
            "Subject: Hello\r\n"
            "To: Bob <bob@example.com>\r\n"
            "Message-ID: <abc@example.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "\r\n"
            "Hello\r\nWorld\r\n");
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"), "text/plain");
  EXPECT_EQ(p.one("text"), "Hello\nWorld\n");
}

// [RFC 5322] 3.6: every message has a From field. An item that names no sender gets an empty
// group, marked as written by mailmill, and Python's parser sees one group without addresses.
TEST(BuildMessage, NoSenderGetsAnEmptyGroupAndAMarker) {
  model::Message m = basic();
  m.from = {};
  m.sender = {};
  m.body_text = "draft\r\n";
  Bytes b = build(m);
  EXPECT_NE(b.find("\r\nFrom: undisclosed-sender:;\r\nX-Mailmill-Synthesized: from\r\n"),
            Bytes::npos)
      << b;
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  // With a sender there is no marker.
  EXPECT_EQ(build(basic()).find("X-Mailmill-Synthesized"), Bytes::npos);
}

// The Date field of kept transport headers is the message's date: the From_ line agrees with
// it, not with the creation time (aspnet__passwordprotectedPST.pst has such items).
TEST(BuildMessage, TransportDateIsTheDateOfTheFromLine) {
  model::Message m = basic();
  m.submit_time.reset();
  m.delivery_time.reset();
  m.creation_time = 1486339200;  // 6 Feb 2017
  m.transport_headers = "Subject: x\r\nDate: Fri, 20 Jan 2017\r\n 10:11:12 -0500\r\n\r\n";
  m.body_text = "x\r\n";
  EXPECT_EQ(message_date(m), 1484925072);
  BuildOptions o;
  o.crlf = false;
  o.mboxrd = true;
  Result<Built> built = build_message(m, o);
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->date, 1484925072);
  EXPECT_TRUE(built->bytes.starts_with("From alice@example.com Fri Jan 20 15:11:12 2017\n"))
      << built->bytes.substr(0, 80);
  // A Date field that does not parse leaves the properties' date.
  m.transport_headers = "Subject: x\r\nDate: someday\r\n\r\n";
  EXPECT_EQ(message_date(m), 1486339200);
}

TEST(BuildMessage, NonAsciiSubjectNamesAndBodyRoundTrip) {
  model::Message m = basic();
  m.subject = GRUESSE + " \xE2\x80\x94 a rather long subject line that has to be folded "
              "across several encoded words \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  m.from = {"J\xC3\xBCrgen M\xC3\xBCller", "jm@example.de", "", "SMTP"};
  m.recipients.push_back({model::RecipientType::Cc, {"Doe, John", "jd@example.com", "", "SMTP"}});
  m.body_text = "Sch\xC3\xB6ne Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x98\x80\r\nline two = ok \r\n";
  Bytes b = build(m);
  for (char c : header_block(b)) ASSERT_LT(static_cast<unsigned char>(c), 0x80);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("subject"), m.subject);
  EXPECT_EQ(p.one("from"), "J\xC3\xBCrgen M\xC3\xBCller <jm@example.de>");
  EXPECT_EQ(p.one("cc"), "\"Doe, John\" <jd@example.com>");
  EXPECT_EQ(p.one("text"), "Sch\xC3\xB6ne Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x98\x80\nline two = ok \n");
}

TEST(BuildMessage, TextAndHtmlMakeAlternative) {
  model::Message m = basic();
  m.body_text = "plain";
  m.body_html = "<html><body><p>caf\xE9</p></body></html>";
  m.html_charset = "windows-1252";
  Bytes b = build(m);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"), "multipart/alternative(text/plain,text/html)");
  EXPECT_EQ(p.one("text"), "plain");
  // Declared charset kept, bytes not transcoded: Python decodes windows-1252 é.
  EXPECT_EQ(p.one("html"), "<html><body><p>caf\xC3\xA9</p></body></html>");
  EXPECT_NE(b.find("charset=windows-1252"), Bytes::npos);
}

TEST(BuildMessage, InlineImagesRelatedAndFilesMixed) {
  model::Message m = basic();
  m.body_text = "see picture";
  m.body_html = "<html><body><img src=\"cid:img1@x\"></body></html>";
  m.html_charset = "utf-8";
  model::Attachment img = file_attachment("pic.png", sample_binary(5000, 1));
  img.is_inline = true;
  img.content_id = "img1@x";
  model::Attachment unused = file_attachment("logo.gif", sample_binary(300, 2));
  unused.is_inline = true;
  unused.content_id = "not-referenced@x";
  m.attachments.push_back(std::move(img));
  m.attachments.push_back(file_attachment("report.pdf", sample_binary(70000, 3)));
  m.attachments.push_back(std::move(unused));
  Bytes b = build(m);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"),
            "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,"
            "image/png)),application/pdf,image/gif)");
  std::vector<Fact> atts = p.attachments();
  ASSERT_EQ(atts.size(), 3u);
  EXPECT_EQ(atts[0].values[0], "pic.png");
  EXPECT_EQ(atts[0].values[2], sha256_hex(m.attachments[0].data.str()));
  EXPECT_EQ(atts[0].values[3], "inline");
  EXPECT_EQ(atts[1].values[0], "report.pdf");
  EXPECT_EQ(atts[1].values[2], sha256_hex(m.attachments[1].data.str()));
  EXPECT_EQ(atts[1].values[3], "attachment");
  EXPECT_EQ(atts[2].values[2], sha256_hex(m.attachments[2].data.str()));
  EXPECT_NE(b.find("Content-ID: <img1@x>"), Bytes::npos);
  EXPECT_NE(b.find("type=\"text/html\""), Bytes::npos);
}

TEST(BuildMessage, NonAsciiFilenamesRoundTrip) {
  model::Message m = basic();
  m.body_text = "files";
  std::string jp;
  for (int i = 0; i < 10; ++i) jp += "\xE5\xA0\xB1\xE5\x91\x8A\xE6\x9B\xB8";  // 報告書
  jp += ".xlsx";
  m.attachments.push_back(file_attachment(jp, sample_binary(1000, 4)));
  m.attachments.push_back(file_attachment("Gr\xC3\xBC\xC3\x9F" "e.txt", "hi\r\n"));
  Bytes b = build(m);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  std::vector<Fact> atts = p.attachments();
  ASSERT_EQ(atts.size(), 2u);
  EXPECT_EQ(atts[0].values[0], jp);
  EXPECT_EQ(atts[0].values[1],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(atts[0].values[2], sha256_hex(m.attachments[0].data.str()));
  EXPECT_EQ(atts[1].values[0], "Gr\xC3\xBC\xC3\x9F" "e.txt");
  EXPECT_EQ(atts[1].values[1], "text/plain");
  EXPECT_EQ(atts[1].values[2], sha256_hex("hi\r\n"));  // bytes exact, base64
}

TEST(BuildMessage, EmbeddedMessageIsRfc822Part) {
  model::Message inner = basic();
  inner.subject = "Inner " + GRUESSE;
  inner.body_text = "inner body";
  inner.attachments.push_back(file_attachment("data.csv", "a,b\r\n1,2\r\n"));
  model::Message m = basic();
  m.subject = "Outer";
  m.body_text = "outer body";
  model::Attachment att;
  att.kind = model::AttachmentKind::Embedded;
  att.embedded = std::make_unique<model::Message>(std::move(inner));
  m.attachments.push_back(std::move(att));
  for (bool crlf : {true, false}) {
    Bytes b = build(m, crlf);
    Parsed p = parse_with_python(b);
    EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
    EXPECT_EQ(p.one("structure"), "multipart/mixed(text/plain,message/rfc822)");
    std::vector<Fact> atts = p.attachments();
    ASSERT_EQ(atts.size(), 1u);
    EXPECT_EQ(atts[0].values[0], "Inner " + GRUESSE + ".eml");
    EXPECT_EQ(p.one("subject", "0/1"), "Inner " + GRUESSE);
    EXPECT_EQ(p.one("text", "0/1"), "inner body");
    EXPECT_EQ(p.one("structure", "0/1"), "multipart/mixed(text/plain,text/csv)");
    ASSERT_EQ(p.attachments("0/1").size(), 1u);
    EXPECT_EQ(p.attachments("0/1")[0].values[2], sha256_hex("a,b\r\n1,2\r\n"));
  }
}

TEST(BuildMessage, EmbedDepthLimit) {
  auto chain = [](int levels) {
    model::Message top = basic();
    top.body_text = "level 0";
    model::Message *cur = &top;
    for (int i = 1; i <= levels; ++i) {
      model::Attachment a;
      a.kind = model::AttachmentKind::Embedded;
      a.embedded = std::make_unique<model::Message>();
      a.embedded->body_text = "level " + std::to_string(i);
      model::Message *next = a.embedded.get();
      cur->attachments.push_back(std::move(a));
      cur = next;
    }
    return top;
  };
  EXPECT_TRUE(build_message(chain(limits::MAX_EMBED_DEPTH), {}).ok());
  Result<Built> r = build_message(chain(limits::MAX_EMBED_DEPTH + 1), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::LimitExceeded);
}

TEST(BuildMessage, TransportHeadersKeptVerbatimExceptMimeFields) {
  model::Message m = basic();
  m.subject = "ignored, transport wins";
  m.body_text = "body";
  m.transport_headers =
      "Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n"
      "\tby mail.example.org; Tue, 27 Jul 2021 22:19:51 +0000\r\n"
      "From:   \"Alice\"   <alice@example.com>\r\n"
      "To: bob@example.com\r\n"
      "Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
      "Date: Tue, 27 Jul 2021 22:19:50 +0000\r\n"
      "Message-ID: <orig@example.com>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed;\r\n boundary=\"old-boundary\"\r\n"
      "Content-Transfer-Encoding: 7bit\r\n"
      "X-Status: A\r\n"
      "X-Custom:  spaced  value  \r\n"
      "\r\n";
  Bytes b = build(m, true, FlagStyle::Eml);
  std::string expected_start =
      "Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n"
      "\tby mail.example.org; Tue, 27 Jul 2021 22:19:51 +0000\r\n"
      "From:   \"Alice\"   <alice@example.com>\r\n"
      "To: bob@example.com\r\n"
      "Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
      "Date: Tue, 27 Jul 2021 22:19:50 +0000\r\n"
      "Message-ID: <orig@example.com>\r\n"
      "X-Custom:  spaced  value  \r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n";
  EXPECT_EQ(b.substr(0, expected_start.size()), expected_start);
  EXPECT_EQ(b.find("old-boundary"), Bytes::npos);
  EXPECT_EQ(b.find("X-Status"), Bytes::npos);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("subject"), "Gr\xC3\xBC\xC3\x9F" "e");
  EXPECT_EQ(p.one("text"), "body");

  // LF variant: same fields, LF only; LF transport input also accepted.
  Bytes lf = build(m, false, FlagStyle::Mbox);
  EXPECT_EQ(lf.find('\r'), Bytes::npos);
  std::string expected_lf = expected_start;
  for (std::size_t pos; (pos = expected_lf.find("\r\n")) != std::string::npos;)
    expected_lf.replace(pos, 2, "\n");
  EXPECT_EQ(lf.substr(0, expected_lf.find("MIME-Version")),
            expected_lf.substr(0, expected_lf.find("MIME-Version")));
  EXPECT_NE(lf.find("Status: O\n"), Bytes::npos);
}

TEST(BuildMessage, TransportHeadersMissingFieldsAreAdded) {
  model::Message m = basic();
  m.body_text = "body";
  m.message_id.clear();
  m.transport_headers = "Microsoft Mail Internet Headers Version 2.0\r\nSubject: hi\r\n";
  Result<Built> r = build_message(m, {});
  ASSERT_TRUE(r.ok());
  std::string h = header_block(r->bytes);
  EXPECT_EQ(h.substr(0, 13), "Subject: hi\r\n");
  EXPECT_NE(h.find("\r\nDate: Tue, 27 Jul 2021 22:19:50 +0000\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nFrom: Alice Example <alice@example.com>\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nX-Mailmill-Generated-Message-ID: yes\r\n"), std::string::npos);
  EXPECT_TRUE(r->message_id_generated);
  EXPECT_EQ(r->message_id.size(), 1 + 32 + 1 + std::string("mailmill.invalid").size() + 1);
  EXPECT_EQ(r->bytes.find("Microsoft Mail"), Bytes::npos);  // not a field: dropped
  Parsed p = parse_with_python(r->bytes);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("message-id"), r->message_id);
}

TEST(BuildMessage, DeterministicBytesAndGeneratedId) {
  model::Message m = basic();
  m.message_id.clear();
  m.body_text = "text";
  m.body_html = "<p>html</p>";
  m.html_charset = "utf-8";
  m.attachments.push_back(file_attachment("a.bin", sample_binary(999, 5)));
  Result<Built> a = build_message(m, {});
  Result<Built> b = build_message(m, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_EQ(a->message_id, b->message_id);
  EXPECT_TRUE(a->message_id_generated);
  BuildOptions lf;
  lf.crlf = false;
  lf.flags = FlagStyle::Mbox;
  Result<Built> d = build_message(m, lf);
  EXPECT_EQ(d->message_id, a->message_id);  // same item, same id in every output format
  m.body_text = "text2";
  Result<Built> c = build_message(m, {});
  EXPECT_NE(c->message_id, a->message_id);
  EXPECT_EQ(a->envelope_sender, "alice@example.com");
  EXPECT_EQ(a->date, 1627424390);
}

TEST(BuildMessage, LineEndingVariants) {
  model::Message m = basic();
  m.subject = GRUESSE;
  m.body_text = "one\ntwo\r\nthree \xC3\xA9\r\n";
  m.body_html = "<p>\r\nx\n</p>";
  m.html_charset = "utf-8";
  m.attachments.push_back(file_attachment("x.txt", "raw\nbytes\r\n"));
  Bytes crlf = build(m, true);
  Bytes lf = build(m, false);
  EXPECT_EQ(lf.find('\r'), Bytes::npos);
  for (std::size_t i = 0; i < crlf.size(); ++i) {
    if (crlf[i] == '\n') {
      ASSERT_TRUE(i > 0 && crlf[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  Parsed pc = parse_with_python(crlf);
  Parsed pl = parse_with_python(lf);
  EXPECT_TRUE(pc.defects().empty() && pl.defects().empty());
  EXPECT_EQ(pc.one("text"), "one\ntwo\nthree \xC3\xA9\n");
  EXPECT_EQ(pl.one("text"), pc.one("text"));
  EXPECT_EQ(pl.one("structure"), pc.one("structure"));
  EXPECT_EQ(pl.attachments()[0].values[2], sha256_hex("raw\nbytes\r\n"));
  EXPECT_EQ(pc.attachments()[0].values[2], sha256_hex("raw\nbytes\r\n"));
}

TEST(BuildMessage, X500OnlySenderKeepsNameAsGroup) {
  model::Message m = basic();
  m.from = {"Doe, John", "", "/O=ORG/OU=EXCHANGE/CN=RECIPIENTS/CN=JDOE", "EX"};
  m.recipients.clear();
  m.display_to = "Bob; Carol Smith";
  m.body_text = "x";
  Bytes b = build(m);
  std::string h = header_block(b);
  EXPECT_NE(h.find("\r\nFrom: \"Doe, John\":;\r\n"), std::string::npos) << h;
  EXPECT_NE(h.find("\r\nX-Mailmill-X500-From: /O=ORG/OU=EXCHANGE/CN=RECIPIENTS/CN=JDOE\r\n"),
            std::string::npos);
  EXPECT_NE(h.find("\r\nTo: Bob:;, Carol Smith:;\r\n"), std::string::npos) << h;
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  Result<Built> r = build_message(m, {});
  EXPECT_EQ(r->envelope_sender, "");
}

TEST(BuildMessage, EmptyMessageIsValid) {
  model::Message m;
  Result<Built> r = build_message(m, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->date, 0);
  EXPECT_EQ(r->bytes.find("Date:"), Bytes::npos);  // never 1970
  Parsed p = parse_with_python(r->bytes);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"), "text/plain");
  EXPECT_EQ(p.one("text"), "");
}

TEST(BuildMessage, ReferenceAndUnreadableAttachmentsAreReported) {
  model::Message m = basic();
  m.body_text = "x";
  model::Attachment ref;
  ref.kind = model::AttachmentKind::Reference;
  ref.filename = "budget.xlsx";
  ref.reference_path = "\\\\server\\share\\budget.xlsx";
  model::Attachment bad;
  bad.kind = model::AttachmentKind::Unreadable;
  bad.filename = "broken.doc";
  m.attachments.push_back(std::move(ref));
  m.attachments.push_back(std::move(bad));
  Result<Built> r = build_message(m, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_EQ(r->warnings[0].code, ProblemCode::AttachmentNotExportable);
  EXPECT_NE(r->warnings[0].detail.find("budget.xlsx"), std::string::npos);
  EXPECT_EQ(r->warnings[1].code, ProblemCode::AttachmentUnreadable);
  EXPECT_NE(r->bytes.find("X-Mailmill-Omitted-Attachment: budget.xlsx (by reference:"),
            Bytes::npos);
  Parsed p = parse_with_python(r->bytes);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"), "text/plain");
}

TEST(BuildMessage, FlagHeaders) {
  model::Message m = basic();
  m.body_text = "x";
  m.flags.read = true;
  m.flags.answered = true;
  m.flags.flagged = true;
  m.flags.forwarded = true;
  std::string mbox = header_block(build(m, false, FlagStyle::Mbox));
  EXPECT_NE(mbox.find("\nStatus: RO\nX-Status: AF\n"), std::string::npos) << mbox;
  std::string eml = header_block(build(m, true, FlagStyle::Eml));
  EXPECT_NE(eml.find("\r\nX-Mailmill-Flags: \\Seen \\Answered \\Flagged $Forwarded\r\n"),
            std::string::npos);
  m.flags = {};
  EXPECT_EQ(header_block(build(m, true, FlagStyle::Eml)).find("X-Mailmill-Flags"),
            std::string::npos);
  EXPECT_NE(header_block(build(m, false, FlagStyle::Mbox)).find("\nStatus: O\n"),
            std::string::npos);
}

TEST(BuildMessage, OptionalHeaders) {
  model::Message m = basic();
  m.body_text = "x";
  m.importance = 2;
  m.sensitivity = 3;
  m.categories = {"Work", "Caf\xC3\xA9", "a, b"};
  m.in_reply_to = "<p@x>";
  m.references = "<a@x> <p@x>";
  m.sender = {"Assistant", "assist@example.com", "", "SMTP"};
  Bytes b = build(m);
  std::string h = header_block(b);
  EXPECT_NE(h.find("\r\nSender: Assistant <assist@example.com>\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nImportance: high\r\nX-Priority: 1\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nSensitivity: Company-Confidential\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nKeywords: Work, =?UTF-8?B?Q2Fmw6k=?=, \"a, b\"\r\n"), std::string::npos) << h;
  EXPECT_NE(h.find("\r\nIn-Reply-To: <p@x>\r\nReferences: <a@x> <p@x>\r\n"), std::string::npos);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
}

TEST(BuildMessage, LongLinesAndBinaryTextAreEncoded) {
  model::Message m = basic();
  std::string long_line(3000, 'q');
  m.body_text = long_line + "\r\n";
  Bytes b = build(m);
  EXPECT_NE(b.find("Content-Transfer-Encoding: quoted-printable"), Bytes::npos);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty());
  EXPECT_EQ(p.one("text"), long_line + "\n");
  // Mostly non-ASCII text goes base64 (smaller than QP).
  std::string jp;
  for (int i = 0; i < 200; ++i) jp += "\xE6\x97\xA5";
  m.body_text = jp;
  b = build(m);
  EXPECT_NE(b.find("Content-Transfer-Encoding: base64"), Bytes::npos);
  p = parse_with_python(b);
  EXPECT_EQ(p.one("text"), jp);
}

TEST(BuildMessage, BadRtfIsAWarning) {
  model::Message m = basic();
  m.body_text = "text";
  m.body_html.reset();
  m.body_rtf = Bytes("not compressed rtf at all");
  Result<Built> r = build_message(m, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].code, ProblemCode::BodyUndecodable);
  Parsed p = parse_with_python(r->bytes);
  EXPECT_EQ(p.one("structure"), "text/plain");
}

/// PR_RTF_COMPRESSED in its uncompressed "MELA" form ([MS-OXRTFCP] 2.1.3.1.1).
Bytes mela(const std::string &rtf) {
  Bytes out;
  auto le32 = [&](u32 v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  le32(static_cast<u32>(rtf.size() + 12));
  le32(static_cast<u32>(rtf.size()));
  le32(0x414C454D);  // "MELA"
  le32(0);
  return out + rtf;
}

TEST(BuildMessage, NativeRtfBecomesAlternativeWithDerivedText) {
  model::Message m = basic();
  std::string doc = "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Arial;}}\\f0 Hello RTF\\par}";
  m.body_rtf = mela(doc);
  Result<Built> r = build_message(m, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->warnings.empty());
  Parsed p = parse_with_python(r->bytes);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"), "multipart/alternative(text/plain,application/rtf)");
  EXPECT_NE(p.one("text").find("Hello RTF"), std::string::npos) << p.one("text");
  // An existing HTML body wins over native RTF: no application/rtf part.
  m.body_html = "<p>hi</p>";
  m.html_charset = "utf-8";
  p = parse_with_python(build(m));
  EXPECT_EQ(p.one("structure"), "text/html");
}

TEST(BuildMessage, RtfEncapsulatedHtmlFillsMissingHtml) {
  model::Message m = basic();
  m.body_text = "plain";
  std::string doc =
      "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}"
      "{\\*\\htmltag64 <html>}{\\*\\htmltag <body>}\\htmlrtf x\\htmlrtf0 caf\\'e9"
      "{\\*\\htmltag </body>}{\\*\\htmltag </html>}}";
  m.body_rtf = mela(doc);
  Result<Built> r = build_message(m, {});
  ASSERT_TRUE(r.ok());
  Parsed p = parse_with_python(r->bytes);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("structure"), "multipart/alternative(text/plain,text/html)");
  EXPECT_NE(p.one("html").find("<body>caf\xC3\xA9</body>"), std::string::npos) << p.one("html");
}

/// Second oracle: mimetic (what our own parse/normalize stage uses) must see the same tree.
std::string mimetic_structure(const mimetic::MimeEntity &e) {
  const mimetic::ContentType &ct = e.header().contentType();
  std::string out = std::string(ct.type().c_str()) + "/" + ct.subtype().c_str();
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(std::tolower(out[i]));
  if (!e.body().parts().empty()) {
    out += "(";
    bool first = true;
    for (const mimetic::MimeEntity *c : e.body().parts()) {
      if (!first) out += ",";
      out += mimetic_structure(*c);
      first = false;
    }
    out += ")";
  }
  return out;
}

TEST(BuildMessage, MimeticSeesTheSameStructure) {
  model::Message m = basic();
  m.body_text = "see picture";
  m.body_html = "<img src=\"cid:i@x\">";
  m.html_charset = "utf-8";
  model::Attachment img = file_attachment("i.jpg", sample_binary(2000, 9));
  img.is_inline = true;
  img.content_id = "i@x";
  m.attachments.push_back(std::move(img));
  m.attachments.push_back(file_attachment("notes.docx", sample_binary(3000, 8)));
  for (bool crlf : {true, false}) {
    Bytes b = build(m, crlf);
    mimetic::MimeEntity e(b.begin(), b.end());
    EXPECT_EQ(mimetic_structure(e),
              "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,"
              "image/jpeg)),application/vnd.openxmlformats-officedocument.wordprocessingml."
              "document)");
    EXPECT_EQ(parse_with_python(b).one("structure"), mimetic_structure(e));
  }
}

TEST(BuildMessage, LongRecipientListFolds) {
  model::Message m = basic();
  m.recipients.clear();
  for (int i = 0; i < 25; ++i)
    m.recipients.push_back({model::RecipientType::To,
                            {"Person " + std::to_string(i) + " M\xC3\xBCller",
                             "p" + std::to_string(i) + "@example.com", "", "SMTP"}});
  m.body_text = "x";
  Bytes b = build(m);
  std::string h = header_block(b);
  std::size_t start = 0;
  while (start < h.size()) {
    std::size_t nl = h.find("\r\n", start);
    EXPECT_LE(nl - start, 78u) << h.substr(start, nl - start);
    start = nl + 2;
  }
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  std::string to = p.one("to");
  for (int i = 0; i < 25; ++i) {
    std::string want = "Person " + std::to_string(i) + " M\xC3\xBCller <p" + std::to_string(i) +
                       "@example.com>";
    EXPECT_NE(to.find(want), std::string::npos) << want;
  }
}

TEST(BuildMessage, HostileFieldsStayInsideTheirHeaders) {
  model::Message m = basic();
  m.subject = std::string("evil\r\nBcc: victim@example.com\r\n\r\nbody\xFF\xFE", 38);
  m.from = {"Na\"me\\\r\n", "a@b.example", "", "SMTP"};
  m.body_text = std::string("nul\0inside\rbare cr\n", 20);
  m.message_id = "<id@x>\r\nX-Injected: 1";
  m.attachments.push_back(file_attachment("bad\r\nname\xC3.txt", "x", "text/plain\r\nX: y"));
  Bytes b = build(m);
  EXPECT_EQ(b.find("\r\nBcc:"), Bytes::npos);
  EXPECT_EQ(b.find("\r\nX-Injected"), Bytes::npos);
  EXPECT_EQ(b.find("\r\nX: y"), Bytes::npos);
  Parsed p = parse_with_python(b);
  EXPECT_TRUE(p.defects().empty()) << ::testing::PrintToString(p.defects());
  EXPECT_EQ(p.one("text"), std::string("nul\0inside\rbare cr\n", 20));
  ASSERT_EQ(p.attachments().size(), 1u);
  EXPECT_EQ(p.attachments()[0].values[0], "bad  name\xEF\xBF\xBD.txt");
}

}  // namespace
}  // namespace mm::mime

namespace mm::mime {
namespace {

// The builder frames mbox entries in place (BuildOptions::mboxrd), quoting only where a text
// line needs it; the result must equal framing the bare message afterwards, and the hash and
// size it reports must be those of the bare message.
TEST(BuildMessage, InPlaceMboxFramingEqualsFramingAfterwards) {
  std::vector<model::Message> cases;
  cases.push_back(basic());
  cases.back().body_text = "plain body\n";
  cases.push_back(basic());
  cases.back().body_text = "From the start\n>From quoted\nFromage\n no\nFrom again";
  cases.push_back(basic());
  cases.back().body_text = "with files\n";
  cases.back().body_html = Bytes("<p>From here</p>\nFrom there\n");
  cases.back().html_charset = "utf-8";
  cases.back().attachments.push_back(file_attachment("big.bin", sample_binary(200000, 3)));
  cases.back().attachments.push_back(file_attachment("empty.bin", ""));
  cases.back().attachments.push_back(file_attachment("a.txt", "From inside an attachment\n"));
  cases.push_back(basic());
  cases.back().from = {"", "", "", ""};
  cases.back().submit_time.reset();
  cases.back().body_text = std::string("bare\rCR and CRLF\r\nlines\r\n");
  // Bigger than the builder's 4 MiB staging buffer, with a line to quote after it.
  cases.push_back(basic());
  cases.back().body_text = "From the top\n";
  cases.back().attachments.push_back(file_attachment("huge.bin", sample_binary(9000000, 5)));
  cases.back().attachments.push_back(file_attachment("note.txt", "x"));
  cases.push_back(basic());
  cases.back().body_text = "nothing to quote\n";
  cases.back().attachments.push_back(file_attachment("huge.bin", sample_binary(9000001, 6)));
  std::FILE *tmp = std::tmpfile();
  ASSERT_NE(tmp, nullptr);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    BuildOptions plain;
    plain.crlf = false;
    plain.flags = FlagStyle::Mbox;
    BuildOptions framed = plain;
    framed.mboxrd = true;
    Result<Built> a = build_message(cases[i], plain);
    Result<Built> b = build_message(cases[i], framed);
    ASSERT_TRUE(a.ok() && b.ok());
    // Streamed into a file (as the pipeline does for big messages): the same bytes, the same
    // hash, appended after whatever the file already holds.
    for (BuildOptions opts : {plain, framed}) {
      opts.stream_to = [tmp] { return tmp; };
      opts.stream_above = 0;
      Result<Built> st = build_message(cases[i], opts);
      ASSERT_TRUE(st.ok() && st->streamed && st->bytes.empty());
      std::fseek(tmp, 0, SEEK_END);
      ASSERT_EQ(static_cast<u64>(std::ftell(tmp)), st->stream_offset + st->stream_size);
      Bytes got(st->stream_size, '\0');
      std::fseek(tmp, static_cast<long>(st->stream_offset), SEEK_SET);
      ASSERT_EQ(std::fread(got.data(), 1, got.size(), tmp), got.size());
      const Built &mem = opts.mboxrd ? *b : *a;
      EXPECT_TRUE(got == mem.bytes) << "streamed bytes differ (mboxrd " << opts.mboxrd << ")";
      EXPECT_EQ(st->sha256, mem.sha256);
      EXPECT_EQ(st->message_size, mem.message_size);
    }
    Bytes message = a->bytes;
    if (message.empty() || message.back() != '\n') message += '\n';
    Bytes expected;
    append_mboxrd(expected, message, a->envelope_sender, a->date);
    EXPECT_EQ(b->bytes, expected);
    EXPECT_EQ(b->message_size, message.size());
    std::string hex;
    for (u8 c : b->sha256) {
      static constexpr char H[] = "0123456789abcdef";
      hex += H[c >> 4];
      hex += H[c & 15];
    }
    EXPECT_EQ(hex, sha256_hex(message));
  }
  std::fclose(tmp);
}

}  // namespace
}  // namespace mm::mime
