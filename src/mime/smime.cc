#include "smime.h"

#include <cstring>

#include "mailmill/util/text.h"

namespace mm::mime::smime {

namespace {

using text::iequals_ascii;
using text::istarts_with_ascii;

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals_ascii(s.substr(s.size() - suffix.size()), suffix);
}

/// CRLF or LF line ends become `eol`; a bare CR stays (the signed bytes are not ours to edit).
Bytes with_eol(ByteView in, std::string_view eol) {
  Bytes out;
  out.reserve(in.size() + in.size() / 32);
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t nl = in.find('\n', i);
    if (nl == ByteView::npos) {
      out.append(in.substr(i));
      break;
    }
    const std::size_t end = nl > i && in[nl - 1] == '\r' ? nl - 1 : nl;
    out.append(in.substr(i, end - i));
    out.append(eol);
    i = nl + 1;
  }
  return out;
}

/// A header field name: printable ASCII without ':' ([RFC 5322] 2.2), at least one character.
bool field_line(ByteView line) {
  const std::size_t colon = line.find(':');
  if (colon == ByteView::npos || colon == 0) return false;
  for (std::size_t k = 0; k < colon; ++k) {
    const auto c = static_cast<unsigned char>(line[k]);
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

/// Splits a stored MIME entity into its header fields (each with its continuation lines) and
/// the offset of its body. nullopt when the bytes do not start with a header block that has a
/// Content-Type: then they are not a MIME entity.
struct Split {
  std::vector<std::pair<std::string, std::string>> fields;  ///< lower-case name, raw lines
  std::size_t body = 0;
};
std::optional<Split> split_entity(ByteView data, std::string_view eol) {
  Split s;
  bool content_type = false;
  std::size_t i = 0;
  while (true) {
    if (i >= data.size()) return std::nullopt;  // no empty line: no body
    std::size_t nl = data.find('\n', i);
    const std::size_t next = nl == ByteView::npos ? data.size() : nl + 1;
    ByteView line = data.substr(i, (nl == ByteView::npos ? data.size() : nl) - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    i = next;
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (s.fields.empty()) return std::nullopt;
      s.fields.back().second += eol;
      s.fields.back().second += line;
      continue;
    }
    if (!field_line(line)) return std::nullopt;
    std::string name = text::to_lower_ascii(line.substr(0, line.find(':')));
    if (name == "content-type") content_type = true;
    s.fields.emplace_back(std::move(name), std::string(line));
  }
  if (!content_type) return std::nullopt;
  s.body = i;
  return s;
}

bool is_smime_attachment(const model::Attachment &a) {
  if (a.kind != model::AttachmentKind::ByValue || a.data.empty()) return false;
  std::string t = text::to_lower_ascii(text::trim(a.mime_type));
  return iequals_ascii(text::trim(a.filename), "smime.p7m") || t.starts_with("multipart/signed") ||
         t.starts_with("application/pkcs7-mime") || t.starts_with("application/x-pkcs7-mime");
}

/// The boundary of a multipart body that came without its header: its first delimiter line.
std::string first_delimiter(ByteView body) {
  std::size_t i = 0;
  while (i < body.size()) {
    std::size_t nl = body.find('\n', i);
    ByteView line = body.substr(i, (nl == ByteView::npos ? body.size() : nl) - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > 2 && line.starts_with("--")) return std::string(text::trim(line.substr(2)));
    if (nl == ByteView::npos) break;
    i = nl + 1;
  }
  return {};
}

// DER length at `pos` (short or long form, at most 4 bytes); BER's indefinite form (0x80)
// reads as "to the end". False when the bytes end first.
bool der_length(ByteView d, std::size_t &pos, std::size_t &len) {
  if (pos >= d.size()) return false;
  const auto first = static_cast<u8>(d[pos++]);
  if (first < 0x80) {
    len = first;
    return true;
  }
  if (first == 0x80) {
    len = d.size() - pos;
    return true;
  }
  const std::size_t n = first & 0x7F;
  if (n > 4 || pos + n > d.size()) return false;
  len = 0;
  for (std::size_t k = 0; k < n; ++k) len = (len << 8) | static_cast<u8>(d[pos++]);
  return true;
}

}  // namespace

Kind kind_of(std::string_view cls) {
  const bool note =
      istarts_with_ascii(cls, "IPM.Note.") || istarts_with_ascii(cls, "IPM.InfoPathForm.");
  if (!note) return Kind::None;
  if (iequals_ascii(cls, "IPM.Note.SMIME.MultipartSigned") ||
      (istarts_with_ascii(cls, "IPM.InfoPathForm.") && ends_with_ci(cls, ".SMIME.MultipartSigned")))
    return Kind::MultipartSigned;
  if (iequals_ascii(cls, "IPM.Note.SMIME") ||
      (istarts_with_ascii(cls, "IPM.InfoPathForm.") && ends_with_ci(cls, ".SMIME")))
    return Kind::Opaque;
  return Kind::None;
}

std::string smime_type_of(ByteView der) {
  // ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ... }
  std::size_t pos = 0, len = 0;
  if (der.empty() || static_cast<u8>(der[0]) != 0x30) return {};
  pos = 1;
  if (!der_length(der, pos, len)) return {};
  if (pos >= der.size() || static_cast<u8>(der[pos]) != 0x06) return {};
  ++pos;
  if (!der_length(der, pos, len) || pos + len > der.size()) return {};
  ByteView oid = der.substr(pos, len);
  // 1.2.840.113549.1.7.{2,3}; 1.2.840.113549.1.9.16.1.{9,23}
  static constexpr char PKCS7[] = "\x2A\x86\x48\x86\xF7\x0D\x01\x07";
  static constexpr char SMIME_CT[] = "\x2A\x86\x48\x86\xF7\x0D\x01\x09\x10\x01";
  if (oid.size() == 9 && oid.starts_with(ByteView(PKCS7, 8))) {
    if (oid[8] == 2) return "signed-data";
    if (oid[8] == 3) return "enveloped-data";
  }
  if (oid.size() == 11 && oid.starts_with(ByteView(SMIME_CT, 10))) {
    if (oid[10] == 9) return "compressed-data";
    if (oid[10] == 23) return "authEnveloped-data";
  }
  return {};
}

std::optional<Stored> stored_entity(const model::Message &msg, std::string_view eol,
                                    std::vector<Problem> &warnings) {
  const Kind kind = kind_of(msg.message_class);
  if (kind == Kind::None) return std::nullopt;
  const model::Attachment *att = nullptr;
  i64 others = 0;
  for (const model::Attachment &a : msg.attachments) {
    if (att == nullptr && is_smime_attachment(a))
      att = &a;
    else
      ++others;
  }
  if (att == nullptr) {
    warnings.push_back({ProblemCode::AttachmentUnreadable,
                        msg.message_class + " item has no readable smime.p7m attachment; "
                                            "built from its properties (no signature)"});
    return std::nullopt;
  }
  if (others > 0) {
    warnings.push_back({ProblemCode::AttachmentNotExportable,
                        std::to_string(others) + " attachment(s) beside smime.p7m of an " +
                            msg.message_class + " item not written"});
  }
  const ByteView data = att->data;
  Stored st;
  // A stored MIME entity (always for MultipartSigned; some writers store the opaque form with
  // its header too): its fields and body as they are, line ends aside. MIME-Version belongs to
  // the message header, which the builder writes.
  if (std::optional<Split> sp = split_entity(data, eol)) {
    for (auto &[name, raw] : sp->fields)
      if (name != "mime-version") st.fields.push_back(std::move(raw));
    st.body = with_eol(data.substr(sp->body), eol);
    return st;
  }
  if (kind == Kind::MultipartSigned) {
    // The body without its header: the delimiter names the boundary. micalg cannot be known
    // without reading the signature; verifiers take the algorithm from the signature itself.
    std::string boundary = first_delimiter(data);
    if (boundary.empty() || boundary.find('"') != std::string::npos) {
      warnings.push_back({ProblemCode::AttachmentUnreadable,
                          "multipart/signed content of an S/MIME item has neither header nor "
                          "boundary; built from its properties (no signature)"});
      return std::nullopt;
    }
    st.fields.push_back("Content-Type: multipart/signed;" + std::string(eol) +
                        " protocol=\"application/pkcs7-signature\";" + std::string(eol) +
                        " boundary=\"" + boundary + "\"");
    st.body = with_eol(data, eol);
    return st;
  }
  // [RFC 8551] 3.2: application/pkcs7-mime with its smime-type, as base64.
  std::string type = smime_type_of(data);
  std::string ct = "Content-Type: application/pkcs7-mime;";
  if (!type.empty()) ct += " smime-type=" + type + ";";
  ct += std::string(eol) + " name=\"smime.p7m\"";
  st.fields.push_back(std::move(ct));
  st.fields.push_back("Content-Transfer-Encoding: base64");
  st.fields.push_back("Content-Disposition: attachment; filename=\"smime.p7m\"");
  st.raw = data;
  st.base64 = true;
  if (type.empty()) {
    warnings.push_back({ProblemCode::AttachmentUnreadable,
                        "smime.p7m is not a CMS ContentInfo we recognize; written as "
                        "application/pkcs7-mime without smime-type"});
  }
  return st;
}

}  // namespace mm::mime::smime
