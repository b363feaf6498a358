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

/// What the model gets: From/Sender (first mailbox; an empty group "Name":; gives a name-only
/// address, the builder's form for senders without SMTP; X-Mailmill-X500-From/-Sender give the
/// DN), To/Cc/Bcc with groups flattened, Subject and display names RFC 2047-decoded (raw 8-bit
/// text read as UTF-8 when valid, else windows-1252), Date as submit_time, Message-ID,
/// In-Reply-To, References, flags from X-Mailmill-Flags, Status/X-Status and X-Mozilla-Status,
/// importance from Importance/X-Priority, sensitivity, categories from Keywords. Bodies: the
/// first text/plain and text/html that are not attachments, text decoded to UTF-8, HTML kept
/// in its charset (html_charset). Other alternatives of multipart/alternative (text/calendar,
/// application/rtf) are renderings of the same content and are dropped unless they are marked
/// as attachments; the machine-readable part of multipart/report and text/rfc822-headers too.
/// message/rfc822 parts become Embedded attachments parsed recursively (limits::MAX_EMBED_DEPTH;
/// deeper ones stay bytes). Opaque S/MIME (application/pkcs7-mime) stays one smime.p7m
/// attachment with message class IPM.Note.SMIME; multipart/signed is read as its parts, the
/// signature an attachment. X-Mailmill-Omitted-Attachment fields become Reference/Unreadable
/// placeholders. Limits on multipart depth, part count and header fields (src/mime/
/// parse_impl.h) give LimitExceeded warnings; work is linear in the input size.
///
/// Parses one message. `bytes` may use CRLF or LF line ends. Attachment data in the result may
/// view into `bytes` (the Blob keeps them alive). Headers the model has no field for stay in
/// `transport_headers` (the whole header block as stored), so Date, Received and the rest are
/// not lost. Fails only when the bytes are not a message at all (no header); damage inside
/// becomes model warnings.
Result<model::Message> parse_message(const Blob &bytes, const ParseOptions &opts = {});

}  // namespace mm::mime
