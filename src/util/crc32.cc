#include "mailmill/util/crc32.h"

#include <zlib.h>

namespace mm::util {

// zlib's crc32(c, buf) is the same table-driven update U (per byte:
// c = T[(c ^ b) & 0xFF] ^ (c >> 8), T from the reflected polynomial 0xEDB88320) wrapped in
// inversions: crc32(c, buf) = ~U(~c, buf). Substituting c = ~s gives U(s, buf) =
// ~crc32(~s, buf), which is what [MS-PST] and [MS-OXRTFCP] call their CRC. zlib returns 0 for a
// null buffer whatever the start value, so empty input returns `crc` before calling it.
u32 crc32_raw(u32 crc, ByteView data) {
  if (data.empty()) return crc;
  const uLong z = crc32_z(~crc & 0xFFFFFFFFu, reinterpret_cast<const Bytef *>(data.data()),
                          static_cast<z_size_t>(data.size()));
  return ~static_cast<u32>(z);
}

}  // namespace mm::util
