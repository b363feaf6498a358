#include "mailmill/util/append_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "mailmill/util/result.h"

namespace mm::util {
namespace {
namespace fs = std::filesystem;

Bytes slurp(const fs::path &p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Bytes pattern(std::size_t n, u32 seed) {
  Bytes b(n, '\0');
  for (auto &c : b) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return b;
}

// The same sequence of appends, tail syncs, buffer releases, reopenings and patches must give
// the same file whether chunks go out with O_DIRECT (the work folder, on disk) or through the
// page cache (Buffered; tmpfs, which refuses O_DIRECT before Linux 6.6), and what a reader sees at
// every sync point must be exactly the bytes appended so far.
void exercise(const fs::path &path, IoMode mode, std::optional<bool> expect_direct) {
  fs::remove(path);
  Bytes expected;
  {
    AppendFile f(path, AppendFile::Open::Truncate, mode, 64 << 10);
    if (expect_direct) EXPECT_EQ(f.direct(), *expect_direct);
    std::size_t sizes[] = {1, 4095, 4096, 70000, 3, 200000, 65536, 12345, 0, 131072};
    u32 seed = 1;
    for (std::size_t n : sizes) {
      Bytes b = pattern(n, seed++);
      f.append(b);
      expected += b;
      f.sync_tail();
      ASSERT_EQ(slurp(path), expected) << "after appending " << n;
      if (seed % 3 == 0) f.release_buffer();
    }
    f.append_zeros(5000);
    expected.append(5000, '\0');
    EXPECT_EQ(f.size(), expected.size());
    f.close();
  }
  ASSERT_EQ(slurp(path), expected);
  // Reopen at an unaligned end, go on, and patch bytes both on disk and in the buffer.
  {
    AppendFile f(path, AppendFile::Open::Append, mode, 64 << 10);
    EXPECT_EQ(f.size(), expected.size());
    Bytes more = pattern(100000, 99);
    f.append(more);
    expected += more;
    f.sync_tail();
    f.pwrite_at(10, "PATCH");
    expected.replace(10, 5, "PATCH");
    std::size_t near_end = expected.size() - 7;
    f.pwrite_at(near_end, "TAIL");
    expected.replace(near_end, 4, "TAIL");
    Bytes last = pattern(70001, 7);
    f.append(last);  // the buffered copy of the patched tail goes out again with this chunk
    expected += last;
    f.close();
  }
  EXPECT_EQ(slurp(path), expected);
  fs::remove(path);
}

TEST(AppendFile, DirectAndBufferedWriteTheSameBytes) {
  fs::path dir = fs::current_path() / "append_file_test";
  fs::create_directories(dir);
  exercise(dir / "direct.bin", IoMode::Auto, true);
  exercise(dir / "buffered.bin", IoMode::Buffered, false);
  if (fs::is_directory("/dev/shm")) {
    fs::path shm = fs::path("/dev/shm") / ("mm-append-" + std::to_string(::getpid()));
    exercise(shm, IoMode::Auto, std::nullopt);  // direct or not, depending on the kernel
  }
  fs::remove_all(dir);
}

TEST(AppendFile, UnwritableFolderIsAFatalErrorNamingTheFile) {
  try {
    AppendFile f("/nonexistent-dir/x.mbox", AppendFile::Open::Truncate);
    FAIL() << "no error";
  } catch (const FatalError &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.mbox"), std::string::npos);
  }
}

}  // namespace
}  // namespace mm::util
