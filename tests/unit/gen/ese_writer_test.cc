// ESE writer: every database written here is read back by an independent reader, libesedb's
// esedbinfo/esedbexport (Debian libesedb-utils 20181229), and compared cell by cell with what
// was written; never by our own ESE reader (that would be a round trip, not an oracle).
//
// What esedbexport 20181229 cannot check, and how it is checked instead (each limitation is
// reproduced on files written by Windows' own engine in ../shared/fixtures/edb):
// - IEEESingle prints as 0.000000 whatever the value (dissect__basic.edb shows the same):
//   not compared.
// - Multi-values of fixed-size types export as empty (dissect__multi.edb row 1 too): the
//   record count is checked; text multi-values are compared ("; "-joined).
// - Non-BMP characters come out 0x3FF too low (dissect__multi.edb: U+1F98A prints as U+1F58B):
//   expected text is shifted the same way, and FixtureShowsLibesedbSurrogateShift proves the
//   shift is libesedb's, not ours.
// - 7-bit compressed 8-bit text of even length is decoded as UTF-16 (mojibake); odd lengths
//   decode right (stroz__decompress_test.edb uses 17-char strings): compared for odd lengths,
//   counted through WriteStats for even ones.
// - Separated long values are looked up by key, and libesedb builds a wrong key for any
//   B-tree node with a non-empty local key and descends only where root keys send it (see
//   build_lv_tree in ese_writer.cc; dissect__text.edb: LIDs 1 and 5 export, LID 2 does not,
//   SeparatedLongValueLookupFailsOnWindowsFileToo). The writer lays long-value trees out so
//   that every key libesedb needs is read right, and separated values are compared byte for
//   byte like the others, with no "Unable to retrieve long value" in its log.
// - Page checksums are not verified by libesedb: page_block_checksum is checked against every
//   page of a Windows-written 8 KiB and 32 KiB file, then against every page we write.
#include "mailmill/gen/ese_writer.h"
#include "mailmill/format/ese/checksum.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::gen::ese {
namespace {

using testing::q;
using testing::read_file;
// testing::run discards the command's output; the parentheses keep our own redirections.
int run(const std::string &cmd) { return testing::run("(" + cmd + ")"); }

bool have_esedb_tools() {
  if (run("command -v esedbexport >/dev/null 2>&1 && command -v esedbinfo >/dev/null 2>&1") == 0)
    return true;
  const char *ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") ADD_FAILURE() << "esedbexport missing under CI=true";
  return false;
}
#define REQUIRE_ESEDB()                                               \
  do {                                                                \
    if (!have_esedb_tools()) GTEST_SKIP() << "libesedb-utils absent"; \
  } while (0)

using Grid = std::vector<std::vector<std::string>>;

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// Runs esedbexport on `db` and returns the rows (header first) of table `name`.
Grid export_table(const std::string &dir, const std::string &db, const std::string &name,
                  std::string *log = nullptr) {
  const std::string out = dir + "/x";
  EXPECT_EQ(run("rm -rf " + q(out + ".export") + " && esedbexport -l " + q(dir + "/log.txt") +
                " -t " + q(out) + " " + q(db) + " >/dev/null 2>&1"),
            0);
  if (log) read_file(dir + "/log.txt", *log);
  std::string listing;
  run("ls " + q(out + ".export") + " > " + q(dir + "/ls.txt"));
  read_file(dir + "/ls.txt", listing);
  for (const std::string &f : split(listing, '\n')) {
    if (f.rfind(name + ".", 0) != 0) continue;
    std::string body;
    read_file(out + ".export/" + f, body);
    Grid g;
    for (const std::string &line : split(body, '\n'))
      if (!line.empty()) g.push_back(split(line, '\t'));
    return g;
  }
  ADD_FAILURE() << "table " << name << " not exported";
  return {};
}

std::string hex(ByteView b) { return text::to_hex(b); }

// libesedb decodes a surrogate pair to the code point minus 0x3FF (see the file comment).
std::string libesedb_text(const std::string &utf8) {
  const Bytes u16 = text::utf8_to_utf16le(utf8);
  std::string out;
  for (std::size_t i = 0; i + 1 < u16.size(); i += 2) {
    u32 c = load_le16(u16.data() + i);
    if (c >= 0xD800 && c < 0xDC00 && i + 3 < u16.size()) {
      const u32 lo = load_le16(u16.data() + i + 2);
      c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00) - 0x3FF;
      i += 2;
    }
    text::append_utf8(out, c);
  }
  return out;
}

