#include "mailmill/util/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define MM_SHA_X86 1
#endif

namespace mm::util {
namespace {

constexpr u32 kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#if MM_SHA_X86
// Round constants ([FIPS 180-4] 4.2.2).
alignas(16) constexpr u32 kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define MM_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// The SHA instructions keep the working variables as two registers, ABEF and CDGH.
struct Regs {
  __m128i abef, cdgh;
};

MM_SHA_TARGET inline Regs load_state(const u32 *h) {
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i *>(h));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i *>(h + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  return {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
}

MM_SHA_TARGET inline void store_state(Regs r, u32 *h) {
  __m128i feba = _mm_shuffle_epi32(r.abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(r.cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(h), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}

// Message words of a block as big-endian 32-bit lanes.
MM_SHA_TARGET inline __m128i load_words(const u8 *p) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)), swap);
}

// Message schedule group g (words 4g..4g+3, g >= 4) from the four groups before it, in
// place of group g-4 ([FIPS 180-4] 6.2.2 step 1).
MM_SHA_TARGET inline void schedule(__m128i (&w)[4], int g) {
  __m128i &x = w[g % 4];
  x = _mm_sha256msg1_epu32(x, w[(g - 3) % 4]);
  x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g - 1) % 4], w[(g - 2) % 4], 4));
  x = _mm_sha256msg2_epu32(x, w[(g - 1) % 4]);
}

// Four rounds with message group `w` and constants 4g..4g+3.
MM_SHA_TARGET inline void rounds(Regs &r, __m128i w, int g) {
  __m128i k = _mm_add_epi32(w, _mm_load_si128(reinterpret_cast<const __m128i *>(kK + 4 * g)));
  r.cdgh = _mm_sha256rnds2_epu32(r.cdgh, r.abef, k);
  k = _mm_shuffle_epi32(k, 0x0E);
  r.abef = _mm_sha256rnds2_epu32(r.abef, r.cdgh, k);
}

MM_SHA_TARGET void blocks_x1(u32 *h, const u8 *p, std::size_t n) {
  Regs r = load_state(h);
  for (; n > 0; --n, p += 64) {
    const Regs start = r;
    __m128i w[4];
#pragma GCC unroll 16
    for (int g = 0; g < 16; ++g) {
      if (g < 4)
        w[g] = load_words(p + 16 * g);
      else
        schedule(w, g);
      rounds(r, w[g % 4], g);
    }
    r.abef = _mm_add_epi32(r.abef, start.abef);
    r.cdgh = _mm_add_epi32(r.cdgh, start.cdgh);
  }
  store_state(r, h);
}

// Two independent streams, n blocks each, in one loop.
MM_SHA_TARGET void blocks_x2(u32 *ha, const u8 *pa, u32 *hb, const u8 *pb, std::size_t n) {
  Regs a = load_state(ha), b = load_state(hb);
  for (; n > 0; --n, pa += 64, pb += 64) {
    const Regs sa = a, sb = b;
    __m128i wa[4], wb[4];
#pragma GCC unroll 16
    for (int g = 0; g < 16; ++g) {
      if (g < 4) {
        wa[g] = load_words(pa + 16 * g);
        wb[g] = load_words(pb + 16 * g);
      } else {
        schedule(wa, g);
        schedule(wb, g);
      }
      rounds(a, wa[g % 4], g);
      rounds(b, wb[g % 4], g);
    }
    a.abef = _mm_add_epi32(a.abef, sa.abef);
    a.cdgh = _mm_add_epi32(a.cdgh, sa.cdgh);
    b.abef = _mm_add_epi32(b.abef, sb.abef);
    b.cdgh = _mm_add_epi32(b.cdgh, sb.cdgh);
  }
  store_state(a, ha);
  store_state(b, hb);
}

// CPUID directly rather than __builtin_cpu_supports: clang before 16 does not know the "sha"
// feature name there and refuses to compile it. Leaf 1 ECX: SSSE3 bit 9, SSE4.1 bit 19; leaf
// 7 subleaf 0 EBX: SHA bit 29 (Intel SDM vol. 2A, CPUID). XMM state needs no XGETBV check:
// every x86-64 OS saves it.
bool detect_hardware() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool ssse3 = (c & (1u << 9)) != 0, sse41 = (c & (1u << 19)) != 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = (b & (1u << 29)) != 0;
  return sha && sse41 && ssse3;
}
#else
void blocks_x1(u32 *, const u8 *, std::size_t) {}
void blocks_x2(u32 *, const u8 *, u32 *, const u8 *, std::size_t) {}
bool detect_hardware() { return false; }
#endif

EVP_MD_CTX *evp(void *p) { return static_cast<EVP_MD_CTX *>(p); }

bool cpu_has_sha() {
  static const bool yes = detect_hardware();
  return yes;
}

// -1: not forced (the fastest supported); otherwise a Sha256Impl. Read on every construction,
// so relaxed: a force is meant to happen before hashing starts.
std::atomic<int> g_forced{-1};

}  // namespace

