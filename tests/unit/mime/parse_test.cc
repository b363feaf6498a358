// mime::parse_message against Python's email package (tests/unit/mime/parse_oracle.py) on
// every EML file and mbox entry of the corpus, plus TNEF expansion and damaged input.
#include "mailmill/mime/parse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mailmill/mime/limits.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::mime {
namespace {

std::string unesc(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c);
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split_tabs(const std::string &line) {
  std::vector<std::string> f;
  std::size_t i = 0;
  while (true) {
    std::size_t t = line.find('\t', i);
    f.push_back(unesc(std::string_view(line).substr(i, t == std::string::npos ? t : t - i)));
    if (t == std::string::npos) break;
    i = t + 1;
  }
  return f;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string from_hex(std::string_view h) {
  std::string out;
  out.reserve(h.size() / 2);
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(
        static_cast<char>(text::hex_digit_value(h[i]) * 16 + text::hex_digit_value(h[i + 1])));
  return out;
}

// Same normalization as the oracle's normalize_text.
std::string normalize_text(std::string s) {
  std::string t;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      t.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      t.push_back(s[i]);
    }
  }
  std::vector<std::string> lines;
  std::size_t i = 0;
  while (true) {
    std::size_t nl = t.find('\n', i);
    std::string l = t.substr(i, nl == std::string::npos ? nl : nl - i);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.pop_back();
    lines.push_back(l);
    if (nl == std::string::npos) break;
    i = nl + 1;
  }
  while (!lines.empty() && lines.front().empty()) lines.erase(lines.begin());
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (std::size_t k = 0; k < lines.size(); ++k) out += (k ? "\n" : "") + lines[k];
  return out;
}

std::string collapse(std::string_view s) {
  std::string out;
  bool sp = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      sp = true;
      continue;
    }
    if (sp && !out.empty()) out.push_back(' ');
    sp = false;
    out.push_back(c);
  }
  return out;
}

struct Expected {
  bool message = false;
  std::string raw;
  bool has_raw = false;
  std::map<std::string, std::string> fields;  // subject, from, to, cc, date, text
  std::multiset<std::pair<std::string, std::string>> atts;
};

std::string smtp_list(const model::Message &m, model::RecipientType type) {
  std::string out;
  for (const auto &r : m.recipients) {
    if (r.type != type || r.address.smtp.empty()) continue;
    if (!out.empty()) out += ' ';
    out += text::to_lower_ascii(r.address.smtp);
  }
  return out;
}

