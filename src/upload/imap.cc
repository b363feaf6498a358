// The IMAP client: endpoint URLs, modified UTF-7, INTERNALDATE, and the commands of imap.h on
// top of the transport and parser in imap_wire.h.
#include "mailmill/upload/imap.h"
#include "mailmill/util/civil_date.h"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <deque>

#include "imap_wire.h"
#include "mailmill/util/text.h"

namespace mm::upload {

// --- Endpoint ------------------------------------------------------------------------------

std::optional<Endpoint> Endpoint::parse(std::string_view url, std::string *error) {
  auto fail = [&](const std::string &why) -> std::optional<Endpoint> {
    if (error) *error = why + ": " + std::string(url);
    return std::nullopt;
  };
  std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) return fail("expected imaps://, imap:// or imap+plain://");
  Endpoint e;
  std::string scheme = text::to_lower_ascii(url.substr(0, sep));
  if (scheme == "imaps") {
    e.security = Security::Tls;
    e.port = 993;
  } else if (scheme == "imap") {
    e.security = Security::StartTls;
    e.port = 143;
  } else if (scheme == "imap+plain") {
    e.security = Security::Plain;
    e.port = 143;
  } else {
    return fail("unknown scheme '" + scheme + "' (imaps, imap or imap+plain)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.ends_with("/")) rest.remove_suffix(1);
  for (char c : rest) {
    if (c == '/' || c == '?' || c == '#' || c == '@')
      return fail("a path, query or user name is not supported in the URL");
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return fail("invalid character in the host name");
  }
  std::string_view port;
  if (rest.starts_with("[")) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("unterminated [IPv6 address]");
    e.host.assign(rest.substr(1, close - 1));
    unsigned char buf[16];
    if (inet_pton(AF_INET6, e.host.c_str(), buf) != 1) return fail("invalid IPv6 address");
    rest.remove_prefix(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return fail("unexpected text after ]");
    if (!rest.empty()) port = rest.substr(1);
    if (rest == ":") return fail("empty port");
  } else {
    std::size_t colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos)
      return fail("an IPv6 address must be in brackets");
    e.host.assign(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return fail("empty port");
    }
    for (char c : e.host)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
        return fail("invalid character in the host name");
  }
  if (e.host.empty()) return fail("no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return fail("invalid port");
    e.port = static_cast<u16>(value);
  }
  return e;
}

std::string Endpoint::url() const {
  const char *scheme = security == Security::Tls        ? "imaps"
                       : security == Security::StartTls ? "imap"
                                                        : "imap+plain";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(scheme) + "://" + h + ":" + std::to_string(port);
}

// --- Modified UTF-7 (RFC 3501 §5.1.3) --------------------------------------------------------

namespace {

constexpr std::string_view MB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

bool is_direct(u32 c) { return c >= 0x20 && c <= 0x7e; }

/// Modified base64 of UTF-16BE code units: ',' for '/', no padding.
void append_mb64(std::string &out, const std::vector<u16> &units) {
  u32 acc = 0;
  int bits = 0;
  for (u16 u : units) {
    acc = (acc << 16) | u;
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out += MB64[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += MB64[(acc << (6 - bits)) & 0x3f];
}

int mb64_value(char c) {
  std::size_t i = MB64.find(c);
  return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

}  // namespace

std::string encode_mutf7(std::string_view utf8) {
  // utf8_to_utf16le already maps invalid UTF-8 to U+FFFD and splits astral characters into
  // surrogate pairs, which is exactly the UTF-16 that modified base64 carries.
  Bytes le = text::utf8_to_utf16le(utf8);
  std::string out;
  std::vector<u16> run;
  auto flush = [&] {
    if (run.empty()) return;
    out += '&';
    append_mb64(out, run);
    out += '-';
    run.clear();
  };
  for (std::size_t i = 0; i + 1 < le.size(); i += 2) {
    u16 u = static_cast<u16>(static_cast<u8>(le[i]) | (static_cast<u8>(le[i + 1]) << 8));
    if (is_direct(u)) {
      flush();
      out += static_cast<char>(u);
      if (u == '&') out += '-';
    } else {
      run.push_back(u);
    }
  }
  flush();
  return out;
}

std::optional<std::string> decode_mutf7(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (!is_direct(static_cast<u8>(c))) return std::nullopt;
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    std::size_t end = s.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;  // unterminated shift
    if (end == i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    std::vector<u16> units;
    u32 acc = 0;
    int bits = 0;
    for (std::size_t k = i + 1; k < end; ++k) {
      int v = mb64_value(s[k]);
      if (v < 0) return std::nullopt;
      acc = (acc << 6) | static_cast<u32>(v);
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        units.push_back(static_cast<u16>(acc >> bits));
      }
    }
    // Leftover bits are padding: fewer than 6 of them and all zero, or the run is truncated.
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || units.empty()) return std::nullopt;
    for (std::size_t k = 0; k < units.size(); ++k) {
      u32 u = units[k];
      if (is_direct(u)) return std::nullopt;  // must have been written as itself
      if (u >= 0xdc00 && u <= 0xdfff) return std::nullopt;
      if (u >= 0xd800 && u <= 0xdbff) {
        if (k + 1 >= units.size() || units[k + 1] < 0xdc00 || units[k + 1] > 0xdfff)
          return std::nullopt;
        u = 0x10000 + ((u - 0xd800) << 10) + (units[++k] - 0xdc00);
      }
      text::append_utf8(out, u);
    }
    i = end + 1;
  }
  return out;
}

// --- INTERNALDATE (RFC 3501 §9 date-time) -------------------------------------------------------

namespace {

constexpr const char *MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

using util::civil_from_days;
using util::days_from_civil;
using util::days_in_month;
using Civil = util::CivilDate;

}  // namespace

std::string format_internal_date(i64 unix_seconds) {
  i64 days = unix_seconds / 86400, secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  Civil c = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u-%s-%04lld %02lld:%02lld:%02lld +0000", c.day,
                MONTHS[c.month - 1], static_cast<long long>(c.year),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

std::optional<i64> parse_internal_date(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&](std::size_t n, int *out) {
    if (i + n > s.size()) return false;
    int v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      char c = s[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    i += n;
    return true;
  };
  auto lit = [&](char c) {
    if (i >= s.size() || s[i] != c) return false;
    ++i;
    return true;
  };
  // date-day-fixed is (SP DIGIT) / 2DIGIT; a bare single digit is accepted too.
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
  if (lit(' ')) {
    if (!digits(1, &day)) return std::nullopt;
  } else if (!digits(2, &day) && !digits(1, &day)) {
    return std::nullopt;
  }
  if (!lit('-') || i + 3 > s.size()) return std::nullopt;
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m)
    if (text::iequals_ascii(s.substr(i, 3), MONTHS[m])) month = m + 1;
  if (month == 0) return std::nullopt;
  i += 3;
  if (!lit('-') || !digits(4, &year) || !lit(' ') || !digits(2, &hh) || !lit(':') ||
      !digits(2, &mm) || !lit(':') || !digits(2, &ss) || !lit(' '))
    return std::nullopt;
  int sign = lit('+') ? 1 : lit('-') ? -1 : 0;
  if (sign == 0 || !digits(2, &zh) || !digits(2, &zm) || i != s.size()) return std::nullopt;
  if (day < 1 || static_cast<unsigned>(day) > days_in_month(year, month) || hh > 23 || mm > 59 ||
      ss > 60 || zm > 59)
    return std::nullopt;
  i64 local =
      days_from_civil(year, month, static_cast<unsigned>(day)) * 86400 + hh * 3600 + mm * 60 + ss;
  return local - sign * (zh * 3600 + zm * 60);
}

// --- The connection ------------------------------------------------------------------------

namespace {

using wire::Parser;
using wire::Response;
using wire::Value;

/// Pipelining bounds for APPEND: commands written but not yet answered.
constexpr u64 APPEND_WINDOW_BYTES = u64{4} << 20;
constexpr std::size_t APPEND_WINDOW_COMMANDS = 64;
/// RFC 7888 §4: LITERAL- allows non-synchronizing literals up to this size.
constexpr u64 LITERAL_MINUS_MAX = 4096;

[[noreturn]] void protocol(const std::string &what) {
  throw ImapError(ImapError::Kind::Protocol, what);
}

std::string base64(ByteView in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                          reinterpret_cast<const unsigned char *>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// Part of a command on the wire: owned text, or a view of the caller's message bytes. A piece
/// after a synchronizing literal announcement waits for the server's "+".
struct Piece {
  std::string own;
  ByteView view;
  bool is_view = false;
  bool wait_before = false;
  ByteView data() const { return is_view ? view : ByteView(own); }
};

/// Builds one command, choosing for each string a quoted form or a literal (RFC 3501 §4.3),
/// non-synchronizing where LITERAL+ / LITERAL- allow it (RFC 7888).
class CommandBuilder {
 public:
  CommandBuilder(bool literal_plus, bool literal_minus)
      : literal_plus_(literal_plus), literal_minus_(literal_minus) {
    pieces_.emplace_back();
  }
  void text(std::string_view s) {
    if (pieces_.back().is_view) pieces_.emplace_back();
    pieces_.back().own += s;
  }
  /// A quoted string when the bytes are 7-bit without CR, LF or NUL; a literal otherwise.
  void string(std::string_view s) {
    bool quotable = s.size() <= 1024;
    for (char c : s) quotable = quotable && c != '\0' && c != '\r' && c != '\n' && (c & 0x80) == 0;
    if (!quotable) return literal(s, false, false);
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    text(q + "\"");
  }
  /// {n} (or ~{n}, literal8) and the bytes; `borrow` keeps a view instead of a copy.
  void literal(ByteView bytes, bool binary, bool borrow) {
    bool nonsync = literal_plus_ || (literal_minus_ && bytes.size() <= LITERAL_MINUS_MAX);
    text(std::string(binary ? "~{" : "{") + std::to_string(bytes.size()) + (nonsync ? "+}" : "}") +
         "\r\n");
    Piece p;
    p.wait_before = !nonsync;
    if (borrow) {
      p.is_view = true;
      p.view = bytes;
    } else {
      p.own.assign(bytes);
    }
    pieces_.push_back(std::move(p));
  }
  std::vector<Piece> finish() {
    text("\r\n");
    return std::move(pieces_);
  }

 private:
  bool literal_plus_, literal_minus_;
  std::vector<Piece> pieces_;
};

bool is_flag(std::string_view f) {
  if (f.empty()) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '"' || c == '%' ||
        c == '*' || c == ']' || (c == '\\' && i != 0))
      return false;
  }
  return true;
}

std::vector<std::string> split_capabilities(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t sp = s.find(' ', i);
    if (sp == std::string_view::npos) sp = s.size();
    if (sp > i) out.push_back(text::to_upper_ascii(s.substr(i, sp - i)));
    i = sp + 1;
  }
  return out;
}

/// Parses "<seq> FETCH (...)" from the parser positioned after "* <seq> ".
FetchedMessage parse_fetch(Parser &p, u32 seq) {
  FetchedMessage m;
  m.seq = seq;
  Value list = p.value();
  if (list.kind != Value::Kind::List || list.items.size() % 2 != 0)
    protocol("FETCH response is not a list of item/value pairs");
  for (std::size_t i = 0; i < list.items.size(); i += 2) {
    const Value &key = list.items[i];
    Value &val = list.items[i + 1];
    if (key.kind != Value::Kind::Atom) protocol("FETCH item name is not an atom");
    std::string name = text::to_upper_ascii(key.text);
    auto num = [&](u64 max) -> u64 {
      u64 v = 0;
      const std::string &t = val.text;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (val.kind != Value::Kind::Atom || ec != std::errc() || end != t.data() + t.size() ||
          v > max)
        protocol("FETCH " + name + " is not a number");
      return v;
    };
    if (name == "UID") {
      m.uid = static_cast<u32>(num(UINT32_MAX));
    } else if (name == "RFC822.SIZE") {
      m.size = num(UINT64_MAX);
    } else if (name == "INTERNALDATE") {
      if (!val.is_string_like()) protocol("FETCH INTERNALDATE is not a string");
      m.internal_date = std::move(val.text);
    } else if (name == "FLAGS") {
      if (val.kind != Value::Kind::List) protocol("FETCH FLAGS is not a list");
      for (Value &f : val.items) m.flags.push_back(std::move(f.text));
    } else if (name == "BODY[]") {
      m.body = val.kind == Value::Kind::Nil ? Bytes() : std::move(val.text);
    } else if (name.starts_with("BODY[HEADER.FIELDS")) {
      m.header_fields = val.kind == Value::Kind::Nil ? Bytes() : std::move(val.text);
    }
  }
  return m;
}

class Connection final : public ImapConnection {
 public:
  explicit Connection(const Endpoint &endpoint) : endpoint_(endpoint) {}

