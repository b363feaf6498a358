#include "mailmill/pipeline/convert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

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
#include "keyexchange.h"
#include "mailmill/dedup/decider.h"
#include "mailmill/mime/build.h"
#include "mailmill/sink/pst_sink.h"
#include "mailmill/source/discover.h"
#include "mailmill/util/buffer_pool.h"
#include "manifest.h"
#include "plan.h"
#include "process.h"
#include "spool.h"
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

// ---- A run spread over ranks (issue 17): the job folder, the plan's digest, the shares ------

fs::path job_dir(const std::string &out_dir) { return fs::path(out_dir) / ".mailmill" / "mpi"; }

constexpr const char *JOB_MAGIC = "mailmill-mpi-job-v1";
constexpr const char *PARTS_COMPLETE = "\x01parts complete";

// What the ranks must agree on before they split the work: every unit, and every item's node
// and fate (the census of every input, as each rank read it).
std::string plan_digest(const Plan &plan) {
  std::string s;
  auto num = [&](u64 v) { s.append(reinterpret_cast<const char *>(&v), sizeof v); };
  for (const auto &sp : plan.sources) {
    s += sp->path;
    s.push_back('\0');
    num(sp->folders.size());
    for (const FolderPlan &fp : sp->folders) {
      num(fp.nids.size());
      for (std::size_t i = 0; i < fp.nids.size(); ++i) {
        num(fp.nids[i]);
        s.push_back(static_cast<char>(fp.fates[i]));
      }
    }
  }
  for (const Unit &u : plan.units) {
    num(u.source);
    num(u.folder);
    num(u.begin);
    num(u.end);
    num(u.first_seq);
  }
  return dedup::to_hex(dedup::sha256(s));
}

// The rank of every unit. Units are weighed by their items times the input's bytes per item
// (messages of a 5 GB archive of 4,000 items weigh more than those of a 2 GB one of 200,000),
// cut in order into blocks of about 1/16 of a rank's share and dealt out round robin: each rank
// gets about the same weight even where the estimate is off for one part of an input.
std::vector<u32> assign_units(const Plan &plan, int ranks) {
  std::vector<double> per_item(plan.sources.size(), 16384.0);
  std::vector<u64> items(plan.sources.size(), 0);
  for (const Unit &u : plan.units) items[u.source] += u.end - u.begin;
  for (std::size_t s = 0; s < plan.sources.size(); ++s) {
    const u64 bytes = plan.sources[s]->primary->info().file_size;
    if (bytes > 0 && items[s] > 0) per_item[s] = static_cast<double>(bytes) / items[s];
  }
  double total = 0;
  for (const Unit &u : plan.units) total += (u.end - u.begin) * per_item[u.source];
  const double block = std::max(1.0, total / (ranks * 16.0));
  std::vector<u32> out(plan.units.size());
  double in_block = 0;
  u64 b = 0;
  for (const Unit &u : plan.units) {
    out[u.index] = static_cast<u32>(b % static_cast<u64>(ranks));
    in_block += (u.end - u.begin) * per_item[u.source];
    if (in_block >= block) {
      ++b;
      in_block = 0;
    }
  }
  return out;
}

std::string stats_line(const RankStats &r) {
  std::ostringstream o;
  o << r.rank << '\t' << r.units << '\t' << r.items << '\t' << r.resumed_units << '\t'
    << r.convert_seconds << '\t' << r.dedup_seconds << '\t' << r.rounds << '\t' << r.bytes_sent
    << '\t' << r.keys_sent << '\t' << r.owned_keys << '\n';
  return o.str();
}

RankStats parse_stats_line(const std::string &line) {
  std::istringstream in(line);
  RankStats r;
  in >> r.rank >> r.units >> r.items >> r.resumed_units >> r.convert_seconds >> r.dedup_seconds >>
      r.rounds >> r.bytes_sent >> r.keys_sent >> r.owned_keys;
  return r;
}