// esedbexport's rendering of one value of `type` (see the file comment for the exceptions).
std::string render(ColumnType type, const Bytes &v, u32 codepage) {
  char buf[64];
  switch (type) {
    case ColumnType::Bit:
      return v[0] ? "true" : "false";
    case ColumnType::UnsignedByte:
      return std::to_string(static_cast<u8>(v[0]));
    case ColumnType::Short:
      return std::to_string(static_cast<std::int16_t>(load_le16(v.data())));
    case ColumnType::UnsignedShort:
      return std::to_string(load_le16(v.data()));
    case ColumnType::Long:
      return std::to_string(static_cast<i32>(load_le32(v.data())));
    case ColumnType::UnsignedLong:
      return std::to_string(load_le32(v.data()));
    case ColumnType::LongLong:
      return std::to_string(static_cast<i64>(load_le64(v.data())));
    case ColumnType::Currency:
      return std::to_string(load_le64(v.data()));
    case ColumnType::IEEEDouble: {
      double d;
      std::memcpy(&d, v.data(), 8);
      std::snprintf(buf, sizeof buf, "%f", d);
      return buf;
    }
    case ColumnType::DateTime:
      std::snprintf(buf, sizeof buf, "(0x%08x 0x%08x)", load_le32(v.data() + 4),
                    load_le32(v.data()));
      return buf;
    case ColumnType::Text:
    case ColumnType::LongText:
      return codepage == 1200 ? libesedb_text(text::utf16le_to_utf8(v)) : v;
    default:
      return hex(v);
  }
}

std::string render_cell(const Column &c, const Cell &cell) {
  std::string s;
  for (std::size_t i = 0; i < cell.size(); ++i) {
    if (i) s += "; ";
    s += render(c.type, cell[i], c.codepage);
  }
  return s;
}

const Cell *find_cell(const Row &r, u32 id) {
  for (const auto &[cid, cell] : r.cells)
    if (cid == id) return &cell;
  return nullptr;
}

// Compares every exported cell with the written rows; `skip` says which cells esedbexport
// cannot render (returns true to skip).
template <class Skip>
void compare_export(const Table &t, const Grid &g, Skip skip) {
  ASSERT_EQ(g.size(), t.rows.size() + 1) << "row count of " << t.name;
  ASSERT_EQ(g[0].size(), t.columns.size());
  for (std::size_t c = 0; c < t.columns.size(); ++c) EXPECT_EQ(g[0][c], t.columns[c].name);
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    ASSERT_EQ(g[r + 1].size(), t.columns.size()) << "row " << r;
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const Column &col = t.columns[c];
      const Cell *cell = find_cell(t.rows[r], col.id);
      if (skip(t.rows[r], col, cell)) continue;
      const std::string want = cell ? render_cell(col, *cell) : "";
      EXPECT_EQ(g[r + 1][c], want) << t.name << " row " << r << " column " << col.name;
    }
  }
}

Column col(u32 id, const char *name, ColumnType type, u32 cp = 0, bool mv = false,
           bool compressed = false) {
  Column c;
  c.id = id;
  c.name = name;
  c.type = type;
  c.codepage = cp;
  c.multi_valued = mv;
  c.compressed = compressed;
  return c;
}

