// The "ProP" PropertyBlob decoder, written from docs/exchange-edb.md (which cites gromox's
// edb_pack.cpp as the source of the encoding; no code of it is used here). The encoder the
// generator uses (src/gen/edb_blob.cc) was written separately from the same sheet.
#include "mailmill/format/exchange/property_blob.h"

#include <cstring>

#include "mailmill/mapi/property.h"
#include "mailmill/util/text.h"

namespace mm::exchange {

namespace {

using mapi::PropType;

// A cursor over the blob: every read checks the remaining length first.
struct Reader {
  ByteView b;
  u64 pos = 0;
  bool need(u64 n) const { return n <= b.size() - pos; }
  bool u8_(u8 &v) {
    if (!need(1)) return false;
    v = static_cast<u8>(b[pos++]);
    return true;
  }
  bool uint_(u64 &v, int n) {
    if (!need(static_cast<u64>(n))) return false;
    v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<u64>(static_cast<u8>(b[pos + i])) << (8 * i);
    pos += static_cast<u64>(n);
    return true;
  }
  bool bytes(ByteView &v, u64 n) {
    if (!need(n)) return false;
    v = b.substr(pos, n);
    pos += n;
    return true;
  }
};

Problem corrupt(const std::string &what, u64 at) {
  return Problem{ProblemCode::SourceCorrupt,
                 "PropertyBlob: " + what + " at offset " + std::to_string(at),
                 static_cast<i64>(at)};
}

i64 sign_extend(u64 v, int bytes) {
  if (bytes >= 8) return static_cast<i64>(v);
  const u64 sign = u64{1} << (8 * bytes - 1);
  return static_cast<i64>((v ^ sign) - sign);
}

Bytes le(u64 v, int n) {
  Bytes out(static_cast<u64>(n), '\0');
  for (int i = 0; i < n; ++i) out[static_cast<u64>(i)] = static_cast<char>(v >> (8 * i));
  return out;
}

// Natural size of a fixed MAPI type (0 for variable types).
int fixed_size(u16 pt) {
  switch (pt) {
    case mapi::PT_SHORT:
      return 2;
    case mapi::PT_LONG:
    case mapi::PT_FLOAT:
      return 4;
    case mapi::PT_BOOLEAN:
      return 1;
    case mapi::PT_I8:
    case mapi::PT_CURRENCY:
    case mapi::PT_DOUBLE:
    case mapi::PT_APPTIME:
    case mapi::PT_SYSTIME:
      return 8;
    case mapi::PT_CLSID:
      return 16;
    default:
      return 0;
  }
}

bool is_integer_type(u16 pt) {
  return pt == mapi::PT_SHORT || pt == mapi::PT_LONG || pt == mapi::PT_I8 ||
         pt == mapi::PT_CURRENCY || pt == mapi::PT_SYSTIME || pt == mapi::PT_BOOLEAN;
}

// Variable-length element of a text or binary value: code 0x48/0x4d/0x4e (text) or
// 0x50/0x51/0x52 (binary) and its bytes.
bool var_element(Reader &r, u8 code, u8 base, ByteView &out) {
  u64 n = 0;
  if (code == base) {
    out = {};
    return true;
  }
  const int width = code == (base == 0x48 ? 0x4d : 0x51)   ? 1
                    : code == (base == 0x48 ? 0x4e : 0x52) ? 2
                                                           : 0;
  if (width == 0) return false;
  if (!r.uint_(n, width)) return false;
  return r.bytes(out, n);
}

Bytes text_value(ByteView utf8) { return text::utf8_to_utf16le(utf8); }

// Decodes one value of declared MAPI type `pt` starting at its encoding code.
Result<BlobProperty> decode_value(Reader &r, u32 tag) {
  BlobProperty p;
  p.tag = tag;
  const u16 pt = mapi::tag_type(tag);
  const u64 at = r.pos;
  u8 code = 0;
  if (!r.u8_(code)) return corrupt("truncated value code", at);
  auto truncated = [&] {
    return corrupt("truncated value (code " + text::hex_u64(code) + ")", at);
  };
  auto mismatch = [&] {
    return corrupt("encoding " + text::hex_u64(code) + " does not fit type " + text::hex_u64(pt),
                   at);
  };
  if (code == 0x00) {
    p.kind = BlobProperty::Kind::Tombstone;
    return p;
  }
  if (code == 0x78 || code == 0x7a) {
    p.kind = code == 0x78 ? BlobProperty::Kind::Near : BlobProperty::Kind::Far;
    u64 slot = 0, hint = 0, enc = 0, len = 0;
    if (!r.uint_(slot, 2) || !r.uint_(hint, 4) || !r.uint_(enc, 2) || !r.uint_(len, 4))
      return truncated();
    p.slot = static_cast<u16>(slot);
    p.hint = static_cast<u32>(hint);
    p.encoding = static_cast<u16>(enc);
    p.length = static_cast<u32>(len);
    return p;
  }
  // Scalar integers: 0/1/2/4/8-byte forms of the boolean, short, long, i8 and systime codes.
  int width = -1;
  switch (code) {
    case 0x08:
    case 0x09:
    case 0x10:
    case 0x18:
    case 0x20:
      width = 0;
      break;
    case 0x11:
    case 0x19:
    case 0x21:
      width = 1;
      break;
    case 0x12:
    case 0x1a:
    case 0x22:
      width = 2;
      break;
    case 0x1b:
    case 0x23:
    case 0x39:
      width = 4;
      break;
    case 0x24:
    case 0x38:
      width = 8;
      break;
    default:
      break;
  }
  if (width >= 0) {
    u64 raw = 0;
    if (width > 0 && !r.uint_(raw, width)) return truncated();
    i64 v = width == 0 ? (code == 0x09 ? 1 : 0) : sign_extend(raw, width);
    if (!is_integer_type(pt)) {
      // 0x30-family codes overlap nothing here; a float/double type never takes these forms.
      return mismatch();
    }
    p.value = le(static_cast<u64>(v), fixed_size(pt));
    return p;
  }
  switch (code) {
    case 0x28:
    case 0x2a: {  // float
      if (pt != mapi::PT_FLOAT) return mismatch();
      u64 raw = 0;
      if (code == 0x28 && !r.uint_(raw, 4)) return truncated();
      p.value = le(raw, 4);
      return p;
    }
    case 0x30:
    case 0x32: {  // double / apptime
      if (pt != mapi::PT_DOUBLE && pt != mapi::PT_APPTIME) return mismatch();
      u64 raw = 0;
      if (code == 0x30 && !r.uint_(raw, 8)) return truncated();
      p.value = le(raw, 8);
      return p;
    }
    case 0x40: {
      if (pt != mapi::PT_CLSID) return mismatch();
      ByteView g;
      if (!r.bytes(g, 16)) return truncated();
      p.value = Bytes(g);
      return p;
    }
    case 0x48:
    case 0x4d:
    case 0x4e: {
      if (pt != mapi::PT_UNICODE) return mismatch();
      ByteView s;
      if (!var_element(r, code, 0x48, s)) return truncated();
      p.value = text_value(s);
      return p;
    }
    case 0x50:
    case 0x51:
    case 0x52: {
      if (pt != mapi::PT_BINARY) return mismatch();
      ByteView s;
      if (!var_element(r, code, 0x50, s)) return truncated();
      p.value = Bytes(s);
      return p;
    }
    default:
      break;
  }
  // Multi-values: code 0x80 | family | count width (1: u8 count, 2: u16 count).
  if (code >= 0x91 && code <= 0xd2 && (code & 0x07) >= 1 && (code & 0x07) <= 2) {
    const u8 family = static_cast<u8>(code & 0x78);
    const int cw = code & 0x07;
    u16 want = 0;
    int esize = 0;
    switch (family) {
      case 0x10:
        want = mapi::PT_SHORT;
        esize = 2;
        break;
      case 0x18:
        want = mapi::PT_LONG;
        esize = 4;
        break;
      case 0x20:
        want = mapi::PT_I8;
        esize = 8;
        break;
      case 0x28:
        want = mapi::PT_FLOAT;
        esize = 4;
        break;
      case 0x30:
        want = mapi::PT_DOUBLE;
        esize = 8;
        break;
      case 0x38:
        want = mapi::PT_SYSTIME;
        esize = 8;
        break;
      case 0x40:
        want = mapi::PT_CLSID;
        esize = 16;
        break;
      case 0x48:
        want = mapi::PT_UNICODE;
        break;
      case 0x50:
        want = mapi::PT_BINARY;
        break;
      default:
        return corrupt("unknown value encoding " + text::hex_u64(code), at);
    }
    const u16 base = static_cast<u16>(pt & ~mapi::PT_MV_FLAG);
    const bool fits = (pt & mapi::PT_MV_FLAG) != 0 &&
                      (base == want || (want == mapi::PT_I8 && base == mapi::PT_CURRENCY) ||
                       (want == mapi::PT_DOUBLE && base == mapi::PT_APPTIME));
    if (!fits) return mismatch();
    u64 count = 0;
    if (!r.uint_(count, cw)) return truncated();
    if (esize > 0) {
      ByteView all;
      if (!r.bytes(all, count * static_cast<u64>(esize))) return truncated();
      p.value = Bytes(all);
      return p;
    }
    // Variable elements: u32 count, count x u32 offsets, then the data (PropertyBag form).
    std::vector<Bytes> items;
    for (u64 i = 0; i < count; ++i) {
      u8 ec = 0;
      ByteView s;
      if (!r.u8_(ec) || !var_element(r, ec, static_cast<u8>(family), s)) return truncated();
      items.push_back(family == 0x48 ? text_value(s) : Bytes(s));
    }
    Bytes out = le(count, 4);
    u64 off = 4 + 4 * count;
    for (const Bytes &it : items) {
      out += le(off, 4);
      off += it.size();
    }
    for (const Bytes &it : items) out += it;
    p.value = std::move(out);
    return p;
  }
  return corrupt("unknown value encoding " + text::hex_u64(code), at);
}

}  // namespace

u16 blob_type_to_mapi(u8 code) {
  u16 base = 0;
  switch (code & 0x7f) {
    case 0x08:
      base = mapi::PT_BOOLEAN;
      break;
    case 0x10:
      base = mapi::PT_SHORT;
      break;
    case 0x18:
      base = mapi::PT_LONG;
      break;
    case 0x20:
      base = mapi::PT_I8;
      break;
    case 0x24:
      base = mapi::PT_CURRENCY;
      break;
    case 0x28:
      base = mapi::PT_FLOAT;
      break;
    case 0x30:
      base = mapi::PT_DOUBLE;
      break;
    case 0x34:
      base = mapi::PT_APPTIME;
      break;
    case 0x38:
      base = mapi::PT_SYSTIME;
      break;
    case 0x40:
      base = mapi::PT_CLSID;
      break;
    case 0x48:
      base = mapi::PT_UNICODE;
      break;
    case 0x50:
      base = mapi::PT_BINARY;
      break;
    default:
      return 0;
  }
  if ((code & 0x80) != 0) {
    if (base == mapi::PT_BOOLEAN) return 0;  // no multi-valued boolean in MAPI
    return static_cast<u16>(base | mapi::PT_MV_FLAG);
  }
  return base;
}

Result<DecodedBlob> decode_property_blob(ByteView blob) {
  Reader r{blob};
  DecodedBlob out;
  ByteView sig;
  if (!r.bytes(sig, 4) || sig != "ProP") return corrupt("no \"ProP\" signature", 0);
  u64 flags = 0, count = 0;
  if (!r.uint_(flags, 2) || !r.uint_(count, 2)) return corrupt("truncated header", r.pos);
  out.flags = static_cast<u16>(flags);
  if (flags == 0x0401) {
    u64 extra = 0;
    if (!r.uint_(extra, 4)) return corrupt("truncated header", r.pos);
    out.extra = static_cast<u32>(extra);
  } else if (flags != 0x0400) {
    return corrupt("unknown flags " + text::hex_u64(flags), 4);
  }
  if (!r.need(count * 3)) return corrupt("truncated property list", r.pos);
  std::vector<u32> tags;
  tags.reserve(count);
  for (u64 i = 0; i < count; ++i) {
    u8 code = 0;
    u64 id = 0;
    const u64 at = r.pos;
    r.u8_(code);
    r.uint_(id, 2);
    const u16 pt = blob_type_to_mapi(code);
    if (pt == 0) return corrupt("unknown type code " + text::hex_u64(code), at);
    tags.push_back(mapi::make_tag(static_cast<u16>(id), pt));
  }
  out.props.reserve(count);
  for (u32 tag : tags) {
    Result<BlobProperty> p = decode_value(r, tag);
    if (!p) return p.problem();
    out.props.push_back(std::move(*p));
  }
  return out;
}

Result<Bytes> decode_separated_value(u32 tag, ByteView raw) {
  switch (mapi::tag_type(tag)) {
    case mapi::PT_UNICODE:
      return text_value(raw);
    case mapi::PT_BINARY:
      return Bytes(raw);
    default:
      return Problem{ProblemCode::SourceCorrupt, "off-page value of property type " +
                                                     text::hex_u64(mapi::tag_type(tag)) +
                                                     " is not supported"};
  }
}

}  // namespace mm::exchange
