#pragma once
// Where the generator puts folders and messages: a PST (PstOutput in generate.cc) or a MIME
// store (mbox file, EML tree, Maildir++ tree; mime_store.cc). The generator's loop draws the
// same folders and messages for every output, so one seed gives one corpus in every format.
#include <cstdio>
#include <memory>
#include <string>

#include "mailmill/gen/generate.h"
#include "mailmill/model/item.h"
#include "mailmill/util/result.h"

namespace mm::gen {

/// One output of the generator. Single-threaded; failures are OutputWriteFailed problems.
class Output {
 public:
  virtual ~Output() = default;
  /// The handle of the folder that user folders go under.
  virtual u64 root() const = 0;
  /// Adds folder `name` under `parent`; returns its handle.
  virtual Result<u64> add_folder(u64 parent, const std::string &name,
                                 const std::string &container_class) = 0;
  /// Writes message `seq` (drawn from `mseed`) into `folder`. The MIME outputs may change `m`
  /// (plan_mime) before writing it, so the ground truth is taken from `m` afterwards. Returns
  /// the extra ground-truth fields of this output (",\"path\":..."; "" for PST).
  virtual Result<std::string> add_message(u64 folder, model::Message &m, i64 seq, u64 mseed) = 0;
  /// Bytes written so far.
  virtual u64 bytes_written() const = 0;
  /// Flushes and closes; bytes_written() is final afterwards.
  virtual Status finish() = 0;
};

/// A MIME output at `path` (the mbox file, or the EML / maildir root directory).
Result<std::unique_ptr<Output>> create_mime_output(OutputFormat format, const std::string &path,
                                                   Eol eol);

/// The generator's loop: draws the folder tree and `o.messages` items from `o.seed` and writes
/// them to `w` (folders under w.root(), whose ground-truth path is `top`) and one JSONL line per
/// item to `jf`, numbering items from `seq_base`. Adds to `st`; does not finish `w`.
Status generate_items(const GenOptions &o, Output &w, std::FILE *jf, const std::string &jsonl_path,
                      const std::string &top, i64 seq_base, GenStats &st);

}  // namespace mm::gen
