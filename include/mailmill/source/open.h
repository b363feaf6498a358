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

/// Opens a PST/OST with libpff. One handle per thread (the handle owns one libpff_file_t; no
/// global state). Runs the same header preflight as open_store; a file libpff refuses (e.g. a
/// header CRC mismatch) gives SourceCorrupt with libpff's error text on one line.
///
/// items_in() of a libpff store may return "unreadable item" ids (see make_unreadable_item_id)
/// for contents-table entries libpff could not resolve; read_item() on such an id returns an
/// ItemUnreadable Problem carrying libpff's error, so callers count them as failed items.
Result<std::unique_ptr<mapi::MailStore>> open_libpff(const std::string &path);

/// High bit of an item id marking "libpff could not enumerate item #index of folder"; real node
/// ids are 32-bit, so no real id has it set.
inline constexpr u64 UNREADABLE_ITEM_FLAG = u64{1} << 63;

/// Builds the sentinel id for item `index` (< 2^31) of folder `folder_nid` (32-bit node id).
constexpr u64 make_unreadable_item_id(u32 folder_nid, u32 index) {
  return UNREADABLE_ITEM_FLAG | (static_cast<u64>(index & 0x7FFFFFFFu) << 32) | folder_nid;
}
/// True for ids made by make_unreadable_item_id.
constexpr bool is_unreadable_item_id(u64 id) { return (id & UNREADABLE_ITEM_FLAG) != 0; }
/// Folder node id encoded in an unreadable-item id.
constexpr u32 unreadable_item_folder(u64 id) { return static_cast<u32>(id & 0xFFFFFFFFu); }
/// Item index encoded in an unreadable-item id.
constexpr u32 unreadable_item_index(u64 id) { return static_cast<u32>((id >> 32) & 0x7FFFFFFFu); }

/// Opens with the chosen reader. A non-PST file gives SourceNotPst; a damaged one
/// SourceCorrupt/SourceTruncated with a one-line detail.
Result<std::unique_ptr<mapi::MailStore>> open_store(const std::string &path, Reader reader);

}  // namespace mm::source
