// Input detection by content (placeholder until issue 13 lands).
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

}  // namespace mm::source
