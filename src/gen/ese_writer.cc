// ESE database writer for test data. Layout facts come from libesedb's format description
// ("Extensible Storage Engine (ESE) Database File (EDB) format"), from the checksum description
// in Microsoft's published ESE sources (the Hsiao ECC over 8 KiB blocks), and from the real
// files in ../shared/fixtures/edb written by Windows' own engine (hex dumps of their headers,
// pages, catalog records and long-value trees). No reader code was used.
#include "mailmill/gen/ese_writer.h"

#include "mailmill/format/ese/checksum.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <tuple>

#include "mailmill/util/result.h"
#include "mailmill/util/text.h"

namespace mm::gen::ese {
namespace {

// Page flags. 0x2000 (new checksum format), 0x0800 and 0x8000 (new record format) are set on
// every page the Windows engine wrote in the fixtures.
constexpr u32 PAGE_ROOT = 0x1;
constexpr u32 PAGE_LEAF = 0x2;
constexpr u32 PAGE_PARENT = 0x4;
constexpr u32 PAGE_SPACE_TREE = 0x20;
constexpr u32 PAGE_LONG_VALUE = 0x80;
constexpr u32 PAGE_BASE = 0x8000 | 0x2000 | 0x0800;

// Tagged-value header byte (TAGFLD header) bits, as seen in the fixtures' records.
constexpr u8 TAG_LONG_TYPE = 0x01;   // the column is a long-value type
constexpr u8 TAG_COMPRESSED = 0x02;  // 7-bit (or XPRESS) compressed
constexpr u8 TAG_SEPARATED = 0x04;   // the value is a 4-byte LID into the long-value tree
constexpr u8 TAG_MULTI = 0x08;       // offset array of several values
constexpr u8 TAG_TWO_VALUES = 0x10;  // two fixed/short values: 1-byte size of the first

constexpr u32 FORMAT_VERSION = 0x620;
constexpr u32 FORMAT_REVISION = 0x14;
constexpr u32 FIRST_USER_OBJID = 8;  // 1 database, 2 MSysObjects, 3 MSysObjectsShadow
constexpr u32 CATALOG_FDP = 4;       // ESE's fixed page of MSysObjects
// ESE's fixed page of MSysObjectsShadow; libesedb reads the backup catalog there. The catalog
// therefore has pages 4-23; unused ones stay zero, as in files the engine wrote.
constexpr u32 SHADOW_FDP = 24;

void put16(Bytes &b, u16 v) {
  b.push_back(static_cast<char>(v & 0xff));
  b.push_back(static_cast<char>(v >> 8));
}
void put32(Bytes &b, u32 v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(Bytes &b, u64 v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void set16(Bytes &b, std::size_t at, u16 v) {
  b[at] = static_cast<char>(v & 0xff);
  b[at + 1] = static_cast<char>(v >> 8);
}
void set32(Bytes &b, std::size_t at, u32 v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void set64(Bytes &b, std::size_t at, u64 v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
Bytes be32(u32 v) {
  Bytes b(4, '\0');
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
  return b;
}

bool is_long_type(ColumnType t) { return t == ColumnType::LongBinary || t == ColumnType::LongText; }
bool is_text_type(ColumnType t) { return t == ColumnType::Text || t == ColumnType::LongText; }

// Page geometry: the 32 KiB layout has an 80-byte header (three more block checksums and the
// page number) and 15-bit tag offsets/sizes; smaller pages a 40-byte header and 13-bit ones.
struct Geometry {
  u32 page_size;
  bool large;
  u32 header;
};

// --- checksums (mailmill/format/ese/checksum.h) ---------------------------------------------

using ::mm::ese::page_block_checksum;

void checksum_page(Bytes &page, u32 pgno, const Geometry &g) {
  if (!g.large) {
    set64(page, 0, page_block_checksum(ByteView(page.data(), page.size()), pgno, true));
    return;
  }
  // Blocks 1-3 first: their checksums live in block 0's extended header.
  for (u32 k = 1; k < g.page_size / 8192; ++k) {
    const u64 c = page_block_checksum(ByteView(page.data() + 8192 * k, 8192), pgno, false);
    set64(page, 40 + 8 * (k - 1), c);
  }
  set64(page, 0, page_block_checksum(ByteView(page.data(), 8192), pgno, true));
}

// --- pages and trees ----------------------------------------------------------------------

struct Entry {
  Bytes key;
  Bytes data;
};

u32 entry_cost(const Entry &e) { return static_cast<u32>(2 + e.key.size() + e.data.size() + 4); }

Bytes node_value(const Entry &e) {
  Bytes v;
  put16(v, static_cast<u16>(e.key.size()));
  v += e.key;
  v += e.data;
  return v;
}

// Tag flag (node flag) 0x4: the node starts with the size of the key prefix it shares with the
// page's tag 0. On pages up to 16 KiB node flags are the top 3 bits of the tag's offset; on
// larger pages they are the top 3 bits of the node's first 16-bit word (see prefixed_node_value).
constexpr u8 NODE_COMMON_KEY = 0x4;

// A leaf node whose whole key is the first key.size() bytes of the page's tag 0: common-key
// size, local key size 0, then the data (no local key bytes).
Bytes prefixed_node_value(const Geometry &g, const Entry &e) {
  Bytes v;
  put16(v, static_cast<u16>(e.key.size() | (g.large ? NODE_COMMON_KEY << 13 : 0)));
  put16(v, 0);
  v += e.data;
  return v;
}

// `tag_flags` (optional, one per value) are the node flags of pages up to 16 KiB.
Bytes make_page(const Geometry &g, u32 pgno, u32 objid, u32 flags, u32 prev, u32 next, u64 dbtime,
                const std::vector<Bytes> &values, const std::vector<u8> &tag_flags = {}) {
  Bytes p(g.page_size, '\0');
  u32 off = 0;
  const u32 n = static_cast<u32>(values.size());
  for (u32 i = 0; i < n; ++i) {
    const Bytes &v = values[i];
    const u32 size = static_cast<u32>(v.size());
    if (g.header + off + size + 4 * n > g.page_size) throw std::logic_error("ese: page overflow");
    std::memcpy(p.data() + g.header + off, v.data(), size);
    const u32 m = g.large ? 0x7fff : 0x1fff;
    const u32 tf = !g.large && i < tag_flags.size() ? tag_flags[i] : 0;
    set32(p, g.page_size - 4 * (i + 1), (size & m) | (((off & m) | (tf << 13)) << 16));
    off += size;
  }
  set64(p, 8, dbtime);
  set32(p, 16, prev);
  set32(p, 20, next);
  set32(p, 24, objid);
  set16(p, 28, static_cast<u16>(g.page_size - g.header - off - 4 * n));
  set16(p, 30, 0);
  set16(p, 32, static_cast<u16>(off));
  set16(p, 34, static_cast<u16>(n));
  set32(p, 36, PAGE_BASE | flags);
  if (g.large) set64(p, 64, pgno);
  return p;
}

// The root page's external header (tag 0): initial page count, parent FDP page, whether space
// is in several extents (then the owned-extent tree's page follows) or in this one extent.
Bytes space_header(u32 pages, u32 parent_fdp, bool multiple_extents, u32 space_tree_pgno) {
  Bytes b;
  put32(b, pages);
  put32(b, parent_fdp);
  put32(b, multiple_extents ? 1 : 0);
  put32(b, space_tree_pgno);
  return b;
}

struct BuiltTree {
  std::vector<Bytes> pages;  // pages[i] is page fdp + i, checksummed later
  u32 depth = 1;
};

// Builds a B+tree over `entries` (sorted by key) in the contiguous pages fdp, fdp+1, ...: the
// root first, then the leaves in key order (chained by prev/next), then inner branch pages.
// A branch entry is the first key of the next child (keys in a child are below it) and the
// child's page number; the last entry of a branch page has an empty key. No key prefixes are
// shared (tag 0 of a non-root page is empty), which readers accept as "no common key".
BuiltTree build_tree(const Geometry &g, u32 fdp, u32 objid, u32 parent_fdp, u32 kind_flags,
                     const std::vector<Entry> &entries, u64 dbtime) {
  const u32 page_room = g.page_size - g.header;
  const u32 root_room = page_room - 4 - 16;  // tag 0 holds the 16-byte space header
  const u32 inner_room = page_room - 4;      // tag 0 empty
  struct Node {
    bool leaf;
    std::vector<Entry> entries;  // leaf entries, or branch entries (data filled later)
    std::vector<u32> children;   // node indices (branch)
    Bytes first_key;
  };
  std::vector<Node> nodes;
  BuiltTree out;

  u32 total = 0;
  for (const Entry &e : entries) total += entry_cost(e);
  if (total <= root_room) {
    std::vector<Bytes> values{Bytes()};
    for (const Entry &e : entries) values.push_back(node_value(e));
    values[0] = space_header(1, parent_fdp, false, 0);
    out.pages.push_back(
        make_page(g, fdp, objid, PAGE_ROOT | PAGE_LEAF | kind_flags, 0, 0, dbtime, values));
    return out;
  }
  // Leaves.
  std::vector<u32> level;
  {
    Node cur{true, {}, {}, {}};
    u32 used = 0;
    for (const Entry &e : entries) {
      const u32 c = entry_cost(e);
      if (c > inner_room) throw std::invalid_argument("ese: a record does not fit in a page");
      if (used + c > inner_room) {
        level.push_back(static_cast<u32>(nodes.size()));
        nodes.push_back(std::move(cur));
        cur = Node{true, {}, {}, {}};
        used = 0;
      }
      if (cur.entries.empty()) cur.first_key = e.key;
      cur.entries.push_back(e);
      used += c;
    }
    level.push_back(static_cast<u32>(nodes.size()));
    nodes.push_back(std::move(cur));
  }
  const u32 leaf_count = static_cast<u32>(nodes.size());
  // Branch levels until one page (the root) holds them all.
  u32 root = 0;
  for (;;) {
    ++out.depth;
    auto sep = [&](std::size_t i) {
      return i + 1 < level.size() ? nodes[level[i + 1]].first_key : Bytes();
    };
    u32 all = 0;
    for (std::size_t i = 0; i < level.size(); ++i) all += static_cast<u32>(2 + sep(i).size() + 8);
    std::vector<u32> parents;
    Node cur{false, {}, {}, {}};
    u32 used = 0;
    const u32 room = all <= root_room ? root_room : inner_room;
    for (std::size_t i = 0; i < level.size(); ++i) {
      // Within a page the last entry's key is empty; the separator to the next page is
      // carried by the parent level.
      const u32 c = static_cast<u32>(2 + sep(i).size() + 8);
      if (used + c > room && !cur.children.empty()) {
        cur.entries.back().key.clear();
        parents.push_back(static_cast<u32>(nodes.size()));
        nodes.push_back(std::move(cur));
        cur = Node{false, {}, {}, {}};
        used = 0;
      }
      if (cur.children.empty()) cur.first_key = nodes[level[i]].first_key;
      cur.entries.push_back(Entry{sep(i), Bytes()});
      cur.children.push_back(level[i]);
      used += c;
    }
    cur.entries.back().key.clear();
    parents.push_back(static_cast<u32>(nodes.size()));
    nodes.push_back(std::move(cur));
    if (parents.size() == 1) {
      root = parents[0];
      break;
    }
    level = std::move(parents);
  }
  // Page numbers: root, leaves, then the other branch pages.
  std::vector<u32> pgno(nodes.size(), 0);
  pgno[root] = fdp;
  u32 next = fdp + 1;
  for (u32 i = 0; i < leaf_count; ++i) pgno[i] = next++;
  for (u32 i = leaf_count; i < nodes.size(); ++i)
    if (i != root) pgno[i] = next++;
  const u32 page_count = next - fdp;
  out.pages.assign(page_count, Bytes());
  for (u32 i = 0; i < nodes.size(); ++i) {
    Node &n = nodes[i];
    std::vector<Bytes> values;
    values.push_back(i == root ? space_header(page_count, parent_fdp, false, 0) : Bytes());
    u32 flags = kind_flags | (i == root ? PAGE_ROOT : 0) | (n.leaf ? PAGE_LEAF : PAGE_PARENT);
    u32 prev = 0, nxt = 0;
    if (n.leaf) {
      prev = i > 0 ? pgno[i - 1] : 0;
      nxt = i + 1 < leaf_count ? pgno[i + 1] : 0;
      for (const Entry &e : n.entries) values.push_back(node_value(e));
    } else {
      for (std::size_t k = 0; k < n.entries.size(); ++k) {
        Bytes v;
        put16(v, static_cast<u16>(n.entries[k].key.size()));
        v += n.entries[k].key;
        put32(v, pgno[n.children[k]]);
        values.push_back(std::move(v));
      }
    }
    out.pages[pgno[i] - fdp] = make_page(g, pgno[i], objid, flags, prev, nxt, dbtime, values);
  }
  return out;
}

// Builds a table's long-value tree in the contiguous pages fdp, fdp+1, ...: the root, then the
// leaves in key order (chained by prev/next), then inner branch pages. `entries` are sorted:
// per long value its root node (key: the LID big-endian, 4 bytes) then its chunks (key: LID
// and byte offset, 8 bytes).
//
// The shape is valid ESE but chosen so that libesedb 20181229 (our oracle) can look long
// values up, which it does by key, unlike records:
// - It builds a wrong key for any node with a non-empty local key (it appends the key bytes
//   from two bytes too early, starting at the key-size field); only nodes whose whole key is
//   the page's key prefix (tag 0 of a non-root page; common-key flag, empty local key) come
//   out right. Windows' own dissect__text.edb shows it: of its uncompressed separated values
//   libesedb finds LIDs 1 and 5, whose nodes have empty local keys, and not LID 2, whose root
//   node has the local key byte 02. So a leaf page here holds one chunk, its tag 0 the chunk's
//   key, preceded by the value's root node when it is the first chunk: all nodes are prefixes.
// - It descends into the first child whose branch key is not below the searched key, then
//   scans that leaf and the next one only. Root pages cannot hold common-key nodes, so their
//   keys always come out wrong: the root has one child (empty key), and below it every branch
//   page has two children: the separator (the first key of the right child, as the page's key
//   prefix, so read right) and the last entry with an empty key.
BuiltTree build_lv_tree(const Geometry &g, u32 fdp, u32 objid, u32 parent_fdp,
                        const std::vector<Entry> &entries, u64 dbtime) {
  const u32 page_room = g.page_size - g.header;
  struct Leaf {
    std::vector<Entry> entries;
  };
  std::vector<Leaf> leaves;
  for (std::size_t i = 0; i < entries.size();) {
    Leaf l;
    l.entries.push_back(entries[i++]);
    if (l.entries[0].key.size() == 4 && i < entries.size() && entries[i].key.size() == 8 &&
        entries[i].key.compare(0, 4, l.entries[0].key) == 0)
      l.entries.push_back(entries[i++]);
    u32 used = static_cast<u32>(l.entries.back().key.size()) + 4;  // tag 0
    for (const Entry &e : l.entries) used += static_cast<u32>(4 + e.data.size() + 4);
    if (used > page_room) throw std::invalid_argument("ese: long-value chunk does not fit a page");
    leaves.push_back(std::move(l));
  }
  if (leaves.empty()) throw std::logic_error("ese: empty long-value tree");
  const u32 nleaves = static_cast<u32>(leaves.size());
  BuiltTree out;
  out.pages.resize(1 + nleaves);
  for (u32 i = 0; i < nleaves; ++i) {
    std::vector<Bytes> values{leaves[i].entries.back().key};
    std::vector<u8> tag_flags{0};
    for (const Entry &e : leaves[i].entries) {
      values.push_back(prefixed_node_value(g, e));
      tag_flags.push_back(NODE_COMMON_KEY);
    }
    const u32 pg = fdp + 1 + i;
    out.pages[1 + i] = make_page(g, pg, objid, PAGE_LEAF | PAGE_LONG_VALUE, i ? pg - 1 : 0,
                                 i + 1 < nleaves ? pg + 1 : 0, dbtime, values, tag_flags);
  }
  // Binary branch pages over leaves [lo, hi); returns the page number of the subtree.
  u32 depth = 1;
  auto child_entry = [](const Bytes &key, u32 child) {
    Bytes v;
    put16(v, static_cast<u16>(key.size()));
    v += key;
    put32(v, child);
    return v;
  };
  std::function<u32(u32, u32, u32)> subtree = [&](u32 lo, u32 hi, u32 level) -> u32 {
    depth = std::max(depth, level);
    if (hi - lo == 1) return fdp + 1 + lo;
    const u32 mid = lo + (hi - lo) / 2;
    const u32 left = subtree(lo, mid, level + 1);
    const u32 right = subtree(mid, hi, level + 1);
    const Bytes &sep = leaves[mid].entries.front().key;
    Bytes first;
    put16(first, static_cast<u16>(sep.size() | (g.large ? NODE_COMMON_KEY << 13 : 0)));
    put16(first, 0);
    put32(first, left);
    const u32 pg = fdp + static_cast<u32>(out.pages.size());
    out.pages.push_back(make_page(g, pg, objid, PAGE_PARENT | PAGE_LONG_VALUE, 0, 0, dbtime,
                                  {sep, first, child_entry(Bytes(), right)},
                                  {0, NODE_COMMON_KEY, 0}));
    return pg;
  };
  const u32 top = subtree(0, nleaves, 2);
  out.pages[0] = make_page(g, fdp, objid, PAGE_ROOT | PAGE_PARENT | PAGE_LONG_VALUE, 0, 0, dbtime,
                           {space_header(static_cast<u32>(out.pages.size()), parent_fdp, false, 0),
                            child_entry(Bytes(), top)});
  out.depth = depth;
  return out;
}

// --- records ------------------------------------------------------------------------------

// 7-bit packing (ESE's 7-bit ASCII/Unicode schemes): one header byte, (scheme << 3) | (bits
// used in the last byte - 1), then 7 bits per character, least significant bit first.
// Returns nullopt when a character needs 8 bits or more.
std::optional<Bytes> compress_7bit(const Bytes &value, bool unicode) {
  std::vector<u8> chars;
  if (unicode) {
    if (value.size() % 2 != 0) return std::nullopt;
    for (std::size_t i = 0; i < value.size(); i += 2) {
      const u16 c = load_le16(value.data() + i);
      if (c >= 0x80) return std::nullopt;
      chars.push_back(static_cast<u8>(c));
    }
  } else {
    for (char ch : value) {
      if (static_cast<u8>(ch) >= 0x80) return std::nullopt;
      chars.push_back(static_cast<u8>(ch));
    }
  }
  if (chars.empty()) return std::nullopt;
  const u64 bits = 7 * static_cast<u64>(chars.size());
  Bytes out(1 + (bits + 7) / 8, '\0');
  const u32 last_bits = static_cast<u32>(bits % 8 == 0 ? 8 : bits % 8);
  out[0] = static_cast<char>(((unicode ? 2 : 1) << 3) | (last_bits - 1));
  u64 pos = 0;
  for (u8 c : chars) {
    for (int b = 0; b < 7; ++b, ++pos)
      if (c & (1 << b)) out[1 + pos / 8] = static_cast<char>(out[1 + pos / 8] | (1 << (pos % 8)));
  }
  if (out.size() >= value.size()) return std::nullopt;
  return out;
}

struct LongValues {
  u32 next_lid = 1;
  std::vector<std::pair<u32, Bytes>> values;  // (lid, bytes) in lid order
  u32 store(Bytes v) {
    values.emplace_back(next_lid, std::move(v));
    return next_lid++;
  }
};

struct RecordContext {
  const Geometry &g;
  const WriteOptions &opt;
  LongValues *lv;  // null: no long-value tree (the catalog)
  WriteStats *stats;
};

struct TaggedItem {
  u32 id;
  u8 flags;
  Bytes payload;
};

// Encodes one tagged cell. `separate_all` forces long values out of the record (the second
// attempt when the record would not fit a page).
TaggedItem encode_tagged(const Column &c, const Cell &cell, const RecordContext &ctx,
                         bool separate_all) {
  TaggedItem t{c.id, 0, Bytes()};
  const bool lt = is_long_type(c.type);
  if (lt) t.flags |= TAG_LONG_TYPE;
  auto separate = [&](const Bytes &v) {
    if (!lt || ctx.lv == nullptr) return false;
    return v.size() > ctx.opt.lv_inline_max || (separate_all && v.size() > 4);
  };
  auto store = [&](const Bytes &v) {
    Bytes lid;
    put32(lid, ctx.lv->store(v));
    if (ctx.stats) ++ctx.stats->separated_values;
    return lid;
  };
  if (cell.size() == 1) {
    const Bytes &v = cell[0];
    if (separate(v)) {
      t.flags |= TAG_SEPARATED;
      t.payload = store(v);
      return t;
    }
    if (c.compressed && is_text_type(c.type)) {
      if (auto z = compress_7bit(v, c.codepage == 1200)) {
        t.flags |= TAG_COMPRESSED;
        t.payload = std::move(*z);
        if (ctx.stats) ++ctx.stats->compressed_values;
        return t;
      }
    }
    t.payload = v;
    return t;
  }
  t.flags |= TAG_MULTI;
  if (fixed_size(c.type) != 0 && cell.size() == 2) {
    // Two fixed-size values: the size of the first, then both (the layout the engine used in
    // dissect__multi.edb for a two-value Bit column; its two-value LongText columns use the
    // offset array below, so variable types keep that).
    t.flags |= TAG_TWO_VALUES;
    t.payload.push_back(static_cast<char>(cell[0].size()));
    t.payload += cell[0];
    t.payload += cell[1];
    return t;
  }
  // Offset array (from the start of the payload), then the values; a separated value is a
  // 4-byte LID whose offset has bit 15 set.
  Bytes data;
  std::vector<u16> offs;
  const u32 head = static_cast<u32>(2 * cell.size());
  for (const Bytes &v : cell) {
    u16 off = static_cast<u16>(head + data.size());
    if (separate(v)) {
      data += store(v);
      off |= 0x8000;
    } else {
      data += v;
    }
    offs.push_back(off);
  }
  if (head + data.size() >= 0x8000) throw std::invalid_argument("ese: multi-value too large");
  for (u16 o : offs) put16(t.payload, o);
  t.payload += data;
  return t;
}

Bytes build_record(const Table &t, const Row &row, const RecordContext &ctx) {
  std::map<u32, const Cell *> cells;
  for (const auto &[id, cell] : row.cells) cells[id] = &cell;
  auto cell_of = [&](u32 id) -> const Cell * {
    auto it = cells.find(id);
    return it == cells.end() || it->second->empty() ? nullptr : it->second;
  };
  for (const auto &[id, cell] : row.cells) {
    const auto col = std::find_if(t.columns.begin(), t.columns.end(),
                                  [&](const Column &c) { return c.id == id; });
    if (col == t.columns.end())
      throw std::invalid_argument("ese: row of " + t.name + " sets unknown column " +
                                  std::to_string(id));
    if (cell.size() > 1 && !col->multi_valued)
      throw std::invalid_argument("ese: multi-value in single-valued column " + col->name);
    const u32 fs = fixed_size(col->type);
    for (const Bytes &v : cell)
      if (fs != 0 && v.size() != fs)
        throw std::invalid_argument("ese: value of " + col->name + " has the wrong size");
  }
  std::vector<const Column *> fixed, variable, tagged;
  for (const Column &c : t.columns) {
    if (c.id < 128)
      fixed.push_back(&c);
    else if (c.id < 256)
      variable.push_back(&c);
    else
      tagged.push_back(&c);
  }
  u32 last_fixed = 0, last_var = 127;
  for (const Column *c : fixed)
    if (cell_of(c->id)) last_fixed = std::max(last_fixed, c->id);
  for (const Column *c : variable)
    if (cell_of(c->id)) last_var = std::max(last_var, c->id);

  Bytes rec(4, '\0');
  rec[0] = static_cast<char>(last_fixed);
  rec[1] = static_cast<char>(last_var);
  Bytes bitmap((last_fixed + 7) / 8, '\0');
  for (const Column *c : fixed) {
    if (c->id > last_fixed) break;
    const Cell *cell = cell_of(c->id);
    if (cell) {
      rec += (*cell)[0];
    } else {
      rec += Bytes(fixed_size(c->type), '\0');
      bitmap[(c->id - 1) / 8] =
          static_cast<char>(bitmap[(c->id - 1) / 8] | (1 << ((c->id - 1) % 8)));
    }
  }
  rec += bitmap;
  set16(rec, 2, static_cast<u16>(rec.size()));
  Bytes var_data;
  for (const Column *c : variable) {
    if (c->id > last_var) break;
    const Cell *cell = cell_of(c->id);
    if (cell) {
      var_data += (*cell)[0];
      put16(rec, static_cast<u16>(var_data.size()));
    } else {
      put16(rec, static_cast<u16>(var_data.size() | 0x8000));
    }
  }
  rec += var_data;

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<TaggedItem> items;
    // Separated values already stored by a failed first attempt are dropped again.
    const std::size_t lv_mark = ctx.lv ? ctx.lv->values.size() : 0;
    const u32 lid_mark = ctx.lv ? ctx.lv->next_lid : 0;
    const u32 sep_mark = ctx.stats ? ctx.stats->separated_values : 0;
    const u32 cmp_mark = ctx.stats ? ctx.stats->compressed_values : 0;
    for (const Column *c : tagged)
      if (const Cell *cell = cell_of(c->id))
        items.push_back(encode_tagged(*c, *cell, ctx, attempt));
    // Offsets count from the start of the tagged area. On pages up to 16 KiB the header byte
    // is present only when flagged (bit 14 of the offset); on larger pages it is always there
    // and offsets have 15 bits.
    Bytes area;
    const u32 head = static_cast<u32>(4 * items.size());
    Bytes data;
    for (const TaggedItem &it : items) {
      u32 off = head + static_cast<u32>(data.size());
      if (ctx.g.large) {
        data.push_back(static_cast<char>(it.flags));
      } else if (it.flags != 0) {
        data.push_back(static_cast<char>(it.flags));
        off |= 0x4000;
      }
      data += it.payload;
      put16(area, static_cast<u16>(it.id));
      put16(area, static_cast<u16>(off));
    }
    area += data;
    const u32 room = ctx.g.page_size - ctx.g.header - 4 - 4 - 2 - 16 - 64;
    if (rec.size() + area.size() <= room && head + data.size() < (ctx.g.large ? 0x8000u : 0x4000u))
      return rec + area;
    if (attempt == 0 && ctx.lv) {
      ctx.lv->values.resize(lv_mark);
      ctx.lv->next_lid = lid_mark;
      if (ctx.stats) {
        ctx.stats->separated_values = sep_mark;
        ctx.stats->compressed_values = cmp_mark;
      }
      continue;
    }
    break;
  }
  throw std::invalid_argument("ese: a record of " + t.name + " does not fit in a page");
}

void validate(const Table &t) {
  u32 expect_fixed = 1, expect_var = 128;
  std::map<u32, bool> seen;
  for (const Column &c : t.columns) {
    if (c.id == 0 || c.id > 0xffff || seen[c.id])
      throw std::invalid_argument("ese: bad or duplicate column id in " + t.name);
    seen[c.id] = true;
    const u32 fs = fixed_size(c.type);
    if (c.id < 128) {
      if (fs == 0) throw std::invalid_argument("ese: fixed column needs a fixed-size type");
      if (c.id != expect_fixed++)
        throw std::invalid_argument("ese: fixed column ids must be 1, 2, ... in order");
    } else if (c.id < 256) {
      if (c.type != ColumnType::Binary && c.type != ColumnType::Text)
        throw std::invalid_argument("ese: variable column needs Binary or Text");
      if (c.id != expect_var++)
        throw std::invalid_argument("ese: variable column ids must be 128, 129, ... in order");
    }
    if ((c.multi_valued || c.compressed) && c.id < 256)
      throw std::invalid_argument("ese: multi-valued/compressed columns must be tagged");
    // ESE compresses only long-value columns (JET_bitColumnCompressed).
    if (c.compressed && !is_long_type(c.type))
      throw std::invalid_argument("ese: only LongText/LongBinary columns can be compressed");
  }
  for (std::size_t i = 1; i < t.columns.size(); ++i)
    if (t.columns[i].id < t.columns[i - 1].id)
      throw std::invalid_argument("ese: columns must be listed in id order");
  for (const Row &r : t.rows)
    for (const auto &[id, cell] : r.cells)
      for (const Bytes &v : cell) {
        const auto col = std::find_if(t.columns.begin(), t.columns.end(),
                                      [&](const Column &c) { return c.id == id; });
        if (col != t.columns.end() && !is_long_type(col->type) && fixed_size(col->type) == 0 &&
            v.size() > 255)
          throw std::invalid_argument("ese: Binary/Text value over 255 bytes in " + col->name);
      }
}

// --- catalog ------------------------------------------------------------------------------

enum CatalogColumn : u32 {
  C_OBJID_TABLE = 1,
  C_TYPE = 2,
  C_ID = 3,
  C_COLTYP_OR_PGNO = 4,
  C_SPACE_USAGE = 5,
  C_FLAGS = 6,
  C_PAGES_OR_LOCALE = 7,
  C_ROOT_FLAG = 8,
  C_RECORD_OFFSET = 9,
  C_NAME = 128,
};

Table catalog_table(const std::string &name) {
  Table t;
  t.name = name;
  auto col = [&](u32 id, const char *n, ColumnType ty, bool not_null = false) {
    Column c;
    c.id = id;
    c.name = n;
    c.type = ty;
    c.not_null = not_null;
    c.codepage = is_text_type(ty) ? 1252 : 0;
    t.columns.push_back(c);
  };
  col(1, "ObjidTable", ColumnType::Long, true);
  col(2, "Type", ColumnType::Short, true);
  col(3, "Id", ColumnType::Long, true);
  col(4, "ColtypOrPgnoFDP", ColumnType::Long, true);
  col(5, "SpaceUsage", ColumnType::Long, true);
  col(6, "Flags", ColumnType::Long, true);
  col(7, "PagesOrLocale", ColumnType::Long, true);
  col(8, "RootFlag", ColumnType::Bit);
  col(9, "RecordOffset", ColumnType::Short);
  col(10, "LCMapFlags", ColumnType::Long);
  col(11, "KeyMost", ColumnType::UnsignedShort);
  col(12, "LVChunkMax", ColumnType::Long);
  col(128, "Name", ColumnType::Text, true);
  col(129, "Stats", ColumnType::Binary);
  col(130, "TemplateTable", ColumnType::Text);
  col(131, "DefaultValue", ColumnType::Binary);
  col(132, "KeyFldIDs", ColumnType::Binary);
  col(133, "VarSegMac", ColumnType::Binary);
  col(134, "ConditionalColumns", ColumnType::Binary);
  col(135, "TupleLimits", ColumnType::Binary);
  col(136, "Version", ColumnType::Binary);
  col(137, "SortID", ColumnType::Binary);
  col(256, "CallbackData", ColumnType::LongBinary);
  col(257, "CallbackDependencies", ColumnType::LongBinary);
  col(258, "SeparateLV", ColumnType::LongBinary);
  col(259, "SpaceHints", ColumnType::LongBinary);
  return t;
}

// Catalog key: the normalized (ObjidTable, Type, Id) index key; each signed integer is a 0x7f
// prefix then its big-endian bytes with the sign bit flipped.
Bytes catalog_key(u32 objid, u16 type, u32 id) {
  Bytes k;
  k.push_back('\x7f');
  k += be32(objid ^ 0x80000000u);
  k.push_back('\x7f');
  k.push_back(static_cast<char>(((type ^ 0x8000) >> 8) & 0xff));
  k.push_back(static_cast<char>((type ^ 0x8000) & 0xff));
  k.push_back('\x7f');
  k += be32(id ^ 0x80000000u);
  return k;
}

struct CatalogRow {
  u32 objid;
  u16 type;
  u32 id;
  Row row;
};

CatalogRow table_row(u32 objid, u32 fdp, u32 pages, u32 flags, const std::string &name) {
  CatalogRow r{objid, 1, objid, {}};
  r.row.set(C_OBJID_TABLE, encode_u32(objid))
      .set(C_TYPE, encode_i16(1))
      .set(C_ID, encode_u32(objid))
      .set(C_COLTYP_OR_PGNO, encode_u32(fdp))
      .set(C_SPACE_USAGE, encode_u32(80))
      .set(C_FLAGS, encode_u32(flags))
      .set(C_PAGES_OR_LOCALE, encode_u32(pages))
      .set(C_ROOT_FLAG, encode_bit(true))
      .set(C_NAME, name);
  return r;
}

// Column flags in the catalog (the engine's field flags, read off the fixtures): 0x1 not
// NULL, 0x8 multi-valued, 0x1000 compressed.
std::vector<CatalogRow> column_rows(u32 objid, const Table &t, bool system) {
  std::vector<CatalogRow> out;
  u32 record_offset = 4;
  for (const Column &c : t.columns) {
    CatalogRow r{objid, 2, c.id, {}};
    const u32 fs = fixed_size(c.type);
    const u32 size = fs ? fs : (c.max_size ? c.max_size : (is_long_type(c.type) ? 0 : 255));
    const u32 flags =
        (c.not_null ? 0x1u : 0u) | (c.multi_valued ? 0x8u : 0u) | (c.compressed ? 0x1000u : 0u);
    u32 locale = is_text_type(c.type) ? (c.codepage ? c.codepage : 1252) : 0;
    if (system) locale = 1252;
    r.row.set(C_OBJID_TABLE, encode_u32(objid))
        .set(C_TYPE, encode_i16(2))
        .set(C_ID, encode_u32(c.id))
        .set(C_COLTYP_OR_PGNO, encode_u32(static_cast<u32>(c.type)))
        .set(C_SPACE_USAGE, encode_u32(size))
        .set(C_FLAGS, encode_u32(flags))
        .set(C_PAGES_OR_LOCALE, encode_u32(locale))
        .set(C_NAME, c.name);
    if (c.id < 128) {
      r.row.set(C_RECORD_OFFSET, encode_i16(static_cast<std::int16_t>(record_offset)));
      record_offset += fs;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// --- database header ----------------------------------------------------------------------

u64 splitmix(u64 &s) {
  u64 z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Log time: seconds, minutes, hours, day, month, years since 1900, then two zero bytes.
void put_logtime(Bytes &b, std::size_t at, u32 seconds_into_day) {
  b[at + 0] = static_cast<char>(seconds_into_day % 60);
  b[at + 1] = static_cast<char>((seconds_into_day / 60) % 60);
  b[at + 2] = static_cast<char>(seconds_into_day / 3600);
  b[at + 3] = 1;    // day
  b[at + 4] = 1;    // month
  b[at + 5] = 120;  // 2020
}

Bytes database_header(const Geometry &g, u64 seed, u64 dbtime, u32 last_objid) {
  Bytes h(g.page_size, '\0');
  u64 s = seed;
  const u32 sig_random = static_cast<u32>(splitmix(s));
  const u32 log_random = static_cast<u32>(splitmix(s));
  const u32 t0 = static_cast<u32>(splitmix(s) % 80000);
  set32(h, 4, 0x89abcdef);
  set32(h, 8, FORMAT_VERSION);
  set32(h, 12, 0);  // database (not a streaming file)
  set64(h, 16, dbtime);
  set32(h, 24, sig_random);  // database signature: random, creation time, computer name
  put_logtime(h, 28, t0);
  set32(h, 52, 3);  // clean shutdown
  // Consistent, attach and detach positions/times: one log generation, a few seconds apart.
  set32(h, 60, 1);
  put_logtime(h, 64, t0 + 2);
  put_logtime(h, 72, t0 + 1);
  set32(h, 84, 1);
  put_logtime(h, 88, t0 + 2);
  set32(h, 100, 1);
  set32(h, 104, log_random);  // log signature
  put_logtime(h, 108, t0);
  set32(h, 212, last_objid);
  set32(h, 216, 6);  // Windows NT 6.2 build 9200, as in the fixtures
  set32(h, 220, 2);
  set32(h, 224, 9200);
  set32(h, 232, FORMAT_REVISION);
  set32(h, 236, g.page_size);
  set32(h, 340, FORMAT_VERSION);
  set32(h, 344, FORMAT_REVISION);
  u32 x = 0x89abcdef;
  for (u32 i = 4; i < g.page_size; i += 4) x ^= load_le32(h.data() + i);
  set32(h, 0, x);
  return h;
}

}  // namespace

u32 fixed_size(ColumnType type) {
  switch (type) {
    case ColumnType::Bit:
    case ColumnType::UnsignedByte:
      return 1;
    case ColumnType::Short:
    case ColumnType::UnsignedShort:
      return 2;
    case ColumnType::Long:
    case ColumnType::IEEESingle:
    case ColumnType::UnsignedLong:
      return 4;
    case ColumnType::Currency:
    case ColumnType::IEEEDouble:
    case ColumnType::DateTime:
    case ColumnType::LongLong:
      return 8;
    case ColumnType::GUID:
      return 16;
    default:
      return 0;
  }
}

Row &Row::set(u32 column_id, Bytes value) {
  std::vector<Bytes> v;
  v.push_back(std::move(value));
  return set_multi(column_id, std::move(v));
}

Row &Row::set_multi(u32 column_id, std::vector<Bytes> values) {
  for (auto &[id, cell] : cells)
    if (id == column_id) {
      cell = std::move(values);
      return *this;
    }
  cells.emplace_back(column_id, std::move(values));
  return *this;
}

Bytes encode_bit(bool v) { return Bytes(1, v ? '\xff' : '\0'); }
Bytes encode_u8(u8 v) { return Bytes(1, static_cast<char>(v)); }
Bytes encode_i16(std::int16_t v) { return encode_u16(static_cast<u16>(v)); }
Bytes encode_u16(u16 v) {
  Bytes b;
  put16(b, v);
  return b;
}
Bytes encode_i32(i32 v) { return encode_u32(static_cast<u32>(v)); }
Bytes encode_u32(u32 v) {
  Bytes b;
  put32(b, v);
  return b;
}
Bytes encode_i64(i64 v) {
  Bytes b;
  put64(b, static_cast<u64>(v));
  return b;
}
Bytes encode_f32(float v) {
  u32 u;
  std::memcpy(&u, &v, 4);
  return encode_u32(u);
}
Bytes encode_f64(double v) {
  u64 u;
  std::memcpy(&u, &v, 8);
  return encode_i64(static_cast<i64>(u));
}
Bytes encode_utf16(std::string_view utf8) { return text::utf8_to_utf16le(utf8); }

Bytes build_database(const std::vector<Table> &tables, const WriteOptions &options,
                     WriteStats *stats_out) {
  if (options.page_size != 8192 && options.page_size != 32768)
    throw std::invalid_argument("ese: page size must be 8192 or 32768");
  const Geometry g{options.page_size, options.page_size > 16384,
                   options.page_size > 16384 ? 80u : 40u};
  WriteOptions opt = options;
  if (opt.lv_chunk_size == 0) opt.lv_chunk_size = g.large ? g.page_size - 122 : g.page_size - 82;
  // A long-value leaf page: header, the 8-byte key prefix, the value's root node (4 + 8), the
  // chunk's node (4 + chunk) and three tags.
  if (opt.lv_chunk_size + 8 + 12 + 4 + 12 + g.header > g.page_size)
    throw std::invalid_argument("ese: long-value chunk does not fit in a page");
  WriteStats stats;
  stats.lv_chunk_size = opt.lv_chunk_size;
  {
    std::map<std::string, bool> names{{"MSysObjects", true}, {"MSysObjectsShadow", true}};
    for (const Table &t : tables) {
      validate(t);
      if (names[t.name]) throw std::invalid_argument("ese: duplicate table name " + t.name);
      names[t.name] = true;
    }
  }
  const u64 dbtime = 0x100;

  // User tables: records (which also fill the long-value stores), then trees placed after the
  // catalog and its shadow, whose sizes do not depend on page numbers (all fixed-size fields).
  struct Placed {
    u32 objid, fdp, pages, lv_objid = 0, lv_fdp = 0, lv_pages = 0;
  };
  std::vector<std::vector<Entry>> table_entries(tables.size());
  std::vector<LongValues> lvs(tables.size());
  std::vector<Placed> placed(tables.size());
  u32 objid = FIRST_USER_OBJID;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    RecordContext ctx{g, opt, &lvs[i], &stats};
    u32 dbk = 0;
    for (const Row &r : tables[i].rows)
      table_entries[i].push_back(Entry{be32(++dbk), build_record(tables[i], r, ctx)});
    placed[i].objid = objid++;
    if (!lvs[i].values.empty()) placed[i].lv_objid = objid++;
  }
  const u32 last_objid = objid - 1;

  const Table msys = catalog_table("MSysObjects");
  u32 catalog_pages = 0, shadow_fdp = 0;  // known after pass 1; record sizes do not change
  auto catalog_entries = [&]() {
    std::vector<CatalogRow> rows;
    rows.push_back(table_row(2, CATALOG_FDP, catalog_pages, 0xc0000000u, "MSysObjects"));
    for (CatalogRow &r : column_rows(2, msys, true)) rows.push_back(std::move(r));
    rows.push_back(table_row(3, shadow_fdp, catalog_pages, 0xc0000000u, "MSysObjectsShadow"));
    for (CatalogRow &r : column_rows(3, msys, true)) rows.push_back(std::move(r));
    for (std::size_t i = 0; i < tables.size(); ++i) {
      const Placed &p = placed[i];
      rows.push_back(table_row(p.objid, p.fdp, p.pages, 0, tables[i].name));
      for (CatalogRow &r : column_rows(p.objid, tables[i], false)) rows.push_back(std::move(r));
      if (p.lv_objid) {
        CatalogRow r{p.objid, 4, p.lv_objid, {}};
        r.row.set(C_OBJID_TABLE, encode_u32(p.objid))
            .set(C_TYPE, encode_i16(4))
            .set(C_ID, encode_u32(p.lv_objid))
            .set(C_COLTYP_OR_PGNO, encode_u32(p.lv_fdp))
            .set(C_SPACE_USAGE, encode_u32(100))
            .set(C_FLAGS, encode_u32(0))
            .set(C_PAGES_OR_LOCALE, encode_u32(p.lv_pages))
            .set(C_NAME, "LV");
        rows.push_back(std::move(r));
      }
    }
    std::sort(rows.begin(), rows.end(), [](const CatalogRow &a, const CatalogRow &b) {
      return std::tie(a.objid, a.type, a.id) < std::tie(b.objid, b.type, b.id);
    });
    std::vector<Entry> entries;
    RecordContext ctx{g, opt, nullptr, nullptr};
    for (const CatalogRow &r : rows)
      entries.push_back(Entry{catalog_key(r.objid, r.type, r.id), build_record(msys, r.row, ctx)});
    return entries;
  };

  // Pass 1: sizes only.
  catalog_pages =
      static_cast<u32>(build_tree(g, CATALOG_FDP, 2, 1, 0, catalog_entries(), dbtime).pages.size());
  if (CATALOG_FDP + catalog_pages > SHADOW_FDP)
    throw std::invalid_argument("ese: catalog needs more than 20 pages");
  shadow_fdp = SHADOW_FDP;
  u32 next = shadow_fdp + catalog_pages;
  std::vector<BuiltTree> data_trees(tables.size()), lv_trees(tables.size());
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Placed &p = placed[i];
    p.fdp = next;
    data_trees[i] = build_tree(g, p.fdp, p.objid, 1, 0, table_entries[i], dbtime);
    p.pages = static_cast<u32>(data_trees[i].pages.size());
    stats.max_tree_depth = std::max(stats.max_tree_depth, data_trees[i].depth);
    next += p.pages;
    if (p.lv_objid) {
      // Long-value tree: per LID a root node (key: the LID big-endian; data: reference count
      // 1 and the total size), then its chunks keyed by LID and byte offset.
      std::vector<Entry> e;
      for (const auto &[lid, value] : lvs[i].values) {
        Bytes root;
        put32(root, 1);
        put32(root, static_cast<u32>(value.size()));
        e.push_back(Entry{be32(lid), root});
        for (std::size_t off = 0; off < value.size(); off += opt.lv_chunk_size)
          e.push_back(
              Entry{be32(lid) + be32(static_cast<u32>(off)), value.substr(off, opt.lv_chunk_size)});
      }
      p.lv_fdp = next;
      lv_trees[i] = build_lv_tree(g, p.lv_fdp, p.lv_objid, p.fdp, e, dbtime);
      stats.max_lv_tree_depth = std::max(stats.max_lv_tree_depth, lv_trees[i].depth);
      p.lv_pages = static_cast<u32>(lv_trees[i].pages.size());
      next += p.lv_pages;
    }
  }
  const u32 last_page = next - 1;
  // Pass 2: the catalog with the real page numbers; the shadow is its copy.
  const std::vector<Entry> cat = catalog_entries();
  BuiltTree catalog = build_tree(g, CATALOG_FDP, 2, 1, 0, cat, dbtime);
  BuiltTree shadow = build_tree(g, shadow_fdp, 3, 1, 0, cat, dbtime);
  if (catalog.pages.size() != catalog_pages) throw std::logic_error("ese: catalog size changed");

  std::vector<Bytes> pages(last_page + 1);
  // Page 1: the database root, whose space is in extents: its owned-extent tree (page 2) says
  // it owns pages 1..last (key: last page number big-endian, data: page count); the available
  // extent tree (page 3) is empty: every page is in use.
  pages[1] = make_page(g, 1, 1, PAGE_ROOT | PAGE_LEAF, 0, 0, dbtime,
                       {space_header(last_page, 0, true, 2)});
  {
    Bytes count;
    put32(count, last_page);
    pages[2] = make_page(g, 2, 1, PAGE_ROOT | PAGE_LEAF | PAGE_SPACE_TREE, 0, 0, dbtime,
                         {Bytes(16, '\0'), node_value(Entry{be32(last_page), count})});
    pages[3] = make_page(g, 3, 1, PAGE_ROOT | PAGE_LEAF | PAGE_SPACE_TREE, 0, 0, dbtime,
                         {Bytes(16, '\0')});
  }
  auto place = [&](u32 fdp, BuiltTree &t) {
    for (std::size_t k = 0; k < t.pages.size(); ++k) pages[fdp + k] = std::move(t.pages[k]);
  };
  place(CATALOG_FDP, catalog);
  place(shadow_fdp, shadow);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    place(placed[i].fdp, data_trees[i]);
    if (placed[i].lv_objid) place(placed[i].lv_fdp, lv_trees[i]);
  }

  Bytes out = database_header(g, options.seed, dbtime + 1, last_objid);
  out += out;  // the shadow header is an exact copy
  for (u32 pg = 1; pg <= last_page; ++pg) {
    if (pages[pg].empty()) {
      out += Bytes(g.page_size, '\0');  // unused catalog page: zero, checksum zero
      continue;
    }
    checksum_page(pages[pg], pg, g);
    out += pages[pg];
  }
  stats.pages = last_page;
  if (stats_out) *stats_out = stats;
  return out;
}

WriteStats write_database(const std::string &path, const std::vector<Table> &tables,
                          const WriteOptions &options) {
  WriteStats stats;
  const Bytes image = build_database(tables, options, &stats);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw FatalError("cannot create " + path);
  f.write(image.data(), static_cast<std::streamsize>(image.size()));
  f.close();
  if (!f) throw FatalError("cannot write " + path);
  return stats;
}

}  // namespace mm::gen::ese
