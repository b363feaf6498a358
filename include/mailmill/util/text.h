#pragma once
/// Text conversions: UTF-16LE and Windows codepages to UTF-8. Pure functions, thread-safe.
#include <optional>
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
/// Returns nullopt if the codepage is unknown to iconv; invalid byte sequences become U+FFFD.
std::optional<std::string> codepage_to_utf8(ByteView bytes, u32 codepage);

/// Maps a Windows codepage number to an IANA/MIME charset name ("windows-1252", "shift_jis",
/// "utf-8", ...); nullopt when unknown.
std::optional<std::string> codepage_charset_name(u32 codepage);

/// Maps a MIME charset name (case-insensitive, e.g. from an HTML meta tag) to a codepage.
std::optional<u32> charset_to_codepage(std::string_view charset);

/// True if every byte is < 0x80.
bool is_ascii(std::string_view s);

/// True if `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);

/// Replaces invalid UTF-8 sequences with U+FFFD.
std::string sanitize_utf8(std::string_view s);

}  // namespace mm::text
