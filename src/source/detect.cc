// Input detection by content: magic numbers, a compound file's stream names, and the shape of
// the first lines (From_ line, header block). Names and extensions are never looked at:
// salvaged files lie about them (fixtures/eml holds MIME files named .msg).
#include "mailmill/source/detect.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string_view>

#include "mailmill/format/cfb/compound_file.h"
#include "mbox_scan.h"
#include "tree_io.h"

namespace mm::source {
namespace {

// ESE database header: a 4-byte checksum, then this signature (little-endian).
constexpr u32 ESE_SIGNATURE = 0x89abcdef;
// How much of a file the text rules look at.
constexpr std::size_t HEAD_BYTES = 8192;
// A compound file is opened whole to find its root streams; bigger ones are not read (no .msg
// Outlook writes comes near it) and count as Unknown.
constexpr u64 MAX_CFB_DETECT_BYTES = u64{512} << 20;


char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Splits `text` into lines without their line ends; the last line is dropped when `cut` says
// the text was cut off in the middle of it.
std::vector<std::string_view> lines_of(std::string_view text, bool cut) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (!cut) out.push_back(text.substr(pos));
      break;
    }
    std::string_view l = text.substr(pos, nl - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    pos = nl + 1;
  }
  return out;
}

// RFC 5322 2.2 field name: printable ASCII except ':'; obsolete syntax (4.5.3 of RFC 5322,
// "Subject :") allows white space before the colon. Returns the name, or empty.
std::string_view field_name(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && i < 128) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == ':' || c == ' ' || c == '\t' || c < 33 || c > 126) break;
    ++i;
  }
  if (i == 0) return {};
  std::size_t j = i;
  while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
  if (j >= line.size() || line[j] != ':') return {};
  return line.substr(0, i);
}

bool is_message_field(std::string_view name) {
  static const std::string_view KNOWN[] = {"from",
                                           "to",
                                           "cc",
                                           "bcc",
                                           "subject",
                                           "date",
                                           "message-id",
                                           "received",
                                           "return-path",
                                           "mime-version",
                                           "content-type",
                                           "delivered-to",
                                           "reply-to",
                                           "sender",
                                           "in-reply-to",
                                           "references",
                                           "x-mailer",
                                           "dkim-signature",
                                           "content-transfer-encoding"};
  for (std::string_view k : KNOWN)
    if (equals_ci(name, k)) return true;
  return false;
}

// The start of a header block: a field line first, then field and continuation lines; at least
// one field before the first line that is neither (or the blank line) is one messages carry.
// Lenient like the parsers that read these files later: a broken line further down (a missing
// separator, a stray word) does not make the file something else.
bool is_header_block(const std::vector<std::string_view> &lines, std::size_t first) {
  std::size_t fields = 0;
  bool known = false;
  for (std::size_t i = first; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.empty()) break;
    if (l[0] == ' ' || l[0] == '\t') {
      if (fields == 0) return false;
      continue;
    }
    std::string_view name = field_name(l);
    if (name.empty()) break;
    ++fields;
    known = known || is_message_field(name);
  }
  return fields > 0 && known;
}

InputKind detect_text(std::string_view head, bool cut) {
  if (head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
  std::vector<std::string_view> lines = lines_of(head, cut);
  // mbox: whitespace-only lines may precede the first From_ line (git's t5100 sample.mbox).
  std::size_t i = 0;
  while (i < lines.size() && lines[i].find_first_not_of(" \t\r") == std::string_view::npos) ++i;
  if (i < lines.size() && lines[i].substr(0, 5) == "From ") {
    // A From_ line with its date, or one followed by a header block (Thunderbird writes
    // "From - " with no date).
    const bool dated = mbox::parse_from_line(lines[i]).date.has_value();
    return dated || is_header_block(lines, i + 1) ? InputKind::Mbox : InputKind::Unknown;
  }
  if (i == 0 && is_header_block(lines, 0)) return InputKind::Eml;
  return InputKind::Unknown;
}

InputKind detect_file(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return InputKind::Unknown;
  struct stat st {};
  InputKind kind = InputKind::Unknown;
  std::string head(HEAD_BYTES, '\0');
  const i64 n =
      ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? tree::pread_full(fd, head.data(), HEAD_BYTES, 0) : -1;
  if (n > 0) {
    head.resize(static_cast<std::size_t>(n));
    const u64 size = static_cast<u64>(st.st_size);
    if (head.size() >= 4 && head.compare(0, 4, "!BDN") == 0) {
      kind = InputKind::Pst;
    } else if (head.size() >= 8 && load_le32(head.data() + 4) == ESE_SIGNATURE) {
      kind = InputKind::Edb;
    } else if (cfb::has_signature(head)) {
      if (size <= MAX_CFB_DETECT_BYTES) {
        Bytes all(size, '\0');
        if (tree::pread_full(fd, all.data(), size, 0) == static_cast<i64>(size)) {
          Result<std::unique_ptr<cfb::CompoundFile>> cf = cfb::CompoundFile::open(all);
          if (cf && (*cf)->find("__properties_version1.0")) kind = InputKind::Msg;
        }
      }
    } else {
      kind = detect_text(head, size > head.size());
    }
  }
  ::close(fd);
  return kind;
}

}  // namespace

const char *input_kind_name(InputKind kind) {
  switch (kind) {
    case InputKind::Pst:
      return "pst";
    case InputKind::Edb:
      return "edb";
    case InputKind::Msg:
      return "msg";
    case InputKind::Eml:
      return "eml";
    case InputKind::Mbox:
      return "mbox";
    case InputKind::Maildir:
      return "maildir";
    case InputKind::Directory:
      return "directory";
    case InputKind::Unknown:
      break;
  }
  return "unknown";
}

InputKind detect_input(const std::string &path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec) return InputKind::Unknown;
  if (fs::is_directory(st)) {
    const fs::path p(path);
    return fs::is_directory(p / "cur", ec) && fs::is_directory(p / "new", ec)
               ? InputKind::Maildir
               : InputKind::Directory;
  }
  if (!fs::is_regular_file(st)) return InputKind::Unknown;
  return detect_file(path);
}

}  // namespace mm::source
