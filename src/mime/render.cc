// iCalendar ([RFC 5545]) and vCard 3.0 ([RFC 2426]) renderings of appointments, tasks and
// contacts.
#include "mailmill/mime/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/sha256.h"

namespace mm::mime {
namespace {

constexpr i64 SECONDS_PER_DAY = 86400;

struct Civil {
  i64 year;
  unsigned month, day;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
Civil civil_from_days(i64 z) {
  z += 719468;
  const i64 era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const i64 y = static_cast<i64>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

i64 floor_div(i64 a, i64 b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/// 20210727T221950Z
std::string format_utc(i64 t) {
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
Civil nearest_date(i64 t) { return civil_from_days(floor_div(t + SECONDS_PER_DAY / 2, SECONDS_PER_DAY)); }

/// 20210728 (iCalendar DATE)
std::string format_date(i64 t) {
  const Civil c = nearest_date(t);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02u", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

/// 2021-07-28 (vCard 3.0 BDAY, ISO 8601 extended)
std::string format_iso_date(i64 t) {
  const Civil c = nearest_date(t);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month,
                c.day);
  return buf;
}

// RFC 5545 3.3.11 / RFC 2426 4: TEXT values escape backslash, semicolon and comma, and write
// line breaks as "\n". Other control characters are not allowed in a content line and are
// dropped (tab is allowed).
std::string escape_text(std::string_view s) {
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
std::string param_value(std::string_view s) {
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

std::string join_escaped(const std::vector<std::string> &items) {
  std::string out;
  for (const std::string &s : items) {
    if (s.empty()) continue;
    if (!out.empty()) out += ',';
    out += escape_text(s);
  }
  return out;
}

// FNV-1a 64: a stable hash for generated UIDs (never random, never time-based).
u64 fnv1a(std::string_view s, u64 h = 0xcbf29ce484222325ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex64(u64 v) {
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

std::string mailto(std::string_view smtp) {
  // Outlook writes "invalid:nomail" for attendees without an SMTP address; so do we, since
  // CAL-ADDRESS must be a URI.
  if (smtp.empty()) return "invalid:nomail";
  return "mailto:" + std::string(smtp);
}

void write_class(Writer &w, const model::Message &m) {
  // PidTagSensitivity: 0 normal, 1 personal, 2 private, 3 confidential.
  const char *cls = m.sensitivity == 3 ? "CONFIDENTIAL" : m.sensitivity > 0 ? "PRIVATE" : "PUBLIC";
  w.line("CLASS", cls);
}

void write_priority(Writer &w, const model::Message &m) {
  // RFC 5545 3.8.1.9: 1 highest .. 9 lowest; 5 is "normal" as Outlook exports it.
  const char *p = m.importance >= 2 ? "1" : m.importance <= 0 ? "9" : "5";
  w.line("PRIORITY", p);
}

std::optional<i64> stamp_time(const model::Message &m) {
  if (m.modification_time) return m.modification_time;
  if (m.creation_time) return m.creation_time;
  if (m.submit_time) return m.submit_time;
  return m.delivery_time;
}

void write_event(Writer &w, const model::Message &m) {
  const model::Appointment a = m.appointment.value_or(model::Appointment{});
  const std::string organizer_smtp = !a.organizer_smtp.empty() ? a.organizer_smtp : m.from.smtp;
  const std::string organizer_name = !a.organizer_name.empty() ? a.organizer_name : m.from.name;

  w.line("BEGIN", "VEVENT");
  std::string uid = a.global_object_id_hex;
  if (uid.empty()) {
    const std::string key = m.subject + '\x1f' + (a.start ? std::to_string(*a.start) : "") +
                            '\x1f' + organizer_smtp;
    uid = hex64(fnv1a(key)) + "@mailmill";
  }
  w.text("UID", uid);
  w.line("DTSTAMP", format_utc(stamp_time(m).value_or(a.start.value_or(0))));
  if (a.all_day) {
    if (a.start) w.line("DTSTART;VALUE=DATE", format_date(*a.start));
    if (a.end) w.line("DTEND;VALUE=DATE", format_date(*a.end));
  } else {
    if (a.start) w.line("DTSTART", format_utc(*a.start));
    if (a.end) w.line("DTEND", format_utc(*a.end));
  }
  if (!a.recurrence_rule.empty()) w.line("RRULE", a.recurrence_rule);
  w.text("SUMMARY", m.subject);
  w.text("LOCATION", a.location);
  if (m.body_text) w.text("DESCRIPTION", *m.body_text);
  if (!organizer_smtp.empty() || !organizer_name.empty()) {
    std::string p = "ORGANIZER";
    if (!organizer_name.empty()) p += ";CN=" + param_value(organizer_name);
    w.line(p, mailto(organizer_smtp));
  }
  for (const model::Recipient &r : m.recipients) {
    std::string p = "ATTENDEE";
    if (!r.address.name.empty()) p += ";CN=" + param_value(r.address.name);
    switch (r.type) {
      case model::RecipientType::To: p += ";ROLE=REQ-PARTICIPANT"; break;
      case model::RecipientType::Cc: p += ";ROLE=OPT-PARTICIPANT"; break;
      // Outlook puts meeting resources (rooms, equipment) in the Bcc slot.
      case model::RecipientType::Bcc: p += ";CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT"; break;
    }
    w.line(p, mailto(r.address.smtp));
  }
  if (const std::string cats = join_escaped(m.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  write_class(w, m);
  write_priority(w, m);
  if (a.busy_status) {
    // PidLidBusyStatus: 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere.
    static constexpr const char *CDO[] = {"FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE"};
    const i32 b = *a.busy_status;
    w.line("TRANSP", b == 0 ? "TRANSPARENT" : "OPAQUE");
    if (b >= 0 && b <= 4) w.line("X-MICROSOFT-CDO-BUSYSTATUS", CDO[b]);
  }
  if (a.reminder_minutes && *a.reminder_minutes >= 0) {
    w.line("BEGIN", "VALARM");
    w.line("ACTION", "DISPLAY");
    w.line("DESCRIPTION", "Reminder");
    w.line("TRIGGER", "-PT" + std::to_string(*a.reminder_minutes) + "M");
    w.line("END", "VALARM");
  }
  w.line("END", "VEVENT");
}

void write_todo(Writer &w, const model::Message &m) {
  const model::Task &t = *m.task;
  w.line("BEGIN", "VTODO");
  const std::string key = m.subject + '\x1f' + (t.start ? std::to_string(*t.start) : "") + '\x1f' +
                          (t.due ? std::to_string(*t.due) : "") + '\x1f' + t.owner;
  w.line("UID", hex64(fnv1a(key)) + "@mailmill");
  w.line("DTSTAMP", format_utc(stamp_time(m).value_or(t.start.value_or(t.due.value_or(0)))));
  // Task start and due are dates in Outlook (local midnight in UTC).
  if (t.start) w.line("DTSTART;VALUE=DATE", format_date(*t.start));
  if (t.due) w.line("DUE;VALUE=DATE", format_date(*t.due));
  if (t.completed) w.line("COMPLETED", format_utc(*t.completed));
  w.text("SUMMARY", m.subject);
  if (m.body_text) w.text("DESCRIPTION", *m.body_text);
  if (t.percent_complete) {
    const double p = std::clamp(*t.percent_complete, 0.0, 1.0);
    w.line("PERCENT-COMPLETE", std::to_string(static_cast<int>(std::lround(p * 100))));
  }
  // PidLidTaskStatus: 0 not started, 1 in progress, 2 complete, 3 waiting, 4 deferred.
  const char *status = "NEEDS-ACTION";
  if (t.complete || t.status == 2) status = "COMPLETED";
  else if (t.status == 1) status = "IN-PROCESS";
  w.line("STATUS", status);
  if (const std::string cats = join_escaped(m.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  write_class(w, m);
  write_priority(w, m);
  w.line("END", "VTODO");
}

std::string tel_type(std::string_view type) {
  std::string t;
  for (char c : type) {
    if (c >= 'a' && c <= 'z') t += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) t += c;
  }
  if (t.empty() || t == "VOICE" || t == "OTHER") return "VOICE";
  if (t == "WORK" || t == "BUSINESS") return "WORK,VOICE";
  if (t == "HOME") return "HOME,VOICE";
  if (t == "CELL" || t == "MOBILE") return "CELL,VOICE";
  if (t == "FAX") return "FAX";
  if (t == "WORKFAX" || t == "BUSINESSFAX") return "WORK,FAX";
  if (t == "HOMEFAX") return "HOME,FAX";
  if (t == "PAGER") return "PAGER";
  if (t == "CAR") return "CAR,VOICE";
  if (t == "ISDN") return "ISDN";
  return "X-" + t;
}

std::string adr_type(std::string_view type) {
  if (type == "home") return "HOME";
  if (type == "work" || type == "business") return "WORK";
  if (type == "other" || type.empty()) return "POSTAL";
  std::string t;
  for (char c : type) {
    if (c >= 'a' && c <= 'z') t += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) t += c;
  }
  return t.empty() ? "POSTAL" : "X-" + t;
}

}  // namespace

Bytes render_ics(const model::Message &item) {
  Writer w;
  w.line("BEGIN", "VCALENDAR");
  w.line("VERSION", "2.0");
  w.line("PRODID", "-//mailmill//EN");
  if (item.task && !item.appointment) write_todo(w, item);
  else write_event(w, item);
  w.line("END", "VCALENDAR");
  return w.take();
}

Bytes render_vcf(const model::Message &item) {
  const model::Contact c = item.contact.value_or(model::Contact{});
  Writer w;
  w.line("BEGIN", "VCARD");
  w.line("VERSION", "3.0");
  // FN is required: display name, else the name parts, else the first e-mail, else subject.
  std::string fn = c.display_name;
  if (fn.empty()) {
    for (const std::string *part : {&c.title_prefix, &c.given_name, &c.middle_name, &c.surname,
                                    &c.suffix}) {
      if (part->empty()) continue;
      if (!fn.empty()) fn += ' ';
      fn += *part;
    }
  }
  if (fn.empty() && !c.emails.empty()) fn = c.emails.front().address;
  if (fn.empty()) fn = item.subject;
  w.line("FN", escape_text(fn));
  w.line("N", escape_text(c.surname) + ';' + escape_text(c.given_name) + ';' +
                  escape_text(c.middle_name) + ';' + escape_text(c.title_prefix) + ';' +
                  escape_text(c.suffix));
  w.text("NICKNAME", c.nickname);
  if (!c.company.empty() || !c.department.empty()) {
    std::string org = escape_text(c.company);
    if (!c.department.empty()) org += ';' + escape_text(c.department);
    w.line("ORG", org);
  }
  w.text("TITLE", c.job_title);
  for (const model::Contact::Email &e : c.emails)
    if (!e.address.empty()) w.line("EMAIL;TYPE=INTERNET", escape_text(e.address));
  for (const model::Contact::Phone &p : c.phones)
    if (!p.number.empty()) w.line("TEL;TYPE=" + tel_type(p.type), escape_text(p.number));
  for (const model::Contact::PostalAddress &a : c.addresses) {
    if (a.street.empty() && a.city.empty() && a.region.empty() && a.postal_code.empty() &&
        a.country.empty())
      continue;
    // RFC 2426 3.2.1: post office box; extended address; street; locality; region; postal
    // code; country.
    w.line("ADR;TYPE=" + adr_type(a.type), ";;" + escape_text(a.street) + ';' +
                                               escape_text(a.city) + ';' +
                                               escape_text(a.region) + ';' +
                                               escape_text(a.postal_code) + ';' +
                                               escape_text(a.country));
  }
  if (!c.web_page.empty()) {
    // URL is a URI, not TEXT: no backslash escaping, only control characters removed.
    std::string url;
    for (char ch : c.web_page)
      if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7F) url += ch;
    w.line("URL", url);
  }
  if (c.birthday) w.line("BDAY", format_iso_date(*c.birthday));
  const std::string &note = !c.notes.empty() ? c.notes : item.body_text.value_or(std::string());
  w.text("NOTE", note);
  if (const std::string cats = join_escaped(item.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  w.line("END", "VCARD");
  return w.take();
}

namespace {

/// A mailto: URI ([RFC 6068]): bytes outside the unreserved set and "@!$'*+,;=" are %XX.
std::string mailto_uri(std::string_view addr) {
  static constexpr char HEX[] = "0123456789ABCDEF";
  std::string out = "mailto:";
  for (char ch : addr) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      std::string_view("-._~@!$'*+,;=").find(ch) != std::string_view::npos;
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += HEX[c >> 4];
      out += HEX[c & 15];
    }
  }
  return out;
}

/// urn:uuid from a SHA-256 of `seed` (RFC 9562 version 8, variant 10: a name-based UUID).
std::string uuid_urn(std::string_view seed) {
  util::Sha256 h;
  h.update(seed);
  util::Sha256Digest d = h.finish();
  d[6] = static_cast<u8>((d[6] & 0x0F) | 0x80);
  d[8] = static_cast<u8>((d[8] & 0x3F) | 0x80);
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out = "urn:uuid:";
  for (int k = 0; k < 16; ++k) {
    if (k == 4 || k == 6 || k == 8 || k == 10) out += '-';
    out += HEX[d[k] >> 4];
    out += HEX[d[k] & 15];
  }
  return out;
}

}  // namespace

Bytes render_dist_list_vcf(const model::Message &item, std::size_t *name_only) {
  const model::DistList dl = item.dist_list.value_or(model::DistList{});
  const std::string fn = item.subject;
  // The list's identity: its name and its members, in order.
  std::string seed = "mailmill distribution list\n" + fn;
  for (const model::DistList::Member &m : dl.members) seed += "\n" + m.name + "\n" + m.smtp;
  const std::string list_uid = uuid_urn(seed);

  Writer w;
  std::vector<std::pair<std::string, const model::DistList::Member *>> cards;
  w.line("BEGIN", "VCARD");
  w.line("VERSION", "4.0");
  w.line("KIND", "group");
  w.line("FN", escape_text(fn));
  w.line("UID", list_uid);
  for (std::size_t k = 0; k < dl.members.size(); ++k) {
    const model::DistList::Member &m = dl.members[k];
    if (!m.smtp.empty()) {
      w.line("MEMBER", mailto_uri(m.smtp));
    } else {
      std::string uid = uuid_urn(list_uid + "\n" + std::to_string(k) + "\n" + m.name);
      w.line("MEMBER", uid);
      cards.emplace_back(std::move(uid), &m);
    }
  }
  const std::string &note = item.body_text.value_or(std::string());
  w.text("NOTE", note);
  if (const std::string cats = join_escaped(item.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  w.line("END", "VCARD");
  for (const auto &[uid, m] : cards) {
    w.line("BEGIN", "VCARD");
    w.line("VERSION", "4.0");
    w.line("KIND", "individual");
    w.line("FN", escape_text(m->name.empty() ? std::string("(unnamed member)") : m->name));
    w.line("UID", uid);
    w.line("END", "VCARD");
  }
  if (name_only != nullptr) *name_only = cards.size();
  return w.take();
}

}  // namespace mm::mime