bool sha256_impl_supported(Sha256Impl impl) { return impl == Sha256Impl::OpenSsl || cpu_has_sha(); }

bool force_sha256_impl(Sha256Impl impl) {
  if (!sha256_impl_supported(impl)) return false;
  g_forced.store(static_cast<int>(impl), std::memory_order_relaxed);
  return true;
}

void reset_sha256_impl() { g_forced.store(-1, std::memory_order_relaxed); }

Sha256Impl sha256_impl() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Sha256Impl>(forced);
  return cpu_has_sha() ? Sha256Impl::ShaExtensions : Sha256Impl::OpenSsl;
}

const char *sha256_impl_name(Sha256Impl impl) {
  return impl == Sha256Impl::ShaExtensions ? "shani" : "openssl";
}

bool Sha256::hardware() { return sha256_impl() == Sha256Impl::ShaExtensions; }

Sha256::Sha256(bool allow_hardware) : hw_(allow_hardware && hardware()) {
  if (!hw_) {
    evp_ = EVP_MD_CTX_new();
    if (evp_ == nullptr) throw std::bad_alloc();
  }
  reset();
}

Sha256::~Sha256() {
  if (evp_) EVP_MD_CTX_free(evp(evp_));
}

void Sha256::reset() {
  if (!hw_) {
    EVP_DigestInit_ex(evp(evp_), EVP_sha256(), nullptr);
    return;
  }
  std::memcpy(state_, kInit, sizeof state_);
  buf_len_ = 0;
  total_ = 0;
}

// Completes a partly filled buffer from [p, p + n) and hashes it when whole.
void Sha256::take_blocks(const u8 *&p, std::size_t &n) {
  if (buf_len_ == 0) return;
  const std::size_t k = std::min(n, sizeof buf_ - buf_len_);
  std::memcpy(buf_ + buf_len_, p, k);
  buf_len_ += k;
  p += k;
  n -= k;
  if (buf_len_ == sizeof buf_) {
    blocks_x1(state_, buf_, 1);
    buf_len_ = 0;
  }
}

void Sha256::update(ByteView data) {
  if (data.empty()) return;
  if (!hw_) {
    EVP_DigestUpdate(evp(evp_), data.data(), data.size());
    return;
  }
  const u8 *p = reinterpret_cast<const u8 *>(data.data());
  std::size_t n = data.size();
  total_ += n;
  take_blocks(p, n);
  if (n >= 64) {
    blocks_x1(state_, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
  }
  if (n > 0) {
    std::memcpy(buf_ + buf_len_, p, n);
    buf_len_ += n;
  }
}

void Sha256::update2(Sha256 &a, ByteView da, Sha256 &b, ByteView db) {
  if (!a.hw_ || !b.hw_ || &a == &b) {
    a.update(da);
    b.update(db);
    return;
  }
  const u8 *pa = reinterpret_cast<const u8 *>(da.data());
  const u8 *pb = reinterpret_cast<const u8 *>(db.data());
  std::size_t na = da.size(), nb = db.size();
  a.total_ += na;
  b.total_ += nb;
  a.take_blocks(pa, na);
  b.take_blocks(pb, nb);
  if (a.buf_len_ == 0 && b.buf_len_ == 0) {  // both aligned to a block: hash side by side
    const std::size_t both = std::min(na, nb) / 64;
    if (both > 0) {
      blocks_x2(a.state_, pa, b.state_, pb, both);
      pa += both * 64;
      pb += both * 64;
      na -= both * 64;
      nb -= both * 64;
    }
  }
  // The rest (the longer stream's tail, or a partial block) one stream at a time; total_
  // already counts it.
  a.total_ -= na;
  b.total_ -= nb;
  a.update(ByteView(reinterpret_cast<const char *>(pa), na));
  b.update(ByteView(reinterpret_cast<const char *>(pb), nb));
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  if (!hw_) {
    unsigned int len = 0;
    EVP_DigestFinal_ex(evp(evp_), out.data(), &len);
    reset();
    return out;
  }
  // Padding ([FIPS 180-4] 5.1.1): 0x80, zeros, the bit length big-endian in 8 bytes.
  const u64 bits = total_ * 8;
  u8 pad[128] = {0x80};
  const std::size_t pad_len = (buf_len_ < 56 ? 56 : 120) - buf_len_;
  for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<u8>(bits >> (56 - 8 * i));
  update(ByteView(reinterpret_cast<const char *>(pad), pad_len + 8));
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<u8>(state_[i] >> 24);
    out[4 * i + 1] = static_cast<u8>(state_[i] >> 16);
    out[4 * i + 2] = static_cast<u8>(state_[i] >> 8);
    out[4 * i + 3] = static_cast<u8>(state_[i]);
  }
  reset();
  return out;
}

Sha256Digest Sha256::digest(ByteView data) {
  if (!hardware()) {
    Sha256Digest out{};
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
  }
  Sha256 h;
  h.update(data);
  return h.finish();
}

}  // namespace mm::util
