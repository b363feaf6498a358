// Internet message parser: RFC 5322 headers and the MIME entity tree (RFC 2045-2049) into
// model::Message.
//
// Division of labour. mimetic decodes the transfer encodings (base64, quoted-printable). The
// entity walk, the header splitting and the parameter and address grammars are our own, for
// three reasons found while writing this:
// - mimetic's ContentType/ContentDisposition split parameters at every ';', including one inside
//   a quoted filename (name="a;b.txt" gives name="a), keep folding whitespace in parameter
//   names, and know nothing of RFC 2231 continuations;
// - mimetic's IteratorParser recurses once per multipart or message/rfc822 level with no limit,
//   so a message that nests deeply enough overflows the stack; our walk is bounded
//   (MAX_PART_DEPTH, MAX_EMBED_DEPTH, MAX_PARTS);
// - its header loader grows a field buffer 128 bytes at a time (quadratic on a long field), and
//   transport_headers needs the header bytes exactly as stored anyway.
// Everything here is linear in the input size: each byte is looked at a bounded number of
// times (boundary lines are found by one forward scan per multipart level, and the level count
// is bounded).
#include "mailmill/mime/parse.h"

#include <iconv.h>
#include <mimetic/codec/base64.h>
#include <mimetic/codec/code.h>
#include <mimetic/codec/qp.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>

#include "mailmill/mime/encode.h"
#include "mailmill/mime/limits.h"
#include "mailmill/util/text.h"
#include "parse_impl.h"

namespace mm::mime {

namespace detail {

namespace {

// iconv with invalid input replaced, one U+FFFD per bad byte. iconv descriptors are not
// thread-safe, so each call opens its own (cheap next to the text it converts).
std::optional<std::string> iconv_to_utf8(std::string_view in, const std::string &from) {
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  out.resize(in.size() * 4 + 16);
  char *src = const_cast<char *>(in.data());
  std::size_t src_left = in.size();
  char *dst = out.data();
  std::size_t dst_left = out.size();
  while (src_left > 0) {
    std::size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
    if (r != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      std::size_t used = static_cast<std::size_t>(dst - out.data());
      out.resize(out.size() * 2);
      dst = out.data() + used;
      dst_left = out.size() - used;
      continue;
    }
    // EILSEQ or EINVAL: skip one byte, write U+FFFD.
    if (dst_left < 3) {
      std::size_t used = static_cast<std::size_t>(dst - out.data());
      out.resize(out.size() + 64);
      dst = out.data() + used;
      dst_left = out.size() - used;
    }
    std::memcpy(dst, "\xEF\xBF\xBD", 3);
    dst += 3;
    dst_left -= 3;
    ++src;
    --src_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  // Flush a stateful encoding's shift state.
  std::size_t used = static_cast<std::size_t>(dst - out.data());
  out.resize(used + 16);
  dst = out.data() + used;
  dst_left = 16;
  iconv(cd, nullptr, nullptr, &dst, &dst_left);
  out.resize(static_cast<std::size_t>(dst - out.data()));
  iconv_close(cd);
  return out;
}

std::string latin1_to_utf8(std::string_view s) {
  if (auto r = text::codepage_to_utf8(s, 1252)) return *r;
  return text::sanitize_utf8(s);
}

}  // namespace

std::optional<std::string> charset_to_utf8(std::string_view bytes, std::string_view charset) {
  std::string cs = text::to_lower_ascii(text::trim(charset, " \t\"'"));
  // RFC 2231 section 5: a language may follow the charset in encoded-words ("utf-8*en").
  if (std::size_t star = cs.find('*'); star != std::string::npos) cs.resize(star);
  if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") {
    // Undeclared or ASCII text that is in fact 8-bit is read as UTF-8 when it is valid, which
    // is what mail clients do.
    return text::is_valid_utf8(bytes) ? std::string(bytes) : text::sanitize_utf8(bytes);
  }
  if (text::is_ascii(bytes) && cs.find("utf-7") == std::string::npos &&
      cs.find("2022") == std::string::npos && cs.find("utf-16") == std::string::npos &&
      cs.find("utf-32") == std::string::npos && cs.find("hz") == std::string::npos)
    return std::string(bytes);
  if (std::optional<u32> cp = text::charset_to_codepage(cs)) {
    std::string out;
    if (text::append_codepage_as_utf8(out, bytes, *cp)) return out;
  }
  return iconv_to_utf8(bytes, cs);
}

namespace {

std::string b64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  mimetic::Base64::Decoder dec;
  mimetic::decode(in.begin(), in.end(), dec, std::back_inserter(out));
  return out;
}

// Q encoding of RFC 2047 section 4.2: '_' is a space, =XX a byte.
std::string q_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < in.size() && text::hex_digit_value(in[i + 1]) >= 0 &&
               text::hex_digit_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(text::hex_digit_value(in[i + 1]) * 16 +
                                      text::hex_digit_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// One encoded-word starting at s[i] ("=?cs?X?text?="): its charset, decoded bytes and end.
struct EncodedWord {
  std::string charset;
  std::string bytes;
  std::size_t end;
};

std::optional<EncodedWord> encoded_word_at(std::string_view s, std::size_t i) {
  if (s.compare(i, 2, "=?") != 0) return std::nullopt;
  std::size_t q1 = s.find('?', i + 2);
  if (q1 == std::string_view::npos || q1 + 2 >= s.size() || s[q1 + 2] != '?') return std::nullopt;
  char enc = static_cast<char>(s[q1 + 1] | 0x20);
  if (enc != 'b' && enc != 'q') return std::nullopt;
  std::size_t end = s.find("?=", q1 + 3);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view cs = s.substr(i + 2, q1 - i - 2);
  std::string_view payload = s.substr(q1 + 3, end - q1 - 3);
  if (cs.empty() || payload.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  return EncodedWord{std::string(cs), enc == 'b' ? b64_decode(payload) : q_decode(payload),
                     end + 2};
}

}  // namespace

std::string decode_rfc2047(std::string_view value, std::string_view raw_charset) {
  std::string out;
  std::string plain;  // pending non-encoded text (may be 8-bit)
  // Adjacent encoded-words in one charset are joined as bytes before conversion: writers split
  // a multi-byte character across two words (spamassassin__nice_unicode1).
  std::string run_bytes, run_charset;
  auto flush_run = [&] {
    if (run_bytes.empty()) return;
    std::optional<std::string> utf8 = charset_to_utf8(run_bytes, run_charset);
    out += utf8 ? *utf8 : text::sanitize_utf8(run_bytes);
    run_bytes.clear();
  };
  auto flush_plain = [&] {
    if (plain.empty()) return;
    flush_run();
    if (text::is_valid_utf8(plain)) {
      out += plain;
    } else {
      std::optional<std::string> u =
          raw_charset.empty() ? std::nullopt : charset_to_utf8(plain, raw_charset);
      out += u ? *u : latin1_to_utf8(plain);
    }
    plain.clear();
  };
  bool last_was_word = false;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == '=' && i + 1 < value.size() && value[i + 1] == '?') {
      if (auto w = encoded_word_at(value, i)) {
        // RFC 2047 section 6.2: whitespace between adjacent encoded-words is dropped.
        if (last_was_word && text::trim(plain, " \t").empty()) plain.clear();
        flush_plain();
        std::string cs = text::to_lower_ascii(w->charset);
        if (std::size_t star = cs.find('*'); star != std::string::npos) cs.resize(star);
        if (cs != run_charset) flush_run();
        run_charset = cs;
        run_bytes += w->bytes;
        i = w->end;
        last_was_word = true;
        continue;
      }
    }
    plain.push_back(value[i]);
    if (value[i] != ' ' && value[i] != '\t') last_was_word = false;
    ++i;
  }
  flush_plain();
  flush_run();
  return out;
}

}  // namespace detail

