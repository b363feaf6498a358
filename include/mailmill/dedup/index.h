#pragma once
/// The dedup index: digest -> the sequence number of the first (kept) occurrence. Entries
/// (32-byte digest + 8-byte value) live in fixed-size chunks that never move; an open-addressing
/// table of 4-byte entry numbers (load <= 0.75) points into them. That is 40 bytes per key plus
/// 5.3-10.7 bytes of table, about 50 bytes per key, with no per-key allocation. Equality always
/// compares the full 32-byte digest; the bucket hash is only a starting point. Not thread-safe:
/// used from the pipeline's serial stage. Holds at most 2^32 - 1 keys.
#include <memory>
#include <optional>
#include <vector>

#include "mailmill/dedup/keys.h"

namespace mm::dedup {

class KeyIndex {
 public:
  KeyIndex() = default;
  /// Returns the value stored for `key` if present; otherwise stores `value` and returns
  /// nullopt.
  std::optional<u64> find_or_insert(const Digest &key, u64 value);
  /// Stores `value` for `key` when the key is absent or holds a larger value (keys offered in
  /// any order keep their smallest value: the first occurrence when values are seqs).
  void keep_smallest(const Digest &key, u64 value);
  /// Lookup only.
  std::optional<u64> find(const Digest &key) const;
  std::size_t size() const { return size_; }
  /// Bytes held by the table.
  std::size_t memory_bytes() const;

 private:
  struct Entry {
    Digest key;
    u64 value;
  };
  static constexpr std::size_t CHUNK = 1 << 16;
  std::size_t bucket(const Digest &key) const;
  const Entry &entry(u32 n) const { return chunks_[(n - 1) / CHUNK][(n - 1) % CHUNK]; }
  void rehash(std::size_t slots);
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::vector<u32> table_;  // 0 = empty, else entry number (index + 1)
  std::size_t size_ = 0;
};

}  // namespace mm::dedup
