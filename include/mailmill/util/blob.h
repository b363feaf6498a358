#pragma once
/// Immutable bytes that are either owned or a view kept alive by a shared owner. The message
/// model uses it for attachment data so that a reader's bytes (a memory-mapped PST, a decoded
/// block, a property buffer) reach the MIME builder without being copied: an attachment of
/// 100 MB is then held once, by whoever read it, instead of once per stage.
#include <memory>
#include <string>
#include <string_view>

#include "mailmill/util/types.h"

namespace mm {

class Blob {
 public:
  Blob() = default;
  /// Takes ownership of `owned`.
  Blob(Bytes owned) : owned_(std::make_shared<const Bytes>(std::move(owned))), view_(*owned_) {}
  Blob(const char *text) : Blob(Bytes(text)) {}
  /// Views `view`, whose memory `owner` keeps alive (a null owner means the caller guarantees
  /// the memory outlives every copy of this Blob).
  Blob(ByteView view, std::shared_ptr<const void> owner) : keep_(std::move(owner)), view_(view) {}

  ByteView view() const { return view_; }
  operator ByteView() const { return view_; }
  const char *data() const { return view_.data(); }
  std::size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  /// An owned copy (for callers that must modify the bytes).
  Bytes str() const { return Bytes(view_); }

  friend bool operator==(const Blob &a, ByteView b) { return a.view_ == b; }
  friend bool operator==(const Blob &a, const Blob &b) { return a.view_ == b.view_; }
  friend bool operator==(const Blob &a, const Bytes &b) { return a.view_ == ByteView(b); }
  friend bool operator==(const Blob &a, const char *b) { return a.view_ == ByteView(b); }

 private:
  std::shared_ptr<const Bytes> owned_;
  std::shared_ptr<const void> keep_;
  ByteView view_;
};

}  // namespace mm