TEST(ParseOracle, AgreesWithPythonEmailOnTheCorpus) {
  MM_REQUIRE_CORPUS();
  const std::string corpus = testing::corpus_dir();
  const std::string script =
      (std::filesystem::path(MM_TESTS_DIR) / "unit" / "mime" / "parse_oracle.py").string();
  FILE *pipe = ::popen(("python3 '" + script + "' '" + corpus + "'").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::map<std::string, Expected> exp;
  std::vector<std::string> order;
  {
    // Values may hold NUL bytes: read everything, then split at newlines.
    std::string all;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) all.append(buf, n);
    std::size_t i = 0;
    while (i < all.size()) {
      std::size_t nl = all.find('\n', i);
      if (nl == std::string::npos) nl = all.size();
      std::vector<std::string> f = split_tabs(all.substr(i, nl - i));
      i = nl + 1;
      if (f.size() < 2) continue;
      Expected &e = exp[f[1]];
      if (f[0] == "msg" || f[0] == "notmsg") {
        e.message = f[0] == "msg";
        order.push_back(f[1]);
      } else if (f[0] == "raw" && f.size() == 3) {
        e.raw = from_hex(f[2]);
        e.has_raw = true;
      } else if (f[0] == "att" && f.size() == 4) {
        e.atts.insert({f[2], f[3]});
      } else if (f.size() == 3) {
        e.fields[f[0]] = f[2];
      }
    }
  }
  ASSERT_EQ(::pclose(pipe), 0) << "the Python oracle failed";
  ASSERT_GT(order.size(), 900u);

  std::map<std::string, std::pair<int, int>> tally;  // field -> (agree, compared)
  std::vector<std::string> disagreements;
  auto check = [&](const std::string &id, const std::string &field, const std::string &want,
                   const std::string &got) {
    auto &t = tally[field];
    ++t.second;
    if (want == got)
      ++t.first;
    else {
      std::size_t d = 0;
      while (d < want.size() && d < got.size() && want[d] == got[d]) ++d;
      std::size_t from = d > 40 ? d - 40 : 0;
      disagreements.push_back(id + " " + field + " (differs at " + std::to_string(d) +
                              "): python [" + want.substr(from, 100) + "] ours [" +
                              got.substr(from, 100) + "]");
    }
  };
  ParseOptions no_tnef;
  no_tnef.expand_tnef = false;
  for (const std::string &id : order) {
    const Expected &e = exp[id];
    std::string bytes = e.has_raw ? e.raw : read_file(corpus + "/" + id);
    Result<model::Message> r = parse_message(Blob(Bytes(bytes)), no_tnef);
    check(id, "is-message", e.message ? "yes" : "no", r.ok() ? "yes" : "no");
    if (!r.ok() || !e.message) continue;
    const model::Message &m = *r;
    for (const auto &[name, want] : e.fields) {
      std::string got;
      if (name == "subject" || name == "rawsubject")
        got = collapse(m.subject);
      else if (name == "from") {
        got = text::to_lower_ascii(m.from.smtp);
        std::string first = want.substr(0, want.find(' '));
        check(id, name, first, got);
        continue;
      } else if (name == "to")
        got = smtp_list(m, model::RecipientType::To);
      else if (name == "cc")
        got = smtp_list(m, model::RecipientType::Cc);
      else if (name == "date")
        got = m.submit_time ? std::to_string(*m.submit_time) : "-";
      else if (name == "text")
        got = m.body_text ? normalize_text(*m.body_text) : "(none)";
      else
        continue;
      check(id, name, want, got);
    }
    std::multiset<std::pair<std::string, std::string>> atts;
    for (const model::Attachment &a : m.attachments) {
      if (a.kind != model::AttachmentKind::ByValue || a.filename.empty()) continue;
      if (a.mime_type == "text/plain" || a.mime_type == "text/html" ||
          a.mime_type.starts_with("message/"))
        continue;
      atts.insert({a.filename, text::to_hex(util::Sha256::digest(a.data))});
    }
    auto fmt = [](const auto &s) {
      std::string o;
      for (const auto &[n, h] : s) o += n + "=" + h.substr(0, 12) + " ";
      return o;
    };
    check(id, "attachments", fmt(e.atts), fmt(atts));
  }
  // Where Python's email and we read a message differently on purpose, each with the reason.
  // Everything else must agree.
  static const std::set<std::string> EXPECTED = {
      // RFC 5322 4.5 obsolete syntax allows blanks before a field's colon ("Subject :"); we
      // read such fields, Python ends the header there.
      "eml/mime4j__obsolete.msg is-message",
      "eml/rbmail__example13.eml is-message",
      "eml/spamassassin__spam_008 from",
      // Zones Python cannot place: it takes "(EDT)" / "PM" as the zone and falls back to a
      // naive time (read here as UTC); we strip comments, honour AM/PM and the numeric zone.
      "eml/mimekit__disposition-notification.anonymized.eml date",
      "eml/mimekit__disposition-notification.txt date",
      "eml/notmuch__crypto_encrypted-signed.eml date",
      "eml/spamassassin__spam_001 date",
      "eml/spamassassin__spam_hashbl date",
      // Raw 8-bit header text: Python substitutes U+FFFD; we read it in the charset the
      // message's text part declares (checked as "rawsubject" against Python's codec for that
      // charset), else as windows-1252.
      "eml/rbmail__invalid_subject_characters.eml subject",
      "eml/spamassassin__nice_cjk_big5-base64.1 subject",
      "eml/spamassassin__nice_cjk_gb2312.1 subject",
      "mbox/patchwork__msgid-len.mbox#0 subject",
      // 8-bit body text declared us-ascii, or invalid UTF-8: Python writes U+FFFD per byte, we
      // read valid text by its bytes (windows-1252 / UTF-8) and one U+FFFD per bad sequence.
      "eml/rbmail__content_transfer_encoding_plain.eml text",
      "eml/rbmail__raw_email5.eml text",
      "eml/rbmail__raw_email6.eml text",
      "eml/spamassassin__spam_008 text",
      "mbox/patchwork__base64err.mbox#0 text",
      "mbox/patchwork__date.mbox#0 text",
      "mbox/patchwork__msgid-len2.mbox#0 text",
      // Filenames as encoded-words Python leaves encoded (unquoted, or with an RFC 2231
      // language suffix); we decode them.
      "eml/mime4j__multi-2evil.msg attachments",
      "eml/rbmail__attachment_with_base64_encoded_name.eml attachments",
      // "Content-Transfer-Encoding: base64 " (trailing blank): Python does not decode.
      "eml/mime4j__twopart.msg attachments",
      // An empty part before the closing boundary: Python gives it the epilogue as content.
      "eml/mime4j__multipartemptypart.msg text",
  };
  std::vector<std::string> unexpected;
  std::set<std::string> seen_expected;
  for (const std::string &d : disagreements) {
    std::string key = d.substr(0, d.find(" ("));
    if (EXPECTED.count(key))
      seen_expected.insert(key);
    else
      unexpected.push_back(d);
  }
  int total_agree = 0, total = 0;
  for (const auto &[f, t] : tally) {
    std::printf("[oracle] %-12s agree %d / %d\n", f.c_str(), t.first, t.second);
    total_agree += t.first;
    total += t.second;
  }
  std::printf("[oracle] %zu inputs (EML files and mbox entries), %zu disagreements\n", order.size(),
              disagreements.size());
  for (const std::string &d : unexpected) std::printf("  unexpected: %s\n", d.c_str());
  EXPECT_TRUE(unexpected.empty());
  // The expected differences must all still occur: a list that outlived its reasons would
  // hide nothing, but it would no longer describe the parser.
  for (const std::string &k : EXPECTED)
    EXPECT_TRUE(seen_expected.count(k)) << "no longer differs: " << k;
  EXPECT_GT(tally["text"].second, 800);
  EXPECT_GT(tally["attachments"].second, 900);
}

}  // namespace
}  // namespace mm::mime

