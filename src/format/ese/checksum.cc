// ESE page checksums (mailmill/format/ese/checksum.h): the XOR and Hsiao ECC halves, from the
// checksum description in Microsoft's published ESE sources, verified on Windows-written pages.
#include "mailmill/format/ese/checksum.h"

namespace mm::ese {
namespace {

u32 parity(u32 w) { return static_cast<u32>(__builtin_parity(w)); }

// XOR of the bit positions (0-31) of the set bits of `w`: bit k of the result is the parity of
// the bits whose position has bit k set.
u32 set_bit_position_xor(u32 w) {
  return parity(w & 0xAAAAAAAAu) | (parity(w & 0xCCCCCCCCu) << 1) | (parity(w & 0xF0F0F0F0u) << 2) |
         (parity(w & 0xFF00FF00u) << 3) | (parity(w & 0xFFFF0000u) << 4);
}

}  // namespace

u64 page_block_checksum(ByteView block, u32 pgno, bool first_block) {
  const u32 words = static_cast<u32>(block.size() / 4);
  u32 x = 0, lo = 0, par = 0;
  for (u32 i = first_block ? 2 : 0; i < words; ++i) {
    const u32 w = load_le32(block.data() + 4 * i);
    if (w == 0) continue;
    x ^= w;
    const u32 p = parity(w);
    lo ^= set_bit_position_xor(w) ^ (p ? (i << 5) : 0);
    par ^= p;
  }
  const u32 mask = static_cast<u32>(block.size() * 8 - 1);
  const u32 hi = (lo ^ (par ? mask : 0)) & mask;
  const u32 ecc = (hi << 16) | (lo & 0xffff);
  return (static_cast<u64>(ecc) << 32) | (x ^ pgno);
}

}  // namespace mm::ese
