// The .msg reader ([MS-OXMSG]). A .msg file is a compound file whose root storage is the
// message: a property stream ("__properties_version1.0") of 16-byte entries after a header, one
// "__substg1.0_TTTTPPPP" stream per value that does not fit in an entry, a storage per
// recipient and per attachment, the embedded message of an ATTACH_EMBEDDED_MSG attachment in
// its "__substg1.0_3701000D" storage (an ATTACH_OLE attachment's object storage there is written
// out as a compound file of its own, storage_copy.h), and the named-property map
// ("__nameid_version1.0") at the root only.
//
// Every size in the file is a claim. Values are read from the streams that hold them, never
// sized from the property entry; and the bytes read from all streams together are held to the
// size of the file (plus a little), because a damaged directory can point many entries at the
// same sector chain and make a small file read as a huge one.
#include "mailmill/format/msg/msg.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mailmill/format/cfb/compound_file.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/model/limits.h"
#include "mailmill/util/text.h"
#include "storage_copy.h"

namespace mm::msg {
namespace {

using model::limits::MAX_EMBED_DEPTH;

constexpr std::string_view PROPS_STREAM = "__properties_version1.0";
constexpr std::string_view SUBSTG = "__substg1.0_";
// Compared with upper-cased names (Storage::kids keys).
constexpr std::string_view RECIP_PREFIX = "__RECIP_VERSION1.0_#";
constexpr std::string_view ATTACH_PREFIX = "__ATTACH_VERSION1.0_#";
constexpr std::string_view NAMEID_STORAGE = "__nameid_version1.0";

// [MS-OXMSG] 2.4.1: the property stream's header is 32 bytes in the top-level message, 24 in
// an embedded message's storage and 8 in recipient and attachment storages.
constexpr u64 HEADER_TOP = 32, HEADER_EMBEDDED = 24, HEADER_SUB = 8;
constexpr u64 ENTRY_SIZE = 16;

// Slack over the file size for the read budget: libgsf rounds nothing up, but a stream the
// directory sizes a few bytes past its last sector is still read as the directory says.
constexpr u64 BUDGET_SLACK = u64{1} << 16;

// The compound-file adapter finds each stream by its path, and libgsf looks a name up by a
// linear scan of the storage, so reading all n entries of a storage costs n^2 name comparisons.
// A storage with more entries than this is refused: above what a real .msg holds ([MS-OXMSG]
// 2.2.1/2.2.2: at most 2048 recipients and 2048 attachments, plus the message's own value
// streams; the corpus's largest storage has 1342 entries), low enough that a hostile one costs
// at most about 7e7 comparisons. (libgsf's own open is quadratic in the entries of a storage
// too: 2.4 s for 16k entries on the test machine; that is the adapter's to bound.)
constexpr u64 MAX_STORAGE_ENTRIES = 8192;

constexpr u32 TAG_ATTACH_DATA_OBJ = mapi::make_tag(mapi::pid::ATTACH_DATA, mapi::PT_OBJECT);

// [MS-OXMSG] 2.2.3: named-property mapping streams, and the entry stream's GUID index values
// ([MS-OXMSG] 2.2.3.1.2): 1 is PS_MAPI, 2 PS_PUBLIC_STRINGS, 3 and up index the GUID stream.
constexpr u32 NAMEID_GUID_STREAM = 0x00020102, NAMEID_ENTRY_STREAM = 0x00030102,
              NAMEID_STRING_STREAM = 0x00040102;
constexpr u16 NAMED_PROP_BASE = 0x8000;

std::string hex8(u32 v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08X", v);
  return buf;
}

std::string upper(std::string_view s) { return text::to_upper_ascii(s); }

/// Size of one value of a fixed-size property type; 0 for types stored in streams.
u64 fixed_size(u16 type) {
  switch (type) {
    case mapi::PT_SHORT:
      return 2;
    case mapi::PT_LONG:
    case mapi::PT_FLOAT:
    case mapi::PT_ERROR:
      return 4;
    // [MS-OXCDATA] 2.11.1: PtypBoolean is one byte (the entry's other bytes are reserved).
    case mapi::PT_BOOLEAN:
      return 1;
    case mapi::PT_DOUBLE:
    case mapi::PT_CURRENCY:
    case mapi::PT_APPTIME:
    case mapi::PT_I8:
    case mapi::PT_SYSTIME:
      return 8;
    default:
      return 0;
  }
}

/// Types whose single value is a stream of its own ([MS-OXMSG] 2.1.3, PtypGuid included).
bool is_stream_type(u16 type) {
  switch (type) {
    case mapi::PT_STRING8:
    case mapi::PT_UNICODE:
    case mapi::PT_BINARY:
    case mapi::PT_CLSID:
    case mapi::PT_OBJECT:
    case mapi::PT_SVREID:
    case mapi::PT_SRESTRICT:
    case mapi::PT_ACTIONS:
      return true;
    default:
      return false;
  }
}

/// Element size of a fixed-size multi-valued type ([MS-OXMSG] 2.1.4.1: all values in one
/// stream); 0 for other types.
u64 mv_fixed_size(u16 type) {
  if ((type & mapi::PT_MV_FLAG) == 0) return 0;
  const u16 base = static_cast<u16>(type & ~mapi::PT_MV_FLAG);
  if (base == mapi::PT_CLSID) return 16;
  if (base == mapi::PT_BOOLEAN) return 0;  // no PtypMultipleBoolean in [MS-OXCDATA]
  return fixed_size(base);
}

bool is_mv_variable(u16 type) {
  return type == mapi::PT_MV_STRING8 || type == mapi::PT_MV_UNICODE || type == mapi::PT_MV_BINARY;
}

/// Drops the terminator a writer may have stored with a string value (values are kept in the
/// PST form, without one).
ByteView strip_terminator(ByteView v, u16 base_type) {
  if (base_type == mapi::PT_UNICODE) {
    if (v.size() >= 2 && v.size() % 2 == 0 && v[v.size() - 1] == '\0' && v[v.size() - 2] == '\0')
      v.remove_suffix(2);
  } else if (base_type == mapi::PT_STRING8) {
    if (!v.empty() && v.back() == '\0') v.remove_suffix(1);
  }
  return v;
}

/// One storage's children, found by upper-cased name (writers differ in the case of the hex
/// digits).
struct Storage {
  std::string path;  // "" for the root
  std::map<std::string, cfb::Entry> kids;

