#pragma once
// Private pieces of the Internet-message parser (parse.cc) shared with the TNEF expander
// (tnef.cc). Not part of the public API.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/model/item.h"
#include "mailmill/util/types.h"

namespace mm::mime::detail {

// Parser limits. They belong in mime/limits.h next to MAX_EMBED_DEPTH; that header is owned
// elsewhere, so they live here until it takes them.
/// Deepest multipart nesting followed inside one message (message/rfc822 levels count
/// separately against MAX_EMBED_DEPTH). Deeper parts are kept as opaque attachments.
inline constexpr int MAX_PART_DEPTH = 64;
/// Most MIME entities read from one message (embedded messages included).
inline constexpr i64 MAX_PARTS = 10000;
/// Most header fields kept from one header block; the rest are dropped with a warning.
inline constexpr std::size_t MAX_HEADER_FIELDS = 10000;

/// Text in MIME charset `charset` as UTF-8 (invalid sequences become U+FFFD); nullopt when
/// iconv does not know the charset.
std::optional<std::string> charset_to_utf8(std::string_view bytes, std::string_view charset);

/// Decodes RFC 2047 encoded-words in an unstructured header value; raw 8-bit text that is not
/// UTF-8 is read in `raw_charset` (the message's own charset when the caller knows it), else
/// windows-1252.
std::string decode_rfc2047(std::string_view value, std::string_view raw_charset = {});

/// Attaches the attachments and bodies of a TNEF stream (winmail.dat) to `msg`. Returns false,
/// changing nothing, when the stream cannot be decoded (the caller keeps it as a file).
bool expand_tnef(std::string_view tnef, model::Message &msg, std::vector<Problem> &warnings);

}  // namespace mm::mime::detail
