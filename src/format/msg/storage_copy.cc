// A minimal compound-file writer ([MS-CFB] 2.2 header, 2.3 FAT, 2.5 mini FAT, 2.6 directory):
// version 3 (512-byte sectors), streams below the 4096-byte cutoff in the mini stream, the rest
// in regular sectors. Each storage's children form a balanced binary tree in the order of
// [MS-CFB] 2.6.4 (shorter names first, then code units compared upper-cased), every node black;
// a balanced tree with all nodes black is not a valid red-black tree in general, but readers
// walk the tree rather than rebalance it (libgsf and olefile both read such files).
#include "storage_copy.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "mailmill/util/text.h"

namespace mm::msg {
namespace {

constexpr u64 SECTOR = 512, MINI_SECTOR = 64, CUTOFF = 4096;
constexpr u32 FREESECT = 0xFFFFFFFF, ENDOFCHAIN = 0xFFFFFFFE, FATSECT = 0xFFFFFFFD,
              NOSTREAM = 0xFFFFFFFF;
constexpr u64 HEADER_DIFAT_SLOTS = 109;

struct DirNode {
  Bytes name16;  // UTF-16LE, no terminator
  u8 type = 2;   // 1 storage, 2 stream, 5 root
  cfb::Clsid clsid{};
  Bytes data;
  std::vector<u32> kids;
  u32 left = NOSTREAM, right = NOSTREAM, child = NOSTREAM;
  u32 start = ENDOFCHAIN;
  u64 size = 0;
};

void put16(Bytes &b, u64 at, u16 v) {
  b[at] = static_cast<char>(v & 0xFF);
  b[at + 1] = static_cast<char>(v >> 8);
}
void put32(Bytes &b, u64 at, u32 v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

u16 upper16(u16 c) { return c >= 'a' && c <= 'z' ? static_cast<u16>(c - 32) : c; }

bool name_less(const Bytes &a, const Bytes &b) {
  if (a.size() != b.size()) return a.size() < b.size();
  for (u64 i = 0; i + 1 < a.size(); i += 2) {
    const u16 x = upper16(load_le16(a.data() + i)), y = upper16(load_le16(b.data() + i));
    if (x != y) return x < y;
  }
  return false;
}

class Writer {
 public:
  Writer(const cfb::CompoundFile &cf, const StreamRead &read) : cf_(cf), read_(read) {}

  Result<Bytes> run(const std::string &path, const cfb::Clsid &clsid) {
    nodes_.push_back(DirNode{});
    nodes_[0].type = 5;
    nodes_[0].clsid = clsid;
    nodes_[0].name16 = text::utf8_to_utf16le("Root Entry");
    if (Status s = collect(path, 0, 0); !s) return s.problem();
    return write();
  }

 private:
  Status collect(const std::string &path, u32 parent, int depth) {
    if (depth > MAX_COPY_DEPTH) {
      return Problem{ProblemCode::LimitExceeded,
                     "OLE storage nested deeper than " + std::to_string(MAX_COPY_DEPTH)};
    }
    Result<std::vector<cfb::Entry>> kids = cf_.list(path);
    if (!kids) return kids.problem();
    if (kids->size() > MAX_COPY_ENTRIES) {
      return Problem{ProblemCode::LimitExceeded,
                     "OLE storage with " + std::to_string(kids->size()) + " entries"};
    }
    for (const cfb::Entry &e : *kids) {
      DirNode n;
      n.name16 = text::utf8_to_utf16le(e.name);
      if (n.name16.empty() || n.name16.size() > 62) {
        return Problem{ProblemCode::SourceCorrupt, "OLE storage entry name does not fit"};
      }
      const std::string child_path = path.empty() ? e.name : path + "/" + e.name;
      if (e.type == cfb::EntryType::Stream) {
        Result<Bytes> data = read_(child_path, e);
        if (!data) return data.problem();
        n.data = std::move(data).value();
      } else {
        n.type = 1;
        n.clsid = e.clsid;
      }
      const u32 id = static_cast<u32>(nodes_.size());
      nodes_.push_back(std::move(n));
      nodes_[parent].kids.push_back(id);
      if (e.type == cfb::EntryType::Storage) {
        if (Status s = collect(child_path, id, depth + 1); !s) return s;
      }
    }
    std::vector<u32> &k = nodes_[parent].kids;
    std::sort(k.begin(), k.end(),
              [this](u32 a, u32 b) { return name_less(nodes_[a].name16, nodes_[b].name16); });
    nodes_[parent].child = link(k, 0, k.size());
    return {};
  }

  u32 link(const std::vector<u32> &k, u64 lo, u64 hi) {
    if (lo >= hi) return NOSTREAM;
    const u64 mid = lo + (hi - lo) / 2;
    nodes_[k[mid]].left = link(k, lo, mid);
    nodes_[k[mid]].right = link(k, mid + 1, hi);
    return k[mid];
  }

  // Appends `data` as a chain of regular sectors; returns its first sector.
  u32 chain(const Bytes &data) {
    if (data.empty()) return ENDOFCHAIN;
    const u32 first = static_cast<u32>(fat_.size());
    const u64 n = (data.size() + SECTOR - 1) / SECTOR;
    for (u64 i = 0; i < n; ++i)
      fat_.push_back(i + 1 < n ? first + static_cast<u32>(i) + 1 : ENDOFCHAIN);
    body_ += data;
    body_.resize(fat_.size() * SECTOR, '\0');
    return first;
  }

  Result<Bytes> write() {
    Bytes mini;
    std::vector<u32> minifat;
    for (DirNode &n : nodes_) {
      if (n.type != 2) continue;
      n.size = n.data.size();
      if (n.data.empty()) continue;
      if (n.data.size() >= CUTOFF) {
        n.start = chain(n.data);
        continue;
      }
      n.start = static_cast<u32>(minifat.size());
      const u64 count = (n.data.size() + MINI_SECTOR - 1) / MINI_SECTOR;
      for (u64 i = 0; i < count; ++i)
        minifat.push_back(i + 1 < count ? n.start + static_cast<u32>(i) + 1 : ENDOFCHAIN);
      mini += n.data;
      mini.resize(minifat.size() * MINI_SECTOR, '\0');
      n.data.clear();
    }
    nodes_[0].start = chain(mini);
    nodes_[0].size = mini.size();
    Bytes minifat_bytes(minifat.size() * 4, '\0');
    for (u64 i = 0; i < minifat.size(); ++i) put32(minifat_bytes, 4 * i, minifat[i]);
    const u32 minifat_start = chain(minifat_bytes);
    const u32 minifat_sectors = static_cast<u32>((minifat_bytes.size() + SECTOR - 1) / SECTOR);

    Bytes dir(((nodes_.size() + 3) / 4) * 4 * 128, '\0');
    for (u64 i = 0; i < dir.size() / 128; ++i) {
      const u64 at = i * 128;
      put32(dir, at + 0x44, NOSTREAM);
      put32(dir, at + 0x48, NOSTREAM);
      put32(dir, at + 0x4C, NOSTREAM);
      if (i >= nodes_.size()) continue;
      const DirNode &n = nodes_[i];
      std::memcpy(dir.data() + at, n.name16.data(), n.name16.size());
      put16(dir, at + 0x40, static_cast<u16>(n.name16.size() + 2));
      dir[at + 0x42] = static_cast<char>(n.type);
      dir[at + 0x43] = 1;  // black
      put32(dir, at + 0x44, n.left);
      put32(dir, at + 0x48, n.right);
      put32(dir, at + 0x4C, n.child);
      if (n.type != 2) std::memcpy(dir.data() + at + 0x50, n.clsid.data(), 16);
      put32(dir, at + 0x74, n.type == 1 ? 0 : n.start);
      if (n.size > 0xFFFFFFFFu) {
        return Problem{ProblemCode::LimitExceeded, "OLE stream too large to copy"};
      }
      put32(dir, at + 0x78, static_cast<u32>(n.size));
    }
    const u32 dir_start = chain(dir);

    // The FAT covers every sector, its own included.
    u64 fat_sectors = 1;
    while (fat_.size() + fat_sectors > fat_sectors * (SECTOR / 4)) ++fat_sectors;
    if (fat_sectors > HEADER_DIFAT_SLOTS) {
      return Problem{ProblemCode::LimitExceeded, "OLE storage too large to copy (needs DIFAT)"};
    }
    const u32 fat_start = static_cast<u32>(fat_.size());
    for (u64 i = 0; i < fat_sectors; ++i) fat_.push_back(FATSECT);
    Bytes fat(fat_sectors * SECTOR, '\xFF');
    for (u64 i = 0; i < fat_.size(); ++i) put32(fat, 4 * i, fat_[i]);

    Bytes out(SECTOR, '\0');
    static const unsigned char SIG[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    std::memcpy(out.data(), SIG, 8);
    put16(out, 0x18, 0x003E);
    put16(out, 0x1A, 0x0003);
    put16(out, 0x1C, 0xFFFE);
    put16(out, 0x1E, 9);
    put16(out, 0x20, 6);
    put32(out, 0x2C, static_cast<u32>(fat_sectors));
    put32(out, 0x30, dir_start);
    put32(out, 0x38, static_cast<u32>(CUTOFF));
    put32(out, 0x3C, minifat_sectors > 0 ? minifat_start : ENDOFCHAIN);
    put32(out, 0x40, minifat_sectors);
    put32(out, 0x44, ENDOFCHAIN);
    put32(out, 0x48, 0);
    for (u64 i = 0; i < HEADER_DIFAT_SLOTS; ++i)
      put32(out, 0x4C + 4 * i, i < fat_sectors ? fat_start + static_cast<u32>(i) : FREESECT);
    out += body_;
    out += fat;
    return out;
  }

  const cfb::CompoundFile &cf_;
  const StreamRead &read_;
  std::vector<DirNode> nodes_;
  std::vector<u32> fat_;
  Bytes body_;
};

}  // namespace

Result<Bytes> copy_storage(const cfb::CompoundFile &cf, const std::string &path,
                           const cfb::Clsid &clsid, const StreamRead &read) {
  Writer w(cf, read);
  return w.run(path, clsid);
}

}  // namespace mm::msg
