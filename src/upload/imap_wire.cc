// The IMAP client's byte level: sockets with timeouts, OpenSSL, and cutting and parsing
// responses (RFC 3501 §7, §9 formal syntax) without trusting any length the server sends.
#include "imap_wire.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "mailmill/util/text.h"

namespace mm::upload::wire {
namespace {

[[noreturn]] void network(const std::string &what) {
  throw ImapError(ImapError::Kind::Network, what);
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

int timeout_ms(const Endpoint &e) {
  return static_cast<int>(std::min<i64>(e.timeout.count(), INT_MAX));
}

bool is_ip_literal(const std::string &host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

/// OpenSSL writes to the socket with write(), so a peer that has closed raises SIGPIPE, which
/// kills the process by default. A library must not change the process's signal disposition:
/// block SIGPIPE in this thread for the call and swallow one it raised.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        const timespec zero{0, 0};
        sigtimedwait(&pipe, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

int connect_one(const addrinfo *ai, int timeout, std::string *error) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    *error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int r;
  do r = poll(&p, 1, timeout);
  while (r < 0 && errno == EINTR);
  int err = 0;
  socklen_t len = sizeof err;
  if (r == 0) {
    *error = "connect timed out";
  } else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    *error = std::strerror(r < 0 ? errno : err);
  } else {
    // Command lines are small and each one waits for nothing: do not let Nagle hold them.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  ::close(fd);
  return -1;
}

}  // namespace

// --- Transport ---------------------------------------------------------------------------

Transport::Transport(const Endpoint &endpoint) : endpoint_(endpoint) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  std::string port = std::to_string(endpoint.port);
  if (int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    network("cannot resolve " + endpoint.host + ": " + gai_strerror(rc));
  std::string error = "no address";
  for (const addrinfo *ai = res; ai && fd_ < 0; ai = ai->ai_next)
    fd_ = connect_one(ai, timeout_ms(endpoint), &error);
  freeaddrinfo(res);
  if (fd_ < 0) network("cannot connect to " + endpoint.host + ":" + port + ": " + error);
}

Transport::~Transport() { close(); }

void Transport::close() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  fd_ = -1;
}

void Transport::start_tls() {
  auto tls_error = [](const std::string &what) { throw ImapError(ImapError::Kind::Tls, what); };
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) tls_error("SSL_CTX_new: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (endpoint_.verify) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    int ok = endpoint_.ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx_)
                 : SSL_CTX_load_verify_locations(ctx_, endpoint_.ca_file.c_str(), nullptr);
    if (ok != 1)
      tls_error("cannot load CA certificates" +
                (endpoint_.ca_file.empty() ? std::string() : " from " + endpoint_.ca_file) + ": " +
                openssl_errors());
  } else {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  }
  ssl_ = SSL_new(ctx_);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) tls_error("SSL_new: " + openssl_errors());
  const std::string &host = endpoint_.host;
  // RFC 6066 §3: SNI carries DNS names only; an IP literal is checked against IP SANs instead.
  bool ip = is_ip_literal(host);
  if (!ip) SSL_set_tlsext_host_name(ssl_, host.c_str());
  if (endpoint_.verify) {
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl_);
    int ok =
        ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) : SSL_set1_host(ssl_, host.c_str());
    if (ok != 1) tls_error("cannot set the expected host name " + host);
  }
  for (;;) {
    ERR_clear_error();
    int r = SSL_connect(ssl_);
    if (r == 1) break;
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      int n;
      do n = poll(&p, 1, timeout_ms(endpoint_));
      while (n < 0 && errno == EINTR);
      if (n == 0) network("TLS handshake with " + host + " timed out");
      continue;
    }
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK)
      tls_error("certificate verification failed for " + host + ": " +
                X509_verify_cert_error_string(verify));
    tls_error("TLS handshake with " + host + " failed: " +
              (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ? std::string("connection closed")
                                                                 : openssl_errors()));
  }
}

std::ptrdiff_t Transport::read_some(char *buf, std::size_t cap) {
  if (fd_ < 0) network("connection closed");
  if (!ssl_) {
    for (;;) {
      ssize_t n = recv(fd_, buf, cap, 0);
      if (n > 0) return n;
      if (n == 0) return -1;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      network(std::string("read failed: ") + std::strerror(errno));
    }
  }
  ERR_clear_error();
  tls_wants_write_ = false;
  int n = SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(cap, INT_MAX)));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      return 0;
    case SSL_ERROR_WANT_WRITE:
      tls_wants_write_ = true;
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      return -1;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) return -1;  // closed without close_notify, or reset
      [[fallthrough]];
    default:
      network("TLS read failed: " + openssl_errors());
  }
}

