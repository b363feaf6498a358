// The generator's MIME writer, written from the RFCs and deliberately sharing no code with
// src/mime (mime::build): tests read its output back through mailmill and through Python's
// email/mailbox packages, and a writer shared with the code under test would make those tests
// circular. It covers what the corpus needs: text/plain, multipart/alternative with HTML,
// base64 attachments (RFC 2231 file names), message/rfc822 parts, nested multipart/mixed,
// quoted-printable and base64 bodies (RFC 2045 6.7, 6.8), RFC 2047 encoded-word subjects
// and display names, RFC 5322 Date/From/To/Cc/Message-ID.
#include "mime_writer.h"

#include <cstdio>
#include <vector>

#include "rng.h"

namespace mm::gen {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHex[] = "0123456789ABCDEF";

bool is_ascii(ByteView s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// Splits canonical text on CRLF (a lone LF or CR also ends a line); the piece after the last
// line end is the last element (empty when the text ends with a line end).
std::vector<ByteView> split_lines(ByteView s) {
  std::vector<ByteView> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' || s[i] == '\n') {
      out.push_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

// The text with every line end replaced by `nl`.
Bytes with_eol(ByteView s, const std::string &nl) {
  std::vector<ByteView> lines = split_lines(s);
  Bytes out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) out += nl;
    out += lines[i];
  }
  return out;
}

// RFC 2045 6.8: 76 characters per line, each line ended by `nl`.
Bytes base64_lines(ByteView data, const std::string &nl) {
  Bytes out;
  out.reserve(data.size() / 57 * (76 + nl.size()) + 80);
  std::size_t col = 0;
  auto put = [&](char c) {
    out += c;
    if (++col == 76) {
      out += nl;
      col = 0;
    }
  };
  std::size_t i = 0;
  const auto *p = reinterpret_cast<const unsigned char *>(data.data());
  for (; i + 3 <= data.size(); i += 3) {
    u32 v = (u32(p[i]) << 16) | (u32(p[i + 1]) << 8) | p[i + 2];
    put(kB64[v >> 18]);
    put(kB64[(v >> 12) & 63]);
    put(kB64[(v >> 6) & 63]);
    put(kB64[v & 63]);
  }
  if (i < data.size()) {
    u32 v = u32(p[i]) << 16;
    if (i + 1 < data.size()) v |= u32(p[i + 1]) << 8;
    put(kB64[v >> 18]);
    put(kB64[(v >> 12) & 63]);
    put(i + 1 < data.size() ? kB64[(v >> 6) & 63] : '=');
    put('=');
  }
  if (col) out += nl;
  return out;
}

std::string base64_plain(ByteView data) {
  Bytes b = base64_lines(data, "");
  return b;
}

// RFC 2045 6.7: a hard line break of the canonical text becomes `nl`; lines of the encoding
// stay within 76 characters with soft breaks ("=" at the end), never splitting an =XX; a space
// or tab at the end of a line is encoded so that transports may strip trailing white space.
// "From " at the start of a line is kept as is: the mbox writer quotes it, which is what this
// corpus tests.
Bytes quoted_printable(ByteView text, const std::string &nl) {
  Bytes out;
  std::vector<ByteView> lines = split_lines(text);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    ByteView line = lines[li];
    std::size_t col = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      const bool last = i + 1 == line.size();
      std::string tok;
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
        tok = static_cast<char>(c);
      } else {
        tok = {'=', kHex[c >> 4], kHex[c & 15]};
      }
      // Room for the token plus a soft break "=", unless this is the line's last token.
      const std::size_t need = tok.size() + (last ? 0 : 1);
      if (col + need > 76) {
        out += '=';
        out += nl;
        col = 0;
      }
      out += tok;
      col += tok.size();
    }
    if (li + 1 < lines.size()) out += nl;
  }
  return out;
}

// Length in bytes of the UTF-8 sequence starting with `c` (1 for a stray byte).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

