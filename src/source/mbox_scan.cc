// The mbox splitter (one streaming pass), the dialect decision, and per-entry helpers.
//
// Dialects (see the mbox(5) family as described by qmail and Jamie Zawinski's "mbox summary"):
// mboxo and mboxrd are split at From_ lines; they differ only in how a body line that already
// began ">From " was written (mboxo leaves it, mboxrd adds one more '>'), so reading them
// differs only on lines with two or more '>'. mboxcl and mboxcl2 carry a Content-Length header
// on every entry and are split by it; mboxcl still quotes From lines, mboxcl2 does not.
#include "mbox_scan.h"

#include "tree_io.h"
#include "mailmill/util/civil_date.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace mm::source::mbox {
namespace {

// Lines are inspected through their first bytes only, so a file without line ends (a binary
// file) costs no memory beyond one block.
constexpr std::size_t LINE_HEAD = 256;
// A Content-Length above this is not believed (it would overflow offset arithmetic).
constexpr u64 MAX_CONTENT_LENGTH = u64{1} << 60;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool starts_with_ci(std::string_view s, std::string_view p) {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (lower(s[i]) != lower(p[i])) return false;
  return true;
}

bool is_blank_line(std::string_view head, u64 len) {
  return (len == 1 && head == "\n") || (len == 2 && head == "\r\n");
}

bool is_space_only(std::string_view head, u64 len) {
  if (len > head.size()) return false;
  return std::all_of(head.begin(), head.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string_view strip_bom(std::string_view s) {
  return starts_with(s, "\xEF\xBB\xBF") ? s.substr(3) : s;
}

// The read buffer: `block` bytes, but never more than the file holds. Small files are the
// common case (one .mbox per mailing-list message, the fuzz target's inputs): allocating and
// zeroing the full 1 MiB block for a 300-byte file made the scan cost a thousand times the
// bytes it reads.
std::size_t read_buffer_size(std::size_t block, u64 size) {
  return static_cast<std::size_t>(std::max<u64>(std::min<u64>(block, size), 1));
}

struct Line {
  u64 off = 0;
  u64 len = 0;            ///< with its line end, if any
  std::string_view head;  ///< its first LINE_HEAD bytes at most
  u64 eol = 0;            ///< length of its line end: 2 for "\r\n", 1 for "\n", 0 at EOF
};

// Calls on_line(Line) for every line of the first `size` bytes; on_line returns false to stop.
template <class F>
Status for_each_line(int fd, u64 size, std::size_t block, F &&on_line) {
  std::string buf(read_buffer_size(block, size), '\0');
  std::string head;
  u64 line_off = 0, pos = 0;
  char before = '\0';  // the byte before the current position, across blocks
  while (pos < size) {
    const u64 want = std::min<u64>(buf.size(), size - pos);
    const i64 n = tree::pread_full(fd, buf.data(), want, pos);
    if (n < 0) return Problem{ProblemCode::SourceUnreadable, std::strerror(errno), -1};
    if (static_cast<u64>(n) < want) {
      return Problem{ProblemCode::SourceTruncated,
                     "the file shrank while it was read (" + std::to_string(pos + n) +
                         " bytes, expected " + std::to_string(size) + ")",
                     static_cast<i64>(pos + n)};
    }
    const char *p = buf.data();
    const char *e = p + n;
    while (p < e) {
      const char *nl = static_cast<const char *>(std::memchr(p, '\n', static_cast<size_t>(e - p)));
      const char *stop = nl ? nl + 1 : e;
      if (head.size() < LINE_HEAD)
        head.append(p,
                    std::min<std::size_t>(LINE_HEAD - head.size(), static_cast<size_t>(stop - p)));
      if (nl) {
        const u64 abs_stop = pos + static_cast<u64>(stop - buf.data());
        const char cr = nl > buf.data() ? nl[-1] : before;
        const u64 eol = cr == '\r' && abs_stop - line_off >= 2 ? 2 : 1;
        if (!on_line(Line{line_off, abs_stop - line_off, head, eol})) return {};
        head.clear();
        line_off = abs_stop;
      }
      p = stop;
    }
    before = buf[static_cast<std::size_t>(n) - 1];
    pos += static_cast<u64>(n);
  }
  if (line_off < size) on_line(Line{line_off, size - line_off, head, 0});
  return {};
}

// A header field line: a name of printable ASCII without ':' (at most 76 characters), optional
// white space (RFC 5322 4.5.3 obsolete syntax), then ':'.
bool looks_like_field(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && i <= 76) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == ':' || c < 33 || c > 126) break;
    ++i;
  }
  if (i == 0 || i > 76) return false;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

std::optional<u64> parse_length(std::string_view v) {
  std::size_t i = 0;
  while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  u64 n = 0;
  std::size_t digits = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i, ++digits) {
    n = n * 10 + static_cast<u64>(v[i] - '0');
    if (n > MAX_CONTENT_LENGTH) return std::nullopt;
  }
  if (digits == 0) return std::nullopt;
  while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) ++i;
  if (i != v.size()) return std::nullopt;
  return n;
}

