#include "mailmill/mime/mbox.h"

#include <cstring>

#include "mailmill/mime/encode.h"

namespace mm::mime {

namespace {

/// mboxrd ([RFC 4155] appendix, "mboxrd"): a line of zero or more '>' followed by "From " gets
/// one more '>' so readers can strip exactly one and restore the original.
/// The From_ line cannot carry whitespace in the address (it separates the fields).
bool usable_sender(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return false;
  return true;
}

}  // namespace

bool mboxrd_needs_quote(ByteView line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == '>') ++i;
  return line.substr(i, 5) == "From ";
}

void append_from_line(Bytes &out, std::string_view envelope_sender, i64 date) {
  out += "From ";
  out += usable_sender(envelope_sender) ? envelope_sender : std::string_view("MAILER-DAEMON");
  out += ' ';
  out += format_mbox_date(date);
  out += '\n';
}

void append_mboxrd(Bytes &out, ByteView message, std::string_view envelope_sender, i64 date) {
  out.reserve(out.size() + message.size() + message.size() / 64 + 64);
  append_from_line(out, envelope_sender, date);
  // Lines that need no change (LF-terminated, not quoted) are copied in runs; only a CR before
  // LF is dropped and a ">*From " line gets one more '>'.
  const char *d = message.data();
  const std::size_t n = message.size();
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  while (i < n) {
    const void *p = std::memchr(d + i, '\n', n - i);
    const std::size_t nl = p == nullptr ? n : static_cast<std::size_t>(static_cast<const char *>(p) - d);
    const bool cr = p != nullptr && nl > i && d[nl - 1] == '\r';
    const std::size_t end = cr ? nl - 1 : nl;
    if (mboxrd_needs_quote(message.substr(i, end - i))) {
      out.append(d + run, i - run);
      out += '>';
      run = i;
    }
    if (cr) {
      out.append(d + run, end - run);
      run = nl;  // the LF itself is copied with the next run
    }
    i = p == nullptr ? n : nl + 1;
  }
  out.append(d + run, n - run);
  if (n > 0 && d[n - 1] != '\n') out += '\n';  // terminates a last line without a newline
  out += '\n';
}

}  // namespace mm::mime
