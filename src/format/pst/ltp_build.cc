#include "ltp_build.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "mailmill/mapi/property.h"

namespace mm::pst::ltp {

namespace {

constexpr u64 kMaxBlock = BLOCK_MAX_DATA_UNICODE;

// [MS-PST] 2.3.1.5 fill-level buckets (free bytes in a heap block -> 4-bit level).
u8 fill_level(u64 free_bytes) {
  static const u64 kThresholds[] = {3584, 2560, 2048, 1792, 1536, 1280, 1024, 768,
                                    512,  256,  128,  64,   32,   16,   8};
  for (u8 i = 0; i < 15; ++i) {
    if (free_bytes >= kThresholds[i]) return i;
  }
  return 15;
}

}  // namespace

u32 fixed_size(u16 type) {
  switch (type) {
    case mapi::PT_SHORT: return 2;
    case mapi::PT_LONG:
    case mapi::PT_FLOAT:
    case mapi::PT_ERROR: return 4;
    case mapi::PT_BOOLEAN: return 1;
    case mapi::PT_DOUBLE:
    case mapi::PT_CURRENCY:
    case mapi::PT_APPTIME:
    case mapi::PT_I8:
    case mapi::PT_SYSTIME: return 8;
    default: return 0;
  }
}

// ------------------------------------------------------------------------------------------
// Heap-on-node
// ------------------------------------------------------------------------------------------

HeapBuilder::HeapBuilder(u8 client_sig) : client_sig_(client_sig) {}

u64 HeapBuilder::header_size(u64 index) const {
  if (index == 0) return HNHDR_SIZE;
  return hn_block_has_bitmap(index) ? HNBITMAPHDR_SIZE : HNPAGEHDR_SIZE;
}

void HeapBuilder::new_page() {
  Page p;
  p.data.assign(header_size(pages_.size()), '\0');
  pages_.push_back(std::move(p));
}

u32 HeapBuilder::alloc(ByteView data) {
  if (pages_.empty()) new_page();
  // The page map (4 + 2 * (cAlloc + 1) bytes, 2-aligned) follows the allocations; a block
  // holds at most 8176 bytes and 2047 allocations (11-bit hidIndex).
  auto fits = [&](const Page &p) {
    u64 n = p.offsets.size() + 1;
    u64 end = p.data.size() + data.size();
    return n <= 2047 && end + 1 + 4 + 2 * (n + 1) <= kMaxBlock;
  };
  if (!fits(pages_.back())) new_page();
  Page &p = pages_.back();
  p.offsets.push_back(static_cast<u16>(p.data.size()));
  p.data.append(data.data(), data.size());
  return make_hid(static_cast<u32>(pages_.size() - 1), static_cast<u32>(p.offsets.size()));
}

std::vector<Bytes> HeapBuilder::finish() {
  if (pages_.empty()) new_page();
  std::vector<u8> levels(pages_.size());
  std::vector<Bytes> out;
  out.reserve(pages_.size());
  for (u64 i = 0; i < pages_.size(); ++i) {
    Page &p = pages_[i];
    u16 end = static_cast<u16>(p.data.size());
    if (p.data.size() % 2) p.data.push_back('\0');
    u16 ibhnpm = static_cast<u16>(p.data.size());
    put16(p.data, static_cast<u16>(p.offsets.size()));
    put16(p.data, 0);
    for (u16 off : p.offsets) put16(p.data, off);
    put16(p.data, end);
    store16(p.data.data(), ibhnpm);
    levels[i] = fill_level(kMaxBlock - p.data.size());
  }
  // HNHDR and HNBITMAPHDR fill levels: 4 bits per block, low nibble first.
  auto put_levels = [&](char *dst, u64 first, u64 count) {
    for (u64 k = 0; k < count && first + k < levels.size(); ++k) {
      u8 v = levels[first + k];
      dst[k / 2] = static_cast<char>(static_cast<u8>(dst[k / 2]) | ((k % 2) ? (v << 4) : v));
    }
  };
  Bytes &h = pages_[0].data;
  h[HNHDR_OFF_SIG] = static_cast<char>(HN_SIG);
  h[HNHDR_OFF_CLIENT_SIG] = static_cast<char>(client_sig_);
  store32(h.data() + HNHDR_OFF_USER_ROOT, root_);
  put_levels(h.data() + HNHDR_OFF_FILL_LEVEL, 0, 8);
  for (u64 i = 8; i < pages_.size(); ++i) {
    if (hn_block_has_bitmap(i)) put_levels(pages_[i].data.data() + 2, i, 128);
  }
  for (Page &p : pages_) out.push_back(std::move(p.data));
  pages_.clear();
  return out;
}

// ------------------------------------------------------------------------------------------
// BTree-on-heap
// ------------------------------------------------------------------------------------------

u32 build_bth(HeapBuilder &heap, u8 cb_key, u8 cb_ent, ByteView records) {
  const u64 rec = static_cast<u64>(cb_key) + cb_ent;
  u64 n = rec ? records.size() / rec : 0;
  u32 root = 0;
  u8 levels = 0;
  if (n > 0) {
    // Level 0: leaves of as many records as fit in one heap allocation.
    struct Ref {
      std::string_view key;
      u32 hid;
    };
    std::vector<Ref> level;
    u64 per_leaf = HN_MAX_ALLOC / rec;
    for (u64 i = 0; i < n; i += per_leaf) {
      u64 cnt = std::min(per_leaf, n - i);
      u32 hid = heap.alloc(records.substr(i * rec, cnt * rec));
      level.push_back({records.substr(i * rec, cb_key), hid});
    }
    const u64 irec = static_cast<u64>(cb_key) + BTH_HID_SIZE;
    const u64 per_index = HN_MAX_ALLOC / irec;
    while (level.size() > 1) {
      std::vector<Ref> up;
      // Index keys are views into `records` (the first key of each subtree), which stays alive.
      for (u64 i = 0; i < level.size(); i += per_index) {
        u64 cnt = std::min<u64>(per_index, level.size() - i);
        Bytes node;
        node.reserve(cnt * irec);
        for (u64 k = 0; k < cnt; ++k) {
          node.append(level[i + k].key);
          put32(node, level[i + k].hid);
        }
        up.push_back({level[i].key, heap.alloc(node)});
      }
      level = std::move(up);
      ++levels;
    }
    root = level[0].hid;
  }
  Bytes hdr;
  hdr.push_back(static_cast<char>(HN_CLIENT_BTH));
  hdr.push_back(static_cast<char>(cb_key));
  hdr.push_back(static_cast<char>(cb_ent));
  hdr.push_back(static_cast<char>(levels));
  put32(hdr, root);
  return heap.alloc(hdr);
}

// ------------------------------------------------------------------------------------------
// Property context
// ------------------------------------------------------------------------------------------

namespace {

NodeOut stream_node(Bytes owned, ByteView view, bool use_view) {
  NodeOut n;
  n.is_stream = true;
  if (use_view) {
    n.stream = view;
  } else {
    n.owned_stream = std::move(owned);
  }
  return n;
}

}  // namespace

NodeOut build_pc(std::vector<PropIn> props, SubnodeIds &ids) {
  std::stable_sort(props.begin(), props.end(),
                   [](const PropIn &a, const PropIn &b) { return (a.tag >> 16) < (b.tag >> 16); });
  NodeOut out;
  HeapBuilder heap(HN_CLIENT_PC);
  Bytes recs;
  recs.reserve(props.size() * 8);
  u32 last_id = 0xFFFFFFFF;
  for (PropIn &p : props) {
    u16 id = static_cast<u16>(p.tag >> 16);
    u16 type = static_cast<u16>(p.tag);
    if (id == last_id) continue;  // duplicate id: first wins
    last_id = id;
    u32 hnid = 0;
    u32 fs = fixed_size(type);
    ByteView v = p.bytes();
    if (type == mapi::PT_OBJECT && p.object) {
      // [MS-PST] 2.3.3.5: a PtypObject value is an HID to {subnode NID, size}.
      Bytes ref;
      put32(ref, p.object->nid);
      put32(ref, static_cast<u32>(p.object->node.data().size()));
      hnid = heap.alloc(ref);
      out.subnodes.push_back(std::move(*p.object));
    } else if (fs > 0 && fs <= 4) {
      char tmp[4] = {0, 0, 0, 0};
      std::memcpy(tmp, v.data(), std::min<u64>(v.size(), fs));
      hnid = load_le32(tmp);
    } else if (v.size() <= HN_MAX_ALLOC) {
      hnid = heap.alloc(v);
    } else {
      SubnodeOut sub;
      sub.nid = ids.next();
      sub.node = stream_node(std::move(p.value), p.view, p.use_view);
      hnid = sub.nid;
      out.subnodes.push_back(std::move(sub));
    }
    put16(recs, id);
    put16(recs, type);
    put32(recs, hnid);
  }
  heap.set_root(build_bth(heap, 2, 6, recs));
  out.blocks = heap.finish();
  return out;
}

// ------------------------------------------------------------------------------------------
// Table context
// ------------------------------------------------------------------------------------------

namespace {

u8 cell_size(u16 type) {
  u32 fs = fixed_size(type);
  if (fs == 0) return 4;  // HNID
  return static_cast<u8>(fs);
}

}  // namespace

TcBuilder::TcBuilder(std::vector<u32> tags) : heap_(HN_CLIENT_TC) {
  cols_.push_back({TAG_LTP_ROW_ID, 0, 4, 0});
  cols_.push_back({TAG_LTP_ROW_VER, 4, 4, 1});
  for (u32 t : tags) cols_.push_back({t, 0, cell_size(static_cast<u16>(t)), 0});
  // Row layout ([MS-PST] 2.3.4.1): 8- and 4-byte cells, then 2-byte, then 1-byte, then the CEB.
  u16 ib = 8;
  for (u8 want : {8, 4, 2, 1}) {
    for (u64 i = 2; i < cols_.size(); ++i) {
      if (cols_[i].cb != want) continue;
      cols_[i].ib = ib;
      ib = static_cast<u16>(ib + want);
    }
    if (want == 4) rgib_[TCI_4B] = ib;
    if (want == 2) rgib_[TCI_2B] = ib;
    if (want == 1) rgib_[TCI_1B] = ib;
  }
  for (u64 i = 0; i < cols_.size(); ++i) cols_[i].ibit = static_cast<u8>(i);
  rgib_[TCI_BM] = static_cast<u16>(ib + (cols_.size() + 7) / 8);
  row_size_ = rgib_[TCI_BM];
  for (u64 i = 0; i < tags.size(); ++i) user_index_.push_back(static_cast<u32>(i + 2));
}

void TcBuilder::add_row(u32 row_id, const std::vector<Cell> &cells) {
  u64 base = rows_.size();
  rows_.append(row_size_, '\0');
  char *row = rows_.data() + base;
  char *ceb = row + rgib_[TCI_1B];
  auto set_bit = [&](u8 ibit) { ceb[ibit / 8] = static_cast<char>(ceb[ibit / 8] | (0x80 >> (ibit % 8))); };
  store32(row, row_id);
  store32(row + 4, static_cast<u32>(row_ids_.size() + 1));
  set_bit(0);
  set_bit(1);
  for (u64 i = 0; i < cells.size() && i < user_index_.size(); ++i) {
    const Cell &c = cells[i];
    if (!c.present) continue;
    Col &col = cols_[user_index_[i]];
    u16 type = static_cast<u16>(col.tag);
    if (fixed_size(type) != 0) {
      // Re-fetch the row pointer: heap allocations below never touch rows_, so it is stable.
      std::memcpy(row + col.ib, c.value.data(), std::min<u64>(c.value.size(), col.cb));
    } else {
      u32 hnid;
      if (c.value.size() <= HN_MAX_ALLOC) {
        hnid = heap_.alloc(c.value);
      } else {
        SubnodeOut sub;
        sub.nid = cell_ids_.next();
        sub.node.is_stream = true;
        sub.node.owned_stream = c.value;
        hnid = sub.nid;
        big_cells_.push_back(std::move(sub));
      }
      store32(row + col.ib, hnid);
    }
    set_bit(col.ibit);
  }
  row_ids_.push_back(row_id);
}

NodeOut TcBuilder::finish() {
  NodeOut out;
  // Row index BTH: dwRowID -> dwRowIndex, sorted by row id.
  std::vector<u32> order(row_ids_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](u32 a, u32 b) { return row_ids_[a] < row_ids_[b]; });
  Bytes idx;
  idx.reserve(order.size() * 8);
  for (u32 i : order) {
    put32(idx, row_ids_[i]);
    put32(idx, i);
  }
  u32 hid_row_index = build_bth(heap_, 4, 4, idx);
  u32 hnid_rows = 0;
  if (!rows_.empty()) {
    if (rows_.size() <= HN_MAX_ALLOC) {
      hnid_rows = heap_.alloc(rows_);
    } else {
      // Row matrix in a subnode: rows never span blocks ([MS-PST] 2.3.4.4).
      SubnodeOut sub;
      sub.nid = cell_ids_.next();
      u64 per_block = kMaxBlock / row_size_;
      u64 n = row_ids_.size();
      for (u64 i = 0; i < n; i += per_block) {
        u64 cnt = std::min(per_block, n - i);
        sub.node.blocks.push_back(rows_.substr(i * row_size_, cnt * row_size_));
      }
      hnid_rows = sub.nid;
      out.subnodes.push_back(std::move(sub));
    }
  }
  Bytes info;
  info.push_back(static_cast<char>(HN_CLIENT_TC));
  info.push_back(static_cast<char>(cols_.size()));
  for (u16 v : rgib_) put16(info, v);
  put32(info, hid_row_index);
  put32(info, hnid_rows);
  put32(info, 0);
  std::vector<Col> sorted = cols_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Col &a, const Col &b) { return a.tag < b.tag; });
  for (const Col &c : sorted) {
    put32(info, c.tag);
    put16(info, c.ib);
    info.push_back(static_cast<char>(c.cb));
    info.push_back(static_cast<char>(c.ibit));
  }
  heap_.set_root(heap_.alloc(info));
  out.blocks = heap_.finish();
  for (SubnodeOut &s : big_cells_) out.subnodes.push_back(std::move(s));
  big_cells_.clear();
  rows_.clear();
  rows_.shrink_to_fit();
  return out;
}

}  // namespace mm::pst::ltp
