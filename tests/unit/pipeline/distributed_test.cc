// The parts of a distributed run (issue 17) on their own: the key exchange against the
// single-process decision (the dedup index fed in seq order), over 1 to 5 ranks simulated by
// threads; a failing rank seen by all; the spool and progress records read back, and refused
// when damaged. The whole run under mpirun is tests/integration/test_mpi.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "../../../src/pipeline/keyexchange.h"
#include "../../../src/pipeline/spool.h"
#include "mailmill/dedup/index.h"
#include "mailmill/util/result.h"
#include "test_support.h"

namespace mm::pipeline {
namespace {

dedup::Digest key_number(u64 k) {
  return dedup::sha256("key " + std::to_string(k));
}

struct Corpus {
  std::vector<KeyedItem> items;            // seq order
  std::map<u64, u64> duplicate_of;         // the single-process answer
};

// `n` keyed items drawn from `distinct` keys (so about 1 - distinct/n of them are copies),
// with gaps in the seqs (unkeyed items), decided as the single-process run decides.
Corpus make_corpus(std::size_t n, u64 distinct, u32 seed) {
  std::mt19937_64 rng(seed);
  Corpus c;
  dedup::KeyIndex index;
  u64 seq = 0;
  for (std::size_t i = 0; i < n; ++i) {
    seq += 1 + rng() % 3;
    KeyedItem k{seq, key_number(rng() % distinct)};
    c.items.push_back(k);
    if (std::optional<u64> first = index.find_or_insert(k.key, seq)) c.duplicate_of[seq] = *first;
  }
  return c;
}

struct RankOutcome {
  std::vector<std::pair<u64, u64>> dups;
  u64 owned = 0;
  bool someone_failed = false;
};

// Deals the items out to `ranks` in runs of random length (each rank's items stay in seq
// order, as a rank's units are), runs both passes on threads, returns every rank's answers.
std::vector<RankOutcome> run_exchange(const Corpus &c, int ranks, std::size_t batch, u32 seed,
                                      int failing_rank = -1) {
  std::mt19937 rng(seed);
  std::vector<std::vector<KeyedItem>> mine(ranks);
  for (std::size_t i = 0; i < c.items.size();) {
    const int r = static_cast<int>(rng() % ranks);
    const std::size_t run = 1 + rng() % 40;
    for (std::size_t j = 0; j < run && i < c.items.size(); ++j) mine[r].push_back(c.items[i++]);
  }
  auto cluster = make_thread_cluster(ranks);
  std::vector<RankOutcome> out(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      KeySpreader spreader(*cluster[r]);
      std::size_t polls = 0;
      for (const KeyedItem &k : mine[r]) {
        spreader.add(k);
        if (++polls % 17 == 0) spreader.poll(false);  // rounds while "converting"
      }
      spreader.finish(r == failing_rank);
      out[r].someone_failed = spreader.someone_failed();
      out[r].owned = spreader.owned().size();
      std::size_t at = 0;
      find_duplicates(
          *cluster[r], spreader.owned(), batch,
          [&](std::vector<KeyedItem> &b) {
            while (at < mine[r].size() && b.size() < batch) b.push_back(mine[r][at++]);
            return at < mine[r].size();
          },
          [&](u64 seq, u64 first) { out[r].dups.emplace_back(seq, first); },
          spreader.stats());
    });
  for (std::thread &t : threads) t.join();
  return out;
}

TEST(KeyExchange, DecidesExactlyAsOneProcessForAnyRankCount) {
  const Corpus c = make_corpus(5000, 3000, 7);
  ASSERT_GT(c.duplicate_of.size(), 1000u);  // a meaningful share of copies
  for (int ranks = 1; ranks <= 5; ++ranks) {
    for (std::size_t batch : {std::size_t{7}, std::size_t{1000}}) {
      std::vector<RankOutcome> got = run_exchange(c, ranks, batch, 100 + ranks);
      std::map<u64, u64> all;
      u64 owned = 0;
      for (const RankOutcome &r : got) {
        // Each rank's duplicates come in seq order (the assembly streams them).
        EXPECT_TRUE(std::is_sorted(r.dups.begin(), r.dups.end()));
        for (const auto &[seq, first] : r.dups) EXPECT_TRUE(all.emplace(seq, first).second);
        owned += r.owned;
        EXPECT_FALSE(r.someone_failed);
      }
      EXPECT_EQ(all, c.duplicate_of) << ranks << " ranks, batch " << batch;
      // Every distinct key is owned by exactly one rank.
      std::set<dedup::Digest> distinct;
      for (const KeyedItem &k : c.items) distinct.insert(k.key);
      EXPECT_EQ(owned, distinct.size());
    }
  }
}

TEST(KeyExchange, OwnersShareTheIndex) {
  // An owner holds about 1/N of the keys (the memory bound): here within 20 % of it.
  const Corpus c = make_corpus(20000, 20000, 9);
  std::vector<RankOutcome> got = run_exchange(c, 4, 4096, 3);
  u64 total = 0;
  for (const RankOutcome &r : got) total += r.owned;
  for (const RankOutcome &r : got) {
    EXPECT_GT(r.owned, total / 4 * 8 / 10);
    EXPECT_LT(r.owned, total / 4 * 12 / 10);
  }
}

TEST(KeyExchange, AFailingRankIsSeenByAll) {
  const Corpus c = make_corpus(300, 200, 5);
  for (const RankOutcome &r : run_exchange(c, 3, 50, 1, /*failing_rank=*/2))
    EXPECT_TRUE(r.someone_failed);
}

ItemOut sample_item(u64 seq, std::size_t bytes) {
  ItemOut it;
  it.seq = seq;
  it.index = static_cast<i64>(seq) + 1;
  it.node_id = 0x200000 + seq;
  it.outcome = seq % 3 == 0 ? Outcome::Failed : Outcome::Written;
  it.note = ItemNote{it.node_id, "Subject \xc3\xa9 " + std::to_string(seq), "IPM.Note", "Code",
                     "detail"};
  it.warnings.push_back(ItemNote{1, "w", "k", "Warn", std::string("with\0nul", 8)});
  it.form = ItemOut::Form::Mime;
  it.bytes.assign(bytes, static_cast<char>('a' + seq % 26));
  it.size = bytes;
  it.framed = true;
  it.framed_size = bytes + 40;
  it.envelope_sender = "a@example.com";
  it.date = -5 + static_cast<i64>(seq);
  it.title = "t";
  it.message_id = "<m@x>";
  it.flags = "read";
  if (seq % 2) it.mih = dedup::Md5{1, 2, 3};
  it.content = key_number(seq);
  it.raw = key_number(seq + 1000);
  return it;
}

void expect_same(const ItemOut &a, const ItemOut &b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.node_id, b.node_id);
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.note.subject, b.note.subject);
  EXPECT_EQ(a.note.detail, b.note.detail);
  ASSERT_EQ(a.warnings.size(), b.warnings.size());
  EXPECT_EQ(a.warnings[0].detail, b.warnings[0].detail);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.framed, b.framed);
  EXPECT_EQ(a.framed_size, b.framed_size);
  EXPECT_EQ(a.envelope_sender, b.envelope_sender);
  EXPECT_EQ(a.date, b.date);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.mih, b.mih);
  EXPECT_EQ(a.content, b.content);
  EXPECT_EQ(a.raw, b.raw);
}

