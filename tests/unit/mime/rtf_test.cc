// Tests for mime/rtf: [MS-OXRTFCP] decompression and [MS-OXRTFEX] de-encapsulation.
//
// Real-data check (done once with a throwaway libpff program, not kept in the repo): every
// LZFu PR_RTF_COMPRESSED value in the shared fixtures (72 values, tika__testPST_variousBodyTypes,
// aspnet__SampleOstFile, aspnet__passwordprotectedPST, ...) decompresses with a matching CRC to
// exactly libpff's bytes; the 8 MELA values of aspnet__passwordprotectedPST.pst, which libpff
// cannot read, carry RAWSIZE == COMPSIZE (12 more than present) and are accepted here;
// to_plain_text of the 28 native RTF bodies that also have PR_BODY equals PR_BODY byte for
// byte, and \fromtext de-encapsulation equals PR_BODY up to a trailing CRLF.
#include "mailmill/mime/rtf.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mailmill/mime/limits.h"
#include "test_support.h"

namespace mm::mime::rtf {
namespace {

Bytes from_hex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out += static_cast<char>(hi * 16 + v);
      hi = -1;
    }
  }
  return out;
}

void put_le32(Bytes &b, std::size_t at, u32 v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

Bytes header(u32 comp_size, u32 raw_size, u32 type, u32 crc) {
  Bytes h(16, '\0');
  put_le32(h, 0, comp_size);
  put_le32(h, 4, raw_size);
  put_le32(h, 8, type);
  put_le32(h, 12, crc);
  return h;
}

// [MS-OXRTFCP] 3.1.1 (example 1): simple compressed RTF.
const Bytes SPEC_EXAMPLE_1 = from_hex(
    "2d0000002b0000004c5a4675f1c5c7a7"
    "03000a0072637067313235423 20af320"
    "68656c0900206277 05b06c647d0a800f"
    "a0");
const std::string SPEC_EXAMPLE_1_TEXT = "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n";

// [MS-OXRTFCP] 3.1.2 (example 2): a reference that crosses the write position (a run).
const Bytes SPEC_EXAMPLE_2 = from_hex(
    "1a0000001c0000004c5a4675e2d44b51"
    "410004205758595a0d6e7d010eb0");
const std::string SPEC_EXAMPLE_2_TEXT = "{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}";

TEST(RtfDecompress, SpecExampleSimple) {
  ASSERT_EQ(SPEC_EXAMPLE_1.size(), 49u);
  Result<Decompressed> d = decompress_checked(SPEC_EXAMPLE_1);
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->rtf, SPEC_EXAMPLE_1_TEXT);
  EXPECT_TRUE(d->compressed);
  EXPECT_TRUE(d->crc_ok);
  EXPECT_TRUE(d->complete);
  EXPECT_TRUE(d->sizes_match);
  Result<Bytes> r = decompress(SPEC_EXAMPLE_1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, SPEC_EXAMPLE_1_TEXT);
}

TEST(RtfDecompress, SpecExampleCrossingWritePosition) {
  Result<Decompressed> d = decompress_checked(SPEC_EXAMPLE_2);
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->rtf, SPEC_EXAMPLE_2_TEXT);
  EXPECT_TRUE(d->crc_ok);
  EXPECT_TRUE(d->complete);
}

TEST(RtfDecompress, CrcMatchesSpecHeaders) {
  EXPECT_EQ(compressed_crc(ByteView(SPEC_EXAMPLE_1).substr(16)), 0xA7C7C5F1u);
  EXPECT_EQ(compressed_crc(ByteView(SPEC_EXAMPLE_2).substr(16)), 0x514BD4E2u);
  EXPECT_EQ(compressed_crc(""), 0u);
}

TEST(RtfDecompress, CrcMismatchIsAcceptedButReported) {
  Bytes bad = SPEC_EXAMPLE_1;
  bad[12] = static_cast<char>(bad[12] ^ 0x01);
  Result<Decompressed> d = decompress_checked(bad);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->crc_ok);
  EXPECT_EQ(d->rtf, SPEC_EXAMPLE_1_TEXT);
  Result<Bytes> r = decompress(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, SPEC_EXAMPLE_1_TEXT);
}

