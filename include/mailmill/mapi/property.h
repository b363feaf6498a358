#pragma once
/// MAPI properties as raw bytes: the common currency of every MAPI-based source (PST native,
/// PST via libpff, later MSG and EDB). Readers fill PropertyBags; mapi::to_model interprets them.
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::mapi {

/// Property types ([MS-OXCDATA] 2.11.1).
enum PropType : u16 {
  PT_UNSPECIFIED = 0x0000,
  PT_NULL = 0x0001,
  PT_SHORT = 0x0002,
  PT_LONG = 0x0003,
  PT_FLOAT = 0x0004,
  PT_DOUBLE = 0x0005,
  PT_CURRENCY = 0x0006,
  PT_APPTIME = 0x0007,
  PT_ERROR = 0x000A,
  PT_BOOLEAN = 0x000B,
  PT_OBJECT = 0x000D,
  PT_I8 = 0x0014,
  PT_STRING8 = 0x001E,
  PT_UNICODE = 0x001F,
  PT_SYSTIME = 0x0040,
  PT_CLSID = 0x0048,
  PT_SVREID = 0x00FB,
  PT_SRESTRICT = 0x00FD,
  PT_ACTIONS = 0x00FE,
  PT_BINARY = 0x0102,
  PT_MV_FLAG = 0x1000,
  PT_MV_SHORT = 0x1002,
  PT_MV_LONG = 0x1003,
  PT_MV_I8 = 0x1014,
  PT_MV_STRING8 = 0x101E,
  PT_MV_UNICODE = 0x101F,
  PT_MV_SYSTIME = 0x1040,
  PT_MV_CLSID = 0x1048,
  PT_MV_BINARY = 0x1102,
};

/// Property tag = (id << 16) | type.
constexpr u32 make_tag(u16 id, u16 type) { return (static_cast<u32>(id) << 16) | type; }
constexpr u16 tag_id(u32 tag) { return static_cast<u16>(tag >> 16); }
constexpr u16 tag_type(u32 tag) { return static_cast<u16>(tag & 0xFFFF); }

/// One property. `value` is the raw value in [MS-PST] on-disk form:
/// - fixed types: little-endian, natural size (PT_BOOLEAN 1..4 bytes, read first byte);
/// - PT_UNICODE: UTF-16LE without terminator; PT_STRING8: 8-bit bytes in the item codepage;
/// - PT_BINARY, PT_CLSID, PT_OBJECT: the bytes;
/// - multi-valued fixed: values concatenated; multi-valued variable (PT_MV_UNICODE, PT_MV_STRING8,
///   PT_MV_BINARY): u32 count, count x u32 offsets (from the start of the value), then data.
/// The view points into memory owned by the PropertyBag or kept alive by it.
struct Property {
  u32 tag = 0;
  std::string_view value;
  u16 id() const { return tag_id(tag); }
  u16 type() const { return tag_type(tag); }
};

/// A set of properties keyed by id (one value per id). Owns or pins the bytes its values view.
/// Not thread-safe for mutation; const access is safe from many threads.
class PropertyBag {
 public:
  PropertyBag() = default;
  PropertyBag(PropertyBag &&) noexcept = default;
  PropertyBag &operator=(PropertyBag &&) noexcept = default;
  PropertyBag(const PropertyBag &) = delete;
  PropertyBag &operator=(const PropertyBag &) = delete;

  /// Adds a property, copying `value` into the bag's arena. Replaces an existing same id.
  void set(u32 tag, std::string_view value);
  /// Adds a property whose bytes live elsewhere; `keepalive` (may be null) pins them.
  void set_view(u32 tag, std::string_view value, std::shared_ptr<const void> keepalive = {});
  /// Convenience setters (little-endian encode).
  void set_i32(u32 tag, i32 v);
  void set_i64(u32 tag, i64 v);
  void set_bool(u32 tag, bool v);
  /// Sets a PT_UNICODE property from UTF-8.
  void set_unicode(u16 id, std::string_view utf8);

  /// Finds a property by id regardless of type; nullptr when absent.
  const Property *find(u16 id) const;
  /// Finds by exact tag (id and type).
  const Property *find_tag(u32 tag) const;
  bool has(u16 id) const { return find(id) != nullptr; }

  std::optional<i32> get_i32(u16 id) const;    ///< PT_LONG / PT_SHORT (sign-extended) / PT_ERROR
  std::optional<i64> get_i64(u16 id) const;    ///< PT_I8 / PT_CURRENCY / PT_SYSTIME / PT_LONG
  std::optional<bool> get_bool(u16 id) const;  ///< PT_BOOLEAN (or integer != 0)
  std::optional<double> get_double(u16 id) const;  ///< PT_DOUBLE / PT_FLOAT / PT_APPTIME
  /// FILETIME property converted to unix seconds (floor); nullopt when absent, zero, or
  /// outside 1601..9999.
  std::optional<i64> get_time(u16 id) const;
  /// Raw bytes of any property.
  std::optional<std::string_view> get_bytes(u16 id) const;
  /// String as UTF-8: PT_UNICODE decoded from UTF-16LE; PT_STRING8 decoded with `codepage`
  /// (falls back to windows-1252, then Latin-1). A trailing NUL is dropped.
  std::optional<std::string> get_string(u16 id, u32 codepage) const;
  /// Multi-valued strings as UTF-8.
  std::optional<std::vector<std::string>> get_strings(u16 id, u32 codepage) const;

  /// Returns a handle that keeps the bytes of every value alive after the bag is gone, so
  /// that views taken from it (attachment data handed to the model) need no copy.
  /// Logically const: the values and their bytes stay as they are.
  std::shared_ptr<const void> share_storage() const;

  /// All properties sorted by id.
  std::span<const Property> all() const { return props_; }
  std::size_t size() const { return props_.size(); }
  bool empty() const { return props_.empty(); }

 private:
  Property *slot(u32 tag);
  std::vector<Property> props_;  // sorted by id
  // mutable: share_storage() moves them into a shared holder without changing any value.
  mutable std::vector<std::unique_ptr<char[]>> arena_;
  mutable std::vector<std::shared_ptr<const void>> pins_;
};

/// A named-property name ([MS-OXCDATA] 2.6.1): a GUID and either a numeric LID or a string.
struct PropertyName {
  std::array<u8, 16> guid{};  ///< as stored (little-endian GUID layout)
  bool is_string = false;
  u32 lid = 0;
  std::string name;  ///< UTF-8, when is_string
};

/// The store's name-to-id map: property ids >= 0x8000 resolve to names.
class NameMap {
 public:
  void add(u16 id, PropertyName name);
  /// Name for an id, or nullptr.
  const PropertyName *name_of(u16 id) const;
  /// Id for a numeric named property, or nullopt.
  std::optional<u16> id_of(const std::array<u8, 16> &guid, u32 lid) const;
  /// Id for a string named property, or nullopt.
  std::optional<u16> id_of(const std::array<u8, 16> &guid, std::string_view name) const;
  std::size_t size() const { return by_id_.size(); }
  std::span<const std::pair<u16, PropertyName>> all() const { return by_id_; }

 private:
  std::vector<std::pair<u16, PropertyName>> by_id_;  // sorted by id
};

/// Parses a GUID from "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" into stored (little-endian) layout.
std::array<u8, 16> guid_from_string(std::string_view text);

/// Well-known property-set GUIDs.
namespace psetid {
extern const std::array<u8, 16> Appointment;  // {00062002-0000-0000-C000-000000000046}
extern const std::array<u8, 16> Task;         // {00062003-...}
extern const std::array<u8, 16> Address;      // {00062004-...} contacts
extern const std::array<u8, 16> Common;       // {00062008-...}
extern const std::array<u8, 16> Meeting;      // {6ED8DA90-450B-101B-98DA-00AA003F1305}
extern const std::array<u8, 16> PublicStrings;// {00020329-0000-0000-C000-000000000046}
extern const std::array<u8, 16> InternetHeaders;  // {00020386-0000-0000-C000-000000000046}
}  // namespace psetid

}  // namespace mm::mapi
