#include "mailmill/dedup/keys.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "mailmill/mime/build.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"

namespace mm::dedup {
namespace {

template <std::size_t N>
std::array<u8, N> digest_with(const EVP_MD *md, ByteView data) {
  std::array<u8, N> out{};
  unsigned int len = 0;
  // EVP_Digest is the one-shot interface: no context to leak, thread-safe.
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  return out;
}

std::string address_key(const model::Address &a) {
  if (!a.smtp.empty()) return text::to_lower_ascii(a.smtp);
  if (!a.x500.empty()) return text::to_lower_ascii(a.x500);
  return a.name;
}

// Blanks at both ends, and NULs at the end (PST strings may keep their terminator).
std::string_view trim(std::string_view s) {
  return text::trim_left(text::trim_right(s, std::string_view(" \t\r\n\0", 5)));
}

// Streams fields into one SHA-256 (no concatenated copy of the message); each field ends
// with a NUL.
class Hasher {
 public:
  void add(std::string_view v) { h_.update(v); }
  void field(std::string_view v) {
    add(v);
    add(std::string_view("\0", 1));
  }
  Digest finish() { return h_.finish(); }

 private:
  util::Sha256 h_;
};

// Line-ending and trailing-whitespace normalization, streamed: copies that differ only in how
// a writer wrapped up lines hash the same. Leading and trailing blank lines are dropped; runs
// of blank lines inside are kept (they are emitted when the next non-blank line arrives).
void hash_normalized_body(Hasher &h, std::string_view body) {
  bool started = false;
  std::size_t pending_newlines = 0;
  std::size_t i = 0;
  while (i <= body.size()) {
    std::size_t end = i;
    while (end < body.size() && body[end] != '\r' && body[end] != '\n') {
      const void *p = std::memchr(body.data() + end, '\n', body.size() - end);
      std::size_t nl = p ? static_cast<std::size_t>(static_cast<const char *>(p) - body.data())
                         : body.size();
      const void *q = std::memchr(body.data() + end, '\r', nl - end);
      end = q ? static_cast<std::size_t>(static_cast<const char *>(q) - body.data()) : nl;
    }
    std::string_view line = body.substr(i, end - i);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\0'))
      line.remove_suffix(1);
    if (!line.empty()) {
      if (started)
        for (std::size_t k = 0; k < pending_newlines; ++k) h.add("\n");
      h.add(line);
      started = true;
      pending_newlines = 0;
    }
    if (end >= body.size()) break;
    ++pending_newlines;
    i = end + ((body[end] == '\r' && end + 1 < body.size() && body[end + 1] == '\n') ? 2 : 1);
  }
  h.add(std::string_view("\0", 1));
}

// The builder hashed most attachments while encoding them: the same bytes (same place, same
// size) need no second pass.
Digest attachment_sha256(ByteView data, std::span<const mime::DataDigest> known) {
  for (const mime::DataDigest &d : known)
    if (d.data == data.data() && d.size == data.size()) return d.sha256;
  return util::Sha256::digest(data);
}

}  // namespace

Digest sha256(ByteView data) { return util::Sha256::digest(data); }
Md5 md5(ByteView data) { return digest_with<16>(EVP_md5(), data); }

Md5 edrm_mih(std::string_view message_id) { return md5(message_id); }

std::string to_hex(const u8 *data, std::size_t n) { return text::to_hex(std::span(data, n)); }

Digest content_hash(const model::Message &msg, std::span<const mime::DataDigest> known) {
  Hasher h;
  h.field("mm-content-v1");
  h.field(model::item_kind_name(msg.kind));
  h.field(address_key(msg.from.empty() ? msg.sender : msg.from));
  std::vector<std::string> rcpts;
  rcpts.reserve(msg.recipients.size());
  for (const auto &r : msg.recipients)
    rcpts.push_back(std::to_string(static_cast<int>(r.type)) + ":" + address_key(r.address));
  std::sort(rcpts.begin(), rcpts.end());
  for (const auto &r : rcpts) h.field(r);
  h.field("");  // end of recipients
  std::optional<i64> date = mime::message_date(msg);
  h.field(date ? std::to_string(*date) : std::string());
  h.field(trim(msg.subject));
  if (msg.body_text)
    hash_normalized_body(h, *msg.body_text);
  else if (msg.body_html)
    hash_normalized_body(h, *msg.body_html);
  else
    h.field("");
  std::vector<std::string> atts;
  atts.reserve(msg.attachments.size());
  for (const auto &a : msg.attachments) {
    if (a.kind == model::AttachmentKind::Embedded && a.embedded)
      atts.push_back("m" + to_hex(content_hash(*a.embedded)));
    else
      atts.push_back("a" + to_hex(attachment_sha256(a.data, known)));
  }
  std::sort(atts.begin(), atts.end());
  for (const auto &a : atts) h.field(a);
  return h.finish();
}

}  // namespace mm::dedup
