// Placeholder until the mimetic parser lands (issue 13).
#include "mailmill/mime/parse.h"

namespace mm::mime {

Result<model::Message> parse_message(const Blob &bytes, const ParseOptions &opts) {
  (void)bytes;
  (void)opts;
  return Problem{ProblemCode::InternalError, "MIME parsing is not built yet"};
}

}  // namespace mm::mime
