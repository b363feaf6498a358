#pragma once
// The PropertyBlob ("ProP") *encoder* of the EDB generator, written from docs/exchange-edb.md
// independently of the reader's decoder (src/format/exchange/property_blob.cc), so that the
// reader's tests are not circular. Picks the most compact encoding of each value, as the sheet
// says Exchange does (0-byte zero forms, 1/2/4-byte integers, u8/u16 lengths).
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::gen::edb {

/// Type codes of the property list (docs/exchange-edb.md).
enum : u8 {
  T_BOOL = 0x08,
  T_SHORT = 0x10,
  T_LONG = 0x18,
  T_I8 = 0x20,
  T_FLOAT = 0x28,
  T_DOUBLE = 0x30,
  T_SYSTIME = 0x38,
  T_CLSID = 0x40,
  T_UNICODE = 0x48,
  T_BINARY = 0x50,
  T_MV = 0x80,
};

/// Builds one blob. Single-threaded value type.
class BlobWriter {
 public:
  void add_bool(u16 id, bool v);
  void add_short(u16 id, i64 v);
  void add_long(u16 id, i64 v);
  void add_i8(u16 id, i64 v);
  void add_systime(u16 id, u64 filetime);
  void add_double(u16 id, double v);
  void add_float(u16 id, float v);
  void add_clsid(u16 id, ByteView guid16);
  /// Unicode (UTF-8 bytes, < 64 KiB).
  void add_text(u16 id, std::string_view utf8);
  void add_binary(u16 id, ByteView data);
  void add_mv_long(u16 id, const std::vector<i32> &v);
  void add_mv_text(u16 id, const std::vector<std::string> &v);
  void add_mv_binary(u16 id, const std::vector<Bytes> &v);
  /// A NEAR reference to SeparatedProperty<slot> holding `length` bytes of a value whose own
  /// encoding would be `encoding` (0x4e for text, 0x52 for binary).
  void add_near(u16 id, u8 type_code, u16 slot, u8 encoding, u32 length);
  void add_tombstone(u16 id, u8 type_code);
  /// The blob; flags 0x0401 (with the extra u32) when `extra` is set.
  Bytes finish(bool extra = false, u32 extra_value = 0) const;
  bool empty() const { return heads_.empty(); }

 private:
  void head(u8 type, u16 id);
  std::vector<std::pair<u8, u16>> heads_;
  Bytes values_;
};

}  // namespace mm::gen::edb
