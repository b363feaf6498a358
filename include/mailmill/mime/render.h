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
/// A distribution list as a vCard 4.0 group ([RFC 6350] 6.1.4 KIND:group): one MEMBER per
/// member, `mailto:` with its SMTP address; a member known only by name (its entry points into
/// an address book the file does not hold) gets a KIND:individual card of its own, with FN and
/// a UID that the group's MEMBER names (urn:uuid, derived from the list and the member, so the
/// same list always gives the same bytes). `name_only` counts those members.
Bytes render_dist_list_vcf(const model::Message &item, std::size_t *name_only = nullptr);

}  // namespace mm::mime
