#pragma once
/// A small IMAP4rev1 client (RFC 3501) for uploading: TLS/STARTTLS through OpenSSL with
/// certificate and host name verification on by default, LOGIN / AUTHENTICATE PLAIN /
/// AUTHENTICATE XOAUTH2, NAMESPACE, LIST (with SPECIAL-USE, RFC 6154), CREATE, SELECT/EXAMINE,
/// APPEND with flags and INTERNALDATE, pipelined through non-synchronizing literals where the
/// server has LITERAL+ / LITERAL- (RFC 7888), literal8 (RFC 3516) for messages holding NUL,
/// APPENDUID (UIDPLUS, RFC 4315), APPENDLIMIT (RFC 7889) and UID FETCH.
///
/// Why our own client and not libcurl or vmime: libcurl's IMAP APPEND hard-codes the \Seen flag,
/// sends no INTERNALDATE and exposes neither APPENDUID nor pipelining; vmime exposes no
/// APPENDUID, LITERAL+ or response codes such as [THROTTLED]. An upload that must be
/// exactly-once and faithful needs all of them; the protocol subset is small.
///
/// Not thread-safe: one connection per thread. Network, TLS and protocol failures throw
/// ImapError; a tagged NO/BAD to a command is a result, not an exception, wherever the caller
/// can act on it (append, create).
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::upload {

/// Where to connect. Parsed from a URL:
///   imaps://host[:port]        implicit TLS (default port 993)
///   imap://host[:port]         STARTTLS, required (default port 143)
///   imap+plain://host[:port]   no TLS at all (tests on loopback; the caller warns)
struct Endpoint {
  enum class Security { Tls, StartTls, Plain };
  std::string host;
  u16 port = 993;
  Security security = Security::Tls;
  std::string ca_file;  ///< PEM bundle to trust instead of the system store (empty: system)
  bool verify = true;   ///< certificate chain and host name checks (off only when asked)
  std::chrono::milliseconds timeout{60000};  ///< connect and per-read/write timeout

  /// Parses the URL forms above; nullopt (and `error` set) for anything else.
  static std::optional<Endpoint> parse(std::string_view url, std::string *error);
  std::string url() const;  ///< canonical form, e.g. "imaps://mail.example.com:993"
};

struct Credentials {
  enum class Mechanism { Password, XOAuth2 };
  Mechanism mechanism = Mechanism::Password;
  std::string user;
  std::string secret;  ///< password, or OAuth 2 access token
};

class ImapError : public std::runtime_error {
 public:
  enum class Kind {
    Network,   ///< connect/read/write failed, timed out or the server closed: retry later
    Tls,       ///< handshake or certificate verification failed: do not retry
    Auth,      ///< login refused: do not retry
    Protocol,  ///< the server said something we cannot parse, or BAD/NO to a required command
    Bye,       ///< the server sent BYE (shutting down, idle timeout): retry later
  };
  ImapError(Kind kind, const std::string &what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }
  bool retryable() const { return kind_ == Kind::Network || kind_ == Kind::Bye; }

 private:
  Kind kind_;
};

/// A tagged response: status, the response code in brackets if any (upper-cased atom such as
/// "TRYCREATE", "TOOBIG", "LIMIT", "OVERQUOTA", "THROTTLED", "UNAVAILABLE", "ALREADYEXISTS",
/// "APPENDUID"), its arguments, and the human-readable text.
struct Status {
  enum class Kind { Ok, No, Bad };
  Kind kind = Kind::Ok;
  std::string code;       ///< "" when the response has no [code]
  std::string code_args;  ///< text after the code atom inside the brackets, e.g. "38505 3955"
  std::string text;
  bool ok() const { return kind == Kind::Ok; }
};

struct AppendRequest {
  std::string mailbox;             ///< server (modified UTF-7) name
  std::vector<std::string> flags;  ///< e.g. "\\Seen", "\\Answered", "$Forwarded"
  i64 internal_date = 0;           ///< Unix seconds, UTC; 0 = let the server choose
  ByteView message;                ///< the message with CRLF line ends, exactly as stored
};

struct AppendResult {
  Status status;
  u32 uidvalidity = 0;  ///< from [APPENDUID v u] when the server has UIDPLUS, else 0
  u32 uid = 0;
};

struct MailboxInfo {
  std::string name;                 ///< server (modified UTF-7) name, unquoted
  char delimiter = 0;               ///< 0 when NIL (flat)
  std::vector<std::string> attributes;  ///< e.g. "\\HasNoChildren", "\\Sent", "\\Noselect"
};

struct SelectInfo {
  u32 exists = 0;
  u32 uidvalidity = 0;
  u32 uidnext = 0;
};

/// One message of a UID FETCH. Only the items asked for are set.
struct FetchedMessage {
  u32 seq = 0;
  u32 uid = 0;
  std::optional<u64> size;               ///< RFC822.SIZE
  std::optional<std::string> internal_date;  ///< as sent, e.g. "17-Jul-1996 02:44:25 -0700"
  std::vector<std::string> flags;
  std::optional<Bytes> header_fields;    ///< BODY[HEADER.FIELDS (...)] bytes
  std::optional<Bytes> body;             ///< BODY[] bytes
};

class ImapConnection {
 public:
  /// Connects, reads the greeting, does STARTTLS when the endpoint asks for it, and reads the
  /// capabilities. Throws ImapError.
  static std::unique_ptr<ImapConnection> open(const Endpoint &endpoint);
  virtual ~ImapConnection() = default;

  /// LOGIN (or AUTHENTICATE PLAIN when LOGINDISABLED) for passwords; AUTHENTICATE XOAUTH2
  /// (SASL-IR when the server has it) for tokens. Re-reads capabilities afterwards. Throws
  /// ImapError{Auth} when refused.
  virtual void login(const Credentials &credentials) = 0;

  /// Upper-cased capability atoms, e.g. "UIDPLUS", "LITERAL+", "APPENDLIMIT=35882577".
  virtual const std::vector<std::string> &capabilities() const = 0;
  virtual bool has_capability(std::string_view atom) const = 0;
  /// APPENDLIMIT=n from the capabilities (the server-wide limit), if any.
  virtual std::optional<u64> append_limit() const = 0;

  /// The personal namespace's prefix and delimiter (NAMESPACE when the server has it, else
  /// LIST "" "" for the delimiter and an empty prefix). E.g. {"", '/'} for Dovecot,
  /// {"INBOX.", '.'} for Courier.
  virtual std::pair<std::string, char> personal_namespace() = 0;

  /// LIST "" pattern, with RETURN (SPECIAL-USE) when the server has SPECIAL-USE (and XLIST's
  /// attributes are accepted too).
  virtual std::vector<MailboxInfo> list(std::string_view pattern) = 0;
  /// CREATE; an existing mailbox ([ALREADYEXISTS] or NO while LIST shows it) is an OK status.
  virtual Status create(std::string_view mailbox) = 0;
  /// EXAMINE (read-only) / SELECT. Throws ImapError{Protocol} when refused.
  virtual SelectInfo examine(std::string_view mailbox) = 0;

  /// Appends the messages in order and returns one result per request. Pipelined: with
  /// LITERAL+ (or LITERAL- for messages up to 4096 bytes) commands are written back to back
  /// without waiting for continuation requests, up to a window of in-flight bytes; otherwise
  /// each literal waits for the server's "+". Messages holding NUL bytes are sent as literal8
  /// when the server has BINARY, else fail with a No status whose code is "NUL". A connection
  /// failure throws ImapError: the caller cannot know which of the in-flight messages arrived.
  virtual std::vector<AppendResult> append(std::span<const AppendRequest> requests) = 0;

  /// UID FETCH uid_set (items), e.g. items "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS
  /// (MESSAGE-ID)])" or "(UID RFC822.SIZE BODY.PEEK[])"; calls `each` per message as it is
  /// parsed (literals of any size). Works on the mailbox selected by examine().
  virtual void uid_fetch(std::string_view uid_set, std::string_view items,
                         const std::function<void(const FetchedMessage &)> &each) = 0;

  /// NOOP; LOGOUT (errors ignored; the connection is closed either way).
  virtual void noop() = 0;
  virtual void logout() = 0;
};

/// RFC 3501 §5.1.3 modified UTF-7 of a UTF-8 mailbox name component ("&" -> "&-", non-ASCII
/// runs in modified base64 of UTF-16). Invalid UTF-8 is encoded as U+FFFD.
std::string encode_mutf7(std::string_view utf8);
/// The inverse; nullopt for a malformed name.
std::optional<std::string> decode_mutf7(std::string_view mutf7);

/// "17-Jul-1996 02:44:25 +0000" for Unix seconds (UTC), as APPEND's date-time.
std::string format_internal_date(i64 unix_seconds);
/// Parses date-time back to Unix seconds (the zone applied); nullopt when malformed.
std::optional<i64> parse_internal_date(std::string_view text);

}  // namespace mm::upload
