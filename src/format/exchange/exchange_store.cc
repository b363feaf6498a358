// Exchange 2013+ mailbox databases as a mapi::MailStore (issue 15, experimental). The table
// layout and every assumption are in docs/exchange-edb.md; this file follows it. Node ids:
// the root folder is 1; mailbox k (0-based among the selected) has folder ids
// ((k + 1) << 20) | (index + 1) (the mailbox root row is index 0 and shows as
// "Mailbox - <owner>"); message rows are ((k + 1) << 32) | (ordinal + 1) in MessageDocumentId
// order. All fit in 32 (folders) or 52 (items) bits, so bit 63 is never set.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_map>

#include "mailmill/format/ese/database.h"
#include "mailmill/format/exchange/exchange.h"
#include "mailmill/format/exchange/property_blob.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/util/text.h"

namespace mm::exchange {

namespace {

namespace P = mm::mapi::pid;
using mapi::make_tag;

constexpr u64 kRootNid = 1;
constexpr u32 kMaxFolders = (1u << 20) - 2;
constexpr u64 kMaxMailboxes = 2000;
constexpr int kMaxDepth = 256;
constexpr int kMaxEmbedDepth = 8;

std::string guid_string(ByteView g) {
  if (g.size() != 16) return {};
  auto b = [&](int i) { return static_cast<u8>(g[static_cast<u64>(i)]); };
  char s[40];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b(3), b(2), b(1), b(0), b(5), b(4), b(7), b(6), b(8), b(9), b(10), b(11), b(12),
                b(13), b(14), b(15));
  return s;
}

std::optional<std::string> text_of(const ese::Record &r, std::string_view col) {
  ese::Value v = r.value(col);
  if (!v.ok()) return std::nullopt;
  return v.as_text();
}
std::optional<i64> int_of(const ese::Record &r, std::string_view col) {
  ese::Value v = r.value(col);
  if (!v.ok()) return std::nullopt;
  return v.as_int();
}
Bytes bytes_of(const ese::Record &r, std::string_view col) {
  ese::Value v = r.value(col);
  if (!v.ok()) return {};
  return Bytes(v.bytes());
}

bool has_table(const ese::Database &db, std::string_view name) {
  for (const ese::TableDef &t : db.tables())
    if (t.name == name) return true;
  return false;
}

// What a non-Exchange ESE database seems to be, from well-known table names.
std::string guess_kind(const ese::Database &db) {
  struct Hint {
    const char *table, *kind;
  };
  static const Hint hints[] = {{"SystemIndex_0A", "Windows Search index"},
                               {"SystemIndex_Gthr", "Windows Search index"},
                               {"SRUDbIdMapTable", "SRUM database"},
                               {"Containers", "WebCache / IE history database"},
                               {"datatable", "Active Directory database (ntds.dit)"},
                               {"Msg", "Exchange 2003/2007 database"},
                               {"Mailbox", "Exchange database"}};
  for (const Hint &h : hints)
    if (has_table(db, h.table)) return h.kind;
  return "an ESE database of another application";
}

std::string table_list(const ese::Database &db) {
  std::string s;
  int n = 0;
  for (const ese::TableDef &t : db.tables()) {
    if (t.name.rfind("MSys", 0) == 0) continue;
    if (n++ == 8) {
      s += ", ...";
      break;
    }
    if (!s.empty()) s += ", ";
    s += t.name;
  }
  return s.empty() ? "none" : s;
}

struct MailboxRow {
  u32 number = 0;
  std::string owner, guid;
};

Result<std::vector<MailboxRow>> read_mailboxes(const ese::Database &db) {
  Result<ese::Table> t = db.table("Mailbox");
  if (!t) return t.problem();
  Result<std::vector<ese::Record>> rows = t->read_all();
  if (!rows) return rows.problem();
  std::vector<MailboxRow> out;
  for (const ese::Record &r : *rows) {
    MailboxRow m;
    std::optional<i64> n = int_of(r, "MailboxNumber");
    if (!n) continue;
    m.number = static_cast<u32>(*n);
    m.owner = text_of(r, "MailboxOwnerDisplayName").value_or("");
    m.guid = guid_string(bytes_of(r, "MailboxGuid"));
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const MailboxRow &a, const MailboxRow &b) { return a.number < b.number; });
  return out;
}

