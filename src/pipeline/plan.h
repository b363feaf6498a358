#pragma once
// Planning: inputs -> sources, their folders, every item of the census in its folder with its
// fate, and the work units the pipeline hands out. Planning opens each input once (its primary
// handle), takes its census, reads its folder tree and contents tables, and records all of it
// in the ledger; it reads no item. Not thread-safe: runs before the pipeline starts.
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/mapi/store.h"
#include "mailmill/pipeline/convert.h"
#include "mailmill/pipeline/ledger.h"

namespace mm::pipeline {

/// Items per work unit (a unit is cut smaller when its items are large; see the pipeline).
constexpr std::size_t UNIT_ITEMS = 32;

/// What becomes of a planned item: read and converted, or an outcome decided by the plan.
enum class Fate : u8 {
  Read,        ///< read and converted
  Associated,  ///< skipped: folder-associated information (views, rules, forms), not mail
  Unlisted,    ///< skipped: a message node no contents table lists (exported under --recover)
  TooDeep,     ///< failed: its folder is nested deeper than the readers' limit
  Dangling,    ///< failed: a contents-table row naming no message node
};

/// One folder of a source and its items, in output order.
struct FolderPlan {
  mapi::FolderInfo info;
  std::string path;   ///< joined raw names
  std::string label;  ///< upload label for batch manifests
  std::vector<u64> nids;
  std::vector<Fate> fates;   ///< parallel to nids
  std::vector<bool> listed;  ///< parallel to nids: listed by the contents table (else census)
  std::optional<Problem> contents_problem;  ///< contents table unreadable
  std::size_t contents_error = 0;           ///< its entry in SourceLedger::folder_errors
  bool in_tree = true;                      ///< false for folders the folder tree does not reach
  FolderLedger *ledger = nullptr;
};

/// One opened input.
struct SourcePlan {
  std::string path;
  std::string key;  ///< sink directory (set by the run when it registers the source)
  source::Reader reader = source::Reader::Libpff;  ///< the reader that opened it
  std::unique_ptr<mapi::MailStore> primary;
  std::vector<FolderPlan> folders;
  SourceLedger *ledger = nullptr;
};

/// A slice of one folder's items.
struct Unit {
  std::size_t index = 0;  ///< its position in Plan::units
  std::size_t source = 0, folder = 0;
  std::size_t begin = 0, end = 0;  ///< into FolderPlan::nids
  u64 first_seq = 0;
};

/// The whole plan: sources in input order, units in seq order.
struct Plan {
  std::vector<std::unique_ptr<SourcePlan>> sources;
  std::vector<Unit> units;
  i64 total_items = 0;  ///< items of all units (seq first_seq .. first_seq + total_items - 1)
};

/// What planning needs of the options.
struct PlanOptions {
  source::Reader reader = source::Reader::Auto;
  bool recover = false;
  Profile profile = Profile::Generic;
  std::vector<std::string> mailboxes;  ///< Exchange databases: mailboxes to take (all if empty)
};

/// Opens every input, takes its census, lists its folders and items and cuts them into units
/// numbered from `first_seq`. Every input gets a SourceLedger in `ledger` (with its error when
/// it cannot be opened or its folder tree read; such an input has no SourcePlan), every
/// planned folder a FolderLedger. Errors and census warnings go to `log`. Never throws for bad
/// input. `on_source` is called for each planned source after its folders are planned and
/// before the next input is opened (the run registers the source and its folders with the
/// sink there; an exception from it ends planning).
Plan plan_inputs(const std::vector<std::string> &inputs, const PlanOptions &opts, u64 first_seq,
                 Ledger &ledger, std::ostream &log,
                 const std::function<void(SourcePlan &)> &on_source);

/// The outcome and note of item `i` of `fp`, whose fate (not Fate::Read) the plan decided.
void planned_outcome(const FolderPlan &fp, std::size_t i, Outcome &outcome, ItemNote &note);

/// The folder label for upload profiles: the path below the IPM subtree, with system folders
/// renamed for Gmail and IMAP.
std::string label_for(const std::vector<std::string> &path, Profile profile);

}  // namespace mm::pipeline