TEST(RtfDecompress, UncompressedMela) {
  const std::string text = "{\\rtf1\\ansi plain}";
  Bytes v = header(static_cast<u32>(text.size() + 12), static_cast<u32>(text.size()),
                   COMPTYPE_UNCOMPRESSED, 0) +
            text;
  Result<Decompressed> d = decompress_checked(v);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->compressed);
  EXPECT_TRUE(d->complete);
  EXPECT_TRUE(d->sizes_match);
  EXPECT_EQ(d->rtf, text);
  EXPECT_EQ(*decompress(v), text);
}

// aspnet__passwordprotectedPST.pst: MELA values written with RAWSIZE == COMPSIZE, i.e. 12
// bytes more than stored. libpff rejects them; the contents are whole, so we accept them.
TEST(RtfDecompress, MelaWithRawSizeEqualToCompSize) {
  const std::string text = "{\\rtf1\\ansi\\fbidis\\ansicpg1252\\fromtext {Body}}";
  const u32 comp = static_cast<u32>(text.size() + 12);
  Bytes v = header(comp, comp, COMPTYPE_UNCOMPRESSED, 0) + text;
  Result<Decompressed> d = decompress_checked(v);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->complete);
  EXPECT_FALSE(d->sizes_match);
  Result<Bytes> r = decompress(v);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, text);
}

TEST(RtfDecompress, TruncatedMelaIsAProblem) {
  const std::string text = "{\\rtf1 abcdef}";
  Bytes v = header(static_cast<u32>(text.size() + 12), static_cast<u32>(text.size()),
                   COMPTYPE_UNCOMPRESSED, 0) +
            text.substr(0, 5);
  Result<Bytes> r = decompress(v);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::BodyUndecodable);
}

TEST(RtfDecompress, EveryTruncationIsSafe) {
  for (std::size_t n = 0; n < SPEC_EXAMPLE_1.size(); ++n) {
    const ByteView cut = ByteView(SPEC_EXAMPLE_1).substr(0, n);
    Result<Decompressed> d = decompress_checked(cut);
    Result<Bytes> r = decompress(cut);
    if (n < 16) {
      ASSERT_FALSE(d.ok()) << n;
      ASSERT_FALSE(r.ok()) << n;
      EXPECT_EQ(r.problem().code, ProblemCode::BodyUndecodable);
      continue;
    }
    ASSERT_TRUE(d.ok()) << n;
    EXPECT_FALSE(d->crc_ok) << n;
    EXPECT_EQ(SPEC_EXAMPLE_1_TEXT.compare(0, d->rtf.size(), d->rtf), 0) << n;
    // Only when every RAWSIZE byte came out (the end marker alone is missing) is it usable.
    if (d->rtf.size() < SPEC_EXAMPLE_1_TEXT.size()) {
      EXPECT_FALSE(r.ok()) << n;
    } else {
      ASSERT_TRUE(r.ok()) << n;
      EXPECT_EQ(*r, SPEC_EXAMPLE_1_TEXT);
    }
  }
}

TEST(RtfDecompress, UnknownCompTypeIsAProblem) {
  Bytes v = header(12, 0, 0x12345678, 0);
  Result<Bytes> r = decompress(v);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::BodyUndecodable);
  EXPECT_NE(r.problem().detail.find("0x12345678"), std::string::npos);
}

TEST(RtfDecompress, HugeDeclaredSizesDoNotAllocate) {
  // COMPSIZE and RAWSIZE claim 4 GiB; only 3 content bytes exist.
  Bytes v = header(0xFFFFFFFF, 0xFFFFFFFF, COMPTYPE_COMPRESSED, 0) + from_hex("00 41 42");
  Result<Decompressed> d = decompress_checked(v);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rtf, "AB");
  EXPECT_FALSE(d->complete);
  EXPECT_FALSE(decompress(v).ok());
}

TEST(RtfDecompress, OutputBeyondRawSizeIsCapped) {
  // Control byte 0xFF: 8 references of 17 bytes each to offset 0, never the end marker.
  Bytes body;
  for (int run = 0; run < 64; ++run) body += from_hex("ff 000f 000f 000f 000f 000f 000f 000f 000f");
  Bytes v = header(static_cast<u32>(body.size() + 12), 10, COMPTYPE_COMPRESSED, 0) + body;
  Result<Decompressed> d = decompress_checked(v);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->complete);
  EXPECT_LE(d->rtf.size(), 10u + 4096u);
  EXPECT_FALSE(decompress(v).ok());
}

