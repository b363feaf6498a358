#include "mailmill/mapi/property.h"

#include <algorithm>
#include <cstring>

#include "mailmill/util/text.h"

namespace mm::mapi {
namespace {

// FILETIME is 100 ns ticks since 1601-01-01 UTC. 11644473600 s separate 1601 from 1970.
constexpr i64 SECONDS_1601_TO_1970 = 11644473600LL;
// 9999-12-31T23:59:59Z in unix seconds: the upper bound of a FILETIME Outlook can display.
constexpr i64 MAX_UNIX_SECONDS = 253402300799LL;

std::string le_bytes(u64 v, int n) {
  std::string out(static_cast<std::size_t>(n), '\0');
  for (int i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

// Drops trailing U+0000 code units (UTF-16LE) from a PT_UNICODE value.
ByteView trim_utf16_nuls(ByteView v) {
  if (v.size() % 2 != 0) v.remove_suffix(1);
  while (v.size() >= 2 && v[v.size() - 1] == '\0' && v[v.size() - 2] == '\0') v.remove_suffix(2);
  return v;
}

ByteView trim_nuls(ByteView v) {
  while (!v.empty() && v.back() == '\0') v.remove_suffix(1);
  return v;
}

std::string decode_string8(ByteView bytes, u32 codepage) {
  bytes = trim_nuls(bytes);
  if (std::optional<std::string> s = text::codepage_to_utf8(bytes, codepage)) return *std::move(s);
  if (std::optional<std::string> s = text::codepage_to_utf8(bytes, 1252)) return *std::move(s);
  return *text::codepage_to_utf8(bytes, 28591);  // Latin-1 never fails
}

using text::hex_digit_value;

// constexpr so the psetid constants below are constant-initialized (no static-init order).
constexpr std::array<u8, 16> parse_guid(std::string_view text) {
  std::array<u8, 16> out{};
  if (!text.empty() && text.front() == '{') text.remove_prefix(1);
  if (!text.empty() && text.back() == '}') text.remove_suffix(1);
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::array<u8, 16>{};
  }
  std::array<u8, 16> be{};  // the bytes in textual order
  std::size_t k = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    const int hi = hex_digit_value(text[i]);
    const int lo = i + 1 < text.size() ? hex_digit_value(text[i + 1]) : -1;
    if (hi < 0 || lo < 0 || k >= 16) return std::array<u8, 16>{};
    be[k++] = static_cast<u8>(hi * 16 + lo);
    ++i;
  }
  if (k != 16) return std::array<u8, 16>{};
  // Data1 (4 bytes), Data2 and Data3 (2 bytes each) are stored little-endian; Data4 as is.
  out[0] = be[3];
  out[1] = be[2];
  out[2] = be[1];
  out[3] = be[0];
  out[4] = be[5];
  out[5] = be[4];
  out[6] = be[7];
  out[7] = be[6];
  for (std::size_t i = 8; i < 16; ++i) out[i] = be[i];
  return out;
}

}  // namespace

Property *PropertyBag::slot(u32 tag) {
  const u16 id = tag_id(tag);
  // Readers mostly add properties in ascending id order (a property context's BTH is sorted):
  // appending is then O(1) and filling a bag stays linear.
  if (props_.empty() || props_.back().id() < id) {
    props_.push_back(Property{tag, {}});
    return &props_.back();
  }
  auto it = std::lower_bound(props_.begin(), props_.end(), id,
                             [](const Property &p, u16 key) { return p.id() < key; });
  if (it != props_.end() && it->id() == id) {
    it->tag = tag;
    return &*it;
  }
  it = props_.insert(it, Property{tag, {}});
  return &*it;
}

void PropertyBag::set(u32 tag, std::string_view value) {
  std::string_view stored;
  if (!value.empty()) {
    auto buf = std::make_unique<char[]>(value.size());
    std::memcpy(buf.get(), value.data(), value.size());
    stored = std::string_view(buf.get(), value.size());
    arena_.push_back(std::move(buf));
  }
  slot(tag)->value = stored;
}

void PropertyBag::set_view(u32 tag, std::string_view value, std::shared_ptr<const void> keepalive) {
  if (keepalive) {
    // Avoid pinning the same owner many times when a reader sets many views into one block.
    if (pins_.empty() || pins_.back() != keepalive) pins_.push_back(std::move(keepalive));
  }
  slot(tag)->value = value;
}

std::shared_ptr<const void> PropertyBag::share_storage() const {
  struct Storage {
    std::vector<std::unique_ptr<char[]>> arena;
    std::vector<std::shared_ptr<const void>> pins;
  };
  auto s = std::make_shared<Storage>();
  s->arena = std::move(arena_);
  s->pins = std::move(pins_);
  arena_.clear();
  pins_.clear();
  pins_.push_back(s);
  return s;
}

void PropertyBag::set_i32(u32 tag, i32 v) { set(tag, le_bytes(static_cast<u32>(v), 4)); }

void PropertyBag::set_i64(u32 tag, i64 v) { set(tag, le_bytes(static_cast<u64>(v), 8)); }

void PropertyBag::set_bool(u32 tag, bool v) { set(tag, le_bytes(v ? 1 : 0, 1)); }

void PropertyBag::set_unicode(u16 id, std::string_view utf8) {
  set(make_tag(id, PT_UNICODE), text::utf8_to_utf16le(utf8));
}

const Property *PropertyBag::find(u16 id) const {
  auto it = std::lower_bound(props_.begin(), props_.end(), id,
                             [](const Property &p, u16 key) { return p.id() < key; });
  if (it != props_.end() && it->id() == id) return &*it;
  return nullptr;
}

const Property *PropertyBag::find_tag(u32 tag) const {
  const Property *p = find(tag_id(tag));
  return (p != nullptr && p->tag == tag) ? p : nullptr;
}

std::optional<i32> PropertyBag::get_i32(u16 id) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  switch (p->type()) {
    case PT_LONG:
    case PT_ERROR:
      if (p->value.size() < 4) return std::nullopt;
      return static_cast<i32>(load_le32(p->value.data()));
    case PT_SHORT:
      if (p->value.size() < 2) return std::nullopt;
      return static_cast<i32>(static_cast<std::int16_t>(load_le16(p->value.data())));
    default:
      return std::nullopt;
  }
}

