#include "mailmill/mapi/oneoff.h"

#include <cstring>

#include "mailmill/util/text.h"

namespace mm::mapi {
namespace {

// Reads a NUL-terminated UTF-16LE string starting at `pos`; advances `pos` past the terminator.
std::optional<std::string> read_wide(ByteView b, std::size_t &pos) {
  for (std::size_t i = pos; i + 1 < b.size(); i += 2) {
    if (b[i] == '\0' && b[i + 1] == '\0') {
      std::string s = text::utf16le_to_utf8(b.substr(pos, i - pos));
      pos = i + 2;
      return s;
    }
  }
  return std::nullopt;
}

std::optional<std::string> read_narrow(ByteView b, std::size_t &pos, u32 codepage) {
  for (std::size_t i = pos; i < b.size(); ++i) {
    if (b[i] == '\0') {
      const ByteView raw = b.substr(pos, i - pos);
      pos = i + 1;
      if (auto s = text::codepage_to_utf8(raw, codepage)) return s;
      return text::codepage_to_utf8(raw, 28591);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<OneOffEntry> parse_one_off_entry_id(ByteView b, u32 codepage) {
  // Flags(4) ProviderUID(16) Version(2) Flags(2), then DisplayName, AddressType, EmailAddress.
  constexpr std::size_t HEADER = 24;
  if (b.size() < HEADER) return std::nullopt;
  if (std::memcmp(b.data() + 4, ONE_OFF_PROVIDER_UID.data(), 16) != 0) return std::nullopt;
  OneOffEntry e;
  e.flags = load_le16(b.data() + 22);
  std::size_t pos = HEADER;
  const bool wide = (e.flags & ONE_OFF_UNICODE) != 0;
  auto next = [&]() { return wide ? read_wide(b, pos) : read_narrow(b, pos, codepage); };
  std::optional<std::string> name = next();
  if (!name) return std::nullopt;
  std::optional<std::string> type = next();
  if (!type) return std::nullopt;
  std::optional<std::string> addr = next();
  if (!addr) return std::nullopt;
  e.display_name = *std::move(name);
  e.addr_type = *std::move(type);
  e.address = *std::move(addr);
  return e;
}

Bytes make_one_off_entry_id(std::string_view display_name, std::string_view addr_type,
                            std::string_view address, u16 extra_flags) {
  Bytes out(4, '\0');
  out.append(reinterpret_cast<const char *>(ONE_OFF_PROVIDER_UID.data()), 16);
  out.append(2, '\0');  // version 0
  const u16 flags = static_cast<u16>(ONE_OFF_UNICODE | extra_flags);
  out.push_back(static_cast<char>(flags & 0xFF));
  out.push_back(static_cast<char>(flags >> 8));
  for (std::string_view s : {display_name, addr_type, address}) {
    out += text::utf8_to_utf16le(s);
    out.append(2, '\0');
  }
  return out;
}

}  // namespace mm::mapi
