// Placeholder until the store lands (issue 13).
#include "mailmill/source/detect.h"

namespace mm::source {

Result<std::unique_ptr<mapi::MailStore>> open_mbox(const std::string &path) {
  return Problem{ProblemCode::InternalError, "mbox input is not built yet: " + path};
}

}  // namespace mm::source