  const cfb::Entry *find(std::string_view name) const {
    auto it = kids.find(upper(name));
    return it == kids.end() ? nullptr : &it->second;
  }
  std::string child_path(const cfb::Entry &e) const {
    return path.empty() ? e.name : path + "/" + e.name;
  }
};

/// What went wrong with one property: its tag and why.
struct Skipped {
  u32 tag = 0;
  std::string why;
};

/// Notes from reading one property stream, turned into one warning by the caller.
struct PropNotes {
  std::vector<Skipped> skipped;
  std::string stream_note;  // damage to the property stream itself that was recovered from

  bool empty() const { return skipped.empty() && stream_note.empty(); }
  std::string text() const {
    std::string out = stream_note;
    if (!skipped.empty()) {
      if (!out.empty()) out += "; ";
      out += std::to_string(skipped.size()) + " propert" + (skipped.size() == 1 ? "y" : "ies") +
             " unreadable (first 0x" + hex8(skipped.front().tag) + ": " + skipped.front().why + ")";
    }
    return out;
  }
};

enum class Level : u8 { Top, Embedded, Recipient, Attachment };

u64 header_size(Level level) {
  switch (level) {
    case Level::Top:
      return HEADER_TOP;
    case Level::Embedded:
      return HEADER_EMBEDDED;
    default:
      return HEADER_SUB;
  }
}

class MsgReader {
 public:
  MsgReader(const cfb::CompoundFile &cf, u64 budget) : cf_(cf), budget_(budget) {}

