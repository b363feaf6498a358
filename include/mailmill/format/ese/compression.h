#pragma once
/// Decompression of ESE column values (the schemes JET_bitColumnCompressed selects): 7-bit ASCII,
/// 7-bit Unicode, XPRESS ([MS-XCA] 2.3/2.4 "Plain LZ77") and the LZ4 block format. Pure
/// functions over caller-owned buffers, thread-safe, never throwing: damage is a Problem.
#include <string>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::ese {

/// The scheme named by the first byte of a compressed value (byte >> 3).
enum class CompressionScheme : u8 {
  None = 0,
  SevenBitAscii = 1,
  SevenBitUnicode = 2,
  Xpress = 3,
  Scrub = 4,
  Xpress9 = 5,
  Xpress10 = 6,
  Lz4 = 7,
};

/// Printable name of scheme number `scheme` ("7-bit ASCII", "XPRESS", "scheme 12").
std::string compression_scheme_name(u32 scheme);

/// Values that decompress to more than this are refused (LimitExceeded): one column value.
inline constexpr u64 MAX_DECOMPRESSED_BYTES = u64{1} << 28;

/// Decompresses one compressed column value (header byte included) into `out` (cleared first;
/// its capacity is reused). SourceCorrupt for damaged data; ItemUnsupportedType with detail
/// "compression scheme N not supported" for a scheme not implemented (XPRESS9, XPRESS10,
/// unknown); nothing is ever half-decoded into a success.
Status decompress_value(ByteView data, Bytes &out);

/// [MS-XCA] Plain LZ77 decoding of `in`, which must produce exactly `expected` bytes, appended
/// to `out`. SourceCorrupt on a match before the start, truncation or a size mismatch.
Status xpress_plain_lz77(ByteView in, u64 expected, Bytes &out);

/// LZ4 block-format decoding of `in` into exactly `expected` bytes appended to `out`.
Status lz4_block(ByteView in, u64 expected, Bytes &out);

}  // namespace mm::ese
