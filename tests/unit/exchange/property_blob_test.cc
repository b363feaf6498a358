// The PropertyBlob decoder against byte strings written by hand from docs/exchange-edb.md (the
// encoding table there cites gromox's edb_pack.cpp): one test per encoding form, and
// truncations / bad codes that must give a Problem, never a crash.
#include "mailmill/format/exchange/property_blob.h"

#include <gtest/gtest.h>

#include <string>

#include "mailmill/mapi/property.h"
#include "mailmill/util/text.h"

namespace mm::exchange {
namespace {

Bytes B(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<char>(x));
  return b;
}

// "ProP", flags 0x0400, count, then the property list and the values.
Bytes blob(int count, const Bytes &list, const Bytes &values) {
  return "ProP" + B({0x00, 0x04, count & 0xff, count >> 8}) + list + values;
}

i64 le_int(const Bytes &v) {
  u64 x = 0;
  for (std::size_t i = 0; i < v.size(); ++i)
    x |= static_cast<u64>(static_cast<u8>(v[i])) << (8 * i);
  if (v.size() < 8 && !v.empty() && (static_cast<u8>(v.back()) & 0x80))
    x |= ~u64{0} << (8 * v.size());
  return static_cast<i64>(x);
}

TEST(PropertyBlob, IntegerForms) {
  // LONG 0x0e07 in the 0, 1, 2 and 4-byte forms; SHORT 0x0017 1-byte -1; I8 8-byte; BOOL true.
  const Bytes list = B({0x18, 0x07, 0x0e, 0x18, 0x01, 0x00, 0x18, 0x02, 0x00, 0x18, 0x03, 0x00,
                        0x10, 0x17, 0x00, 0x20, 0x04, 0x00, 0x08, 0x05, 0x00, 0x20, 0x06, 0x00});
  const Bytes values =
      B({0x18, 0x19, 0x85, 0x1a, 0x34, 0x12, 0x1b, 0x78, 0x56, 0x34, 0x12, 0x11, 0xff,
         0x24, 1,    2,    3,    4,    5,    6,    7,    8,    0x09, 0x22, 0x00, 0x80});
  Result<DecodedBlob> d = decode_property_blob(blob(8, list, values));
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  ASSERT_EQ(d->props.size(), 8u);
  EXPECT_EQ(d->props[0].tag, mapi::make_tag(0x0e07, mapi::PT_LONG));
  EXPECT_EQ(d->props[0].value, B({0, 0, 0, 0}));
  EXPECT_EQ(le_int(d->props[1].value), -123);  // 0x85 sign-extended
  EXPECT_EQ(d->props[1].value.size(), 4u);
  EXPECT_EQ(le_int(d->props[2].value), 0x1234);
  EXPECT_EQ(le_int(d->props[3].value), 0x12345678);
  EXPECT_EQ(d->props[4].tag, mapi::make_tag(0x0017, mapi::PT_SHORT));
  EXPECT_EQ(d->props[4].value, B({0xff, 0xff}));
  EXPECT_EQ(d->props[5].value, B({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(d->props[6].tag, mapi::make_tag(0x0005, mapi::PT_BOOLEAN));
  EXPECT_EQ(d->props[6].value, B({1}));
  EXPECT_EQ(le_int(d->props[7].value), -32768);  // i16 form of an I8
  EXPECT_EQ(d->props[7].value.size(), 8u);
}

TEST(PropertyBlob, TimeFloatGuidForms) {
  const Bytes list = B({0x38, 0x39, 0x00, 0x38, 0x06, 0x0e, 0x30, 0x01, 0x00, 0x30, 0x02,
                        0x00, 0x28, 0x03, 0x00, 0x28, 0x04, 0x00, 0x40, 0x05, 0x00});
  Bytes values = B({0x38, 0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01,  // 8-byte FILETIME
                    0x39, 0x10, 0x00, 0x00, 0x00,                          // 4-byte form
                    0x30, 0,    0,    0,    0,    0,    0,    0xf0, 0x3f,  // 1.0
                    0x32,                                                  // 0.0
                    0x28, 0,    0,    0x80, 0x3f,                          // 1.0f
                    0x2a, 0x40});
  for (int i = 0; i < 16; ++i) values.push_back(static_cast<char>(i));
  Result<DecodedBlob> d = decode_property_blob(blob(7, list, values));
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->props[0].value, B({0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01}));
  EXPECT_EQ(le_int(d->props[1].value), 16);
  EXPECT_EQ(d->props[1].value.size(), 8u);
  EXPECT_EQ(d->props[2].value, B({0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));
  EXPECT_EQ(d->props[3].value, Bytes(8, '\0'));
  EXPECT_EQ(d->props[4].value, B({0, 0, 0x80, 0x3f}));
  EXPECT_EQ(d->props[5].value, Bytes(4, '\0'));
  EXPECT_EQ(d->props[6].value.size(), 16u);
  EXPECT_EQ(d->props[6].tag, mapi::make_tag(0x0005, mapi::PT_CLSID));
}

TEST(PropertyBlob, TextAndBinaryForms) {
  // Unicode empty / u8 length / u16 length (UTF-8 bytes, returned as UTF-16LE); binary likewise.
  const Bytes list = B({0x48, 0x37, 0x00, 0x48, 0x1a, 0x00, 0x48, 0x00, 0x10, 0x50, 0x01, 0x00,
                        0x50, 0x02, 0x00, 0x50, 0x03, 0x00});
  const std::string cafe = "café";
  const std::string longtext(300, 'x');
  Bytes values =
      B({0x48, 0x4d, static_cast<int>(cafe.size())}) + cafe + B({0x4e, 0x2c, 0x01}) + longtext;
  values += B({0x50, 0x51, 3, 1, 2, 3, 0x52, 0x02, 0x00, 9, 9});
  Result<DecodedBlob> d = decode_property_blob(blob(6, list, values));
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->props[0].tag, mapi::make_tag(0x0037, mapi::PT_UNICODE));
  EXPECT_TRUE(d->props[0].value.empty());
  EXPECT_EQ(text::utf16le_to_utf8(d->props[1].value), cafe);
  EXPECT_EQ(text::utf16le_to_utf8(d->props[2].value), longtext);
  EXPECT_TRUE(d->props[3].value.empty());
  EXPECT_EQ(d->props[4].value, B({1, 2, 3}));
  EXPECT_EQ(d->props[5].value, B({9, 9}));
}

TEST(PropertyBlob, MultiValuedForms) {
  // MV LONG (u8 count 2), MV UNICODE (u8 count 2: "a", ""), MV BINARY (u16 count 1), MV SYSTIME.
  const Bytes list = B({0x98, 0x01, 0x80, 0xc8, 0x02, 0x80, 0xd0, 0x03, 0x80, 0xb8, 0x04, 0x80});
  Bytes values = B({0x99, 2, 1, 0, 0, 0, 2, 0, 0, 0});
  values += B({0xc9, 2, 0x4d, 1, 'a', 0x48});
  values += B({0xd2, 1, 0, 0x51, 2, 7, 8});
  values += B({0xb9, 1, 1, 2, 3, 4, 5, 6, 7, 8});
  Result<DecodedBlob> d = decode_property_blob(blob(4, list, values));
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->props[0].tag, mapi::make_tag(0x8001, mapi::PT_MV_LONG));
  EXPECT_EQ(d->props[0].value, B({1, 0, 0, 0, 2, 0, 0, 0}));
  // PropertyBag form of variable multi-values: count, offsets, data.
  EXPECT_EQ(d->props[1].value, B({2, 0, 0, 0, 12, 0, 0, 0, 14, 0, 0, 0, 'a', 0}));
  EXPECT_EQ(d->props[2].value, B({1, 0, 0, 0, 8, 0, 0, 0, 7, 8}));
  EXPECT_EQ(d->props[3].value, B({1, 2, 3, 4, 5, 6, 7, 8}));
  mapi::PropertyBag bag;
  bag.set(d->props[1].tag, d->props[1].value);
  auto strs = bag.get_strings(0x8002, 1252);
  ASSERT_TRUE(strs.has_value());
  EXPECT_EQ(*strs, (std::vector<std::string>{"a", ""}));
}

TEST(PropertyBlob, NearFarTombstoneAndExtraHeader) {
  // flags 0x0401 carries an extra u32 after the count.
  Bytes b = "ProP" + B({0x01, 0x04, 3, 0, 0xaa, 0xbb, 0xcc, 0xdd});
  b += B({0x48, 0x00, 0x10, 0x50, 0x7d, 0x00, 0x18, 0x36, 0x00});
  b += B({0x78, 0x01, 0x00, 0, 0, 0, 0, 0x4e, 0x00, 0x10, 0x27, 0, 0});  // NEAR slot 1, 10000 bytes
  b += B({0x7a, 0x05, 0x00, 1, 2, 3, 4, 0x52, 0x00, 0x00, 0x00, 1, 0});  // FAR slot 5
  b += B({0x00});                                                        // tombstone
  Result<DecodedBlob> d = decode_property_blob(b);
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->flags, 0x0401);
  EXPECT_EQ(d->extra, 0xddccbbaau);
  EXPECT_EQ(d->props[0].kind, BlobProperty::Kind::Near);
  EXPECT_EQ(d->props[0].slot, 1);
  EXPECT_EQ(d->props[0].encoding, 0x4e);
  EXPECT_EQ(d->props[0].length, 10000u);
  EXPECT_EQ(d->props[1].kind, BlobProperty::Kind::Far);
  EXPECT_EQ(d->props[1].slot, 5);
  EXPECT_EQ(d->props[1].hint, 0x04030201u);
  EXPECT_EQ(d->props[1].length, 0x10000u);
  EXPECT_EQ(d->props[2].kind, BlobProperty::Kind::Tombstone);
  Result<Bytes> sep = decode_separated_value(d->props[0].tag, "héllo");
  ASSERT_TRUE(sep.ok());
  EXPECT_EQ(text::utf16le_to_utf8(*sep), "héllo");
  EXPECT_FALSE(decode_separated_value(mapi::make_tag(1, mapi::PT_LONG), "x").ok());
}

TEST(PropertyBlob, EmptyBlob) {
  Result<DecodedBlob> d = decode_property_blob("ProP" + B({0x00, 0x04, 0, 0}));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->props.empty());
}

