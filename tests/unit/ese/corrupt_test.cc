// Hand-made damage: every case must give a clear Problem (or a per-value error), never a crash
// or a hang. Built from a copy of dissect__basic.edb (4 KiB pages, ECC checksums) in memory.
#include <gtest/gtest.h>

#include "ese_dump.h"
#include "mailmill/format/ese/checksum.h"
#include "mailmill/format/ese/compression.h"
#include "test_support.h"

using namespace mm;
using namespace mm::ese;
namespace mt = mm::testing;

namespace {

constexpr u64 PS = 4096;

std::string basic() {
  std::string b;
  EXPECT_TRUE(mt::read_file(mt::corpus_path("edb/dissect__basic.edb"), b));
  return b;
}

void put32(std::string &b, u64 at, u32 v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

/// Recomputes the (new-format, 4 KiB) checksum of page `n`, XOR and ECC, after an edit.
void fix_page_checksum(std::string &b, u32 n) {
  const u64 at = (u64{n} + 1) * PS;
  const u64 c = page_block_checksum(ByteView(b).substr(at, PS), n, true);
  put32(b, at, static_cast<u32>(c));
  put32(b, at + 4, static_cast<u32>(c >> 32));
}

u32 table_root(const std::string &b, const char *name) {
  auto db = Database::open_bytes(b);
  EXPECT_TRUE(db.ok());
  for (const TableDef &t : db->tables())
    if (t.name == name) return t.fdp_page;
  return 0;
}

}  // namespace

TEST(EseCorrupt, TruncatedFile) {
  MM_REQUIRE_CORPUS();
  const std::string b = basic();
  for (u64 n : {u64{0}, u64{100}, u64{4095}, u64{2 * PS}, u64{4 * PS}, u64{6 * PS + 17}}) {
    auto db = Database::open_bytes(ByteView(b).substr(0, n));
    EXPECT_FALSE(db.ok()) << n;
    if (!db.ok()) {
      EXPECT_FALSE(db.problem().detail.empty());
    }
  }
}

TEST(EseCorrupt, BadHeaderChecksumFallsBackToShadowThenFails) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  b[100] ^= 1;  // header only: the shadow copy is used
  auto db = Database::open_bytes(b);
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  EXPECT_TRUE(db->header().used_shadow);
  EXPECT_FALSE(db->header().checksum_ok);
  b[PS + 100] ^= 1;  // and the shadow
  auto bad = Database::open_bytes(b);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_NE(bad.problem().detail.find("header checksum mismatch"), std::string::npos);
}

TEST(EseCorrupt, BadPageChecksum) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  b[5 * PS + 2000] ^= 0x40;  // page 4: the catalog root
  auto db = Database::open_bytes(b);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.problem().detail.find("page 4: checksum mismatch"), std::string::npos) << db.problem().detail;
}

// Checksums off (OpenOptions, for fuzzing): a page whose stored checksum alone is wrong reads
// as the intact file does; with them on (the default) it is refused.
TEST(EseCorrupt, ChecksumsOffReadsAPageWithAWrongChecksum) {
  MM_REQUIRE_CORPUS();
  const std::string good = basic();
  std::string b = good;
  const u32 root = table_root(b, "basic");
  ASSERT_NE(root, 0u);
  b[(u64{root} + 1) * PS] ^= 0x01;  // the page's checksum field, not its data
  auto refused = Database::open_bytes(b);
  ASSERT_TRUE(refused.ok()) << refused.problem().detail;  // the catalog pages are intact
  auto rt = refused->table("basic");
  ASSERT_TRUE(rt.ok());
  EXPECT_FALSE(rt->read_all().ok());
  auto lenient = Database::open_bytes(b, OpenOptions{false});
  auto intact = Database::open_bytes(good);
  ASSERT_TRUE(lenient.ok() && intact.ok());
  auto lt = lenient->table("basic");
  auto it = intact->table("basic");
  ASSERT_TRUE(lt.ok() && it.ok());
  auto lr = lt->read_all();
  auto ir = it->read_all();
  ASSERT_TRUE(lr.ok()) << lr.problem().detail;
  ASSERT_TRUE(ir.ok());
  ASSERT_EQ(lr->size(), ir->size());
  ASSERT_GT(ir->size(), 0u);
  for (std::size_t i = 0; i < ir->size(); ++i) EXPECT_EQ((*lr)[i].raw(), (*ir)[i].raw()) << i;
}

// A catalog entry giving a fixed column the id 0 (found by fuzzing: the bitmap index for
// id - 1 wrapped around and read far outside the record): the cell is an error, nothing else.
TEST(EseCorrupt, FixedColumnIdZeroIsAnErrorValue) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  // MSysObjects rows of table "basic" (object id 8): ObjidTable 8, Type 2 (column), Id 1, the
  // first fixed fields of the row. The catalog and its shadow copy each hold one.
  const std::string row("\x08\x00\x00\x00\x02\x00\x01\x00\x00\x00", 10);
  int patched = 0;
  for (std::size_t at = b.find(row); at != std::string::npos; at = b.find(row, at + 1)) {
    put32(b, at + 6, 0);
    fix_page_checksum(b, static_cast<u32>(at / PS - 1));
    ++patched;
  }
  ASSERT_EQ(patched, 2);
  auto db = Database::open_bytes(b);
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto t = db->table("basic");
  ASSERT_TRUE(t.ok());
  const Column *zero = t->def().column_by_id(0);
  ASSERT_NE(zero, nullptr);
  auto records = t->read_all();
  ASSERT_TRUE(records.ok());
  ASSERT_FALSE(records->empty());
  for (const Record &r : *records) {
    const Value v = r.value(*zero);
    EXPECT_EQ(v.state, Value::State::Error);
    EXPECT_NE(v.error.find("column id 0"), std::string::npos) << v.error;
  }
}

