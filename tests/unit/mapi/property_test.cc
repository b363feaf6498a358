#include "test_support.h"
#include "mailmill/mapi/property.h"

#include <gtest/gtest.h>

#include <cstring>

#include "mailmill/mapi/oneoff.h"
#include "mailmill/util/text.h"

namespace mm::mapi {
namespace {

using testing::le64;
using testing::mv;

TEST(PropertyBag, SetFindReplaceSorted) {
  PropertyBag b;
  b.set_i32(make_tag(0x0E07, PT_LONG), 5);
  b.set_unicode(0x0037, "hi");
  b.set_i32(make_tag(0x0017, PT_LONG), 2);
  b.set_i32(make_tag(0x0E07, PT_LONG), 9);  // replaces
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.all()[0].id(), 0x0017);
  EXPECT_EQ(b.all()[1].id(), 0x0037);
  EXPECT_EQ(b.all()[2].id(), 0x0E07);
  EXPECT_EQ(*b.get_i32(0x0E07), 9);
  EXPECT_NE(b.find_tag(make_tag(0x0037, PT_UNICODE)), nullptr);
  EXPECT_EQ(b.find_tag(make_tag(0x0037, PT_STRING8)), nullptr);
  EXPECT_EQ(b.find(0x1234), nullptr);
}

TEST(PropertyBag, SetCopiesValue) {
  PropertyBag b;
  {
    std::string tmp = "abc";
    b.set(make_tag(0x1000, PT_BINARY), tmp);
    tmp = "xyz";
  }
  EXPECT_EQ(*b.get_bytes(0x1000), "abc");
}

TEST(PropertyBag, SetViewKeepsOwnerAlive) {
  PropertyBag b;
  {
    auto owner = std::make_shared<std::string>("pinned bytes");
    b.set_view(make_tag(0x1000, PT_BINARY), std::string_view(*owner).substr(0, 6), owner);
  }
  EXPECT_EQ(*b.get_bytes(0x1000), "pinned");
}

TEST(PropertyBag, IntegerGetters) {
  PropertyBag b;
  b.set(make_tag(0x0001, PT_SHORT), std::string("\xFE\xFF", 2));
  b.set_i32(make_tag(0x0002, PT_LONG), -7);
  b.set_i64(make_tag(0x0003, PT_I8), 0x123456789LL);
  b.set(make_tag(0x0004, PT_LONG), std::string("\x01\x00", 2));  // malformed
  b.set_bool(make_tag(0x0005, PT_BOOLEAN), true);
  b.set(make_tag(0x0006, PT_BOOLEAN), std::string("\x00\x00\x00\x00", 4));
  EXPECT_EQ(*b.get_i32(0x0001), -2);
  EXPECT_EQ(*b.get_i32(0x0002), -7);
  EXPECT_EQ(*b.get_i64(0x0002), -7);
  EXPECT_EQ(*b.get_i64(0x0003), 0x123456789LL);
  EXPECT_FALSE(b.get_i32(0x0003).has_value());
  EXPECT_FALSE(b.get_i32(0x0004).has_value());
  EXPECT_TRUE(*b.get_bool(0x0005));
  EXPECT_FALSE(*b.get_bool(0x0006));
  EXPECT_TRUE(*b.get_bool(0x0002));
}

TEST(PropertyBag, DoubleGetter) {
  PropertyBag b;
  double d = 0.75;
  u64 bits;
  std::memcpy(&bits, &d, 8);
  b.set(make_tag(0x8001, PT_DOUBLE), le64(bits));
  float f = 0.5f;
  u32 fb;
  std::memcpy(&fb, &f, 4);
  b.set_i32(make_tag(0x8002, PT_FLOAT), static_cast<i32>(fb));
  EXPECT_DOUBLE_EQ(*b.get_double(0x8001), 0.75);
  EXPECT_DOUBLE_EQ(*b.get_double(0x8002), 0.5);
}

TEST(PropertyBag, FiletimeToUnixSeconds) {
  PropertyBag b;
  // 2009-02-13T23:31:30Z = unix 1234567890 = FILETIME 128790414900000000.
  b.set(make_tag(0x0039, PT_SYSTIME), le64(128790414900000000ULL + 9999999ULL));
  b.set(make_tag(0x0E06, PT_SYSTIME), le64(116444736000000000ULL));  // 1970-01-01
  b.set(make_tag(0x3007, PT_SYSTIME), le64(0));
  b.set(make_tag(0x3008, PT_SYSTIME), le64(~0ULL));
  b.set(make_tag(0x3009, PT_SYSTIME), le64(10000000ULL));  // 1601-01-01T00:00:01
  b.set(make_tag(0x300A, PT_SYSTIME), std::string("\x01\x02", 2));
  EXPECT_EQ(*b.get_time(0x0039), 1234567890);  // floor, not rounded
  EXPECT_EQ(*b.get_time(0x0E06), 0);
  EXPECT_FALSE(b.get_time(0x3007).has_value());
  EXPECT_FALSE(b.get_time(0x3008).has_value());
  EXPECT_EQ(*b.get_time(0x3009), -11644473599LL);
  EXPECT_FALSE(b.get_time(0x300A).has_value());
  // 9999-12-31T23:59:59Z is the last accepted second; one second later is rejected.
  PropertyBag c;
  const u64 last = (253402300799ULL + 11644473600ULL) * 10000000ULL;
  c.set(make_tag(0x0001, PT_SYSTIME), le64(last));
  c.set(make_tag(0x0002, PT_SYSTIME), le64(last + 10000000ULL));
  EXPECT_EQ(*c.get_time(0x0001), 253402300799LL);
  EXPECT_FALSE(c.get_time(0x0002).has_value());
}

TEST(PropertyBag, StringsUnicodeAndString8) {
  PropertyBag b;
  b.set(make_tag(0x0037, PT_UNICODE), std::string("h\0i\0\0\0", 6));  // trailing NUL dropped
  b.set(make_tag(0x0E1D, PT_STRING8), std::string("caf\xE9\0", 5));
  b.set(make_tag(0x1000, PT_STRING8), std::string("\x93\xFA\x96\x7B", 4));
  EXPECT_EQ(*b.get_string(0x0037, 1252), "hi");
  EXPECT_EQ(*b.get_string(0x0E1D, 1252), "caf\xC3\xA9");
  EXPECT_EQ(*b.get_string(0x1000, 932), "\xE6\x97\xA5\xE6\x9C\xAC");
  // Unknown codepage falls back to windows-1252.
  EXPECT_EQ(*b.get_string(0x0E1D, 4242), "caf\xC3\xA9");
  b.set_i32(make_tag(0x0E07, PT_LONG), 1);
  EXPECT_FALSE(b.get_string(0x0E07, 1252).has_value());
}

TEST(PropertyBag, EmojiSurvivesUnicodeProperty) {
  PropertyBag b;
  b.set(make_tag(0x0037, PT_UNICODE), std::string("\x3D\xD8\x00\xDE!\0", 6));
  EXPECT_EQ(*b.get_string(0x0037, 1252), "\xF0\x9F\x98\x80!");
}

TEST(PropertyBag, MultiValuedStrings) {
  PropertyBag b;
  b.set(make_tag(0x8010, PT_MV_UNICODE),
        mv({text::utf8_to_utf16le("Red"), text::utf8_to_utf16le("\xC3\x9C"
                                                                "ber")}));
  b.set(make_tag(0x8011, PT_MV_STRING8), mv({"\xCF\xF0\xE8", "ok"}));
  b.set(make_tag(0x8012, PT_MV_UNICODE), mv({}));
  std::string bad = mv({"ab", "cd"});
  bad[8] = '\x7F';  // second offset beyond the value
  b.set(make_tag(0x8013, PT_MV_STRING8), bad);
  EXPECT_EQ(*b.get_strings(0x8010, 1252), (std::vector<std::string>{"Red",
                                                                    "\xC3\x9C"
                                                                    "ber"}));
  EXPECT_EQ(*b.get_strings(0x8011, 1251),
            (std::vector<std::string>{"\xD0\x9F\xD1\x80\xD0\xB8", "ok"}));
  EXPECT_TRUE(b.get_strings(0x8012, 1252)->empty());
  EXPECT_FALSE(b.get_strings(0x8013, 1252).has_value());
}

TEST(NameMap, LookupByLidAndName) {
  NameMap names;
  PropertyName kw{psetid::PublicStrings, true, 0, "Keywords"};
  PropertyName start{psetid::Appointment, false, 0x820D, ""};
  names.add(0x8005, kw);
  names.add(0x8001, start);
  EXPECT_EQ(names.size(), 2u);
  EXPECT_EQ(*names.id_of(psetid::PublicStrings, std::string_view("Keywords")), 0x8005);
  EXPECT_EQ(*names.id_of(psetid::Appointment, 0x820Du), 0x8001);
  EXPECT_FALSE(names.id_of(psetid::Task, 0x820Du).has_value());
  EXPECT_EQ(names.name_of(0x8005)->name, "Keywords");
  EXPECT_EQ(names.name_of(0x8002), nullptr);
  EXPECT_EQ(names.all()[0].first, 0x8001);
}

TEST(Guid, StoredLittleEndianLayout) {
  const std::array<u8, 16> expect = {0x02, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
  EXPECT_EQ(guid_from_string("00062002-0000-0000-C000-000000000046"), expect);
  EXPECT_EQ(guid_from_string("{00062002-0000-0000-c000-000000000046}"), expect);
  EXPECT_EQ(psetid::Appointment, expect);
  const std::array<u8, 16> meeting = {0x90, 0xDA, 0xD8, 0x6E, 0x0B, 0x45, 0x1B, 0x10,
                                      0x98, 0xDA, 0x00, 0xAA, 0x00, 0x3F, 0x13, 0x05};
  EXPECT_EQ(psetid::Meeting, meeting);
  EXPECT_EQ(guid_from_string("not a guid"), (std::array<u8, 16>{}));
}

TEST(OneOff, ParsesUnicodeEntryBuiltPerSpec) {
  // Flags(4)=0, ProviderUID, Version(2)=0, Flags(2)=0x9001 (UNICODE|NO_RICH_INFO|0x1000).
  std::string id(4, '\0');
  id += std::string(reinterpret_cast<const char *>(ONE_OFF_PROVIDER_UID.data()), 16);
  id += std::string("\x00\x00\x01\x90", 4);
  for (const char *s : {"J\xC3\xBCrgen", "SMTP", "j@example.com"}) {
    id += text::utf8_to_utf16le(s);
    id += std::string("\0\0", 2);
  }
  std::optional<OneOffEntry> e = parse_one_off_entry_id(id);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->display_name, "J\xC3\xBCrgen");
  EXPECT_EQ(e->addr_type, "SMTP");
  EXPECT_EQ(e->address, "j@example.com");
  EXPECT_EQ(e->flags, 0x9001);
  EXPECT_EQ(make_one_off_entry_id("J\xC3\xBCrgen", "SMTP", "j@example.com", 0x1001), id);
  // Truncated: the address terminator is missing.
  EXPECT_FALSE(parse_one_off_entry_id(id.substr(0, id.size() - 2)).has_value());
}

TEST(OneOff, ParsesAnsiEntry) {
  std::string id(4, '\0');
  id += std::string(reinterpret_cast<const char *>(ONE_OFF_PROVIDER_UID.data()), 16);
  id += std::string("\x00\x00\x00\x00", 4);
  id += std::string("Ren\xE9\0SMTP\0r@example.org\0", 24);
  std::optional<OneOffEntry> e = parse_one_off_entry_id(id, 1252);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->display_name, "Ren\xC3\xA9");
  EXPECT_EQ(e->address, "r@example.org");
  id[5] = 0x00;  // not the one-off provider
  EXPECT_FALSE(parse_one_off_entry_id(id).has_value());
  EXPECT_FALSE(parse_one_off_entry_id("short").has_value());
}

}  // namespace
}  // namespace mm::mapi
