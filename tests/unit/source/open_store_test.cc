// open_store / open_libpff on files that are not (whole) PSTs: the right Problem, never a crash.
#include <gtest/gtest.h>

#include "mailmill/source/open.h"
#include "test_util.h"

namespace mm::source {
namespace {

using namespace mm::source::testing;

const Reader ALL_READERS[] = {Reader::Auto, Reader::Native, Reader::Libpff};

void expect_problem(const std::string &path, ProblemCode code) {
  for (Reader r : ALL_READERS) {
    SCOPED_TRACE(static_cast<int>(r));
    Result<std::unique_ptr<mapi::MailStore>> s = open_store(path, r);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.problem().code, code) << s.problem().detail;
    // One line naming the file.
    EXPECT_NE(s.problem().detail.find(path), std::string::npos) << s.problem().detail;
    EXPECT_EQ(s.problem().detail.find('\n'), std::string::npos);
  }
  Result<std::unique_ptr<mapi::MailStore>> s = open_libpff(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, code);
}

TEST(OpenStore, MissingPathIsUnreadable) {
  TempDir tmp;
  expect_problem((tmp.path() / "nope.pst").string(), ProblemCode::SourceUnreadable);
}

// Inputs are told by content: a directory is a tree of loose messages for every reader
// choice (the PST readers apply to PST/OST files only); an empty one holds nothing.
TEST(OpenStore, DirectoryIsATreeOfLooseMessages) {
  TempDir tmp;
  for (Reader r : ALL_READERS) {
    Result<std::unique_ptr<mapi::MailStore>> s = open_store(tmp.path().string(), r);
    ASSERT_TRUE(s.ok()) << s.problem().detail;
    EXPECT_EQ((*s)->info().kind, "files");
    Result<mapi::Census> c = (*s)->census();
    ASSERT_TRUE(c.ok()) << c.problem().detail;
    EXPECT_EQ(c->items(), 0);
  }
  // libpff alone still refuses it.
  EXPECT_FALSE(open_libpff(tmp.path().string()).ok());
}

TEST(OpenStore, EmptyFileIsNotPst) {
  TempDir tmp;
  fs::path p = tmp.path() / "empty.pst";
  write_file(p, "");
  expect_problem(p.string(), ProblemCode::SourceNotPst);
}

TEST(OpenStore, TextFileIsNotPst) {
  TempDir tmp;
  fs::path p = tmp.path() / "mail.pst";
  write_file(p, std::string(4096, 'x'));
  expect_problem(p.string(), ProblemCode::SourceNotPst);
}

// An mbox opens as an mbox whatever reader is asked for: 3 entries, as Python's mailbox
// counts them; libpff, asked directly, refuses it as no PST.
TEST(OpenStore, MboxFixtureOpensAsMbox) {
  MM_REQUIRE_CORPUS();
  fs::path mbox = ::mm::testing::corpus_path("mbox/spamassassin__nice.mbox");
  ASSERT_TRUE(fs::exists(mbox));
  for (Reader r : ALL_READERS) {
    Result<std::unique_ptr<mapi::MailStore>> s = open_store(mbox.string(), r);
    ASSERT_TRUE(s.ok()) << s.problem().detail;
    EXPECT_EQ((*s)->info().kind, "mbox");
    Result<mapi::Census> c = (*s)->census();
    ASSERT_TRUE(c.ok()) << c.problem().detail;
    EXPECT_EQ(c->items(), 3);
  }
  Result<std::unique_ptr<mapi::MailStore>> s = open_libpff(mbox.string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::SourceNotPst);
}

TEST(OpenStore, MagicOnlyShortFileIsTruncated) {
  MM_REQUIRE_CORPUS();
  TempDir tmp;
  fs::path p = tmp.path() / "short.pst";
  write_file(p, read_file(pst_fixture("rubymsg__msgInMsg.pst")).substr(0, 100));
  expect_problem(p.string(), ProblemCode::SourceTruncated);
}

// The first 600 bytes of a real PST: a valid header whose ibFileEof ([MS-PST] 2.2.2.5 ROOT)
// says 271360 bytes.
TEST(OpenStore, First600BytesOfPstIsTruncated) {
  MM_REQUIRE_CORPUS();
  for (const char *name : {"rubymsg__msgInMsg.pst", "pstsdk__sample2.pst" /* ANSI */}) {
    SCOPED_TRACE(name);
    TempDir tmp;
    fs::path p = tmp.path() / "cut.pst";
    write_file(p, read_file(pst_fixture(name)).substr(0, 600));
    expect_problem(p.string(), ProblemCode::SourceTruncated);
  }
}

// Cut in the middle: the header is intact, the size check catches it before any reader.
TEST(OpenStore, HalfAPstIsTruncated) {
  MM_REQUIRE_CORPUS();
  TempDir tmp;
  fs::path p = tmp.path() / "half.pst";
  std::string bytes = read_file(pst_fixture("aspnet__Outlook.pst"));
  write_file(p, bytes.substr(0, bytes.size() / 2));
  expect_problem(p.string(), ProblemCode::SourceTruncated);
}

TEST(OpenStore, BadHeaderCrcIsCorruptViaLibpff) {
  MM_REQUIRE_CORPUS();
  std::string path = pst_fixture("aspnet__AddingBulkMessagesWithImprovedPerformance.pst");
  for (Reader r : {Reader::Auto, Reader::Libpff}) {
    Result<std::unique_ptr<mapi::MailStore>> s = open_store(path, r);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.problem().code, ProblemCode::SourceCorrupt) << s.problem().detail;
    EXPECT_EQ(s.problem().detail.find('\n'), std::string::npos);
  }
}

TEST(OpenStore, AutoOpensAGoodFile) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> s =
      open_store(pst_fixture("rubymsg__msgInMsg.pst"), Reader::Auto);
  ASSERT_TRUE(s.ok()) << s.problem().detail;
  Result<std::vector<mapi::FolderInfo>> folders = (*s)->folders();
  ASSERT_TRUE(folders.ok());
  // Whichever reader Auto picked, the message folder is there (pffexport exports it so).
  bool found = false;
  for (const mapi::FolderInfo &f : *folders) {
    if (f.path == std::vector<std::string>{"Outlook データ ファイルのトップ"}) found = true;
  }
  EXPECT_TRUE(found) << (*s)->reader_name();
}

TEST(OpenStore, LibpffReaderIsLibpff) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> s =
      open_store(pst_fixture("rubymsg__msgInMsg.pst"), Reader::Libpff);
  ASSERT_TRUE(s.ok());
  EXPECT_STREQ((*s)->reader_name(), "libpff");
}

}  // namespace
}  // namespace mm::source
