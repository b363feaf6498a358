#pragma once
/// Non-mail item renderings: iCalendar ([RFC 5545]) for appointments and tasks, vCard 3.0
/// ([RFC 2426]) for contacts. Pure, deterministic, thread-safe. CRLF line ends, lines folded
/// at 75 octets without splitting UTF-8 characters.
#include "mailmill/model/item.h"
#include "mailmill/util/types.h"

namespace mm::mime {

/// VCALENDAR with one VEVENT (appointments, meeting items) or VTODO (tasks).
Bytes render_ics(const model::Message &item);
/// One VCARD.
Bytes render_vcf(const model::Message &item);

}  // namespace mm::mime
