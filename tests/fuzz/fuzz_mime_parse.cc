// Fuzz target: the Internet-message parser (headers, MIME tree, encodings, TNEF) and a build
// of what it parsed. Any input must give a Problem or a message that builds: never a crash, a
// hang, a leak or an out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "mailmill/mime/build.h"
#include "mailmill/mime/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  const Blob bytes(ByteView(reinterpret_cast<const char *>(data), size), nullptr);
  Result<model::Message> msg = mime::parse_message(bytes);
  if (msg) {
    mime::BuildOptions opts;
    (void)mime::build_message(*msg, opts);
  }
  return 0;
}