namespace mm::mime {
namespace {

std::string describe_atts(const model::Message &m) {  // NOLINT(misc-no-recursion)
  std::string o;
  for (const model::Attachment &a : m.attachments)
    o += "[" + a.filename + " kind=" + std::to_string(static_cast<int>(a.kind)) +
         " size=" + std::to_string(a.data.size()) + " type=" + a.mime_type +
         (a.embedded
              ? " embedded subject=" + a.embedded->subject + " atts=" + describe_atts(*a.embedded)
              : std::string()) +
         "]";
  return o;
}

struct TnefFact {
  std::string title;
  i64 size;
  std::string sha256;
};

std::vector<TnefFact> tnef_oracle(const std::string &file) {
  const std::string script =
      (std::filesystem::path(MM_TESTS_DIR) / "unit" / "mime" / "tnef_oracle.py").string();
  FILE *pipe = ::popen(("python3 '" + script + "' '" + file + "'").c_str(), "r");
  std::vector<TnefFact> out;
  if (!pipe) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) {
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    std::vector<std::string> f = split_tabs(line);
    if (f.size() == 4 && f[0] == "att") out.push_back({f[1], std::stoll(f[2]), f[3]});
  }
  EXPECT_EQ(::pclose(pipe), 0);
  return out;
}

const model::Attachment *find_att(const model::Message &m, std::string_view name) {
  for (const model::Attachment &a : m.attachments)
    if (a.filename == name) return &a;
  return nullptr;
}

// The name occurs in the TNEF bytes as 8-bit or UTF-16LE text (what `strings` shows).
bool occurs_in(std::string_view hay, std::string_view name) {
  if (hay.find(name) != std::string_view::npos) return true;
  std::string wide;
  for (char c : name) {
    wide.push_back(c);
    wide.push_back('\0');
  }
  return hay.find(wide) != std::string_view::npos;
}

std::string tnef_bytes(const std::string &file) {
  ParseOptions keep;
  keep.expand_tnef = false;
  Result<model::Message> r = parse_message(Blob(Bytes(read_file(file))), keep);
  if (!r.ok()) return {};
  const model::Attachment *a = find_att(*r, "winmail.dat");
  return a ? a->data.str() : std::string();
}

TEST(ParseTnef, ExpandsWinmailDatIntoAttachmentsAndEmbeddedMessages) {
  MM_REQUIRE_CORPUS();
  // aspnet__tnefEml1.eml: 1.jpg and image001.jpg as files, "Embedded MSG.msg" as an attached
  // message (itself TNEF) that holds image001.jpg.
  const std::string f1 = testing::corpus_path("eml/aspnet__tnefEml1.eml");
  std::vector<TnefFact> facts = tnef_oracle(f1);
  ASSERT_EQ(facts.size(), 3u);
  Result<model::Message> r = parse_message(Blob(Bytes(read_file(f1))));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(find_att(*r, "winmail.dat"), nullptr) << "the TNEF part itself is replaced";
  EXPECT_EQ(r->attachments.size(), 3u) << describe_atts(*r);
  for (const TnefFact &f : facts) {
    const model::Attachment *a = find_att(*r, f.title);
    ASSERT_NE(a, nullptr) << f.title << " missing: " << describe_atts(*r);
    if (f.size >= 0) {
      EXPECT_EQ(a->kind, model::AttachmentKind::ByValue);
      EXPECT_EQ(static_cast<i64>(a->data.size()), f.size) << f.title;
      EXPECT_EQ(text::to_hex(util::Sha256::digest(a->data)), f.sha256) << f.title;
      EXPECT_TRUE(a->data.view().starts_with("\xFF\xD8")) << "a JPEG starts with SOI";
    } else {
      ASSERT_EQ(a->kind, model::AttachmentKind::Embedded) << f.title;
      ASSERT_TRUE(a->embedded);
      ASSERT_EQ(a->embedded->attachments.size(), 1u);
      const model::Attachment &inner = a->embedded->attachments[0];
      EXPECT_TRUE(occurs_in(tnef_bytes(f1), inner.filename)) << inner.filename;
      // Same picture as the outer image001.jpg (the oracle's digest of that one).
      EXPECT_EQ(inner.filename, "image001.jpg");
      EXPECT_EQ(text::to_hex(util::Sha256::digest(inner.data)), facts[2].sha256);
    }
  }
  EXPECT_TRUE(r->body_rtf.has_value()) << "the TNEF stream carries PR_RTF_COMPRESSED";

  // aspnet__tnefWithMsgInside.eml: one attached message ("case 2a") holding a .docx.
  const std::string f2 = testing::corpus_path("eml/aspnet__tnefWithMsgInside.eml");
  facts = tnef_oracle(f2);
  ASSERT_EQ(facts.size(), 1u);
  EXPECT_EQ(facts[0].title, "case 2a");
  r = parse_message(Blob(Bytes(read_file(f2))));
  ASSERT_TRUE(r.ok());
  const model::Attachment *msg_att = find_att(*r, "case 2a");
  ASSERT_NE(msg_att, nullptr) << describe_atts(*r);
  ASSERT_EQ(msg_att->kind, model::AttachmentKind::Embedded);
  ASSERT_EQ(msg_att->embedded->attachments.size(), 1u);
  const model::Attachment &docx = msg_att->embedded->attachments[0];
  EXPECT_EQ(docx.filename, "5e76ryjj.docx");
  EXPECT_TRUE(occurs_in(tnef_bytes(f2), docx.filename));
  // A .docx is a ZIP archive: Python's zipfile checks every member's CRC.
  const std::string tmp = testing::make_tmp_dir("mm_tnef") + "/a.docx";
  {
    std::ofstream o(tmp, std::ios::binary);
    o.write(docx.data.data(), static_cast<std::streamsize>(docx.data.size()));
  }
  const std::string check =
      "python3 -c \"import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); "
      "sys.exit(0 if z.testzip() is None and 'word/document.xml' in "
      "z.namelist() else 1)\" '" +
      tmp + "'";
  EXPECT_EQ(std::system(check.c_str()), 0) << "the .docx is not an intact ZIP";
}

TEST(ParseTnef, UnreadableTnefStaysAnAttachmentWithAWarning) {
  const std::string msg =
      "From: a@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
      "hi\r\n--b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\neJ8+IgEAAQAAAAAAAA==\r\n--b--\r\n";
  Result<model::Message> r = parse_message(Blob(Bytes(msg)));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].filename, "winmail.dat");
  EXPECT_FALSE(r->warnings.empty());
  ParseOptions off;
  off.expand_tnef = false;
  Result<model::Message> r2 = parse_message(Blob(Bytes(msg)), off);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->warnings.empty());
}

}  // namespace
}  // namespace mm::mime