  bool over_budget() const { return over_budget_; }

  Result<Storage> open_storage(const std::string &path) {
    Result<std::vector<cfb::Entry>> kids = cf_.list(path);
    if (!kids) return kids.problem();
    if (kids->size() > MAX_STORAGE_ENTRIES) {
      return Problem{ProblemCode::LimitExceeded,
                     "storage '" + path + "' has " + std::to_string(kids->size()) +
                         " entries, over the limit of " + std::to_string(MAX_STORAGE_ENTRIES)};
    }
    Storage s;
    s.path = path;
    for (cfb::Entry &e : *kids) {
      std::string key = upper(e.name);
      s.kids.emplace(std::move(key), std::move(e));  // first of duplicate names wins
    }
    return s;
  }

  /// Reads a stream, charging its bytes to the file's budget.
  Result<Bytes> read(const Storage &s, const cfb::Entry &e) {
    return read_path(s.child_path(e), e);
  }

  Result<Bytes> read_path(const std::string &path, const cfb::Entry &e) {
    if (e.type != cfb::EntryType::Stream) {
      return Problem{ProblemCode::SourceCorrupt, e.name + " is a storage, not a stream"};
    }
    if (e.size > budget_) {
      over_budget_ = true;
      return Problem{ProblemCode::LimitExceeded,
                     "streams add up to more than the file (" + e.name + ")"};
    }
    Result<Bytes> data = cf_.read_stream(path, budget_);
    if (!data) {
      if (data.problem().code == ProblemCode::LimitExceeded) over_budget_ = true;
      return data.problem();
    }
    budget_ -= std::min<u64>(budget_, data->size());
    return data;
  }

  /// Reads a message storage: properties, recipients, attachments (embedded messages to
  /// MAX_EMBED_DEPTH). A Problem when its property stream is missing or unreadable.
  Result<mapi::RawMessage> message(const std::string &path, Level level, int depth,
                                   const std::shared_ptr<const mapi::NameMap> &names) {
    Result<Storage> st = open_storage(path);
    if (!st) return st.problem();
    mapi::RawMessage m;
    m.names = names;
    Bytes header;
    PropNotes notes;
    if (Status s = read_properties(*st, level, m.props, &header, notes); !s) return s.problem();
    if (!notes.empty()) {
      m.warnings.push_back(Problem{ProblemCode::ItemUnreadable, "message: " + notes.text()});
    }
    m.codepage = is_ansi(m.props) ? ansi_codepage(m.props) : 0;
    // The header's recipient and attachment counts (bytes 16..23 of the 32- and 24-byte
    // headers) are claims: the storages present are what is read; a difference is noted.
    const std::vector<const cfb::Entry *> recips = numbered(*st, RECIP_PREFIX);
    const std::vector<const cfb::Entry *> attachs = numbered(*st, ATTACH_PREFIX);
    if (header.size() >= 24) {
      const u32 n_recip = load_le32(header.data() + 16);
      const u32 n_attach = load_le32(header.data() + 20);
      if (n_recip != recips.size() || n_attach != attachs.size()) {
        m.warnings.push_back(
            Problem{ProblemCode::ItemUnreadable,
                    "header claims " + std::to_string(n_recip) + " recipients and " +
                        std::to_string(n_attach) + " attachments; storages hold " +
                        std::to_string(recips.size()) + " and " + std::to_string(attachs.size())});
      }
    }
    for (const cfb::Entry *e : recips) read_recipient(*st, *e, m);
    for (const cfb::Entry *e : attachs) read_attachment(*st, *e, m, depth, names);
    return m;
  }