namespace {

using detail::charset_to_utf8;
using detail::decode_rfc2047;
using text::iequals_ascii;
using text::to_lower_ascii;

// ---------------------------------------------------------------------------------------------
// Header blocks

struct Field {
  std::string lname;  ///< lower-case name
  std::string value;  ///< unfolded (line ends removed), leading blanks removed
};

struct Head {
  std::vector<Field> fields;
  std::size_t header_begin = 0;  ///< after a skipped From_ line or Exchange preamble
  std::size_t header_end = 0;    ///< end of the header lines (before the blank line)
  std::size_t body_begin = 0;    ///< where the body starts
  bool saw_field = false;
  bool separator = false;  ///< a blank line ended the header
};

bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

// Splits the header at the start of `s` ([RFC 5322] 2.2). A line that is neither a field nor a
// continuation ends the header and starts the body (Python's email does the same), except an
// mbox From_ line or Exchange's "Microsoft Mail Internet Headers" preamble on the first line.
Head split_head(std::string_view s, std::vector<Problem> &warnings) {
  Head h;
  std::size_t i = 0;
  bool first = true;
  bool dropped = false;
  while (i < s.size()) {
    std::size_t nl = s.find('\n', i);
    std::size_t next = nl == std::string_view::npos ? s.size() : nl + 1;
    std::string_view line = s.substr(i, next - i);
    std::string_view content = text::trim_right(line, "\r\n");
    if (content.empty() && line.find('\n') != std::string_view::npos) {
      h.header_end = i;
      h.body_begin = next;
      h.separator = true;
      return h;
    }
    if (content.empty()) {  // end of input without a newline
      i = next;
      break;
    }
    if (content[0] == ' ' || content[0] == '\t') {
      if (!h.fields.empty() && !dropped) {
        h.fields.back().value += content;
      }
      i = next;
      first = false;
      continue;
    }
    std::size_t colon = content.find(':');
    std::string_view name = colon == std::string_view::npos
                                ? std::string_view()
                                : text::trim_right(content.substr(0, colon), " \t");
    if (!valid_field_name(name)) {
      if (first && (content.starts_with("From ") ||
                    content.starts_with("Microsoft Mail Internet Headers"))) {
        i = next;
        h.header_begin = next;
        first = false;
        continue;
      }
      h.header_end = i;
      h.body_begin = i;
      if (h.saw_field)
        warnings.push_back({ProblemCode::BodyUndecodable,
                            "header ended by a line that is not a field (no blank line)"});
      return h;
    }
    first = false;
    h.saw_field = true;
    if (h.fields.size() >= detail::MAX_HEADER_FIELDS) {
      if (!dropped)
        warnings.push_back(
            {ProblemCode::LimitExceeded, "more than " + std::to_string(detail::MAX_HEADER_FIELDS) +
                                             " header fields; the rest are ignored"});
      dropped = true;
    } else {
      h.fields.push_back(
          {to_lower_ascii(name), std::string(text::trim_left(content.substr(colon + 1), " \t"))});
    }
    i = next;
  }
  h.header_end = s.size();
  h.body_begin = s.size();
  return h;
}

const Field *find_field(const Head &h, std::string_view lname) {
  for (const Field &f : h.fields)
    if (f.lname == lname) return &f;
  return nullptr;
}

std::string field_or_empty(const Head &h, std::string_view lname) {
  const Field *f = find_field(h, lname);
  return f ? f->value : std::string();
}

// ---------------------------------------------------------------------------------------------
// Structured values: comments, parameters (RFC 2045 5.1, RFC 2231), addresses (RFC 5322 3.4)

std::string strip_comments(std::string_view v) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size())
        out.push_back(v[++i]);
      else if (c == '"')
        quoted = false;
    } else if (depth > 0) {
      if (c == '\\')
        ++i;
      else if (c == '(')
        ++depth;
      else if (c == ')')
        --depth;
    } else if (c == '(') {
      depth = 1;
    } else {
      if (c == '"') quoted = true;
      out.push_back(c);
    }
  }
  return out;
}

