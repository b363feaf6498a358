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
#include <memory>
#include <vector>

#include "mailmill/util/text.h"
#include "parse_impl.h"

namespace mm::mime::detail {
namespace {

variableLength *find_prop(MAPIProps *props, unsigned type, unsigned id) {
  variableLength *v = MAPIFindProperty(props, PROP_TAG(type, id));
  if (v == MAPI_UNDEFINED || v == nullptr || v->data == nullptr || v->size <= 0) return nullptr;
  return v;
}

// A string property: PT_UNICODE as UTF-16LE, PT_STRING8 read as windows-1252 when not UTF-8.
std::string string_prop(MAPIProps *props, unsigned id) {
  if (variableLength *w = find_prop(props, PT_UNICODE, id))
    return text::utf16le_to_utf8(
        ByteView(reinterpret_cast<const char *>(w->data), static_cast<std::size_t>(w->size)), true);
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

struct TnefGuard {
  TNEFStruct t;
  TnefGuard() { TNEFInitialize(&t); }
  ~TnefGuard() { TNEFFree(&t); }
};

}  // namespace

bool expand_tnef(std::string_view tnef, model::Message &msg, std::vector<Problem> &warnings) {
  if (tnef.size() < 6) return false;
  // libytnef reads from a mutable buffer.
  std::vector<BYTE> buf(tnef.begin(), tnef.end());
  auto g = std::make_unique<TnefGuard>();
  g->t.Debug = 0;
  if (TNEFParseMemory(buf.data(), static_cast<long>(buf.size()), &g->t) != 0) {
    warnings.push_back({ProblemCode::AttachmentUnreadable, "libytnef could not parse the TNEF stream"});
    return false;
  }
  TNEFStruct &t = g->t;
  std::vector<model::Attachment> atts;
  for (Attachment *p = t.starting_attach.next; p != nullptr; p = p->next) {
    model::Attachment a;
    a.filename = string_prop(&p->MAPI, PR_ATTACH_LONG_FILENAME);
    if (a.filename.empty()) {
      std::string_view title = bytes_of(p->Title);
      if (std::size_t nul = title.find('\0'); nul != std::string_view::npos) title = title.substr(0, nul);
      a.filename = *charset_to_utf8(title, text::is_valid_utf8(title) ? "utf-8" : "windows-1252");
    }
    a.mime_type = text::to_lower_ascii(string_prop(&p->MAPI, PR_ATTACH_MIME_TAG));
    a.content_id = string_prop(&p->MAPI, PR_ATTACH_CONTENT_ID);
    std::string_view data = bytes_of(p->FileData);
    // An attached object (PR_ATTACH_DATA_OBJ): libytnef keeps the 16-byte IID in front.
    if (variableLength *obj = find_prop(&p->MAPI, PT_OBJECT, PR_ATTACH_DATA_OBJ)) {
      std::string_view o = bytes_of(*obj);
      if (o.size() > 16) data = o.substr(16);
    }
    if (data.empty() && a.filename.empty()) continue;
    a.kind = model::AttachmentKind::ByValue;
    a.data = Blob(Bytes(data));
    atts.push_back(std::move(a));
  }
  if (!msg.body_text) {
    std::string body = string_prop(&t.MapiProperties, PR_BODY);
    if (body.empty()) {
      std::string_view b = bytes_of(t.body);
      if (std::size_t nul = b.find('\0'); nul != std::string_view::npos) b = b.substr(0, nul);
      if (!b.empty())
        body = *charset_to_utf8(b, text::is_valid_utf8(b) ? "utf-8" : "windows-1252");
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
  return true;
}

}  // namespace mm::mime::detail
