#pragma once
/// Builds RFC 5322/MIME bytes from a model::Message. Pure function of its inputs: the same
/// message and options always give the same bytes (boundaries and generated ids are derived
/// from content, never random or time-based). Thread-safe.
#include <array>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "mailmill/model/item.h"
#include "mailmill/util/result.h"

namespace mm::mime {

/// Which flag headers to write.
enum class FlagStyle : u8 {
  None,
  Mbox,  ///< Status: RO / X-Status: A F T (mutt/mboxrd convention)
  Eml,   ///< X-Mailmill-Flags: \Seen \Answered \Flagged \Draft (IMAP flag names)
};

struct BuildOptions {
  bool crlf = true;  ///< line endings of the output (EML: CRLF; mbox: LF)
  FlagStyle flags = FlagStyle::Eml;
  /// Domain for generated Message-IDs when the item has none: <hash@domain>, plus a header
  /// "X-Mailmill-Generated-Message-ID: yes".
  std::string generated_id_domain = "mailmill.invalid";
  /// Write a complete mboxrd entry (From_ line, quoting, separator; needs crlf = false)
  /// instead of the bare message: the message is serialized once, straight into its frame.
  bool mboxrd = false;
  /// Streaming: a message whose serialized size exceeds `stream_above` is written to the file
  /// `stream_to` returns (appended at its end) instead of memory, a few MiB at a time, and
  /// Built says where (`streamed`). stream_to may return nullptr (then memory is used).
  std::function<std::FILE *()> stream_to;
  u64 stream_above = 0;
};

/// The SHA-256 of attachment bytes the builder hashed while encoding them, by where they lie
/// (dedup::content_hash takes these instead of hashing the same bytes again).
struct DataDigest {
  const char *data;
  std::size_t size;
  std::array<u8, 32> sha256;
};

/// What was built, with facts the sinks need (envelope sender and date for From_ lines).
struct Built {
  Bytes bytes;                 ///< the whole message (an mboxrd entry with BuildOptions::mboxrd)
  u64 message_size = 0;        ///< size of the message itself (without any mboxrd framing)
  std::array<u8, 32> sha256{}; ///< SHA-256 of the message itself, as a reader gets it back
  bool streamed = false;       ///< the bytes went to BuildOptions::stream_to (`bytes` empty)
  u64 stream_offset = 0;       ///< where they start in that file
  u64 stream_size = 0;         ///< their length (the framed entry with mboxrd)
  std::string envelope_sender; ///< bare SMTP address for the mbox From_ line ("" if unknown)
  i64 date = 0;                ///< unix seconds UTC used for Date: (0 if none known)
  std::string message_id;      ///< the Message-ID written, with angle brackets
  bool message_id_generated = false;
  std::vector<Problem> warnings;  ///< lenient recoveries (bad RTF, unknown charset, ...)
  std::vector<DataDigest> data_digests;  ///< attachments hashed on the way (top level only)
};

/// Builds the message, recursing into embedded messages (message/rfc822 parts). Fails only on
/// a limit (nesting depth > limits::MAX_EMBED_DEPTH); everything else is a warning.
Result<Built> build_message(const model::Message &msg, const BuildOptions &opts);

/// The message's date: the Date field of its transport headers when they have one that parses
/// (those headers are written as they are), else the date Outlook would show: submit time,
/// else delivery, else creation, else modification; nullopt when none is set (never 1970).
std::optional<i64> message_date(const model::Message &msg);

}  // namespace mm::mime
