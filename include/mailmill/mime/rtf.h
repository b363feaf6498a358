#pragma once
/// Compressed RTF ([MS-OXRTFCP]) and RTF de-encapsulation ([MS-OXRTFEX]). Pure, thread-safe.
#include <optional>
#include <string>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::mime::rtf {

/// Decompresses PR_RTF_COMPRESSED bytes ("LZFu" compressed or "MELA" uncompressed). Checks the
/// CRC and the declared sizes; output capped at limits::MAX_RTF_DECOMPRESSED.
Result<Bytes> decompress(ByteView compressed);

enum class Encapsulated : u8 { None, Html, Text };

/// What an RTF document encapsulates (\fromhtml1 or \fromtext in the header).
Encapsulated detect(ByteView rtf);

struct Extracted {
  Encapsulated kind = Encapsulated::None;
  Bytes content;      ///< the HTML or text, in the codepage named by `codepage`
  u32 codepage = 1252;  ///< from \ansicpgN (or \fbidis / font charset), default 1252
};

/// De-encapsulates HTML or plain text per [MS-OXRTFEX]; nullopt when the RTF encapsulates
/// nothing (a native RTF document).
std::optional<Extracted> deencapsulate(ByteView rtf);

/// Best-effort plain text of a native RTF document (paragraphs, tabs, \uN, \'hh in the
/// document codepage), UTF-8. For RTF-only bodies when no PR_BODY exists.
std::string to_plain_text(ByteView rtf);

}  // namespace mm::mime::rtf