struct ParsedValue {
  std::string token;  ///< lower-case ("text/plain", "attachment")
  std::vector<std::pair<std::string, std::string>> params;  ///< decoded, lower-case names
};

std::string unquote(std::string_view v) {
  v = text::trim(v, " \t");
  if (v.size() < 2 || v.front() != '"') return std::string(v);
  std::string out;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size())
      out.push_back(v[++i]);
    else if (v[i] == '"')
      break;
    else
      out.push_back(v[i]);
  }
  return out;
}

std::string percent_decode(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && text::hex_digit_value(v[i + 1]) >= 0 &&
        text::hex_digit_value(v[i + 2]) >= 0) {
      out.push_back(static_cast<char>(text::hex_digit_value(v[i + 1]) * 16 +
                                      text::hex_digit_value(v[i + 2])));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

ParsedValue parse_value(std::string_view raw) {
  ParsedValue pv;
  std::string v = strip_comments(raw);
  // Split at ';' outside quoted strings.
  std::vector<std::string_view> pieces;
  {
    std::string_view sv(v);
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < sv.size(); ++i) {
      if (quoted && sv[i] == '\\') {
        ++i;
        continue;
      }
      if (sv[i] == '"')
        quoted = !quoted;
      else if (sv[i] == ';' && !quoted) {
        pieces.push_back(sv.substr(start, i - start));
        start = i + 1;
      }
    }
    pieces.push_back(sv.substr(start));
  }
  std::string tok;
  for (char c : pieces[0])
    if (c != ' ' && c != '\t' && c != '"') tok.push_back(c);
  pv.token = to_lower_ascii(tok);
  // RFC 2231: name*N[*]=value pieces are joined in order; a trailing '*' means charset'lang'
  // and %XX. Plain name=value wins when both appear (as Python does for an exact duplicate).
  struct Cont {
    int index;
    bool extended;
    std::string value;
  };
  std::vector<std::pair<std::string, std::vector<Cont>>> conts;
  for (std::size_t k = 1; k < pieces.size(); ++k) {
    std::string_view p = text::trim(pieces[k], " \t");
    std::size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name = to_lower_ascii(text::trim(p.substr(0, eq), " \t"));
    std::string_view rawv = text::trim(p.substr(eq + 1), " \t");
    if (name.empty()) continue;
    std::size_t star = name.find('*');
    if (star == std::string::npos) {
      std::string val = unquote(rawv);
      bool dup = std::any_of(pv.params.begin(), pv.params.end(),
                             [&](const auto &e) { return e.first == name; });
      if (!dup) pv.params.emplace_back(name, std::move(val));
      continue;
    }
    std::string base = name.substr(0, star);
    std::string_view rest = std::string_view(name).substr(star + 1);
    bool extended = !rest.empty() && rest.back() == '*';
    if (extended) rest.remove_suffix(1);
    if (!rest.empty() && rest.front() == '*') rest.remove_prefix(1);
    int index = 0;
    if (!rest.empty()) {
      index = 0;
      for (char c : rest) {
        if (c < '0' || c > '9' || index > 100000) {
          index = -1;
          break;
        }
        index = index * 10 + (c - '0');
      }
      if (index < 0) continue;
    } else {
      extended = true;  // name*=charset'lang'value
    }
    auto it =
        std::find_if(conts.begin(), conts.end(), [&](const auto &e) { return e.first == base; });
    if (it == conts.end()) {
      conts.emplace_back(base, std::vector<Cont>{});
      it = std::prev(conts.end());
    }
    if (it->second.size() < 1000) it->second.push_back({index, extended, unquote(rawv)});
  }
  // Named references, not a structured binding: `base` is used in a lambda below, and C++20
  // lets lambdas capture bindings only from clang 16 on (clang 14 refuses it).
  for (auto &cont : conts) {
    const std::string &base = cont.first;
    std::vector<Cont> &parts = cont.second;
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Cont &a, const Cont &b) { return a.index < b.index; });
    std::string charset;
    std::string bytes;
    for (std::size_t k = 0; k < parts.size(); ++k) {
      std::string_view val = parts[k].value;
      if (parts[k].extended && k == 0) {
        std::size_t q1 = val.find('\'');
        std::size_t q2 = q1 == std::string_view::npos ? q1 : val.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          charset = std::string(val.substr(0, q1));
          val = val.substr(q2 + 1);
        }
      }
      bytes += parts[k].extended ? percent_decode(val) : std::string(val);
    }
    std::optional<std::string> utf8 = charset_to_utf8(bytes, charset);
    std::string value = utf8 ? *utf8 : text::sanitize_utf8(bytes);
    bool dup = std::any_of(pv.params.begin(), pv.params.end(),
                           [&](const auto &e) { return e.first == base; });
    if (!dup) pv.params.emplace_back(base, std::move(value));
  }
  return pv;
}

std::string param(const ParsedValue &pv, std::string_view name) {
  for (const auto &[n, v] : pv.params)
    if (n == name) return v;
  return {};
}

bool has_param(const ParsedValue &pv, std::string_view name) {
  return std::any_of(pv.params.begin(), pv.params.end(),
                     [&](const auto &e) { return e.first == name; });
}

