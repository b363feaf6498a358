// Recurrence and time zone blobs of calendar items ([MS-OXOCAL] 2.2.1.39, 2.2.1.41, 2.2.1.44).
#include "mailmill/mapi/recurrence.h"

#include <algorithm>
#include <cstdio>

#include "mailmill/util/text.h"

namespace mm::mapi {
namespace {

// RecurrencePattern field values ([MS-OXOCAL] 2.2.1.44.1).
constexpr u16 FREQ_DAILY = 0x200A, FREQ_WEEKLY = 0x200B, FREQ_MONTHLY = 0x200C,
              FREQ_YEARLY = 0x200D;
constexpr u16 PT_DAY = 0x0000, PT_WEEK = 0x0001, PT_MONTH = 0x0002, PT_MONTH_END = 0x0003,
              PT_MONTH_NTH = 0x0004, PT_HJ_MONTH = 0x000A, PT_HJ_MONTH_NTH = 0x000B,
              PT_HJ_MONTH_END = 0x000C;
constexpr u32 END_AFTER_DATE = 0x2021, END_AFTER_N = 0x2022, END_NEVER = 0x2023,
              END_NEVER_OLD = 0xFFFFFFFF;
// ExceptionInfo OverrideFlags (2.2.1.44.2).
constexpr u16 ARO_SUBJECT = 0x0001, ARO_MEETINGTYPE = 0x0002, ARO_REMINDERDELTA = 0x0004,
              ARO_REMINDER = 0x0008, ARO_LOCATION = 0x0010, ARO_BUSYSTATUS = 0x0020,
              ARO_ATTACHMENT = 0x0040, ARO_SUBTYPE = 0x0080, ARO_APPTCOLOR = 0x0100;
// WriterVersion2 from which ExtendedException carries a ChangeHighlight (2.2.1.44.3).
constexpr u32 WRITER2_CHANGE_HIGHLIGHT = 0x3009;
constexpr u32 TZRULE_FLAG_EFFECTIVE_TZREG = 0x0002;

/// Bounds-checked little-endian reader; every failure names the field and its offset.
class Cursor {
 public:
  explicit Cursor(std::string_view b) : b_(b) {}
  bool u16v(u16 &v) {
    if (b_.size() - pos_ < 2) return false;
    v = load_le16(b_.data() + pos_);
    pos_ += 2;
    return true;
  }
  bool u32v(u32 &v) {
    if (b_.size() - pos_ < 4) return false;
    v = load_le32(b_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool take(u64 n, std::string_view &out) {
    if (b_.size() - pos_ < n) return false;
    out = b_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(u64 n) {
    std::string_view ignored;
    return take(n, ignored);
  }
  u64 pos() const { return pos_; }
  u64 left() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  u64 pos_ = 0;
};

Problem bad(const char *what, u64 offset) {
  return Problem{ProblemCode::ItemUnreadable, std::string("recurrence blob: ") + what,
                 static_cast<i64>(offset)};
}

// Days since 1970-01-01 to the civil month (H. Hinnant's civil_from_days, month only).
i32 civil_month(i64 local_seconds) {
  i64 z = local_seconds / 86400 - (local_seconds % 86400 < 0 ? 1 : 0) + 719468;
  const i64 era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  return static_cast<i32>(mp < 10 ? mp + 3 : mp - 9);
}

// [MS-OXOCAL] CalendarType: which calendars count days and months like the Gregorian one.
// Japanese, Taiwan, Korean and Thai calendars only number the years differently, so every
// pattern means the same dates; Hijri, Hebrew and the lunar calendars have other months.
bool months_are_gregorian(u16 calendar_type) {
  switch (calendar_type) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 7: case 9: case 10: case 11: case 12:
      return true;
    default:
      return false;
  }
}

// An 8-bit string of an ExceptionInfo: "Length" then "Length2" (the byte count) then bytes.
bool ansi_string(Cursor &c, u32 codepage, std::string &out) {
  u16 len = 0, len2 = 0;
  std::string_view raw;
  if (!c.u16v(len) || !c.u16v(len2) || !c.take(len2, raw)) return false;
  std::optional<std::string> s = text::codepage_to_utf8(raw, codepage);
  out = s ? *std::move(s) : text::sanitize_utf8(raw);
  return true;
}

bool wide_string(Cursor &c, std::string &out) {
  u16 chars = 0;
  std::string_view raw;
  if (!c.u16v(chars) || !c.take(u64{chars} * 2, raw)) return false;
  out = text::utf16le_to_utf8(raw);
  return true;
}

// The part after ExceptionInfo: ReservedBlock1, one ExtendedException per exception, with the
// Unicode subject and location that replace the 8-bit ones.
void parse_extended(Cursor &c, u32 writer2, std::vector<u16> &flags,
                    model::Recurrence &r, std::vector<std::string> &notes) {
  u32 reserved = 0;
  if (!c.u32v(reserved) || !c.skip(reserved)) {
    notes.push_back("recurrence blob: ReservedBlock1 truncated; exception subjects kept 8-bit");
    return;
  }
  for (std::size_t i = 0; i < r.exceptions.size(); ++i) {
    model::RecurrenceException &ex = r.exceptions[i];
    const u64 at = c.pos();
    bool ok = true;
    if (writer2 >= WRITER2_CHANGE_HIGHLIGHT) {
      u32 size = 0;
      ok = c.u32v(size) && c.skip(size);
    }
    u32 ee1 = 0;
    ok = ok && c.u32v(ee1) && c.skip(ee1);
    if (ok && (flags[i] & (ARO_SUBJECT | ARO_LOCATION)) != 0) {
      u32 start = 0, end = 0, original = 0;
      ok = c.u32v(start) && c.u32v(end) && c.u32v(original);
      std::string s;
      if (ok && (flags[i] & ARO_SUBJECT) != 0) {
        ok = wide_string(c, s);
        if (ok) ex.subject = s;
      }
      if (ok && (flags[i] & ARO_LOCATION) != 0) {
        ok = wide_string(c, s);
        if (ok) ex.location = s;
      }
      u32 ee2 = 0;
      ok = ok && c.u32v(ee2) && c.skip(ee2);
    }
    if (!ok) {
      char buf[112];
      std::snprintf(buf, sizeof buf,
                    "recurrence blob: ExtendedException %zu truncated at offset %llu; rest kept "
                    "8-bit",
                    i, static_cast<unsigned long long>(at));
      notes.emplace_back(buf);
      return;
    }
  }
}

}  // namespace

Result<ParsedRecurrence> parse_appointment_recurrence(std::string_view blob, u32 codepage) {
  ParsedRecurrence out;
  model::Recurrence &r = out.recurrence;
  Cursor c(blob);
  u16 reader = 0, writer = 0, freq = 0, pattern = 0, calendar = 0;
  u32 first_date_time = 0, period = 0, sliding = 0;
  if (!c.u16v(reader) || !c.u16v(writer) || !c.u16v(freq) || !c.u16v(pattern) ||
      !c.u16v(calendar) || !c.u32v(first_date_time) || !c.u32v(period) || !c.u32v(sliding)) {
    return bad("header truncated", c.pos());
  }
  if (reader != 0x3004) return bad("ReaderVersion is not 0x3004", 0);
  (void)first_date_time;  // derivable from StartDate and the pattern; not needed for RRULE

  // PatternTypeSpecific: nothing for Day, a day mask for Week, a day for Month/MonthEnd, a day
  // mask and an nth for MonthNth.
  u32 days = 0, nth = 0, month_day = 0;
  switch (pattern) {
    case PT_DAY: break;
    case PT_WEEK:
      if (!c.u32v(days)) return bad("week pattern truncated", c.pos());
      break;
    case PT_MONTH: case PT_MONTH_END: case PT_HJ_MONTH: case PT_HJ_MONTH_END:
      if (!c.u32v(month_day)) return bad("month pattern truncated", c.pos());
      break;
    case PT_MONTH_NTH: case PT_HJ_MONTH_NTH:
      if (!c.u32v(days) || !c.u32v(nth)) return bad("month-nth pattern truncated", c.pos());
      break;
    default: return bad("unknown PatternType", 6);
  }
  u32 end_type = 0, occurrences = 0, first_dow = 0, n_deleted = 0, n_modified = 0;
  if (!c.u32v(end_type) || !c.u32v(occurrences) || !c.u32v(first_dow) || !c.u32v(n_deleted))
    return bad("end fields truncated", c.pos());
  if (n_deleted > c.left() / 4) return bad("DeletedInstanceCount exceeds the blob", c.pos());
  std::vector<u32> deleted(n_deleted);
  for (u32 &d : deleted) c.u32v(d);
  if (!c.u32v(n_modified)) return bad("ModifiedInstanceCount truncated", c.pos());
  if (n_modified > c.left() / 4) return bad("ModifiedInstanceCount exceeds the blob", c.pos());
  if (!c.skip(u64{n_modified} * 4)) return bad("modified dates truncated", c.pos());
  u32 start_date = 0, end_date = 0;
  if (!c.u32v(start_date) || !c.u32v(end_date)) return bad("StartDate/EndDate truncated", c.pos());

  // AppointmentRecurrencePattern (2.2.1.44.5).
  u32 reader2 = 0, writer2 = 0, start_offset = 0, end_offset = 0;
  u16 n_exceptions = 0;
  if (!c.u32v(reader2) || !c.u32v(writer2) || !c.u32v(start_offset) || !c.u32v(end_offset) ||
      !c.u16v(n_exceptions)) {
    return bad("appointment fields truncated", c.pos());
  }
  if (start_offset >= 24 * 60 || end_offset < start_offset || end_offset - start_offset > 1u << 24)
    return bad("StartTimeOffset/EndTimeOffset out of range", c.pos());

  // Frequency and pattern. Hijri patterns and months of other calendars have no RFC 5545
  // form (RFC 7529 RSCALE is not widely read): the caller keeps the single instance.
  if (pattern == PT_HJ_MONTH || pattern == PT_HJ_MONTH_NTH || pattern == PT_HJ_MONTH_END)
    return bad("Hijri month pattern has no iCalendar equivalent", 6);
  if (freq != FREQ_DAILY && freq != FREQ_WEEKLY && freq != FREQ_MONTHLY && freq != FREQ_YEARLY)
    return bad("unknown RecurFrequency", 4);
  if ((freq == FREQ_MONTHLY || freq == FREQ_YEARLY) && !months_are_gregorian(calendar))
    return bad("monthly/yearly pattern in a non-Gregorian calendar", 8);
  if (period == 0) return bad("Period is 0", 14);
  if (first_dow > 6) return bad("FirstDOW out of range", c.pos());
  r.first_day_of_week = static_cast<i32>(first_dow);
  r.start = minutes_1601_to_local(start_date) + i64{start_offset} * 60;
  r.duration_minutes = static_cast<i32>(end_offset - start_offset);

  if (pattern == PT_DAY) {
    if (freq != FREQ_DAILY) return bad("Day pattern with a non-daily frequency", 6);
    // Daily periods are in minutes; Outlook only writes whole days.
    if (period % 1440 != 0) return bad("daily Period is not a whole number of days", 14);
    r.freq = model::Recurrence::Freq::Daily;
    r.interval = static_cast<i32>(period / 1440);
  } else if (pattern == PT_WEEK) {
    // "Every weekday" is a daily frequency with a Week pattern; both are weekly in RFC 5545.
    if (freq != FREQ_DAILY && freq != FREQ_WEEKLY) return bad("Week pattern frequency", 4);
    if ((days & 0x7F) == 0 || (days & ~0x7Fu) != 0) return bad("week day mask invalid", 22);
    r.freq = model::Recurrence::Freq::Weekly;
    r.interval = static_cast<i32>(period);
    r.weekdays = static_cast<u8>(days);
  } else {
    if (freq != FREQ_MONTHLY && freq != FREQ_YEARLY) return bad("month pattern frequency", 4);
    const bool yearly = freq == FREQ_YEARLY;
    // Yearly periods are in months (12 per year).
    if (yearly && period % 12 != 0) return bad("yearly Period is not a multiple of 12", 14);
    r.freq = yearly ? model::Recurrence::Freq::Yearly : model::Recurrence::Freq::Monthly;
    r.interval = static_cast<i32>(yearly ? period / 12 : period);
    if (yearly) r.month = civil_month(r.start);
    if (pattern == PT_MONTH) {
      if (month_day < 1 || month_day > 31) return bad("day of month out of range", 22);
      r.month_day = static_cast<i32>(month_day);
      // Outlook puts "day 29/30/31" on the last day of a month that is shorter.
      r.clamp_month_day = month_day >= 29;
    } else if (pattern == PT_MONTH_END) {
      r.month_day = -1;
    } else {
      if ((days & 0x7F) == 0 || (days & ~0x7Fu) != 0) return bad("week day mask invalid", 22);
      if (nth < 1 || nth > 5) return bad("week-of-month out of range", 26);
      r.weekdays = static_cast<u8>(days);
      r.nth = nth == 5 ? -1 : static_cast<i32>(nth);
    }
  }
  if (r.interval < 1 || r.interval > 999) return bad("interval out of range", 14);

  switch (end_type) {
    case END_AFTER_DATE:
      r.end = model::Recurrence::End::ByDate;
      r.until = minutes_1601_to_local(end_date) + i64{start_offset} * 60;
      if (r.until < r.start) return bad("EndDate before StartDate", c.pos());
      break;
    case END_AFTER_N:
      if (occurrences == 0 || occurrences > 999999) return bad("OccurrenceCount invalid", 0);
      r.end = model::Recurrence::End::ByCount;
      r.count = static_cast<i32>(occurrences);
      break;
    case END_NEVER: case END_NEVER_OLD: r.end = model::Recurrence::End::Never; break;
    default: return bad("unknown EndType", 0);
  }

  // ExceptionInfo (2.2.1.44.2): the modified instances.
  if (n_exceptions > n_deleted) return bad("more exceptions than deleted instances", c.pos());
  std::vector<u16> flags;
  for (u16 i = 0; i < n_exceptions; ++i) {
    model::RecurrenceException ex;
    u32 start = 0, end = 0, original = 0;
    u16 f = 0;
    if (!c.u32v(start) || !c.u32v(end) || !c.u32v(original) || !c.u16v(f))
      return bad("ExceptionInfo truncated", c.pos());
    ex.start = minutes_1601_to_local(start);
    ex.end = minutes_1601_to_local(end);
    ex.original_start = minutes_1601_to_local(original);
    if (ex.end < ex.start) return bad("exception ends before it starts", c.pos());
    u32 v = 0;
    std::string s;
    if ((f & ARO_SUBJECT) != 0) {
      if (!ansi_string(c, codepage, s)) return bad("exception subject truncated", c.pos());
      ex.subject = s;
    }
    if ((f & ARO_MEETINGTYPE) != 0 && !c.u32v(v)) return bad("exception truncated", c.pos());
    if ((f & ARO_REMINDERDELTA) != 0) {
      if (!c.u32v(v)) return bad("exception truncated", c.pos());
      ex.reminder_minutes = static_cast<i32>(v);
    }
    if ((f & ARO_REMINDER) != 0) {
      if (!c.u32v(v)) return bad("exception truncated", c.pos());
      ex.reminder_set = v != 0;
    }
    if ((f & ARO_LOCATION) != 0) {
      if (!ansi_string(c, codepage, s)) return bad("exception location truncated", c.pos());
      ex.location = s;
    }
    if ((f & ARO_BUSYSTATUS) != 0) {
      if (!c.u32v(v)) return bad("exception truncated", c.pos());
      ex.busy_status = static_cast<i32>(v);
    }
    if ((f & ARO_ATTACHMENT) != 0 && !c.u32v(v)) return bad("exception truncated", c.pos());
    if ((f & ARO_SUBTYPE) != 0) {
      if (!c.u32v(v)) return bad("exception truncated", c.pos());
      ex.all_day = v != 0;
    }
    if ((f & ARO_APPTCOLOR) != 0 && !c.u32v(v)) return bad("exception truncated", c.pos());
    r.exceptions.push_back(std::move(ex));
    flags.push_back(f);
  }
  parse_extended(c, writer2, flags, r, out.notes);

  // DeletedInstanceDates lists the original dates of modified instances too; those become
  // exception VEVENTs, the rest EXDATEs. Dates are local midnights.
  for (u32 d : deleted) {
    const i64 day = minutes_1601_to_local(d);
    const bool modified =
        std::any_of(r.exceptions.begin(), r.exceptions.end(), [&](const auto &ex) {
          return ex.original_start - ((ex.original_start % 86400) + 86400) % 86400 == day;
        });
    if (!modified) r.deleted.push_back(day + i64{start_offset} * 60);
  }
  std::sort(r.deleted.begin(), r.deleted.end());
  r.deleted.erase(std::unique(r.deleted.begin(), r.deleted.end()), r.deleted.end());
  (void)writer;
  (void)sliding;
  return out;
}

namespace {

model::ZoneTransition transition(std::string_view st) {
  // SYSTEMTIME: wYear wMonth wDayOfWeek wDay wHour wMinute wSecond wMilliseconds.
  model::ZoneTransition t;
  t.month = load_le16(st.data() + 2);
  t.day_of_week = load_le16(st.data() + 4);
  t.week = load_le16(st.data() + 6);
  t.hour = load_le16(st.data() + 8);
  t.minute = load_le16(st.data() + 10);
  return t;
}

// A zone is usable when its offsets are within a day and its transitions are in the
// "day-in-month" form (wYear 0); absolute-date transitions are treated as "no DST".
std::optional<model::TimeZone> checked(model::TimeZone tz, std::string_view std_st,
                                       std::string_view dst_st) {
  auto in_range = [](i32 m) { return m > -24 * 60 && m < 24 * 60; };
  if (!in_range(tz.bias) || !in_range(tz.standard_bias) || !in_range(tz.daylight_bias) ||
      !in_range(tz.bias + tz.standard_bias) || !in_range(tz.bias + tz.daylight_bias)) {
    return std::nullopt;
  }
  tz.standard_date = transition(std_st);
  tz.daylight_date = transition(dst_st);
  for (model::ZoneTransition *t : {&tz.standard_date, &tz.daylight_date}) {
    const bool valid = t->month >= 1 && t->month <= 12 && t->day_of_week <= 6 && t->week >= 1 &&
                       t->week <= 5 && t->hour < 24 && t->minute < 60;
    if (!valid) *t = model::ZoneTransition{};
  }
  if (load_le16(std_st.data()) != 0 || load_le16(dst_st.data()) != 0 || !tz.has_dst()) {
    tz.standard_date = tz.daylight_date = model::ZoneTransition{};
  }
  return tz;
}

}  // namespace

std::optional<model::TimeZone> parse_time_zone_struct(std::string_view blob) {
  // TZSTRUCT (2.2.1.39): lBias lStandardBias lDaylightBias wStandardYear stStandardDate
  // wDaylightYear stDaylightDate.
  if (blob.size() < 48) return std::nullopt;
  model::TimeZone tz;
  tz.bias = static_cast<i32>(load_le32(blob.data()));
  tz.standard_bias = static_cast<i32>(load_le32(blob.data() + 4));
  tz.daylight_bias = static_cast<i32>(load_le32(blob.data() + 8));
  return checked(tz, blob.substr(14, 16), blob.substr(32, 16));
}

std::optional<model::TimeZone> parse_time_zone_definition(std::string_view blob) {
  // TZDEFINITION (2.2.1.41): bMajorVersion bMinorVersion cbHeader wReserved cchKeyName
  // KeyName cRules, then cRules TZRULEs of 66 bytes.
  Cursor c(blob);
  std::string_view head, key;
  u16 cb_header = 0, reserved = 0, cch = 0, rules = 0;
  if (!c.take(2, head) || static_cast<u8>(head[0]) != 2 || !c.u16v(cb_header) ||
      !c.u16v(reserved) || !c.u16v(cch) || !c.take(u64{cch} * 2, key) || !c.u16v(rules)) {
    return std::nullopt;
  }
  if (rules == 0 || rules > 1024) return std::nullopt;
  std::string_view chosen;
  for (u16 i = 0; i < rules; ++i) {
    std::string_view rule;
    if (!c.take(66, rule)) return std::nullopt;
    if ((load_le16(rule.data() + 4) & TZRULE_FLAG_EFFECTIVE_TZREG) != 0 || i + 1 == rules) {
      if (chosen.empty()) chosen = rule;
    }
  }
  // TZRULE: major minor reserved flags wYear X[14] lBias lStandardBias lDaylightBias
  // stStandardDate stDaylightDate.
  model::TimeZone tz;
  tz.name = text::utf16le_to_utf8(key);
  tz.bias = static_cast<i32>(load_le32(chosen.data() + 22));
  tz.standard_bias = static_cast<i32>(load_le32(chosen.data() + 26));
  tz.daylight_bias = static_cast<i32>(load_le32(chosen.data() + 30));
  return checked(tz, chosen.substr(34, 16), chosen.substr(50, 16));
}

}  // namespace mm::mapi