// compress() is checked through decompress_checked, which the spec examples above and the
// real-data check in this file's header pin down.
TEST(RtfCompress, RoundTripsThroughDecompress) {
  std::vector<Bytes> inputs = {"",
                               "a",
                               "{\\rtf1}",
                               SPEC_EXAMPLE_1_TEXT,
                               SPEC_EXAMPLE_2_TEXT,
                               std::string(10000, 'x'),
                               std::string(5000, '\0')};
  u64 state = 0x2545F4914F6CDD1Dull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int i = 0; i < 40; ++i) {
    // Text that repeats at distances around the 4096-byte dictionary, and some random bytes.
    Bytes doc = "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0 Arial;}}";
    const std::size_t n = next() % 20000;
    while (doc.size() < n) {
      if (next() % 4 == 0) {
        for (int k = 0; k < 30; ++k) doc += static_cast<char>(next());
      } else if (doc.size() > 100 && next() % 2 == 0) {
        const std::size_t back = 1 + next() % std::min<std::size_t>(doc.size() - 1, 5000);
        doc += doc.substr(doc.size() - back, 1 + next() % 40);
      } else {
        doc += "{\\*\\htmltag64 <p>}\\htmlrtf {\\htmlrtf0 word\\par}";
      }
    }
    inputs.push_back(doc);
  }
  for (const Bytes &raw : inputs) {
    const Bytes packed = compress(raw);
    Result<Decompressed> d = decompress_checked(packed);
    ASSERT_TRUE(d.ok()) << raw.size();
    EXPECT_EQ(d->rtf, raw);
    EXPECT_TRUE(d->compressed && d->crc_ok && d->complete && d->sizes_match) << raw.size();
    if (raw.size() > 1000 && raw.find_first_not_of('x') == Bytes::npos) {
      EXPECT_LT(packed.size(), raw.size() / 5);  // long runs do get compressed
    }
    Result<Decompressed> m = decompress_checked(wrap_uncompressed(raw));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->rtf, raw);
    EXPECT_TRUE(!m->compressed && m->complete && m->sizes_match);
  }
}

TEST(RtfDecompress, GarbageNeverCrashes) {
  u64 state = 0x9E3779B97F4A7C15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int iter = 0; iter < 3000; ++iter) {
    const std::size_t len = 16 + next() % 200;
    Bytes v(len, '\0');
    for (char &c : v) c = static_cast<char>(next() & 0xFF);
    put_le32(v, 0, static_cast<u32>(next() % 400));
    put_le32(v, 4, static_cast<u32>(next() % 2000));
    put_le32(v, 8, iter % 3 == 0 ? COMPTYPE_UNCOMPRESSED : COMPTYPE_COMPRESSED);
    Result<Decompressed> d = decompress_checked(v);
    ASSERT_TRUE(d.ok());
    EXPECT_LE(d->rtf.size(), 2000u + 4096u);
    (void)decompress(v);
    (void)deencapsulate(d->rtf);
    (void)to_plain_text(d->rtf);
  }
}

// A document shaped like Outlook's encapsulated HTML: \htmlrtf suppression restored at group
// ends, \'hh in the document codepage, \uN representable (U+20AC -> 0x80) or not (&#N;),
// a surrogate pair, a font in another charset (cp932), escaped braces, \tab and \par, and
// MHTMLTAG/HTMLTAG pairs in both orders.
const std::string HTML_RTF =
    "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}"
    "{\\f1\\fmodern\\fcharset128 MS Gothic;}}\r\n"
    "{\\colortbl\\red0\\green0\\blue0;}\r\n"
    "{\\*\\htmltag19 <html>}{\\*\\htmltag34 <head>}{\\*\\htmltag41 </head>}"
    "{\\*\\htmltag50 <body>}\\htmlrtf {\\htmlrtf0 {\\*\\htmltag64 <p>}\\htmlrtf {\\htmlrtf0 "
    "Caf\\'e9 \\u8364?\\u8800?\\u-10179?\\u-8704? a\\{b\\}\\\\c\\tab d\\par\r\n"
    "{\\*\\htmltag84 &lt;}\\htmlrtf <\\htmlrtf0 {\\f1 \\'82\\'a0}\\htmlrtf0 "
    "{\\*\\htmltag72 </p>}\\htmlrtf }\\htmlrtf0 }\\htmlrtf0 \r\n"
    "{\\*\\mhtmltag84 <img src=\"cid:a@b\">}{\\*\\htmltag84 <img src=\"a.png\">}\r\n"
    "{\\*\\htmltag84 <img src=\"x.png\">}{\\*\\mhtmltag84 <img src=\"cid:x@y\">}\r\n"
    "{\\*\\htmltag148 <style>\\par p \\{color:red\\}\\par </style>}"
    "{\\*\\htmltag58 </body>}{\\*\\htmltag27 </html>}}";

