// Values the corpus files are documented to contain, from the test suites of the projects the
// files come from (facts, not code): fox-it/dissect.esedb tests/test_esedb.py (commit
// ea5efb8a8fc2902e5e4d43f035b7461ffb9ef734, the one MANIFEST.tsv names). These cover exactly the
// cells esedbexport gets wrong (long values, compressed values, surrogate pairs, multi-values)
// and dissect__large.edb.gz, on which esedbexport fails ("invalid tagged data type offset").
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>

#include "ese_dump.h"
#include "test_support.h"

using namespace mm;
using namespace mm::ese;
namespace mt = mm::testing;

namespace {

const std::string FOX = "\xF0\x9F\xA6\x8A";  // U+1F98A

Result<std::vector<Record>> rows(const Database &db, const char *table) {
  auto t = db.table(table);
  if (!t) return t.problem();
  return t->read_all();
}

std::string txt(const Record &r, const char *col, std::size_t i = 0) {
  Value v = r.value(col);
  EXPECT_TRUE(v.ok()) << col << ": " << v.error;
  auto s = v.as_text(i);
  return s ? *s : "<not text>";
}

std::string bin(const Record &r, const char *col, std::size_t i = 0) {
  Value v = r.value(col);
  EXPECT_TRUE(v.ok()) << col << ": " << v.error;
  return std::string(v.bytes(i));
}

std::string a(std::size_t n, char c = 'a') { return std::string(n, c); }

}  // namespace

TEST(EseUpstream, BasicTypes) {
  MM_REQUIRE_CORPUS();
  auto db = Database::open(mt::corpus_path("edb/dissect__basic.edb"));
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto r = rows(*db, "basic");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  const Record &x = (*r)[0];
  EXPECT_EQ(*x.value("Bit").as_int(), 0);
  EXPECT_EQ(*x.value("UnsignedByte").as_int(), 213);
  EXPECT_EQ(*x.value("Short").as_int(), -1337);
  EXPECT_EQ(*x.value("Long").as_int(), -13371337);
  EXPECT_EQ(*x.value("Currency").as_int(), 1337133713371337);
  EXPECT_EQ(*x.value("IEEESingle").as_double(), 1.0);
  EXPECT_EQ(*x.value("IEEEDouble").as_double(), 13371337.13371337);
  EXPECT_EQ(*x.value("UnsignedLong").as_int(), 13371337);
  EXPECT_EQ(*x.value("LongLong").as_int(), -13371337);
  // GUID 3f360af1-6766-46dc-9af2-0dacf295c2a1 in its stored (little-endian fields) order.
  EXPECT_EQ(text::to_hex(x.value("GUID").bytes()), "f10a363f6667dc469af20dacf295c2a1");
  EXPECT_EQ(*x.value("UnsignedShort").as_int(), 1337);
  const Record &y = (*r)[1];
  EXPECT_EQ(*y.value("Bit").as_int(), 1);
  EXPECT_EQ(*y.value("Currency").as_int(), -1339133913391339);
  EXPECT_EQ(*y.value("IEEESingle").as_double(), -2.0);
  EXPECT_EQ(*y.value("IEEEDouble").as_double(), -13391339.13391339);
}

TEST(EseUpstream, BinaryAndTextTypes) {
  MM_REQUIRE_CORPUS();
  auto db = Database::open(mt::corpus_path("edb/dissect__binary.edb"));
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto r = rows(*db, "binary");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  const Record &b = (*r)[0];
  EXPECT_EQ(bin(b, "FixedBinary"), "test fixed binary data" + std::string(233, '\0'));
  EXPECT_TRUE(b.value("NullableFixedBinary").is_null());
  EXPECT_EQ(bin(b, "MaxBinary"), "test max binary data " + a(70));
  EXPECT_EQ(bin(b, "LongBinary"), "test long binary data " + a(1000));
  EXPECT_EQ(bin(b, "LongCompressedBinary"), "test long compressed binary data " + a(1000));
  EXPECT_EQ(bin(b, "MaxLongCompressedBinary"), "test max long compressed binary data " + a(900));

  auto tdb = Database::open(mt::corpus_path("edb/dissect__text.edb"));
  ASSERT_TRUE(tdb.ok());
  auto t = rows(*tdb, "text");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  const Record &x = (*t)[0];
  EXPECT_EQ(txt(x, "FixedASCII"), "Fixed ASCII text" + a(239, ' '));
  // Upstream expects 107 spaces: the column is 255 bytes, and its odd last byte (0x20, half a
  // UTF-16 unit) becomes a space there; we drop half a unit, so 106 spaces and 255 raw bytes.
  EXPECT_EQ(txt(x, "FixedUnicode"), "Fixed Unicode text " + FOX + a(106, ' '));
  EXPECT_EQ(x.value("FixedUnicode").bytes().size(), 255u);
  EXPECT_TRUE(x.value("NullableFixedUnicode").is_null());
  EXPECT_EQ(txt(x, "Unicode"), "Simple Unicode text " + FOX);
  EXPECT_EQ(txt(x, "TaggedUnicode"), "Tagged Unicode text " + FOX);
  EXPECT_TRUE(x.value("NullableTaggedASCII").is_null());
  EXPECT_EQ(txt(x, "LongASCII"), "Long ASCII text " + a(1024));
  EXPECT_EQ(txt(x, "LongUnicode"), "Long Unicode text " + FOX + " " + a(1024));
  EXPECT_EQ(txt(x, "LongCompressedASCII"), "Long compressed ASCII text " + a(1024));
  EXPECT_EQ(txt(x, "LongCompressedUnicode"), "Long compressed Unicode text " + FOX + " " + a(1024));
  EXPECT_EQ(txt(x, "LongTinyCompressedASCII"), "Tiny c ASCII");
  EXPECT_EQ(txt(x, "LongTinyCompressedUnicode"), "Tiny c " + FOX);
  EXPECT_EQ(txt(x, "MaxLongCompressedASCII"),
            "Max long compressed ASCII text that can be a bit longer " + a(900));
  EXPECT_EQ(txt(x, "MaxLongCompressedUnicode"),
            "Max long compressed Unicode text that can be a bit longer " + FOX + " " + a(900));
}

