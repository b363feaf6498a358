#pragma once
// Private structures of the ESE reader: the memory map, page views, B-tree entries.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "mailmill/format/ese/database.h"

namespace mm::ese {

/// Page flag bits.
inline constexpr u32 PAGE_ROOT = 0x1;
inline constexpr u32 PAGE_LEAF = 0x2;
inline constexpr u32 PAGE_PARENT = 0x4;
inline constexpr u32 PAGE_EMPTY = 0x8;
inline constexpr u32 PAGE_SPACE_TREE = 0x20;
inline constexpr u32 PAGE_INDEX = 0x40;
inline constexpr u32 PAGE_LONG_VALUE = 0x80;
inline constexpr u32 PAGE_NEW_CHECKSUM = 0x2000;
inline constexpr u32 PAGE_SCRUBBED = 0x4000;

/// Page tag flag bits (top 3 bits of the tag, or of the entry's first 16 bits on large pages).
inline constexpr u8 TAG_VERSION = 0x1;
inline constexpr u8 TAG_DEFUNCT = 0x2;
inline constexpr u8 TAG_COMMON_KEY = 0x4;

/// Limits that bound work on damaged input.
inline constexpr int MAX_TREE_DEPTH = 32;
inline constexpr u64 MAX_LONG_VALUE_BYTES = u64{1} << 31;

/// A read-only file map (or borrowed bytes); unmapped on destruction.
struct Mapping {
  const char *base = nullptr;
  u64 size = 0;
  bool mapped = false;
  ~Mapping();
};

/// One B-tree entry of a page: its key in two parts (the page's common prefix part and the
/// local part) and its data.
struct Entry {
  ByteView prefix;  // prefix part of the key
  ByteView local;   // local part of the key
  ByteView data;    // record (leaf) or child page number (branch)
  u8 flags = 0;
  std::string key() const {
    std::string k;
    k.reserve(prefix.size() + local.size());
    k.append(prefix);
    k.append(local);
    return k;
  }
};

/// A checked view of one page.
struct Page {
  u32 number = 0;
  ByteView bytes;
  u32 prev = 0, next = 0, fdp_object = 0, flags = 0;
  u16 tag_count = 0;
  u32 header_size = 40;
  bool large = false;
  bool leaf() const { return (flags & PAGE_LEAF) != 0; }
  /// Raw tag `i`: its data view and flags (small pages: from the tag; large: from the data).
  Result<std::pair<ByteView, u8>> tag(u32 i) const;
  /// Entry `i` (1-based; tag 0 is the page's external header / common key).
  Result<Entry> entry(u32 i) const;
};

struct DatabaseImpl {
  std::shared_ptr<Mapping> map;
  ByteView file;
  Header header;
  u64 pages = 0;
  std::vector<TableDef> tables;
  /// Pages whose checksum was verified (set once, never cleared; relaxed atomics suffice since
  /// the map never changes and verifying twice is harmless).
  std::unique_ptr<std::atomic<u8>[]> verified;
  bool verify_checksums = true;  ///< OpenOptions::verify_checksums

  /// Page `n` with its header parsed, checksum verified and tag array bounds-checked.
  Result<Page> page(u32 n) const;
  /// Descends from `root` to the leaf that holds the first key >= `target` (the leftmost leaf
  /// when target is empty). Checks every page belongs to the tree of the root.
  Result<Page> seek(u32 root, ByteView target) const;
  /// The long value `lid` of the tree rooted at `lv_root`. With `compressed`, chunks shorter
  /// than their share of the value are decompressed one by one.
  Result<Bytes> long_value(u32 lv_root, ByteView lid, bool compressed = false) const;
};

/// Decodes the value of `col` in `record`.
Value decode_value(const DatabaseImpl &db, const TableDef &def, ByteView record, const Column &col);

inline Problem corrupt(std::string detail, i64 offset = -1) {
  return Problem{ProblemCode::SourceCorrupt, std::move(detail), offset};
}

}  // namespace mm::ese
