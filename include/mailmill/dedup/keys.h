#pragma once
/// Dedup keys, computed from the message model and the bytes we built (never by re-parsing).
///
/// Three keys per message, all recorded in the manifest:
/// - EDRM Message Identification Hash (MIH): MD5 of the Message-ID value including its angle
///   brackets, as the EDRM MIH specification defines it;
/// - content hash: SHA-256 of a canonical serialization of the normalized message (recipe in
///   content_hash() below), equal for copies that differ only in transport headers, flags,
///   folder or MIME encoding choices;
/// - raw hash: SHA-256 of the exact bytes written.
/// Thread-safe, pure functions.
#include <array>
#include <span>
#include <string>
#include <string_view>

#include "mailmill/mime/build.h"
#include "mailmill/model/item.h"
#include "mailmill/util/types.h"

namespace mm::dedup {

using Digest = std::array<u8, 32>;
using Md5 = std::array<u8, 16>;

/// SHA-256 (util::Sha256: the CPU's SHA extensions where it has them, else OpenSSL).
Digest sha256(ByteView data);
/// MD5 through OpenSSL.
Md5 md5(ByteView data);

/// EDRM MIH: MD5 of the Message-ID exactly as written in the header, angle brackets included.
Md5 edrm_mih(std::string_view message_id);

/// Content hash recipe (version 1), each field terminated by a 0x00 byte, in this order:
///   "mm-content-v1"; item kind name; sender address (SMTP lower-cased, else X.500 DN
///   lower-cased, else display name); recipients as "<type>:<address>" with the same address
///   rule, sorted; the message date to the second as decimal unix time (empty if unknown);
///   subject (UTF-8, surrounding whitespace trimmed); body text normalized (CR LF and CR become
///   LF, trailing whitespace removed from each line, leading and trailing blank lines removed)
///   — the HTML body, normalized the same way, when there is no text body; then the sorted hex
///   SHA-256 of every attachment's bytes (an attached message contributes its own content hash).
/// `known`: attachment digests the MIME builder already computed (mime::Built::data_digests).
Digest content_hash(const model::Message &msg, std::span<const mime::DataDigest> known = {});

/// Lower-case hex of a digest.
std::string to_hex(const u8 *data, std::size_t n);
template <std::size_t N>
std::string to_hex(const std::array<u8, N> &d) {
  return to_hex(d.data(), N);
}

}  // namespace mm::dedup
