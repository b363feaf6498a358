#pragma once
/// SHA-256 ([FIPS 180-4]) for the hot path. On CPUs with the SHA extensions it runs its own
/// block function, and `update2` hashes two independent streams in one interleaved loop: the
/// SHA round instructions are latency-bound, so a second stream fills the pipeline's gaps
/// (about 1.2x the throughput of two separate passes on this project's benchmark machine).
/// The MIME builder uses that to hash an attachment's bytes (for the content key) and its
/// base64 output (for the key of the bytes written) in the same pass, while both are in
/// cache. Elsewhere it goes through OpenSSL. Not thread-safe per object; objects are cheap.
/// force_sha256_impl picks the implementation for tests and for MAILMILL_CPU=sha256=...
#include <array>
#include <cstddef>
#include <memory>

#include "mailmill/util/types.h"

namespace mm::util {

using Sha256Digest = std::array<u8, 32>;

/// The block functions Sha256 can run.
enum class Sha256Impl : u8 {
  OpenSsl,        ///< OpenSSL's EVP SHA-256 (whatever OpenSSL picks for this CPU)
  ShaExtensions,  ///< this file's x86 SHA-NI code, with the two-stream update2
};

/// Whether this CPU can run `impl` (OpenSsl: always). Thread-safe.
bool sha256_impl_supported(Sha256Impl impl);
/// Makes Sha256 objects constructed afterwards, and Sha256::digest, use `impl`. Returns false
/// and changes nothing when the CPU cannot run it. Meant for tests and program start-up; an
/// existing object keeps the implementation it was built with. Thread-safe.
bool force_sha256_impl(Sha256Impl impl);
/// Ends force_sha256_impl: the fastest supported implementation again.
void reset_sha256_impl();
/// The implementation new Sha256 objects use.
Sha256Impl sha256_impl();
/// "openssl" or "shani", the names MAILMILL_CPU uses.
const char *sha256_impl_name(Sha256Impl impl);

class Sha256 {
 public:
  /// Uses sha256_impl(); `allow_hardware` = false forces the OpenSSL path for this object.
  explicit Sha256(bool allow_hardware = true);
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  void update(ByteView data);
  /// The digest of everything added; the object starts over afterwards.
  Sha256Digest finish();

  /// a.update(da) and b.update(db), interleaved where both objects use the SHA extensions.
  static void update2(Sha256 &a, ByteView da, Sha256 &b, ByteView db);
  /// One-shot digest.
  static Sha256Digest digest(ByteView data);
  /// Whether new objects use the SHA extensions (sha256_impl() == ShaExtensions).
  static bool hardware();

 private:
  void reset();
  void take_blocks(const u8 *&p, std::size_t &n);  // fills buf_ up to a whole block

  bool hw_;
  u32 state_[8];
  u8 buf_[64];
  std::size_t buf_len_ = 0;
  u64 total_ = 0;
  void *evp_ = nullptr;  // EVP_MD_CTX, without the SHA extensions
};

}  // namespace mm::util
