#include "mailmill/util/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

namespace mm::util {

struct BufferPool::Impl {
  std::mutex mu;
  std::vector<Bytes> kept;  // unordered; a handful of entries
  std::size_t kept_bytes = 0;
};

void hint_huge_pages(void *p, std::size_t n) {
#ifdef MADV_HUGEPAGE
  // Transparent huge pages for the whole 2 MiB pages inside [p, p + n): a 16 MiB buffer then
  // takes 8 page faults instead of 4,096 when first filled.
  constexpr std::uintptr_t kHuge = 2u << 20;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

namespace {

// Reserves `capacity` and asks for huge pages when that allocated new memory.
void reserve_huge(Bytes &b, std::size_t capacity) {
  const char *before = b.data();
  b.reserve(capacity);
  if (b.data() != before && b.capacity() >= (4u << 20)) hint_huge_pages(b.data(), b.capacity());
}

}  // namespace

std::shared_ptr<BufferPool::Impl> BufferPool::make_impl() { return std::make_shared<Impl>(); }

BufferPool &BufferPool::instance() {
  // 48 MiB: a few of the largest messages in flight (it counts in resident memory, whose
  // benchmark target is 256 MiB). Never destroyed (used until exit).
  static BufferPool *pool = new BufferPool(48u << 20);
  return *pool;
}

Bytes BufferPool::take(std::size_t capacity) { return take_impl(capacity, false); }

Bytes BufferPool::take_sized(std::size_t size) {
  Bytes out = take_impl(size, true);
  out.resize(size);  // shrinking is free; growing zeroes only the part never used
  return out;
}

Bytes BufferPool::take_impl(std::size_t capacity, bool keep_contents) {
  if (capacity >= kMinPooled) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto &kept = impl_->kept;
    // The smallest buffer that fits; else the largest, which reserve() then grows.
    auto best = kept.end();
    for (auto it = kept.begin(); it != kept.end(); ++it) {
      if (it->capacity() >= capacity &&
          (best == kept.end() || it->capacity() < best->capacity()))
        best = it;
    }
    if (best == kept.end() && !kept.empty())
      best = std::max_element(kept.begin(), kept.end(), [](const Bytes &a, const Bytes &b) {
        return a.capacity() < b.capacity();
      });
    if (best != kept.end()) {
      Bytes out = std::move(*best);
      impl_->kept_bytes -= out.capacity();
      *best = std::move(kept.back());
      kept.pop_back();
      if (!keep_contents || out.capacity() < capacity) out.clear();  // a regrow copies nothing
      reserve_huge(out, capacity);
      return out;
    }
  }
  Bytes out;
  reserve_huge(out, capacity);
  return out;
}

void BufferPool::give(Bytes &&buffer) {
  const std::size_t cap = buffer.capacity();
  if (cap < kMinPooled) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->kept_bytes + cap > max_bytes_) return;  // freed by the caller's destructor
  impl_->kept_bytes += cap;
  impl_->kept.push_back(std::move(buffer));
}

std::size_t BufferPool::kept_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->kept_bytes;
}

void BufferPool::reset(std::size_t max_bytes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->kept.clear();
  impl_->kept_bytes = 0;
  max_bytes_ = max_bytes;
}

std::shared_ptr<Bytes> BufferPool::share(Bytes b) {
  return std::shared_ptr<Bytes>(new Bytes(std::move(b)), [](Bytes *p) {
    instance().give(std::move(*p));
    delete p;
  });
}

std::shared_ptr<Bytes> BufferPool::shared(std::size_t capacity) {
  return share(instance().take(capacity));
}

std::shared_ptr<Bytes> BufferPool::shared_sized(std::size_t size) {
  return share(instance().take_sized(size));
}

}  // namespace mm::util
