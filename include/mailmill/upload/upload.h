#pragma once
/// `mailmill upload OUTDIR --imap URL`: every message `convert` wrote into OUTDIR (mbox, EML,
/// maildir or batch output; the manifest says what) is appended to an IMAP mailbox, into the
/// folder tree of its source, with its flags and date, exactly once across any number of
/// interrupted runs; and `mailmill verify OUTDIR --imap URL` reconciles the server with the
/// manifest byte for byte.
///
/// Exactly-once: a journal (SQLite, beside the manifest) records each message the server
/// acknowledged (with its APPENDUID where the server has UIDPLUS). A message acknowledged but
/// not yet journaled when the process died, or in flight when the connection dropped, is found
/// on the server before anything is sent again: per folder, the server's messages not in the
/// journal are matched by Message-ID and size (by their bytes' sha256 where that pair is not
/// unique or there is no Message-ID).
#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/upload/imap.h"

namespace mm::upload {

/// `--folder-map FROM=TO`: the source folder FROM (as the manifest names it, without the PST
/// root "Top of Personal Folders"; case-insensitive) and its subfolders go to TO on the
/// server: a '/'-separated path, INBOX, or a special-use attribute such as \Sent or \Archive.
struct FolderRule {
  std::string from;
  std::string to;
};
/// Parses "FROM=TO"; nullopt when there is no '=' or either side is empty.
std::optional<FolderRule> parse_folder_rule(std::string_view text);

/// What the mapping needs to know of the server.
struct ServerFolders {
  std::string prefix;     ///< personal namespace prefix, e.g. "" or "INBOX."
  char delimiter = '/';   ///< hierarchy delimiter (0: flat)
  std::map<std::string, std::string> special;  ///< "\\Sent" -> server name of that folder
};

/// The server mailbox name (modified UTF-7, the server's delimiter) for a manifest folder path.
/// Without a matching rule, and unless `defaults` is off: the PST root folder is dropped; the
/// root itself and "Inbox" become INBOX; Sent Items, Deleted Items, Drafts, Junk E-mail and
/// Archive (and their usual variants) become the server's special-use folder where it has one.
/// A delimiter inside a name becomes '_' (the name would otherwise split in two).
std::string map_folder(std::string_view folder, const std::vector<FolderRule> &rules,
                       bool defaults, const ServerFolders &server);

struct UploadOptions {
  std::string out_dir;
  Endpoint endpoint;
  Credentials credentials;
  int connections = 2;
  std::vector<FolderRule> folder_map;
  bool default_folder_map = true;
  u64 max_message_bytes = 0;  ///< larger messages are refused locally (0: server limit only)
  std::string journal;        ///< default OUTDIR/upload/HOST-USER.sqlite
  std::string report;         ///< JSON report file ("" = none)
  bool progress = false;      ///< a progress line on stderr every second
  int retries = 10;           ///< reconnects/retries per connection before giving up
  std::chrono::milliseconds max_backoff{30000};
};

/// Exit codes as convert's: 0 every message is on the server (appended now or before, or
/// found there), 1 some were refused or could not be sent (listed in the report), 2 usage,
/// 3 fatal (cannot connect, log in or verify the certificate; output folder unreadable).
int run_upload(const UploadOptions &options, std::ostream &out, std::ostream &err);

/// `convert ... --to URL`: uploads while convert is still writing OUTDIR. Every half second (or
/// as long as the last pass took, if longer) a pass sends what the manifest lists by then (complete lines; an item whose bytes are not
/// yet all on disk, by its sha256, waits for a later pass), until `finished` says convert is
/// done; then a last pass as `run_upload` makes it, with its summary, report and exit code.
int run_upload_following(const UploadOptions &options, const std::function<bool()> &finished,
                         std::ostream &out, std::ostream &err);

/// Reconciliation: per mapped folder, every message on the server is fetched and hashed; the
/// multiset of their sha256 must contain every written item's (in its wire form). Missing
/// messages give exit code 1; messages on the server that the manifest does not list are
/// reported, not an error (the mailbox may have held mail before).
int run_verify_imap(const UploadOptions &options, std::ostream &out, std::ostream &err);

/// The bytes sent for a stored message: every line end, bare LF and bare CR included, becomes
/// CRLF (RFC 5322's only line end; servers such as Dovecot turn a bare CR into CRLF
/// themselves, so sending it unchanged would make the stored message differ from what was
/// sent). Everything else is unchanged.
Bytes wire_form(ByteView stored);

}  // namespace mm::upload
