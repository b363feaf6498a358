#pragma once
/// NDB layer of the native reader ([MS-PST] 2.2): the memory-mapped file, its header, the node
/// and block indexes (flattened from the NBT/BBT once at open), block decoding, data trees
/// (XBLOCK/XXBLOCK) and subnode trees (SLBLOCK/SIBLOCK).
///
/// A PstFile is immutable after open and shared (shared_ptr) by every handle on the file, so
/// all const members are safe to call from many threads at once. Nothing here throws for bad
/// input: every offset, size and count read from the file is bounds-checked and damage is
/// returned as a Problem.
///
/// A file that shrinks or changes while it is mapped does not kill the process: the mapping is
/// registered with the SIGBUS guard (sigbus_guard.h), so pages that vanished read as zeros, the
/// reads that meet them fail their checks, and changed_while_reading() turns true.
#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "layout.h"
#include "mailmill/util/result.h"

namespace mm::pst {

/// Read-only mmap of a whole file. Unregisters from the SIGBUS guard, then unmaps, on
/// destruction.
struct Mapping {
  /// changed_at value when the place of the change is not known.
  static constexpr u64 CHANGED_SOMEWHERE = ~u64{0};

  const u8 *base = nullptr;
  u64 size = 0;            ///< the file's size when it was opened (the mapped length)
  bool from_file = false;  ///< a file mapping (not an anonymous in-memory copy)
  int fd = -1;             ///< the mapped file, kept open for preadv of big streams
  i64 guard_id = -1;       ///< registration with the SIGBUS guard, -1 when none
  i64 mtime_ns = 0;        ///< the file's st_mtim when it was opened
  /// 1 + the file offset of the first read that found the file changed (a SIGBUS in the
  /// mapping, a short or failed preadv, a failed check while fstat shows another size or mtime),
  /// CHANGED_SOMEWHERE when the offset is unknown, 0 while unchanged. Written by the SIGBUS
  /// handler; never goes back to 0.
  std::atomic<u64> changed_at{0};
  std::atomic<int> changed_errno{0};  ///< errno of the failed preadv that found the change, or 0
  Mapping() = default;
  Mapping(const Mapping &) = delete;
  Mapping &operator=(const Mapping &) = delete;
  ~Mapping();
};

/// Decoded bytes of one block (or a concatenation); `owner` keeps `data` alive (the mapping
/// when the bytes are a view into the file, else a decoded buffer).
struct BlockRef {
  ByteView data;
  std::shared_ptr<const void> owner;
};

/// One NBT leaf entry, flattened.
struct NbtEntry {
  u32 nid = 0;
  u32 parent = 0;
  u64 bid_data = 0;
  u64 bid_sub = 0;
};

/// One BBT leaf entry, flattened. `cb` is the stored size, `cb_inflated` the size after
/// decompression (equal to cb except in compressed 4K blocks).
struct BbtEntry {
  u64 bid = 0;  ///< bid_key() form
  u64 ib = 0;
  u32 cb = 0;
  u32 cb_inflated = 0;
};

/// One SLENTRY of a subnode tree.
struct SubnodeEntry {
  u32 nid = 0;
  u64 bid_data = 0;
  u64 bid_sub = 0;
};

/// Parsed header fields the reader uses.
struct HeaderInfo {
  Variant variant = Variant::Unicode;
  u16 ver = 0;
  bool is_ost = false;
  u8 crypt = NDB_CRYPT_NONE;
  u64 file_eof = 0;
  u8 amap_valid = 0;
  Bref nbt_root;
  Bref bbt_root;
};

/// Safety limits for the NDB layer.
inline constexpr u64 MAX_INDEX_PAGES = u64{1} << 24;  ///< NBT+BBT pages visited at open
inline constexpr u64 MAX_SUBNODE_BLOCKS = 1u << 16;   ///< SL/SI blocks per subnode tree

class PstFile {
 public:
  /// Maps `path` and builds the indexes. SourceUnreadable / SourceNotPst / SourceTruncated /
  /// SourceCorrupt on failure. Recoverable oddities are appended to warnings().
  static Result<std::shared_ptr<const PstFile>> open(const std::string &path);
  /// Same as open() for bytes already in memory (tests); the bytes are copied.
  static Result<std::shared_ptr<const PstFile>> open_bytes(ByteView bytes);