namespace mm::mime {
namespace {

bool has_warning(const model::Message &m, ProblemCode code, std::string_view text_part) {
  return std::any_of(m.warnings.begin(), m.warnings.end(), [&](const Problem &p) {
    return p.code == code && p.detail.find(text_part) != std::string::npos;
  });
}

const char *kHead = "From: a@example.com\nTo: b@example.com\nSubject: s\nMIME-Version: 1.0\n";

TEST(ParseDamage, NotAMessageIsAProblem) {
  for (const std::string &in :
       {std::string(), std::string("\n\n"), std::string("\x89PNG\r\n\x1a\n\0\0", 10),
        std::string("just some text without any header\nmore\n")}) {
    Result<model::Message> r = parse_message(Blob(Bytes(in)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.problem().code, ProblemCode::ItemUnreadable);
  }
}

TEST(ParseDamage, UnterminatedMultipartKeepsItsPartsWithAWarning) {
  std::string m = std::string(kHead) +
                  "Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\n"
                  "body\n--zz\nContent-Type: application/pdf; name=a.pdf\n"
                  "Content-Transfer-Encoding: base64\n\nJVBERi0x";
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body_text.value_or(""), "body");
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].data.str(), "%PDF-1");
  EXPECT_TRUE(has_warning(*r, ProblemCode::BodyUndecodable, "closing boundary missing"));
}

