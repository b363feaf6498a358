#pragma once
// SHA-256 through OpenSSL: the independent oracle that tests compare mailmill's own SHA-256
// (util::Sha256) and the sha256 values of manifests and ground truth against. Header-only; the
// test executables that include it link OpenSSL::Crypto.
#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace mm::testing {

/// Lower-case hex SHA-256 of `data`.
inline std::string openssl_sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += HEX[md[i] >> 4];
    out += HEX[md[i] & 15];
  }
  return out;
}

}  // namespace mm::testing
