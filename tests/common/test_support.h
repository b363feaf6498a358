#pragma once
// Small helpers shared by the unit-test binaries that drive external oracles (pffinfo,
// pffexport, readpst) through the shell.
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace mm::testing
