// The IMAP client against independent facts: RFC 3501's own modified UTF-7 example and values
// derived by hand from Python's UTF-16 and base64, known Unix instants, and a real Dovecot
// (started privately per suite: plain, and TLS with a CA made by the openssl command line).
#include "mailmill/upload/imap.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

namespace mm::upload {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// --- modified UTF-7 ------------------------------------------------------------------------

TEST(ImapMutf7, Rfc3501Example) {
  // RFC 3501 §5.1.3's example, both ways.
  EXPECT_EQ(encode_mutf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
}

TEST(ImapMutf7, AmpersandAndControls) {
  EXPECT_EQ(encode_mutf7("&"), "&-");
  EXPECT_EQ(decode_mutf7("&-"), "&");
  EXPECT_EQ(encode_mutf7("Tom & Jerry"), "Tom &- Jerry");
  // DEL is not printable ASCII: base64 of UTF-16BE 00 7F.
  EXPECT_EQ(encode_mutf7("a\x7f"), "a&AH8-");
  // Expected values from Python: base64("ü".encode("utf-16-be")) = "APw=".
  EXPECT_EQ(encode_mutf7("Entwürfe"), "Entw&APw-rfe");
}

TEST(ImapMutf7, SupplementaryPlaneIsASurrogatePair) {
  // U+1F600 is D83D DE00 in UTF-16BE; base64 "2D3eAA==".
  EXPECT_EQ(encode_mutf7("\xF0\x9F\x98\x80"), "&2D3eAA-");
  EXPECT_EQ(decode_mutf7("&2D3eAA-"), "\xF0\x9F\x98\x80");
}

TEST(ImapMutf7, RoundTrips) {
  for (const char *s :
       {"", "INBOX", "Sent Items", "Черновики", "送信済み", "a&b&&c", "mixed ü 😀 x", "&-&"}) {
    std::string enc = encode_mutf7(s);
    for (char c : enc) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << s;
    EXPECT_EQ(decode_mutf7(enc), s) << enc;
  }
  // Invalid UTF-8 becomes U+FFFD (base64 of FF FD).
  EXPECT_EQ(encode_mutf7("a\xff"), "a&,,0-");
}

TEST(ImapMutf7, RejectsMalformed) {
  for (const char *bad : {"&", "&U,BTFw", "&U,B*Fw-", "&AGE-" /* 'a' encoded */, "a\x80",
                          "tab\there", "&2D0-" /* lone high surrogate */, "&3gA-" /* lone low */,
                          "&AH9-" /* nonzero padding bits */, "&A-" /* too short */}) {
    EXPECT_EQ(decode_mutf7(bad), std::nullopt) << bad;
  }
}

// --- INTERNALDATE --------------------------------------------------------------------------

TEST(ImapDate, FormatsKnownInstants) {
  EXPECT_EQ(format_internal_date(0), "01-Jan-1970 00:00:00 +0000");
  EXPECT_EQ(format_internal_date(820454400), "01-Jan-1996 00:00:00 +0000");
  EXPECT_EQ(format_internal_date(1709251199), "29-Feb-2024 23:59:59 +0000");
  EXPECT_EQ(format_internal_date(-1), "31-Dec-1969 23:59:59 +0000");
}

TEST(ImapDate, ParsesZonesAndPaddedDays) {
  // calendar.timegm((1996, 7, 17, 2, 44, 25)) + 7 * 3600
  EXPECT_EQ(parse_internal_date("17-Jul-1996 02:44:25 -0700"), 837596665);
  EXPECT_EQ(parse_internal_date("01-Jan-1996 00:00:00 +0000"), 820454400);
  EXPECT_EQ(parse_internal_date(" 1-Jan-1996 01:00:00 +0100"), 820454400);
  EXPECT_EQ(parse_internal_date("1-jan-1996 00:00:00 +0000"), 820454400);
  for (i64 t : {i64{0}, i64{820454400}, i64{1709251199}, i64{4102444800}})
    EXPECT_EQ(parse_internal_date(format_internal_date(t)), t);
}

TEST(ImapDate, RejectsMalformed) {
  for (const char *bad :
       {"", "17-Jul-1996", "17-Jux-1996 02:44:25 -0700", "30-Feb-2024 00:00:00 +0000",
        "17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 -0700 ",
        "17-Jul-96 02:44:25 -0700"}) {
    EXPECT_EQ(parse_internal_date(bad), std::nullopt) << bad;
  }
}

// --- Endpoint ------------------------------------------------------------------------------

TEST(ImapEndpoint, ParsesEveryForm) {
  std::string err;
  auto e = Endpoint::parse("imaps://mail.example.com", &err);
  ASSERT_TRUE(e) << err;
  EXPECT_EQ(e->host, "mail.example.com");
  EXPECT_EQ(e->port, 993);
  EXPECT_EQ(e->security, Endpoint::Security::Tls);
  EXPECT_EQ(e->url(), "imaps://mail.example.com:993");

  e = Endpoint::parse("imap://mail.example.com:1143/", &err);
  ASSERT_TRUE(e) << err;
  EXPECT_EQ(e->port, 1143);
  EXPECT_EQ(e->security, Endpoint::Security::StartTls);
  EXPECT_EQ(e->url(), "imap://mail.example.com:1143");

  e = Endpoint::parse("IMAP+PLAIN://127.0.0.1", &err);
  ASSERT_TRUE(e) << err;
  EXPECT_EQ(e->port, 143);
  EXPECT_EQ(e->security, Endpoint::Security::Plain);
  EXPECT_EQ(e->url(), "imap+plain://127.0.0.1:143");

  e = Endpoint::parse("imaps://[::1]:10993", &err);
  ASSERT_TRUE(e) << err;
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 10993);
  EXPECT_EQ(e->url(), "imaps://[::1]:10993");
}

TEST(ImapEndpoint, RejectsBadUrls) {
  for (const char *bad :
       {"", "mail.example.com", "pop3://host", "imaps://", "imaps://:993",
        "imaps://host:", "imaps://host:0", "imaps://host:65536", "imaps://host:12a",
        "imaps://user@host", "imaps://host/INBOX", "imaps://host?x", "imaps://::1", "imaps://[::1",
        "imaps://[nothost]", "imaps://ho st", "imaps://[::1]x"}) {
    std::string err;
    EXPECT_EQ(Endpoint::parse(bad, &err), std::nullopt) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

// --- a scripted server: the paths Dovecot does not take -----------------------------------

/// Accepts one connection on a loopback port and answers it with `script` on its own thread.
/// Reads time out after 5 s so that a client bug fails the test instead of hanging it.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(ScriptedServer &)> script) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(listen_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), sizeof a);
    listen(listen_fd_, 1);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, script] {
      fd_ = accept(listen_fd_, nullptr, nullptr);
      if (fd_ < 0) return;
      timeval t{5, 0};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
      script(*this);
      hang_up();
    });
  }
  ~ScriptedServer() {
    thread_.join();
    close(listen_fd_);
  }
  Endpoint endpoint() const {
    Endpoint e;
    e.host = "127.0.0.1";
    e.port = port_;
    e.security = Endpoint::Security::Plain;
    e.timeout = 5s;
    return e;
  }
  void send(std::string_view s) {
    while (!s.empty() && fd_ >= 0) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  /// The next line without its CRLF ("" at end of stream).
  std::string line() {
    std::string out;
    char c;
    while (fd_ >= 0 && recv(fd_, &c, 1, 0) == 1 && c != '\n') out += c;
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return out;
  }
  std::string bytes(std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n && fd_ >= 0) {
      ssize_t k = recv(fd_, out.data() + got, n - got, 0);
      if (k <= 0) break;
      got += static_cast<std::size_t>(k);
    }
    out.resize(got);
    return out;
  }
  /// True when the client has sent nothing more within 100 ms.
  bool quiet() {
    std::this_thread::sleep_for(100ms);
    char c;
    return recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN;
  }
  void hang_up() {
    if (fd_ < 0) return;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    fd_ = -1;
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  u16 port_ = 0;
  std::thread thread_;
};