  const HeaderInfo &header() const { return hdr_; }
  u64 file_size() const { return map_->size; }
  /// Drops this process's mapped pages of the file (they stay in the OS page cache and fault
  /// back in on the next access), so resident memory does not grow with the input size.
  /// Thread-safe: concurrent readers simply re-fault.
  void release_pages() const;
  const std::vector<Problem> &warnings() const { return warnings_; }

  /// True once a read found that the file changed since open: a page of the mapping vanished
  /// (the file shrank, or its storage went away; the page now reads as zeros), a preadv came
  /// back short or failed, or a check failed while the file's size or mtime had moved. Never
  /// resets; shared by every handle on the file (share_native, open_another). Thread-safe and
  /// cheap (one atomic load). Always false for open_bytes.
  bool changed_while_reading() const;
  /// Compares the file's current size and mtime (fstat) with those at open and records a
  /// change; returns changed_while_reading(). For failure paths: costs a system call.
  bool recheck_file() const;
  /// SourceTruncated "the file changed or shrank while it was being read (...)", with the size
  /// at open, the size now and where the change was found; nullopt while unchanged. Thread-safe.
  std::optional<Problem> change_problem() const;

  std::span<const NbtEntry> nodes() const { return nbt_; }
  std::span<const BbtEntry> blocks() const { return bbt_; }
  /// Largest data size of one block in this variant (8176 Unicode, 8180 ANSI, 65512 4K).
  u64 max_block_data() const;

  /// NBT entry for `nid`, or nullptr.
  const NbtEntry *find_node(u32 nid) const;
  /// BBT entry for `bid` (reserved bit ignored), or nullptr.
  const BbtEntry *find_block(u64 bid) const;

  /// One block's data, decoded (decrypted for external blocks, inflated for compressed 4K
  /// blocks). Zero-copy view into the mapping when no decoding is needed.
  Result<BlockRef> read_block(u64 bid) const;
  /// Appends the leaf data blocks of the data tree rooted at `bid` (a single external block, or
  /// an XBLOCK/XXBLOCK) to `out`, in order.
  Status read_data_tree(u64 bid, std::vector<BlockRef> &out) const;
  /// The whole data of the tree rooted at `bid` as one contiguous buffer (zero-copy when it is
  /// one unencoded block). `limit` bounds the total size (LimitExceeded beyond).
  Result<BlockRef> read_stream(u64 bid, u64 limit = u64{1} << 32) const;
  /// Entries of the subnode tree rooted at `bid_sub` (0 = none), sorted by nid.
  Status read_subnodes(u64 bid_sub, std::vector<SubnodeEntry> &out) const;

 private:
  PstFile() = default;
  static Result<std::shared_ptr<const PstFile>> build(std::shared_ptr<Mapping> map);
  Status parse_header();
  Status load_btree(u64 root_ib, u64 root_bid, u8 ptype);
  Status walk_page(u64 ib, u64 bid, u8 ptype, int expect_level, u64 &visited);
  /// Size of a block trailer in this file's variant, and of a block with `b`'s data on disk.
  u64 trailer_size() const;
  u64 disk_size(const BbtEntry &b) const;
  /// The cheap trailer check: the trailer at `tr` names `b`'s size and bid.
  bool trailer_matches(const u8 *tr, const BbtEntry &b) const;
  /// Walks a data tree, calling `leaf(bid)` for each data block in order.
  template <class Leaf>
  Status walk_data_tree(u64 bid, int depth, Leaf &&leaf) const;
  /// Reads the data blocks `leaves` straight from the file into `dest` with preadv (no page
  /// faults, no mapped pages to drop); checks each trailer and decodes encrypted blocks.
  Status pread_blocks(const std::vector<const BbtEntry *> &leaves, char *dest) const;
  Status read_subnodes_rec(u64 bid, int depth, u64 &visited, std::vector<SubnodeEntry> &out) const;
  /// SourceCorrupt with `detail`; or, when the file changed since open (recheck_file), the
  /// change_problem() with `detail` appended, since then the change is the likelier cause.
  Problem corrupt(std::string detail, u64 offset) const;
  /// Records a change found at `offset` (-1: unknown) with `err` (0: no errno). First wins.
  void mark_changed(i64 offset, int err) const;

  std::shared_ptr<Mapping> map_;
  HeaderInfo hdr_;
  std::vector<NbtEntry> nbt_;
  std::vector<BbtEntry> bbt_;
  std::vector<Problem> warnings_;
};

/// Parses the header only (magic, version, crypt, root); shared with tools and tests. Does not
/// check CRCs.
Result<HeaderInfo> parse_header_bytes(ByteView head, u64 file_size);

}  // namespace mm::pst