TEST(EseUpstream, MultiValues) {
  MM_REQUIRE_CORPUS();
  auto db = Database::open(mt::corpus_path("edb/dissect__multi.edb"));
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto r = rows(*db, "multi");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  const Record &x = (*r)[0];
  Value bit = x.value("Bit");
  ASSERT_EQ(bit.size(), 2u);  // a two-value (flag 0x10) item
  EXPECT_EQ(*bit.as_int(0), 0);
  EXPECT_EQ(*bit.as_int(1), 1);
  Value cur = x.value("Currency");
  ASSERT_EQ(cur.size(), 3u);
  EXPECT_EQ(*cur.as_int(1), -9223372036854775807);
  Value single = x.value("IEEESingle");
  ASSERT_EQ(single.size(), 3u);
  EXPECT_EQ(*single.as_double(1), -1.0);
  Value ul = x.value("UnsignedLong");
  ASSERT_EQ(ul.size(), 2u);
  EXPECT_EQ(*ul.as_uint(1), 4294967295u);
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i + 1);
    EXPECT_EQ(txt(x, "Unicode", i), "Some Unicode text that has multiple values, this is value " + n + " " +
                                        [&] { std::string f; for (int k = 0; k <= i; ++k) f += FOX; return f; }());
    EXPECT_EQ(bin(x, "LongCompressedBinary", i),
              "Some very long compressed binary data that has multiple values, this is value " + n + " " + a(1024));
    EXPECT_EQ(txt(x, "LongCompressedASCII", i),
              "Some very long compressed ASCII text that has multiple values, this is value " + n + " " + a(1024));
  }
  const Record &y = (*r)[1];
  EXPECT_TRUE(y.value("Bit").is_null());
  Value lca = y.value("LongCompressedASCII");
  ASSERT_EQ(lca.size(), 3u);
  EXPECT_EQ(*lca.as_text(0), a(41));
  EXPECT_EQ(*lca.as_text(1), a(40, 'b'));
  EXPECT_EQ(*lca.as_text(2), a(35, 'c'));
  Value lcu = y.value("LongCompressedUnicode");
  ASSERT_EQ(lcu.size(), 2u);
  EXPECT_EQ(*lcu.as_text(1), a(41, 'b') + " " + FOX + FOX);
}

TEST(EseUpstream, DefaultValues) {
  MM_REQUIRE_CORPUS();
  auto db = Database::open(mt::corpus_path("edb/dissect__default.edb"));
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto r = rows(*db, "default");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  const Record &x = (*r)[0];
  EXPECT_EQ(*x.value("Long").as_int(), 0x12345678);
  EXPECT_EQ(*x.value("LongLong").as_int(), 0xC001DEADD00D);
  EXPECT_EQ(bin(x, "LongBinary"), "Long default binary " + a(200));
  EXPECT_EQ(txt(x, "LongASCII"), "Long default ASCII " + a(200));
  EXPECT_EQ(txt(x, "LongUnicode"), "Long default Unicode " + FOX + " " + a(64));
}

// 32 KiB pages, format revision 0x14: the layout Exchange uses. 64,993 UnsignedShort tagged
// columns Column0..Column64992 spread over 16 records, Column{i} == i in record i / 4096.
TEST(EseUpstream, LargePages32K) {
  MM_REQUIRE_CORPUS();
  const std::string gz = mt::corpus_path("edb/dissect__large.edb.gz");
  gzFile in = gzopen(gz.c_str(), "rb");
  ASSERT_NE(in, nullptr) << gz;
  std::string bytes;
  char buf[1 << 16];
  for (int n; (n = gzread(in, buf, sizeof buf)) > 0;) bytes.append(buf, static_cast<std::size_t>(n));
  gzclose(in);
  ASSERT_EQ(bytes.size(), 25165824u);
  const std::string dir = mt::make_tmp_dir("mm_ese_large");
  const std::string path = dir + "/large.edb";
  {
    std::FILE *f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
  auto db = Database::open(path);
  std::filesystem::remove_all(dir);  // the map keeps the data
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  EXPECT_EQ(db->header().page_size, 32768u);
  EXPECT_TRUE(db->header().large_pages());
  EXPECT_TRUE(db->header().checksum_ok);
  EXPECT_EQ(db->header().checksum_scheme, ChecksumScheme::EccXor);
  auto t = db->table("large");
  ASSERT_TRUE(t.ok());
  const TableDef &def = t->def();
  ASSERT_EQ(def.columns.size(), 64994u);
  EXPECT_EQ(def.columns[0].name, "Id");
  auto r = t->read_all();
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  ASSERT_EQ(r->size(), 16u);
  i64 checked = 0;
  for (std::size_t i = 0; i < 64993; ++i) {
    const Column &c = def.columns[i + 1];
    ASSERT_EQ(c.name, "Column" + std::to_string(i));
    ASSERT_EQ(c.type, ColumnType::UnsignedShort);
    const Value v = (*r)[i / 4096].value(c);
    ASSERT_TRUE(v.ok()) << c.name << ": " << v.error;
    ASSERT_EQ(*v.as_int(), static_cast<i64>(i)) << c.name;
    ++checked;
  }
  EXPECT_EQ(checked, 64993);
}
