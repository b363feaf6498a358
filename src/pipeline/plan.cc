#include "plan.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <ostream>

#include "mailmill/source/open.h"

namespace mm::pipeline {
namespace {

const char *format_name(mapi::PstFormat f) {
  switch (f) {
    case mapi::PstFormat::Ansi:
      return "ansi";
    case mapi::PstFormat::Unicode:
      return "unicode";
    case mapi::PstFormat::Unicode4k:
      return "unicode-4k";
  }
  return "unknown";
}

const char *encryption_name(mapi::PstEncryption e) {
  switch (e) {
    case mapi::PstEncryption::None:
      return "none";
    case mapi::PstEncryption::Permute:
      return "compressible";
    case mapi::PstEncryption::Cyclic:
      return "high";
    case mapi::PstEncryption::Unknown:
      return "unknown";
  }
  return "unknown";
}

std::string hex(u64 v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string join_path(const std::vector<std::string> &path) {
  std::string out;
  for (const auto &p : path) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// Lists every item of a source in its folder, with its fate. The folder tree's folders come
// first, in tree order; folders the census found outside the tree, and the census's folder 0
// (message nodes whose parent is no folder), follow when they hold items. Items are
// attributed to folders by the census's rule (mapi::Census), applied here independently:
// the end-of-run check compares the two, folder by folder and node by node. Counts read from
// the file (PR_CONTENT_COUNT) are never a loop bound.
void plan_folders(SourcePlan &sp, SourceLedger &sl, std::vector<mapi::FolderInfo> tree,
                  const std::vector<u64> &parents, const std::vector<bool> &associated,
                  const PlanOptions &opts, Ledger &ledger) {
  const std::vector<u64> &nodes = sl.expected;  // sorted census node ids
  const bool by_nodes = sl.census.basis == "node-index";
  // A census of rows that says which are associated (an Exchange database): items the
  // folders do not list are planned from it as the node-index census plans unlisted nodes.
  const bool by_rows = !by_nodes && !nodes.empty() && associated.size() == nodes.size() &&
                       parents.size() == nodes.size();
  std::map<u64, std::size_t> plan_of;  // folder id -> index in sp.folders
  auto add_plan = [&](mapi::FolderInfo fi, bool in_tree) -> FolderPlan & {
    FolderPlan &fp = sp.folders.emplace_back();
    fp.path = join_path(fi.path);
    fp.label = label_for(fi.path, opts.profile);
    fp.in_tree = in_tree;
    fp.info = std::move(fi);
    plan_of.emplace(fp.info.node_id, sp.folders.size() - 1);
    return fp;
  };
  for (mapi::FolderInfo &fi : tree) {
    if (plan_of.count(fi.node_id)) continue;  // listed twice by a damaged tree
    add_plan(std::move(fi), true);
  }
  if (by_nodes || by_rows) {
    for (const mapi::CensusFolder &cf : sl.census.folders) {
      if (plan_of.count(cf.folder_id) || (cf.items == 0 && cf.rows <= 0)) continue;
      mapi::FolderInfo fi;
      fi.node_id = cf.folder_id;
      fi.path = cf.folder_id == 0 ? std::vector<std::string>{"[Unlisted items]"}
                                  : std::vector<std::string>{"[Folders outside the tree]",
                                                             "folder-" + hex(cf.folder_id)};
      add_plan(std::move(fi), false);
    }
  }
  // Contents tables. Under the node-index census a listed id that is not a normal message
  // node is a dangling row; a node listed by several folders belongs to its nidParent's
  // folder if that one lists it, else to the listing folder with the smallest id.
  std::map<u64, std::vector<u64>> listings;  // node id -> listing folder ids
  for (FolderPlan &fp : sp.folders) {
    if (fp.info.node_id == 0) continue;
    Result<std::vector<u64>> items = sp.primary->items_in(fp.info.node_id);
    if (!items) {
      fp.contents_problem = items.problem();
      fp.contents_error = sl.folder_errors.size();
      sl.folder_errors.push_back(ItemNote{fp.info.node_id, "", "",
                                          problem_code_name(items.problem().code),
                                          "folder " + fp.path + ": " + items.problem().detail});
      continue;
    }
    for (u64 id : *items) {
      if (!by_nodes || mapi::is_unreadable_item_id(id)) {
        fp.nids.push_back(id);
        fp.fates.push_back(Fate::Read);
        fp.listed.push_back(true);
      } else if ((id & 0x1F) == 0x04 && std::binary_search(nodes.begin(), nodes.end(), id)) {
        std::vector<u64> &l = listings[id];
        if (l.empty() || l.back() != fp.info.node_id) l.push_back(fp.info.node_id);
      } else {
        fp.nids.push_back(id);
        fp.fates.push_back(Fate::Dangling);
        fp.listed.push_back(true);
      }
    }
  }
  // The plan of a folder id, made on the spot for folder 0 if the census had none for it.
  auto plan_for = [&](u64 folder_id) -> std::size_t {
    auto it = plan_of.find(folder_id);
    if (it != plan_of.end()) return it->second;
    it = plan_of.find(0);
    if (it != plan_of.end()) return it->second;
    mapi::FolderInfo fi;
    fi.path = {"[Unlisted items]"};
    add_plan(std::move(fi), false);
    return sp.folders.size() - 1;
  };
  if (by_nodes) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const u64 nid = nodes[i], parent = i < parents.size() ? parents[i] : 0;
      const bool assoc = (nid & 0x1F) == 0x08;
      auto l = listings.find(nid);
      u64 owner = parent;
      Fate fate = Fate::Read;
      if (!assoc && l != listings.end()) {
        const std::vector<u64> &by = l->second;
        if (std::find(by.begin(), by.end(), parent) == by.end())
          owner = *std::min_element(by.begin(), by.end());
      } else {
        // Not listed: found through the node index alone.
        const FolderPlan &home = sp.folders[plan_for(owner)];
        fate = assoc                                   ? Fate::Associated
               : home.in_tree && home.contents_problem ? Fate::Read
               : opts.recover                          ? Fate::Read
                                                       : Fate::Unlisted;
      }
      FolderPlan &fp = sp.folders[plan_for(owner)];
      fp.nids.push_back(nid);
      fp.fates.push_back(fate);
      fp.listed.push_back(!assoc && l != listings.end());
    }
  }
  if (by_rows) {
    std::vector<u64> listed;
    for (const FolderPlan &fp : sp.folders) listed.insert(listed.end(), fp.nids.begin(), fp.nids.end());
    std::sort(listed.begin(), listed.end());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const u64 nid = nodes[i];
      if (std::binary_search(listed.begin(), listed.end(), nid)) continue;
      const std::size_t home = plan_for(parents[i]);
      const FolderPlan &h = sp.folders[home];
      const Fate fate = associated[i]                       ? Fate::Associated
                        : h.in_tree && h.contents_problem ? Fate::Read
                        : opts.recover                      ? Fate::Read
                                                            : Fate::Unlisted;
      FolderPlan &fp = sp.folders[home];
      fp.nids.push_back(nid);
      fp.fates.push_back(fate);
      fp.listed.push_back(false);
    }
  }
  for (FolderPlan &fp : sp.folders) {
    // One order for every reader: the items the contents table lists in node-id order
    // (libpff lists items that way, the native reader in contents-table order), then those
    // only the census found (associated, unlisted), in node-id order; names and mbox order
    // depend on it.
    std::vector<std::size_t> order(fp.nids.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(!fp.listed[a], fp.nids[a]) < std::pair(!fp.listed[b], fp.nids[b]);
    });
    std::vector<u64> nids(order.size());
    std::vector<Fate> fates(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      nids[k] = fp.nids[order[k]];
      fates[k] = fp.info.beyond_depth && fp.fates[order[k]] != Fate::Associated
                     ? Fate::TooDeep
                     : fp.fates[order[k]];
    }
    fp.nids = std::move(nids);
    fp.fates = std::move(fates);
    if (fp.info.beyond_depth) {
      sl.folder_errors.push_back(
          ItemNote{fp.info.node_id, "", "", "LimitExceeded",
                   "folder " + hex(fp.info.node_id) + " is nested deeper than 256 levels; its " +
                       std::to_string(fp.nids.size()) + " item(s) are counted as failed"});
    }
    if (fp.contents_problem && by_nodes && !fp.nids.empty()) {
      sl.folder_errors[fp.contents_error].detail +=
          "; its " + std::to_string(fp.nids.size()) + " item(s) were found through the node index";
    }
    fp.ledger = &ledger.add_folder(sl, fp.path, fp.info.node_id);
    const i64 mail = static_cast<i64>(fp.nids.size()) -
                     std::count(fp.fates.begin(), fp.fates.end(), Fate::Associated);
    if (fp.ledger->census.claimed >= 0 && fp.ledger->census.claimed != mail) {
      // PR_CONTENT_COUNT disagrees with what the folder holds: one line, never a loop bound.
      ledger.warn(
          *fp.ledger,
          ItemNote{fp.info.node_id, "", "", "CountMismatch",
                   "the folder says it holds " + std::to_string(fp.ledger->census.claimed) +
                       " item(s) (PR_CONTENT_COUNT); " + std::to_string(mail) + " were found"});
    }
  }
}

}  // namespace

