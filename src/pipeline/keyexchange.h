#pragma once
// Exact global dedup for a run spread over ranks (issue 17). Every keyed item's scoped dedup
// key goes to an owner rank chosen by the key (its first 8 bytes, a uniform hash, modulo the
// rank count). Pass 1 runs while the ranks convert: keys go out in all-to-all rounds and each
// owner keeps, per key, the smallest seq it was offered (KeyIndex::keep_smallest): the first
// occurrence in input order, which is what the single-machine run keeps, since it decides in
// seq order. Pass 2, once every rank has finished: each rank asks the owners for the first seq
// of each of its keys, in batches; an item whose key's first seq is not its own is a duplicate
// of that seq. An owner holds only its share of the keys (about 1/N of the single-machine
// index). Both passes are collective: every rank runs them, in this order.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "mailmill/dedup/index.h"
#include "mailmill/pipeline/cluster.h"

namespace mm::pipeline {

/// One keyed item: its seq and its scoped dedup key (dedup::Decider::key_of).
struct KeyedItem {
  u64 seq = 0;
  dedup::Digest key{};
};
/// Its size in the parts' key files and in pass 1's rounds.
constexpr std::size_t KEYED_ITEM_BYTES = 8 + 32;
void put_keyed(Bytes &out, const KeyedItem &k);
KeyedItem get_keyed(const char *p);

/// The rank that owns `key` among `ranks`.
int owner_of(const dedup::Digest &key, int ranks);

/// What the exchange cost this rank.
struct ExchangeStats {
  u64 rounds = 0;      ///< all-to-all rounds (both passes)
  u64 bytes_sent = 0;  ///< payload bytes this rank sent to other ranks (both passes)
  u64 keys_sent = 0;   ///< keyed items offered in pass 1 (to itself included)
  u64 owned_keys = 0;  ///< distinct keys this rank owns
};

/// Pass 1. add() queues a key; poll() moves the rounds on without blocking (called by the
/// converting rank's serial stage between work units); finish() runs rounds until every rank
/// has finished. Not thread-safe (one caller at a time).
class KeySpreader {
 public:
  explicit KeySpreader(Cluster &cluster);
  void add(const KeyedItem &k);
  /// Completes a round in flight; starts the next once round_interval() has passed since the
  /// last started (or `finished`: this rank will add no more keys). True once every rank has
  /// finished.
  bool poll(bool finished, bool failed = false);
  /// Rounds until every rank has finished; `failed` tells the others this rank stopped early.
  void finish(bool failed);
  /// True once a round carried a failure flag from some rank (the run then stops everywhere).
  /// Safe to call from any thread (the pipeline's input stage stops handing out work).
  bool someone_failed() const { return someone_failed_.load(std::memory_order_relaxed); }
  /// Key -> first seq, of the keys this rank owns.
  const dedup::KeyIndex &owned() const { return owned_; }
  ExchangeStats &stats() { return stats_; }
  /// 20 ms per 8 ranks: every round costs each rank a header for every other rank, so with more
  /// ranks rounds are rarer and carry more keys (1,000 ranks: a round every 2.5 s, about
  /// 9 kB of headers per rank per round).
  static std::chrono::milliseconds round_interval(int ranks) {
    return std::chrono::milliseconds(20 * ((ranks + 7) / 8));
  }

 private:
  void start(bool finished, bool failed);
  Cluster &cluster_;
  std::vector<Bytes> out_;  // queued records per owner
  std::unique_ptr<Exchange> inflight_;
  std::chrono::steady_clock::time_point last_start_{};
  std::chrono::milliseconds interval_;
  bool all_finished_ = false;
  std::atomic<bool> someone_failed_{false};
  dedup::KeyIndex owned_;
  ExchangeStats stats_;
};

/// Pass 2. `next` fills the batch it is given with this rank's next keyed items in seq order
/// (up to `batch` of them) and returns false once it has none left; `duplicate` is called for
/// every duplicate among them, in seq order, with the seq of its first occurrence. Throws
/// FatalError when an owner does not know a key it was sent (the passes did not match).
void find_duplicates(Cluster &cluster, const dedup::KeyIndex &owned, std::size_t batch,
                     const std::function<bool(std::vector<KeyedItem> &)> &next,
                     const std::function<void(u64 seq, u64 first)> &duplicate,
                     ExchangeStats &stats);

}  // namespace mm::pipeline
