#include "mailmill/dedup/keys.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "mailmill/mime/build.h"
#include "mailmill/mime/ole_attachment.h"
#include "mailmill/mime/parse.h"
#include "mailmill/mime/rtf.h"
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

// Control characters and runs of blanks become one space; the ends are trimmed. Header
// folding, RFC 2047 encoding and the builder's one-line rule change only these.
std::string collapse(std::string_view s) {
  std::string out;
  bool space = false;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(ch);
  }
  return text::sanitize_utf8(out);
}

// The address as an Internet message carries it: the SMTP address when there is one, else the
// display name (written as an empty group, "Name":;), else the Exchange DN (written as the
// name). Case-insensitive throughout.
std::string address_key(const model::Address &a) {
  std::string smtp = collapse(a.smtp);
  if (!smtp.empty()) return text::to_lower_ascii(smtp);
  std::string name = collapse(a.name);
  if (!name.empty()) return "n:" + text::to_lower_ascii(name);
  std::string x500 = collapse(a.x500);
  if (!x500.empty()) return "n:" + text::to_lower_ascii(x500);
  return {};
}

bool blank(const model::Address &a) { return address_key(a).empty(); }

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
//
// Most bodies are already in normal form (LF line ends, no blanks at line ends): their normal
// form is then the span from the first non-blank line to the last, hashed in one piece.
bool already_normal(std::string_view body) {
  if (std::memchr(body.data(), '\r', body.size()) != nullptr) return false;
  auto blank_end = [](char c) { return c == ' ' || c == '\t' || c == '\0'; };
  for (std::size_t i = 0; i < body.size();) {
    const void *p = std::memchr(body.data() + i, '\n', body.size() - i);
    const std::size_t nl =
        p ? static_cast<std::size_t>(static_cast<const char *>(p) - body.data()) : body.size();
    if (nl > i && blank_end(body[nl - 1])) return false;
    i = nl + 1;
  }
  return true;
}

