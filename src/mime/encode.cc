#include "mailmill/mime/encode.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "encode_impl.h"
#include "mailmill/util/civil_date.h"

namespace mm::mime {

namespace {

constexpr char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char HEX[] = "0123456789ABCDEF";

inline unsigned char uc(char c) { return static_cast<unsigned char>(c); }

void append_hex(std::string &out, unsigned char c, char prefix) {
  out.push_back(prefix);
  out.push_back(HEX[c >> 4]);
  out.push_back(HEX[c & 15]);
}

/// Length of the UTF-8 sequence starting at `s[i]`, at least 1 and never past the end. Invalid
/// lead bytes count as one byte so a malformed string still advances.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  unsigned char c = uc(s[i]);
  std::size_t n = 1;
  if (c >= 0xF0 && c < 0xF8) n = 4;
  else if (c >= 0xE0) n = c < 0xF0 ? 3 : 1;
  else if (c >= 0xC0) n = 2;
  if (i + n > s.size()) return 1;
  for (std::size_t k = 1; k < n; ++k)
    if ((uc(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

/// Characters allowed literally in a Q encoded-word anywhere a phrase may appear
/// ([RFC 2047] 5(3)); everything else is =XX and space is '_'.
bool q_safe(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
         c == '*' || c == '+' || c == '-' || c == '/';
}

std::size_t q_len(std::string_view chunk) {
  std::size_t n = 0;
  for (char c : chunk) n += (q_safe(uc(c)) || c == ' ') ? 1 : 3;
  return n;
}

std::string q_word(std::string_view chunk) {
  std::string out = "=?UTF-8?Q?";
  for (char c : chunk) {
    if (c == ' ') out.push_back('_');
    else if (q_safe(uc(c))) out.push_back(c);
    else append_hex(out, uc(c), '=');
  }
  out += "?=";
  return out;
}

std::string b_word(std::string_view chunk) {
  std::string out = "=?UTF-8?B?";
  Bytes enc = base64_encode(chunk, "");
  out += enc;
  out += "?=";
  return out;
}

bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

/// RFC 2231 attribute-char: printable ASCII except space, '*', '\'', '%' and tspecials.
bool attr_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7F) return false;
  switch (c) {
    case '*': case '\'': case '%': case '(': case ')': case '<': case '>': case '@': case ',':
    case ';': case ':': case '\\': case '"': case '/': case '[': case ']': case '?': case '=':
      return false;
    default:
      return true;
  }
}

std::string quote_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    // CR/LF cannot appear in a quoted-string; a display name never needs them.
    out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  }
  out.push_back('"');
  return out;
}

void civil_from_days(i64 z, i64 &y, unsigned &m, unsigned &d) {
  const util::CivilDate c = util::civil_from_days(z);
  y = c.year;
  m = c.month;
  d = c.day;
}

struct Civil {
  i64 year;
  unsigned month, day, hour, minute, second, weekday;
};

Civil to_civil(i64 t) {
  i64 days = t / 86400;
  i64 secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  Civil c{};
  civil_from_days(days, c.year, c.month, c.day);
  c.hour = static_cast<unsigned>(secs / 3600);
  c.minute = static_cast<unsigned>(secs / 60 % 60);
  c.second = static_cast<unsigned>(secs % 60);
  i64 wd = (days + 4) % 7;  // 1970-01-01 was a Thursday
  c.weekday = static_cast<unsigned>(wd < 0 ? wd + 7 : wd);
  return c;
}

constexpr const char *WDAY[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char *MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

namespace {

/// Encodes `groups` complete 3-byte groups from `in` to `out` (4 characters each).
#if defined(__x86_64__)
// AVX2 base64 of 8 groups (24 bytes -> 32 characters) per step, after W. Mula's published
// method: each 32-bit lane gets the bytes (b, a, c, b) of a group (a, b, c); one multiply-high
// and one multiply-low move the four 6-bit fields into the four bytes; a 16-entry table adds
// the ASCII offset of each field's range. Reads 28 bytes per step, so callers leave at least
// 4 readable bytes beyond the 24 encoded. Returns the groups left for the scalar loop.
__attribute__((target("avx2"))) std::size_t b64_groups_avx2(const unsigned char *&in,
                                                               std::size_t groups, char *&out) {
  const __m256i shuf = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,  //
                                        1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  const __m256i mask_hi = _mm256_set1_epi32(0x0fc0fc00);
  const __m256i mul_hi = _mm256_set1_epi32(0x04000040);
  const __m256i mask_lo = _mm256_set1_epi32(0x003f03f0);
  const __m256i mul_lo = _mm256_set1_epi32(0x01000010);
  // Offsets by class: 0 -> 'a'-26, 1..10 -> '0'-52, 11 -> '+'-62, 12 -> '/'-63, 13 -> 'A'.
  const __m256i lut = _mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0,
                                       71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
  const __m256i c51 = _mm256_set1_epi8(51), c26 = _mm256_set1_epi8(26), c13 = _mm256_set1_epi8(13);
  while (groups >= 10) {
    __m256i v = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i *>(in))),
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(in + 12)), 1);
    v = _mm256_shuffle_epi8(v, shuf);
    const __m256i hi = _mm256_mulhi_epu16(_mm256_and_si256(v, mask_hi), mul_hi);
    const __m256i lo = _mm256_mullo_epi16(_mm256_and_si256(v, mask_lo), mul_lo);
    const __m256i idx = _mm256_or_si256(hi, lo);
    __m256i cls = _mm256_subs_epu8(idx, c51);
    cls = _mm256_or_si256(cls, _mm256_and_si256(_mm256_cmpgt_epi8(c26, idx), c13));
    const __m256i chars = _mm256_add_epi8(idx, _mm256_shuffle_epi8(lut, cls));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out), chars);
    in += 24;
    out += 32;
    groups -= 8;
  }
  return groups;
}

