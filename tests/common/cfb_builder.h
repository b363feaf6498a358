#pragma once
// A compound-file writer for tests, written from [MS-CFB] alone (no library): tests build the
// compound files they read, so every expected name, size, CLSID and byte is known. Version 3
// (512-byte sectors), streams under the 4096-byte cutoff in the mini stream (64-byte mini
// sectors), the rest in regular sectors; each storage's children in a balanced binary tree in
// [MS-CFB] 2.6.4 order (shorter names first, then upper-cased code units), all nodes black
// (readers walk the tree; none checks the colouring).
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::testing {

struct CfbNode {
  std::string name;  // ASCII (control characters such as "\x01Ole" allowed)
  bool storage = false;
  Bytes data;                  // streams only
  std::array<u8, 16> clsid{};  // storages only
  std::vector<CfbNode> children;

  static CfbNode stream(std::string n, Bytes d) {
    CfbNode s;
    s.name = std::move(n);
    s.data = std::move(d);
    return s;
  }
  static CfbNode dir(std::string n, std::vector<CfbNode> kids, std::array<u8, 16> id = {}) {
    CfbNode s;
    s.name = std::move(n);
    s.storage = true;
    s.children = std::move(kids);
    s.clsid = id;
    return s;
  }
};

/// The 16 file-order bytes of a CLSID given in registry form "00000316-0000-0000-C000-...".
inline std::array<u8, 16> cfb_clsid(const std::string &reg) {
  std::string hex;
  for (char c : reg)
    if (c != '-' && c != '{' && c != '}') hex += c;
  u8 v[16];
  for (int i = 0; i < 16; ++i)
    v[i] = static_cast<u8>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return {v[3], v[2], v[1],  v[0],  v[5],  v[4],  v[7],  v[6],
          v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

class CfbWriter {
 public:
  static constexpr u32 SECTOR = 512, MINI = 64, CUTOFF = 4096;
  static constexpr u32 FREESECT = 0xFFFFFFFF, ENDOFCHAIN = 0xFFFFFFFE, FATSECT = 0xFFFFFFFD,
                       NOSTREAM = 0xFFFFFFFF;

  /// The compound file whose root storage has `root`'s CLSID and children.
  static Bytes build(const CfbNode &root) {
    CfbWriter w;
    w.flatten(root);
    return w.write();
  }

 private:
  struct Dir {
    const CfbNode *node;
    u8 type;  // 1 storage, 2 stream, 5 root
    u32 left = NOSTREAM, right = NOSTREAM, child = NOSTREAM;
    u32 start = ENDOFCHAIN;
    u64 size = 0;
  };
  std::vector<Dir> dirs_;

  static bool less(const std::string &a, const std::string &b) {
    if (a.size() != b.size()) return a.size() < b.size();
    for (std::size_t i = 0; i < a.size(); ++i) {
      const int x = std::toupper(static_cast<unsigned char>(a[i]));
      const int y = std::toupper(static_cast<unsigned char>(b[i]));
      if (x != y) return x < y;
    }
    return false;
  }

  // Each node's id is its index in dirs_; children get ids first, then the tree is linked.
  u32 flatten(const CfbNode &n, bool root = true) {
    const u32 id = static_cast<u32>(dirs_.size());
    dirs_.push_back({&n, static_cast<u8>(root ? 5 : n.storage ? 1 : 2)});
    if (!n.storage) return id;
    std::vector<u32> kids;
    for (const CfbNode &c : n.children) kids.push_back(flatten(c, false));
    std::sort(kids.begin(), kids.end(),
              [this](u32 a, u32 b) { return less(dirs_[a].node->name, dirs_[b].node->name); });
    dirs_[id].child = link(kids, 0, kids.size());
    return id;
  }
  u32 link(const std::vector<u32> &k, std::size_t lo, std::size_t hi) {
    if (lo >= hi) return NOSTREAM;
    const std::size_t mid = lo + (hi - lo) / 2;
    dirs_[k[mid]].left = link(k, lo, mid);
    dirs_[k[mid]].right = link(k, mid + 1, hi);
    return k[mid];
  }

  static void put16(Bytes &b, std::size_t at, u16 v) {
    b[at] = static_cast<char>(v & 0xFF);
    b[at + 1] = static_cast<char>(v >> 8);
  }
  static void put32(Bytes &b, std::size_t at, u32 v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  }

  Bytes write() {
    // Regular sectors: big streams, then the mini stream, the mini FAT, the directory, the FAT.
    std::vector<Bytes> sectors;  // contents, in order
    std::vector<u32> fat;        // next sector of each
    auto add_chain = [&](const Bytes &data) -> u32 {
      if (data.empty()) return ENDOFCHAIN;
      const u32 first = static_cast<u32>(sectors.size());
      for (std::size_t off = 0; off < data.size(); off += SECTOR) {
        Bytes s = data.substr(off, SECTOR);
        s.resize(SECTOR, '\0');
        sectors.push_back(std::move(s));
        fat.push_back(static_cast<u32>(sectors.size()));
      }
      fat.back() = ENDOFCHAIN;
      return first;
    };
    Bytes mini_stream;
    std::vector<u32> minifat;
    for (Dir &d : dirs_) {
      if (d.type != 2) continue;
      const Bytes &data = d.node->data;
      d.size = data.size();
      if (data.empty()) continue;
      if (data.size() >= CUTOFF) {
        d.start = add_chain(data);
        continue;
      }
      d.start = static_cast<u32>(minifat.size());
      for (std::size_t off = 0; off < data.size(); off += MINI) {
        Bytes s = data.substr(off, MINI);
        s.resize(MINI, '\0');
        mini_stream += s;
        minifat.push_back(static_cast<u32>(minifat.size() + 1));
      }
      minifat.back() = ENDOFCHAIN;
    }
    dirs_[0].start = add_chain(mini_stream);
    dirs_[0].size = mini_stream.size();
    Bytes minifat_bytes(minifat.size() * 4, '\0');
    for (std::size_t i = 0; i < minifat.size(); ++i) put32(minifat_bytes, 4 * i, minifat[i]);
    const u32 minifat_start = add_chain(minifat_bytes);
    const u32 minifat_count = static_cast<u32>((minifat_bytes.size() + SECTOR - 1) / SECTOR);

    Bytes dir_bytes(((dirs_.size() + 3) / 4) * 4 * 128, '\0');
    for (std::size_t i = 0; i < dir_bytes.size() / 128; ++i) {
      const std::size_t at = i * 128;
      put32(dir_bytes, at + 0x44, NOSTREAM);
      put32(dir_bytes, at + 0x48, NOSTREAM);
      put32(dir_bytes, at + 0x4C, NOSTREAM);
      if (i >= dirs_.size()) continue;
      const Dir &d = dirs_[i];
      const std::string name = d.type == 5 ? std::string("Root Entry") : d.node->name;
      for (std::size_t c = 0; c < name.size() && c < 31; ++c)
        put16(dir_bytes, at + 2 * c, static_cast<unsigned char>(name[c]));
      put16(dir_bytes, at + 0x40,
            static_cast<u16>(2 * (std::min<std::size_t>(name.size(), 31) + 1)));
      dir_bytes[at + 0x42] = static_cast<char>(d.type);
      dir_bytes[at + 0x43] = 1;  // black
      put32(dir_bytes, at + 0x44, d.left);
      put32(dir_bytes, at + 0x48, d.right);
      put32(dir_bytes, at + 0x4C, d.child);
      if (d.type != 2) std::memcpy(dir_bytes.data() + at + 0x50, d.node->clsid.data(), 16);
      put32(dir_bytes, at + 0x74, d.type == 1 ? 0 : d.start);
      put32(dir_bytes, at + 0x78, static_cast<u32>(d.size));
    }
    const u32 dir_start = add_chain(dir_bytes);

    // The FAT covers every sector including its own: grow until it does.
    u32 fat_sectors = 1;
    while ((sectors.size() + fat_sectors) > fat_sectors * (SECTOR / 4)) ++fat_sectors;
    const u32 fat_start = static_cast<u32>(sectors.size());
    for (u32 i = 0; i < fat_sectors; ++i) fat.push_back(FATSECT);
    Bytes fat_bytes(fat_sectors * SECTOR, '\xFF');
    for (std::size_t i = 0; i < fat.size(); ++i) put32(fat_bytes, 4 * i, fat[i]);
    for (u32 i = 0; i < fat_sectors; ++i) sectors.push_back(fat_bytes.substr(i * SECTOR, SECTOR));

    Bytes header(SECTOR, '\0');
    static const unsigned char SIG[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    std::memcpy(header.data(), SIG, 8);
    put16(header, 0x18, 0x003E);  // minor version
    put16(header, 0x1A, 0x0003);  // major version 3
    put16(header, 0x1C, 0xFFFE);  // byte order
    put16(header, 0x1E, 9);       // sector shift
    put16(header, 0x20, 6);       // mini sector shift
    put32(header, 0x2C, fat_sectors);
    put32(header, 0x30, dir_start);
    put32(header, 0x38, CUTOFF);
    put32(header, 0x3C, minifat_count ? minifat_start : ENDOFCHAIN);
    put32(header, 0x40, minifat_count);
    put32(header, 0x44, ENDOFCHAIN);  // no DIFAT sectors
    put32(header, 0x48, 0);
    for (u32 i = 0; i < 109; ++i)
      put32(header, 0x4C + 4 * i, i < fat_sectors ? fat_start + i : FREESECT);
    Bytes out = header;
    for (const Bytes &s : sectors) out += s;
    return out;
  }
};

}  // namespace mm::testing