TEST(RtfDeencapsulate, HtmlExactBytes) {
  EXPECT_EQ(detect(HTML_RTF), Encapsulated::Html);
  std::optional<Extracted> e = deencapsulate(HTML_RTF);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, Encapsulated::Html);
  EXPECT_EQ(e->codepage, 1252u);
  EXPECT_EQ(e->content,
            "<html><head></head><body><p>Caf\xe9 \x80&#8800;&#128512; a{b}\\c\td\r\n"
            "&lt;&#12354;</p><img src=\"cid:a@b\"><img src=\"cid:x@y\"><style>\r\n"
            "p {color:red}\r\n</style></body></html>");
}

TEST(RtfDeencapsulate, HtmlKeepsDocumentCodepageBytes) {
  // Cyrillic document: \'hh bytes stay cp1251 bytes, \u1046 (Ж) becomes 0xC6 in cp1251.
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1251\\fromhtml1 {\\*\\htmltag64 <p>}\\'cf\\'f0\\u1046?"
      "{\\*\\htmltag72 </p>}}";
  std::optional<Extracted> e = deencapsulate(rtf);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->codepage, 1251u);
  EXPECT_EQ(e->content, "<p>\xcf\xf0\xc6</p>");
}

TEST(RtfDeencapsulate, TextIsUtf8) {
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1251\\fromtext \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}\r\n"
      "{\\*\\generator Riched20;}\\uc1\\pard\\plain Hello\\par\r\n"
      "\\'cf\\'f0\\'e8\\'e2\\'e5\\'f2 \\u8364?\\htmlrtf junk\\htmlrtf0 end\\line x\\tab y}";
  EXPECT_EQ(detect(rtf), Encapsulated::Text);
  std::optional<Extracted> e = deencapsulate(rtf);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, Encapsulated::Text);
  EXPECT_EQ(e->codepage, 65001u);
  EXPECT_EQ(e->content, "Hello\r\n\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe2\x82\xac"
                        "end\r\nx\ty");
}

TEST(RtfDeencapsulate, NativeRtfIsNotEncapsulated) {
  const std::string rtf = "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}\\pard hi\\fromhtml1 \\par}";
  EXPECT_EQ(detect(rtf), Encapsulated::None);  // \fromhtml1 after the header does not count
  EXPECT_FALSE(deencapsulate(rtf).has_value());
  EXPECT_EQ(detect("not rtf at all"), Encapsulated::None);
  EXPECT_EQ(detect(""), Encapsulated::None);
  EXPECT_FALSE(deencapsulate("{\\rtf").has_value());
}

TEST(RtfPlainText, CodepageUnicodeAndDestinations) {
  const std::string rtf =
      "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\froman Times;}}"
      "{\\colortbl;\\red0\\green0\\blue0;}{\\*\\generator Foo;}{\\info{\\title T}}\r\n"
      "\\pard Caf\\'e9 costs \\u8364?5\\par\r\n"
      "\\uc2 A\\u8364\\'80\\'80B\\tab C{\\pict\\pngblip 0011aabb}\\line D\\~E "
      "{\\field{\\*\\fldinst HYPERLINK \"http://x\"}{\\fldrslt link}}\\emdash\\par}";
  EXPECT_EQ(to_plain_text(rtf),
            "Caf\xc3\xa9 costs \xe2\x82\xac" "5\r\nA\xe2\x82\xac" "B\tC\r\nD\xc2\xa0" "E link"
            "\xe2\x80\x94\r\n");
}

TEST(RtfPlainText, DoubleByteCodepage) {
  // cp932 \'82\'a0 is HIRAGANA LETTER A (U+3042).
  const std::string rtf = "{\\rtf1\\ansi\\ansicpg932 \\'82\\'a0\\'82\\'a2}";
  EXPECT_EQ(to_plain_text(rtf), "\xe3\x81\x82\xe3\x81\x84");
}

