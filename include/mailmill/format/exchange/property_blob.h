#pragma once
/// The Exchange 2013+ "ProP" PropertyBlob encoding (docs/exchange-edb.md, "PropertyBlob
/// encoding"): decoding into MAPI properties in the PropertyBag value form. Pure functions,
/// thread-safe; every read is bounds-checked and damage is a Problem, never a crash.
#include <string>
#include <vector>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::exchange {

/// One property of a blob.
struct BlobProperty {
  enum class Kind : u8 {
    Value,      ///< `value` holds the bytes (PropertyBag form: UTF-16LE text, LE integers...)
    Near,       ///< stored off the blob in the row's SeparatedProperty<slot> column
    Far,        ///< stored off the blob elsewhere (not read)
    Tombstone,  ///< deleted property
  };
  u32 tag = 0;  ///< MAPI tag: id << 16 | PT_* type
  Kind kind = Kind::Value;
  Bytes value;
  // Near / Far references:
  u16 slot = 0;
  u32 hint = 0;
  u16 encoding = 0;  ///< encoding code of the real value
  u32 length = 0;    ///< its length in bytes
};

struct DecodedBlob {
  u16 flags = 0;  ///< 0x0400 or 0x0401
  u32 extra = 0;  ///< the u32 that follows the count when flags == 0x0401
  std::vector<BlobProperty> props;
};

/// The MAPI property type (PT_*) of a blob type code, or 0 when the code is unknown.
u16 blob_type_to_mapi(u8 code);

/// Decodes a whole PropertyBlob. SourceCorrupt naming the offset for a bad signature, an
/// unknown type or encoding code, a value of the wrong family for its type, or a truncation.
Result<DecodedBlob> decode_property_blob(ByteView blob);

/// Converts an off-page (Near) value's raw bytes, read from its SeparatedProperty column, into
/// the PropertyBag form of `tag`'s type (UTF-8 text to UTF-16LE; binary as is). SourceCorrupt
/// when the type has no off-page form.
Result<Bytes> decode_separated_value(u32 tag, ByteView raw);

}  // namespace mm::exchange
