// Input discovery: files as given, directories searched for inputs by content.
#include "mailmill/source/discover.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "mailmill/format/exchange/exchange.h"
#include "mailmill/source/detect.h"

namespace mm::source {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t IGNORED_EXAMPLES = 3;

bool has_store_extension(const fs::path &p) {
  std::string ext = p.extension().string();
  for (char &c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return ext == ".pst" || ext == ".ost" || ext == ".edb";
}

// An ESE database is an input when it is an Exchange mailbox database, or when it cannot be
// read but is named like one (opening it then says why).
bool is_exchange_database(const fs::path &p) {
  Result<exchange::DatabaseInfo> info = exchange::describe(p.string());
  return info ? info->exchange : has_store_extension(p);
}

struct Walk {
  std::vector<std::string> found;
  bool loose_messages = false;  // an .eml/.msg file outside any maildir
  i64 ignored = 0;
  std::vector<std::string> examples;
};

// Recursive walk with an explicit stack. A directory is identified by its canonical path, so a
// symlink pointing back up the tree is entered at most once. Subdirectories are visited in
// name order so that the ignored-file examples do not depend on the file system's order.
void walk(const fs::path &root, Walk &w, std::vector<Problem> &problems) {
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
      problems.push_back(
          {ProblemCode::SourceUnreadable, "cannot list " + dir.string() + ": " + ec.message(), -1});
      continue;
    }
    std::vector<fs::path> entries;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      entries.push_back(it->path());
    }
    if (ec) {
      problems.push_back({ProblemCode::SourceUnreadable,
                          "error listing " + dir.string() + ": " + ec.message(), -1});
    }
    std::sort(entries.begin(), entries.end());
    std::vector<fs::path> subdirs;
    for (const fs::path &p : entries) {
      std::error_code sec;
      fs::file_status st = fs::status(p, sec);  // follows symlinks
      if (sec) continue;                        // dangling symlink: nothing to read
      if (!fs::is_directory(st) && !fs::is_regular_file(st)) continue;
      switch (detect_input(p.string())) {
        case InputKind::Pst:
        case InputKind::Mbox:
        case InputKind::Maildir:
          w.found.push_back(p.string());
          break;
        case InputKind::Edb:
          // Windows keeps many ESE databases of its own (SRUDB.dat, WebCache, UAL .mdb):
          // only Exchange mailbox databases are inputs; the others are ignored, not failed.
          if (is_exchange_database(p.string())) {
            w.found.push_back(p.string());
          } else {
            ++w.ignored;
            if (w.examples.size() < IGNORED_EXAMPLES) w.examples.push_back(p.string());
          }
          break;
        case InputKind::Eml:
        case InputKind::Msg:
          w.loose_messages = true;
          break;
        case InputKind::Directory:
          subdirs.push_back(p);
          break;
        case InputKind::Unknown:
          // A damaged PST (no magic, cut off, zeroed header) is still what the user came to
          // convert: listed, so that opening it reports why it cannot be read.
          if (fs::is_regular_file(st) && has_store_extension(p)) {
            w.found.push_back(p.string());
            break;
          }
          ++w.ignored;
          if (w.examples.size() < IGNORED_EXAMPLES) w.examples.push_back(p.string());
          break;
      }
    }
    // Reversed onto the stack so that the smallest name is walked first.
    stack.insert(stack.end(), subdirs.rbegin(), subdirs.rend());
  }
}

}  // namespace

std::string DiscoverReport::note() const {
  if (ignored_files == 0) return {};
  std::string s = "ignored " + std::to_string(ignored_files) + " file(s) that are no mail input";
  for (std::size_t i = 0; i < ignored_examples.size(); ++i)
    s += (i == 0 ? " (e.g. " : ", ") + ignored_examples[i];
  if (!ignored_examples.empty())
    s += ignored_files > static_cast<i64>(ignored_examples.size()) ? ", ...)" : ")";
  return s;
}

std::vector<std::string> discover_inputs(const std::vector<std::string> &args,
                                         std::vector<Problem> &problems, DiscoverReport *report) {
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
    if (fs::is_directory(st) && detect_input(arg) != InputKind::Maildir) {
      Walk w;
      walk(arg, w, problems);
      found = std::move(w.found);
      if (w.loose_messages) found.push_back(arg);
      std::sort(found.begin(), found.end());
      if (report != nullptr) {
        report->ignored_files += w.ignored;
        for (std::string &e : w.examples)
          if (report->ignored_examples.size() < IGNORED_EXAMPLES)
            report->ignored_examples.push_back(std::move(e));
      }
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