ImapError::Kind error_kind(const std::function<void()> &f) {
  try {
    f();
  } catch (const ImapError &e) {
    return e.kind();
  }
  ADD_FAILURE() << "no ImapError";
  return ImapError::Kind::Network;
}

TEST(ImapScripted, SynchronizingLiteralsWaitForContinuation) {
  std::string nul("a\0b", 3);
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n");
    EXPECT_EQ(s.line(), "A1 APPEND \"INBOX\" (\\Seen $Label1) \"01-Jan-1996 00:00:00 +0000\" {5}");
    EXPECT_TRUE(s.quiet()) << "literal sent before the continuation request";
    s.send("+ go ahead\r\n");
    EXPECT_EQ(s.bytes(7), "hello\r\n");
    s.send("A1 OK [APPENDUID 38505 3955] done\r\n");
    EXPECT_EQ(s.line(), "A2 APPEND \"Sent \\\"x\\\"\" {3}");
    // RFC 7889 §4: a server may refuse the literal with a tagged NO instead of "+".
    s.send("A2 NO [TOOBIG] too big\r\n");
    // The NUL message is never sent (no BINARY): the next command is A3.
    EXPECT_EQ(s.line(), "A3 APPEND \"INBOX\" {4}");
    s.send("+\r\n");
    EXPECT_EQ(s.bytes(6), "bye!\r\n");
    s.send("* 3 EXISTS\r\nA3 OK [APPENDUID 38505 3956] done\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  std::vector<AppendRequest> reqs = {{"INBOX", {"\\Seen", "$Label1"}, 820454400, "hello"},
                                     {"Sent \"x\"", {}, 0, "big"},
                                     {"INBOX", {}, 0, nul},
                                     {"INBOX", {}, 0, "bye!"}};
  std::vector<AppendResult> res = c->append(reqs);
  ASSERT_EQ(res.size(), 4u);
  EXPECT_TRUE(res[0].status.ok());
  EXPECT_EQ(res[0].uidvalidity, 38505u);
  EXPECT_EQ(res[0].uid, 3955u);
  EXPECT_EQ(res[1].status.kind, Status::Kind::No);
  EXPECT_EQ(res[1].status.code, "TOOBIG");
  EXPECT_EQ(res[1].status.text, "too big");
  EXPECT_EQ(res[2].status.kind, Status::Kind::No);
  EXPECT_EQ(res[2].status.code, "NUL");
  EXPECT_EQ(res[3].uid, 3956u);
}