  void open() {
    transport_ = std::make_unique<wire::Transport>(endpoint_);
    if (endpoint_.security == Endpoint::Security::Tls) transport_->start_tls();
    Response greeting = next();
    if (greeting.type != Response::Type::Untagged) protocol("the server sent no greeting");
    on_untagged(greeting);
    if (bye_) throw ImapError(ImapError::Kind::Bye, "server refused the connection: " + bye_text_);
    if (caps_.empty()) capability();
    if (endpoint_.security != Endpoint::Security::StartTls) return;
    // RFC 3501 §6.2.1; never fall back to plain text when STARTTLS is missing.
    if (!has_capability("STARTTLS"))
      throw ImapError(ImapError::Kind::Tls, endpoint_.host + " does not offer STARTTLS");
    Status st = simple("STARTTLS");
    if (!st.ok()) throw ImapError(ImapError::Kind::Tls, "STARTTLS refused: " + st.text);
    // Bytes that arrived before the handshake were not protected by it (CVE-2011-0411 style
    // injection): refuse them.
    if (!reader_.empty()) protocol("unexpected data after the STARTTLS response");
    transport_->start_tls();
    caps_.clear();
    capability();
  }

  void login(const Credentials &cr) override {
    Status st;
    if (cr.mechanism == Credentials::Mechanism::XOAuth2) {
      st = authenticate("XOAUTH2",
                        "user=" + cr.user + "\x01" + "auth=Bearer " + cr.secret + "\x01\x01");
    } else if (has_capability("LOGINDISABLED")) {
      st = authenticate("PLAIN", std::string(1, '\0') + cr.user + '\0' + cr.secret);
    } else {
      std::string tag = new_tag();
      CommandBuilder b = builder();
      b.text(tag + " LOGIN ");
      b.string(cr.user);
      b.text(" ");
      b.string(cr.secret);
      st = run(tag, b.finish(), {});
    }
    if (st.kind == Status::Kind::No)
      throw ImapError(ImapError::Kind::Auth, "login refused for " + cr.user + ": " + st.text);
    if (!st.ok()) protocol("login failed: " + st.text);
    if (st.code == "CAPABILITY") {
      caps_ = split_capabilities(st.code_args);
    } else {
      capability();
    }
  }

