// CRC-32 and block encoding of [MS-PST] section 5, checked against independent oracles: the
// CRC model against zlib's CRC-32 (which differs only by the pre/post inversion) and against
// the header CRCs Outlook wrote into the fixtures; the permute tables against each other and by
// decoding real fixture blocks into valid heap signatures.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "../../../src/format/pst/crc.h"
#include "../../../src/format/pst/crypt.h"
#include "../../../src/format/pst/layout.h"
#include "../../../src/format/pst/ndb.h"
#include "test_support.h"

namespace mm::pst {
namespace {

std::string fixture(const std::string &name) {
  return mm::testing::corpus_path("pst/" + name);
}

Bytes slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

TEST(PstCrc, MatchesReflectedCrc32WithoutInversion) {
  // Values computed with Python: ~binascii.crc32(data, ~seed) & 0xffffffff.
  EXPECT_EQ(pst_crc(0, "123456789"), 0x2dfd2d88u);
  EXPECT_EQ(pst_crc(0, ""), 0u);
  EXPECT_EQ(pst_crc(0x12345678, "abc"), 0x5dd2af4du);
  Bytes ramp;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 256; ++i) ramp.push_back(static_cast<char>(i));
  EXPECT_EQ(pst_crc(0, ramp), 0x45602b3fu);
  // Seeding continues a CRC: split anywhere gives the same result (exercises the 8-byte path).
  for (std::size_t cut : {0u, 1u, 7u, 8u, 9u, 300u, 767u}) {
    EXPECT_EQ(pst_crc(pst_crc(0, ByteView(ramp).substr(0, cut)), ByteView(ramp).substr(cut)),
              0x45602b3fu)
        << cut;
  }
}

TEST(PstCrc, MatchesHeaderCrcsOfRealFiles) {
  MM_REQUIRE_CORPUS();
  for (const char *name : {"aspnet__Outlook.pst", "pstsdk__test_unicode.pst",
                           "pstsdk__test_ansi.pst", "hht__contacts97-2002.pst"}) {
    Bytes f = slurp(fixture(name));
    ASSERT_GE(f.size(), 564u) << name;
    const auto *p = reinterpret_cast<const u8 *>(f.data());
    EXPECT_EQ(pst_crc(0, ByteView(f).substr(HDR_CRC_PARTIAL_START, HDR_CRC_PARTIAL_LEN)),
              load_le32(p + HDR_OFF_CRC_PARTIAL))
        << name;
    if (load_le16(p + HDR_OFF_VER) >= HDR_VER_UNICODE) {
      EXPECT_EQ(pst_crc(0, ByteView(f).substr(HDRU_CRC_FULL_START, HDRU_CRC_FULL_LEN)),
                load_le32(p + HDRU_OFF_CRC_FULL))
          << name;
    }
  }
}

TEST(PstCrypt, PermuteTablesAreInversePermutations) {
  const u8 *r = MPBB_CRYPT.data();
  const u8 *s = MPBB_CRYPT.data() + 256;
  const u8 *i = MPBB_CRYPT.data() + 512;
  bool seen[256] = {};
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(i[r[b]], b);
    EXPECT_EQ(r[i[b]], b);
    EXPECT_EQ(s[s[b]], b);  // mpbbS is an involution
    EXPECT_FALSE(seen[r[b]]);
    seen[r[b]] = true;
  }
  // Spot values from [MS-PST] 5.1.
  EXPECT_EQ(r[0], 65);
  EXPECT_EQ(r[255], 61);
  EXPECT_EQ(s[0], 20);
  EXPECT_EQ(i[0], 71);
  EXPECT_EQ(i[255], 236);
}

TEST(PstCrypt, PermuteAndCyclicRoundTrip) {
  Bytes orig;
  for (int k = 0; k < 1000; ++k) orig.push_back(static_cast<char>((k * 37 + 11) & 0xFF));
  Bytes x = orig;
  auto *p = reinterpret_cast<u8 *>(x.data());
  permute_encode(p, x.size());
  EXPECT_NE(x, orig);
  permute_decode(p, x.size());
  EXPECT_EQ(x, orig);
  for (u32 key : {0u, 1u, 0x12345678u, 0xFFFFFFFFu, 0x00010001u}) {
    cyclic_encode(p, x.size(), key);
    EXPECT_NE(x, orig) << key;
    cyclic_decode(p, x.size(), key);
    EXPECT_EQ(x, orig) << key;
  }
  // encode/decode through the bCryptMethod dispatcher too.
  for (u8 m : {NDB_CRYPT_NONE, NDB_CRYPT_PERMUTE, NDB_CRYPT_CYCLIC}) {
    ASSERT_TRUE(encode_block(m, p, x.size(), 0x1234));
    ASSERT_TRUE(decode_block(m, p, x.size(), 0x1234));
    EXPECT_EQ(x, orig);
  }
  EXPECT_FALSE(decode_block(0x55, p, x.size(), 0));
}

