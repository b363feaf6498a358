#include "mailmill/pipeline/convert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_pipeline.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "json.h"
#include "budget.h"
#include "json_read.h"
#include "mailmill/dedup/decider.h"
#include "mailmill/mime/build.h"
#include "mailmill/sink/pst_sink.h"
#include "mailmill/source/discover.h"
#include "mailmill/util/buffer_pool.h"
#include "manifest.h"
#include "plan.h"
#include "process.h"
#include "state.h"

namespace mm::pipeline {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// What the parallel stage builds for a sink's form.
Produce produce_for(sink::Form form) {
  switch (form) {
    case sink::Form::MimeCrlf: return Produce::MimeCrlf;
    case sink::Form::MimeLf: return Produce::MimeLf;
    case sink::Form::Mboxrd: return Produce::Mboxrd;
    case sink::Form::Model: return Produce::Model;
  }
  return Produce::MimeLf;
}

// ---- Fingerprint of a run: what must match for a restart to be a resume ------------------

std::string fingerprint(const ConvertOptions &o, const std::vector<std::string> &inputs) {
  std::string s = "mailmill-run-v1\n";
  s += std::to_string(static_cast<int>(o.format)) + "," + std::to_string(static_cast<int>(o.dedup)) +
       "," + std::to_string(static_cast<int>(o.dedup_scope)) + "," +
       std::to_string(static_cast<int>(o.profile)) + "," + std::to_string(o.max_message_bytes) +
       "," + std::to_string(o.batch.max_bytes) + "," + std::to_string(o.batch.max_messages) +
       "," + std::to_string(static_cast<int>(o.reader)) + "," + o.pst.default_mailbox + "," +
       std::to_string(o.pst.max_pst_bytes) + "," + o.pst.target_root_folder +
       (o.recover ? ",recover" : "") + "\n";
  for (const std::string &m : o.mailboxes) s += "mailbox:" + m + "\n";
  for (const auto &[src, mbx] : o.pst.mailbox_for_source) s += "map:" + src + "=" + mbx + "\n";
  for (const auto &in : inputs) {
    struct stat st {};
    ::stat(in.c_str(), &st);
    std::error_code ec;
    s += fs::absolute(in, ec).string() + "\t" + std::to_string(st.st_size) + "\t" +
         std::to_string(st.st_mtime) + "\n";
  }
  return dedup::to_hex(dedup::sha256(s));
}

u64 profile_limit(const ConvertOptions &o) {
  if (o.max_message_bytes) return o.max_message_bytes;
  if (o.format == OutputFormat::Pst) return o.pst.max_item_bytes;
  switch (o.profile) {
    case Profile::Gmail: return 25ull << 20;
    case Profile::GmailApi: return 150ull << 20;
    case Profile::Imap: return 50ull << 20;
    case Profile::Generic: return 0;
  }
  return 0;
}

// ---- Progress -----------------------------------------------------------------------------

class Progress {
 public:
  Progress(std::ostream &log, bool enabled, i64 total) : log_(log), enabled_(enabled), total_(total) {}
  void tick(i64 items, u64 bytes) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? items / secs : 0.0;
    double eta = rate > 0 ? (total_ - items) / rate : 0.0;
    char buf[256];
    std::snprintf(buf, sizeof buf, "\r%lld/%lld items  %.1f MB/s  %.0f msg/s  ETA %02d:%02d\x1b[K",
                  static_cast<long long>(items), static_cast<long long>(total_),
                  secs > 0 ? bytes / secs / 1e6 : 0.0, rate, static_cast<int>(eta) / 60,
                  static_cast<int>(eta) % 60);
    log_ << buf << std::flush;
  }
  void done() {
    if (enabled_) log_ << "\r\x1b[K" << std::flush;
  }

 private:
  std::ostream &log_;
  bool enabled_;
  i64 total_;
  Clock::time_point start_ = Clock::now(), last_{};
};

// ---- The run ------------------------------------------------------------------------------

class Run {
 public:
  Run(const ConvertOptions &opts, std::ostream &log, ConvertResult &result)
      : opts_(opts), log_(log), result_(result) {
    // MAILMILL_TEST_FAULT=drop-outcome:N or shrink-input:N (tests only): see account().
    if (const char *f = std::getenv("MAILMILL_TEST_FAULT")) {
      std::string_view v(f);
      if (v.rfind("drop-outcome:", 0) == 0) drop_outcome_ = std::atoll(f + 13);
      if (v.rfind("shrink-input:", 0) == 0) shrink_after_ = std::atoll(f + 13);
    }
  }

