#include "mailmill/mime/encode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mm::mime {
namespace {

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==\r\n");
  EXPECT_EQ(base64_encode("fo"), "Zm8=\r\n");
  EXPECT_EQ(base64_encode("foo"), "Zm9v\r\n");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==\r\n");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=\r\n");
  EXPECT_EQ(base64_encode("foobar", "\n"), "Zm9vYmFy\n");
}

TEST(Base64, SeventySixCharacterLines) {
  std::string data(57, 'a');  // exactly one 76-char line
  Bytes one = base64_encode(data);
  EXPECT_EQ(one.size(), 78u);
  EXPECT_EQ(one.substr(76), "\r\n");
  Bytes two = base64_encode(data + "b", "\n");
  EXPECT_EQ(two, one.substr(0, 76) + "\nYg==\n");
  std::string bin;
  for (int i = 0; i < 256; ++i) bin.push_back(static_cast<char>(i));
  Bytes all = base64_encode(bin, "\n");
  EXPECT_EQ(all.substr(0, 20), "AAECAwQFBgcICQoLDA0O");
  EXPECT_EQ(all.substr(all.size() - 5), "/w==\n");
}

TEST(QuotedPrintable, EncodesEqualsTrailingSpaceAndNonAscii) {
  EXPECT_EQ(qp_encode("a = b\r\n"), "a =3D b\r\n");
  EXPECT_EQ(qp_encode("trailing \nspace\t\n", "\r\n"), "trailing=20\r\nspace=09\r\n");
  EXPECT_EQ(qp_encode("Gr\xC3\xBC\xC3\x9F" "e"), "Gr=C3=BC=C3=9Fe");
  EXPECT_EQ(qp_encode("bell\x07\x00x", "\n"), "bell=07");  // stops at the literal's end
  EXPECT_EQ(qp_encode(std::string_view("bell\x07\x00x", 7), "\n"), "bell=07=00x");
  EXPECT_EQ(qp_encode("From me\n", "\n"), "=46rom me\n");
  EXPECT_EQ(qp_encode("x\r\n.\r\n"), "x\r\n=2E\r\n");
  EXPECT_EQ(qp_encode("bare\rcr"), "bare=0Dcr");
}

TEST(QuotedPrintable, SoftBreaksAt76) {
  std::string line(100, 'a');
  EXPECT_EQ(qp_encode(line), std::string(75, 'a') + "=\r\n" + std::string(25, 'a'));
  // A line of exactly 76 characters needs no soft break.
  EXPECT_EQ(qp_encode(std::string(76, 'b') + "\n", "\n"), std::string(76, 'b') + "\n");
  // An escape is never split across a soft break.
  std::string esc = std::string(74, 'c') + "\xE9" + "d";
  EXPECT_EQ(qp_encode(esc, "\n"), std::string(74, 'c') + "=\n=E9d");
  // Every output line is at most 76 characters.
  std::string mixed;
  for (int i = 0; i < 500; ++i) mixed += (i % 7 == 0) ? "\xC3\xA9" : "z ";
  Bytes enc = qp_encode(mixed, "\n");
  std::size_t start = 0;
  while (start < enc.size()) {
    std::size_t nl = enc.find('\n', start);
    if (nl == Bytes::npos) nl = enc.size();
    EXPECT_LE(nl - start, 76u);
    start = nl + 1;
  }
}

TEST(FitsInLines, Rules) {
  EXPECT_TRUE(fits_in_lines("abc\r\ndef\n", false));
  EXPECT_FALSE(fits_in_lines("caf\xC3\xA9", false));
  EXPECT_TRUE(fits_in_lines("caf\xC3\xA9", true));
  EXPECT_FALSE(fits_in_lines("a\rb", true));
  EXPECT_FALSE(fits_in_lines(std::string_view("a\0b", 3), true));
  EXPECT_TRUE(fits_in_lines(std::string(998, 'x') + "\r\n", false));
  EXPECT_FALSE(fits_in_lines(std::string(999, 'x'), false));
}