// AVX-512 VBMI base64 of one whole line: 57 bytes -> 76 characters, as two overlapping steps
// of 48 bytes -> 64 characters (bytes 0-47 and 9-56; the overlap is written twice with the
// same characters). Each step: one byte permute puts the bytes (b, a, c, b) of every group
// (a, b, c) in a 32-bit lane, one multishift picks the four 6-bit fields (at bits 10, 4, 22
// and 16 of the lane), and a second byte permute looks them up in the alphabet. Reads exactly
// the line's 57 bytes.
// GCC 12's intrinsic headers seed the permutes with an "undefined" vector it then reports as
// uninitialized (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void b64_line_vbmi(const unsigned char *in,
                                                                          char *out) {
  const __m512i spread = _mm512_setr_epi32(
      0x01020001, 0x04050304, 0x07080607, 0x0a0b090a, 0x0d0e0c0d, 0x10110f10, 0x13141213,
      0x16171516, 0x191a1819, 0x1c1d1b1c, 0x1f201e1f, 0x22232122, 0x25262425, 0x28292728,
      0x2b2c2a2b, 0x2e2f2d2e);
  const __m512i shifts = _mm512_set1_epi64(0x3036242a1016040a);
  const __m512i alphabet = _mm512_loadu_si512(B64);
  const __mmask64 first48 = (__mmask64{1} << 48) - 1;
  for (int step = 0; step < 2; ++step) {
    const unsigned char *src = in + (step == 0 ? 0 : 9);
    char *dst = out + (step == 0 ? 0 : 12);
    const __m512i bytes = _mm512_maskz_loadu_epi8(first48, src);
    const __m512i lanes = _mm512_permutexvar_epi8(spread, bytes);
    const __m512i fields = _mm512_multishift_epi64_epi8(shifts, lanes);
    _mm512_storeu_si512(dst, _mm512_permutexvar_epi8(fields, alphabet));
  }
}
#pragma GCC diagnostic pop

#endif

