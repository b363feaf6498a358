// Placeholder until the store lands (issue 13).
#include "mailmill/source/detect.h"

namespace mm::source {

Result<std::unique_ptr<mapi::MailStore>> open_maildir(const std::string &path) {
  return Problem{ProblemCode::InternalError, "maildir input is not built yet: " + path};
}

}  // namespace mm::source
