#pragma once
/// JSON string literals ([RFC 8259] 7) for reports, manifests and ground-truth files. Pure
/// functions, thread-safe.
#include <string>
#include <string_view>

#include "mailmill/util/types.h"

namespace mm::text {

/// How control characters (below U+0020) are escaped. Both forms are valid JSON and mean the
/// same; each output keeps the form it has always written so its bytes do not change.
enum class JsonControls : u8 {
  Short,    ///< \n, \r and \t as two-character escapes, other controls as \u00XX (reports)
  Unicode,  ///< every control as \u00XX (batch manifests, generator ground truth)
};

/// Appends `s` to `out` as a JSON string literal, quotes included. Invalid UTF-8 is replaced by
/// U+FFFD first (text::sanitize_utf8), so the document always parses; '"' and '\' get a
/// backslash, controls are escaped per `controls`, and every other byte (DEL, non-ASCII UTF-8)
/// is copied. Never fails.
void append_json_string(std::string &out, std::string_view s,
                        JsonControls controls = JsonControls::Short);

/// The JSON string literal of `s`; see append_json_string.
std::string json_string(std::string_view s, JsonControls controls = JsonControls::Short);

}  // namespace mm::text