  const std::vector<std::string> &capabilities() const override { return caps_; }

  bool has_capability(std::string_view atom) const override {
    std::string up = text::to_upper_ascii(atom);
    return std::find(caps_.begin(), caps_.end(), up) != caps_.end();
  }

  std::optional<u64> append_limit() const override {
    for (const std::string &c : caps_) {
      if (!c.starts_with("APPENDLIMIT=")) continue;
      u64 v = 0;
      auto [end, ec] = std::from_chars(c.data() + 12, c.data() + c.size(), v);
      if (ec == std::errc() && end == c.data() + c.size()) return v;
    }
    return std::nullopt;
  }

  std::pair<std::string, char> personal_namespace() override {
    if (has_capability("NAMESPACE")) {
      std::optional<std::pair<std::string, char>> found;
      Status st = simple("NAMESPACE", [&](Parser &p, std::string_view word) {
        if (word != "NAMESPACE") return;
        // (("prefix" "delim") ...) NIL NIL: the first personal namespace.
        Value personal = p.value();
        if (personal.kind != Value::Kind::List || personal.items.empty()) return;
        const Value &first = personal.items.front();
        if (first.kind != Value::Kind::List || first.items.size() < 2) return;
        const Value &delim = first.items[1];
        found = {first.items[0].text, delim.text.empty() ? '\0' : delim.text[0]};
      });
      if (!st.ok()) protocol("NAMESPACE failed: " + st.text);
      if (found) return *found;
    }
    std::vector<MailboxInfo> root = list_impl("");
    return {"", root.empty() ? '\0' : root.front().delimiter};
  }

