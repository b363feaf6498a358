#include "budget.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

#include "mailmill/util/buffer_pool.h"
#include "mailmill/util/result.h"

namespace mm::pipeline {
namespace {
constexpr u64 UNIT_BYTES = 4u << 20;  // output per work unit when items are large
}  // namespace

UnitOut::~UnitOut() {
  if (spill) std::fclose(spill);
  if (held_total) held_total->fetch_sub(held);
  for (ItemOut &item : items) util::BufferPool::instance().give(std::move(item.bytes));
}

OutputBudget::OutputBudget(std::filesystem::path spill_dir, u64 max_memory)
    : spill_dir_(std::move(spill_dir)), max_memory_(max_memory) {}

// A message bigger than a 16th of --max-memory (at least 1 MiB) is built
// straight into the unit's spill file instead of memory: its attachments are
// then held once, by the reader, and never a second time as encoded output.
u64 OutputBudget::stream_above() const { return std::max<u64>(max_memory_ / 16, 1u << 20); }

std::FILE *OutputBudget::spill_file(UnitOut &u) const {
  if (u.spill) return u.spill;
  std::string tmpl = (spill_dir_ / "spill-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return nullptr;
  ::unlink(tmpl.c_str());
  u.spill = ::fdopen(fd, "w+b");
  return u.spill;
}

void OutputBudget::count_streamed(const ItemOut &item) {
  spilled_items_.fetch_add(1);
  spilled_bytes_.fetch_add(item.spill_len);
}

// Bound memory: finished output of all units in flight may take an eighth of
// --max-memory (the rest is headroom for the items being converted, whose raw
// properties, model and output coexist briefly, and for the readers); past
// that, an item's bytes wait in an unlinked temporary file until the writer
// takes them. The buffer's capacity counts (a recycled buffer, or a zstd
// frame's, can be larger than its bytes).
void OutputBudget::hold_or_spill(UnitOut &u, ItemOut &item) {
  u.held_total = &held_bytes_;
  const u64 n = item.bytes.empty() ? 0 : item.bytes.capacity();
  if (n > 0 && held_bytes_.fetch_add(n) + n > max_memory_ / 8) {
    held_bytes_.fetch_sub(n);
    if (std::FILE *f = spill_file(u)) {
      std::fseek(f, 0, SEEK_END);
      item.spill_offset = static_cast<u64>(std::ftell(f));
      if (std::fwrite(item.bytes.data(), 1, item.bytes.size(), f) == item.bytes.size()) {
        item.spilled = true;
        item.spill_len = item.bytes.size();
        spilled_items_.fetch_add(1);
        spilled_bytes_.fetch_add(item.spill_len);
        util::BufferPool::instance().give(std::move(item.bytes));
        item.bytes = Bytes();
        return;
      }
    }
    held_bytes_.fetch_add(n);  // no temporary file: hold it anyway
  }
  u.held += n;
}

void OutputBudget::load_spilled(const UnitOut &u, ItemOut &item) {
  item.bytes = util::BufferPool::instance().take(item.spill_len);
  item.bytes.resize(item.spill_len);
  std::fseek(u.spill, static_cast<long>(item.spill_offset), SEEK_SET);
  if (std::fread(item.bytes.data(), 1, item.bytes.size(), u.spill) != item.bytes.size())
    throw FatalError("cannot read back a spilled message from the temporary file");
}

void OutputBudget::saw_item(u64 size) {
  done_items_seen_.fetch_add(1, std::memory_order_relaxed);
  done_bytes_seen_.fetch_add(size, std::memory_order_relaxed);
}

// Output waits in memory until its whole unit is done, so units of big items
// are cut smaller: about UNIT_BYTES of output each, judged by the items so far.
std::size_t OutputBudget::next_piece(std::size_t left) const {
  const u64 items = done_items_seen_.load(), bytes = done_bytes_seen_.load();
  if (items > 0 && bytes > 0) {
    const u64 avg = std::max<u64>(bytes / items, 1);
    return std::min<std::size_t>(left, std::max<u64>(1, UNIT_BYTES / avg));
  }
  return left;
}

}  // namespace mm::pipeline