std::optional<i64> PropertyBag::get_i64(u16 id) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  switch (p->type()) {
    case PT_I8:
    case PT_CURRENCY:
    case PT_SYSTIME:
      if (p->value.size() < 8) return std::nullopt;
      return static_cast<i64>(load_le64(p->value.data()));
    case PT_LONG:
      if (p->value.size() < 4) return std::nullopt;
      return static_cast<i64>(static_cast<i32>(load_le32(p->value.data())));
    case PT_SHORT:
      if (p->value.size() < 2) return std::nullopt;
      return static_cast<i64>(static_cast<std::int16_t>(load_le16(p->value.data())));
    default:
      return std::nullopt;
  }
}

std::optional<bool> PropertyBag::get_bool(u16 id) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  switch (p->type()) {
    case PT_BOOLEAN:
      if (p->value.empty()) return std::nullopt;
      return p->value[0] != '\0';
    case PT_SHORT:
    case PT_LONG:
    case PT_I8: {
      const std::size_t need = p->type() == PT_SHORT ? 2 : p->type() == PT_LONG ? 4 : 8;
      if (p->value.size() < need) return std::nullopt;
      return std::any_of(p->value.begin(), p->value.begin() + static_cast<std::ptrdiff_t>(need),
                         [](char c) { return c != '\0'; });
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> PropertyBag::get_double(u16 id) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  switch (p->type()) {
    case PT_DOUBLE:
    case PT_APPTIME: {
      if (p->value.size() < 8) return std::nullopt;
      const u64 bits = load_le64(p->value.data());
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      return d;
    }
    case PT_FLOAT: {
      if (p->value.size() < 4) return std::nullopt;
      const u32 bits = load_le32(p->value.data());
      float f = 0;
      std::memcpy(&f, &bits, sizeof f);
      return static_cast<double>(f);
    }
    default:
      return std::nullopt;
  }
}

std::optional<i64> PropertyBag::get_time(u16 id) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  if (p->type() != PT_SYSTIME && p->type() != PT_I8) return std::nullopt;
  if (p->value.size() < 8) return std::nullopt;
  const u64 ft = load_le64(p->value.data());
  if (ft == 0) return std::nullopt;
  // Unsigned ticks, so integer division is already floor.
  const i64 secs_since_1601 = static_cast<i64>(ft / 10000000ULL);
  const i64 unix_secs = secs_since_1601 - SECONDS_1601_TO_1970;
  if (unix_secs > MAX_UNIX_SECONDS) return std::nullopt;
  return unix_secs;
}