  std::vector<MailboxInfo> list(std::string_view pattern) override { return list_impl(pattern); }

  Status create(std::string_view mailbox) override {
    std::string tag = new_tag();
    CommandBuilder b = builder();
    b.text(tag + " CREATE ");
    b.string(mailbox);
    Status st = run(tag, b.finish(), {});
    if (st.ok()) return st;
    if (st.code == "ALREADYEXISTS") {
      st.kind = Status::Kind::Ok;
      return st;
    }
    // Servers without RFC 5530 codes say only NO: the mailbox may still exist.
    if (st.kind == Status::Kind::No) {
      for (const MailboxInfo &m : list_impl(mailbox)) {
        if (m.name == mailbox) {
          st.kind = Status::Kind::Ok;
          break;
        }
      }
    }
    return st;
  }

  SelectInfo examine(std::string_view mailbox) override {
    SelectInfo info;
    std::string tag = new_tag();
    CommandBuilder b = builder();
    b.text(tag + " EXAMINE ");
    b.string(mailbox);
    Status st = run(tag, b.finish(), [&](Parser &, std::string_view word) {
      if (word == "EXISTS") info.exists = number_;
      if (word != "OK") return;
      u32 v = 0;
      const std::string &a = untagged_status_.code_args;
      if (std::from_chars(a.data(), a.data() + a.size(), v).ec != std::errc()) return;
      if (untagged_status_.code == "UIDVALIDITY") info.uidvalidity = v;
      if (untagged_status_.code == "UIDNEXT") info.uidnext = v;
    });
    if (!st.ok()) protocol("EXAMINE " + std::string(mailbox) + " failed: " + st.text);
    return info;
  }