  void execute() {
    std::vector<Problem> problems;
    source::DiscoverReport found;
    inputs_ = source::discover_inputs(opts_.inputs, problems, &found);
    if (std::string note = found.note(); !note.empty()) log_ << "note: " << note << "\n";
    for (const Problem &p : problems) {
      SourceLedger &src = result_.ledger.add_source(p.detail);
      src.error_code = problem_code_name(p.code);
      src.error = p.detail;
      log_ << "error: " << p.detail << "\n";
    }
    fs::create_directories(opts_.out_dir);
    state_ = std::make_unique<StateStore>(opts_.out_dir);
    open_sink();
    start_run();
    auto t_plan = Clock::now();
    plan();
    result_.plan_seconds = std::chrono::duration<double>(Clock::now() - t_plan).count();
    run_pipeline();
    sink_->finish();
    commit(last_seq_);
    manifest_->close();
    state_->finish_run(run_.id);
  }

 private:
  void open_sink() {
    switch (opts_.format) {
      case OutputFormat::Mbox: sink_ = sink::make_mbox_sink(opts_.out_dir); break;
      case OutputFormat::Eml: sink_ = sink::make_eml_sink(opts_.out_dir); break;
      case OutputFormat::Maildir: sink_ = sink::make_maildir_sink(opts_.out_dir); break;
      case OutputFormat::Batch: sink_ = sink::make_batch_sink(opts_.out_dir, opts_.batch); break;
      case OutputFormat::Pst: sink_ = sink::make_pst_sink(opts_.out_dir, opts_.pst); break;
    }
    sink_->set_message_limit(profile_limit(opts_));
    sink_->on_new_tracked_file = [this](const std::string &rel) {
      state_->register_file(run_.id, rel, 0);
    };
  }

  // A run that died with the same command is resumed: its append-only files go back to their
  // last committed sizes, its committed manifest lines rebuild the ledger, and its committed
  // items are not processed again. Any other unfinished run is closed off the same way and a
  // new run starts after it (incremental: dedup against everything already in OUTDIR).
  void start_run() {
    std::string fp = fingerprint(opts_, inputs_);
    std::optional<StateStore::Run> prev = state_->unfinished_run();
    if (prev) {
      std::map<std::string, u64> files = state_->committed_files(prev->id);
      truncate_files(files);
      if (prev->fingerprint == fp) {
        run_ = *prev;
        result_.resumed = true;
        sink_->resume(files);
        log_ << "resuming an interrupted run after item " << (run_.committed_seq + 1 - static_cast<i64>(run_.first_seq))
             << "\n";
      } else {
        state_->abandon_run(prev->id);
        log_ << "note: an earlier run in " << opts_.out_dir
             << " did not finish; its committed output is kept\n";
      }
    }
    if (!result_.resumed) run_ = state_->begin_run(fp, state_->next_seq());
    for (const std::string &key : state_->finished_source_keys()) sink_->reserve_source_key(key);
    state_->load_dedup(dedup_.index());
    fs::path manifest_path = fs::path(opts_.out_dir) / "manifest.jsonl";
    std::error_code ec;
    u64 size = fs::exists(manifest_path, ec) ? fs::file_size(manifest_path, ec) : 0;
    state_->register_file(run_.id, "manifest.jsonl", size);
    manifest_ = std::make_unique<Manifest>(manifest_path);
    last_seq_ = run_.committed_seq;
  }

  void truncate_files(const std::map<std::string, u64> &files) {
    for (const auto &[rel, size] : files) {
      fs::path p = fs::path(opts_.out_dir) / rel;
      std::error_code ec;
      if (!fs::exists(p, ec)) continue;
      if (fs::file_size(p, ec) > size) fs::resize_file(p, size, ec);
      if (ec) throw FatalError("cannot truncate " + p.string() + ": " + ec.message());
    }
  }

