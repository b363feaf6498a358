#pragma once
/// Deterministic synthetic corpora: a PST written with pst::PstWriter, or the same messages as
/// MIME (an mbox file, a tree of .eml files or a Maildir++ tree) written by the generator's own
/// MIME writer (src/gen/mime_writer.cc, independent of the mime module), plus a ground-truth
/// JSONL (one line per top-level item, in write order: folder by folder, each folder's items in
/// seq order, when the message count is given) that tests compare readers against.
#include <optional>
#include <string>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::gen {

/// What `generate` writes.
enum class OutputFormat : u8 {
  Pst,      ///< one PST file
  Mbox,     ///< one mboxrd file, every message after a "From sender date" line
  Eml,      ///< a directory: one .eml file per message, in one subdirectory per folder
  Maildir,  ///< a Maildir++ directory: root cur/new/tmp, folder A/B in ".A.B"
};

/// Line ends of the MIME formats.
enum class Eol : u8 { Lf, Crlf };

/// "pst", "mbox", "eml" or "maildir" -> the format; nullopt for anything else.
std::optional<OutputFormat> parse_output_format(std::string_view name);

/// A byte count with an optional K, M or G suffix (powers of 1024; "KB", "KiB", "k" alike),
/// e.g. "1G" = 1073741824; nullopt when not a non-negative integer with such a suffix.
std::optional<u64> parse_byte_size(std::string_view text);

/// What to generate. Ratios are probabilities in [0, 1] per message. The same options give a
/// byte-identical PST and JSONL on every machine (own PRNG, no clocks, no std distributions).
struct GenOptions {
  u64 seed = 1;
  i64 messages = 100;        ///< number of top-level items; < 0 means "until target_bytes"
  i64 folders = 5;           ///< user folders (nested under "Top of Personal Folders")
  double attachment_ratio = 0.3;
  u64 attachment_min = 100;      ///< attachment sizes are log-uniform in [min, max]
  u64 attachment_max = 200000;
  double html_ratio = 0.3;
  double rtf_only_ratio = 0.0;   ///< bodies only as (uncompressed, "MELA") PR_RTF_COMPRESSED
  double non_ascii_ratio = 0.2;  ///< accented Latin, Cyrillic, CJK, emoji in subject and body
  double transport_headers_ratio = 0.5;
  double embedded_ratio = 0.05;  ///< messages carrying an attached (embedded) message
  double calendar_ratio = 0.0;   ///< IPM.Appointment items (in a "Calendar" folder)
  double contact_ratio = 0.0;    ///< IPM.Contact items (in a "Contacts" folder)
  double dist_list_ratio = 0.0;  ///< IPM.DistList items (in "Contacts"): SMTP and name-only members
  double duplicate_ratio = 0.0;  ///< exact copies of an earlier message, in another folder
  double near_duplicate_ratio = 0.0;  ///< copies differing only in transport headers
  u64 target_bytes = 0;          ///< when > 0, stop once the output reaches this size
  bool permute = false;          ///< write with NDB_CRYPT_PERMUTE (PST only)
  OutputFormat format = OutputFormat::Pst;
  Eol eol = Eol::Lf;             ///< line ends of the MIME formats (PST ignores it)
};

/// What was written.
struct GenStats {
  i64 messages = 0;
  i64 folders = 0;
  i64 attachments = 0;
  i64 embedded = 0;
  i64 duplicates = 0;
  i64 near_duplicates = 0;
  u64 attachment_bytes = 0;
  u64 pst_bytes = 0;     ///< bytes written (the PST, the mbox, or all message files)
};

/// Writes the PST (or the mbox file, or the EML / maildir directory, created when missing) to
/// `pst_path` and the ground truth to `jsonl_path` (each truncated). Memory stays small:
/// messages are regenerated from their seeds when duplicated. OutputWriteFailed when a file
/// cannot be written; ItemUnsupportedType when a MIME format is asked for appointments,
/// contacts, distribution lists or RTF-only bodies (those exist only in PST output).
/// The same seed and options give the same messages in every format; PST output does not
/// depend on the MIME writer (its draws come from a separate stream).
///
/// JSONL fields per line: seq, folder ("Top of Personal Folders/..." path with '/'), kind
/// ("message", "appointment", "contact", "distlist"), subject, message_id, sender (SMTP), recipients
/// (SMTP list), body_sha256 (UTF-8 text body, null when none), html_sha256 (or null), rtf_only
/// (bool), attachments [{name, size, sha256}] (by-value only), embedded (count),
/// duplicate_of / near_duplicate_of (seq or null); distribution lists add members [{name, smtp}]
/// (smtp "" for a member known only by name).
///
/// MIME formats: folder is the path below the root ("Folder 0/Folder 3"); body_sha256 and
/// html_sha256 hash the canonical (CRLF) text that was encoded; each line adds path (mbox:
/// the file's name; eml, maildir: relative to the output directory, '/'-separated), offset
/// (mbox: where the message's From_ line starts, else null), raw_size and raw_sha256 (the
/// message bytes as written, without the From_ line and with mboxrd quoting undone) and
/// flags (maildir info letters of the generated state: F flagged, R answered, S seen).
Result<GenStats> generate(const GenOptions &options, const std::string &pst_path,
                          const std::string &jsonl_path);

}  // namespace mm::gen
