#include "mailmill/mime/build.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "encode_impl.h"
#include "mailmill/mime/encode.h"
#include "mailmill/mime/ical.h"
#include "mailmill/mime/limits.h"
#include "mailmill/mime/mbox.h"
#include "mailmill/mime/ole_attachment.h"
#include "mailmill/mime/rtf.h"
#include "mailmill/util/buffer_pool.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "report.h"
#include "smime.h"

namespace mm::mime {

namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

using text::iequals_ascii;
using text::to_lower_ascii;

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals_ascii(s.substr(s.size() - suffix.size()), suffix);
}

/// A model string made safe for a single header line: controls (CR, LF, TAB, NUL) become
/// spaces and the ends are trimmed. Header injection from source data is impossible this way.
std::string one_line(std::string_view s) {
  // Controls map to spaces, so the kept range is from the first to the last byte that is
  // neither a control nor a space; controls inside it become spaces.
  auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; };
  std::size_t b = 0, e = s.size();
  while (b < e && blank(s[b])) ++b;
  while (e > b && blank(s[e - 1])) --e;
  std::string out(s.substr(b, e - b));
  for (char &c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return out;
}

/// CRLF or LF line ends become `eol`; bare CR is kept (only a transfer encoding can carry it).
void append_eol(Bytes &out, ByteView in, std::string_view eol) {
  const char *d = in.data();
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const void *p = std::memchr(d + i, '\n', n - i);
    if (p == nullptr) {
      out.append(d + i, n - i);
      break;
    }
    const std::size_t nl = static_cast<std::size_t>(static_cast<const char *>(p) - d);
    const std::size_t end = (nl > i && d[nl - 1] == '\r') ? nl - 1 : nl;
    out.append(d + i, end - i);
    out.append(eol);
    i = nl + 1;
  }
}

Bytes to_eol(ByteView in, std::string_view eol) {
  Bytes out;
  out.reserve(in.size() + in.size() / 32);
  append_eol(out, in, eol);
  return out;
}

/// Hashes fields for boundaries and generated ids.
class Sha256 {
 public:
  /// Length-prefixed so that ("ab","c") and ("a","bc") hash differently.
  void add(std::string_view s) {
    u64 n = s.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
    h_.update(ByteView(len, 8));
    h_.update(s);
  }
  std::string hex(std::size_t chars) {
    std::string out = text::to_hex(h_.finish());
    out.resize(std::min(chars, out.size()));
    return out;
  }

 private:
  util::Sha256 h_;
};

bool is_token_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7F) return false;
  return std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_token_char(static_cast<unsigned char>(c));
  });
}

std::string param_value(std::string_view v) {
  if (is_token(v)) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

/// Folds a structured field at spaces outside quoted-strings, lines within 78 columns.
std::string fold_structured(std::string_view name, std::string_view value, std::string_view eol) {
  std::string out(name);
  out += ':';
  std::size_t col = out.size();
  const std::size_t min_col = col;
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && value[i] == ' ') ++i;
    if (i >= value.size()) break;
    std::size_t j = i;
    bool quoted = false;
    while (j < value.size() && (quoted || value[j] != ' ')) {
      if (value[j] == '\\' && quoted && j + 1 < value.size()) ++j;
      else if (value[j] == '"') quoted = !quoted;
      ++j;
    }
    std::string_view tok = value.substr(i, j - i);
    if (col + 1 + tok.size() > 78 && col > min_col && !eol.empty()) {
      out.append(eol);
      col = 0;
    }
    out += ' ';
    out += tok;
    col += 1 + tok.size();
    i = j;
  }
  return out;
}

std::string unstructured(std::string_view name, std::string_view value, std::string_view eol) {
  std::string v = one_line(value);
  return std::string(name) + ": " + rfc2047_encode(v, name.size() + 2, eol);
}

// ---------------------------------------------------------------------------------------------
// Content types by file extension (lower-case, without the dot). Byte-exact attachment fidelity
// comes first: every by-value attachment goes base64, so .eml/.mht bytes are declared as
// application/octet-stream-compatible types that allow base64 (message/* does not,
// [RFC 2046] 5.2.1).

struct ExtType {
  const char *ext;
  const char *type;
};