// RFC 2047 encoded-words for `text` (UTF-8), split at character boundaries so that each word
// decodes on its own (section 5: a multi-octet character may not be split across words) and
// stays within `max_payload` encoded characters; the words are joined by `sep` (folding white
// space, which a decoder drops between adjacent encoded-words, section 6.2).
std::string encoded_words(ByteView text, bool q, std::size_t max_payload, const std::string &sep) {
  std::vector<std::string> words;
  std::string chunk;  // raw bytes of the current word
  auto enc = [&](ByteView raw) {
    std::string e;
    if (!q) return base64_plain(raw);
    for (unsigned char c : raw) {
      if (c == ' ') {
        e += '_';
      } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        e += static_cast<char>(c);
      } else {
        e += {'=', kHex[c >> 4], kHex[c & 15]};
      }
    }
    return e;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
    std::string next = chunk + std::string(text.substr(i, n));
    if (!chunk.empty() && enc(next).size() > max_payload) {
      words.push_back(chunk);
      chunk.clear();
      continue;
    }
    chunk = std::move(next);
    i += n;
  }
  if (!chunk.empty()) words.push_back(chunk);
  std::string out;
  for (std::size_t k = 0; k < words.size(); ++k) {
    if (k) out += sep;
    out += std::string("=?UTF-8?") + (q ? "Q?" : "B?") + enc(words[k]) + "?=";
  }
  return out;
}

// An unstructured header (RFC 5322 2.2.3): ASCII text folded at spaces before 78 columns,
// anything else as encoded-words, one per line.
std::string unstructured(const std::string &name, ByteView value, bool q, const std::string &nl) {
  std::string out = name + ": ";
  if (!is_ascii(value)) return out + encoded_words(value, q, 56, nl + " ") + nl;
  std::size_t col = out.size();
  std::size_t i = 0;
  bool first = true;
  while (i <= value.size()) {
    std::size_t sp = value.find(' ', i);
    if (sp == ByteView::npos) sp = value.size();
    ByteView word = value.substr(i, sp - i);
    if (!first && col + 1 + word.size() > 78) {
      out += nl + " ";
      col = 1;
    } else if (!first) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    first = false;
    i = sp + 1;
  }
  return out + nl;
}

