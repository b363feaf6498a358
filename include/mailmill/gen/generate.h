#pragma once
/// Deterministic synthetic corpora: a PST written with pst::PstWriter plus a ground-truth JSONL
/// (one line per top-level item, in write order: folder by folder, each folder's items in seq
/// order) that tests compare readers against.
#include <string>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::gen {

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
  u64 target_bytes = 0;          ///< when > 0, stop once the PST reaches this size
  bool permute = false;          ///< write with NDB_CRYPT_PERMUTE
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
  u64 pst_bytes = 0;
};

/// Writes the PST to `pst_path` and the ground truth to `jsonl_path` (each truncated). Memory
/// stays small: messages are regenerated from their seeds when duplicated. OutputWriteFailed
/// when a file cannot be written.
///
/// JSONL fields per line: seq, folder ("Top of Personal Folders/..." path with '/'), kind
/// ("message", "appointment", "contact", "distlist"), subject, message_id, sender (SMTP), recipients
/// (SMTP list), body_sha256 (UTF-8 text body, null when none), html_sha256 (or null), rtf_only
/// (bool), attachments [{name, size, sha256}] (by-value only), embedded (count),
/// duplicate_of / near_duplicate_of (seq or null); distribution lists add members [{name, smtp}]
/// (smtp "" for a member known only by name).
Result<GenStats> generate(const GenOptions &options, const std::string &pst_path,
                          const std::string &jsonl_path);

}  // namespace mm::gen
