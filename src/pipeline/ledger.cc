#include "mailmill/pipeline/ledger.h"

#include <cstdio>

#include "json.h"

namespace mm::pipeline {

void Totals::add(Outcome o) {
  ++seen;
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

FolderLedger &Ledger::add_folder(SourceLedger &src, std::string path) {
  src.folders.emplace_back();
  src.folders.back().path = std::move(path);
  return src.folders.back();
}

void Ledger::record(SourceLedger &src, FolderLedger &folder, Outcome outcome, ItemNote note) {
  folder.totals.add(outcome);
  src.totals.add(outcome);
  if (outcome == Outcome::Skipped) folder.skipped.push_back(std::move(note));
  if (outcome == Outcome::Failed) folder.failed.push_back(std::move(note));
}

void Ledger::warn(FolderLedger &folder, ItemNote note) { folder.warnings.push_back(std::move(note)); }

Totals Ledger::totals() const {
  Totals t;
  for (const auto &s : sources_) t += s.totals;
  return t;
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
        sum.duplicates != s.totals.duplicates)
      return false;
  }
  return totals().balanced();
}

i64 Ledger::failed_sources() const {
  i64 n = 0;
  for (const auto &s : sources_) n += s.opened ? 0 : 1;
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
    j.key("opened").value(s.opened);
    if (!s.opened) {
      j.key("error_code").value(s.error_code);
      j.key("error").value(s.error);
    }
    j.key("reader").value(s.reader);
    j.key("format").value(s.format);
    j.key("ost").value(s.is_ost);
    j.key("encryption").value(s.encryption);
    j.key("totals");
    put_totals(j, s.totals);
    j.key("folder_errors");
    put_notes(j, s.folder_errors);
    j.key("folders").begin_array();
    for (const auto &f : s.folders) {
      j.begin_object();
      j.key("path").value(f.path);
      j.key("totals");
      put_totals(j, f.totals);
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
    if (!s.opened) {
      out += s.path + ": not read (" + s.error_code + ")\n";
      continue;
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
                " (%s); %lld source(s) could not be read\n",
                static_cast<long long>(t.seen), static_cast<long long>(t.written),
                static_cast<long long>(t.duplicates), static_cast<long long>(t.skipped),
                static_cast<long long>(t.failed), balanced() ? "balanced" : "LEDGER MISMATCH",
                static_cast<long long>(failed_sources()));
  out += buf;
  return out;
}

}  // namespace mm::pipeline
