// Replay driver for builds without libFuzzer (gcc): runs a fuzz target over its seed files and
// over deterministic mutations of them (bit flips, truncations, splices, random bytes), so the
// ordinary test suite exercises every target on every run. Usage:
//   fuzz_X ITERATIONS SEED_FILE_OR_DIR...
// A directory stands for the files in it (sorted). A seed path that does not exist or holds
// no files is an error (exit 2): a smoke test must not quietly run on nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(next() % n) : 0; }
};

void run(const std::string &b) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(b.data()), b.size());
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ITERATIONS SEED_FILE...\n", argv[0]);
    return 2;
  }
  long iterations = std::atol(argv[1]);
  std::vector<std::string> paths;
  for (int i = 2; i < argc; ++i) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const std::size_t before = paths.size();
    if (fs::is_directory(argv[i], ec)) {
      for (const fs::directory_entry &e : fs::directory_iterator(argv[i], ec))
        if (e.is_regular_file()) paths.push_back(e.path().string());
      std::sort(paths.begin() + static_cast<std::ptrdiff_t>(before), paths.end());
    } else if (fs::is_regular_file(argv[i], ec)) {
      paths.push_back(argv[i]);
    }
    if (paths.size() == before) {
      std::fprintf(stderr, "%s: no seed files at %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  std::vector<std::string> seeds;
  for (const std::string &p : paths) {
    std::ifstream in(p, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (seeds.empty()) seeds.emplace_back("seed");
  Rng rng{20261129};
  for (const auto &s : seeds) run(s);
  run("");
  for (long it = 0; it < iterations; ++it) {
    std::string b = seeds[rng.below(seeds.size())];
    switch (rng.below(5)) {
      case 0:  // a few bit flips
        for (int k = 1 + static_cast<int>(rng.below(16)); k > 0 && !b.empty(); --k)
          b[rng.below(b.size())] ^= static_cast<char>(1 << rng.below(8));
        break;
      case 1:  // truncation
        b.resize(rng.below(b.size() + 1));
        break;
      case 2:  // overwrite a run with random bytes
        for (std::size_t k = rng.below(64), p = rng.below(b.size() + 1); k > 0 && p < b.size(); --k, ++p)
          b[p] = static_cast<char>(rng.next());
        break;
      case 3: {  // duplicate a slice somewhere else (structure confusion)
        if (b.size() > 16) {
          std::size_t from = rng.below(b.size() - 8), len = 1 + rng.below(std::min<std::size_t>(512, b.size() - from));
          std::size_t to = rng.below(b.size() - len + 1);
          b.replace(to, len, b.substr(from, len));
        }
        break;
      }
      default:  // interesting integers at random places
        for (int k = 0; k < 4 && b.size() >= 4; ++k) {
          static const uint32_t vals[] = {0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x100, 8176};
          uint32_t v = vals[rng.below(8)];
          std::size_t p = rng.below(b.size() - 3);
          for (int byte = 0; byte < 4; ++byte) b[p + byte] = static_cast<char>(v >> (8 * byte));
        }
    }
    run(b);
  }
  std::printf("%ld mutated inputs, %zu seeds: no crash\n", iterations, seeds.size());
  return 0;
}
