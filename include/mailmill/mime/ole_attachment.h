#pragma once
/// OLE attachments (PR_ATTACH_METHOD = ATTACH_OLE, [MS-OXCMSG] 2.2.2.9: the object's storage in
/// PidTagAttachDataObject) as a mail client should see them: the picture or file the object
/// holds, not the compound file around it. The MIME builder calls this for every Ole-kind
/// attachment; the model keeps the object itself, so PST output still writes an OLE object.
#include <optional>
#include <string>
#include <string_view>

#include "mailmill/model/item.h"
#include "mailmill/util/blob.h"
#include "mailmill/util/result.h"

namespace mm::mime {

/// What an OLE object's bytes turned out to hold.
enum class OleContentKind : u8 {
  Picture,  ///< a static picture object (DIB, metafile, enhanced metafile) or a picture stream
  File,     ///< an embedded file: an OLE1 Package, or a CONTENTS / native stream in a known format
  Storage,  ///< anything else: the compound file itself
  Opaque,   ///< not a compound file at all: the bytes as they are
};

/// The bytes to send for an OLE object, with the name and type to send them under.
struct OleContent {
  OleContentKind kind = OleContentKind::Opaque;
  Blob data;              ///< the picture/file bytes, or the input itself (Storage, Opaque)
  std::string filename;   ///< UTF-8, with an extension that matches `mime_type`
  std::string mime_type;  ///< lower-case; empty means "by the filename's extension"
  std::string source;     ///< where the bytes came from, e.g. "CONTENTS" or "\x01Ole10Native"
  /// Set when the object looked like one of the known kinds but was damaged (unreadable
  /// compound file, truncated Package, bad OlePres header): the object is then kept as it is.
  std::optional<Problem> warning;
};

/// Unpacks the OLE object `data` (the compound file of an ATTACH_OLE attachment). `name` is the
/// attachment's name (long filename, else display name such as "Picture (Device Independent
/// Bitmap)"); the result's filename is built from it, or from the Package's own file name.
/// Deterministic, thread-safe, never throws: damage gives kind Storage/Opaque and a warning.
OleContent unpack_ole_object(const Blob &data, std::string_view name);

/// The attachment to write in place of the Ole-kind `att`: a by-value attachment with the
/// unpacked bytes, filename and type, and att's Content-ID, location, inline flag and times.
/// A damaged object's warning is appended to `warnings`.
model::Attachment ole_attachment_for_mime(const model::Attachment &att,
                                          std::vector<Problem> &warnings);

}  // namespace mm::mime
