// Placeholder until the store lands (issue 13).
#include "mailmill/source/detect.h"

namespace mm::source {

Result<std::unique_ptr<mapi::MailStore>> open_file_tree(const std::string &path) {
  return Problem{ProblemCode::InternalError, "eml/msg input is not built yet: " + path};
}

}  // namespace mm::source