std::string collapse_ws(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

struct ParsedAddress {
  std::string name;
  std::string addr;
  std::string group;         ///< the name of the group it belongs to (empty outside groups)
  bool empty_group = false;  ///< a group without members: name is the group's name
};

// Address lists ([RFC 5322] 3.4), leniently: mailboxes, name-addr with angle brackets, groups
// ("Name: a, b;") and empty groups (how the builder writes a sender without SMTP address).
// Encoded-words in display names are decoded (also inside quoted strings, as mail clients do).
std::vector<ParsedAddress> parse_address_list(std::string_view v, std::string_view raw_charset) {
  std::vector<ParsedAddress> out;
  std::string phrase;   // display name text: quoted-string content kept, RFC 2047 decoded later
  std::string angle;    // inside <...>
  std::string bare;     // text outside quotes and angles (the addr-spec when no angle)
  std::string comment;  // last comment (a display name fallback: "addr (Name)")
  bool saw_angle = false;
  bool in_group = false;
  std::string group_name;
  bool group_had_member = false;
  auto emit = [&] {
    std::string name = collapse_ws(phrase);
    std::string addr;
    if (saw_angle) {
      addr = angle;
      // Obsolete route "@a,@b:addr".
      if (!addr.empty() && addr[0] == '@') {
        std::size_t colon = addr.find(':');
        if (colon != std::string::npos) addr = addr.substr(colon + 1);
      }
    } else {
      addr = bare;
      name.clear();
      if (!comment.empty()) name = collapse_ws(comment);
    }
    std::erase_if(addr, [](char c) { return c == ' ' || c == '\t' || c == '"'; });
    if (!addr.empty() || !name.empty()) {
      out.push_back({decode_rfc2047(name, raw_charset), addr, group_name, false});
      if (in_group) group_had_member = true;
    }
    phrase.clear();
    angle.clear();
    bare.clear();
    comment.clear();
    saw_angle = false;
  };
  int depth = 0;
  bool quoted = false, in_angle = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (depth > 0) {
      if (c == '\\' && i + 1 < v.size())
        comment.push_back(v[++i]);
      else if (c == '(')
        ++depth;
      else if (c == ')')
        --depth;
      else
        comment.push_back(c);
      continue;
    }
    if (quoted) {
      if (c == '\\' && i + 1 < v.size()) {
        phrase.push_back(v[++i]);
        bare.push_back(v[i]);
      } else if (c == '"') {
        quoted = false;
        bare.push_back(c);
      } else {
        phrase.push_back(c);
        bare.push_back(c);
      }
      continue;
    }
    if (in_angle) {
      if (c == '>')
        in_angle = false;
      else if (c == '(')
        depth = 1;  // a comment inside the address is not part of it
      else
        angle.push_back(c);
      continue;
    }
    switch (c) {
      case '(':
        depth = 1;
        comment.clear();
        break;
      case '"':
        quoted = true;
        bare.push_back(c);
        break;
      case '<':
        in_angle = true;
        saw_angle = true;
        angle.clear();
        break;
      case ',':
        emit();
        break;
      case ':':
        if (!in_group && !saw_angle) {
          in_group = true;
          group_name = decode_rfc2047(collapse_ws(phrase), raw_charset);
          group_had_member = false;
          phrase.clear();
          bare.clear();
          comment.clear();
        } else {
          phrase.push_back(c);
          bare.push_back(c);
        }
        break;
      case ';':
        if (in_group) {
          emit();
          if (!group_had_member && !group_name.empty())
            out.push_back({group_name, "", group_name, true});
          in_group = false;
          group_name.clear();
        }
        break;
      default:
        phrase.push_back(c);
        bare.push_back(c);
    }
  }
  emit();
  if (in_group && !group_had_member && !group_name.empty())
    out.push_back({group_name, "", group_name, true});
  return out;
}

model::Address to_model_address(const ParsedAddress &p) {
  model::Address a;
  a.name = text::sanitize_utf8(p.name);
  if (!p.empty_group) {
    a.smtp = text::sanitize_utf8(p.addr);
    a.addr_type = "SMTP";
  }
  // The display name of a bare address is the address itself in some writers; keep it empty.
  return a;
}

// ---------------------------------------------------------------------------------------------
// Entities

struct Ctx {
  const ParseOptions &opts;
  std::vector<Problem> &warnings;
  i64 parts = 0;
  bool parts_exceeded = false;
};

struct Entity {
  ParsedValue type;         ///< Content-Type (default text/plain)
  ParsedValue disposition;  ///< Content-Disposition (token empty when absent)
  std::string cte;          ///< lower-case transfer encoding
  std::string content_id;
  std::string content_location;
  std::string_view body;  ///< raw (still encoded) body bytes
  bool has_type = false;
};

Entity read_entity(const Head &h, std::string_view body) {
  Entity e;
  if (const Field *f = find_field(h, "content-type")) {
    e.type = parse_value(f->value);
    e.has_type = true;
  }
  // A missing or malformed Content-Type means text/plain ([RFC 2045] 5.2).
  if (e.type.token.find('/') == std::string::npos || e.type.token.front() == '/' ||
      e.type.token.back() == '/') {
    e.type.token = "text/plain";
  }
  if (const Field *f = find_field(h, "content-disposition")) e.disposition = parse_value(f->value);
  e.cte = to_lower_ascii(
      text::trim(strip_comments(field_or_empty(h, "content-transfer-encoding")), " \t\""));
  std::string cid = std::string(text::trim(field_or_empty(h, "content-id"), " \t"));
  if (cid.size() >= 2 && cid.front() == '<' && cid.back() == '>')
    cid = cid.substr(1, cid.size() - 2);
  e.content_id = cid;
  e.content_location = std::string(text::trim(field_or_empty(h, "content-location"), " \t"));
  e.body = body;
  return e;
}

