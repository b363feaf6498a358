#pragma once
/// The native memory-mapped PST/OST reader ([MS-PST]) exposed as a mapi::MailStore.
#include <memory>
#include <string>

#include "mailmill/mapi/store.h"

namespace mm::pst {

/// Opens `path` read-only with mmap, validates the header, and builds the node and block
/// indexes. Damage gives SourceCorrupt/SourceTruncated/SourceNotPst with a one-line detail.
Result<std::unique_ptr<mapi::MailStore>> open_native(const std::string &path);

/// Same as open_native for a PST image already in memory (tests, fuzzing); the bytes are
/// copied into an anonymous mapping owned by the store.
Result<std::unique_ptr<mapi::MailStore>> open_native_bytes(ByteView bytes);

/// Another handle on the file behind `store` (which must come from open_native*), sharing its
/// immutable mapping and node/block index: nothing is re-read. Use one handle per thread.
/// nullptr when `store` is not a native store.
std::unique_ptr<mapi::MailStore> share_native(const mapi::MailStore &store);

}  // namespace mm::pst
