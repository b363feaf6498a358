#pragma once
/// Named safety limits. Each has a test that hits it.
#include "mailmill/model/limits.h"
#include "mailmill/util/types.h"

namespace mm::mime::limits {

/// Deepest chain of embedded messages we follow (message/rfc822 inside message/rfc822 ...);
/// the one constant the PST readers and mapi::to_model use too (model/limits.h).
using model::limits::MAX_EMBED_DEPTH;
/// Longest header field line we emit before folding.
inline constexpr u64 MAX_HEADER_LINE = 998;
/// Largest decompressed RTF body we accept (a compressed RTF header can claim anything).
inline constexpr u64 MAX_RTF_DECOMPRESSED = 256ull << 20;

}  // namespace mm::mime::limits
