// Opening a mail store by path: a cheap header preflight, then the native reader, libpff, or
// native with a libpff fallback for damaged files.
#include "mailmill/source/open.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "libpff_impl.h"
#include "mailmill/format/exchange/exchange.h"
#include "mailmill/format/pst/native_store.h"
#include "mailmill/source/detect.h"

namespace mm::source {
namespace detail {

namespace {
constexpr u64 MIN_PST_SIZE = 512;
// [MS-PST] 2.2.2.6 HEADER: wVer at offset 10; ROOT.ibFileEof is a u32 at 168 in ANSI files
// (wVer 14/15) and a u64 at 184 in Unicode files (wVer >= 23).
constexpr std::size_t WVER_OFFSET = 10;
constexpr std::size_t ANSI_EOF_OFFSET = 168;
constexpr std::size_t UNICODE_EOF_OFFSET = 184;
}  // namespace

Result<u64> preflight(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Problem{ProblemCode::SourceUnreadable,
                   "cannot open " + path + ": " + std::strerror(errno), -1};
  }
  if (!S_ISREG(st.st_mode)) {
    return Problem{ProblemCode::SourceUnreadable, path + " is not a regular file", -1};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Problem{ProblemCode::SourceUnreadable,
                   "cannot read " + path + ": " + std::strerror(errno), -1};
  }
  const u64 size = static_cast<u64>(st.st_size);
  char head[UNICODE_EOF_OFFSET + 8] = {};
  in.read(head, static_cast<std::streamsize>(std::min<u64>(size, sizeof head)));
  const u64 got = static_cast<u64>(in.gcount());
  if (got >= 4 && std::memcmp(head, "!BDN", 4) != 0) {
    return Problem{ProblemCode::SourceNotPst, path + " is not a PST/OST file (no !BDN magic)", 0};
  }
  if (size < MIN_PST_SIZE) {
    if (got < 4) {
      return Problem{ProblemCode::SourceNotPst,
                     path + " is not a PST/OST file (" + std::to_string(size) + " bytes)", 0};
    }
    return Problem{ProblemCode::SourceTruncated,
                   path + " is truncated: " + std::to_string(size) + " bytes, header needs 512",
                   static_cast<i64>(size)};
  }
  const u16 wver = load_le16(head + WVER_OFFSET);
  u64 eof = 0;
  if (wver == 14 || wver == 15) {
    eof = load_le32(head + ANSI_EOF_OFFSET);
  } else if (wver >= 23) {
    eof = load_le64(head + UNICODE_EOF_OFFSET);
  }
  if (eof > size) {
    return Problem{ProblemCode::SourceTruncated,
                   path + " is truncated: header says " + std::to_string(eof) +
                       " bytes, file has " + std::to_string(size),
                   static_cast<i64>(size)};
  }
  return size;
}

}  // namespace detail

Result<std::unique_ptr<mapi::MailStore>> open_store(const std::string &path, Reader reader,
                                                    const OpenOptions &opts) {
  // What the input is, by content: everything but PST/OST has its own store.
  switch (detect_input(path)) {
    case InputKind::Mbox:
      return open_mbox(path);
    case InputKind::Maildir:
      return open_maildir(path);
    case InputKind::Msg:
    case InputKind::Eml:
    case InputKind::Directory:
      return open_file_tree(path);
    case InputKind::Edb:
      return exchange::open_exchange(path, exchange::OpenOptions{opts.mailboxes});
    case InputKind::Pst:
    case InputKind::Unknown:
      break;
  }
  Result<u64> pre = detail::preflight(path);
  if (!pre.ok()) return pre.problem();
  // Only libpff can scan for deleted items, so --recover reads with it unless the native
  // reader was asked for by name (which then exports the message nodes no folder lists).
  if (opts.recover && reader != Reader::Native) return open_libpff(path, opts);
  switch (reader) {
    case Reader::Native:
      return pst::open_native(path);
    case Reader::Libpff:
      return open_libpff(path);
    case Reader::Auto:
      break;
  }
  Result<std::unique_ptr<mapi::MailStore>> native = pst::open_native(path);
  if (native.ok()) return native;
  Result<std::unique_ptr<mapi::MailStore>> fallback = open_libpff(path);
  if (fallback.ok()) return fallback;
  // Both failed: damage reported by the native reader is the more precise diagnosis.
  const ProblemCode nc = native.problem().code;
  if (nc == ProblemCode::SourceCorrupt || nc == ProblemCode::SourceTruncated) {
    Problem p = native.problem();
    p.detail += " (libpff: " + fallback.problem().detail + ")";
    return p;
  }
  return fallback.problem();
}

}  // namespace mm::source
