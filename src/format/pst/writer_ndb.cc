#include "writer_ndb.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "crc.h"
#include "crypt.h"

namespace mm::pst {

namespace {

using ltp::put16;
using ltp::put32;
using ltp::put64;
using ltp::store16;
using ltp::store32;
using ltp::store64;

constexpr u64 kFirstAMap = 0x4400;
constexpr u64 kAMapCoverage = 496 * 8 * 64;  // 253,952 bytes per AMap
constexpr u64 kDListOffset = 0x4200;
constexpr std::size_t kChunk = 8u << 20;  // direct-I/O chunk (util::AppendFile)
constexpr u64 kXEntries = (BLOCK_MAX_DATA_UNICODE - XBLOCK_HDR_SIZE) / 8;                // 1021
constexpr u64 kSlEntries = (BLOCK_MAX_DATA_UNICODE - SBLOCK_HDR_SIZE_UNICODE) / SLENTRY_SIZE_UNICODE;  // 340
constexpr u64 kSiEntries = (BLOCK_MAX_DATA_UNICODE - SBLOCK_HDR_SIZE_UNICODE) / SIENTRY_SIZE_UNICODE;  // 510

// Map pages at the start of AMap region r: the AMap itself, a PMap every 8 regions, an FMap
// in region 128 and every 496 regions after it, an FPMap in region 1024 and every 3968 after
// it. The header's rgbFM/rgbFP stand for the first ones ([MS-PST] 2.2.2.7.2 - 2.2.2.7.5).
bool has_pmap(u64 r) { return r % 8 == 0; }
bool has_fmap(u64 r) { return r >= 128 && (r - 128) % 496 == 0; }
bool has_fpmap(u64 r) { return r >= 1024 && (r - 1024) % (496 * 8) == 0; }

}  // namespace

u64 NdbWriter::map_bytes(u64 r) {
  return PAGE_SIZE * (1 + has_pmap(r) + has_fmap(r) + has_fpmap(r));
}

Result<std::unique_ptr<NdbWriter>> NdbWriter::open(const std::string &path, u8 crypt_method) {
  std::unique_ptr<NdbWriter> w(new NdbWriter());
  try {
    w->file_ = std::make_unique<util::AppendFile>(path, util::AppendFile::Open::Truncate,
                                                  util::default_io_mode(), kChunk);
  } catch (const FatalError &e) {
    return Problem{ProblemCode::OutputWriteFailed, e.what()};
  }
  w->crypt_ = crypt_method;
  // Header + DList area and region 0's map pages are filled in at finish().
  w->eof_ = kFirstAMap + map_bytes(0);
  w->file_->append_zeros(w->eof_);
  return w;
}

void NdbWriter::emit(ByteView data) {
  file_->append(data);
  eof_ += data.size();
}

// Returns the offset for `size` bytes aligned to `align`, skipping map pages and never
// straddling an AMap region boundary. Skipped bytes are zero-filled and recorded as free.
u64 NdbWriter::allocate(u64 size, u64 align) {
  u64 pos = (eof_ + align - 1) / align * align;
  for (;;) {
    u64 r = (pos - kFirstAMap) / kAMapCoverage;
    u64 start = kFirstAMap + r * kAMapCoverage;
    u64 data_start = start + map_bytes(r);
    if (pos < data_start) {
      pos = data_start;  // map pages (written at finish) are allocated, not free
      if (eof_ < start) gaps_.push_back({eof_, start});
      file_->append_zeros(pos - eof_);
      eof_ = pos;
      continue;
    }
    if (pos + size > start + kAMapCoverage) {
      pos = start + kAMapCoverage;
      continue;
    }
    break;
  }
  if (pos > eof_) {
    gaps_.push_back({eof_, pos});
    file_->append_zeros(pos - eof_);
    eof_ = pos;
  }
  return pos;
}

u64 NdbWriter::write_block(ByteView data, bool internal) {
  u64 bid = next_bid_;
  next_bid_ += BID_INCREMENT;
  if (internal) bid |= BID_INTERNAL_BIT;
  u64 cb = data.size();
  u64 disk = block_disk_size(cb, BTRU_SIZE, BLOCK_ALIGN);
  u64 ib = allocate(disk, BLOCK_ALIGN);
  scratch_.assign(data.data(), data.size());
  if (!internal && crypt_ != NDB_CRYPT_NONE) {
    encode_block(crypt_, reinterpret_cast<u8 *>(scratch_.data()), cb, bid);
  }
  u32 crc = pst_crc(0, scratch_);
  scratch_.resize(disk - BTRU_SIZE, '\0');
  put16(scratch_, static_cast<u16>(cb));
  put16(scratch_, compute_sig(ib, bid));
  put32(scratch_, crc);
  put64(scratch_, bid);
  emit(scratch_);
  bbt_.push_back({bid, ib, static_cast<u16>(cb)});
  return bid;
}

u64 NdbWriter::write_data_tree(const ltp::NodeOut &node) {
  std::vector<u64> bids;
  u64 total = 0;
  if (node.is_stream) {
    ByteView d = node.data();
    total = d.size();
    for (u64 off = 0; off < d.size(); off += BLOCK_MAX_DATA_UNICODE) {
      bids.push_back(write_block(d.substr(off, BLOCK_MAX_DATA_UNICODE), false));
    }
  } else {
    for (const Bytes &b : node.blocks) {
      total += b.size();
      bids.push_back(write_block(b, false));
    }
  }
  if (bids.empty()) return write_block(ByteView(), false);
  if (bids.size() == 1) return bids[0];
  // XBLOCK over data blocks; XXBLOCK over XBLOCKs when more than 1021 blocks. lcbTotal is the
  // byte count under each (X)XBLOCK.
  auto xblock = [&](u8 level, const u64 *ids, u64 n, u64 bytes) {
    Bytes x;
    x.push_back(static_cast<char>(BTYPE_XBLOCK));
    x.push_back(static_cast<char>(level));
    put16(x, static_cast<u16>(n));
    put32(x, static_cast<u32>(bytes));
    for (u64 i = 0; i < n; ++i) put64(x, ids[i]);
    return write_block(x, true);
  };
  if (bids.size() <= kXEntries) return xblock(XBLOCK_LEVEL, bids.data(), bids.size(), total);
  std::vector<u64> xs;
  u64 per_x = kXEntries * BLOCK_MAX_DATA_UNICODE;
  for (u64 i = 0; i < bids.size(); i += kXEntries) {
    u64 n = std::min<u64>(kXEntries, bids.size() - i);
    u64 bytes = std::min<u64>(per_x, total - (i / kXEntries) * per_x);
    if (!node.is_stream) {
      bytes = 0;
      for (u64 k = i; k < i + n; ++k) bytes += node.blocks[k].size();
    }
    xs.push_back(xblock(XBLOCK_LEVEL, bids.data() + i, n, bytes));
  }
  return xblock(XXBLOCK_LEVEL, xs.data(), xs.size(), total);
}

u64 NdbWriter::write_subnode_tree(const std::vector<ltp::SubnodeOut> &subs) {
  if (subs.empty()) return 0;
  std::vector<const ltp::SubnodeOut *> sorted;
  sorted.reserve(subs.size());
  for (const auto &s : subs) sorted.push_back(&s);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const ltp::SubnodeOut *a, const ltp::SubnodeOut *b) { return a->nid < b->nid; });
  struct Entry {
    u64 nid, data, sub;
  };
  std::vector<Entry> entries;
  for (const ltp::SubnodeOut *s : sorted) {
    u64 d = write_data_tree(s->node);
    u64 sb = write_subnode_tree(s->node.subnodes);
    entries.push_back({s->nid, d, sb});
  }
  std::vector<std::pair<u64, u64>> sls;  // first nid, SLBLOCK bid
  for (u64 i = 0; i < entries.size(); i += kSlEntries) {
    u64 n = std::min<u64>(kSlEntries, entries.size() - i);
    Bytes b;
    b.push_back(static_cast<char>(BTYPE_SUBNODE));
    b.push_back(static_cast<char>(SLBLOCK_LEVEL));
    put16(b, static_cast<u16>(n));
    put32(b, 0);
    for (u64 k = i; k < i + n; ++k) {
      put64(b, entries[k].nid);
      put64(b, entries[k].data);
      put64(b, entries[k].sub);
    }
    sls.push_back({entries[i].nid, write_block(b, true)});
  }
  if (sls.size() == 1) return sls[0].second;
  // One SIBLOCK level (up to 510 x 340 = 173,400 subnodes per node).
  std::vector<std::pair<u64, u64>> sis;
  for (u64 i = 0; i < sls.size(); i += kSiEntries) {
    u64 n = std::min<u64>(kSiEntries, sls.size() - i);
    Bytes b;
    b.push_back(static_cast<char>(BTYPE_SUBNODE));
    b.push_back(static_cast<char>(SIBLOCK_LEVEL));
    put16(b, static_cast<u16>(n));
    put32(b, 0);
    for (u64 k = i; k < i + n; ++k) {
      put64(b, sls[k].first);
      put64(b, sls[k].second);
    }
    sis.push_back({sls[i].first, write_block(b, true)});
  }
  return sis[0].second;  // more than one SIBLOCK is beyond what nodes here need
}