// ---- the shared, immutable part of an open database ----

struct Folder {
  Bytes id, parent;
  std::string name, cls;
  i64 claimed = -1;
  u64 nid = 0, parent_nid = 0;
};

struct MessageRow {
  i64 doc_id = 0;
  u64 folder_nid = 0;  // 0: its FolderId names no folder
  bool hidden = false;
  ese::Record rec;
};

struct Mailbox {
  MailboxRow row;
  std::optional<ese::Table> messages, attachments;
  std::vector<Folder> folders;   // index 0 = the mailbox root
  std::vector<MessageRow> rows;  // by MessageDocumentId
  std::shared_ptr<mapi::NameMap> names;
  std::string attach_problem;
  std::unordered_map<u64, ese::Record> attach_by_inid;
};

struct Shared {
  ese::Database db;
  mapi::StoreInfo info;
  std::vector<Mailbox> mbx;
  std::vector<mapi::FolderInfo> folders;            // pre-order
  std::unordered_map<u64, std::vector<u64>> items;  // folder nid -> normal item ids
  mapi::NameMap empty_names;
};

Result<std::shared_ptr<mapi::NameMap>> read_names(const ese::Database &db, u32 n) {
  auto map = std::make_shared<mapi::NameMap>();
  Result<ese::Table> t = db.table("ExtendedPropertyNameMapping_" + std::to_string(n));
  if (!t) return map;  // a mailbox without named properties
  Result<std::vector<ese::Record>> rows = t->read_all();
  if (!rows) return rows.problem();
  for (const ese::Record &r : *rows) {
    std::optional<i64> id = int_of(r, "PropNumber");
    Bytes g = bytes_of(r, "PropGuid");
    if (!id || *id < 0x8000 || *id > 0xFFFE || g.size() != 16) continue;
    mapi::PropertyName pn;
    std::copy(g.begin(), g.end(), reinterpret_cast<char *>(pn.guid.data()));
    std::optional<std::string> name = text_of(r, "PropName");
    if (name && !name->empty()) {
      pn.is_string = true;
      pn.name = *name;
    } else {
      pn.lid = static_cast<u32>(int_of(r, "PropDispId").value_or(0));
    }
    map->add(static_cast<u16>(*id), std::move(pn));
  }
  return map;
}

