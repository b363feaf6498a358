#include "mailmill/util/text.h"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace mm::text {
namespace {

constexpr u32 REPLACEMENT = 0xFFFD;

// Decodes one UTF-8 sequence at s[i]. Returns the code point and advances i; on an invalid
// sequence returns nullopt and advances i past the maximal invalid prefix (at least one byte),
// following the "maximal subpart" practice of Unicode 15, 3.9 (U+FFFD substitution).
std::optional<u32> next_utf8(std::string_view s, std::size_t &i) {
  const auto b0 = static_cast<u8>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  u32 cp = 0;
  std::size_t need = 0;
  u8 lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    ++i;
    return std::nullopt;
  }
  std::size_t j = i + 1;
  for (std::size_t k = 0; k < need; ++k, ++j) {
    if (j >= s.size()) {
      i = j;
      return std::nullopt;
    }
    const auto b = static_cast<u8>(s[j]);
    const u8 l = k == 0 ? lo : 0x80;
    const u8 h = k == 0 ? hi : 0xBF;
    if (b < l || b > h) {
      i = j;
      return std::nullopt;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i = j;
  return cp;
}

/// Index of the first byte >= 0x80 at or after `i` (s.size() when none); 8 bytes at a time.
std::size_t ascii_prefix(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  const char *d = s.data();
  while (i + 8 <= n) {
    u64 w;
    std::memcpy(&w, d + i, 8);
    if ((w & 0x8080808080808080ULL) != 0) break;
    i += 8;
  }
  while (i < n && static_cast<u8>(d[i]) < 0x80) ++i;
  return i;
}

struct CodepageInfo {
  u32 codepage;
  const char *iconv_name;
  const char *mime_name;
};

// Windows codepage numbers ([MS-OXCMSG]/Windows "Code Page Identifiers") to glibc iconv names
// and the MIME charset names Outlook itself writes.
constexpr CodepageInfo CODEPAGES[] = {
    {1250, "CP1250", "windows-1250"},
    {1251, "CP1251", "windows-1251"},
    {1252, "CP1252", "windows-1252"},
    {1253, "CP1253", "windows-1253"},
    {1254, "CP1254", "windows-1254"},
    {1255, "CP1255", "windows-1255"},
    {1256, "CP1256", "windows-1256"},
    {1257, "CP1257", "windows-1257"},
    {1258, "CP1258", "windows-1258"},
    {874, "CP874", "windows-874"},
    {932, "CP932", "shift_jis"},
    {936, "CP936", "gbk"},
    {949, "CP949", "ks_c_5601-1987"},
    {950, "CP950", "big5"},
    {437, "CP437", "ibm437"},
    {850, "CP850", "ibm850"},
    {866, "CP866", "cp866"},
    {1361, "CP1361", "johab"},
    {10000, "MACINTOSH", "macintosh"},
    {20127, "ASCII", "us-ascii"},
    {20866, "KOI8-R", "koi8-r"},
    {21866, "KOI8-U", "koi8-u"},
    {28591, "ISO-8859-1", "iso-8859-1"},
    {28592, "ISO-8859-2", "iso-8859-2"},
    {28593, "ISO-8859-3", "iso-8859-3"},
    {28594, "ISO-8859-4", "iso-8859-4"},
    {28595, "ISO-8859-5", "iso-8859-5"},
    {28596, "ISO-8859-6", "iso-8859-6"},
    {28597, "ISO-8859-7", "iso-8859-7"},
    {28598, "ISO-8859-8", "iso-8859-8"},
    {28599, "ISO-8859-9", "iso-8859-9"},
    {28603, "ISO-8859-13", "iso-8859-13"},
    {28605, "ISO-8859-15", "iso-8859-15"},
    {38598, "ISO-8859-8", "iso-8859-8-i"},
    {50220, "ISO-2022-JP", "iso-2022-jp"},
    {50221, "ISO-2022-JP", "csISO2022JP"},
    {50222, "ISO-2022-JP", "iso-2022-jp"},
    {50225, "ISO-2022-KR", "iso-2022-kr"},
    {51932, "EUC-JP", "euc-jp"},
    {51936, "EUC-CN", "gb2312"},
    {51949, "EUC-KR", "euc-kr"},
    {54936, "GB18030", "gb18030"},
    {65000, "UTF-7", "utf-7"},
    {65001, "UTF-8", "utf-8"},
    {1200, "UTF-16LE", "utf-16le"},
};

const CodepageInfo *find_codepage(u32 codepage) {
  for (const CodepageInfo &c : CODEPAGES) {
    if (c.codepage == codepage) return &c;
  }
  return nullptr;
}

// iconv_t is not thread-safe, and opening one costs a few microseconds; keep one per thread,
// codepage and direction. Closed when the thread exits. A failed open is cached too. Codepage
// numbers come from the input (RTF \cpgN), so the cache is emptied when it reaches
// MAX_HANDLES instead of growing with every number a hostile document names.
enum class Direction : u8 { ToUtf8, FromUtf8 };

class IconvCache {
 public:
  ~IconvCache() { clear(); }
  /// The handle, reset to its initial shift state; (iconv_t)-1 when iconv lacks the codepage.
  iconv_t get(u32 codepage, Direction dir) {
    const u64 key = (u64{codepage} << 1) | (dir == Direction::FromUtf8 ? 1 : 0);
    auto it = cds_.find(key);
    if (it == cds_.end()) {
      if (cds_.size() >= MAX_HANDLES) clear();
      const std::string name = codepage_iconv_name(codepage);
      iconv_t cd = dir == Direction::ToUtf8 ? iconv_open("UTF-8", name.c_str())
                                            : iconv_open(name.c_str(), "UTF-8");
      it = cds_.emplace(key, cd).first;
    }
    if (it->second != reinterpret_cast<iconv_t>(-1)) {
      iconv(it->second, nullptr, nullptr, nullptr, nullptr);  // a previous call's shift state
    }
    return it->second;
  }

 private:
  static constexpr std::size_t MAX_HANDLES = 128;
  void clear() {
    for (auto &[key, cd] : cds_) {
      if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
    }
    cds_.clear();
  }
  std::unordered_map<u64, iconv_t> cds_;
};

IconvCache &iconv_cache() {
  thread_local IconvCache cache;
  return cache;
}

std::string latin1_to_utf8(ByteView bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char c : bytes) append_utf8(out, static_cast<u8>(c));
  return out;
}

}  // namespace