// Quoted-printable ([RFC 2045] 6.7). Our own: mimetic's QP decoder leaves the '=' of a soft
// line break at the very end of the body in the output (mime4j__german-qp.msg). Lenient like
// Python's: an '=' not followed by two hex digits or a line end is kept as it is.
std::string qp_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    if (i + 2 < in.size() && text::hex_digit_value(in[i + 1]) >= 0 &&
        text::hex_digit_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(text::hex_digit_value(in[i + 1]) * 16 +
                                      text::hex_digit_value(in[i + 2])));
      i += 2;
      continue;
    }
    // Soft line break: '=' then optional blanks then a line end (or the end of the body).
    std::size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j == in.size()) {
      i = j;
      continue;
    }
    if (in[j] == '\n' || (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n')) {
      i = in[j] == '\r' ? j + 1 : j;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// The decoded body bytes. Base64 goes through mimetic's codec, quoted-printable through
// qp_decode; anything else (7bit, 8bit, binary, unknown tokens) is the body as it stands.
std::string decode_body(const Entity &e) {
  if (e.cte == "base64") {
    std::string out;
    out.reserve(e.body.size() / 4 * 3 + 3);
    mimetic::Base64::Decoder dec;
    mimetic::decode(e.body.begin(), e.body.end(), dec, std::back_inserter(out));
    return out;
  }
  if (e.cte == "quoted-printable") return qp_decode(e.body);
  return std::string(e.body);
}

std::string entity_filename(const Entity &e) {
  std::string name = param(e.disposition, "filename");
  if (name.empty()) name = param(e.type, "name");
  if (name.empty()) return {};
  // Encoded-words inside a quoted parameter are not standard, but common (Outlook writes them).
  if (name.find("=?") != std::string::npos) name = decode_rfc2047(name);
  return text::sanitize_utf8(name);
}

bool is_attachment_disposition(const Entity &e) { return e.disposition.token == "attachment"; }

// The parts of a multipart body between its boundary lines ([RFC 2046] 5.1.1). A boundary
// line starts with "--" + boundary at the start of a line; the line end before it belongs to
// the boundary. Missing closing boundary: the last part runs to the end (with a warning).
struct Split {
  std::vector<std::string_view> parts;
  bool closed = false;
  bool found_any = false;
};

Split split_multipart(std::string_view body, std::string_view boundary) {
  Split s;
  // A boundary cannot end in a space ([RFC 2046] 5.1.1 bcharsnospace): writers that put one
  // there (mime4j__very-long-boundary.msg) do not repeat it on every delimiter line.
  std::string delim = "--" + std::string(text::trim_right(boundary, " \t"));
  std::size_t i = 0;
  std::size_t part_start = std::string_view::npos;
  while (i <= body.size()) {
    // i is at a line start.
    std::size_t nl = body.find('\n', i);
    std::size_t next = nl == std::string_view::npos ? body.size() : nl + 1;
    std::string_view line = body.substr(i, next - i);
    if (line.size() >= delim.size() && line.compare(0, delim.size(), delim) == 0) {
      std::string_view rest = text::trim(line.substr(delim.size()), " \t\r\n");
      bool closing = rest.starts_with("--");
      if (rest.empty() || closing) {
        // The part ends before the line end that precedes the boundary line.
        if (part_start != std::string_view::npos) {
          std::size_t end = i;
          if (end > part_start && body[end - 1] == '\n') --end;
          if (end > part_start && body[end - 1] == '\r') --end;
          s.parts.push_back(body.substr(part_start, end - part_start));
        }
        s.found_any = true;
        if (closing) {
          s.closed = true;
          return s;
        }
        part_start = next;
      }
    }
    if (next >= body.size()) break;
    i = next;
  }
  if (part_start != std::string_view::npos && part_start <= body.size())
    s.parts.push_back(body.substr(part_start));
  return s;
}

void walk(const Entity &e, model::Message &msg, Ctx &ctx, int part_depth, int embed_depth);

Result<model::Message> parse_impl(std::string_view bytes, Ctx &ctx, int embed_depth);

void add_data_attachment(const Entity &e, std::string data, model::Message &msg) {
  model::Attachment a;
  a.kind = model::AttachmentKind::ByValue;
  a.filename = entity_filename(e);
  a.mime_type = e.type.token;
  a.content_id = e.content_id;
  a.content_location = e.content_location;
  // The model's inline flag means "hidden, referenced by Content-ID from the HTML".
  a.is_inline = !e.content_id.empty() && e.disposition.token != "attachment";
  a.data = Blob(Bytes(std::move(data)));
  msg.attachments.push_back(std::move(a));
}

bool is_tnef(const Entity &e, std::string_view filename) {
  return e.type.token == "application/ms-tnef" || e.type.token == "application/vnd.ms-tnef" ||
         iequals_ascii(filename, "winmail.dat");
}

void add_leaf(const Entity &e, model::Message &msg, Ctx &ctx, int embed_depth,
              bool body_candidate) {
  const std::string &t = e.type.token;
  std::string filename = entity_filename(e);
  const bool attachment =
      is_attachment_disposition(e) || (!filename.empty() && t != "text/plain" && t != "text/html");
  if (body_candidate && !attachment && t == "text/plain" && !msg.body_text) {
    std::string raw = decode_body(e);
    std::optional<std::string> utf8 = charset_to_utf8(raw, param(e.type, "charset"));
    if (!utf8) {
      ctx.warnings.push_back({ProblemCode::CharsetUnknown, "text body in unknown charset \"" +
                                                               param(e.type, "charset") +
                                                               "\"; read as windows-1252"});
      utf8 = detail::charset_to_utf8(raw, "windows-1252");
    }
    msg.body_text = std::move(*utf8);
    return;
  }
  if (body_candidate && !attachment && t == "text/html" && !msg.body_html) {
    msg.body_html = Bytes(decode_body(e));
    std::string cs = to_lower_ascii(param(e.type, "charset"));
    msg.html_charset = cs;
    return;
  }
  if (t == "message/rfc822" || t == "message/global") {
    // An attached message ([RFC 2046] 5.2.1); base64 or QP here is invalid but seen.
    std::string inner = decode_body(e);
    model::Attachment a;
    a.filename = filename;
    a.mime_type = t;
    a.content_id = e.content_id;
    if (embed_depth + 1 > limits::MAX_EMBED_DEPTH) {
      ctx.warnings.push_back({ProblemCode::LimitExceeded,
                              "embedded messages nested deeper than " +
                                  std::to_string(limits::MAX_EMBED_DEPTH) + "; kept as bytes"});
      a.kind = model::AttachmentKind::ByValue;
      a.data = Blob(Bytes(std::move(inner)));
      msg.attachments.push_back(std::move(a));
      return;
    }
    Result<model::Message> sub = parse_impl(inner, ctx, embed_depth + 1);
    if (!sub.ok()) {
      ctx.warnings.push_back({ProblemCode::EmbeddedUnreadable,
                              "attached message is not a message: " + sub.problem().detail});
      a.kind = model::AttachmentKind::ByValue;
      a.data = Blob(Bytes(std::move(inner)));
      msg.attachments.push_back(std::move(a));
      return;
    }
    a.kind = model::AttachmentKind::Embedded;
    a.embedded = std::make_unique<model::Message>(std::move(sub.value()));
    msg.attachments.push_back(std::move(a));
    return;
  }
  std::string data = decode_body(e);
  if (ctx.opts.expand_tnef && is_tnef(e, filename)) {
    std::vector<Problem> tw;
    if (detail::expand_tnef(data, msg, tw)) {
      for (Problem &p : tw) ctx.warnings.push_back(std::move(p));
      return;
    }
    for (Problem &p : tw) ctx.warnings.push_back(std::move(p));
    ctx.warnings.push_back({ProblemCode::AttachmentUnreadable,
                            "TNEF part could not be expanded; kept as an attachment"});
  }
  add_data_attachment(e, std::move(data), msg);
}

bool count_part(Ctx &ctx) {
  if (++ctx.parts <= detail::MAX_PARTS) return true;
  if (!ctx.parts_exceeded)
    ctx.warnings.push_back(
        {ProblemCode::LimitExceeded,
         "more than " + std::to_string(detail::MAX_PARTS) + " MIME parts; the rest are ignored"});
  ctx.parts_exceeded = true;
  return false;
}

// The body parts of multipart/alternative: the plain and HTML versions (first of each);
// other alternatives (text/calendar, application/rtf, text/enriched) are other renderings of
// the same content, not attachments. A multipart/related alternative holds the HTML and its
// inline parts.
void walk_multipart(const Entity &e, model::Message &msg, Ctx &ctx, int part_depth,
                    int embed_depth) {
  const std::string &t = e.type.token;
  std::string boundary = param(e.type, "boundary");
  // boundary="" is a valid quoted-string and its delimiter is just "--"
  // (mimekit__simple.mbox.txt); only a missing parameter is unusable.
  if (!has_param(e.type, "boundary")) {
    ctx.warnings.push_back(
        {ProblemCode::BodyUndecodable, t + " without a boundary; kept as an attachment"});
    add_data_attachment(e, decode_body(e), msg);
    return;
  }
  if (part_depth + 1 > detail::MAX_PART_DEPTH) {
    ctx.warnings.push_back({ProblemCode::LimitExceeded, "multipart nesting deeper than " +
                                                            std::to_string(detail::MAX_PART_DEPTH) +
                                                            "; kept as bytes"});
    add_data_attachment(e, std::string(e.body), msg);
    return;
  }
  Split s = split_multipart(e.body, boundary);
  if (!s.found_any) {
    ctx.warnings.push_back({ProblemCode::BodyUndecodable,
                            t + ": boundary \"" + boundary + "\" never occurs; body kept as text"});
    // Python's email treats the whole body as the preamble; there are no parts.
    return;
  }
  if (!s.closed)
    ctx.warnings.push_back({ProblemCode::BodyUndecodable, t + ": closing boundary missing"});
  const bool alternative = t == "multipart/alternative";
  const bool signed_ = t == "multipart/signed";
  const bool report = t == "multipart/report";
  for (std::size_t k = 0; k < s.parts.size(); ++k) {
    if (!count_part(ctx)) return;
    std::string_view part = s.parts[k];
    // A part with neither header nor body (two boundaries in a row, or a boundary at the
    // cut-off end of a truncated message) is an empty text/plain part: the body when there is
    // none yet (as Python's email reads it), else nothing, not an empty attachment.
    if (text::trim(part).empty() && msg.body_text) continue;
    Head h = split_head(part, ctx.warnings);
    Entity c = read_entity(h, part.substr(h.body_begin));
    if (!h.separator && !h.saw_field) c.body = part;  // no header: all body
    if (signed_ && k == 1) {
      // The signature of multipart/signed ([RFC 1847] 2.1) stays as an attachment (smime.p7s).
      add_leaf(c, msg, ctx, embed_depth, false);
      continue;
    }
    if (report && k == 1) continue;  // the machine-readable status ([RFC 6522]): not content
    if (report && (c.type.token == "text/rfc822-headers")) continue;
    if (alternative && c.type.token.starts_with("multipart/") == false &&
        c.type.token != "text/plain" && c.type.token != "text/html" &&
        !is_attachment_disposition(c))
      continue;
    walk(c, msg, ctx, part_depth + 1, embed_depth);
  }
}

void walk(const Entity &e, model::Message &msg, Ctx &ctx, int part_depth, int embed_depth) {
  if (e.type.token.starts_with("multipart/")) {
    walk_multipart(e, msg, ctx, part_depth, embed_depth);
    return;
  }
  add_leaf(e, msg, ctx, embed_depth, true);
}

// ---------------------------------------------------------------------------------------------
// Top-level fields

// parse_rfc5322_date, then the forms it rejects that Python's email reads (the corpus has
// them): comments anywhere ("00:19:00 (EDT) -0400"), 12-hour times with AM/PM, three-digit
// zones ("-600").
std::optional<i64> lenient_date(std::string_view value) {
  if (std::optional<i64> d = parse_rfc5322_date(value)) return d;
  std::string v = strip_comments(value);
  if (std::optional<i64> d = parse_rfc5322_date(v)) return d;
  std::vector<std::string> toks;
  for (std::size_t i = 0; i < v.size();) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < v.size() && v[j] != ' ' && v[j] != '\t') ++j;
    if (j > i) toks.emplace_back(v.substr(i, j - i));
    i = j;
  }
  int ampm = 0;
  std::erase_if(toks, [&](const std::string &t) {
    if (iequals_ascii(t, "AM")) return ampm = 1, true;
    if (iequals_ascii(t, "PM")) return ampm = 2, true;
    return false;
  });
  for (std::string &t : toks) {
    std::size_t colon = t.find(':');
    if (ampm && colon != std::string::npos && colon > 0 && colon <= 2) {
      int hour = std::atoi(t.substr(0, colon).c_str());
      if (ampm == 2 && hour < 12) hour += 12;
      if (ampm == 1 && hour == 12) hour = 0;
      t = std::to_string(hour) + t.substr(colon);
    }
    if (t.size() == 4 && (t[0] == '+' || t[0] == '-') &&
        std::all_of(t.begin() + 1, t.end(), [](char c) { return c >= '0' && c <= '9'; }))
      t = t.substr(0, 1) + "0" + t.substr(1);
  }
  std::string joined;
  for (const std::string &t : toks) joined += (joined.empty() ? "" : " ") + t;
  return parse_rfc5322_date(joined);
}