// Reads a rank's duplicates ((seq, first) pairs, seq order) as the assembly asks for them in
// seq order.
class DupReader {
 public:
  explicit DupReader(const fs::path &path) : path_(path), f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) throw FatalError("cannot open " + path.string() + ": " + std::strerror(errno));
    advance();
  }
  ~DupReader() { std::fclose(f_); }
  DupReader(const DupReader &) = delete;
  DupReader &operator=(const DupReader &) = delete;
  std::optional<u64> first_of(u64 seq) {
    while (have_ && seq_ < seq) advance();
    if (have_ && seq_ == seq) return first_;
    return std::nullopt;
  }

 private:
  void advance() {
    char b[16];
    const std::size_t n = std::fread(b, 1, 16, f_);
    if (n == 0) {
      have_ = false;
      return;
    }
    if (n != 16) throw FatalError("the part " + path_.string() + " is cut short");
    seq_ = load_le64(b);
    first_ = load_le64(b + 8);
    have_ = true;
  }
  fs::path path_;
  std::FILE *f_;
  bool have_ = false;
  u64 seq_ = 0, first_ = 0;
};

void remove_parts(const fs::path &dir) {
  std::error_code ec;
  for (const char *name : {"spool", "keys", "dups", "dups.tmp", "progress"}) fs::remove(dir / name, ec);
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
      // kill-rank:R:K: rank R of a distributed run kills itself (SIGKILL) once K of its work
      // units are in its parts.
      if (v.rfind("kill-rank:", 0) == 0) {
        kill_rank_ = std::atoi(f + 10);
        if (const char *k = std::strchr(f + 10, ':')) kill_after_ = std::atoll(k + 1);
      }
      // fail-rank:R:K: the same rank's output fails instead (FatalError, as a full disk).
      if (v.rfind("fail-rank:", 0) == 0) {
        kill_rank_ = std::atoi(f + 10);
        if (const char *k = std::strchr(f + 10, ':')) kill_after_ = std::atoll(k + 1);
        fail_not_kill_ = true;
      }
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
    if (mode_ == Mode::Merge) load_job();
    state_ = std::make_unique<StateStore>(opts_.out_dir);
    open_sink(opts_.out_dir);
    start_run();
    auto t_plan = Clock::now();
    plan();
    result_.plan_seconds = std::chrono::duration<double>(Clock::now() - t_plan).count();
    if (mode_ == Mode::Merge) {
      merge_units();
    } else {
      order_.resize(plan_.units.size());
      for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
      run_pipeline();
    }
    sink_->finish();
    commit(last_seq_);
    manifest_->close();
    state_->finish_run(run_.id);
    if (mode_ == Mode::Merge) finish_job();
  }

  /// `mailmill merge`, and rank 0 at the end of a distributed run: the final assembly.
  void execute_merge() {
    mode_ = Mode::Merge;
    execute();
  }

  /// Every rank of a distributed run: converts its share of the units into its parts and
  /// decides, with the other ranks, which of its items are duplicates. Collective.
  void execute_part(Cluster &c) {
    mode_ = Mode::Part;
    cluster_ = &c;
    const int me = c.rank(), n = c.size();
    std::vector<Problem> problems;
    inputs_ = source::discover_inputs(opts_.inputs, problems, nullptr);
    const fs::path jobs = job_dir(opts_.out_dir);
    const std::string fp = fingerprint(opts_, inputs_);
    std::string verdict;
    if (me == 0) verdict = check_outdir(fp, n);
    verdict = c.broadcast(verdict, 0);
    if (verdict == PARTS_COMPLETE) {
      // Killed while assembling: the parts are all there; rank 0 assembles again.
      if (me == 0) log_ << "the parts are complete; assembling them again\n";
      return;
    }
    if (!verdict.empty()) throw JobError(verdict);
    part_dir_ = (opts_.local_parts.empty() ? jobs : fs::path(opts_.local_parts)) /
                ("rank-" + std::to_string(me));
    fs::create_directories(part_dir_ / "sink");
    // The sink gives the form, triage and preparers; nothing is written through it here.
    open_sink((part_dir_ / "sink").string());
    // Census warnings and unreadable inputs are reported by the assembly, which plans again.
    std::ostringstream quiet;
    PlanOptions po{opts_.reader, opts_.recover, opts_.profile, opts_.mailboxes};
    auto t_plan = Clock::now();
    plan_ = plan_inputs(inputs_, po, 0, result_.ledger, quiet, [](SourcePlan &) {});
    result_.plan_seconds = std::chrono::duration<double>(Clock::now() - t_plan).count();
    const std::string digest = plan_digest(plan_);
    const bool differs = c.broadcast(digest, 0) != digest;
    if (c.sum(differs ? 1 : 0) > 0)
      throw JobError("the ranks planned different work: every host must see the same inputs, "
                     "unchanged");
    assignment_ = assign_units(plan_, n);
    if (me == 0) write_job(fp, n, digest);

    // This rank's parts go on from where a killed run of the same job left them.
    const std::string part_job = std::string(JOB_MAGIC) + "\n" + fp + "\n" + std::to_string(n) +
                                 "\n" + digest + "\n";
    std::optional<PartProgress> resumed;
    if (read_text(part_dir_ / "job") == part_job) resumed = read_progress(part_dir_ / "progress");
    if (!resumed) {
      remove_parts(part_dir_);
      write_text(part_dir_ / "job", part_job);
    }
    part_ = resumed.value_or(PartProgress{});
    std::vector<std::size_t> mine;
    RankStats &st = rank_stats_;
    st.rank = me;
    for (const Unit &u : plan_.units)
      if (assignment_[u.index] == static_cast<u32>(me)) {
        mine.push_back(u.index);
        st.items += u.end - u.begin;
      }
    st.units = mine.size();
    part_.units_done = std::min<u64>(part_.units_done, mine.size());
    st.resumed_units = part_.units_done;
    spool_ = std::make_unique<SpoolWriter>(part_dir_ / "spool", part_.spool_bytes);
    keys_ = std::make_unique<SpoolWriter>(part_dir_ / "keys", part_.keys_bytes);
    spreader_ = std::make_unique<KeySpreader>(c);
    // The owners keep nothing between runs: the keys of units done before are offered again.
    for_each_key(part_.keys_bytes, [&](const KeyedItem &k) { spreader_->add(k); });
    order_.assign(mine.begin() + static_cast<std::ptrdiff_t>(part_.units_done), mine.end());

    auto t0 = Clock::now();
    std::string failure;
    // Rank 0 shows how its own share goes (the others' shares go at about the same pace).
    Progress share(log_, opts_.progress && me == 0, static_cast<i64>(st.items));
    progress_ = &share;
    try {
      run_pipeline();
    } catch (const std::exception &e) {
      failure = e.what();
    }
    share.done();
    progress_ = nullptr;
    spreader_->finish(!failure.empty());
    if (!failure.empty()) {
      // Only rank 0 prints a JobError: another rank says its own reason here.
      const std::string why = "rank " + std::to_string(me) + ": " + failure;
      if (me != 0) log_ << "mailmill: fatal: " << why << "\n";
      throw JobError(why);
    }
    if (spreader_->someone_failed())
      throw JobError("another rank stopped with an error (its message is above); run the same "
                     "command again to go on");
    st.convert_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

    // Pass 2: which of this rank's items are duplicates, and of what.
    t0 = Clock::now();
    ExchangeStats &xs = spreader_->stats();
    {
      SpoolWriter dups(part_dir_ / "dups.tmp", 0);
      std::FILE *in = std::fopen((part_dir_ / "keys").c_str(), "rb");
      if (!in) throw JobError("cannot read " + (part_dir_ / "keys").string());
      std::unique_ptr<std::FILE, int (*)(std::FILE *)> close_in(in, std::fclose);
      Bytes buf(KEYED_ITEM_BYTES * KEY_BATCH, '\0');
      find_duplicates(
          c, spreader_->owned(), KEY_BATCH,
          [&](std::vector<KeyedItem> &batch) {
            const std::size_t got = std::fread(buf.data(), KEYED_ITEM_BYTES, KEY_BATCH, in);
            for (std::size_t i = 0; i < got; ++i)
              batch.push_back(get_keyed(buf.data() + i * KEYED_ITEM_BYTES));
            return got == KEY_BATCH;
          },
          [&](u64 seq, u64 first) {
            char b[16];
            for (int i = 0; i < 8; ++i) {
              b[i] = static_cast<char>(seq >> (8 * i));
              b[8 + i] = static_cast<char>(first >> (8 * i));
            }
            dups.append(ByteView(b, 16));
          },
          xs);
      dups.flush();
    }
    std::error_code ec;
    fs::rename(part_dir_ / "dups.tmp", part_dir_ / "dups", ec);
    if (ec) throw JobError("cannot rename " + (part_dir_ / "dups.tmp").string() + ": " + ec.message());
    st.dedup_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    st.rounds = xs.rounds;
    st.bytes_sent = xs.bytes_sent;
    st.keys_sent = xs.keys_sent;
    st.owned_keys = xs.owned_keys;

    // Every rank's figures to rank 0; parts kept per host are gathered there.
    std::vector<Bytes> to(n);
    to[0] = stats_line(st);
    std::vector<Bytes> figures = c.exchange(std::move(to));
    if (!opts_.local_parts.empty()) gather_parts(c);
    c.barrier();
    if (me == 0) {
      std::string text = "library\t" + mpi_library() + "\n";
      for (const Bytes &f : figures) text += f;
      write_text(jobs / "parts-complete", text);
    }
    c.barrier();
    // Gathered: the copy on this host is no longer needed.
    if (!opts_.local_parts.empty()) {
      std::error_code ec;
      fs::remove_all(part_dir_, ec);
    }
  }

 private:
  void open_sink(const std::string &root) {
    switch (opts_.format) {
      case OutputFormat::Mbox: sink_ = sink::make_mbox_sink(root); break;
      case OutputFormat::Eml: sink_ = sink::make_eml_sink(root); break;
      case OutputFormat::Maildir: sink_ = sink::make_maildir_sink(root); break;
      case OutputFormat::Batch: sink_ = sink::make_batch_sink(root, opts_.batch); break;
      case OutputFormat::Pst: sink_ = sink::make_pst_sink(root, opts_.pst); break;
    }
    sink_->set_message_limit(profile_limit(opts_));
    sink_->on_new_tracked_file = [this](const std::string &rel) {
      state_->register_file(run_.id, rel, 0);
    };
  }

  // ---- Distributed runs: the job folder -------------------------------------------------

  // Rank 0, before anything is written: "" when OUTDIR can take this job (new, or holding this
  // job's parts), else why not.
  std::string check_outdir(const std::string &fp, int ranks) {
    const fs::path jobs = job_dir(opts_.out_dir);
    std::error_code ec;
    const std::string job = read_text(jobs / "job");
    if (!job.empty()) {
      std::istringstream in(job);
      std::string magic, their_fp, their_ranks;
      std::getline(in, magic);
      std::getline(in, their_fp);
      std::getline(in, their_ranks);
      if (magic != JOB_MAGIC || their_fp != fp || their_ranks != std::to_string(ranks))
        return opts_.out_dir + " holds the parts of another distributed run (another command "
               "or rank count): use a new output folder, or remove " + jobs.string();
      if (fs::exists(jobs / "merged", ec))
        return "this distributed run has already finished in " + opts_.out_dir;
      if (fs::exists(jobs / "parts-complete", ec)) return PARTS_COMPLETE;
      return "";
    }
    if (fs::exists(fs::path(opts_.out_dir) / ".mailmill" / "state.sqlite", ec) ||
        fs::exists(fs::path(opts_.out_dir) / "manifest.jsonl", ec))
      return opts_.out_dir + " already holds the output of an earlier run; a distributed run "
             "needs a new output folder (adding to one is for a single-machine run)";
    return "";
  }

  // Rank 0: what `mailmill merge` needs to plan the same work again.
  void write_job(const std::string &fp, int ranks, const std::string &digest) {
    const fs::path jobs = job_dir(opts_.out_dir);
    fs::create_directories(jobs);
    std::string args;
    for (const std::string &a : opts_.args) {
      args += a;
      args.push_back('\0');
    }
    write_text(jobs / "args", args);
    std::error_code ec;
    write_text(jobs / "cwd", fs::current_path(ec).string());
    std::string assignment;
    for (u32 r : assignment_) {
      char b[4];
      for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(r >> (8 * i));
      assignment.append(b, 4);
    }
    write_text(jobs / "assignment", assignment);
    write_text(jobs / "job", std::string(JOB_MAGIC) + "\n" + fp + "\n" + std::to_string(ranks) +
                                 "\n" + digest + "\n");
  }

  // The assembly: the job as the ranks left it.
  void load_job() {
    const fs::path jobs = job_dir(opts_.out_dir);
    std::istringstream in(read_text(jobs / "job"));
    std::string magic, fp, ranks;
    std::getline(in, magic);
    std::getline(in, fp);
    std::getline(in, ranks);
    std::getline(in, job_digest_);
    if (magic != JOB_MAGIC) throw FatalError(opts_.out_dir + " holds no distributed run's parts");
    std::error_code ec;
    if (fs::exists(jobs / "merged", ec))
      throw FatalError("the parts in " + opts_.out_dir + " have already been assembled");
    const std::string figures = read_text(jobs / "parts-complete");
    if (figures.empty())
      throw FatalError("the parts in " + jobs.string() + " are not complete: run the same "
                       "mpirun command again to finish them");
    ranks_ = std::atoi(ranks.c_str());
    std::istringstream lines(figures);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("library\t", 0) == 0)
        result_.mpi_library = line.substr(8);
      else if (!line.empty())
        result_.ranks.push_back(parse_stats_line(line));
    }
    const std::string assignment = read_text(jobs / "assignment");
    assignment_.resize(assignment.size() / 4);
    for (std::size_t i = 0; i < assignment_.size(); ++i)
      assignment_[i] = load_le32(assignment.data() + 4 * i);
  }

  // The assembly is done: the parts (a second copy of the output) go.
  void finish_job() {
    const fs::path jobs = job_dir(opts_.out_dir);
    write_text(jobs / "merged", "");
    std::error_code ec;
    for (int r = 0; r < ranks_; ++r) fs::remove_all(jobs / ("rank-" + std::to_string(r)), ec);
  }

  // Calls `f` for every keyed item in the first `bytes` bytes of this rank's key file.
  template <typename F>
  void for_each_key(u64 bytes, F f) {
    if (bytes == 0) return;
    std::FILE *in = std::fopen((part_dir_ / "keys").c_str(), "rb");
    if (!in) throw FatalError("cannot read " + (part_dir_ / "keys").string());
    std::unique_ptr<std::FILE, int (*)(std::FILE *)> close_in(in, std::fclose);
    Bytes buf(KEYED_ITEM_BYTES * KEY_BATCH, '\0');
    for (u64 left = bytes / KEYED_ITEM_BYTES; left > 0;) {
      const std::size_t want = static_cast<std::size_t>(std::min<u64>(left, KEY_BATCH));
      if (std::fread(buf.data(), KEYED_ITEM_BYTES, want, in) != want)
        throw FatalError((part_dir_ / "keys").string() + " is shorter than its progress record");
      for (std::size_t i = 0; i < want; ++i) f(get_keyed(buf.data() + i * KEYED_ITEM_BYTES));
      left -= want;
    }
  }

  // --local-parts: every rank's spool and duplicates go to rank 0's OUTDIR/.mailmill/mpi/.
  void gather_parts(Cluster &c) {
    const fs::path jobs = job_dir(opts_.out_dir);
    const int me = c.rank();
    for (int r = 0; r < c.size(); ++r) {
      const fs::path into = jobs / ("rank-" + std::to_string(r));
      for (const char *name : {"spool", "dups"}) {
        if (r == 0 && me == 0) {
          if (fs::equivalent(part_dir_, into)) continue;
          fs::create_directories(into);
          std::error_code ec;
          fs::copy_file(part_dir_ / name, into / name, fs::copy_options::overwrite_existing, ec);
          if (ec) throw FatalError("cannot copy " + (part_dir_ / name).string() + ": " + ec.message());
        } else if (me == r) {
          std::FILE *in = std::fopen((part_dir_ / name).c_str(), "rb");
          if (!in) throw FatalError("cannot read " + (part_dir_ / name).string());
          std::unique_ptr<std::FILE, int (*)(std::FILE *)> close_in(in, std::fclose);
          Bytes chunk(GATHER_CHUNK, '\0');
          for (;;) {
            const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), in);
            c.send(0, ByteView(chunk.data(), got));  // an empty piece ends the file
            if (got == 0) break;
          }
        } else if (me == 0) {
          fs::create_directories(into);
          SpoolWriter out(into / name, 0);
          for (;;) {
            Bytes piece = c.receive(r);
            if (piece.empty()) break;
            out.append(piece);
          }
          out.flush();
        }
      }
    }
  }

  // The assembly's loop: every unit in seq order, from the parts of the rank that made it,
  // through the ordinary write stage.
  void merge_units() {
    if (run_.first_seq != 0 || plan_digest(plan_) != job_digest_)
      throw FatalError("the inputs are not those the parts were made from (changed, moved, or "
                       "seen differently from here)");
    if (assignment_.size() != plan_.units.size())
      throw FatalError("the parts' unit assignment does not match the plan");
    const fs::path jobs = job_dir(opts_.out_dir);
    std::vector<std::unique_ptr<SpoolReader>> spools;
    for (int r = 0; r < ranks_; ++r) {
      const fs::path dir = jobs / ("rank-" + std::to_string(r));
      spools.push_back(std::make_unique<SpoolReader>(dir / "spool"));
      dups_.push_back(std::make_unique<DupReader>(dir / "dups"));
    }
    Progress progress(log_, opts_.progress, plan_.total_items);
    progress_ = &progress;
    for (const Unit &u : plan_.units) {
      const u32 r = assignment_[u.index];
      if (r >= spools.size()) throw FatalError("the parts' unit assignment names rank " + std::to_string(r));
      for (std::size_t at = u.begin; at < u.end;) {
        auto out = std::make_unique<UnitOut>();
        u64 unit = 0;
        if (!spools[r]->read(unit, *out))
          throw FatalError("the parts of rank " + std::to_string(r) + " end before unit " +
                           std::to_string(u.index) + ": run the same mpirun command again");
        if (unit != u.index || out->unit.begin != at || out->unit.end > u.end ||
            out->unit.first_seq != u.first_seq + (at - u.begin))
          throw FatalError("the parts of rank " + std::to_string(r) + " are out of order at unit " +
                           std::to_string(u.index));
        out->unit.index = u.index;
        out->unit.source = u.source;
        out->unit.folder = u.folder;
        at = out->unit.end;
        merge_rank_ = r;
        write(out.release());
      }
    }
    progress.done();
    progress_ = nullptr;
    result_.write = {write_time_, done_items_, written_bytes_};
  }

  // A distributed run's serial stage: the piece goes to this rank's spool, its keys to their
  // owners, and each finished unit moves the rank's progress record.
  void spool_piece(UnitOut *raw_out) {
    std::unique_ptr<UnitOut> u(raw_out);
    SourcePlan &sp = *plan_.sources[u->unit.source];
    FolderPlan &fp = sp.folders[u->unit.folder];
    std::error_code ec;
    const std::string source_id = fs::absolute(sp.path, ec).string();
    Bytes keyed;
    for (ItemOut &item : u->items) {
      if (item.spilled) {
        OutputBudget::load_spilled(*u, item);
        item.spilled = false;
      }
      if (item.outcome != Outcome::Written) continue;
      std::optional<dedup::Digest> key = dedup_.key_of(
          dedup::ItemKeys{item.mih, item.content, item.raw}, dedup::ItemPlace{source_id, fp.path});
      if (!key) continue;
      const KeyedItem k{item.seq, *key};
      put_keyed(keyed, k);
      spreader_->add(k);
    }
    spool_->write(u->unit.index, *u);
    keys_->append(keyed);
    spooled_items_ += static_cast<i64>(u->items.size());
    for (const ItemOut &item : u->items) spooled_bytes_ += item.size;
    // As write() does: the input's mapped pages would otherwise stay resident all run.
    if (++units_since_release_ >= 4 || spooled_bytes_ - released_at_ > (64ull << 20)) {
      sp.primary->release_memory();
      released_at_ = spooled_bytes_;
      units_since_release_ = 0;
    }
    if (progress_) progress_->tick(spooled_items_, spooled_bytes_);
    if (u->unit.end == plan_.units[u->unit.index].end) {
      ++part_.units_done;
      part_.spool_bytes = spool_->flush();
      part_.keys_bytes = keys_->flush();
      write_progress(part_dir_ / "progress", part_);
      if (kill_rank_ == cluster_->rank() && static_cast<i64>(part_.units_done) == kill_after_) {
        if (fail_not_kill_) throw FatalError("injected fault (MAILMILL_TEST_FAULT)");
        std::raise(SIGKILL);
      }
    }
    spreader_->poll(false);
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
      const dedup::ItemKeys keys{item.mih, item.content, item.raw};
      const dedup::ItemPlace place{source_id, fp.path};
      // The assembly of a distributed run takes the owners' decisions (keyexchange.h).
      const dedup::Decision decision =
          mode_ == Mode::Merge
              ? dedup_.decided(keys, place, item.seq, dups_[merge_rank_]->first_of(item.seq))
              : dedup_.decide(keys, place, item.seq);
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
    Progress *outer = progress_;  // a distributed run's rank shows its own share
    Progress progress(log_, opts_.progress && outer == nullptr, plan_.total_items);
    progress_ = outer != nullptr ? outer : &progress;
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
              // A distributed run stops handing out work once another rank has failed.
              if (next >= order_.size() || (spreader_ && spreader_->someone_failed())) {
                fc.stop();
                return nullptr;
              }
              const Unit &u = plan_.units[order_[next]];
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
                                                if (mode_ == Mode::Part)
                                                  spool_piece(u);
                                                else
                                                  write(u);
                                              }));
    progress.done();
    progress_ = outer;
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

  static constexpr std::size_t KEY_BATCH = 1 << 16;  // keys per question round (pass 2)
  static constexpr std::size_t GATHER_CHUNK = 16u << 20;
  enum class Mode { Single, Part, Merge } mode_ = Mode::Single;

  const ConvertOptions &opts_;
  std::ostream &log_;
  ConvertResult &result_;
  std::vector<std::size_t> order_;  // the units this process converts, in order
  // Distributed runs.
  Cluster *cluster_ = nullptr;
  fs::path part_dir_;
  PartProgress part_;
  std::unique_ptr<SpoolWriter> spool_, keys_;
  std::unique_ptr<KeySpreader> spreader_;
  std::vector<u32> assignment_;  // rank of each unit
  std::vector<std::unique_ptr<DupReader>> dups_;
  u32 merge_rank_ = 0;
  int ranks_ = 0;
  std::string job_digest_;
  i64 kill_rank_ = -1, kill_after_ = 0;
  bool fail_not_kill_ = false;
  i64 spooled_items_ = 0;
  u64 spooled_bytes_ = 0;

 public:
  RankStats rank_stats_;

 private:
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
  OutputBudget budget_{opts_.local_parts.empty() ? fs::path(opts_.out_dir) / ".mailmill"
                                                 : fs::path(opts_.local_parts),
                       opts_.max_memory};
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
  // Only the process that assembles the output writes the report (rank 0; `mailmill merge`
  // after --no-merge).
  const bool writes_report =
      opts.cluster == nullptr || opts.cluster->size() < 2 || (opts.cluster->rank() == 0 && !opts.no_merge);
  if (!opts.report_path.empty() && writes_report) {
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
  Cluster *cluster = opts.cluster != nullptr && opts.cluster->size() > 1 ? opts.cluster : nullptr;
  if (cluster != nullptr) {
    // Every rank: its share of the conversion, and the dedup decisions.
    result.distributed = true;
    result.rank = cluster->rank();
    {
      ConvertResult scratch;  // the plan's ledger of a rank is not the run's
      Run part(opts, log, scratch);
      try {
        part.execute_part(*cluster);
      } catch (const JobError &) {
        throw;  // every rank stops with it
      } catch (const std::exception &e) {
        log << "mailmill: fatal: rank " << cluster->rank() << ": " << e.what() << "\n";
        cluster->abort(EXIT_FATAL);
      }
    }
    if (cluster->rank() != 0 || opts.no_merge) {
      result.assembled = false;
      if (cluster->rank() == 0)
        log << "the parts are complete in " << job_dir(opts.out_dir).string()
            << "; assemble them with: mailmill merge " << opts.out_dir << "\n";
      result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      return result;
    }
  }
  if (cluster != nullptr || opts.merge_only) {
    result.distributed = true;
    Run run(opts, log, result);
    run.execute_merge();
  } else {
    Run run(opts, log, result);
    run.execute();
  }
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
      if (result.distributed) {
        // A distributed run (issue 17): every rank's share and the key exchange's cost.
        RankStats sum;
        for (const RankStats &r : result.ranks) {
          sum.units += r.units;
          sum.items += r.items;
          sum.resumed_units += r.resumed_units;
          sum.rounds = std::max(sum.rounds, r.rounds);
          sum.bytes_sent += r.bytes_sent;
          sum.keys_sent += r.keys_sent;
          sum.owned_keys += r.owned_keys;
        }
        j.key("mpi").begin_object();
        j.key("ranks").value(static_cast<i64>(result.ranks.size()));
        j.key("library").value(result.mpi_library);
        j.key("units").value(sum.units);
        j.key("resumed_units").value(sum.resumed_units);
        j.key("keyed_items").value(sum.keys_sent);
        j.key("distinct_keys").value(sum.owned_keys);
        j.key("exchange_rounds").value(sum.rounds);
        j.key("exchange_bytes").value(sum.bytes_sent);
        j.key("per_rank").begin_array();
        for (const RankStats &r : result.ranks) {
          j.begin_object();
          j.key("rank").value(r.rank);
          j.key("units").value(r.units);
          j.key("items").value(r.items);
          j.key("resumed_units").value(r.resumed_units);
          j.key("convert_seconds").value(r.convert_seconds);
          j.key("dedup_seconds").value(r.dedup_seconds);
          j.key("exchange_rounds").value(r.rounds);
          j.key("exchange_bytes").value(r.bytes_sent);
          j.key("keys_offered").value(r.keys_sent);
          j.key("keys_owned").value(r.owned_keys);
          j.end_object();
        }
        j.end_array();
        j.end_object();
      }
    });
    f.flush();
    if (!f.good())
      throw FatalError("cannot write the report " + opts.report_path + ": " + std::strerror(errno));
  }
  return result;
}

}  // namespace mm::pipeline
