#pragma once
// Small helpers shared by the unit-test binaries that drive external oracles (pffinfo,
// pffexport, readpst) through the shell.
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

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
