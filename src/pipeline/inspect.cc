// `mailmill inspect`: what each input is and what it holds, without converting anything.
#include <algorithm>
#include <iostream>
#include <map>

#include "json.h"
#include "mailmill/format/exchange/exchange.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/parse.h"
#include "mailmill/pipeline/convert.h"
#include "mailmill/source/detect.h"
#include "mailmill/source/discover.h"

namespace mm::pipeline {
namespace {

const char *format_label(mapi::PstFormat f) {
  switch (f) {
    case mapi::PstFormat::Ansi: return "ANSI (32-bit)";
    case mapi::PstFormat::Unicode: return "Unicode (64-bit)";
    case mapi::PstFormat::Unicode4k: return "Unicode (64-bit, 4 KiB pages)";
  }
  return "unknown";
}

const char *encryption_label(mapi::PstEncryption e) {
  switch (e) {
    case mapi::PstEncryption::None: return "none";
    case mapi::PstEncryption::Permute: return "compressible (permute)";
    case mapi::PstEncryption::Cyclic: return "high (cyclic)";
    case mapi::PstEncryption::Unknown: return "unknown";
  }
  return "unknown";
}

bool is_pst(const mapi::StoreInfo &info) {
  return info.kind.empty() || info.kind == "pst" || info.kind == "ost";
}

// The kind name a user reads, with the PST format where it applies.
std::string type_label(const mapi::StoreInfo &info) {
  if (is_pst(info)) return std::string(info.is_ost ? "OST" : "PST") + ", " +
                           format_label(info.format);
  if (info.kind == "mbox") return "mbox";
  if (info.kind == "maildir") return "maildir";
  if (info.kind == "files") return "EML/MSG files";
  if (info.kind == "edb") return "Exchange mailbox database (EDB, experimental)";
  return info.kind;
}

// What one input holds, counted by reading every item as a conversion would.
struct FolderCount {
  std::vector<std::string> path;
  std::string container_class;
  i64 items = 0;
  std::optional<std::string> unreadable;  ///< why the folder's contents could not be listed
  std::map<std::string, i64> kinds;
};

struct Description {
  std::string path;
  std::optional<std::string> error;  ///< the input could not be opened
  mapi::StoreInfo info;
  std::string reader;
  std::vector<FolderCount> folders;
  std::map<std::string, i64> kinds;
  /// Container flags (maildir file names, mbox Status lines) and their counts; items whose
  /// container records none are counted in flags_unknown.
  i64 flagged = 0, read = 0, answered = 0, draft = 0, flags_unknown = 0, flags_known = 0;
  std::optional<mapi::Census> census;
  std::string census_error;
  /// ESE databases: what the header, catalog and Mailbox table say, even when the database
  /// cannot be opened as a mail store (not Exchange, dirty): the user sees what it is.
  std::optional<exchange::DatabaseInfo> edb;
  bool failed = false;
};

std::string hex_u32(u32 v) {
  static const char *digits = "0123456789abcdef";
  std::string s = "0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const u32 nibble = (v >> shift) & 0xF;
    if (nibble != 0 || started || shift == 0) {
      s += digits[nibble];
      started = true;
    }
  }
  return s;
}

// Kind of one item: the model's kind, "unparsed" for an Internet message the MIME parser
// cannot read (a conversion writes it verbatim with a warning), "unreadable" when the item
// cannot be read at all.
std::string item_kind(mapi::MailStore &store, u64 id, Description &d) {
  Result<mapi::RawMessage> raw = store.read_item(id);
  if (!raw) return "unreadable";
  if (raw->internet) {
    const mapi::InternetMessage &in = *raw->internet;
    if (in.flags) {
      ++d.flags_known;
      d.read += in.flags->read;
      d.answered += in.flags->answered;
      d.flagged += in.flags->flagged;
      d.draft += in.flags->draft;
    } else {
      ++d.flags_unknown;
    }
    Result<model::Message> msg = mime::parse_message(in.bytes);
    return msg ? model::item_kind_name(msg->kind) : "unparsed";
  }
  mapi::ConvertContext ctx{raw->codepage ? raw->codepage : store.info().default_codepage,
                           raw->names ? raw->names.get() : &store.names()};
  Result<model::Message> msg = mapi::to_model(*raw, ctx);
  return msg ? model::item_kind_name(msg->kind) : "unreadable";
}

Description describe(const std::string &path, source::Reader reader) {
  Description d;
  d.path = path;
  if (source::detect_input(path) == source::InputKind::Edb) {
    if (Result<exchange::DatabaseInfo> info = exchange::describe(path); info) d.edb = *info;
  }
  Result<std::unique_ptr<mapi::MailStore>> opened = source::open_store(path, reader);
  if (!opened) {
    d.error = opened.problem().detail;
    d.failed = true;
    return d;
  }
  mapi::MailStore &store = **opened;
  d.info = store.info();
  d.reader = store.reader_name();
  Result<std::vector<mapi::FolderInfo>> folders = store.folders();
  if (!folders) {
    d.error = "cannot read the folder tree: " + folders.problem().detail;
    d.failed = true;
    return d;
  }
  for (const mapi::FolderInfo &folder : *folders) {
    FolderCount &fc = d.folders.emplace_back();
    fc.path = folder.path;
    fc.container_class = folder.container_class;
    Result<std::vector<u64>> items = store.items_in(folder.node_id);
    if (!items) {
      fc.unreadable = items.problem().detail;
      d.failed = true;
      continue;
    }
    fc.items = static_cast<i64>(items->size());
    for (u64 id : *items) {
      std::string kind = item_kind(store, id, d);
      ++fc.kinds[kind];
      ++d.kinds[kind];
    }
  }
  if (Result<mapi::Census> c = store.census(); c) {
    d.census = std::move(*c);
    if (!d.census->problems.empty()) d.failed = true;
  } else {
    d.census_error = c.problem().detail;
    d.failed = true;
  }
  return d;
}

void print_database(const exchange::DatabaseInfo &db, std::ostream &out) {
  out << "database:    ESE, " << db.page_size << "-byte pages, format "
      << hex_u32(db.format_version) << " revision " << hex_u32(db.format_revision) << ", "
      << db.state << "\n";
  out << "layout:      " << (db.layout.empty() ? "unknown" : db.layout) << "\n";
  if (!db.exchange) {
    out << "tables:      " << db.tables.size() << ":";
    for (const std::string &t : db.tables) out << " " << t;
    out << "\n";
    return;
  }
  out << "mailboxes:   " << db.mailboxes.size() << "\n";
  for (const exchange::MailboxInfo &m : db.mailboxes) {
    out << "  #" << m.number << " " << (m.owner.empty() ? "(no owner name)" : m.owner);
    if (!m.guid.empty()) out << "  {" << m.guid << "}";
    if (m.folders >= 0) out << "  " << m.folders << " folders";
    if (m.messages >= 0) {
      out << ", " << m.messages << " messages";
      if (m.hidden >= 0) out << " (" << m.hidden << " hidden)";
    }
    if (!m.problem.empty()) out << "  [" << m.problem << "]";
    out << "\n";
  }
}

void print_text(const Description &d, std::ostream &out, std::ostream &err) {
  if (d.error) {
    err << "error: " << d.path << ": " << *d.error << "\n";
    if (d.edb) {
      out << "input:       " << d.path << "\n";
      print_database(*d.edb, out);
    }
    if (d.folders.empty() && d.info.kind.empty()) return;
  }
  const mapi::StoreInfo &info = d.info;
  out << "input:       " << d.path << "\n";
  out << "type:        " << type_label(info) << "\n";
  if (!info.detail.empty()) out << "read as:     " << info.detail << "\n";
  if (d.edb && !d.error) print_database(*d.edb, out);
  if (is_pst(info)) out << "encryption:  " << encryption_label(info.encryption) << "\n";
  if (info.file_size > 0) out << "size:        " << info.file_size << " bytes\n";
  if (!info.display_name.empty()) out << "name:        " << info.display_name << "\n";
  if (is_pst(info)) out << "codepage:    " << info.default_codepage << "\n";
  out << "reader:      " << d.reader << "\n";
  for (const Problem &w : info.warnings) out << "warning:     " << w.detail << "\n";
  out << "folders:     " << d.folders.size() << "\n";
  for (const FolderCount &f : d.folders) {
    std::string indent(2 * (f.path.size() + 1), ' ');
    std::string name = f.path.empty() ? std::string("(root)") : f.path.back();
    if (f.unreadable) {
      out << indent << name << "  [contents unreadable: " << *f.unreadable << "]\n";
      continue;
    }
    out << indent << name << "  (" << f.items << " items";
    for (const auto &[k, n] : f.kinds) out << ", " << k << ": " << n;
    out << ")" << (f.container_class.empty() ? "" : "  " + f.container_class) << "\n";
  }
  out << "items by type:";
  for (const auto &[k, n] : d.kinds) out << " " << k << "=" << n;
  out << "\n";
  if (d.flags_known == 0 && d.flags_unknown > 0)
    out << "flags:       none recorded by the container\n";
  else if (d.flags_known > 0)
    out << "flags:       " << d.read << " read, " << d.answered << " answered, " << d.flagged
        << " flagged, " << d.draft << " draft (of " << d.flags_known
        << " items whose container records flags; " << d.flags_unknown << " record none)\n";
  if (d.census) {
    // The census a conversion is checked against (see the report's "census").
    const mapi::Census &c = *d.census;
    out << "census (" << c.basis << "): " << c.items() << " items";
    if (c.basis == "node-index" || c.basis == "libpff") {
      const mapi::Census::RowTotals rt = c.row_totals();
      out << "; " << c.message_nodes << " message nodes, " << c.assoc_nodes << " associated, "
          << rt.rows << " contents-table rows, " << rt.claimed << " claimed by the folders, "
          << c.unlisted << " unlisted, " << c.orphan_nodes << " orphans, " << rt.unreadable
          << " unreadable and " << rt.dangling << " dangling rows";
    }
    out << "\n";
    for (const std::string &p : c.problems) out << "census problem: " << p << "\n";
  } else if (!d.census_error.empty()) {
    err << "error: " << d.path << ": no census: " << d.census_error << "\n";
  }
}

void write_json(JsonWriter &j, const Description &d) {
  j.begin_object();
  j.key("input").value(d.path);
  if (d.error) j.key("error").value(*d.error);
  const mapi::StoreInfo &info = d.info;
  j.key("kind").value(is_pst(info) ? std::string(info.is_ost ? "ost" : "pst") : info.kind);
  j.key("type").value(type_label(info));
  j.key("read_as").value(info.detail);
  if (is_pst(info)) {
    j.key("format").value(format_label(info.format));
    j.key("encryption").value(encryption_label(info.encryption));
    j.key("codepage").value(static_cast<i64>(info.default_codepage));
  }
  j.key("size").value(info.file_size);
  j.key("name").value(info.display_name);
  j.key("reader").value(d.reader);
  j.key("warnings").begin_array();
  for (const Problem &w : info.warnings) j.value(w.detail);
  j.end_array();
  if (d.edb) {
    const exchange::DatabaseInfo &db = *d.edb;
    j.key("database").begin_object();
    j.key("page_size").value(static_cast<i64>(db.page_size));
    j.key("format_version").value(static_cast<i64>(db.format_version));
    j.key("format_revision").value(static_cast<i64>(db.format_revision));
    j.key("state").value(db.state);
    j.key("exchange").value(db.exchange);
    j.key("layout").value(db.layout);
    j.key("tables").begin_array();
    for (const std::string &t : db.tables) j.value(t);
    j.end_array();
    j.key("mailboxes").begin_array();
    for (const exchange::MailboxInfo &m : db.mailboxes) {
      j.begin_object();
      j.key("number").value(static_cast<i64>(m.number));
      j.key("owner").value(m.owner);
      j.key("guid").value(m.guid);
      j.key("folders").value(m.folders);
      j.key("messages").value(m.messages);
      j.key("hidden").value(m.hidden);
      if (!m.problem.empty()) j.key("problem").value(m.problem);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  i64 items = 0;
  j.key("folders").begin_array();
  for (const FolderCount &f : d.folders) {
    j.begin_object();
    j.key("path").begin_array();
    for (const std::string &p : f.path) j.value(p);
    j.end_array();
    j.key("container_class").value(f.container_class);
    j.key("items").value(f.items);
    items += f.items;
    if (f.unreadable) j.key("error").value(*f.unreadable);
    j.key("by_type").begin_object();
    for (const auto &[k, n] : f.kinds) j.key(k).value(n);
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.key("items").value(items);
  j.key("by_type").begin_object();
  for (const auto &[k, n] : d.kinds) j.key(k).value(n);
  j.end_object();
  if (d.flags_known > 0 || d.flags_unknown > 0) {
    j.key("flags").begin_object();
    j.key("read").value(d.read).key("answered").value(d.answered);
    j.key("flagged").value(d.flagged).key("draft").value(d.draft);
    j.key("recorded").value(d.flags_known).key("not_recorded").value(d.flags_unknown);
    j.end_object();
  }
  if (d.census) {
    j.key("census").begin_object();
    j.key("basis").value(d.census->basis);
    j.key("items").value(d.census->items());
    j.key("problems").begin_array();
    for (const std::string &p : d.census->problems) j.value(p);
    j.end_array();
    j.end_object();
  } else if (!d.census_error.empty()) {
    j.key("census_error").value(d.census_error);
  }
  j.end_object();
}

}  // namespace

int run_inspect(const std::vector<std::string> &args, source::Reader reader, bool json,
                std::ostream &out, std::ostream &err) {
  std::vector<Problem> problems;
  source::DiscoverReport found;
  const std::vector<std::string> inputs = source::discover_inputs(args, problems, &found);
  int rc = EXIT_ALL_CONVERTED;
  for (const Problem &p : problems) {
    err << "error: " << p.detail << "\n";
    rc = EXIT_SOME_FAILED;
  }
  if (const std::string note = found.note(); !note.empty()) err << note << "\n";
  if (inputs.empty() && problems.empty()) {
    err << "error: no mail input found in the arguments\n";
    rc = EXIT_SOME_FAILED;
  }
  JsonWriter j;
  j.begin_object().key("inputs").begin_array();
  bool first = true;
  for (const std::string &path : inputs) {
    const Description d = describe(path, reader);
    if (d.failed) rc = EXIT_SOME_FAILED;
    if (json) {
      write_json(j, d);
    } else {
      if (!first) out << "\n";
      print_text(d, out, err);
    }
    first = false;
  }
  j.end_array();
  j.key("ignored_files").value(found.ignored_files);
  j.end_object();
  if (json) out << j.take() << "\n";
  return rc;
}

}  // namespace mm::pipeline