TEST(ParseDamage, TruncatedAnywhereNeverFails) {
  // A well-formed message cut at every length: the result is a message or (when no header
  // field is left) a Problem, never a crash; the header is kept as far as it goes.
  std::string m =
      std::string(kHead) +
      "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
      "Content-Type: multipart/alternative; boundary=\"b2\"\n\n--b2\n"
      "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
      "quoted-printable\n\nh=C3=A9llo=\n w\n--b2\nContent-Type: text/html\n\n<p>x</p>\n--b2--\n"
      "--b1\nContent-Type: message/rfc822\n\nFrom: c@example.com\nSubject: inner\n\nin\n"
      "--b1\nContent-Type: image/png; name=\"=?utf-8?q?p=C3=A9.png?=\"\n"
      "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b1--\n";
  for (std::size_t n = 0; n <= m.size(); ++n) {
    Result<model::Message> r = parse_message(Blob(Bytes(m.substr(0, n))));
    if (n >= 18) ASSERT_TRUE(r.ok()) << n;  // "From: a@example.com" is complete
    if (!r.ok()) continue;
    EXPECT_LE(r->attachments.size(), 2u) << n << ": " << describe_atts(*r);
  }
  Result<model::Message> full = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->warnings.empty());
  EXPECT_EQ(full->body_text.value_or(""), "héllo w");
  ASSERT_EQ(full->attachments.size(), 2u);
  EXPECT_EQ(full->attachments[0].kind, model::AttachmentKind::Embedded);
  EXPECT_EQ(full->attachments[0].embedded->subject, "inner");
  EXPECT_EQ(full->attachments[1].filename, "pé.png");
}

