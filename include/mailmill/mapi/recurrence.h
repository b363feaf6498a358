#pragma once
/// Parsers of the calendar blobs of appointments and meeting objects: the recurrence pattern
/// (PidLidAppointmentRecur, [MS-OXOCAL] 2.2.1.44) and Windows time zones (PidLidTimeZoneStruct,
/// 2.2.1.39; TZDEFINITION of PidLidAppointmentTimeZoneDefinition*, 2.2.1.41). Pure functions of
/// their input, thread-safe; malformed input gives a Problem (or nullopt), never a crash.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/model/calendar.h"
#include "mailmill/util/result.h"

namespace mm::mapi {

/// A parsed series plus notes on parts that were skipped leniently (e.g. a truncated
/// ExtendedException: the ANSI subject is kept).
struct ParsedRecurrence {
  model::Recurrence recurrence;
  std::vector<std::string> notes;
};

/// Parses an AppointmentRecurrencePattern. `codepage` decodes the 8-bit exception subjects and
/// locations (the Unicode ones of ExtendedException win when present). A truncated or
/// inconsistent blob, an unknown frequency/pattern/end type, or a pattern that RFC 5545 cannot
/// express (Hijri or other lunar calendars) gives ItemUnreadable with the reason and the offset.
Result<ParsedRecurrence> parse_appointment_recurrence(std::string_view blob, u32 codepage);

/// PidLidTimeZoneStruct (TZSTRUCT, 48 bytes); nullopt when it is not well formed.
std::optional<model::TimeZone> parse_time_zone_struct(std::string_view blob);

/// A TZDEFINITION: the rule flagged effective (TZRULE_FLAG_EFFECTIVE_TZREG), else the last
/// one; the zone name is the definition's key name. nullopt when it is not well formed.
std::optional<model::TimeZone> parse_time_zone_definition(std::string_view blob);

/// Minutes since 1601-01-01 (the blob's time unit) to local seconds (see model/calendar.h).
constexpr i64 minutes_1601_to_local(u32 minutes) {
  return static_cast<i64>(minutes) * 60 - 11644473600LL;
}

}  // namespace mm::mapi