// The widest encoder this CPU runs. The VBMI line encoder is only used together with the AVX2
// group encoder (for what is not a whole line), so Vbmi requires both.
Base64Impl detect_base64() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) return Base64Impl::Scalar;
  if (__builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw"))
    return Base64Impl::Vbmi;
  return Base64Impl::Avx2;
#else
  return Base64Impl::Scalar;
#endif
}

Base64Impl best_base64() {
  static const Base64Impl best = detect_base64();
  return best;
}

// -1: not forced (the widest supported); otherwise a Base64Impl. Relaxed: a force is meant to
// happen before encoding starts.
std::atomic<int> g_forced_base64{-1};

/// `avx2`: whether the AVX2 group encoder may run (base64_impl() >= Avx2).
inline char *b64_groups(const unsigned char *in, std::size_t groups, char *out, bool avx2) {
#if defined(__x86_64__)
  if (avx2 && groups >= 10) groups = b64_groups_avx2(in, groups, out);
#endif
  for (std::size_t g = 0; g < groups; ++g, in += 3, out += 4) {
    const u32 v = (u32{in[0]} << 16) | (u32{in[1]} << 8) | in[2];
    out[0] = B64[v >> 18];
    out[1] = B64[(v >> 12) & 63];
    out[2] = B64[(v >> 6) & 63];
    out[3] = B64[v & 63];
  }
  return out;
}

/// Encodes the final 1 or 2 bytes of the input with '=' padding.
inline char *b64_tail(const unsigned char *in, std::size_t rest, char *out) {
  u32 v = u32{in[0]} << 16;
  if (rest == 2) v |= u32{in[1]} << 8;
  out[0] = B64[v >> 18];
  out[1] = B64[(v >> 12) & 63];
  out[2] = rest == 2 ? B64[(v >> 6) & 63] : '=';
  out[3] = '=';
  return out + 4;
}

/// Grows `out` (by doubling) so that `need` more bytes fit after `pos`; returns the write
/// pointer. The string is trimmed to the bytes written by the caller at the end.
inline char *qp_room(Bytes &out, std::size_t pos, std::size_t need) {
  if (pos + need > out.size()) out.resize(std::max(out.size() * 2, pos + need));
  return out.data() + pos;
}

/// Bytes that quoted-printable copies literally in the middle of a line (not its last
/// character, not at column 0): printable ASCII except '=', plus space and tab.
constexpr std::array<bool, 256> make_qp_mid() {
  std::array<bool, 256> t{};
  for (int c = 33; c <= 126; ++c) t[static_cast<std::size_t>(c)] = c != '=';
  t[' '] = true;
  t['\t'] = true;
  return t;
}
constexpr std::array<bool, 256> QP_MID = make_qp_mid();

}  // namespace

std::size_t base64_encoded_size(std::size_t n, std::string_view eol) {
  const std::size_t chars = (n + 2) / 3 * 4;
  // One eol after every 76 characters and after a shorter last line.
  return chars + (eol.empty() ? 0 : (chars + 75) / 76 * eol.size());
}

bool base64_impl_supported(Base64Impl impl) {
  return static_cast<int>(impl) <= static_cast<int>(best_base64());
}

bool force_base64_impl(Base64Impl impl) {
  if (!base64_impl_supported(impl)) return false;
  g_forced_base64.store(static_cast<int>(impl), std::memory_order_relaxed);
  return true;
}

void reset_base64_impl() { g_forced_base64.store(-1, std::memory_order_relaxed); }

Base64Impl base64_impl() {
  const int forced = g_forced_base64.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<Base64Impl>(forced) : best_base64();
}

const char *base64_impl_name(Base64Impl impl) {
  switch (impl) {
    case Base64Impl::Scalar:
      return "scalar";
    case Base64Impl::Avx2:
      return "avx2";
    case Base64Impl::Vbmi:
      return "vbmi";
  }
  return "?";
}

