#pragma once
/// Basic integer aliases and the byte-buffer type used across mailmill.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mm {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i32 = std::int32_t;
using i64 = std::int64_t;

/// An owned byte buffer. std::string is used (not vector<byte>) because every consumer —
/// mimetic, iostreams, zstd, OpenSSL — takes char data; it may hold any bytes including NUL.
using Bytes = std::string;
/// A non-owning view of bytes.
using ByteView = std::string_view;

/// Little-endian loads from possibly unaligned memory. Callers check bounds first.
inline u16 load_le16(const void *p) {
  const auto *b = static_cast<const unsigned char *>(p);
  return static_cast<u16>(b[0] | (b[1] << 8));
}
inline u32 load_le32(const void *p) {
  const auto *b = static_cast<const unsigned char *>(p);
  return static_cast<u32>(b[0]) | (static_cast<u32>(b[1]) << 8) | (static_cast<u32>(b[2]) << 16) |
         (static_cast<u32>(b[3]) << 24);
}
inline u64 load_le64(const void *p) {
  const auto *b = static_cast<const unsigned char *>(p);
  return static_cast<u64>(load_le32(b)) | (static_cast<u64>(load_le32(b + 4)) << 32);
}

}  // namespace mm
