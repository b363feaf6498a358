#pragma once
/// Calendar data of the model: a recurrence series and the time zone its local times are in,
/// as Outlook stores them ([MS-OXOCAL] 2.2.1.44, 2.2.1.39, 2.2.1.41). Plain data, no I/O.
///
/// "Local seconds" below are wall-clock times of the item's time zone counted like Unix
/// seconds (as if the wall clock were UTC): 2016-08-02 08:00 local is 1470124800.
#include <optional>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::model {

/// A transition date of a Windows time zone (SYSTEMTIME in the "day-in-month" form): in
/// `month` (1..12), the `week`-th (1..4, 5 = last) `day_of_week` (0 = Sunday) at hour:minute
/// local time. month == 0 means "no transition" (no daylight saving time).
struct ZoneTransition {
  u16 month = 0, day_of_week = 0, week = 0, hour = 0, minute = 0;
};

/// One Windows time zone rule (TZSTRUCT / TZRULE). UTC = local + bias (minutes); the
/// standard-time bias is bias + standard_bias, the daylight one bias + daylight_bias.
struct TimeZone {
  std::string name;  ///< key name or description ("Pacific Standard Time"); may be empty
  i32 bias = 0, standard_bias = 0, daylight_bias = 0;
  ZoneTransition standard_date;  ///< when standard time starts (the end of DST)
  ZoneTransition daylight_date;  ///< when daylight saving time starts
  bool has_dst() const { return standard_date.month != 0 && daylight_date.month != 0; }
};

/// One modified instance of a series (ExceptionInfo + ExtendedException). Fields that the
/// exception does not override are unset and inherit the series' values.
struct RecurrenceException {
  i64 original_start = 0;  ///< local seconds: the start the instance had in the pattern
  i64 start = 0, end = 0;  ///< local seconds: its start and end now
  std::optional<std::string> subject, location;  ///< UTF-8
  std::optional<i32> busy_status;
  std::optional<bool> all_day;
  std::optional<i32> reminder_minutes;  ///< set only when the reminder is on for the instance
  std::optional<bool> reminder_set;
};

/// A recurrence pattern in the terms of RFC 5545 RRULE, plus the series' exceptions.
struct Recurrence {
  enum class Freq : u8 { Daily, Weekly, Monthly, Yearly };
  enum class End : u8 { Never, ByDate, ByCount };
  Freq freq = Freq::Daily;
  i32 interval = 1;       ///< every n days / weeks / months / years
  u8 weekdays = 0;        ///< BYDAY bit mask, bit 0 = Sunday .. bit 6 = Saturday; 0 = none
  i32 month_day = 0;      ///< BYMONTHDAY: 1..31 (see clamp_month_day), -1 = last day; 0 = none
  /// A day 29..31 that Outlook moves to the month's last day when the month is shorter.
  bool clamp_month_day = false;
  i32 nth = 0;            ///< with weekdays: 1..4 = the nth of them in the month, -1 = last
  i32 month = 0;          ///< BYMONTH for yearly patterns (1..12); 0 = none
  i32 first_day_of_week = 1;  ///< WKST: 0 = Sunday .. 6 = Saturday
  End end = End::Never;
  i64 until = 0;          ///< ByDate: local seconds of the last instance's start
  i32 count = 0;          ///< ByCount: number of instances (deleted ones included)
  i64 start = 0;          ///< local seconds of the first instance's start
  i32 duration_minutes = 0;  ///< EndTimeOffset - StartTimeOffset
  /// Local start times of instances deleted from the series (modified ones not included).
  std::vector<i64> deleted;
  std::vector<RecurrenceException> exceptions;
};

}  // namespace mm::model