Status load_mailbox(Shared &s, Mailbox &m, u64 k) {
  const std::string n = std::to_string(m.row.number);
  Result<ese::Table> ft = s.db.table("Folder_" + n);
  if (!ft) return ft.problem();
  Result<std::vector<ese::Record>> frows = ft->read_all();
  if (!frows) return frows.problem();
  if (frows->size() > kMaxFolders)
    return Problem{ProblemCode::LimitExceeded, "Folder_" + n + ": too many folders"};
  // The mailbox root first (ParentFolderId all zero), then the others in table order.
  const Bytes zero(26, '\0');
  std::vector<Folder> all;
  for (const ese::Record &r : *frows) {
    Folder f;
    f.id = bytes_of(r, "FolderId");
    f.parent = bytes_of(r, "ParentFolderId");
    f.name = text_of(r, "DisplayName").value_or("");
    if (f.name.empty()) {
      Bytes blob = bytes_of(r, "PropertyBlob");
      if (Result<DecodedBlob> d = decode_property_blob(blob); d) {
        for (const BlobProperty &p : d->props)
          if (p.kind == BlobProperty::Kind::Value &&
              p.tag == make_tag(P::DISPLAY_NAME, mapi::PT_UNICODE))
            f.name = text::utf16le_to_utf8(p.value);
      }
    }
    f.cls = text_of(r, "ContainerClass").value_or("");
    f.claimed = int_of(r, "MessageCount").value_or(-1);
    if (f.id.empty()) continue;
    all.push_back(std::move(f));
  }
  auto root_it =
      std::find_if(all.begin(), all.end(), [&](const Folder &f) { return f.parent == zero; });
  if (root_it == all.end())
    return Problem{ProblemCode::SourceCorrupt,
                   "Folder_" + n + ": no mailbox root folder (ParentFolderId all zero)"};
  std::rotate(all.begin(), root_it, root_it + 1);
  const u64 base = (k + 1) << 20;
  for (u64 i = 0; i < all.size(); ++i) all[i].nid = base | (i + 1);
  std::unordered_map<std::string, u64> by_id;
  for (u64 i = 0; i < all.size(); ++i) by_id.emplace(all[i].id, i);
  std::multimap<std::string, u64> children;
  for (u64 i = 1; i < all.size(); ++i) children.emplace(all[i].parent, i);

  // Depth-first pre-order from the mailbox root; folders no walk reaches (a dangling parent, a
  // cycle) are listed under the mailbox folder so that their items are still accounted for.
  const std::string top = "Mailbox - " + (m.row.owner.empty() ? "#" + n : m.row.owner);
  std::vector<bool> seen(all.size(), false);
  auto walk = [&](u64 start, u64 parent_nid, std::vector<std::string> parent_path) {
    std::vector<std::tuple<u64, u64, std::vector<std::string>>> stack{
        {start, parent_nid, parent_path}};
    while (!stack.empty()) {
      auto [i, pnid, ppath] = std::move(stack.back());
      stack.pop_back();
      if (seen[i]) continue;
      seen[i] = true;
      Folder &f = all[i];
      f.parent_nid = pnid;
      mapi::FolderInfo fi;
      fi.node_id = f.nid;
      fi.parent_id = pnid;
      fi.path = ppath;
      fi.path.push_back(i == 0 ? top : f.name.empty() ? "Folder " + text::hex_u64(f.nid) : f.name);
      fi.container_class = f.cls;
      fi.content_count = f.claimed;
      if (static_cast<int>(fi.path.size()) > kMaxDepth) {
        fi.beyond_depth = true;
        fi.path.resize(kMaxDepth);
      }
      std::vector<u64> kids;
      auto range = children.equal_range(f.id);
      for (auto it = range.first; it != range.second; ++it) kids.push_back(it->second);
      // Children in reverse so that the first in table order is visited first.
      for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back({*it, f.nid, fi.path});
      s.folders.push_back(std::move(fi));
    }
  };
  walk(0, kRootNid, {});
  for (u64 i = 1; i < all.size(); ++i)
    if (!seen[i]) walk(i, all[0].nid, {top});
  m.folders = std::move(all);

  // Message rows: identity, folder, hidden flag; sorted by MessageDocumentId.
  Result<ese::Table> mt = s.db.table("Message_" + n);
  if (!mt) return mt.problem();
  m.messages = *mt;
  Result<std::vector<ese::Record>> mrows = mt->read_all();
  if (!mrows) return mrows.problem();
  if (mrows->size() >= (u64{1} << 32) - 1)
    return Problem{ProblemCode::LimitExceeded, "Message_" + n + ": too many rows"};
  for (ese::Record &r : *mrows) {
    MessageRow row;
    row.doc_id = int_of(r, "MessageDocumentId").value_or(-1);
    Bytes fid = bytes_of(r, "FolderId");
    auto it = by_id.find(fid);
    row.folder_nid = it == by_id.end() ? 0 : m.folders[it->second].nid;
    row.hidden = int_of(r, "IsHidden").value_or(0) != 0;
    row.rec = std::move(r);
    m.rows.push_back(std::move(row));
  }
  std::stable_sort(m.rows.begin(), m.rows.end(),
                   [](const MessageRow &a, const MessageRow &b) { return a.doc_id < b.doc_id; });
  for (u64 i = 0; i < m.rows.size(); ++i) {
    if (m.rows[i].hidden || m.rows[i].folder_nid == 0) continue;
    s.items[m.rows[i].folder_nid].push_back(((k + 1) << 32) | (i + 1));
  }
  Result<std::shared_ptr<mapi::NameMap>> names = read_names(s.db, m.row.number);
  if (!names) return names.problem();
  m.names = *names;
  // Attachments by Inid (read once; shared by every handle).
  if (Result<ese::Table> at = s.db.table("Attachment_" + n); at) {
    m.attachments = *at;
    if (Result<std::vector<ese::Record>> arows = at->read_all(); arows) {
      for (ese::Record &r : *arows) {
        std::optional<i64> inid = int_of(r, "Inid");
        if (inid) m.attach_by_inid.emplace(static_cast<u64>(*inid), std::move(r));
      }
    } else {
      m.attach_problem = arows.problem().detail;
    }
  } else {
    m.attach_problem = "no table Attachment_" + n;
  }
  return {};
}