u64 mix(u64 x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

// A table with every column type as fixed, variable and tagged columns, NULLs, multi-values,
// Unicode with non-BMP characters and compressed long text.
Table all_types_table(int rows) {
  Table t;
  t.name = "AllTypes";
  t.columns = {col(1, "Id", ColumnType::Long),
               col(2, "Bit", ColumnType::Bit),
               col(3, "UnsignedByte", ColumnType::UnsignedByte),
               col(4, "Short", ColumnType::Short),
               col(5, "Currency", ColumnType::Currency),
               col(6, "IEEESingle", ColumnType::IEEESingle),
               col(7, "IEEEDouble", ColumnType::IEEEDouble),
               col(8, "DateTime", ColumnType::DateTime),
               col(9, "UnsignedLong", ColumnType::UnsignedLong),
               col(10, "LongLong", ColumnType::LongLong),
               col(11, "GUID", ColumnType::GUID),
               col(12, "UnsignedShort", ColumnType::UnsignedShort),
               col(128, "Binary", ColumnType::Binary),
               col(129, "TextUnicode", ColumnType::Text, 1200),
               col(130, "TextAscii", ColumnType::Text, 1252),
               col(256, "TaggedLong", ColumnType::Long),
               col(257, "TaggedBinary", ColumnType::Binary),
               col(258, "TaggedText", ColumnType::Text, 1200),
               col(259, "LongBinary", ColumnType::LongBinary),
               col(260, "LongText", ColumnType::LongText, 1200),
               col(261, "MultiText", ColumnType::Text, 1200, true),
               col(262, "MultiLongText", ColumnType::LongText, 1252, true),
               col(263, "MultiLong", ColumnType::Long, 0, true),
               col(264, "CompressedUnicode", ColumnType::LongText, 1200, false, true),
               col(265, "CompressedAscii", ColumnType::LongText, 1252, false, true),
               col(266, "TaggedGUID", ColumnType::GUID),
               col(267, "TaggedDouble", ColumnType::IEEEDouble)};
  const char *words[] = {"alpha", "Grüße", "日本語", "emoji 🖋 pen", "𝄞 clef", "plain"};
  for (int i = 0; i < rows; ++i) {
    const u64 h = mix(static_cast<u64>(i) + 1);
    Row r;
    r.set(1, encode_i32(i));
    if (i % 7 != 3) {  // every 7th row has NULL fixed columns in the middle
      r.set(2, encode_bit(i % 2)).set(3, encode_u8(static_cast<u8>(h)));
      r.set(4, encode_i16(static_cast<std::int16_t>(h >> 8)));
      r.set(5, encode_i64(static_cast<i64>(h) >> 3)).set(6, encode_f32(1.5f * i));
    }
    r.set(7, encode_f64(i * 3.25 - 7.5)).set(8, encode_f64(43831.25 + i));
    r.set(9, encode_u32(static_cast<u32>(h >> 16))).set(10, encode_i64(-static_cast<i64>(h >> 5)));
    Bytes guid(16, '\0');
    for (int k = 0; k < 16; ++k) guid[k] = static_cast<char>(h >> (k % 8 * 8));
    r.set(11, guid);
    if (i % 5 != 0) r.set(12, encode_u16(static_cast<u16>(h >> 40)));
    r.set(128, Bytes(static_cast<std::size_t>(i % 40), static_cast<char>(i)));
    if (i % 4 != 1) r.set(129, encode_utf16(std::string(words[i % 6]) + " " + std::to_string(i)));
    r.set(130, "ascii value " + std::to_string(i));
    if (i % 3 == 0) r.set(256, encode_i32(-i));
    if (i % 2 == 0) r.set(257, Bytes(static_cast<std::size_t>(1 + i % 200), 'b'));
    r.set(258, encode_utf16(words[(i + 2) % 6]));
    if (i % 3 != 2) r.set(259, Bytes(static_cast<std::size_t>(i * 7 % 900), static_cast<char>(h)));
    r.set(260, encode_utf16(std::string(static_cast<std::size_t>(i % 300), 'L') + words[i % 6]));
    if (i % 2 == 1)
      r.set_multi(261, {encode_utf16("one"), encode_utf16(words[i % 6]), encode_utf16("three")});
    else if (i % 4 == 0)
      r.set_multi(261, {encode_utf16("first"), encode_utf16("second")});
    if (i % 3 == 0) r.set_multi(262, {"mv long a", "mv long b " + std::to_string(i)});
    if (i % 2 == 0) r.set_multi(263, {encode_i32(1), encode_i32(i), encode_i32(-3)});
    r.set(264, encode_utf16("Compressed unicode value number " + std::to_string(i)));
    std::string ascii = "compressed ascii " + std::to_string(i);
    if (i % 2 == 0 && ascii.size() % 2 == 0) ascii += "!";  // even rows: odd length
    r.set(265, ascii);
    if (i % 6 == 1) r.set(266, guid);
    if (i % 2 == 0) r.set(267, encode_f64(i / 8.0));
    t.rows.push_back(std::move(r));
  }
  return t;
}

// libesedb ignores the fixed columns' NULL bitmap: a NULL fixed column before the last one
// set exports as the zero bytes that hold its place (the catalog of dissect__binary.edb shows
// RootFlag "true" where the Windows engine marked it NULL). Only those cells are skipped; NULL
// fixed columns after the last set one are left out of the record and compared (empty).
bool mid_record_null(const Row &r, u32 id) {
  for (const auto &[cid, cell] : r.cells)
    if (cid > id && cid < 128 && !cell.empty()) return true;
  return false;
}

void check_all_types(u32 page_size) {
  const std::string dir = testing::make_tmp_dir("mm_ese");
  const std::string db = dir + "/all.edb";
  WriteOptions o;
  o.page_size = page_size;
  const Table t = all_types_table(60);
  const WriteStats st = write_database(db, {t}, o);
  EXPECT_GT(st.compressed_values, 60u);
  EXPECT_EQ(run("esedbinfo " + q(db) + " > " + q(dir + "/info.txt") + " 2>&1"), 0);
  std::string info;
  read_file(dir + "/info.txt", info);
  EXPECT_NE(info.find("Page size:\t\t" + std::to_string(page_size) + " bytes"), std::string::npos);
  EXPECT_NE(info.find("Current format:\t\t0x620,20"), std::string::npos);
  EXPECT_NE(info.find("AllTypes (8)"), std::string::npos);
  const Grid g = export_table(dir, db, "AllTypes");
  compare_export(t, g, [&](const Row &row, const Column &c, const Cell *cell) {
    if (c.type == ColumnType::IEEESingle) return true;
    if (!cell && c.id < 128 && mid_record_null(row, c.id)) return true;
    if (cell && cell->size() > 1 && fixed_size(c.type) != 0) return true;
    if (cell && c.id == 265 && (*cell)[0].size() % 2 == 0) return true;
    return false;
  });
  // The catalog as esedbexport reads it: the table, every column with its type, the flags
  // for multi-valued (0x8) and compressed (0x1000) columns, codepages.
  const Grid cat = export_table(dir, db, "MSysObjects");
  int columns = 0;
  for (const auto &row : cat) {
    if (row.size() < 13 || row[0] != "8") continue;
    if (row[1] == "1") {
      EXPECT_EQ(row[12], "AllTypes");
    }
    if (row[1] != "2") continue;
    ++columns;
    for (const Column &c : t.columns)
      if (std::to_string(c.id) == row[2]) {
        EXPECT_EQ(row[12], c.name);
        EXPECT_EQ(row[3], std::to_string(static_cast<u32>(c.type)));
        EXPECT_EQ(row[5], std::to_string((c.multi_valued ? 8 : 0) | (c.compressed ? 4096 : 0)));
      }
  }
  EXPECT_EQ(columns, static_cast<int>(t.columns.size()));
  // Every page we wrote carries the checksum ESE expects (the function itself is validated
  // against Windows-written pages in ChecksumMatchesWindowsPages).
  std::string file;
  ASSERT_TRUE(read_file(db, file));
  ASSERT_EQ(file.size() % page_size, 0u);
  for (u32 pg = 1; pg + 1 < file.size() / page_size; ++pg) {
    const char *p = file.data() + static_cast<u64>(pg + 1) * page_size;
    if (load_le64(p + 8) == 0) continue;  // unused catalog page: all zero
    EXPECT_EQ(load_le64(p), ::mm::ese::page_block_checksum(ByteView(p, 8192), pg, true)) << "page " << pg;
    for (u32 k = 1; k < page_size / 8192; ++k)
      EXPECT_EQ(load_le64(p + 40 + 8 * (k - 1)),
                ::mm::ese::page_block_checksum(ByteView(p + 8192 * k, 8192), pg, false));
  }
}

TEST(EseWriter, AllColumnTypes8K) {
  REQUIRE_ESEDB();
  check_all_types(8192);
}

TEST(EseWriter, AllColumnTypes32K) {
  REQUIRE_ESEDB();
  check_all_types(32768);
}

// Enough rows for a three-level tree on 8 KiB pages; esedbexport walks every leaf.
void check_many_rows(u32 page_size, int rows, u32 min_depth) {
  const std::string dir = testing::make_tmp_dir("mm_ese");
  const std::string db = dir + "/many.edb";
  Table t;
  t.name = "Many";
  t.columns = {col(1, "Id", ColumnType::Long), col(2, "Value", ColumnType::LongLong),
               col(128, "Payload", ColumnType::Binary), col(256, "Label", ColumnType::Text, 1200)};
  for (int i = 0; i < rows; ++i) {
    Row r;
    r.set(1, encode_i32(i)).set(2, encode_i64(static_cast<i64>(mix(i))));
    r.set(128, Bytes(static_cast<std::size_t>(150 + i % 100), static_cast<char>('a' + i % 26)));
    if (i % 10) r.set(256, encode_utf16("row " + std::to_string(i)));
    t.rows.push_back(std::move(r));
  }
  WriteOptions o;
  o.page_size = page_size;
  const WriteStats st = write_database(db, {t}, o);
  EXPECT_GE(st.max_tree_depth, min_depth);
  const Grid g = export_table(dir, db, "Many");
  compare_export(t, g, [](const Row &, const Column &, const Cell *) { return false; });
  run("rm -rf " + q(dir));
}

TEST(EseWriter, TwentyThousandRowsMultiLevel8K) {
  REQUIRE_ESEDB();
  check_many_rows(8192, 20000, 3);
}

TEST(EseWriter, TwentyThousandRowsMultiLevel32K) {
  REQUIRE_ESEDB();
  check_many_rows(32768, 20000, 2);
}

// Long values of 0, 1, chunk - 1, chunk, chunk + 1 and several chunks, `repeat` times (more
// values: a deeper long-value tree): every cell, intrinsic or separated, is compared through
// esedbexport, and libesedb must find every separated one.
void check_long_values(u32 page_size, u32 inline_max, int repeat = 1, WriteStats *stats = nullptr) {
  const std::string dir = testing::make_tmp_dir("mm_ese");
  const std::string db = dir + "/lv.edb";
  WriteOptions o;
  o.page_size = page_size;
  o.lv_inline_max = inline_max;
  const u32 chunk = page_size <= 8192 ? page_size - 82 : page_size - 122;
  const std::vector<u32> sizes = {0, 1, 100, chunk - 1, chunk, chunk + 1, 3 * chunk + 5};
  Table t;
  t.name = "Lv";
  t.columns = {col(1, "Id", ColumnType::Long), col(256, "Blob", ColumnType::LongBinary),
               col(257, "Body", ColumnType::LongText, 1200)};
  for (int rep = 0; rep < repeat; ++rep)
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const u64 n = rep * sizes.size() + i;
      Bytes blob(sizes[i], '\0');
      for (u32 k = 0; k < sizes[i]; ++k) blob[k] = static_cast<char>(mix(n * 1000003 + k));
      Row r;
      r.set(1, encode_i32(static_cast<i32>(n))).set(256, blob);
      r.set(257, encode_utf16(std::string((sizes[i] / 2 + 37 * rep) % 700, 'x') + "é"));
      t.rows.push_back(std::move(r));
    }
  const WriteStats st = write_database(db, {t}, o);
  if (stats) *stats = st;
  EXPECT_EQ(st.lv_chunk_size, chunk);
  u32 separated = 0;
  for (const Row &r : t.rows)
    for (const auto &[id, cell] : r.cells)
      if (id != 1 && cell[0].size() > inline_max) ++separated;
  EXPECT_EQ(st.separated_values, separated);
  EXPECT_GT(separated, 0u);
  EXPECT_GE(st.max_lv_tree_depth, 2u);
  std::string log;
  const Grid g = export_table(dir, db, "Lv", &log);
  compare_export(t, g, [](const Row &, const Column &, const Cell *) { return false; });
  EXPECT_EQ(log.find("Unable to retrieve long value"), std::string::npos) << log;
  // Every chunk of every separated value is in the file, whole, inside one page.
  std::string file;
  ASSERT_TRUE(read_file(db, file));
  for (const Row &r : t.rows) {
    const Bytes &v = find_cell(r, 256)->at(0);
    if (v.size() <= inline_max) continue;
    for (std::size_t off = 0; off < v.size(); off += chunk) {
      const Bytes piece = v.substr(off, chunk);
      const std::size_t at = file.find(piece);
      ASSERT_NE(at, std::string::npos) << "chunk at " << off << " of " << v.size();
      EXPECT_EQ(at / page_size, (at + piece.size() - 1) / page_size);
    }
  }
  const Grid cat = export_table(dir, db, "MSysObjects");
  bool lv_entry = false;
  for (const auto &row : cat)
    if (row.size() > 12 && row[0] == "8" && row[1] == "4" && row[12] == "LV") lv_entry = true;
  EXPECT_TRUE(lv_entry);
  run("rm -rf " + q(dir));
}

