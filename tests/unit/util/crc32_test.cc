// util::crc32_raw (zlib's CRC-32 without its inversions) against the values of the table
// implementations it replaced (src/format/pst/crc.cc, slicing-by-8, and the byte-wise table in
// src/mime/rtf.cc), against the CRC's bit-by-bit definition, and against zlib itself through
// the relation crc32_raw(s, x) == ~zlib::crc32(~s, x).
#include "mailmill/util/crc32.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

namespace mm::util {
namespace {

// The definition, one bit at a time ([MS-PST] 5.3 and [MS-OXRTFCP] 2.1.3.2 describe the same
// table this loop generates).
u32 bitwise(u32 crc, ByteView data) {
  for (char ch : data) {
    crc ^= static_cast<u8>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (0xEDB88320u ^ (crc >> 1)) : (crc >> 1);
  }
  return crc;
}

Bytes pattern(std::size_t n) {
  Bytes d(n, '\0');
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<char>(i * 131 + (i >> 7));
  return d;
}

TEST(Crc32Raw, ValuesOfTheRemovedTableImplementation) {
  // Computed with the slicing-by-8 pst_crc of src/format/pst/crc.cc before it was removed, on
  // pattern(n); lengths around its 8-byte loop and seeds 0, all ones and arbitrary.
  struct Vector {
    u32 seed;
    std::size_t n;
    u32 crc;
  };
  static constexpr Vector VECTORS[] = {
      {0x00000000u, 1, 0x00000000u},   {0x00000000u, 7, 0xC18D66CFu},
      {0x00000000u, 8, 0x8B7F358Cu},   {0x00000000u, 9, 0xF7E92868u},
      {0x00000000u, 63, 0xA4C61EF8u},  {0x00000000u, 64, 0xEBAAF021u},
      {0x00000000u, 65, 0xD7E6781Eu},  {0x00000000u, 511, 0x233CC60Du},
      {0x00000000u, 512, 0x932AC35Bu}, {0x00000000u, 4096, 0xCCEE6C84u},
      {0xFFFFFFFFu, 1, 0x2DFD1072u},   {0xFFFFFFFFu, 7, 0xA31E464Eu},
      {0xFFFFFFFFu, 8, 0x11A2151Au},   {0xFFFFFFFFu, 9, 0xEE1FC339u},
      {0xFFFFFFFFu, 63, 0xB3933BE3u},  {0xFFFFFFFFu, 64, 0x61D86CE8u},
      {0xFFFFFFFFu, 65, 0x35D47096u},  {0xFFFFFFFFu, 511, 0xC4D7196Du},
      {0xFFFFFFFFu, 512, 0xDE7F49DCu}, {0xFFFFFFFFu, 4096, 0xF40D936Au},
      {0xDEADBEEFu, 1, 0x306B5257u},   {0xDEADBEEFu, 7, 0x5A9957B9u},
      {0xDEADBEEFu, 8, 0x3282F5B4u},   {0xDEADBEEFu, 9, 0xDF526D36u},
      {0xDEADBEEFu, 63, 0x9530AB0Bu},  {0xDEADBEEFu, 64, 0xCF2FA532u},
      {0xDEADBEEFu, 65, 0x537CBC95u},  {0xDEADBEEFu, 511, 0x03D0C7F5u},
      {0xDEADBEEFu, 512, 0x206C5574u}, {0xDEADBEEFu, 4096, 0x9EC90ED9u},
  };
  const Bytes data = pattern(4096);
  for (const Vector &v : VECTORS) {
    const ByteView in = ByteView(data).substr(0, v.n);
    EXPECT_EQ(crc32_raw(v.seed, in), v.crc) << std::hex << v.seed << " " << std::dec << v.n;
    EXPECT_EQ(bitwise(v.seed, in), v.crc) << std::hex << v.seed << " " << std::dec << v.n;
  }
  // The vectors of tests/unit/pst/crypt_test.cc (Python: ~binascii.crc32(data, ~seed)) and of
  // the [MS-OXRTFCP] 3.1.1 / 3.1.2 examples' CONTENTS (CRC fields 0xA7C7C5F1, 0x514BD4E2).
  EXPECT_EQ(crc32_raw(0, "123456789"), 0x2dfd2d88u);
  EXPECT_EQ(crc32_raw(0x12345678, "abc"), 0x5dd2af4du);
  const Bytes example1(
      "\x03\x00\x0a\x00\x72\x63\x70\x67\x31\x32\x35\x42\x32\x0a\xf3\x20\x68\x65"
      "\x6c\x09\x00\x20\x62\x77\x05\xb0\x6c\x64\x7d\x0a\x80\x0f\xa0",
      33);
  EXPECT_EQ(crc32_raw(0, example1), 0xA7C7C5F1u);
  const Bytes example2("\x41\x00\x04\x20\x57\x58\x59\x5a\x0d\x6e\x7d\x01\x0e\xb0", 14);
  EXPECT_EQ(crc32_raw(0, example2), 0x514BD4E2u);
}

TEST(Crc32Raw, EmptyInputKeepsTheSeed) {
  EXPECT_EQ(crc32_raw(0, ByteView()), 0u);
  EXPECT_EQ(crc32_raw(0xDEADBEEFu, ByteView()), 0xDEADBEEFu);
  EXPECT_EQ(crc32_raw(0xDEADBEEFu, ""), 0xDEADBEEFu);
}

TEST(Crc32Raw, DefinitionAndZlibRelationOnRandomInput) {
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    Bytes data(rng() % 3000, '\0');
    for (char &c : data) c = static_cast<char>(rng());
    const u32 seed = round % 3 == 0 ? 0u : static_cast<u32>(rng());
    const u32 want = bitwise(seed, data);
    ASSERT_EQ(crc32_raw(seed, data), want) << round;
    if (!data.empty()) {
      const u32 z =
          static_cast<u32>(crc32(~seed & 0xFFFFFFFFu, reinterpret_cast<const Bytef *>(data.data()),
                                 static_cast<uInt>(data.size())));
      ASSERT_EQ(~z, want) << round;
    }
    // Continuing from a CRC: any split gives the CRC of the whole.
    const std::size_t cut = data.empty() ? 0 : rng() % (data.size() + 1);
    ASSERT_EQ(crc32_raw(crc32_raw(seed, ByteView(data).substr(0, cut)), ByteView(data).substr(cut)),
              want)
        << round;
  }
}

}  // namespace
}  // namespace mm::util