  std::vector<AppendResult> append(std::span<const AppendRequest> requests) override;

  void uid_fetch(std::string_view uid_set, std::string_view items,
                 const std::function<void(const FetchedMessage &)> &each) override {
    for (char c : std::string(uid_set) + std::string(items))
      if (c == '\r' || c == '\n' || c == '\0')
        throw std::invalid_argument("UID FETCH arguments hold CR, LF or NUL");
    Status st = simple("UID FETCH " + std::string(uid_set) + " " + std::string(items),
                       [&](Parser &p, std::string_view word) {
                         if (word != "FETCH") return;
                         FetchedMessage m = parse_fetch(p, number_);
                         // RFC 3501 §6.4.8: UID FETCH answers carry UID; others are unsolicited.
                         if (m.uid != 0) each(m);
                       });
    if (!st.ok()) protocol("UID FETCH failed: " + st.text);
  }

  void noop() override {
    Status st = simple("NOOP");
    if (!st.ok()) protocol("NOOP failed: " + st.text);
  }

  void logout() override {
    if (!transport_) return;
    try {
      simple("LOGOUT");
    } catch (const ImapError &) {
      // The connection ends either way.
    }
    transport_->close();
  }

 private:
  /// Untagged responses a command cares about: the parser is after the word (and the number
  /// of "<n> EXISTS" / "<n> FETCH" is in number_, an OK/NO/BAD/BYE in untagged_status_);
  /// `word` is upper-cased.
  using Handler = std::function<void(Parser &, std::string_view word)>;

  std::string new_tag() { return "A" + std::to_string(next_tag_++); }
  CommandBuilder builder() const {
    return CommandBuilder(has_capability("LITERAL+"), has_capability("LITERAL-"));
  }