TEST(Spool, PiecesReadBackAndDamageIsRefused) {
  const std::filesystem::path dir = mm::testing::make_tmp_dir("mm_spool");
  const auto path = dir / "spool";
  UnitOut a, b;
  a.unit = Unit{3, 0, 1, 0, 2, 100};
  a.items.push_back(sample_item(100, 10));
  a.items.push_back(sample_item(101, 70000));
  b.unit = Unit{4, 0, 1, 2, 3, 102};
  b.items.push_back(sample_item(102, 0));
  u64 after_a = 0;
  {
    SpoolWriter w(path, 0);
    w.write(3, a);
    after_a = w.flush();
    w.write(4, b);
    w.flush();
  }
  {
    SpoolReader r(path);
    UnitOut got;
    u64 unit = 0;
    ASSERT_TRUE(r.read(unit, got));
    EXPECT_EQ(unit, 3u);
    EXPECT_EQ(got.unit.first_seq, 100u);
    ASSERT_EQ(got.items.size(), 2u);
    expect_same(got.items[0], a.items[0]);
    expect_same(got.items[1], a.items[1]);
    UnitOut got_b;
    ASSERT_TRUE(r.read(unit, got_b));
    EXPECT_EQ(unit, 4u);
    expect_same(got_b.items[0], b.items[0]);
    UnitOut none;
    EXPECT_FALSE(r.read(unit, none));
  }
  // A resumed rank truncates to its last progress point: the second piece is gone.
  { SpoolWriter w(path, after_a); }
  EXPECT_EQ(std::filesystem::file_size(path), after_a);
  // Cut inside a piece: refused, never half-read.
  std::filesystem::resize_file(path, after_a - 5);
  SpoolReader r(path);
  UnitOut got;
  u64 unit = 0;
  EXPECT_THROW(r.read(unit, got), FatalError);
}

TEST(Spool, AnyDamagedByteIsReadOrRefusedNeverTrusted) {
  // Every byte of a two-piece spool set to each of a few values in turn: the reader either
  // reads pieces (a changed subject or payload byte is not detectable here) or refuses with
  // FatalError; it never allocates what a damaged length claims or reads past the file.
  const std::filesystem::path dir = mm::testing::make_tmp_dir("mm_spool_damage");
  const auto path = dir / "spool";
  UnitOut a;
  a.unit = Unit{0, 0, 0, 0, 2, 0};
  a.items.push_back(sample_item(0, 300));
  a.items.push_back(sample_item(1, 20));
  {
    SpoolWriter w(path, 0);
    w.write(0, a);
    w.write(0, a);
    w.flush();
  }
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  int refused = 0, read = 0;
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (char v : {'\x00', '\xff', '\x7f'}) {
      if (good[at] == v) continue;
      std::string bad = good;
      bad[at] = v;
      {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << bad;
      }
      try {
        SpoolReader r(path);
        u64 unit = 0;
        for (;;) {
          UnitOut got;
          if (!r.read(unit, got)) break;
        }
        ++read;
      } catch (const FatalError &) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);
}

TEST(Spool, ProgressRecordSurvivesAndDamageMeansAFreshStart) {
  const std::filesystem::path dir = mm::testing::make_tmp_dir("mm_progress");
  const auto path = dir / "progress";
  EXPECT_FALSE(read_progress(path));
  write_progress(path, PartProgress{7, 12345, 280});
  std::optional<PartProgress> p = read_progress(path);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->units_done, 7u);
  EXPECT_EQ(p->spool_bytes, 12345u);
  EXPECT_EQ(p->keys_bytes, 280u);
  write_progress(path, PartProgress{8, 99999, 320});  // overwritten in place
  EXPECT_EQ(read_progress(path)->units_done, 8u);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(9);
    f.put('\x7f');
  }
  EXPECT_FALSE(read_progress(path));
}

}  // namespace
}  // namespace mm::pipeline
