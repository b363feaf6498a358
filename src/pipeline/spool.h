#pragma once
// The parts of a distributed run (issue 17). Each rank converts its share of the work units
// into its part folder: `spool` holds every item of its units as the serial write stage would
// receive it (outcome, notes, keys, and the bytes in the sink's form: an mboxrd entry, a zstd
// frame, CRLF MIME), piece after piece in unit order; `keys` holds the rank's keyed items
// (KeyedItem records, seq order); `dups` its duplicates once decided ((seq, first) pairs of
// u64, seq order); `progress` the last consistent point: units done and the sizes of spool and
// keys then, so that a killed rank started again truncates both and goes on after that unit.
// The final assembly (`mailmill merge`, or rank 0 at the end of the run) reads the pieces of
// every rank in seq order and hands them to the ordinary write stage.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "budget.h"

namespace mm::pipeline {

/// Appends pieces to a spool file. Throws FatalError on I/O errors.
class SpoolWriter {
 public:
  /// Opens `path` for appending after truncating it to `keep` bytes.
  SpoolWriter(const std::filesystem::path &path, u64 keep);
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter &) = delete;
  SpoolWriter &operator=(const SpoolWriter &) = delete;
  /// One processed piece of plan unit `unit` (its items' bytes loaded, none spilled).
  void write(u64 unit, const UnitOut &piece);
  /// Appends raw bytes (the key file uses the same writer).
  void append(ByteView data);
  /// Flushes to the OS; returns the file's size.
  u64 flush();

 private:
  std::filesystem::path path_;
  std::FILE *f_ = nullptr;
  u64 size_ = 0;
  Bytes buf_;
};

/// Reads pieces back in order.
class SpoolReader {
 public:
  /// Throws FatalError when the file cannot be opened.
  explicit SpoolReader(const std::filesystem::path &path);
  ~SpoolReader();
  SpoolReader(const SpoolReader &) = delete;
  SpoolReader &operator=(const SpoolReader &) = delete;
  /// The next piece into `out` (its unit gets the piece's begin and end; `unit` its plan unit
  /// index). False at the end of the file; FatalError when a piece is cut short or damaged.
  bool read(u64 &unit, UnitOut &out);

 private:
  bool get(void *p, std::size_t n);
  std::filesystem::path path_;
  std::FILE *f_ = nullptr;
  u64 left_ = 0;  // bytes of the file not read yet
};

/// A rank's last consistent point.
struct PartProgress {
  u64 units_done = 0;
  u64 spool_bytes = 0;
  u64 keys_bytes = 0;
};

/// Reads `progress`; nullopt when absent or damaged (a fresh start).
std::optional<PartProgress> read_progress(const std::filesystem::path &path);
/// Overwrites `progress` in place with one small write (it is never seen half-written by a
/// later run after a kill: the record carries its own check).
void write_progress(const std::filesystem::path &path, const PartProgress &p);

/// The whole file as text, or "" when it cannot be read.
std::string read_text(const std::filesystem::path &path);
/// Writes `text` to `path` through a temporary file and a rename. Throws FatalError.
void write_text(const std::filesystem::path &path, const std::string &text);

}  // namespace mm::pipeline
