// The mbox splitter and census with tiny read blocks (down to one byte), so that every line
// and Content-Length span crosses a block boundary somewhere: they must split exactly as with
// their normal blocks. Reads the store's private header (src/source/mbox_scan.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "../../../src/source/mbox_scan.h"
#include "test_util.h"

namespace mm::source::mbox {
namespace {

using namespace mm::source::testing;

bool same(const std::vector<Entry> &a, const std::vector<Entry> &b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].from_off != b[i].from_off || a[i].body_off != b[i].body_off || a[i].end != b[i].end ||
        a[i].truncated != b[i].truncated)
      return false;
  return true;
}

TEST(MboxScan, OneByteReadsSplitLikeFullBlocks) {
  MM_REQUIRE_CORPUS();
  i64 files = 0;
  for (const auto &e : fs::directory_iterator(::mm::testing::corpus_path("mbox"))) {
    SCOPED_TRACE(e.path().string());
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const u64 size = fs::file_size(e.path());
    Result<Scan> base = scan_mbox(fd, size);
    if (base.ok()) {
      ++files;
      const i64 census = *census_count(fd, size, base->dialect);
      for (std::size_t block : {std::size_t{1}, std::size_t{3}, std::size_t{4093}}) {
        SCOPED_TRACE(block);
        Result<Scan> s = scan_mbox(fd, size, block);
        ASSERT_TRUE(s.ok());
        EXPECT_TRUE(same(s->entries, base->entries));
        EXPECT_EQ(s->detail, base->detail);
        Result<i64> c = census_count(fd, size, base->dialect, block);
        ASSERT_TRUE(c.ok());
        EXPECT_EQ(*c, census);
      }
    } else {
      EXPECT_FALSE(scan_mbox(fd, size, 1).ok());
    }
    ::close(fd);
  }
  EXPECT_GT(files, 60);
}

// From_ line dates, checked against GNU date (date -u -d '...' +%s).
TEST(MboxScan, FromLineDates) {
  EXPECT_EQ(parse_from_line("From a@b Thu Feb  8 18:49:08 1996\n").date, 823805348);
  EXPECT_EQ(parse_from_line("a@b Thu Feb  8 18:49:08 1996 -0500").date, 823823348);
  EXPECT_EQ(parse_from_line("From x Fri Jun  9 00:44:16 PDT 2006").date, 1149839056);
  EXPECT_EQ(parse_from_line("From x Fri Jun  9 00:44 2006").date, 1149813840);
  EXPECT_EQ(parse_from_line("From \"a b\"@c Mon Sep 17 00:00:00 2001").sender, "\"a b\"@c");
  EXPECT_EQ(parse_from_line("From - ").sender, "-");
  EXPECT_FALSE(parse_from_line("From - ").date.has_value());
  EXPECT_FALSE(parse_from_line("From x Mon Foo 17 00:00:00 2001").date.has_value());
  EXPECT_FALSE(parse_from_line("From x Mon Sep 32 00:00:00 2001").date.has_value());
  EXPECT_FALSE(parse_from_line("From x Mon Sep 17 25:00:00 2001").date.has_value());
}

}  // namespace
}  // namespace mm::source::mbox
