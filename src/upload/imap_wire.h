#pragma once
// Private to the IMAP client: the socket/TLS transport, the response reader that assembles a
// response (its lines and literals) from a byte stream, and the parser of one response.
#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/upload/imap.h"

namespace mm::upload::wire {

/// Hostile-server bounds: a line between literals, and one literal.
inline constexpr u64 MAX_LINE = u64{1} << 20;
inline constexpr u64 MAX_LITERAL = u64{1} << 31;

/// A TCP connection, optionally wrapped in TLS, in non-blocking mode; every wait is bounded by
/// the endpoint's timeout. Errors throw ImapError{Network} (or {Tls} in the handshake).
class Transport {
 public:
  explicit Transport(const Endpoint &endpoint);
  ~Transport();
  Transport(const Transport &) = delete;
  Transport &operator=(const Transport &) = delete;

  /// Handshake, chain and host name verification as the endpoint says. Throws ImapError{Tls}.
  void start_tls();
  /// Bytes read (> 0), 0 when none are available now, -1 at end of stream.
  std::ptrdiff_t read_some(char *buf, std::size_t cap);
  /// Bytes written, 0 when the socket cannot take any now.
  std::size_t write_some(const char *buf, std::size_t n);
  /// Waits until readable (always asked) or writable (when `want_write`, or when TLS needs it).
  /// Throws ImapError{Network} on timeout.
  void wait(bool want_write);
  void close();

 private:
  const Endpoint &endpoint_;
  int fd_ = -1;
  SSL_CTX *ctx_ = nullptr;
  SSL *ssl_ = nullptr;
  bool tls_wants_write_ = false;  // the last TLS read needs the socket writable
};

/// Accumulates bytes and cuts complete responses: a line, and when it ends in a literal
/// announcement {n} / ~{n}, the n bytes and the line after them, and so on.
class Reader {
 public:
  void append(const char *p, std::size_t n) { buf_.append(p, n); }
  /// The next complete response (raw bytes, literals included), or nullopt when more bytes are
  /// needed. Throws ImapError{Protocol} when a bound is exceeded.
  std::optional<std::string> take();
  bool empty() const { return start_ == buf_.size(); }

 private:
  std::string buf_;
  std::size_t start_ = 0;        // start of the response being assembled
  std::size_t line_start_ = 0;   // start of its current line
  std::size_t literal_end_ = 0;  // when waiting for a literal: where it ends
};

/// A parsed value of a response: atom, string (quoted or literal), NIL or parenthesised list.
struct Value {
  enum class Kind { Atom, String, Nil, List };
  Kind kind = Kind::Nil;
  std::string text;
  std::vector<Value> items;
  bool is_string_like() const { return kind == Kind::Atom || kind == Kind::String; }
};

/// A cursor over one raw response. Every error throws ImapError{Protocol}.
class Parser {
 public:
  explicit Parser(std::string_view raw, std::size_t pos = 0) : s_(raw), pos_(pos) {}
  bool at_end() const;  // only CRLF (or nothing) left
  bool eat(char c);
  void expect(char c);
  void skip_spaces();
  std::string_view atom();
  u32 number();
  u64 number64();
  Value value(int depth = 0);
  /// The text up to the end of the line, CRLF excluded.
  std::string_view rest_of_line();
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  [[noreturn]] void fail(std::string_view what) const;

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

/// One response, classified by its first token.
struct Response {
  enum class Type { Untagged, Continuation, Tagged };
  Type type = Type::Untagged;
  std::string tag;
  std::string raw;
  std::size_t body = 0;  // offset of what follows "* ", "+ " or "tag "
};
Response classify(std::string raw);

/// "OK [CODE args] text" (the status atom included) from a parser positioned at it.
Status parse_status(Parser &p);

}  // namespace mm::upload::wire
