#pragma once
// S/MIME items keep the signed or encrypted entity they were received as ([MS-OXOSMIME] 2.1):
// IPM.Note.SMIME.MultipartSigned holds the whole multipart/signed entity in its one attachment
// (smime.p7m), IPM.Note.SMIME holds the application/pkcs7-mime content (the CMS blob). Writing
// that entity back as the message body, byte for byte, is what keeps signatures verifiable.
// Pure functions; the builder (build.cc) wraps the result in its entity.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/model/item.h"
#include "mailmill/util/result.h"

namespace mm::mime::smime {

enum class Kind : u8 { None, MultipartSigned, Opaque };

/// IPM.Note.SMIME.MultipartSigned (and IPM.InfoPathForm.*.SMIME.MultipartSigned) is
/// MultipartSigned; IPM.Note.SMIME (and IPM.InfoPathForm.*.SMIME) is Opaque ([MS-OXCMAIL]
/// 2.1.3.1.3); case-insensitive. None otherwise.
Kind kind_of(std::string_view message_class);

/// The entity to write as the message body.
struct Stored {
  std::vector<std::string> fields;  ///< its header fields, folded lines joined with eol
  Bytes body;                       ///< its body with eol line ends (when !base64)
  ByteView raw;  ///< the CMS blob to base64-encode (when base64); a view into msg
  bool base64 = false;
};

/// The stored entity of an S/MIME item, or nullopt (with a warning when the item is S/MIME
/// but its content is missing or unusable: the caller then builds it from its properties).
std::optional<Stored> stored_entity(const model::Message &msg, std::string_view eol,
                                    std::vector<Problem> &warnings);

/// "enveloped-data", "signed-data", "authEnveloped-data" or "compressed-data" from the outer
/// ContentInfo's contentType ([RFC 5652] 3, [RFC 8551] 3.2.2); empty when not recognized.
std::string smime_type_of(ByteView der);

}  // namespace mm::mime::smime
