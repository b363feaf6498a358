#pragma once
// The generator's PRNG, shared by the PST and the MIME writers. Its output is fixed by its
// definition (no std distributions), so a seed gives the same corpus on every machine.
#include <cstring>

#include "mailmill/util/types.h"

namespace mm::gen {

// splitmix64: seeds the per-message generators.
inline u64 splitmix64(u64 &x) {
  u64 z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256**: fast, and its output is fixed by its definition (unlike std distributions).
class Rng {
 public:
  explicit Rng(u64 seed) {
    for (u64 &v : s_) v = splitmix64(seed);
  }
  u64 next() {
    u64 r = rotl(s_[1] * 5, 7) * 9;
    u64 t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  /// Uniform in [0, n) (n > 0); multiply-shift, deterministic.
  u64 below(u64 n) { return static_cast<u64>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return p > 0 && unit() < p; }
  void fill(char *p, u64 n) {
    u64 i = 0;
    for (; i + 8 <= n; i += 8) {
      u64 v = next();
      std::memcpy(p + i, &v, 8);
    }
    if (i < n) {
      u64 v = next();
      std::memcpy(p + i, &v, n - i);
    }
  }

 private:
  static u64 rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }
  u64 s_[4];
};

}  // namespace mm::gen
