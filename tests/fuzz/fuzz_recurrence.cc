// Fuzz target: the calendar blobs of appointments (PidLidAppointmentRecur, TZSTRUCT,
// TZDEFINITION) and, when they parse, the iCalendar written from them (.ics and the meeting
// request part).
#include <cstddef>
#include <cstdint>

#include "mailmill/mapi/recurrence.h"
#include "mailmill/mime/ical.h"
#include "mailmill/mime/render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mm;
  ByteView in(reinterpret_cast<const char *>(data), size);
  model::Message m;
  m.kind = model::ItemKind::Appointment;
  m.message_class = "IPM.Schedule.Meeting.Request";
  m.subject = "fuzz";
  model::Appointment a;
  a.is_recurring = true;
  a.time_zone = mapi::parse_time_zone_struct(in);
  if (!a.time_zone) a.time_zone = mapi::parse_time_zone_definition(in);
  Result<mapi::ParsedRecurrence> r = mapi::parse_appointment_recurrence(in, 1252);
  if (r) a.recurrence = r->recurrence;
  if (a.time_zone) a.time_zone->name = "Zone";
  a.all_day = size > 0 && (data[0] & 1) != 0;
  m.appointment = a;
  (void)mime::render_ics(m);
  (void)mime::render_meeting_ics(m);
  return 0;
}