  /// The named-property map of the root storage; warnings for entries that do not resolve.
  std::shared_ptr<const mapi::NameMap> names(const Storage &root, std::vector<Problem> &warnings) {
    auto map = std::make_shared<mapi::NameMap>();
    const cfb::Entry *dir = root.find(NAMEID_STORAGE);
    if (dir == nullptr || dir->type != cfb::EntryType::Storage) return map;
    Result<Storage> st = open_storage(root.child_path(*dir));
    if (!st) {
      warnings.push_back(with_prefix(st.problem(), "named-property map: "));
      return map;
    }
    auto stream = [&](u32 tag, Bytes &out) -> bool {
      const cfb::Entry *e = st->find(std::string(SUBSTG) + hex8(tag));
      if (e == nullptr) return true;  // absent: empty
      Result<Bytes> r = read(*st, *e);
      if (!r) {
        warnings.push_back(with_prefix(r.problem(), "named-property map: "));
        return false;
      }
      out = std::move(r).value();
      return true;
    };
    Bytes guids, entries, strings;
    if (!stream(NAMEID_GUID_STREAM, guids) || !stream(NAMEID_ENTRY_STREAM, entries) ||
        !stream(NAMEID_STRING_STREAM, strings)) {
      return map;
    }
    static const std::array<u8, 16> ps_mapi =
        mapi::guid_from_string("00020328-0000-0000-C000-000000000046");
    u64 bad = 0;
    for (u64 off = 0; off + 8 <= entries.size(); off += 8) {
      const char *e = entries.data() + off;
      const u32 id_or_offset = load_le32(e);
      const u16 guid_and_kind = load_le16(e + 4);
      const u16 index = load_le16(e + 6);
      mapi::PropertyName name;
      const u16 guid_index = static_cast<u16>(guid_and_kind >> 1);
      if (guid_index == 1) {
        name.guid = ps_mapi;
      } else if (guid_index == 2) {
        name.guid = mapi::psetid::PublicStrings;
      } else if (guid_index >= 3 && u64{guid_index - 3u} * 16 + 16 <= guids.size()) {
        std::copy_n(reinterpret_cast<const u8 *>(guids.data()) + u64{guid_index - 3u} * 16, 16,
                    name.guid.begin());
      } else {
        ++bad;
        continue;
      }
      if ((guid_and_kind & 1) != 0) {
        // String name: a 4-byte byte length, then UTF-16LE, at the given offset.
        if (u64{id_or_offset} + 4 > strings.size()) {
          ++bad;
          continue;
        }
        const u64 len = load_le32(strings.data() + id_or_offset);
        if (len > strings.size() - id_or_offset - 4) {
          ++bad;
          continue;
        }
        name.is_string = true;
        name.name = text::utf16le_to_utf8(ByteView(strings).substr(id_or_offset + 4, len));
      } else {
        name.lid = id_or_offset;
      }
      map->add(static_cast<u16>(NAMED_PROP_BASE + index), std::move(name));
    }
    if (entries.size() % 8 != 0 || bad > 0) {
      warnings.push_back(
          Problem{ProblemCode::ItemUnreadable, "named-property map: " + std::to_string(bad) +
                                                   " entries unresolvable, entry stream " +
                                                   std::to_string(entries.size()) + " bytes"});
    }
    return map;
  }

 private:
  static Problem with_prefix(Problem p, const std::string &prefix) {
    p.detail = prefix + p.detail;
    return p;
  }

