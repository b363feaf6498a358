#pragma once
/// Private helpers shared by encode.cc and build.cc (not part of the public API).
#include <string>
#include <string_view>

namespace mm::mime::detail {

/// True if an unstructured value must be sent as encoded-words (non-ASCII, controls, text that
/// looks like an encoded-word, or a word too long to fold).
bool needs_rfc2047(std::string_view s);
/// The whole value as UTF-8 encoded-words joined by `sep` (" " or eol + " ").
std::string encoded_words(std::string_view utf8, std::size_t used, std::string_view sep);
/// Folds printable ASCII text before single spaces so lines stay within `width` columns.
std::string fold_plain(std::string_view s, std::size_t used, std::string_view eol,
                       std::size_t width);
/// `s` as-is when it is a phrase of atoms, else a quoted-string ([RFC 5322] 3.2.4).
std::string quote_if_needed(std::string_view s);

}  // namespace mm::mime::detail