void NdbWriter::add_node(u32 nid, u32 parent_nid, const ltp::NodeOut &node) {
  u64 d = write_data_tree(node);
  u64 s = write_subnode_tree(node.subnodes);
  nbt_.push_back({nid, d, s, parent_nid});
}

u64 NdbWriter::write_page(Bytes &page, u8 ptype, u64 bid, u64 ib) {
  page.resize(PAGE_SIZE, '\0');
  char *t = page.data() + PTRU_OFF;
  t[PTRU_OFF_PTYPE] = static_cast<char>(ptype);
  t[PTRU_OFF_PTYPE_REPEAT] = static_cast<char>(ptype);
  bool map = ptype == PTYPE_AMAP || ptype == PTYPE_PMAP || ptype == PTYPE_FMAP || ptype == PTYPE_FPMAP;
  store16(t + PTRU_OFF_SIG, map ? 0 : compute_sig(ib, bid));
  store32(t + PTRU_OFF_CRC, pst_crc(0, ByteView(page.data(), PTRU_OFF)));
  store64(t + PTRU_OFF_BID, bid);
  return bid;
}

// Writes one level of a BTree given the entries of each page; returns the BREF of the root
// after building the levels above.
Bref NdbWriter::write_btree_level(std::vector<Bytes> &pages, u8 ptype, u8 level) {
  const u64 leaf_size = ptype == PTYPE_NBT ? NBTENTRY_SIZE_UNICODE : BBTENTRY_SIZE_UNICODE;
  for (;;) {
    const u64 esize = level == 0 ? leaf_size : BTENTRY_SIZE_UNICODE;
    std::vector<Bytes> upper_entries;
    for (Bytes &entries : pages) {
      Bytes page = entries;
      page.resize(PAGE_SIZE, '\0');
      u64 cent = entries.size() / esize;
      page[BTPU_OFF_CENT] = static_cast<char>(cent);
      page[BTPU_OFF_CENTMAX] = static_cast<char>(BTPU_ENTRIES_SIZE / esize);
      page[BTPU_OFF_CBENT] = static_cast<char>(esize);
      page[BTPU_OFF_CLEVEL] = static_cast<char>(level);
      u64 ib = allocate(PAGE_SIZE, PAGE_SIZE);
      u64 bid = next_page_bid_++;
      write_page(page, ptype, bid, ib);
      emit(page);
      Bytes e;
      e.append(entries.data(), 8);  // first key
      put64(e, bid);
      put64(e, ib);
      upper_entries.push_back(std::move(e));
    }
    if (upper_entries.size() == 1) {
      return Bref{load_le64(upper_entries[0].data() + 8), load_le64(upper_entries[0].data() + 16)};
    }
    u64 per = BTPU_ENTRIES_SIZE / BTENTRY_SIZE_UNICODE;
    std::vector<Bytes> next;
    for (u64 i = 0; i < upper_entries.size(); i += per) {
      Bytes p;
      for (u64 k = i; k < std::min<u64>(i + per, upper_entries.size()); ++k) p += upper_entries[k];
      next.push_back(std::move(p));
    }
    pages = std::move(next);
    ++level;
  }
}

