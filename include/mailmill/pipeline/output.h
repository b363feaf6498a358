#pragma once
/// Reading back what `convert` wrote into an output folder: the written items of
/// OUTDIR/manifest.jsonl and the stored bytes of each (an EML or maildir file, an entry of an
/// mbox file or of a zstd batch). Used by `verify` and `upload`; trusts nothing but the files.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::pipeline {

/// One manifest line whose outcome is "written".
struct WrittenItem {
  u64 seq = 0;
  std::string source;
  std::string folder;      ///< the item's folder path in its source, '/'-separated ("" = root)
  std::string location;    ///< "path" (EML, maildir) or "container#n" (mbox, batch; n from 1)
  std::string flags;       ///< comma-separated: read, answered, forwarded, flagged, draft
  std::string message_id;  ///< "<...>" or ""
  std::string raw_sha256;  ///< of the stored bytes
  i64 date = 0;            ///< Unix seconds of the message date (0 = none)
  u64 size = 0;            ///< stored bytes
};

struct WrittenItems {
  std::vector<WrittenItem> items;  ///< in manifest order; a later line for a seq replaces it
  u64 lines = 0;                   ///< manifest lines read
  u64 malformed = 0;               ///< lines that are not valid JSON (reported, skipped)
};

/// Reads OUTDIR/manifest.jsonl; nullopt (and `error`) when there is none. With
/// `complete_lines_only` a last line without its newline (one a running convert is still
/// writing) is left for later instead of counted as malformed.
std::optional<WrittenItems> read_written_items(const std::filesystem::path &out_dir,
                                               std::string *error,
                                               bool complete_lines_only = false);

/// Loads stored messages by manifest location. Keeps the 8 containers (mbox files, decompressed
/// batches) used last, at most 512 MiB of decompressed batches among them, so items read in
/// manifest order, or a few folders taken in turns, read each container once. An mbox file is
/// memory-mapped and indexed, never copied whole. Not thread-safe: one per thread.
class OutputReader {
 public:
  explicit OutputReader(std::filesystem::path out_dir);
  ~OutputReader();
  OutputReader(const OutputReader &) = delete;
  OutputReader &operator=(const OutputReader &) = delete;

  /// The item's bytes exactly as `convert` wrote them (mbox/batch entries without their From_
  /// line and separator, ">From " unquoted), or nullopt with the reason in `error`.
  std::optional<Bytes> load(const std::string &location, std::string *error);

 private:
  struct Container;
  std::filesystem::path root_;
  std::vector<std::unique_ptr<Container>> cache_;  // most recently used first
};

/// Splitting of mailmill's mboxrd output: the [begin, end) byte ranges of each entry of `data`
/// (after its From_ line, before the blank separator line), and an entry's unquoted bytes.
std::vector<std::pair<std::size_t, std::size_t>> index_mboxrd(ByteView data);
Bytes unquote_mboxrd(ByteView entry);

}  // namespace mm::pipeline