TEST(ImapScripted, LiteralMinusOnlyUpTo4096Bytes) {
  std::string small(4096, 's'), large(4097, 'L');
  ScriptedServer server([&](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 LITERAL-] ready\r\n");
    EXPECT_EQ(s.line(), "A1 APPEND \"INBOX\" {4096+}");
    EXPECT_EQ(s.bytes(4098), small + "\r\n");
    EXPECT_EQ(s.line(), "A2 APPEND \"INBOX\" {4097}");
    EXPECT_TRUE(s.quiet());
    s.send("A1 OK done\r\n+ \r\n");
    EXPECT_EQ(s.bytes(4099), large + "\r\n");
    s.send("A2 OK done\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  std::vector<AppendRequest> reqs = {{"INBOX", {}, 0, small}, {"INBOX", {}, 0, large}};
  std::vector<AppendResult> res = c->append(reqs);
  EXPECT_TRUE(res[0].status.ok());
  EXPECT_TRUE(res[1].status.ok());
  EXPECT_EQ(res[1].uid, 0u) << "no APPENDUID without UIDPLUS";
}

TEST(ImapScripted, Literal8ForNulWithBinary) {
  std::string nul("a\0b", 3);
  ScriptedServer server([&](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+ BINARY] ready\r\n");
    EXPECT_EQ(s.line(), "A1 APPEND \"INBOX\" ~{3+}");
    EXPECT_EQ(s.bytes(5), nul + "\r\n");
    s.send("A1 OK done\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  EXPECT_TRUE(c->append(std::vector<AppendRequest>{{"INBOX", {}, 0, nul}})[0].status.ok());
}

TEST(ImapScripted, ByeMidAppendIsRetryable) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
    s.line();
    s.send("* BYE server shutting down\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  std::string body(100 << 10, 'x');
  std::vector<AppendRequest> reqs(200, AppendRequest{"INBOX", {}, 0, body});
  EXPECT_EQ(error_kind([&] { c->append(reqs); }), ImapError::Kind::Bye);
}

TEST(ImapScripted, DropMidAppendIsNetworkError) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
    s.bytes(300 << 10);
  });
  auto c = ImapConnection::open(server.endpoint());
  std::string body(100 << 10, 'x');
  std::vector<AppendRequest> reqs(200, AppendRequest{"INBOX", {}, 0, body});
  EXPECT_EQ(error_kind([&] { c->append(reqs); }), ImapError::Kind::Network);
}

TEST(ImapScripted, SilentServerTimesOut) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    s.line();
    s.line();  // waits (up to 5 s) until the client gives up
  });
  Endpoint e = server.endpoint();
  e.timeout = 200ms;
  auto c = ImapConnection::open(e);
  EXPECT_EQ(error_kind([&] { c->noop(); }), ImapError::Kind::Network);
}

