#pragma once
/// The native memory-mapped PST/OST reader ([MS-PST]) exposed as a mapi::MailStore.
#include <memory>
#include <string>

#include "mailmill/mapi/store.h"

namespace mm::pst {

/// Opens `path` read-only with mmap, validates the header, and builds the node and block
/// indexes. Damage gives SourceCorrupt/SourceTruncated/SourceNotPst with a one-line detail.
Result<std::unique_ptr<mapi::MailStore>> open_native(const std::string &path);

}  // namespace mm::pst
