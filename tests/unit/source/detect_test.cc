// detect_input: real fixtures (some with misleading extensions) and made-up files.
#include "mailmill/source/detect.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "test_util.h"

namespace mm::source {
namespace {

using namespace mm::source::testing;

fs::path corpus(const std::string &sub) { return fs::path(::mm::testing::corpus_path(sub)); }

std::vector<fs::path> files_in(const fs::path &dir) {
  std::vector<fs::path> out;
  for (const auto &e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DetectInput, PstFixturesArePst) {
  MM_REQUIRE_CORPUS();
  std::vector<fs::path> files = files_in(corpus("pst"));
  ASSERT_GT(files.size(), 30u);
  for (const fs::path &p : files) EXPECT_EQ(detect_input(p.string()), InputKind::Pst) << p;
}

// The corpus' ESE databases (written by Windows' own engine; MANIFEST.tsv lists them, and
// libesedb reads each) are told by their header signature, whatever their extension (.edb,
// .dat, .mdb); the gzip-compressed one is not an ESE file until unpacked.
TEST(DetectInput, EseFixturesAreEdb) {
  MM_REQUIRE_CORPUS();
  i64 ese = 0;
  for (const fs::path &p : files_in(corpus("edb"))) {
    const InputKind want = p.extension() == ".gz" ? InputKind::Unknown : InputKind::Edb;
    ese += want == InputKind::Edb;
    EXPECT_EQ(detect_input(p.string()), want) << p;
  }
  EXPECT_EQ(ese, 14);
}

// Every .msg of the corpus is a compound file with a __properties_version1.0 stream; the TNEF
// files beside them are neither compound files nor text.
TEST(DetectInput, MsgFixturesAreMsgAndTnefIsUnknown) {
  MM_REQUIRE_CORPUS();
  i64 msg = 0;
  for (const fs::path &p : files_in(corpus("msg"))) {
    const InputKind want = p.extension() == ".msg" ? InputKind::Msg : InputKind::Unknown;
    msg += want == InputKind::Msg;
    EXPECT_EQ(detect_input(p.string()), want) << p;
  }
  EXPECT_GT(msg, 30);
}

// Single messages, many named .msg or .txt: the oracle is Python's email header parser
// (tests/unit/source/detect_oracle.py).
TEST(DetectInput, EmlFixturesAgreeWithPythonEmail) {
  MM_REQUIRE_CORPUS();
  const fs::path dir = corpus("eml");
  const std::string cmd = "python3 " +
                          shell_quote(std::string(MM_TESTS_DIR) + "/unit/source/detect_oracle.py") +
                          " " + shell_quote(dir.string());
  std::FILE *f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  ASSERT_EQ(::pclose(f), 0);
  std::map<std::string, i64> counts;
  std::size_t pos = 0;
  const std::map<std::string, InputKind> kinds = {
      {"mbox", InputKind::Mbox}, {"eml", InputKind::Eml}, {"unknown", InputKind::Unknown}};
  for (std::size_t nl; (nl = out.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    const std::string line = out.substr(pos, nl - pos);
    const std::size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos);
    const std::string name = line.substr(0, tab), want = line.substr(tab + 1);
    ++counts[want];
    // Deliberate difference: RFC 5322 4.5.3 allows white space before a field's colon
    // ("Subject :"); Python's parser does not, and finds no header in this file.
    const bool obsolete_syntax = name == "mime4j__obsolete.msg";
    EXPECT_EQ(input_kind_name(detect_input((dir / name).string())),
              obsolete_syntax ? std::string("eml") : want)
        << name;
  }
  EXPECT_GT(counts["eml"], 600);
  EXPECT_GT(counts["mbox"], 50);
  // A file named .msg that is MIME text.
  EXPECT_EQ(detect_input((dir / "mime4j__basic-plain.msg").string()), InputKind::Eml);
}

TEST(DetectInput, MboxFixtures) {
  MM_REQUIRE_CORPUS();
  const fs::path dir = corpus("mbox");
  // Blank lines before the first From_ line; a UTF-8 BOM before it; a name ending .in.
  EXPECT_EQ(detect_input((dir / "git__sample.mbox").string()), InputKind::Mbox);
  EXPECT_EQ(detect_input((dir / "mimekit__unmunged.mbox.txt").string()), InputKind::Mbox);
  EXPECT_EQ(detect_input((dir / "git__embed-from.in").string()), InputKind::Mbox);
  // A bare RFC 822 message named .mbox.
  EXPECT_EQ(detect_input((dir / "patchwork__0008-git-rename.mbox").string()), InputKind::Eml);
}

TEST(DetectInput, MadeUpFiles) {
  TempDir tmp;
  auto kind_of = [&](const std::string &bytes) {
    const fs::path p = tmp.path() / "f.pst";  // the name says PST; the content decides
    write_file(p, bytes);
    return detect_input(p.string());
  };
  EXPECT_EQ(kind_of(""), InputKind::Unknown);
  EXPECT_EQ(kind_of("!BDN"), InputKind::Pst);
  EXPECT_EQ(kind_of("From a@b Mon Jan  2 03:04:05 2006\nSubject: x\n\nhi\n"), InputKind::Mbox);
  EXPECT_EQ(kind_of("From a@b Mon Jan  2 03:04:05 2006\r\nReceived: by x\r\n\tid 1\r\n"),
            InputKind::Mbox);
  // "From " then prose: a letter, not a mailbox.
  EXPECT_EQ(kind_of("From the desk of the editor\n\nDear reader,\n"), InputKind::Unknown);
  EXPECT_EQ(kind_of("Received: from x\n  by y\nReturn-Path: <a@b>\nSubject: s\n\nbody"),
            InputKind::Eml);
  EXPECT_EQ(kind_of("\xEF\xBB\xBF"
                    "From: a@b\r\nTo: c@d\r\n\r\n"),
            InputKind::Eml);
  // A blank line first, a continuation line first, or fields no message carries.
  EXPECT_EQ(kind_of("\nFrom: a@b\n"), InputKind::Unknown);
  EXPECT_EQ(kind_of(" folded: x\nFrom: a@b\n"), InputKind::Unknown);
  EXPECT_EQ(kind_of("name: mailmill\nversion: 1\n"), InputKind::Unknown);
  // A compound file that is not a .msg (no root __properties_version1.0): bare signature.
  EXPECT_EQ(kind_of(std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(600, '\0')),
            InputKind::Unknown);
  std::string bin(5000, '\0');
  for (std::size_t i = 0; i < bin.size(); ++i) bin[i] = static_cast<char>(i * 131 + 7);
  EXPECT_EQ(kind_of(bin), InputKind::Unknown);
  EXPECT_EQ(detect_input((tmp.path() / "missing").string()), InputKind::Unknown);
}

TEST(DetectInput, Directories) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "md" / "cur");
  fs::create_directories(tmp.path() / "md" / "new");
  fs::create_directories(tmp.path() / "half" / "cur");
  EXPECT_EQ(detect_input((tmp.path() / "md").string()), InputKind::Maildir);
  EXPECT_EQ(detect_input((tmp.path() / "half").string()), InputKind::Directory);
  EXPECT_EQ(detect_input(tmp.path().string()), InputKind::Directory);
  EXPECT_STREQ(input_kind_name(InputKind::Maildir), "maildir");
}

}  // namespace
}  // namespace mm::source
