#pragma once
/// The ledger: the account of every input item. Every item seen ends in exactly one of written,
/// duplicate, skipped or failed; `balanced()` checks that the counts add up. Not thread-safe:
/// updated from the pipeline's serial stage only.
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::pipeline {

class JsonWriter;

enum class Outcome : u8 { Written, Duplicate, Skipped, Failed };

struct Totals {
  i64 seen = 0, written = 0, duplicates = 0, skipped = 0, failed = 0;
  void add(Outcome o);
  bool balanced() const { return seen == written + duplicates + skipped + failed; }
  Totals &operator+=(const Totals &o);
};

/// One item that was not written, or a note about one that was (omitted attachment, ...).
struct ItemNote {
  u64 node_id = 0;
  std::string subject;
  std::string kind;     ///< item kind / message class
  std::string code;     ///< ProblemCode name or "skipped"
  std::string detail;   ///< reason (libpff error text, item type, ...)
};

struct FolderLedger {
  std::string path;  ///< raw folder path joined with '/'
  Totals totals;
  std::vector<ItemNote> skipped, failed, warnings;
};

struct SourceLedger {
  std::string path;
  std::string reader;   ///< "native" / "libpff" / "" when it could not be opened
  std::string format;   ///< "unicode", "ansi", ...
  bool is_ost = false;
  std::string encryption;
  bool opened = false;
  std::string error;    ///< why the source could not be read (one line)
  std::string error_code;
  Totals totals;
  std::deque<FolderLedger> folders;  ///< deque: references stay valid while adding
  /// Folder problems (a folder whose contents table could not be read).
  std::vector<ItemNote> folder_errors;
};

class Ledger {
 public:
  SourceLedger &add_source(std::string path);
  FolderLedger &add_folder(SourceLedger &src, std::string path);
  /// Records the outcome of one item in its folder and source.
  void record(SourceLedger &src, FolderLedger &folder, Outcome outcome, ItemNote note = {});
  void warn(FolderLedger &folder, ItemNote note);

  Totals totals() const;
  const std::deque<SourceLedger> &sources() const { return sources_; }
  /// True if every source, folder and the grand total add up.
  bool balanced() const;
  i64 failed_sources() const;

  /// The JSON report: {"totals": {...}, "balanced": ..., ..., "sources": [...]}; `extra`
  /// may add top-level members (stage timings) after "seconds".
  std::string to_json(const std::string &command_line, double seconds,
                      const std::function<void(JsonWriter &)> &extra = {}) const;
  /// Human summary (several lines) for stderr.
  std::string summary() const;

 private:
  std::deque<SourceLedger> sources_;  // deque: references stay valid while adding
};

}  // namespace mm::pipeline
