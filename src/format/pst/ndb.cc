#include "ndb.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "crc.h"
#include "crypt.h"
#include "mailmill/util/buffer_pool.h"
#include "sigbus_guard.h"

namespace mm::pst {

Mapping::~Mapping() {
  unregister_mapping(guard_id);  // first: once unmapped, the addresses may be reused
  if (base != nullptr && size > 0) munmap(const_cast<u8 *>(base), size);
  if (fd >= 0) ::close(fd);
}

namespace {

struct OwnedBytes {
  Bytes bytes;
};

std::string hex(u64 v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool in_file(u64 off, u64 len, u64 size) { return off <= size && len <= size - off; }

i64 mtime_ns(const struct stat &st) {
  return static_cast<i64>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

Problem PstFile::corrupt(std::string detail, u64 offset) const {
  // A file that changed under us looks damaged; say so instead, once per failed read (a
  // damaged but unchanged file pays one fstat per problem).
  if (recheck_file()) {
    Problem p = *change_problem();
    p.detail += "; " + detail;
    return p;
  }
  return Problem{ProblemCode::SourceCorrupt, std::move(detail), static_cast<i64>(offset)};
}

void PstFile::mark_changed(i64 offset, int err) const {
  u64 expected = 0;
  const u64 at = offset < 0 ? Mapping::CHANGED_SOMEWHERE : static_cast<u64>(offset) + 1;
  if (map_->changed_at.compare_exchange_strong(expected, at, std::memory_order_acq_rel)) {
    map_->changed_errno.store(err, std::memory_order_release);
  }
}

bool PstFile::changed_while_reading() const {
  return map_->changed_at.load(std::memory_order_acquire) != 0;
}

bool PstFile::recheck_file() const {
  if (changed_while_reading()) return true;
  if (map_->fd < 0) return false;
  struct stat st {};
  if (fstat(map_->fd, &st) != 0) {
    mark_changed(-1, errno);  // the file can no longer be looked at (a share went away)
  } else if (static_cast<u64>(st.st_size) != map_->size || mtime_ns(st) != map_->mtime_ns) {
    mark_changed(-1, 0);
  }
  return changed_while_reading();
}

std::optional<Problem> PstFile::change_problem() const {
  const u64 at = map_->changed_at.load(std::memory_order_acquire);
  if (at == 0) return std::nullopt;
  const int err = map_->changed_errno.load(std::memory_order_acquire);
  std::string detail = "the file changed or shrank while it was being read (" +
                       std::to_string(map_->size) + " bytes when opened, ";
  struct stat st {};
  if (map_->fd >= 0 && fstat(map_->fd, &st) == 0) {
    detail += std::to_string(st.st_size) + " now";
  } else {
    detail += "size now unknown";
  }
  const bool known = at != Mapping::CHANGED_SOMEWHERE;
  if (known) detail += "; first failed read at offset " + hex(at - 1);
  if (err != 0) detail += std::string(known ? ": " : "; ") + std::strerror(err);
  detail += ")";
  return Problem{ProblemCode::SourceTruncated, std::move(detail),
                 known ? static_cast<i64>(at - 1) : -1};
}

u64 PstFile::max_block_data() const {
  switch (hdr_.variant) {
    case Variant::Ansi: return BLOCK_MAX_DATA_ANSI;
    case Variant::Unicode: return BLOCK_MAX_DATA_UNICODE;
    case Variant::Unicode4k: return BLOCK_MAX_DATA_4K;
  }
  return BLOCK_MAX_DATA_UNICODE;
}

Result<HeaderInfo> parse_header_bytes(ByteView head, u64 file_size) {
  const auto *p = reinterpret_cast<const u8 *>(head.data());
  if (head.size() < 24 || load_le32(p) != HDR_MAGIC) {
    return Problem{ProblemCode::SourceNotPst, "not a PST/OST file (no !BDN magic)", 0};
  }
  HeaderInfo h;
  u16 client = load_le16(p + HDR_OFF_MAGIC_CLIENT);
  if (client == HDR_MAGIC_CLIENT_OST) {
    h.is_ost = true;
  } else if (client != HDR_MAGIC_CLIENT_PST) {
    // Some writers use other client magics ("AB" for PAB files); treat unknown ones as PST
    // content but only when the version is one we know.
    h.is_ost = false;
  }
  h.ver = load_le16(p + HDR_OFF_VER);
  if (h.ver == HDR_VER_ANSI_MIN || h.ver == HDR_VER_ANSI_MAX) {
    h.variant = Variant::Ansi;
  } else if (h.ver == HDR_VER_UNICODE_4K) {
    h.variant = Variant::Unicode4k;
  } else if (h.ver >= HDR_VER_UNICODE && h.ver < HDR_VER_UNICODE_4K) {
    h.variant = Variant::Unicode;
  } else {
    return Problem{ProblemCode::SourceNotPst, "unsupported PST version wVer=" +
                                                  std::to_string(h.ver), HDR_OFF_VER};
  }
  const bool ansi = h.variant == Variant::Ansi;
  const u64 need = ansi ? HDRA_SIZE : HDRU_SIZE;
  if (head.size() < need || file_size < need) {
    return Problem{ProblemCode::SourceTruncated, "file shorter than the PST header", 0};
  }
  if (ansi) {
    const u8 *r = p + HDRA_OFF_ROOT;
    h.crypt = p[HDRA_OFF_CRYPT];
    h.file_eof = load_le32(r + ROOTA_OFF_FILE_EOF);
    h.nbt_root = {load_le32(r + ROOTA_OFF_BREF_NBT), load_le32(r + ROOTA_OFF_BREF_NBT + 4)};
    h.bbt_root = {load_le32(r + ROOTA_OFF_BREF_BBT), load_le32(r + ROOTA_OFF_BREF_BBT + 4)};
    h.amap_valid = r[ROOTA_OFF_AMAP_VALID];
  } else {
    const u8 *r = p + HDRU_OFF_ROOT;
    h.crypt = p[HDRU_OFF_CRYPT];
    h.file_eof = load_le64(r + ROOTU_OFF_FILE_EOF);
    h.nbt_root = {load_le64(r + ROOTU_OFF_BREF_NBT), load_le64(r + ROOTU_OFF_BREF_NBT + 8)};
    h.bbt_root = {load_le64(r + ROOTU_OFF_BREF_BBT), load_le64(r + ROOTU_OFF_BREF_BBT + 8)};
    h.amap_valid = r[ROOTU_OFF_AMAP_VALID];
  }
  return h;
}

Result<std::shared_ptr<const PstFile>> PstFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Problem{ProblemCode::SourceUnreadable, path + ": " + std::strerror(errno), -1};
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Problem{ProblemCode::SourceUnreadable, path + ": " + std::strerror(e), -1};
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<u64>(st.st_size);
  map->mtime_ns = mtime_ns(st);
  if (map->size > 0) {
    void *addr = mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      map->size = 0;
      return Problem{ProblemCode::SourceUnreadable, path + ": mmap: " + std::strerror(e), -1};
    }
    map->base = static_cast<const u8 *>(addr);
    map->from_file = true;
    // From here on a page that vanishes from the file reads as zeros instead of killing the
    // process with SIGBUS (issue 11 item 8).
    map->guard_id = register_mapping(addr, map->size, &map->changed_at);
    // The index walk and item reads jump around; let the kernel read ahead moderately.
    madvise(addr, map->size, MADV_WILLNEED);
    map->fd = fd;  // big streams are read with preadv (read_stream)
    return build(std::move(map));
  }
  ::close(fd);
  return build(std::move(map));
}

Result<std::shared_ptr<const PstFile>> PstFile::open_bytes(ByteView bytes) {
  // Anonymous mapping so Mapping's destructor (munmap) applies uniformly.
  auto map = std::make_shared<Mapping>();
  map->size = bytes.size();
  if (map->size > 0) {
    void *addr = mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (addr == MAP_FAILED) {
      map->size = 0;
      return Problem{ProblemCode::SourceUnreadable, "mmap of in-memory copy failed", -1};
    }
    std::memcpy(addr, bytes.data(), bytes.size());
    map->base = static_cast<const u8 *>(addr);
  }
  return build(std::move(map));
}

Result<std::shared_ptr<const PstFile>> PstFile::build(std::shared_ptr<Mapping> map) {
  std::shared_ptr<PstFile> f(new PstFile());
  f->map_ = std::move(map);
  // A file that changed while the header and indexes were read fails as such, whatever check
  // its zeros (or new bytes) failed first.
  auto failed = [&f](const Status &s) -> Problem {
    return f->recheck_file() ? *f->change_problem() : s.problem();
  };
  if (Status s = f->parse_header(); !s) return failed(s);
  if (Status s = f->load_btree(f->hdr_.nbt_root.ib, f->hdr_.nbt_root.bid, PTYPE_NBT); !s) {
    return failed(s);
  }
  if (Status s = f->load_btree(f->hdr_.bbt_root.ib, f->hdr_.bbt_root.bid, PTYPE_BBT); !s) {
    return failed(s);
  }
  if (f->changed_while_reading()) return *f->change_problem();
  // B-tree leaves are already in key order when the file is sound; sort anyway (cheap when
  // sorted) so lookups stay correct on damaged files, and drop duplicate keys (first wins).
  auto by_nid = [](const NbtEntry &a, const NbtEntry &b) { return a.nid < b.nid; };
  if (!std::is_sorted(f->nbt_.begin(), f->nbt_.end(), by_nid)) {
    std::stable_sort(f->nbt_.begin(), f->nbt_.end(), by_nid);
  }
  f->nbt_.erase(std::unique(f->nbt_.begin(), f->nbt_.end(),
                            [](const NbtEntry &a, const NbtEntry &b) { return a.nid == b.nid; }),
                f->nbt_.end());
  auto by_bid = [](const BbtEntry &a, const BbtEntry &b) { return a.bid < b.bid; };
  if (!std::is_sorted(f->bbt_.begin(), f->bbt_.end(), by_bid)) {
    std::stable_sort(f->bbt_.begin(), f->bbt_.end(), by_bid);
  }
  f->bbt_.erase(std::unique(f->bbt_.begin(), f->bbt_.end(),
                            [](const BbtEntry &a, const BbtEntry &b) { return a.bid == b.bid; }),
                f->bbt_.end());
  return std::shared_ptr<const PstFile>(std::move(f));
}

Status PstFile::parse_header() {
  const u64 size = map_->size;
  ByteView head(reinterpret_cast<const char *>(map_->base), std::min<u64>(size, HDRU_SIZE));
  Result<HeaderInfo> h = parse_header_bytes(head, size);
  if (!h) return h.problem();
  hdr_ = *h;
  const u8 *p = map_->base;
  const bool ansi = hdr_.variant == Variant::Ansi;

  // Header CRCs ([MS-PST] 2.2.2.6). A mismatch normally means damage. One pattern is benign:
  // a writer that marks the allocation map invalid (fAMapValid = 0) while it appends data and
  // never rewrites the CRCs (fixture aspnet__AddingBulkMessagesWithImprovedPerformance.pst,
  // written by Aspose "bulk add"). Only fAMapValid differs from a CRC-consistent header, and
  // fAMapValid has no effect on reading, so we accept that case with a warning and keep
  // rejecting any other mismatch.
  const u64 amap_off = ansi ? HDRA_OFF_ROOT + ROOTA_OFF_AMAP_VALID
                            : HDRU_OFF_ROOT + ROOTU_OFF_AMAP_VALID;
  auto crcs_match = [&](const u8 *hdr) {
    ByteView part(reinterpret_cast<const char *>(hdr + HDR_CRC_PARTIAL_START),
                  HDR_CRC_PARTIAL_LEN);
    if (pst_crc(0, part) != load_le32(hdr + HDR_OFF_CRC_PARTIAL)) return false;
    if (!ansi) {
      ByteView full(reinterpret_cast<const char *>(hdr + HDRU_CRC_FULL_START), HDRU_CRC_FULL_LEN);
      if (pst_crc(0, full) != load_le32(hdr + HDRU_OFF_CRC_FULL)) return false;
    }
    return true;
  };
  if (!crcs_match(p)) {
    u8 copy[HDRU_SIZE];
    const u64 n = ansi ? HDRA_SIZE : HDRU_SIZE;
    std::memcpy(copy, p, n);
    bool explained = false;
    for (u8 v : {AMAP_INVALID, AMAP_VALID1, AMAP_VALID2}) {
      if (v == p[amap_off]) continue;
      copy[amap_off] = v;
      if (crcs_match(copy)) {
        explained = true;
        break;
      }
    }
    if (!explained) {
      return corrupt("header CRC mismatch (dwCRCPartial " + hex(load_le32(p + HDR_OFF_CRC_PARTIAL)) +
                         ")",
                     HDR_OFF_CRC_PARTIAL);
    }
    warnings_.push_back(Problem{ProblemCode::SourceCorrupt,
                                "header CRC is stale: only fAMapValid changed after the CRC was "
                                "written (interrupted writer); read anyway",
                                static_cast<i64>(HDR_OFF_CRC_PARTIAL)});
  }
  if (p[ansi ? HDRA_OFF_SENTINEL : HDRU_OFF_SENTINEL] != HDR_SENTINEL) {
    warnings_.push_back(Problem{ProblemCode::SourceCorrupt, "header bSentinel is not 0x80",
                                static_cast<i64>(ansi ? HDRA_OFF_SENTINEL : HDRU_OFF_SENTINEL)});
  }
  if (hdr_.crypt != NDB_CRYPT_NONE && hdr_.crypt != NDB_CRYPT_PERMUTE &&
      hdr_.crypt != NDB_CRYPT_CYCLIC) {
    return Problem{ProblemCode::SourceNotPst,
                   "unsupported bCryptMethod " + hex(hdr_.crypt), static_cast<i64>(
                       ansi ? HDRA_OFF_CRYPT : HDRU_OFF_CRYPT)};
  }
  if (hdr_.file_eof > size) {
    return Problem{ProblemCode::SourceTruncated,
                   "file is " + std::to_string(size) + " bytes but the header says " +
                       std::to_string(hdr_.file_eof),
                   -1};
  }
  return {};
}

Status PstFile::load_btree(u64 root_ib, u64 root_bid, u8 ptype) {
  u64 visited = 0;
  return walk_page(root_ib, root_bid, ptype, -1, visited);
}

// One B-tree page ([MS-PST] 2.2.2.7.7). Levels must decrease by exactly one per step and each
// page may be visited once, so damaged files cannot loop or fan out exponentially.
Status PstFile::walk_page(u64 ib, u64 bid, u8 ptype, int expect_level, u64 &visited) {
  const char *what = ptype == PTYPE_NBT ? "NBT" : "BBT";
  const Variant v = hdr_.variant;
  const u64 page_size = v == Variant::Unicode4k ? PAGE_SIZE_4K : PAGE_SIZE;
  if (!in_file(ib, page_size, map_->size)) {
    return corrupt(std::string(what) + " page at " + hex(ib) + " is outside the file", ib);
  }
  // Levels strictly decrease, so the walk cannot loop; a damaged tree could still reference
  // pages many times (exponential fan-out), so cap the visits at the number of pages the file
  // can hold: work stays proportional to the file size.
  if (++visited > std::min<u64>(MAX_INDEX_PAGES, map_->size / page_size + 1)) {
    return corrupt(std::string(what) + " references more pages than the file holds", ib);
  }
  // Index pages are spread over the file and each touch maps a fault-around window: drop the
  // mapped pages now and then so opening a big file does not make the whole file resident.
  if (visited % 2048 == 0) release_pages();

  const u8 *page = map_->base + ib;
  u64 trailer = 0, cent = 0, cbent = 0, clevel = 0, entries_size = 0;
  switch (v) {
    case Variant::Ansi:
      trailer = PTRA_OFF;
      cent = page[BTPA_OFF_CENT];
      cbent = page[BTPA_OFF_CBENT];
      clevel = page[BTPA_OFF_CLEVEL];
      entries_size = BTPA_ENTRIES_SIZE;
      break;
    case Variant::Unicode:
      trailer = PTRU_OFF;
      cent = page[BTPU_OFF_CENT];
      cbent = page[BTPU_OFF_CBENT];
      clevel = page[BTPU_OFF_CLEVEL];
      entries_size = BTPU_ENTRIES_SIZE;
      break;
    case Variant::Unicode4k:
      trailer = PTR4K_OFF;
      cent = load_le16(page + BTP4K_OFF_CENT);
      cbent = page[BTP4K_OFF_CBENT];
      clevel = page[BTP4K_OFF_CLEVEL];
      entries_size = BTP4K_ENTRIES_SIZE;
      break;
  }
  if (page[trailer] != ptype || page[trailer + 1] != ptype) {
    return corrupt(std::string(what) + " page at " + hex(ib) + " has page type " +
                       hex(page[trailer]),
                   ib);
  }
  const u64 trailer_bid =
      v == Variant::Ansi ? load_le32(page + trailer + PTRA_OFF_BID) : load_le64(page + trailer + PTRU_OFF_BID);
  if (bid != 0 && bid_key(trailer_bid) != bid_key(bid)) {
    return corrupt(std::string(what) + " page at " + hex(ib) + " has bid " + hex(trailer_bid) +
                       ", expected " + hex(bid),
                   ib);
  }
  if (clevel > BT_MAX_LEVEL || (expect_level >= 0 && clevel != static_cast<u64>(expect_level))) {
    return corrupt(std::string(what) + " page at " + hex(ib) + " has bad level " +
                       std::to_string(clevel),
                   ib);
  }
  const bool ansi = v == Variant::Ansi;
  u64 want_cb = 0;
  if (clevel > 0) {
    want_cb = ansi ? BTENTRY_SIZE_ANSI : BTENTRY_SIZE_UNICODE;
  } else if (ptype == PTYPE_NBT) {
    want_cb = ansi ? NBTENTRY_SIZE_ANSI : NBTENTRY_SIZE_UNICODE;
  } else {
    want_cb = ansi ? BBTENTRY_SIZE_ANSI : BBTENTRY_SIZE_UNICODE;
  }
  // Writers may pad entries (cbEnt larger than the structure); never smaller.
  if (cbent < want_cb || cent * cbent > entries_size) {
    return corrupt(std::string(what) + " page at " + hex(ib) + " has bad entry size/count", ib);
  }
  const u8 *e = page;
  for (u64 i = 0; i < cent; ++i, e += cbent) {
    if (clevel > 0) {
      u64 child_bid = ansi ? load_le32(e + 4) : load_le64(e + 8);
      u64 child_ib = ansi ? load_le32(e + 8) : load_le64(e + 16);
      if (Status s = walk_page(child_ib, child_bid, ptype, static_cast<int>(clevel) - 1, visited);
          !s) {
        return s;
      }
    } else if (ptype == PTYPE_NBT) {
      NbtEntry n;
      if (ansi) {
        n.nid = load_le32(e);
        n.bid_data = load_le32(e + 4);
        n.bid_sub = load_le32(e + 8);
        n.parent = load_le32(e + 12);
      } else {
        n.nid = static_cast<u32>(load_le64(e));
        n.bid_data = load_le64(e + 8);
        n.bid_sub = load_le64(e + 16);
        n.parent = load_le32(e + 24);
      }
      nbt_.push_back(n);
    } else {
      BbtEntry b;
      if (ansi) {
        b.bid = bid_key(load_le32(e));
        b.ib = load_le32(e + 4);
        b.cb = load_le16(e + 8);
        b.cb_inflated = b.cb;
      } else {
        b.bid = bid_key(load_le64(e));
        b.ib = load_le64(e + 8);
        b.cb = load_le16(e + 16);
        b.cb_inflated = v == Variant::Unicode4k ? load_le16(e + 18) : b.cb;
      }
      bbt_.push_back(b);
    }
  }
  return {};
}

const NbtEntry *PstFile::find_node(u32 nid) const {
  auto it = std::lower_bound(nbt_.begin(), nbt_.end(), nid,
                             [](const NbtEntry &a, u32 n) { return a.nid < n; });
  return it != nbt_.end() && it->nid == nid ? &*it : nullptr;
}

const BbtEntry *PstFile::find_block(u64 bid) const {
  const u64 key = bid_key(bid);
  auto it = std::lower_bound(bbt_.begin(), bbt_.end(), key,
                             [](const BbtEntry &a, u64 k) { return a.bid < k; });
  return it != bbt_.end() && it->bid == key ? &*it : nullptr;
}

u64 PstFile::trailer_size() const {
  const Variant v = hdr_.variant;
  return v == Variant::Ansi ? BTRA_SIZE : (v == Variant::Unicode4k ? BTR4K_SIZE : BTRU_SIZE);
}

u64 PstFile::disk_size(const BbtEntry &b) const {
  return block_disk_size(b.cb, trailer_size(),
                         hdr_.variant == Variant::Unicode4k ? BLOCK_ALIGN_4K : BLOCK_ALIGN);
}

bool PstFile::trailer_matches(const u8 *tr, const BbtEntry &b) const {
  const u64 tr_bid = hdr_.variant == Variant::Ansi ? load_le32(tr + BTRA_OFF_BID)
                                                   : load_le64(tr + BTRU_OFF_BID);
  return load_le16(tr) == b.cb && bid_key(tr_bid) == b.bid;
}

Result<BlockRef> PstFile::read_block(u64 bid) const {
  const BbtEntry *b = find_block(bid);
  if (b == nullptr) return corrupt("block " + hex(bid) + " is not in the block B-tree", -1);
  const Variant v = hdr_.variant;
  if (b->cb > max_block_data()) {
    return corrupt("block " + hex(bid) + " claims " + std::to_string(b->cb) + " bytes", b->ib);
  }
  const u64 disk = disk_size(*b);
  if (!in_file(b->ib, disk, map_->size)) {
    return corrupt("block " + hex(bid) + " at " + hex(b->ib) + " is outside the file", b->ib);
  }
  const u8 *data = map_->base + b->ib;
  // Cheap trailer check: the trailer's cb and bid must agree with the BBT entry.
  if (!trailer_matches(data + disk - trailer_size(), *b)) {
    return corrupt("block " + hex(bid) + " at " + hex(b->ib) + " has a mismatching trailer", b->ib);
  }

  const bool internal = bid_is_internal(bid);
  const bool encoded = !internal && hdr_.crypt != NDB_CRYPT_NONE;
  const bool compressed = v == Variant::Unicode4k && b->cb_inflated != b->cb;
  if (!encoded && !compressed) {
    return BlockRef{ByteView(reinterpret_cast<const char *>(data), b->cb),
                    std::shared_ptr<const void>(map_, map_.get())};
  }
  auto buf = std::make_shared<OwnedBytes>();
  buf->bytes.assign(reinterpret_cast<const char *>(data), b->cb);
  auto *bytes = reinterpret_cast<u8 *>(buf->bytes.data());
  if (encoded) decode_block(hdr_.crypt, bytes, b->cb, b->bid);
  if (compressed) {
    // 4K OST blocks whose stored size differs from the inflated size are zlib streams.
    Bytes out(b->cb_inflated, '\0');
    uLongf out_len = b->cb_inflated;
    int rc = uncompress(reinterpret_cast<Bytef *>(out.data()), &out_len,
                        reinterpret_cast<const Bytef *>(buf->bytes.data()), b->cb);
    if (rc != Z_OK || out_len != b->cb_inflated) {
      return corrupt("block " + hex(bid) + " does not inflate", b->ib);
    }
    buf->bytes = std::move(out);
  }
  ByteView view(buf->bytes);
  return BlockRef{view, std::shared_ptr<const void>(buf, buf.get())};
}

Status PstFile::read_data_tree(u64 bid, std::vector<BlockRef> &out) const {
  return walk_data_tree(bid, 0, [&](u64 leaf) -> Status {
    Result<BlockRef> blk = read_block(leaf);
    if (!blk) return blk.problem();
    out.push_back(std::move(blk).value());
    return {};
  });
}

// XBLOCK (cLevel 1) lists data blocks; XXBLOCK (cLevel 2) lists XBLOCKs ([MS-PST] 2.2.2.8.3.2).
// `depth` counts the tree levels above this block: a block at depth d may have cLevel <= 2 - d.
template <class Leaf>
Status PstFile::walk_data_tree(u64 bid, int depth, Leaf &&leaf) const {
  if (!bid_is_internal(bid)) return leaf(bid);
  Result<BlockRef> blk = read_block(bid);
  if (!blk) return blk.problem();
  ByteView d = blk->data;
  const auto *p = reinterpret_cast<const u8 *>(d.data());
  if (d.size() < XBLOCK_HDR_SIZE || p[XBLOCK_OFF_BTYPE] != BTYPE_XBLOCK) {
    return corrupt("block " + hex(bid) + " is internal but not an XBLOCK", -1);
  }
  const u8 level = p[XBLOCK_OFF_CLEVEL];
  const u64 cent = load_le16(p + XBLOCK_OFF_CENT);
  const bool ansi = hdr_.variant == Variant::Ansi;
  const u64 bid_size = ansi ? 4 : 8;
  if ((level != XBLOCK_LEVEL && level != XXBLOCK_LEVEL) || depth + level > 2 ||
      XBLOCK_HDR_SIZE + cent * bid_size > d.size()) {
    return corrupt("XBLOCK " + hex(bid) + " is malformed", -1);
  }
  for (u64 i = 0; i < cent; ++i) {
    const u8 *q = p + XBLOCK_HDR_SIZE + i * bid_size;
    u64 child = ansi ? load_le32(q) : load_le64(q);
    if (level == XBLOCK_LEVEL && bid_is_internal(child)) {
      return corrupt("XBLOCK " + hex(bid) + " lists an internal block", -1);
    }
    if (level == XXBLOCK_LEVEL && !bid_is_internal(child)) {
      return corrupt("XXBLOCK " + hex(bid) + " lists a data block", -1);
    }
    if (Status s = walk_data_tree(child, depth + 1, leaf); !s) return s;
  }
  return {};
}

Status PstFile::pread_blocks(const std::vector<const BbtEntry *> &leaves, char *dest) const {
  // Each block is read as two pieces, its data into `dest` and its padding and trailer into
  // `tails`; runs of blocks that are adjacent in the file go in one call (IOV_MAX pieces).
  constexpr std::size_t kMaxIov = 1024;
  std::vector<u8> tails;
  std::vector<std::size_t> tail_at(leaves.size());
  std::size_t tail_total = 0;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    tail_at[i] = tail_total;
    tail_total += disk_size(*leaves[i]) - leaves[i]->cb;
  }
  tails.resize(tail_total);
  std::vector<iovec> iov;
  iov.reserve(kMaxIov);
  char *at = dest;
  std::size_t i = 0;
  while (i < leaves.size()) {
    iov.clear();
    const u64 start = leaves[i]->ib;
    u64 next = start;
    std::size_t first = i;
    char *run_dest = at;
    while (i < leaves.size() && iov.size() + 2 <= kMaxIov && leaves[i]->ib == next) {
      const BbtEntry *b = leaves[i];
      const u64 disk = disk_size(*b);
      iov.push_back({at, b->cb});
      iov.push_back({tails.data() + tail_at[i], disk - b->cb});
      at += b->cb;
      next += disk;
      ++i;
    }
    const u64 want = next - start;
    u64 got = 0;
    std::size_t k = 0;  // first iovec not yet filled completely
    while (got < want) {
      ssize_t n = preadv(map_->fd, iov.data() + k, static_cast<int>(iov.size() - k),
                         static_cast<off_t>(start + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // Every block was inside the file when it was opened (read_stream checks), so the
        // file shrank, or its storage failed (a network share going away): the same events
        // that raise SIGBUS in the mapping, recorded the same way.
        mark_changed(static_cast<i64>(start + got), n < 0 ? errno : 0);
        return *change_problem();
      }
      got += static_cast<u64>(n);
      for (auto left = static_cast<std::size_t>(n); left > 0;) {  // advance past what was read
        if (left >= iov[k].iov_len) {
          left -= iov[k].iov_len;
          iov[k].iov_len = 0;
          ++k;
        } else {
          iov[k].iov_base = static_cast<char *>(iov[k].iov_base) + left;
          iov[k].iov_len -= left;
          left = 0;
        }
      }
    }
    // The trailer's cb and bid must agree with the BBT entry, as in read_block.
    char *d = run_dest;
    for (std::size_t j = first; j < i; ++j) {
      const BbtEntry *b = leaves[j];
      const u8 *tr = tails.data() + tail_at[j] + (disk_size(*b) - b->cb) - trailer_size();
      if (!trailer_matches(tr, *b)) {
        return corrupt("block " + hex(b->bid) + " at " + hex(b->ib) + " has a mismatching trailer",
                       static_cast<i64>(b->ib));
      }
      if (hdr_.crypt != NDB_CRYPT_NONE) decode_block(hdr_.crypt, reinterpret_cast<u8 *>(d), b->cb, b->bid);
      d += b->cb;
    }
  }
  return {};
}

Result<BlockRef> PstFile::read_stream(u64 bid, u64 limit) const {
  // Big streams (attachments) are read with preadv into recycled buffers: no page faults on
  // the mapping and no mapped pages to drop afterwards (dropping them costs TLB shootdowns
  // on every core). Small ones, and 4K OST blocks that may be compressed, use the mapping.
  constexpr u64 kPreadAbove = 64u << 10;
  std::vector<const BbtEntry *> leaves;
  u64 total = 0;
  bool direct = map_->fd >= 0 && hdr_.variant != Variant::Unicode4k;
  Status walked = walk_data_tree(bid, 0, [&](u64 leaf) -> Status {
    const BbtEntry *b = find_block(leaf);
    if (b == nullptr) return corrupt("block " + hex(leaf) + " is not in the block B-tree", -1);
    if (b->cb > max_block_data()) {
      return corrupt("block " + hex(leaf) + " claims " + std::to_string(b->cb) + " bytes", b->ib);
    }
    if (!in_file(b->ib, disk_size(*b), map_->size)) {
      direct = false;  // read_block reports it
    }
    leaves.push_back(b);
    total += b->cb_inflated;
    if (total > limit) {
      return Problem{ProblemCode::LimitExceeded,
                     "stream of more than " + std::to_string(limit) + " bytes exceeds the limit", -1};
    }
    return {};
  });
  if (!walked) return walked.problem();
  if (leaves.size() == 1) return read_block(leaves[0]->bid);
  const bool use_pread = direct && total >= kPreadAbove;
  std::shared_ptr<Bytes> buf =
      use_pread ? util::BufferPool::shared_sized(total) : util::BufferPool::shared(total);
  if (use_pread) {
    if (Status s = pread_blocks(leaves, buf->data()); !s) return s.problem();
  } else {
    for (const BbtEntry *b : leaves) {
      Result<BlockRef> blk = read_block(b->bid);
      if (!blk) return blk.problem();
      buf->append(blk->data);
    }
  }
  ByteView view(*buf);
  return BlockRef{view, std::shared_ptr<const void>(std::move(buf))};
}

Status PstFile::read_subnodes(u64 bid_sub, std::vector<SubnodeEntry> &out) const {
  out.clear();
  if (bid_sub == 0) return {};
  u64 visited = 0;
  if (Status s = read_subnodes_rec(bid_sub, 0, visited, out); !s) return s;
  auto by_nid = [](const SubnodeEntry &a, const SubnodeEntry &b) { return a.nid < b.nid; };
  if (!std::is_sorted(out.begin(), out.end(), by_nid)) {
    std::stable_sort(out.begin(), out.end(), by_nid);
  }
  return {};
}

// SIBLOCK (cLevel 1) lists SLBLOCKs; SLBLOCK (cLevel 0) lists subnodes ([MS-PST] 2.2.2.8.3.3).
Status PstFile::read_subnodes_rec(u64 bid, int depth, u64 &visited,
                                  std::vector<SubnodeEntry> &out) const {
  if (++visited > MAX_SUBNODE_BLOCKS) return corrupt("subnode tree too large", -1);
  Result<BlockRef> blk = read_block(bid);
  if (!blk) return blk.problem();
  ByteView d = blk->data;
  const auto *p = reinterpret_cast<const u8 *>(d.data());
  const bool ansi = hdr_.variant == Variant::Ansi;
  const u64 hdr = ansi ? SBLOCK_HDR_SIZE_ANSI : SBLOCK_HDR_SIZE_UNICODE;
  if (d.size() < hdr || p[0] != BTYPE_SUBNODE) {
    return corrupt("block " + hex(bid) + " is not a subnode block", -1);
  }
  const u8 level = p[1];
  const u64 cent = load_le16(p + 2);
  if (level == SLBLOCK_LEVEL) {
    const u64 es = ansi ? SLENTRY_SIZE_ANSI : SLENTRY_SIZE_UNICODE;
    if (hdr + cent * es > d.size()) return corrupt("SLBLOCK " + hex(bid) + " overflows", -1);
    for (u64 i = 0; i < cent; ++i) {
      const u8 *e = p + hdr + i * es;
      SubnodeEntry s;
      if (ansi) {
        s = {load_le32(e), load_le32(e + 4), load_le32(e + 8)};
      } else {
        s = {static_cast<u32>(load_le64(e)), load_le64(e + 8), load_le64(e + 16)};
      }
      out.push_back(s);
    }
    return {};
  }
  if (level != SIBLOCK_LEVEL || depth > 0) {
    return corrupt("subnode block " + hex(bid) + " has bad level", -1);
  }
  const u64 es = ansi ? SIENTRY_SIZE_ANSI : SIENTRY_SIZE_UNICODE;
  if (hdr + cent * es > d.size()) return corrupt("SIBLOCK " + hex(bid) + " overflows", -1);
  for (u64 i = 0; i < cent; ++i) {
    const u8 *e = p + hdr + i * es;
    u64 child = ansi ? load_le32(e + 4) : load_le64(e + 8);
    if (Status s = read_subnodes_rec(child, depth + 1, visited, out); !s) return s;
  }
  return {};
}

void PstFile::release_pages() const {
  // Only file-backed mappings: an anonymous copy (open_bytes) would lose its contents.
  if (map_->base && map_->from_file)
    madvise(const_cast<u8 *>(map_->base), map_->size, MADV_DONTNEED);
}

}  // namespace mm::pst
