#pragma once
/// Limits on the shape of items that every reader and converter applies alike. They live in
/// model, the lowest module that the PST readers (format/pst, source), mapi and mime all
/// depend on; mime/limits.h re-exports them next to its own.

namespace mm::model::limits {

/// Deepest chain of embedded messages followed (a message attached to a message attached to
/// ...). A reader or converter that meets a deeper one records a LimitExceeded problem for that
/// attachment instead of descending.
inline constexpr int MAX_EMBED_DEPTH = 32;

}  // namespace mm::model::limits
