#pragma once
/// CRC-32 without pre- and post-inversion: reflected polynomial 0xEDB88320, the caller's value
/// as the start, no final XOR. This is the CRC of [MS-PST] 5.3 (header, page and block CRCs,
/// seed 0) and of [MS-OXRTFCP] 2.1.3.2 (compressed RTF, initial value 0). Computed by zlib.
#include "mailmill/util/types.h"

namespace mm::util {

/// The CRC of `data` continuing from `crc` (0 to start): crc32_raw(crc32_raw(0, a), b) ==
/// crc32_raw(0, a + b). Pure, thread-safe, never fails; returns `crc` for empty data.
u32 crc32_raw(u32 crc, ByteView data);

}  // namespace mm::util