TEST(ParseDamage, MissingOrAbsentBoundary) {
  std::string no_param =
      std::string(kHead) + "Content-Type: multipart/mixed\n\n--x\n\nhello\n--x--\n";
  Result<model::Message> r = parse_message(Blob(Bytes(no_param)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has_warning(*r, ProblemCode::BodyUndecodable, "without a boundary"));
  std::string never = std::string(kHead) + "Content-Type: multipart/mixed; boundary=q\n\nhello\n";
  r = parse_message(Blob(Bytes(never)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has_warning(*r, ProblemCode::BodyUndecodable, "never occurs"));
}

TEST(ParseDamage, HugeMultipartNestingHitsTheDepthLimit) {
  // 100000 nested multiparts, each with its own boundary, all unterminated.
  std::string m = kHead;
  for (int i = 0; i < 100000; ++i)
    m += "Content-Type: multipart/mixed; boundary=\"n" + std::to_string(i) + "\"\n\n--n" +
         std::to_string(i) + "\n";
  m += "Content-Type: text/plain\n\ndeep\n";
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(has_warning(*r, ProblemCode::LimitExceeded, "multipart nesting deeper"));
}

TEST(ParseDamage, HugeMessageNestingHitsTheEmbedLimit) {
  std::string m;
  for (int i = 0; i < 100000; ++i) m += "From: x@example.com\nContent-Type: message/rfc822\n\n";
  m += "From: y@example.com\n\nbottom\n";
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(r.ok());
  // The chain is followed MAX_EMBED_DEPTH levels down, then kept as bytes with a warning.
  int depth = 0;
  const model::Message *cur = &*r;
  while (!cur->attachments.empty() && cur->attachments[0].embedded) {
    cur = cur->attachments[0].embedded.get();
    ++depth;
  }
  EXPECT_EQ(depth, limits::MAX_EMBED_DEPTH);
  EXPECT_TRUE(has_warning(*r, ProblemCode::LimitExceeded, "embedded messages nested deeper"));
}

TEST(ParseDamage, ManyPartsHitThePartLimit) {
  std::string m = std::string(kHead) + "Content-Type: multipart/mixed; boundary=p\n\n";
  for (int i = 0; i < 20000; ++i) m += "--p\nContent-Type: application/octet-stream; name=f\n\nx\n";
  m += "--p--\n";
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(r.ok());
  EXPECT_LT(static_cast<i64>(r->attachments.size()), 20000);
  EXPECT_TRUE(has_warning(*r, ProblemCode::LimitExceeded, "MIME parts"));
}

TEST(ParseDamage, BigInputsStayLinear) {
  // One 8 MB folded header field, 200000 addresses, and an 8 MB body of boundary-like lines:
  // each must parse in well under the time a quadratic scan would take.
  std::string m = "From: a@example.com\nX-Long: ";
  for (int i = 0; i < 100000; ++i) m += "word word word word word word word word word word w\n ";
  m += "end\nTo: ";
  for (int i = 0; i < 200000; ++i) m += "u" + std::to_string(i) + "@example.com, ";
  m += "\nContent-Type: multipart/mixed; boundary=zz\n\n";
  for (int i = 0; i < 400000; ++i) m += "--zzz not a boundary\n";
  m += "--zz\n\ntext\n--zz--\n";
  auto t0 = std::chrono::steady_clock::now();
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->recipients.size(), 200000u);
  EXPECT_EQ(r->body_text.value_or(""), "text");
  EXPECT_LT(secs, 10.0) << m.size() << " bytes";
  std::printf("[damage] %zu bytes parsed in %.2f s\n", m.size(), secs);
}

}  // namespace
}  // namespace mm::mime

