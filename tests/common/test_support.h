#pragma once
// Small helpers shared by the unit-test binaries: the location of the real-world corpus (and
// skipping when it is absent), and running external oracles (pffinfo, pffexport, readpst)
// through the shell.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::testing {

/// The test that last passed MM_REQUIRE_CORPUS() (tests of one binary run one after another).
inline const ::testing::TestInfo *corpus_required_by = nullptr;

/// The real-world corpus (PST/OST, mbox... samples kept outside the repository): the directory
/// named by $MAILMILL_CORPUS when that is set and non-empty, else MM_CORPUS_DEFAULT, the
/// ../shared/fixtures beside the checkout that CMake found at configure time. Read on every
/// call, so a run can point elsewhere without reconfiguring. A test that calls this must start
/// with MM_REQUIRE_CORPUS(); otherwise it fails here, so that a test can never pass vacuously
/// (an empty directory listing) when the corpus is missing.
inline std::string corpus_dir() {
  const ::testing::TestInfo *t = ::testing::UnitTest::GetInstance()->current_test_info();
  if (t != nullptr && t != corpus_required_by) {
    ADD_FAILURE() << "this test reads the corpus: it must start with MM_REQUIRE_CORPUS()";
  }
  const char *env = std::getenv("MAILMILL_CORPUS");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(MM_CORPUS_DEFAULT);
}

/// `rel` inside the corpus, e.g. corpus_path("pst/aspnet__Outlook.pst").
inline std::string corpus_path(const std::string &rel) { return corpus_dir() + "/" + rel; }

/// Empty when the corpus directory exists; otherwise the one line saying where it was expected.
/// Also marks the current test as one that reads the corpus (see corpus_dir()).
inline std::string corpus_missing() {
  corpus_required_by = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string dir = corpus_dir();
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  return "corpus not found at " + dir + " (set MAILMILL_CORPUS)";
}

/// True when the environment has CI=true: a missing corpus is then an error, never a skip.
inline bool corpus_mandatory() {
  const char *ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace mm::testing

/// First statement of every test that reads the corpus: skips the test (ctest reports it as
/// skipped) with one line saying where the corpus was expected when it is absent, or fails it
/// when CI=true (CI must never pass by skipping).
#define MM_REQUIRE_CORPUS()                                                                        \
  do {                                                                                             \
    const std::string mm_corpus_missing_ = ::mm::testing::corpus_missing();                        \
    if (!mm_corpus_missing_.empty()) {                                                             \
      if (::mm::testing::corpus_mandatory()) FAIL() << mm_corpus_missing_ << "; CI=true needs it"; \
      GTEST_SKIP() << mm_corpus_missing_;                                                          \
    }                                                                                              \
  } while (false)

namespace mm::testing {

/// A fresh directory under /tmp whose name starts with `prefix` (not removed automatically).
inline std::string make_tmp_dir(const std::string &prefix = "mm_test") {
  std::string tmpl = "/tmp/" + prefix + "_XXXXXX";
  const char *d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string("/tmp");
}

/// Runs a shell command with its output discarded; returns system()'s status.
inline int run(const std::string &cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

/// Single-quotes a path for the shell (test paths never contain quotes).
inline std::string q(const std::string &s) { return "'" + s + "'"; }

/// Reads a whole file; false when it cannot be opened.
inline bool read_file(const std::string &path, std::string &out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

/// Little-endian bytes of a 64-bit value (FILETIMEs and PT_I8 values in property tests).
inline std::string le64(u64 v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

/// A multi-valued variable-size property value: count, offsets, data ([MS-PST] 2.3.3.4.2).
inline std::string mv(const std::vector<std::string> &items) {
  std::string head(4 + 4 * items.size(), '\0');
  auto put32 = [&head](std::size_t at, u32 v) {
    for (int i = 0; i < 4; ++i) head[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  put32(0, static_cast<u32>(items.size()));
  std::string data;
  for (std::size_t i = 0; i < items.size(); ++i) {
    put32(4 + 4 * i, static_cast<u32>(head.size() + data.size()));
    data += items[i];
  }
  return head + data;
}

}  // namespace mm::testing
