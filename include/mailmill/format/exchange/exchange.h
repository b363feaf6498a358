#pragma once
/// Exchange 2013-2019 mailbox databases (.edb) as mail stores (issue 15, experimental): the
/// Exchange layer over our own ESE reader (mailmill/format/ese/database.h). A database holds
/// many mailboxes (its Mailbox table); each has its own tables, numbered by the mailbox's
/// MailboxNumber n: Folder_n, Message_n, Attachment_n, ExtendedPropertyNameMapping_n.
///
/// One store per database: the store's root folder holds one top-level folder per selected
/// mailbox, named after its owner ("Mailbox - <MailboxOwnerDisplayName>"), and under it that
/// mailbox's folder tree from ParentFolderId. Every output format then writes one tree per
/// mailbox. Items are the rows of Message_n, mapped onto the same MAPI property model as PST
/// items (PropertyBlob properties, named properties through ExtendedPropertyNameMapping_n,
/// recipients from RecipientList, attachments through SubobjectsBlob / Attachment_n, body from
/// NativeBody by its body type), so MIME build, ICS/VCF, dedup and every sink work unchanged.
#include <memory>
#include <string>
#include <vector>

#include "mailmill/mapi/store.h"
#include "mailmill/util/result.h"

namespace mm::exchange {

/// One row of the Mailbox table, with its tables' row counts.
struct MailboxInfo {
  u32 number = 0;     ///< MailboxNumber: the n of Folder_n, Message_n...
  std::string owner;  ///< MailboxOwnerDisplayName (UTF-8), empty when absent
  std::string guid;   ///< MailboxGuid as 8-4-4-4-12 lower-case hex, empty when absent
  i64 folders = -1;   ///< rows of Folder_n; -1 when the table is missing or unreadable
  i64 messages = -1;  ///< rows of Message_n (normal and hidden/associated); -1 likewise
  i64 hidden = -1;    ///< of those, hidden (folder-associated) rows; -1 when unknown
  std::string problem;  ///< why the counts are missing, or empty
};

/// What was found in the file, for `mailmill inspect`.
struct DatabaseInfo {
  u32 page_size = 0;
  u32 format_version = 0, format_revision = 0;
  std::string state;        ///< "CleanShutdown", "DirtyShutdown", ...
  bool exchange = false;    ///< has a Mailbox table: an Exchange mailbox database
  std::string layout;       ///< "Exchange 2013+" when recognised, else what it looks like
  std::vector<std::string> tables;  ///< every table name of the catalog
  std::vector<MailboxInfo> mailboxes;
};

struct OpenOptions {
  /// Mailboxes to take, by owner display name (exact, case-insensitive) or MailboxNumber;
  /// empty takes every mailbox. A name that matches none is an error naming those there are.
  std::vector<std::string> mailboxes;
};

/// True when the file starts like an ESE database (the header's signature 0x89abcdef at
/// offset 4). Cheap: reads 8 bytes.
bool looks_like_ese(const std::string &path);

/// Reads the header, the catalog and the Mailbox table. A Problem (SourceNotPst with a
/// one-line detail) when the file is not an ESE database or cannot be read at all. A database
/// that is not an Exchange mailbox database (no Mailbox table) is not an error here:
/// `exchange` is false and `tables` says what it holds.
Result<DatabaseInfo> describe(const std::string &path);

/// Opens the selected mailboxes of an Exchange database as one store. One clear Problem, never
/// garbage, for: not an ESE file; an ESE database that is not an Exchange mailbox database
/// (names what it seems to be); a database not in clean-shutdown state ("run eseutil /r"); an
/// Exchange 2003/2007/2010 layout (no per-mailbox tables); no mailbox matching the selection.
Result<std::unique_ptr<mapi::MailStore>> open_exchange(const std::string &path,
                                                       const OpenOptions &opts = {});

/// The same over a database in memory (not copied; it must outlive the store), named `name` in
/// messages. `verify_checksums` off is for fuzzing only (see ese::OpenOptions).
Result<std::unique_ptr<mapi::MailStore>> open_exchange_bytes(ByteView bytes,
                                                             const std::string &name,
                                                             const OpenOptions &opts = {},
                                                             bool verify_checksums = true);

}  // namespace mm::exchange
