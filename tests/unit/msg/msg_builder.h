#pragma once
// Builds .msg files for the tests from [MS-OXMSG] alone: property streams (header + 16-byte
// entries), "__substg1.0_" value streams, multi-valued length and value streams, recipient and
// attachment storages, embedded message storages and the named-property map, laid out as a
// compound file by cfb_builder.h. Every byte the reader should find is known to the test.
#include <cstdio>
#include <string>
#include <vector>

#include "cfb_builder.h"
#include "mailmill/util/types.h"

namespace mm::testing {

inline std::string hex8(u32 v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08X", v);
  return buf;
}

inline Bytes le16(u16 v) { return Bytes{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
inline Bytes le32(u32 v) {
  Bytes s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

/// UTF-16LE of an ASCII/Latin-1 string given as UTF-8 code points below 0x100 (tests only).
inline Bytes utf16(const std::u16string &s) {
  Bytes out;
  for (char16_t c : s) out += le16(static_cast<u16>(c));
  return out;
}

/// One property as the builder writes it.
struct MsgProp {
  enum class Kind : u8 { Fixed, Stream, MultiVar };
  u32 tag = 0;
  Kind kind = Kind::Fixed;
  Bytes value;               // Fixed: up to 8 bytes; Stream: the stream's bytes
  std::vector<Bytes> items;  // MultiVar: one stream per value
  i64 size_claim = -1;       // overrides the entry's size field (Stream/MultiVar)

  static MsgProp fixed(u32 tag, Bytes v) { return {tag, Kind::Fixed, std::move(v), {}, -1}; }
  static MsgProp stream(u32 tag, Bytes v) { return {tag, Kind::Stream, std::move(v), {}, -1}; }
  static MsgProp multi(u32 tag, std::vector<Bytes> items) {
    return {tag, Kind::MultiVar, {}, std::move(items), -1};
  }
};

/// A message, recipient or attachment storage's contents before layout.
struct MsgObject {
  std::vector<MsgProp> props;
  std::vector<MsgObject> recipients;   // messages only
  std::vector<MsgObject> attachments;  // messages only
  std::vector<MsgObject> embedded;     // attachments only: at most one embedded message
  std::vector<CfbNode> extra;          // further children, as they are
  i64 recip_count_claim = -1, attach_count_claim = -1;
};

/// The property stream: `header` bytes (counts at 16..23 for 24- and 32-byte headers), then
/// one entry per property.
inline Bytes property_stream(const MsgObject &o, u32 header) {
  Bytes out(header, '\0');
  if (header >= 24) {
    const u32 nr = o.recip_count_claim >= 0 ? static_cast<u32>(o.recip_count_claim)
                                            : static_cast<u32>(o.recipients.size());
    const u32 na = o.attach_count_claim >= 0 ? static_cast<u32>(o.attach_count_claim)
                                             : static_cast<u32>(o.attachments.size());
    out.replace(8, 4, le32(nr));   // next recipient id
    out.replace(12, 4, le32(na));  // next attachment id
    out.replace(16, 4, le32(nr));
    out.replace(20, 4, le32(na));
  }
  for (const MsgProp &p : o.props) {
    out += le32(p.tag);
    out += le32(0x6);  // readable | writable
    Bytes v;
    if (p.kind == MsgProp::Kind::Fixed) {
      v = p.value;
    } else {
      u32 size = 0;
      const u16 type = static_cast<u16>(p.tag & 0xFFFF);
      if (p.kind == MsgProp::Kind::Stream) {
        size = static_cast<u32>(p.value.size()) + (type == 0x001F ? 2 : type == 0x001E ? 1 : 0);
      } else {
        size = static_cast<u32>(p.items.size() * (type == 0x1102 ? 8 : 4));
      }
      if (type == 0x000D) size = 0xFFFFFFFF;
      if (p.size_claim >= 0) size = static_cast<u32>(p.size_claim);
      v = le32(size);
    }
    v.resize(8, '\0');
    out += v;
  }
  return out;
}

inline std::vector<CfbNode> object_nodes(const MsgObject &o, u32 header);

inline void add_value_streams(const MsgProp &p, std::vector<CfbNode> &kids) {
  const std::string name = "__substg1.0_" + hex8(p.tag);
  if (p.kind == MsgProp::Kind::Stream) {
    kids.push_back(CfbNode::stream(name, p.value));
  } else if (p.kind == MsgProp::Kind::MultiVar) {
    const bool binary = (p.tag & 0xFFFF) == 0x1102;
    Bytes lengths;
    for (std::size_t i = 0; i < p.items.size(); ++i) {
      lengths += le32(static_cast<u32>(p.items[i].size()));
      if (binary) lengths += le32(0);
      kids.push_back(CfbNode::stream(name + "-" + hex8(static_cast<u32>(i)), p.items[i]));
    }
    kids.push_back(CfbNode::stream(name, lengths));
  }
}

/// The children of a message/recipient/attachment storage.
inline std::vector<CfbNode> object_nodes(const MsgObject &o, u32 header) {
  std::vector<CfbNode> kids;
  kids.push_back(CfbNode::stream("__properties_version1.0", property_stream(o, header)));
  for (const MsgProp &p : o.props) add_value_streams(p, kids);
  for (std::size_t i = 0; i < o.recipients.size(); ++i) {
    kids.push_back(CfbNode::dir("__recip_version1.0_#" + hex8(static_cast<u32>(i)),
                                object_nodes(o.recipients[i], 8)));
  }
  for (std::size_t i = 0; i < o.attachments.size(); ++i) {
    kids.push_back(CfbNode::dir("__attach_version1.0_#" + hex8(static_cast<u32>(i)),
                                object_nodes(o.attachments[i], 8)));
  }
  for (const MsgObject &e : o.embedded) {
    kids.push_back(CfbNode::dir("__substg1.0_3701000D", object_nodes(e, 24)));
  }
  for (const CfbNode &x : o.extra) kids.push_back(x);
  return kids;
}

/// One named-property map entry: the property id is 0x8000 + index.
struct NamedEntry {
  u16 index = 0;
  u16 guid_index = 0;  // 1 PS_MAPI, 2 PS_PUBLIC_STRINGS, 3+ the GUID stream
  bool is_string = false;
  u32 lid = 0;
  std::u16string name;
};

/// The "__nameid_version1.0" storage.
inline CfbNode nameid_storage(const std::vector<std::array<u8, 16>> &guids,
                              const std::vector<NamedEntry> &entries) {
  Bytes g, e, s;
  for (const auto &guid : guids) g.append(reinterpret_cast<const char *>(guid.data()), 16);
  for (const NamedEntry &n : entries) {
    u32 first = n.lid;
    if (n.is_string) {
      first = static_cast<u32>(s.size());
      const Bytes name = utf16(n.name);
      s += le32(static_cast<u32>(name.size()));
      s += name;
      while (s.size() % 4 != 0) s += '\0';
    }
    e += le32(first);
    e += le16(static_cast<u16>((n.guid_index << 1) | (n.is_string ? 1 : 0)));
    e += le16(n.index);
  }
  return CfbNode::dir("__nameid_version1.0", {CfbNode::stream("__substg1.0_00020102", g),
                                              CfbNode::stream("__substg1.0_00030102", e),
                                              CfbNode::stream("__substg1.0_00040102", s)});
}

/// A whole .msg file: the top-level message and, when given, the named-property map.
inline Bytes build_msg(const MsgObject &top, const std::vector<CfbNode> &root_extra = {}) {
  std::vector<CfbNode> kids = object_nodes(top, 32);
  for (const CfbNode &x : root_extra) kids.push_back(x);
  return CfbWriter::build(
      CfbNode::dir("Root Entry", kids, cfb_clsid("00020D0B-0000-0000-C000-000000000046")));
}

}  // namespace mm::testing
