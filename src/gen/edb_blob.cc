// PropertyBlob encoder of the EDB generator (see edb_blob.h; layout in docs/exchange-edb.md).
#include "edb_blob.h"

#include <cstring>
#include <stdexcept>

namespace mm::gen::edb {

namespace {

void put(Bytes &out, u64 v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// Smallest signed width (0, 1, 2, 4, 8) that holds v; 0 only for v == 0.
int width_of(i64 v) {
  if (v == 0) return 0;
  if (v >= -128 && v <= 127) return 1;
  if (v >= -32768 && v <= 32767) return 2;
  if (v >= INT32_MIN && v <= INT32_MAX) return 4;
  return 8;
}

// Length-prefixed element: `base` (empty), base+5 (u8 length), base+6 (u16 length) for text
// (0x48 -> 0x4d/0x4e); binary uses base+1 / base+2 (0x50 -> 0x51/0x52).
void var(Bytes &out, u8 empty, u8 one, u8 two, ByteView data) {
  if (data.empty()) {
    out.push_back(static_cast<char>(empty));
  } else if (data.size() <= 0xff) {
    out.push_back(static_cast<char>(one));
    put(out, data.size(), 1);
    out += data;
  } else if (data.size() <= 0xffff) {
    out.push_back(static_cast<char>(two));
    put(out, data.size(), 2);
    out += data;
  } else {
    throw std::invalid_argument("PropertyBlob value over 64 KiB: use a NEAR reference");
  }
}

}  // namespace

void BlobWriter::head(u8 type, u16 id) { heads_.push_back({type, id}); }

void BlobWriter::add_bool(u16 id, bool v) {
  head(T_BOOL, id);
  values_.push_back(static_cast<char>(v ? 0x09 : 0x08));
}

void BlobWriter::add_short(u16 id, i64 v) {
  head(T_SHORT, id);
  const int w = width_of(v);
  values_.push_back(static_cast<char>(w == 0 ? 0x10 : w == 1 ? 0x11 : 0x12));
  put(values_, static_cast<u64>(v), w > 2 ? 2 : w);
}

void BlobWriter::add_long(u16 id, i64 v) {
  head(T_LONG, id);
  int w = width_of(v);
  if (w > 4) w = 4;
  values_.push_back(static_cast<char>(w == 0 ? 0x18 : w == 1 ? 0x19 : w == 2 ? 0x1a : 0x1b));
  put(values_, static_cast<u64>(v), w);
}

void BlobWriter::add_i8(u16 id, i64 v) {
  head(T_I8, id);
  const int w = width_of(v);
  values_.push_back(static_cast<char>(w == 0   ? 0x20
                                      : w == 1 ? 0x21
                                      : w == 2 ? 0x22
                                      : w == 4 ? 0x23
                                               : 0x24));
  put(values_, static_cast<u64>(v), w);
}

void BlobWriter::add_systime(u16 id, u64 ft) {
  head(T_SYSTIME, id);
  const i64 v = static_cast<i64>(ft);
  if (v >= INT32_MIN && v <= INT32_MAX) {
    values_.push_back(static_cast<char>(0x39));
    put(values_, ft, 4);
  } else {
    values_.push_back(static_cast<char>(0x38));
    put(values_, ft, 8);
  }
}

void BlobWriter::add_double(u16 id, double v) {
  head(T_DOUBLE, id);
  if (v == 0.0) {
    values_.push_back(static_cast<char>(0x32));
    return;
  }
  u64 bits = 0;
  std::memcpy(&bits, &v, 8);
  values_.push_back(static_cast<char>(0x30));
  put(values_, bits, 8);
}

void BlobWriter::add_float(u16 id, float v) {
  head(T_FLOAT, id);
  if (v == 0.0f) {
    values_.push_back(static_cast<char>(0x2a));
    return;
  }
  u32 bits = 0;
  std::memcpy(&bits, &v, 4);
  values_.push_back(static_cast<char>(0x28));
  put(values_, bits, 4);
}

void BlobWriter::add_clsid(u16 id, ByteView g) {
  if (g.size() != 16) throw std::invalid_argument("CLSID must be 16 bytes");
  head(T_CLSID, id);
  values_.push_back(static_cast<char>(0x40));
  values_ += g;
}

void BlobWriter::add_text(u16 id, std::string_view utf8) {
  head(T_UNICODE, id);
  var(values_, 0x48, 0x4d, 0x4e, utf8);
}

void BlobWriter::add_binary(u16 id, ByteView data) {
  head(T_BINARY, id);
  var(values_, 0x50, 0x51, 0x52, data);
}

void BlobWriter::add_mv_long(u16 id, const std::vector<i32> &v) {
  head(T_MV | T_LONG, id);
  const bool small = v.size() <= 0xff;
  values_.push_back(static_cast<char>(small ? 0x99 : 0x9a));
  put(values_, v.size(), small ? 1 : 2);
  for (i32 x : v) put(values_, static_cast<u32>(x), 4);
}

void BlobWriter::add_mv_text(u16 id, const std::vector<std::string> &v) {
  head(T_MV | T_UNICODE, id);
  const bool small = v.size() <= 0xff;
  values_.push_back(static_cast<char>(small ? 0xc9 : 0xca));
  put(values_, v.size(), small ? 1 : 2);
  for (const std::string &s : v) var(values_, 0x48, 0x4d, 0x4e, s);
}

void BlobWriter::add_mv_binary(u16 id, const std::vector<Bytes> &v) {
  head(T_MV | T_BINARY, id);
  const bool small = v.size() <= 0xff;
  values_.push_back(static_cast<char>(small ? 0xd1 : 0xd2));
  put(values_, v.size(), small ? 1 : 2);
  for (const Bytes &s : v) var(values_, 0x50, 0x51, 0x52, s);
}

void BlobWriter::add_near(u16 id, u8 type_code, u16 slot, u8 encoding, u32 length) {
  head(type_code, id);
  values_.push_back(static_cast<char>(0x78));
  put(values_, slot, 2);
  put(values_, 0, 4);  // allocation hint: meaning unknown, zero
  put(values_, encoding, 2);
  put(values_, length, 4);
}

void BlobWriter::add_tombstone(u16 id, u8 type_code) {
  head(type_code, id);
  values_.push_back('\0');
}

Bytes BlobWriter::finish(bool extra, u32 extra_value) const {
  Bytes out = "ProP";
  put(out, extra ? 0x0401 : 0x0400, 2);
  put(out, heads_.size(), 2);
  if (extra) put(out, extra_value, 4);
  for (const auto &[type, id] : heads_) {
    out.push_back(static_cast<char>(type));
    put(out, id, 2);
  }
  return out + values_;
}

}  // namespace mm::gen::edb