TEST(EseWriter, LongValues8K) {
  REQUIRE_ESEDB();
  check_long_values(8192, 1024);
}

TEST(EseWriter, LongValuesAllSeparated8K) {
  REQUIRE_ESEDB();
  check_long_values(8192, 0);
}

TEST(EseWriter, LongValues32K) {
  REQUIRE_ESEDB();
  check_long_values(32768, 1024);
}

TEST(EseWriter, LongValuesAllSeparated32K) {
  REQUIRE_ESEDB();
  check_long_values(32768, 0);
}

// 130 separated values in 170 leaf pages: a long-value tree ten levels deep.
TEST(EseWriter, ManyLongValuesDeepTree8K) {
  REQUIRE_ESEDB();
  WriteStats st;
  check_long_values(8192, 0, 10, &st);
  EXPECT_EQ(st.max_lv_tree_depth, 10u);
}

// The long-value lookup failure is libesedb's: on a file Windows wrote, it finds the separated
// values whose tree nodes have empty local keys (LID 1 and 5: LongASCII, MaxLongUnicode) and
// not LID 2 (LongUnicode), whose root node's key is the page prefix 000000 plus the local key
// byte 02. (LIDs 3, 4 and 6 are XPRESS-compressed, which libesedb 20181229 does not read.)
TEST(EseWriter, SeparatedLongValueLookupFailsOnWindowsFileToo) {
  REQUIRE_ESEDB();
  MM_REQUIRE_CORPUS();
  const std::string src = testing::corpus_path("edb/dissect__text.edb");
  const std::string dir = testing::make_tmp_dir("mm_ese");
  std::string log;
  const Grid g = export_table(dir, src, "text", &log);
  ASSERT_EQ(g.size(), 2u);
  std::map<std::string, std::string> row;
  for (std::size_t c = 0; c < g[0].size() && c < g[1].size(); ++c) row[g[0][c]] = g[1][c];
  EXPECT_EQ(row["LongASCII"].rfind("Long ASCII text aaa", 0), 0u);         // LID 1, found
  EXPECT_EQ(row["MaxLongUnicode"].rfind("Max long Unicode text", 0), 0u);  // LID 5, found
  EXPECT_EQ(row["LongUnicode"], "");                                       // LID 2, not found
  EXPECT_NE(log.find("Unable to retrieve long value of record entry: 16."), std::string::npos);
  run("rm -rf " + q(dir));
}