namespace mm::mime {
namespace {

TEST(ParseFields, MailboxStateGroupsAndMailmillHeaders) {
  const std::string m =
      "From mailer@example.com Tue Jul 27 22:19:50 2021\n"
      "From: \"Smith, Ann\" (work) <ann@example.com>\n"
      "Sender: =?utf-8?q?J=C3=B6rg?= <j@example.com>\n"
      "To: Team: x@example.com, \"Y\" <y@example.com>;, Bob Jones:;\n"
      "Cc: undisclosed-recipients:;\n"
      "Subject: =?iso-8859-1?q?caf=E9?= =?utf-8?b?IOKCrA==?=\n"
      "Date: Tue, 27 Jul 2021 22:19:50 +0200\n"
      "Message-ID: <id@example.com>\n"
      "Keywords: Red, \"Blue, dark\", =?utf-8?q?gr=C3=BCn?=\n"
      "X-Priority: 1 (Highest)\n"
      "Status: RO\nX-Status: AF\nX-Mozilla-Status: 1000\n\nbody\n";
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from.name, "Smith, Ann");
  EXPECT_EQ(r->from.smtp, "ann@example.com");
  EXPECT_EQ(r->sender.name, "Jörg");
  ASSERT_EQ(r->recipients.size(), 4u);
  EXPECT_EQ(r->recipients[0].address.smtp, "x@example.com");
  EXPECT_EQ(r->recipients[1].address.name, "Y");
  EXPECT_EQ(r->recipients[2].address.name, "Bob Jones");  // empty group: a name-only recipient
  EXPECT_EQ(r->recipients[2].address.smtp, "");
  EXPECT_EQ(r->recipients[3].type, model::RecipientType::Cc);
  EXPECT_EQ(r->subject, "café €");
  EXPECT_EQ(r->submit_time, 1627417190);
  EXPECT_EQ(r->message_id, "<id@example.com>");
  EXPECT_EQ(r->categories, (std::vector<std::string>{"Red", "Blue, dark", "grün"}));
  EXPECT_EQ(r->importance, 2);
  EXPECT_TRUE(r->flags.read);
  EXPECT_TRUE(r->flags.answered);
  EXPECT_TRUE(r->flags.flagged);
  EXPECT_TRUE(r->flags.forwarded);
  EXPECT_FALSE(r->flags.draft);
  EXPECT_TRUE(r->transport_headers.starts_with("From: \"Smith")) << "the From_ line is not a field";
  EXPECT_EQ(r->body_text.value_or(""), "body\n");
}

TEST(ParseFields, Rfc2231FilenamesAndRelatedInlineParts) {
  const std::string m =
      "From: a@example.com\nMIME-Version: 1.0\n"
      "Content-Type: multipart/related; boundary=r\n\n--r\n"
      "Content-Type: text/html; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
      "<img src=3D\"cid:p1\">caf=E9\n--r\n"
      "Content-Type: image/gif\nContent-ID: <p1>\nContent-Transfer-Encoding: base64\n"
      "Content-Disposition: inline;\n filename*0*=utf-8''%E2%82%AC%20;\n filename*1=\"a;b.gif\"\n\n"
      "R0lGODlh\n--r--\n";
  Result<model::Message> r = parse_message(Blob(Bytes(m)));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->body_html);
  EXPECT_EQ(*r->body_html, "<img src=\"cid:p1\">caf\xE9");  // the last line end is the boundary's
  EXPECT_EQ(r->html_charset, "iso-8859-1");
  ASSERT_EQ(r->attachments.size(), 1u);
  EXPECT_EQ(r->attachments[0].filename, "€ a;b.gif");
  EXPECT_EQ(r->attachments[0].content_id, "p1");
  EXPECT_TRUE(r->attachments[0].is_inline);
  EXPECT_EQ(r->attachments[0].mime_type, "image/gif");
  EXPECT_EQ(r->attachments[0].data.str(), "GIF89a");
}

}  // namespace
}  // namespace mm::mime