TEST(RtfPlainText, HostileInputIsSafe) {
  EXPECT_EQ(to_plain_text(""), "");
  EXPECT_EQ(to_plain_text("\\"), "");
  EXPECT_EQ(to_plain_text("{\\rtf1 \\'4"), "4");  // a broken escape is dropped, text kept
  EXPECT_EQ(to_plain_text("{\\rtf1 a}}}}}b"), "ab");
  const std::string deep(200000, '{');
  EXPECT_EQ(to_plain_text(deep + "x"), "x");
  EXPECT_EQ(to_plain_text("{\\rtf1 \\bin99999999 abc}"), "");
  EXPECT_EQ(to_plain_text("{\\rtf1 \\u99999999999999 \\u-99999999999 ?x}"),
            "\xef\xbf\xbd\xef\xbf\xbd" "x");
}

// Codepage conversion goes through util/text (one iconv wrapper). Three cases the RTF's own
// wrapper got wrong before that move:
TEST(RtfDeencapsulate, CodepageEdgeCasesOfTheSharedConverter) {
  auto text_of = [](const std::string &rtf) {
    std::optional<Extracted> e = deencapsulate(rtf);
    return e ? e->content : std::string("(none)");
  };
  // glibc's CP949 decoder consumes both bytes of A2 E8 and still reports EILSEQ; the old loop
  // then stepped past the input (left = SIZE_MAX) and crashed inside iconv.
  EXPECT_EQ(text_of("{\\rtf1\\ansi\\ansicpg949\\fromtext \\'a2\\'e8}"), "\xEF\xBF\xBD");
  // CP1258 holds a base letter back for a combining mark; without the final flush the last
  // letter of every run was lost ("\u00E0\u00E1" came out as "\u00E0").
  EXPECT_EQ(text_of("{\\rtf1\\ansi\\ansicpg1258\\fromtext \\'e0\\'e1}"), "\xC3\xA0\xC3\xA1");
  // Codepages whose iconv name is not "CP" + number (51936 is EUC-CN) were unknown.
  EXPECT_EQ(text_of("{\\rtf1\\ansi\\ansicpg51936\\fromtext \\'c4\\'e3}"), "\xE4\xBD\xA0");
  // Codepages outside util/text's listed set still work (CP852 0xA5 is U+0105).
  EXPECT_EQ(text_of("{\\rtf1\\ansi\\ansicpg852\\fromtext \\'a5}"), "\xC4\x85");
}

std::optional<std::string> read_file(const std::filesystem::path &p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Real data: in tika__testPST_variousBodyTypes.pst message 3 has only an RTF body and message 4
// the same mail as plain text, differing in one word ("Forwarded RTF" / "Forwarded plain
// text"). pffexport writes the decompressed RTF of 3 and the PR_BODY of 4.
TEST(RtfPlainText, MatchesPlainTextTwinInTikaFixture) {
  MM_REQUIRE_CORPUS();
  namespace fs = std::filesystem;
  const fs::path pst = mm::testing::corpus_path("pst/tika__testPST_variousBodyTypes.pst");
  ASSERT_TRUE(fs::exists(pst)) << pst;
  const fs::path target = fs::path(::testing::TempDir()) / "mm_rtf_tika";
  fs::remove_all(target.string() + ".export");
  const std::string cmd = std::string(MM_PFFEXPORT) + " -q -f rtf -t '" + target.string() +
                          "' '" + pst.string() + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "pffexport not usable";
  const fs::path dir = fs::path(target.string() + ".export") / "Top of Outlook data file" /
                       "Inbox" / "tmp";
  const std::optional<std::string> rtf = read_file(dir / "Message00003" / "Message.rtf");
  std::optional<std::string> txt = read_file(dir / "Message00004" / "Message.txt");
  ASSERT_TRUE(rtf && txt) << dir;
  EXPECT_EQ(detect(*rtf), Encapsulated::None);
  const std::size_t at = txt->find("Forwarded plain text");
  ASSERT_NE(at, std::string::npos);
  txt->replace(at, 20, "Forwarded RTF");
  EXPECT_EQ(to_plain_text(*rtf), *txt);
  fs::remove_all(target.string() + ".export");
}

}  // namespace
}  // namespace mm::mime::rtf