std::size_t Transport::write_some(const char *buf, std::size_t n) {
  if (fd_ < 0) network("connection closed");
  if (n == 0) return 0;
  if (!ssl_) {
    for (;;) {
      ssize_t k = send(fd_, buf, n, MSG_NOSIGNAL);
      if (k >= 0) return static_cast<std::size_t>(k);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      network(std::string("write failed: ") + std::strerror(errno));
    }
  }
  SigpipeGuard guard;
  ERR_clear_error();
  int k = SSL_write(ssl_, buf, static_cast<int>(std::min<std::size_t>(n, INT_MAX)));
  if (k > 0) return static_cast<std::size_t>(k);
  int err = SSL_get_error(ssl_, k);
  if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return 0;
  network("TLS write failed: " + (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                                      ? std::string(std::strerror(errno))
                                      : openssl_errors()));
}

void Transport::wait(bool want_write) {
  if (fd_ < 0) network("connection closed");
  if (ssl_ && SSL_pending(ssl_) > 0) return;
  pollfd p{fd_, static_cast<short>(POLLIN | (want_write || tls_wants_write_ ? POLLOUT : 0)), 0};
  int n;
  do n = poll(&p, 1, timeout_ms(endpoint_));
  while (n < 0 && errno == EINTR);
  if (n < 0) network(std::string("poll failed: ") + std::strerror(errno));
  if (n == 0)
    network("no response from " + endpoint_.host + " within " +
            std::to_string(endpoint_.timeout.count()) + " ms");
}

// --- Reader ------------------------------------------------------------------------------

