#pragma once
/// LTP layer of the native reader ([MS-PST] 2.3): heap-on-node, BTree-on-heap, property
/// contexts and table contexts, producing mapi::PropertyBag values. Values that are contiguous
/// in one decoded block are set as views pinned by that block (no per-property allocation);
/// values spanning several blocks are concatenated once.
///
/// Objects here belong to one reader handle (single-threaded); they only read the shared,
/// immutable PstFile.
#include <vector>

#include "mailmill/mapi/property.h"
#include "ndb.h"

namespace mm::pst {

/// A byte range inside one of a heap's blocks, with the owner that pins it.
struct Slice {
  ByteView data;
  const std::shared_ptr<const void> *owner = nullptr;
};

/// A node's data and subnodes, loaded once.
struct Node {
  std::vector<BlockRef> blocks;          ///< leaf data blocks of bidData
  std::vector<SubnodeEntry> subnodes;    ///< entries of bidSub, sorted by nid
  const SubnodeEntry *find_sub(u32 nid) const;
};

/// Loads the data tree and subnode tree of a node.
Status load_node(const PstFile &file, u64 bid_data, u64 bid_sub, Node &out);

/// Heap-on-node view over a node's data blocks ([MS-PST] 2.3.1).
class Heap {
 public:
  /// Validates the HNHDR of block 0. SourceCorrupt when the node is not a heap.
  Status open(const Node *node);
  u8 client_sig() const { return client_sig_; }
  u32 user_root() const { return user_root_; }
  /// Allocation for `hid`; an empty slice for hid 0. SourceCorrupt when out of range.
  Result<Slice> get(u32 hid) const;

 private:
  const Node *node_ = nullptr;
  u8 client_sig_ = 0;
  u32 user_root_ = 0;
};

/// BTree-on-heap header ([MS-PST] 2.3.2.1).
struct Bth {
  u8 cb_key = 0;
  u8 cb_ent = 0;
  u8 levels = 0;
  u32 root = 0;
};
/// Reads the BTHHEADER at `hid`.
Result<Bth> open_bth(const Heap &heap, u32 hid);
/// Collects the leaf records of a BTH, in key order, as slices of cb_key + cb_ent bytes.
Status bth_records(const Heap &heap, const Bth &bth, std::vector<Slice> &out);

/// Reads a property context ([MS-PST] 2.3.3) into `bag`. Values of unreadable properties are
/// skipped and counted in `*skipped` (when non-null).
Status read_pc(const PstFile &file, const Node &node, mapi::PropertyBag &bag, u64 *skipped);

/// Table context column ([MS-PST] 2.3.4.2).
struct TcColumn {
  u32 tag = 0;
  u16 ib = 0;
  u8 cb = 0;
  u8 ibit = 0;
};

/// A table context ([MS-PST] 2.3.4) opened over a node.
class Table {
 public:
  /// Parses TCINFO, the row index and locates the row matrix.
  Status open(const PstFile &file, const Node *node);
  u64 row_count() const { return rows_; }
  const std::vector<TcColumn> &columns() const { return cols_; }
  /// dwRowID of row `i` (the first 4 bytes of the row).
  Result<u32> row_id(u64 i) const;
  /// Reads row `i` into `bag` (present cells only; LTP row id/version columns omitted).
  Status read_row(u64 i, mapi::PropertyBag &bag, u64 *skipped) const;

 private:
  Result<Slice> row(u64 i) const;

  const PstFile *file_ = nullptr;
  const Node *node_ = nullptr;
  Heap heap_;
  std::vector<TcColumn> cols_;
  u16 rgib_[4] = {0, 0, 0, 0};
  u64 row_size_ = 0;
  u64 rows_ = 0;
  u64 rows_per_block_ = 0;
  bool rows_in_heap_ = false;
  Slice heap_rows_;
  std::vector<BlockRef> row_blocks_;
};

/// Bytes of a fixed-size property type, or 0 for variable-size types (strings, binary,
/// multi-valued, object, CLSID handled as 16).
u64 fixed_type_size(u16 type);

}  // namespace mm::pst
