// Micro-benchmarks of the dedup module: digests (SHA-256 one and two streams at a time, MD5), the content hash of
// a typical message model, and the KeyIndex (insert/lookup rates and bytes per key at 10
// million keys). Inputs are generated from fixed seeds; nothing here touches the disk.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_common.h"
#include "mailmill/dedup/index.h"
#include "mailmill/dedup/keys.h"
#include "mailmill/util/sha256.h"

namespace mm::bench {
namespace {

void BM_Sha256(benchmark::State &state) {
  const Bytes in = random_bytes(static_cast<u64>(state.range(0)), 51);
  for (auto _ : state) {
    dedup::Digest d = dedup::sha256(in);
    benchmark::DoNotOptimize(d);
  }
  set_rates(state, in.size(), 0.0);
}
BENCHMARK(BM_Sha256)->Arg(64 << 10)->Arg(1 << 20);

// The same through OpenSSL's EVP interface (the path used without the SHA extensions).
void BM_Sha256OpenSsl(benchmark::State &state) {
  const Bytes in = random_bytes(static_cast<u64>(state.range(0)), 51);
  util::Sha256 h(false);
  for (auto _ : state) {
    h.update(in);
    util::Sha256Digest d = h.finish();
    benchmark::DoNotOptimize(d);
  }
  set_rates(state, in.size(), 0.0);
}
BENCHMARK(BM_Sha256OpenSsl)->Arg(1 << 20);

// Two streams hashed side by side (util::Sha256::update2), as the MIME builder hashes an
// attachment and its base64 output; bytes/s counts both streams.
void BM_Sha256TwoStreams(benchmark::State &state) {
  const Bytes a = random_bytes(static_cast<u64>(state.range(0)), 53);
  const Bytes b = random_bytes(static_cast<u64>(state.range(0)) * 4 / 3, 54);
  util::Sha256 ha, hb;
  for (auto _ : state) {
    util::Sha256::update2(ha, a, hb, b);
    util::Sha256Digest da = ha.finish(), db = hb.finish();
    benchmark::DoNotOptimize(da);
    benchmark::DoNotOptimize(db);
  }
  set_rates(state, a.size() + b.size(), 0.0);
}
BENCHMARK(BM_Sha256TwoStreams)->Arg(1 << 20);

void BM_Md5(benchmark::State &state) {
  const Bytes in = random_bytes(static_cast<u64>(state.range(0)), 52);
  for (auto _ : state) {
    dedup::Md5 d = dedup::md5(in);
    benchmark::DoNotOptimize(d);
  }
  set_rates(state, in.size(), 0.0);
}
BENCHMARK(BM_Md5)->Arg(64 << 10)->Arg(1 << 20);

// A typical mail: 4 KB text + its HTML rendering, three recipients and one 50 KB attachment.
// Bytes are the body and attachment bytes the recipe hashes.
void BM_ContentHash(benchmark::State &state) {
  model::Message m = html_message(4096, 53);
  m.recipients.push_back(
      {model::RecipientType::Bcc, {"Dave Example", "DAVE@Example.NET", "", "SMTP"}});
  m.attachments.push_back(binary_attachment("minutes.docx", 50 * 1024, 54));
  const u64 bytes = m.body_text->size() + m.attachments[0].data.size();
  for (auto _ : state) {
    dedup::Digest d = dedup::content_hash(m);
    benchmark::DoNotOptimize(d);
  }
  set_rates(state, bytes, 1.0);
}
BENCHMARK(BM_ContentHash);

/// `n` distinct pseudo-random digests (SHA-256 outputs are uniform, so random bytes stand in).
std::vector<dedup::Digest> make_keys(u64 n, u64 seed) {
  Rng rng(seed);
  std::vector<dedup::Digest> keys(n);
  for (dedup::Digest &k : keys)
    for (u64 i = 0; i < k.size(); i += 8) {
      const u64 v = rng.next();
      for (u64 j = 0; j < 8; ++j) k[i + j] = static_cast<u8>(v >> (8 * j));
    }
  return keys;
}

// Inserting `range(0)` new keys into an empty index (growth and rehashes included).
void BM_KeyIndexInsert(benchmark::State &state) {
  const std::vector<dedup::Digest> keys = make_keys(static_cast<u64>(state.range(0)), 55);
  for (auto _ : state) {
    state.PauseTiming();
    auto index = std::make_unique<dedup::KeyIndex>();
    state.ResumeTiming();
    for (u64 i = 0; i < keys.size(); ++i) benchmark::DoNotOptimize(index->find_or_insert(keys[i], i));
    state.PauseTiming();
    index.reset();
    state.ResumeTiming();
  }
  set_rates(state, keys.size() * sizeof(dedup::Digest), static_cast<double>(keys.size()),
            "keys/s");
}
BENCHMARK(BM_KeyIndexInsert)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// Lookups in an index of 1M keys: arg 1 = every key present (shuffled order), 0 = all absent.
void BM_KeyIndexFind(benchmark::State &state) {
  constexpr u64 N = 1 << 20;
  const std::vector<dedup::Digest> keys = make_keys(N, 56);
  dedup::KeyIndex index;
  for (u64 i = 0; i < N; ++i) index.find_or_insert(keys[i], i);
  std::vector<dedup::Digest> probes = state.range(0) == 1 ? keys : make_keys(N, 57);
  Rng rng(58);
  for (u64 i = N - 1; i > 0; --i) std::swap(probes[i], probes[rng.below(i + 1)]);
  u64 found = 0;
  for (auto _ : state) {
    for (const dedup::Digest &k : probes) found += index.find(k).has_value();
  }
  benchmark::DoNotOptimize(found);
  set_rates(state, N * sizeof(dedup::Digest), static_cast<double>(N), "keys/s");
}
BENCHMARK(BM_KeyIndexFind)->ArgName("hit")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

// 10 million inserts in one iteration; reports memory_bytes()/size() against the 64-byte
// budget. Keys are derived from the PRNG inside the loop (a few ns each, no allocation) so the
// benchmark does not hold another 320 MB of keys next to the index.
void BM_KeyIndexMemory10M(benchmark::State &state) {
  constexpr u64 N = 10'000'000;
  double bytes_per_key = 0;
  std::unique_ptr<dedup::KeyIndex> keep;  // freed after the loop: teardown is not timed
  for (auto _ : state) {
    keep = std::make_unique<dedup::KeyIndex>();
    dedup::KeyIndex &index = *keep;
    Rng rng(59);
    dedup::Digest k{};
    for (u64 i = 0; i < N; ++i) {
      for (u64 w = 0; w < 4; ++w) {
        const u64 v = rng.next();
        std::memcpy(k.data() + 8 * w, &v, 8);
      }
      benchmark::DoNotOptimize(index.find_or_insert(k, i));
    }
    if (index.size() != N) {
      state.SkipWithError("KeyIndex lost keys");
      return;
    }
    bytes_per_key = static_cast<double>(index.memory_bytes()) / static_cast<double>(index.size());
    state.counters["memory_MiB"] = static_cast<double>(index.memory_bytes()) / (1 << 20);
  }
  set_rates(state, N * sizeof(dedup::Digest), static_cast<double>(N), "keys/s");
  state.counters["bytes_per_key"] = bytes_per_key;
}
BENCHMARK(BM_KeyIndexMemory10M)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
}  // namespace mm::bench
