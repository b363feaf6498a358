// ESE database: header, pages, B-tree walks, long values and the catalog. Layouts are from the
// ESE format notes (libesedb's "Extensible Storage Engine (ESE) Database File (EDB) format")
// and were checked on the corpus files (../shared/fixtures/edb): the page checksum rule below,
// for instance, is what every page of those files satisfies.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "ese_impl.h"
#include "mailmill/format/ese/checksum.h"
#include "mailmill/format/ese/compression.h"
#include "mailmill/util/text.h"

namespace mm::ese {

Mapping::~Mapping() {
  if (mapped && base != nullptr) munmap(const_cast<char *>(base), size);
}

const char *db_state_name(DbState state) {
  switch (state) {
    case DbState::JustCreated: return "JustCreated";
    case DbState::DirtyShutdown: return "DirtyShutdown";
    case DbState::CleanShutdown: return "CleanShutdown";
    case DbState::BeingConverted: return "BeingConverted";
    case DbState::ForceDetach: return "ForceDetach";
    default: return "Unknown";
  }
}

std::string Header::state_line() const {
  if (clean()) return "database state is CleanShutdown";
  std::string s = "database state is ";
  s += db_state_name(state);
  if (state == DbState::Unknown) s += " (" + std::to_string(state_raw) + ")";
  s += " (not cleanly shut down): recover it with eseutil /r (or /p) before reading";
  return s;
}

std::string column_type_name(ColumnType type) {
  static const char *const names[] = {"Nil",      "Bit",        "UnsignedByte", "Short",
                                      "Long",     "Currency",   "IEEESingle",   "IEEEDouble",
                                      "DateTime", "Binary",     "Text",         "LongBinary",
                                      "LongText", "SLV",        "UnsignedLong", "LongLong",
                                      "GUID",     "UnsignedShort"};
  const u32 t = static_cast<u32>(type);
  if (t < sizeof(names) / sizeof(names[0])) return names[t];
  return "Type " + std::to_string(t);
}

const Column *TableDef::column(std::string_view n) const {
  for (const Column &c : columns)
    if (c.name == n) return &c;
  return nullptr;
}

const Column *TableDef::column_by_id(u32 id) const {
  for (const Column &c : columns)
    if (c.id == id) return &c;
  return nullptr;
}

namespace {

u32 xor_words(const char *p, u64 from, u64 to) {
  u32 x = 0;
  for (u64 i = from; i + 4 <= to; i += 4) x ^= load_le32(p + i);
  return x;
}

/// The header checksum: XOR of the 32-bit words from offset 4 to 4096, seed 0x89abcdef.
bool header_checksum_ok(const char *p) { return (xor_words(p, 4, 4096) ^ 0x89abcdefu) == load_le32(p); }

Result<Header> parse_header(ByteView file, u64 at) {
  if (file.size() < at + 4096)
    return Problem{ProblemCode::SourceTruncated, "file shorter than the ESE header", 0};
  const char *p = file.data() + at;
  if (load_le32(p + 4) != 0x89abcdefu)
    return Problem{ProblemCode::SourceNotPst, "not an ESE database (no 0x89abcdef signature)",
                   static_cast<i64>(at)};
  Header h;
  h.format_version = load_le32(p + 8);
  h.file_type = load_le32(p + 12);
  h.state_raw = load_le32(p + 52);
  h.state = h.state_raw >= 1 && h.state_raw <= 5 ? static_cast<DbState>(h.state_raw) : DbState::Unknown;
  h.format_revision = load_le32(p + 232);
  h.page_size = load_le32(p + 236);
  h.creation_format_version = load_le32(p + 340);
  h.creation_format_revision = load_le32(p + 344);
  h.checksum_ok = header_checksum_ok(p);
  h.checksum_scheme = h.format_revision >= 0x0b ? ChecksumScheme::EccXor : ChecksumScheme::LegacyXor;
  return h;
}

}  // namespace

Result<std::pair<ByteView, u8>> Page::tag(u32 i) const {
  if (i >= tag_count) return corrupt("page " + std::to_string(number) + ": no tag " + std::to_string(i));
  const u64 ps = bytes.size();
  const char *t = bytes.data() + ps - 4 * (static_cast<u64>(i) + 1);
  const u16 size_word = load_le16(t);
  const u16 off_word = load_le16(t + 2);
  const u32 mask = large ? 0x7fff : 0x1fff;
  const u64 size = size_word & mask;
  const u64 off = off_word & mask;
  const u64 start = header_size + off;
  const u64 tags_start = ps - 4 * static_cast<u64>(tag_count);
  if (start > tags_start || size > tags_start - start)
    return corrupt("page " + std::to_string(number) + ": tag " + std::to_string(i) +
                       " points past the page data",
                   static_cast<i64>(number));
  ByteView d = bytes.substr(start, size);
  u8 flags = 0;
  if (!large) {
    flags = static_cast<u8>(off_word >> 13);
  } else if (i > 0 && size >= 2) {
    flags = static_cast<u8>(static_cast<u8>(d[1]) >> 5);
  }
  return std::make_pair(d, flags);
}

Result<Entry> Page::entry(u32 i) const {
  auto t = tag(i);
  if (!t) return t.problem();
  const ByteView d = t->first;
  const u8 flags = t->second;
  Entry e;
  e.flags = flags;
  u64 pos = 0;
  bool first = true;
  auto read16 = [&](u64 &out) -> bool {
    if (pos + 2 > d.size()) return false;
    out = load_le16(d.data() + pos);
    if (first && large) out &= 0x1fff;
    first = false;
    pos += 2;
    return true;
  };
  const std::string where = "page " + std::to_string(number) + " entry " + std::to_string(i);
  u64 common = 0;
  if (flags & TAG_COMMON_KEY) {
    if (!read16(common)) return corrupt(where + ": truncated common key size");
    auto t0 = tag(0);
    if (!t0) return t0.problem();
    if (common > t0->first.size()) return corrupt(where + ": common key longer than the page prefix");
    e.prefix = t0->first.substr(0, common);
  }
  u64 local = 0;
  if (!read16(local)) return corrupt(where + ": truncated key size");
  if (local > d.size() - pos) return corrupt(where + ": key past the entry");
  e.local = d.substr(pos, local);
  e.data = d.substr(pos + local);
  return e;
}

Result<Page> DatabaseImpl::page(u32 n) const {
  const u64 ps = header.page_size;
  if (n == 0 || n > pages)
    return corrupt("page number " + std::to_string(n) + " outside the file (" +
                   std::to_string(pages) + " pages)");
  Page pg;
  pg.number = n;
  pg.bytes = file.substr((static_cast<u64>(n) + 1) * ps, ps);
  pg.large = header.large_pages();
  pg.header_size = pg.large ? 80 : 40;
  const char *p = pg.bytes.data();
  pg.prev = load_le32(p + 16);
  pg.next = load_le32(p + 20);
  pg.fdp_object = load_le32(p + 24);
  pg.tag_count = load_le16(p + 34);
  pg.flags = load_le32(p + 36);
  // Checksums. New format (flag 0x2000): the low 32 bits of each 64-bit checksum are the XOR of
  // its block's words (the first block from offset 8) with the page number; large pages have
  // four blocks, the checksums of blocks 1-3 at offsets 40, 48 and 56. Legacy: XOR of the words
  // from offset 4 with seed 0x89abcdef (offset 4 holding the page number).
  bool ok = true;
  std::atomic<u8> &seen = verified[n];
  if (seen.load(std::memory_order_relaxed) != 0 || !verify_checksums) {
    // verified before (by any thread): the map is immutable; or not verified at all
  } else if (pg.flags & PAGE_NEW_CHECKSUM) {
    // Both halves of each block's 64-bit checksum: the XOR and the ECC (checksum.h).
    if (pg.large) {
      const u64 bs = ps / 4;
      ok = page_block_checksum(pg.bytes.substr(0, bs), n, true) == load_le64(p);
      for (u64 b = 1; ok && b < 4; ++b)
        ok = page_block_checksum(pg.bytes.substr(b * bs, bs), n, false) ==
             load_le64(p + 40 + 8 * (b - 1));
      if (ok && load_le64(p + 64) != n) ok = false;
    } else {
      ok = page_block_checksum(pg.bytes, n, true) == load_le64(p);
    }
  } else {
    ok = (xor_words(p, 4, ps) ^ 0x89abcdefu) == load_le32(p);
  }
  if (ok) seen.store(1, std::memory_order_relaxed);
  if (!ok)
    return corrupt("page " + std::to_string(n) + ": checksum mismatch",
                   static_cast<i64>((static_cast<u64>(n) + 1) * ps));
  if (static_cast<u64>(pg.tag_count) * 4 + pg.header_size > ps)
    return corrupt("page " + std::to_string(n) + ": tag array larger than the page");
  return pg;
}

namespace {

int compare_keys(ByteView a, ByteView b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

Result<u32> child_of(const Entry &e, u32 page) {
  if (e.data.size() < 4) return corrupt("page " + std::to_string(page) + ": branch entry without a child");
  return load_le32(e.data.data() + e.data.size() - 4);
}

}  // namespace

Result<Page> DatabaseImpl::seek(u32 root, ByteView target) const {
  auto pg = page(root);
  if (!pg) return pg.problem();
  const u32 fdp = pg->fdp_object;
  for (int depth = 0;; ++depth) {
    if (pg->fdp_object != fdp)
      return corrupt("page " + std::to_string(pg->number) + " belongs to another tree");
    if (pg->leaf()) return pg;
    if (depth >= MAX_TREE_DEPTH) return corrupt("B-tree deeper than the limit (cycle?)");
    u32 child = 0;
    bool found = false;
    for (u32 i = 1; i < pg->tag_count; ++i) {
      auto e = pg->entry(i);
      if (!e) return e.problem();
      if (e->flags & TAG_DEFUNCT) continue;
      const bool last = i + 1 == pg->tag_count;
      if (target.empty() || last || compare_keys(e->key(), target) >= 0) {
        auto c = child_of(*e, pg->number);
        if (!c) return c.problem();
        child = *c;
        found = true;
        break;
      }
    }
    if (!found) return corrupt("branch page " + std::to_string(pg->number) + " has no entries");
    if (child == pg->number) return corrupt("page " + std::to_string(child) + " is its own child");
    pg = page(child);
    if (!pg) return pg.problem();
  }
}

Result<Bytes> DatabaseImpl::long_value(u32 lv_root, ByteView lid, bool compressed) const {
  if (lv_root == 0) return corrupt("separated value but the table has no long-value tree");
  // The key of a long value is its identifier in big-endian order; its chunks follow it, keyed
  // by identifier + big-endian 32-bit offset.
  std::string key;
  for (std::size_t i = lid.size(); i-- > 0;) key.push_back(lid[i]);
  auto pg = seek(lv_root, key);
  if (!pg) return pg.problem();
  const u32 fdp = pg->fdp_object;
  // Chunks are keyed by their offset in the uncompressed value. A compressed value stores each
  // chunk compressed on its own (seen in stroz__decompress_test2.edb): a chunk shorter than the
  // gap to the next offset is decompressed, one of exactly that size is kept as it is. The
  // record does not flag such values as compressed (stroz__test.edb LongText), so the sizes
  // decide, whatever `compressed` says.
  std::vector<std::pair<u64, ByteView>> chunks;
  bool have_root = false;
  u64 total = 0;
  u64 leaves = 0;
  for (;;) {
    for (u32 i = 1; i < pg->tag_count; ++i) {
      auto e = pg->entry(i);
      if (!e) return e.problem();
      if (e->flags & TAG_DEFUNCT) continue;
      const std::string k = e->key();
      if (k.size() < key.size() || k.compare(0, key.size(), key) < 0) continue;
      if (k.compare(0, key.size(), key) > 0) goto done;
      if (k.size() == key.size()) {
        if (e->data.size() < 8) return corrupt("long value root shorter than 8 bytes");
        total = load_le32(e->data.data() + 4);
        if (total > MAX_LONG_VALUE_BYTES)
          return Problem{ProblemCode::LimitExceeded, "long value larger than the limit", -1};
        have_root = true;
      } else if (k.size() == key.size() + 4) {
        if (!have_root) return corrupt("long value chunk before its root");
        const u32 off = static_cast<u32>(static_cast<u8>(k[key.size()])) << 24 |
                        static_cast<u32>(static_cast<u8>(k[key.size() + 1])) << 16 |
                        static_cast<u32>(static_cast<u8>(k[key.size() + 2])) << 8 |
                        static_cast<u32>(static_cast<u8>(k[key.size() + 3]));
        if (!chunks.empty() && off <= chunks.back().first)
          return corrupt("long value chunk offsets out of order");
        if (off >= total) return corrupt("long value chunk beyond its size");
        chunks.emplace_back(off, e->data);
      } else {
        return corrupt("long value key of unexpected size " + std::to_string(k.size()));
      }
    }
    if (pg->next == 0) break;
    if (++leaves > pages) return corrupt("long-value leaf chain longer than the file (cycle)");
    auto nx = page(pg->next);
    if (!nx) return nx.problem();
    if (nx->fdp_object != fdp || !nx->leaf()) return corrupt("long-value leaf chain leaves its tree");
    pg = std::move(nx);
  }
done:
  if (!have_root) return corrupt("long value " + text::to_hex(lid) + " not found");
  Bytes out;
  out.reserve(total);
  Bytes plain;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const u64 off = chunks[i].first;
    const u64 share = (i + 1 < chunks.size() ? chunks[i + 1].first : total) - off;
    if (off != out.size())
      return corrupt("long value chunk at offset " + std::to_string(off) + ", expected " +
                     std::to_string(out.size()));
    ByteView d = chunks[i].second;
    if (d.size() == share) {
      out.append(d);
    } else if (d.size() < share) {
      Status s = decompress_value(d, plain);
      if (!s) return s.problem();
      if (plain.size() != share)
        return corrupt("long value chunk decompresses to " + std::to_string(plain.size()) +
                       " bytes, expected " + std::to_string(share));
      out.append(plain);
    } else {
      return corrupt("long value chunk at offset " + std::to_string(off) + " has " +
                     std::to_string(d.size()) + " bytes, expected " + std::to_string(share));
    }
  }
  if (out.size() != total)
    return corrupt("long value has " + std::to_string(out.size()) + " of " + std::to_string(total) +
                   " bytes");
  return out;
}

// --- records -----------------------------------------------------------------------------

RecordRange::RecordRange(std::shared_ptr<const DatabaseImpl> db, const TableDef *def)
    : db_(std::move(db)), def_(def) {}

bool RecordRange::load_leaf(u32 n) {
  auto pg = db_->page(n);
  if (!pg) {
    problem_ = pg.problem();
    return false;
  }
  if (pg->fdp_object != fdp_object_ || !pg->leaf()) {
    problem_ = corrupt("leaf chain of table " + def_->name + " leaves its tree at page " + std::to_string(n));
    return false;
  }
  if (++leaves_seen_ > db_->pages) {
    problem_ = corrupt("leaf chain of table " + def_->name + " longer than the file (cycle)");
    return false;
  }
  leaf_ = n;
  leaf_entries_.clear();
  for (u32 i = pg->tag_count; i-- > 1;) leaf_entries_.push_back(i);
  return true;
}

RecordRange::Iterator RecordRange::begin() {
  if (started_) return Iterator();
  started_ = true;
  auto root = db_->page(def_->fdp_page);
  if (!root) {
    problem_ = root.problem();
    return Iterator();
  }
  fdp_object_ = root->fdp_object;
  auto leaf = db_->seek(def_->fdp_page, {});
  if (!leaf) {
    problem_ = leaf.problem();
    return Iterator();
  }
  if (!load_leaf(leaf->number)) return Iterator();
  return advance() ? Iterator(this) : Iterator();
}

bool RecordRange::advance() {
  for (;;) {
    while (!leaf_entries_.empty()) {
      const u32 i = leaf_entries_.back();
      leaf_entries_.pop_back();
      auto pg = db_->page(leaf_);
      if (!pg) {
        problem_ = pg.problem();
        return false;
      }
      auto e = pg->entry(i);
      if (!e) {
        problem_ = e.problem();
        return false;
      }
      if (e->flags & TAG_DEFUNCT) continue;
      current_ = Record(db_.get(), def_, e->key(), e->data, leaf_);
      return true;
    }
    auto pg = db_->page(leaf_);
    if (!pg) {
      problem_ = pg.problem();
      return false;
    }
    if (pg->next == 0) return false;
    if (!load_leaf(pg->next)) return false;
  }
}

Result<std::vector<Record>> Table::read_all() const {
  std::vector<Record> out;
  RecordRange r = records();
  for (const Record &rec : r) out.push_back(rec);
  if (r.problem()) return *r.problem();
  return out;
}

Result<Bytes> Table::long_value(ByteView lid) const { return db_->long_value(def_->lv_page, lid); }

Value Record::value(const Column &column) const { return decode_value(*db_, *def_, data_, column); }

Value Record::value(std::string_view name) const {
  const Column *c = def_->column(name);
  if (c == nullptr) {
    Value v;
    v.state = Value::State::Error;
    v.error = "no column " + std::string(name);
    return v;
  }
  return value(*c);
}

// --- catalog -------------------------------------------------------------------------------

namespace {

/// The fixed layout of MSysObjects, enough to read the catalog (which then describes itself).
TableDef bootstrap_catalog() {
  TableDef t;
  t.object_id = 2;
  t.name = "MSysObjects";
  t.fdp_page = 4;
  auto add = [&](u32 id, const char *name, ColumnType type, u32 space) {
    Column c;
    c.id = id;
    c.name = name;
    c.type = type;
    c.space = space;
    c.codepage = 1252;
    t.columns.push_back(c);
  };
  add(1, "ObjidTable", ColumnType::Long, 4);
  add(2, "Type", ColumnType::Short, 2);
  add(3, "Id", ColumnType::Long, 4);
  add(4, "ColtypOrPgnoFDP", ColumnType::Long, 4);
  add(5, "SpaceUsage", ColumnType::Long, 4);
  add(6, "Flags", ColumnType::Long, 4);
  add(7, "PagesOrLocale", ColumnType::Long, 4);
  add(8, "RootFlag", ColumnType::Bit, 1);
  add(9, "RecordOffset", ColumnType::Short, 2);
  add(10, "LCMapFlags", ColumnType::Long, 4);
  add(11, "KeyMost", ColumnType::UnsignedShort, 2);
  add(12, "LVChunkMax", ColumnType::Long, 4);
  add(128, "Name", ColumnType::Text, 255);
  add(129, "Stats", ColumnType::Binary, 255);
  add(130, "TemplateTable", ColumnType::Text, 255);
  add(131, "DefaultValue", ColumnType::Binary, 255);
  return t;
}

Status read_catalog(const std::shared_ptr<DatabaseImpl> &db) {
  TableDef boot = bootstrap_catalog();
  std::vector<u32> order;
  std::map<u32, TableDef> by_obj;
  RecordRange range(db, &boot);
  i64 n = 0;
  for (const Record &rec : range) {
    ++n;
    auto geti = [&](const char *name) -> i64 {
      Value v = rec.value(name);
      auto i = v.as_int();
      return i ? *i : 0;
    };
    const u32 objid = static_cast<u32>(geti("ObjidTable"));
    const i64 type = geti("Type");
    const u32 id = static_cast<u32>(geti("Id"));
    const u32 coltyp = static_cast<u32>(geti("ColtypOrPgnoFDP"));
    Value namev = rec.value("Name");
    std::string name(namev.bytes());
    if (type == 1) {
      TableDef &t = by_obj[objid];
      if (std::find(order.begin(), order.end(), objid) == order.end()) order.push_back(objid);
      t.object_id = objid;
      t.name = name;
      t.fdp_page = coltyp;
      t.template_table = std::string(rec.value("TemplateTable").bytes());
    } else if (type == 2) {
      Column c;
      c.id = id;
      c.name = name;
      c.type = static_cast<ColumnType>(coltyp);
      c.space = static_cast<u32>(geti("SpaceUsage"));
      c.flags = static_cast<u32>(geti("Flags"));
      c.codepage = static_cast<u32>(geti("PagesOrLocale"));
      c.default_value = Bytes(rec.value("DefaultValue").bytes());
      by_obj[objid].columns.push_back(std::move(c));
    } else if (type == 3) {
      IndexDef x;
      x.id = id;
      x.name = name;
      x.fdp_page = coltyp;
      x.flags = static_cast<u32>(geti("Flags"));
      by_obj[objid].indexes.push_back(std::move(x));
    } else if (type == 4) {
      by_obj[objid].lv_page = coltyp;
    }
  }
  if (range.problem()) {
    Problem p = *range.problem();
    p.detail = "catalog: " + p.detail;
    return p;
  }
  if (n == 0) return corrupt("catalog (MSysObjects) is empty");
  for (u32 objid : order) {
    TableDef &t = by_obj[objid];
    std::stable_sort(t.columns.begin(), t.columns.end(),
                     [](const Column &a, const Column &b) { return a.id < b.id; });
    db->tables.push_back(std::move(t));
  }
  return {};
}

Result<Database> build(std::shared_ptr<Mapping> map, const OpenOptions &opts) {
  auto db = std::make_shared<DatabaseImpl>();
  db->verify_checksums = opts.verify_checksums;
  db->map = std::move(map);
  db->file = ByteView(db->map->base, db->map->size);
  auto h = parse_header(db->file, 0);
  if (!h) return h.problem();
  Header hdr = *h;
  // The shadow copy sits at the page size; read it when the page size is plausible.
  const u32 ps = hdr.page_size;
  const bool ps_ok = ps == 4096 || ps == 8192 || ps == 16384 || ps == 32768;
  if (ps_ok && db->file.size() >= 2ull * ps) {
    auto sh = parse_header(db->file, ps);
    if (sh) {
      hdr.shadow_present = true;
      hdr.shadow_checksum_ok = sh->checksum_ok;
      if (!hdr.checksum_ok && sh->checksum_ok) {
        const bool shadow_present = true;
        hdr = *sh;
        hdr.shadow_present = shadow_present;
        hdr.shadow_checksum_ok = true;
        hdr.checksum_ok = false;
        hdr.used_shadow = true;
      }
    }
  }
  if (!hdr.checksum_ok && !hdr.used_shadow && opts.verify_checksums)
    return corrupt("database header checksum mismatch (and no valid shadow header)", 0);
  if (!(hdr.page_size == 4096 || hdr.page_size == 8192 || hdr.page_size == 16384 ||
        hdr.page_size == 32768))
    return corrupt("unsupported page size " + std::to_string(hdr.page_size), 236);
  if (hdr.file_type != 0) return corrupt("not a database file (a streaming file?)", 12);
  db->header = hdr;
  if (db->file.size() < 2ull * hdr.page_size)
    return Problem{ProblemCode::SourceTruncated, "file shorter than its two header pages", 0};
  db->pages = db->file.size() / hdr.page_size - 2;
  db->verified = std::make_unique<std::atomic<u8>[]>(db->pages + 1);
  if (db->pages < 4)
    return Problem{ProblemCode::SourceTruncated, "file too short to hold the catalog", 0};
  Status s = read_catalog(db);
  if (!s) return s.problem();
  return Database(std::move(db));
}

}  // namespace

Result<Database> Database::open(const std::string &path, const OpenOptions &opts) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Problem{ProblemCode::SourceUnreadable, path + ": " + std::strerror(errno), -1};
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return Problem{ProblemCode::SourceUnreadable, path + ": " + std::strerror(e), -1};
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<u64>(st.st_size);
  if (map->size > 0) {
    void *addr = mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return Problem{ProblemCode::SourceUnreadable, path + ": mmap: " + std::strerror(e), -1};
    }
    map->base = static_cast<const char *>(addr);
    map->mapped = true;
  }
  ::close(fd);
  auto r = build(std::move(map), opts);
  if (!r) {
    Problem p = r.problem();
    p.detail = path + ": " + p.detail;
    return p;
  }
  return r;
}

Result<Database> Database::open_bytes(ByteView bytes, const OpenOptions &opts) {
  auto map = std::make_shared<Mapping>();
  map->base = bytes.data();
  map->size = bytes.size();
  return build(std::move(map), opts);
}

const Header &Database::header() const { return impl_->header; }
const std::vector<TableDef> &Database::tables() const { return impl_->tables; }
u64 Database::page_count() const { return impl_->pages; }

void Database::release_pages() const {
  const Mapping &m = *impl_->map;
  if (m.mapped && m.size > 0)
    ::madvise(const_cast<char *>(m.base), m.size, MADV_DONTNEED);  // read-only file pages
}

Result<Table> Database::table(std::string_view name) const {
  for (const TableDef &t : impl_->tables)
    if (t.name == name) return Table(impl_, &t);
  return corrupt("no table " + std::string(name));
}

}  // namespace mm::ese