TEST(ImapScripted, HostileLengthsAreProtocolErrors) {
  ScriptedServer huge_literal([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    s.line();
    s.send("* 1 FETCH (BODY[] {3000000000}\r\n");
  });
  auto c = ImapConnection::open(huge_literal.endpoint());
  EXPECT_EQ(error_kind([&] { c->noop(); }), ImapError::Kind::Protocol);

  ScriptedServer long_line([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    s.line();
    s.send("* OK " + std::string((1 << 20) + 10, 'x'));
  });
  c = ImapConnection::open(long_line.endpoint());
  EXPECT_EQ(error_kind([&] { c->noop(); }), ImapError::Kind::Protocol);

  ScriptedServer garbage([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    s.line();
    s.send(
        "* 1 FETCH (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
        "((((((((((((((((((\r\nA1 OK\r\n");
  });
  c = ImapConnection::open(garbage.endpoint());
  EXPECT_EQ(error_kind([&] { c->uid_fetch("1", "(UID)", [](const FetchedMessage &) {}); }),
            ImapError::Kind::Protocol);
}

TEST(ImapScripted, FetchLiteralsAnywhere) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    EXPECT_EQ(s.line(),
              "A1 UID FETCH 7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])");
    s.send(
        "* 3 FETCH (FLAGS (\\Seen $X) BODY[HEADER.FIELDS (SUBJECT)] {14}\r\nSubject: x\r\n\r\n"
        " BODY[] {5}\r\na\r\n)\r UID 7 X-UNKNOWN (\"q\\\"\" NIL))\r\n"
        "* 4 FETCH (FLAGS ())\r\n"  // unsolicited: no UID
        "A1 OK done\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  int n = 0;
  c->uid_fetch("7", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])",
               [&](const FetchedMessage &m) {
                 ++n;
                 EXPECT_EQ(m.seq, 3u);
                 EXPECT_EQ(m.uid, 7u);
                 EXPECT_EQ(m.flags, (std::vector<std::string>{"\\Seen", "$X"}));
                 EXPECT_EQ(m.header_fields, "Subject: x\r\n\r\n");
                 EXPECT_EQ(m.body, "a\r\n)\r");
               });
  EXPECT_EQ(n, 1);
}

TEST(ImapScripted, Xoauth2WithSaslIrAndErrorChallenge) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready\r\n");
    // base64(b"user=someone@example.com\x01auth=Bearer ya29.token\x01\x01") from Python.
    EXPECT_EQ(s.line(),
              "A1 AUTHENTICATE XOAUTH2 "
              "dXNlcj1zb21lb25lQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ==");
    s.send("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
    EXPECT_EQ(s.line(), "");
    s.send("A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  Credentials cr{Credentials::Mechanism::XOAuth2, "someone@example.com", "ya29.token"};
  EXPECT_EQ(error_kind([&] { c->login(cr); }), ImapError::Kind::Auth);
}

TEST(ImapScripted, Xoauth2WaitsForContinuationWithoutSaslIr) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] ready\r\n");
    EXPECT_EQ(s.line(), "A1 AUTHENTICATE XOAUTH2");
    s.send("+ \r\n");
    EXPECT_EQ(s.line(), "dXNlcj1zb21lb25lQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ==");
    s.send("A1 OK [CAPABILITY IMAP4rev1 UIDPLUS APPENDLIMIT=35882577] ok\r\n");
    EXPECT_EQ(s.line(), "A2 LOGOUT");
    s.send("* BYE logging out\r\nA2 OK bye\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  c->login({Credentials::Mechanism::XOAuth2, "someone@example.com", "ya29.token"});
  EXPECT_TRUE(c->has_capability("uidplus"));
  EXPECT_EQ(c->append_limit(), 35882577u);
  c->logout();
}

TEST(ImapScripted, LoginDisabledUsesAuthenticatePlain) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR] ready\r\n");
    EXPECT_EQ(s.line(), "A1 AUTHENTICATE PLAIN AHUAcA==");  // base64(b"\0u\0p")
    s.send("A1 OK done\r\n");
    EXPECT_EQ(s.line(), "A2 CAPABILITY");
    s.send("* CAPABILITY IMAP4rev1 X-AFTER\r\nA2 OK\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  c->login({Credentials::Mechanism::Password, "u", "p"});
  EXPECT_TRUE(c->has_capability("X-AFTER"));
  EXPECT_FALSE(c->has_capability("LOGINDISABLED"));
}

TEST(ImapScripted, NonAsciiUserGoesAsLiteral) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
    EXPECT_EQ(s.line(), "A1 LOGIN {7}");
    s.send("+ \r\n");
    EXPECT_EQ(s.bytes(7), "j\xc3\xbcrgen");
    EXPECT_EQ(s.line(), " \"p\\\\w\"");
    s.send("A1 NO [AUTHENTICATIONFAILED] no\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  EXPECT_EQ(error_kind([&] {
              c->login({Credentials::Mechanism::Password, "j\xc3\xbcrgen", "p\\w"});
            }),
            ImapError::Kind::Auth);
}

