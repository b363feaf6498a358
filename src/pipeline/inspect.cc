// `mailmill inspect`: what a store is and what it holds, without converting anything.
#include <iostream>
#include <algorithm>
#include <map>

#include "mailmill/mapi/to_model.h"
#include "mailmill/pipeline/convert.h"

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

}  // namespace

int run_inspect(const std::string &path, source::Reader reader, std::ostream &out,
                std::ostream &err) {
  Result<std::unique_ptr<mapi::MailStore>> opened = source::open_store(path, reader);
  if (!opened) {
    err << "error: " << path << ": " << opened.problem().detail << "\n";
    return EXIT_SOME_FAILED;
  }
  mapi::MailStore &store = **opened;
  const mapi::StoreInfo &info = store.info();
  out << "file:        " << path << "\n";
  out << "type:        " << (info.is_ost ? "OST" : "PST") << ", " << format_label(info.format)
      << "\n";
  out << "encryption:  " << encryption_label(info.encryption) << "\n";
  out << "size:        " << info.file_size << " bytes\n";
  out << "store name:  " << info.display_name << "\n";
  out << "codepage:    " << info.default_codepage << "\n";
  out << "reader:      " << store.reader_name() << "\n";
  Result<std::vector<mapi::FolderInfo>> folders = store.folders();
  if (!folders) {
    err << "error: " << path << ": cannot read the folder tree: " << folders.problem().detail
        << "\n";
    return EXIT_SOME_FAILED;
  }
  out << "folders:\n";
  int rc = EXIT_ALL_CONVERTED;
  mapi::ConvertContext ctx{info.default_codepage, &store.names()};
  std::map<std::string, i64> all_kinds;
  for (const mapi::FolderInfo &folder : *folders) {
    std::string indent(2 * (folder.path.size() + 1), ' ');
    std::string name = folder.path.empty() ? std::string("(root)") : folder.path.back();
    std::map<std::string, i64> kinds;
    Result<std::vector<u64>> items = store.items_in(folder.node_id);
    if (!items) {
      out << indent << name << "  [contents unreadable: " << items.problem().detail << "]\n";
      rc = EXIT_SOME_FAILED;
      continue;
    }
    for (u64 nid : *items) {
      Result<mapi::RawMessage> raw = store.read_item(nid);
      std::string kind = "unreadable";
      if (raw) {
        Result<model::Message> msg = mapi::to_model(*raw, ctx);
        if (msg) kind = model::item_kind_name(msg->kind);
      }
      ++kinds[kind];
      ++all_kinds[kind];
    }
    out << indent << name << "  (" << items->size() << " items";
    for (const auto &[k, n] : kinds) out << ", " << k << ": " << n;
    out << ")" << (folder.container_class.empty() ? "" : "  " + folder.container_class) << "\n";
  }
  out << "items by type:";
  for (const auto &[k, n] : all_kinds) out << " " << k << "=" << n;
  out << "\n";
  // The census a conversion is checked against (see the report's "census").
  if (Result<mapi::Census> c = store.census(); c) {
    const mapi::Census::RowTotals rt = c->row_totals();
    out << "census (" << c->basis << "): " << c->items() << " items; " << c->message_nodes
        << " message nodes, " << c->assoc_nodes << " associated, " << rt.rows
        << " contents-table rows, " << rt.claimed << " claimed by the folders, " << c->unlisted
        << " unlisted, " << c->orphan_nodes << " orphans, " << rt.unreadable << " unreadable and "
        << rt.dangling << " dangling rows\n";
    for (const std::string &p : c->problems) out << "census problem: " << p << "\n";
    if (!c->problems.empty()) rc = EXIT_SOME_FAILED;
  } else {
    err << "error: " << path << ": no census: " << c.problem().detail << "\n";
    rc = EXIT_SOME_FAILED;
  }
  return rc;
}

}  // namespace mm::pipeline
