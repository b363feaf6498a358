#include "mailmill/source/discover.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace mm::source {
namespace {

using namespace mm::source::testing;

TEST(DiscoverInputs, WalksTreeCaseInsensitiveSortedNoLoops) {
  TempDir tmp;
  const fs::path &r = tmp.path();
  fs::create_directories(r / "b" / "deep");
  fs::create_directories(r / "a");
  write_file(r / "b" / "deep" / "z.PST", "x");
  write_file(r / "a" / "y.ost", "x");
  write_file(r / "a" / "x.Pst", "x");
  write_file(r / "a" / "notes.txt", "x");
  write_file(r / "a" / "pst", "x");  // no extension
  fs::create_directory_symlink(r, r / "b" / "loop");  // a loop back to the root
  std::vector<Problem> problems;
  std::vector<std::string> got = discover_inputs({r.string()}, problems);
  EXPECT_TRUE(problems.empty());
  std::vector<std::string> want = {(r / "a" / "x.Pst").string(), (r / "a" / "y.ost").string(),
                                   (r / "b" / "deep" / "z.PST").string()};
  EXPECT_EQ(got, want);
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

}  // namespace
}  // namespace mm::source
