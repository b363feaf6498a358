// Input discovery: files as given, directories searched for .pst/.ost.
#include "mailmill/source/discover.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

namespace mm::source {
namespace {

namespace fs = std::filesystem;

bool has_store_extension(const fs::path &p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return ext == ".pst" || ext == ".ost";
}

// Recursive walk with an explicit stack. A directory is identified by its canonical path, so a
// symlink pointing back up the tree is entered at most once.
void walk(const fs::path &root, std::vector<std::string> &found, std::vector<Problem> &problems) {
  std::set<fs::path> visited;
  std::vector<fs::path> stack{root};
  while (!stack.empty()) {
    fs::path dir = stack.back();
    stack.pop_back();
    std::error_code ec;
    fs::path canon = fs::canonical(dir, ec);
    if (ec) {
      problems.push_back({ProblemCode::SourceUnreadable,
                          "cannot resolve " + dir.string() + ": " + ec.message(), -1});
      continue;
    }
    if (!visited.insert(canon).second) continue;
    fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      problems.push_back({ProblemCode::SourceUnreadable,
                          "cannot list " + dir.string() + ": " + ec.message(), -1});
      continue;
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const fs::path &p = it->path();
      std::error_code sec;
      fs::file_status st = fs::status(p, sec);  // follows symlinks
      if (sec) continue;                        // dangling symlink: nothing to read
      if (fs::is_directory(st)) {
        stack.push_back(p);
      } else if (fs::is_regular_file(st) && has_store_extension(p)) {
        found.push_back(p.string());
      }
    }
    if (ec) {
      problems.push_back({ProblemCode::SourceUnreadable,
                          "error listing " + dir.string() + ": " + ec.message(), -1});
    }
  }
}

}  // namespace

std::vector<std::string> discover_inputs(const std::vector<std::string> &args,
                                         std::vector<Problem> &problems) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string &arg : args) {
    std::error_code ec;
    fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      problems.push_back({ProblemCode::SourceUnreadable,
                          "input not found: " + arg + (ec ? " (" + ec.message() + ")" : ""), -1});
      continue;
    }
    std::vector<std::string> found;
    if (fs::is_directory(st)) {
      walk(arg, found, problems);
      std::sort(found.begin(), found.end());
    } else {
      found.push_back(arg);
    }
    for (std::string &f : found) {
      if (seen.insert(f).second) out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace mm::source
