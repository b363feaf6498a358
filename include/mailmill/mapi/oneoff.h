#pragma once
/// One-Off EntryID ([MS-OXCDATA] 2.2.5.1): a recipient that is not in any directory, with its
/// display name, address type and address carried inside the entry id itself. Pure functions,
/// thread-safe.
#include <array>
#include <optional>
#include <string>

#include "mailmill/util/types.h"

namespace mm::mapi {

/// MAPI_ONE_OFF_UID {A41F2B81-A3BE-1910-9D6E-00DD010F5402} as stored in an entry id.
inline constexpr std::array<u8, 16> ONE_OFF_PROVIDER_UID = {
    0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02};
/// Flag bit (u16 after the version) saying the strings are UTF-16LE (MAPI_ONE_OFF_UNICODE).
inline constexpr u16 ONE_OFF_UNICODE = 0x8000;
/// Flag bit MAPI_ONE_OFF_NO_RICH_INFO.
inline constexpr u16 ONE_OFF_NO_RICH_INFO = 0x0001;

/// The decoded strings of a one-off entry id (UTF-8).
struct OneOffEntry {
  std::string display_name;
  std::string addr_type;  ///< e.g. "SMTP"
  std::string address;    ///< e.g. "user@example.com"
  u16 flags = 0;
};

/// Parses a one-off entry id. ANSI strings are decoded with `codepage`. Returns nullopt when
/// the bytes are not a one-off entry id or are truncated; never reads out of bounds.
std::optional<OneOffEntry> parse_one_off_entry_id(ByteView bytes, u32 codepage = 1252);

/// Builds a Unicode one-off entry id (flags = ONE_OFF_UNICODE | extra_flags) from UTF-8 strings.
Bytes make_one_off_entry_id(std::string_view display_name, std::string_view addr_type,
                            std::string_view address, u16 extra_flags = ONE_OFF_NO_RICH_INFO);

}  // namespace mm::mapi