// The one pass: a From_-line splitter and, beside it, a Content-Length walker that follows
// each entry's Content-Length and gives up at the first span that does not end exactly at a
// blank line followed by a From_ line (or at the end of the file).
struct Splitter {
  u64 size = 0;
  bool started = false;
  std::optional<Problem> not_mbox;
  bool prev_blank = false;
  u64 prev_len = 0;
  std::vector<Entry> from_entries;
  i64 quoted_one = 0, quoted_more = 0, unseparated_from = 0;
  // A From line with no blank line before it, waiting for the next line: it separates entries
  // when a header field follows (old Netscape and Mozilla wrote no blank line between messages;
  // fixture mimekit__content-length.mbox.txt).
  std::optional<Line> pending;

  enum class Cl : u8 { Headers, Skip, ExpectFrom } cl = Cl::Headers;
  bool cl_ok = true;
  bool cl_seen = false;
  std::string cl_failure;
  std::optional<u64> cl_value;
  u64 cl_target = 0;
  std::vector<Entry> cl_entries;

  void cl_fail(std::string why) {
    if (!cl_ok) return;
    cl_ok = false;
    cl_failure = std::move(why);
  }

  void start_entry(const Line &l) {
    from_entries.push_back(Entry{l.off, l.off + l.len, l.off + l.len, false});
    if (cl_ok) {
      cl_entries.push_back(from_entries.back());
      cl = Cl::Headers;
      cl_value.reset();
    }
  }

  bool on_line(const Line &l) {
    const std::string_view head = l.off == 0 ? strip_bom(l.head) : l.head;
    const bool blank = is_blank_line(l.head, l.len);
    if (!started) {
      if (is_space_only(head, l.len - (l.head.size() - head.size()))) return true;
      if (!starts_with(head, "From ")) {
        std::string first(head.substr(0, std::min<std::size_t>(head.size(), 40)));
        for (char &c : first)
          if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '.';
        not_mbox =
            Problem{ProblemCode::SourceNotPst,
                    "not an mbox file: its first line is not a From_ line (\"" + first + "\")",
                    static_cast<i64>(l.off)};
        return false;
      }
      started = true;
      start_entry(l);
      return true;
    }
    const bool from = starts_with(head, "From ");
    if (cl_ok) cl_line(l, blank, from);
    if (pending) {
      if (looks_like_field(l.head)) {
        from_entries.back().end = pending->off;
        from_entries.push_back(
            Entry{pending->off, pending->off + pending->len, pending->off + pending->len, false});
      } else {
        ++unseparated_from;
      }
      pending.reset();
    }
    if (from && prev_blank) {
      from_entries.back().end = l.off - prev_len;
      from_entries.push_back(Entry{l.off, l.off + l.len, l.off + l.len, false});
    } else if (from) {
      pending = Line{l.off, l.len, {}, l.eol};
    } else if (!head.empty() && head[0] == '>') {
      const std::size_t k = head.find_first_not_of('>');
      if (k != std::string_view::npos && starts_with(head.substr(k), "From "))
        ++(k == 1 ? quoted_one : quoted_more);
    }
    prev_blank = blank;
    prev_len = l.len;
    return true;
  }

