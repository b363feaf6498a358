#pragma once
// OUTDIR/manifest.jsonl: one JSON line per input item, in seq order, saying what became of it:
// written (with its location), duplicate (with the seq of the kept copy), skipped or failed
// (with the reason), plus size, date, flags and the three keys. Later runs into the same
// OUTDIR append to it. Not thread-safe (serial stage).
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/pipeline/ledger.h"

namespace mm::pipeline {

struct ManifestEntry {
  u64 seq = 0;
  std::string source, folder;
  u64 folder_id = 0;  ///< the folder's node id (what a resumed run matches lines by)
  i64 index = 0;
  Outcome outcome = Outcome::Failed;
  const ItemNote *note = nullptr;
  std::string where;  ///< location (written) or kept seq (duplicate)
  u64 size = 0;
  i64 date = 0;
  std::string flags, message_id, mih, content, raw;
  /// What was recovered from or left out of the item ("Code: detail"); written as "warnings"
  /// when not empty.
  const std::vector<std::string> *warnings = nullptr;
};

class Manifest {
 public:
  /// Opens `path` for appending; throws FatalError when it cannot.
  explicit Manifest(const std::filesystem::path &path);
  ~Manifest();
  Manifest(const Manifest &) = delete;
  Manifest &operator=(const Manifest &) = delete;

  void add(const ManifestEntry &e);
  void flush();
  /// Current size of the file in bytes (what a commit records).
  u64 size() const { return size_; }
  void close();

 private:
  std::filesystem::path path_;
  std::FILE *file_ = nullptr;
  u64 size_ = 0;
};

}  // namespace mm::pipeline