void hash_normalized_body(Hasher &h, std::string_view body) {
  if (already_normal(body)) {
    const std::size_t first = body.find_first_not_of('\n');
    if (first != std::string_view::npos) {
      const std::size_t last = body.find_last_not_of('\n');
      h.add(body.substr(first, last + 1 - first));
    }
    h.add(std::string_view("\0", 1));
    return;
  }
  bool started = false;
  std::size_t pending_newlines = 0;
  std::size_t i = 0;
  while (i <= body.size()) {
    std::size_t end = i;
    while (end < body.size() && body[end] != '\r' && body[end] != '\n') {
      const void *p = std::memchr(body.data() + end, '\n', body.size() - end);
      std::size_t nl =
          p ? static_cast<std::size_t>(static_cast<const char *>(p) - body.data()) : body.size();
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

namespace {

// The header fields of a transport header block that the MIME builder writes as they are and
// that the key reads: split the way mime::build_message splits it (fields up to the first
// empty line; lines that are neither a field nor a continuation skipped), then the fields the
// key needs handed to mime::parse_message, so both sides decode them with the same code.
struct TransportView {
  bool from = false, subject = false, recipients = false;
  std::optional<model::Message> parsed;
};

TransportView transport_view(ByteView block) {
  TransportView v;
  std::string keep;  // the wanted fields, LF line ends
  bool keeping = false;
  bool any_field = false;
  std::size_t i = 0;
  while (i < block.size()) {
    std::size_t nl = block.find('\n', i);
    std::size_t end = nl == ByteView::npos ? block.size() : nl;
    ByteView line = block.substr(i, end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    i = nl == ByteView::npos ? block.size() : nl + 1;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (any_field && keeping) {
        keep.append(line);
        keep.push_back('\n');
      }
      continue;
    }
    std::size_t colon = line.find(':');
    bool ok = colon != ByteView::npos && colon > 0;
    for (std::size_t k = 0; ok && k < colon; ++k) {
      unsigned char c = static_cast<unsigned char>(line[k]);
      if (c <= 0x20 || c >= 0x7F) ok = false;
    }
    if (!ok) continue;
    any_field = true;
    std::string name = text::to_lower_ascii(line.substr(0, colon));
    keeping = name == "from" || name == "subject" || name == "to" || name == "cc" ||
              name == "bcc" || name == "x-mailmill-synthesized";
    if (name == "from") v.from = true;
    if (name == "subject") v.subject = true;
    if (name == "to" || name == "cc" || name == "bcc") v.recipients = true;
    if (keeping) {
      keep.append(line);
      keep.push_back('\n');
    }
  }
  if (!keep.empty()) {
    keep.push_back('\n');
    Result<model::Message> r = mime::parse_message(Blob(Bytes(std::move(keep))));
    if (r.ok()) v.parsed = std::move(r.value());
  }
  return v;
}

// The text and HTML bodies the builder writes: the item's own, else what its RTF body gives
// (RTF-encapsulated HTML or text, or native RTF rendered as plain text), as build.cc's add_rtf.
// The item's own bodies are viewed, not copied; only what comes out of the RTF is owned here.
struct EffectiveBodies {
  const std::string *text = nullptr;
  const Bytes *html = nullptr;
  std::string own_text;
  Bytes own_html;
};

void effective_bodies(const model::Message &msg, EffectiveBodies &b) {
  if (msg.body_text) b.text = &*msg.body_text;
  if (msg.body_html) b.html = &*msg.body_html;
  if (!msg.body_rtf || msg.body_rtf->empty() || (b.text && b.html)) return;
  Result<Bytes> dec = mime::rtf::decompress(*msg.body_rtf);
  if (!dec.ok()) return;
  std::optional<mime::rtf::Extracted> ex = mime::rtf::deencapsulate(dec.value());
  if (ex && ex->kind == mime::rtf::Encapsulated::Html) {
    if (!b.html) {
      b.own_html = std::move(ex->content);
      b.html = &b.own_html;
    }
  } else if (ex && ex->kind == mime::rtf::Encapsulated::Text) {
    if (!b.text) {
      std::optional<std::string> utf8 = text::codepage_to_utf8(ex->content, ex->codepage);
      b.own_text = utf8 ? std::move(*utf8) : text::sanitize_utf8(ex->content);
      b.text = &b.own_text;
    }
  } else if (!b.html && !b.text) {
    b.own_text = text::sanitize_utf8(mime::rtf::to_plain_text(dec.value()));
    b.text = &b.own_text;
  }
}

// Display-list fallback ("A; B"), as the builder writes it when the item has no recipient rows.
void add_display_names(std::vector<std::string> &out, int type, std::string_view list) {
  std::size_t i = 0;
  while (i <= list.size()) {
    std::size_t semi = list.find(';', i);
    std::size_t end = semi == std::string_view::npos ? list.size() : semi;
    std::string name = collapse(list.substr(i, end - i));
    if (!name.empty()) out.push_back(std::to_string(type) + ":n:" + text::to_lower_ascii(name));
    i = end + 1;
  }
}

}  // namespace

Digest content_hash(const model::Message &msg, std::span<const mime::DataDigest> known) {
  const bool has_transport = !msg.transport_headers.empty();
  TransportView tv;
  if (has_transport) tv = transport_view(msg.transport_headers);
  const model::Message *th = tv.parsed ? &*tv.parsed : nullptr;

  Hasher h;
  h.field("mm-content-v2");
  // Mail-like kinds are one kind: an Internet message cannot say which MAPI class it had.
  const bool mail = msg.kind == model::ItemKind::Message || msg.kind == model::ItemKind::Other;
  h.field(mail ? "message" : model::item_kind_name(msg.kind));

  model::Address from;
  if (tv.from) {
    if (th) from = th->from.empty() ? th->sender : th->from;
  } else {
    from = blank(msg.from) ? msg.sender : msg.from;
  }
  h.field(address_key(from));

  std::vector<std::string> rcpts;
  if (tv.recipients) {
    if (th)
      for (const auto &r : th->recipients) {
        if (r.type == model::RecipientType::Bcc) continue;
        std::string k = address_key(r.address);
        if (!k.empty()) rcpts.push_back(std::to_string(static_cast<int>(r.type)) + ":" + k);
      }
  } else {
    for (const auto &r : msg.recipients) {
      // Bcc is not keyed: the MIME form carries it only when the builder synthesizes every
      // header, so copies of one message would differ by whether a header block came along.
      if (r.type == model::RecipientType::Bcc) continue;
      std::string k = address_key(r.address);
      if (!k.empty()) rcpts.push_back(std::to_string(static_cast<int>(r.type)) + ":" + k);
    }
    if (msg.recipients.empty()) {
      add_display_names(rcpts, 1, msg.display_to);
      add_display_names(rcpts, 2, msg.display_cc);
    }
  }
  std::sort(rcpts.begin(), rcpts.end());
  for (const auto &r : rcpts) h.field(r);
  h.field("");  // end of recipients

  std::optional<i64> date = mime::message_date(msg);
  h.field(date ? std::to_string(*date) : std::string());
  h.field(collapse(tv.subject ? (th ? th->subject : std::string()) : msg.subject));

  EffectiveBodies bodies;
  effective_bodies(msg, bodies);
  if (bodies.text)
    hash_normalized_body(
        h, text::is_valid_utf8(*bodies.text) ? *bodies.text : text::sanitize_utf8(*bodies.text));
  else if (bodies.html)
    hash_normalized_body(h, *bodies.html);
  else
    h.field("");

  std::vector<std::string> atts;
  atts.reserve(msg.attachments.size());
  for (const auto &a : msg.attachments) {
    switch (a.kind) {
      case model::AttachmentKind::Embedded:
        if (a.embedded)
          atts.push_back("m" + to_hex(content_hash(*a.embedded)));
        else
          atts.push_back("o");
        break;
      case model::AttachmentKind::ByValue:
        atts.push_back("a" + to_hex(attachment_sha256(a.data, known)));
        break;
      case model::AttachmentKind::Ole: {
        if (a.data.empty()) {
          atts.push_back("o");
          break;
        }
        // Written as the picture or file the OLE object holds (mime/ole_attachment.h).
        std::vector<Problem> ignored;
        model::Attachment out = mime::ole_attachment_for_mime(a, ignored);
        // Hashed here, never looked up in `known`: the builder's unpacked copies are freed by
        // now, and a new buffer may reuse the address of one of a different object.
        atts.push_back("a" + to_hex(util::Sha256::digest(out.data)));
        break;
      }
      case model::AttachmentKind::Reference:
      case model::AttachmentKind::Unreadable:
        atts.push_back("o");  // no bytes to write: named in X-Mailmill-Omitted-Attachment
        break;
    }
  }
  std::sort(atts.begin(), atts.end());
  for (const auto &a : atts) h.field(a);
  return h.finish();
}

}  // namespace mm::dedup