  void cl_line(const Line &l, bool blank, bool from) {
    const std::size_t n = cl_entries.size();
    switch (cl) {
      case Cl::Headers:
        if (blank) {
          if (!cl_value) {
            cl_fail("entry " + std::to_string(n) + " has no Content-Length");
            return;
          }
          cl_target = l.off + l.len + *cl_value;
          cl = Cl::Skip;
        } else if (starts_with_ci(l.head, "Content-Length:")) {
          cl_seen = true;
          cl_value = parse_length(l.head.substr(15));
          if (!cl_value || l.len > l.head.size())
            cl_fail("entry " + std::to_string(n) + " has an unreadable Content-Length");
        }
        return;
      case Cl::Skip:
        if (l.off < cl_target) {
          if (l.off + l.len <= cl_target) return;
          // Netscape counted the body without its last line end: the span ends at this line's
          // line end, and the next From_ line follows at once.
          if (l.eol > 0 && l.off + l.len - l.eol == cl_target) {
            cl_entries.back().end = l.off + l.len;
            cl = Cl::ExpectFrom;
            return;
          }
          cl_fail("the Content-Length of entry " + std::to_string(n) +
                  " ends inside a line (offset " + std::to_string(cl_target) + ")");
          return;
        }
        if (blank) {
          cl_entries.back().end = cl_target;
          cl = Cl::ExpectFrom;
        } else if (from) {
          // The span ends exactly at the next From_ line (no blank line between entries).
          cl_entries.back().end = cl_target;
          cl_entries.push_back(Entry{l.off, l.off + l.len, l.off + l.len, false});
          cl = Cl::Headers;
          cl_value.reset();
        } else {
          cl_fail("the Content-Length of entry " + std::to_string(n) +
                  " is not followed by a blank line or a From_ line (offset " +
                  std::to_string(cl_target) + ")");
        }
        return;
      case Cl::ExpectFrom:
        if (from) {
          cl_entries.push_back(Entry{l.off, l.off + l.len, l.off + l.len, false});
          cl = Cl::Headers;
          cl_value.reset();
        } else {
          cl_fail("the Content-Length of entry " + std::to_string(n) +
                  " is not followed by a From_ line (offset " + std::to_string(l.off) + ")");
        }
        return;
    }
  }