TEST(ImapScripted, NamespaceAndListParsing) {
  ScriptedServer server([](ScriptedServer &s) {
    s.send("* OK [CAPABILITY IMAP4rev1 NAMESPACE SPECIAL-USE] ready\r\n");
    EXPECT_EQ(s.line(), "A1 NAMESPACE");
    s.send("* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\nA1 OK\r\n");
    EXPECT_EQ(s.line(), "A2 LIST \"\" \"*\" RETURN (SPECIAL-USE)");
    s.send(
        "* LIST (\\HasNoChildren \\Sent) \".\" \"INBOX.Sent Items\"\r\n"
        "* LIST (\\Noselect) NIL {9}\r\nflat\"name\r\n"
        "* LIST () \"/\" INBOX\r\nA2 OK\r\n");
  });
  auto c = ImapConnection::open(server.endpoint());
  EXPECT_EQ(c->personal_namespace(), (std::pair<std::string, char>{"INBOX.", '.'}));
  std::vector<MailboxInfo> boxes = c->list("*");
  ASSERT_EQ(boxes.size(), 3u);
  EXPECT_EQ(boxes[0].name, "INBOX.Sent Items");
  EXPECT_EQ(boxes[0].attributes, (std::vector<std::string>{"\\HasNoChildren", "\\Sent"}));
  EXPECT_EQ(boxes[0].delimiter, '.');
  EXPECT_EQ(boxes[1].name, "flat\"name");
  EXPECT_EQ(boxes[1].delimiter, '\0');
  EXPECT_EQ(boxes[2].name, "INBOX");
}

// --- a private Dovecot ---------------------------------------------------------------------

constexpr const char *DOVECOT = "/usr/sbin/dovecot";
constexpr const char *DOVEADM = "/usr/bin/doveadm";

