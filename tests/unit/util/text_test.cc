#include "mailmill/util/text.h"

#include <gtest/gtest.h>

namespace mm::text {
namespace {

TEST(Utf16, EmojiSurrogatePairSurvives) {
  // U+1F600 GRINNING FACE = D83D DE00 in UTF-16 = F0 9F 98 80 in UTF-8.
  const std::string in("\x3D\xD8\x00\xDE", 4);
  EXPECT_EQ(utf16le_to_utf8(in), "\xF0\x9F\x98\x80");
}

TEST(Utf16, UnpairedSurrogatesBecomeReplacement) {
  EXPECT_EQ(utf16le_to_utf8(std::string("\x00\xD8\x41\x00", 4)),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(utf16le_to_utf8(std::string("\x00\xDC", 2)), "\xEF\xBF\xBD");
  EXPECT_EQ(utf16le_to_utf8(std::string("\x3D\xD8", 2)), "\xEF\xBF\xBD");
}

TEST(Utf16, OddByteIgnoredAndNulHandling) {
  EXPECT_EQ(utf16le_to_utf8(std::string("A\0B", 3)), "A");
  const std::string s("A\0\0\0B\0", 6);
  EXPECT_EQ(utf16le_to_utf8(s, true), "A");
  EXPECT_EQ(utf16le_to_utf8(s, false), std::string("A\0B", 3));
}

TEST(Utf16, BmpAndRoundTrip) {
  const std::string utf8 = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";
  const Bytes w = utf8_to_utf16le(utf8);
  EXPECT_EQ(w.substr(0, 4), std::string("h\0\xE9\0", 4));
  EXPECT_EQ(w.substr(w.size() - 4), std::string("\x3D\xD8\x00\xDE", 4));
  EXPECT_EQ(utf16le_to_utf8(w), utf8);
}

TEST(Utf16, InvalidUtf8EncodesReplacement) {
  EXPECT_EQ(utf8_to_utf16le("\xFF"), std::string("\xFD\xFF", 2));
}

TEST(Codepage, Windows1252) {
  EXPECT_EQ(*codepage_to_utf8("\x80 \x93x\x94", 1252), "\xE2\x82\xAC \xE2\x80\x9Cx\xE2\x80\x9D");
  EXPECT_EQ(*codepage_to_utf8("caf\xE9", 1252), "caf\xC3\xA9");
}

TEST(Codepage, Cp932ShiftJis) {
  // "日本" = 93FA 967B in Shift_JIS; "あ" = 82A0.
  EXPECT_EQ(*codepage_to_utf8("\x93\xFA\x96\x7B\x82\xA0", 932),
            "\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81\x82");
}

TEST(Codepage, Cp1251AndKoi8) {
  EXPECT_EQ(*codepage_to_utf8("\xCF\xF0\xE8", 1251), "\xD0\x9F\xD1\x80\xD0\xB8");  // "При"
  EXPECT_EQ(*codepage_to_utf8("\xF0", 20866), "\xD0\x9F");                         // П
}

TEST(Codepage, OthersViaIconv) {
  EXPECT_EQ(*codepage_to_utf8("\xC4\xE3", 936), "\xE4\xBD\xA0");           // 你 (GBK)
  EXPECT_EQ(*codepage_to_utf8("\xA4\xA4", 950), "\xE4\xB8\xAD");           // 中 (Big5)
  EXPECT_EQ(*codepage_to_utf8("\xA4\xA2", 51932), "\xE3\x81\x82");         // あ (EUC-JP)
  EXPECT_EQ(*codepage_to_utf8("\x1B$B$\"\x1B(B", 50220), "\xE3\x81\x82");  // あ (ISO-2022-JP)
  EXPECT_EQ(*codepage_to_utf8("\xA4", 28605), "\xE2\x82\xAC");             // € (ISO-8859-15)
  EXPECT_EQ(*codepage_to_utf8("+AOk-", 65000), "\xC3\xA9");                // é (UTF-7)
}

TEST(Codepage, InvalidSequencesBecomeReplacement) {
  EXPECT_EQ(*codepage_to_utf8("a\x81z", 1252), "a\xEF\xBF\xBDz");  // 0x81 undefined in 1252
  EXPECT_EQ(*codepage_to_utf8("a\x93", 932), "a\xEF\xBF\xBD");     // truncated lead byte
  EXPECT_EQ(*codepage_to_utf8("a\xC3(", 65001), "a\xEF\xBF\xBD(");
  EXPECT_EQ(*codepage_to_utf8("\x80", 20127), "\xEF\xBF\xBD");
}

TEST(Codepage, UnknownReturnsNullopt) {
  EXPECT_FALSE(codepage_to_utf8("abc", 12345).has_value());
  EXPECT_FALSE(codepage_charset_name(0).has_value());
}

TEST(Codepage, Latin1AndUtf16) {
  EXPECT_EQ(*codepage_to_utf8("\xE9\xFF", 28591), "\xC3\xA9\xC3\xBF");
  EXPECT_EQ(*codepage_to_utf8(std::string("A\0", 2), 1200), "A");
}

TEST(Charset, NamesBothWays) {
  EXPECT_EQ(*codepage_charset_name(1252), "windows-1252");
  EXPECT_EQ(*codepage_charset_name(932), "shift_jis");
  EXPECT_EQ(*codepage_charset_name(65001), "utf-8");
  EXPECT_EQ(*codepage_charset_name(28592), "iso-8859-2");
  EXPECT_EQ(*charset_to_codepage("UTF-8"), 65001u);
  EXPECT_EQ(*charset_to_codepage("Windows-1251"), 1251u);
  EXPECT_EQ(*charset_to_codepage("\"iso-8859-1\""), 28591u);
  EXPECT_EQ(*charset_to_codepage("Shift_JIS"), 932u);
  EXPECT_EQ(*charset_to_codepage("gb2312"), 936u);
  EXPECT_EQ(*charset_to_codepage("us-ascii"), 20127u);
  EXPECT_FALSE(charset_to_codepage("x-nonsense").has_value());
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_ascii("hello"));
  EXPECT_FALSE(is_ascii("h\xC3\xA9"));
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
}

TEST(Utf8, Sanitize) {
  EXPECT_EQ(sanitize_utf8("ok"), "ok");
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  // A truncated 3-byte sequence is one maximal subpart -> one U+FFFD.
  EXPECT_EQ(sanitize_utf8("\xE2\x82"
                          "x"),
            "\xEF\xBF\xBD"
            "x");
}

TEST(Codepage, IconvNamesListedAndFallback) {
  EXPECT_EQ(codepage_iconv_name(1252), "CP1252");
  EXPECT_EQ(codepage_iconv_name(51936), "EUC-CN");
  EXPECT_EQ(codepage_iconv_name(38598), "ISO-8859-8");
  EXPECT_EQ(codepage_iconv_name(28600), "ISO-8859-10");
  EXPECT_EQ(codepage_iconv_name(852), "CP852");
}

TEST(Codepage, UnlistedCodepagesOnlyThroughAppend) {
  // CP852 0xA5 is U+0105. codepage_to_utf8 keeps to the listed set (its callers fall back to
  // 1252); append_codepage_as_utf8 takes whatever iconv knows.
  EXPECT_FALSE(codepage_to_utf8("\xA5", 852).has_value());
  std::string out = "x";
  EXPECT_TRUE(append_codepage_as_utf8(out, "\xA5", 852));
  EXPECT_EQ(out, "x\xC4\x85");
  EXPECT_FALSE(append_codepage_as_utf8(out, "\xA5", 12345));
  EXPECT_EQ(out, "x\xC4\x85");
  // Listed codepages agree between the two.
  for (u32 cp : {1252u, 1251u, 932u, 936u, 28591u, 20127u, 65001u, 1200u, 50220u}) {
    const std::string bytes = "a\x82\xA0\xC4\xE3\xFF\x1B$B$\"\x1B(Bz";
    std::string appended;
    ASSERT_TRUE(append_codepage_as_utf8(appended, bytes, cp)) << cp;
    EXPECT_EQ(codepage_to_utf8(bytes, cp), appended) << cp;
    EXPECT_TRUE(is_valid_utf8(appended)) << cp;
  }
}

TEST(Codepage, ManyDistinctCodepagesEvictHandlesAndStillConvert) {
  // Input names the codepages (RTF \\cpgN); the per-thread handle cache is bounded.
  std::string out;
  for (u32 cp = 100000; cp < 100600; ++cp) {
    ASSERT_FALSE(append_codepage_as_utf8(out, "\xA5", cp)) << cp;
    if (cp % 50 == 0) {
      ASSERT_TRUE(append_codepage_as_utf8(out, "\xA5", 852)) << cp;
      ASSERT_TRUE(append_code_point_in_codepage(out, 0x20AC, 1252)) << cp;
    }
  }
  std::string want;
  for (int i = 0; i < 12; ++i) want += "\xC4\x85\x80";
  EXPECT_EQ(out, want);
}

TEST(Codepage, CodePointsIntoCodepages) {
  std::string out;
  EXPECT_TRUE(append_code_point_in_codepage(out, 0x20AC, 1252));  // EURO SIGN
  EXPECT_EQ(out, "\x80");
  EXPECT_FALSE(append_code_point_in_codepage(out, 0x3042, 1252));  // not in cp1252
  EXPECT_EQ(out, "\x80");
  out.clear();
  EXPECT_TRUE(append_code_point_in_codepage(out, 0x3042, 50220));  // with its shift-back
  EXPECT_EQ(out, "\x1B$B$\"\x1B(B");
  out.clear();
  EXPECT_TRUE(append_code_point_in_codepage(out, 0x1F600, 65001));
  EXPECT_EQ(out, "\xF0\x9F\x98\x80");
  EXPECT_FALSE(append_code_point_in_codepage(out, 0x41, 12345));
}

TEST(Codepage, WindowsCharsetIds) {
  EXPECT_EQ(windows_charset_codepage(128), 932u);
  EXPECT_EQ(windows_charset_codepage(204), 1251u);
  EXPECT_EQ(windows_charset_codepage(0), std::nullopt);
  EXPECT_EQ(windows_charset_codepage(2), std::nullopt);
  EXPECT_EQ(windows_charset_codepage(99), std::nullopt);
}

TEST(Utf8, AppendReplacesSurrogatesAndOutOfRange) {
  std::string out;
  append_utf8(out, 0x41);
  append_utf8(out, 0xE9);
  append_utf8(out, 0xD800);
  append_utf8(out, 0x110000);
  append_utf8(out, 0x10FFFF);
  EXPECT_EQ(out, "A\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xF4\x8F\xBF\xBF");
}

TEST(AsciiCase, OnlyAsciiLettersChange) {
  EXPECT_EQ(to_lower_ascii("MiXeD 09 @[`{ \xC3\x89T\xC3\xA9"), "mixed 09 @[`{ \xC3\x89t\xC3\xA9");
  EXPECT_EQ(to_upper_ascii("MiXeD 09 @[`{ \xC3\xA9t"), "MIXED 09 @[`{ \xC3\xA9T");
  EXPECT_TRUE(iequals_ascii("Content-Type", "content-TYPE"));
  EXPECT_FALSE(iequals_ascii("Content-Type", "Content-Typ"));
  EXPECT_FALSE(iequals_ascii("\xC3\x89", "\xC3\xA9"));  // É and é: not ASCII, not folded
  EXPECT_FALSE(iequals_ascii("@", "`"));                // 0x40 and 0x60 differ by 32 too
  EXPECT_TRUE(istarts_with_ascii("IPM.Note.SMIME", "ipm.note"));
  EXPECT_FALSE(istarts_with_ascii("IPM", "ipm.note"));
  EXPECT_TRUE(istarts_with_ascii("x", ""));
}

TEST(Trim, DefaultBlanksAndCustomSets) {
  EXPECT_EQ(trim(" \t\r\n a b \r\n\t "), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim_left("  a  "), "a  ");
  EXPECT_EQ(trim_right("  a  "), "  a");
  EXPECT_EQ(trim(" \ta\n ", " \t"), "a\n");
  const std::string with_nul("a\0 \0", 4);
  EXPECT_EQ(trim_right(with_nul, std::string_view(" \0", 2)), "a");
  EXPECT_EQ(trim(with_nul), with_nul);  // NUL is not a blank by default
  // The result is a view into the argument.
  const std::string s = "  x ";
  EXPECT_EQ(trim(s).data(), s.data() + 2);
}

TEST(Hex, BytesNumbersAndDigits) {
  const u8 raw[] = {0x00, 0x01, 0xAB, 0xFF};
  EXPECT_EQ(to_hex(std::span<const u8>(raw)), "0001abff");
  EXPECT_EQ(to_hex(ByteView("\x00\x7f\x80", 3)), "007f80");
  EXPECT_EQ(to_hex_upper(ByteView("\x00\x7f\x80\xfe", 4)), "007F80FE");
  EXPECT_EQ(to_hex(ByteView()), "");
  EXPECT_EQ(hex_u64(0), "0x0");
  EXPECT_EQ(hex_u64(0x21), "0x21");
  EXPECT_EQ(hex_u64(0x8000000000000000ull), "0x8000000000000000");
  EXPECT_EQ(hex_u64(~u64{0}), "0xffffffffffffffff");
  static_assert(hex_digit_value('0') == 0 && hex_digit_value('9') == 9);
  static_assert(hex_digit_value('a') == 10 && hex_digit_value('F') == 15);
  static_assert(hex_digit_value('g') == -1 && hex_digit_value('/') == -1 &&
                hex_digit_value(':') == -1 && hex_digit_value('@') == -1);
}

}  // namespace
}  // namespace mm::text