std::string label_for(const std::vector<std::string> &path, Profile profile) {
  // Below the IPM subtree ("Top of Personal Folders", "IPM_SUBTREE", ...) is what users see.
  std::size_t start = 0;
  for (std::size_t i = 0; i < path.size(); ++i)
    if (path[i] == "Top of Personal Folders" || path[i] == "IPM_SUBTREE" ||
        path[i].rfind("Top of ", 0) == 0)
      start = i + 1;
  std::vector<std::string> rest(
      path.begin() + static_cast<std::ptrdiff_t>(std::min(start, path.size())), path.end());
  if (rest.empty()) return profile == Profile::Generic ? join_path(path) : "INBOX";
  if (profile == Profile::Gmail || profile == Profile::GmailApi) {
    static const std::map<std::string, std::string> system = {
        {"Inbox", "INBOX"},         {"Sent Items", "SENT"},  {"Drafts", "DRAFT"},
        {"Deleted Items", "TRASH"}, {"Junk E-mail", "SPAM"}, {"Junk Email", "SPAM"}};
    auto it = system.find(rest[0]);
    if (it != system.end() && rest.size() == 1) return it->second;
  }
  if (profile == Profile::Imap && rest[0] == "Inbox") rest[0] = "INBOX";
  return join_path(rest);
}