u16 free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool port_open(u16 port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

/// Dovecot in the foreground (-F) from its own configuration in a temporary folder, listening
/// on loopback only; with `tls`, a CA and a server certificate for 127.0.0.1 and localhost
/// made by the openssl command line, an imaps listener and STARTTLS on the imap one.
class Dovecot {
 public:
  static std::unique_ptr<Dovecot> start(bool tls, std::string *why) {
    if (access(DOVECOT, X_OK) != 0 || access(DOVEADM, X_OK) != 0) {
      *why = "dovecot not installed (Debian: dovecot-imapd)";
      return nullptr;
    }
    auto d = std::unique_ptr<Dovecot>(new Dovecot());
    if (!d->configure(tls, why) || !d->launch(why)) return nullptr;
    return d;
  }
  ~Dovecot() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    // MM_IMAP_TEST_KEEP=1 keeps the folder (configuration, dovecot.log) for a look after.
    if (!std::getenv("MM_IMAP_TEST_KEEP")) fs::remove_all(dir_, ec);
  }

  Endpoint endpoint(Endpoint::Security security) const {
    Endpoint e;
    e.host = "127.0.0.1";
    e.security = security;
    e.port = security == Endpoint::Security::Tls ? imaps_port_ : imap_port_;
    e.timeout = 10s;
    return e;
  }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  int doveadm(const std::string &args) const {
    return std::system(
        (std::string(DOVEADM) + " -c " + dir_ + "/dovecot.conf " + args + " >/dev/null 2>&1")
            .c_str());
  }

 private:
  Dovecot() = default;

  bool configure(bool tls, std::string *why) {
    char tmpl[] = "/tmp/mm-imap-test-XXXXXX";
    if (!mkdtemp(tmpl)) {
      *why = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    for (const char *sub : {"run", "state", "home"}) fs::create_directory(dir_ + "/" + sub);
    imap_port_ = free_port();
    imaps_port_ = free_port();
    // Mail processes never run as root: the mailbox owner is nobody, with its own home.
    uid_t uid = getuid();
    gid_t gid = getgid();
    std::string users;
    if (uid == 0) {
      const passwd *pw = getpwnam("nobody");
      uid = pw->pw_uid;
      gid = pw->pw_gid;
      if (chown((dir_ + "/home").c_str(), uid, gid) != 0) return false;
    } else {
      const char *me = getpwuid(uid)->pw_name;
      users = std::string("default_internal_user = ") + me + "\ndefault_login_user = " + me + "\n";
    }
    std::string ssl = "ssl = no\n";
    if (tls) {
      std::string d = dir_;
      std::string cmd =
          "(cd " + d +
          " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
          "-keyout ca.key -out ca.pem -days 2 -subj '/CN=mailmill test CA' "
          "&& openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
          "-keyout server.key -out server.csr -subj '/CN=127.0.0.1' "
          "&& printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf "
          "&& openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
          "-out server.pem -days 2 -extfile ext.cnf)";
      if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
        *why = "openssl could not make the test certificates";
        return false;
      }
      ssl = "ssl = yes\nssl_cert = <" + d + "/server.pem\nssl_key = <" + d + "/server.key\n";
    }
    std::ofstream conf(dir_ + "/dovecot.conf");
    conf << "base_dir = " << dir_ << "/run\nstate_dir = " << dir_ << "/state\nlog_path = " << dir_
         << "/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n"
         << ssl << "disable_plaintext_auth = no\nauth_mechanisms = plain\nauth_failure_delay = 0\n"
         << "first_valid_uid = " << std::min<uid_t>(uid, 500) << "\n"
         << users << "passdb {\n  driver = static\n  args = password=secret\n}\n"
         << "userdb {\n  driver = static\n  args = uid=" << uid << " gid=" << gid
         << " home=" << dir_ << "/home/%u\n}\n"
         << "namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
         << "mail_location = maildir:~/Maildir\n"
         << "service imap-login {\n  chroot =\n  inet_listener imap {\n    address = 127.0.0.1\n"
         << "    port = " << imap_port_
         << "\n  }\n  inet_listener imaps {\n    address = 127.0.0.1\n"
         << "    port = " << (tls ? imaps_port_ : 0) << "\n    ssl = yes\n  }\n}\n"
         << "service anvil {\n  chroot =\n}\n";
    return conf.good();
  }

  bool launch(std::string *why) {
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = dir_ + "/start.log";
      FILE *f = std::freopen(log.c_str(), "w", stdout);
      if (f) dup2(fileno(stdout), 2);
      std::string conf = dir_ + "/dovecot.conf";
      execl(DOVECOT, DOVECOT, "-F", "-c", conf.c_str(), static_cast<char *>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (port_open(imap_port_)) return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(50ms);
    }
    std::ifstream log(dir_ + "/start.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    *why = "dovecot did not start: " + text;
    return false;
  }

  std::string dir_;
  u16 imap_port_ = 0, imaps_port_ = 0;
  pid_t pid_ = -1;
};

Credentials tester() { return {Credentials::Mechanism::Password, "tester", "secret"}; }

/// A message as stored: CRLF line ends, a body that identifies it.
std::string message(int i, std::size_t body_bytes = 0) {
  std::string m = "From: a@example.com\r\nTo: b@example.com\r\nSubject: message " +
                  std::to_string(i) + "\r\nMessage-ID: <" + std::to_string(i) +
                  "@mailmill.test>\r\n\r\nbody " + std::to_string(i) + "\r\n";
  std::string line(76, 'x');
  for (std::size_t k = 0; m.size() < body_bytes; ++k) {
    line[0] = static_cast<char>('a' + k % 26);
    m += line + "\r\n";
  }
  return m;
}

class ImapDovecot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = Dovecot::start(false, &why_).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << why_;
  }
  std::unique_ptr<ImapConnection> connect() {
    auto c = ImapConnection::open(server_->endpoint(Endpoint::Security::Plain));
    c->login(tester());
    return c;
  }
  static Dovecot *server_;
  static std::string why_;
};
Dovecot *ImapDovecot::server_ = nullptr;
std::string ImapDovecot::why_;

TEST_F(ImapDovecot, Login) {
  auto c = ImapConnection::open(server_->endpoint(Endpoint::Security::Plain));
  EXPECT_TRUE(c->has_capability("IMAP4rev1"));
  c->login(tester());
  // Dovecot lists its post-login extensions only after authentication.
  EXPECT_TRUE(c->has_capability("UIDPLUS"));
  c->noop();
  c->logout();
}