  // PT_STRING8 values are in the writer's ANSI codepage. PR_MESSAGE_CODEPAGE names it;
  // PR_INTERNET_CPID names the body's Internet encoding, which is the same codepage unless it is
  // a Unicode encoding, which no 8-bit string property is in (corpus: POI's
  // ASCII_UTF-8_CP1252_LCID1031.msg, cp1252 strings with PR_INTERNET_CPID 65001): then the
  // codepage of PR_MESSAGE_LOCALE_ID applies.
  static u32 ansi_codepage(const mapi::PropertyBag &bag) {
    const std::optional<i32> cpid = bag.get_i32(mapi::pid::INTERNET_CPID);
    const bool unicode_cpid =
        cpid && (*cpid == 65000 || *cpid == 65001 || *cpid == 1200 || *cpid == 1201);
    if (!bag.has(mapi::pid::MESSAGE_CODEPAGE) && unicode_cpid) {
      mapi::PropertyBag locale_only;
      if (const mapi::Property *lcid = bag.find(mapi::pid::MESSAGE_LOCALE_ID))
        locale_only.set(lcid->tag, lcid->value);
      return mapi::item_ansi_codepage(locale_only).value_or(0);
    }
    return mapi::item_ansi_codepage(bag).value_or(0);
  }

  static bool is_ansi(const mapi::PropertyBag &bag) {
    for (const mapi::Property &p : bag.all()) {
      if (p.type() == mapi::PT_STRING8 || p.type() == mapi::PT_MV_STRING8) return true;
    }
    return false;
  }