TEST(PropertyBlob, DamageIsAProblemNeverACrash) {
  const Bytes list = B({0x48, 0x37, 0x00, 0x18, 0x07, 0x0e, 0xd0, 0x03, 0x80});
  const Bytes values = B({0x4d, 3, 'a', 'b', 'c', 0x1b, 1, 2, 3, 4, 0xd1, 2, 0x51, 1, 7, 0x50});
  const Bytes good = blob(3, list, values);
  ASSERT_TRUE(decode_property_blob(good).ok());
  // Every truncation fails cleanly.
  for (std::size_t n = 0; n < good.size(); ++n) {
    Result<DecodedBlob> d = decode_property_blob(ByteView(good).substr(0, n));
    EXPECT_FALSE(d.ok()) << "prefix of " << n << " bytes";
    if (!d.ok()) {
      EXPECT_EQ(d.problem().code, ProblemCode::SourceCorrupt);
    }
  }
  // Bad signature, flags, type code, encoding code, family mismatch, huge count.
  EXPECT_FALSE(decode_property_blob("PROP" + good.substr(4)).ok());
  EXPECT_FALSE(decode_property_blob("ProP" + B({0x02, 0x04, 0, 0})).ok());
  EXPECT_FALSE(decode_property_blob(blob(1, B({0x99, 1, 0}), B({0x18}))).ok());
  EXPECT_FALSE(decode_property_blob(blob(1, B({0x18, 1, 0}), B({0xee}))).ok());
  EXPECT_FALSE(decode_property_blob(blob(1, B({0x18, 1, 0}), B({0x4d, 1, 'a'}))).ok());
  EXPECT_FALSE(decode_property_blob(blob(0xffff, B({0x18, 1, 0}), B({0x18}))).ok());
  // Every single-byte corruption decodes or fails, never crashes.
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int v : {0x00, 0x4e, 0x52, 0x7a, 0xca, 0xff}) {
      Bytes bad = good;
      bad[i] = static_cast<char>(v);
      (void)decode_property_blob(bad);
    }
  }
  EXPECT_NE(
      decode_property_blob(ByteView(good).substr(0, 10)).problem().detail.find("PropertyBlob"),
      std::string::npos);
}

}  // namespace
}  // namespace mm::exchange
