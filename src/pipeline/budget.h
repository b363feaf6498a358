#pragma once
// The memory budget of the pipeline's output: finished output of the units in
// flight is held in memory up to an eighth of --max-memory, beyond which an
// item's bytes wait in its unit's spill file (an unlinked temporary file in
// OUTDIR/.mailmill/) until the writer takes them; a message bigger than a
// sixteenth of it (at least 1 MiB) is built straight into that file. The budget
// also sizes work units by the output seen so far, so that units of big items
// are cut smaller. Thread-safe: the parallel stage calls it from every thread
// (relaxed atomics only); the rest of the run reads its totals once the
// pipeline is done.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "plan.h"
#include "process.h"

namespace mm::pipeline {

/// A processed unit: its items' outputs, and the spill file holding those that
/// did not fit. Owns the spill file and its share of the held bytes; both are
/// given back when destroyed.
struct UnitOut {
  Unit unit;
  std::vector<ItemOut> items;
  std::FILE *spill = nullptr;              ///< bytes of spilled items
  std::atomic<u64> *held_total = nullptr;  ///< the run's count of output bytes held in memory
  u64 held = 0;                            ///< this unit's share of it
  UnitOut() = default;
  UnitOut(const UnitOut &) = delete;
  UnitOut &operator=(const UnitOut &) = delete;
  ~UnitOut();
};

class OutputBudget {
 public:
  /// `spill_dir` is where spill files are made (it must exist when the first
  /// one is needed); `max_memory` is --max-memory.
  OutputBudget(std::filesystem::path spill_dir, u64 max_memory);

  /// Messages larger than this are built straight into the unit's spill file.
  u64 stream_above() const;
  /// Opens the spill file of `u` on first use; nullptr when no temporary file
  /// can be made (items are then held in memory anyway).
  std::FILE *spill_file(UnitOut &u) const;
  /// Accounts an item the builder streamed into the spill file
  /// (ItemOut::spilled).
  void count_streamed(const ItemOut &item);
  /// Holds the finished bytes of `item` in memory when the budget allows, else
  /// moves them to the spill file of `u` (ItemOut::spilled, spill_offset,
  /// spill_len). Never fails: without a spill file the bytes stay in memory.
  void hold_or_spill(UnitOut &u, ItemOut &item);
  /// Reads a spilled item's bytes back into item.bytes (a recycled buffer).
  /// Throws FatalError when the temporary file cannot be read.
  static void load_spilled(const UnitOut &u, ItemOut &item);

  /// Records the output size of a finished item, for sizing units.
  void saw_item(u64 size);
  /// How many of the `left` items of a unit to hand out next: all, or about
  /// UNIT_BYTES of output judged by the items seen so far. Only the grouping
  /// changes, never the output.
  std::size_t next_piece(std::size_t left) const;

  /// Output bytes of units in flight now held in memory (buffer capacities).
  u64 held_bytes() const { return held_bytes_.load(); }
  /// Items and bytes that went to spill files (built there or moved there).
  i64 spilled_items() const { return static_cast<i64>(spilled_items_.load()); }
  u64 spilled_bytes() const { return spilled_bytes_.load(); }

 private:
  std::filesystem::path spill_dir_;
  u64 max_memory_;
  std::atomic<u64> held_bytes_{0};  // output bytes of units in flight held in memory
  std::atomic<u64> spilled_items_{0}, spilled_bytes_{0};
  std::atomic<u64> done_items_seen_{0}, done_bytes_seen_{0};  // for sizing work units
};

}  // namespace mm::pipeline
