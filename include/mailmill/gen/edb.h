#pragma once
/// Exchange-2013-shaped ESE databases (.edb) for tests and benchmarks (issue 15, experimental):
/// the generator's usual messages (generate.h) in the table layout of docs/exchange-edb.md,
/// written with the ESE writer (ese_writer.h) and the generator's own PropertyBlob encoder.
#include <string>
#include <vector>

#include "mailmill/gen/generate.h"
#include "mailmill/util/result.h"

namespace mm::gen {

/// EDB-specific options; the message content comes from GenOptions.
struct EdbOptions {
  /// Mailboxes in the database. GenOptions::messages are split between them (the first ones
  /// get the remainder); each gets its own folder tree of GenOptions::folders folders, drawn
  /// from its own seed (GenOptions::seed mixed with the mailbox's index).
  i64 mailboxes = 2;
  u32 page_size = 32768;  ///< 32768 (Exchange 2013+) or 8192
  /// Hidden (folder-associated) rows per folder, counted in the census, not in the JSONL.
  i64 hidden_per_folder = 1;
  u32 first_mailbox_number = 101;  ///< MailboxNumber of the first mailbox; then +1 each
  /// Long values above this many bytes are separated (ese WriteOptions::lv_inline_max).
  u32 lv_inline_max = 1024;
  /// Text properties longer than this many bytes leave the PropertyBlob for a NEAR reference
  /// to a SeparatedPropertyNN column (the fact sheet: Exchange does so above 2048 bytes).
  u32 blob_inline_max = 2048;
};

/// One generated mailbox.
struct EdbMailboxStats {
  u32 number = 0;
  std::string owner;        ///< MailboxOwnerDisplayName
  i64 folders = 0;          ///< rows of Folder_n (root and Top of Information Store included)
  i64 messages = 0;         ///< normal rows of Message_n (the JSONL lines of this mailbox)
  i64 hidden = 0;           ///< hidden rows of Message_n
  i64 attachment_rows = 0;  ///< rows of Attachment_n
};

struct EdbStats {
  GenStats gen;  ///< pst_bytes = the database file size
  std::vector<EdbMailboxStats> mailboxes;
  u32 separated_values = 0;   ///< ESE long values stored separated
  u32 compressed_values = 0;  ///< ESE values stored 7-bit compressed
};

/// Writes the database to `edb_path` and the ground truth to `jsonl_path` (same fields as the
/// PST ground truth; folder = "Mailbox - <owner>/Top of Information Store/<folder path>", seq
/// numbered across mailboxes). ItemUnsupportedType when GenOptions asks for appointments,
/// contacts or distribution lists; OutputWriteFailed when a file cannot be written. The whole
/// image is built in memory. Deterministic: same options, same bytes.
Result<EdbStats> write_edb_corpus(const GenOptions &options, const EdbOptions &edb,
                                  const std::string &edb_path, const std::string &jsonl_path);

}  // namespace mm::gen
