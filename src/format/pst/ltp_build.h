#pragma once
/// LTP builders for the PST writer ([MS-PST] 2.3): heap-on-node, BTree-on-heap, property
/// context and table context. They produce a node's data blocks and subnodes in memory; the NDB
/// layer (writer.cc) turns them into blocks on disk. Private to the pst module.
#include <memory>
#include <string>
#include <vector>

#include "layout.h"
#include "mailmill/util/types.h"

namespace mm::pst::ltp {

struct SubnodeOut;

/// A node ready for the NDB layer: either data blocks (`blocks`, each <= 8176 bytes: one HN
/// page each, or row-matrix blocks) or one byte stream (`stream`, split into 8176-byte blocks by
/// the NDB layer; the view must outlive the write). Plus the node's subnodes.
struct NodeOut {
  std::vector<Bytes> blocks;
  Bytes owned_stream;        ///< stream bytes owned here (when the value was computed)
  ByteView stream;           ///< stream view (into owned_stream or caller memory)
  bool is_stream = false;
  std::vector<SubnodeOut> subnodes;
  /// The stream bytes (owned_stream when set, else stream).
  ByteView data() const { return owned_stream.empty() ? stream : ByteView(owned_stream); }
};

/// One subnode entry (SLENTRY) with its content.
struct SubnodeOut {
  u32 nid = 0;
  NodeOut node;
};

/// Allocates subnode NIDs unique within one node (NID_TYPE_LTP unless told otherwise).
class SubnodeIds {
 public:
  u32 next(u32 type = NID_TYPE_LTP) { return make_nid(type, next_index_++); }

 private:
  u32 next_index_ = 0x20;
};

/// Builds a (possibly multi-block) heap-on-node. Not thread-safe; cheap to create.
class HeapBuilder {
 public:
  explicit HeapBuilder(u8 client_sig);
  /// Allocates `data` (at most HN_MAX_ALLOC bytes) and returns its HID.
  u32 alloc(ByteView data);
  /// Sets hidUserRoot.
  void set_root(u32 hid) { root_ = hid; }
  /// Returns the heap pages (one data block each). The builder is spent afterwards.
  std::vector<Bytes> finish();

 private:
  struct Page {
    Bytes data;                 // header + allocations
    std::vector<u16> offsets;   // start offset of each allocation
  };
  u64 header_size(u64 index) const;
  void new_page();
  u8 client_sig_;
  u32 root_ = 0;
  std::vector<Page> pages_;
};

/// Builds a BTH in `heap` from `records` (each cb_key + cb_ent bytes, sorted by key ascending,
/// keys compared as little-endian unsigned integers). Returns the HID of the BTHHEADER.
u32 build_bth(HeapBuilder &heap, u8 cb_key, u8 cb_ent, ByteView records);

/// One property to store: tag (id << 16 | type) and the value in on-disk form
/// (mapi::Property conventions). `view` may point to caller memory that outlives the write
/// (used for large attachment data); otherwise `value` owns the bytes.
struct PropIn {
  u32 tag = 0;
  Bytes value;
  ByteView view;
  bool use_view = false;
  /// For PT_OBJECT: the subnode that holds the object (an embedded message), its size.
  std::unique_ptr<SubnodeOut> object;
  ByteView bytes() const { return use_view ? view : ByteView(value); }
};

/// Builds a property context. Properties must have distinct ids (sorted here). Values larger
/// than HN_MAX_ALLOC go to subnodes (ids from `ids`).
NodeOut build_pc(std::vector<PropIn> props, SubnodeIds &ids);

/// A cell for TcBuilder::add_row; absent cells are not set in the CEB.
struct Cell {
  bool present = false;
  Bytes value;  ///< on-disk form (fixed types: little-endian natural size)
};

/// Builds a table context row by row; memory is the encoded rows plus the heap.
class TcBuilder {
 public:
  /// `tags`: the columns (without LtpRowId/LtpRowVer, which are added).
  explicit TcBuilder(std::vector<u32> tags);
  /// Adds a row; `cells` in the order of the constructor's tags.
  void add_row(u32 row_id, const std::vector<Cell> &cells);
  i64 rows() const { return static_cast<i64>(row_ids_.size()); }
  /// Produces the node (row matrix in the heap or in a subnode; large cells in subnodes).
  NodeOut finish();

 private:
  struct Col {
    u32 tag;
    u16 ib;
    u8 cb;
    u8 ibit;
  };
  std::vector<Col> cols_;        // in constructor order + row id/ver
  std::vector<u32> user_index_;  // constructor column i -> cols_ index
  u16 rgib_[4] = {0, 0, 0, 0};
  u64 row_size_ = 0;
  Bytes rows_;
  std::vector<u32> row_ids_;
  HeapBuilder heap_;
  std::vector<SubnodeOut> big_cells_;
  SubnodeIds cell_ids_;
};

/// Little-endian append helpers.
inline void put16(Bytes &b, u16 v) {
  b.push_back(static_cast<char>(v));
  b.push_back(static_cast<char>(v >> 8));
}
inline void put32(Bytes &b, u32 v) {
  put16(b, static_cast<u16>(v));
  put16(b, static_cast<u16>(v >> 16));
}
inline void put64(Bytes &b, u64 v) {
  put32(b, static_cast<u32>(v));
  put32(b, static_cast<u32>(v >> 32));
}
inline void store16(char *p, u16 v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
inline void store32(char *p, u32 v) {
  store16(p, static_cast<u16>(v));
  store16(p + 2, static_cast<u16>(v >> 16));
}
inline void store64(char *p, u64 v) {
  store32(p, static_cast<u32>(v));
  store32(p + 4, static_cast<u32>(v >> 32));
}

/// On-disk size of a fixed-size property type, or 0 for variable-size types.
u32 fixed_size(u16 type);

}  // namespace mm::pst::ltp
