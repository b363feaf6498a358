// The report and S/MIME dispatch of the MIME builder on its own: which message classes are
// reports or S/MIME, the CMS content type behind smime-type, and what happens with bad input
// (an S/MIME item without its blob, a blob that is neither a MIME entity nor CMS, a report with
// no usable recipient): a warning and a message Python's email parses without defects, never a
// crash. The end-to-end proof (PST -> mbox/EML -> openssl verify) is
// tests/unit/pipeline/report_smime_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../../../src/mime/report.h"
#include "../../../src/mime/smime.h"
#include "mailmill/mime/build.h"

namespace mm::mime {
namespace {

/// Python's view of the message: "<content-type tree>\n" then one line per defect.
std::string python_view(const Bytes &bytes) {
  static int counter = 0;
  const std::filesystem::path file =
      std::filesystem::path(::testing::TempDir()) /
      ("mm_rep_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".eml");
  {
    std::ofstream f(file, std::ios::binary);
    f << bytes;
  }
  const std::string code =
      "import email,email.policy,sys\n"
      "m=email.message_from_bytes(open(sys.argv[1],'rb').read(),policy=email.policy.default)\n"
      "def s(p):\n"
      "  c=p.get_content_type()\n"
      "  if p.is_multipart() and not c.startswith('message/'):\n"
      "    return c+'('+','.join(s(x) for x in p.iter_parts())+')'\n"
      "  return c\n"
      "print(s(m))\n"
      "for p in m.walk():\n"
      "  for d in p.defects: print('defect',type(d).__name__)\n"
      "  for k,v in p.items():\n"
      "    for d in getattr(v,'defects',()): print('hdefect',k,type(d).__name__)\n";
  const std::filesystem::path script = file.string() + ".py";
  {
    std::ofstream f(script);
    f << code;
  }
  FILE *pipe = ::popen(("python3 '" + script.string() + "' '" + file.string() + "'").c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while (pipe != nullptr && (n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  EXPECT_EQ(pipe != nullptr ? ::pclose(pipe) : -1, 0);
  std::filesystem::remove(file);
  std::filesystem::remove(script);
  return out;
}

model::Message item(const std::string &cls) {
  model::Message m;
  m.message_class = cls;
  m.subject = "s";
  m.from.name = "Alice";
  m.from.smtp = "alice@example.com";
  m.submit_time = 1700000000;
  m.message_id = "<id@example.com>";
  return m;
}

model::Attachment blob(const std::string &name, const std::string &type, Bytes data) {
  model::Attachment a;
  a.filename = name;
  a.mime_type = type;
  a.data = Blob(std::move(data));
  return a;
}

bool has_warning(const Built &b, std::string_view text) {
  for (const Problem &p : b.warnings)
    if (p.detail.find(text) != std::string::npos) return true;
  return false;
}

TEST(ReportKind, FromMessageClass) {
  using report::Kind;
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note.NDR"), Kind::Failed);
  EXPECT_EQ(report::kind_of("report.ipm.note.ndr"), Kind::Failed);
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note.DR"), Kind::Delivered);
  EXPECT_EQ(report::kind_of("REPORT.IPM.Schedule.Meeting.Request.NDR"), Kind::Failed);
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note.IPNRN"), Kind::Displayed);
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note.IPNNRN"), Kind::Deleted);
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note.Delayed"), Kind::Delayed);
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note.Relayed"), Kind::Relayed);
  EXPECT_EQ(report::kind_of("IPM.Note"), Kind::None);
  EXPECT_EQ(report::kind_of("IPM.Note.NDR"), Kind::None);     // not a report class
  EXPECT_EQ(report::kind_of("REPORT.IPM.Note"), Kind::None);  // no report suffix
}

TEST(SmimeKind, FromMessageClass) {
  using smime::Kind;
  EXPECT_EQ(smime::kind_of("IPM.Note.SMIME.MultipartSigned"), Kind::MultipartSigned);
  EXPECT_EQ(smime::kind_of("ipm.note.smime.multipartsigned"), Kind::MultipartSigned);
  EXPECT_EQ(smime::kind_of("IPM.Note.SMIME"), Kind::Opaque);
  EXPECT_EQ(smime::kind_of("IPM.InfoPathForm.Expense.SMIME"), Kind::Opaque);
  EXPECT_EQ(smime::kind_of("IPM.InfoPathForm.Expense.SMIME.MultipartSigned"),
            Kind::MultipartSigned);
  EXPECT_EQ(smime::kind_of("IPM.Note"), Kind::None);
  EXPECT_EQ(smime::kind_of("IPM.Note.SMIME.Receipt"), Kind::None);
}

TEST(SmimeType, FromCmsContentType) {
  // SEQUENCE { OID 1.2.840.113549.1.7.3 ... }, short and long length forms, and BER's
  // indefinite length.
  const std::string enveloped("\x30\x0B\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x03", 13);
  EXPECT_EQ(smime::smime_type_of(enveloped), "enveloped-data");
  const std::string signed_long("\x30\x82\x01\x00\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", 15);
  EXPECT_EQ(smime::smime_type_of(signed_long), "signed-data");
  const std::string signed_ber("\x30\x80\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02", 13);
  EXPECT_EQ(smime::smime_type_of(signed_ber), "signed-data");
  const std::string compressed("\x30\x0D\x06\x0B\x2A\x86\x48\x86\xF7\x0D\x01\x09\x10\x01\x09", 15);
  EXPECT_EQ(smime::smime_type_of(compressed), "compressed-data");
  // Data (…7.1), truncated input, a length beyond the end, not DER at all.
  EXPECT_EQ(
      smime::smime_type_of(std::string("\x30\x0B\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x01", 13)),
      "");
  EXPECT_EQ(smime::smime_type_of(enveloped.substr(0, 8)), "");
  EXPECT_EQ(smime::smime_type_of(std::string("\x30\x84\xFF\xFF\xFF\xFF\x06", 7)), "");
  EXPECT_EQ(smime::smime_type_of("Content-Type: text/plain"), "");
  EXPECT_EQ(smime::smime_type_of(""), "");
}

TEST(SmimeBuild, WithoutItsBlobFallsBackWithAWarning) {
  model::Message m = item("IPM.Note.SMIME.MultipartSigned");
  m.body_text = "the text Outlook promoted\n";
  Result<Built> b = build_message(m, BuildOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(has_warning(*b, "no readable smime.p7m"));
  EXPECT_EQ(python_view(b->bytes), "text/plain\n");
}

TEST(SmimeBuild, NeitherEntityNorBoundaryFallsBack) {
  model::Message m = item("IPM.Note.SMIME.MultipartSigned");
  m.body_text = "text\n";
  m.attachments.push_back(blob("smime.p7m", "multipart/signed", "just some bytes\r\nno MIME\r\n"));
  Result<Built> b = build_message(m, BuildOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(has_warning(*b, "neither header nor boundary"));
  // Built from the properties, the bytes kept as an ordinary attachment: nothing is lost.
  EXPECT_EQ(python_view(b->bytes), "multipart/mixed(text/plain,application/pkcs7-mime)\n");
}

TEST(SmimeBuild, HeaderlessSignedBodyGetsItsBoundaryBack) {
  model::Message m = item("IPM.Note.SMIME.MultipartSigned");
  const Bytes body =
      "--b1\r\nContent-Type: text/plain\r\n\r\nsigned\r\n--b1\r\n"
      "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b1--\r\n";
  m.attachments.push_back(blob("smime.p7m", "multipart/signed", body));
  Result<Built> b = build_message(m, BuildOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(python_view(b->bytes), "multipart/signed(text/plain,application/pkcs7-signature)\n");
  // The stored bytes are the message body, unchanged.
  const std::size_t sep = b->bytes.find("\r\n\r\n");
  ASSERT_NE(sep, Bytes::npos);
  EXPECT_EQ(b->bytes.substr(sep + 4), body);
}

TEST(SmimeBuild, UnknownBlobIsKeptAsPkcs7MimeWithAWarning) {
  model::Message m = item("IPM.Note.SMIME");
  m.attachments.push_back(blob("smime.p7m", "application/pkcs7-mime", Bytes("\x01\x02\x03", 3)));
  Result<Built> b = build_message(m, BuildOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(has_warning(*b, "not a CMS ContentInfo"));
  EXPECT_EQ(python_view(b->bytes), "application/pkcs7-mime\n");
  EXPECT_NE(b->bytes.find("AQID"), Bytes::npos);  // base64 of 01 02 03
}

TEST(ReportBuild, NoUsableRecipientStillParses) {
  model::Message m = item("REPORT.IPM.Note.NDR");
  model::Recipient r;
  r.address.name = "only a name";
  m.recipients.push_back(r);
  Result<Built> b = build_message(m, BuildOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(has_warning(*b, "no recipient with a known address"));
  EXPECT_EQ(python_view(b->bytes), "multipart/report(text/plain,message/delivery-status)\n");
  EXPECT_NE(b->bytes.find("Delivery has failed."), Bytes::npos);
}

TEST(ReportBuild, OtherAttachmentsFollowTheReport) {
  model::Message m = item("REPORT.IPM.Note.DR");
  m.body_text = "delivered\n";
  model::Recipient r;
  r.address.smtp = "bob@example.com";
  m.recipients.push_back(r);
  m.attachments.push_back(blob("log.txt", "text/plain", "log\n"));
  Result<Built> b = build_message(m, BuildOptions{});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(python_view(b->bytes),
            "multipart/mixed(multipart/report(text/plain,message/delivery-status),text/plain)\n");
}

}  // namespace
}  // namespace mm::mime