// "Name <addr>" (RFC 5322 3.4): an ASCII name of letters and spaces is a phrase of atoms; other
// names become one encoded-word (RFC 2047 5(3)).
std::string mailbox(const model::Address &a) {
  if (a.name.empty()) return "<" + a.smtp + ">";
  bool atoms = true;
  for (unsigned char c : a.name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ')) atoms = false;
  const std::string name = atoms ? a.name : encoded_words(a.name, true, 200, " ");
  return name + " <" + a.smtp + ">";
}

std::string address_list(const std::string &name, const std::vector<const model::Address *> &as,
                         const std::string &nl) {
  std::string out = name + ": ";
  for (std::size_t i = 0; i < as.size(); ++i) {
    if (i) out += "," + nl + " ";
    out += mailbox(*as[i]);
  }
  return out + nl;
}

const char *const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char *const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct Civil {
  i64 year;
  int month, day, hour, minute, second, weekday;
};

// Days since 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's civil_from_days),
// so the Date header does not depend on the C library's time zone data.
Civil civil(i64 t) {
  i64 days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  i64 secs = t - days * 86400;
  Civil c{};
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  i64 z = days + 719468;
  i64 era = (z >= 0 ? z : z - 146096) / 146097;
  i64 doe = z - era * 146097;
  i64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  i64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  i64 mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  return c;
}

// RFC 5322 3.3 date-time in the plan's zone: "Mon, 04 Jan 2010 13:00:00 +0100".
std::string rfc5322_date(i64 t, i32 tz_minutes) {
  Civil c = civil(t + tz_minutes * 60);
  char buf[64];
  const i32 a = tz_minutes < 0 ? -tz_minutes : tz_minutes;
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04lld %02d:%02d:%02d %c%02d%02d", kDays[c.weekday],
                c.day, kMonths[c.month - 1], static_cast<long long>(c.year), c.hour, c.minute,
                c.second, tz_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

// RFC 2231 extended parameter value: UTF-8 with percent-encoding outside attribute-char.
std::string rfc2231(ByteView s) {
  std::string out = "UTF-8''";
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '_' || c == '-')
      out += static_cast<char>(c);
    else
      out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

std::string param(const char *name, ByteView value) {
  if (is_ascii(value)) return std::string(name) + "=\"" + std::string(value) + "\"";
  return std::string(name) + "*=" + rfc2231(value);
}

const char *enc_name(MimePlan::Enc e) {
  switch (e) {
    case MimePlan::Enc::SevenBit:
      return "7bit";
    case MimePlan::Enc::EightBit:
      return "8bit";
    case MimePlan::Enc::QuotedPrintable:
      return "quoted-printable";
    case MimePlan::Enc::Base64:
      return "base64";
  }
  return "7bit";
}

// Body bytes of a text part in its transfer encoding. They end with a line end only where the
// text does (base64: always, its line ends are not content); the delimiter that follows brings
// its own (RFC 2046 5.1.1).
Bytes encode_text(ByteView canonical, MimePlan::Enc e, const std::string &nl) {
  if (e == MimePlan::Enc::Base64) return base64_lines(canonical, nl);
  return e == MimePlan::Enc::QuotedPrintable ? quoted_printable(canonical, nl)
                                             : with_eol(canonical, nl);
}

// Transfer encodings of the bodies: ASCII text as 7bit or quoted-printable, other text also
// as 8bit or base64, except that bodies with From_ lines stay readable in the raw bytes.
void choose_encodings(MimePlan &p, Rng &r, const model::Message &m, bool from_lines) {
  const bool ascii = !m.body_text || is_ascii(*m.body_text);
  const u64 k = r.below(4);
  if (ascii) {
    p.text_enc = k < 2 ? MimePlan::Enc::SevenBit : MimePlan::Enc::QuotedPrintable;
  } else {
    p.text_enc = k == 0                   ? MimePlan::Enc::EightBit
                 : (k == 1 || from_lines) ? MimePlan::Enc::QuotedPrintable
                                          : MimePlan::Enc::Base64;
  }
  p.html_enc = r.chance(0.5) ? MimePlan::Enc::QuotedPrintable : MimePlan::Enc::Base64;
}

class Writer {
 public:
  Writer(const MimePlan &plan, Eol eol) : plan_(plan), nl_(eol == Eol::Crlf ? "\r\n" : "\n") {}

  Bytes message(const model::Message &m) {
    Bytes out;
    // Received lines of the transport headers (near-duplicates differ only there).
    for (ByteView line : split_lines(m.transport_headers)) {
      if (line.rfind("Received:", 0) == 0) out += std::string(line) + nl_;
    }
    if (m.submit_time) out += "Date: " + rfc5322_date(*m.submit_time, plan_.tz_minutes) + nl_;
    out += "From: " + mailbox(m.from) + nl_;
    std::vector<const model::Address *> to, cc;
    for (const model::Recipient &r : m.recipients)
      (r.type == model::RecipientType::Cc ? cc : to).push_back(&r.address);
    if (!to.empty()) out += address_list("To", to, nl_);
    if (!cc.empty()) out += address_list("Cc", cc, nl_);
    out += unstructured("Subject", m.subject, plan_.subject_q, nl_);
    out += "Message-ID: " + m.message_id + nl_;
    out += "MIME-Version: 1.0" + nl_;
    body(out, m);
    // A message ends with a line end (mbox needs it); generated text bodies already do.
    if (out.size() < nl_.size() || out.compare(out.size() - nl_.size(), nl_.size(), nl_) != 0)
      out += nl_;
    return out;
  }

 private:
  std::string boundary() {
    char buf[48];
    std::snprintf(buf, sizeof buf, "=_mmgen_%016llx_%d",
                  static_cast<unsigned long long>(plan_.boundary_seed), counter_++);
    return buf;
  }

  // RFC 2046 5.1.1: the line end before "--boundary" belongs to the delimiter, so every part
  // (each ends with a line end of its own) is followed by one more before the delimiter.
  std::string delimiter(const std::string &b, bool close = false) const {
    return nl_ + "--" + b + (close ? "--" : "") + nl_;
  }

  void text_part(Bytes &out, ByteView canonical, const char *subtype, MimePlan::Enc e) {
    out += std::string("Content-Type: text/") + subtype + "; charset=\"utf-8\"" + nl_;
    out += std::string("Content-Transfer-Encoding: ") + enc_name(e) + nl_ + nl_;
    out += encode_text(canonical, e, nl_);
  }

  // The text body alone, or multipart/alternative with the HTML (RFC 2046 5.1.4: the
  // preferred, richest form last).
  void body_part(Bytes &out, const model::Message &m) {
    const std::string text = m.body_text.value_or("");
    if (!m.body_html) {
      text_part(out, text, "plain", plan_.text_enc);
      return;
    }
    const std::string b = boundary();
    out += "Content-Type: multipart/alternative;" + nl_ + " boundary=\"" + b + "\"" + nl_ + nl_;
    out += "--" + b + nl_;
    text_part(out, text, "plain", plan_.text_enc);
    out += delimiter(b);
    text_part(out, *m.body_html, "html", plan_.html_enc);
    out += delimiter(b, true);
  }

  void attachment(Bytes &out, const model::Attachment &a) {
    if (a.kind == model::AttachmentKind::Embedded && a.embedded) {
      MimePlan inner = plan_;
      Rng r(plan_.inner_seed);
      inner.boundary_seed = r.next();
      inner.subject_q = r.chance(0.5);
      inner.nest_attachments = false;
      choose_encodings(inner, r, *a.embedded, false);
      Bytes msg = Writer(inner, nl_.size() == 2 ? Eol::Crlf : Eol::Lf).message(*a.embedded);
      out += "Content-Type: message/rfc822" + nl_;
      out += std::string("Content-Transfer-Encoding: ") + (is_ascii(msg) ? "7bit" : "8bit") + nl_;
      out += "Content-Disposition: attachment" + nl_ + nl_;
      out += msg;
      return;
    }
    const std::string type = a.mime_type.empty() ? "application/octet-stream" : a.mime_type;
    out += "Content-Type: " + type + ";" + nl_ + " " + param("name", a.filename) + nl_;
    out += "Content-Disposition: attachment;" + nl_ + " " + param("filename", a.filename) + nl_;
    out += "Content-Transfer-Encoding: base64" + nl_ + nl_;
    out += base64_lines(a.data.view(), nl_);
  }

  void mixed(Bytes &out, const std::vector<const model::Attachment *> &parts,
             const model::Message *body_of) {
    const std::string b = boundary();
    out += "Content-Type: multipart/mixed;" + nl_ + " boundary=\"" + b + "\"" + nl_ + nl_;
    bool first = true;
    auto next_part = [&] {
      out += first ? "--" + b + nl_ : delimiter(b);
      first = false;
    };
    if (body_of) {
      out += "This is a multi-part message in MIME format." + nl_ + nl_;
      next_part();
      body_part(out, *body_of);
    }
    // RFC 2046 5.1.1: attachments two or more go, in some messages, into an inner
    // multipart/mixed (what forwarding clients produce); readers must walk the nesting.
    std::vector<const model::Attachment *> plain, embedded;
    for (const model::Attachment *a : parts)
      (a->kind == model::AttachmentKind::Embedded ? embedded : plain).push_back(a);
    if (body_of && plan_.nest_attachments && plain.size() >= 2) {
      next_part();
      mixed(out, plain, nullptr);
    } else {
      for (const model::Attachment *a : plain) {
        next_part();
        attachment(out, *a);
      }
    }
    for (const model::Attachment *a : embedded) {
      next_part();
      attachment(out, *a);
    }
    out += delimiter(b, true);
  }

  void body(Bytes &out, const model::Message &m) {
    if (m.attachments.empty()) {
      body_part(out, m);
      return;
    }
    std::vector<const model::Attachment *> parts;
    for (const model::Attachment &a : m.attachments) parts.push_back(&a);
    mixed(out, parts, &m);
  }

  const MimePlan &plan_;
  std::string nl_;
  int counter_ = 0;
};

}  // namespace

MimePlan plan_mime(model::Message &m, u64 mime_seed) {
  Rng r(mime_seed ^ 0x6D696D65ULL);  // "mime": a stream apart from the message's own draws
  MimePlan p;
  p.boundary_seed = r.next();
  p.inner_seed = r.next();
  p.seen = m.flags.read;
  p.answered = r.chance(0.25);
  p.flagged = r.chance(0.15);
  static const i32 kZones[] = {0, 60, 120, -300, -420, 330, 540, -180, 600};
  p.tz_minutes = kZones[r.below(std::size(kZones))];
  p.subject_q = r.chance(0.5);
  p.nest_attachments = r.chance(0.5);
  // Lines an mbox writer must quote (mboxrd), in about one text body in eight; those bodies
  // stay readable in the raw bytes (7bit, 8bit or quoted-printable, never base64).
  bool from_lines = m.body_text && r.chance(0.125);
  if (from_lines) {
    std::string extra = r.chance(0.5) ? "From the desk of the " : ">From the archive: ";
    extra += std::to_string(r.below(1000)) + "\r\n>>From here on, quoted\r\nFrom \r\n\r\n";
    m.body_text = extra + *m.body_text;
  }
  choose_encodings(p, r, m, from_lines);
  return p;
}

Bytes write_mime(const model::Message &m, const MimePlan &plan, Eol eol) {
  return Writer(plan, eol).message(m);
}

std::string maildir_flags(const MimePlan &plan) {
  std::string f;
  if (plan.flagged) f += 'F';
  if (plan.answered) f += 'R';
  if (plan.seen) f += 'S';
  return f;
}

Bytes mboxrd_quote(ByteView raw) {
  Bytes out;
  out.reserve(raw.size() + raw.size() / 1000);
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t e = raw.find('\n', i);
    e = e == ByteView::npos ? raw.size() : e + 1;
    ByteView line = raw.substr(i, e - i);
    std::size_t g = 0;
    while (g < line.size() && line[g] == '>') ++g;
    if (line.substr(g, 5) == "From ") out += '>';
    out += line;
    i = e;
  }
  return out;
}

