#include "crc.h"

#include <array>

namespace mm::pst {
namespace {

// [MS-PST] 5.3 lists eight 256-entry tables (slicing-by-8). They are all generated from the
// standard reflected CRC-32 polynomial, so we build them at compile time instead of typing them.
struct CrcTables {
  std::array<std::array<u32, 256>, 8> t{};
  constexpr CrcTables() {
    for (u32 i = 0; i < 256; ++i) {
      u32 c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      t[0][i] = c;
    }
    for (u32 i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

constexpr CrcTables kTables{};

}  // namespace

u32 pst_crc(u32 seed, ByteView data) {
  u32 crc = seed;
  const auto *p = reinterpret_cast<const unsigned char *>(data.data());
  u64 n = data.size();
  const auto &t = kTables.t;
  while (n >= 8) {
    u32 lo = crc ^ load_le32(p);
    u32 hi = load_le32(p + 4);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

}  // namespace mm::pst