  /// The connection ended: Bye when the server said so first, else Network.
  [[noreturn]] void lost(const std::string &why) {
    if (bye_) throw ImapError(ImapError::Kind::Bye, "server closed the connection: " + bye_text_);
    throw ImapError(ImapError::Kind::Network, why);
  }

  /// Reads what is available now; false when nothing was. Bytes that came just before the end
  /// of the stream (a BYE, a last tagged response) are returned first; the end throws on the
  /// next call.
  bool read_available() {
    if (eof_) lost("connection closed by " + endpoint_.host);
    bool any = false;
    for (;;) {
      std::ptrdiff_t n;
      try {
        n = transport_->read_some(scratch_, sizeof scratch_);
      } catch (const ImapError &e) {
        lost(e.what());
      }
      if (n == 0) return any;
      if (n < 0) {
        eof_ = true;
        if (!any) lost("connection closed by " + endpoint_.host);
        return true;
      }
      reader_.append(scratch_, static_cast<std::size_t>(n));
      any = true;
    }
  }

  std::size_t write_some(ByteView data) {
    try {
      return transport_->write_some(data.data(), data.size());
    } catch (const ImapError &e) {
      // A server that says BYE and closes while we are still sending makes the write fail
      // first; its BYE may still be readable and decides the kind of error.
      try {
        read_available();
        while (std::optional<std::string> raw = reader_.take()) {
          Response r = wire::classify(std::move(*raw));
          if (r.type == Response::Type::Untagged) on_untagged(r);
        }
      } catch (const ImapError &) {
        // Whatever else went wrong, the write error below is the one to report.
      }
      lost(e.what());
    }
  }

  Response next() {
    for (;;) {
      if (std::optional<std::string> raw = reader_.take()) return wire::classify(std::move(*raw));
      if (!read_available()) transport_->wait(false);
    }
  }

  void send(ByteView data) {
    while (!data.empty()) {
      std::size_t k = write_some(data);
      if (k == 0) transport_->wait(true);
      data.remove_prefix(k);
    }
  }

  /// Bookkeeping every untagged response gets (capabilities, BYE), then the command's handler.
  void on_untagged(const Response &r, const Handler &handler = {}) {
    Parser p(r.raw, r.body);
    number_ = 0;
    if (p.peek() >= '0' && p.peek() <= '9') {
      number_ = p.number();
      p.skip_spaces();
    }
    std::string word = text::to_upper_ascii(p.atom());
    p.skip_spaces();
    if (number_ == 0 && word == "CAPABILITY") {
      caps_ = split_capabilities(p.rest_of_line());
      return;
    }
    if (number_ == 0 &&
        (word == "OK" || word == "NO" || word == "BAD" || word == "BYE" || word == "PREAUTH")) {
      Parser q(r.raw, r.body);
      untagged_status_ = wire::parse_status(q);
      if (untagged_status_.code == "CAPABILITY")
        caps_ = split_capabilities(untagged_status_.code_args);
      if (word == "BYE") {
        bye_ = true;
        bye_text_ = untagged_status_.text;
      }
    }
    if (handler) handler(p, word);
  }

  /// Writes the pieces of one command, waiting for "+" where a literal is synchronizing, and
  /// reads until its tagged response.
  Status run(const std::string &tag, std::vector<Piece> pieces, const Handler &handler) {
    for (const Piece &piece : pieces) {
      if (piece.wait_before) {
        for (;;) {
          Response r = next();
          if (r.type == Response::Type::Continuation) break;
          if (r.type == Response::Type::Tagged) return tagged(r, tag);
          on_untagged(r, handler);
        }
      }
      send(piece.data());
    }
    for (;;) {
      Response r = next();
      if (r.type == Response::Type::Tagged) return tagged(r, tag);
      if (r.type == Response::Type::Continuation) protocol("unexpected continuation request");
      on_untagged(r, handler);
    }
  }

  Status tagged(const Response &r, const std::string &tag) {
    if (r.tag != tag) protocol("response for unknown tag " + r.tag);
    Parser p(r.raw, r.body);
    return wire::parse_status(p);
  }

