// Planning on its own (src/pipeline/plan.h): labels, units, fates, and the ledger entries a plan
// makes before any item is read.
#include "../../../src/pipeline/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "test_support.h"

namespace mm::pipeline {
namespace {

TEST(PlanLabel, BelowTheIpmSubtreeWithSystemNamesPerProfile) {
  const std::vector<std::string> inbox = {"Top of Personal Folders", "Inbox"};
  const std::vector<std::string> sent = {"Top of Outlook data file", "Sent Items"};
  const std::vector<std::string> deep = {"Top of Personal Folders", "Inbox", "Project X"};
  EXPECT_EQ(label_for(inbox, Profile::Generic), "Inbox");
  EXPECT_EQ(label_for(inbox, Profile::Imap), "INBOX");
  EXPECT_EQ(label_for(inbox, Profile::Gmail), "INBOX");
  EXPECT_EQ(label_for(sent, Profile::GmailApi), "SENT");
  EXPECT_EQ(label_for(sent, Profile::Imap), "Sent Items");
  // Only a system folder itself is renamed for Gmail; its subfolders keep their names.
  EXPECT_EQ(label_for(deep, Profile::Gmail), "Inbox/Project X");
  EXPECT_EQ(label_for(deep, Profile::Imap), "INBOX/Project X");
  // The root itself: its own path when generic, INBOX for upload profiles.
  EXPECT_EQ(label_for({"Top of Personal Folders"}, Profile::Gmail), "INBOX");
  EXPECT_EQ(label_for({"Root", "Other"}, Profile::Generic), "Root/Other");
}

TEST(PlanInputs, UnreadableInputIsLedgeredAndNotPlanned) {
  Ledger ledger;
  std::ostringstream log;
  i64 called = 0;
  Plan plan = plan_inputs({"/nonexistent/mailmill-plan-test.pst"}, PlanOptions{}, 7, ledger, log,
                          [&](SourcePlan &) { ++called; });
  EXPECT_TRUE(plan.sources.empty());
  EXPECT_TRUE(plan.units.empty());
  EXPECT_EQ(plan.total_items, 0);
  EXPECT_EQ(called, 0);
  ASSERT_EQ(ledger.sources().size(), 1u);
  EXPECT_FALSE(ledger.sources()[0].opened);
  EXPECT_FALSE(ledger.sources()[0].error.empty());
  EXPECT_NE(log.str().find("error: /nonexistent/mailmill-plan-test.pst"), std::string::npos);
}

// Every census item is planned exactly once, in a unit of at most UNIT_ITEMS items of one
// folder, with seqs contiguous from first_seq across units and sources.
TEST(PlanInputs, UnitsCoverTheCensusOnceInSeqOrder) {
  MM_REQUIRE_CORPUS();
  const std::vector<std::string> inputs = {mm::testing::corpus_path("pst/aspnet__Outlook.pst"),
                                           mm::testing::corpus_path("pst/tika__testPST.pst")};
  Ledger ledger;
  std::ostringstream log;
  std::vector<std::string> announced;
  PlanOptions po;
  po.reader = source::Reader::Native;
  Plan plan = plan_inputs(inputs, po, 100, ledger, log, [&](SourcePlan &sp) {
    EXPECT_FALSE(sp.folders.empty());
    announced.push_back(sp.path);
  });
  ASSERT_EQ(plan.sources.size(), 2u);
  EXPECT_EQ(announced, inputs);
  u64 seq = 100;
  std::vector<std::vector<u64>> planned(2);
  for (const Unit &u : plan.units) {
    EXPECT_EQ(u.first_seq, seq);
    ASSERT_LT(u.begin, u.end);
    EXPECT_LE(u.end - u.begin, UNIT_ITEMS);
    const FolderPlan &fp = plan.sources[u.source]->folders[u.folder];
    ASSERT_LE(u.end, fp.nids.size());
    for (std::size_t i = u.begin; i < u.end; ++i) planned[u.source].push_back(fp.nids[i]);
    seq += u.end - u.begin;
  }
  EXPECT_EQ(plan.total_items, static_cast<i64>(seq - 100));
  i64 seen = 0;
  for (std::size_t s = 0; s < 2; ++s) {
    const SourceLedger &sl = *plan.sources[s]->ledger;
    EXPECT_TRUE(sl.opened);
    seen += sl.totals.seen;
    // The plan against the census's own list of node ids (sorted): the same ids, once each.
    std::vector<u64> ids = planned[s];
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, sl.expected) << inputs[s];
    for (const FolderPlan &fp : plan.sources[s]->folders) {
      EXPECT_EQ(fp.nids.size(), fp.fates.size());
      ASSERT_NE(fp.ledger, nullptr);
      EXPECT_EQ(fp.ledger->path, fp.path);
    }
  }
  EXPECT_EQ(plan.total_items, seen);
  EXPECT_GT(seen, 0);
}

TEST(PlanInputs, PlannedFatesGiveOutcomesWithReasons) {
  FolderPlan fp;
  fp.info.node_id = 0x122;
  fp.nids = {0x204, 0x208, 0x224, 0x244};
  fp.fates = {Fate::Associated, Fate::Unlisted, Fate::TooDeep, Fate::Dangling};
  const Outcome want[] = {Outcome::Skipped, Outcome::Skipped, Outcome::Failed, Outcome::Failed};
  const char *code[] = {"associated", "unlisted", "LimitExceeded", "ItemUnreadable"};
  for (std::size_t i = 0; i < fp.nids.size(); ++i) {
    Outcome o = Outcome::Written;
    ItemNote note;
    planned_outcome(fp, i, o, note);
    EXPECT_EQ(o, want[i]) << i;
    EXPECT_EQ(note.node_id, fp.nids[i]);
    EXPECT_EQ(note.code, code[i]);
    EXPECT_FALSE(note.detail.empty());
  }
}

}  // namespace
}  // namespace mm::pipeline