char *base64_encode_to(char *o, ByteView data, std::string_view eol) {
  const auto *in = reinterpret_cast<const unsigned char *>(data.data());
  std::size_t left = data.size();
  const Base64Impl impl = base64_impl();
  const bool avx2 = impl != Base64Impl::Scalar;
  if (!eol.empty()) {
    // Full lines: 57 input bytes give exactly 76 characters.
#if defined(__x86_64__)
    if (impl == Base64Impl::Vbmi) {
      for (; left >= 57; in += 57, left -= 57) {
        b64_line_vbmi(in, o);
        std::memcpy(o + 76, eol.data(), eol.size());
        o += 76 + eol.size();
      }
    }
#endif
    while (left >= 57) {
      o = b64_groups(in, 19, o, avx2);
      std::memcpy(o, eol.data(), eol.size());
      o += eol.size();
      in += 57;
      left -= 57;
    }
  }
  o = b64_groups(in, left / 3, o, avx2);
  in += left / 3 * 3;
  if (left % 3 != 0) o = b64_tail(in, left % 3, o);
  if (!eol.empty() && left > 0) {
    std::memcpy(o, eol.data(), eol.size());
    o += eol.size();
  }
  return o;
}

Bytes base64_encode(ByteView data, std::string_view eol) {
  Bytes out;
  out.resize(base64_encoded_size(data.size(), eol));
  base64_encode_to(out.data(), data, eol);
  return out;
}

Bytes qp_encode(ByteView data, std::string_view eol) {
  Bytes out;
  const std::size_t n = data.size();
  out.resize(n + n / 8 + 16);
  std::size_t pos = 0;
  const char *d = data.data();
  const std::size_t el = eol.size();
  auto is_from = [&](std::size_t k, std::size_t end) {
    return k + 5 <= end && std::memcmp(d + k, "From ", 5) == 0;
  };
  std::size_t i = 0;
  while (i < n) {
    // One input line: [i, end) without its line break; `brk` says whether a break followed.
    const void *nlp = std::memchr(d + i, '\n', n - i);
    std::size_t end = n;
    bool brk = false;
    std::size_t next = n;
    if (nlp != nullptr) {
      const std::size_t nl = static_cast<std::size_t>(static_cast<const char *>(nlp) - d);
      end = (nl > i && d[nl - 1] == '\r') ? nl - 1 : nl;
      brk = true;
      next = nl + 1;
    }
    const std::size_t len = end - i;
    // Worst case: 3 characters per byte, a soft break ("=" + eol) per 73 of them, the hard break.
    char *o = qp_room(out, pos, 3 * len + (3 * len / 73 + 1) * (1 + el) + el);
    char *const o0 = o;
    std::size_t col = 0;
    std::size_t k = i;
    while (k < end) {
      if (col > 0 && col < 75) {
        // Run of bytes that are literal mid-line and cannot reach a soft break; never the
        // line's last byte (trailing whitespace and the 76th column are handled below).
        const std::size_t lim = std::min(end - 1, k + (75 - col));
        std::size_t j = k;
        while (j < lim && QP_MID[uc(d[j])]) ++j;
        if (j > k) {
          std::memcpy(o, d + k, j - k);
          o += j - k;
          col += j - k;
          k = j;
          continue;
        }
      }
      const unsigned char c = uc(d[k]);
      const bool last = k + 1 == end;
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      // "From " at a line start is encoded so the part survives naive mbox writers unchanged
      // ([RFC 2045] 6.7 note 8 recommends it); a lone "." likewise for SMTP.
      if (col == 0 && c == 'F' && is_from(k, end)) literal = false;
      if (col == 0 && c == '.' && last) literal = false;
      std::size_t tlen = literal ? 1 : 3;
      // Lines are at most 76 characters; a soft break needs one for the trailing '='.
      if (col + tlen > (last ? 76u : 75u)) {
        *o++ = '=';
        std::memcpy(o, eol.data(), el);
        o += el;
        col = 0;
        // A moved "From " line start is now at column 0 again; re-check for 'F'.
        if (c == 'F' && tlen == 1 && is_from(k, end)) tlen = 3;
      }
      if (tlen == 1) {
        *o++ = static_cast<char>(c);
      } else {
        o[0] = '=';
        o[1] = HEX[c >> 4];
        o[2] = HEX[c & 15];
        o += 3;
      }
      col += tlen;
      ++k;
    }
    if (brk) {
      std::memcpy(o, eol.data(), el);
      o += el;
    }
    pos += static_cast<std::size_t>(o - o0);
    i = next;
  }
  out.resize(pos);
  return out;
}