TEST_F(ImapDovecot, NamespaceCreateAndList) {
  auto c = connect();
  EXPECT_EQ(c->personal_namespace(), (std::pair<std::string, char>{"", '/'}));
  Status st = c->create("Archive");
  EXPECT_TRUE(st.ok()) << st.text;
  st = c->create("Archive");
  EXPECT_TRUE(st.ok()) << "existing mailbox: " << st.code << " " << st.text;
  EXPECT_EQ(st.code, "ALREADYEXISTS");

  std::string name = encode_mutf7("Archive/Entwürfe 台北");
  EXPECT_TRUE(c->create(name).ok());
  std::vector<MailboxInfo> boxes = c->list("Archive/*");
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].name, name);
  EXPECT_EQ(decode_mutf7(boxes[0].name), "Archive/Entwürfe 台北");
  EXPECT_EQ(boxes[0].delimiter, '/');

  bool inbox = false;
  for (const MailboxInfo &m : c->list("*")) inbox = inbox || m.name == "INBOX";
  EXPECT_TRUE(inbox);
  // A name that needs a literal (a quote and CR would be invalid quoted): Dovecot refuses CR in
  // names, and the refusal comes back as a status, not an exception.
  EXPECT_FALSE(c->create("bad\r\nname").ok());
  c->noop();
}

TEST_F(ImapDovecot, PipelinedAppendRoundTrip) {
  auto c = connect();
  ASSERT_TRUE(c->has_capability("LITERAL+"));
  ASSERT_TRUE(c->create("Bulk").ok());
  constexpr int N = 200;
  std::vector<std::string> bodies;
  for (int i = 0; i < N; ++i) bodies.push_back(message(i, static_cast<std::size_t>(i) * 331));
  std::vector<AppendRequest> reqs(N);
  const std::vector<std::vector<std::string>> flag_sets = {
      {}, {"\\Seen"}, {"\\Seen", "\\Answered"}, {"$Forwarded", "\\Flagged"}};
  for (int i = 0; i < N; ++i) {
    reqs[i].mailbox = "Bulk";
    reqs[i].flags = flag_sets[i % 4];
    reqs[i].internal_date = i % 7 == 0 ? 0 : 820454400 + i * 3671;
    reqs[i].message = bodies[i];
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<AppendResult> res = c->append(reqs);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_EQ(res.size(), reqs.size());
  for (int i = 0; i < N; ++i) {
    ASSERT_TRUE(res[i].status.ok()) << i << ": " << res[i].status.text;
    EXPECT_EQ(res[i].status.code, "APPENDUID");
    EXPECT_EQ(res[i].uidvalidity, res[0].uidvalidity);
    EXPECT_EQ(res[i].uid, res[0].uid + static_cast<u32>(i));
  }
  RecordProperty("append_ms", static_cast<int>(ms.count()));

  SelectInfo info = c->examine("Bulk");
  EXPECT_EQ(info.exists, static_cast<u32>(N));
  EXPECT_EQ(info.uidvalidity, res[0].uidvalidity);
  EXPECT_EQ(info.uidnext, res[N - 1].uid + 1);

  int seen = 0;
  c->uid_fetch("1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])",
               [&](const FetchedMessage &m) {
                 int i = static_cast<int>(m.uid - res[0].uid);
                 ASSERT_TRUE(i >= 0 && i < N) << m.uid;
                 ++seen;
                 ASSERT_TRUE(m.body);
                 EXPECT_EQ(*m.body, bodies[i]);
                 EXPECT_EQ(m.size, bodies[i].size());
                 ASSERT_TRUE(m.internal_date);
                 std::optional<i64> when = parse_internal_date(*m.internal_date);
                 ASSERT_TRUE(when) << *m.internal_date;
                 if (reqs[i].internal_date != 0) {
                   EXPECT_EQ(*when, reqs[i].internal_date);
                 }
                 std::vector<std::string> want = reqs[i].flags, got = m.flags;
                 std::sort(want.begin(), want.end());
                 std::sort(got.begin(), got.end());
                 got.erase(std::remove(got.begin(), got.end(), "\\Recent"), got.end());
                 EXPECT_EQ(got, want) << i;
               });
  EXPECT_EQ(seen, N);

  // Header fields only, for one message.
  c->uid_fetch(std::to_string(res[5].uid), "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
               [&](const FetchedMessage &m) {
                 ASSERT_TRUE(m.header_fields);
                 EXPECT_EQ(*m.header_fields, "Message-ID: <5@mailmill.test>\r\n\r\n");
                 EXPECT_FALSE(m.body);
               });
}

TEST_F(ImapDovecot, LargeMessageAndNul) {
  auto c = connect();
  ASSERT_TRUE(c->create("Large").ok());
  std::string big = message(1, 3u << 20);
  std::string nul = "Subject: nul\r\n\r\nbefore";
  nul += '\0';
  nul += "after\r\n";
  std::vector<AppendRequest> reqs(2);
  reqs[0] = {"Large", {}, 0, big};
  reqs[1] = {"Large", {"\\Seen"}, 0, nul};
  std::vector<AppendResult> res = c->append(reqs);
  ASSERT_TRUE(res[0].status.ok()) << res[0].status.text;
  // RFC 3516: Dovecot has BINARY, so the NUL message goes as literal8 and must be accepted.
  ASSERT_TRUE(c->has_capability("BINARY"));
  EXPECT_TRUE(res[1].status.ok()) << res[1].status.code << " " << res[1].status.text;

  c->examine("Large");
  bool got_big = false;
  c->uid_fetch(std::to_string(res[0].uid), "(UID RFC822.SIZE BODY.PEEK[])",
               [&](const FetchedMessage &m) {
                 got_big = m.body && *m.body == big;
                 EXPECT_EQ(m.size, big.size());
               });
  EXPECT_TRUE(got_big);
}

TEST_F(ImapDovecot, StartTlsMissingIsTlsError) {
  try {
    ImapConnection::open(server_->endpoint(Endpoint::Security::StartTls));
    FAIL() << "STARTTLS was not required";
  } catch (const ImapError &e) {
    EXPECT_EQ(e.kind(), ImapError::Kind::Tls) << e.what();
  }
}

TEST_F(ImapDovecot, KickedMidAppendThrowsRetryable) {
  auto c = connect();
  ASSERT_TRUE(c->create("Kicked").ok());
  std::string body = message(1, 256 << 10);
  std::vector<AppendRequest> reqs(4000, AppendRequest{"Kicked", {}, 0, body});
  std::thread kicker([&] {
    std::this_thread::sleep_for(300ms);
    server_->doveadm("kick tester");
  });
  try {
    c->append(reqs);
    ADD_FAILURE() << "4000 appends of 256 KiB finished before the kick";
  } catch (const ImapError &e) {
    EXPECT_TRUE(e.kind() == ImapError::Kind::Network || e.kind() == ImapError::Kind::Bye)
        << e.what();
    EXPECT_TRUE(e.retryable());
  }
  kicker.join();
}

class ImapDovecotTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = Dovecot::start(true, &why_).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << why_;
  }
  static Dovecot *server_;
  static std::string why_;
};
Dovecot *ImapDovecotTls::server_ = nullptr;
std::string ImapDovecotTls::why_;

