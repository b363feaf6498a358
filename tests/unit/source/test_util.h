#pragma once
// Helpers shared by the source-module tests: fixture lookup, temp dirs, pffexport oracle.
// Tests that use the fixture helpers start with MM_REQUIRE_CORPUS() (test_support.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace mm::source::testing {

namespace fs = std::filesystem;

inline fs::path pst_fixture_dir() { return fs::path(::mm::testing::corpus_path("pst")); }

inline std::string pst_fixture(const std::string &name) {
  return (pst_fixture_dir() / name).string();
}

/// All *.pst / *.ost fixtures, sorted by name.
inline std::vector<std::string> all_pst_fixtures() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(pst_fixture_dir(), ec)) {
    std::string ext = e.path().extension().string();
    if (ext == ".pst" || ext == ".ost") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A fresh temporary directory removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("mm_source_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path &path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string read_file(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path &p, const std::string &bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string shell_quote(const std::string &s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

/// Runs `pffexport -m items -f all` on `pst` into `dir`; returns the out.export path (may not
/// exist when pffexport fails).
/// Runs pffexport into `dir`; `codepage` (Windows number, 0 = pffexport's default 1252) is
/// passed as -c windows-N so ANSI names decode the way our reader decodes them.
inline fs::path run_pffexport(const std::string &pst, const fs::path &dir, unsigned codepage = 0) {
  fs::path target = dir / "out";
  std::string cp = codepage && codepage != 1252 ? " -c windows-" + std::to_string(codepage) : "";
  std::string cmd = std::string(MM_PFFEXPORT) + cp + " -q -m items -f all -t " +
                    shell_quote(target.string()) + " " + shell_quote(pst) + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  (void)rc;
  return dir / "out.export";
}

/// True for pffexport's item directory names: MessageNNNNN, ContactNNNNN, AppointmentNNNNN...
inline bool is_item_dir_name(const std::string &name) {
  static const std::regex re(
      "(Message|Contact|Appointment|Meeting|Task|Note|Activity|DistributionList|Document|"
      "Conflict|RSSFeed|Item|Email|Sharing|Configuration|Fax|Voicemail|SMS|MMS|Post|"
      "TaskRequest)[0-9]{5}");
  return std::regex_match(name, re);
}

/// Folder path (relative to out.export, '/'-joined; "" = root) -> number of item directories,
/// for every folder directory in a pffexport tree (item subtrees are not descended).
inline std::map<std::string, int> pffexport_folder_counts(const fs::path &root) {
  std::map<std::string, int> out;
  std::vector<std::pair<fs::path, std::string>> stack{{root, ""}};
  while (!stack.empty()) {
    auto [dir, rel] = stack.back();
    stack.pop_back();
    int &count = out[rel];
    for (const auto &e : fs::directory_iterator(dir)) {
      if (!e.is_directory()) continue;
      std::string name = e.path().filename().string();
      if (is_item_dir_name(name)) {
        ++count;
      } else {
        stack.push_back({e.path(), rel.empty() ? name : rel + "/" + name});
      }
    }
  }
  return out;
}

}  // namespace mm::source::testing
