#pragma once
/// The ledger: the account of every input item. `seen` comes from each source's census (a count
/// of the input made from the file's own indexes, see mapi::Census), the outcomes from the
/// pipeline; `balanced()` checks that every census item ended in exactly one of written,
/// duplicate, skipped or failed, by count in every folder and source and, where the census has
/// node ids, item by item. Not thread-safe: updated from the pipeline's serial stage only.
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mailmill/mapi/store.h"
#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::pipeline {

class JsonWriter;

enum class Outcome : u8 { Written, Duplicate, Skipped, Failed };

/// `seen` is set from the census; add() counts an outcome only, so the two can disagree.
struct Totals {
  i64 seen = 0, written = 0, duplicates = 0, skipped = 0, failed = 0;
  void add(Outcome o);
  i64 outcomes() const { return written + duplicates + skipped + failed; }
  bool balanced() const { return seen == outcomes(); }
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
  u64 folder_id = 0;
  mapi::CensusFolder census;  ///< the census's count for this folder (totals.seen = census.items)
  Totals totals;
  std::vector<ItemNote> skipped, failed, warnings;
};

struct SourceLedger {
  std::string path;
  std::string reader;   ///< "native" / "libpff" / "" when it could not be opened
  std::string format;   ///< "unicode", "ansi", ... for PST/OST; else "mbox", "maildir", "files"
  std::string read_as;  ///< how the reader read it when it had to assume (the mbox dialect)
  bool is_ost = false;
  std::string encryption;
  bool opened = false;
  std::string error;    ///< why the source could not be read (one line)
  std::string error_code;
  /// Why the source was read only in part although it opened (e.g. it changed while read).
  std::string read_problem;
  Totals totals;
  std::deque<FolderLedger> folders;  ///< deque: references stay valid while adding
  /// Folder problems (a folder whose contents table could not be read).
  std::vector<ItemNote> folder_errors;
  /// The census (counts only; node ids are kept in `expected`), or basis "" when none could
  /// be taken (the source was not read).
  mapi::Census census;
  /// Node ids the census counted (sorted) and how many outcomes each got; outcomes for ids the
  /// census does not list (unreadable or dangling rows, recovered items) are `extra`.
  std::vector<u64> expected;
  std::vector<u32> hits;
  i64 extra = 0;
  /// Set by Ledger::reconcile(): census ids with no outcome, and with more than one.
  std::vector<u64> missing, doubled;
  /// True when the census is complete and every census item was read; "partial" sources
  /// (some folders or items could not be read) and unread ones make the run exit 1.
  std::string status() const;
};

class Ledger {
 public:
  SourceLedger &add_source(std::string path);
  /// Takes the census of a source: its totals.seen and its expected node ids.
  void set_census(SourceLedger &src, mapi::Census census);
  /// Adds a folder; its seen count is the census's count for `folder_id` (0 if it has none).
  FolderLedger &add_folder(SourceLedger &src, std::string path, u64 folder_id);
  /// Records the outcome of one item in its folder and source.
  void record(SourceLedger &src, FolderLedger &folder, Outcome outcome, ItemNote note = {});
  void warn(FolderLedger &folder, ItemNote note);

  Totals totals() const;
  const std::deque<SourceLedger> &sources() const { return sources_; }
  /// Compares census and outcomes once the run is over: fills each source's missing/doubled.
  void reconcile();
  /// True if every source, folder and the grand total add up, and (after reconcile()) every
  /// census node id got exactly one outcome.
  bool balanced() const;
  /// Sources that could not be read at all.
  i64 failed_sources() const;
  /// Sources read only in part (a folder or part of the tree unreadable).
  i64 partial_sources() const;

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
