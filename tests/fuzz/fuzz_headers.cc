// Fuzz target: the MIME builder's handling of arbitrary transport headers, subjects, names and
// filenames (everything a hostile PST can put into a model), and mboxrd framing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mailmill/mime/build.h"
#include "mailmill/mime/mbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  std::string in(reinterpret_cast<const char *>(data), size);
  // Split the input into fields at 0xFF bytes.
  std::string f[5];
  std::size_t k = 0;
  for (char c : in) {
    if (static_cast<unsigned char>(c) == 0xFF && k < 4) {
      ++k;
      continue;
    }
    f[k] += c;
  }
  model::Message m;
  m.transport_headers = f[0];
  m.subject = f[1];
  m.from.name = f[2];
  m.from.smtp = f[3];
  m.body_text = f[4];
  model::Attachment a;
  a.filename = f[1];
  a.content_id = f[2];
  a.data = f[4];
  m.attachments.push_back(std::move(a));
  for (bool crlf : {true, false}) {
    mime::BuildOptions o;
    o.crlf = crlf;
    auto built = mime::build_message(m, o);
    if (built) {
      Bytes box;
      mime::append_mboxrd(box, built->bytes, f[3], 0);
    }
  }
  return 0;
}
