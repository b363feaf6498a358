#include "mailmill/util/result.h"

namespace mm {

const char *problem_code_name(ProblemCode code) {
  switch (code) {
    case ProblemCode::SourceUnreadable: return "SourceUnreadable";
    case ProblemCode::SourceNotPst: return "SourceNotPst";
    case ProblemCode::SourceCorrupt: return "SourceCorrupt";
    case ProblemCode::SourceTruncated: return "SourceTruncated";
    case ProblemCode::ItemUnreadable: return "ItemUnreadable";
    case ProblemCode::ItemUnsupportedType: return "ItemUnsupportedType";
    case ProblemCode::AttachmentUnreadable: return "AttachmentUnreadable";
    case ProblemCode::AttachmentNotExportable: return "AttachmentNotExportable";
    case ProblemCode::EmbeddedUnreadable: return "EmbeddedUnreadable";
    case ProblemCode::RecipientsUnreadable: return "RecipientsUnreadable";
    case ProblemCode::BodyUndecodable: return "BodyUndecodable";
    case ProblemCode::CharsetUnknown: return "CharsetUnknown";
    case ProblemCode::LimitExceeded: return "LimitExceeded";
    case ProblemCode::InternalError: return "InternalError";
    case ProblemCode::OutputWriteFailed: return "OutputWriteFailed";
  }
  return "Unknown";
}

}  // namespace mm