TEST(Rfc2047, AsciiStaysPlainAndFolds) {
  EXPECT_EQ(rfc2047_encode("Hello world"), "Hello world");
  std::string words;
  for (int i = 0; i < 30; ++i) words += (i ? " word" : "word") + std::to_string(i);
  std::string folded = rfc2047_encode(words, 9, "\r\n");
  EXPECT_NE(folded.find("\r\n "), std::string::npos);
  std::string unfolded = folded;
  for (std::size_t p; (p = unfolded.find("\r\n")) != std::string::npos;) unfolded.erase(p, 2);
  EXPECT_EQ(unfolded, words);
  // Text that looks like an encoded-word is protected by encoding it.
  EXPECT_EQ(rfc2047_encode("=?x?="), "=?UTF-8?B?PT94Pz0=?=");
}

TEST(Rfc2047, GruesseEmojiPicksShorterEncoding) {
  // 13 UTF-8 octets: B gives 20 characters, Q gives 28.
  EXPECT_EQ(rfc2047_encode("Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x98\x80"),
            "=?UTF-8?B?R3LDvMOfZSDwn5iA?=");
  // Long ASCII runs with one accent: Q is shorter.
  EXPECT_EQ(rfc2047_encode("Meeting agenda Caf\xC3\xA9"), "=?UTF-8?Q?Meeting_agenda_Caf=C3=A9?=");
}

TEST(Rfc2047, LongValueWordsAreShortAndWhole) {
  std::string s;
  for (int i = 0; i < 40; ++i) s += "\xE6\x97\xA5\xE6\x9C\xAC";  // 日本
  std::string enc = rfc2047_encode(s, 9, "\r\n");
  std::size_t start = 0;
  std::size_t line_no = 0;
  while (start < enc.size()) {
    std::size_t nl = enc.find("\r\n", start);
    std::string line = enc.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    std::size_t used = line_no == 0 ? 9 : 0;
    EXPECT_LE(line.size() + used, 76u) << line;
    std::string word = line_no == 0 ? line : line.substr(1);
    EXPECT_LE(word.size(), 75u);
    EXPECT_EQ(word.substr(0, 10), "=?UTF-8?B?");
    // Whole characters: each B payload decodes to a multiple of 3 octets here.
    std::string payload = word.substr(10, word.size() - 12);
    EXPECT_EQ(payload.find('='), std::string::npos) << payload;
    EXPECT_EQ(payload.size() % 4, 0u);
    ++line_no;
    if (nl == std::string::npos) break;
    start = nl + 2;
  }
  EXPECT_GT(line_no, 2u);
}

TEST(FormatMailbox, QuotesEncodesAndGroups) {
  EXPECT_EQ(format_mailbox("John Smith", "js@example.com"), "John Smith <js@example.com>");
  EXPECT_EQ(format_mailbox("Doe, John", "jd@example.com"), "\"Doe, John\" <jd@example.com>");
  EXPECT_EQ(format_mailbox("J. \"Q\" Public", "q@x"), "\"J. \\\"Q\\\" Public\" <q@x>");
  EXPECT_EQ(format_mailbox("", "a@b"), "a@b");
  EXPECT_EQ(format_mailbox("", ""), "<>");
  EXPECT_EQ(format_mailbox("J\xC3\xBCrgen", "j@x"), "=?UTF-8?Q?J=C3=BCrgen?= <j@x>");
  EXPECT_EQ(format_mailbox("Doe, John", ""), "\"Doe, John\":;");
}

TEST(FormatParam, AsciiQuotedAndRfc2231) {
  EXPECT_EQ(format_param("filename", "report.pdf"), "filename=\"report.pdf\"");
  EXPECT_EQ(format_param("filename", "a \"b\".txt"), "filename=\"a \\\"b\\\".txt\"");
  EXPECT_EQ(format_param("filename", "Gr\xC3\xBC\xC3\x9F" "e.txt"),
            "filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt");
}