// ---- reading one message ----

// Column values of a message row that have a MAPI property.
void column_props(const ese::Record &r, mapi::PropertyBag &bag) {
  auto set_text = [&](const char *col, u16 id) {
    if (std::optional<std::string> t = text_of(r, col)) bag.set_unicode(id, *t);
  };
  set_text("MessageClass", P::MESSAGE_CLASS);
  set_text("DisplayTo", P::DISPLAY_TO);
  auto set_time = [&](const char *col, u16 id) {
    if (std::optional<i64> t = int_of(r, col); t && *t != 0)
      bag.set_i64(make_tag(id, mapi::PT_SYSTIME), *t);
  };
  set_time("DateReceived", P::MESSAGE_DELIVERY_TIME);
  set_time("DateSent", P::CLIENT_SUBMIT_TIME);
  if (std::optional<i64> v = int_of(r, "HasAttachments"))
    bag.set_bool(make_tag(P::HASATTACH, mapi::PT_BOOLEAN), *v != 0);
  if (std::optional<i64> v = int_of(r, "IsRead"))
    bag.set_i32(make_tag(P::MESSAGE_FLAGS, mapi::PT_LONG), *v ? 1 : 0);
}

// Applies a PropertyBlob: values as they are, NEAR references from the row's
// SeparatedPropertyNN columns, FAR references dropped with a warning, tombstones skipped.
void apply_blob(const ese::Record &r, ByteView blob, mapi::PropertyBag &bag,
                std::vector<Problem> &warnings, const char *what) {
  if (blob.empty()) return;
  Result<DecodedBlob> d = decode_property_blob(blob);
  if (!d) {
    warnings.push_back(
        {ProblemCode::ItemUnreadable, std::string(what) + ": " + d.problem().detail});
    return;
  }
  for (BlobProperty &p : d->props) {
    switch (p.kind) {
      case BlobProperty::Kind::Value:
        bag.set(p.tag, p.value);
        break;
      case BlobProperty::Kind::Near: {
        char col[32];
        std::snprintf(col, sizeof col, "SeparatedProperty%02u", static_cast<unsigned>(p.slot));
        ese::Value v = r.value(col);
        Result<Bytes> val =
            v.ok() ? decode_separated_value(p.tag, v.bytes())
                   : Result<Bytes>(Problem{ProblemCode::SourceCorrupt, std::string("no ") + col});
        if (val) {
          bag.set(p.tag, *val);
        } else {
          warnings.push_back({ProblemCode::ItemUnreadable,
                              std::string(what) + ": off-page property " + text::hex_u64(p.tag) +
                                  ": " + val.problem().detail});
        }
        break;
      }
      case BlobProperty::Kind::Far:
        warnings.push_back({ProblemCode::ItemUnreadable, std::string(what) + ": property " +
                                                             text::hex_u64(p.tag) +
                                                             " is stored FAR (not supported)"});
        break;
      case BlobProperty::Kind::Tombstone:
        break;
    }
  }
}

void apply_body(const ese::Record &r, mapi::PropertyBag &bag, std::vector<Problem> &warnings) {
  ese::Value body = r.value("NativeBody");
  if (body.is_null()) return;
  if (!body.ok()) {
    warnings.push_back({ProblemCode::BodyUndecodable, "NativeBody: " + body.error});
    return;
  }
  const i64 type = int_of(r, "BodyType").value_or(0);
  switch (type) {
    case 1:
      bag.set(make_tag(P::BODY, mapi::PT_UNICODE), text::utf8_to_utf16le(body.bytes()));
      break;
    case 2:
      bag.set(make_tag(P::RTF_COMPRESSED, mapi::PT_BINARY), body.bytes());
      break;
    case 3:
      bag.set(make_tag(P::HTML, mapi::PT_BINARY), body.bytes());
      break;
    default:
      warnings.push_back({ProblemCode::BodyUndecodable,
                          "NativeBody of unknown BodyType " + std::to_string(type) + " not read"});
  }
}