std::optional<std::string> Reader::take() {
  for (;;) {
    if (literal_end_ != 0) {
      if (buf_.size() < literal_end_) return std::nullopt;
      line_start_ = literal_end_;
      literal_end_ = 0;
    }
    std::size_t nl = buf_.find('\n', line_start_);
    if (nl == std::string::npos) {
      if (buf_.size() - line_start_ > MAX_LINE)
        throw ImapError(ImapError::Kind::Protocol, "server line longer than 1 MiB");
      return std::nullopt;
    }
    if (nl - line_start_ > MAX_LINE)
      throw ImapError(ImapError::Kind::Protocol, "server line longer than 1 MiB");
    std::string_view line(buf_.data() + line_start_, nl - line_start_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A literal announcement ends the line: {n} (or {n+} / ~{n}, which servers should not send
    // but cost nothing to accept).
    if (!line.empty() && line.back() == '}') {
      std::size_t open = line.rfind('{');
      std::string_view digits = open == std::string_view::npos
                                    ? std::string_view()
                                    : line.substr(open + 1, line.size() - open - 2);
      if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
      bool all_digits = !digits.empty() && digits.size() <= 10;
      for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
      if (all_digits) {
        u64 n = std::stoull(std::string(digits));
        if (n > MAX_LITERAL)
          throw ImapError(ImapError::Kind::Protocol,
                          "server literal of " + std::to_string(n) + " bytes (limit 2 GiB)");
        literal_end_ = nl + 1 + static_cast<std::size_t>(n);
        if (literal_end_ > buf_.size()) buf_.reserve(literal_end_);
        continue;
      }
    }
    std::string out = buf_.substr(start_, nl + 1 - start_);
    start_ = line_start_ = nl + 1;
    // Drop consumed bytes once they dominate the buffer (keeps appends amortised O(1)).
    if (start_ > (1u << 16) && start_ * 2 > buf_.size()) {
      buf_.erase(0, start_);
      start_ = line_start_ = 0;
    }
    return out;
  }
}

// --- Parser ------------------------------------------------------------------------------

void Parser::fail(std::string_view what) const {
  std::string_view near = s_.substr(std::min(pos_, s_.size()), 60);
  std::string shown;
  for (char c : near) shown += (c >= 0x20 && c < 0x7f) ? c : '.';
  throw ImapError(ImapError::Kind::Protocol, std::string("cannot parse server response: ") +
                                                 std::string(what) + " at \"" + shown + "\"");
}

bool Parser::at_end() const {
  std::string_view rest = s_.substr(std::min(pos_, s_.size()));
  return rest.empty() || rest == "\r\n" || rest == "\n";
}

bool Parser::eat(char c) {
  if (peek() != c || pos_ >= s_.size()) return false;
  ++pos_;
  return true;
}

void Parser::expect(char c) {
  if (!eat(c)) fail(std::string("expected '") + c + "'");
}

void Parser::skip_spaces() {
  while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
}

std::string_view Parser::atom() {
  std::size_t begin = pos_;
  int bracket = 0;
  while (pos_ < s_.size()) {
    char c = s_[pos_];
    if (c == '\r' || c == '\n') break;
    if (bracket == 0 && (c == ' ' || c == '(' || c == ')' || c == '"')) break;
    // A section such as BODY[HEADER.FIELDS (DATE)] holds spaces and parentheses.
    if (c == '[') ++bracket;
    if (c == ']') {
      if (bracket == 0) break;
      --bracket;
    }
    ++pos_;
  }
  if (pos_ == begin) fail("expected an atom");
  return s_.substr(begin, pos_ - begin);
}

u64 Parser::number64() {
  std::size_t begin = pos_;
  u64 v = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
    if (v > (UINT64_MAX - 9) / 10) fail("number too large");
    v = v * 10 + static_cast<u64>(s_[pos_] - '0');
    ++pos_;
  }
  if (pos_ == begin) fail("expected a number");
  return v;
}

u32 Parser::number() {
  u64 v = number64();
  if (v > UINT32_MAX) fail("number too large");
  return static_cast<u32>(v);
}

Value Parser::value(int depth) {
  if (depth > 64) fail("lists nested too deeply");
  Value v;
  char c = peek();
  if (pos_ >= s_.size()) fail("unexpected end of response");
  if (c == '(') {
    ++pos_;
    v.kind = Value::Kind::List;
    skip_spaces();
    while (!eat(')')) {
      if (at_end()) fail("unterminated list");
      v.items.push_back(value(depth + 1));
      skip_spaces();
    }
    return v;
  }
  if (c == '"') {
    ++pos_;
    v.kind = Value::Kind::String;
    for (;;) {
      if (pos_ >= s_.size() || s_[pos_] == '\r' || s_[pos_] == '\n') fail("unterminated string");
      char d = s_[pos_++];
      if (d == '"') break;
      if (d == '\\') {
        if (pos_ >= s_.size()) fail("unterminated string");
        d = s_[pos_++];
      }
      v.text += d;
    }
    return v;
  }
  if (c == '{' || (c == '~' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '{')) {
    pos_ += c == '~' ? 2 : 1;
    u64 n = number64();
    eat('+');
    expect('}');
    eat('\r');
    expect('\n');
    if (n > s_.size() - pos_) fail("literal runs past the response");
    v.kind = Value::Kind::String;
    v.text.assign(s_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::string_view a = atom();
  if (text::iequals_ascii(a, "NIL")) return v;
  v.kind = Value::Kind::Atom;
  v.text.assign(a);
  return v;
}

std::string_view Parser::rest_of_line() {
  std::string_view rest = s_.substr(std::min(pos_, s_.size()));
  std::size_t nl = rest.find('\n');
  if (nl != std::string_view::npos) rest = rest.substr(0, nl);
  if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
  pos_ += rest.size();
  return rest;
}

Response classify(std::string raw) {
  Response r;
  r.raw = std::move(raw);
  std::string_view s = r.raw;
  if (s.starts_with("+")) {
    r.type = Response::Type::Continuation;
    r.body = s.starts_with("+ ") ? 2 : 1;
  } else if (s.starts_with("* ")) {
    r.type = Response::Type::Untagged;
    r.body = 2;
  } else {
    std::size_t sp = s.find(' ');
    if (sp == 0 || sp == std::string_view::npos)
      throw ImapError(ImapError::Kind::Protocol, "server response without a tag");
    r.type = Response::Type::Tagged;
    r.tag.assign(s.substr(0, sp));
    r.body = sp + 1;
  }
  return r;
}

Status parse_status(Parser &p) {
  Status st;
  std::string word = text::to_upper_ascii(p.atom());
  if (word == "OK" || word == "PREAUTH" || word == "BYE") {
    st.kind = Status::Kind::Ok;
  } else if (word == "NO") {
    st.kind = Status::Kind::No;
  } else if (word == "BAD") {
    st.kind = Status::Kind::Bad;
  } else {
    p.fail("expected OK, NO or BAD");
  }
  p.skip_spaces();
  std::string_view rest = p.rest_of_line();
  if (rest.starts_with("[")) {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      close = rest.size();  // lenient: an unterminated code runs to the end of the line
    }
    std::string_view inside = rest.substr(1, close - 1);
    std::size_t sp = inside.find(' ');
    st.code = text::to_upper_ascii(inside.substr(0, sp));
    if (sp != std::string_view::npos) st.code_args.assign(inside.substr(sp + 1));
    rest = close < rest.size() ? rest.substr(close + 1) : std::string_view();
    while (rest.starts_with(" ")) rest.remove_prefix(1);
  }
  st.text.assign(rest);
  return st;
}

}  // namespace mm::upload::wire
