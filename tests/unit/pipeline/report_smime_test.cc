// Reports and S/MIME end to end, against oracles someone else wrote. The test makes a key and a
// self-signed certificate with openssl, signs a MIME entity (detached: multipart/signed; and
// opaque), encrypts it, and stores each the way Outlook does ([MS-OXOSMIME]: the one
// attachment smime.p7m holds the multipart/signed entity, or the CMS blob); it stores a
// non-delivery report (with the original attached), a delivery report (without), and read /
// not-read receipts with their report properties. It writes them with the PST writer, converts
// the PST to mbox and to EML, and hands the output and the ground truth to check_reports.py:
// Python's email/mailbox parse every message without defects, the multipart/report parts carry
// the stored report facts, and openssl verifies the signatures made before conversion and
// decrypts the encrypted message to the bytes that were encrypted.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mailmill/format/pst/writer.h"
#include "mailmill/pipeline/convert.h"
#include "mailmill/util/json_escape.h"
#include "test_support.h"

namespace mm::pipeline {
namespace {
namespace fs = std::filesystem;

std::string q(const std::string &s) { return "'" + s + "'"; }

std::string read_file(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path &p, const std::string &data) {
  std::ofstream out(p, std::ios::binary);
  out << data;
}

int sh(const std::string &cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

/// CRLF everywhere (what Outlook stores; openssl mixes LF and CRLF in its output).
std::string crlf(const std::string &s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

model::Address smtp(const std::string &name, const std::string &addr) {
  model::Address a;
  a.name = name;
  a.smtp = addr;
  a.addr_type = "SMTP";
  return a;
}

model::Recipient to(const std::string &name, const std::string &addr) {
  model::Recipient r;
  r.type = model::RecipientType::To;
  r.address = smtp(name, addr);
  return r;
}

model::Message base(const std::string &cls, const std::string &subject, i64 t) {
  model::Message m;
  m.message_class = cls;
  m.subject = subject;
  m.from = smtp("Alice", "alice@example.com");
  m.submit_time = t;
  m.delivery_time = t + 5;
  m.message_id = "<" + std::to_string(t) + "@example.com>";
  return m;
}

model::Attachment smime_attachment(const std::string &mime, const std::string &data) {
  model::Attachment a;
  a.kind = model::AttachmentKind::ByValue;
  a.filename = "smime.p7m";
  a.mime_type = mime;
  a.data = Blob(Bytes(data));
  return a;
}

struct Env {
  fs::path dir;
  std::string cert, key, content;
};

class ReportSmime : public ::testing::Test {
 protected:
  void SetUp() override {
    if (sh("openssl version") != 0) GTEST_SKIP() << "openssl not installed";
    env_.dir = testing::make_tmp_dir("mm_report_smime");
    env_.cert = (env_.dir / "cert.pem").string();
    env_.key = (env_.dir / "key.pem").string();
    ASSERT_EQ(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout " + q(env_.key) +
                 " -out " + q(env_.cert) +
                 " -subj '/CN=Alice/emailAddress=alice@example.com'"
                 " -addext subjectAltName=email:alice@example.com"),
              0);
    env_.content =
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nHello, signed world.\r\n"
        "The signature must hold after conversion.\r\n";
    write_file(env_.dir / "content.txt", env_.content);
  }
  Env env_;
};

TEST_F(ReportSmime, PythonAndOpensslReadTheConvertedItems) {
  const fs::path d = env_.dir;
  const std::string in = q((d / "content.txt").string());
  ASSERT_EQ(sh("openssl smime -sign -in " + in + " -signer " + q(env_.cert) + " -inkey " +
               q(env_.key) + " -out " + q((d / "signed.eml").string())),
            0);
  ASSERT_EQ(sh("openssl smime -sign -nodetach -outform DER -in " + in + " -signer " + q(env_.cert) +
               " -inkey " + q(env_.key) + " -out " + q((d / "opaque.p7m").string())),
            0);
  ASSERT_EQ(sh("openssl smime -encrypt -aes256 -outform DER -in " + in + " -out " +
               q((d / "enc.p7m").string()) + " " + q(env_.cert)),
            0);
  // What Outlook stores for a clear-signed message: the multipart/signed entity with CRLF.
  const std::string stored = crlf(read_file(d / "signed.eml"));
  write_file(d / "stored.eml", stored);
  const std::string opaque = read_file(d / "opaque.p7m");
  const std::string enc = read_file(d / "enc.p7m");
  ASSERT_FALSE(stored.empty());
  ASSERT_FALSE(opaque.empty());
  ASSERT_FALSE(enc.empty());

  const fs::path pst_path = d / "in.pst";
  {
    auto w = pst::PstWriter::create(pst_path.string(), pst::WriterOptions{});
    ASSERT_TRUE(w.ok());
    const u64 inbox = *(*w)->add_folder(0, "Inbox");
    const u64 other = *(*w)->add_folder(0, "Copies");

    model::Message sig = base("IPM.Note.SMIME.MultipartSigned", "signed detached", 1700000000);
    sig.recipients.push_back(to("Bob", "bob@example.com"));
    sig.body_text = "Hello, signed world.\r\nThe signature must hold after conversion.\r\n";
    sig.attachments.push_back(smime_attachment("multipart/signed", stored));
    ASSERT_TRUE((*w)->add_message(inbox, sig).ok());
    // The same item again, in another folder: a duplicate for content dedup.
    ASSERT_TRUE((*w)->add_message(other, sig).ok());

    model::Message op = base("IPM.Note.SMIME", "signed opaque", 1700000100);
    op.recipients.push_back(to("Bob", "bob@example.com"));
    op.attachments.push_back(smime_attachment("application/pkcs7-mime", opaque));
    ASSERT_TRUE((*w)->add_message(inbox, op).ok());

    model::Message en = base("IPM.Note.SMIME", "encrypted", 1700000200);
    en.recipients.push_back(to("Bob", "bob@example.com"));
    en.attachments.push_back(smime_attachment("application/pkcs7-mime", enc));
    ASSERT_TRUE((*w)->add_message(inbox, en).ok());

    // Non-delivery report with the original attached.
    model::Message ndr = base("REPORT.IPM.Note.NDR", "Undeliverable: quarterly plan", 1700001000);
    ndr.from = smtp("Mail Delivery System", "postmaster@example.com");
    ndr.body_text = "Delivery has failed to these recipients or groups:\r\nnobody@example.net\r\n";
    model::Recipient r1 = to("Nobody", "nobody@example.net");
    r1.report = model::RecipientReport{};
    r1.report->status_code = 511;
    r1.report->diag_code = 0;
    r1.report->reason_code = 0;
    r1.report->supplementary_info = "550 5.1.1 <nobody@example.net>: user unknown";
    r1.report->remote_mta = "mx.example.net";
    r1.report->report_time = 1700000990;
    model::Recipient r2 = to("Carol", "carol@example.org");
    r2.report = model::RecipientReport{};
    r2.report->diag_code = 3;  // MAPI_DIAG_LOOP_DETECTED, no status code stored
    r2.report->reason_code = 0;
    ndr.recipients = {r1, r2};
    ndr.report = model::Report{};
    ndr.report->reporting_mta = "dns;relay.example.com";
    ndr.report->original_subject = "quarterly plan";
    ndr.report->original_sender_name = "Alice";
    ndr.report->original_sender_email = "alice@example.com";
    ndr.report->original_sender_addr_type = "SMTP";
    ndr.report->original_submit_time = 1700000900;
    model::Attachment orig;
    orig.kind = model::AttachmentKind::Embedded;
    orig.filename = "quarterly plan";
    orig.embedded =
        std::make_unique<model::Message>(base("IPM.Note", "quarterly plan", 1700000900));
    orig.embedded->body_text = "the plan\r\n";
    orig.embedded->recipients = {to("Nobody", "nobody@example.net"),
                                 to("Carol", "carol@example.org")};
    ndr.attachments.push_back(std::move(orig));
    ASSERT_TRUE((*w)->add_message(inbox, ndr).ok());

    // Delivery report without the original and without a body: the headers part and the
    // human-readable part come from the report properties.
    model::Message dr = base("REPORT.IPM.Note.DR", "Delivered: budget", 1700002000);
    dr.from = smtp("Mail Delivery System", "postmaster@example.com");
    model::Recipient r3 = to("Bob", "bob@example.com");
    r3.report = model::RecipientReport{};
    r3.report->deliver_time = 1700001990;
    dr.recipients = {r3};
    dr.report = model::Report{};
    dr.report->original_subject = "budget";
    dr.report->original_submit_time = 1700001900;
    dr.report->original_message_id = "<budget-1@example.com>";
    ASSERT_TRUE((*w)->add_message(inbox, dr).ok());

    // A report converted from MIME that kept its delivery-status part as an attachment (what
    // Aspose writes: details.txt), with a recipient table naming the report's addressee.
    model::Message kept = base("REPORT.IPM.Note.NDR", "Undeliverable: kept status", 1700002500);
    kept.from = smtp("Mail Delivery System", "postmaster@example.com");
    kept.body_text = "Delivery has failed.\r\n";
    kept.recipients = {to("Alice", "alice@example.com")};
    kept.attachments.push_back(smime_attachment(
        "text/plain",
        "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-recipient: RFC822; gone@example.net\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nX-Supplementary-Info: < #5.1.1 smtp;550 5.1.1 "
        "RESOLVER.ADR.RecipNotFound;\r\n not found>\r\n\r\n"));
    kept.attachments.back().filename = "details.txt";
    ASSERT_TRUE((*w)->add_message(inbox, kept).ok());

    // Read and not-read receipts: the reader is the report's sender.
    for (const auto &[cls, subj] :
         {std::pair<std::string, std::string>{"REPORT.IPM.Note.IPNRN", "Read: agenda"},
          {"REPORT.IPM.Note.IPNNRN", "Not read: agenda"}}) {
      model::Message rr = base(cls, subj, 1700003000);
      rr.from = smtp("Bob", "bob@example.com");
      rr.recipients = {to("Alice", "alice@example.com")};
      rr.body_text = subj + "\r\n";
      rr.report = model::Report{};
      rr.report->original_subject = "agenda";
      rr.report->original_message_id = "agenda-7@example.com";  // stored without brackets
      rr.report->disposition_mode = "manual-action/MDN-sent-manually";
      ASSERT_TRUE((*w)->add_message(inbox, rr).ok());
    }
    ASSERT_TRUE((*w)->finish().ok());
  }

  // Ground truth for the oracle script.
  auto js = [](const std::string &s) { return text::json_string(s); };
  std::string truth = "{\"items\": [";
  truth +=
      "{\"key\": \"signed\", \"kind\": \"signed\", \"subject\": \"signed detached\", "
      "\"stored_file\": " +
      js((d / "stored.eml").string()) + "},";
  truth +=
      "{\"key\": \"opaque\", \"kind\": \"opaque\", \"subject\": \"signed opaque\", "
      "\"p7m_file\": " +
      js((d / "opaque.p7m").string()) + "},";
  truth += "{\"key\": \"encrypted\", \"kind\": \"encrypted\", \"subject\": \"encrypted\"},";
  truth += R"({"key": "ndr", "kind": "report", "subject": "Undeliverable: quarterly plan",
    "report_type": "delivery-status", "reporting_mta": "dns; relay.example.com",
    "to": "Alice <alice@example.com>",
    "human": "Delivery has failed", "original": "message", "original_subject": "quarterly plan",
    "recipients": [
      {"Final-Recipient": "rfc822; nobody@example.net", "Action": "failed", "Status": "5.1.1",
       "Remote-MTA": "dns; mx.example.net",
       "Diagnostic-Code": "smtp; 550 5.1.1 <nobody@example.net>: user unknown",
       "Last-Attempt-Date": "Tue, 14 Nov 2023 22:29:50 +0000"},
      {"Final-Recipient": "rfc822; carol@example.org", "Action": "failed", "Status": "5.4.6"}]},)";
  truth += R"({"key": "dr", "kind": "report", "subject": "Delivered: budget",
    "report_type": "delivery-status", "human": "has been delivered", "original": "headers",
    "to": null,
    "original_subject": "budget", "original_message_id": "<budget-1@example.com>",
    "recipients": [{"Final-Recipient": "rfc822; bob@example.com", "Action": "delivered",
                    "Status": "2.0.0"}]},)";
  truth += R"({"key": "kept", "kind": "report", "subject": "Undeliverable: kept status",
    "report_type": "delivery-status", "reporting_mta": "dns; mx.example.com",
    "human": "Delivery has failed", "kept_attachment": "details.txt",
    "kept_bytes": "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-recipient: RFC822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nX-Supplementary-Info: < #5.1.1 smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound;\r\n not found>\r\n\r\n",
    "recipients": [{"Final-Recipient": "RFC822; gone@example.net", "Action": "failed",
                    "Status": "5.1.1"}]},)";
  truth += R"({"key": "ipnrn", "kind": "report", "subject": "Read: agenda",
    "report_type": "disposition-notification", "human": "Read: agenda", "original": "headers",
    "original_subject": "agenda", "original_message_id": "<agenda-7@example.com>",
    "fields": {"Final-Recipient": "rfc822; bob@example.com",
               "Original-Message-ID": "<agenda-7@example.com>",
               "Disposition": "manual-action/MDN-sent-manually; displayed"}},)";
  truth += R"({"key": "ipnnrn", "kind": "report", "subject": "Not read: agenda",
    "report_type": "disposition-notification", "human": "Not read: agenda", "original": "headers",
    "original_subject": "agenda", "original_message_id": "<agenda-7@example.com>",
    "fields": {"Final-Recipient": "rfc822; bob@example.com",
               "Original-Message-ID": "<agenda-7@example.com>",
               "Disposition": "manual-action/MDN-sent-manually; deleted"}}]})";
  write_file(d / "truth.json", truth);
  {
    // The script needs the key material and the signed content on every S/MIME item.
    std::string patched =
        "import json,sys\nt=json.load(open(sys.argv[1]))\n"
        "for i in t['items']:\n"
        "    i.update(cert=sys.argv[2], key_file=sys.argv[3], content_file=sys.argv[4])\n"
        "json.dump(t, open(sys.argv[1], 'w'))\n";
    write_file(d / "patch.py", patched);
    ASSERT_EQ(sh("python3 " + q((d / "patch.py").string()) + " " + q((d / "truth.json").string()) +
                 " " + q(env_.cert) + " " + q(env_.key) + " " + q((d / "content.txt").string())),
              0);
  }

  for (OutputFormat fmt : {OutputFormat::Mbox, OutputFormat::Eml}) {
    ConvertOptions opts;
    opts.inputs = {pst_path.string()};
    opts.out_dir = (d / (fmt == OutputFormat::Mbox ? "mbox" : "eml")).string();
    opts.format = fmt;
    opts.dedup = DedupMode::Content;
    opts.jobs = 1;
    std::ostringstream log;
    ConvertResult r = run_convert(opts, log);
    EXPECT_EQ(r.exit_code, EXIT_ALL_CONVERTED) << log.str();
    // Nine items stored; the second copy of the signed item is a duplicate of the first.
    EXPECT_EQ(r.ledger.totals().written, 8) << log.str();
    EXPECT_EQ(r.ledger.totals().duplicates, 1) << log.str();
  }

  const std::string script =
      (fs::path(MM_TESTS_DIR) / "unit" / "pipeline" / "check_reports.py").string();
  const std::string cmd = "python3 " + q(script) + " " + q((d / "truth.json").string()) + " " +
                          q((d / "mbox").string()) + " " + q((d / "eml").string()) + " " +
                          q(d.string()) + " 2>&1";
  FILE *pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("0 failure(s)"), std::string::npos) << out;
}

}  // namespace
}  // namespace mm::pipeline
