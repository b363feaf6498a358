#pragma once
// Private to the mbox store: the one streaming pass that splits an mbox file into entries and
// decides its dialect, the independent From_-line census, and the per-entry helpers (From_
// line, status headers, unquoting). Everything reads the file with pread on a caller's fd and
// holds O(entries) memory, never O(file).
#include <optional>
#include <string>
#include <vector>

#include "mailmill/model/item.h"
#include "mailmill/util/result.h"

namespace mm::source::mbox {

enum class Dialect : u8 {
  Mboxo,    ///< From_ lines split; ">From " is unquoted to "From "
  Mboxrd,   ///< From_ lines split; one '>' is removed from every ">+From " line
  Mboxcl,   ///< Content-Length splits; bodies quote "From " as ">From " (unquoted on read)
  Mboxcl2,  ///< Content-Length splits; no quoting
};

/// Printable name: "mboxo", "mboxrd", "mboxcl", "mboxcl2".
const char *dialect_name(Dialect d);

/// One entry: its From_ line at `from_off`, the message bytes [body_off, end) (the separator
/// blank line before the next From_ line is not part of it).
struct Entry {
  u64 from_off = 0;
  u64 body_off = 0;
  u64 end = 0;
  bool truncated = false;  ///< its Content-Length reaches past the end of the file
};

struct Scan {
  std::vector<Entry> entries;
  Dialect dialect = Dialect::Mboxo;
  std::string detail;  ///< the dialect and why it was assumed
  std::vector<Problem> warnings;
  u64 file_size = 0;
};

/// Entries bigger than this are refused by read_item (LimitExceeded): one allocation per item.
inline constexpr u64 MAX_ENTRY_BYTES = u64{1} << 31;

/// Read sizes of the splitter and the census (tests pass smaller ones, down to one byte, to
/// put block boundaries everywhere).
inline constexpr std::size_t SCAN_BLOCK = std::size_t{1} << 20;
inline constexpr std::size_t CENSUS_BLOCK = std::size_t{1} << 16;

/// Splits the first `size` bytes of `fd` (one pass, pread in blocks). SourceNotPst when the
/// first non-blank line (after an optional UTF-8 BOM) is not a From_ line; SourceUnreadable on
/// I/O errors; SourceTruncated when the file is shorter than `size`. An empty file (or one of
/// blank lines only) gives zero entries.
Result<Scan> scan_mbox(int fd, u64 size, std::size_t block = SCAN_BLOCK);

/// Counts the entries of the file a second, independent way (a byte loop, not the splitter):
/// "From " at the start of a line that is the first non-blank line or follows an empty line;
/// for the Content-Length dialects a From line inside an entry's Content-Length span is not
/// counted. SourceUnreadable on I/O errors.
Result<i64> census_count(int fd, u64 size, Dialect dialect, std::size_t block = CENSUS_BLOCK);

/// What a From_ line says: "From <sender> <asctime date> [zone]".
struct FromLine {
  std::string sender;
  std::optional<i64> date;  ///< unix seconds; a date without zone is read as UTC
};

/// Parses a From_ line (with or without its "From " prefix and line end).
FromLine parse_from_line(ByteView line);

/// Flags from X-Mozilla-Status (hex), Status (R, O) and X-Status (A, F, T, D) headers of the
/// header block at the start of `message`; nullopt when it has none of them.
std::optional<model::Flags> parse_status_flags(ByteView message);

/// The message bytes with the dialect's quoting undone (a copy when nothing changes).
Bytes unquote(ByteView message, Dialect dialect);

}  // namespace mm::source::mbox
