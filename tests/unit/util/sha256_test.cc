#include "mailmill/util/sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>

namespace mm::util {
namespace {

Sha256Digest reference(ByteView data) {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Bytes random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes b(n, '\0');
  for (char &c : b) c = static_cast<char>(rng());
  return b;
}

TEST(Sha256, KnownAnswers) {
  // [FIPS 180-4] examples: "abc" and the 448-bit two-block message.
  auto hex = [](const Sha256Digest &d) {
    std::string s;
    for (u8 b : d) s += "0123456789abcdef"[b >> 4], s += "0123456789abcdef"[b & 15];
    return s;
  };
  EXPECT_EQ(hex(Sha256::digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(Sha256::digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(Sha256::digest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, EveryLengthAroundBlockAndPaddingBoundaries) {
  const Bytes data = random_bytes(1100, 1);
  for (std::size_t n = 0; n <= data.size(); ++n) {
    ByteView v(data.data(), n);
    ASSERT_EQ(Sha256::digest(v), reference(v)) << n;
    Sha256 portable(false);
    portable.update(v);
    ASSERT_EQ(portable.finish(), reference(v)) << n;
  }
}

TEST(Sha256, PiecewiseUpdatesEqualOneShot) {
  const Bytes data = random_bytes(200000, 2);
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    Sha256 h;
    std::size_t at = 0;
    while (at < data.size()) {
      std::size_t n = std::min<std::size_t>(data.size() - at, rng() % 300 == 0 ? 70000 : rng() % 200);
      h.update(ByteView(data.data() + at, n));
      at += n;
    }
    ASSERT_EQ(h.finish(), reference(data)) << round;
  }
  Sha256 reused;  // finish() starts over
  reused.update("something else");
  reused.finish();
  reused.update(data);
  EXPECT_EQ(reused.finish(), reference(data));
}

TEST(Sha256, TwoStreamsInterleavedEqualSeparateDigests) {
  const Bytes a = random_bytes(300000, 4), b = random_bytes(400000, 5);
  std::mt19937 rng(6);
  for (int round = 0; round < 40; ++round) {
    Sha256 ha, hb;
    std::size_t ia = 0, ib = 0;
    while (ia < a.size() || ib < b.size()) {
      // Pieces of unequal, often unaligned sizes, as base64 input and output are.
      std::size_t na = std::min<std::size_t>(a.size() - ia, rng() % 5 == 0 ? rng() % 100 : rng() % 60000);
      std::size_t nb = std::min<std::size_t>(b.size() - ib, rng() % 5 == 0 ? rng() % 100 : rng() % 80000);
      Sha256::update2(ha, ByteView(a.data() + ia, na), hb, ByteView(b.data() + ib, nb));
      ia += na;
      ib += nb;
    }
    ASSERT_EQ(ha.finish(), reference(a)) << round;
    ASSERT_EQ(hb.finish(), reference(b)) << round;
  }
  // Mixed paths: one object on the OpenSSL path.
  Sha256 hw, sw(false);
  Sha256::update2(hw, a, sw, b);
  EXPECT_EQ(hw.finish(), reference(a));
  EXPECT_EQ(sw.finish(), reference(b));
}

}  // namespace
}  // namespace mm::util
