// Messaging layer of the native reader ([MS-PST] 2.4): store, name-to-id map, folders,
// contents tables, messages with recipients, attachments and embedded messages.
#include "mailmill/format/pst/native_store.h"

#include <algorithm>
#include <map>

#include "ltp.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/util/text.h"
#include "ndb.h"

namespace mm::pst {
namespace {

constexpr int MAX_EMBED_DEPTH = 32;     // same limit as mime/limits.h and the libpff reader
constexpr int MAX_FOLDER_DEPTH = 256;   // folder nesting
constexpr u16 PID_CONTENT_COUNT = 0x3602;
constexpr u16 PID_CONTAINER_CLASS = 0x3613;
constexpr u32 ATTACH_EMBEDDED_MSG = 5;
constexpr u32 TAG_ATTACH_DATA_OBJ = mapi::make_tag(mapi::pid::ATTACH_DATA, mapi::PT_OBJECT);

std::string hex(u64 v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Problem with_code(Problem p, ProblemCode code, const std::string &prefix) {
  p.code = code;
  p.detail = prefix + p.detail;
  return p;
}

class NativeStore final : public mapi::MailStore {
 public:
  explicit NativeStore(std::shared_ptr<const PstFile> file,
                       std::shared_ptr<const mapi::NameMap> names, mapi::StoreInfo info)
      : file_(std::move(file)), names_(std::move(names)), info_(std::move(info)) {}

  static Result<std::unique_ptr<mapi::MailStore>> create(std::shared_ptr<const PstFile> file) {
    const HeaderInfo &h = file->header();
    mapi::StoreInfo info;
    info.format = h.variant == Variant::Ansi      ? mapi::PstFormat::Ansi
                  : h.variant == Variant::Unicode ? mapi::PstFormat::Unicode
                                                  : mapi::PstFormat::Unicode4k;
    info.is_ost = h.is_ost;
    info.encryption = h.crypt == NDB_CRYPT_NONE      ? mapi::PstEncryption::None
                      : h.crypt == NDB_CRYPT_PERMUTE ? mapi::PstEncryption::Permute
                      : h.crypt == NDB_CRYPT_CYCLIC  ? mapi::PstEncryption::Cyclic
                                                     : mapi::PstEncryption::Unknown;
    info.file_size = file->file_size();
    info.warnings = file->warnings();
    if (file->find_node(NID_ROOT_FOLDER) == nullptr) {
      return Problem{ProblemCode::SourceCorrupt, "the root folder node (0x122) is missing", -1};
    }
    auto names = std::make_shared<mapi::NameMap>();
    auto store = std::make_unique<NativeStore>(file, names, std::move(info));
    Result<mapi::PropertyBag> props = store->store_properties();
    if (props) {
      u32 cp = 1252;
      if (auto v = props->get_i32(mapi::pid::MESSAGE_CODEPAGE); v && *v > 0) {
        cp = static_cast<u32>(*v);
      } else if (store->info_.format == mapi::PstFormat::Ansi) {
        // ANSI stores hold folder names and 8-bit strings in the writer's codepage, which
        // the store does not record: infer it from the messages' own codepage properties.
        cp = store->guess_ansi_codepage().value_or(1252);
      }
      store->info_.default_codepage = cp;
      store->info_.display_name = props->get_string(mapi::pid::DISPLAY_NAME, cp).value_or("");
    } else {
      store->info_.warnings.push_back(
          with_code(props.problem(), ProblemCode::SourceCorrupt, "store properties: "));
    }
    if (Status s = store->load_names(*names); !s) {
      store->info_.warnings.push_back(
          with_code(s.problem(), ProblemCode::SourceCorrupt, "name-to-id map: "));
    }
    return std::unique_ptr<mapi::MailStore>(std::move(store));
  }

  std::unique_ptr<mapi::MailStore> share() const {
    return std::make_unique<NativeStore>(file_, names_, info_);
  }

  const mapi::StoreInfo &info() const override { return info_; }
  const mapi::NameMap &names() const override { return *names_; }
  const char *reader_name() const override { return "native"; }
  Result<std::unique_ptr<mapi::MailStore>> open_another() const override { return share(); }
  void release_memory() override { file_->release_pages(); }
  std::optional<Problem> input_changed() const override { return file_->change_problem(); }

  Result<mapi::PropertyBag> store_properties() override {
    return read_node_pc(NID_MESSAGE_STORE);
  }

  Result<std::vector<mapi::FolderInfo>> folders() override {
    std::vector<mapi::FolderInfo> out;
    struct Todo {
      u32 nid;
      u32 parent;
      int depth;
      std::vector<std::string> path;
    };
    std::vector<Todo> stack;
    std::vector<u32> seen;  // sorted; guards against cycles in damaged hierarchy tables
    stack.push_back({NID_ROOT_FOLDER, 0, 0, {}});
    while (!stack.empty()) {
      Todo t = std::move(stack.back());
      stack.pop_back();
      auto it = std::lower_bound(seen.begin(), seen.end(), t.nid);
      if (it != seen.end() && *it == t.nid) continue;
      seen.insert(it, t.nid);

      mapi::FolderInfo f;
      f.node_id = t.nid;
      f.parent_id = t.parent;
      f.path = std::move(t.path);
      Result<mapi::PropertyBag> pc = read_node_pc(t.nid);
      if (!pc) {
        if (t.nid == NID_ROOT_FOLDER) {
          return with_code(pc.problem(), ProblemCode::SourceCorrupt, "root folder: ");
        }
        f.path.push_back("folder-" + hex(t.nid));
      } else {
        if (t.nid != NID_ROOT_FOLDER) {
          f.path.push_back(pc->get_string(mapi::pid::DISPLAY_NAME, info_.default_codepage)
                               .value_or(""));
        }
        f.container_class =
            pc->get_string(PID_CONTAINER_CLASS, info_.default_codepage).value_or("");
        if (auto n = pc->get_i32(PID_CONTENT_COUNT)) f.content_count = *n;
      }
      // Folders nested deeper than MAX_FOLDER_DEPTH are still listed (their items must be
      // accounted for) but marked, under a short path of their own (a hostile file must not
      // make paths, and so memory, grow with the nesting).
      f.beyond_depth = t.depth > MAX_FOLDER_DEPTH;
      if (f.beyond_depth) f.path = {"[Folders nested too deep]", "folder-" + hex(t.nid)};
      std::vector<u32> children = child_folders(t.nid);
      for (auto c = children.rbegin(); c != children.rend(); ++c) {
        stack.push_back({*c, t.nid, t.depth + 1, f.path});
      }
      out.push_back(std::move(f));
    }
    return out;
  }

  Result<std::vector<u64>> items_in(u64 folder_id) override {
    const u32 fid = static_cast<u32>(folder_id);
    if (folder_id > 0xFFFFFFFFu || file_->find_node(fid) == nullptr) {
      return Problem{ProblemCode::SourceCorrupt, "folder " + hex(folder_id) + " not found", -1};
    }
    std::vector<u64> out;
    const NbtEntry *ct = file_->find_node(make_nid(NID_TYPE_CONTENTS_TABLE, nid_index(fid)));
    if (ct == nullptr) return out;
    Node node;
    Table table;
    if (Status s = load_node(*file_, ct->bid_data, ct->bid_sub, node); !s) {
      return with_code(s.problem(), ProblemCode::SourceCorrupt,
                       "contents table of " + hex(folder_id) + ": ");
    }
    if (Status s = table.open(*file_, &node); !s) {
      return with_code(s.problem(), ProblemCode::SourceCorrupt,
                       "contents table of " + hex(folder_id) + ": ");
    }
    out.reserve(table.row_count());
    for (u64 i = 0; i < table.row_count(); ++i) {
      // A row whose id cannot be read is still an item of the folder: it is listed with an
      // unreadable-row id, and reading it fails with the reason.
      Result<u32> id = table.row_id(i);
      out.push_back(id ? u64{*id} : mapi::make_unreadable_item_id(fid, static_cast<u32>(i)));
    }
    return out;
  }

  // The census ([MS-PST] 2.2.2.7.7.4, 2.4.4.5): every message node of the node index, each
  // attributed to one folder. A node listed by a contents table belongs to that folder (to its
  // nidParent's folder when several tables list it and that one is among them, else to the
  // listing folder with the smallest node id); a node no table lists belongs to its nidParent
  // folder, or to folder 0 when its parent is no folder. Associated (FAI) messages go by
  // nidParent. The counts come from the node index and the tables alone, never from items_in.
  Result<mapi::Census> census() override {
    mapi::Census c;
    c.basis = "node-index";
    struct Msg {
      u32 nid, parent;
      bool assoc;
      std::vector<u32> listed_by;  // folders whose contents table lists it
    };
    std::vector<Msg> msgs;
    std::vector<u32> folder_nids;
    for (const NbtEntry &e : file_->nodes()) {  // sorted by nid
      switch (nid_type(e.nid)) {
        case NID_TYPE_NORMAL_MESSAGE: ++c.message_nodes; msgs.push_back({e.nid, e.parent, false, {}}); break;
        case NID_TYPE_ASSOC_MESSAGE: ++c.assoc_nodes; msgs.push_back({e.nid, e.parent, true, {}}); break;
        case NID_TYPE_NORMAL_FOLDER: ++c.folder_nodes; folder_nids.push_back(e.nid); break;
        case NID_TYPE_SEARCH_FOLDER: ++c.search_folder_nodes; break;
        default: break;
      }
    }
    auto find_msg = [&msgs](u32 nid) -> Msg * {
      auto it = std::lower_bound(msgs.begin(), msgs.end(), nid,
                                 [](const Msg &m, u32 n) { return m.nid < n; });
      return it != msgs.end() && it->nid == nid ? &*it : nullptr;
    };
    c.folders.reserve(folder_nids.size() + 1);
    for (u32 fid : folder_nids) {
      mapi::CensusFolder cf;
      cf.folder_id = fid;
      if (Result<mapi::PropertyBag> pc = read_node_pc(fid); pc) {
        if (auto n = pc->get_i32(PID_CONTENT_COUNT)) cf.claimed = *n;
      }
      auto count_table = [&](u32 type, bool list) -> i64 {
        const NbtEntry *t = file_->find_node(make_nid(type, nid_index(fid)));
        if (t == nullptr) return -1;
        Node node;
        Table table;
        Status st = load_node(*file_, t->bid_data, t->bid_sub, node);
        if (st) st = table.open(*file_, &node);
        if (!st) {
          if (list) cf.problem = "contents table unreadable: " + st.problem().detail;
          return -1;
        }
        if (!list) return static_cast<i64>(table.row_count());
        for (u64 i = 0; i < table.row_count(); ++i) {
          Result<u32> id = table.row_id(i);
          Msg *m = id ? find_msg(*id) : nullptr;
          if (!id) {
            ++cf.unreadable_rows;
          } else if (m == nullptr || m->assoc) {
            ++cf.dangling_rows;
          } else if (m->listed_by.empty() || m->listed_by.back() != fid) {
            m->listed_by.push_back(fid);
          }
        }
        return static_cast<i64>(table.row_count());
      };
      cf.rows = count_table(NID_TYPE_CONTENTS_TABLE, true);
      cf.assoc_rows = count_table(NID_TYPE_ASSOC_CONTENTS_TABLE, false);
      cf.items = cf.unreadable_rows + cf.dangling_rows;
      c.folders.push_back(std::move(cf));
    }
    auto folder_index = [&](u32 fid) -> std::size_t {
      auto it = std::lower_bound(folder_nids.begin(), folder_nids.end(), fid);
      return it != folder_nids.end() && *it == fid ? static_cast<std::size_t>(it - folder_nids.begin())
                                                  : folder_nids.size();
    };
    bool orphans = false;
    c.node_ids.reserve(msgs.size());
    c.node_parents.reserve(msgs.size());
    for (const Msg &m : msgs) {
      c.node_ids.push_back(m.nid);
      c.node_parents.push_back(m.parent);
      u32 owner = 0;
      if (!m.listed_by.empty()) {
        owner = std::find(m.listed_by.begin(), m.listed_by.end(), m.parent) != m.listed_by.end()
                    ? m.parent
                    : *std::min_element(m.listed_by.begin(), m.listed_by.end());
      } else {
        if (!m.assoc) ++c.unlisted;
        owner = m.parent;
      }
      std::size_t fi = folder_index(owner);
      if (fi == folder_nids.size()) {
        ++c.orphan_nodes;
        orphans = true;
        continue;
      }
      ++c.folders[fi].items;
    }
    if (orphans) {
      mapi::CensusFolder none;
      none.folder_id = 0;
      none.items = c.orphan_nodes;
      c.folders.push_back(std::move(none));
    }
    return c;
  }

  Result<mapi::RawMessage> read_item(u64 node_id) override {
    if (mapi::is_unreadable_item_id(node_id)) {
      return Problem{ProblemCode::ItemUnreadable,
                     "row " + std::to_string(mapi::unreadable_item_index(node_id)) +
                         " of the contents table of folder " +
                         hex(mapi::unreadable_item_folder(node_id)) + " cannot be read",
                     -1};
    }
    const NbtEntry *n =
        node_id > 0xFFFFFFFFu ? nullptr : file_->find_node(static_cast<u32>(node_id));
    if (n == nullptr) {
      return Problem{ProblemCode::ItemUnreadable, "node " + hex(node_id) + " not found", -1};
    }
    Result<mapi::RawMessage> m = read_message(n->bid_data, n->bid_sub, node_id, 0);
    // A failure in the LTP layer (heap, table, property context) does not pass through the
    // NDB checks that look for a changed file; look once here, so input_changed() also covers
    // a file rewritten in place.
    if (!m) file_->recheck_file();
    return m;
  }

  std::shared_ptr<const PstFile> file() const { return file_; }

 private:
  // Majority vote over the first messages' PR_MESSAGE_CODEPAGE, PR_INTERNET_CPID and
  // PR_MESSAGE_LOCALE_ID (an LCID's ANSI codepage). Bounded: looks at 64 messages at most.
  std::optional<u32> guess_ansi_codepage() {
    std::map<u32, int> votes;
    int seen = 0;
    for (const NbtEntry &e : file_->nodes()) {
      if ((e.nid & 0x1F) != NID_TYPE_NORMAL_MESSAGE) continue;
      if (++seen > 64) break;
      Result<mapi::PropertyBag> pc = read_node_pc(e.nid);
      if (!pc) continue;
      std::optional<u32> cp = mapi::item_ansi_codepage(*pc);
      if (cp) ++votes[*cp];
    }
    std::optional<u32> best;
    int best_n = 0;
    for (const auto &[cp, n] : votes)
      if (n > best_n) best = cp, best_n = n;
    return best;
  }

  Result<mapi::PropertyBag> read_node_pc(u32 nid) {
    const NbtEntry *n = file_->find_node(nid);
    if (n == nullptr) {
      return Problem{ProblemCode::ItemUnreadable, "node " + hex(nid) + " not found", -1};
    }
    Node node;
    if (Status s = load_node(*file_, n->bid_data, n->bid_sub, node); !s) return s.problem();
    mapi::PropertyBag bag;
    if (Status s = read_pc(*file_, node, bag, nullptr); !s) return s.problem();
    return bag;
  }

  // Child folders in hierarchy-table order ([MS-PST] 2.4.4.4); search folders are skipped.
  // Without a readable hierarchy table, fall back to NBT parent links.
  std::vector<u32> child_folders(u32 folder) {
    std::vector<u32> out;
    const NbtEntry *ht = file_->find_node(make_nid(NID_TYPE_HIERARCHY_TABLE, nid_index(folder)));
    bool ok = false;
    if (ht != nullptr) {
      Node node;
      Table table;
      if (load_node(*file_, ht->bid_data, ht->bid_sub, node) && table.open(*file_, &node)) {
        ok = true;
        for (u64 i = 0; i < table.row_count(); ++i) {
          Result<u32> id = table.row_id(i);
          if (id && nid_type(*id) == NID_TYPE_NORMAL_FOLDER && *id != folder &&
              file_->find_node(*id) != nullptr) {
            out.push_back(*id);
          }
        }
      }
    }
    if (!ok) {
      for (const NbtEntry &e : file_->nodes()) {
        if (e.parent == folder && e.nid != folder && nid_type(e.nid) == NID_TYPE_NORMAL_FOLDER) {
          out.push_back(e.nid);
        }
      }
    }
    return out;
  }

  Result<mapi::RawMessage> read_message(u64 bid_data, u64 bid_sub, u64 node_id, int depth) {
    Node node;
    if (Status s = load_node(*file_, bid_data, bid_sub, node); !s) {
      return with_code(s.problem(), ProblemCode::ItemUnreadable, "");
    }
    mapi::RawMessage m;
    m.node_id = node_id;
    u64 skipped = 0;
    if (Status s = read_pc(*file_, node, m.props, &skipped); !s) {
      return with_code(s.problem(), ProblemCode::ItemUnreadable, "");
    }
    if (skipped > 0) {
      m.warnings.push_back(Problem{ProblemCode::ItemUnreadable,
                                   std::to_string(skipped) + " properties unreadable", -1});
    }
    read_recipients(node, m);
    read_attachments(node, m, depth);
    return m;
  }

  void read_recipients(const Node &msg, mapi::RawMessage &m) {
    const SubnodeEntry *sub = msg.find_sub(NID_RECIPIENT_TABLE);
    if (sub == nullptr) return;
    Node node;
    Table table;
    Status s = load_node(*file_, sub->bid_data, sub->bid_sub, node);
    if (s) s = table.open(*file_, &node);
    if (!s) {
      m.warnings.push_back(with_code(s.problem(), ProblemCode::RecipientsUnreadable,
                                     "recipient table: "));
      return;
    }
    u64 skipped = 0;
    m.recipients.reserve(table.row_count());
    for (u64 i = 0; i < table.row_count(); ++i) {
      mapi::PropertyBag bag;
      if (Status rs = table.read_row(i, bag, &skipped); !rs) {
        m.warnings.push_back(with_code(rs.problem(), ProblemCode::RecipientsUnreadable,
                                       "recipient row " + std::to_string(i) + ": "));
        continue;
      }
      m.recipients.push_back(std::move(bag));
    }
    if (skipped > 0) {
      m.warnings.push_back(Problem{ProblemCode::RecipientsUnreadable,
                                   std::to_string(skipped) + " recipient values unreadable", -1});
    }
  }

  void read_attachments(const Node &msg, mapi::RawMessage &m, int depth) {
    const SubnodeEntry *sub = msg.find_sub(NID_ATTACHMENT_TABLE);
    if (sub == nullptr) return;
    Node tnode;
    Table table;
    Status s = load_node(*file_, sub->bid_data, sub->bid_sub, tnode);
    if (s) s = table.open(*file_, &tnode);
    if (!s) {
      m.warnings.push_back(with_code(s.problem(), ProblemCode::AttachmentUnreadable,
                                     "attachment table: "));
      return;
    }
    m.attachments.reserve(table.row_count());
    for (u64 i = 0; i < table.row_count(); ++i) {
      mapi::RawAttachment att;
      Result<u32> id = table.row_id(i);
      const SubnodeEntry *an = id ? msg.find_sub(*id) : nullptr;
      if (an == nullptr) {
        // Keep the table row's columns so the attachment is still accounted for.
        table.read_row(i, att.props, nullptr);
        att.problem = Problem{ProblemCode::AttachmentUnreadable,
                              "attachment object " + (id ? hex(*id) : std::string("?")) +
                                  " is missing",
                              -1};
        m.attachments.push_back(std::move(att));
        continue;
      }
      read_attachment(*an, att, depth);
      m.attachments.push_back(std::move(att));
    }
  }

  void read_attachment(const SubnodeEntry &an, mapi::RawAttachment &att, int depth) {
    Node node;
    u64 skipped = 0;
    Status s = load_node(*file_, an.bid_data, an.bid_sub, node);
    if (s) s = read_pc(*file_, node, att.props, &skipped);
    if (!s) {
      att.problem = with_code(s.problem(), ProblemCode::AttachmentUnreadable, "");
      return;
    }
    if (skipped > 0) {
      att.problem = Problem{ProblemCode::AttachmentUnreadable,
                            std::to_string(skipped) + " attachment properties unreadable", -1};
    }
    const mapi::Property *obj = att.props.find_tag(TAG_ATTACH_DATA_OBJ);
    if (obj == nullptr) return;
    // PT_OBJECT in a PC is a heap item {NID of a subnode, size} ([MS-PST] 2.3.3.5).
    if (obj->value.size() < 4) return;
    const u32 snid = load_le32(obj->value.data());
    const SubnodeEntry *osub = node.find_sub(snid);
    const u32 method = static_cast<u32>(att.props.get_i32(mapi::pid::ATTACH_METHOD).value_or(0));
    if (method == ATTACH_EMBEDDED_MSG) {
      if (osub == nullptr) {
        att.problem = Problem{ProblemCode::EmbeddedUnreadable,
                              "embedded message subnode " + hex(snid) + " is missing", -1};
        return;
      }
      if (depth + 1 > MAX_EMBED_DEPTH) {
        att.problem = Problem{ProblemCode::LimitExceeded,
                              "embedded message nesting deeper than " +
                                  std::to_string(MAX_EMBED_DEPTH),
                              -1};
        return;
      }
      Result<mapi::RawMessage> em = read_message(osub->bid_data, osub->bid_sub, snid, depth + 1);
      if (!em) {
        att.problem = with_code(em.problem(), ProblemCode::EmbeddedUnreadable, "embedded: ");
        return;
      }
      att.embedded = std::make_unique<mapi::RawMessage>(std::move(em).value());
      return;
    }
    // Other PT_OBJECT attachments (OLE storage): the value becomes the object's bytes.
    if (osub != nullptr) {
      Result<BlockRef> data = file_->read_stream(osub->bid_data);
      if (data) {
        att.props.set_view(TAG_ATTACH_DATA_OBJ, data->data, std::move(data->owner));
      } else {
        att.problem = with_code(data.problem(), ProblemCode::AttachmentUnreadable, "object: ");
      }
    }
  }

  // Name-to-id map ([MS-PST] 2.4.7): GUID stream, NAMEID entry stream, string stream.
  Status load_names(mapi::NameMap &names) {
    if (file_->find_node(NID_NAME_TO_ID_MAP) == nullptr) return {};
    Result<mapi::PropertyBag> bag = read_node_pc(NID_NAME_TO_ID_MAP);
    if (!bag) return bag.problem();
    const ByteView guids = bag->get_bytes(PID_NAMEID_STREAM_GUID).value_or(ByteView());
    const ByteView entries = bag->get_bytes(PID_NAMEID_STREAM_ENTRY).value_or(ByteView());
    const ByteView strings = bag->get_bytes(PID_NAMEID_STREAM_STRING).value_or(ByteView());
    static const std::array<u8, 16> ps_mapi =
        mapi::guid_from_string("00020328-0000-0000-C000-000000000046");
    for (u64 off = 0; off + NAMEID_SIZE <= entries.size(); off += NAMEID_SIZE) {
      const char *e = entries.data() + off;
      const u32 prop = load_le32(e);
      const u16 gfield = load_le16(e + 4);
      const u16 idx = load_le16(e + 6);
      const bool is_string = (gfield & 1) != 0;
      const u16 wguid = static_cast<u16>(gfield >> 1);
      mapi::PropertyName name;
      if (wguid == NAMEID_GUID_PS_MAPI) {
        name.guid = ps_mapi;
      } else if (wguid == NAMEID_GUID_PUBLIC_STRINGS) {
        name.guid = mapi::psetid::PublicStrings;
      } else if (wguid >= NAMEID_GUID_STREAM_BASE) {
        const u64 g = static_cast<u64>(wguid - NAMEID_GUID_STREAM_BASE) * 16;
        if (g + 16 > guids.size()) continue;
        std::copy_n(reinterpret_cast<const u8 *>(guids.data() + g), 16, name.guid.begin());
      } else {
        continue;
      }
      if (is_string) {
        if (static_cast<u64>(prop) + 4 > strings.size()) continue;
        const u64 len = load_le32(strings.data() + prop);
        if (len > strings.size() - prop - 4) continue;
        name.is_string = true;
        name.name = text::utf16le_to_utf8(strings.substr(prop + 4, len));
      } else {
        name.lid = prop;
      }
      names.add(static_cast<u16>(NAMED_PROP_BASE + idx), std::move(name));
    }
    return {};
  }

  std::shared_ptr<const PstFile> file_;
  std::shared_ptr<const mapi::NameMap> names_;
  mapi::StoreInfo info_;
};

}  // namespace

Result<std::unique_ptr<mapi::MailStore>> open_native(const std::string &path) {
  Result<std::shared_ptr<const PstFile>> f = PstFile::open(path);
  if (!f) return f.problem();
  return NativeStore::create(std::move(f).value());
}

Result<std::unique_ptr<mapi::MailStore>> open_native_bytes(ByteView bytes) {
  Result<std::shared_ptr<const PstFile>> f = PstFile::open_bytes(bytes);
  if (!f) return f.problem();
  return NativeStore::create(std::move(f).value());
}

std::unique_ptr<mapi::MailStore> share_native(const mapi::MailStore &store) {
  const auto *n = dynamic_cast<const NativeStore *>(&store);
  return n == nullptr ? nullptr : n->share();
}

}  // namespace mm::pst
