#pragma once
// Content lines shared by the iCalendar (ical.cc) and vCard (render.cc) writers: TEXT
// escaping, parameter quoting, line folding, UTC/date formats. Private to the mime module.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/civil_date.h"
#include "mailmill/util/types.h"

namespace mm::mime::text_lines {

inline constexpr i64 SECONDS_PER_DAY = 86400;

using Civil = util::CivilDate;
using util::civil_from_days;
using util::floor_div;

/// 20210727T221950Z
inline std::string format_utc(i64 t) {
  const i64 days = floor_div(t, SECONDS_PER_DAY);
  const i64 secs = t - days * SECONDS_PER_DAY;
  const Civil c = civil_from_days(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02uT%02lld%02lld%02lldZ",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

// Outlook stores all-day dates (and task dates, birthdays) as local midnight converted to
// UTC, so the UTC value lies within -14h..+12h of the real date's midnight. Rounding to the
// nearest UTC midnight recovers the date for every zone from UTC-12 to UTC+11:59.
inline Civil nearest_date(i64 t) { return civil_from_days(floor_div(t + SECONDS_PER_DAY / 2, SECONDS_PER_DAY)); }

/// 20210728 (iCalendar DATE)
inline std::string format_date(i64 t) {
  const Civil c = nearest_date(t);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02u", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

/// 2021-07-28 (vCard 3.0 BDAY, ISO 8601 extended)
inline std::string format_iso_date(i64 t) {
  const Civil c = nearest_date(t);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

// RFC 5545 3.3.11 / RFC 2426 4: TEXT values escape backslash, semicolon and comma, and write
// line breaks as "\n". Other control characters are not allowed in a content line and are
// dropped (tab is allowed).
inline std::string escape_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\\': out += "\\\\"; break;
      case ';': out += "\\;"; break;
      case ',': out += "\\,"; break;
      case '\r':
        if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
        out += "\\n";
        break;
      case '\n': out += "\\n"; break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) break;
        out += c;
    }
  }
  return out;
}

// RFC 5545 3.2: a parameter value with ':' ';' or ',' is quoted; DQUOTE and control characters
// cannot appear at all and are replaced/dropped.
inline std::string param_value(std::string_view s) {
  std::string v;
  bool quote = false;
  for (char c : s) {
    if (c == '"') c = '\'';
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) continue;
    if (c == ':' || c == ';' || c == ',') quote = true;
    v += c;
  }
  return quote ? "\"" + v + "\"" : v;
}

inline std::string join_escaped(const std::vector<std::string> &items) {
  std::string out;
  for (const std::string &s : items) {
    if (s.empty()) continue;
    if (!out.empty()) out += ',';
    out += escape_text(s);
  }
  return out;
}

// FNV-1a 64: a stable hash for generated UIDs (never random, never time-based).
inline u64 fnv1a(std::string_view s, u64 h = 0xcbf29ce484222325ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

inline std::string hex64(u64 v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Accumulates content lines, folded per RFC 5545 3.1 (and RFC 2425 5.8.1 for vCard): at most
// 75 octets per line excluding CRLF, continuation lines begin with one space, and a fold never
// falls inside a UTF-8 sequence.
class Writer {
 public:
  void line(std::string_view name_and_params, std::string_view value) {
    std::string l;
    l.reserve(name_and_params.size() + 1 + value.size());
    l.append(name_and_params);
    l += ':';
    l.append(value);
    fold(l);
  }
  /// A property whose value is TEXT; skipped when empty.
  void text(std::string_view name, std::string_view value) {
    if (!value.empty()) line(name, escape_text(value));
  }
  Bytes take() { return std::move(out_); }

 private:
  void fold(std::string_view l) {
    constexpr std::size_t MAX = 75;
    std::size_t limit = MAX;
    while (l.size() > limit) {
      std::size_t cut = limit;
      while (cut > 1 && (static_cast<unsigned char>(l[cut]) & 0xC0) == 0x80) --cut;
      out_.append(l.substr(0, cut));
      out_ += "\r\n ";
      l.remove_prefix(cut);
      limit = MAX - 1;  // the leading space counts
    }
    out_.append(l);
    out_ += "\r\n";
  }
  Bytes out_;
};

}  // namespace mm::mime::text_lines
