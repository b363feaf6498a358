#pragma once
/// What an input is, told by its content, never by its name (salvaged files often lie about
/// their extension), and the stores that read the non-PST kinds: mbox files, maildir trees,
/// and trees of loose .eml/.msg files.
#include <memory>
#include <string>

#include "mailmill/mapi/store.h"
#include "mailmill/util/result.h"

namespace mm::source {

enum class InputKind : u8 {
  Unknown,    ///< none of the below (or unreadable)
  Pst,        ///< PST/OST: "!BDN" magic
  Edb,        ///< an ESE (JET Blue) database, signature 0x89abcdef at offset 4: Exchange
              ///< mailbox databases (.edb) and others (Windows' SRUDB.dat, UAL .mdb...)
  Msg,        ///< an Outlook .msg: a compound file with the message's property streams
  Eml,        ///< one RFC 5322 message: a header block at the start
  Mbox,       ///< "From " line at the start, then a header block
  Maildir,    ///< a directory with cur/ and new/ (Maildir, or a Maildir++ root with .Folders)
  Directory,  ///< any other directory (searched for inputs)
};

/// Printable name: "pst", "edb", "msg", "eml", "mbox", "maildir", "directory", "unknown".
const char *input_kind_name(InputKind kind);

/// Tells what `path` is from its first bytes (files) or its entries (directories). A .msg is
/// told from other compound files (Word, Excel) by its "__properties_version1.0" stream.
/// Unknown for unreadable paths and for files that are none of the kinds.
InputKind detect_input(const std::string &path);

/// Opens an mbox file (mboxo, mboxrd, mboxcl, mboxcl2: told apart from its content; the
/// store's info says which was assumed and why). One folder, named after the file; items are
/// its entries in file order, with Thunderbird X-Mozilla-Status and Status/X-Status flags.
Result<std::unique_ptr<mapi::MailStore>> open_mbox(const std::string &path);

/// Opens a maildir or Maildir++ tree: the root's cur/ and new/ are the top folder ("INBOX"),
/// each ".A.B" subdirectory the folder A/B; flags come from the file names (":2,DFPRST").
Result<std::unique_ptr<mapi::MailStore>> open_maildir(const std::string &path);

/// Opens a directory tree (or a single file) of loose messages: every .eml and .msg file below
/// it, told by content; folders are the subdirectories that hold any. .msg files are read with
/// msg::read_msg, .eml files become InternetMessage items.
Result<std::unique_ptr<mapi::MailStore>> open_file_tree(const std::string &path);

}  // namespace mm::source
