#include "mailmill/dedup/keys.h"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "mailmill/mime/build.h"

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

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string address_key(const model::Address &a) {
  if (!a.smtp.empty()) return lower(a.smtp);
  if (!a.x500.empty()) return lower(a.x500);
  return a.name;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n' || s.back() == '\0'))
    s.remove_suffix(1);
  return s;
}

// Line-ending and trailing-whitespace normalization: copies that differ only in how a writer
// wrapped up lines hash the same.
std::string normalize_body(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  std::size_t i = 0;
  while (i < body.size()) {
    std::size_t end = body.find_first_of("\r\n", i);
    std::string_view line = body.substr(i, end == std::string_view::npos ? end : end - i);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\0'))
      line.remove_suffix(1);
    out.append(line);
    if (end == std::string_view::npos) break;
    out += '\n';
    i = end + ((body[end] == '\r' && end + 1 < body.size() && body[end + 1] == '\n') ? 2 : 1);
  }
  std::string_view t = out;
  while (!t.empty() && t.front() == '\n') t.remove_prefix(1);
  while (!t.empty() && t.back() == '\n') t.remove_suffix(1);
  return std::string(t);
}

void field(std::string &buf, std::string_view v) {
  buf.append(v);
  buf += '\0';
}

}  // namespace

Digest sha256(ByteView data) { return digest_with<32>(EVP_sha256(), data); }
Md5 md5(ByteView data) { return digest_with<16>(EVP_md5(), data); }

Md5 edrm_mih(std::string_view message_id) { return md5(message_id); }

std::string to_hex(const u8 *data, std::size_t n) {
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = HEX[data[i] >> 4];
    out[2 * i + 1] = HEX[data[i] & 15];
  }
  return out;
}

Digest content_hash(const model::Message &msg) {
  std::string buf;
  field(buf, "mm-content-v1");
  field(buf, model::item_kind_name(msg.kind));
  field(buf, address_key(msg.from.empty() ? msg.sender : msg.from));
  std::vector<std::string> rcpts;
  rcpts.reserve(msg.recipients.size());
  for (const auto &r : msg.recipients)
    rcpts.push_back(std::to_string(static_cast<int>(r.type)) + ":" + address_key(r.address));
  std::sort(rcpts.begin(), rcpts.end());
  for (const auto &r : rcpts) field(buf, r);
  field(buf, "");  // end of recipients
  std::optional<i64> date = mime::message_date(msg);
  field(buf, date ? std::to_string(*date) : std::string());
  field(buf, trim(msg.subject));
  if (msg.body_text)
    field(buf, normalize_body(*msg.body_text));
  else if (msg.body_html)
    field(buf, normalize_body(*msg.body_html));
  else
    field(buf, "");
  std::vector<std::string> atts;
  atts.reserve(msg.attachments.size());
  for (const auto &a : msg.attachments) {
    if (a.kind == model::AttachmentKind::Embedded && a.embedded)
      atts.push_back("m" + to_hex(content_hash(*a.embedded)));
    else
      atts.push_back("a" + to_hex(sha256(a.data)));
  }
  std::sort(atts.begin(), atts.end());
  for (const auto &a : atts) field(buf, a);
  return sha256(buf);
}

}  // namespace mm::dedup
