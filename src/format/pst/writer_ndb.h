#pragma once
/// NDB layer of the PST writer ([MS-PST] 2.2): appends blocks to the file in order, keeps the
/// BBT/NBT entries in memory, and at the end writes the B-tree pages, the allocation maps
/// (AMap/PMap/FMap/FPMap), the density list and the header. Unicode format only.
#include <cstdio>
#include <string>
#include <vector>

#include "layout.h"
#include "ltp_build.h"
#include "mailmill/util/append_file.h"
#include "mailmill/util/result.h"

namespace mm::pst {

class NdbWriter {
 public:
  /// Opens `path` for writing; OutputWriteFailed on failure.
  static Result<std::unique_ptr<NdbWriter>> open(const std::string &path, u8 crypt_method);

  /// Writes a node's data tree and subnode tree and records its NBT entry.
  void add_node(u32 nid, u32 parent_nid, const ltp::NodeOut &node);
  /// Writes the B-trees, maps and header, then closes. `rgnid` gets the next free index per
  /// NID type. Throws FatalError on I/O failure.
  void finish(const u32 (&rgnid)[32]);
  u64 size() const { return eof_; }

 private:
  NdbWriter() = default;
  struct BbtEntry {
    u64 bid, ib;
    u16 cb;
  };
  struct NbtEntry {
    u64 nid, bid_data, bid_sub;
    u32 parent;
  };
  u64 allocate(u64 size, u64 align);
  u64 write_block(ByteView data, bool internal);
  u64 write_data_tree(const ltp::NodeOut &node);
  u64 write_subnode_tree(const std::vector<ltp::SubnodeOut> &subs);
  Bref write_btree_level(std::vector<Bytes> &entries_by_page, u8 ptype, u8 level);
  u64 write_page(Bytes &page, u8 ptype, u64 bid, u64 ib);
  void emit(ByteView data);
  static u64 map_bytes(u64 region);

  std::unique_ptr<util::AppendFile> file_;  // appended in order; maps and header patched last
  u8 crypt_ = NDB_CRYPT_NONE;
  u64 eof_ = 0;       // next free offset (logical end of file)
  u64 next_bid_ = 0x100;
  u64 next_page_bid_ = 0x10;
  std::vector<BbtEntry> bbt_;
  std::vector<NbtEntry> nbt_;
  std::vector<std::pair<u64, u64>> gaps_;  // free ranges [begin, end) inside the data area
  Bytes scratch_;
};

}  // namespace mm::pst
