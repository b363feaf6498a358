#include "mailmill/mime/mbox.h"

#include "mailmill/mime/encode.h"

namespace mm::mime {

namespace {

/// mboxrd ([RFC 4155] appendix, "mboxrd"): a line of zero or more '>' followed by "From " gets
/// one more '>' so readers can strip exactly one and restore the original.
bool needs_quote(ByteView line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == '>') ++i;
  return line.substr(i, 5) == "From ";
}

/// The From_ line cannot carry whitespace in the address (it separates the fields).
bool usable_sender(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return false;
  return true;
}

}  // namespace

void append_mboxrd(Bytes &out, ByteView message, std::string_view envelope_sender, i64 date) {
  out.reserve(out.size() + message.size() + message.size() / 64 + 64);
  out += "From ";
  out += usable_sender(envelope_sender) ? envelope_sender : std::string_view("MAILER-DAEMON");
  out += ' ';
  out += format_mbox_date(date);
  out += '\n';
  std::size_t i = 0;
  while (i < message.size()) {
    std::size_t nl = message.find('\n', i);
    std::size_t end = nl == ByteView::npos ? message.size() : nl;
    ByteView line = message.substr(i, end - i);
    if (!line.empty() && line.back() == '\r' && nl != ByteView::npos) line.remove_suffix(1);
    if (needs_quote(line)) out += '>';
    out += line;
    out += '\n';  // also terminates a last line that had no newline
    i = nl == ByteView::npos ? message.size() : nl + 1;
  }
  out += '\n';
}

}  // namespace mm::mime