  Status simple(const std::string &command, const Handler &handler = {}) {
    std::string tag = new_tag();
    std::vector<Piece> pieces(1);
    pieces[0].own = tag + " " + command + "\r\n";
    return run(tag, std::move(pieces), handler);
  }

  void capability() {
    Status st = simple("CAPABILITY");
    if (!st.ok()) protocol("CAPABILITY failed: " + st.text);
  }

  /// RFC 4959 SASL-IR when offered; otherwise the response follows the first "+". A second
  /// "+" is an error challenge (XOAUTH2 sends JSON there) answered with an empty line, after
  /// which the server sends its NO.
  Status authenticate(const std::string &mechanism, const std::string &response) {
    std::string tag = new_tag();
    std::string encoded = response.empty() ? "=" : base64(response);
    bool sent = has_capability("SASL-IR");
    send(tag + " AUTHENTICATE " + mechanism + (sent ? " " + encoded : "") + "\r\n");
    for (;;) {
      Response r = next();
      if (r.type == Response::Type::Tagged) return tagged(r, tag);
      if (r.type == Response::Type::Untagged) {
        on_untagged(r);
        continue;
      }
      send(sent ? std::string("\r\n") : encoded + "\r\n");
      sent = true;
    }
  }

  std::vector<MailboxInfo> list_impl(std::string_view pattern) {
    std::vector<MailboxInfo> out;
    std::string tag = new_tag();
    CommandBuilder b = builder();
    b.text(tag + " LIST \"\" ");
    b.string(pattern);
    // RFC 6154 §5.1: ask for special-use attributes where the server has them.
    if (has_capability("SPECIAL-USE")) b.text(" RETURN (SPECIAL-USE)");
    Status st = run(tag, b.finish(), [&](Parser &p, std::string_view word) {
      if (word != "LIST" && word != "XLIST") return;
      MailboxInfo m;
      Value attrs = p.value();
      if (attrs.kind != Value::Kind::List) protocol("LIST attributes are not a list");
      for (Value &a : attrs.items) m.attributes.push_back(std::move(a.text));
      p.skip_spaces();
      Value delim = p.value();
      if (delim.kind != Value::Kind::Nil && delim.text.size() != 1)
        protocol("LIST delimiter is not one character");
      m.delimiter = delim.kind == Value::Kind::Nil ? '\0' : delim.text[0];
      p.skip_spaces();
      Value name = p.value();
      if (!name.is_string_like()) protocol("LIST mailbox name missing");
      m.name = std::move(name.text);
      out.push_back(std::move(m));
    });
    if (!st.ok()) protocol("LIST failed: " + st.text);
    return out;
  }

