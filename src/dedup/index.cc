#include "mailmill/dedup/index.h"

#include <cstring>

namespace mm::dedup {

std::size_t KeyIndex::bucket(const Digest &key) const {
  u64 h;
  std::memcpy(&h, key.data(), sizeof h);  // the key is already a uniform hash
#ifdef MM_WEAK_HASH
  h &= 0xF;  // collision test build: at most 16 distinct starting buckets
#endif
  return static_cast<std::size_t>(h & (table_.size() - 1));
}

std::size_t KeyIndex::memory_bytes() const {
  return chunks_.size() * CHUNK * sizeof(Entry) + table_.capacity() * sizeof(u32);
}

void KeyIndex::rehash(std::size_t slots) {
  table_.assign(slots, 0);
  for (u32 n = 1; n <= size_; ++n) {
    std::size_t i = bucket(entry(n).key);
    while (table_[i]) i = (i + 1) & (table_.size() - 1);
    table_[i] = n;
  }
}

std::optional<u64> KeyIndex::find(const Digest &key) const {
  if (table_.empty()) return std::nullopt;
  for (std::size_t i = bucket(key);; i = (i + 1) & (table_.size() - 1)) {
    u32 n = table_[i];
    if (!n) return std::nullopt;
    if (entry(n).key == key) return entry(n).value;
  }
}

std::optional<u64> KeyIndex::find_or_insert(const Digest &key, u64 value) {
  if ((size_ + 1) * 4 > table_.size() * 3) rehash(table_.empty() ? 64 : table_.size() * 2);
  for (std::size_t i = bucket(key);; i = (i + 1) & (table_.size() - 1)) {
    u32 n = table_[i];
    if (n) {
      if (entry(n).key == key) return entry(n).value;
      continue;
    }
    if (size_ % CHUNK == 0) chunks_.push_back(std::make_unique<Entry[]>(CHUNK));
    chunks_[size_ / CHUNK][size_ % CHUNK] = Entry{key, value};
    ++size_;
    table_[i] = static_cast<u32>(size_);
    return std::nullopt;
  }
}

void KeyIndex::keep_smallest(const Digest &key, u64 value) {
  if (std::optional<u64> had = find_or_insert(key, value); had && *had > value) {
    for (std::size_t i = bucket(key);; i = (i + 1) & (table_.size() - 1)) {
      const u32 n = table_[i];
      if (entry(n).key == key) {
        chunks_[(n - 1) / CHUNK][(n - 1) % CHUNK].value = value;
        return;
      }
    }
  }
}

}  // namespace mm::dedup