TEST(EseWriter, SameSeedSameBytes) {
  const Table t = all_types_table(40);
  WriteOptions o;
  o.seed = 42;
  const Bytes a = build_database({t}, o);
  const Bytes b = build_database({t}, o);
  EXPECT_EQ(a, b);
  o.seed = 43;
  const Bytes c = build_database({t}, o);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a.substr(0, 8192), c.substr(0, 8192));  // the signature derives from the seed
  EXPECT_EQ(a.substr(2 * 8192), c.substr(2 * 8192));
}

TEST(EseWriter, RejectsWhatEseCannotStore) {
  auto bad = [](std::vector<Column> cols, Row r = Row()) {
    Table t;
    t.name = "T";
    t.columns = std::move(cols);
    t.rows.push_back(std::move(r));
    EXPECT_THROW(build_database({t}, WriteOptions()), std::invalid_argument);
  };
  bad({col(1, "a", ColumnType::Text)});                       // fixed text
  bad({col(2, "a", ColumnType::Long)});                       // fixed ids start at 1
  bad({col(256, "a", ColumnType::Text, 1200, false, true)});  // compressed non-long
  bad({col(128, "a", ColumnType::Binary)}, Row().set(128, Bytes(256, 'x')));
  bad({col(256, "a", ColumnType::Long)}, Row().set_multi(256, {encode_i32(1), encode_i32(2)}));
  bad({col(1, "a", ColumnType::Long)}, Row().set(1, encode_i16(1)));  // wrong size
  WriteOptions o;
  o.page_size = 4096;
  EXPECT_THROW(build_database({}, o), std::invalid_argument);
}

