#pragma once
/// Opening mail stores by path, with the reader chosen by the user or automatically.
#include <memory>
#include <string>

#include "mailmill/mapi/store.h"

namespace mm::source {

enum class Reader : u8 {
  Auto,    ///< native; falls back to libpff when the native reader reports damage
  Native,  ///< our memory-mapped reader only
  Libpff,  ///< libpff only
};

/// Opens a PST/OST with libpff. One handle per thread.
Result<std::unique_ptr<mapi::MailStore>> open_libpff(const std::string &path);

/// Opens with the chosen reader. A non-PST file gives SourceNotPst; a damaged one
/// SourceCorrupt/SourceTruncated with a one-line detail.
Result<std::unique_ptr<mapi::MailStore>> open_store(const std::string &path, Reader reader);

}  // namespace mm::source