  Endpoint endpoint_;
  std::unique_ptr<wire::Transport> transport_;
  wire::Reader reader_;
  std::vector<std::string> caps_;
  u32 next_tag_ = 1;
  u32 number_ = 0;  // the number of the untagged response being handled
  Status untagged_status_;
  bool bye_ = false;
  bool eof_ = false;
  std::string bye_text_;
  char scratch_[1 << 16];
};

std::vector<AppendResult> Connection::append(std::span<const AppendRequest> requests) {
  std::vector<AppendResult> results(requests.size());
  struct Flight {
    std::size_t index;
    std::string tag;
    u64 bytes;
    std::vector<Piece> pieces;
    std::size_t next_piece = 0;
  };
  std::deque<Flight> flights;
  u64 flight_bytes = 0;
  std::deque<Piece> out;
  std::size_t out_offset = 0;
  std::string blocked;  // tag of the command waiting for "+", if any
  const bool binary = has_capability("BINARY");

  // Queues the flight's pieces up to the next synchronizing literal; true when it must wait.
  auto queue = [&](Flight &f) {
    for (; f.next_piece < f.pieces.size(); ++f.next_piece) {
      Piece &p = f.pieces[f.next_piece];
      if (p.wait_before) return true;
      out.push_back(std::move(p));
    }
    return false;
  };
  auto find = [&](const std::string &tag) {
    auto it =
        std::find_if(flights.begin(), flights.end(), [&](const Flight &f) { return f.tag == tag; });
    if (it == flights.end()) protocol("response for unknown tag " + tag);
    return it;
  };

  std::size_t next_request = 0;
  while (next_request < requests.size() || !flights.empty()) {
    while (blocked.empty() && next_request < requests.size() &&
           flights.size() < APPEND_WINDOW_COMMANDS &&
           (flights.empty() || flight_bytes < APPEND_WINDOW_BYTES)) {
      const AppendRequest &req = requests[next_request];
      AppendResult &result = results[next_request];
      ++next_request;
      bool nul = req.message.find('\0') != ByteView::npos;
      // RFC 3516: NUL travels only in literal8; without BINARY the server would reject or
      // mangle it.
      if (nul && !binary) {
        result.status = {Status::Kind::No, "NUL", "",
                         "message holds NUL and the server lacks BINARY"};
        continue;
      }
      auto bad = std::find_if_not(req.flags.begin(), req.flags.end(), is_flag);
      if (bad != req.flags.end()) {
        result.status = {Status::Kind::No, "", "", "invalid flag \"" + *bad + "\""};
        continue;
      }
      Flight f{static_cast<std::size_t>(&result - results.data()), new_tag(), 0, {}};
      CommandBuilder b = builder();
      b.text(f.tag + " APPEND ");
      b.string(req.mailbox);
      if (!req.flags.empty()) {
        std::string list = " (";
        for (const std::string &flag : req.flags) list += (list.size() > 2 ? " " : "") + flag;
        b.text(list + ")");
      }
      if (req.internal_date != 0) b.text(" \"" + format_internal_date(req.internal_date) + "\"");
      b.text(" ");
      b.literal(req.message, nul, true);
      f.pieces = b.finish();
      for (const Piece &p : f.pieces) f.bytes += p.data().size();
      flight_bytes += f.bytes;
      if (queue(f)) blocked = f.tag;
      flights.push_back(std::move(f));
    }
    if (flights.empty()) continue;

    // Write what the socket takes and read what has arrived, in either order, so that neither
    // a full send buffer nor unread responses can block the other side.
    bool progress = false;
    while (!out.empty()) {
      ByteView d = out.front().data().substr(out_offset);
      std::size_t k = d.empty() ? 0 : write_some(d);
      if (k == 0 && !d.empty()) break;
      progress = progress || k > 0;
      out_offset += k;
      if (out_offset == out.front().data().size()) {
        out.pop_front();
        out_offset = 0;
      }
    }
    progress = read_available() || progress;
    while (std::optional<std::string> raw = reader_.take()) {
      progress = true;
      Response r = wire::classify(std::move(*raw));
      if (r.type == Response::Type::Untagged) {
        on_untagged(r);
      } else if (r.type == Response::Type::Continuation) {
        if (blocked.empty()) protocol("unexpected continuation request");
        Flight &f = *find(blocked);
        f.pieces[f.next_piece].wait_before = false;
        if (!queue(f)) blocked.clear();
      } else {
        auto it = find(r.tag);
        AppendResult &result = results[it->index];
        Parser p(r.raw, r.body);
        result.status = wire::parse_status(p);
        // [APPENDUID uidvalidity uid] (RFC 4315 §3).
        if (result.status.ok() && result.status.code == "APPENDUID") {
          std::string_view a = result.status.code_args;
          std::size_t sp = a.find(' ');
          u32 v = 0, u = 0;
          if (sp != std::string_view::npos &&
              std::from_chars(a.data(), a.data() + sp, v).ec == std::errc() &&
              std::from_chars(a.data() + sp + 1, a.data() + a.size(), u).ec == std::errc()) {
            result.uidvalidity = v;
            result.uid = u;
          }
        }
        // A tagged answer instead of "+" refuses the literal: the command is over.
        if (r.tag == blocked) blocked.clear();
        flight_bytes -= it->bytes;
        flights.erase(it);
      }
    }
    if (!progress) transport_->wait(!out.empty());
  }
  return results;
}

}  // namespace

std::unique_ptr<ImapConnection> ImapConnection::open(const Endpoint &endpoint) {
  auto c = std::make_unique<Connection>(endpoint);
  c->open();
  return c;
}

}  // namespace mm::upload
