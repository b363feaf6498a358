// Placeholder until the .msg reader lands (issue 13).
#include "mailmill/format/msg/msg.h"

namespace mm::msg {

Result<mapi::RawMessage> read_msg(ByteView bytes) {
  (void)bytes;
  return Problem{ProblemCode::InternalError, ".msg reading is not built yet"};
}

}  // namespace mm::msg