constexpr ExtType EXT_TYPES[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"avi", "video/x-msvideo"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"doc", "application/msword"},
    {"docm", "application/vnd.ms-word.document.macroenabled.12"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"dot", "application/msword"},
    {"dotx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template"},
    {"eml", "application/octet-stream"},
    {"emz", "application/octet-stream"},
    {"eps", "application/postscript"},
    {"exe", "application/octet-stream"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"heic", "image/heic"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ical", "text/calendar"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar"},
    {"jpe", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"log", "text/plain"},
    {"m4a", "audio/mp4"},
    {"md", "text/markdown"},
    {"mht", "application/octet-stream"},
    {"mhtml", "application/octet-stream"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"msg", "application/vnd.ms-outlook"},
    {"odp", "application/vnd.oasis.opendocument.presentation"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"oft", "application/vnd.ms-outlook"},
    {"ogg", "audio/ogg"},
    {"one", "application/onenote"},
    {"p7m", "application/pkcs7-mime"},
    {"p7s", "application/pkcs7-signature"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"pps", "application/vnd.ms-powerpoint"},
    {"ppsx", "application/vnd.openxmlformats-officedocument.presentationml.slideshow"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptm", "application/vnd.ms-powerpoint.presentation.macroenabled.12"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"ps", "application/postscript"},
    {"pst", "application/vnd.ms-outlook"},
    {"rar", "application/vnd.rar"},
    {"rtf", "application/rtf"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tgz", "application/gzip"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"tnef", "application/vnd.ms-tnef"},
    {"txt", "text/plain"},
    {"vcf", "text/vcard"},
    {"vcs", "text/calendar"},
    {"vsd", "application/vnd.visio"},
    {"vsdx", "application/vnd.ms-visio.drawing"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"wma", "audio/x-ms-wma"},
    {"wmf", "image/wmf"},
    {"wmv", "video/x-ms-wmv"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsb", "application/vnd.ms-excel.sheet.binary.macroenabled.12"},
    {"xlsm", "application/vnd.ms-excel.sheet.macroenabled.12"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml"},
    {"xps", "application/vnd.ms-xpsdocument"},
    {"zip", "application/zip"},
};

std::string type_from_extension(std::string_view filename) {
  std::size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= filename.size())
    return "application/octet-stream";
  std::string ext = to_lower_ascii(filename.substr(dot + 1));
  for (const ExtType &e : EXT_TYPES)
    if (ext == e.ext) return e.type;
  return "application/octet-stream";
}

/// A declared MIME type we can send with base64: "type/subtype" made of token characters and
/// not a composite type (message/* and multipart/* forbid base64, [RFC 2046] 5.1, 5.2).
std::string attachment_type(const model::Attachment &att) {
  std::string t = to_lower_ascii(one_line(att.mime_type));
  std::size_t semi = t.find(';');
  if (semi != std::string::npos) t = one_line(t.substr(0, semi));
  std::size_t slash = t.find('/');
  bool valid = slash != std::string::npos && is_token(t.substr(0, slash)) &&
               is_token(t.substr(slash + 1));
  if (valid && (t.starts_with("message/") || t.starts_with("multipart/"))) valid = false;
  if (valid && t != "application/octet-stream") return t;
  std::string by_ext = type_from_extension(att.filename);
  if (valid || by_ext != "application/octet-stream") return by_ext;
  return "application/octet-stream";
}

// ---------------------------------------------------------------------------------------------
// Entities

/// A MIME entity before serialization. Leaves carry their encoded body, or (attachments) the
/// raw bytes to base64-encode straight into the output; multiparts carry their parts. Nothing
/// is serialized twice: the whole tree is written once, into one buffer of the exact size.
struct Entity {
  std::vector<std::string> fields;  ///< complete fields without the final eol
  Bytes body;                       ///< encoded body using the output eol (text leaves)
  ByteView b64;                     ///< raw bytes encoded as base64 when written (lazy_b64)
  bool lazy_b64 = false;
  std::vector<Entity> parts;        ///< multipart children
  std::string boundary;             ///< non-empty for multiparts
};

struct Ctx {
  const BuildOptions &opts;
  std::string eol;
  int depth = 0;
  std::vector<Problem> warnings;
  /// Bytes made while building that entities view (Entity::b64): unpacked OLE objects.
  std::vector<Blob> keep_alive = {};
};

std::size_t serialized_size(const Entity &e, std::string_view eol) {
  std::size_t n = eol.size();
  for (const std::string &f : e.fields) n += f.size() + eol.size();
  if (e.lazy_b64) return n + base64_encoded_size(e.b64.size(), eol);
  if (e.boundary.empty()) return n + e.body.size();
  const std::size_t bl = e.boundary.size();
  for (const Entity &c : e.parts) n += 2 + bl + eol.size() + serialized_size(c, eol) + eol.size();
  return n + 2 + bl + 2 + eol.size();
}

/// Appends serialized bytes to a buffer, hashing them as they go (while still in cache) and
/// remembering where base64 bodies lie (no mboxrd quoting can be needed inside them). With a
/// file, the buffer is only a staging area: it is written out whenever it passes kStage bytes
/// at the end of a base64 step (always a line end), so a message of any size is held in
/// memory only kStage bytes at a time.
class Emitter {
 public:
  static constexpr std::size_t kStage = 4u << 20;

  /// Writes at `pos` (default: the end of `out`). Bytes of `out` past `pos` are scratch: a
  /// recycled buffer sized up front (BufferPool::take_sized) is filled without the zeroing
  /// that growing a string costs; finish() cuts `out` to what was written.
  Emitter(Bytes &out, util::Sha256 *hash, std::FILE *file = nullptr, bool check_quoting = false,
          std::size_t check_from = 0, std::size_t pos = Bytes::npos)
      : out_(out),
        hash_(hash),
        file_(file),
        check_(check_quoting),
        check_from_(check_from),
        pos_(pos == Bytes::npos ? out.size() : pos) {}
  void put(ByteView s) {
    std::memcpy(room(s.size()), s.data(), s.size());
    pos_ += s.size();
    if (hash_) hash_->update(s);
    if (!s.empty()) last_ = s.back();
  }
  /// Encodes `raw` as base64 lines. When the output is hashed, `raw` is hashed too, side by
  /// side while both are in cache, and its digest is recorded in data_digests (the content
  /// key's attachment hashes then need no second pass over the attachment).
  void put_base64(ByteView raw, std::string_view eol) {
    if (hash_) raw_hash_.emplace();
    std::size_t begin = pos_;
    // 57 * 1024 input bytes: whole lines, about 78 KB of output per step.
    constexpr std::size_t kStep = 57 * 1024;
    for (std::size_t off = 0; off < raw.size() || off == 0; off += kStep) {
      ByteView piece = raw.substr(off, kStep);
      const std::size_t n = base64_encoded_size(piece.size(), eol);
      char *at = room(n);
      base64_encode_to(at, piece, eol);
      pos_ += n;
      if (hash_) util::Sha256::update2(*hash_, ByteView(at, n), *raw_hash_, piece);
      if (n > 0) last_ = at[n - 1];
      if (file_ && pos_ >= kStage) {
        b64_ranges.emplace_back(begin, pos_);
        flush();
        begin = 0;
      }
      if (raw.empty()) break;
    }
    b64_ranges.emplace_back(begin, pos_);
    if (hash_) data_digests.push_back({raw.data(), raw.size(), raw_hash_->finish()});
  }
  /// Cuts the buffer to the bytes written (call before using it as a string again).
  void finish() { out_.resize(pos_); }
  /// Scans the text written since the last flush for lines mboxrd would have to change.
  void scan() {
    if (!check_ || needs_rewrite) return;
    std::size_t seg = check_from_;
    for (const auto &[b, e] : b64_ranges) {
      if (!needs_rewrite) needs_rewrite = text_needs_change(seg, b);
      seg = e;
    }
    if (!needs_rewrite) needs_rewrite = text_needs_change(seg, pos_);
  }
  /// Writes the staging buffer to the file (file mode only).
  void flush() {
    scan();
    if (pos_ > 0 && std::fwrite(out_.data(), 1, pos_, file_) != pos_)
      throw FatalError(std::string("cannot write a temporary file: ") + std::strerror(errno));
    flushed_ += pos_;
    pos_ = 0;
    b64_ranges.clear();
    check_from_ = 0;
  }
  u64 total() const { return flushed_ + pos_; }
  char last() const { return last_; }

  std::vector<std::pair<std::size_t, std::size_t>> b64_ranges;
  std::vector<DataDigest> data_digests;
  bool needs_rewrite = false;  ///< a text line starts with ">*From " or holds a CR

 private:
  // [from, to) starts at a line start: the message start, or just after a base64 body.
  bool text_needs_change(std::size_t from, std::size_t to) const {
    const char *d = out_.data();
    if (std::memchr(d + from, '\r', to - from) != nullptr) return true;
    for (std::size_t i = from; i < to;) {
      if (mboxrd_needs_quote(ByteView(d + i, std::min<std::size_t>(pos_ - i, 64))))
        return true;
      const void *nl = std::memchr(d + i, '\n', to - i);
      if (nl == nullptr) break;
      i = static_cast<std::size_t>(static_cast<const char *>(nl) - d) + 1;
    }
    return false;
  }

  // Room for n more bytes at pos_; growth beyond the scratch is rare (sizes are exact).
  char *room(std::size_t n) {
    if (pos_ + n > out_.size()) out_.resize(std::max(pos_ + n, out_.size() + out_.size() / 2));
    return out_.data() + pos_;
  }

  Bytes &out_;
  util::Sha256 *hash_;
  std::optional<util::Sha256> raw_hash_;
  std::FILE *file_;
  bool check_;
  std::size_t check_from_;
  std::size_t pos_;
  u64 flushed_ = 0;
  char last_ = 0;
};

void serialize_into(Emitter &out, const Entity &e, std::string_view eol) {
  for (const std::string &f : e.fields) {
    out.put(f);
    out.put(eol);
  }
  out.put(eol);
  if (e.lazy_b64) {
    out.put_base64(e.b64, eol);
  } else if (e.boundary.empty()) {
    out.put(e.body);
  } else {
    for (const Entity &c : e.parts) {
      out.put("--");
      out.put(e.boundary);
      out.put(eol);
      serialize_into(out, c, eol);
      out.put(eol);
    }
    out.put("--");
    out.put(e.boundary);
    out.put("--");
    out.put(eol);
  }
}

Bytes serialize(const Entity &e, std::string_view eol) {
  Bytes out;
  out.reserve(serialized_size(e, eol));
  Emitter em(out, nullptr);
  serialize_into(em, e, eol);
  em.finish();
  return out;
}

struct Encoded {
  const char *cte;
  Bytes body;
};

/// Chooses the transfer encoding of a text body ([RFC 2045] 6): 7bit when ASCII with short
/// lines, else the smaller of quoted-printable and base64 (base64 of the canonical CRLF form,
/// [RFC 2045] 6.8). Ties go to quoted-printable, which stays readable.
Encoded encode_text(ByteView content, std::string_view eol) {
  // The LF form of the content; without any CR it is the content itself.
  Bytes lf_store;
  ByteView lf = content;
  if (std::memchr(content.data(), '\r', content.size()) != nullptr) {
    lf_store = to_eol(content, "\n");
    lf = lf_store;
  }
  if (fits_in_lines(lf, false)) {
    if (eol == "\n") return {"7bit", Bytes(lf)};
    return {"7bit", to_eol(lf, eol)};
  }
  Bytes qp = qp_encode(lf, eol);
  // Size of the base64 of the CRLF form, known without encoding it: encode only if smaller.
  // to_eol(lf, "\r\n") turns every LF not already preceded by CR into CRLF.
  std::size_t crlf_size = lf.size();
  for (const char *p = lf.data(), *e = p + lf.size();;) {
    p = static_cast<const char *>(std::memchr(p, '\n', static_cast<std::size_t>(e - p)));
    if (p == nullptr) break;
    if (p == lf.data() || p[-1] != '\r') ++crlf_size;
    ++p;
  }
  const std::size_t chars = (crlf_size + 2) / 3 * 4;
  const std::size_t b64_size = chars + (eol.empty() ? 0 : (chars + 75) / 76 * eol.size());
  if (b64_size < qp.size()) return {"base64", base64_encode(to_eol(lf, "\r\n"), eol)};
  return {"quoted-printable", std::move(qp)};
}

Entity text_entity(std::string_view type, std::string_view charset, ByteView content,
                   const Ctx &ctx) {
  Entity e;
  std::string ct = "Content-Type: " + std::string(type);
  if (!charset.empty()) ct += "; charset=" + param_value(to_lower_ascii(charset));
  e.fields.push_back(std::move(ct));
  Encoded enc = encode_text(content, ctx.eol);
  e.fields.push_back(std::string("Content-Transfer-Encoding: ") + enc.cte);
  e.body = std::move(enc.body);
  return e;
}

/// Filename parameters: RFC 2231 `filename*=` for non-ASCII in Content-Disposition, and for
/// Content-Type `name=` a quoted RFC 2047 form as well, which Outlook and older clients read
/// (Python records a header defect for it but decodes it).
std::string name_param(std::string_view filename, std::string_view eol) {
  if (!detail::needs_rfc2047(filename)) return format_param("name", filename, eol);
  std::string sep = std::string(eol) + " ";
  return "name=\"" + detail::encoded_words(filename, 1, sep) + "\"";
}

std::string clean_filename(std::string_view name) {
  std::string out = one_line(name);
  return text::sanitize_utf8(out);
}

Entity attachment_entity(const model::Attachment &att, bool inline_part, const Ctx &ctx) {
  Entity e;
  const std::string &eol = ctx.eol;
  std::string fname = clean_filename(att.filename);
  std::string ct = "Content-Type: " + attachment_type(att);
  if (!fname.empty()) ct += ";" + eol + " " + name_param(fname, eol);
  e.fields.push_back(std::move(ct));
  e.fields.push_back("Content-Transfer-Encoding: base64");
  std::string cd = std::string("Content-Disposition: ") + (inline_part ? "inline" : "attachment");
  if (!fname.empty()) cd += ";" + eol + " " + format_param("filename", fname, eol);
  e.fields.push_back(std::move(cd));
  std::string cid = one_line(att.content_id);
  if (!cid.empty()) {
    if (cid.front() == '<' && cid.back() == '>') cid = cid.substr(1, cid.size() - 2);
    e.fields.push_back("Content-ID: <" + cid + ">");
  }
  e.b64 = att.data;  // encoded into the output when the message is written
  e.lazy_b64 = true;
  return e;
}

/// What a part contributes to its parent's boundary: its header fields and text body, its own
/// boundary for a multipart (which already covers its parts), and only the size of a base64
/// attachment body, which cannot contain any boundary: ours contain '_', outside the base64
/// alphabet. Hashing attachment bytes here would cost a pass over every attachment.
void fingerprint(const Entity &e, Sha256 &h) {
  for (const std::string &f : e.fields) h.add(f);
  if (e.lazy_b64) h.add("base64:" + std::to_string(e.b64.size()));
  else if (!e.boundary.empty()) h.add(e.boundary);
  else h.add(e.body);
}

bool contains(const Entity &e, std::string_view needle) {
  for (const std::string &f : e.fields)
    if (f.find(needle) != std::string::npos) return true;
  if (e.lazy_b64) return false;
  if (e.boundary.empty()) return e.body.find(needle) != std::string::npos;
  return std::any_of(e.parts.begin(), e.parts.end(),
                     [&](const Entity &c) { return contains(c, needle); });
}

/// Deterministic boundary from the parts and the nesting level, checked against every part so
/// it can never occur inside them ([RFC 2046] 5.1.1).
Entity multipart(std::string_view subtype, std::vector<Entity> &&children, std::string_view extra,
                 int level, const Ctx &ctx) {
  const std::string &eol = ctx.eol;
  // The boundary's length does not depend on the attempt: "=_mm_<level>_" + 16 hex digits.
  const std::string prefix = "=_mm_" + std::to_string(level) + "_";
  Entity e;
  for (int attempt = 0;; ++attempt) {
    Sha256 h;
    h.add(subtype);
    h.add(std::to_string(level));
    h.add(std::to_string(attempt));
    for (const Entity &c : children) fingerprint(c, h);
    e.boundary = prefix + h.hex(16);
    bool clash = std::any_of(children.begin(), children.end(),
                             [&](const Entity &c) { return contains(c, e.boundary); });
    if (!clash) break;
  }
  e.parts = std::move(children);
  std::string ct = "Content-Type: multipart/" + std::string(subtype) + ";" + eol +
                   " boundary=\"" + e.boundary + "\"";
  if (!extra.empty()) ct += ";" + eol + " " + std::string(extra);
  e.fields.push_back(std::move(ct));
  return e;
}

// ---------------------------------------------------------------------------------------------
// Header synthesis

std::string mailbox_of(const model::Address &a) {
  std::string name = text::sanitize_utf8(one_line(a.name));
  std::string smtp = one_line(a.smtp);
  if (smtp.empty() && name.empty()) name = one_line(a.x500);
  if (smtp.empty() && name.empty()) return {};
  return format_mailbox(name, smtp);
}

/// PR_DISPLAY_TO style lists ("A; B") hold names only: each becomes an empty group.
std::string names_as_groups(std::string_view list) {
  std::string out;
  std::size_t i = 0;
  while (i <= list.size()) {
    std::size_t semi = list.find(';', i);
    std::size_t end = semi == std::string_view::npos ? list.size() : semi;
    std::string name = text::sanitize_utf8(one_line(list.substr(i, end - i)));
    if (!name.empty()) {
      if (!out.empty()) out += ", ";
      out += format_mailbox(name, "");
    }
    i = end + 1;
  }
  return out;
}

/// A stored Message-ID as one msg-id ([RFC 5322] 3.6.4): the first <...> token, else the first
/// word wrapped in angle brackets. Anything after it (junk, injected lines) is dropped.
std::string angle(std::string_view id) {
  std::string v = one_line(id);
  std::size_t lt = v.find('<');
  std::size_t gt = lt == std::string::npos ? std::string::npos : v.find('>', lt);
  if (gt != std::string::npos) return v.substr(lt, gt - lt + 1);
  std::size_t sp = v.find(' ');
  v = v.substr(0, sp);
  std::erase(v, '<');
  std::erase(v, '>');
  return v.empty() ? v : "<" + v + ">";
}

struct HeaderField {
  std::string lname;  ///< lower-case field name
  std::string raw;    ///< field lines joined with the output eol, without the final eol
};

/// Splits PR_TRANSPORT_MESSAGE_HEADERS into fields, keeping each field's bytes verbatim except
/// line ends. Stops at the first empty line. Lines that are neither a field nor a continuation
/// (an mbox From_ line, Exchange's "Microsoft Mail Internet Headers Version 2.0" preamble) are
/// dropped: they are not header fields and would end the header block for every reader.
/// mimetic's Header unfolds and re-spaces fields, so it cannot give the original bytes back;
/// this splitter follows [RFC 5322] 2.2 and 2.2.3 instead.
std::vector<HeaderField> split_transport(ByteView block, const Ctx &ctx) {
  std::vector<HeaderField> fields;
  std::size_t i = 0;
  while (i < block.size()) {
    std::size_t nl = block.find('\n', i);
    std::size_t end = nl == ByteView::npos ? block.size() : nl;
    ByteView line = block.substr(i, end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    i = nl == ByteView::npos ? block.size() : nl + 1;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (fields.empty()) continue;
      fields.back().raw += ctx.eol;
      fields.back().raw += line;
      continue;
    }
    std::size_t colon = line.find(':');
    bool ok = colon != ByteView::npos && colon > 0;
    for (std::size_t k = 0; ok && k < colon; ++k) {
      unsigned char c = static_cast<unsigned char>(line[k]);
      if (c <= 0x20 || c >= 0x7F) ok = false;
    }
    if (ok) fields.push_back({to_lower_ascii(line.substr(0, colon)), std::string(line)});
  }
  return fields;
}

bool replaced_field(std::string_view lname) {
  static constexpr const char *REPLACED[] = {
      "mime-version", "content-type",        "content-transfer-encoding", "content-disposition",
      "content-id",   "content-description", "content-length",            "status",
      "x-status"};
  for (const char *r : REPLACED)
    if (lname == r) return true;
  return lname.starts_with("x-mailmill-");
}

std::string field_value(const HeaderField &f) {
  std::size_t colon = f.raw.find(':');
  return one_line(std::string_view(f.raw).substr(colon + 1));
}

void add_flags(std::vector<std::string> &h, const model::Flags &fl, FlagStyle style) {
  if (style == FlagStyle::Mbox) {
    h.push_back(fl.read ? "Status: RO" : "Status: O");
    std::string x;
    if (fl.answered) x += 'A';
    if (fl.flagged) x += 'F';
    if (fl.draft) x += 'T';
    if (!x.empty()) h.push_back("X-Status: " + x);
  } else if (style == FlagStyle::Eml) {
    std::string v;
    auto add = [&](const char *f) {
      if (!v.empty()) v += ' ';
      v += f;
    };
    if (fl.read) add("\\Seen");
    if (fl.answered) add("\\Answered");
    if (fl.flagged) add("\\Flagged");
    if (fl.draft) add("\\Draft");
    if (fl.forwarded) add("$Forwarded");
    if (!v.empty()) h.push_back("X-Mailmill-Flags: " + v);
  }
}

// ---------------------------------------------------------------------------------------------
// Bodies

struct Bodies {
  std::optional<Entity> plain;
  std::optional<Entity> rtf;
  std::optional<Entity> html;
  Bytes html_store;      ///< HTML decoded from RTF, when that is the source
  ByteView html_bytes;   ///< for Content-ID references (the message's or html_store)
};

void add_rtf(const model::Message &msg, Bodies &b, Ctx &ctx) {
  if (!msg.body_rtf || msg.body_rtf->empty()) return;
  // Only needed when a text or HTML body is missing.
  if (b.plain && b.html) return;
  Result<Bytes> dec = rtf::decompress(*msg.body_rtf);
  if (!dec.ok()) {
    ctx.warnings.push_back({ProblemCode::BodyUndecodable,
                            "RTF body ignored: " + dec.problem().detail});
    return;
  }
  const Bytes &doc = dec.value();
  std::optional<rtf::Extracted> ex = rtf::deencapsulate(doc);
  if (ex && ex->kind == rtf::Encapsulated::Html) {
    if (b.html) return;
    std::optional<std::string> cs = text::codepage_charset_name(ex->codepage);
    if (!cs) {
      ctx.warnings.push_back({ProblemCode::CharsetUnknown,
                              "RTF-encapsulated HTML in codepage " + std::to_string(ex->codepage) +
                                  " has no MIME charset name; declared without charset"});
    }
    b.html_store = ex->content;
    b.html_bytes = b.html_store;
    b.html = text_entity("text/html", cs.value_or(""), ex->content, ctx);
    return;
  }
  if (ex && ex->kind == rtf::Encapsulated::Text) {
    if (b.plain) return;
    std::optional<std::string> utf8 = text::codepage_to_utf8(ex->content, ex->codepage);
    if (!utf8) {
      ctx.warnings.push_back({ProblemCode::CharsetUnknown,
                              "RTF-encapsulated text in unknown codepage " +
                                  std::to_string(ex->codepage) + "; invalid bytes replaced"});
      utf8 = text::sanitize_utf8(ex->content);
    }
    b.plain = text_entity("text/plain", "utf-8", *utf8, ctx);
    return;
  }
  // Native RTF: offer it as an alternative after text/plain; derive the plain text if missing.
  if (b.html) return;
  if (!b.plain) {
    std::string txt = text::sanitize_utf8(rtf::to_plain_text(doc));
    b.plain = text_entity("text/plain", "utf-8", txt, ctx);
  }
  b.rtf = text_entity("application/rtf", "", doc, ctx);
}

bool html_references(ByteView html, std::string_view cid) {
  if (cid.empty()) return false;
  for (const char *prefix : {"cid:", "CID:", "Cid:"}) {
    std::string needle = std::string(prefix) + std::string(cid);
    if (html.find(needle) != ByteView::npos) return true;
  }
  return false;
}

std::string strip_angles(std::string_view cid) {
  std::string v = one_line(cid);
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
  return v;
}

std::string embedded_filename(const model::Attachment &att) {
  std::string name = clean_filename(att.filename);
  if (name.empty() && att.embedded) name = clean_filename(att.embedded->subject);
  // Path separators and characters Windows rejects would make the saved file name fail.
  for (char &c : name)
    if (std::strchr("/\\:*?\"<>|", c) != nullptr) c = '_';
  if (name.empty()) name = "message";
  if (!ends_with_ci(name, ".eml")) name += ".eml";
  return name;
}

void hash_address(const model::Address &a, Sha256 &h) {
  h.add(a.name);
  h.add(a.smtp);
  h.add(a.x500);
}

void hash_time(const std::optional<i64> &t, Sha256 &h) {
  h.add(t ? std::to_string(*t) : std::string("-"));
}

/// Everything that identifies an item's content; recursion into embedded messages is bounded
/// because build_impl has already enforced limits::MAX_EMBED_DEPTH on them.
void hash_message(const model::Message &msg, Sha256 &h) {
  h.add(msg.message_class);
  h.add(msg.subject);
  hash_address(msg.from, h);
  hash_address(msg.sender, h);
  for (const model::Recipient &r : msg.recipients) {
    h.add(std::to_string(static_cast<int>(r.type)));
    hash_address(r.address, h);
  }
  h.add(msg.display_to);
  h.add(msg.display_cc);
  h.add(msg.display_bcc);
  hash_time(msg.submit_time, h);
  hash_time(msg.delivery_time, h);
  hash_time(msg.creation_time, h);
  hash_time(msg.modification_time, h);
  h.add(msg.transport_headers);
  h.add(msg.in_reply_to);
  h.add(msg.references);
  h.add(msg.body_text ? "T" + *msg.body_text : std::string("-"));
  h.add(msg.body_html ? "H" + *msg.body_html : std::string("-"));
  h.add(msg.body_rtf ? "R" + *msg.body_rtf : std::string("-"));
  for (const model::Attachment &a : msg.attachments) {
    h.add(std::to_string(static_cast<int>(a.kind)));
    h.add(a.filename);
    h.add(a.content_id);
    h.add(a.data);
    h.add(a.reference_path);
    if (a.embedded) hash_message(*a.embedded, h);
  }
}

Result<Built> build_impl(const model::Message &msg, const BuildOptions &opts, int depth);

/// Serializes the finished tree in one pass, hashing the message as it is written; with
/// opts.mboxrd the bytes are framed in the same pass. Quoting is needed only where a text
/// line starts with ">*From " (or a CR precedes a LF): the text outside base64 bodies is
/// checked, and only then is the entry rewritten by append_mboxrd. A message larger than
/// opts.stream_above goes to the temporary file opts.stream_to provides instead of memory.
void write_out(Built &built, const Entity &root, const BuildOptions &opts, std::string_view eol,
               bool top) {
  Bytes &out = built.bytes;
  if (!top) {  // an embedded message: its parent hashes and frames it
    out = serialize(root, eol);
    built.message_size = out.size();
    return;
  }
  const std::size_t size = serialized_size(root, eol);
  std::FILE *file = nullptr;
  if (opts.stream_to && size > opts.stream_above) file = opts.stream_to();
  u64 file_start = 0;
  if (file) {
    std::fseek(file, 0, SEEK_END);
    file_start = static_cast<u64>(std::ftell(file));
  }
  // The pipeline hands finished buffers back to the pool once written (util::BufferPool).
  // The buffer is sized up front and filled in place (see Emitter).
  Bytes from_line;
  if (opts.mboxrd) append_from_line(from_line, built.envelope_sender, built.date);
  out = util::BufferPool::instance().take_sized(
      from_line.size() + std::min<std::size_t>(size, file ? Emitter::kStage + (256u << 10) : size) +
      2);
  std::memcpy(out.data(), from_line.data(), from_line.size());
  const std::size_t begin = from_line.size();
  util::Sha256 hash;
  Emitter em(out, &hash, file, opts.mboxrd, begin, begin);
  serialize_into(em, root, eol);
  // LF output (mbox, batch) always ends the message with a newline, as mbox framing would:
  // hash what a reader gets back.
  if (!opts.crlf && (em.total() == begin || em.last() != '\n')) em.put("\n");
  built.sha256 = hash.finish();
  built.data_digests = std::move(em.data_digests);
  built.message_size = em.total() - begin;
  em.scan();
  em.finish();
  if (opts.mboxrd && em.needs_rewrite) {
    Bytes message;
    if (file) {  // rare: read the message back from the file and write it again, quoted
      em.flush();
      message.resize(built.message_size);
      std::fseek(file, static_cast<long>(file_start + begin), SEEK_SET);
      if (std::fread(message.data(), 1, message.size(), file) != message.size())
        throw FatalError("cannot read back a temporary file");
      if (::ftruncate(fileno(file), static_cast<off_t>(file_start)) != 0)
        throw FatalError(std::string("cannot truncate a temporary file: ") + std::strerror(errno));
      std::fseek(file, 0, SEEK_END);
    } else {
      message = out.substr(begin);
    }
    out.clear();
    append_mboxrd(out, message, built.envelope_sender, built.date);
  } else if (opts.mboxrd) {
    out += '\n';
  }
  if (file) {
    Emitter rest(out, nullptr, file);
    rest.flush();
    if (std::fflush(file) != 0)
      throw FatalError(std::string("cannot write a temporary file: ") + std::strerror(errno));
    built.streamed = true;
    built.stream_offset = file_start;
    built.stream_size = static_cast<u64>(std::ftell(file)) - file_start;
    util::BufferPool::instance().give(std::move(out));
    out.clear();
  }
}

}  // namespace

namespace {

/// The first Date field of a transport header block, unfolded; "" when there is none.
std::string transport_date_field(ByteView block) {
  std::string value;
  bool in_date = false;
  std::size_t i = 0;
  while (i < block.size()) {
    std::size_t nl = block.find('\n', i);
    std::size_t end = nl == ByteView::npos ? block.size() : nl;
    ByteView line = block.substr(i, end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    i = nl == ByteView::npos ? block.size() : nl + 1;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (in_date) value.append(line.begin(), line.end());
      continue;
    }
    if (in_date) break;
    if (line.size() >= 5 && iequals_ascii(line.substr(0, 5), "date:")) {
      in_date = true;
      value.assign(line.begin() + 5, line.end());
    }
  }
  return value;
}

}  // namespace

std::optional<i64> message_date(const model::Message &msg) {
  // The Date field the transport headers carry is the one written (they are kept verbatim), so
  // it is the date of the message everywhere else too: From_ line, maildir, manifest, dedup.
  if (!msg.transport_headers.empty()) {
    std::string field = transport_date_field(msg.transport_headers);
    if (!field.empty()) {
      if (std::optional<i64> d = parse_rfc5322_date(field)) return d;
    }
  }
  if (msg.submit_time) return msg.submit_time;
  if (msg.delivery_time) return msg.delivery_time;
  if (msg.creation_time) return msg.creation_time;
  if (msg.modification_time) return msg.modification_time;
  return std::nullopt;
}

namespace {

/// An S/MIME item's stored entity as the message body (smime.h), or nullopt for other items.
std::optional<Entity> smime_entity(const model::Message &msg, Ctx &ctx) {
  std::optional<smime::Stored> st = smime::stored_entity(msg, ctx.eol, ctx.warnings);
  if (!st) return std::nullopt;
  Entity e;
  e.fields = std::move(st->fields);
  if (st->base64) {
    e.b64 = st->raw;
    e.lazy_b64 = true;
  } else {
    e.body = std::move(st->body);
  }
  return e;
}

/// multipart/report ([RFC 6522]): the human-readable body, the machine-readable part, then the
/// original: the attached copy when the report carries one (message/rfc822), else the headers
/// the report remembers (text/rfc822-headers). Other attachments follow in multipart/mixed.
Entity report_entity(Entity human, std::vector<Entity> mixed, std::optional<std::size_t> original,
                     report::Parts rep, Ctx &ctx) {
  for (Problem &w : rep.warnings) ctx.warnings.push_back(std::move(w));
  std::vector<Entity> parts;
  parts.push_back(std::move(human));
  Entity machine;
  machine.fields.push_back("Content-Type: " + rep.machine_type);
  machine.fields.push_back("Content-Transfer-Encoding: 7bit");
  machine.body = std::move(rep.machine_body);
  parts.push_back(std::move(machine));
  std::vector<Entity> rest;
  for (std::size_t i = 0; i < mixed.size(); ++i) {
    if (original && i == *original)
      parts.push_back(std::move(mixed[i]));
    else
      rest.push_back(std::move(mixed[i]));
  }
  if (!original && !rep.original_headers.empty()) {
    Entity headers;
    headers.fields.push_back("Content-Type: text/rfc822-headers; charset=us-ascii");
    headers.fields.push_back("Content-Transfer-Encoding: 7bit");
    headers.body = std::move(rep.original_headers);
    parts.push_back(std::move(headers));
  }
  Entity report = multipart("report", std::move(parts), "report-type=" + rep.report_type, 1, ctx);
  if (rest.empty()) return report;
  std::vector<Entity> outer;
  outer.push_back(std::move(report));
  for (Entity &r : rest) outer.push_back(std::move(r));
  return multipart("mixed", std::move(outer), "", 0, ctx);
}

Result<Built> build_impl(const model::Message &msg, const BuildOptions &opts, int depth) {
  if (depth > limits::MAX_EMBED_DEPTH) {
    return Problem{ProblemCode::LimitExceeded,
                   "embedded messages nested deeper than " +
                       std::to_string(limits::MAX_EMBED_DEPTH)};
  }
  Ctx ctx{opts, opts.crlf ? "\r\n" : "\n", depth, {}};
  const std::string &eol = ctx.eol;
  std::vector<std::string> omitted;  // X-Mailmill-Omitted-Attachment values

  // Text bodies.
  Bodies bodies;
  if (msg.body_text) {
    if (text::is_valid_utf8(*msg.body_text))
      bodies.plain = text_entity("text/plain", "utf-8", *msg.body_text, ctx);
    else
      bodies.plain = text_entity("text/plain", "utf-8", text::sanitize_utf8(*msg.body_text), ctx);
  }
  if (msg.body_html) {
    std::string cs = one_line(msg.html_charset);
    if (cs.empty()) {
      if (text::is_valid_utf8(*msg.body_html)) {
        cs = "utf-8";
      } else {
        ctx.warnings.push_back(
            {ProblemCode::CharsetUnknown, "HTML body has no charset; declared without one"});
      }
    }
    bodies.html_bytes = *msg.body_html;  // a view: msg outlives bodies
    bodies.html = text_entity("text/html", cs, *msg.body_html, ctx);
  }
  add_rtf(msg, bodies, ctx);

  // Attachments: inline ones referenced by the HTML join it in multipart/related.
  std::vector<Entity> related;
  std::vector<Entity> mixed;
  std::optional<std::size_t> first_embedded;  // index in `mixed` (a report's original)
  for (const model::Attachment &att : msg.attachments) {
    std::string label = att.filename.empty() ? std::string("(unnamed)") : one_line(att.filename);
    switch (att.kind) {
      case model::AttachmentKind::ByValue:
      case model::AttachmentKind::Ole: {
        if (att.kind == model::AttachmentKind::Ole && att.data.empty()) {
          ctx.warnings.push_back({ProblemCode::AttachmentNotExportable,
                                  "OLE attachment without data: " + label});
          omitted.push_back(label + " (OLE object without data)");
          break;
        }
        // An OLE object goes out as the picture or file it holds (mime/ole_attachment.h).
        const model::Attachment unpacked = att.kind == model::AttachmentKind::Ole
                                               ? ole_attachment_for_mime(att, ctx.warnings)
                                               : model::Attachment{};
        const model::Attachment &out = att.kind == model::AttachmentKind::Ole ? unpacked : att;
        if (att.kind == model::AttachmentKind::Ole) ctx.keep_alive.push_back(out.data);
        std::string cid = strip_angles(out.content_id);
        bool rel = bodies.html && out.is_inline && html_references(bodies.html_bytes, cid);
        if (rel) related.push_back(attachment_entity(out, true, ctx));
        else mixed.push_back(attachment_entity(out, false, ctx));
        break;
      }
      case model::AttachmentKind::Embedded: {
        if (!att.embedded) {
          ctx.warnings.push_back({ProblemCode::EmbeddedUnreadable,
                                  "embedded message missing: " + label});
          omitted.push_back(label + " (embedded message unreadable)");
          break;
        }
        BuildOptions sub = opts;
        sub.flags = FlagStyle::None;  // mailbox state belongs to the outer item only
        sub.mboxrd = false;
        Result<Built> inner = build_impl(*att.embedded, sub, depth + 1);
        if (!inner.ok()) return inner.problem();
        for (Problem &w : inner->warnings) {
          w.detail = "embedded message: " + w.detail;
          ctx.warnings.push_back(std::move(w));
        }
        Entity e;
        e.fields.push_back("Content-Type: message/rfc822");
        // message/rfc822 allows only 7bit, 8bit or binary ([RFC 2046] 5.2.1).
        const char *cte = fits_in_lines(inner->bytes, false)  ? "7bit"
                          : fits_in_lines(inner->bytes, true) ? "8bit"
                                                               : "binary";
        e.fields.push_back(std::string("Content-Transfer-Encoding: ") + cte);
        e.fields.push_back("Content-Disposition: attachment;" + eol + " " +
                           format_param("filename", embedded_filename(att), eol));
        e.body = std::move(inner->bytes);
        if (!first_embedded) first_embedded = mixed.size();
        mixed.push_back(std::move(e));
        break;
      }
      case model::AttachmentKind::Reference: {
        std::string where = one_line(att.reference_path);
        ctx.warnings.push_back({ProblemCode::AttachmentNotExportable,
                                "attachment by reference not exported: " + label +
                                    (where.empty() ? "" : " -> " + where)});
        omitted.push_back(label + " (by reference" + (where.empty() ? "" : ": " + where) + ")");
        break;
      }
      case model::AttachmentKind::Unreadable: {
        std::string why = att.problem ? one_line(att.problem->detail) : std::string();
        ctx.warnings.push_back({ProblemCode::AttachmentUnreadable,
                                "attachment unreadable: " + label + (why.empty() ? "" : ": " + why)});
        omitted.push_back(label + " (unreadable)");
        break;
      }
    }
  }

  // Assemble: alternative(text/plain, application/rtf, related(html, inline...)), then mixed.
  int level = 1;
  std::vector<Entity> alts;
  if (bodies.plain) alts.push_back(std::move(*bodies.plain));
  if (bodies.rtf) alts.push_back(std::move(*bodies.rtf));
  if (bodies.html) {
    if (related.empty()) {
      alts.push_back(std::move(*bodies.html));
    } else {
      std::vector<Entity> rel;
      rel.push_back(std::move(*bodies.html));
      for (Entity &r : related) rel.push_back(std::move(r));
      alts.push_back(multipart("related", std::move(rel), "type=\"text/html\"", 3, ctx));
    }
  }
  // Meeting messages carry the invitation or reply as a text/calendar alternative, the way
  // Outlook sends them (RFC 6047 2.4; issue 12).
  if (std::optional<Bytes> cal = render_meeting_ics(msg)) {
    alts.push_back(text_entity("text/calendar; method=" + *meeting_method(msg.message_class),
                               "utf-8", *cal, ctx));
  }
  std::optional<Entity> body;
  if (alts.size() == 1) body = std::move(alts[0]);
  else if (alts.size() > 1) body = multipart("alternative", std::move(alts), "", 2, ctx);
  std::optional<report::Parts> rep = report::build(msg, eol);
  const bool dsn = rep && rep->report_type == "delivery-status";
  if (rep && !body) body = text_entity("text/plain", "utf-8", rep->summary, ctx);
  if (!body && mixed.empty()) body = text_entity("text/plain", "utf-8", "", ctx);
  Entity root;
  if (std::optional<Entity> stored = smime_entity(msg, ctx)) {
    root = std::move(*stored);
  } else if (rep) {
    root = report_entity(std::move(*body), std::move(mixed), first_embedded, std::move(*rep), ctx);
  } else if (mixed.empty()) {
    root = std::move(*body);
  } else {
    std::vector<Entity> parts;
    if (body) parts.push_back(std::move(*body));
    for (Entity &m : mixed) parts.push_back(std::move(m));
    root = multipart("mixed", std::move(parts), "", level, ctx);
  }

  // Top-level header fields.
  Built built;
  std::optional<i64> date = message_date(msg);
  built.date = date.value_or(0);
  std::string from_smtp = one_line(msg.from.smtp);
  std::string sender_smtp = one_line(msg.sender.smtp);
  built.envelope_sender = !from_smtp.empty() ? from_smtp : sender_smtp;
  if (built.envelope_sender.find(' ') != std::string::npos) built.envelope_sender.clear();

  std::vector<std::string> h;
  bool have_from = false, have_date = false, have_mid = false, have_subject = false,
       have_to = false, have_cc = false, have_keywords = false;
  std::string mid;
  if (!msg.transport_headers.empty()) {
    for (HeaderField &f : split_transport(msg.transport_headers, ctx)) {
      if (replaced_field(f.lname)) continue;
      if (f.lname == "from") have_from = true;
      if (f.lname == "date") have_date = true;
      if (f.lname == "subject") have_subject = true;
      if (f.lname == "to") have_to = true;
      if (f.lname == "cc" || f.lname == "bcc") have_cc = true;
      if (f.lname == "keywords") have_keywords = true;
      if (f.lname == "message-id") {
        have_mid = true;
        if (mid.empty()) mid = field_value(f);
      }
      h.push_back(std::move(f.raw));
    }
  }
  const bool synthesize_all = msg.transport_headers.empty();
  if (!have_date && date) h.push_back("Date: " + format_rfc5322_date(*date));
  if (!have_from) {
    std::string from = mailbox_of(msg.from);
    if (from.empty()) from = mailbox_of(msg.sender);
    if (!from.empty()) {
      h.push_back(fold_structured("From", from, eol));
    } else {
      // [RFC 5322] 3.6 requires a From field. The item names no sender (a draft, a message
      // made by a program): an empty group says so without inventing an address, and the
      // marker tells a reader that mailmill wrote it.
      h.push_back("From: undisclosed-sender:;");
      h.push_back("X-Mailmill-Synthesized: from");
    }
  }
  if (synthesize_all) {
    bool same = (msg.sender.smtp.empty() && msg.sender.x500.empty()) ||
                (iequals_ascii(msg.sender.smtp, msg.from.smtp) &&
                 iequals_ascii(msg.sender.x500, msg.from.x500));
    if (!same && !msg.from.empty()) {
      std::string s = mailbox_of(msg.sender);
      if (!s.empty()) h.push_back(fold_structured("Sender", s, eol));
    }
    if (!msg.from.x500.empty()) h.push_back("X-Mailmill-X500-From: " + one_line(msg.from.x500));
    if (!same && !msg.sender.x500.empty())
      h.push_back("X-Mailmill-X500-Sender: " + one_line(msg.sender.x500));
  }
  // Transport headers are kept as they are, but a block without Subject, or without any
  // recipient field (a truncated or relay-only block), gets them from the MAPI properties.
  // Bcc only when there is no transport header block at all: it is never transmitted.
  // A delivery report's recipient table lists the original's recipients, whom the report is
  // about, not whom it is for ([MS-OXCMAIL] 2.1.3.6.1): those go to the delivery-status part,
  // and the report is addressed to the original's sender when the item knows it.
  const bool add_recipients = !have_to && !have_cc && !dsn;
  if (dsn && !have_to && !have_cc && msg.report) {
    const model::Report &r = *msg.report;
    model::Address orig{r.original_sender_name, "", "", r.original_sender_addr_type};
    if (r.original_sender_addr_type.empty() || iequals_ascii(r.original_sender_addr_type, "SMTP"))
      orig.smtp = r.original_sender_email;
    if (orig.smtp.find('@') != std::string::npos)
      h.push_back(fold_structured("To", mailbox_of(orig), eol));
  }
  if (!have_subject) {
    std::string subject = text::sanitize_utf8(one_line(msg.subject));
    if (!subject.empty()) h.push_back(unstructured("Subject", subject, eol));
  }
  {
    struct {
      model::RecipientType type;
      const char *name;
      const std::string *display;
      bool wanted;
    } lists[] = {{model::RecipientType::To, "To", &msg.display_to, add_recipients},
                 {model::RecipientType::Cc, "Cc", &msg.display_cc, add_recipients},
                 {model::RecipientType::Bcc, "Bcc", &msg.display_bcc, synthesize_all}};
    for (const auto &l : lists) {
      if (!l.wanted) continue;
      std::string v;
      for (const model::Recipient &r : msg.recipients) {
        if (r.type != l.type) continue;
        std::string m = mailbox_of(r.address);
        if (m.empty()) continue;
        if (!v.empty()) v += ", ";
        v += m;
      }
      if (v.empty() && msg.recipients.empty()) v = names_as_groups(*l.display);
      if (!v.empty()) h.push_back(fold_structured(l.name, v, eol));
    }
  }
  if (!have_mid) {
    mid = angle(msg.message_id);
    if (mid.empty()) {
      // Content hash of the item itself (not of the output bytes), so re-runs and the EML and
      // mbox outputs of one item all carry the same id.
      Sha256 hash;
      hash_message(msg, hash);
      mid = "<" + hash.hex(32) + "@" + one_line(opts.generated_id_domain) + ">";
      built.message_id_generated = true;
    }
    h.push_back("Message-ID: " + mid);
    if (built.message_id_generated) h.push_back("X-Mailmill-Generated-Message-ID: yes");
  }
  built.message_id = mid;
  if (synthesize_all) {
    std::string irt = one_line(msg.in_reply_to);
    if (!irt.empty()) h.push_back(fold_structured("In-Reply-To", irt, eol));
    std::string refs = one_line(msg.references);
    if (!refs.empty()) h.push_back(fold_structured("References", refs, eol));
    if (msg.importance == 0) {
      h.push_back("Importance: low");
      h.push_back("X-Priority: 5");
    } else if (msg.importance == 2) {
      h.push_back("Importance: high");
      h.push_back("X-Priority: 1");
    }
    // [RFC 2156] Sensitivity values.
    if (msg.sensitivity == 1) h.push_back("Sensitivity: Personal");
    else if (msg.sensitivity == 2) h.push_back("Sensitivity: Private");
    else if (msg.sensitivity == 3) h.push_back("Sensitivity: Company-Confidential");
  }
  // Categories are the user's own, never transmitted: always carried as Keywords.
  if (!have_keywords) {
    std::string kw;
    for (const std::string &c : msg.categories) {
      std::string cat = text::sanitize_utf8(one_line(c));
      if (cat.empty()) continue;
      if (!kw.empty()) kw += ", ";
      kw += detail::needs_rfc2047(cat) ? detail::encoded_words(cat, 0, " ")
                                       : detail::quote_if_needed(cat);
    }
    if (!kw.empty()) h.push_back(fold_structured("Keywords", kw, eol));
  }
  for (const std::string &o : omitted)
    h.push_back(unstructured("X-Mailmill-Omitted-Attachment", text::sanitize_utf8(o), eol));
  add_flags(h, msg.flags, opts.flags);
  h.push_back("MIME-Version: 1.0");
  for (std::string &f : root.fields) h.push_back(std::move(f));
  root.fields = std::move(h);
  write_out(built, root, opts, eol, depth == 0);
  // Unpacked OLE objects die with ctx: digests of their bytes would name freed memory, which
  // a later allocation could reuse (the content key matches digests by address).
  std::erase_if(built.data_digests, [&](const DataDigest &d) {
    return std::any_of(ctx.keep_alive.begin(), ctx.keep_alive.end(),
                       [&](const Blob &b) { return b.data() == d.data; });
  });
  built.warnings = std::move(ctx.warnings);
  return built;
}

}  // namespace

Result<Built> build_message(const model::Message &msg, const BuildOptions &opts) {
  return build_impl(msg, opts, 0);
}

}  // namespace mm::mime