bool fits_in_lines(ByteView data, bool allow_8bit) {
  // 0: ordinary byte; 1: '\n'; 2: '\r'; 3: never allowed (NUL, and 8-bit unless allowed).
  static constexpr auto make = [](bool eight) {
    std::array<unsigned char, 256> t{};
    t[0] = 3;
    t['\n'] = 1;
    t['\r'] = 2;
    if (!eight)
      for (int c = 0x80; c < 256; ++c) t[static_cast<std::size_t>(c)] = 3;
    return t;
  };
  static constexpr std::array<unsigned char, 256> T7 = make(false), T8 = make(true);
  const std::array<unsigned char, 256> &t = allow_8bit ? T8 : T7;
  const auto *p = reinterpret_cast<const unsigned char *>(data.data());
  const auto *e = p + data.size();
  const unsigned char *line = p;  // start of the current line
  for (; p < e; ++p) {
    const unsigned char k = t[*p];
    if (k == 0) continue;
    if (k == 1) {
      if (p - line > 998) return false;
      line = p + 1;
    } else if (k == 2) {
      if (p + 1 >= e || p[1] != '\n') return false;  // bare CR
      if (p - line > 998) return false;  // the CR of CRLF does not count
      ++p;
      line = p + 1;
    } else {
      return false;
    }
  }
  return e - line <= 998;
}

namespace detail {

bool needs_rfc2047(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = uc(s[i]);
    if (c < 0x20 || c >= 0x7F) return true;
    // Text that looks like an encoded-word would be decoded by readers: protect it.
    if (c == '=' && i + 1 < s.size() && s[i + 1] == '?') return true;
  }
  // A word too long to fold cannot go as plain text.
  std::size_t run = 0;
  for (char c : s) {
    run = c == ' ' ? 0 : run + 1;
    if (run > 900) return true;
  }
  return false;
}

std::string encoded_words(std::string_view utf8, std::size_t used, std::string_view sep) {
  // Choose B or Q for the whole value by total encoded length ([RFC 2047] 4: either is fine).
  const std::size_t b_total = (utf8.size() + 2) / 3 * 4;
  const bool use_q = q_len(utf8) <= b_total;
  // 75 octets per encoded-word, 12 of them are "=?UTF-8?X?" + "?=" ([RFC 2047] 2).
  constexpr std::size_t MAX_PAYLOAD = 75 - 12;
  std::size_t first_max = MAX_PAYLOAD;
  if (used + 75 > 76) first_max = used < 76 - 32 ? 76 - used - 12 : 20;
  std::string out;
  std::size_t i = 0;
  bool first = true;
  while (i < utf8.size()) {
    const std::size_t limit = first ? first_max : MAX_PAYLOAD;
    std::size_t j = i;
    std::size_t enc = 0;
    while (j < utf8.size()) {
      std::size_t cl = utf8_len(utf8, j);
      std::size_t next;
      if (use_q) {
        next = enc + q_len(utf8.substr(j, cl));
      } else {
        next = (j + cl - i + 2) / 3 * 4;
      }
      if (next > limit && j > i) break;
      enc = next;
      j += cl;
    }
    if (!first) out.append(sep);
    std::string_view chunk = utf8.substr(i, j - i);
    out += use_q ? q_word(chunk) : b_word(chunk);
    i = j;
    first = false;
  }
  return out;
}

