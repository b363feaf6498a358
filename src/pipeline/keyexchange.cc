#include "keyexchange.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "mailmill/util/result.h"

namespace mm::pipeline {
namespace {

constexpr u8 FINISHED = 1, FAILED = 2, MORE = 4;

void put_u64(Bytes &out, u64 v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}

}  // namespace

void put_keyed(Bytes &out, const KeyedItem &k) {
  put_u64(out, k.seq);
  out.append(reinterpret_cast<const char *>(k.key.data()), k.key.size());
}

KeyedItem get_keyed(const char *p) {
  KeyedItem k;
  k.seq = load_le64(p);
  std::memcpy(k.key.data(), p + 8, k.key.size());
  return k;
}

int owner_of(const dedup::Digest &key, int ranks) {
  return static_cast<int>(load_le64(key.data()) % static_cast<u64>(ranks));
}

// ---- Pass 1 ---------------------------------------------------------------------------------

KeySpreader::KeySpreader(Cluster &cluster)
    : cluster_(cluster), out_(cluster.size()), interval_(round_interval(cluster.size())) {}

void KeySpreader::add(const KeyedItem &k) {
  put_keyed(out_[owner_of(k.key, cluster_.size())], k);
  ++stats_.keys_sent;
}

void KeySpreader::start(bool finished, bool failed) {
  std::vector<Bytes> to(cluster_.size());
  const u8 flags = (finished ? FINISHED : 0) | (failed ? FAILED : 0);
  for (int r = 0; r < cluster_.size(); ++r) {
    to[r].reserve(1 + out_[r].size());
    to[r].push_back(static_cast<char>(flags));
    to[r] += out_[r];
    out_[r].clear();
    if (r != cluster_.rank()) stats_.bytes_sent += to[r].size();
  }
  inflight_ = cluster_.start_exchange(std::move(to));
  last_start_ = std::chrono::steady_clock::now();
  ++stats_.rounds;
}

bool KeySpreader::poll(bool finished, bool failed) {
  if (all_finished_) return true;
  if (inflight_) {
    if (!inflight_->done()) return false;
    bool everyone = true;
    for (const Bytes &got : inflight_->take()) {
      if (got.empty()) throw FatalError("MPI: an exchange round arrived without its header");
      const u8 flags = static_cast<u8>(got[0]);
      everyone = everyone && (flags & FINISHED);
      if (flags & FAILED) someone_failed_ = true;
      for (std::size_t at = 1; at + KEYED_ITEM_BYTES <= got.size(); at += KEYED_ITEM_BYTES) {
        const KeyedItem k = get_keyed(got.data() + at);
        owned_.keep_smallest(k.key, k.seq);
      }
    }
    inflight_.reset();
    stats_.owned_keys = owned_.size();
    if (everyone) {
      all_finished_ = true;
      return true;
    }
  }
  if (finished || std::chrono::steady_clock::now() - last_start_ >= interval_)
    start(finished, failed);
  return false;
}

void KeySpreader::finish(bool failed) {
  while (!poll(true, failed)) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

// ---- Pass 2 ---------------------------------------------------------------------------------

void find_duplicates(Cluster &cluster, const dedup::KeyIndex &owned, std::size_t batch,
                     const std::function<bool(std::vector<KeyedItem> &)> &next,
                     const std::function<void(u64 seq, u64 first)> &duplicate,
                     ExchangeStats &stats) {
  const int n = cluster.size(), me = cluster.rank();
  bool mine_left = true;
  std::vector<KeyedItem> items;
  std::vector<std::pair<u64, u64>> dups;
  for (;;) {
    items.clear();
    if (mine_left) mine_left = next(items);
    if (items.size() > batch) throw FatalError("MPI: a key batch is larger than asked");
    // Questions: one flag byte ("I have more after this batch"), then the keys, by owner.
    std::vector<Bytes> ask(n);
    std::vector<std::vector<u64>> asked(n);
    for (int r = 0; r < n; ++r) ask[r].push_back(static_cast<char>(mine_left ? MORE : 0));
    for (const KeyedItem &k : items) {
      const int o = owner_of(k.key, n);
      ask[o].append(reinterpret_cast<const char *>(k.key.data()), k.key.size());
      asked[o].push_back(k.seq);
    }
    for (int r = 0; r < n; ++r)
      if (r != me) stats.bytes_sent += ask[r].size();
    std::vector<Bytes> questions = cluster.exchange(std::move(ask));
    // Answers: the first seq of each key asked, in the order asked.
    bool anyone_more = false;
    std::vector<Bytes> answer(n);
    for (int r = 0; r < n; ++r) {
      const Bytes &q = questions[r];
      if (q.empty()) throw FatalError("MPI: a question round arrived without its header");
      anyone_more = anyone_more || (static_cast<u8>(q[0]) & MORE);
      for (std::size_t at = 1; at + 32 <= q.size(); at += 32) {
        dedup::Digest key;
        std::memcpy(key.data(), q.data() + at, key.size());
        std::optional<u64> first = owned.find(key);
        if (!first)
          throw FatalError("MPI: rank " + std::to_string(r) +
                           " asked about a key no rank offered (the two passes disagree)");
        put_u64(answer[r], *first);
      }
      if (r != me) stats.bytes_sent += answer[r].size();
    }
    std::vector<Bytes> answers = cluster.exchange(std::move(answer));
    stats.rounds += 2;
    dups.clear();
    for (int o = 0; o < n; ++o) {
      if (answers[o].size() != 8 * asked[o].size())
        throw FatalError("MPI: rank " + std::to_string(o) + " answered " +
                         std::to_string(answers[o].size() / 8) + " of " +
                         std::to_string(asked[o].size()) + " keys");
      for (std::size_t i = 0; i < asked[o].size(); ++i) {
        const u64 first = load_le64(answers[o].data() + 8 * i);
        if (first != asked[o][i]) dups.emplace_back(asked[o][i], first);
      }
    }
    std::sort(dups.begin(), dups.end());
    for (const auto &[seq, first] : dups) duplicate(seq, first);
    if (!anyone_more) return;
  }
}

}  // namespace mm::pipeline