std::optional<std::string_view> PropertyBag::get_bytes(u16 id) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  return p->value;
}

std::optional<std::string> PropertyBag::get_string(u16 id, u32 codepage) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  switch (p->type()) {
    case PT_UNICODE:
      return text::utf16le_to_utf8(trim_utf16_nuls(p->value));
    case PT_STRING8:
      return decode_string8(p->value, codepage);
    default:
      return std::nullopt;
  }
}

std::optional<std::vector<std::string>> PropertyBag::get_strings(u16 id, u32 codepage) const {
  const Property *p = find(id);
  if (p == nullptr) return std::nullopt;
  const u16 type = p->type();
  if (type == PT_UNICODE || type == PT_STRING8) {
    // A single-valued string where a list was expected: treat it as a one-element list.
    return std::vector<std::string>{*get_string(id, codepage)};
  }
  if (type != PT_MV_UNICODE && type != PT_MV_STRING8) return std::nullopt;
  const ByteView v = p->value;
  if (v.size() < 4) return std::nullopt;
  const u64 count = load_le32(v.data());
  if (4 + count * 4 > v.size()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(count);
  for (u64 i = 0; i < count; ++i) {
    const u64 begin = load_le32(v.data() + 4 + 4 * i);
    const u64 end = (i + 1 < count) ? load_le32(v.data() + 4 + 4 * (i + 1)) : v.size();
    if (begin < 4 + count * 4 || begin > end || end > v.size()) return std::nullopt;
    const ByteView item = v.substr(begin, end - begin);
    if (type == PT_MV_UNICODE) {
      out.push_back(text::utf16le_to_utf8(trim_utf16_nuls(item)));
    } else {
      out.push_back(decode_string8(item, codepage));
    }
  }
  return out;
}

void NameMap::add(u16 id, PropertyName name) {
  auto it = std::lower_bound(
      by_id_.begin(), by_id_.end(), id,
      [](const std::pair<u16, PropertyName> &e, u16 key) { return e.first < key; });
  if (it != by_id_.end() && it->first == id) {
    it->second = std::move(name);
    return;
  }
  by_id_.insert(it, {id, std::move(name)});
}

const PropertyName *NameMap::name_of(u16 id) const {
  auto it = std::lower_bound(
      by_id_.begin(), by_id_.end(), id,
      [](const std::pair<u16, PropertyName> &e, u16 key) { return e.first < key; });
  if (it != by_id_.end() && it->first == id) return &it->second;
  return nullptr;
}

std::optional<u16> NameMap::id_of(const std::array<u8, 16> &guid, u32 lid) const {
  for (const auto &[id, n] : by_id_) {
    if (!n.is_string && n.lid == lid && n.guid == guid) return id;
  }
  return std::nullopt;
}

std::optional<u16> NameMap::id_of(const std::array<u8, 16> &guid, std::string_view name) const {
  // [MS-OXCDATA] 2.6.1: string names compare case-insensitively in practice (Outlook writes
  // "Keywords"; some converters write "keywords"). Exact match wins over a case-folded one.
  std::optional<u16> folded;
  for (const auto &[id, n] : by_id_) {
    if (!n.is_string || n.guid != guid || n.name.size() != name.size()) continue;
    if (n.name == name) return id;
    if (!folded && std::equal(n.name.begin(), n.name.end(), name.begin(), [](char a, char b) {
          auto lower = [](char c) {
            return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
          };
          return lower(a) == lower(b);
        })) {
      folded = id;
    }
  }
  return folded;
}

std::array<u8, 16> guid_from_string(std::string_view text) { return parse_guid(text); }

namespace psetid {
constinit const std::array<u8, 16> Appointment = parse_guid("00062002-0000-0000-C000-000000000046");
constinit const std::array<u8, 16> Task = parse_guid("00062003-0000-0000-C000-000000000046");
constinit const std::array<u8, 16> Address = parse_guid("00062004-0000-0000-C000-000000000046");
constinit const std::array<u8, 16> Common = parse_guid("00062008-0000-0000-C000-000000000046");
constinit const std::array<u8, 16> Meeting = parse_guid("6ED8DA90-450B-101B-98DA-00AA003F1305");
constinit const std::array<u8, 16> PublicStrings =
    parse_guid("00020329-0000-0000-C000-000000000046");
constinit const std::array<u8, 16> InternetHeaders =
    parse_guid("00020386-0000-0000-C000-000000000046");
}  // namespace psetid

}  // namespace mm::mapi
