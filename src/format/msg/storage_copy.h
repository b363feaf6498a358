#pragma once
// Writes one storage of a compound file out as a compound file of its own ([MS-CFB] version 3),
// for the OLE object of an ATTACH_OLE attachment: in a .msg file the object is a storage inside
// the message's compound file, while the model (like a PST's PR_ATTACH_DATA_OBJ) carries the
// object as the bytes of a compound file.
#include <functional>
#include <string>

#include "mailmill/format/cfb/compound_file.h"
#include "mailmill/util/result.h"

namespace mm::msg {

/// Reads the stream `entry` at `path`; the .msg reader's budgeted read.
using StreamRead = std::function<Result<Bytes>(const std::string &path, const cfb::Entry &entry)>;

/// Storages nested deeper than this below the copied one are refused (LimitExceeded).
inline constexpr int MAX_COPY_DEPTH = 64;
/// Storages with more entries than this are refused (LimitExceeded): each stream is found by
/// its path, a linear scan of its storage in libgsf.
inline constexpr u64 MAX_COPY_ENTRIES = 8192;

/// The compound file whose root storage has `clsid` and the children (streams, storages and
/// their CLSIDs, recursively) of the storage at `path` in `cf`. Streams are read with `read`.
/// A Problem when a child cannot be listed or read, a name does not fit a directory entry, the
/// nesting is deeper than MAX_COPY_DEPTH, a storage has more than MAX_COPY_ENTRIES entries, or the
/// result would need DIFAT sectors (over about 7 MB); never throws for bad input.
Result<Bytes> copy_storage(const cfb::CompoundFile &cf, const std::string &path,
                           const cfb::Clsid &clsid, const StreamRead &read);

}  // namespace mm::msg