std::string fold_plain(std::string_view s, std::size_t used, std::string_view eol,
                       std::size_t width) {
  // Folding inserts `eol` before a space so that unfolding (removing the line break) restores
  // the exact text ([RFC 5322] 2.2.3). Only single spaces between non-space text are used.
  std::string out;
  std::size_t col = used;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t sp = s.find(' ', i + 1);
    std::size_t end = sp == std::string_view::npos ? s.size() : sp;
    std::string_view word = s.substr(i, end - i);  // starts with a space unless i == 0
    bool can_fold = i > 0 && word.size() > 1 && s[i] == ' ' && s[i - 1] != ' ' && !eol.empty();
    if (can_fold && col + word.size() > width && col > used) {
      out.append(eol);
      col = 0;
    }
    out.append(word);
    col += word.size();
    i = end;
  }
  return out;
}

std::string quote_if_needed(std::string_view s) {
  bool plain = !s.empty() && s.front() != ' ' && s.back() != ' ';
  for (std::size_t i = 0; plain && i < s.size(); ++i) {
    unsigned char c = uc(s[i]);
    if (c == ' ') {
      if (s[i + 1] == ' ') plain = false;
    } else if (!is_atext(c)) {
      plain = false;
    }
  }
  return plain ? std::string(s) : quote_string(s);
}

}  // namespace detail

std::string rfc2047_encode(std::string_view utf8, std::size_t used, std::string_view eol) {
  if (!detail::needs_rfc2047(utf8)) return detail::fold_plain(utf8, used, eol, 78);
  std::string sep = eol.empty() ? std::string(" ") : std::string(eol) + " ";
  return detail::encoded_words(utf8, used, sep);
}

std::string format_mailbox(std::string_view name_utf8, std::string_view addr) {
  std::string phrase;
  if (!name_utf8.empty()) {
    phrase = detail::needs_rfc2047(name_utf8) ? detail::encoded_words(name_utf8, 0, " ")
                                              : detail::quote_if_needed(name_utf8);
  }
  if (addr.empty()) {
    if (phrase.empty()) return "<>";
    // No address known (e.g. an Exchange X.500-only sender): an empty group keeps the name
    // without inventing an address. Groups are valid in From/Sender since [RFC 6854].
    return phrase + ":;";
  }
  if (phrase.empty()) return std::string(addr);
  return phrase + " <" + std::string(addr) + ">";
}

std::string format_param(std::string_view name, std::string_view value_utf8,
                         std::string_view eol) {
  bool ascii = true;
  for (char c : value_utf8) {
    unsigned char b = uc(c);
    if (b < 0x20 || b >= 0x7F) ascii = false;
  }
  std::string sep = ";" + std::string(eol) + " ";
  if (eol.empty()) sep = "; ";
  // Per segment, the line is " " + name*N*=value + ";" and must stay within 78 columns.
  const std::size_t budget = 76 - name.size() - 6;
  if (ascii) {
    std::string q = quote_string(value_utf8);
    if (q.size() <= budget + 2) return std::string(name) + "=" + q;
    // [RFC 2231] 3: continuations of a long ASCII value, each a quoted-string.
    std::string out;
    std::size_t i = 0;
    for (int k = 0; i < value_utf8.size(); ++k) {
      std::size_t take = std::min<std::size_t>(budget - 4, value_utf8.size() - i);
      if (k > 0) out += sep;
      out += std::string(name) + "*" + std::to_string(k) + "=" +
             quote_string(value_utf8.substr(i, take));
      i += take;
    }
    return out;
  }
  // [RFC 2231] 4: charset'language'percent-encoded, split into continuations without
  // splitting a %XX triplet or a UTF-8 character.
  std::vector<std::string> segs;
  std::string cur = "UTF-8''";
  std::size_t i = 0;
  while (i < value_utf8.size()) {
    std::size_t cl = utf8_len(value_utf8, i);
    std::string enc;
    for (std::size_t k = 0; k < cl; ++k) {
      unsigned char c = uc(value_utf8[i + k]);
      if (attr_char(c)) enc.push_back(static_cast<char>(c));
      else append_hex(enc, c, '%');
    }
    if (cur.size() + enc.size() > budget - 2 && !cur.empty() && cur != "UTF-8''") {
      segs.push_back(cur);
      cur.clear();
    }
    cur += enc;
    i += cl;
  }
  segs.push_back(cur);
  if (segs.size() == 1) return std::string(name) + "*=" + segs[0];
  std::string out;
  for (std::size_t k = 0; k < segs.size(); ++k) {
    if (k > 0) out += sep;
    out += std::string(name) + "*" + std::to_string(k) + "*=" + segs[k];
  }
  return out;
}

