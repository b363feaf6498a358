#pragma once
/// mboxrd framing ([RFC 4155] and the mboxrd convention): From_ line, >From quoting.
#include <string_view>

#include "mailmill/util/types.h"

namespace mm::mime {

/// Appends one mboxrd entry to `out`: "From <sender> <asctime date>\n", the message with every
/// line matching /^>*From / given one more '>', and a blank line after it. `message` may use
/// CRLF or LF; the entry is written with LF. An empty sender becomes "MAILER-DAEMON" only in
/// the From_ line (never in the message headers); date 0 means the epoch is unknown and the
/// date of 1 Jan 1980 is NOT invented: the caller passes the best date it has.
void append_mboxrd(Bytes &out, ByteView message, std::string_view envelope_sender, i64 date);

/// Appends just the From_ line ("From <sender> <asctime date>\n") of such an entry.
void append_from_line(Bytes &out, std::string_view envelope_sender, i64 date);

/// True when `line` (from a line start on) would need mboxrd quoting: /^>*From /.
bool mboxrd_needs_quote(ByteView line);

}  // namespace mm::mime