Plan plan_inputs(const std::vector<std::string> &inputs, const PlanOptions &opts, u64 first_seq,
                 Ledger &ledger, std::ostream &log,
                 const std::function<void(SourcePlan &)> &on_source) {
  Plan plan;
  u64 seq = first_seq;
  for (const std::string &path : inputs) {
    SourceLedger &sl = ledger.add_source(path);
    Result<std::unique_ptr<mapi::MailStore>> opened =
        source::open_store(path, opts.reader, source::OpenOptions{opts.recover, opts.mailboxes});
    if (!opened) {
      sl.error_code = problem_code_name(opened.problem().code);
      sl.error = opened.problem().detail;
      log << "error: " << path << ": " << sl.error << "\n";
      continue;
    }
    auto sp = std::make_unique<SourcePlan>();
    sp->path = path;
    sp->primary = std::move(*opened);
    sp->reader = std::string(sp->primary->reader_name()) == "native" ? source::Reader::Native
                                                                     : source::Reader::Libpff;
    sp->ledger = &sl;
    const mapi::StoreInfo &info = sp->primary->info();
    sl.reader = sp->primary->reader_name();
    sl.is_ost = info.is_ost;
    if (info.kind.empty() || info.kind == "pst" || info.kind == "ost") {
      sl.format = format_name(info.format);
      sl.encryption = encryption_name(info.encryption);
    } else {
      sl.format = info.kind;  // mbox, maildir, eml, msg, files
      sl.encryption = "none";
    }
    sl.read_as = info.detail;
    if (!info.detail.empty()) log << "note: " << path << ": " << info.detail << "\n";
    // The census first: what the file holds, by its own indexes, before anything is read.
    Result<mapi::Census> census = sp->primary->census();
    Result<std::vector<mapi::FolderInfo>> folders =
        census ? sp->primary->folders() : Result<std::vector<mapi::FolderInfo>>(census.problem());
    if (!folders || folders->empty()) {
      // No folder tree, no items: the input could not be read (exit 1, counted as such).
      Problem p = folders ? Problem{ProblemCode::SourceCorrupt, "no readable folder", -1}
                          : folders.problem();
      sl.error_code = problem_code_name(p.code);
      sl.error = "cannot read the folder tree: " + p.detail;
      log << "error: " << path << ": " << sl.error << "\n";
      continue;
    }
    sl.opened = true;
    std::vector<u64> parents = std::move(census->node_parents);
    std::vector<bool> associated = std::move(census->node_associated);
    ledger.set_census(sl, std::move(*census));
    for (const std::string &p : sl.census.problems) log << "warning: " << path << ": " << p << "\n";
    plan_folders(*sp, sl, std::move(*folders), parents, associated, opts, ledger);
    if (on_source) on_source(*sp);
    // Opening walked the B-tree pages and listing read every contents table; with the
    // kernel's fault-around that maps far more of the file than was read. Drop it.
    sp->primary->release_memory();
    std::size_t s = plan.sources.size();
    for (std::size_t f = 0; f < sp->folders.size(); ++f) {
      FolderPlan &fp = sp->folders[f];
      for (std::size_t b = 0; b < fp.nids.size(); b += UNIT_ITEMS) {
        std::size_t e = std::min(fp.nids.size(), b + UNIT_ITEMS);
        plan.units.push_back(Unit{plan.units.size(), s, f, b, e, seq});
        seq += e - b;
      }
    }
    plan.sources.push_back(std::move(sp));
  }
  plan.total_items = static_cast<i64>(seq - first_seq);
  return plan;
}

