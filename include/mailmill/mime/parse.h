#pragma once
/// Parses Internet messages (RFC 5322 and MIME: EML files, mbox entries, maildir files) into
/// the message model with mimetic, in the pipeline's parallel stage. The model is the same one
/// the MAPI readers produce, so everything downstream (content key, MIME build, ICS/VCF, PST
/// output) is shared, and a message gets the same content key (dedup::content_hash) whichever
/// format it arrived in: a PST item built as MIME by mime::build_message and parsed back here
/// keys as the PST item did. TNEF parts (winmail.dat, application/ms-tnef) are expanded into
/// the attachments and bodies they carry. Thread-safe; never throws for bad input.
#include "mailmill/model/item.h"
#include "mailmill/util/blob.h"
#include "mailmill/util/result.h"

namespace mm::mime {

struct ParseOptions {
  /// Expand TNEF parts into real attachments and bodies (a part that cannot be expanded stays
  /// an ordinary attachment, with a warning).
  bool expand_tnef = true;
};

/// Parses one message. `bytes` may use CRLF or LF line ends. Attachment data in the result may
/// view into `bytes` (the Blob keeps them alive). Headers the model has no field for stay in
/// `transport_headers` (the whole header block as stored), so Date, Received and the rest are
/// not lost. Fails only when the bytes are not a message at all (no header); damage inside
/// becomes model warnings.
Result<model::Message> parse_message(const Blob &bytes, const ParseOptions &opts = {});

}  // namespace mm::mime
