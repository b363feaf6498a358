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

/// Content hash recipe (version 2). It keys what an Internet message of the item carries, so
/// that an item read from a PST and the same item built as MIME (mime::build_message) and read
/// back (mime::parse_message, EML or mbox) get the same key. Each field is terminated by a
/// 0x00 byte, in this order:
///   "mm-content-v2"; item kind name, with Message and Other both "message";
///   the sender address; the recipients as "<type>:<address>", sorted; the message date to the
///   second as decimal unix time (mime::message_date; empty if unknown), an empty field ending
///   the recipients before it; the subject; the body; the attachments.
/// Header fields come from where the builder takes them: From, Subject and the recipients
/// from the transport header block when it has those fields (From; Subject; To, Cc or Bcc),
/// decoded by mime::parse_message, else from the item (From: sent-representing, else sender;
/// with no recipient rows, the names of PR_DISPLAY_TO/CC). Recipients are To and Cc only: the
/// MIME form carries Bcc only when no transport header block came with the item, so copies of
/// one message would differ by that alone.
/// Address rule: the SMTP address lower-cased, else "n:" and the display name, else "n:" and
/// the X.500 DN (an address without SMTP travels as its name); names with control characters
/// and runs of blanks made one space, ends trimmed, lower-cased. The subject the same way,
/// case kept.
/// Body: the text body as the builder writes it (the item's, else the one its RTF body gives:
/// RTF-encapsulated text, or native RTF as plain text), normalized (CR LF and CR become LF,
/// trailing whitespace removed from each line, leading and trailing blank lines removed); the
/// HTML body (the item's or RTF-encapsulated HTML), normalized the same way, when there is no
/// text body.
/// Attachments, sorted: "a" + hex SHA-256 of the bytes written (an OLE object's unpacked
/// picture or file); "m" + the content hash of an attached message; "o" for an attachment that
/// has no bytes to write (by reference, unreadable, OLE without data).
/// `known`: attachment digests the MIME builder already computed (mime::Built::data_digests).
Digest content_hash(const model::Message &msg, std::span<const mime::DataDigest> known = {});

/// Lower-case hex of a digest.
std::string to_hex(const u8 *data, std::size_t n);
template <std::size_t N>
std::string to_hex(const std::array<u8, N> &d) {
  return to_hex(d.data(), N);
}

}  // namespace mm::dedup
