#include "tree_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mailmill/format/cfb/compound_file.h"

namespace mm::source::tree {
namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_field_name_char(unsigned char c) { return c > 32 && c < 127 && c != ':'; }

// Header fields a message practically always has one of. A file made only of "Key: value"
// lines (a config file, a YAML document) carries none of them and is not taken for a message.
bool is_message_field(std::string_view name) {
  static constexpr std::string_view kFields[] = {
      "from",        "date",         "subject",      "message-id",   "received",
      "return-path", "to",           "mime-version", "delivered-to", "sender",
      "reply-to",    "content-type", "x-mailer",     "cc",           "in-reply-to"};
  for (std::string_view f : kFields) {
    if (name.size() != f.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < f.size() && same; ++i)
      same = (name[i] | 0x20) == f[i] || (name[i] == '-' && f[i] == '-');
    if (same) return true;
  }
  return false;
}

}  // namespace

i64 pread_full(int fd, char *dst, u64 len, u64 off) {
  u64 got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, dst + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<u64>(n);
  }
  return static_cast<i64>(got);
}

Result<FileBytes> read_whole(const std::string &path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (f.fd < 0)
    return Problem{ProblemCode::ItemUnreadable,
                   "cannot open " + path + ": " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(f.fd, &st) != 0)
    return Problem{ProblemCode::ItemUnreadable,
                   "cannot stat " + path + ": " + std::strerror(errno)};
  // O_NONBLOCK above keeps a FIFO planted in the tree from blocking the open; anything but a
  // regular file is refused here.
  if (!S_ISREG(st.st_mode))
    return Problem{ProblemCode::ItemUnreadable, path + " is not a regular file"};
  if (static_cast<u64>(st.st_size) > MAX_FILE_BYTES)
    return Problem{ProblemCode::LimitExceeded,
                   path + " is larger than " + std::to_string(MAX_FILE_BYTES) + " bytes"};
  FileBytes out;
  out.mtime = static_cast<i64>(st.st_mtim.tv_sec);
  out.bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  // The size is the one fstat saw: a file that shrinks while read is cut where it ended, one
  // that grows is read up to that size (a mail client rewriting it in place is not followed).
  while (done < out.bytes.size()) {
    ssize_t n =
        ::pread(f.fd, out.bytes.data() + done, out.bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Problem{ProblemCode::ItemUnreadable,
                     "cannot read " + path + ": " + std::strerror(errno)};
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.bytes.resize(done);
  return out;
}

Bytes read_head(const std::string &path, std::size_t n) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (f.fd < 0) return {};
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return {};
  Bytes out(n, '\0');
  std::size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(f.fd, out.data() + done, n - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  out.resize(done);
  return out;
}

namespace {

// Length of the field name when `line` starts a header field, else 0. RFC 5322 section 4.5.3
// (obsolete syntax) allows white space between the name and the colon ("Subject :").
std::size_t field_name_length(ByteView line) {
  std::size_t n = 0;
  while (n < line.size() && is_field_name_char(static_cast<unsigned char>(line[n]))) ++n;
  std::size_t colon = n;
  while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;
  return n > 0 && colon < line.size() && line[colon] == ':' ? n : 0;
}

}  // namespace

Content classify_head(ByteView head) {
  if (head.substr(0, 4) == "!BDN") return Content::Pst;
  // "From " starts an mbox's first From_ line; "From  : x" is an obsolete-syntax header.
  if (head.substr(0, 5) == "From " && field_name_length(head.substr(0, head.find('\n'))) == 0)
    return Content::Mbox;
  if (cfb::has_signature(head)) return Content::Msg;
  // RFC 5322 section 2.2: a header field is a name of printable characters other than ':',
  // then ':'; folded lines start with white space. The file must start with a field. The
  // header block runs while lines are fields or folded lines; a line that is neither ends it
  // as leniently as MIME parsers do (the corpus has real messages with one malformed header
  // line, or a "blank" separator line holding a space). One field of the block must be one
  // that messages carry, so that a file of "Key: value" lines is not taken for a message.
  std::size_t at = 0, fields = 0;
  bool known = false;
  if (head.substr(0, 3) == "\xEF\xBB\xBF") at = 3;  // a UTF-8 BOM some editors add
  while (at < head.size()) {
    std::size_t eol = head.find('\n', at);
    const bool complete = eol != ByteView::npos;
    ByteView line = head.substr(at, complete ? eol - at : ByteView::npos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (fields == 0) return Content::Other;
    } else {
      const std::size_t name = field_name_length(line);
      if (name == 0) {
        if (fields == 0) return Content::Other;
        break;  // a malformed line ends the header block
      }
      known = known || is_message_field(line.substr(0, name));
      ++fields;
    }
    if (!complete) break;
    at = eol + 1;
  }
  return fields > 0 && known ? Content::Eml : Content::Other;
}

bool is_msg_file(const std::string &path) {
  Result<FileBytes> whole = read_whole(path);
  if (!whole || !cfb::has_signature(whole->bytes)) return false;
  Result<std::unique_ptr<cfb::CompoundFile>> cf = cfb::CompoundFile::open(whole->bytes);
  if (!cf) return false;
  std::optional<cfb::Entry> props = (*cf)->find("__properties_version1.0");
  return props && props->type == cfb::EntryType::Stream;
}

}  // namespace mm::source::tree
