#include "mailmill/util/json_escape.h"

#include "mailmill/util/text.h"

namespace mm::text {

void append_json_string(std::string &out, std::string_view raw, JsonControls controls) {
  // Runs of bytes that need no escaping are copied in one go (manifests write millions of
  // strings); the string is only copied for sanitizing when it is not valid UTF-8.
  std::string fixed;
  std::string_view s = raw;
  if (!is_valid_utf8(raw)) {
    fixed = sanitize_utf8(raw);
    s = fixed;
  }
  static constexpr char HEX[] = "0123456789abcdef";
  const bool short_forms = controls == JsonControls::Short;
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (short_forms && c == '\n') {
      out += "\\n";
    } else if (short_forms && c == '\r') {
      out += "\\r";
    } else if (short_forms && c == '\t') {
      out += "\\t";
    } else {
      const char esc[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
      out.append(esc, sizeof esc);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string json_string(std::string_view s, JsonControls controls) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s, controls);
  return out;
}

}  // namespace mm::text