namespace {

inline char *put2(char *o, unsigned v) {
  o[0] = static_cast<char>('0' + v / 10);
  o[1] = static_cast<char>('0' + v % 10);
  return o + 2;
}

inline char *put4(char *o, i64 y) {
  const auto v = static_cast<unsigned>(y);
  o = put2(o, v / 100);
  return put2(o, v % 100);
}

inline char *put3(char *o, const char *s) {
  std::memcpy(o, s, 3);
  return o + 3;
}

}  // namespace

namespace {

using util::days_from_civil;

/// Tokens of a date-time: words, numbers and the separators ',' ':' '+' '-'; comments and
/// white space dropped.
class DateLexer {
 public:
  explicit DateLexer(std::string_view s) : s_(s) {}
  /// Next token, "" at the end.
  std::string_view next() {
    skip_cfws();
    if (i_ >= s_.size()) return {};
    const std::size_t start = i_;
    const char c = s_[i_];
    if (c == ',' || c == ':' || c == '+' || c == '-') {
      ++i_;
      return s_.substr(start, 1);
    }
    const bool digit = c >= '0' && c <= '9';
    while (i_ < s_.size()) {
      const char d = s_[i_];
      const bool is_digit = d >= '0' && d <= '9';
      const bool is_alpha = (d >= 'A' && d <= 'Z') || (d >= 'a' && d <= 'z');
      if (digit ? !is_digit : !is_alpha) break;
      ++i_;
    }
    if (i_ == start) ++i_;  // any other byte is a token of its own (and fails the parse)
    return s_.substr(start, i_ - start);
  }

