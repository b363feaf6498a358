#pragma once
// Delivery and read reports as multipart/report ([RFC 6522]): the machine-readable part
// (message/delivery-status, [RFC 3464]; message/disposition-notification, [RFC 8098]) and the
// text/rfc822-headers stand-in for the original, built from a REPORT.* item's properties
// ([MS-OXCMAIL] 2.1.3.6). The builder (build.cc) wraps these texts in entities. Pure functions.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/model/item.h"
#include "mailmill/util/result.h"

namespace mm::mime::report {

/// What the message class says the report is. None for every class that is not a report.
enum class Kind : u8 { None, Failed, Delivered, Delayed, Relayed, Expanded, Displayed, Deleted };

/// REPORT.<class>.NDR / .DR / .Delayed / .Relayed / .Expanded / .IPNRN / .IPNNRN (suffix
/// matched without regard to case); None otherwise.
Kind kind_of(std::string_view message_class);

/// The texts of a multipart/report. Line ends are `eol` throughout.
struct Parts {
  std::string report_type;   ///< "delivery-status" or "disposition-notification"
  std::string machine_type;  ///< "message/delivery-status" or "message/disposition-notification"
  std::string machine_body;  ///< the fields, every line ended by eol
  /// text/rfc822-headers body describing the original (used when no copy is attached); empty
  /// when the item says nothing about the original.
  std::string original_headers;
  /// text/plain for the human-readable part when the item has no body of its own.
  std::string summary;
  std::vector<Problem> warnings;
};

/// Builds the parts for a report item; nullopt when kind_of(msg.message_class) is None.
std::optional<Parts> build(const model::Message &msg, std::string_view eol);

}  // namespace mm::mime::report
