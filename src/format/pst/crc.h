#pragma once
/// The [MS-PST] CRC-32 (section 5.3): reflected polynomial 0xEDB88320, caller-supplied seed,
/// no pre- or post-inversion. Used for header dwCRCPartial/dwCRCFull, page and block trailers.
#include "mailmill/util/crc32.h"
#include "mailmill/util/types.h"

namespace mm::pst {

/// CRC of `data` continuing from `seed` (pass 0 to start). Pure, thread-safe, never fails.
/// util::crc32_raw under the name the format code uses.
inline u32 pst_crc(u32 seed, ByteView data) { return util::crc32_raw(seed, data); }

}  // namespace mm::pst
