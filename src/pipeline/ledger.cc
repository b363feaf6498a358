#include "mailmill/pipeline/ledger.h"

#include <algorithm>
#include <cstdio>

#include "json.h"

namespace mm::pipeline {

void Totals::add(Outcome o) {
  switch (o) {
    case Outcome::Written: ++written; break;
    case Outcome::Duplicate: ++duplicates; break;
    case Outcome::Skipped: ++skipped; break;
    case Outcome::Failed: ++failed; break;
  }
}

Totals &Totals::operator+=(const Totals &o) {
  seen += o.seen;
  written += o.written;
  duplicates += o.duplicates;
  skipped += o.skipped;
  failed += o.failed;
  return *this;
}

SourceLedger &Ledger::add_source(std::string path) {
  sources_.emplace_back();
  sources_.back().path = std::move(path);
  return sources_.back();
}

void Ledger::set_census(SourceLedger &src, mapi::Census census) {
  src.totals.seen = census.items();
  src.expected = std::move(census.node_ids);
  census.node_ids.clear();
  census.node_parents.clear();
  census.node_associated.clear();
  src.hits.assign(src.expected.size(), 0);
  src.census = std::move(census);
}

FolderLedger &Ledger::add_folder(SourceLedger &src, std::string path, u64 folder_id) {
  FolderLedger &f = src.folders.emplace_back();
  f.path = std::move(path);
  f.folder_id = folder_id;
  f.census.folder_id = folder_id;
  f.census.items = 0;
  for (const mapi::CensusFolder &cf : src.census.folders)
    if (cf.folder_id == folder_id) f.census = cf;
  f.totals.seen = f.census.items;
  return f;
}

void Ledger::record(SourceLedger &src, FolderLedger &folder, Outcome outcome, ItemNote note) {
  folder.totals.add(outcome);
  src.totals.add(outcome);
  auto it = std::lower_bound(src.expected.begin(), src.expected.end(), note.node_id);
  if (it != src.expected.end() && *it == note.node_id)
    ++src.hits[static_cast<std::size_t>(it - src.expected.begin())];
  else
    ++src.extra;
  if (outcome == Outcome::Skipped) folder.skipped.push_back(std::move(note));
  if (outcome == Outcome::Failed) folder.failed.push_back(std::move(note));
}

void Ledger::warn(FolderLedger &folder, ItemNote note) { folder.warnings.push_back(std::move(note)); }

Totals Ledger::totals() const {
  Totals t;
  for (const auto &s : sources_) t += s.totals;
  return t;
}

void Ledger::reconcile() {
  for (auto &s : sources_) {
    s.missing.clear();
    s.doubled.clear();
    for (std::size_t i = 0; i < s.expected.size(); ++i) {
      if (s.hits[i] == 0) s.missing.push_back(s.expected[i]);
      if (s.hits[i] > 1) s.doubled.push_back(s.expected[i]);
    }
  }
}

bool Ledger::balanced() const {
  for (const auto &s : sources_) {
    Totals sum;
    for (const auto &f : s.folders) {
      if (!f.totals.balanced()) return false;
      sum += f.totals;
    }
    if (!s.totals.balanced() || sum.seen != s.totals.seen || sum.written != s.totals.written ||
        sum.skipped != s.totals.skipped || sum.failed != s.totals.failed ||
        sum.duplicates != s.totals.duplicates || !s.missing.empty() || !s.doubled.empty())
      return false;
  }
  return totals().balanced();
}

std::string SourceLedger::status() const {
  if (!opened || census.basis.empty()) return "failed";
  if (!census.problems.empty() || !read_problem.empty()) return "partial";
  if (census.basis == "libpff")
    for (const mapi::CensusFolder &f : census.folders)
      if (!f.problem.empty()) return "partial";
  return "ok";
}

i64 Ledger::failed_sources() const {
  i64 n = 0;
  for (const auto &s : sources_) n += s.status() == "failed" ? 1 : 0;
  return n;
}

i64 Ledger::partial_sources() const {
  i64 n = 0;
  for (const auto &s : sources_) n += s.status() == "partial" ? 1 : 0;
  return n;
}

namespace {

void put_totals(JsonWriter &j, const Totals &t) {
  j.begin_object();
  j.key("seen").value(t.seen);
  j.key("written").value(t.written);
  j.key("duplicates").value(t.duplicates);
  j.key("skipped").value(t.skipped);
  j.key("failed").value(t.failed);
  j.end_object();
}

void put_census_folder(JsonWriter &j, const mapi::CensusFolder &c) {
  j.begin_object();
  j.key("items").value(c.items);
  j.key("claimed").value(c.claimed);
  j.key("rows").value(c.rows);
  j.key("assoc_rows").value(c.assoc_rows);
  j.key("unreadable_rows").value(c.unreadable_rows);
  j.key("dangling_rows").value(c.dangling_rows);
  if (!c.problem.empty()) j.key("problem").value(c.problem);
  j.end_object();
}

// At most this many node ids are listed in a report's missing/doubled arrays (the counts are
// always complete).
constexpr std::size_t MAX_LISTED_IDS = 1000;

void put_ids(JsonWriter &j, const std::vector<u64> &ids) {
  j.begin_array();
  for (std::size_t i = 0; i < ids.size() && i < MAX_LISTED_IDS; ++i) j.value(ids[i]);
  j.end_array();
}

void put_census(JsonWriter &j, const SourceLedger &s) {
  const mapi::Census &c = s.census;
  j.begin_object();
  j.key("basis").value(c.basis);
  j.key("items").value(s.totals.seen);
  j.key("message_nodes").value(c.message_nodes);
  j.key("assoc_nodes").value(c.assoc_nodes);
  j.key("folder_nodes").value(c.folder_nodes);
  j.key("search_folder_nodes").value(c.search_folder_nodes);
  const mapi::Census::RowTotals rt = c.row_totals();
  j.key("rows_listed").value(rt.rows);
  j.key("claimed").value(rt.claimed);
  j.key("unreadable_rows").value(rt.unreadable);
  j.key("dangling_rows").value(rt.dangling);
  j.key("unlisted").value(c.unlisted);
  j.key("orphan_nodes").value(c.orphan_nodes);
  j.key("outcomes").value(s.totals.outcomes());
  j.key("missing_count").value(static_cast<i64>(s.missing.size()));
  j.key("missing");
  put_ids(j, s.missing);
  j.key("doubled_count").value(static_cast<i64>(s.doubled.size()));
  j.key("doubled");
  put_ids(j, s.doubled);
  j.key("problems").begin_array();
  for (const std::string &p : c.problems) j.value(p);
  j.end_array();
  j.end_object();
}

void put_notes(JsonWriter &j, const std::vector<ItemNote> &notes) {
  j.begin_array();
  for (const auto &n : notes) {
    j.begin_object();
    j.key("node_id").value(static_cast<i64>(n.node_id));
    j.key("subject").value(n.subject);
    j.key("kind").value(n.kind);
    j.key("code").value(n.code);
    j.key("reason").value(n.detail);
    j.end_object();
  }
  j.end_array();
}

}  // namespace

std::string Ledger::to_json(const std::string &command_line, double seconds,
                            const std::function<void(JsonWriter &)> &extra) const {
  JsonWriter j;
  j.begin_object();
  j.key("totals");
  put_totals(j, totals());
  j.key("balanced").value(balanced());
  j.key("tool").value("mailmill");
  j.key("command").value(command_line);
  j.key("seconds").value(seconds);
  if (extra) extra(j);
  j.key("sources").begin_array();
  for (const auto &s : sources_) {
    j.begin_object();
    j.key("path").value(s.path);
    j.key("status").value(s.status());
    j.key("opened").value(s.opened);
    if (!s.opened) {
      j.key("error_code").value(s.error_code);
      j.key("error").value(s.error);
    }
    if (!s.read_problem.empty()) j.key("read_problem").value(s.read_problem);
    j.key("reader").value(s.reader);
    j.key("format").value(s.format);
    if (!s.read_as.empty()) j.key("read_as").value(s.read_as);
    j.key("ost").value(s.is_ost);
    j.key("encryption").value(s.encryption);
    j.key("totals");
    put_totals(j, s.totals);
    j.key("census");
    put_census(j, s);
    j.key("folder_errors");
    put_notes(j, s.folder_errors);
    j.key("folders").begin_array();
    for (const auto &f : s.folders) {
      j.begin_object();
      j.key("path").value(f.path);
      j.key("folder_id").value(f.folder_id);
      j.key("totals");
      put_totals(j, f.totals);
      j.key("census");
      put_census_folder(j, f.census);
      j.key("skipped");
      put_notes(j, f.skipped);
      j.key("failed");
      put_notes(j, f.failed);
      j.key("warnings");
      put_notes(j, f.warnings);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.take() + "\n";
}

std::string Ledger::summary() const {
  Totals t = totals();
  char buf[256];
  std::string out;
  for (const auto &s : sources_) {
    if (s.status() == "failed") {
      out += s.path + ": not read (" + s.error_code + (s.error.empty() ? "" : ": " + s.error) +
             ")\n";
      continue;
    }
    if (s.status() == "partial")
      out += s.path + ": read only in part" +
             (s.read_problem.empty() ? std::string(" (see the report)") : ": " + s.read_problem) +
             "\n";
    if (!s.missing.empty() || !s.doubled.empty()) {
      std::snprintf(buf, sizeof buf,
                    "%s: LEDGER MISMATCH: %zu census item(s) without an outcome, %zu with more "
                    "than one\n",
                    s.path.c_str(), s.missing.size(), s.doubled.size());
      out += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "%s: %lld seen, %lld written, %lld duplicates, %lld skipped, %lld failed\n",
                  s.path.c_str(), static_cast<long long>(s.totals.seen),
                  static_cast<long long>(s.totals.written),
                  static_cast<long long>(s.totals.duplicates),
                  static_cast<long long>(s.totals.skipped),
                  static_cast<long long>(s.totals.failed));
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "total: %lld seen = %lld written + %lld duplicates + %lld skipped + %lld failed"
                " (%s); %lld source(s) could not be read, %lld read only in part\n",
                static_cast<long long>(t.seen), static_cast<long long>(t.written),
                static_cast<long long>(t.duplicates), static_cast<long long>(t.skipped),
                static_cast<long long>(t.failed), balanced() ? "balanced" : "LEDGER MISMATCH",
                static_cast<long long>(failed_sources()),
                static_cast<long long>(partial_sources()));
  out += buf;
  return out;
}

}  // namespace mm::pipeline