TEST_F(ImapDovecotTls, ImplicitTlsWithOurCa) {
  Endpoint e = server_->endpoint(Endpoint::Security::Tls);
  e.ca_file = server_->ca_file();
  auto c = ImapConnection::open(e);
  c->login(tester());
  c->noop();
  // The certificate names localhost too (DNS SAN, checked through SNI + SSL_set1_host).
  e.host = "localhost";
  ImapConnection::open(e)->login(tester());
}

TEST_F(ImapDovecotTls, StartTlsWithOurCa) {
  Endpoint e = server_->endpoint(Endpoint::Security::StartTls);
  e.ca_file = server_->ca_file();
  auto c = ImapConnection::open(e);
  EXPECT_FALSE(c->has_capability("STARTTLS")) << "capabilities were not re-read after STARTTLS";
  c->login(tester());
  EXPECT_EQ(c->personal_namespace().second, '/');
}

TEST_F(ImapDovecotTls, SystemStoreRejectsTheTestCa) {
  for (Endpoint::Security s : {Endpoint::Security::Tls, Endpoint::Security::StartTls}) {
    try {
      ImapConnection::open(server_->endpoint(s));
      FAIL() << "an unknown CA was trusted";
    } catch (const ImapError &e) {
      EXPECT_EQ(e.kind(), ImapError::Kind::Tls) << e.what();
      // X509_verify_cert_error_string's reason for a self-made CA.
      EXPECT_NE(std::string(e.what()).find("certificate"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ImapDovecotTls, VerifyOffAcceptsAnyCertificate) {
  Endpoint e = server_->endpoint(Endpoint::Security::Tls);
  e.verify = false;
  ImapConnection::open(e)->login(tester());
}

// Last of its suite: Dovecot delays every later login from the same address after a failure.
TEST_F(ImapDovecotTls, WrongPasswordIsAuthError) {
  Endpoint e = server_->endpoint(Endpoint::Security::Tls);
  e.ca_file = server_->ca_file();
  auto c = ImapConnection::open(e);
  try {
    // Quote and backslash: the password travels as an escaped quoted string.
    c->login({Credentials::Mechanism::Password, "tester", "wrong \"password\\"});
    FAIL() << "a wrong password was accepted";
  } catch (const ImapError &e) {
    EXPECT_EQ(e.kind(), ImapError::Kind::Auth) << e.what();
    EXPECT_FALSE(e.retryable());
  }
}

}  // namespace
}  // namespace mm::upload
