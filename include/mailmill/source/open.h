#pragma once
/// Opening mail stores by path, with the reader chosen by the user or automatically.
#include <memory>
#include <string>

#include "mailmill/mapi/store.h"

namespace mm::source {

enum class Reader : u8 {
  Auto,    ///< native; falls back to libpff when the native reader reports damage
  Native,  ///< our memory-mapped reader only
  Libpff,  ///< libpff only
};

/// How a store is opened.
struct OpenOptions {
  /// Also list the items libpff can recover (`--recover`): deleted items still in the file
  /// (libpff_file_recover_items) and orphan items (reachable from no folder). They appear as
  /// the folders RECOVERED_FOLDER_NAME and ORPHAN_FOLDER_NAME, appended after the real folder
  /// tree when non-empty, with the ids of make_recovery_item_id. Uses the libpff reader unless
  /// the native reader is asked for by name; the native reader exports instead the message
  /// nodes of its census that no folder lists (they are skipped as "unlisted" otherwise).
  bool recover = false;
  /// Exchange databases (.edb): the mailboxes to open, by owner display name or mailbox
  /// number; empty opens every mailbox (see mailmill/format/exchange/exchange.h).
  std::vector<std::string> mailboxes;
};

/// Opens a PST/OST with libpff. One handle per thread (the handle owns one libpff_file_t; no
/// global state). Runs the same header preflight as open_store; a file libpff refuses (e.g. a
/// header CRC mismatch) gives SourceCorrupt with libpff's error text on one line.
///
/// items_in() of a libpff store may return "unreadable item" ids (see make_unreadable_item_id)
/// for contents-table entries libpff could not resolve; read_item() on such an id returns an
/// ItemUnreadable Problem carrying libpff's error, so callers count them as failed items.
///
/// With opts.recover the scan for deleted items runs at most once per handle, on the first
/// folders() call or recovery id (it reads the whole file). Its failure is not fatal: the
/// recovered folder is left out and the reason is added to StoreInfo::warnings.
Result<std::unique_ptr<mapi::MailStore>> open_libpff(const std::string &path,
                                                     const OpenOptions &opts = {});

// Unreadable-row ids (mapi::make_unreadable_item_id and friends) live in mailmill/mapi/store.h.
using mapi::is_unreadable_item_id;
using mapi::make_unreadable_item_id;
using mapi::UNREADABLE_ITEM_FLAG;
using mapi::unreadable_item_folder;
using mapi::unreadable_item_index;

/// Bit 62 of an item or folder id marks libpff's recovery lists (--recover). Real node ids are
/// 32-bit and unreadable-item ids set bit 63, so these never collide with either.
inline constexpr u64 RECOVERY_ID_FLAG = u64{1} << 62;
/// Kind bit of a recovery id: set for the orphan list, clear for the recovered (deleted) list.
inline constexpr u64 RECOVERY_ORPHAN_FLAG = u64{1} << 61;
/// Set in the id of the synthetic folder itself ("[Recovered items]" / "[Orphan items]").
inline constexpr u64 RECOVERY_FOLDER_FLAG = u64{1} << 60;

/// Names (single path element below the root) of the synthetic recovery folders.
inline constexpr const char *RECOVERED_FOLDER_NAME = "[Recovered items]";
inline constexpr const char *ORPHAN_FOLDER_NAME = "[Orphan items]";

/// Which libpff list a recovery id refers to.
enum class RecoveryKind : u8 { Recovered, Orphan };

/// Id of the synthetic folder listing the items of `kind`.
constexpr u64 make_recovery_folder_id(RecoveryKind kind) {
  return RECOVERY_ID_FLAG | RECOVERY_FOLDER_FLAG |
         (kind == RecoveryKind::Orphan ? RECOVERY_ORPHAN_FLAG : 0);
}
/// Id of entry `index` (< 2^31) of libpff's list of `kind`. `sub` is 0 for the entry itself;
/// sub = k + 1 (< 2^28) names sub-message k of an entry that is a recovered folder.
constexpr u64 make_recovery_item_id(RecoveryKind kind, u32 index, u32 sub = 0) {
  return RECOVERY_ID_FLAG | (kind == RecoveryKind::Orphan ? RECOVERY_ORPHAN_FLAG : 0) |
         (static_cast<u64>(sub & 0x0FFFFFFFu) << 32) | (index & 0x7FFFFFFFu);
}
/// True for ids made by make_recovery_item_id or make_recovery_folder_id.
constexpr bool is_recovery_id(u64 id) {
  return (id & (UNREADABLE_ITEM_FLAG | RECOVERY_ID_FLAG)) == RECOVERY_ID_FLAG;
}
/// True for ids made by make_recovery_folder_id.
constexpr bool is_recovery_folder_id(u64 id) {
  return is_recovery_id(id) && (id & RECOVERY_FOLDER_FLAG) != 0;
}
/// List kind encoded in a recovery id.
constexpr RecoveryKind recovery_kind(u64 id) {
  return (id & RECOVERY_ORPHAN_FLAG) != 0 ? RecoveryKind::Orphan : RecoveryKind::Recovered;
}
/// List index encoded in a recovery item id.
constexpr u32 recovery_index(u64 id) { return static_cast<u32>(id & 0x7FFFFFFFu); }
/// Sub-message slot encoded in a recovery item id (0 = the list entry itself).
constexpr u32 recovery_sub(u64 id) { return static_cast<u32>((id >> 32) & 0x0FFFFFFFu); }

/// Opens with the chosen reader. A non-PST file gives SourceNotPst; a damaged one
/// SourceCorrupt/SourceTruncated with a one-line detail. opts.recover opens with libpff
/// whatever `reader` says (only libpff can recover items).
Result<std::unique_ptr<mapi::MailStore>> open_store(const std::string &path, Reader reader,
                                                    const OpenOptions &opts = {});

}  // namespace mm::source