  // Planning (plan.h); the sink learns each source and its folders as they are planned.
  void plan() {
    PlanOptions po{opts_.reader, opts_.recover, opts_.profile, opts_.mailboxes};
    plan_ = plan_inputs(inputs_, po, run_.first_seq, result_.ledger, log_, [this](SourcePlan &sp) {
      sp.key = sink_->add_source(sp.path);
      new_source_keys_.push_back(sp.key);
      for (const FolderPlan &fp : sp.folders)
        sink_->register_folder(sink::Destination{sp.key, fp.info.path});
    });
    if (result_.resumed) replay_manifest();
  }

  // Rebuilds the ledger of the interrupted run's committed items from its manifest lines.
  void replay_manifest() {
    std::ifstream in(fs::path(opts_.out_dir) / "manifest.jsonl", std::ios::binary);
    std::map<std::pair<std::string, u64>, FolderLedger *> folders;
    std::map<std::string, SourceLedger *> sources;
    for (auto &sp : plan_.sources) {
      sources[sp->path] = sp->ledger;
      for (auto &fp : sp->folders) folders[{sp->path, fp.info.node_id}] = fp.ledger;
    }
    // A committed line that cannot be parsed or placed leaves its item without an outcome:
    // the census check at the end then reports it (it is never silently dropped).
    std::string line;
    i64 lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      std::optional<JsonValue> v = parse_json(line);
      if (!v) {
        log_ << "warning: manifest.jsonl line " << lineno << " cannot be parsed\n";
        continue;
      }
      i64 seq = v->get_int("seq", -1);
      if (seq < static_cast<i64>(run_.first_seq) || seq > run_.committed_seq) continue;
      auto s = sources.find(v->get_str("source"));
      auto f = folders.find({v->get_str("source"), static_cast<u64>(v->get_int("folder_id", -1))});
      if (s == sources.end() || f == folders.end()) {
        log_ << "warning: manifest.jsonl line " << lineno << " names no planned folder\n";
        continue;
      }
      std::string outcome = v->get_str("outcome");
      Outcome o = outcome == "written"     ? Outcome::Written
                  : outcome == "duplicate" ? Outcome::Duplicate
                  : outcome == "skipped"   ? Outcome::Skipped
                                           : Outcome::Failed;
      ItemNote note{static_cast<u64>(v->get_int("node_id")), v->get_str("subject"),
                    v->get_str("kind"), v->get_str("code"), v->get_str("reason")};
      result_.ledger.record(*s->second, *f->second, o, std::move(note));
      ++done_items_;
    }
  }

  mapi::MailStore *reader_for(std::size_t s, std::map<std::size_t, std::unique_ptr<mapi::MailStore>> &mine,
                              Problem &why) {
    auto it = mine.find(s);
    if (it != mine.end()) return it->second.get();
    // Units arrive in source order: handles of earlier sources are no longer needed.
    for (auto e = mine.begin(); e != mine.end();) e = e->first < s ? mine.erase(e) : std::next(e);
    SourcePlan &sp = *plan_.sources[s];
    Result<std::unique_ptr<mapi::MailStore>> h = sp.primary->open_another();
    if (!h) h = source::open_store(sp.path, sp.reader, source::OpenOptions{opts_.recover, opts_.mailboxes});
    if (!h) {
      why = h.problem();
      return nullptr;
    }
    return mine.emplace(s, std::move(*h)).first->second.get();
  }

  // The parallel stage: read, convert, build and hash one unit's items.
  UnitOut *process(const Unit &u) {
    auto out = std::make_unique<UnitOut>();
    out->unit = u;
    const FolderPlan &fp = plan_.sources[u.source]->folders[u.folder];
    out->items.resize(u.end - u.begin);
    Problem why;
    mapi::MailStore *store = reader_for(u.source, readers_.local(), why);
    StageTimes &times = times_.local();
    // Big messages are built straight into the unit's spill file (budget.h).
    Streaming streaming{[&]() -> std::FILE * { return budget_.spill_file(*out); },
                        budget_.stream_above()};
    u64 since_release = 0;
    for (std::size_t i = u.begin; i < u.end; ++i) {
      ItemOut &item = out->items[i - u.begin];
      item.seq = u.first_seq + (i - u.begin);
      item.index = static_cast<i64>(i) + 1;
      item.node_id = fp.nids[i];
      if (static_cast<i64>(item.seq) <= run_.committed_seq) {
        item.outcome = Outcome::Skipped;  // already accounted by the resumed run
        continue;
      }
      if (fp.fates[i] != Fate::Read) {
        planned_outcome(fp, i, item.outcome, item.note);
        continue;
      }
      if (!store) {
        item.note = ItemNote{item.node_id, "", "", problem_code_name(why.code),
                             "cannot open another reader handle: " + why.detail};
        item.outcome = Outcome::Failed;
        continue;
      }
      if (input_changed(*store, item)) continue;
      process_item(*store, fp.nids[i], produce_, item, times, &streaming);
      // The sink decides what becomes of a message built in its form (oversize ones go to
      // files of their own); its own per-message work (the batch sink's zstd frame) is done
      // here, with this thread's preparer, so that its writer only appends bytes.
      sink::Next next = sink::Next::Keep;
      if (item.outcome == Outcome::Written && item.form == ItemOut::Form::Mime && !item.model)
        next = sink_->triage(item.size, item.framed, !item.spilled);
      if (next == sink::Next::RebuildPlain) {
        // Rare; cheaper than unquoting the mboxrd entry.
        ItemOut bare;
        bare.seq = item.seq;
        bare.index = item.index;
        process_item(*store, fp.nids[i], Produce::MimeLf, bare, times, &streaming);
        item = std::move(bare);
      }
      // The input changed (shrank) while this item was read: its bytes may be the zeros that
      // replaced the vanished pages. It fails, and so does every later item of the source.
      if (input_changed(*store, item)) continue;
      if (item.spilled) budget_.count_streamed(item);  // built straight into the spill file
      if (next == sink::Next::Prepare) {
        if (sink::Preparer *p = preparer()) p->prepare(item.bytes, item.compressed);
      }
      budget_.saw_item(item.size);
      // Items touch many mapped pages; drop them as we go (see write()). The reader already
      // drops the pages of each big attachment it reads, so this is for small items.
      since_release += item.size;
      if (since_release > (64ull << 20)) {
        store->release_memory();
        since_release = 0;
      }
      budget_.hold_or_spill(*out, item);
    }
    return out.release();
  }

  // This thread's preparer of the sink, made on first use; nullptr when the sink needs none.
  sink::Preparer *preparer() {
    if (!prepares_) return nullptr;
    std::unique_ptr<sink::Preparer> &p = preparers_.local();
    if (!p) p = sink_->make_preparer();
    return p.get();
  }

  // Fails `item` (dropping whatever was built) when the store's input changed while it was
  // being read; true then.
  static bool input_changed(const mapi::MailStore &store, ItemOut &item) {
    std::optional<Problem> p = store.input_changed();
    if (!p) return false;
    ItemOut failed;
    failed.seq = item.seq;
    failed.index = item.index;
    failed.node_id = item.node_id;
    failed.outcome = Outcome::Failed;
    failed.note = ItemNote{item.node_id, item.note.subject, item.note.kind,
                           problem_code_name(p->code), p->detail};
    util::BufferPool::instance().give(std::move(item.bytes));
    item = std::move(failed);
    return true;
  }

  // The serial in-order stage: dedup, write, account.
  void write(UnitOut *raw_out) {
    std::unique_ptr<UnitOut> u(raw_out);
    SourcePlan &sp = *plan_.sources[u->unit.source];
    FolderPlan &fp = sp.folders[u->unit.folder];
    auto t0 = Clock::now();
    sink::Destination dest{sp.key, fp.info.path};
    // Narrower dedup scopes name the input by its absolute path (the journal's keys do too).
    std::error_code ec;
    const std::string source_id = fs::absolute(sp.path, ec).string();
    for (ItemOut &item : u->items) {
      if (static_cast<i64>(item.seq) <= run_.committed_seq) continue;
      for (auto &w : item.warnings) {
        item.warning_lines.push_back(w.code + ": " + w.detail);
        result_.ledger.warn(*fp.ledger, std::move(w));
      }
      if (item.outcome != Outcome::Written) {
        account(sp, fp, item.seq, item.index, item.outcome, item.note, "", &item);
        continue;
      }
      if (item.model && input_changed(*sp.primary, item)) {
        // A model (PST output) still views the input's pages, which vanished: not written.
        account(sp, fp, item.seq, item.index, Outcome::Failed, item.note, "", &item);
        continue;
      }
      const dedup::Decision decision = dedup_.decide(
          dedup::ItemKeys{item.mih, item.content, item.raw}, dedup::ItemPlace{source_id, fp.path},
          item.seq);
      if (decision.duplicate()) {
        account(sp, fp, item.seq, item.index, Outcome::Duplicate, item.note,
                std::to_string(*decision.duplicate_of), &item);
        continue;
      }
      if (item.spilled) OutputBudget::load_spilled(*u, item);
      const sink::OutMessage m = out_message(item, fp);
      sink_->announce(m);
      maybe_commit();
      const sink::Placed placed = sink_->write(dest, m);
      item.model.reset();
      if (placed.failed) {
        account(sp, fp, item.seq, item.index, Outcome::Failed,
                ItemNote{item.node_id, item.title, item.note.kind,
                         problem_code_name(placed.failed->code), placed.failed->detail},
                "", &item);
        continue;
      }
      if (!placed.oversize.empty())
        result_.ledger.warn(*fp.ledger, ItemNote{item.node_id, item.title, item.note.kind,
                                                 "Oversize", placed.oversize});
      written_bytes_ += item.size;
      // The key joins the journal with its item, after any commit point passed above, so a
      // resumed run never finds an item's own key committed without the item.
      dedup_.kept(decision);
      account(sp, fp, item.seq, item.index, Outcome::Written, item.note, placed.location, &item);
    }
    write_time_ += std::chrono::duration<double>(Clock::now() - t0).count();
    // Mapped input pages would otherwise count as resident memory for the whole run: a
    // folder's messages are spread over the whole file, so reading one folder touches all of
    // it. Dropping the mapping's pages every few units keeps RSS flat (they stay in the page
    // cache; the next access re-maps them).
    if (++units_since_release_ >= 4 || written_bytes_ - released_at_ > (64ull << 20)) {
      sp.primary->release_memory();
      released_at_ = written_bytes_;
      units_since_release_ = 0;
    }
    maybe_commit();
  }

  // What the sink is given of an item ready to write (its bytes, or its model).
  static sink::OutMessage out_message(ItemOut &item, const FolderPlan &fp) {
    sink::OutMessage m;
    m.kind = item.form == ItemOut::Form::Ics   ? sink::OutMessage::Kind::Calendar
             : item.form == ItemOut::Form::Vcf ? sink::OutMessage::Kind::Card
                                               : sink::OutMessage::Kind::Message;
    m.model = item.model.get();
    if (!m.model) m.bytes = item.bytes;
    m.envelope_sender = item.envelope_sender;
    m.date = item.date;
    m.index_in_folder = item.index;
    m.subject = item.title;
    m.seq = item.seq;
    m.label = fp.label;
    m.raw_sha256 = dedup::to_hex(item.raw);
    m.message_id = item.message_id;
    m.flags = item.flags;
    m.framed = item.framed;
    m.size = item.size;
    m.compressed = item.compressed;
    m.framed_size = item.framed_size;
    m.steal = &item.bytes;
    return m;
  }

  void account(SourcePlan &sp, FolderPlan &fp, u64 seq, i64 index, Outcome o, const ItemNote &note,
               const std::string &where, const ItemOut *item) {
    // Fault injection for the test that proves the end-of-run check can fail: the Nth outcome
    // of the run vanishes (no manifest line, no ledger entry). Never set outside tests.
    ++accounted_;
    if (drop_outcome_ > 0 && accounted_ == drop_outcome_) return;
    // MAILMILL_TEST_FAULT=shrink-input:N (tests only): after the Nth outcome, the input being
    // read is cut to half its size, as another process or a vanishing share would.
    if (shrink_after_ > 0 && accounted_ == shrink_after_) {
      std::error_code ec;
      const u64 size = fs::file_size(sp.path, ec);
      if (!ec) fs::resize_file(sp.path, size / 2, ec);
    }
    ManifestEntry e;
    e.seq = seq;
    e.source = sp.path;
    e.folder = fp.path;
    e.folder_id = fp.info.node_id;
    e.index = index;
    e.outcome = o;
    e.note = &note;
    e.where = where;
    if (item) e.warnings = &item->warning_lines;
    if (item && (o == Outcome::Written || o == Outcome::Duplicate)) {
      e.size = item->size;
      e.date = item->date;
      e.flags = item->flags;
      e.message_id = item->message_id;
      if (item->mih) e.mih = dedup::to_hex(*item->mih);
      e.content = dedup::to_hex(item->content);
      e.raw = dedup::to_hex(item->raw);
    }
    manifest_->add(e);
    result_.ledger.record(*sp.ledger, *fp.ledger, o, note);
    last_seq_ = static_cast<i64>(seq);
    ++done_items_;
    ++since_commit_;
    progress_->tick(done_items_, written_bytes_);
  }

  void maybe_commit() {
    if (!sink_->at_commit_point()) return;
    if (since_commit_ < opts_.checkpoint_items &&
        Clock::now() - last_commit_ < std::chrono::seconds(2))
      return;
    commit(last_seq_);
  }

  void commit(i64 seq) {
    sink_->flush();
    manifest_->flush();
    std::map<std::string, u64> sizes = sink_->tracked_sizes();
    sizes["manifest.jsonl"] = manifest_->size();
    state_->commit(run_.id, seq, dedup_.journal_keys(), sizes, new_source_keys_);
    dedup_.clear_journal_keys();
    new_source_keys_.clear();
    since_commit_ = 0;
    last_commit_ = Clock::now();
  }

  void run_pipeline() {
    produce_ = produce_for(sink_->form());
    prepares_ = sink_->make_preparer() != nullptr;
    int jobs = opts_.jobs > 0 ? opts_.jobs : tbb::info::default_concurrency();
    tbb::global_control threads(tbb::global_control::max_allowed_parallelism,
                                static_cast<std::size_t>(jobs));
    // Enough units in flight that workers keep going while the writer waits on the disk or
    // on one big message ahead of them (output is written in order). Their output is capped
    // by the held-bytes budget in process(). Attachment-heavy corpus, -j 2: 6 per job was no
    // faster than 4 (8.7-9.4 s against 8.6-10.0 s) once that budget counted buffer capacity,
    // and took 45 MiB more memory.
    tokens_ = static_cast<std::size_t>(4 * jobs);
    Progress progress(log_, opts_.progress, plan_.total_items);
    progress_ = &progress;
    std::size_t next = 0, taken = 0;  // plan_.units[next], of which `taken` items are handed out
    std::deque<Unit> pieces;            // stable storage for the units handed out
    // A fatal error (output unwritable) cancels the pipeline: units that were processed but
    // never reached the writer are freed here before the error goes on.
    struct FreeInFlight {
      Run &run;
      ~FreeInFlight() {
        for (UnitOut *u : run.in_flight_) delete u;
        run.in_flight_.clear();
      }
    } free_in_flight{*this};
    tbb::parallel_pipeline(
        tokens_,
        tbb::make_filter<void, Unit *>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control &fc) -> Unit * {
              if (next >= plan_.units.size()) {
                fc.stop();
                return nullptr;
              }
              const Unit &u = plan_.units[next];
              // Units of big items are handed out in smaller pieces (budget.h).
              const std::size_t n = budget_.next_piece(u.end - u.begin - taken);
              Unit piece = u;
              piece.begin = u.begin + taken;
              piece.end = piece.begin + n;
              piece.first_seq = u.first_seq + taken;
              taken += n;
              if (piece.end == u.end) {
                ++next;
                taken = 0;
              }
              pieces.push_back(piece);
              return &pieces.back();
            }) &
            tbb::make_filter<Unit *, UnitOut *>(
                tbb::filter_mode::parallel,
                [&](Unit *u) {
                  UnitOut *out = process(*u);
                  std::lock_guard lock(in_flight_mu_);
                  in_flight_.insert(out);
                  return out;
                }) &
            tbb::make_filter<UnitOut *, void>(tbb::filter_mode::serial_in_order,
                                              [&](UnitOut *u) {
                                                {
                                                  std::lock_guard lock(in_flight_mu_);
                                                  in_flight_.erase(u);
                                                }
                                                write(u);
                                              }));
    progress.done();
    progress_ = nullptr;
    for (auto &sp : plan_.sources) {
      if (std::optional<Problem> p = sp->primary->input_changed()) {
        sp->ledger->read_problem = p->detail;
        log_ << "error: " << sp->path << ": " << p->detail << "\n";
      }
    }
    readers_.clear();
    StageTimes sum;
    for (const StageTimes &t : times_) {
      sum.read += t.read;
      sum.convert += t.convert;
      sum.build += t.build;
      sum.hash += t.hash;
      sum.items += t.items;
      sum.bytes += t.bytes;
    }
    result_.read = {sum.read, sum.items, 0};
    result_.convert = {sum.convert, sum.items, 0};
    result_.build = {sum.build, sum.items, sum.bytes};
    result_.hash = {sum.hash, sum.items, sum.bytes};
    result_.write = {write_time_, done_items_, written_bytes_};
    result_.spilled = {0, budget_.spilled_items(), budget_.spilled_bytes()};
  }

  const ConvertOptions &opts_;
  std::ostream &log_;
  ConvertResult &result_;
  std::vector<std::string> inputs_;
  std::unique_ptr<StateStore> state_;
  StateStore::Run run_;
  std::unique_ptr<sink::Sink> sink_;
  std::unique_ptr<Manifest> manifest_;
  dedup::Decider dedup_{opts_.dedup, opts_.dedup_scope};
  std::vector<std::string> new_source_keys_;
  Plan plan_;
  tbb::enumerable_thread_specific<std::map<std::size_t, std::unique_ptr<mapi::MailStore>>> readers_;
  tbb::enumerable_thread_specific<StageTimes> times_;
  // The sink's preparer of each thread (a zstd context for batches), never shared.
  tbb::enumerable_thread_specific<std::unique_ptr<sink::Preparer>> preparers_;
  std::size_t tokens_ = 2;
  OutputBudget budget_{fs::path(opts_.out_dir) / ".mailmill", opts_.max_memory};
  Produce produce_ = Produce::MimeLf;
  bool prepares_ = false;
  Progress *progress_ = nullptr;
  i64 drop_outcome_ = 0, shrink_after_ = 0, accounted_ = 0;
  std::mutex in_flight_mu_;
  std::set<UnitOut *> in_flight_;  // processed units not yet taken by the writer
  i64 done_items_ = 0, since_commit_ = 0, last_seq_ = -1;
  u64 written_bytes_ = 0, released_at_ = 0;
  int units_since_release_ = 0;
  double write_time_ = 0;
  Clock::time_point last_commit_ = Clock::now();
};

}  // namespace