std::optional<std::string> mailmill_flag_value(const Head &h, std::string_view name) {
  const Field *f = find_field(h, name);
  if (!f) return std::nullopt;
  return f->value;
}

void read_flags(const Head &h, model::Message &msg) {
  if (auto v = mailmill_flag_value(h, "x-mailmill-flags")) {
    msg.flags.read = v->find("\\Seen") != std::string::npos;
    msg.flags.answered = v->find("\\Answered") != std::string::npos;
    msg.flags.flagged = v->find("\\Flagged") != std::string::npos;
    msg.flags.draft = v->find("\\Draft") != std::string::npos;
    msg.flags.forwarded = v->find("$Forwarded") != std::string::npos;
  }
  // mbox convention: Status: R (read) O (old); X-Status: A answered, F flagged, T draft, D deleted.
  if (auto v = mailmill_flag_value(h, "status"))
    msg.flags.read = msg.flags.read || v->find('R') != std::string::npos;
  if (auto v = mailmill_flag_value(h, "x-status")) {
    msg.flags.answered = msg.flags.answered || v->find('A') != std::string::npos;
    msg.flags.flagged = msg.flags.flagged || v->find('F') != std::string::npos;
    msg.flags.draft = msg.flags.draft || v->find('T') != std::string::npos;
  }
  // Mozilla: hex bit field; 0x1 read, 0x2 replied, 0x4 marked, 0x1000 forwarded.
  if (auto v = mailmill_flag_value(h, "x-mozilla-status")) {
    unsigned long bits = 0;
    int digits = 0;
    for (char c : text::trim(*v, " \t")) {
      int d = text::hex_digit_value(c);
      if (d < 0 || ++digits > 8) break;
      bits = bits * 16 + static_cast<unsigned long>(d);
    }
    if (bits & 0x1) msg.flags.read = true;
    if (bits & 0x2) msg.flags.answered = true;
    if (bits & 0x4) msg.flags.flagged = true;
    if (bits & 0x1000) msg.flags.forwarded = true;
  }
}