void apply_recipients(const ese::Record &r, mapi::RawMessage &msg) {
  ese::Value list = r.value("RecipientList");
  if (list.is_null()) return;
  if (!list.ok()) {
    msg.warnings.push_back({ProblemCode::RecipientsUnreadable, "RecipientList: " + list.error});
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    mapi::PropertyBag bag;
    apply_blob(r, list.bytes(i), bag, msg.warnings, "recipient");
    msg.recipients.push_back(std::move(bag));
  }
}

std::optional<std::vector<u64>> parse_subobjects(ByteView b) {
  if (b.empty()) return std::vector<u64>{};
  if (b.size() < 4) return std::nullopt;
  u64 n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<u64>(static_cast<u8>(b[static_cast<u64>(i)])) << (8 * i);
  if (n > (b.size() - 4) / 8 || b.size() != 4 + 8 * n) return std::nullopt;
  std::vector<u64> out;
  for (u64 k = 0; k < n; ++k) {
    u64 v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<u64>(static_cast<u8>(b[4 + 8 * k + static_cast<u64>(i)])) << (8 * i);
    out.push_back(v);
  }
  return out;
}

void apply_attachments(const Mailbox &m, const ese::Record &r, mapi::RawMessage &msg, int depth);

// An embedded message kept on its attachment row (docs/exchange-edb.md, Attachment_n).
std::unique_ptr<mapi::RawMessage> embedded_message(const Mailbox &m, const ese::Record &r,
                                                   int depth) {
  auto e = std::make_unique<mapi::RawMessage>();
  e->names = m.names;
  apply_blob(r, bytes_of(r, "MessagePropertyBlob"), e->props, e->warnings, "embedded message");
  apply_body(r, e->props, e->warnings);
  apply_recipients(r, *e);
  apply_attachments(m, r, *e, depth + 1);
  return e;
}

void apply_attachments(const Mailbox &m, const ese::Record &r, mapi::RawMessage &msg, int depth) {
  ese::Value sub = r.value("SubobjectsBlob");
  if (sub.is_null()) return;
  std::optional<std::vector<u64>> inids = sub.ok() ? parse_subobjects(sub.bytes()) : std::nullopt;
  if (!inids) {
    msg.warnings.push_back({ProblemCode::AttachmentUnreadable, "SubobjectsBlob unreadable"});
    return;
  }
  if (depth > kMaxEmbedDepth) {
    msg.warnings.push_back({ProblemCode::LimitExceeded, "embedded messages nested too deep"});
    return;
  }
  for (u64 inid : *inids) {
    mapi::RawAttachment att;
    auto it = m.attach_by_inid.find(inid);
    if (it == m.attach_by_inid.end()) {
      att.problem = Problem{ProblemCode::AttachmentUnreadable,
                            "attachment Inid " + std::to_string(inid) + " not in Attachment table" +
                                (m.attach_problem.empty() ? "" : " (" + m.attach_problem + ")")};
      msg.attachments.push_back(std::move(att));
      continue;
    }
    const ese::Record &ar = it->second;
    std::vector<Problem> warnings;
    apply_blob(ar, bytes_of(ar, "PropertyBlob"), att.props, warnings, "attachment");
    if (!att.props.has(P::ATTACH_METHOD)) {
      if (std::optional<i64> meth = int_of(ar, "AttachmentMethod"))
        att.props.set_i32(make_tag(P::ATTACH_METHOD, mapi::PT_LONG), static_cast<i32>(*meth));
    }
    if (!att.props.has(P::ATTACH_LONG_FILENAME)) {
      if (std::optional<std::string> name = text_of(ar, "Name"))
        att.props.set_unicode(P::ATTACH_LONG_FILENAME, *name);
    }
    const i32 method = att.props.get_i32(P::ATTACH_METHOD).value_or(1);
    if (method == P::ATTACH_EMBEDDED_MSG) {
      att.embedded = embedded_message(m, ar, depth);
    } else {
      ese::Value content = ar.value("Content");
      if (content.ok()) {
        att.props.set(make_tag(P::ATTACH_DATA, mapi::PT_BINARY), content.bytes());
      } else if (!content.is_null()) {
        att.problem = Problem{ProblemCode::AttachmentUnreadable, "Content: " + content.error};
      }
    }
    if (!warnings.empty() && !att.problem) att.problem = warnings.front();
    msg.attachments.push_back(std::move(att));
  }
}