ConvertResult run_convert(const ConvertOptions &opts, std::ostream &log) {
  auto start = Clock::now();
  // The report is written at the end: a path that cannot be written must stop the run before
  // it starts, not after hours of conversion. (The file is created now and filled at the end.)
  if (!opts.report_path.empty()) {
    // Its folder is made as OUTDIR is (a report inside OUTDIR is the common case).
    std::error_code ec;
    const fs::path parent = fs::path(opts.report_path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    std::FILE *f = std::fopen(opts.report_path.c_str(), "ab");
    if (f == nullptr)
      throw FatalError("cannot write the report " + opts.report_path + ": " + std::strerror(errno));
    std::fclose(f);
  }
  ConvertResult result;
  Run run(opts, log, result);
  run.execute();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();

  result.ledger.reconcile();
  Totals t = result.ledger.totals();
  if (!result.ledger.balanced())
    result.exit_code = EXIT_LEDGER_MISMATCH;
  else if (t.failed > 0 || result.ledger.failed_sources() > 0 ||
           result.ledger.partial_sources() > 0)
    result.exit_code = EXIT_SOME_FAILED;
  if (!opts.report_path.empty()) {
    std::ofstream f(opts.report_path, std::ios::binary | std::ios::trunc);
    f << result.ledger.to_json(opts.command_line, result.seconds, [&](JsonWriter &j) {
      j.key("resumed").value(result.resumed);
      // Opening every input and listing its folders and items, before any item is read.
      j.key("open_seconds").value(result.plan_seconds);
      j.key("stages").begin_object();
      auto stage = [&](const char *name, const StageStats &s) {
        j.key(name).begin_object();
        j.key("seconds").value(s.seconds);
        j.key("items").value(s.items);
        j.key("bytes").value(s.bytes);
        j.end_object();
      };
      stage("read", result.read);
      stage("convert", result.convert);
      stage("build", result.build);
      stage("hash", result.hash);
      stage("write", result.write);
      stage("spilled", result.spilled);
      j.end_object();
    });
    f.flush();
    if (!f.good())
      throw FatalError("cannot write the report " + opts.report_path + ": " + std::strerror(errno));
  }
  return result;
}

}  // namespace mm::pipeline
