#include "mailmill/dedup/decider.h"

#include <string>

namespace mm::dedup {

// The key material is prefixed by the mode's name, so that keys of different
// modes never meet in one index (an output folder keeps its index across runs,
// and its journal holds these exact keys: changing the material orphans every
// journaled key). The mode's digest has a fixed length, so the source and
// folder appended for narrower scopes cannot run into it.
std::optional<Digest> Decider::key_of(const ItemKeys &keys, const ItemPlace &place) const {
  std::string material;
  switch (mode_) {
    case Mode::None:
      return std::nullopt;
    case Mode::MessageId:
      if (!keys.mih) return std::nullopt;
      material = "mid:" + std::string(keys.mih->begin(), keys.mih->end());
      break;
    case Mode::Content:
      material = "content:" + std::string(keys.content.begin(), keys.content.end());
      break;
    case Mode::Raw:
      material = "raw:" + std::string(keys.raw.begin(), keys.raw.end());
      break;
  }
  if (scope_ != Scope::Global) {
    material += "\n";
    material += place.source;
    if (scope_ == Scope::Folder) {
      material += "\n";
      material += place.folder;
    }
  }
  return sha256(material);
}

Decision Decider::decide(const ItemKeys &keys, const ItemPlace &place, u64 seq) {
  Decision d = decided(keys, place, seq, std::nullopt);
  if (d.keyed) d.duplicate_of = index_.find_or_insert(d.key, seq);
  return d;
}

Decision Decider::decided(const ItemKeys &keys, const ItemPlace &place, u64 seq,
                          std::optional<u64> duplicate_of) const {
  Decision d;
  d.seq = seq;
  std::optional<Digest> key = key_of(keys, place);
  if (!key) return d;
  d.keyed = true;
  d.key = *key;
  d.duplicate_of = duplicate_of;
  return d;
}

void Decider::kept(const Decision &d) {
  if (d.keyed && !d.duplicate()) journal_.emplace_back(d.key, d.seq);
}

}  // namespace mm::dedup