void NdbWriter::finish(const u32 (&rgnid)[32]) {
  // BBT leaves, sorted by BID.
  std::sort(bbt_.begin(), bbt_.end(), [](const BbtEntry &a, const BbtEntry &b) { return a.bid < b.bid; });
  std::vector<Bytes> pages;
  u64 per = BTPU_ENTRIES_SIZE / BBTENTRY_SIZE_UNICODE;
  for (u64 i = 0; i < bbt_.size(); i += per) {
    Bytes p;
    for (u64 k = i; k < std::min<u64>(i + per, bbt_.size()); ++k) {
      put64(p, bbt_[k].bid);
      put64(p, bbt_[k].ib);
      put16(p, bbt_[k].cb);
      put16(p, 2);  // cRef: referenced by its node (Outlook writes 2 for live blocks as well)
      put32(p, 0);
    }
    pages.push_back(std::move(p));
  }
  Bref bbt_root = write_btree_level(pages, PTYPE_BBT, 0);
  std::sort(nbt_.begin(), nbt_.end(), [](const NbtEntry &a, const NbtEntry &b) { return a.nid < b.nid; });
  pages.clear();
  per = BTPU_ENTRIES_SIZE / NBTENTRY_SIZE_UNICODE;
  for (u64 i = 0; i < nbt_.size(); i += per) {
    Bytes p;
    for (u64 k = i; k < std::min<u64>(i + per, nbt_.size()); ++k) {
      put64(p, nbt_[k].nid);
      put64(p, nbt_[k].bid_data);
      put64(p, nbt_[k].bid_sub);
      put32(p, nbt_[k].parent);
      put32(p, 0);
    }
    pages.push_back(std::move(p));
  }
  Bref nbt_root = write_btree_level(pages, PTYPE_NBT, 0);
  file_->sync_tail();
  const u64 eof = eof_;

  // Allocation maps. Every byte below EOF is allocated except the recorded gaps; the space of
  // the last region beyond EOF is free.
  u64 regions = (eof - kFirstAMap + kAMapCoverage - 1) / kAMapCoverage;
  std::sort(gaps_.begin(), gaps_.end());
  u64 gi = 0;
  u64 amap_free = 0;
  std::vector<u8> fmap_values(regions, 0);
  for (u64 r = 0; r < regions; ++r) {
    u64 start = kFirstAMap + r * kAMapCoverage;
    Bytes page(PAGE_SIZE, '\0');
    u64 run = 0, best = 0;
    for (u64 bit = 0; bit < 496 * 8; ++bit) {
      u64 a = start + bit * 64;
      while (gi < gaps_.size() && gaps_[gi].second <= a) ++gi;
      bool free_bit = a >= eof || (gi < gaps_.size() && gaps_[gi].first <= a && a < gaps_[gi].second);
      if (!free_bit) {
        page[bit / 8] = static_cast<char>(static_cast<u8>(page[bit / 8]) | (0x80 >> (bit % 8)));
        run = 0;
      } else {
        amap_free += 64;
        best = std::max(best, ++run);
      }
    }
    fmap_values[r] = static_cast<u8>(std::min<u64>(best, 255));
    write_page(page, PTYPE_AMAP, start, start);
    file_->pwrite_at(start, page);
    u64 off = start + PAGE_SIZE;
    if (has_pmap(r)) {
      Bytes pm(PAGE_SIZE, '\xFF');
      write_page(pm, PTYPE_PMAP, off, off);
      file_->pwrite_at(off, pm);
      off += PAGE_SIZE;
    }
    if (has_fmap(r)) {
      Bytes fm(PAGE_SIZE, '\0');
      for (u64 k = 0; k < 496 && r + k < regions; ++k) fm[k] = static_cast<char>(fmap_values[r + k]);
      // Values of regions after this one are filled below once known.
      write_page(fm, PTYPE_FMAP, off, off);
      file_->pwrite_at(off, fm);
      off += PAGE_SIZE;
    }
    if (has_fpmap(r)) {
      Bytes fp(PAGE_SIZE, '\xFF');
      write_page(fp, PTYPE_FPMAP, off, off);
      file_->pwrite_at(off, fp);
    }
  }
  // Second pass for FMap pages so that they carry the values of the regions they describe.
  for (u64 r = 128; r < regions; r += 496) {
    u64 off = kFirstAMap + r * kAMapCoverage + PAGE_SIZE * (1 + has_pmap(r));
    Bytes fm(PAGE_SIZE, '\0');
    for (u64 k = 0; k < 496 && r + k < regions; ++k) fm[k] = static_cast<char>(fmap_values[r + k]);
    write_page(fm, PTYPE_FMAP, off, off);
    file_->pwrite_at(off, fm);
  }

  // Density list: empty (Outlook rebuilds it), valid trailer.
  {
    Bytes dl(PAGE_SIZE, '\0');
    u64 bid = next_page_bid_++;
    write_page(dl, PTYPE_DL, bid, kDListOffset);
    file_->pwrite_at(kDListOffset, dl);
  }

  // Header.
  Bytes h(HDRU_SIZE, '\0');
  char *p = h.data();
  store32(p + HDR_OFF_MAGIC, HDR_MAGIC);
  store16(p + HDR_OFF_MAGIC_CLIENT, HDR_MAGIC_CLIENT_PST);
  store16(p + HDR_OFF_VER, HDR_VER_UNICODE);
  store16(p + HDR_OFF_VER_CLIENT, HDR_VER_CLIENT);
  p[HDR_OFF_PLATFORM_CREATE] = 0x01;
  p[HDR_OFF_PLATFORM_ACCESS] = 0x01;
  store64(p + HDRU_OFF_BID_NEXT_P, next_page_bid_);
  store32(p + HDRU_OFF_UNIQUE, 1);
  for (int i = 0; i < 32; ++i) store32(p + HDRU_OFF_RGNID + 4 * i, rgnid[i]);
  char *root = p + HDRU_OFF_ROOT;
  store64(root + ROOTU_OFF_FILE_EOF, eof);
  store64(root + ROOTU_OFF_AMAP_LAST, kFirstAMap + (regions - 1) * kAMapCoverage);
  store64(root + ROOTU_OFF_AMAP_FREE, amap_free);
  store64(root + ROOTU_OFF_PMAP_FREE, 0);
  store64(root + ROOTU_OFF_BREF_NBT, nbt_root.bid);
  store64(root + ROOTU_OFF_BREF_NBT + 8, nbt_root.ib);
  store64(root + ROOTU_OFF_BREF_BBT, bbt_root.bid);
  store64(root + ROOTU_OFF_BREF_BBT + 8, bbt_root.ib);
  root[ROOTU_OFF_AMAP_VALID] = static_cast<char>(AMAP_VALID2);
  std::memset(p + HDRU_OFF_RGB_FM, 0xFF, 128);
  std::memset(p + HDRU_OFF_RGB_FP, 0xFF, 128);
  p[HDRU_OFF_SENTINEL] = static_cast<char>(HDR_SENTINEL);
  p[HDRU_OFF_CRYPT] = static_cast<char>(crypt_);
  store64(p + HDRU_OFF_BID_NEXT_B, next_bid_);
  store32(p + HDR_OFF_CRC_PARTIAL, pst_crc(0, ByteView(p + HDR_CRC_PARTIAL_START, HDR_CRC_PARTIAL_LEN)));
  store32(p + HDRU_OFF_CRC_FULL, pst_crc(0, ByteView(p + HDRU_CRC_FULL_START, HDRU_CRC_FULL_LEN)));
  file_->pwrite_at(0, h);
  file_->close();
}

}  // namespace mm::pst