  /// Child storages named prefix + 8 hex digits, in number order.
  static std::vector<const cfb::Entry *> numbered(const Storage &s, std::string_view prefix) {
    std::vector<std::pair<u32, const cfb::Entry *>> found;
    for (const auto &[key, e] : s.kids) {
      if (e.type != cfb::EntryType::Storage || !key.starts_with(prefix)) continue;
      const std::string_view digits = std::string_view(key).substr(prefix.size());
      if (digits.empty() || digits.size() > 8) continue;
      u32 n = 0;
      bool ok = true;
      for (char c : digits) {
        const int v = text::hex_digit_value(c);
        if (v < 0) ok = false;
        n = (n << 4) | static_cast<u32>(v < 0 ? 0 : v);
      }
      if (ok) found.emplace_back(n, &e);
    }
    std::sort(found.begin(), found.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    std::vector<const cfb::Entry *> out;
    out.reserve(found.size());
    for (const auto &f : found) out.push_back(f.second);
    return out;
  }

  /// Reads the property stream of `s` and every value it names into `bag`. A Problem when the
  /// stream is missing or unreadable; damage to single values goes to `notes`.
  Status read_properties(const Storage &s, Level level, mapi::PropertyBag &bag, Bytes *header,
                         PropNotes &notes) {
    const cfb::Entry *pe = s.find(PROPS_STREAM);
    if (pe == nullptr) {
      return Problem{ProblemCode::SourceCorrupt, "no " + std::string(PROPS_STREAM) + " stream"};
    }
    Result<Bytes> stream = read(s, *pe);
    if (!stream) return with_prefix(stream.problem(), std::string(PROPS_STREAM) + ": ");
    const Bytes &ps = *stream;
    u64 hsize = header_size(level);
    // Some writers give an embedded message the top-level header (or the reverse). The two
    // sizes differ by 8, so at most one of them leaves whole 16-byte entries.
    if (level == Level::Top || level == Level::Embedded) {
      const u64 other = level == Level::Top ? HEADER_EMBEDDED : HEADER_TOP;
      if ((ps.size() < hsize || (ps.size() - hsize) % ENTRY_SIZE != 0) && ps.size() >= other &&
          (ps.size() - other) % ENTRY_SIZE == 0) {
        notes.stream_note = "property stream has a " + std::to_string(other) + "-byte header";
        hsize = other;
      }
    }
    if (ps.size() < hsize) {
      return Problem{ProblemCode::SourceCorrupt,
                     std::string(PROPS_STREAM) + " is " + std::to_string(ps.size()) +
                         " bytes, shorter than its " + std::to_string(hsize) + "-byte header"};
    }
    if (header != nullptr) *header = ps.substr(0, hsize);
    const u64 body = ps.size() - hsize;
    if (body % ENTRY_SIZE != 0) {
      if (!notes.stream_note.empty()) notes.stream_note += "; ";
      notes.stream_note += std::string(PROPS_STREAM) + " ends with a partial entry (" +
                           std::to_string(body % ENTRY_SIZE) + " bytes ignored)";
    }
    for (u64 off = hsize; off + ENTRY_SIZE <= ps.size(); off += ENTRY_SIZE) {
      read_entry(s, ps.data() + off, bag, notes);
    }
    return {};
  }

  void read_entry(const Storage &s, const char *entry, mapi::PropertyBag &bag, PropNotes &notes) {
    const u32 tag = load_le32(entry);
    const u16 type = mapi::tag_type(tag);
    const char *value = entry + 8;
    auto skip = [&](std::string why) { notes.skipped.push_back({tag, std::move(why)}); };
    if (type == mapi::PT_NULL || type == mapi::PT_UNSPECIFIED) return;
    if (const u64 n = fixed_size(type); n > 0) {
      bag.set(tag, ByteView(value, n));
      return;
    }
    const std::string name = std::string(SUBSTG) + hex8(tag);
    const cfb::Entry *e = s.find(name);
    if (type == mapi::PT_OBJECT) {
      // The object is a storage (an embedded message or an OLE object, read with the
      // attachment), or, from some writers, a stream holding the bytes.
      if (e == nullptr || e->type == cfb::EntryType::Storage) return;
    }
    const bool mv_var = is_mv_variable(type);
    const u64 mv_elem = mv_fixed_size(type);
    if (!is_stream_type(type) && !mv_var && mv_elem == 0) {
      skip("unknown property type");
      return;
    }
    if (e == nullptr) {
      skip("stream " + name + " missing");
      return;
    }
    Result<Bytes> data = read(s, *e);
    if (!data) {
      skip(data.problem().detail);
      return;
    }
    if (mv_var) {
      read_mv_variable(s, tag, name, *data, bag, notes);
      return;
    }
    if (mv_elem > 0) {
      if (data->size() % mv_elem != 0) {
        skip("multi-valued stream of " + std::to_string(data->size()) + " bytes is not whole " +
             std::to_string(mv_elem) + "-byte values");
        return;
      }
      bag.set(tag, *data);
      return;
    }
    if (type == mapi::PT_CLSID && data->size() != 16) {
      skip("GUID stream of " + std::to_string(data->size()) + " bytes");
      return;
    }
    bag.set(tag, strip_terminator(*data, type));
  }

  // [MS-OXMSG] 2.1.4.2: a length stream (4 bytes per string value, 8 per binary value: the
  // length, then 4 reserved bytes) and one stream "<name>-XXXXXXXX" per value. The value is
  // stored in the PST form: count, offsets from the start of the value, data.
  void read_mv_variable(const Storage &s, u32 tag, const std::string &name, ByteView lengths,
                        mapi::PropertyBag &bag, PropNotes &notes) {
    const u16 type = mapi::tag_type(tag);
    const u64 stride = type == mapi::PT_MV_BINARY ? 8 : 4;
    const u16 base = static_cast<u16>(type & ~mapi::PT_MV_FLAG);
    if (lengths.size() % stride != 0) {
      notes.skipped.push_back({tag, "length stream of " + std::to_string(lengths.size()) +
                                        " bytes is not whole " + std::to_string(stride) +
                                        "-byte entries"});
      return;
    }
    const u64 count = lengths.size() / stride;
    std::vector<Bytes> values;
    values.reserve(count);
    for (u64 i = 0; i < count; ++i) {
      const std::string vname = name + "-" + hex8(static_cast<u32>(i));
      const cfb::Entry *e = s.find(vname);
      if (e == nullptr) {
        notes.skipped.push_back({tag, "value stream " + vname + " missing"});
        return;
      }
      Result<Bytes> v = read(s, *e);
      if (!v) {
        notes.skipped.push_back({tag, v.problem().detail});
        return;
      }
      values.emplace_back(strip_terminator(*v, base));
    }
    Bytes out(4 + 4 * count, '\0');
    auto put32 = [&out](u64 at, u64 v) {
      for (int b = 0; b < 4; ++b) out[at + b] = static_cast<char>((v >> (8 * b)) & 0xFF);
    };
    put32(0, count);
    for (u64 i = 0; i < count; ++i) {
      put32(4 + 4 * i, out.size());
      out += values[i];
    }
    bag.set(tag, out);
  }

  void read_recipient(const Storage &msg, const cfb::Entry &e, mapi::RawMessage &m) {
    Result<Storage> st = open_storage(msg.child_path(e));
    mapi::PropertyBag bag;
    PropNotes notes;
    Status s = st ? read_properties(*st, Level::Recipient, bag, nullptr, notes) : st.problem();
    if (!s) {
      m.warnings.push_back(
          Problem{ProblemCode::RecipientsUnreadable, e.name + ": " + s.problem().detail});
      return;
    }
    if (!notes.empty()) {
      m.warnings.push_back(
          Problem{ProblemCode::RecipientsUnreadable, e.name + ": " + notes.text()});
    }
    m.recipients.push_back(std::move(bag));
  }

  void read_attachment(const Storage &msg, const cfb::Entry &e, mapi::RawMessage &m, int depth,
                       const std::shared_ptr<const mapi::NameMap> &names) {
    mapi::RawAttachment att;
    Result<Storage> st = open_storage(msg.child_path(e));
    PropNotes notes;
    Status s =
        st ? read_properties(*st, Level::Attachment, att.props, nullptr, notes) : st.problem();
    if (!s) {
      att.problem = Problem{ProblemCode::AttachmentUnreadable, e.name + ": " + s.problem().detail};
      m.attachments.push_back(std::move(att));
      return;
    }
    // The attachment's data is what matters: if its value was skipped, the attachment is
    // unreadable; other skipped properties are a warning on the message.
    for (const Skipped &k : notes.skipped) {
      if (mapi::tag_id(k.tag) == mapi::pid::ATTACH_DATA && !att.problem) {
        att.problem = Problem{ProblemCode::AttachmentUnreadable,
                              e.name + ": attachment data 0x" + hex8(k.tag) + ": " + k.why};
      }
    }
    if (!notes.empty()) {
      m.warnings.push_back(
          Problem{ProblemCode::AttachmentUnreadable, e.name + ": " + notes.text()});
    }
    const cfb::Entry *obj = st->find(std::string(SUBSTG) + hex8(TAG_ATTACH_DATA_OBJ));
    if (obj != nullptr && obj->type == cfb::EntryType::Storage) {
      read_object(*st, *obj, att, depth, names);
    } else if (att.props.get_i32(mapi::pid::ATTACH_METHOD) == mapi::pid::ATTACH_EMBEDDED_MSG &&
               !att.problem) {
      att.problem = Problem{ProblemCode::EmbeddedUnreadable,
                            e.name + ": ATTACH_EMBEDDED_MSG without an embedded message storage"};
    }
    m.attachments.push_back(std::move(att));
  }

  // The "__substg1.0_3701000D" storage: an embedded message (ATTACH_EMBEDDED_MSG), or the
  // storage of an OLE object (ATTACH_OLE, [MS-OXMSG] 2.2.2.2 custom attachment storage).
  // Embedded messages carry no named-property map of their own: the top-level one applies.
  void read_object(const Storage &att_st, const cfb::Entry &obj, mapi::RawAttachment &att,
                   int depth, const std::shared_ptr<const mapi::NameMap> &names) {
    const i32 method = att.props.get_i32(mapi::pid::ATTACH_METHOD).value_or(0);
    if (method == mapi::pid::ATTACH_OLE) {
      // The model carries an OLE object as the bytes of a compound file (as a PST's
      // PR_ATTACH_DATA_OBJ does), so the storage is written out as one.
      Result<Bytes> bytes = copy_storage(
          cf_, att_st.child_path(obj), obj.clsid,
          [this](const std::string &path, const cfb::Entry &e) { return read_path(path, e); });
      if (!bytes) {
        att.problem = Problem{bytes.problem().code == ProblemCode::LimitExceeded
                                  ? ProblemCode::LimitExceeded
                                  : ProblemCode::AttachmentUnreadable,
                              "OLE object storage: " + bytes.problem().detail};
        return;
      }
      att.props.set(TAG_ATTACH_DATA_OBJ, *bytes);
      return;
    }
    if (method != mapi::pid::ATTACH_EMBEDDED_MSG) {
      // A message storage without method 5 is still read as one when it has a property
      // stream; the method is what to_model looks at, so it is set.
      Result<std::vector<cfb::Entry>> kids = cf_.list(att_st.child_path(obj));
      bool has_props = false;
      if (kids) {
        for (const cfb::Entry &k : *kids)
          has_props = has_props || upper(k.name) == upper(PROPS_STREAM);
      }
      if (!has_props) {
        att.problem = Problem{
            ProblemCode::AttachmentNotExportable,
            "attachment object storage of method " + std::to_string(method) + " is not a message"};
        return;
      }
      att.props.set_i32(mapi::make_tag(mapi::pid::ATTACH_METHOD, mapi::PT_LONG),
                        mapi::pid::ATTACH_EMBEDDED_MSG);
    }
    if (depth + 1 > MAX_EMBED_DEPTH) {
      att.problem = Problem{ProblemCode::LimitExceeded, "embedded message nesting deeper than " +
                                                            std::to_string(MAX_EMBED_DEPTH)};
      return;
    }
    Result<mapi::RawMessage> em =
        message(att_st.child_path(obj), Level::Embedded, depth + 1, names);
    if (!em) {
      att.problem = Problem{ProblemCode::EmbeddedUnreadable, "embedded: " + em.problem().detail};
      return;
    }
    att.embedded = std::make_unique<mapi::RawMessage>(std::move(em).value());
  }

  const cfb::CompoundFile &cf_;
  u64 budget_;
  bool over_budget_ = false;
};

}  // namespace

Result<mapi::RawMessage> read_msg(ByteView bytes) {
  if (!cfb::has_signature(bytes)) {
    return Problem{ProblemCode::SourceCorrupt, "not a .msg file: no compound-file signature"};
  }
  Result<std::unique_ptr<cfb::CompoundFile>> cf = cfb::CompoundFile::open(bytes);
  if (!cf) {
    return Problem{ProblemCode::SourceCorrupt, "not a readable .msg: " + cf.problem().detail};
  }
  MsgReader reader(**cf, static_cast<u64>(bytes.size()) + BUDGET_SLACK);
  Result<Storage> root = reader.open_storage("");
  if (!root) return Problem{ProblemCode::SourceCorrupt, "root storage: " + root.problem().detail};
  if (root->find(PROPS_STREAM) == nullptr) {
    return Problem{ProblemCode::SourceCorrupt,
                   "not a .msg file: the compound file has no __properties_version1.0 stream"};
  }
  std::vector<Problem> name_warnings;
  std::shared_ptr<const mapi::NameMap> names = reader.names(*root, name_warnings);
  Result<mapi::RawMessage> m = reader.message("", Level::Top, 0, names);
  if (reader.over_budget()) {
    return Problem{ProblemCode::SourceCorrupt,
                   "damaged .msg: its streams add up to more than the file (cross-linked sectors)"};
  }
  if (!m) {
    return Problem{ProblemCode::SourceCorrupt, "damaged .msg: " + m.problem().detail};
  }
  for (Problem &w : name_warnings) m->warnings.push_back(std::move(w));
  return m;
}

}  // namespace mm::msg