class ExchangeStore : public mapi::MailStore {
 public:
  explicit ExchangeStore(std::shared_ptr<const Shared> s) : s_(std::move(s)) {}
  const mapi::StoreInfo &info() const override { return s_->info; }
  void release_memory() override { s_->db.release_pages(); }
  Result<std::vector<mapi::FolderInfo>> folders() override {
    std::vector<mapi::FolderInfo> out;
    out.reserve(s_->folders.size());
    for (const mapi::FolderInfo &f : s_->folders) {
      mapi::FolderInfo c;
      c.node_id = f.node_id;
      c.parent_id = f.parent_id;
      c.path = f.path;
      c.container_class = f.container_class;
      c.content_count = f.content_count;
      c.beyond_depth = f.beyond_depth;
      out.push_back(std::move(c));
    }
    return out;
  }
  Result<std::vector<u64>> items_in(u64 folder_id) override {
    auto it = s_->items.find(folder_id);
    if (it != s_->items.end()) return it->second;
    for (const mapi::FolderInfo &f : s_->folders)
      if (f.node_id == folder_id) return std::vector<u64>{};
    return Problem{ProblemCode::InternalError, "no folder " + text::hex_u64(folder_id)};
  }
  Result<mapi::RawMessage> read_item(u64 id) override {
    const u64 k = (id >> 32) - 1, i = (id & 0xFFFFFFFFu) - 1;
    if ((id >> 32) == 0 || (id & 0xFFFFFFFFu) == 0 || k >= s_->mbx.size() ||
        i >= s_->mbx[k].rows.size())
      return Problem{ProblemCode::ItemUnreadable, "no item " + text::hex_u64(id)};
    const Mailbox &m = s_->mbx[k];
    const ese::Record &r = m.rows[i].rec;
    mapi::RawMessage msg;
    msg.node_id = id;
    msg.names = m.names;
    column_props(r, msg.props);
    ese::Value blob = r.value("PropertyBlob");
    if (blob.ok()) {
      apply_blob(r, blob.bytes(), msg.props, msg.warnings, "PropertyBlob");
    } else if (!blob.is_null()) {
      return Problem{ProblemCode::ItemUnreadable, "PropertyBlob: " + blob.error};
    }
    apply_body(r, msg.props, msg.warnings);
    apply_recipients(r, msg);
    apply_attachments(m, r, msg, 0);
    return msg;
  }
  const mapi::NameMap &names() const override {
    return s_->mbx.empty() || !s_->mbx[0].names ? s_->empty_names : *s_->mbx[0].names;
  }
  Result<mapi::PropertyBag> store_properties() override {
    mapi::PropertyBag bag;
    bag.set_unicode(P::DISPLAY_NAME, s_->info.display_name);
    return bag;
  }
  Result<mapi::Census> census() override {
    mapi::Census c;
    c.basis = "edb-tables";
    std::unordered_map<u64, std::size_t> fidx;
    for (const Mailbox &m : s_->mbx) {
      for (const Folder &f : m.folders) {
        mapi::CensusFolder cf;
        cf.folder_id = f.nid;
        cf.claimed = f.claimed;
        cf.rows = 0;
        cf.assoc_rows = 0;
        fidx[f.nid] = c.folders.size();
        c.folders.push_back(cf);
        ++c.folder_nodes;
      }
    }
    for (u64 k = 0; k < s_->mbx.size(); ++k) {
      const Mailbox &m = s_->mbx[k];
      for (u64 i = 0; i < m.rows.size(); ++i) {
        const MessageRow &row = m.rows[i];
        row.hidden ? ++c.assoc_nodes : ++c.message_nodes;
        c.node_ids.push_back(((k + 1) << 32) | (i + 1));
        c.node_parents.push_back(row.folder_nid);
        c.node_associated.push_back(row.hidden);
        auto it = fidx.find(row.folder_nid);
        if (it == fidx.end()) {
          ++c.orphan_nodes;
          if (!row.hidden) ++c.unlisted;
          continue;
        }
        mapi::CensusFolder &cf = c.folders[it->second];
        row.hidden ? ++cf.assoc_rows : ++cf.rows;
        ++cf.items;
      }
    }
    if (c.orphan_nodes > 0) {
      mapi::CensusFolder none;
      none.folder_id = 0;
      none.items = c.orphan_nodes;
      none.problem = "message rows whose FolderId names no folder";
      c.folders.push_back(none);
    }
    return c;
  }
  const char *reader_name() const override { return "edb"; }
  Result<std::unique_ptr<mapi::MailStore>> open_another() const override {
    return std::unique_ptr<mapi::MailStore>(std::make_unique<ExchangeStore>(s_));
  }