void read_importance(const Head &h, model::Message &msg) {
  std::string imp = to_lower_ascii(text::trim(field_or_empty(h, "importance"), " \t"));
  if (imp == "low")
    msg.importance = 0;
  else if (imp == "high")
    msg.importance = 2;
  else if (imp.empty()) {
    std::string p = std::string(text::trim(field_or_empty(h, "x-priority"), " \t"));
    if (!p.empty() && (p[0] == '1' || p[0] == '2'))
      msg.importance = 2;
    else if (!p.empty() && (p[0] == '4' || p[0] == '5'))
      msg.importance = 0;
  }
  std::string sens = to_lower_ascii(text::trim(field_or_empty(h, "sensitivity"), " \t"));
  if (sens == "personal")
    msg.sensitivity = 1;
  else if (sens == "private")
    msg.sensitivity = 2;
  else if (sens == "company-confidential")
    msg.sensitivity = 3;
}

void read_keywords(const Head &h, model::Message &msg, std::string_view raw_charset) {
  for (const Field &f : h.fields) {
    if (f.lname != "keywords") continue;
    // A comma-separated list of phrases ([RFC 5322] 3.6.5); quoted and encoded ones decoded.
    bool quoted = false;
    std::string cur;
    auto push = [&] {
      std::string kw = decode_rfc2047(collapse_ws(cur), raw_charset);
      if (!kw.empty()) msg.categories.push_back(text::sanitize_utf8(kw));
      cur.clear();
    };
    for (std::size_t i = 0; i < f.value.size(); ++i) {
      char c = f.value[i];
      if (quoted && c == '\\' && i + 1 < f.value.size())
        cur.push_back(f.value[++i]);
      else if (c == '"')
        quoted = !quoted;
      else if (c == ',' && !quoted)
        push();
      else
        cur.push_back(c);
    }
    push();
  }
}

// `block` without the fields named in `lnames` (lower-case), continuation lines included.
Bytes drop_fields(std::string_view block, std::initializer_list<std::string_view> lnames) {
  Bytes out;
  out.reserve(block.size());
  bool dropping = false;
  for (std::size_t i = 0; i < block.size();) {
    std::size_t nl = block.find('\n', i);
    std::size_t next = nl == std::string_view::npos ? block.size() : nl + 1;
    std::string_view line = block.substr(i, next - i);
    i = next;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (!dropping) out.append(line);
      continue;
    }
    std::size_t colon = line.find(':');
    std::string name = colon == std::string_view::npos
                           ? std::string()
                           : to_lower_ascii(text::trim_right(line.substr(0, colon), " \t"));
    dropping = std::find(lnames.begin(), lnames.end(), name) != lnames.end();
    if (!dropping) out.append(line);
  }
  return out;
}

