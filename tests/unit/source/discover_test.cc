#include "mailmill/source/discover.h"

#include <gtest/gtest.h>

#include "mailmill/source/detect.h"
#include "test_util.h"

namespace mm::source {
namespace {

using namespace mm::source::testing;

const std::string PST = "!BDN fake header";  // detect_input reads the magic only
const std::string MBOX = "From a@b Mon Jan  2 03:04:05 2006\nSubject: x\n\nbody\n";
const std::string EML = "From: a@b\nSubject: x\n\nbody\n";

TEST(DiscoverInputs, WalksTreeByContentSortedNoLoops) {
  TempDir tmp;
  const fs::path &r = tmp.path();
  fs::create_directories(r / "b" / "deep");
  fs::create_directories(r / "a");
  write_file(r / "b" / "deep" / "z.PST", PST);
  write_file(r / "a" / "y.ost", PST);
  write_file(r / "a" / "x.Pst", PST);
  write_file(r / "a" / "pst", PST);        // no extension: content decides
  write_file(r / "a" / "fake.pst", "x");   // no magic: listed all the same (damaged PST)
  write_file(r / "a" / "mail.mbox", "x");  // a name that lies
  write_file(r / "a" / "notes.txt", "x");
  write_file(r / "b" / "Inbox", MBOX);                // a Thunderbird mbox has no extension
  fs::create_directory_symlink(r, r / "b" / "loop");  // a loop back to the root
  std::vector<Problem> problems;
  DiscoverReport report;
  std::vector<std::string> got = discover_inputs({r.string()}, problems, &report);
  EXPECT_TRUE(problems.empty());
  std::vector<std::string> want = {
      (r / "a" / "fake.pst").string(), (r / "a" / "pst").string(),
      (r / "a" / "x.Pst").string(),    (r / "a" / "y.ost").string(),
      (r / "b" / "Inbox").string(),    (r / "b" / "deep" / "z.PST").string()};
  EXPECT_EQ(got, want);
  EXPECT_EQ(report.ignored_files, 2);
  EXPECT_EQ(report.ignored_examples, (std::vector<std::string>{(r / "a" / "mail.mbox").string(),
                                                               (r / "a" / "notes.txt").string()}));
  EXPECT_EQ(report.note().rfind("ignored 2 file(s)", 0), 0u) << report.note();
}

TEST(DiscoverInputs, MaildirsAndLooseMessages) {
  TempDir tmp;
  const fs::path &r = tmp.path();
  // A maildir inside the tree: one input, not entered (the PST-looking file in it is its
  // business, and its messages are not loose files).
  fs::create_directories(r / "mail" / "cur");
  fs::create_directories(r / "mail" / "new");
  write_file(r / "mail" / "cur" / "1:2,S", EML);
  write_file(r / "mail" / "cur" / "odd.pst", PST);
  write_file(r / "archive.pst", PST);
  {
    std::vector<Problem> problems;
    DiscoverReport report;
    std::vector<std::string> got = discover_inputs({r.string()}, problems, &report);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(got, (std::vector<std::string>{(r / "archive.pst").string(), (r / "mail").string()}));
    EXPECT_EQ(report.ignored_files, 0);
    EXPECT_EQ(report.note(), "");
  }
  // A loose message anywhere below (named .msg, MIME inside): the argument itself becomes a
  // file-tree input, listed before what lies inside it.
  fs::create_directories(r / "x" / "y");
  write_file(r / "x" / "y" / "saved.msg", EML);
  {
    std::vector<Problem> problems;
    std::vector<std::string> got = discover_inputs({r.string()}, problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(got, (std::vector<std::string>{r.string(), (r / "archive.pst").string(),
                                             (r / "mail").string()}));
  }
  // A maildir argument is one input.
  std::vector<Problem> problems;
  EXPECT_EQ(discover_inputs({(r / "mail").string()}, problems),
            std::vector<std::string>{(r / "mail").string()});
  EXPECT_TRUE(problems.empty());
}

TEST(DiscoverInputs, FilesTakenAsIsAndMissingReported) {
  TempDir tmp;
  fs::path f = tmp.path() / "archive.bin";
  write_file(f, "x");
  fs::path missing = tmp.path() / "missing.pst";
  std::vector<Problem> problems;
  std::vector<std::string> got =
      discover_inputs({f.string(), missing.string(), f.string()}, problems);
  EXPECT_EQ(got, std::vector<std::string>{f.string()});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].code, ProblemCode::SourceUnreadable);
  EXPECT_NE(problems[0].detail.find(missing.string()), std::string::npos);
}

TEST(DiscoverInputs, SharedFixtureDirectoryFindsEveryStore) {
  MM_REQUIRE_CORPUS();
  std::vector<Problem> problems;
  std::vector<std::string> got = discover_inputs({pst_fixture_dir().string()}, problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(got.size(), all_pst_fixtures().size());
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
}

// The whole corpus: every PST, the corpus directory itself (it holds loose .eml/.msg files),
// the mbox files, and nothing else; what is none of these (TNEF, ESE databases, the README) is
// counted as ignored.
TEST(DiscoverInputs, WholeCorpus) {
  MM_REQUIRE_CORPUS();
  const fs::path root = ::mm::testing::corpus_dir();
  std::vector<Problem> problems;
  DiscoverReport report;
  std::vector<std::string> got = discover_inputs({root.string()}, problems, &report);
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), root.string());
  i64 pst = 0, mbox = 0;
  for (std::size_t i = 1; i < got.size(); ++i) {
    const InputKind k = detect_input(got[i]);
    EXPECT_TRUE(k == InputKind::Pst || k == InputKind::Mbox) << got[i];
    pst += k == InputKind::Pst;
    mbox += k == InputKind::Mbox;
  }
  EXPECT_EQ(pst, static_cast<i64>(all_pst_fixtures().size()));
  EXPECT_GT(mbox, 70);
  EXPECT_GT(report.ignored_files, 5);
  EXPECT_NE(report.note().find(std::to_string(report.ignored_files)), std::string::npos);
}

}  // namespace
}  // namespace mm::source
