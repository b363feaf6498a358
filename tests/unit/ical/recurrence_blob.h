#pragma once
// Builds AppointmentRecurrencePattern blobs field by field from the [MS-OXOCAL] 2.2.1.44
// layout, for the recurrence tests (independent of the parser under test).
#include <string>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::testing {

/// Minutes from 1601-01-01 to the local midnight of y-m-d (the blob's date unit).
inline u32 day_minutes(int y, unsigned m, unsigned d) {
  // Days from 1970-01-01 (H. Hinnant's days_from_civil), then shift to 1601.
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long long days = static_cast<long long>(era) * 146097 + doe - 719468;
  return static_cast<u32>((days * 86400 + 11644473600LL) / 60);
}

struct RecurBlob {
  u16 freq = 0x200A, pattern = 0x0000, calendar = 0;
  u32 period = 1440, first_dow = 0;
  std::vector<u32> pattern_specific;
  u32 end_type = 0x2023, occurrences = 10;
  u32 start_date = 0, end_date = 0x5AE980DF;
  std::vector<u32> deleted, modified;
  u32 start_offset = 0, end_offset = 30;
  u32 writer2 = 0x3009;
  struct Exception {
    u32 start = 0, end = 0, original = 0;
    u16 flags = 0;
    std::string subject, location;  // 8-bit
    std::u16string wide_subject, wide_location;
    u32 busy = 0;
  };
  std::vector<Exception> exceptions;

  std::string bytes() const {
    std::string s;
    auto p16 = [&](u16 v) {
      s += static_cast<char>(v & 0xFF);
      s += static_cast<char>(v >> 8);
    };
    auto p32 = [&](u32 v) {
      p16(static_cast<u16>(v));
      p16(static_cast<u16>(v >> 16));
    };
    p16(0x3004);
    p16(0x3004);
    p16(freq);
    p16(pattern);
    p16(calendar);
    p32(0);  // FirstDateTime
    p32(period);
    p32(0);  // SlidingFlag
    for (u32 v : pattern_specific) p32(v);
    p32(end_type);
    p32(occurrences);
    p32(first_dow);
    p32(static_cast<u32>(deleted.size()));
    for (u32 v : deleted) p32(v);
    p32(static_cast<u32>(modified.size()));
    for (u32 v : modified) p32(v);
    p32(start_date);
    p32(end_date);
    p32(0x3006);
    p32(writer2);
    p32(start_offset);
    p32(end_offset);
    p16(static_cast<u16>(exceptions.size()));
    for (const Exception &e : exceptions) {
      p32(e.start);
      p32(e.end);
      p32(e.original);
      p16(e.flags);
      if (e.flags & 0x0001) {
        p16(static_cast<u16>(e.subject.size() + 1));
        p16(static_cast<u16>(e.subject.size()));
        s += e.subject;
      }
      if (e.flags & 0x0010) {
        p16(static_cast<u16>(e.location.size() + 1));
        p16(static_cast<u16>(e.location.size()));
        s += e.location;
      }
      if (e.flags & 0x0020) p32(e.busy);
    }
    p32(0);  // ReservedBlock1Size
    for (const Exception &e : exceptions) {
      if (writer2 >= 0x3009) {
        p32(4);  // ChangeHighlightSize
        p32(0);
      }
      p32(0);  // ReservedBlockEE1Size
      if (e.flags & (0x0001 | 0x0010)) {
        p32(e.start);
        p32(e.end);
        p32(e.original);
        if (e.flags & 0x0001) {
          p16(static_cast<u16>(e.wide_subject.size()));
          for (char16_t c : e.wide_subject) p16(c);
        }
        if (e.flags & 0x0010) {
          p16(static_cast<u16>(e.wide_location.size()));
          for (char16_t c : e.wide_location) p16(c);
        }
        p32(0);  // ReservedBlockEE2Size
      }
    }
    p32(0);  // ReservedBlock2Size
    return s;
  }
};

}  // namespace mm::testing
