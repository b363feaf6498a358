#pragma once
// The generator's own MIME writer: model::Message -> RFC 5322 bytes, written from the RFCs
// without the project's mime module, so that a test reading generated MIME back through
// mailmill checks mailmill against something it did not write itself.
#include <string>

#include "mailmill/gen/generate.h"
#include "mailmill/model/item.h"
#include "mailmill/util/types.h"

namespace mm::gen {

/// Per-message choices of the MIME form (transfer encodings, header encodings, nesting, time
/// zone) and the client state a MIME store records outside the message (maildir flags). Drawn
/// from their own PRNG stream, so the PST generator's draws are untouched.
struct MimePlan {
  enum class Enc : u8 { SevenBit, EightBit, QuotedPrintable, Base64 };
  Enc text_enc = Enc::SevenBit;
  Enc html_enc = Enc::QuotedPrintable;
  bool subject_q = false;         ///< RFC 2047 "Q" encoded-words for the subject (else "B")
  bool nest_attachments = false;  ///< attachments in an inner multipart/mixed
  i32 tz_minutes = 0;             ///< the Date header's zone offset
  u64 boundary_seed = 0;
  bool seen = false, answered = false, flagged = false;
  u64 inner_seed = 0;  ///< plan seed of an embedded message
};

/// Draws the plan of one message from `mime_seed` and applies its content changes to `m`
/// (body lines starting with "From " or ">From " in some text bodies, which mbox output must
/// quote). Pure: the same message and seed give the same plan and the same changes.
MimePlan plan_mime(model::Message &m, u64 mime_seed);

/// The message as RFC 5322 bytes with `eol` line ends (CRLF or LF throughout). Never fails.
Bytes write_mime(const model::Message &m, const MimePlan &plan, Eol eol);

/// The maildir info flags ("FRS" subset, ASCII order) of a plan.
std::string maildir_flags(const MimePlan &plan);

/// mboxrd quoting: every line matching /^>*From / gets one more '>'. `raw` must use `eol`.
Bytes mboxrd_quote(ByteView raw);

/// The asctime-style date of an mbox From_ line ("Mon Jan  4 12:00:00 2010"), UTC.
std::string asctime_utc(i64 unix_seconds);

/// A folder name as a Maildir++ directory level: IMAP modified UTF-7 (RFC 3501 5.1.3).
std::string mutf7(std::string_view utf8);

}  // namespace mm::gen