std::string utf16le_to_utf8(ByteView utf16, bool stop_at_nul) {
  const auto *in = reinterpret_cast<const unsigned char *>(utf16.data());
  std::size_t units = utf16.size() / 2;
  if (stop_at_nul) {
    for (std::size_t i = 0; i < units; ++i) {
      if (in[2 * i] == 0 && in[2 * i + 1] == 0) {
        units = i;
        break;
      }
    }
  }
  // Sized for ASCII (one byte per unit); grown once to the worst case (3 bytes per remaining
  // unit: a surrogate pair gives 4 bytes for 2 units) at the first non-ASCII unit.
  std::string out(units, '\0');
  char *o = out.data();
  bool grown = false;
  std::size_t i = 0;
  while (i < units) {
    while (i + 4 <= units) {
      u64 w;
      std::memcpy(&w, in + 2 * i, 8);
      if ((w & 0xFF80FF80FF80FF80ULL) != 0) break;
      o[0] = static_cast<char>(in[2 * i]);
      o[1] = static_cast<char>(in[2 * i + 2]);
      o[2] = static_cast<char>(in[2 * i + 4]);
      o[3] = static_cast<char>(in[2 * i + 6]);
      o += 4;
      i += 4;
    }
    if (i >= units) break;
    u32 cp = load_le16(in + 2 * i);
    if (cp >= 0x80 && !grown) {
      const std::size_t pos = static_cast<std::size_t>(o - out.data());
      out.resize(pos + 3 * (units - i));
      o = out.data() + pos;
      grown = true;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      const u32 v = i + 1 < units ? load_le16(in + 2 * (i + 1)) : 0;
      if (cp <= 0xDBFF && v >= 0xDC00 && v <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (v - 0xDC00);
        ++i;
      } else {
        cp = REPLACEMENT;
      }
    }
    ++i;
    if (cp < 0x80) {
      *o++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      o[0] = static_cast<char>(0xC0 | (cp >> 6));
      o[1] = static_cast<char>(0x80 | (cp & 0x3F));
      o += 2;
    } else if (cp < 0x10000) {
      o[0] = static_cast<char>(0xE0 | (cp >> 12));
      o[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o[2] = static_cast<char>(0x80 | (cp & 0x3F));
      o += 3;
    } else {
      o[0] = static_cast<char>(0xF0 | (cp >> 18));
      o[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      o[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o[3] = static_cast<char>(0x80 | (cp & 0x3F));
      o += 4;
    }
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
  return out;
}

Bytes utf8_to_utf16le(std::string_view utf8) {
  Bytes out;
  out.reserve(utf8.size() * 2);
  auto put = [&out](u32 unit) {
    out.push_back(static_cast<char>(unit & 0xFF));
    out.push_back(static_cast<char>(unit >> 8));
  };
  std::size_t i = 0;
  while (i < utf8.size()) {
    const u32 cp = next_utf8(utf8, i).value_or(REPLACEMENT);
    if (cp >= 0x10000) {
      const u32 v = cp - 0x10000;
      put(0xD800 + (v >> 10));
      put(0xDC00 + (v & 0x3FF));
    } else {
      put(cp);
    }
  }
  return out;
}

void append_utf8(std::string &out, u32 cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = REPLACEMENT;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string codepage_iconv_name(u32 codepage) {
  if (const CodepageInfo *info = find_codepage(codepage)) return info->iconv_name;
  // Unlisted codepages by the names glibc iconv gives Windows codepages: the ISO 8859 parts
  // (28600 is ISO-8859-10, 28604 ISO-8859-14, 28606 ISO-8859-16) and CPnnn for the rest
  // (CP852, CP1125, ...). iconv_open tells whether it knows one.
  if (codepage >= 28591 && codepage <= 28606) return "ISO-8859-" + std::to_string(codepage - 28590);
  return "CP" + std::to_string(codepage);
}

namespace {
// Appends without a copy when `out` is still empty (codepage_to_utf8's case).
void put(std::string &out, std::string &&s) {
  if (out.empty())
    out = std::move(s);
  else
    out += s;
}
}  // namespace

bool append_codepage_as_utf8(std::string &out, ByteView bytes, u32 codepage) {
  // Fast paths that need no iconv and define the invalid-input behaviour exactly.
  switch (codepage) {
    case 65001:
      put(out, sanitize_utf8(bytes));
      return true;
    case 1200:
      put(out, utf16le_to_utf8(bytes));
      return true;
    case 28591:
      put(out, latin1_to_utf8(bytes));
      return true;
    case 20127:
      out.reserve(out.size() + bytes.size());
      for (char c : bytes) {
        if (static_cast<u8>(c) < 0x80)
          out.push_back(c);
        else
          append_utf8(out, REPLACEMENT);
      }
      return true;
    default:
      break;
  }
  if (is_ascii(bytes) && codepage != 65000 && codepage != 50220 && codepage != 50221 &&
      codepage != 50222 && codepage != 50225) {
    out += bytes;  // every supported 8-bit/multibyte codepage is ASCII-compatible
    return true;
  }
  iconv_t cd = iconv_cache().get(codepage, Direction::ToUtf8);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;

  std::array<char, 4096> buf{};
  char *in = const_cast<char *>(bytes.data());
  std::size_t in_left = bytes.size();
  bool flushed = false;
  while (true) {
    char *o = buf.data();
    std::size_t o_left = buf.size();
    std::size_t rc = 0;
    if (in_left > 0) {
      rc = iconv(cd, &in, &in_left, &o, &o_left);
    } else {
      rc = iconv(cd, nullptr, nullptr, &o, &o_left);  // flush shift sequences
      flushed = true;
    }
    const int err = errno;
    out.append(buf.data(), buf.size() - o_left);
    if (rc != static_cast<std::size_t>(-1)) {
      if (flushed) break;
      continue;
    }
    if (err == E2BIG) continue;
    if (err == EILSEQ) {
      append_utf8(out, REPLACEMENT);
      if (in_left == 0) break;
      ++in;
      --in_left;
      continue;
    }
    // EINVAL: an incomplete multibyte sequence at the end of the input.
    append_utf8(out, REPLACEMENT);
    in += in_left;
    in_left = 0;
    if (flushed) break;
  }
  return true;
}

std::optional<std::string> codepage_to_utf8(ByteView bytes, u32 codepage) {
  // Only listed codepages: for any other the callers fall back to a codepage they trust.
  if (find_codepage(codepage) == nullptr) return std::nullopt;
  std::string out;
  if (!append_codepage_as_utf8(out, bytes, codepage)) return std::nullopt;
  return out;
}

bool append_code_point_in_codepage(std::string &out, u32 c, u32 codepage) {
  if (codepage == 65001) {
    append_utf8(out, c);
    return true;
  }
  iconv_t cd = iconv_cache().get(codepage, Direction::FromUtf8);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  std::string in;
  append_utf8(in, c);
  char *src = in.data();
  std::size_t left = in.size();
  std::array<char, 16> buf{};
  char *dst = buf.data();
  std::size_t room = buf.size();
  if (iconv(cd, &src, &left, &dst, &room) == static_cast<std::size_t>(-1) || left != 0)
    return false;
  // Stateful encodings (ISO-2022-JP) need their shift-back sequence.
  iconv(cd, nullptr, nullptr, &dst, &room);
  out.append(buf.data(), buf.size() - room);
  return true;
}

std::optional<std::string> codepage_charset_name(u32 codepage) {
  const CodepageInfo *info = find_codepage(codepage);
  if (info == nullptr) return std::nullopt;
  return std::string(info->mime_name);
}

std::optional<u32> charset_to_codepage(std::string_view charset) {
  // Trim blanks and quotes that come along from meta tags.
  while (!charset.empty() && (charset.front() == ' ' || charset.front() == '"' ||
                              charset.front() == '\'' || charset.front() == '\t')) {
    charset.remove_prefix(1);
  }
  while (!charset.empty() &&
         (charset.back() == ' ' || charset.back() == '"' || charset.back() == '\'' ||
          charset.back() == '\t' || charset.back() == ';')) {
    charset.remove_suffix(1);
  }
  const std::string c = to_lower_ascii(charset);
  if (c.empty()) return std::nullopt;
  struct Alias {
    const char *name;
    u32 codepage;
  };
  static constexpr Alias ALIASES[] = {
      {"utf8", 65001},
      {"unicode-1-1-utf-8", 65001},
      {"us-ascii", 20127},
      {"ascii", 20127},
      {"ansi_x3.4-1968", 20127},
      {"latin1", 28591},
      {"iso_8859-1", 28591},
      {"l1", 28591},
      {"latin2", 28592},
      {"iso8859-1", 28591},
      {"iso8859-15", 28605},
      {"latin-9", 28605},
      {"cp1252", 1252},
      {"cp1250", 1250},
      {"cp1251", 1251},
      {"x-cp1250", 1250},
      {"x-cp1251", 1251},
      {"shift-jis", 932},
      {"sjis", 932},
      {"x-sjis", 932},
      {"ms_kanji", 932},
      {"cp932", 932},
      {"windows-31j", 932},
      {"gb2312", 936},
      {"cp936", 936},
      {"x-gbk", 936},
      {"euc-cn", 51936},
      {"cp949", 949},
      {"ks_c_5601", 949},
      {"windows-949", 949},
      {"uhc", 949},
      {"big5-hkscs", 950},
      {"cp950", 950},
      {"x-euc-jp", 51932},
      {"utf-16", 1200},
      {"ucs-2", 1200},
      {"tis-620", 874},
      {"iso-8859-11", 874},
      {"koi8r", 20866},
      {"csiso2022jp", 50220},
      {"gb_2312-80", 936},
      {"iso-8859-8-i", 38598},
      {"iso-ir-100", 28591},
  };
  for (const Alias &a : ALIASES) {
    if (c == a.name) return a.codepage;
  }
  for (const CodepageInfo &info : CODEPAGES) {
    if (c == to_lower_ascii(info.mime_name)) return info.codepage;
  }
  if (c.rfind("windows-", 0) == 0) {
    const std::string num = c.substr(8);
    if (num == "874") return 874u;
    if (num.size() == 4 && num.compare(0, 3, "125") == 0 && num[3] >= '0' && num[3] <= '8') {
      return 1250u + static_cast<u32>(num[3] - '0');
    }
  }
  return std::nullopt;
}

std::optional<u32> windows_charset_codepage(i32 charset) {
  // wingdi.h *_CHARSET values and the codepages Windows uses for them.
  static constexpr std::pair<i32, u32> CHARSETS[] = {
      {77, 10000},  // MAC_CHARSET
      {128, 932},   // SHIFTJIS_CHARSET
      {129, 949},   // HANGUL_CHARSET
      {130, 1361},  // JOHAB_CHARSET
      {134, 936},   // GB2312_CHARSET
      {136, 950},   // CHINESEBIG5_CHARSET
      {161, 1253},  // GREEK_CHARSET
      {162, 1254},  // TURKISH_CHARSET
      {163, 1258},  // VIETNAMESE_CHARSET
      {177, 1255},  // HEBREW_CHARSET
      {178, 1256},  // ARABIC_CHARSET
      {186, 1257},  // BALTIC_CHARSET
      {204, 1251},  // RUSSIAN_CHARSET
      {222, 874},   // THAI_CHARSET
      {238, 1250},  // EASTEUROPE_CHARSET
      {254, 437},   // PC437_CHARSET
      {255, 850},   // OEM_CHARSET
  };
  for (const auto &[id, cp] : CHARSETS) {
    if (id == charset) return cp;
  }
  return std::nullopt;
}

bool is_ascii(std::string_view s) {
  return ascii_prefix(s, 0) == s.size();
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (true) {
    i = ascii_prefix(s, i);
    if (i >= s.size()) return true;
    if (!next_utf8(s, i)) return false;
  }
}

std::string sanitize_utf8(std::string_view s) {
  // Validate first: almost every string is already valid and is copied once.
  std::size_t i = 0;
  while (true) {
    i = ascii_prefix(s, i);
    if (i >= s.size()) return std::string(s);
    const std::size_t start = i;
    if (!next_utf8(s, i)) {
      i = start;
      break;
    }
  }
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t run = 0;  // start of the valid bytes not yet copied
  while (i < s.size()) {
    i = ascii_prefix(s, i);
    if (i >= s.size()) break;
    const std::size_t start = i;
    if (!next_utf8(s, i)) {
      out.append(s.substr(run, start - run));
      append_utf8(out, REPLACEMENT);
      run = i;
    }
  }
  out.append(s.substr(run));
  return out;
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char &c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string to_upper_ascii(std::string_view s) {
  std::string out(s);
  for (char &c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

namespace {
constexpr char lower_byte(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
}  // namespace

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower_byte(a[i]) != lower_byte(b[i])) return false;
  }
  return true;
}

bool istarts_with_ascii(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals_ascii(s.substr(0, prefix.size()), prefix);
}

std::string_view trim_left(std::string_view s, std::string_view chars) {
  const std::size_t b = s.find_first_not_of(chars);
  return b == std::string_view::npos ? s.substr(s.size()) : s.substr(b);
}

std::string_view trim_right(std::string_view s, std::string_view chars) {
  const std::size_t e = s.find_last_not_of(chars);
  return e == std::string_view::npos ? s.substr(0, 0) : s.substr(0, e + 1);
}

std::string_view trim(std::string_view s, std::string_view chars) {
  return trim_right(trim_left(s, chars), chars);
}

namespace {
std::string hex_digits(const u8 *p, std::size_t n, const char *digits) {
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}
}  // namespace

std::string to_hex(std::span<const u8> bytes) {
  return hex_digits(bytes.data(), bytes.size(), "0123456789abcdef");
}

std::string to_hex(ByteView bytes) {
  return hex_digits(reinterpret_cast<const u8 *>(bytes.data()), bytes.size(), "0123456789abcdef");
}

std::string to_hex_upper(ByteView bytes) {
  return hex_digits(reinterpret_cast<const u8 *>(bytes.data()), bytes.size(), "0123456789ABCDEF");
}

std::string hex_u64(u64 v) {
  static constexpr char DIGITS[] = "0123456789abcdef";
  char buf[18];
  char *p = buf + sizeof buf;
  do {
    *--p = DIGITS[v & 15];
    v >>= 4;
  } while (v != 0);
  return "0x" + std::string(p, buf + sizeof buf);
}

}  // namespace mm::text