  void finish(Scan &out) {
    out.file_size = size;
    if (from_entries.empty()) {
      out.dialect = Dialect::Mboxo;
      out.detail = "mboxo (empty file)";
      return;
    }
    if (pending) ++unseparated_from;
    from_entries.back().end = size - (prev_blank ? prev_len : 0);
    if (from_entries.back().end < from_entries.back().body_off)
      from_entries.back().end = from_entries.back().body_off;
    if (cl_ok) {
      Entry &last = cl_entries.back();
      if (cl == Cl::Headers) {
        last.end = size;
      } else if (cl == Cl::Skip) {
        last.end = std::min(cl_target, size);
        last.truncated = cl_target > size;
      }
    }
    const i64 n_from = static_cast<i64>(from_entries.size());
    if (cl_ok && cl_seen) {
      const i64 n_cl = static_cast<i64>(cl_entries.size());
      const i64 body_from = (n_from - n_cl) + unseparated_from;
      out.entries = std::move(cl_entries);
      if (body_from > 0) {
        out.dialect = Dialect::Mboxcl2;
        out.detail = "mboxcl2 (Content-Length on every entry; " + std::to_string(body_from) +
                     " unquoted From line(s) inside bodies)";
      } else if (quoted_one + quoted_more > 0) {
        out.dialect = Dialect::Mboxcl;
        out.detail = "mboxcl (Content-Length on every entry; bodies quote From lines: " +
                     std::to_string(quoted_one + quoted_more) + " >From line(s))";
      } else {
        out.dialect = Dialect::Mboxcl2;
        out.detail = "mboxcl2 (Content-Length on every entry, no quoting seen)";
      }
      if (out.entries.back().truncated) {
        const Entry &e = out.entries.back();
        out.warnings.push_back(
            Problem{ProblemCode::SourceTruncated,
                    "entry " + std::to_string(out.entries.size()) +
                        ": its Content-Length reaches past the end of the file (" +
                        std::to_string(size - e.body_off) +
                        " bytes left): the entry is cut off or the header is wrong",
                    static_cast<i64>(e.from_off)});
      }
      return;
    }
    out.entries = std::move(from_entries);
    if (cl_seen) {
      out.warnings.push_back(Problem{ProblemCode::SourceCorrupt,
                                     "Content-Length headers do not delimit the entries (" +
                                         cl_failure + "); split at From_ lines instead",
                                     -1});
    }
    if (quoted_more > 0) {
      out.dialect = Dialect::Mboxrd;
      out.detail = "mboxrd (found " + std::to_string(quoted_more) + " >>From line(s))";
    } else if (quoted_one > 0) {
      out.dialect = Dialect::Mboxo;
      out.detail = "mboxo (" + std::to_string(quoted_one) +
                   " >From line(s) unquoted; no >>From lines, so mboxrd reads the same)";
    } else {
      out.dialect = Dialect::Mboxo;
      out.detail = "mboxo (no quoted From lines; mboxrd reads the same)";
    }
  }
};

using util::days_from_civil;

int index_of(std::string_view tok, const char *const *names) {
  if (tok.size() < 3) return -1;
  for (int i = 0; names[i] != nullptr; ++i)
    if (starts_with_ci(tok, names[i])) return i;
  return -1;
}