// The ECC half of a page checksum is verified too: the same bit flipped in two words leaves
// the XOR half unchanged, and only the ECC shows the damage.
TEST(EseCorrupt, EccHalfOfThePageChecksumIsVerified) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  const u32 root = table_root(b, "basic");
  ASSERT_NE(root, 0u);
  const u64 at = (u64{root} + 1) * PS;
  const u64 before = page_block_checksum(ByteView(b).substr(at, PS), root, true);
  ASSERT_EQ(before, load_le64(b.data() + at));  // the Windows-written page checks out whole
  b[at + 1000] ^= 0x10;  // the same bit of two different words: the XOR half is unchanged
  b[at + 2000] ^= 0x10;
  const u64 after = page_block_checksum(ByteView(b).substr(at, PS), root, true);
  ASSERT_EQ(static_cast<u32>(after), static_cast<u32>(before));
  ASSERT_NE(after >> 32, before >> 32);
  auto db = Database::open_bytes(b);
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto t = db->table("basic");
  ASSERT_TRUE(t.ok());
  auto r = t->read_all();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problem().detail.find("checksum mismatch"), std::string::npos) << r.problem().detail;
}

TEST(EseCorrupt, TagPointingPastThePage) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  const u32 root = table_root(b, "basic");
  ASSERT_NE(root, 0u);
  const u64 at = (u64{root} + 1) * PS;
  // Tag 1 (the first record): offset 0x1f00, far past the data area.
  b[at + PS - 8 + 2] = 0x00;
  b[at + PS - 8 + 3] = 0x1f;
  fix_page_checksum(b, root);
  auto db = Database::open_bytes(b);
  ASSERT_TRUE(db.ok()) << db.problem().detail;
  auto t = db->table("basic");
  ASSERT_TRUE(t.ok());
  auto r = t->read_all();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problem().detail.find("points past the page data"), std::string::npos) << r.problem().detail;
}

TEST(EseCorrupt, LeafChainCycle) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  const u32 root = table_root(b, "basic");
  ASSERT_NE(root, 0u);
  put32(b, (u64{root} + 1) * PS + 20, root);  // next page = itself
  fix_page_checksum(b, root);
  auto db = Database::open_bytes(b);
  ASSERT_TRUE(db.ok());
  auto r = db->table("basic")->read_all();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problem().detail.find("cycle"), std::string::npos) << r.problem().detail;
}

TEST(EseCorrupt, BranchPointingToItself) {
  MM_REQUIRE_CORPUS();
  std::string b = basic();
  // The catalog root (page 4) is a branch page; point its first child at page 4.
  const u64 at = 5 * PS;
  const u16 size = load_le16(b.data() + at + PS - 8) & 0x1fff;
  const u16 off = load_le16(b.data() + at + PS - 8 + 2) & 0x1fff;
  put32(b, at + 40 + off + size - 4, 4);
  fix_page_checksum(b, 4);
  auto db = Database::open_bytes(b);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.problem().detail.find("its own child"), std::string::npos) << db.problem().detail;
}

TEST(EseCompression, XpressPlainLz77) {
  // Literals "abc", then a match of offset 3, length 6: "abcabcabc".
  const std::string in("\x00\x00\x00\x10"
                       "abc\x13\x00",
                       9);
  Bytes out;
  ASSERT_TRUE(xpress_plain_lz77(in, 9, out).ok());
  EXPECT_EQ(out, "abcabcabc");
  // A value with its header: 0x18, size 9.
  const std::string v = std::string("\x18\x09\x00", 3) + in;
  ASSERT_TRUE(decompress_value(v, out).ok());
  EXPECT_EQ(out, "abcabcabc");
  // Match before the start of the output.
  const std::string bad("\x00\x00\x00\x80\x13\x00", 6);
  Status s = xpress_plain_lz77(bad, 6, out);
  EXPECT_FALSE(s.ok());
}

TEST(EseCompression, SevenBit) {
  Bytes out;
  // "Hi": 14 bits, 6 used in the last byte (header low bits 5), scheme 1.
  ASSERT_TRUE(decompress_value(std::string("\x0d\xc8\x34", 3), out).ok());
  EXPECT_EQ(out, "Hi");
  ASSERT_TRUE(decompress_value(std::string("\x15\xc8\x34", 3), out).ok());
  EXPECT_EQ(out, std::string("H\0i\0", 4));
}

TEST(EseCompression, Lz4AndUnsupported) {
  Bytes out;
  ASSERT_TRUE(lz4_block(std::string("\x13"
                                    "a\x01\x00",
                                    4),
                        8, out)
                  .ok());
  EXPECT_EQ(out, "aaaaaaaa");
  EXPECT_FALSE(lz4_block(std::string("\x13" "a\x05\x00", 4), 8, out).ok());
  Status s = decompress_value(std::string("\x28\x01\x02\x03", 4), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::ItemUnsupportedType);
  EXPECT_NE(s.problem().detail.find("compression scheme 5"), std::string::npos);
  EXPECT_NE(s.problem().detail.find("not supported"), std::string::npos);
}