void planned_outcome(const FolderPlan &fp, std::size_t i, Outcome &outcome, ItemNote &note) {
  const u64 nid = fp.nids[i];
  switch (fp.fates[i]) {
    case Fate::Associated:
      outcome = Outcome::Skipped;
      note = ItemNote{nid, "", "associated", "associated",
                      "folder-associated item (a hidden view, rule or form of the folder), "
                      "not mail"};
      break;
    case Fate::Unlisted:
      outcome = Outcome::Skipped;
      note = ItemNote{nid, "", "", "unlisted",
                      "message node " + hex(nid) +
                          " is in the node index but listed by no folder's contents table "
                          "(a deleted or orphaned item); --recover exports it"};
      break;
    case Fate::TooDeep:
      outcome = Outcome::Failed;
      note = ItemNote{nid, "", "", "LimitExceeded",
                      "its folder " + hex(fp.info.node_id) + " is nested deeper than 256 levels"};
      break;
    case Fate::Dangling:
      outcome = Outcome::Failed;
      note = ItemNote{nid, "", "", "ItemUnreadable",
                      "the contents table of folder " + hex(fp.info.node_id) + " lists node " +
                          hex(nid) + ", which is not a message in the node index"};
      break;
    case Fate::Read:
      break;
  }
}

}  // namespace mm::pipeline