// The permute transforms (64 bytes at a time with AVX-512 VBMI where the CPU has it, with a
// masked tail) give, for every length and alignment, the table's entry for each byte, read
// here straight from mpbbI / mpbbR; bytes around the range stay untouched.
TEST(PstCrypt, PermuteMatchesTheTableAtEveryLengthAndOffset) {
  u64 state = 0x9E3779B97F4A7C15ULL;
  Bytes buf(700, '\0');
  for (char &c : buf) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(state >> 56);
  }
  const u8 *R = MPBB_CRYPT.data(), *I = MPBB_CRYPT.data() + 512;
  for (u64 off : {0u, 1u, 7u, 63u}) {
    for (u64 n = 0; n <= 300; ++n) {
      Bytes x = buf;
      auto *p = reinterpret_cast<u8 *>(x.data());
      permute_decode(p + off, n);
      Bytes y = buf;
      auto *q = reinterpret_cast<u8 *>(y.data());
      permute_encode(q + off, n);
      Bytes z(buf.size(), '\x5A');
      permute_decode_copy(reinterpret_cast<const u8 *>(buf.data()) + off,
                          reinterpret_cast<u8 *>(z.data()) + off, n);
      for (u64 i = 0; i < buf.size(); ++i) {
        const u8 b = static_cast<u8>(buf[i]);
        const bool in = i >= off && i < off + n;
        ASSERT_EQ(p[i], in ? I[b] : b) << "decode n=" << n << " off=" << off << " i=" << i;
        ASSERT_EQ(q[i], in ? R[b] : b) << "encode n=" << n << " off=" << off << " i=" << i;
        ASSERT_EQ(static_cast<u8>(z[i]), in ? I[b] : 0x5A)
            << "decode_copy n=" << n << " off=" << off << " i=" << i;
      }
    }
  }
}

// The message store node of a permute-encoded fixture decodes to a heap (bSig 0xEC) holding a
// property context (bClientSig 0xBC) only when the mpbbI table is right.
TEST(PstCrypt, DecodesRealPermuteBlocks) {
  MM_REQUIRE_CORPUS();
  for (const char *name : {"aspnet__Outlook.pst", "pstsdk__test_ansi.pst"}) {
    Result<std::shared_ptr<const PstFile>> f = PstFile::open(fixture(name));
    ASSERT_TRUE(f.ok()) << name << ": " << f.problem().detail;
    ASSERT_EQ((*f)->header().crypt, NDB_CRYPT_PERMUTE);
    const NbtEntry *n = (*f)->find_node(NID_MESSAGE_STORE);
    ASSERT_NE(n, nullptr);
    const BbtEntry *b = (*f)->find_block(n->bid_data);
    ASSERT_NE(b, nullptr);
    Bytes raw = slurp(fixture(name)).substr(b->ib, b->cb);
    EXPECT_NE(static_cast<u8>(raw[HNHDR_OFF_SIG]), HN_SIG);  // encoded on disk
    permute_decode(reinterpret_cast<u8 *>(raw.data()), raw.size());
    EXPECT_EQ(static_cast<u8>(raw[HNHDR_OFF_SIG]), HN_SIG) << name;
    EXPECT_EQ(static_cast<u8>(raw[HNHDR_OFF_CLIENT_SIG]), HN_CLIENT_PC) << name;
    Result<BlockRef> blk = (*f)->read_block(n->bid_data);
    ASSERT_TRUE(blk.ok());
    EXPECT_EQ(blk->data, ByteView(raw));
  }
}

TEST(PstLayout, BlockSignature) {
  // [MS-PST] 5.5: sig = low 16 bits of ((ib ^ bid) >> 16) ^ (ib ^ bid).
  EXPECT_EQ(compute_sig(0, 0), 0);
  EXPECT_EQ(compute_sig(0x12345678, 0), 0x1234 ^ 0x5678);
  EXPECT_EQ(compute_sig(0x4400, 0x24), (0x4400 ^ 0x24) & 0xFFFF);
  EXPECT_EQ(block_disk_size(0, BTRU_SIZE, BLOCK_ALIGN), 64u);
  EXPECT_EQ(block_disk_size(48, BTRU_SIZE, BLOCK_ALIGN), 64u);
  EXPECT_EQ(block_disk_size(49, BTRU_SIZE, BLOCK_ALIGN), 128u);
  EXPECT_EQ(block_disk_size(BLOCK_MAX_DATA_UNICODE, BTRU_SIZE, BLOCK_ALIGN), BLOCK_MAX_SIZE);
  EXPECT_EQ(block_disk_size(BLOCK_MAX_DATA_ANSI, BTRA_SIZE, BLOCK_ALIGN), BLOCK_MAX_SIZE);
}

}  // namespace
}  // namespace mm::pst
