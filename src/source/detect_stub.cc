// Placeholders until the mbox, maildir and file-tree stores land (issue 13).
#include "mailmill/source/detect.h"

namespace mm::source {

const char *input_kind_name(InputKind kind) {
  switch (kind) {
    case InputKind::Pst: return "pst";
    case InputKind::Msg: return "msg";
    case InputKind::Eml: return "eml";
    case InputKind::Mbox: return "mbox";
    case InputKind::Maildir: return "maildir";
    case InputKind::Directory: return "directory";
    case InputKind::Unknown: break;
  }
  return "unknown";
}

InputKind detect_input(const std::string &) { return InputKind::Unknown; }

Result<std::unique_ptr<mapi::MailStore>> open_mbox(const std::string &path) {
  return Problem{ProblemCode::InternalError, "mbox input is not built yet: " + path};
}
Result<std::unique_ptr<mapi::MailStore>> open_maildir(const std::string &path) {
  return Problem{ProblemCode::InternalError, "maildir input is not built yet: " + path};
}
Result<std::unique_ptr<mapi::MailStore>> open_file_tree(const std::string &path) {
  return Problem{ProblemCode::InternalError, "eml/msg input is not built yet: " + path};
}

}  // namespace mm::source
