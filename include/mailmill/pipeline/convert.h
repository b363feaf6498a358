#pragma once
/// The conversion run: inputs -> readers -> model -> MIME/ics/vcf -> dedup -> sinks, with the
/// ledger, the manifest and the crash-safe journal.
///
/// It is a bounded TBB pipeline: a serial stage hands out work units (up to 32 items of one
/// folder, in input order); a parallel stage reads, converts, builds and hashes them, each
/// thread with its own reader handle; a serial in-order stage dedups, writes, and records.
/// Output is therefore byte-identical for any --jobs.
#include <iosfwd>
#include <string>
#include <vector>

#include "mailmill/dedup/decider.h"
#include "mailmill/pipeline/cluster.h"
#include "mailmill/pipeline/ledger.h"
#include "mailmill/sink/pst_sink.h"
#include "mailmill/sink/sink.h"
#include "mailmill/source/open.h"

namespace mm::pipeline {

enum class OutputFormat : u8 { Mbox, Eml, Batch, Pst, Maildir };
/// --dedup and --dedup-scope: the dedup decision's own enums (dedup/decider.h).
using DedupMode = dedup::Mode;
using DedupScope = dedup::Scope;
enum class Profile : u8 {
  Generic,  ///< no size limit, folder path as label
  Gmail,    ///< 25 MB per message (Google Workspace migration), Gmail system labels
  GmailApi, ///< 150 MB per message (Gmail API import)
  Imap,     ///< --max-message-bytes (default 50 MB), IMAP folder names
};

/// Process exit codes of `mailmill convert` (also documented in --help).
enum ExitCode : int {
  EXIT_ALL_CONVERTED = 0,  ///< every item written, deduplicated, or deliberately skipped
  EXIT_SOME_FAILED = 1,    ///< some items or whole sources failed; see the report
  EXIT_USAGE = 2,          ///< bad command line
  EXIT_FATAL = 3,          ///< output unwritable or another run-stopping error
  EXIT_LEDGER_MISMATCH = 4 ///< internal accounting error (a bug): counts do not add up
};

struct ConvertOptions {
  std::vector<std::string> inputs;  ///< files or folders (searched for *.pst / *.ost)
  std::string out_dir;
  OutputFormat format = OutputFormat::Mbox;
  source::Reader reader = source::Reader::Auto;
  std::string report_path;          ///< JSON report; empty for none
  bool progress = false;            ///< live progress line on the log stream
  std::string command_line;         ///< recorded in the report
  int jobs = 0;                     ///< worker threads; 0 = all cores
  u64 max_memory = 1ull << 30;      ///< bound on bytes held by in-flight work
  /// A restart point is journaled every 2 seconds or after this many items, whichever comes
  /// first. Each costs a SQLite transaction in the serial stage (about 20 ms with 2,000 new
  /// dedup keys on 200,000), so a small count slows message-heavy runs.
  i64 checkpoint_items = 50000;
  DedupMode dedup = DedupMode::Content;
  DedupScope dedup_scope = DedupScope::Global;
  sink::BatchOptions batch;
  sink::PstSinkOptions pst;         ///< --format pst (Microsoft 365 import)
  Profile profile = Profile::Generic;
  u64 max_message_bytes = 0;        ///< 0 = the profile's limit (none for generic)
  bool recover = false;             ///< --recover: also export libpff's recovered/orphan items
  /// --mailbox: the mailboxes of Exchange databases to convert (owner name or number); empty
  /// takes every mailbox.
  std::vector<std::string> mailboxes;

  // ---- A run spread over the ranks of an MPI job (issue 17) ----
  /// The job's ranks (`mpirun -np N mailmill convert ...`); nullptr or one rank: this process
  /// alone. Every rank plans the same inputs, converts its share of the work units into its
  /// parts, the dedup keys go to their owner ranks, and rank 0 assembles the parts in seq
  /// order through the ordinary write stage, so OUTDIR ends exactly as a one-process run
  /// leaves it.
  Cluster *cluster = nullptr;
  /// --local-parts DIR: where each rank keeps its parts (DIR/rank-R, on a disk of its own
  /// host); they are gathered into OUTDIR/.mailmill/mpi/ at the end. Empty: there directly.
  std::string local_parts;
  /// --no-merge: leave the final assembly to `mailmill merge OUTDIR`.
  bool no_merge = false;
  /// `mailmill merge OUTDIR`: only the final assembly of a distributed run's parts.
  bool merge_only = false;
  /// The command line's arguments after "convert", kept with a distributed run's parts so
  /// that `mailmill merge` can plan the same inputs with the same options.
  std::vector<std::string> args;
};

/// An error every rank of a distributed run learned at the same point: they all stop with it
/// (rank 0 says why). Any other error on one rank ends the whole job at once (MPI_Abort),
/// since the other ranks would wait for it forever.
struct JobError : FatalError {
  using FatalError::FatalError;
};

/// How a distributed run went on one rank (the report's "mpi" object).
struct RankStats {
  int rank = 0;
  u64 units = 0, items = 0;   ///< work units and items assigned to the rank
  u64 resumed_units = 0;      ///< of those, already in its parts from a killed run
  double convert_seconds = 0; ///< converting and spooling, pass 1 of the key exchange included
  double dedup_seconds = 0;   ///< the rest of the key exchange (pass 2)
  u64 rounds = 0, bytes_sent = 0, keys_sent = 0, owned_keys = 0;
};

struct StageStats {
  double seconds = 0;  ///< summed over threads
  i64 items = 0;
  u64 bytes = 0;
};

struct ConvertResult {
  Ledger ledger;
  double seconds = 0;
  int exit_code = EXIT_ALL_CONVERTED;
  bool resumed = false;
  double plan_seconds = 0;  ///< opening the inputs and listing folders and items
  StageStats read, convert, build, hash, write;
  /// Finished items that waited in a temporary file because --max-memory was reached.
  StageStats spilled;
  /// A distributed run: this process's rank, whether it assembled OUTDIR (rank 0 unless
  /// --no-merge; `mailmill merge`), and every rank's figures (on the assembling process).
  bool distributed = false;
  int rank = 0;
  bool assembled = true;
  std::string mpi_library;
  std::vector<RankStats> ranks;
};

/// Runs a conversion. Per-source errors and progress go to `log`; the summary is NOT printed
/// (the caller prints ledger.summary()). Throws FatalError when the output side fails.
ConvertResult run_convert(const ConvertOptions &opts, std::ostream &log);

/// `mailmill inspect`: for every input the arguments name (files and directories, discovered
/// as `convert` discovers them), prints what it is (PST/OST with format and encryption, mbox
/// with the dialect assumed and why, maildir, loose EML/MSG files), its folder tree with item
/// counts by type (every item is read and parsed as a conversion would), the flags its
/// container records, and its census (what a conversion is checked against). With `json`, one
/// JSON document {"inputs": [...], "ignored_files": N} instead. Returns an exit code: 0, or
/// EXIT_SOME_FAILED when an input, a folder or the census could not be read.
int run_inspect(const std::vector<std::string> &args, source::Reader reader, bool json,
                std::ostream &out, std::ostream &err);

/// `mailmill verify OUTDIR`: re-reads every written item (EML files, mbox entries, batch
/// entries) and checks its sha256 against the manifest, and every batch file against its
/// .sha256. Prints mismatches to `err`; returns 0 when everything matches, 1 otherwise.
int run_verify(const std::string &out_dir, std::ostream &out, std::ostream &err);

}  // namespace mm::pipeline