 private:
  std::shared_ptr<const Shared> s_;
};

Problem not_exchange(const std::string &path, const ese::Database &db) {
  return Problem{
      ProblemCode::SourceNotPst,
      path +
          ": an ESE database but not an Exchange mailbox database (no Mailbox table; looks like " +
          guess_kind(db) + "; tables: " + table_list(db) + ")"};
}

// Exchange 2013+ keeps per-mailbox tables; older layouts keep one shared table set.
bool per_mailbox_layout(const ese::Database &db, const std::vector<MailboxRow> &rows) {
  for (const MailboxRow &m : rows)
    if (has_table(db, "Folder_" + std::to_string(m.number))) return true;
  return false;
}

}  // namespace

namespace {
Problem not_ese(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Problem{ProblemCode::SourceUnreadable, path + ": cannot open"};
  return Problem{ProblemCode::SourceNotPst,
                 path + ": not an ESE database (no signature 0x89abcdef at offset 4)"};
}
}  // namespace

bool looks_like_ese(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  char b[8] = {};
  if (!f.read(b, 8)) return false;
  return static_cast<u8>(b[4]) == 0xef && static_cast<u8>(b[5]) == 0xcd &&
         static_cast<u8>(b[6]) == 0xab && static_cast<u8>(b[7]) == 0x89;
}

Result<DatabaseInfo> describe(const std::string &path) {
  if (!looks_like_ese(path)) return not_ese(path);
  Result<ese::Database> db = ese::Database::open(path);
  if (!db) return Problem{ProblemCode::SourceNotPst, db.problem().detail, db.problem().offset};
  DatabaseInfo d;
  const ese::Header &h = db->header();
  d.page_size = h.page_size;
  d.format_version = h.format_version;
  d.format_revision = h.format_revision;
  d.state = ese::db_state_name(h.state);
  for (const ese::TableDef &t : db->tables()) d.tables.push_back(t.name);
  d.exchange = has_table(*db, "Mailbox");
  if (!d.exchange) {
    d.layout = guess_kind(*db);
    return d;
  }
  Result<std::vector<MailboxRow>> rows = read_mailboxes(*db);
  if (!rows) {
    d.layout = "Exchange (Mailbox table unreadable: " + rows.problem().detail + ")";
    return d;
  }
  d.layout = per_mailbox_layout(*db, *rows) ? "Exchange 2013+"
                                            : "Exchange 2010 or older (no per-mailbox tables)";
  for (const MailboxRow &r : *rows) {
    MailboxInfo mi;
    mi.number = r.number;
    mi.owner = r.owner;
    mi.guid = r.guid;
    const std::string n = std::to_string(r.number);
    if (Result<ese::Table> ft = db->table("Folder_" + n); ft) {
      i64 count = 0;
      ese::RecordRange range = ft->records();
      for (auto it = range.begin(); it != range.end(); ++it) ++count;
      if (range.problem())
        mi.problem = range.problem()->detail;
      else
        mi.folders = count;
    } else {
      mi.problem = ft.problem().detail;
    }
    if (Result<ese::Table> mt = db->table("Message_" + n); mt) {
      i64 count = 0, hidden = 0;
      ese::RecordRange range = mt->records();
      for (auto it = range.begin(); it != range.end(); ++it) {
        ++count;
        if (int_of(*it, "IsHidden").value_or(0) != 0) ++hidden;
      }
      if (range.problem()) {
        mi.problem = range.problem()->detail;
      } else {
        mi.messages = count;
        mi.hidden = hidden;
      }
    } else if (mi.problem.empty()) {
      mi.problem = mt.problem().detail;
    }
    d.mailboxes.push_back(std::move(mi));
  }
  return d;
}

