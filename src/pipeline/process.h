#pragma once
// The parallel half of the pipeline: one item from raw properties to finished bytes and keys.
// Everything here is a pure function of the item and the options, so it runs on any thread.
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/dedup/keys.h"
#include "mailmill/mapi/store.h"
#include "mailmill/mime/build.h"
#include "mailmill/pipeline/ledger.h"

namespace mm::pipeline {

/// What the parallel stage made of one item.
struct ItemOut {
  u64 seq = 0;
  i64 index = 0;  ///< 1-based position in its folder
  u64 node_id = 0;
  Outcome outcome = Outcome::Failed;  ///< Written here means "ready to write"
  ItemNote note;
  std::vector<ItemNote> warnings;
  /// The warnings as "Code: detail" lines for the item's manifest line (filled by the serial
  /// stage when it hands `warnings` to the ledger).
  std::vector<std::string> warning_lines;
  enum class Form : u8 { Mime, Ics, Vcf } form = Form::Mime;
  Bytes bytes;            ///< the output bytes (empty when spilled)
  u64 spill_offset = 0;   ///< where the bytes are in the unit's spill file when spilled
  u64 spill_len = 0;
  u64 size = 0;           ///< byte count of the output
  bool spilled = false;
  bool framed = false;    ///< `bytes` is a complete mboxrd entry (mbox and batch output)
  bool compressed = false; ///< `bytes` is that entry as one zstd frame (batch output)
  u64 framed_size = 0;    ///< size of the mboxrd entry when `framed`
  std::string envelope_sender;
  i64 date = 0;
  std::string title;      ///< subject or contact name, for file names
  std::string message_id;
  bool message_id_generated = false;
  std::string flags;      ///< "read,answered,flagged,draft" subset
  std::optional<dedup::Md5> mih;
  dedup::Digest content{};
  dedup::Digest raw{};
  /// The model itself, for sinks that write MAPI stores (no MIME is built then).
  std::unique_ptr<model::Message> model;
};

/// Per-thread stage timers, summed at the end.
struct StageTimes {
  double read = 0, convert = 0, build = 0, hash = 0;
  i64 items = 0;
  u64 bytes = 0;
};

/// Outlook's own bookkeeping items (free/busy, view configuration): skipped, not mail.
bool is_system_item(std::string_view message_class);

/// What the parallel stage should produce.
enum class Produce : u8 {
  MimeCrlf,  ///< MIME with CRLF line ends (EML)
  MimeLf,    ///< MIME with LF line ends (mbox, batch)
  Mboxrd,    ///< a complete mboxrd entry, framed as it is built (`framed` is set)
  Model,     ///< keep the model (PST sink); `raw` is then the content hash
};

/// Where messages larger than `above` bytes are built instead of memory (the unit's spill
/// file; `file` opens it on first use and may return nullptr).
struct Streaming {
  std::function<std::FILE *()> file;
  u64 above = 0;
};

/// Reads and converts item `nid` of `store`; fills `out` (outcome, bytes or model, keys,
/// notes). Never throws for bad input; an exception from our own code becomes an
/// InternalError failure. With `streaming`, a big message's bytes go to its file: `spilled`
/// is then set with the offset and length.
void process_item(mapi::MailStore &store, u64 nid, Produce produce, ItemOut &out,
                  StageTimes &times, const Streaming *streaming = nullptr);

/// Rough size of a message once written: bodies plus attachments, recursively.
u64 estimated_size(const model::Message &msg);

}  // namespace mm::pipeline
