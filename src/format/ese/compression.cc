// Column value decompression. Formats from public descriptions: the header byte and the 7-bit
// and XPRESS layouts from the ESE format notes (libesedb documentation, "Compression"), the
// Plain LZ77 algorithm from [MS-XCA] 2.4, LZ4 from the LZ4 block format description.
#include "mailmill/format/ese/compression.h"

#include <cstring>

namespace mm::ese {

namespace {

Problem corrupt(std::string detail) {
  return Problem{ProblemCode::SourceCorrupt, std::move(detail), -1};
}

/// Unpacks the 7-bit stream after the header byte: value i is bits [7i, 7i+7) read LSB first.
/// The low 3 bits of the header say how many bits of the last byte are used minus one, which
/// fixes the count of values exactly. `wide` writes each value as a UTF-16LE unit.
Status seven_bit(ByteView data, bool wide, Bytes &out) {
  const u64 payload = data.size() - 1;
  if (payload == 0) return {};
  const u64 used_last = static_cast<u64>(static_cast<u8>(data[0]) & 7) + 1;
  const u64 bits = (payload - 1) * 8 + used_last;
  const u64 count = bits / 7;
  out.reserve(count * (wide ? 2 : 1));
  u32 acc = 0;
  int nacc = 0;
  u64 pos = 1;
  for (u64 i = 0; i < count; ++i) {
    while (nacc < 7) {
      acc |= static_cast<u32>(static_cast<u8>(data[pos++])) << nacc;
      nacc += 8;
    }
    const char c = static_cast<char>(acc & 0x7F);
    acc >>= 7;
    nacc -= 7;
    out.push_back(c);
    if (wide) out.push_back('\0');
  }
  return {};
}

}  // namespace

std::string compression_scheme_name(u32 scheme) {
  switch (scheme) {
    case 0: return "none";
    case 1: return "7-bit ASCII";
    case 2: return "7-bit Unicode";
    case 3: return "XPRESS";
    case 4: return "scrub";
    case 5: return "XPRESS9";
    case 6: return "XPRESS10";
    case 7: return "LZ4";
    default: return "scheme " + std::to_string(scheme);
  }
}

Status xpress_plain_lz77(ByteView in, u64 expected, Bytes &out) {
  const u8 *p = reinterpret_cast<const u8 *>(in.data());
  const u64 n = in.size();
  const u64 base = out.size();
  const u64 limit = base + expected;
  out.reserve(limit);
  u64 ip = 0;
  u32 flags = 0;
  int flag_count = 0;
  u64 half_byte_at = 0;  // 0: none pending (position 0 is always a flag word, never a nibble)
  while (out.size() < limit) {
    if (flag_count == 0) {
      if (ip + 4 > n) return corrupt("XPRESS: truncated flag word");
      flags = load_le32(p + ip);
      ip += 4;
      flag_count = 32;
    }
    --flag_count;
    if ((flags & (u32{1} << flag_count)) == 0) {
      if (ip >= n) return corrupt("XPRESS: truncated literal");
      out.push_back(static_cast<char>(p[ip++]));
      continue;
    }
    if (ip + 2 > n) return corrupt("XPRESS: truncated match");
    const u32 match = load_le16(p + ip);
    ip += 2;
    u64 length = match & 7;
    const u64 offset = (match >> 3) + 1;
    if (length == 7) {
      if (half_byte_at == 0) {
        if (ip >= n) return corrupt("XPRESS: truncated length nibble");
        half_byte_at = ip;
        length = p[ip++] & 0x0F;
      } else {
        length = p[half_byte_at] >> 4;
        half_byte_at = 0;
      }
      if (length == 15) {
        if (ip >= n) return corrupt("XPRESS: truncated length byte");
        length = p[ip++];
        if (length == 255) {
          if (ip + 2 > n) return corrupt("XPRESS: truncated length word");
          length = load_le16(p + ip);
          ip += 2;
          if (length == 0) {
            if (ip + 4 > n) return corrupt("XPRESS: truncated length dword");
            length = load_le32(p + ip);
            ip += 4;
          }
          if (length < 15 + 7) return corrupt("XPRESS: bad match length");
          length -= 15 + 7;
        }
        length += 15;
      }
      length += 7;
    }
    length += 3;
    const u64 have = out.size() - base;
    if (offset > have) return corrupt("XPRESS: match before the start of the output");
    if (length > limit - out.size()) return corrupt("XPRESS: output longer than declared");
    // Overlapping copies repeat the pattern, so copy byte by byte.
    u64 from = out.size() - offset;
    for (u64 i = 0; i < length; ++i) out.push_back(out[from + i]);
  }
  return {};
}

Status lz4_block(ByteView in, u64 expected, Bytes &out) {
  const u8 *p = reinterpret_cast<const u8 *>(in.data());
  const u64 n = in.size();
  const u64 base = out.size();
  const u64 limit = base + expected;
  out.reserve(limit);
  u64 ip = 0;
  while (ip < n) {
    const u8 token = p[ip++];
    u64 lit = token >> 4;
    if (lit == 15) {
      u8 b = 255;
      while (b == 255) {
        if (ip >= n) return corrupt("LZ4: truncated literal length");
        b = p[ip++];
        lit += b;
      }
    }
    if (lit > n - ip) return corrupt("LZ4: literals past the end of the input");
    if (lit > limit - out.size()) return corrupt("LZ4: output longer than declared");
    out.append(reinterpret_cast<const char *>(p + ip), lit);
    ip += lit;
    if (ip == n) break;  // the last sequence has literals only
    if (ip + 2 > n) return corrupt("LZ4: truncated offset");
    const u64 offset = load_le16(p + ip);
    ip += 2;
    u64 len = (token & 15);
    if (len == 15) {
      u8 b = 255;
      while (b == 255) {
        if (ip >= n) return corrupt("LZ4: truncated match length");
        b = p[ip++];
        len += b;
      }
    }
    len += 4;
    if (offset == 0 || offset > out.size() - base) return corrupt("LZ4: bad match offset");
    if (len > limit - out.size()) return corrupt("LZ4: output longer than declared");
    u64 from = out.size() - offset;
    for (u64 i = 0; i < len; ++i) out.push_back(out[from + i]);
  }
  if (out.size() != limit) return corrupt("LZ4: output shorter than declared");
  return {};
}

Status decompress_value(ByteView data, Bytes &out) {
  out.clear();
  if (data.empty()) return corrupt("compressed value is empty");
  const u32 scheme = static_cast<u8>(data[0]) >> 3;
  switch (scheme) {
    case 1: return seven_bit(data, false, out);
    case 2: return seven_bit(data, true, out);
    case 3: {
      // Header byte, 16-bit uncompressed size, Plain LZ77 data.
      if (data.size() < 3) return corrupt("XPRESS value shorter than its header");
      const u64 size = load_le16(data.data() + 1);
      Status s = xpress_plain_lz77(data.substr(3), size, out);
      if (s.ok() && out.size() != size) return corrupt("XPRESS: output shorter than declared");
      if (!s.ok()) out.clear();
      return s;
    }
    case 7: {
      // Header byte, 32-bit uncompressed size, LZ4 block.
      if (data.size() < 5) return corrupt("LZ4 value shorter than its header");
      const u64 size = load_le32(data.data() + 1);
      if (size > MAX_DECOMPRESSED_BYTES)
        return Problem{ProblemCode::LimitExceeded, "LZ4 value larger than the limit", -1};
      Status s = lz4_block(data.substr(5), size, out);
      if (!s.ok()) out.clear();
      return s;
    }
    default:
      return Problem{ProblemCode::ItemUnsupportedType,
                     "compression scheme " + std::to_string(scheme) + " (" +
                         compression_scheme_name(scheme) + ") not supported",
                     -1};
  }
}

}  // namespace mm::ese
