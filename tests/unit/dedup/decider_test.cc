#include "mailmill/dedup/decider.h"

#include <gtest/gtest.h>

namespace mm::dedup {
namespace {

ItemKeys keys_of(u8 content, u8 raw, std::optional<u8> mid) {
  ItemKeys k;
  k.content.fill(content);
  k.raw.fill(raw);
  if (mid) {
    Md5 m;
    m.fill(*mid);
    k.mih = m;
  }
  return k;
}

const ItemPlace A_INBOX{"/in/a.pst", "Top/Inbox"};
const ItemPlace A_SENT{"/in/a.pst", "Top/Sent"};
const ItemPlace B_INBOX{"/in/b.pst", "Top/Inbox"};

TEST(Decider, FirstCopyKeptLaterCopiesPointAtIt) {
  Decider d(Mode::Content, Scope::Global);
  Decision first = d.decide(keys_of(1, 10, 7), A_INBOX, 5);
  EXPECT_TRUE(first.keyed);
  EXPECT_FALSE(first.duplicate());
  Decision other = d.decide(keys_of(2, 11, 7), A_INBOX, 6);
  EXPECT_FALSE(other.duplicate());
  // Same content, other raw bytes and folder: a copy of seq 5, and of 5 again
  // for the third.
  Decision copy = d.decide(keys_of(1, 12, 8), A_SENT, 9);
  ASSERT_TRUE(copy.duplicate());
  EXPECT_EQ(*copy.duplicate_of, 5u);
  Decision again = d.decide(keys_of(1, 13, 9), B_INBOX, 12);
  ASSERT_TRUE(again.duplicate());
  EXPECT_EQ(*again.duplicate_of, 5u);
}

TEST(Decider, ModePicksTheKey) {
  Decider raw(Mode::Raw, Scope::Global);
  EXPECT_FALSE(raw.decide(keys_of(1, 10, 7), A_INBOX, 0).duplicate());
  EXPECT_FALSE(raw.decide(keys_of(1, 11, 7), A_INBOX, 1).duplicate());  // same content only
  EXPECT_EQ(raw.decide(keys_of(2, 10, 8), A_INBOX, 2).duplicate_of, std::optional<u64>(0));

  Decider mid(Mode::MessageId, Scope::Global);
  EXPECT_FALSE(mid.decide(keys_of(1, 10, 7), A_INBOX, 0).duplicate());
  EXPECT_EQ(mid.decide(keys_of(2, 11, 7), A_INBOX, 1).duplicate_of, std::optional<u64>(0));
  // No Message-ID: no key, always kept, never journaled.
  Decision none = mid.decide(keys_of(1, 10, std::nullopt), A_INBOX, 2);
  EXPECT_FALSE(none.keyed);
  EXPECT_FALSE(none.duplicate());
  mid.kept(none);
  EXPECT_FALSE(mid.decide(keys_of(1, 10, std::nullopt), A_INBOX, 3).duplicate());

  Decider off(Mode::None, Scope::Global);
  EXPECT_FALSE(off.decide(keys_of(1, 10, 7), A_INBOX, 0).keyed);
  EXPECT_FALSE(off.decide(keys_of(1, 10, 7), A_INBOX, 1).duplicate());
  EXPECT_EQ(off.index().size(), 0u);
}

TEST(Decider, ModesNeverShareKeys) {
  // Content and raw digests with the same bytes must not collide: the material
  // names the mode.
  Decider content(Mode::Content, Scope::Global), raw(Mode::Raw, Scope::Global);
  EXPECT_NE(*content.key_of(keys_of(1, 1, 1), A_INBOX), *raw.key_of(keys_of(1, 1, 1), A_INBOX));
}

TEST(Decider, ScopeSource) {
  Decider d(Mode::Content, Scope::Source);
  EXPECT_FALSE(d.decide(keys_of(1, 10, 7), A_INBOX, 0).duplicate());
  EXPECT_EQ(d.decide(keys_of(1, 10, 7), A_SENT, 1).duplicate_of, std::optional<u64>(0));
  EXPECT_FALSE(d.decide(keys_of(1, 10, 7), B_INBOX, 2).duplicate());
  EXPECT_EQ(d.decide(keys_of(1, 10, 7), B_INBOX, 3).duplicate_of, std::optional<u64>(2));
}

TEST(Decider, ScopeFolder) {
  Decider d(Mode::Content, Scope::Folder);
  EXPECT_FALSE(d.decide(keys_of(1, 10, 7), A_INBOX, 0).duplicate());
  EXPECT_FALSE(d.decide(keys_of(1, 10, 7), A_SENT, 1).duplicate());
  EXPECT_FALSE(d.decide(keys_of(1, 10, 7), B_INBOX, 2).duplicate());
  EXPECT_EQ(d.decide(keys_of(1, 10, 7), A_SENT, 3).duplicate_of, std::optional<u64>(1));
  // The global scope ignores the place.
  EXPECT_EQ(Decider(Mode::Content, Scope::Global).key_of(keys_of(1, 0, 0), A_INBOX),
            Decider(Mode::Content, Scope::Global).key_of(keys_of(1, 0, 0), B_INBOX));
}

TEST(Decider, JournalHoldsKeptKeysOnlyInOrder) {
  Decider d(Mode::Content, Scope::Global);
  Decision a = d.decide(keys_of(1, 0, 0), A_INBOX, 0);
  Decision b = d.decide(keys_of(2, 0, 0), A_INBOX, 1);
  Decision dup = d.decide(keys_of(1, 0, 0), A_INBOX, 2);
  EXPECT_TRUE(d.journal_keys().empty());  // nothing written yet
  d.kept(a);
  d.kept(dup);  // a duplicate is never journaled
  d.kept(b);
  ASSERT_EQ(d.journal_keys().size(), 2u);
  EXPECT_EQ(d.journal_keys()[0], std::make_pair(a.key, u64{0}));
  EXPECT_EQ(d.journal_keys()[1], std::make_pair(b.key, u64{1}));
  d.clear_journal_keys();
  EXPECT_TRUE(d.journal_keys().empty());
}

TEST(Decider, ResumeSeesEarlierKeys) {
  // A first run journals its kept keys; a second run (resumed or incremental)
  // loads them and finds later copies to be duplicates of the first run's
  // items.
  Decider first(Mode::Content, Scope::Global);
  Decision kept = first.decide(keys_of(1, 0, 0), A_INBOX, 3);
  first.kept(kept);
  std::vector<std::pair<Digest, u64>> journal = first.journal_keys();

  Decider second(Mode::Content, Scope::Global);
  for (const auto &[key, seq] : journal) second.load(key, seq);
  Decision copy = second.decide(keys_of(1, 0, 0), B_INBOX, 100);
  ASSERT_TRUE(copy.duplicate());
  EXPECT_EQ(*copy.duplicate_of, 3u);
  EXPECT_FALSE(second.decide(keys_of(2, 0, 0), B_INBOX, 101).duplicate());
}

}  // namespace
}  // namespace mm::dedup
