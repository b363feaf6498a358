// Fuzz target: the .msg reader and the MAPI-to-model conversion after it, on arbitrary bytes.
// Any input must give a Problem or a message: never a crash, a hang, a leak or an
// out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "mailmill/format/msg/msg.h"
#include "mailmill/mapi/to_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  const ByteView bytes(reinterpret_cast<const char *>(data), size);
  Result<mapi::RawMessage> raw = msg::read_msg(bytes);
  if (raw) {
    mapi::ConvertContext ctx{raw->codepage ? raw->codepage : 1252u, raw->names.get()};
    (void)mapi::to_model(*raw, ctx);
  }
  return 0;
}
