// Damaged inputs: truncated copies, byte-flipped copies and zeroed pages of real fixtures must
// open-or-fail cleanly and read everything without crashing (run under ASan/UBSan with
// -DMM_SANITIZE="address;undefined"). Mutations use a fixed seed, so runs are reproducible.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "../../../src/format/pst/ndb.h"
#include "mailmill/format/pst/native_store.h"
#include "test_support.h"

namespace mm::pst {
namespace {

namespace fs = std::filesystem;

Bytes slurp(const std::string &name) {
  std::ifstream in(mm::testing::corpus_path("pst/" + name), std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

struct Tally {
  int mutants = 0;        // inputs tried
  int opened = 0;         // opened as a store
  int refused = 0;        // open_native_bytes gave a Problem
  int damaged = 0;        // refused, or reading found at least one Problem
  int items = 0;          // items read
  int item_problems = 0;  // items (or their folders' lists) that gave a Problem
  u64 touched = 0;        // sum of every value byte read, so ASan sees any dangling view
};

// Every Problem a damaged store reports must say what is wrong, on one line.
void expect_described(const Problem &p, const char *what) {
  EXPECT_FALSE(p.detail.empty()) << what << ": " << problem_code_name(p.code);
  EXPECT_EQ(p.detail.find('\n'), std::string::npos) << what << ": " << p.detail;
}

// Reads everything the MailStore offers; returns the number of Problems it met.
int read_all(mapi::MailStore &s, Tally &t) {
  int problems = 0;
  if (Result<mapi::PropertyBag> p = s.store_properties(); !p) {
    ++problems;
    expect_described(p.problem(), "store properties");
  }
  (void)s.names().size();
  Result<std::vector<mapi::FolderInfo>> folders = s.folders();
  if (!folders) {
    expect_described(folders.problem(), "folders");
    return problems + 1;
  }
  for (const mapi::FolderInfo &f : *folders) {
    Result<std::vector<u64>> ids = s.items_in(f.node_id);
    if (!ids) {
      ++problems;
      ++t.item_problems;
      expect_described(ids.problem(), "items_in");
      continue;
    }
    for (u64 id : *ids) {
      Result<mapi::RawMessage> m = s.read_item(id);
      if (!m) {
        ++problems;
        ++t.item_problems;
        expect_described(m.problem(), "read_item");
        continue;
      }
      ++t.items;
      for (const mapi::Property &p : m->props.all()) {
        for (char c : p.value) t.touched += static_cast<unsigned char>(c);
      }
      for (const mapi::RawAttachment &a : m->attachments) {
        for (const mapi::Property &p : a.props.all()) {
          for (char c : p.value) t.touched += static_cast<unsigned char>(c);
        }
      }
    }
  }
  return problems;
}

// One mutant: it is refused with a described Problem, or it opens and every item read gives a
// value or a described Problem.
void try_bytes(ByteView bytes, Tally &t) {
  ++t.mutants;
  Result<std::unique_ptr<mapi::MailStore>> s = open_native_bytes(bytes);
  if (!s) {
    ++t.refused;
    ++t.damaged;
    const ProblemCode c = s.problem().code;
    EXPECT_TRUE(c == ProblemCode::SourceCorrupt || c == ProblemCode::SourceTruncated ||
                c == ProblemCode::SourceNotPst)
        << problem_code_name(c) << ": " << s.problem().detail;
    expect_described(s.problem(), "open");
    return;
  }
  ++t.opened;
  if (read_all(**s, t) > 0) ++t.damaged;
}

void print(const char *name, const char *what, const Tally &t) {
  std::printf("%s (%s): %d mutants, %d opened, %d refused, %d damaged, %d items read, %d item "
              "problems\n",
              name, what, t.mutants, t.opened, t.refused, t.damaged, t.items, t.item_problems);
}

const char *const FILES[] = {"rubymsg__attachAndInline.pst", "pstsdk__test_ansi.pst",
                             "rubymsg__msgInMsg.pst", "aspnet__Outlook_1.pst"};

TEST(NativeRobustness, TruncatedCopies) {
  MM_REQUIRE_CORPUS();
  for (const char *name : FILES) {
    Bytes f = slurp(name);
    ASSERT_FALSE(f.empty()) << name;
    Tally t;
    for (u64 cut : {u64{0}, u64{3}, u64{100}, u64{511}, u64{564}, u64{4096}, f.size() / 4,
                    f.size() / 2, f.size() - 4096, f.size() - 1}) {
      try_bytes(ByteView(f).substr(0, cut), t);
    }
    // Any cut before the header's ibFileEof is reported as truncated, not read.
    Result<std::unique_ptr<mapi::MailStore>> s = open_native_bytes(ByteView(f).substr(0, f.size() - 1));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.problem().code, ProblemCode::SourceTruncated) << s.problem().detail;
    EXPECT_EQ(t.opened, 0) << name;
  }
}

TEST(NativeRobustness, TruncatedFileOnDisk) {
  MM_REQUIRE_CORPUS();
  Bytes f = slurp("rubymsg__attachAndInline.pst");
  fs::path tmp = fs::temp_directory_path() / ("mm_native_trunc_" + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(f.data(), static_cast<std::streamsize>(f.size() / 2));
  }
  Result<std::unique_ptr<mapi::MailStore>> s = open_native(tmp.string());
  fs::remove(tmp);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::SourceTruncated);
}

// The reader checks no block CRCs, so most flips of content bytes go unnoticed; only the
// total over all files is expected to contain detections (13 of 600 mutants at this seed).
TEST(NativeRobustness, ByteFlippedCopies) {
  MM_REQUIRE_CORPUS();
  std::mt19937_64 rng(20240601);
  Tally all;
  for (const char *name : FILES) {
    const Bytes orig = slurp(name);
    ASSERT_FALSE(orig.empty());
    Tally t;
    for (int round = 0; round < 150; ++round) {
      Bytes f = orig;
      const int flips = 1 + static_cast<int>(rng() % 16);
      for (int k = 0; k < flips; ++k) {
        // Half the flips land past the header, where the B-trees, heaps and tables are.
        const u64 pos = 564 + rng() % (f.size() - 564);
        f[pos] = static_cast<char>(f[pos] ^ static_cast<char>(1 + rng() % 255));
      }
      try_bytes(f, t);
    }
    print(name, "byte flips", t);
    EXPECT_GT(t.opened, 0) << name;
    all.damaged += t.damaged;
  }
  EXPECT_GT(all.damaged, 0);
}

// Flips aimed at allocated blocks (heaps, tables, subnode and XBLOCKs), found through the BBT.
TEST(NativeRobustness, FlipsInsideBlocks) {
  MM_REQUIRE_CORPUS();
  std::mt19937_64 rng(99);
  for (const char *name : FILES) {
    const Bytes orig = slurp(name);
    Result<std::shared_ptr<const PstFile>> pf = PstFile::open_bytes(orig);
    ASSERT_TRUE(pf.ok());
    std::span<const BbtEntry> blocks = (*pf)->blocks();
    ASSERT_FALSE(blocks.empty());
    Tally t;
    for (int round = 0; round < 200; ++round) {
      Bytes f = orig;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        const BbtEntry &b = blocks[rng() % blocks.size()];
        const u64 pos = b.ib + rng() % (b.cb + 16);
        if (pos >= f.size()) continue;
        f[pos] = static_cast<char>(f[pos] ^ static_cast<char>(1 + rng() % 255));
      }
      try_bytes(f, t);
    }
    print(name, "block flips", t);
    // Both outcomes occur in every file: flips in unchecked bytes leave a readable store, flips
    // in heap and table structures are caught (6 to 18 of 200 per file at this seed).
    EXPECT_GT(t.opened, 0) << name;
    EXPECT_GT(t.damaged, 0) << name;
  }
}

// As above, only the total is expected to contain detections (4 of 120 at this seed).
TEST(NativeRobustness, ZeroedAndDuplicatedPages) {
  MM_REQUIRE_CORPUS();
  std::mt19937_64 rng(7);
  Tally all;
  for (const char *name : FILES) {
    const Bytes orig = slurp(name);
    Tally t;
    for (int round = 0; round < 30; ++round) {
      Bytes f = orig;
      const u64 pages = f.size() / 512;
      const u64 a = 1 + rng() % (pages - 1), b = 1 + rng() % (pages - 1);
      if (round % 2 == 0) {
        std::fill(f.begin() + static_cast<std::ptrdiff_t>(a * 512),
                  f.begin() + static_cast<std::ptrdiff_t>(a * 512 + 512), '\0');
      } else {
        std::copy(orig.begin() + static_cast<std::ptrdiff_t>(a * 512),
                  orig.begin() + static_cast<std::ptrdiff_t>(a * 512 + 512),
                  f.begin() + static_cast<std::ptrdiff_t>(b * 512));
      }
      try_bytes(f, t);
    }
    print(name, "zeroed and duplicated pages", t);
    all.damaged += t.damaged;
  }
  EXPECT_GT(all.damaged, 0);
}

TEST(NativeStore, SharedHandlesReadTheSame) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> a =
      open_native(mm::testing::corpus_path("pst/rubymsg__attachAndInline.pst"));
  ASSERT_TRUE(a.ok());
  std::unique_ptr<mapi::MailStore> b = share_native(**a);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->info().file_size, (*a)->info().file_size);
  EXPECT_EQ(b->names().size(), (*a)->names().size());
  auto fa = (*a)->folders();
  auto fb = b->folders();
  ASSERT_TRUE(fa.ok() && fb.ok());
  ASSERT_EQ(fa->size(), fb->size());
  a->reset();  // the shared handle keeps the mapping alive
  for (const mapi::FolderInfo &f : *fb) {
    auto ids = b->items_in(f.node_id);
    ASSERT_TRUE(ids.ok());
    for (u64 id : *ids) {
      auto m = b->read_item(id);
      ASSERT_TRUE(m.ok());
    }
  }
}

}  // namespace
}  // namespace mm::pst
