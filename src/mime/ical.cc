// iCalendar ([RFC 5545]) renderings of appointments, tasks and meeting messages ([RFC 5546]
// iTIP), with recurrence series ([MS-OXOCAL] 2.2.1.44 as parsed by mapi/recurrence) and the
// Windows time zone of their local times.
#include "mailmill/mime/ical.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/mime/render.h"
#include "mailmill/util/text.h"
#include "text_lines_impl.h"

namespace mm::mime {
namespace {

using namespace text_lines;

using util::days_from_civil;
using util::days_in_month;

// The day of month of the `week`-th (5 = last) `dow` (0 = Sunday) of y-m.
unsigned nth_weekday(i64 y, unsigned m, unsigned dow, unsigned week) {
  const i64 first = days_from_civil(y, m, 1);
  const auto first_dow = static_cast<unsigned>(((first % 7) + 7 + 4) % 7);  // 1970-01-01: Thu
  unsigned day = 1 + (dow + 7 - first_dow) % 7 + (week - 1) * 7;
  while (day > days_in_month(y, m)) day -= 7;
  return day;
}

/// 20160802T080000 (local DATE-TIME, no zone)
std::string format_local(i64 t) {
  const i64 days = floor_div(t, SECONDS_PER_DAY);
  const i64 secs = t - days * SECONDS_PER_DAY;
  const Civil c = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02uT%02lld%02lld%02lld",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

/// 20160802 (the local date of `t`, no rounding)
std::string format_local_date(i64 t) {
  const Civil c = civil_from_days(floor_div(t, SECONDS_PER_DAY));
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02u", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

const char *const DAY_NAMES[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

std::string day_list(u8 mask) {
  std::string out;
  for (int d = 0; d < 7; ++d) {
    if ((mask & (1u << d)) == 0) continue;
    if (!out.empty()) out += ',';
    out += DAY_NAMES[d];
  }
  return out;
}

std::string utc_offset(i32 minutes_east) {
  char buf[16];
  const i32 a = minutes_east < 0 ? -minutes_east : minutes_east;
  std::snprintf(buf, sizeof buf, "%c%02d%02d", minutes_east < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

// TZID values: Windows key names ("Pacific Standard Time") are used as they are; characters a
// parameter or TEXT value would have to quote or escape become '-' so that the TZID property
// and the TZID parameters referring to it are the same string everywhere.
std::string tzid_of(const model::TimeZone &tz) {
  std::string id;
  for (char c : tz.name) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = u >= 0x80 || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                       (u >= '0' && u <= '9') || c == ' ' || c == '+' || c == '-' || c == '_' ||
                       c == '.' || c == '/' || c == '(' || c == ')';
    id += plain ? c : '-';
  }
  return text::sanitize_utf8(id);
}

/// How a calendar item's local times are written.
struct Zone {
  std::optional<model::TimeZone> tz;  ///< conversion to UTC (nullopt: local is UTC)
  std::string tzid;                   ///< non-empty: write local times with this TZID
};

Zone zone_of(const model::Appointment &a) {
  Zone z;
  z.tz = a.time_zone;
  // A zone without a name is a fixed offset guessed from the first instance (see to_model):
  // times are converted to UTC. Named zones are written as a VTIMEZONE and TZID.
  if (z.tz && !z.tz->name.empty()) z.tzid = tzid_of(*z.tz);
  return z;
}

i64 to_utc(const Zone &z, i64 local) { return z.tz ? local_to_utc(*z.tz, local) : local; }

// DATE-TIME property (or parameter-less value) for a local time: TZID form or UTC.
void time_line(Writer &w, std::string_view name, const Zone &z, i64 local) {
  if (!z.tzid.empty()) {
    w.line(std::string(name) + ";TZID=" + param_value(z.tzid), format_local(local));
  } else {
    w.line(name, format_utc(to_utc(z, local)));
  }
}

void date_line(Writer &w, std::string_view name, i64 local) {
  w.line(std::string(name) + ";VALUE=DATE", format_local_date(local));
}

void write_vtimezone(Writer &w, const model::TimeZone &tz, const std::string &tzid) {
  const i32 standard = -(tz.bias + tz.standard_bias);
  const i32 daylight = -(tz.bias + tz.daylight_bias);
  w.line("BEGIN", "VTIMEZONE");
  w.text("TZID", tzid);
  auto observance = [&](const char *kind, const model::ZoneTransition &t, i32 from, i32 to) {
    w.line("BEGIN", kind);
    // DTSTART: the transition's first occurrence in 1970, in the local time before it.
    const unsigned day = nth_weekday(1970, t.month, t.day_of_week, t.week);
    w.line("DTSTART", format_local(days_from_civil(1970, t.month, day) * SECONDS_PER_DAY +
                                   t.hour * 3600 + t.minute * 60));
    w.line("TZOFFSETFROM", utc_offset(from));
    w.line("TZOFFSETTO", utc_offset(to));
    w.line("RRULE", "FREQ=YEARLY;BYMONTH=" + std::to_string(t.month) + ";BYDAY=" +
                        (t.week >= 5 ? std::string("-1") : std::to_string(t.week)) +
                        DAY_NAMES[t.day_of_week]);
    w.line("END", kind);
  };
  if (tz.has_dst()) {
    observance("STANDARD", tz.standard_date, daylight, standard);
    observance("DAYLIGHT", tz.daylight_date, standard, daylight);
  } else {
    w.line("BEGIN", "STANDARD");
    w.line("DTSTART", "19700101T000000");
    w.line("TZOFFSETFROM", utc_offset(standard));
    w.line("TZOFFSETTO", utc_offset(standard));
    w.line("END", "STANDARD");
  }
  w.line("END", "VTIMEZONE");
}

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

/// What kind of VCALENDAR is written: a plain export (.ics file) or an iTIP message.
enum class Method : u8 { None, Request, Reply, Cancel };

std::optional<Bytes> hex_bytes(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = text::hex_digit_value(hex[i]), lo = text::hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string event_uid(const model::Message &m, const model::Appointment &a,
                      const std::string &organizer_smtp) {
  std::string uid;
  if (std::optional<Bytes> goid = hex_bytes(a.global_object_id_hex))
    uid = uid_from_global_object_id(*goid);
  if (uid.empty()) {
    const std::string key = m.subject + '\x1f' + (a.start ? std::to_string(*a.start) : "") +
                            '\x1f' + organizer_smtp;
    uid = hex64(fnv1a(key)) + "@mailmill";
  }
  return uid;
}

// PARTSTAT of the replying attendee, by message class ([MS-OXOCAL] 2.2.6.x).
const char *reply_partstat(std::string_view cls) {
  if (text::istarts_with_ascii(cls, "IPM.Schedule.Meeting.Resp.Pos")) return "ACCEPTED";
  if (text::istarts_with_ascii(cls, "IPM.Schedule.Meeting.Resp.Neg")) return "DECLINED";
  return "TENTATIVE";
}

struct EventContext {
  const model::Message &m;
  const model::Appointment &a;
  Method method;
  Zone zone;
  std::string uid;
  std::string organizer_name, organizer_smtp;
};

void write_people(Writer &w, const EventContext &e) {
  const model::Message &m = e.m;
  if (e.method == Method::Reply) {
    // A reply goes from the attendee (the sender) to the organizer (its recipient).
    const model::Recipient *to = nullptr;
    for (const model::Recipient &r : m.recipients) {
      if (r.type == model::RecipientType::To) {
        to = &r;
        break;
      }
    }
    std::string p = "ORGANIZER";
    if (to != nullptr && !to->address.name.empty()) p += ";CN=" + param_value(to->address.name);
    w.line(p, mailto(to != nullptr ? to->address.smtp : std::string()));
    std::string at = "ATTENDEE";
    if (!m.from.name.empty()) at += ";CN=" + param_value(m.from.name);
    at += std::string(";PARTSTAT=") + reply_partstat(m.message_class);
    w.line(at, mailto(m.from.smtp));
    return;
  }
  if (!e.organizer_smtp.empty() || !e.organizer_name.empty() || e.method != Method::None) {
    std::string p = "ORGANIZER";
    if (!e.organizer_name.empty()) p += ";CN=" + param_value(e.organizer_name);
    w.line(p, mailto(e.organizer_smtp));
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
    if (e.method == Method::Request) {
      p += ";PARTSTAT=NEEDS-ACTION";
      if (e.a.response_requested) p += ";RSVP=TRUE";
    }
    w.line(p, mailto(r.address.smtp));
  }
}

void write_common_head(Writer &w, const EventContext &e) {
  w.text("UID", e.uid);
  w.line("DTSTAMP", format_utc(stamp_time(e.m).value_or(e.a.start.value_or(0))));
  if (e.method != Method::None) w.line("SEQUENCE", std::to_string(std::max(0, e.a.sequence.value_or(0))));
}

void write_alarm(Writer &w, const EventContext &e, std::optional<i32> minutes) {
  // iTIP REPLY and CANCEL carry no alarms (RFC 5546 3.2.3, 3.2.5).
  if (e.method == Method::Reply || e.method == Method::Cancel) return;
  if (!minutes || *minutes < 0) return;
  w.line("BEGIN", "VALARM");
  w.line("ACTION", "DISPLAY");
  w.line("DESCRIPTION", "Reminder");
  w.line("TRIGGER", "-PT" + std::to_string(*minutes) + "M");
  w.line("END", "VALARM");
}

void write_busy(Writer &w, std::optional<i32> busy) {
  if (!busy) return;
  // PidLidBusyStatus: 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere.
  static constexpr const char *CDO[] = {"FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE"};
  const i32 b = *busy;
  w.line("TRANSP", b == 0 ? "TRANSPARENT" : "OPAQUE");
  if (b >= 0 && b <= 4) w.line("X-MICROSOFT-CDO-BUSYSTATUS", CDO[b]);
}

// iTIP requests require a SUMMARY (RFC 5546 3.2.2), even an empty one.
void write_summary(Writer &w, const EventContext &e, const std::string &subject) {
  if (subject.empty() && e.method == Method::Request) w.line("SUMMARY", "");
  else w.text("SUMMARY", subject);
}

void write_event(Writer &w, const EventContext &e) {
  const model::Message &m = e.m;
  const model::Appointment &a = e.a;
  w.line("BEGIN", "VEVENT");
  write_common_head(w, e);
  if (a.recurrence) {
    // The series: first instance, rule, deleted instances, all in the item's zone.
    const model::Recurrence &r = *a.recurrence;
    const i64 end = r.start + i64{r.duration_minutes} * 60;
    if (a.all_day) {
      date_line(w, "DTSTART", r.start);
      // An all-day event lasts whole days; Outlook stores them midnight to midnight.
      date_line(w, "DTEND", std::max(end, r.start + SECONDS_PER_DAY));
    } else {
      time_line(w, "DTSTART", e.zone, r.start);
      time_line(w, "DTEND", e.zone, end);
    }
    w.line("RRULE", format_rrule(r, e.zone.tz, a.all_day));
    for (i64 d : r.deleted) {
      if (a.all_day) date_line(w, "EXDATE", d);
      else time_line(w, "EXDATE", e.zone, d);
    }
  } else if (a.all_day) {
    if (a.instance_start) w.line("RECURRENCE-ID;VALUE=DATE", format_date(*a.instance_start));
    if (a.start) w.line("DTSTART;VALUE=DATE", format_date(*a.start));
    if (a.end) w.line("DTEND;VALUE=DATE", format_date(*a.end));
  } else {
    if (a.instance_start) w.line("RECURRENCE-ID", format_utc(*a.instance_start));
    if (a.start) w.line("DTSTART", format_utc(*a.start));
    if (a.end) w.line("DTEND", format_utc(*a.end));
  }
  if (!a.recurrence && !a.recurrence_rule.empty()) w.line("RRULE", a.recurrence_rule);
  write_summary(w, e, m.subject);
  w.text("LOCATION", a.location);
  if (m.body_text) w.text("DESCRIPTION", *m.body_text);
  write_people(w, e);
  if (const std::string cats = join_escaped(m.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  write_class(w, m);
  write_priority(w, m);
  if (e.method == Method::Cancel) w.line("STATUS", "CANCELLED");
  write_busy(w, a.busy_status);
  write_alarm(w, e, a.reminder_minutes);
  w.line("END", "VEVENT");

  if (!a.recurrence) return;
  // Modified instances: one VEVENT each, same UID, RECURRENCE-ID = the original start.
  for (const model::RecurrenceException &x : a.recurrence->exceptions) {
    w.line("BEGIN", "VEVENT");
    write_common_head(w, e);
    if (a.all_day) {
      date_line(w, "RECURRENCE-ID", x.original_start);
    } else {
      time_line(w, "RECURRENCE-ID", e.zone, x.original_start);
    }
    if (x.all_day.value_or(a.all_day)) {
      date_line(w, "DTSTART", x.start);
      date_line(w, "DTEND", std::max(x.end, x.start + SECONDS_PER_DAY));
    } else {
      time_line(w, "DTSTART", e.zone, x.start);
      time_line(w, "DTEND", e.zone, x.end);
    }
    write_summary(w, e, x.subject.value_or(m.subject));
    w.text("LOCATION", x.location.value_or(a.location));
    write_people(w, e);
    if (e.method == Method::Cancel) w.line("STATUS", "CANCELLED");
    write_busy(w, x.busy_status ? x.busy_status : a.busy_status);
    // The instance's reminder: switched off, switched on (its delta, else the series'), or
    // the series' reminder with the instance's delta.
    const bool reminder_on = x.reminder_set.value_or(a.reminder_minutes.has_value());
    const i32 delta = x.reminder_minutes.value_or(a.reminder_minutes.value_or(15));
    write_alarm(w, e, reminder_on ? std::optional<i32>(delta) : std::nullopt);
    w.line("END", "VEVENT");
  }
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

Bytes render_calendar(const model::Message &item, Method method, const char *method_name) {
  Writer w;
  w.line("BEGIN", "VCALENDAR");
  w.line("VERSION", "2.0");
  w.line("PRODID", "-//mailmill//EN");
  if (method_name != nullptr) w.line("METHOD", method_name);
  if (item.task && !item.appointment) {
    write_todo(w, item);
  } else {
    const model::Appointment a = item.appointment.value_or(model::Appointment{});
    EventContext e{item, a, method, zone_of(a), {}, {}, {}};
    e.organizer_smtp = !a.organizer_smtp.empty() ? a.organizer_smtp : item.from.smtp;
    e.organizer_name = !a.organizer_name.empty() ? a.organizer_name : item.from.name;
    e.uid = event_uid(item, a, e.organizer_smtp);
    if (a.recurrence && !a.all_day && !e.zone.tzid.empty())
      write_vtimezone(w, *e.zone.tz, e.zone.tzid);
    write_event(w, e);
  }
  w.line("END", "VCALENDAR");
  return w.take();
}

}  // namespace

i64 local_to_utc(const model::TimeZone &tz, i64 local) {
  i64 bias = tz.bias + tz.standard_bias;
  if (tz.has_dst()) {
    const Civil c = civil_from_days(floor_div(local, SECONDS_PER_DAY));
    auto at = [&](const model::ZoneTransition &t) {
      const unsigned day = nth_weekday(c.year, t.month, t.day_of_week, t.week);
      return days_from_civil(c.year, t.month, day) * SECONDS_PER_DAY + t.hour * 3600 +
             t.minute * 60;
    };
    const i64 dst_start = at(tz.daylight_date), std_start = at(tz.standard_date);
    // Northern zones have DST inside the year, southern ones across the new year.
    const bool dst = dst_start < std_start ? (local >= dst_start && local < std_start)
                                           : (local >= dst_start || local < std_start);
    if (dst) bias = tz.bias + tz.daylight_bias;
  }
  return local + bias * 60;
}

std::string format_rrule(const model::Recurrence &r, const std::optional<model::TimeZone> &tz,
                         bool all_day) {
  using Freq = model::Recurrence::Freq;
  static constexpr const char *FREQ[] = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"};
  std::string s = std::string("FREQ=") + FREQ[static_cast<int>(r.freq)];
  if (r.interval > 1) s += ";INTERVAL=" + std::to_string(r.interval);
  if (r.freq == Freq::Weekly) {
    s += ";BYDAY=" + day_list(r.weekdays);
    const int wkst = r.first_day_of_week >= 0 && r.first_day_of_week <= 6 ? r.first_day_of_week : 1;
    s += std::string(";WKST=") + DAY_NAMES[wkst];
  } else if (r.freq == Freq::Monthly || r.freq == Freq::Yearly) {
    if (r.month >= 1 && r.month <= 12) s += ";BYMONTH=" + std::to_string(r.month);
    if (r.nth != 0 && r.weekdays != 0) {
      const std::string n = std::to_string(r.nth);
      // One weekday: "2TU". Several ("last weekday of the month"): the nth of the set.
      if ((r.weekdays & (r.weekdays - 1)) == 0) s += ";BYDAY=" + n + day_list(r.weekdays);
      else s += ";BYDAY=" + day_list(r.weekdays) + ";BYSETPOS=" + n;
    } else if (r.month_day == -1 || (r.clamp_month_day && r.month_day >= 31)) {
      s += ";BYMONTHDAY=-1";
    } else if (r.clamp_month_day) {
      // "Day 29/30" falls on the last day of shorter months: the last of 28..day that exists.
      s += ";BYMONTHDAY=28";
      for (int d = 29; d <= r.month_day; ++d) s += "," + std::to_string(d);
      s += ";BYSETPOS=-1";
    } else if (r.month_day > 0) {
      s += ";BYMONTHDAY=" + std::to_string(r.month_day);
    }
  }
  if (r.end == model::Recurrence::End::ByCount) {
    s += ";COUNT=" + std::to_string(r.count);
  } else if (r.end == model::Recurrence::End::ByDate) {
    // RFC 5545 3.3.10: UNTIL is a DATE when DTSTART is, else UTC when DTSTART has a zone.
    s += ";UNTIL=" + (all_day ? format_local_date(r.until)
                              : format_utc(tz ? local_to_utc(*tz, r.until) : r.until));
  }
  return s;
}

std::optional<std::string> meeting_method(std::string_view cls) {
  auto is = [&](std::string_view base) {
    return text::iequals_ascii(cls, base) ||
           (text::istarts_with_ascii(cls, base) && cls.size() > base.size() &&
            cls[base.size()] == '.');
  };
  if (is("IPM.Schedule.Meeting.Request")) return std::string("REQUEST");
  if (is("IPM.Schedule.Meeting.Resp.Pos") || is("IPM.Schedule.Meeting.Resp.Neg") ||
      is("IPM.Schedule.Meeting.Resp.Tent")) {
    return std::string("REPLY");
  }
  if (is("IPM.Schedule.Meeting.Canceled")) return std::string("CANCEL");
  return std::nullopt;
}

std::optional<Bytes> render_meeting_ics(const model::Message &item) {
  const std::optional<std::string> method = meeting_method(item.message_class);
  if (!method || !item.appointment) return std::nullopt;
  const Method m = *method == "REQUEST" ? Method::Request
                   : *method == "REPLY" ? Method::Reply
                                        : Method::Cancel;
  return render_calendar(item, m, method->c_str());
}

std::string uid_from_global_object_id(std::string_view goid) {
  if (goid.empty()) return {};
  // Header (40 bytes): ByteArrayID[16] InstanceDate[4] CreationDateTime[8] Padding[8]
  // DataSize[4]; then the data, which for a third-party UID is "vCal-Uid" u32 UID NUL.
  constexpr std::string_view VCAL = "vCal-Uid";
  if (goid.size() > 52 && goid.substr(40, VCAL.size()) == VCAL) {
    std::string_view uid = goid.substr(52);
    uid = uid.substr(0, uid.find('\0'));
    std::string clean;
    for (char c : uid)
      if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7F) clean += c;
    clean = text::sanitize_utf8(clean);
    if (!clean.empty()) return clean;
  }
  std::string bytes(goid);
  for (std::size_t i = 16; i < 20 && i < bytes.size(); ++i) bytes[i] = '\0';
  return text::to_hex_upper(bytes);
}

Bytes render_ics(const model::Message &item) { return render_calendar(item, Method::None, nullptr); }

}  // namespace mm::mime
