// mm_ical_check: validates iCalendar files with libical, an independent parser, for the
// integration tests. For each file argument it prints one line:
//   OK <file>                          parsed, no X-LIC-ERROR after icalrestriction_check
//   ERR <file>: <error>; <error>...    libical's parse errors and restriction violations
// With --expand N (before the files) it also prints, for each VEVENT with an RRULE, up to N
// instances in UTC, EXDATEs removed: "INST<TAB>file<TAB>UID<TAB>unix seconds ...".
// Exit code 0 when every file is OK, 1 otherwise, 2 on usage errors.
#include <libical/ical.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

void collect_errors(icalcomponent *c, std::vector<std::string> &out) {
  for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
       p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
    out.emplace_back(icalproperty_get_xlicerror(p));
  }
  for (icalcomponent *s = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); s;
       s = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
    collect_errors(s, out);
  }
}

icaltimezone *zone_of(icalcomponent *cal, icalproperty *prop) {
  icalparameter *p = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER);
  return p ? icalcomponent_get_timezone(cal, icalparameter_get_tzid(p)) : nullptr;
}

long long utc_of(icalcomponent *cal, icalproperty *prop, icaltimetype t) {
  if (icaltimezone *z = zone_of(cal, prop)) return icaltime_as_timet_with_zone(t, z);
  return icaltime_as_timet(t);
}

void expand(const char *file, icalcomponent *cal, int max) {
  for (icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); ev;
       ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
    icalproperty *rrule = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    icalproperty *dtstart = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    if (rrule == nullptr || dtstart == nullptr) continue;
    std::set<long long> exdates;
    for (icalproperty *p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); p;
         p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
      exdates.insert(utc_of(cal, p, icalproperty_get_exdate(p)));
    }
    icaltimetype t0 = icalproperty_get_dtstart(dtstart);
    icaltimezone *z = zone_of(cal, dtstart);
    if (z != nullptr) t0 = icaltime_set_timezone(&t0, z);
    icalrecur_iterator *it = icalrecur_iterator_new(icalproperty_get_rrule(rrule), t0);
    if (it == nullptr) continue;
    std::printf("INST\t%s\t%s\t", file, icalcomponent_get_uid(ev));
    int n = 0;
    for (icaltimetype t = icalrecur_iterator_next(it); !icaltime_is_null_time(t) && n < max;
         t = icalrecur_iterator_next(it)) {
      const long long s = z != nullptr ? icaltime_as_timet_with_zone(t, z) : icaltime_as_timet(t);
      if (exdates.count(s) == 0) std::printf("%s%lld", n > 0 ? " " : "", s);
      ++n;
    }
    std::printf("\n");
    icalrecur_iterator_free(it);
  }
}

}  // namespace

int main(int argc, char **argv) {
  int max = 0;
  int first = 1;
  if (argc > 2 && std::strcmp(argv[1], "--expand") == 0) {
    max = std::atoi(argv[2]);
    first = 3;
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: mm_ical_check [--expand N] FILE...\n");
    return 2;
  }
  bool all_ok = true;
  for (int i = first; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    icalcomponent *cal = in ? icalparser_parse_string(text.c_str()) : nullptr;
    if (cal == nullptr) {
      std::printf("ERR %s: not parsed\n", argv[i]);
      all_ok = false;
      continue;
    }
    // Parse errors and restriction violations both become X-LIC-ERROR properties.
    icalrestriction_check(cal);
    std::vector<std::string> errors;
    collect_errors(cal, errors);
    if (icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) errors.emplace_back("not a VCALENDAR");
    if (errors.empty()) {
      std::printf("OK %s\n", argv[i]);
    } else {
      all_ok = false;
      std::printf("ERR %s:", argv[i]);
      for (const std::string &e : errors) std::printf(" %s;", e.c_str());
      std::printf("\n");
    }
    if (max > 0) expand(argv[i], cal, max);
    icalcomponent_free(cal);
  }
  return all_ok ? 0 : 1;
}