std::optional<int> number(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "+hhmm" / "-hhmm" or an RFC 822 zone name: offset east of UTC in seconds.
std::optional<i64> zone_offset(std::string_view z) {
  if (z.size() == 5 && (z[0] == '+' || z[0] == '-')) {
    std::optional<int> v = number(z.substr(1));
    if (!v) return std::nullopt;
    const i64 secs = (*v / 100) * 3600 + (*v % 100) * 60;
    return z[0] == '-' ? -secs : secs;
  }
  static const std::pair<const char *, int> names[] = {
      {"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"EST", -5 * 60},
      {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60}, {"MST", -7 * 60},
      {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
  for (const auto &[name, minutes] : names)
    if (z.size() == std::strlen(name) && starts_with_ci(z, name)) return i64{minutes} * 60;
  return std::nullopt;
}

}  // namespace

const char *dialect_name(Dialect d) {
  switch (d) {
    case Dialect::Mboxo:
      return "mboxo";
    case Dialect::Mboxrd:
      return "mboxrd";
    case Dialect::Mboxcl:
      return "mboxcl";
    case Dialect::Mboxcl2:
      return "mboxcl2";
  }
  return "mbox";
}

Result<Scan> scan_mbox(int fd, u64 size, std::size_t block) {
  Splitter s;
  s.size = size;
  Status st = for_each_line(fd, size, block, [&s](const Line &l) { return s.on_line(l); });
  if (!st) return st.problem();
  if (s.not_mbox) return *s.not_mbox;
  Scan out;
  s.finish(out);
  return out;
}

Result<i64> census_count(int fd, u64 size, Dialect dialect, std::size_t block) {
  const bool by_length = dialect == Dialect::Mboxcl || dialect == Dialect::Mboxcl2;
  std::string buf(read_buffer_size(block, size), '\0');
  i64 count = 0;
  u64 pos = 0;
  bool counted_any = false;
  bool prev_empty = true;   // the start of the file counts as following an empty line
  bool after_jump = false;  // at the first line after a Content-Length span
  bool pending = false;     // the last line was a From line without an empty line before it
  bool in_headers = false;
  bool have_length = false;
  u64 length = 0;
  std::string line;  // the current line's first bytes
  bool space_only = true;
  char bom[3] = {};
  if (size >= 3 && tree::pread_full(fd, bom, 3, 0) == 3 && std::string_view(bom, 3) == "\xEF\xBB\xBF")
    pos = 3;
  while (pos < size) {
    const u64 want = std::min<u64>(buf.size(), size - pos);
    const i64 n = tree::pread_full(fd, buf.data(), want, pos);
    if (n <= 0) {
      return Problem{ProblemCode::SourceUnreadable,
                     n < 0 ? std::string(std::strerror(errno)) : "the file shrank", -1};
    }
    u64 next = pos + static_cast<u64>(n);
    for (i64 i = 0; i < n; ++i) {
      const char c = buf[static_cast<std::size_t>(i)];
      if (line.size() < 128) line += c;
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') space_only = false;
      if (c != '\n') continue;
      const bool empty = line == "\n" || line == "\r\n";
      const bool from = line.compare(0, 5, "From ") == 0;
      if (pending && looks_like_field(line)) ++count;
      pending = false;
      if (in_headers) {
        if (empty) {
          in_headers = false;
          if (have_length) {
            // Jump over the body; a blank line and the next From_ line follow (or the From_
            // line at once, or the body's last line end when Netscape left it out).
            next = pos + static_cast<u64>(i) + 1 + length;
            line.clear();
            space_only = true;
            prev_empty = false;
            after_jump = true;
            break;
          }
        } else if (starts_with_ci(line, "content-length:")) {
          const std::optional<u64> v = parse_length(std::string_view(line).substr(15));
          have_length = v.has_value();
          length = v.value_or(0);
        }
      } else if (from && (prev_empty || !counted_any || after_jump)) {
        ++count;
        counted_any = true;
        in_headers = by_length;
        have_length = false;
      } else if (from && !by_length) {
        pending = true;
      }
      prev_empty = empty || (!counted_any && space_only);
      after_jump = false;
      line.clear();
      space_only = true;
    }
    pos = next;
  }
  if (!line.empty()) {  // a last line without a line end
    if (pending && looks_like_field(line)) ++count;
    if (!in_headers && line.compare(0, 5, "From ") == 0 &&
        (prev_empty || !counted_any || after_jump))
      ++count;
  }
  return count;
}

FromLine parse_from_line(ByteView line) {
  if (starts_with(line, "From ")) line.remove_prefix(5);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  std::vector<std::string_view> toks;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < line.size();) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t b = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > b) {
      toks.push_back(line.substr(b, i - b));
      at.push_back(b);
    }
  }
  static const char *const WEEKDAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", nullptr};
  static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",  "Jul",
                                       "Aug", "Sep", "Oct", "Nov", "Dec", nullptr};
  FromLine out;
  // The date is "Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]"; the sender is everything before it
  // (it may itself contain spaces when its local part is quoted).
  for (std::size_t i = 1; i + 3 < toks.size(); ++i) {
    if (index_of(toks[i], WEEKDAYS) < 0) continue;
    const int month = index_of(toks[i + 1], MONTHS);
    const std::optional<int> day = number(toks[i + 2]);
    if (month < 0 || !day || *day < 1 || *day > 31) continue;
    const std::string_view t = toks[i + 3];
    int hh = 0, mm = 0, ss = 0;
    if (t.size() == 8 && t[2] == ':' && t[5] == ':' && number(t.substr(0, 2)) &&
        number(t.substr(3, 2)) && number(t.substr(6, 2))) {
      hh = *number(t.substr(0, 2)), mm = *number(t.substr(3, 2)), ss = *number(t.substr(6, 2));
    } else if (t.size() == 5 && t[2] == ':' && number(t.substr(0, 2)) && number(t.substr(3, 2))) {
      hh = *number(t.substr(0, 2)), mm = *number(t.substr(3, 2));
    } else {
      continue;
    }
    if (hh > 23 || mm > 59 || ss > 60) continue;
    std::optional<int> year;
    i64 zone = 0;
    std::size_t k = i + 4;
    if (k < toks.size() && !number(toks[k])) {
      if (std::optional<i64> z = zone_offset(toks[k])) zone = *z;
      ++k;
    }
    if (k < toks.size()) year = number(toks[k]);
    if (!year || *year < 1900 || *year > 9999) continue;
    if (k + 1 < toks.size())
      if (std::optional<i64> z = zone_offset(toks[k + 1])) zone = *z;
    const i64 days =
        days_from_civil(*year, static_cast<unsigned>(month + 1), static_cast<unsigned>(*day));
    out.date = days * 86400 + hh * 3600 + mm * 60 + ss - zone;
    std::string_view sender = line.substr(0, at[i]);
    while (!sender.empty() && (sender.back() == ' ' || sender.back() == '\t'))
      sender.remove_suffix(1);
    out.sender = std::string(sender);
    return out;
  }
  if (!toks.empty()) out.sender = std::string(toks[0]);
  return out;
}

