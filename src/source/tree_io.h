#pragma once
// Helpers shared by the stores that read directory trees (maildir, loose .eml/.msg files):
// whole-file reads into owned bytes and the content checks that tell what a file is.
#include <string>
#include <vector>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::source::tree {

/// Largest single file read into memory (one message); larger files are a LimitExceeded
/// problem for their item, never an allocation the machine cannot make.
inline constexpr u64 MAX_FILE_BYTES = u64{2} << 30;

/// What a whole file read returned, with the file's modification time.
struct FileBytes {
  Bytes bytes;
  i64 mtime = 0;  ///< unix seconds
};

/// Reads the regular file at `path` whole, with read(2) into owned bytes (no mmap: the file
/// may be replaced or truncated by a mail client while we read). ItemUnreadable with errno's
/// text when it cannot be opened or read (vanished, permissions), or is not a regular file;
/// LimitExceeded above MAX_FILE_BYTES. Thread-safe.
Result<FileBytes> read_whole(const std::string &path);

/// Reads up to `len` bytes of `fd` at `off` with pread, retrying after EINTR and short reads;
/// returns how many were read (fewer only at the end of the file), or -1 with errno set.
i64 pread_full(int fd, char *dst, u64 len, u64 off);

/// Reads up to `n` bytes from the start of `path`; empty when unreadable.
Bytes read_head(const std::string &path, std::size_t n);

/// What a loose file holds, told by its first bytes.
enum class Content : u8 { Other, Eml, Msg, Mbox, Pst };

/// Tells Eml (an RFC 5322 header block at the start: a field name, ':' and, within the first
/// lines, at least one field that messages carry), Mbox ("From " line), Pst ("!BDN") or
/// Msg (a compound file: the caller confirms the property stream) from a file's head.
Content classify_head(ByteView head);

/// True for a compound file whose root holds "__properties_version1.0" (an Outlook .msg, not
/// a Word or Excel file). Reads the whole file (compound directories may sit anywhere).
bool is_msg_file(const std::string &path);

}  // namespace mm::source::tree