Result<model::Message> parse_impl(std::string_view bytes, Ctx &ctx, int embed_depth) {
  Head h = split_head(bytes, ctx.warnings);
  if (!h.saw_field) return Problem{ProblemCode::ItemUnreadable, "no header fields: not a message"};
  // Raw 8-bit header text (no encoded-words) is most often in the charset the message's own
  // text declares (spamassassin__nice_cjk_gb2312.1): read it so, when the top-level part is a
  // text part that names one.
  std::string raw_charset;
  if (const Field *ct = find_field(h, "content-type")) {
    ParsedValue pv = parse_value(ct->value);
    if (pv.token.starts_with("text/")) raw_charset = param(pv, "charset");
  }
  model::Message msg;
  msg.kind = model::ItemKind::Message;
  msg.message_class = "IPM.Note";
  msg.transport_headers = Bytes(bytes.substr(h.header_begin, h.header_end - h.header_begin));

  if (const Field *f = find_field(h, "from")) {
    std::vector<ParsedAddress> a = parse_address_list(f->value, raw_charset);
    if (!a.empty()) msg.from = to_model_address(a[0]);
  }
  if (const Field *f = find_field(h, "sender")) {
    std::vector<ParsedAddress> a = parse_address_list(f->value, raw_charset);
    if (!a.empty()) msg.sender = to_model_address(a[0]);
  }
  // "From: undisclosed-sender:;" that mailmill wrote for an item naming no sender.
  // The field and its marker are then not the message's own: they leave transport_headers too,
  // so that building the message again synthesizes them again, marker included.
  if (const Field *f = find_field(h, "x-mailmill-synthesized");
      f && to_lower_ascii(f->value).find("from") != std::string::npos) {
    msg.from = {};
    msg.transport_headers = drop_fields(msg.transport_headers, {"from", "x-mailmill-synthesized"});
  }
  // Senders without an SMTP address: the builder writes the Exchange DN beside the name.
  if (const Field *f = find_field(h, "x-mailmill-x500-from")) {
    msg.from.x500 = std::string(text::trim(f->value, " \t"));
    if (msg.from.smtp.empty()) msg.from.addr_type = "EX";
  }
  if (const Field *f = find_field(h, "x-mailmill-x500-sender")) {
    msg.sender.x500 = std::string(text::trim(f->value, " \t"));
    if (msg.sender.smtp.empty()) msg.sender.addr_type = "EX";
  }
  struct {
    const char *name;
    model::RecipientType type;
  } lists[] = {{"to", model::RecipientType::To},
               {"cc", model::RecipientType::Cc},
               {"bcc", model::RecipientType::Bcc}};
  for (const auto &l : lists) {
    for (const Field &f : h.fields) {
      if (f.lname != l.name) continue;
      for (const ParsedAddress &p : parse_address_list(f.value, raw_charset)) {
        model::Recipient r;
        r.type = l.type;
        r.address = to_model_address(p);
        msg.recipients.push_back(std::move(r));
      }
    }
  }
  if (const Field *f = find_field(h, "subject"))
    msg.subject = text::sanitize_utf8(decode_rfc2047(f->value, raw_charset));
  if (const Field *f = find_field(h, "date")) {
    msg.submit_time = lenient_date(f->value);
    if (!msg.submit_time)
      ctx.warnings.push_back({ProblemCode::BodyUndecodable, "Date field does not parse"});
  }
  msg.message_id = std::string(text::trim(field_or_empty(h, "message-id"), " \t"));
  msg.in_reply_to = std::string(text::trim(field_or_empty(h, "in-reply-to"), " \t"));
  msg.references = collapse_ws(field_or_empty(h, "references"));
  read_flags(h, msg);
  read_importance(h, msg);
  read_keywords(h, msg, raw_charset);

  std::string_view body = bytes.substr(h.body_begin);
  Entity e = read_entity(h, body);
  // Opaque S/MIME (signed or encrypted CMS as the whole body) stays one attachment, smime.p7m,
  // which is how Outlook stores IPM.Note.SMIME ([MS-OXOSMIME] 2.1), so the builder writes it
  // back byte for byte. multipart/signed is read as its parts (the signature, smime.p7s, an
  // attachment), not as IPM.Note.SMIME.MultipartSigned: the model then shows the content.
  if (e.type.token == "application/pkcs7-mime" || e.type.token == "application/x-pkcs7-mime")
    msg.message_class = "IPM.Note.SMIME";
  count_part(ctx);
  walk(e, msg, ctx, 0, embed_depth);

  // What the builder could not write it names in X-Mailmill-Omitted-Attachment: keep a
  // placeholder so the item still says an attachment was there.
  for (const Field &f : h.fields) {
    if (f.lname != "x-mailmill-omitted-attachment") continue;
    std::string v = decode_rfc2047(f.value);
    model::Attachment a;
    a.kind = v.find("(by reference") != std::string::npos ? model::AttachmentKind::Reference
                                                          : model::AttachmentKind::Unreadable;
    std::size_t paren = v.rfind(" (");
    a.filename = v.substr(0, paren);
    a.problem = Problem{ProblemCode::AttachmentNotExportable, "omitted by the writer: " + v};
    msg.attachments.push_back(std::move(a));
  }
  msg.flags.has_attachments = !msg.attachments.empty();
  return msg;
}

}  // namespace

Result<model::Message> parse_message(const Blob &bytes, const ParseOptions &opts) {
  std::vector<Problem> warnings;
  Ctx ctx{opts, warnings, 0, false};
  try {
    Result<model::Message> r = parse_impl(bytes.view(), ctx, 0);
    if (!r.ok()) return r;
    for (Problem &w : warnings) r->warnings.push_back(std::move(w));
    return r;
  } catch (const std::bad_alloc &) {
    return Problem{ProblemCode::LimitExceeded, "out of memory while parsing the message"};
  } catch (const std::exception &ex) {
    return Problem{ProblemCode::InternalError, std::string("MIME parser: ") + ex.what()};
  }
}

}  // namespace mm::mime
