// The libpff-based reader: a mapi::MailStore over one libpff_file_t.
//
// Every property value is taken as the RAW bytes of the record entry
// (libpff_record_entry_get_data), never through libpff's string getters: libpff 20180714 drops
// the first bytes of a subject that starts with a non-ASCII character and garbles characters
// outside the BMP. Decoding is left to mapi::PropertyBag / mm::text, shared with the native reader.
#include <libpff.h>

#include <algorithm>
#include <set>
#include <array>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "libpff_impl.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/model/limits.h"
#include "mailmill/source/open.h"
#include "mailmill/util/text.h"

namespace mm::source {
namespace detail {

std::string PffError::text() const {
  if (err_ == nullptr) return "unknown libpff error";
  std::string buf(4096, '\0');
  int n = libpff_error_backtrace_sprint(err_, buf.data(), buf.size());
  if (n <= 0) n = libpff_error_sprint(err_, buf.data(), buf.size());
  if (n <= 0) return "unknown libpff error";
  buf.resize(std::min<std::size_t>(static_cast<std::size_t>(n), buf.size()));
  // One line: newlines become "; ", trailing separators and NULs are dropped.
  std::string out;
  out.reserve(buf.size());
  for (char c : buf) {
    if (c == '\0') break;
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out.empty() ? "unknown libpff error" : out;
}

}  // namespace detail

namespace {

using detail::ItemPtr;
using detail::PffError;
using detail::RecordEntryPtr;
using detail::RecordSetPtr;

using model::limits::MAX_EMBED_DEPTH;
constexpr int MAX_FOLDER_DEPTH = 256;
constexpr u32 TAG_ATTACH_DATA_BIN = mapi::make_tag(mapi::pid::ATTACH_DATA, mapi::PT_BINARY);

// [MS-PST] 2.4.7: property ids of the Name-to-ID Map's property context.
constexpr u32 NAMEID_STREAM_GUID = 0x0002;
constexpr u32 NAMEID_STREAM_ENTRY = 0x0003;
constexpr u32 NAMEID_STREAM_STRING = 0x0004;

// PS_MAPI (wGuid == 1) and PS_PUBLIC_STRINGS (wGuid == 2), [MS-PST] 2.4.7.1.
const std::array<u8, 16> PS_MAPI = mapi::guid_from_string("00020328-0000-0000-C000-000000000046");
const std::array<u8, 16> PS_PUBLIC_STRINGS =
    mapi::guid_from_string("00020329-0000-0000-C000-000000000046");

Problem problem(ProblemCode code, std::string detail) {
  return Problem{code, std::move(detail), -1};
}

using text::hex_u64;

// Reads the raw value bytes of one record entry into `out`. get_data needs the exact size;
// the value data is fully resident in the entry (libpff reads the whole table row).
Status entry_bytes(libpff_record_entry_t *entry, std::string &out) {
  PffError err;
  size_t size = 0;
  if (libpff_record_entry_get_data_size(entry, &size, err.out()) != 1) {
    return problem(ProblemCode::ItemUnreadable, "record entry size: " + err.text());
  }
  out.assign(size, '\0');
  if (size == 0) return {};
  if (libpff_record_entry_get_data(entry, reinterpret_cast<uint8_t *>(out.data()), size,
                                   err.out()) != 1) {
    return problem(ProblemCode::ItemUnreadable, "record entry data: " + err.text());
  }
  return {};
}

// Copies every entry of one record set into `bag` (raw bytes). An entry that cannot be read is
// skipped and noted in `warnings` (if given); fails only when the set itself is unusable.
Status read_record_set(libpff_record_set_t *set, mapi::PropertyBag &bag,
                       std::vector<Problem> *warnings, std::string &scratch) {
  PffError err;
  int n = 0;
  if (libpff_record_set_get_number_of_entries(set, &n, err.out()) != 1) {
    return problem(ProblemCode::ItemUnreadable, "record set entries: " + err.text());
  }
  for (int i = 0; i < n; ++i) {
    libpff_record_entry_t *raw_entry = nullptr;
    if (libpff_record_set_get_entry_by_index(set, i, &raw_entry, err.out()) != 1) {
      if (warnings) {
        warnings->push_back(problem(ProblemCode::ItemUnreadable,
                                    "record entry " + std::to_string(i) + ": " + err.text()));
      }
      continue;
    }
    RecordEntryPtr entry(raw_entry);
    uint32_t entry_type = 0;
    uint32_t value_type = 0;
    if (libpff_record_entry_get_entry_type(entry.get(), &entry_type, err.out()) != 1 ||
        libpff_record_entry_get_value_type(entry.get(), &value_type, err.out()) != 1) {
      if (warnings) {
        warnings->push_back(problem(ProblemCode::ItemUnreadable,
                                    "record entry " + std::to_string(i) + " tag: " + err.text()));
      }
      continue;
    }
    Status st = entry_bytes(entry.get(), scratch);
    if (!st) {
      if (warnings) warnings->push_back(st.problem());
      continue;
    }
    bag.set(mapi::make_tag(static_cast<u16>(entry_type), static_cast<u16>(value_type)), scratch);
  }
  return {};
}

// Reads record set `index` of `item` into `bag`.
Status read_item_set(libpff_item_t *item, int index, mapi::PropertyBag &bag,
                     std::vector<Problem> *warnings, std::string &scratch) {
  PffError err;
  libpff_record_set_t *raw_set = nullptr;
  if (libpff_item_get_record_set_by_index(item, index, &raw_set, err.out()) != 1) {
    return problem(ProblemCode::ItemUnreadable,
                   "record set " + std::to_string(index) + ": " + err.text());
  }
  RecordSetPtr set(raw_set);
  return read_record_set(set.get(), bag, warnings, scratch);
}

// Reads the first record set of an item, tolerating items with no record set at all.
Status read_props(libpff_item_t *item, mapi::PropertyBag &bag, std::vector<Problem> *warnings,
                  std::string &scratch) {
  PffError err;
  int sets = 0;
  if (libpff_item_get_number_of_record_sets(item, &sets, err.out()) != 1) {
    return problem(ProblemCode::ItemUnreadable, "record sets: " + err.text());
  }
  if (sets <= 0) return {};
  return read_item_set(item, 0, bag, warnings, scratch);
}

Result<u32> item_identifier(libpff_item_t *item) {
  PffError err;
  uint32_t id = 0;
  if (libpff_item_get_identifier(item, &id, err.out()) != 1) {
    return problem(ProblemCode::ItemUnreadable, "item identifier: " + err.text());
  }
  return id;
}

// A UTF-8 string from a raw string property (PT_UNICODE or PT_STRING8), decoded by mm::text.
std::optional<std::string> raw_string(const mapi::PropertyBag &bag, u16 id, u32 codepage) {
  const mapi::Property *p = bag.find(id);
  if (p == nullptr) return std::nullopt;
  std::string s;
  if (p->type() == mapi::PT_UNICODE) {
    s = text::utf16le_to_utf8(p->value);
  } else if (p->type() == mapi::PT_STRING8) {
    std::optional<std::string> conv = text::codepage_to_utf8(p->value, codepage);
    s = conv ? *conv : text::sanitize_utf8(p->value);
  } else {
    return std::nullopt;
  }
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

class LibpffStore final : public mapi::MailStore {
 public:
  LibpffStore(detail::FilePtr file, std::string path)
      : file_(std::move(file)), path_(std::move(path)) {}

  Status init(u64 preflight_size) {
    PffError err;
    uint8_t type = 0;
    if (libpff_file_get_type(file_.get(), &type, err.out()) == 1) {
      info_.format = type == LIBPFF_FILE_TYPE_32BIT           ? mapi::PstFormat::Ansi
                     : type == LIBPFF_FILE_TYPE_64BIT_4K_PAGE ? mapi::PstFormat::Unicode4k
                                                              : mapi::PstFormat::Unicode;
    }
    uint8_t content = 0;
    if (libpff_file_get_content_type(file_.get(), &content, err.out()) == 1) {
      info_.is_ost = content == LIBPFF_FILE_CONTENT_TYPE_OST;
    }
    uint8_t enc = 0;
    if (libpff_file_get_encryption_type(file_.get(), &enc, err.out()) == 1) {
      info_.encryption = enc == LIBPFF_ENCRYPTION_TYPE_NONE          ? mapi::PstEncryption::None
                         : enc == LIBPFF_ENCRYPTION_TYPE_COMPRESSIBLE ? mapi::PstEncryption::Permute
                         : enc == LIBPFF_ENCRYPTION_TYPE_HIGH         ? mapi::PstEncryption::Cyclic
                                                                      : mapi::PstEncryption::Unknown;
    }
    size64_t size = 0;
    info_.file_size =
        libpff_file_get_size(file_.get(), &size, err.out()) == 1 ? size : preflight_size;
    // libpff's codepage enum values are Windows codepage numbers already; US-ASCII (20127) is
    // widened to its superset 1252 so 8-bit bytes still decode.
    int cp = 0;
    if (libpff_file_get_ascii_codepage(file_.get(), &cp, err.out()) == 1 && cp > 0) {
      info_.default_codepage = cp == LIBPFF_CODEPAGE_ASCII ? 1252u : static_cast<u32>(cp);
    }
    Result<mapi::PropertyBag> store = store_properties();
    if (store.ok()) {
      if (std::optional<std::string> name =
              raw_string(*store, mapi::pid::DISPLAY_NAME, info_.default_codepage)) {
        info_.display_name = *name;
      }
    }
    load_name_map();
    if (info_.format == mapi::PstFormat::Ansi && store.ok() &&
        !store->get_i32(mapi::pid::MESSAGE_CODEPAGE))
      guess_ansi_codepage();
    return {};
  }

  // Same rule as the native reader: ANSI stores do not record their codepage, so take the
  // majority of the first messages' own codepage properties (mapi::item_ansi_codepage).
  void guess_ansi_codepage() {
    Result<std::vector<mapi::FolderInfo>> fs = folders();
    if (!fs) return;
    std::map<u32, int> votes;
    int seen = 0;
    for (const mapi::FolderInfo &f : *fs) {
      Result<std::vector<u64>> items = items_in(f.node_id);
      if (!items) continue;
      for (u64 nid : *items) {
        if (++seen > 64) break;
        Result<mapi::RawMessage> m = read_item(nid);
        if (!m) continue;
        if (std::optional<u32> cp = mapi::item_ansi_codepage(m->props)) ++votes[*cp];
      }
      if (seen > 64) break;
    }
    int best = 0;
    for (const auto &[cp, n] : votes)
      if (n > best) {
        best = n;
        info_.default_codepage = cp;
      }
    if (best > 0 && info_.default_codepage != 1252) {
      Result<mapi::PropertyBag> props = store_properties();
      if (props)
        if (std::optional<std::string> name =
                raw_string(*props, mapi::pid::DISPLAY_NAME, info_.default_codepage))
          info_.display_name = *name;
    }
  }

  const mapi::StoreInfo &info() const override { return info_; }

  Result<std::vector<mapi::FolderInfo>> folders() override {
    PffError err;
    libpff_item_t *raw_root = nullptr;
    int rc = libpff_file_get_root_folder(file_.get(), &raw_root, err.out());
    if (rc != 1) {
      return problem(ProblemCode::SourceCorrupt,
                     "libpff: no root folder in " + path_ + (rc == 0 ? "" : ": " + err.text()));
    }
    ItemPtr root(raw_root);
    std::vector<mapi::FolderInfo> out;
    tree_problems_.clear();
    walked_.clear();
    Result<u32> id = item_identifier(root.get());
    if (!id.ok()) return problem(ProblemCode::SourceCorrupt, "root folder: " + id.problem().detail);
    mapi::FolderInfo info;
    info.node_id = *id;
    walked_.insert(*id);
    fill_folder_props(root.get(), info);
    out.push_back(std::move(info));
    walk_folder(root.get(), *id, {}, 1, out);
    if (recover_) append_recovery_folders(*id, out);
    return out;
  }

  // libpff has no node index to count: the census is what libpff says each folder holds
  // (its sub-message count, read from the contents table) and, with --recover, the lengths of
  // its recovery lists. Sub-folders it cannot open are problems: their items are unknown.
  Result<mapi::Census> census() override {
    Result<std::vector<mapi::FolderInfo>> fs = folders();
    if (!fs) return fs.problem();
    mapi::Census c;
    c.basis = "libpff";
    c.problems = tree_problems_;
    for (const mapi::FolderInfo &f : *fs) {
      mapi::CensusFolder cf;
      cf.folder_id = f.node_id;
      cf.claimed = f.content_count;
      ++c.folder_nodes;
      if (recover_ && is_recovery_folder_id(f.node_id)) {
        ensure_recovery();
        cf.rows = static_cast<i64>(recovery_ids_[static_cast<int>(recovery_kind(f.node_id))].size());
      } else {
        PffError err;
        libpff_item_t *raw_folder = nullptr;
        int n = 0;
        if (libpff_file_get_item_by_identifier(file_.get(), static_cast<uint32_t>(f.node_id),
                                               &raw_folder, err.out()) != 1) {
          cf.problem = "libpff cannot open the folder: " + err.text();
        } else {
          ItemPtr folder(raw_folder);
          if (libpff_folder_get_number_of_sub_messages(folder.get(), &n, err.out()) == 1)
            cf.rows = std::max(n, 0);
          else
            cf.problem = "libpff cannot count the folder's messages: " + err.text();
        }
      }
      cf.items = std::max<i64>(cf.rows, 0);
      c.message_nodes += cf.items;
      c.folders.push_back(std::move(cf));
    }
    return c;
  }

  Result<std::vector<u64>> items_in(u64 folder_id) override {
    if (recover_ && is_recovery_folder_id(folder_id)) {
      ensure_recovery();
      return recovery_ids_[static_cast<int>(recovery_kind(folder_id))];
    }
    if (folder_id > 0xFFFFFFFFu) {
      return problem(ProblemCode::ItemUnreadable, "not a libpff folder id: " + hex_u64(folder_id));
    }
    PffError err;
    libpff_item_t *raw_folder = nullptr;
    int rc = libpff_file_get_item_by_identifier(file_.get(), static_cast<uint32_t>(folder_id),
                                                &raw_folder, err.out());
    if (rc != 1) {
      return problem(ProblemCode::ItemUnreadable,
                     "folder " + hex_u64(folder_id) + (rc == 0 ? " not found" : ": " + err.text()));
    }
    ItemPtr folder(raw_folder);
    int n = 0;
    if (libpff_folder_get_number_of_sub_messages(folder.get(), &n, err.out()) != 1) {
      return problem(ProblemCode::ItemUnreadable,
                     "folder " + hex_u64(folder_id) + " contents: " + err.text());
    }
    std::vector<u64> ids;
    ids.reserve(static_cast<std::size_t>(std::max(n, 0)));
    for (int i = 0; i < n; ++i) {
      libpff_item_t *raw_msg = nullptr;
      if (libpff_folder_get_sub_message(folder.get(), i, &raw_msg, err.out()) != 1) {
        u64 sentinel = make_unreadable_item_id(static_cast<u32>(folder_id), static_cast<u32>(i));
        unreadable_[sentinel] = "libpff could not enumerate item #" + std::to_string(i) +
                                " of folder " + hex_u64(folder_id) + ": " + err.text();
        ids.push_back(sentinel);
        continue;
      }
      ItemPtr msg(raw_msg);
      Result<u32> id = item_identifier(msg.get());
      if (!id.ok()) {
        u64 sentinel = make_unreadable_item_id(static_cast<u32>(folder_id), static_cast<u32>(i));
        unreadable_[sentinel] = "item #" + std::to_string(i) + " of folder " + hex_u64(folder_id) +
                                ": " + id.problem().detail;
        ids.push_back(sentinel);
        continue;
      }
      locations_[*id] = {static_cast<u32>(folder_id), i};
      ids.push_back(*id);
    }
    return ids;
  }

  Result<mapi::RawMessage> read_item(u64 node_id) override {
    if (is_unreadable_item_id(node_id)) {
      auto it = unreadable_.find(node_id);
      return problem(ProblemCode::ItemUnreadable,
                     it != unreadable_.end()
                         ? it->second
                         : "libpff could not enumerate item #" +
                               std::to_string(unreadable_item_index(node_id)) + " of folder " +
                               hex_u64(unreadable_item_folder(node_id)));
    }
    if (recover_ && is_recovery_id(node_id) && !is_recovery_folder_id(node_id)) {
      return read_recovery_item(node_id);
    }
    if (node_id > 0xFFFFFFFFu) {
      return problem(ProblemCode::ItemUnreadable, "not a libpff node id: " + hex_u64(node_id));
    }
    Result<ItemPtr> item = open_item(static_cast<u32>(node_id));
    if (!item.ok()) return item.problem();
    return read_message(item->get(), 0);
  }

  const mapi::NameMap &names() const override { return names_; }

  Result<mapi::PropertyBag> store_properties() override {
    PffError err;
    libpff_item_t *raw = nullptr;
    int rc = libpff_file_get_message_store(file_.get(), &raw, err.out());
    if (rc != 1) {
      return problem(ProblemCode::ItemUnreadable,
                     std::string("message store") + (rc == 0 ? " not present" : ": " + err.text()));
    }
    ItemPtr store(raw);
    mapi::PropertyBag bag;
    Status st = read_props(store.get(), bag, nullptr, scratch_);
    if (!st) return st.problem();
    return bag;
  }

  const char *reader_name() const override { return "libpff"; }

  /// Turns on the recovery folders (--recover). Called after init(), so the ANSI codepage
  /// guess only looks at live items; the scan itself runs on first use (ensure_recovery).
  void enable_recovery() { recover_ = true; }

 private:
  // ---- --recover: libpff's recovered (deleted) and orphan item lists ------------------------
  //
  // The scan (libpff_file_recover_items) reads the whole file, so it runs lazily: the primary
  // handle runs it when listing folders, and a worker handle only when it is given a recovery
  // id. The lists come out in the same order for every handle on the same file (the scan is
  // deterministic), which keeps the ids stable between handles and runs.

  static const char *kind_name(RecoveryKind kind) {
    return kind == RecoveryKind::Orphan ? "orphan item" : "recovered item";
  }

  int list_count(RecoveryKind kind, PffError &err) {
    int n = 0;
    int rc = kind == RecoveryKind::Orphan
                 ? libpff_file_get_number_of_orphan_items(file_.get(), &n, err.out())
                 : libpff_file_get_number_of_recovered_items(file_.get(), &n, err.out());
    return rc == 1 ? std::max(n, 0) : -1;
  }

  Result<ItemPtr> list_item(RecoveryKind kind, u32 index) {
    PffError err;
    libpff_item_t *raw = nullptr;
    int i = static_cast<int>(index);
    int rc = kind == RecoveryKind::Orphan
                 ? libpff_file_get_orphan_item_by_index(file_.get(), i, &raw, err.out())
                 : libpff_file_get_recovered_item_by_index(file_.get(), i, &raw, err.out());
    if (rc != 1 || raw == nullptr) {
      return problem(ProblemCode::ItemUnreadable, std::string("libpff could not open ") +
                                                      kind_name(kind) + " #" +
                                                      std::to_string(index) + ": " + err.text());
    }
    return ItemPtr(raw);
  }

  // Which recovery-list entries are items to export. libpff's scan also turns up internal
  // nodes (e.g. 0xe01, 0x201 in tika__testPST.pst) whose item type it cannot determine; those
  // are kept only when their node id says "message" ([MS-PST] 2.2.2.1: low 5 bits 0x04 normal
  // or 0x08 associated message), so a deleted message libpff cannot read is still counted as
  // failed. The node-id type alone is not enough: libpff reads e.g. node 0x808e of
  // pstsdk__sample1.pst as an e-mail, and pffexport exports it.
  enum class EntryKind : u8 { Message, Folder, Other };

  static EntryKind entry_kind(libpff_item_t *item) {
    PffError err;
    uint8_t type = 0;
    if (libpff_item_get_type(item, &type, err.out()) == 1) {
      switch (type) {
        case LIBPFF_ITEM_TYPE_FOLDER:
          return EntryKind::Folder;
        case LIBPFF_ITEM_TYPE_UNDEFINED:
        case LIBPFF_ITEM_TYPE_ATTACHMENT:
        case LIBPFF_ITEM_TYPE_ATTACHMENTS:
        case LIBPFF_ITEM_TYPE_RECIPIENTS:
        case LIBPFF_ITEM_TYPE_SUB_ASSOCIATED_CONTENTS:
        case LIBPFF_ITEM_TYPE_SUB_FOLDERS:
        case LIBPFF_ITEM_TYPE_SUB_MESSAGES:
          break;
        default:
          return EntryKind::Message;
      }
    }
    Result<u32> nid = item_identifier(item);
    if (!nid.ok()) return EntryKind::Message;  // unknown: count it (it will fail to read)
    const u32 nid_type = *nid & 0x1Fu;
    return nid_type == 0x04 || nid_type == 0x08 ? EntryKind::Message : EntryKind::Other;
  }

  // Lists the ids of one kind. An entry libpff cannot open still gets an id (read_item then
  // reports libpff's error, so the item is counted as failed). An entry that is a folder is not
  // a message: its sub-messages are listed instead (deleted folders usually list none, or
  // stale entries that fail to open, e.g. tika__testPST.pst). Non-message entries are left out.
  void list_recovery(RecoveryKind kind) {
    std::vector<u64> &ids = recovery_ids_[static_cast<int>(kind)];
    PffError err;
    int n = list_count(kind, err);
    if (n < 0) {
      info_.warnings.push_back(problem(ProblemCode::SourceCorrupt,
                                       std::string("libpff cannot count the ") + kind_name(kind) +
                                           "s: " + err.text()));
      return;
    }
    for (int i = 0; i < n; ++i) {
      const u32 index = static_cast<u32>(i);
      Result<ItemPtr> item = list_item(kind, index);
      if (!item.ok()) {
        ids.push_back(make_recovery_item_id(kind, index));
        continue;
      }
      EntryKind ek = entry_kind(item->get());
      if (ek == EntryKind::Message) ids.push_back(make_recovery_item_id(kind, index));
      if (ek != EntryKind::Folder) continue;
      int subs = 0;
      if (libpff_folder_get_number_of_sub_messages(item->get(), &subs, err.out()) != 1) continue;
      subs = std::min(subs, 0x0FFFFFFE);
      for (int k = 0; k < subs; ++k) {
        ids.push_back(make_recovery_item_id(kind, index, static_cast<u32>(k) + 1));
      }
    }
  }

  void ensure_recovery() {
    if (recovery_scanned_) return;
    recovery_scanned_ = true;
    PffError err;
    // Flags 0: only unallocated space is searched (libpff's default, as pffexport -m recovered).
    if (libpff_file_recover_items(file_.get(), 0, err.out()) == 1) {
      list_recovery(RecoveryKind::Recovered);
    } else {
      recovery_error_ = "libpff could not scan for deleted items: " + err.text();
      info_.warnings.push_back(problem(ProblemCode::SourceCorrupt, recovery_error_));
    }
    // Orphans are found while libpff builds its item tree at open; they need no scan.
    list_recovery(RecoveryKind::Orphan);
  }

  void append_recovery_folders(u32 root_id, std::vector<mapi::FolderInfo> &out) {
    ensure_recovery();
    for (RecoveryKind kind : {RecoveryKind::Recovered, RecoveryKind::Orphan}) {
      const std::vector<u64> &ids = recovery_ids_[static_cast<int>(kind)];
      if (ids.empty()) continue;
      mapi::FolderInfo f;
      f.node_id = make_recovery_folder_id(kind);
      f.parent_id = root_id;
      f.path = {kind == RecoveryKind::Orphan ? ORPHAN_FOLDER_NAME : RECOVERED_FOLDER_NAME};
      f.container_class = "IPF.Note";
      f.content_count = static_cast<i64>(ids.size());
      out.push_back(std::move(f));
    }
  }

  // Reads one recovered or orphan item. Recovered items are often partial; whatever the normal
  // message reader gets becomes the message, and RawMessage::node_id is the synthetic id (the
  // libpff identifier of a deleted item may equal a live item's).
  Result<mapi::RawMessage> read_recovery_item(u64 id) {
    ensure_recovery();
    const RecoveryKind kind = recovery_kind(id);
    const u32 index = recovery_index(id);
    const u32 sub = recovery_sub(id);
    std::string what = std::string(kind_name(kind)) + " #" + std::to_string(index);
    if (kind == RecoveryKind::Recovered && !recovery_error_.empty()) {
      return problem(ProblemCode::ItemUnreadable, what + ": " + recovery_error_);
    }
    Result<ItemPtr> item = list_item(kind, index);
    if (!item.ok()) return item.problem();
    ItemPtr msg;
    if (sub == 0) {
      msg = std::move(*item);
    } else {
      what += " message #" + std::to_string(sub - 1);
      PffError err;
      libpff_item_t *raw = nullptr;
      if (libpff_folder_get_sub_message(item->get(), static_cast<int>(sub - 1), &raw,
                                        err.out()) != 1 ||
          raw == nullptr) {
        return problem(ProblemCode::ItemUnreadable,
                       "libpff could not open " + what + ": " + err.text());
      }
      msg.reset(raw);
    }
    Result<mapi::RawMessage> m = read_message(msg.get(), 0);
    if (!m.ok()) return problem(ProblemCode::ItemUnreadable, what + ": " + m.problem().detail);
    m->node_id = id;
    return m;
  }

  void fill_folder_props(libpff_item_t *folder, mapi::FolderInfo &info) {
    mapi::PropertyBag bag;
    if (!read_props(folder, bag, nullptr, scratch_)) return;
    if (std::optional<std::string> cls =
            raw_string(bag, mapi::pid::CONTAINER_CLASS, info_.default_codepage)) {
      info.container_class = *cls;
    }
    if (std::optional<i32> count = bag.get_i32(mapi::pid::CONTENT_COUNT)) {
      info.content_count = *count;
    }
  }

  std::string folder_name(libpff_item_t *folder) {
    mapi::PropertyBag bag;
    if (!read_props(folder, bag, nullptr, scratch_)) return {};
    return raw_string(bag, mapi::pid::DISPLAY_NAME, info_.default_codepage).value_or("");
  }

  // Depth-first pre-order. A sub-folder libpff cannot open is left out with its subtree, and
  // noted in tree_problems_ (its items cannot be counted). Folders nested deeper than
  // MAX_FOLDER_DEPTH are listed, marked beyond_depth, under a short path of their own.
  void walk_folder(libpff_item_t *folder, u32 folder_id, const std::vector<std::string> &path,
                   int depth, std::vector<mapi::FolderInfo> &out) {
    PffError err;
    int n = 0;
    if (libpff_folder_get_number_of_sub_folders(folder, &n, err.out()) != 1) {
      tree_problems_.push_back("libpff cannot count the sub-folders of folder " +
                               hex_u64(folder_id) + ": " + err.text());
      return;
    }
    for (int i = 0; i < n; ++i) {
      libpff_item_t *raw_sub = nullptr;
      if (libpff_folder_get_sub_folder(folder, i, &raw_sub, err.out()) != 1) {
        tree_problems_.push_back("libpff cannot open sub-folder " + std::to_string(i) +
                                 " of folder " + hex_u64(folder_id) + ": " + err.text());
        continue;
      }
      ItemPtr sub(raw_sub);
      Result<u32> id = item_identifier(sub.get());
      if (!id.ok()) {
        tree_problems_.push_back("sub-folder " + std::to_string(i) + " of folder " +
                                 hex_u64(folder_id) + ": " + id.problem().detail);
        continue;
      }
      if (!walked_.insert(*id).second) {
        tree_problems_.push_back("folder " + hex_u64(*id) + " is listed twice in the tree");
        continue;
      }
      mapi::FolderInfo info;
      info.node_id = *id;
      info.parent_id = folder_id;
      info.path = path;
      info.path.push_back(folder_name(sub.get()));
      info.beyond_depth = depth > MAX_FOLDER_DEPTH;
      if (info.beyond_depth) info.path = {"[Folders nested too deep]", "folder-" + hex_u64(*id)};
      fill_folder_props(sub.get(), info);
      std::vector<std::string> sub_path = info.path;
      out.push_back(std::move(info));
      walk_folder(sub.get(), *id, sub_path, depth + 1, out);
    }
  }

  // Items listed by items_in() are opened through their folder slot, keeping the last folder
  // open: libpff_file_get_item_by_identifier searches the whole item tree (a walk over every
  // node), which would make a full conversion quadratic in the item count. Unknown ids, or a
  // slot that fails, fall back to the by-identifier lookup.
  Result<ItemPtr> open_item(u32 nid) {
    PffError err;
    std::string why;
    auto loc = locations_.find(nid);
    if (loc != locations_.end()) {
      const u32 folder_id = loc->second.first;
      if (!cached_folder_ || cached_folder_id_ != folder_id) {
        cached_folder_.reset();
        libpff_item_t *raw_folder = nullptr;
        if (libpff_file_get_item_by_identifier(file_.get(), folder_id, &raw_folder, err.out()) ==
            1) {
          cached_folder_.reset(raw_folder);
          cached_folder_id_ = folder_id;
        } else {
          why = "folder " + hex_u64(folder_id) + ": " + err.text() + "; ";
        }
      }
      if (cached_folder_) {
        libpff_item_t *raw = nullptr;
        if (libpff_folder_get_sub_message(cached_folder_.get(), loc->second.second, &raw,
                                          err.out()) == 1) {
          ItemPtr item(raw);
          Result<u32> id = item_identifier(item.get());
          if (id.ok() && *id == nid) return item;
          why += "folder slot holds another item; ";
        } else {
          why += "via folder: " + err.text() + "; ";
        }
      }
    }
    libpff_item_t *raw = nullptr;
    int rc = libpff_file_get_item_by_identifier(file_.get(), nid, &raw, err.out());
    if (rc == 1) return ItemPtr(raw);
    why += rc == 0 ? "not found" : err.text();
    return problem(ProblemCode::ItemUnreadable, "item " + hex_u64(nid) + ": " + why);
  }

  Result<mapi::RawMessage> read_message(libpff_item_t *item, int depth) {
    mapi::RawMessage raw;
    if (Result<u32> id = item_identifier(item); id.ok()) raw.node_id = *id;
    Status st = read_props(item, raw.props, &raw.warnings, scratch_);
    if (!st) {
      return problem(ProblemCode::ItemUnreadable,
                     "item " + hex_u64(raw.node_id) + ": " + st.problem().detail);
    }
    read_recipients(item, raw);
    read_attachments(item, raw, depth);
    return raw;
  }

  void read_recipients(libpff_item_t *item, mapi::RawMessage &raw) {
    PffError err;
    libpff_item_t *raw_rcpt = nullptr;
    int rc = libpff_message_get_recipients(item, &raw_rcpt, err.out());
    if (rc == 0) return;
    if (rc != 1) {
      raw.warnings.push_back(
          problem(ProblemCode::RecipientsUnreadable, "recipient table: " + err.text()));
      return;
    }
    ItemPtr rcpt(raw_rcpt);
    int sets = 0;
    if (libpff_item_get_number_of_record_sets(rcpt.get(), &sets, err.out()) != 1) {
      raw.warnings.push_back(
          problem(ProblemCode::RecipientsUnreadable, "recipient rows: " + err.text()));
      return;
    }
    for (int i = 0; i < sets; ++i) {
      mapi::PropertyBag bag;
      Status st = read_item_set(rcpt.get(), i, bag, &raw.warnings, scratch_);
      if (!st) {
        raw.warnings.push_back(problem(ProblemCode::RecipientsUnreadable,
                                       "recipient row " + std::to_string(i) + ": " +
                                           st.problem().detail));
        continue;
      }
      raw.recipients.push_back(std::move(bag));
    }
  }

  void read_attachments(libpff_item_t *item, mapi::RawMessage &raw, int depth) {
    PffError err;
    int n = 0;
    int rc = libpff_message_get_number_of_attachments(item, &n, err.out());
    if (rc != 1) {
      // Only a message that says it has attachments makes a failed table worth reporting.
      std::optional<bool> has = raw.props.get_bool(mapi::pid::HASATTACH);
      std::optional<i32> flags = raw.props.get_i32(mapi::pid::MESSAGE_FLAGS);
      if (has.value_or(false) || (flags && (*flags & mapi::pid::MSGFLAG_HASATTACH))) {
        raw.warnings.push_back(
            problem(ProblemCode::AttachmentUnreadable, "attachment table: " + err.text()));
      }
      return;
    }
    for (int i = 0; i < n; ++i) {
      mapi::RawAttachment att;
      libpff_item_t *raw_att = nullptr;
      if (libpff_message_get_attachment(item, i, &raw_att, err.out()) != 1) {
        att.problem = problem(ProblemCode::AttachmentUnreadable,
                              "attachment " + std::to_string(i) + ": " + err.text());
        raw.attachments.push_back(std::move(att));
        continue;
      }
      ItemPtr a(raw_att);
      read_attachment(a.get(), att, depth);
      raw.attachments.push_back(std::move(att));
    }
  }

  void read_attachment(libpff_item_t *a, mapi::RawAttachment &att, int depth) {
    std::vector<Problem> ignored;
    Status st = read_props(a, att.props, &ignored, scratch_);
    if (!st) {
      att.problem = problem(ProblemCode::AttachmentUnreadable, st.problem().detail);
    }
    PffError err;
    int type = 0;
    if (libpff_attachment_get_type(a, &type, err.out()) != 1) {
      if (!att.problem) {
        att.problem =
            problem(ProblemCode::AttachmentUnreadable, "attachment type: " + err.text());
      }
      return;
    }
    if (type == LIBPFF_ATTACHMENT_TYPE_DATA) {
      read_attachment_data(a, att);
    } else if (type == LIBPFF_ATTACHMENT_TYPE_ITEM) {
      if (depth + 1 > MAX_EMBED_DEPTH) {
        att.problem = problem(ProblemCode::LimitExceeded,
                              "embedded message nesting deeper than " +
                                  std::to_string(MAX_EMBED_DEPTH));
        return;
      }
      libpff_item_t *raw_sub = nullptr;
      int rc = libpff_attachment_get_item(a, &raw_sub, err.out());
      if (rc != 1) {
        att.problem = problem(ProblemCode::EmbeddedUnreadable,
                              std::string("embedded message") +
                                  (rc == 0 ? " not present" : ": " + err.text()));
        return;
      }
      ItemPtr sub(raw_sub);
      Result<mapi::RawMessage> msg = read_message(sub.get(), depth + 1);
      if (!msg.ok()) {
        att.problem = problem(ProblemCode::EmbeddedUnreadable, msg.problem().detail);
        return;
      }
      att.embedded = std::make_unique<mapi::RawMessage>(std::move(msg).value());
    }
  }

  // PR_ATTACH_DATA_BIN is normally already in the record set; the data stream is read only
  // when the property is missing or shorter than libpff's data size.
  void read_attachment_data(libpff_item_t *a, mapi::RawAttachment &att) {
    PffError err;
    size64_t size = 0;
    int rc = libpff_attachment_get_data_size(a, &size, err.out());
    if (rc == 0) return;
    if (rc != 1) {
      att.problem = problem(ProblemCode::AttachmentUnreadable, "attachment size: " + err.text());
      return;
    }
    const mapi::Property *have = att.props.find_tag(TAG_ATTACH_DATA_BIN);
    if (have != nullptr && have->value.size() == size) return;
    if (libpff_attachment_data_seek_offset(a, 0, SEEK_SET, err.out()) != 0) {
      att.problem = problem(ProblemCode::AttachmentUnreadable, "attachment seek: " + err.text());
      return;
    }
    std::string data;
    data.reserve(static_cast<std::size_t>(size));
    char chunk[65536];
    while (data.size() < size) {
      std::size_t want = static_cast<std::size_t>(
          std::min<u64>(sizeof chunk, static_cast<u64>(size) - data.size()));
      ssize_t got =
          libpff_attachment_data_read_buffer(a, reinterpret_cast<uint8_t *>(chunk), want, err.out());
      if (got < 0) {
        att.problem = problem(ProblemCode::AttachmentUnreadable,
                              "attachment data at " + std::to_string(data.size()) + ": " +
                                  err.text());
        return;
      }
      if (got == 0) break;
      data.append(chunk, static_cast<std::size_t>(got));
    }
    if (data.size() != size) {
      att.problem = problem(ProblemCode::AttachmentUnreadable,
                            "attachment data short: " + std::to_string(data.size()) + " of " +
                                std::to_string(size) + " bytes");
      return;
    }
    att.props.set(TAG_ATTACH_DATA_BIN, data);
  }

  // Reads the whole Name-to-ID map once from its raw streams ([MS-PST] 2.4.7): the entry
  // stream holds 8-byte NAMEIDs (dwPropertyID, N bit + wGuid, wPropIdx); wGuid 1 = PS_MAPI,
  // 2 = PS_PUBLIC_STRINGS, >= 3 indexes the GUID stream; string names are a u32 byte length
  // followed by UTF-16LE at dwPropertyID in the string stream.
  void load_name_map() {
    PffError err;
    libpff_item_t *raw = nullptr;
    if (libpff_file_get_name_to_id_map(file_.get(), &raw, err.out()) != 1) return;
    ItemPtr map(raw);
    mapi::PropertyBag bag;
    if (!read_props(map.get(), bag, nullptr, scratch_)) return;
    const mapi::Property *guids = bag.find(NAMEID_STREAM_GUID);
    const mapi::Property *entries = bag.find(NAMEID_STREAM_ENTRY);
    const mapi::Property *strings = bag.find(NAMEID_STREAM_STRING);
    if (entries == nullptr) return;
    std::string_view ev = entries->value;
    for (std::size_t off = 0; off + 8 <= ev.size(); off += 8) {
      u32 prop_id = load_le32(ev.data() + off);
      u16 guid_field = load_le16(ev.data() + off + 4);
      u16 prop_idx = load_le16(ev.data() + off + 6);
      if (prop_idx >= 0x8000) continue;
      mapi::PropertyName name;
      u16 wguid = static_cast<u16>(guid_field >> 1);
      if (wguid == 1) {
        name.guid = PS_MAPI;
      } else if (wguid == 2) {
        name.guid = PS_PUBLIC_STRINGS;
      } else if (wguid >= 3) {
        std::size_t g = static_cast<std::size_t>(wguid - 3) * 16;
        if (guids == nullptr || g + 16 > guids->value.size()) continue;
        std::copy_n(reinterpret_cast<const u8 *>(guids->value.data() + g), 16, name.guid.begin());
      }
      if (guid_field & 1) {
        if (strings == nullptr || prop_id > strings->value.size() ||
            strings->value.size() - prop_id < 4) {
          continue;
        }
        u32 len = load_le32(strings->value.data() + prop_id);
        if (len > strings->value.size() - prop_id - 4) continue;
        name.is_string = true;
        name.name = text::utf16le_to_utf8(strings->value.substr(prop_id + 4, len));
      } else {
        name.lid = prop_id;
      }
      names_.add(static_cast<u16>(0x8000 + prop_idx), std::move(name));
    }
  }

  detail::FilePtr file_;
  std::string path_;
  mapi::StoreInfo info_;
  mapi::NameMap names_;
  std::string scratch_;
  std::unordered_map<u64, std::string> unreadable_;           // sentinel id -> libpff error
  std::unordered_map<u32, std::pair<u32, int>> locations_;    // item nid -> (folder, index)
  ItemPtr cached_folder_;                                       // last folder read_item used
  u32 cached_folder_id_ = 0;
  bool recover_ = false;                 // --recover: list the recovery folders
  std::vector<std::string> tree_problems_;  // parts of the tree the last folders() could not read
  std::set<u32> walked_;                    // folder ids the last folders() listed
  bool recovery_scanned_ = false;        // ensure_recovery() ran on this handle
  std::string recovery_error_;           // why libpff_file_recover_items failed ("" = it did not)
  std::array<std::vector<u64>, 2> recovery_ids_;  // by RecoveryKind: recovered, orphan
};

}  // namespace

Result<std::unique_ptr<mapi::MailStore>> open_libpff(const std::string &path,
                                                     const OpenOptions &opts) {
  Result<u64> size = detail::preflight(path);
  if (!size.ok()) return size.problem();
  PffError err;
  libpff_file_t *raw = nullptr;
  if (libpff_file_initialize(&raw, err.out()) != 1) {
    return Problem{ProblemCode::InternalError, "libpff_file_initialize: " + err.text(), -1};
  }
  // Owned from here on; FileFree closes (harmless when not open) and frees.
  detail::FilePtr file(raw);
  if (libpff_file_open(file.get(), path.c_str(), libpff_get_access_flags_read(), err.out()) != 1) {
    return Problem{ProblemCode::SourceCorrupt, "libpff cannot open " + path + ": " + err.text(),
                   -1};
  }
  auto store = std::make_unique<LibpffStore>(std::move(file), path);
  Status st = store->init(*size);
  if (!st) return st.problem();
  if (opts.recover) store->enable_recovery();
  return std::unique_ptr<mapi::MailStore>(std::move(store));
}

}  // namespace mm::source
