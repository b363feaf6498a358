// Record decoding: the data definition layout of the ESE format notes. A record is
//   u8 last fixed column id, u8 last variable column id, u16 offset of the variable part,
//   fixed columns in id order, a null bitmap (one bit per fixed column, set = NULL),
//   u16 end offsets of the variable columns (0x8000 = NULL), their data,
//   the tagged part: (u16 column id, u16 offset) pairs, then their data.
// Tagged values carry a flag byte (always on large pages; when bit 0x4000 of the offset is set
// on 4/8 KiB pages) saying whether the value is compressed, separated (a long-value id) or
// multi-valued.
#include <cstring>

#include "ese_impl.h"
#include "mailmill/format/ese/compression.h"
#include "mailmill/util/text.h"

namespace mm::ese {

namespace {

inline constexpr u8 TV_COMPRESSED = 0x02;
inline constexpr u8 TV_SEPARATED = 0x04;
inline constexpr u8 TV_MULTI = 0x08;
inline constexpr u8 TV_TWO_VALUES = 0x10;

u32 type_size(ColumnType t) {
  switch (t) {
    case ColumnType::Bit:
    case ColumnType::UnsignedByte: return 1;
    case ColumnType::Short:
    case ColumnType::UnsignedShort: return 2;
    case ColumnType::Long:
    case ColumnType::UnsignedLong:
    case ColumnType::IEEESingle: return 4;
    case ColumnType::Currency:
    case ColumnType::IEEEDouble:
    case ColumnType::DateTime:
    case ColumnType::LongLong: return 8;
    case ColumnType::GUID: return 16;
    default: return 0;
  }
}

u32 fixed_size(const Column &c) {
  const u32 t = type_size(c.type);
  return c.space != 0 ? c.space : t;
}

Value error_value(const Column &col, std::string why) {
  Value v;
  v.type = col.type;
  v.codepage = col.codepage;
  v.state = Value::State::Error;
  v.error = std::move(why);
  return v;
}

Value absent(const Column &col) {
  Value v;
  v.type = col.type;
  v.codepage = col.codepage;
  if (!col.default_value.empty()) {
    v.state = Value::State::Ok;
    v.items.push_back(ValueBytes::own(col.default_value));
  }
  return v;
}

Value single(const Column &col, ByteView data) {
  Value v;
  v.type = col.type;
  v.codepage = col.codepage;
  v.state = Value::State::Ok;
  v.items.push_back(ValueBytes::view(data));
  return v;
}

/// One stored item of a tagged value: resolves a separated long value and decompresses.
Status resolve(const DatabaseImpl &db, const TableDef &def, ByteView raw, bool separated,
               bool compressed, ValueBytes &out) {
  ByteView data = raw;
  if (separated) {
    if (raw.size() != 4 && raw.size() != 8)
      return corrupt("long-value id of " + std::to_string(raw.size()) + " bytes");
    auto r = db.long_value(def.lv_page, raw, compressed);
    if (!r) return r.problem();
    out = ValueBytes::own(std::move(*r));
    return {};
  }
  if (compressed) {
    Bytes plain;
    Status s = decompress_value(data, plain);
    if (!s) return s;
    out = ValueBytes::own(std::move(plain));
  } else {
    out = ValueBytes::view(data);
  }
  return {};
}

Value decode_tagged(const DatabaseImpl &db, const TableDef &def, const Column &col, ByteView v,
                    u8 flags) {
  Value out;
  out.type = col.type;
  out.codepage = col.codepage;
  out.state = Value::State::Ok;
  const bool compressed = (flags & TV_COMPRESSED) != 0;
  auto fail = [&](const Problem &p) { return error_value(col, p.detail); };
  if (flags & TV_TWO_VALUES) {
    out.multi = true;
    if (v.empty()) return error_value(col, "two-value item without its size byte");
    const u64 n1 = static_cast<u8>(v[0]);
    if (n1 > v.size() - 1) return error_value(col, "two-value first item past the value");
    ValueBytes a, b;
    Status s = resolve(db, def, v.substr(1, n1), false, compressed, a);
    if (!s) return fail(s.problem());
    s = resolve(db, def, v.substr(1 + n1), false, false, b);
    if (!s) return fail(s.problem());
    out.items.push_back(std::move(a));
    out.items.push_back(std::move(b));
    return out;
  }
  if (flags & TV_MULTI) {
    out.multi = true;
    if (v.size() < 2) return error_value(col, "multi-value shorter than its offset array");
    const u64 first = load_le16(v.data()) & 0x7fff;
    if (first < 2 || first % 2 != 0 || first > v.size())
      return error_value(col, "multi-value offset array is damaged");
    const u64 count = first / 2;
    for (u64 i = 0; i < count; ++i) {
      const u16 w = load_le16(v.data() + 2 * i);
      const u64 start = w & 0x7fff;
      const u64 end = i + 1 < count ? (load_le16(v.data() + 2 * (i + 1)) & 0x7fff) : v.size();
      if (start < first || end < start || end > v.size())
        return error_value(col, "multi-value item " + std::to_string(i) + " out of bounds");
      ValueBytes item;
      // Only the first item of a compressed multi-value is compressed (seen in the corpus:
      // dissect__multi.edb LongCompressed* columns).
      Status s = resolve(db, def, v.substr(start, end - start), (w & 0x8000) != 0,
                         compressed && i == 0, item);
      if (!s) return fail(s.problem());
      out.items.push_back(std::move(item));
    }
    return out;
  }
  ValueBytes item;
  Status s = resolve(db, def, v, (flags & TV_SEPARATED) != 0, compressed, item);
  if (!s) return fail(s.problem());
  out.items.push_back(std::move(item));
  return out;
}

}  // namespace

Value decode_value(const DatabaseImpl &db, const TableDef &def, ByteView rec, const Column &col) {
  if (rec.size() < 4) return error_value(col, "record shorter than its 4-byte header");
  const u32 last_fixed = static_cast<u8>(rec[0]);
  const u32 last_var = static_cast<u8>(rec[1]);
  const u64 var_off = load_le16(rec.data() + 2);
  if (var_off < 4 || var_off > rec.size()) return error_value(col, "variable-data offset out of bounds");

  if (col.fixed()) {
    // Fixed column ids start at 1; a catalog entry with id 0 (damage) has no place in a record.
    if (col.id == 0) return error_value(col, "column id 0 in the catalog");
    if (col.id > last_fixed) return absent(col);
    // Offsets come from the sizes of the fixed columns before it; the null bitmap follows the
    // last fixed column present in the record.
    u64 off = 4, bitmap = 4, size = 0;
    for (u32 id = 1; id <= last_fixed; ++id) {
      const Column *c = def.column_by_id(id);
      if (c == nullptr) return error_value(col, "fixed column " + std::to_string(id) + " not in the catalog");
      const u32 sz = fixed_size(*c);
      if (id < col.id) off += sz;
      if (id == col.id) size = sz;
      bitmap += sz;
    }
    const u64 bitmap_bytes = (last_fixed + 7) / 8;
    if (bitmap + bitmap_bytes > var_off) return error_value(col, "fixed data overlaps the variable part");
    const u8 bits = static_cast<u8>(rec[bitmap + (col.id - 1) / 8]);
    if (bits & (1u << ((col.id - 1) % 8))) {
      Value v;
      v.type = col.type;
      v.codepage = col.codepage;
      return v;
    }
    return single(col, rec.substr(off, size));
  }

  const u64 n_var = last_var >= 128 ? last_var - 127 : 0;
  const u64 var_data = var_off + 2 * n_var;
  if (var_data > rec.size()) return error_value(col, "variable offset array past the record");
  if (col.variable()) {
    if (col.id > last_var) return absent(col);
    const u64 idx = col.id - 128;
    const u16 w = load_le16(rec.data() + var_off + 2 * idx);
    if (w & 0x8000) {
      Value v;
      v.type = col.type;
      v.codepage = col.codepage;
      return v;
    }
    const u64 end = w & 0x7fff;
    const u64 start = idx == 0 ? 0 : (load_le16(rec.data() + var_off + 2 * (idx - 1)) & 0x7fff);
    if (start > end || var_data + end > rec.size())
      return error_value(col, "variable column out of bounds");
    return single(col, rec.substr(var_data + start, end - start));
  }

  // Tagged columns.
  const u64 tagged =
      var_data + (n_var > 0 ? (load_le16(rec.data() + var_off + 2 * (n_var - 1)) & 0x7fff) : 0);
  if (tagged > rec.size()) return error_value(col, "tagged part past the record");
  const u64 tsize = rec.size() - tagged;
  if (tsize == 0) return absent(col);
  if (tsize < 4) return error_value(col, "tagged part shorter than one entry");
  const char *t = rec.data() + tagged;
  const bool large = db.header.large_pages();
  const u32 mask = large ? 0x7fff : 0x1fff;
  const u64 first = load_le16(t + 2) & mask;
  if (first < 4 || first % 4 != 0 || first > tsize)
    return error_value(col, "invalid tagged data type offset");
  const u64 count = first / 4;
  for (u64 i = 0; i < count; ++i) {
    const u32 id = load_le16(t + 4 * i);
    if (id != col.id) continue;
    const u16 w = load_le16(t + 4 * i + 2);
    const u64 start = w & mask;
    const u64 end = i + 1 < count ? (load_le16(t + 4 * (i + 1) + 2) & mask) : tsize;
    if (start < first || end < start || end > tsize)
      return error_value(col, "tagged value out of bounds");
    ByteView v(t + start, end - start);
    if (!large && (w & 0x2000)) {
      Value nv;
      nv.type = col.type;
      nv.codepage = col.codepage;
      return nv;
    }
    u8 flags = 0;
    if (large || (w & 0x4000)) {
      if (v.empty()) {
        Value nv;
        nv.type = col.type;
        nv.codepage = col.codepage;
        return nv;
      }
      flags = static_cast<u8>(v[0]);
      v.remove_prefix(1);
    }
    return decode_tagged(db, def, col, v, flags);
  }
  return absent(col);
}

// --- typed accessors -------------------------------------------------------------------------

std::optional<i64> Value::as_int(std::size_t i) const {
  if (state != State::Ok || i >= items.size()) return std::nullopt;
  ByteView b = items[i].data();
  switch (type) {
    case ColumnType::Bit:
      if (b.size() != 1) return std::nullopt;
      return static_cast<u8>(b[0]) != 0 ? 1 : 0;
    case ColumnType::UnsignedByte:
      if (b.size() != 1) return std::nullopt;
      return static_cast<u8>(b[0]);
    case ColumnType::Short:
      if (b.size() != 2) return std::nullopt;
      return static_cast<std::int16_t>(load_le16(b.data()));
    case ColumnType::UnsignedShort:
      if (b.size() != 2) return std::nullopt;
      return load_le16(b.data());
    case ColumnType::Long:
      if (b.size() != 4) return std::nullopt;
      return static_cast<std::int32_t>(load_le32(b.data()));
    case ColumnType::UnsignedLong:
      if (b.size() != 4) return std::nullopt;
      return load_le32(b.data());
    case ColumnType::Currency:
    case ColumnType::LongLong:
    case ColumnType::DateTime:
      if (b.size() != 8) return std::nullopt;
      return static_cast<i64>(load_le64(b.data()));
    default: return std::nullopt;
  }
}

std::optional<u64> Value::as_uint(std::size_t i) const {
  auto v = as_int(i);
  if (!v) return std::nullopt;
  return static_cast<u64>(*v);
}

std::optional<double> Value::as_double(std::size_t i) const {
  if (state != State::Ok || i >= items.size()) return std::nullopt;
  ByteView b = items[i].data();
  if (type == ColumnType::IEEESingle && b.size() == 4) {
    const u32 w = load_le32(b.data());
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  }
  if ((type == ColumnType::IEEEDouble || type == ColumnType::DateTime) && b.size() == 8) {
    const u64 w = load_le64(b.data());
    double d;
    std::memcpy(&d, &w, 8);
    return d;
  }
  return std::nullopt;
}

std::optional<std::string> Value::as_text(std::size_t i) const {
  if (state != State::Ok || i >= items.size()) return std::nullopt;
  if (type != ColumnType::Text && type != ColumnType::LongText) return std::nullopt;
  ByteView b = items[i].data();
  if (codepage == 1200) return text::utf16le_to_utf8(b);
  if (codepage == 65001) return text::sanitize_utf8(b);
  if (text::is_ascii(b)) return std::string(b);
  auto s = text::codepage_to_utf8(b, codepage == 0 ? 1252 : codepage);
  if (s) return s;
  return text::codepage_to_utf8(b, 1252);
}

}  // namespace mm::ese