 private:
  void skip_cfws() {
    int depth = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (depth > 0 && c == '\\' && i_ + 1 < s_.size()) {
        i_ += 2;
        continue;
      }
      if (c == '(') ++depth;
      else if (c == ')' && depth > 0) --depth;
      else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n') return;
      ++i_;
    }
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

bool all_digits(std::string_view t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int number(std::string_view t) {
  int v = 0;
  for (char c : t) v = v * 10 + (c - '0');
  return v;
}

bool iequal3(std::string_view t, const char *name) {
  if (t.size() < 3) return false;
  for (int k = 0; k < 3; ++k)
    if ((t[k] | 0x20) != (name[k] | 0x20)) return false;
  return true;
}

}  // namespace

std::optional<i64> parse_rfc5322_date(std::string_view value) {
  DateLexer lex(value);
  std::string_view t = lex.next();
  // Optional day of week (any alphabetic word) and its comma.
  if (!t.empty() && !all_digits(t)) {
    t = lex.next();
    if (t == ",") t = lex.next();
  }
  if (!all_digits(t) || t.size() > 2) return std::nullopt;
  const int day = number(t);
  t = lex.next();
  int month = 0;
  for (int k = 0; k < 12; ++k)
    if (t.size() >= 3 && iequal3(t, MON[k])) month = k + 1;
  if (month == 0) return std::nullopt;
  t = lex.next();
  if (!all_digits(t) || t.size() > 4) return std::nullopt;
  i64 year = number(t);
  if (t.size() == 2) year += year < 50 ? 2000 : 1900;  // [RFC 5322] 4.3
  else if (t.size() == 3) year += 1900;
  int hms[3] = {0, 0, 0};
  auto two_digits = [&](int &out) {
    t = lex.next();
    if (!all_digits(t) || t.size() > 2) return false;
    out = number(t);
    return true;
  };
  if (!two_digits(hms[0]) || lex.next() != ":" || !two_digits(hms[1])) return std::nullopt;
  t = lex.next();
  if (t == ":") {
    if (!two_digits(hms[2])) return std::nullopt;
    t = lex.next();
  }
  // Zone: +hhmm / -hhmm, a name, a military letter, or nothing (read as UTC).
  int offset_minutes = 0;
  if (t == "+" || t == "-") {
    const bool minus = t == "-";
    t = lex.next();
    if (!all_digits(t) || t.size() != 4) return std::nullopt;
    const int hhmm = number(t);
    if (hhmm % 100 > 59) return std::nullopt;
    offset_minutes = (hhmm / 100) * 60 + hhmm % 100;
    if (minus) offset_minutes = -offset_minutes;
  } else if (!t.empty()) {
    static constexpr struct {
      const char *name;
      int hours;
    } ZONES[] = {{"UT", 0},   {"GMT", 0},  {"UTC", 0},  {"EST", -5}, {"EDT", -4},
                 {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8},
                 {"PDT", -7}, {"Z", 0}};
    bool known = t.size() == 1;  // military zones: -0000 ([RFC 5322] 4.3)
    for (const auto &z : ZONES) {
      if (t.size() == std::strlen(z.name) &&
          std::equal(t.begin(), t.end(), z.name,
                     [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
        offset_minutes = z.hours * 60;
        known = true;
      }
    }
    if (!known) return std::nullopt;
  }
  if (day < 1 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60) return std::nullopt;
  static constexpr int MDAYS[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > MDAYS[month - 1] || (month == 2 && day == 29 && !leap)) return std::nullopt;
  // A leap second is read as the next second's start.
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hms[0] * 3600 + hms[1] * 60 + hms[2] - offset_minutes * 60;
}

std::string format_rfc5322_date(i64 unix_seconds) {
  Civil c = to_civil(unix_seconds);
  if (c.year < 0 || c.year > 9999) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %u %s %04lld %02u:%02u:%02u +0000", WDAY[c.weekday],
                  c.day, MON[c.month - 1], static_cast<long long>(c.year), c.hour, c.minute,
                  c.second);
    return buf;
  }
  // "Www, D Mmm YYYY hh:mm:ss +0000" without printf.
  char buf[40];
  char *o = put3(buf, WDAY[c.weekday]);
  *o++ = ',';
  *o++ = ' ';
  if (c.day >= 10) o = put2(o, c.day);
  else *o++ = static_cast<char>('0' + c.day);
  *o++ = ' ';
  o = put3(o, MON[c.month - 1]);
  *o++ = ' ';
  o = put4(o, c.year);
  *o++ = ' ';
  o = put2(o, c.hour);
  *o++ = ':';
  o = put2(o, c.minute);
  *o++ = ':';
  o = put2(o, c.second);
  std::memcpy(o, " +0000", 6);
  o += 6;
  return std::string(buf, static_cast<std::size_t>(o - buf));
}

std::string format_mbox_date(i64 unix_seconds) {
  Civil c = to_civil(unix_seconds);
  if (c.year < 0 || c.year > 9999) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s %s %2u %02u:%02u:%02u %04lld", WDAY[c.weekday],
                  MON[c.month - 1], c.day, c.hour, c.minute, c.second,
                  static_cast<long long>(c.year));
    return buf;
  }
  // "Www Mmm DD hh:mm:ss YYYY" (day space-padded) without printf.
  char buf[32];
  char *o = put3(buf, WDAY[c.weekday]);
  *o++ = ' ';
  o = put3(o, MON[c.month - 1]);
  *o++ = ' ';
  if (c.day >= 10) o = put2(o, c.day);
  else {
    *o++ = ' ';
    *o++ = static_cast<char>('0' + c.day);
  }
  *o++ = ' ';
  o = put2(o, c.hour);
  *o++ = ':';
  o = put2(o, c.minute);
  *o++ = ':';
  o = put2(o, c.second);
  *o++ = ' ';
  o = put4(o, c.year);
  return std::string(buf, static_cast<std::size_t>(o - buf));
}

}  // namespace mm::mime
