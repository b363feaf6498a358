// Fuzz target: TNEF expansion (src/mime/tnef.cc: winmail.dat / application/ms-tnef through
// libytnef into attachments, attached messages and bodies), then a build of the message it
// filled, so that what the expander hands on is also exercised by the MIME writer.
//
// Any input must either be refused (false, the message left as it was) or give a message
// whose names and text body are UTF-8: never a crash, a hang, a leak (libytnef's own leaks
// are suppressed in lsan.supp, ours are not) or an out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../../src/mime/parse_impl.h"
#include "mailmill/mime/build.h"
#include "mailmill/util/text.h"

namespace {

using namespace mm;

void check(bool ok, const char *what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_tnef: invariant broken: %s\n", what);
  std::abort();
}

void check_utf8(const model::Message &m) {
  check(text::is_valid_utf8(m.subject), "subject is not UTF-8");
  if (m.body_text) check(text::is_valid_utf8(*m.body_text), "text body is not UTF-8");
  for (const model::Attachment &a : m.attachments) {
    check(text::is_valid_utf8(a.filename), "attachment name is not UTF-8");
    check(text::is_valid_utf8(a.mime_type), "attachment type is not UTF-8");
    check(text::is_valid_utf8(a.content_id), "content id is not UTF-8");
    check((a.kind == model::AttachmentKind::Embedded) == (a.embedded != nullptr),
          "embedded kind without a message");
    if (a.embedded) check_utf8(*a.embedded);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view tnef(reinterpret_cast<const char *>(data), size);
  model::Message msg;
  msg.subject = "fuzz";
  std::vector<Problem> warnings;
  if (!mime::detail::expand_tnef(tnef, msg, warnings)) {
    check(msg.attachments.empty() && !msg.body_text && !msg.body_html && !msg.body_rtf,
          "a refused stream changed the message");
    return 0;
  }
  check_utf8(msg);
  mime::BuildOptions opts;
  (void)mime::build_message(msg, opts);
  return 0;
}
