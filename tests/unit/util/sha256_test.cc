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

// One test per implementation (MAILMILL_CPU / force_sha256_impl): each runs the known answers
// and the comparison with OpenSSL's one-shot digest where the CPU can run it, and says why not
// where it cannot.
class ForcedSha256 {
 public:
  explicit ForcedSha256(Sha256Impl impl) : ok_(force_sha256_impl(impl)) {}
  ~ForcedSha256() { reset_sha256_impl(); }
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

std::string hex(const Sha256Digest &d) {
  std::string s;
  for (u8 b : d) s += "0123456789abcdef"[b >> 4], s += "0123456789abcdef"[b & 15];
  return s;
}

void check_against_reference() {
  EXPECT_EQ(hex(Sha256::digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(Sha256::digest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const Bytes data = random_bytes(70000, 7);
  // Every length around the block and padding boundaries, one-shot and in pieces.
  for (std::size_t n = 0; n <= 1100; ++n) {
    const ByteView v(data.data(), n);
    ASSERT_EQ(Sha256::digest(v), reference(v)) << n;
    Sha256 h;
    h.update(v.substr(0, n / 3));
    h.update(v.substr(n / 3));
    ASSERT_EQ(h.finish(), reference(v)) << n;
  }
  // Two streams (update2's interleaved path when both use the SHA extensions).
  std::mt19937 rng(8);
  for (int round = 0; round < 20; ++round) {
    const std::size_t na = rng() % data.size(), nb = rng() % data.size();
    Sha256 a, b;
    const std::size_t cut = rng() % 200;
    Sha256::update2(a, ByteView(data).substr(0, std::min(cut, na)), b,
                    ByteView(data).substr(0, std::min(cut, nb)));
    if (cut < na && cut < nb)
      Sha256::update2(a, ByteView(data).substr(cut, na - cut), b,
                      ByteView(data).substr(cut, nb - cut));
    else {
      if (cut < na) a.update(ByteView(data).substr(cut, na - cut));
      if (cut < nb) b.update(ByteView(data).substr(cut, nb - cut));
    }
    ASSERT_EQ(a.finish(), reference(ByteView(data).substr(0, na))) << round;
    ASSERT_EQ(b.finish(), reference(ByteView(data).substr(0, nb))) << round;
  }
}

TEST(Sha256Impl, OpenSsl) {
  ForcedSha256 forced(Sha256Impl::OpenSsl);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(sha256_impl(), Sha256Impl::OpenSsl);
  EXPECT_FALSE(Sha256::hardware());
  check_against_reference();
}

TEST(Sha256Impl, ShaExtensions) {
  if (!sha256_impl_supported(Sha256Impl::ShaExtensions))
    GTEST_SKIP() << "CPU lacks the SHA extensions (SHA-NI)";
  ForcedSha256 forced(Sha256Impl::ShaExtensions);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(sha256_impl(), Sha256Impl::ShaExtensions);
  EXPECT_TRUE(Sha256::hardware());
  check_against_reference();
}

TEST(Sha256Impl, ForcingAnUnsupportedImplChangesNothing) {
  const Sha256Impl before = sha256_impl();
  if (sha256_impl_supported(Sha256Impl::ShaExtensions)) {
    EXPECT_TRUE(force_sha256_impl(Sha256Impl::ShaExtensions));
  } else {
    EXPECT_FALSE(force_sha256_impl(Sha256Impl::ShaExtensions));
    EXPECT_EQ(sha256_impl(), before);
  }
  reset_sha256_impl();
  EXPECT_EQ(sha256_impl(), before);
  EXPECT_STREQ(sha256_impl_name(Sha256Impl::OpenSsl), "openssl");
  EXPECT_STREQ(sha256_impl_name(Sha256Impl::ShaExtensions), "shani");
}

}  // namespace
}  // namespace mm::util
