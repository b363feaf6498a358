// The output memory budget on its own (src/pipeline/budget.h): hold, spill, read back, give
// back, and the sizing of work units.
#include "../../../src/pipeline/budget.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace mm::pipeline {
namespace {

Bytes filled(std::size_t n, char v) { return Bytes(n, v); }

TEST(OutputBudget, HoldsUpToAnEighthThenSpillsAndReadsBack) {
  const std::string dir = mm::testing::make_tmp_dir("mm_budget");
  OutputBudget budget(dir, 8 * 1000);          // an eighth: 1000 bytes held at most
  EXPECT_EQ(budget.stream_above(), 1u << 20);  // never below 1 MiB
  {
    UnitOut u;
    u.items.resize(3);
    u.items[0].bytes = filled(600, 1);
    u.items[1].bytes = filled(600, 2);
    u.items[2].bytes = filled(300, 3);
    const u64 cap0 = u.items[0].bytes.capacity();
    for (ItemOut &item : u.items) budget.hold_or_spill(u, item);
    // The first fits; the second would pass the limit and waits in the spill file; the third
    // fits again beside the first (capacity is what counts).
    EXPECT_FALSE(u.items[0].spilled);
    EXPECT_TRUE(u.items[1].spilled);
    EXPECT_TRUE(u.items[1].bytes.empty());
    EXPECT_EQ(u.items[1].spill_len, 600u);
    ASSERT_NE(u.spill, nullptr);
    EXPECT_EQ(budget.spilled_items(), 1);
    EXPECT_EQ(budget.spilled_bytes(), 600u);
    EXPECT_EQ(budget.held_bytes(), cap0 + u.items[2].bytes.capacity());
    EXPECT_EQ(u.held, budget.held_bytes());
    OutputBudget::load_spilled(u, u.items[1]);
    EXPECT_EQ(u.items[1].bytes, filled(600, 2));
  }
  // The unit gave its share back when it was freed.
  EXPECT_EQ(budget.held_bytes(), 0u);
  // The spill file was unlinked when made: nothing is left in the folder.
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST(OutputBudget, WithoutASpillFileBytesAreHeldAnyway) {
  OutputBudget budget("/nonexistent/mailmill-budget", 8);
  UnitOut u;
  u.items.resize(1);
  u.items[0].bytes = filled(100, 7);
  budget.hold_or_spill(u, u.items[0]);
  EXPECT_FALSE(u.items[0].spilled);
  EXPECT_EQ(u.items[0].bytes, filled(100, 7));
  EXPECT_EQ(budget.spilled_items(), 0);
  EXPECT_GE(budget.held_bytes(), 100u);
}

TEST(OutputBudget, UnitsOfBigItemsAreCutSmaller) {
  OutputBudget budget("/tmp", 1ull << 30);
  EXPECT_EQ(budget.next_piece(32), 32u);  // nothing seen yet: whole units
  budget.saw_item(1u << 20);
  budget.saw_item(1u << 20);
  EXPECT_EQ(budget.next_piece(32), 4u);  // about 4 MiB of output per piece
  EXPECT_EQ(budget.next_piece(3), 3u);
  budget.saw_item(100ull << 20);
  EXPECT_EQ(budget.next_piece(32), 1u);  // never less than one item
}

}  // namespace
}  // namespace mm::pipeline
