#include "ltp.h"

#include <algorithm>

#include "mailmill/util/text.h"

namespace mm::pst {
namespace {

Problem bad(std::string detail) {
  return Problem{ProblemCode::SourceCorrupt, std::move(detail), -1};
}

using text::hex_u64;

constexpr u16 PID_LTP_ROW_ID = 0x67F2;
constexpr u16 PID_LTP_ROW_VER = 0x67F3;

// An HNID value: a heap allocation, or a subnode's whole data stream ([MS-PST] 2.3.3.2).
Status resolve_hnid(const PstFile &file, const Heap &heap, const Node &node, u32 hnid, u32 tag,
                    mapi::PropertyBag &bag) {
  if (hnid_is_hid(hnid)) {
    Result<Slice> s = heap.get(hnid);
    if (!s) return s.problem();
    bag.set_view(tag, s->data, *s->owner);
    return {};
  }
  const SubnodeEntry *sub = node.find_sub(hnid);
  if (sub == nullptr) return bad("property subnode " + hex_u64(hnid) + " is missing");
  Result<BlockRef> stream = file.read_stream(sub->bid_data);
  if (!stream) return stream.problem();
  bag.set_view(tag, stream->data, std::move(stream->owner));
  return {};
}

}  // namespace

u64 fixed_type_size(u16 type) {
  switch (type) {
    case mapi::PT_BOOLEAN: return 1;
    case mapi::PT_SHORT: return 2;
    case mapi::PT_LONG:
    case mapi::PT_FLOAT:
    case mapi::PT_ERROR: return 4;
    case mapi::PT_DOUBLE:
    case mapi::PT_CURRENCY:
    case mapi::PT_APPTIME:
    case mapi::PT_I8:
    case mapi::PT_SYSTIME: return 8;
    case mapi::PT_CLSID: return 16;
    default: return 0;
  }
}

const SubnodeEntry *Node::find_sub(u32 nid) const {
  auto it = std::lower_bound(subnodes.begin(), subnodes.end(), nid,
                             [](const SubnodeEntry &a, u32 n) { return a.nid < n; });
  return it != subnodes.end() && it->nid == nid ? &*it : nullptr;
}

Status load_node(const PstFile &file, u64 bid_data, u64 bid_sub, Node &out) {
  out.blocks.clear();
  out.subnodes.clear();
  if (bid_data == 0) return bad("node has no data block");
  if (Status s = file.read_data_tree(bid_data, out.blocks); !s) return s;
  return file.read_subnodes(bid_sub, out.subnodes);
}

Status Heap::open(const Node *node) {
  node_ = node;
  if (node->blocks.empty()) return bad("heap node has no blocks");
  ByteView d = node->blocks[0].data;
  if (d.size() < HNHDR_SIZE) return bad("heap block too small");
  const auto *p = reinterpret_cast<const u8 *>(d.data());
  if (p[HNHDR_OFF_SIG] != HN_SIG) return bad("heap signature is not 0xEC");
  client_sig_ = p[HNHDR_OFF_CLIENT_SIG];
  user_root_ = load_le32(p + HNHDR_OFF_USER_ROOT);
  return {};
}

// HID -> block index + allocation index; the block's HNPAGEMAP gives the allocation bounds
// ([MS-PST] 2.3.1.5). Everything is checked against the block size.
Result<Slice> Heap::get(u32 hid) const {
  if (node_ == nullptr || node_->blocks.empty()) return bad("heap not open");
  if (hid == 0) return Slice{ByteView(), &node_->blocks[0].owner};
  if (!hnid_is_hid(hid)) return bad("value " + hex_u64(hid) + " is not a HID");
  const u32 bi = hid_block(hid);
  const u32 idx = hid_index(hid);
  if (bi >= node_->blocks.size() || idx == 0) return bad("HID " + hex_u64(hid) + " out of range");
  const BlockRef &b = node_->blocks[bi];
  ByteView d = b.data;
  const auto *p = reinterpret_cast<const u8 *>(d.data());
  if (d.size() < 2) return bad("heap block too small");
  const u64 ibhnpm = load_le16(p);
  if (ibhnpm + 4 > d.size()) return bad("heap page map outside its block");
  const u64 calloc = load_le16(p + ibhnpm);
  if (idx > calloc || ibhnpm + 4 + 2 * (calloc + 1) > d.size()) {
    return bad("HID " + hex_u64(hid) + " beyond the heap page map");
  }
  const u8 *rgib = p + ibhnpm + HNPAGEMAP_OFF_RGIB;
  const u64 start = load_le16(rgib + 2 * (idx - 1));
  const u64 end = load_le16(rgib + 2 * idx);
  if (start > end || end > ibhnpm) return bad("HID " + hex_u64(hid) + " has bad bounds");
  return Slice{d.substr(start, end - start), &b.owner};
}

Result<Bth> open_bth(const Heap &heap, u32 hid) {
  Result<Slice> s = heap.get(hid);
  if (!s) return s.problem();
  ByteView d = s->data;
  const auto *p = reinterpret_cast<const u8 *>(d.data());
  if (d.size() < BTHHDR_SIZE || p[BTHHDR_OFF_TYPE] != HN_CLIENT_BTH) {
    return bad("BTH header missing");
  }
  Bth b;
  b.cb_key = p[BTHHDR_OFF_CB_KEY];
  b.cb_ent = p[BTHHDR_OFF_CB_ENT];
  b.levels = p[BTHHDR_OFF_IDX_LEVELS];
  b.root = load_le32(p + BTHHDR_OFF_HID_ROOT);
  if (b.cb_key == 0 || b.cb_key > 16 || b.cb_ent == 0 || b.levels > 8) {
    return bad("BTH header has bad sizes");
  }
  return b;
}

namespace {

Status bth_walk(const Heap &heap, const Bth &bth, u32 hid, int level, u64 &budget,
                std::vector<Slice> &out) {
  if (hid == 0) return {};
  if (budget == 0) return bad("BTH references too many records");
  --budget;
  Result<Slice> s = heap.get(hid);
  if (!s) return s.problem();
  ByteView d = s->data;
  if (level == 0) {
    const u64 rec = bth.cb_key + bth.cb_ent;
    for (u64 off = 0; off + rec <= d.size(); off += rec) {
      out.push_back(Slice{d.substr(off, rec), s->owner});
    }
    return {};
  }
  const u64 rec = bth.cb_key + BTH_HID_SIZE;
  for (u64 off = 0; off + rec <= d.size(); off += rec) {
    u32 child = load_le32(d.data() + off + bth.cb_key);
    if (Status st = bth_walk(heap, bth, child, level - 1, budget, out); !st) return st;
  }
  return {};
}

}  // namespace

// Levels strictly decrease, so the walk ends; a shared-child DAG is bounded by `budget`.
Status bth_records(const Heap &heap, const Bth &bth, std::vector<Slice> &out) {
  u64 budget = 1 << 16;
  return bth_walk(heap, bth, bth.root, bth.levels, budget, out);
}

Status read_pc(const PstFile &file, const Node &node, mapi::PropertyBag &bag, u64 *skipped) {
  Heap heap;
  if (Status s = heap.open(&node); !s) return s;
  if (heap.client_sig() != HN_CLIENT_PC) {
    return bad("node is not a property context (client signature " + hex_u64(heap.client_sig()) +
               ")");
  }
  Result<Bth> bth = open_bth(heap, heap.user_root());
  if (!bth) return bth.problem();
  if (bth->cb_key != PC_CB_KEY || bth->cb_ent != PC_CB_ENT) return bad("PC BTH has bad sizes");
  std::vector<Slice> recs;
  if (Status s = bth_records(heap, *bth, recs); !s) return s;
  for (const Slice &r : recs) {
    const char *p = r.data.data();
    const u16 id = load_le16(p);
    const u16 type = load_le16(p + 2);
    const u32 hnid = load_le32(p + 4);
    const u32 tag = mapi::make_tag(id, type);
    const u64 fs = fixed_type_size(type);
    if (fs > 0 && fs <= 4) {
      // Small fixed values live in dwValueHnid itself ([MS-PST] 2.3.3.3).
      bag.set_view(tag, r.data.substr(4, fs), *r.owner);
      continue;
    }
    if (type == mapi::PT_NULL || type == mapi::PT_UNSPECIFIED) {
      bag.set_view(tag, ByteView());
      continue;
    }
    if (fs > 4) {
      Result<Slice> s = heap.get(hnid);
      if (!s || s->data.size() < fs) {
        if (skipped != nullptr) ++*skipped;
        continue;
      }
      bag.set_view(tag, s->data.substr(0, fs), *s->owner);
      continue;
    }
    if (Status s = resolve_hnid(file, heap, node, hnid, tag, bag); !s) {
      if (skipped != nullptr) ++*skipped;
    }
  }
  return {};
}

Status Table::open(const PstFile &file, const Node *node) {
  file_ = &file;
  node_ = node;
  if (Status s = heap_.open(node); !s) return s;
  if (heap_.client_sig() != HN_CLIENT_TC) {
    return bad("node is not a table context (client signature " + hex_u64(heap_.client_sig()) +
               ")");
  }
  Result<Slice> info = heap_.get(heap_.user_root());
  if (!info) return info.problem();
  ByteView d = info->data;
  const auto *p = reinterpret_cast<const u8 *>(d.data());
  if (d.size() < TCINFO_HDR_SIZE || p[TCINFO_OFF_TYPE] != HN_CLIENT_TC) {
    return bad("TCINFO missing");
  }
  const u64 ncols = p[TCINFO_OFF_CCOLS];
  if (TCINFO_HDR_SIZE + ncols * TCOLDESC_SIZE > d.size()) return bad("TCINFO truncated");
  for (int i = 0; i < 4; ++i) rgib_[i] = load_le16(p + TCINFO_OFF_RGIB + 2 * i);
  row_size_ = rgib_[TCI_BM];
  const u64 ceb = (ncols + 7) / 8;
  if (rgib_[TCI_4B] > rgib_[TCI_2B] || rgib_[TCI_2B] > rgib_[TCI_1B] ||
      rgib_[TCI_1B] + ceb > row_size_) {
    return bad("TCINFO row layout is inconsistent");
  }
  cols_.clear();
  for (u64 i = 0; i < ncols; ++i) {
    const u8 *c = p + TCINFO_OFF_COLS + i * TCOLDESC_SIZE;
    TcColumn col{load_le32(c + TCOLDESC_OFF_TAG), load_le16(c + TCOLDESC_OFF_IB),
                 c[TCOLDESC_OFF_CB], c[TCOLDESC_OFF_IBIT]};
    if (col.ib + col.cb > rgib_[TCI_1B] || col.ibit / 8u >= ceb || col.cb == 0) {
      return bad("TCOLDESC " + std::to_string(i) + " is outside the row");
    }
    cols_.push_back(col);
  }

  // Row count from the row index BTH (dwRowID -> dwRowIndex), when there is one.
  const u32 hid_index = load_le32(p + TCINFO_OFF_HID_ROW_INDEX);
  u64 indexed = 0;
  bool have_index = false;
  if (hid_index != 0) {
    Result<Bth> bth = open_bth(heap_, hid_index);
    if (bth) {
      std::vector<Slice> recs;
      if (bth_records(heap_, *bth, recs)) {
        indexed = recs.size();
        have_index = true;
      }
    }
  }

  // Row matrix: a heap allocation, or a subnode whose blocks each hold whole rows
  // ([MS-PST] 2.3.4.4: rows never straddle blocks).
  const u32 hnid_rows = load_le32(p + TCINFO_OFF_HNID_ROWS);
  u64 capacity = 0;
  rows_in_heap_ = false;
  row_blocks_.clear();
  if (hnid_rows != 0) {
    if (row_size_ == 0) return bad("table has rows of size 0");
    if (hnid_is_hid(hnid_rows)) {
      Result<Slice> rows = heap_.get(hnid_rows);
      if (!rows) return rows.problem();
      heap_rows_ = *rows;
      rows_in_heap_ = true;
      capacity = heap_rows_.data.size() / row_size_;
    } else {
      const SubnodeEntry *sub = node->find_sub(hnid_rows);
      if (sub == nullptr) return bad("row matrix subnode " + hex_u64(hnid_rows) + " is missing");
      if (Status s = file.read_data_tree(sub->bid_data, row_blocks_); !s) return s;
      rows_per_block_ = file.max_block_data() / row_size_;
      if (rows_per_block_ == 0) return bad("table rows larger than a block");
      for (const BlockRef &b : row_blocks_) {
        capacity += std::min<u64>(rows_per_block_, b.data.size() / row_size_);
      }
    }
  }
  rows_ = have_index ? std::min(indexed, capacity) : capacity;
  return {};
}

Result<Slice> Table::row(u64 i) const {
  if (i >= rows_) return bad("row index out of range");
  if (rows_in_heap_) {
    return Slice{heap_rows_.data.substr(i * row_size_, row_size_), heap_rows_.owner};
  }
  const u64 b = i / rows_per_block_;
  const u64 off = (i % rows_per_block_) * row_size_;
  if (b >= row_blocks_.size() || off + row_size_ > row_blocks_[b].data.size()) {
    return bad("row " + std::to_string(i) + " is outside the row matrix");
  }
  return Slice{row_blocks_[b].data.substr(off, row_size_), &row_blocks_[b].owner};
}

Result<u32> Table::row_id(u64 i) const {
  Result<Slice> r = row(i);
  if (!r) return r.problem();
  if (r->data.size() < 4) return bad("row too short");
  return load_le32(r->data.data());
}

Status Table::read_row(u64 i, mapi::PropertyBag &bag, u64 *skipped) const {
  Result<Slice> r = row(i);
  if (!r) return r.problem();
  const char *p = r->data.data();
  const auto *ceb = reinterpret_cast<const u8 *>(p + rgib_[TCI_1B]);
  for (const TcColumn &c : cols_) {
    const u16 id = mapi::tag_id(c.tag);
    if (id == PID_LTP_ROW_ID || id == PID_LTP_ROW_VER) continue;
    if (!ceb_bit(ceb, c.ibit)) continue;
    const u16 type = mapi::tag_type(c.tag);
    const u64 fs = fixed_type_size(type);
    if (fs > 0 && fs <= 8) {
      // Fixed values up to 8 bytes are stored in the row ([MS-PST] 2.3.4.4.1).
      bag.set_view(c.tag, r->data.substr(c.ib, std::min<u64>(c.cb, fs)), *r->owner);
      continue;
    }
    if (c.cb != 4) {
      if (skipped != nullptr) ++*skipped;
      continue;
    }
    const u32 hnid = load_le32(p + c.ib);
    if (Status s = resolve_hnid(*file_, heap_, *node_, hnid, c.tag, bag); !s) {
      if (skipped != nullptr) ++*skipped;
    }
  }
  return {};
}

}  // namespace mm::pst
