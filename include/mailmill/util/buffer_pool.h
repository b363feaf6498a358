#pragma once
/// Recycles large byte buffers between items. A converter allocates a few big buffers per
/// item (a concatenated attachment, the encoded message) and frees them moments later; with
/// glibc these come from fresh mmap()s, so every page of every buffer is faulted in, zeroed
/// and charged again: on the attachment-heavy benchmark corpus that was a third of all CPU
/// time. Buffers of at least kMinPooled bytes handed back with `give` are kept (up to a byte
/// limit) and handed out again by `take`. Thread-safe.
#include <cstddef>
#include <memory>

#include "mailmill/util/types.h"

namespace mm::util {

/// Asks the kernel for transparent huge pages for the 2 MiB-aligned part of [p, p + n)
/// (MADV_HUGEPAGE; ignored where unsupported). For large, short-lived buffers.
void hint_huge_pages(void *p, std::size_t n);

class BufferPool {
 public:
  static constexpr std::size_t kMinPooled = 256u << 10;

  /// The process-wide pool.
  static BufferPool &instance();

  explicit BufferPool(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  /// An empty buffer with capacity for at least `capacity` bytes (a recycled one when one fits).
  Bytes take(std::size_t capacity);
  /// A buffer of exactly `size` bytes whose contents are unspecified (what its last user left
  /// there; only bytes it never held are zeroed): for callers that overwrite all of it, such
  /// as a read() target, without paying for zero-filling.
  Bytes take_sized(std::size_t size);
  /// Hands a buffer back; kept when large enough and the pool has room, else freed.
  void give(Bytes &&buffer);
  /// Bytes of capacity currently kept.
  std::size_t kept_bytes() const;
  /// Frees every kept buffer and sets the byte limit (0 disables pooling).
  void reset(std::size_t max_bytes);

  /// A shared owner of a buffer that goes back to the pool when the last reference goes.
  static std::shared_ptr<Bytes> shared(std::size_t capacity);
  /// The same for take_sized().
  static std::shared_ptr<Bytes> shared_sized(std::size_t size);

 private:
  struct Impl;
  std::size_t max_bytes_;
  std::shared_ptr<Impl> impl_ = make_impl();
  static std::shared_ptr<Impl> make_impl();
  Bytes take_impl(std::size_t capacity, bool keep_contents);
  static std::shared_ptr<Bytes> share(Bytes b);
};

}  // namespace mm::util
