#pragma once
/// The dedup decision: which items are first copies (kept) and which are
/// duplicates of an earlier kept item. The mode picks the key (EDRM MIH,
/// content hash, raw hash, or none), the scope how far a key reaches (every
/// input and earlier run, one input, one folder); the index holds every key
/// seen, with the seq of its first item. Keys of kept items are also collected
/// for the run's journal, so that a resumed or later run into the same output
/// sees them.
///
/// Decisions depend only on the order of the calls: the pipeline makes them in
/// its serial in-order stage, in seq order, so the earliest seq always wins.
/// Not thread-safe.
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "mailmill/dedup/index.h"
#include "mailmill/dedup/keys.h"

namespace mm::dedup {

/// Which key decides that two items are the same message (`--dedup`).
enum class Mode : u8 { None, MessageId, Content, Raw };
/// How far a key reaches (`--dedup-scope`).
enum class Scope : u8 { Global, Source, Folder };

/// The keys of one item, computed in the pipeline's parallel stage.
struct ItemKeys {
  std::optional<Md5> mih;  ///< absent when the item has no Message-ID
  Digest content{};
  Digest raw{};
};

/// Where an item is, for the narrower scopes: an identity of its input (the run
/// uses the absolute path) and its folder path. Ignored by Scope::Global.
struct ItemPlace {
  std::string_view source;
  std::string_view folder;
};

/// The decision about one item.
struct Decision {
  bool keyed = false;               ///< false: no key (mode none, or no Message-ID); kept
  Digest key{};                     ///< the scoped key, when keyed
  u64 seq = 0;                      ///< the item's seq
  std::optional<u64> duplicate_of;  ///< the seq of the kept first copy, for a duplicate
  bool duplicate() const { return duplicate_of.has_value(); }
};

class Decider {
 public:
  Decider(Mode mode, Scope scope) : mode_(mode), scope_(scope) {}

  /// The scoped key of an item: sha256 over the mode's key material, plus the
  /// source (and folder) for narrower scopes. nullopt when the item has no key
  /// in this mode (Mode::None, or Mode::MessageId without a Message-ID). Pure.
  std::optional<Digest> key_of(const ItemKeys &keys, const ItemPlace &place) const;

  /// Decides item `seq`: a duplicate when its key is already known (from an
  /// earlier item or an earlier run), else the first copy, whose key is stored
  /// with `seq` at once. Call in seq order.
  Decision decide(const ItemKeys &keys, const ItemPlace &place, u64 seq);

  /// The decision about item `seq` when another process decided whether it is a duplicate
  /// (a distributed run: the key's owner rank found the first occurrence). Leaves the index
  /// alone: `duplicate_of` is taken as it comes.
  Decision decided(const ItemKeys &keys, const ItemPlace &place, u64 seq,
                   std::optional<u64> duplicate_of) const;

  /// Records that the first copy of `d` was written: its key joins the keys to
  /// journal. (Call it after the item's bytes reached the sink, so a journal
  /// commit never holds a key whose item it does not hold.) No-op for unkeyed
  /// or duplicate decisions.
  void kept(const Decision &d);

  /// Adds a key an earlier run committed (from the journal), kept as item
  /// `seq`.
  void load(const Digest &key, u64 seq) { index_.find_or_insert(key, seq); }
  /// The index, for bulk loading from the journal.
  KeyIndex &index() { return index_; }

  /// Keys recorded by kept() since the last clear_journal_keys(), in order,
  /// with their seq.
  const std::vector<std::pair<Digest, u64>> &journal_keys() const { return journal_; }
  /// Called once those keys are committed to the journal.
  void clear_journal_keys() { journal_.clear(); }

  Mode mode() const { return mode_; }
  Scope scope() const { return scope_; }

 private:
  Mode mode_;
  Scope scope_;
  KeyIndex index_;
  std::vector<std::pair<Digest, u64>> journal_;
};

}  // namespace mm::dedup
