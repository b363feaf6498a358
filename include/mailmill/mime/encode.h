#pragma once
/// Encoders used by the MIME builder. Pure functions, thread-safe.
#include <optional>
#include <string>
#include <string_view>

#include "mailmill/util/types.h"

namespace mm::mime {

/// The base64 encoders, narrowest first. Each includes the ones before it: Avx2 encodes groups
/// of 24 bytes with AVX2; Vbmi also encodes whole 57-byte lines with AVX-512 VBMI.
enum class Base64Impl : u8 { Scalar, Avx2, Vbmi };

/// Whether this CPU can run `impl` (Scalar: always; Avx2: AVX2; Vbmi: AVX2, AVX-512BW and
/// AVX-512 VBMI). Thread-safe.
bool base64_impl_supported(Base64Impl impl);
/// Makes base64_encode_to (and everything built on it) use at most `impl` from now on. Returns
/// false and changes nothing when the CPU cannot run it. Meant for tests and program start-up
/// (MAILMILL_CPU=base64=...). Thread-safe; output bytes are the same for every implementation.
bool force_base64_impl(Base64Impl impl);
/// Ends force_base64_impl: the widest supported encoder again.
void reset_base64_impl();
/// The encoder base64_encode_to uses now.
Base64Impl base64_impl();
/// "scalar", "avx2" or "vbmi", the names MAILMILL_CPU uses.
const char *base64_impl_name(Base64Impl impl);

/// Base64 ([RFC 2045] 6.8) in lines of 76 characters each ended by `eol`.
Bytes base64_encode(ByteView data, std::string_view eol = "\r\n");
/// Size of base64_encode(data, eol) for `n` input bytes.
std::size_t base64_encoded_size(std::size_t n, std::string_view eol);
/// Encodes into `out` (base64_encoded_size bytes available); returns the end. Encoding a
/// multiple of 57 bytes ends on a line end, so consecutive calls on 57-byte-aligned pieces
/// give the same bytes as one call on the whole.
char *base64_encode_to(char *out, ByteView data, std::string_view eol);
/// Quoted-printable ([RFC 2045] 6.7) with soft line breaks at 76; `eol` for hard breaks.
/// Input line ends (CRLF or LF) become `eol`; trailing whitespace is encoded.
Bytes qp_encode(ByteView data, std::string_view eol = "\r\n");
/// True if `data` can go as 7bit/8bit text with lines <= 998 octets and no NUL/bare CR.
bool fits_in_lines(ByteView data, bool allow_8bit);

/// An unstructured header value (Subject, display names) as RFC 2047 encoded-words when not
/// pure printable ASCII; UTF-8, B or Q whichever is shorter; never splits a UTF-8 character.
/// `used` is the length already on the line (e.g. "Subject: ") for folding.
std::string rfc2047_encode(std::string_view utf8, std::size_t used = 0,
                           std::string_view eol = "\r\n");
/// A display-name + address mailbox: `"Name" <addr>` or `=?UTF-8?...?= <addr>`; name quoted
/// when needed ([RFC 5322] 3.2.4). Empty name gives just `addr` (or `<>` when both empty).
/// A name without an address (Exchange X.500-only senders) gives an empty group `"Name":;`,
/// valid in To/Cc and, since [RFC 6854], in From/Sender; no address is invented.
std::string format_mailbox(std::string_view name_utf8, std::string_view addr);
/// A MIME parameter: `name="value"` for ASCII, else RFC 2231 `name*=UTF-8''%XX...`
/// (split into name*0*, name*1* ... continuations when long).
std::string format_param(std::string_view name, std::string_view value_utf8,
                         std::string_view eol = "\r\n");
/// RFC 5322 date, e.g. "Tue, 27 Jul 2021 22:19:50 +0000" (always UTC).
std::string format_rfc5322_date(i64 unix_seconds);
/// Parses an RFC 5322 date-time (the value of a Date field) to unix seconds UTC: optional day
/// of week, day, month name, year, hh:mm[:ss], zone. Comments, the obsolete forms of [RFC 5322]
/// 4.3 (two- and three-digit years, zone names UT/GMT/EST.., military zones read as -0000) and
/// a missing zone (read as UTC) are accepted; anything else, or an impossible date, is nullopt.
std::optional<i64> parse_rfc5322_date(std::string_view value);
/// asctime-style date for mbox From_ lines, e.g. "Tue Jul 27 22:19:50 2021" (UTC).
std::string format_mbox_date(i64 unix_seconds);

}  // namespace mm::mime
