#pragma once
/// iCalendar ([RFC 5545]) pieces beyond render_ics (render.h): recurrence rules, time zones and
/// the iTIP ([RFC 5546]) part of meeting messages. Pure, deterministic, thread-safe.
#include <optional>
#include <string>
#include <string_view>

#include "mailmill/model/item.h"
#include "mailmill/util/types.h"

namespace mm::mime {

/// The RRULE value of a series. `tz` converts an UNTIL to UTC (nullopt: local times are UTC);
/// with `all_day` UNTIL is a DATE.
std::string format_rrule(const model::Recurrence &r, const std::optional<model::TimeZone> &tz,
                         bool all_day);

/// UTC seconds of the local time `local` (see model/calendar.h) in zone `tz`.
i64 local_to_utc(const model::TimeZone &tz, i64 local);

/// The iTIP method of a meeting message class: "REQUEST" (IPM.Schedule.Meeting.Request),
/// "REPLY" (.Resp.Pos/.Neg/.Tent), "CANCEL" (.Canceled); nullopt for any other class.
std::optional<std::string> meeting_method(std::string_view message_class);

/// The text/calendar body of a meeting message: a VCALENDAR with METHOD, the event (its
/// series, exceptions and VTIMEZONE when recurring), ORGANIZER and ATTENDEEs with their role
/// and participation status. nullopt when the item is not a meeting message (meeting_method)
/// or carries no appointment data.
std::optional<Bytes> render_meeting_ics(const model::Message &item);

/// The iCalendar UID of a PidLidGlobalObjectId ([MS-ASEMAIL] 3.1.4.7, [MS-OXCICAL]
/// 2.1.3.1.1.20.26): the embedded third-party UID when the id holds one ("vCal-Uid"), else
/// the id in upper-case hex with the instance date (bytes 16..19) zeroed. Empty for empty input.
std::string uid_from_global_object_id(std::string_view goid);

}  // namespace mm::mime
