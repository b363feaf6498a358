// Temporary stub until the native reader lands: keeps the link graph complete.
#include "mailmill/format/pst/native_store.h"

namespace mm::pst {

Result<std::unique_ptr<mapi::MailStore>> open_native(const std::string &path) {
  return Problem{ProblemCode::SourceNotPst, "native reader not available yet: " + path};
}

}  // namespace mm::pst
