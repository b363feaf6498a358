#pragma once
/// Block data encodings of [MS-PST] section 5: NDB_CRYPT_PERMUTE ("compressible encryption",
/// 5.1) and NDB_CRYPT_CYCLIC ("high encryption", 5.2). Both transform bytes in place, are pure
/// and thread-safe, and never fail. Only external (non-internal) data blocks are encoded.
#include <array>

#include "mailmill/util/types.h"

namespace mm::pst {

/// The 768-byte mpbbCrypt table of [MS-PST] 5.1: mpbbR (0..255), mpbbS (256..511),
/// mpbbI (512..767). mpbbI is the inverse permutation of mpbbR; mpbbS is an involution.
extern const std::array<u8, 768> MPBB_CRYPT;

/// NDB_CRYPT_PERMUTE decode (mpbbI) of `n` bytes at `p`, in place. The three permute functions
/// map 64 bytes at a time with AVX-512 VBMI byte permutes where the CPU has them.
void permute_decode(u8 *p, u64 n);
/// NDB_CRYPT_PERMUTE encode (mpbbR) of `n` bytes at `p`, in place.
void permute_encode(u8 *p, u64 n);
/// NDB_CRYPT_PERMUTE decode from `src` into `dst` (may not overlap unless equal).
void permute_decode_copy(const u8 *src, u8 *dst, u64 n);

/// NDB_CRYPT_CYCLIC of `n` bytes at `p`, in place, keyed by the low 32 bits of the block's BID.
/// The transform is its own inverse, so this both encodes and decodes.
void cyclic_crypt(u8 *p, u64 n, u32 key);
inline void cyclic_decode(u8 *p, u64 n, u32 key) { cyclic_crypt(p, n, key); }
inline void cyclic_encode(u8 *p, u64 n, u32 key) { cyclic_crypt(p, n, key); }

/// Decodes a block in place by bCryptMethod (NDB_CRYPT_NONE/PERMUTE/CYCLIC); `bid` keys the
/// cyclic method. Returns false for an unknown method (data left untouched).
bool decode_block(u8 method, u8 *p, u64 n, u64 bid);
/// Encodes a block in place by bCryptMethod; returns false for an unknown method.
bool encode_block(u8 method, u8 *p, u64 n, u64 bid);

}  // namespace mm::pst
