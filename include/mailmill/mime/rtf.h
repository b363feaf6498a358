#pragma once
/// Compressed RTF ([MS-OXRTFCP]) and RTF de-encapsulation ([MS-OXRTFEX]). Pure, thread-safe.
#include <optional>
#include <string>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::mime::rtf {

/// COMPTYPE values of the [MS-OXRTFCP] header (little-endian "LZFu" and "MELA").
inline constexpr u32 COMPTYPE_COMPRESSED = 0x75465A4C;
inline constexpr u32 COMPTYPE_UNCOMPRESSED = 0x414C454D;

/// Everything decompress_checked learned about one PR_RTF_COMPRESSED value.
struct Decompressed {
  Bytes rtf;                 ///< the decompressed bytes (possibly partial, see `complete`)
  bool compressed = false;   ///< COMPTYPE was LZFu (false: MELA, stored uncompressed)
  bool crc_ok = true;        ///< the header CRC matched the contents (always true for MELA)
  bool complete = false;     ///< end marker reached, or all RAWSIZE bytes produced
  bool sizes_match = true;   ///< COMPSIZE/RAWSIZE agree with the buffer and the output
  bool limit_hit = false;    ///< output stopped at limits::MAX_RTF_DECOMPRESSED
};

/// Decompresses with full diagnostics. Returns a Problem (BodyUndecodable) only when the value
/// cannot be interpreted at all (shorter than the 16-byte header, unknown COMPTYPE); truncated
/// or oversized streams give the bytes decoded so far with `complete == false`. Never reads
/// outside `compressed`; output bounded by RAWSIZE + a small slack and MAX_RTF_DECOMPRESSED.
Result<Decompressed> decompress_checked(ByteView compressed);

/// Decompresses PR_RTF_COMPRESSED bytes ("LZFu" compressed or "MELA" uncompressed). Lenient
/// about a wrong CRC and about writers that put the wrong RAWSIZE into MELA headers (seen in
/// aspnet__passwordprotectedPST.pst, which libpff rejects); a Problem when the stream is
/// truncated/corrupt (BodyUndecodable) or hits limits::MAX_RTF_DECOMPRESSED (LimitExceeded).
Result<Bytes> decompress(ByteView compressed);

/// The [MS-OXRTFCP] 2.1.3.2 CRC-32 (table polynomial 0xEDB88320, initial value 0, no final
/// inversion) of the CONTENTS field, i.e. the bytes after the 16-byte header.
u32 compressed_crc(ByteView contents);

/// LZFu-compresses `rtf` into a PR_RTF_COMPRESSED value ([MS-OXRTFCP] 2.1.3.1, header with
/// COMPSIZE, RAWSIZE and CRC) that decompress() turns back into exactly `rtf`. Greedy matching,
/// not Outlook's byte stream. Pure, thread-safe; `rtf` must be under 4 GiB.
Bytes compress(ByteView rtf);

/// `rtf` in the uncompressed ("MELA") form of PR_RTF_COMPRESSED ([MS-OXRTFCP] 2.1.3.1.1,
/// CRC 0). Pure, thread-safe; `rtf` must be under 4 GiB.
Bytes wrap_uncompressed(ByteView rtf);

enum class Encapsulated : u8 { None, Html, Text };

/// What an RTF document encapsulates (\fromhtml1 or \fromtext in the header). None for
/// anything that is not RTF. Never fails.
Encapsulated detect(ByteView rtf);

struct Extracted {
  Encapsulated kind = Encapsulated::None;
  Bytes content;      ///< the HTML or text, in the codepage named by `codepage`
  u32 codepage = 1252;  ///< from \ansicpgN (or \fbidis / font charset), default 1252
};

/// De-encapsulates HTML or plain text per [MS-OXRTFEX]; nullopt when the RTF encapsulates
/// nothing (a native RTF document).
/// Html: the bytes are in the document codepage (\ansicpgN, default 1252), `codepage` says
/// which; \uN characters not representable there become "&#N;" references, text in fonts with
/// a different \fcharset is transcoded; {\*\mhtmltag} (rewritten cid: URLs) replaces the
/// {\*\htmltag} with the same parameter next to it.
/// Text: always UTF-8 and `codepage` is 65001 (every \uN survives that way). Line breaks are
/// CRLF (\par, \line).
std::optional<Extracted> deencapsulate(ByteView rtf);

/// Best-effort plain text of a native RTF document (paragraphs, tabs, \uN, \'hh in the
/// document codepage), UTF-8 with CRLF line ends (like PR_BODY). For RTF-only bodies when no
/// PR_BODY exists. Skips header tables, pictures, objects and \* destinations. Never fails.
std::string to_plain_text(ByteView rtf);

}  // namespace mm::mime::rtf