std::optional<model::Flags> parse_status_flags(ByteView message) {
  std::optional<model::Flags> flags;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t nl = message.find('\n', pos);
    if (nl == ByteView::npos) nl = message.size();
    std::string_view line = message.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    auto is = [&name](std::string_view n) {
      return name.size() == n.size() && starts_with_ci(name, n);
    };
    if (is("Status")) {
      if (!flags) flags.emplace();
      if (value.find('R') != std::string_view::npos) flags->read = true;
    } else if (is("X-Status")) {
      if (!flags) flags.emplace();
      if (value.find('A') != std::string_view::npos) flags->answered = true;
      if (value.find('F') != std::string_view::npos) flags->flagged = true;
      if (value.find('T') != std::string_view::npos) flags->draft = true;
    } else if (is("X-Mozilla-Status")) {
      u32 bits = 0;
      std::size_t digits = 0;
      for (char c : value) {
        const char l = lower(c);
        if (digits == 8 || !((c >= '0' && c <= '9') || (l >= 'a' && l <= 'f'))) break;
        bits = bits * 16 + static_cast<u32>(c <= '9' ? c - '0' : l - 'a' + 10);
        ++digits;
      }
      if (digits == 0) continue;
      if (!flags) flags.emplace();
      // Thunderbird's nsMsgMessageFlags: Read 0x1, Replied 0x2, Marked 0x4, Expunged 0x8,
      // Forwarded 0x1000. Expunged has no model flag.
      if (bits & 0x0001) flags->read = true;
      if (bits & 0x0002) flags->answered = true;
      if (bits & 0x0004) flags->flagged = true;
      if (bits & 0x1000) flags->forwarded = true;
    }
  }
  return flags;
}

Bytes unquote(ByteView message, Dialect dialect) {
  if (dialect == Dialect::Mboxcl2) return Bytes(message);
  Bytes out;
  out.reserve(message.size());
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t nl = message.find('\n', pos);
    const std::size_t stop = nl == ByteView::npos ? message.size() : nl + 1;
    std::string_view line = message.substr(pos, stop - pos);
    if (!line.empty() && line[0] == '>') {
      const std::size_t k = line.find_first_not_of('>');
      const bool quoted = k != std::string_view::npos && starts_with(line.substr(k), "From ") &&
                          (dialect == Dialect::Mboxrd || k == 1);
      if (quoted) line.remove_prefix(1);
    }
    out.append(line);
    pos = stop;
  }
  return out;
}

}  // namespace mm::source::mbox