namespace {

// The store over an opened database; `path` names it in messages, `file_size` is its size.
Result<std::unique_ptr<mapi::MailStore>> open_database(Result<ese::Database> db,
                                                       const std::string &path, u64 file_size,
                                                       const OpenOptions &opts) {
  if (!db) {
    Problem p = db.problem();
    if (p.code == ProblemCode::SourceNotPst || p.code == ProblemCode::SourceUnreadable) return p;
    p.detail = path + ": not a readable ESE database: " + p.detail;
    return p;
  }
  if (!has_table(*db, "Mailbox")) return not_exchange(path, *db);
  if (!db->header().clean())
    return Problem{ProblemCode::SourceCorrupt, path + ": " + db->header().state_line()};
  Result<std::vector<MailboxRow>> rows = read_mailboxes(*db);
  if (!rows)
    return Problem{ProblemCode::SourceCorrupt,
                   path + ": Mailbox table unreadable: " + rows.problem().detail};
  if (!per_mailbox_layout(*db, *rows))
    return Problem{
        ProblemCode::SourceNotPst,
        path +
            ": Exchange 2003/2007/2010 layout (no Folder_<n> tables): only Exchange 2013-2019 "
            "databases are supported"};
  std::vector<MailboxRow> chosen;
  if (opts.mailboxes.empty()) {
    chosen = *rows;
  } else {
    for (const MailboxRow &r : *rows) {
      for (const std::string &want : opts.mailboxes) {
        if (text::iequals_ascii(want, r.owner) || want == std::to_string(r.number)) {
          chosen.push_back(r);
          break;
        }
      }
    }
    if (chosen.empty()) {
      std::string there;
      for (const MailboxRow &r : *rows)
        there += (there.empty() ? "" : ", ") + std::to_string(r.number) + " \"" + r.owner + "\"";
      return Problem{ProblemCode::SourceNotPst,
                     path + ": no mailbox matches the selection (mailboxes: " + there + ")"};
    }
  }
  if (chosen.size() > kMaxMailboxes)
    return Problem{ProblemCode::LimitExceeded, path + ": too many mailboxes"};
  auto s = std::make_shared<Shared>(Shared{*db, {}, {}, {}, {}, {}});
  s->info.kind = "edb";
  s->info.detail = "Exchange 2013+ mailbox database (experimental reader)";
  s->info.display_name = "Exchange database";
  s->info.file_size = file_size;
  mapi::FolderInfo root;
  root.node_id = kRootNid;
  s->folders.push_back(std::move(root));
  for (u64 k = 0; k < chosen.size(); ++k) {
    Mailbox m;
    m.row = chosen[k];
    s->mbx.push_back(std::move(m));
  }
  for (u64 k = 0; k < s->mbx.size(); ++k) {
    if (Status st = load_mailbox(*s, s->mbx[k], k); !st) {
      Problem p = st.problem();
      p.detail = path + ": mailbox " + std::to_string(s->mbx[k].row.number) + ": " + p.detail;
      if (p.code != ProblemCode::LimitExceeded) p.code = ProblemCode::SourceCorrupt;
      return p;
    }
  }
  return std::unique_ptr<mapi::MailStore>(std::make_unique<ExchangeStore>(std::move(s)));
}

}  // namespace

Result<std::unique_ptr<mapi::MailStore>> open_exchange(const std::string &path,
                                                       const OpenOptions &opts) {
  if (!looks_like_ese(path)) return not_ese(path);
  u64 size = 0;
  {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (f) size = static_cast<u64>(f.tellg());
  }
  return open_database(ese::Database::open(path), path, size, opts);
}

Result<std::unique_ptr<mapi::MailStore>> open_exchange_bytes(ByteView bytes,
                                                             const std::string &name,
                                                             const OpenOptions &opts,
                                                             bool verify_checksums) {
  return open_database(ese::Database::open_bytes(bytes, ese::OpenOptions{verify_checksums}), name,
                       bytes.size(), opts);
}

}  // namespace mm::exchange