TEST(FormatParam, LongJapaneseFilenameUsesContinuations) {
  std::string name;
  for (int i = 0; i < 12; ++i) name += "\xE5\xA0\xB1\xE5\x91\x8A";  // 報告
  name += ".pdf";
  std::string p = format_param("filename", name, "\r\n");
  EXPECT_EQ(p.substr(0, 25), "filename*0*=UTF-8''%E5%A0");
  EXPECT_NE(p.find(";\r\n filename*1*=%"), std::string::npos);
  // Reassemble the segments and percent-decode: the UTF-8 name comes back, and no segment
  // splits a %XX triplet or a character (each segment decodes to whole characters).
  std::string decoded;
  std::size_t pos = 0;
  for (int k = 0;; ++k) {
    std::string key = "filename*" + std::to_string(k) + "*=";
    std::size_t at = p.find(key, pos);
    if (at == std::string::npos) break;
    std::size_t v = at + key.size();
    std::size_t end = p.find(';', v);
    std::string seg = p.substr(v, end == std::string::npos ? std::string::npos : end - v);
    if (k == 0) seg = seg.substr(7);  // UTF-8''
    std::string part;
    for (std::size_t i = 0; i < seg.size(); ++i) {
      if (seg[i] == '%') {
        part.push_back(static_cast<char>(std::stoi(seg.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        part.push_back(seg[i]);
      }
    }
    EXPECT_NE(static_cast<unsigned char>(part[0]) & 0xC0, 0x80) << "segment starts mid-character";
    decoded += part;
    pos = v;
  }
  EXPECT_EQ(decoded, name);
  std::size_t start = 0;
  while (start < p.size()) {
    std::size_t nl = p.find("\r\n", start);
    std::size_t len = (nl == std::string::npos ? p.size() : nl) - start;
    EXPECT_LE(len, 78u);
    if (nl == std::string::npos) break;
    start = nl + 2;
  }
}

// Expected values are what Python's email.utils.parsedate_to_datetime gives for each string.
TEST(Dates, ParseRfc5322AgreesWithPythonsParser) {
  EXPECT_EQ(parse_rfc5322_date("Fri, 20 Jan 2017 10:11:12 -0500"), 1484925072);
  EXPECT_EQ(parse_rfc5322_date("20 Jan 17 10:11 EST"), 1484925060);
  EXPECT_EQ(parse_rfc5322_date("Mon, 29 Feb 2016 23:59:59 +1400 (NZ)"), 1456739999);
  EXPECT_EQ(parse_rfc5322_date("1 Mar 99 00:00:00 GMT"), 920246400);
  EXPECT_EQ(parse_rfc5322_date("Sun, 6 Nov 1994 08:49:37 Z"), 784111777);
  EXPECT_EQ(parse_rfc5322_date("Tue, 1 Jan 2030 12:00:00 +0530"), 1893479400);
  EXPECT_EQ(parse_rfc5322_date(" Wed, 3 Jun 2009 11:05 PDT"), 1244052300);
  EXPECT_EQ(parse_rfc5322_date("Wed,\r\n 3 Jun 2009 (comment (nested)) 11:05:00\t-0700"), 1244052300);
}

TEST(Dates, ParseRfc5322RejectsWhatIsNotADate) {
  for (const char *bad : {"", "garbage", "Fri, 20 Foo 2017 10:11:12 +0000", "31 Feb 2017 00:00 +0000",
                          "29 Feb 2017 00:00 +0000", "20 Jan 2017 24:00 +0000", "20 Jan 2017 10",
                          "20 Jan 2017 10:61 +0000", "20 Jan 2017 10:11 +99", "20 Jan 2017 10:11 XYZ",
                          "0 Jan 2017 10:11 +0000", "20 Jan 2017 10:11 +0060"}) {
    EXPECT_FALSE(parse_rfc5322_date(bad).has_value()) << bad;
  }
}

TEST(Dates, FormattedDatesParseBack) {
  for (i64 t = -2208988800; t < 4102444800; t += 7919 * 3607) {
    ASSERT_EQ(parse_rfc5322_date(format_rfc5322_date(t)), t) << format_rfc5322_date(t);
  }
}

TEST(Dates, Rfc5322AndMbox) {
  EXPECT_EQ(format_rfc5322_date(1627424390), "Tue, 27 Jul 2021 22:19:50 +0000");
  EXPECT_EQ(format_mbox_date(1627424390), "Tue Jul 27 22:19:50 2021");
  EXPECT_EQ(format_rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_mbox_date(0), "Thu Jan  1 00:00:00 1970");
  EXPECT_EQ(format_rfc5322_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
  EXPECT_EQ(format_rfc5322_date(4102444800), "Fri, 1 Jan 2100 00:00:00 +0000");
}

}  // namespace
}  // namespace mm::mime

namespace mm::mime {
namespace {

// A plain reference encoder (RFC 4648 section 4), written for clarity, against which the
// vectorized encoder is checked at every length around its 24-byte steps and line ends.
Bytes reference_base64(ByteView in, std::string_view eol) {
  static constexpr char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  Bytes flat;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    u32 v = static_cast<u32>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<u32>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    flat += A[(v >> 18) & 63];
    flat += A[(v >> 12) & 63];
    flat += i + 1 < in.size() ? A[(v >> 6) & 63] : '=';
    flat += i + 2 < in.size() ? A[v & 63] : '=';
  }
  if (eol.empty()) return flat;
  Bytes out;
  for (std::size_t i = 0; i < flat.size(); i += 76) {
    out += flat.substr(i, 76);
    out += eol;
  }
  return out;
}

TEST(Base64, MatchesReferenceAtEveryLengthAndLineEnd) {
  u32 x = 12345;
  Bytes data;
  for (int i = 0; i < 5000; ++i) {
    x = x * 1103515245u + 12345u;
    data += static_cast<char>(x >> 23);
  }
  for (std::size_t n = 0; n <= 700; ++n) {
    ByteView in = ByteView(data).substr(data.size() - n);  // ends at the buffer's end
    for (std::string_view eol : {"", "\n", "\r\n"}) {
      Bytes got = base64_encode(in, eol);
      ASSERT_EQ(got, reference_base64(in, eol)) << "n=" << n << " eol size " << eol.size();
      ASSERT_EQ(got.size(), base64_encoded_size(n, eol));
    }
  }
  // All byte values in every position of a group.
  Bytes all;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 256; ++c) all += static_cast<char>((c * 7 + r) & 0xFF);
  EXPECT_EQ(base64_encode(all, "\n"), reference_base64(all, "\n"));
}

// One test per encoder (MAILMILL_CPU / force_base64_impl): each compares with the reference at
// every length where the CPU can run it, and says why not where it cannot.
class ForcedBase64 {
 public:
  explicit ForcedBase64(Base64Impl impl) : ok_(force_base64_impl(impl)) {}
  ~ForcedBase64() { reset_base64_impl(); }
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

void check_base64_against_reference() {
  u32 x = 777;
  Bytes data;
  for (int i = 0; i < 20000; ++i) {
    x = x * 1103515245u + 12345u;
    data += static_cast<char>(x >> 23);
  }
  // Every length up to a dozen lines, then a few long inputs (many whole lines plus a tail),
  // each ending at the buffer's end so an over-read would be caught under ASan.
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 700; ++n) sizes.push_back(n);
  for (std::size_t n : {5699u, 5700u, 5701u, 19999u, 20000u}) sizes.push_back(n);
  for (std::size_t n : sizes) {
    const ByteView in = ByteView(data).substr(data.size() - n);
    for (std::string_view eol : {"", "\n", "\r\n"}) {
      ASSERT_EQ(base64_encode(in, eol), reference_base64(in, eol))
          << "n=" << n << " eol size " << eol.size();
    }
  }
}

TEST(Base64Impl, Scalar) {
  ForcedBase64 forced(Base64Impl::Scalar);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(base64_impl(), Base64Impl::Scalar);
  check_base64_against_reference();
}

TEST(Base64Impl, Avx2) {
  if (!base64_impl_supported(Base64Impl::Avx2)) GTEST_SKIP() << "CPU lacks AVX2";
  ForcedBase64 forced(Base64Impl::Avx2);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(base64_impl(), Base64Impl::Avx2);
  check_base64_against_reference();
}

TEST(Base64Impl, Avx512Vbmi) {
  if (!base64_impl_supported(Base64Impl::Vbmi)) GTEST_SKIP() << "CPU lacks AVX-512 VBMI";
  ForcedBase64 forced(Base64Impl::Vbmi);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(base64_impl(), Base64Impl::Vbmi);
  check_base64_against_reference();
}

TEST(Base64Impl, ForcingAnUnsupportedEncoderChangesNothing) {
  const Base64Impl before = base64_impl();
  for (Base64Impl impl : {Base64Impl::Scalar, Base64Impl::Avx2, Base64Impl::Vbmi}) {
    EXPECT_EQ(force_base64_impl(impl), base64_impl_supported(impl)) << base64_impl_name(impl);
    if (!base64_impl_supported(impl)) EXPECT_EQ(base64_impl(), before);
    reset_base64_impl();
    EXPECT_EQ(base64_impl(), before);
  }
  EXPECT_TRUE(base64_impl_supported(Base64Impl::Scalar));
  EXPECT_STREQ(base64_impl_name(Base64Impl::Vbmi), "vbmi");
}

}  // namespace
}  // namespace mm::mime
