#pragma once
/// Text conversions (UTF-16LE and Windows codepages to UTF-8) and the small ASCII helpers every
/// module uses (case, trimming, hex). Pure functions, thread-safe.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mailmill/util/types.h"

namespace mm::text {

/// Converts UTF-16LE bytes to UTF-8. Surrogate pairs become 4-byte sequences (emoji survive);
/// unpaired surrogates become U+FFFD. A trailing odd byte is ignored. Stops at the first
/// U+0000 only if `stop_at_nul` (PST strings are usually not NUL-terminated).
std::string utf16le_to_utf8(ByteView utf16, bool stop_at_nul = false);

/// Converts UTF-8 to UTF-16LE bytes (no BOM, no terminator). Invalid UTF-8 sequences become
/// U+FFFD.
Bytes utf8_to_utf16le(std::string_view utf8);

/// Converts 8-bit text in Windows codepage `codepage` (e.g. 1252, 932, 65001) to UTF-8.
/// Returns nullopt for a codepage outside the listed set (the one codepage_charset_name knows;
/// callers then fall back to a codepage they trust) or unknown to iconv; invalid byte
/// sequences become U+FFFD (one per invalid byte, one for a truncated final sequence).
std::optional<std::string> codepage_to_utf8(ByteView bytes, u32 codepage);

/// Appends `bytes`, text in Windows codepage `codepage`, to `out` as UTF-8, like
/// codepage_to_utf8 but for any codepage iconv knows under codepage_iconv_name, listed or not.
/// ASCII input is copied as is for every codepage except the 7-bit stateful ones (UTF-7,
/// ISO-2022-*). Returns false, appending nothing, when iconv does not know the codepage.
bool append_codepage_as_utf8(std::string &out, ByteView bytes, u32 codepage);

/// Appends code point `c` encoded in Windows codepage `codepage` (65001: UTF-8). Returns false,
/// appending nothing, when the codepage cannot represent `c` or iconv does not know it. The
/// bytes of each call stand alone: a stateful encoding (ISO-2022-JP) gets its shift-back.
bool append_code_point_in_codepage(std::string &out, u32 c, u32 codepage);

/// The iconv name of Windows codepage `codepage`: the listed one ("CP1252", "EUC-JP", ...),
/// else "ISO-8859-N" for 28591-28606 and "CPnnn" for the rest, which iconv may or may not know.
std::string codepage_iconv_name(u32 codepage);

/// Appends code point `c` as UTF-8; surrogates and values above U+10FFFF become U+FFFD.
void append_utf8(std::string &out, u32 c);

/// Maps a Windows codepage number to an IANA/MIME charset name ("windows-1252", "shift_jis",
/// "utf-8", ...); nullopt when unknown.
std::optional<std::string> codepage_charset_name(u32 codepage);

/// Maps a MIME charset name (case-insensitive, e.g. from an HTML meta tag) to a codepage.
std::optional<u32> charset_to_codepage(std::string_view charset);

/// Maps a Windows character set id (LOGFONT lfCharSet, RTF \fcharsetN: 128 SHIFTJIS, 204
/// RUSSIAN, ...) to its codepage; nullopt for ANSI (0), DEFAULT (1) and SYMBOL (2), which name
/// no fixed codepage, and for unknown ids.
std::optional<u32> windows_charset_codepage(i32 charset);

/// True if every byte is < 0x80.
bool is_ascii(std::string_view s);

/// True if `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);

/// Replaces invalid UTF-8 sequences with U+FFFD.
std::string sanitize_utf8(std::string_view s);

// --- ASCII helpers: only the bytes A-Z / a-z change case; every other byte (UTF-8 included) is
// kept as it is, whatever the C locale says.

/// `s` with A-Z replaced by a-z.
std::string to_lower_ascii(std::string_view s);
/// `s` with a-z replaced by A-Z.
std::string to_upper_ascii(std::string_view s);
/// True if `a` and `b` are equal ignoring ASCII case.
bool iequals_ascii(std::string_view a, std::string_view b);
/// True if `s` begins with `prefix`, ignoring ASCII case.
bool istarts_with_ascii(std::string_view s, std::string_view prefix);

/// The blanks `trim` removes by default: space, tab, CR and LF.
inline constexpr std::string_view BLANKS = " \t\r\n";
/// `s` without leading bytes that occur in `chars`.
std::string_view trim_left(std::string_view s, std::string_view chars = BLANKS);
/// `s` without trailing bytes that occur in `chars`.
std::string_view trim_right(std::string_view s, std::string_view chars = BLANKS);
/// `s` without leading and trailing bytes that occur in `chars`.
std::string_view trim(std::string_view s, std::string_view chars = BLANKS);

/// Lower-case hex, two digits per byte ("00ff..."); digests, hashes.
std::string to_hex(std::span<const u8> bytes);
std::string to_hex(ByteView bytes);
/// Upper-case hex, two digits per byte ("00FF...").
std::string to_hex_upper(ByteView bytes);
/// "0x" and the lower-case hex of `v` without leading zeros ("0x0", "0x21"): ids and offsets
/// in problem details.
std::string hex_u64(u64 v);
/// The value of the hex digit `c` (0-15), or -1 when `c` is not one.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace mm::text
