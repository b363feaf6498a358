// TNEF (winmail.dat, application/ms-tnef) expansion with libytnef: the attachments the stream
// carries become real attachments, and its bodies (PR_BODY, PR_BODY_HTML, PR_RTF_COMPRESSED)
// fill the bodies the message lacks. libytnef's headers define many short macros (BYTE, DWORD,
// PR_*), so they are included here only, never next to other headers that might clash.
#include <cstddef>
#include <cstdio>
// clang-format off: ytnef.h needs FILE and size_t declared first, and is a C header without
// extern "C" of its own.
extern "C" {
#include <ytnef.h>
}
// clang-format on

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "mailmill/mime/limits.h"
#include "mailmill/util/text.h"
#include "parse_impl.h"

namespace mm::mime::detail {
namespace {

variableLength *find_prop(MAPIProps *props, unsigned type, unsigned id) {
  variableLength *v = MAPIFindProperty(props, PROP_TAG(type, id));
  if (v == MAPI_UNDEFINED || v == nullptr || v->data == nullptr || v->size <= 0) return nullptr;
  return v;
}

// A string property: PT_STRING8 read as windows-1252 when not UTF-8. libytnef hands PT_UNICODE
// values over already converted to 8-bit UTF-8 (aspnet__tnefEml1.eml); UTF-16LE is still
// recognized by its zero high byte.
std::string string_prop(MAPIProps *props, unsigned id) {
  if (variableLength *w = find_prop(props, PT_UNICODE, id)) {
    std::string_view s(reinterpret_cast<const char *>(w->data), static_cast<std::size_t>(w->size));
    if (s.size() >= 2 && s[1] == '\0') return text::utf16le_to_utf8(s, true);
    if (std::size_t nul = s.find('\0'); nul != std::string_view::npos) s = s.substr(0, nul);
    return text::sanitize_utf8(s);
  }
  if (variableLength *a = find_prop(props, PT_STRING8, id)) {
    std::string_view s(reinterpret_cast<const char *>(a->data), static_cast<std::size_t>(a->size));
    if (std::size_t nul = s.find('\0'); nul != std::string_view::npos) s = s.substr(0, nul);
    if (auto u = charset_to_utf8(s, text::is_valid_utf8(s) ? "utf-8" : "windows-1252")) return *u;
  }
  return {};
}

std::string_view bytes_of(const variableLength &v) {
  if (v.data == nullptr || v.size <= 0) return {};
  return {reinterpret_cast<const char *>(v.data), static_cast<std::size_t>(v.size)};
}

// Owns a TNEFStruct. TNEFFree frees the attachments chained after `starting_attach` but not
// the fields of `starting_attach` itself, and libytnef fills that slot whenever an attachment
// record (attAttachTitle, attAttachData, attAttachment, attAttachMetaFile) comes before the
// first attAttachRendData, which is what opens a new slot. So it is freed here as well (found
// by fuzz_tnef: tests/fuzz/seeds/tnef/attach_before_renddata.hex). TNEFFreeAttachment only
// touches that slot's own fields, never its `next` chain, so nothing is freed twice.
struct TnefGuard {
  TNEFStruct t;
  TnefGuard() { TNEFInitialize(&t); }
  ~TnefGuard() {
    TNEFFreeAttachment(&t.starting_attach);
    TNEFFree(&t);
  }
};

}  // namespace

namespace {

constexpr u32 TNEF_SIGNATURE = 0x223E9F78;

u32 le32(std::string_view d, std::size_t at) {
  return static_cast<u32>(static_cast<unsigned char>(d[at])) |
         static_cast<u32>(static_cast<unsigned char>(d[at + 1])) << 8 |
         static_cast<u32>(static_cast<unsigned char>(d[at + 2])) << 16 |
         static_cast<u32>(static_cast<unsigned char>(d[at + 3])) << 24;
}

// Attributes that libytnef stores in the attachment slot last opened by attAttachRendData
// (the rest belong to the message, whatever level byte the record carries: libytnef never
// looks at it).
bool is_slot_attribute(u32 id) {
  switch (id) {
    case attAttachData:
    case attAttachTitle:
    case attAttachMetaFile:
    case attAttachCreateDate:
    case attAttachModifyDate:
    case attAttachTransportFilename:
    case attAttachment:
      return true;
    default:
      return false;
  }
}

// The stream as handed to libytnef: each attribute's last record only (per attachment slot for
// attachment attributes), byte for byte, checksums included. libytnef's handlers store a value
// without freeing one stored before (attFrom, attBody, attOemCodepage, attAttachTitle,
// attAttachData, attMAPIProps, attAttachment, ...), so a stream that repeats an attribute
// leaked the earlier copy on every read (found by fuzz_tnef:
// tests/fuzz/seeds/tnef/repeated_attributes.hex). Keeping the last record gives what libytnef
// itself ends up with (a later value replaces an earlier one). Records are read as libytnef
// reads them ([MS-OXTNEF] 2.1.3.1: level byte, attribute id, length, data, checksum); from the
// first record that does not fit, the rest is copied unchanged and libytnef fails there as
// before.
std::vector<BYTE> without_repeats(std::string_view d) {
  struct Record {
    std::size_t begin, end;
    u64 key;
  };
  std::vector<Record> records;
  std::size_t pos = 6;  // signature and key
  u64 slot = 0;
  while (d.size() - pos >= 9) {
    const u32 id = le32(d, pos + 1);
    const u64 len = le32(d, pos + 5);
    if (len + 2 > d.size() - pos - 9) break;
    const std::size_t end = pos + 9 + static_cast<std::size_t>(len) + 2;
    u64 key;
    if (id == attAttachRenddata) {
      key = ~u64{0} - records.size();  // opens a slot: never merged with another record
      ++slot;
    } else {
      key = (is_slot_attribute(id) ? slot << 32 : u64{0xFFFFFFFF} << 32) | id;
    }
    records.push_back({pos, end, key});
    pos = end;
  }
  std::vector<std::size_t> last(records.size());
  {
    std::map<u64, std::size_t> latest;
    for (std::size_t i = 0; i < records.size(); ++i) latest[records[i].key] = i;
    for (std::size_t i = 0; i < records.size(); ++i) last[i] = latest[records[i].key];
  }
  std::vector<BYTE> out;
  out.reserve(d.size());
  out.insert(out.end(), d.begin(), d.begin() + 6);
  for (std::size_t i = 0; i < records.size(); ++i)
    if (last[i] == i)
      out.insert(out.end(), d.begin() + static_cast<std::ptrdiff_t>(records[i].begin),
                 d.begin() + static_cast<std::ptrdiff_t>(records[i].end));
  out.insert(out.end(), d.begin() + static_cast<std::ptrdiff_t>(pos), d.end());
  return out;
}

bool starts_with_tnef(std::string_view d) { return d.size() >= 6 && le32(d, 0) == TNEF_SIGNATURE; }

bool fill(std::string_view tnef, model::Message &msg, std::vector<Problem> &warnings, int depth);

// Bodies and attachments of a parsed stream into `msg` (bodies only where msg has none).
void take(TNEFStruct &t, model::Message &msg, std::vector<Problem> &warnings, int depth) {
  std::vector<model::Attachment> atts;
  for (Attachment *p = t.starting_attach.next; p != nullptr; p = p->next) {
    model::Attachment a;
    a.filename = string_prop(&p->MAPI, PR_ATTACH_LONG_FILENAME);
    if (a.filename.empty()) {
      std::string_view title = bytes_of(p->Title);
      if (std::size_t nul = title.find('\0'); nul != std::string_view::npos)
        title = title.substr(0, nul);
      a.filename = *charset_to_utf8(title, text::is_valid_utf8(title) ? "utf-8" : "windows-1252");
    }
    a.mime_type = text::to_lower_ascii(string_prop(&p->MAPI, PR_ATTACH_MIME_TAG));
    a.content_id = string_prop(&p->MAPI, PR_ATTACH_CONTENT_ID);
    std::string_view data = bytes_of(p->FileData);
    // An attached object (PR_ATTACH_DATA_OBJ): libytnef keeps the 16-byte IID in front. An
    // attached message is itself a TNEF stream there ([MS-OXTNEF] 2.1.3.3.13).
    if (variableLength *obj = find_prop(&p->MAPI, PT_OBJECT, PR_ATTACH_DATA_OBJ)) {
      std::string_view o = bytes_of(*obj);
      if (o.size() > 16) data = o.substr(16);
    }
    if (data.empty() && a.filename.empty()) continue;
    if (starts_with_tnef(data)) {
      if (depth + 1 > limits::MAX_EMBED_DEPTH) {
        warnings.push_back({ProblemCode::LimitExceeded,
                            "TNEF attached messages nested too deeply; kept as bytes"});
      } else {
        auto inner = std::make_unique<model::Message>();
        if (fill(data, *inner, warnings, depth + 1)) {
          a.kind = model::AttachmentKind::Embedded;
          if (inner->subject.empty()) inner->subject = a.filename;
          a.embedded = std::move(inner);
          atts.push_back(std::move(a));
          continue;
        }
      }
    }
    a.kind = model::AttachmentKind::ByValue;
    a.data = Blob(Bytes(data));
    atts.push_back(std::move(a));
  }
  if (!msg.body_text) {
    std::string body = string_prop(&t.MapiProperties, PR_BODY);
    if (body.empty()) {
      std::string_view b = bytes_of(t.body);
      if (std::size_t nul = b.find('\0'); nul != std::string_view::npos) b = b.substr(0, nul);
      if (!b.empty()) body = *charset_to_utf8(b, text::is_valid_utf8(b) ? "utf-8" : "windows-1252");
    }
    if (!body.empty()) msg.body_text = std::move(body);
  }
  if (!msg.body_html) {
    if (variableLength *h = find_prop(&t.MapiProperties, PT_BINARY, PR_BODY_HTML)) {
      msg.body_html = Bytes(bytes_of(*h));
    } else if (variableLength *hs = find_prop(&t.MapiProperties, PT_STRING8, PR_BODY_HTML)) {
      std::string_view s = bytes_of(*hs);
      if (std::size_t nul = s.find('\0'); nul != std::string_view::npos) s = s.substr(0, nul);
      msg.body_html = Bytes(s);
    }
  }
  if (!msg.body_rtf) {
    if (variableLength *r = find_prop(&t.MapiProperties, PT_BINARY, PR_RTF_COMPRESSED))
      msg.body_rtf = Bytes(bytes_of(*r));
  }
  for (model::Attachment &a : atts) msg.attachments.push_back(std::move(a));
  msg.flags.has_attachments = !msg.attachments.empty();
}

bool fill(std::string_view tnef, model::Message &msg, std::vector<Problem> &warnings, int depth) {
  if (!starts_with_tnef(tnef)) return false;
  // libytnef reads from a mutable buffer.
  std::vector<BYTE> buf = without_repeats(tnef);
  auto g = std::make_unique<TnefGuard>();
  g->t.Debug = 0;
  if (TNEFParseMemory(buf.data(), static_cast<long>(buf.size()), &g->t) != 0) {
    warnings.push_back(
        {ProblemCode::AttachmentUnreadable, "libytnef could not parse the TNEF stream"});
    return false;
  }
  if (depth > 0) {  // an attached message: its own subject
    msg.subject = string_prop(&g->t.MapiProperties, PR_SUBJECT);
    if (msg.subject.empty()) {
      std::string_view s = bytes_of(g->t.subject);
      if (std::size_t nul = s.find('\0'); nul != std::string_view::npos) s = s.substr(0, nul);
      msg.subject = *charset_to_utf8(s, text::is_valid_utf8(s) ? "utf-8" : "windows-1252");
    }
  }
  // libytnef accepts a truncated stream and returns what it got; a stream that gave nothing at
  // all is kept as the file it was instead of vanishing.
  model::Message got;
  take(g->t, got, warnings, depth);
  if (got.attachments.empty() && !got.body_text && !got.body_html && !got.body_rtf) {
    warnings.push_back(
        {ProblemCode::AttachmentUnreadable, "the TNEF stream holds nothing readable"});
    return false;
  }
  if (!msg.body_text) msg.body_text = std::move(got.body_text);
  if (!msg.body_html) msg.body_html = std::move(got.body_html);
  if (!msg.body_rtf) msg.body_rtf = std::move(got.body_rtf);
  for (model::Attachment &a : got.attachments) msg.attachments.push_back(std::move(a));
  msg.flags.has_attachments = !msg.attachments.empty();
  return true;
}

}  // namespace

bool expand_tnef(std::string_view tnef, model::Message &msg, std::vector<Problem> &warnings) {
  return fill(tnef, msg, warnings, 0);
}

}  // namespace mm::mime::detail