std::string asctime_utc(i64 t) {
  Civil c = civil(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s %s %2d %02d:%02d:%02d %04lld", kDays[c.weekday],
                kMonths[c.month - 1], c.day, c.hour, c.minute, c.second,
                static_cast<long long>(c.year));
  return buf;
}

std::string mutf7(std::string_view s) {
  // RFC 3501 5.1.3: printable ASCII stands for itself ('&' as "&-"); other runs are UTF-16BE
  // in modified base64 (',' for '/') between '&' and '-'.
  static constexpr char kMb64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c <= 0x7E) {
      out += c == '&' ? std::string("&-") : std::string(1, static_cast<char>(c));
      ++i;
      continue;
    }
    std::vector<u16> units;
    while (i < s.size()) {
      c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c <= 0x7E) break;
      std::size_t n = std::min(utf8_len(c), s.size() - i);
      u32 cp = n == 1 ? c : c & (0xFF >> (n + 1));
      for (std::size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      i += n;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push_back(static_cast<u16>(0xD800 | (cp >> 10)));
        units.push_back(static_cast<u16>(0xDC00 | (cp & 0x3FF)));
      } else {
        units.push_back(static_cast<u16>(cp));
      }
    }
    out += '&';
    u32 bits = 0, nbits = 0;
    for (u16 u : units) {
      bits = (bits << 16) | u;
      nbits += 16;
      while (nbits >= 6) {
        nbits -= 6;
        out += kMb64[(bits >> nbits) & 63];
      }
      bits &= (1u << nbits) - 1;
    }
    if (nbits) out += kMb64[(bits << (6 - nbits)) & 63];
    out += '-';
  }
  return out;
}

}  // namespace mm::gen