// The checksum function against pages written by Windows' own engine: an 8 KiB file and the
// 32 KiB one (four 8 KiB blocks per page, block checksums in the extended header).
TEST(EseWriter, ChecksumMatchesWindowsPages) {
  MM_REQUIRE_CORPUS();
  const std::string dir = testing::make_tmp_dir("mm_ese");
  const std::string small = testing::corpus_path("edb/stroz__decompress_test.edb");
  const std::string large_gz = testing::corpus_path("edb/dissect__large.edb.gz");
  std::string f8, f32;
  ASSERT_TRUE(read_file(small, f8));
  ASSERT_EQ(run("gzip -dc " + q(large_gz) + " > " + q(dir + "/large.edb")), 0);
  ASSERT_TRUE(read_file(dir + "/large.edb", f32));
  int checked = 0;
  for (const std::string *f : {&f8, &f32}) {
    const u32 ps = load_le32(f->data() + 236);
    for (u32 pg = 1; pg + 1 < f->size() / ps; ++pg) {
      const char *p = f->data() + static_cast<u64>(pg + 1) * ps;
      if (load_le64(p) == 0) continue;  // never-written page
      ASSERT_EQ(load_le64(p), ::mm::ese::page_block_checksum(ByteView(p, 8192), pg, true))
          << "page " << pg << " of the " << ps << "-byte file";
      for (u32 k = 1; k < ps / 8192; ++k)
        ASSERT_EQ(load_le64(p + 40 + 8 * (k - 1)),
                  ::mm::ese::page_block_checksum(ByteView(p + 8192 * k, 8192), pg, false));
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
  // A flipped bit changes the checksum (the check can fail).
  Bytes page(f8.data() + 2 * 8192, 8192);
  const u64 good = ::mm::ese::page_block_checksum(page, 1, true);
  page[100] = static_cast<char>(page[100] ^ 0x10);
  EXPECT_NE(::mm::ese::page_block_checksum(page, 1, true), good);
}

// The surrogate shift assumed by libesedb_text() happens on a Windows-written file too:
// dissect__multi.edb stores U+1F98A (d83e dd8a) and esedbexport prints U+1F58B.
TEST(EseWriter, FixtureShowsLibesedbSurrogateShift) {
  MM_REQUIRE_CORPUS();
  REQUIRE_ESEDB();
  const std::string src = testing::corpus_path("edb/dissect__multi.edb");
  const std::string dir = testing::make_tmp_dir("mm_ese");
  const Grid g = export_table(dir, src, "multi");
  bool seen = false;
  for (const auto &row : g)
    for (const std::string &cell : row)
      if (cell.find("Tiny \xF0\x9F\x96\x8B 1") != std::string::npos) seen = true;
  EXPECT_TRUE(seen);
  EXPECT_EQ(libesedb_text("\xF0\x9F\xA6\x8A"), "\xF0\x9F\x96\x8B");
}

}  // namespace
}  // namespace mm::gen::ese
