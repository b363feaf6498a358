// mailmill command line: the only place Boost.Program_options appears. Parses arguments,
// calls the pipeline, prints the summary, maps outcomes to exit codes.
#include <malloc.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <thread>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "mailmill/gen/generate.h"
#include "mailmill/gen/edb.h"
#include "mailmill/mime/encode.h"
#include "mailmill/pipeline/convert.h"
#include "mailmill/upload/upload.h"
#include "mailmill/util/append_file.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"

namespace po = boost::program_options;
using namespace mm;

namespace {

constexpr const char *VERSION = "0.1.0";

const char *MAIN_HELP = R"(mailmill - convert salvaged mail (PST/OST, MSG, EML, mbox, maildir; Exchange EDB,
experimental) to standard mailboxes

Usage:
  mailmill convert INPUT... -o OUTDIR [--format mbox|eml|maildir|batch|pst] [--report FILE]
                   [--to URL --user U --password-file F]   (upload while converting)
  mpirun -np N mailmill convert INPUT... -o OUTDIR [options]   (one job over N ranks/hosts)
  mailmill merge OUTDIR          (assemble a distributed run's parts: after --no-merge)
  mailmill inspect INPUT... [--json] [--reader native|libpff|auto]
  mailmill verify OUTDIR [--imap URL --user U --password-file F]
  mailmill upload OUTDIR --imap URL --user U (--password-file F | --token-file F) [options]
  mailmill generate -o OUT [--format pst|mbox|eml|maildir|edb] [--truth FILE.jsonl] [--seed N]
                    [--messages N | --target-bytes SIZE] [options]
  mailmill --help | --version
  mailmill COMMAND --help        help for one command

Commands:
  convert   Convert every item of the inputs in parallel; write mbox, EML, maildir, PST or
            upload batches, remove duplicates across all inputs, and account for every item (written / duplicate /
            skipped / failed, with reasons) in OUTDIR/manifest.jsonl.
            Under mpirun (Open MPI; Slurm's srun) the same command runs as one job on all
            ranks: each converts a share, duplicates are decided across all of them, and
            OUTDIR ends byte for byte as a single-machine run leaves it.
  merge     The final assembly of a distributed run started with --no-merge (or whose
            rank 0 stopped while assembling): writes OUTDIR from the ranks' parts.
  verify    Re-read an output folder and check every item against the manifest; with
            --imap, fetch every message back from the server and compare bytes.
  upload    Append what convert wrote (mbox, EML, maildir or batch output) to an IMAP
            mailbox (Microsoft 365, Google Workspace, Dovecot, ...): folder tree, flags and
            dates kept, several connections, exactly once across interrupted runs.
  inspect   Describe each input without converting it: its kind (PST/OST with format and
            encryption, mbox with the dialect assumed, maildir, EML/MSG files; Exchange
            databases with their state and mailboxes), folder tree
            with item counts by type, recorded flags, and census (what a conversion is
            checked against). --json for a machine-readable answer.
  generate  Write a deterministic synthetic PST, mbox, EML tree or maildir (and its ground
            truth as JSONL) for tests and benchmarks: the same options always give the same
            bytes.

Exit codes:
  0  every item was converted, deduplicated, or deliberately skipped (e.g. sticky notes)
  1  some items failed, or an input could not be read in whole or in part (see the summary
     and the --report file)
  2  usage error
  3  fatal error, with the system's reason (output folder or --report not writable, disk full)
  4  ledger mismatch: an item of the input's census (counted from the file's own indexes
     before converting) got no outcome, or more than one (a bug; please report it)
)";

const char *INSPECT_EXAMPLES = R"(
INPUT is any mix of files and folders, found by content as `convert` finds them: a folder
holding PSTs, Exchange databases, mbox files, maildirs and loose .eml/.msg files lists each of
them. For an ESE database (.edb) inspect prints its page size, format, state (a database not
cleanly shut down cannot be converted: run `eseutil /r` on it first) and, for an Exchange
mailbox database, its mailboxes (number, owner, folders, messages); for any other ESE file
(Windows keeps many) its tables.
Every item is read and parsed as a conversion would read it, so the counts by type
("message", "appointment", ... ; "unparsed" for an Internet message the MIME parser cannot
read, which convert writes verbatim; "unreadable" for items that cannot be read) predict
the conversion; the census line is the count the conversion's ledger is checked against.

Examples:
  mailmill inspect archive.pst
  mailmill inspect old.mbox Maildir/ exports/
  mailmill inspect exports/ --json > what-is-there.json

Exit codes: 0 every input, folder and census was read; 1 something could not be read.
)";

const char *CONVERT_EXAMPLES = R"(
Inputs are told by content, never by file name, and may be mixed in one run:
  PST/OST files; Outlook .msg files; .eml files; mbox files (mboxo, mboxrd, mboxcl, mboxcl2:
  the dialect assumed is printed); maildir and Maildir++ folders. Any other folder is
  searched: PST/OST and mbox files and maildirs in it are inputs of their own, and the loose
  .eml/.msg files below it are one input whose folders are the subdirectories. TNEF
  (winmail.dat) parts are expanded. A message gets the same content key whichever format
  it came in, so `--dedup content` removes copies across PSTs, mboxes, maildirs and files.
Output layout (OUTDIR/<input name>/<folder path>):
  mbox: one mboxrd file per folder, "<Folder>.mbox", subfolders in "<Folder>/"
  eml:  one file per message, "<Folder>/<index> <subject>.eml" (stable across runs)
  maildir: a Maildir++ tree per input (cur/ new/ tmp/, folder A/B in ".A.B/"), messages
        named "<seq>.<sha256 prefix>.mailmill:2,<flags>"; Dovecot reads it as it is
  MIME inputs written as mbox, EML or maildir keep their own bytes (line ends aside)
  batch: batches/batch-NNNNNN.mbox.zst with .manifest.jsonl and .sha256 beside each
  pst:  pst/<mailbox>/*.pst and pst/mapping.csv (Microsoft 365 PST Import; --mailbox)
  appointments and tasks become .ics files (recurrences as RRULE/EXDATE), contacts .vcf
  files, distribution lists vCard 4.0 groups, in their folder. Meeting requests carry a
  text/calendar invitation; delivery and read reports are multipart/report; S/MIME items
  keep their signed or encrypted entity byte for byte; OLE objects become the picture or
  file they hold. A message without a sender gets "From: undisclosed-sender:;".

Examples:
  mailmill convert archive.pst -o out/
  mailmill convert exports/ -o out/ --format eml --report out/report.json
  mailmill convert a.pst b.ost -o out/ --reader libpff --quiet
  mailmill convert exports/ -o out/ --format batch --profile gmail --batch-bytes 2G
  mailmill convert more/ -o out/          # later: adds to out/, skipping what is there

Over several machines (MPI; Open MPI from Debian: openmpi-bin):
  mpirun -np 8 --hostfile hosts mailmill convert /share/exports -o /share/out
  mpirun -np 8 --hostfile hosts mailmill convert /share/exports -o /share/out \
         --local-parts /scratch/mm          # parts on each host's disk, gathered at the end
  The same command line as on one machine; every rank must see the inputs at the same path.
  Run one rank per host (mpirun --map-by ppr:1:node): a rank uses all its host's cores.
  Every rank plans the same work (they check they agree), converts its share of the work
  units (by estimated size) into its parts, and sends each item's dedup key to the rank that
  owns it; the owner keeps the first occurrence in input order, exactly as one process does.
  Rank 0 then assembles OUTDIR in input order from the parts without converting anything
  again: manifest, report and every output file are identical to a single-machine run with
  the same options. A killed run resumes with the same command (each rank keeps its finished
  units). OUTDIR must be new (incremental runs are single-machine only); --format pst and
  --to are single-machine only.
)";

// The MPI job this process is a rank of (convert under mpirun), or nullptr.
pipeline::Cluster *g_cluster = nullptr;

source::Reader parse_reader(const std::string &s) {
  if (s == "native") return source::Reader::Native;
  if (s == "libpff") return source::Reader::Libpff;
  if (s == "auto") return source::Reader::Auto;
  throw po::validation_error(po::validation_error::invalid_option_value, "reader", s);
}

// MAILMILL_CPU picks the CPU-specific code paths for a whole run, so every path can be tested
// end to end on a CPU that has them all (output bytes are the same for each):
//   MAILMILL_CPU="sha256=openssl,base64=scalar"
// sha256: auto | openssl | shani;  base64: auto | scalar | avx2 | vbmi. Read once, before any
// work starts. An unknown key or value, or a path this CPU cannot run, is a usage error: a run
// asked to test a path must not quietly test another.
bool apply_cpu_overrides(const char *spec, std::string &error) {
  struct Setting {
    std::string_view name;
    bool (*apply)();  // false: this CPU cannot run it
  };
  static constexpr Setting SETTINGS[] = {
      {"sha256=auto", [] { return util::reset_sha256_impl(), true; }},
      {"sha256=openssl", [] { return util::force_sha256_impl(util::Sha256Impl::OpenSsl); }},
      {"sha256=shani", [] { return util::force_sha256_impl(util::Sha256Impl::ShaExtensions); }},
      {"base64=auto", [] { return mime::reset_base64_impl(), true; }},
      {"base64=scalar", [] { return mime::force_base64_impl(mime::Base64Impl::Scalar); }},
      {"base64=avx2", [] { return mime::force_base64_impl(mime::Base64Impl::Avx2); }},
      {"base64=vbmi", [] { return mime::force_base64_impl(mime::Base64Impl::Vbmi); }},
  };
  std::string_view rest = spec == nullptr ? std::string_view() : std::string_view(spec);
  while (!rest.empty()) {
    const std::size_t end = rest.find_first_of(", ");
    const std::string item = text::to_lower_ascii(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (item.empty()) continue;
    const Setting *found = nullptr;
    for (const Setting &setting : SETTINGS) {
      if (setting.name == item) found = &setting;
    }
    if (found == nullptr) {
      error = "unknown setting '" + item +
              "' (want sha256=auto|openssl|shani, base64=auto|scalar|avx2|vbmi)";
      return false;
    }
    if (!found->apply()) {
      error = "this CPU cannot run " + item;
      return false;
    }
  }
  return true;
}

std::string joined_args(int argc, char **argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i) out += ' ';
    out += argv[i];
  }
  return out;
}

u64 parse_size(const std::string &s, const char *option) {
  // "1G", "512M", "64k" or plain bytes.
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception &) {
    throw po::validation_error(po::validation_error::invalid_option_value, option, s);
  }
  std::string unit = s.substr(used);
  double mult = 1;
  if (unit == "k" || unit == "K" || unit == "KiB" || unit == "KB") mult = 1024.0;
  else if (unit == "M" || unit == "MiB" || unit == "MB") mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB" || unit == "GB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TiB" || unit == "TB") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty()) throw po::validation_error(po::validation_error::invalid_option_value, option, s);
  if (v < 0) throw po::validation_error(po::validation_error::invalid_option_value, option, s);
  return static_cast<u64>(v * mult);
}

std::string read_secret(const std::string &file, const char *what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw po::error(std::string("cannot read ") + what + " " + file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) throw po::error(std::string(what) + " " + file + " is empty");
  return line;
}

/// The server options shared by upload and verify --imap; returns false without --imap.
struct ServerArgs {
  std::string url, user, password_file, token_file, auth = "password", ca_file;
  int timeout = 60;
  void add(po::options_description &d, const char *url_option = "imap") {
    d.add_options()(url_option, po::value(&url), "server URL: imaps://host[:port], imap://host (STARTTLS), imap+plain://host:port")(
        "user", po::value(&user), "login name (often the e-mail address)")(
        "password-file", po::value(&password_file), "file whose first line is the password")(
        "token-file", po::value(&token_file), "file whose first line is an OAuth 2 access token (implies --auth xoauth2)")(
        "auth", po::value(&auth)->default_value("password"), "password or xoauth2 (Gmail, Exchange Online)")(
        "ca-file", po::value(&ca_file), "PEM certificates to trust instead of the system's")(
        "insecure", "do not verify the server's certificate (tests only)")(
        "timeout", po::value(&timeout)->default_value(60), "seconds to wait for the server before reconnecting");
  }
  bool fill(const po::variables_map &vm, upload::UploadOptions &o) {
    if (url.empty()) return false;
    std::string error;
    std::optional<upload::Endpoint> ep = upload::Endpoint::parse(url, &error);
    if (!ep) throw po::error("--imap " + url + ": " + error);
    o.endpoint = *ep;
    o.endpoint.ca_file = ca_file;
    o.endpoint.verify = !vm.count("insecure");
    o.endpoint.timeout = std::chrono::seconds(std::max(1, timeout));
    if (user.empty()) throw po::error(url + " needs --user");
    o.credentials.user = user;
    if (!token_file.empty() || auth == "xoauth2") {
      if (token_file.empty()) throw po::error("--auth xoauth2 needs --token-file");
      o.credentials.mechanism = upload::Credentials::Mechanism::XOAuth2;
      o.credentials.secret = read_secret(token_file, "--token-file");
    } else if (auth == "password") {
      if (password_file.empty()) throw po::error(url + " needs --password-file (or --token-file)");
      o.credentials.secret = read_secret(password_file, "--password-file");
    } else {
      throw po::validation_error(po::validation_error::invalid_option_value, "auth", auth);
    }
    if (o.endpoint.security == upload::Endpoint::Security::Plain)
      std::cerr << "mailmill: warning: " << url << " has no TLS: the password travels in clear text\n";
    return true;
  }
};

/// --folder-map and --no-default-folder-map, as upload and verify --imap take them.
void set_folder_map(const std::vector<std::string> &maps, const po::variables_map &vm,
                    upload::UploadOptions &o) {
  for (const std::string &m : maps) {
    std::optional<upload::FolderRule> r = upload::parse_folder_rule(m);
    if (!r) throw po::validation_error(po::validation_error::invalid_option_value, "folder-map", m);
    o.folder_map.push_back(*r);
  }
  o.default_folder_map = !vm.count("no-default-folder-map");
}

int cmd_convert(const std::vector<std::string> &args, const std::string &command_line,
                bool merge_only = false) {
  pipeline::ConvertOptions opts;
  std::string format = "mbox", reader = "auto", dedup = "content", scope = "global",
              profile = "generic", max_memory = "1G", batch_bytes = "1G", max_msg, io = "auto";
  std::string mailbox_map, pst_max = "20000000000";
  bool quiet = false;
  ServerArgs server;
  std::vector<std::string> maps;
  upload::UploadOptions up;
  po::options_description desc("mailmill convert INPUT... -o OUTDIR [options]");
  desc.add_options()
      ("help,h", "show this help")
      ("output,o", po::value(&opts.out_dir)->required(),
       "output folder (created if missing); nothing is written outside it. Running the same "
       "command again after an interruption resumes; a new command adds to it, deduplicating "
       "against what is already there")
      ("format,f", po::value(&format)->default_value("mbox"),
       "mbox (mboxrd, one file per folder), eml (one file per message), maildir (Maildir++ "
       "per input), batch "
       "(zstd-compressed mbox batches for upload) or pst (Microsoft 365 PST Import Service: "
       "pst/<mailbox>/*.pst and pst/mapping.csv; use with --profile m365)")
      ("report,r", po::value(&opts.report_path),
       "write a JSON report: totals {seen, written, duplicates, skipped, failed}, per-stage "
       "timings and, per input and folder, every skipped or failed item with its reason")
      ("jobs,j", po::value(&opts.jobs)->default_value(0), "worker threads (0 = all cores)")
      ("io", po::value(&io)->default_value("auto"),
       "how large output files are written: auto (O_DIRECT where the file system allows it, "
       "which keeps multi-GB outputs from flooding the page cache) or buffered")
      ("checkpoint-items", po::value(&opts.checkpoint_items)->default_value(50000),
       "journal a restart point after this many items (and every 2 seconds): a killed run "
       "started again with the same command resumes from the last one")
      ("max-memory", po::value(&max_memory)->default_value("1G"),
       "bound on memory (e.g. 512M): finished output in flight may take an eighth of it, "
       "beyond which messages wait in a temporary file; a message larger than a sixteenth "
       "is built straight into that file")
      ("dedup", po::value(&dedup)->default_value("content"),
       "none, message-id (EDRM MIH), content (normalized content hash) or raw (sha256 of the "
       "bytes written); the first occurrence in input order is kept, every duplicate is "
       "listed in the manifest with the copy it duplicates")
      ("dedup-scope", po::value(&scope)->default_value("global"),
       "global (across all inputs and earlier runs in OUTDIR), source or folder")
      ("batch-bytes", po::value(&batch_bytes)->default_value("1G"),
       "--format batch: uncompressed bytes per batch")
      ("batch-messages", po::value(&opts.batch.max_messages)->default_value(50000),
       "--format batch: messages per batch")
      ("profile", po::value(&profile)->default_value("generic"),
       "upload profile: generic (no size limit), gmail (25 MB, Workspace migration), "
       "gmail-api (150 MB), imap (--max-message-bytes, default 50 MB), m365 (--format pst: "
       "150 MB per item); sets folder labels "
       "in batch manifests; a larger message goes to oversize/ and the report")
      ("max-message-bytes", po::value(&max_msg), "override the profile's per-message limit")
      ("mailbox", po::value(&opts.pst.default_mailbox),
       "--format pst: target mailbox (user@example.com) of inputs not in --mailbox-map")
      ("mailbox-map", po::value(&mailbox_map),
       "--format pst: CSV of \"source_path,mailbox[,archive]\" lines (archive: true/false; a "
       "header line is allowed; a folder applies to the inputs inside it)")
      ("pst-max-bytes", po::value(&pst_max)->default_value("20000000000"),
       "--format pst: split PSTs at this size (the import service takes at most 20 GB)")
      ("target-root-folder", po::value(&opts.pst.target_root_folder)->default_value("/"),
       "--format pst: TargetRootFolder of the mapping file (\"/\" merges into the mailbox's "
       "own folders)")
      ("reader", po::value(&reader)->default_value("auto"),
       "PST reader: auto (native, libpff if the file looks damaged), native, or libpff")
      ("recover", po::bool_switch(&opts.recover),
       "also export the items libpff can recover: deleted items still in the file and "
       "orphan items, as the extra folders \"[Recovered items]\" and \"[Orphan items]\" "
       "(only when non-empty); each is counted in the report (written, or failed with "
       "libpff's error). Reads every input with libpff, whatever --reader says")
      ("source-mailbox", po::value(&opts.mailboxes)->composing(),
       "Exchange databases (.edb, experimental): convert only this mailbox, by owner display "
       "name (case-insensitive) or mailbox number; repeat for several. Default: every mailbox, "
       "each in its own folder tree (`mailmill inspect x.edb` lists them)")
      ("quiet,q", po::bool_switch(&quiet), "no progress line, only errors and the summary");
  po::options_description mpi("Distributed runs (mpirun -np N mailmill convert ...)");
  mpi.add_options()
      ("mpi", "join an MPI job even where the launcher is not recognized (mpirun, Slurm and "
              "PMIx launchers are found without it)")
      ("local-parts", po::value(&opts.local_parts),
       "each rank keeps its parts in DIR/rank-N (a disk of its own host) instead of "
       "OUTDIR/.mailmill/mpi; rank 0 gathers them before assembling")
      ("no-merge", po::bool_switch(&opts.no_merge),
       "stop once the parts are complete and duplicates decided; `mailmill merge OUTDIR` "
       "assembles OUTDIR later");
  desc.add(mpi);
  po::options_description to(
      "Upload while converting (mbox, eml, maildir or batch output; see mailmill upload --help)");
  server.add(to, "to");
  to.add_options()("connections", po::value(&up.connections)->default_value(4),
                   "connections in parallel")(
      "folder-map", po::value(&maps)->composing(), "FROM=TO, as for upload")(
      "no-default-folder-map", "as for upload")(
      "upload-report", po::value(&up.report), "JSON report of the upload");
  desc.add(to);
  po::options_description hidden;
  hidden.add_options()("input", po::value(&opts.inputs)->composing());
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << CONVERT_EXAMPLES;
    return 0;
  }
  po::notify(vm);
  if (opts.inputs.empty()) throw po::error("no INPUT given (PST/OST, .msg, .eml or mbox files, maildirs, folders)");
  static const std::map<std::string, pipeline::OutputFormat> formats = {
      {"mbox", pipeline::OutputFormat::Mbox}, {"eml", pipeline::OutputFormat::Eml},
      {"batch", pipeline::OutputFormat::Batch}, {"pst", pipeline::OutputFormat::Pst},
      {"maildir", pipeline::OutputFormat::Maildir}};
  static const std::map<std::string, pipeline::DedupMode> dedups = {
      {"none", pipeline::DedupMode::None}, {"message-id", pipeline::DedupMode::MessageId},
      {"content", pipeline::DedupMode::Content}, {"raw", pipeline::DedupMode::Raw}};
  static const std::map<std::string, pipeline::DedupScope> scopes = {
      {"global", pipeline::DedupScope::Global}, {"source", pipeline::DedupScope::Source},
      {"folder", pipeline::DedupScope::Folder}};
  static const std::map<std::string, pipeline::Profile> profiles = {
      {"generic", pipeline::Profile::Generic}, {"gmail", pipeline::Profile::Gmail},
      {"gmail-api", pipeline::Profile::GmailApi}, {"imap", pipeline::Profile::Imap},
      {"m365", pipeline::Profile::Generic}};  // m365: limits come from opts.pst
  auto pick = [](const auto &table, const std::string &v, const char *name) {
    auto it = table.find(v);
    if (it == table.end())
      throw po::validation_error(po::validation_error::invalid_option_value, name, v);
    return it->second;
  };
  opts.format = pick(formats, format, "format");
  opts.dedup = pick(dedups, dedup, "dedup");
  opts.dedup_scope = pick(scopes, scope, "dedup-scope");
  opts.profile = pick(profiles, profile, "profile");
  opts.max_memory = parse_size(max_memory, "max-memory");
  if (io == "buffered") util::set_default_io_mode(util::IoMode::Buffered);
  else if (io != "auto") throw po::validation_error(po::validation_error::invalid_option_value, "io", io);
  opts.batch.max_bytes = parse_size(batch_bytes, "batch-bytes");
  if (!max_msg.empty()) opts.max_message_bytes = parse_size(max_msg, "max-message-bytes");
  bool pst = opts.format == pipeline::OutputFormat::Pst;
  if ((profile == "m365" && !pst) || (pst && profile != "m365" && profile != "generic"))
    throw po::error("--profile m365 goes with --format pst, and --format pst with --profile m365");
  if (opts.format == pipeline::OutputFormat::Pst) {
    opts.pst.max_pst_bytes = parse_size(pst_max, "pst-max-bytes");
    if (opts.pst.max_pst_bytes == 0) throw po::error("--pst-max-bytes must be more than 0");
    if (!mailbox_map.empty()) {
      std::ifstream in(mailbox_map, std::ios::binary);
      if (!in) throw po::error("cannot read --mailbox-map " + mailbox_map);
      std::stringstream text;
      text << in.rdbuf();
      Status st = sink::parse_mailbox_map(text.str(), opts.pst);
      if (!st) throw po::error(mailbox_map + ": " + st.problem().detail);
    }
    if (opts.pst.default_mailbox.empty() && opts.pst.mailbox_for_source.empty())
      throw po::error("--format pst needs --mailbox ADDR or --mailbox-map FILE.csv");
  }
  if (opts.jobs < 0) throw po::error("--jobs must be 0 (all cores) or more");
  if (opts.batch.max_messages < 1) throw po::error("--batch-messages must be at least 1");
  opts.reader = parse_reader(reader);
  opts.progress = !quiet && isatty(STDERR_FILENO);
  opts.command_line = command_line;
  opts.args = args;
  opts.merge_only = merge_only;
  const bool spread = g_cluster != nullptr && g_cluster->size() > 1;
  if (spread) {
    opts.cluster = g_cluster;
    if (pst)
      throw po::error("--format pst cannot be spread over MPI ranks (each PST is one file "
                      "written in order): run it without mpirun");
    if (vm.count("to"))
      throw po::error("--to cannot be combined with an MPI run: upload the result afterwards "
                      "with mailmill upload OUTDIR");
    opts.progress = opts.progress && g_cluster->rank() == 0;
    std::error_code ec;
    if (!opts.local_parts.empty() &&
        std::filesystem::weakly_canonical(opts.local_parts, ec) ==
            std::filesystem::weakly_canonical(
                std::filesystem::path(opts.out_dir) / ".mailmill" / "mpi", ec))
      throw po::error("--local-parts names the folder the parts are gathered into "
                      "(OUTDIR/.mailmill/mpi): leave it out to keep the parts there");
  } else if (!merge_only && (!opts.local_parts.empty() || opts.no_merge)) {
    throw po::error("--local-parts and --no-merge are for distributed runs (mpirun -np N "
                    "mailmill convert ...)");
  }
  if (!server.fill(vm, up)) {
    pipeline::ConvertResult r = pipeline::run_convert(opts, std::cerr);
    if (r.assembled) std::cerr << r.ledger.summary();
    return r.exit_code;
  }
  // --to: the upload follows the conversion in a thread of its own, in passes
  // over what the manifest lists by then, and a last pass once the conversion is done.
  if (pst) throw po::error("--to uploads mbox, eml, maildir or batch output, not --format pst");
  up.out_dir = opts.out_dir;
  set_folder_map(maps, vm, up);
  std::atomic<bool> converted{false};
  int upload_code = 0;
  std::thread uploader([&] {
    upload_code = upload::run_upload_following(up, [&] { return converted.load(); }, std::cout,
                                               std::cerr);
  });
  int code;
  try {
    pipeline::ConvertResult r = pipeline::run_convert(opts, std::cerr);
    std::cerr << r.ledger.summary();
    code = r.exit_code;
  } catch (...) {
    converted = true;
    uploader.join();
    throw;
  }
  converted = true;
  uploader.join();
  // The conversion's code when it is not 0 (items failed, fatal, ledger), else the upload's.
  return code != 0 ? code : upload_code;
}


const char *UPLOAD_HELP = R"(
URL forms:
  imaps://host[:port]        TLS from the start (port 993)
  imap://host[:port]         STARTTLS, required (port 143)
  imap+plain://host[:port]   no TLS at all: for a test server on loopback only
  Certificates are verified against the system's trust store (or --ca-file) and the host
  name; --insecure turns that off.

What is sent: every message the manifest lists as written, as stored (bare LF line ends
become CRLF), into the mailbox its source folder maps to, with its flags (read -> \Seen,
answered -> \Answered, flagged -> \Flagged, draft -> \Draft, forwarded -> $Forwarded) and
its date as INTERNALDATE. Folders: the PST root ("Top of Personal Folders") is dropped; the
root and Inbox go to INBOX; Sent Items, Deleted Items, Drafts, Junk E-mail and Archive go to
the server's special-use folders (\Sent, \Trash, ...) where it has them; other names are
created as they are (modified UTF-7, RFC 3501), below the server's personal namespace.
--folder-map FROM=TO moves a source folder and its subfolders: TO is a path ("Old/2019"),
INBOX, or a special-use attribute ("\Archive"); for Gmail labels name them ("Work").

Exactly once: every message the server acknowledges is journaled (OUTDIR/upload/
HOST-USER.sqlite, with its APPENDUID). Run the same command again after a kill, a
dropped connection or a server restart: it sends only what is missing. Before sending into
a mailbox that already holds mail, messages there that the journal does not know of are
matched by Message-ID and size (by sha256 of the bytes when that is ambiguous) and counted as
present, not sent twice.

Examples:
  mailmill upload out/ --imap imaps://imap.gmail.com --user ann@example.com \
      --token-file token.txt --auth xoauth2 --folder-map "Sent Items=[Gmail]/Sent Mail"
  mailmill upload out/ --imap imaps://outlook.office365.com --user ann@example.com \
      --token-file token.txt --auth xoauth2 --connections 4 --report upload.json
  mailmill upload out/ --imap imaps://mail.example.com --user ann --password-file pw.txt
  mailmill verify out/ --imap imaps://mail.example.com --user ann --password-file pw.txt

Exit codes: 0 every written message is on the server; 1 some were refused (too big, refused
by the server, changed on disk since convert) or could not be sent: listed on stderr and in
--report; 2 usage; 3 cannot connect, log in or verify the certificate, or OUTDIR unreadable.
)";


// Parses the options of a command that takes one folder (OUTDIR) as its positional argument;
// the folder lands in `dir` once the caller runs po::notify.
po::variables_map parse_with_dir(const std::vector<std::string> &args,
                                 const po::options_description &desc, std::string &dir) {
  po::options_description hidden;
  hidden.add_options()("dir", po::value(&dir));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  return vm;
}

int cmd_upload(const std::vector<std::string> &args) {
  upload::UploadOptions o;
  ServerArgs server;
  std::vector<std::string> maps;
  std::string max_bytes = "0";
  po::options_description desc("mailmill upload OUTDIR --imap URL --user U --password-file F [options]");
  server.add(desc);
  desc.add_options()("help,h", "show this help")(
      "connections,c", po::value(&o.connections)->default_value(4), "connections in parallel")(
      "folder-map", po::value(&maps)->composing(), "FROM=TO: put source folder FROM (and below) in TO; repeatable")(
      "no-default-folder-map", "keep every folder name as it is (no INBOX / special-use mapping)")(
      "max-message-bytes", po::value(&max_bytes)->default_value("0"), "refuse larger messages without sending them (also the server's APPENDLIMIT)")(
      "journal", po::value(&o.journal), "journal file (default OUTDIR/upload/HOST-USER.sqlite)")(
      "report", po::value(&o.report), "write a JSON report: counts, mailboxes, every refused message")(
      "retries", po::value(&o.retries)->default_value(10), "reconnects and retries before a message counts as unsent")(
      "progress", "a progress line every second (default when stderr is a terminal)")(
      "quiet,q", "no progress line");
  po::variables_map vm = parse_with_dir(args, desc, o.out_dir);
  if (vm.count("help")) {
    std::cout << desc << UPLOAD_HELP;
    return 0;
  }
  po::notify(vm);
  if (o.out_dir.empty()) throw po::error("no OUTDIR given");
  if (!server.fill(vm, o)) throw po::error("--imap URL is required");
  set_folder_map(maps, vm, o);
  o.max_message_bytes = parse_size(max_bytes, "max-message-bytes");
  if (o.connections < 1 || o.connections > 64)
    throw po::validation_error(po::validation_error::invalid_option_value, "connections",
                               std::to_string(o.connections));
  o.progress = vm.count("progress") || (!vm.count("quiet") && isatty(2));
  return upload::run_upload(o, std::cout, std::cerr);
}

int cmd_merge(const std::vector<std::string> &args) {
  std::string dir;
  po::options_description desc("mailmill merge OUTDIR");
  desc.add_options()("help,h", "show this help");
  po::variables_map vm = parse_with_dir(args, desc, dir);
  if (vm.count("help")) {
    std::cout << desc
              << "\nAssembles the output of a distributed run (mpirun -np N mailmill convert "
                 "... --no-merge,\nor one whose rank 0 stopped while assembling) from the "
                 "ranks' parts in\nOUTDIR/.mailmill/mpi: every item in input order through "
                 "the ordinary write stage,\nwithout converting anything again. It plans the "
                 "inputs of the original command\n(from the folder it was started in), "
                 "checks they are unchanged, and writes manifest,\nreport and output files as "
                 "the single-machine run would. Interrupted, it resumes.\nExit codes as for "
                 "convert.\n";
    return 0;
  }
  po::notify(vm);
  if (dir.empty()) throw po::error("no OUTDIR given");
  const std::filesystem::path jobs = std::filesystem::path(dir) / ".mailmill" / "mpi";
  auto slurp = [](const std::filesystem::path &p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const std::string raw = slurp(jobs / "args"), cwd = slurp(jobs / "cwd");
  if (raw.empty())
    throw po::error(dir + " holds no distributed run's parts (" + (jobs / "args").string() +
                    " is missing)");
  std::vector<std::string> original;
  for (std::size_t at = 0; at < raw.size();) {
    const std::size_t end = raw.find('\0', at);
    original.push_back(raw.substr(at, end - at));
    at = end == std::string::npos ? raw.size() : end + 1;
  }
  // Relative inputs and OUTDIR are relative to where the original command ran.
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
    throw FatalError("cannot enter " + cwd + ", where the distributed run was started: " +
                     std::strerror(errno));
  std::string line = "mailmill convert";
  for (const std::string &a : original) line += " " + a;
  return cmd_convert(original, line + "  (assembled by mailmill merge)", true);
}

int cmd_verify(const std::vector<std::string> &args) {
  std::string dir;
  upload::UploadOptions o;
  ServerArgs server;
  std::vector<std::string> maps;
  po::options_description desc("mailmill verify OUTDIR [--imap URL --user U --password-file F]");
  desc.add_options()("help,h", "show this help");
  po::options_description imap("With --imap: check the server (the folder options must be upload's)");
  server.add(imap);
  imap.add_options()("folder-map", po::value(&maps)->composing(), "as for upload")(
      "no-default-folder-map", "as for upload");
  desc.add(imap);
  po::variables_map vm = parse_with_dir(args, desc, dir);
  if (vm.count("help")) {
    std::cout << desc
              << "\nRe-reads every item the manifest lists as written (EML files, mbox and "
                 "batch entries) and\nchecks its sha256, and every batch file against its "
                 ".sha256. Exit code 1 on any mismatch.\n\nWith --imap, every message in each "
                 "mailbox the upload filled is fetched and hashed\ninstead: each written "
                 "item must be there byte for byte (in its CRLF form). Messages the\n"
                 "manifest does not list are counted, not an error. Exit code 1 when any is "
                 "missing.\n\nExamples:\n  mailmill verify out/\n  mailmill verify out/ "
                 "--imap imaps://mail.example.com --user ann --password-file pw.txt\n";
    return 0;
  }
  po::notify(vm);
  if (dir.empty()) throw po::error("no OUTDIR given");
  if (server.fill(vm, o)) {
    o.out_dir = dir;
    set_folder_map(maps, vm, o);
    return upload::run_verify_imap(o, std::cout, std::cerr);
  }
  return pipeline::run_verify(dir, std::cout, std::cerr);
}

int cmd_inspect(const std::vector<std::string> &args) {
  std::vector<std::string> inputs;
  std::string reader = "auto";
  po::options_description desc("mailmill inspect INPUT... [options]");
  desc.add_options()("help,h", "show this help")(
      "reader", po::value(&reader)->default_value("auto"),
      "PST/OST reader: auto, native or libpff")(
      "json", "print one JSON document ({\"inputs\": [...]}) instead of text");
  po::options_description hidden;
  hidden.add_options()("input", po::value(&inputs));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << INSPECT_EXAMPLES;
    return 0;
  }
  po::notify(vm);
  if (inputs.empty()) throw po::error("no INPUT given");
  return pipeline::run_inspect(inputs, parse_reader(reader), vm.count("json") > 0, std::cout,
                               std::cerr);
}

int cmd_generate(const std::vector<std::string> &args) {
  gen::GenOptions g;
  std::string out, truth, encryption = "none", format = "pst", eol = "lf", target = "0";
  po::options_description desc("mailmill generate -o OUT [options]");
  desc.add_options()
      ("help,h", "show this help")
      ("output,o", po::value(&out)->required(),
       "what to write: the PST or mbox file (overwritten), or the EML / maildir directory "
       "(created; must be new or empty)")
      ("format", po::value(&format)->default_value("pst"),
       "pst; or mbox (one mboxrd file), eml (one .eml file per message in a directory per "
       "folder), maildir (Maildir++, flags in the file names) written by the generator's own "
       "MIME writer; or edb: an Exchange-2013-shaped mailbox database (experimental; mail "
       "only, --mailboxes mailboxes)")
      ("mailboxes", po::value<i64>()->default_value(2),
       "edb: mailboxes in the database; the messages are split between them")
      ("page-size", po::value<u32>()->default_value(32768), "edb: 32768 (as Exchange) or 8192")
      ("eol", po::value(&eol)->default_value("lf"), "line ends of mbox, eml, maildir: lf or crlf")
      ("truth", po::value(&truth), "ground-truth JSONL to write (default: OUT.jsonl)")
      ("seed", po::value(&g.seed)->default_value(g.seed), "PRNG seed")
      ("messages,n", po::value(&g.messages)->default_value(g.messages),
       "number of top-level items; -1 = until --target-bytes (the default when "
       "--target-bytes is given)")
      ("folders", po::value(&g.folders)->default_value(g.folders), "number of user folders")
      ("attachment-ratio", po::value(&g.attachment_ratio)->default_value(g.attachment_ratio),
       "share of messages with attachments")
      ("attachment-min", po::value(&g.attachment_min)->default_value(g.attachment_min),
       "smallest attachment, bytes (sizes are log-uniform)")
      ("attachment-max", po::value(&g.attachment_max)->default_value(g.attachment_max),
       "largest attachment, bytes")
      ("html-ratio", po::value(&g.html_ratio)->default_value(g.html_ratio),
       "share of messages with an HTML body")
      ("rtf-only-ratio", po::value(&g.rtf_only_ratio)->default_value(g.rtf_only_ratio),
       "share of messages whose only body is RTF (pst only)")
      ("non-ascii-ratio", po::value(&g.non_ascii_ratio)->default_value(g.non_ascii_ratio),
       "share with accented Latin, Cyrillic, CJK or emoji text")
      ("transport-headers-ratio",
       po::value(&g.transport_headers_ratio)->default_value(g.transport_headers_ratio),
       "share with PR_TRANSPORT_MESSAGE_HEADERS (MIME formats: their Received lines)")
      ("embedded-ratio", po::value(&g.embedded_ratio)->default_value(g.embedded_ratio),
       "share carrying an attached message")
      ("calendar-ratio", po::value(&g.calendar_ratio)->default_value(g.calendar_ratio),
       "share of appointments (pst only)")
      ("contact-ratio", po::value(&g.contact_ratio)->default_value(g.contact_ratio),
       "share of contacts (pst only)")
      ("dist-list-ratio", po::value(&g.dist_list_ratio)->default_value(g.dist_list_ratio),
       "share of distribution lists (members with and without an SMTP address; pst only)")
      ("duplicate-ratio", po::value(&g.duplicate_ratio)->default_value(g.duplicate_ratio),
       "share of exact copies of earlier messages (in other folders)")
      ("near-duplicate-ratio",
       po::value(&g.near_duplicate_ratio)->default_value(g.near_duplicate_ratio),
       "share of copies differing only in transport headers")
      ("target-bytes", po::value(&target)->default_value("0"),
       "stop once the output (PST file, mbox file, or all message files) reaches this size; "
       "K, M, G suffixes are powers of 1024 (1G = 1073741824); 0 = no limit")
      ("encryption", po::value(&encryption)->default_value("none"), "none or compressible (pst)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nThe same seed and options give the same messages in every format; MIME "
                 "formats hold mail only\n(no appointments, contacts, distribution lists or "
                 "RTF-only bodies).\n"
                 "\nExamples:\n  mailmill generate -o sample.pst --messages 1000 --seed 7\n"
                 "  mailmill generate -o big.pst -n 200000 --attachment-ratio 0.05\n"
                 "  mailmill generate -o big.mbox --format mbox --target-bytes 1G\n"
                 "  mailmill generate -o md --format maildir --eol crlf -n 500\n"
                 "  mailmill generate -o mail.edb --format edb -n 2000 --mailboxes 3\n";
    return 0;
  }
  po::notify(vm);
  if (encryption == "compressible" || encryption == "permute")
    g.permute = true;
  else if (encryption != "none")
    throw po::validation_error(po::validation_error::invalid_option_value, "encryption",
                               encryption);
  const bool edb = format == "edb";
  if (edb) {
    // Checked by write_edb_corpus (mail only); the format field is not used for it.
  } else if (std::optional<gen::OutputFormat> f = gen::parse_output_format(format))
    g.format = *f;
  else
    throw po::validation_error(po::validation_error::invalid_option_value, "format", format);
  if (eol == "lf" || eol == "crlf")
    g.eol = eol == "crlf" ? gen::Eol::Crlf : gen::Eol::Lf;
  else
    throw po::validation_error(po::validation_error::invalid_option_value, "eol", eol);
  if (std::optional<u64> t = gen::parse_byte_size(target))
    g.target_bytes = *t;
  else
    throw po::validation_error(po::validation_error::invalid_option_value, "target-bytes", target);
  if (g.target_bytes > 0 && vm["messages"].defaulted()) g.messages = -1;
  if (g.format != gen::OutputFormat::Pst &&
      (g.calendar_ratio > 0 || g.contact_ratio > 0 || g.dist_list_ratio > 0 ||
       g.rtf_only_ratio > 0 || g.permute))
    throw po::error("--calendar-ratio, --contact-ratio, --dist-list-ratio, --rtf-only-ratio and "
                    "--encryption apply to --format pst only");
  // Beside the output, never inside an EML or maildir directory ("dir/" -> "dir.jsonl").
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (truth.empty()) truth = out + ".jsonl";
  if (edb) {
    gen::EdbOptions eo;
    eo.mailboxes = vm["mailboxes"].as<i64>();
    eo.page_size = vm["page-size"].as<u32>();
    if (eo.mailboxes < 1) throw po::error("--mailboxes must be at least 1");
    if (eo.page_size != 32768 && eo.page_size != 8192)
      throw po::error("--page-size must be 32768 or 8192");
    if (g.target_bytes > 0) throw po::error("--target-bytes does not apply to --format edb: give --messages");
    Result<gen::EdbStats> e = gen::write_edb_corpus(g, eo, out, truth);
    if (!e) {
      std::cerr << "mailmill generate: " << e.problem().detail << "\n";
      return pipeline::EXIT_FATAL;
    }
    std::cerr << "wrote " << out << ": " << e->gen.messages << " items in " << e->mailboxes.size()
              << " mailboxes, " << e->gen.attachments << " attachments, " << e->gen.pst_bytes
              << " bytes; ground truth in " << truth << "\n";
    for (const gen::EdbMailboxStats &m : e->mailboxes)
      std::cerr << "  mailbox " << m.number << " " << m.owner << ": " << m.folders << " folders, "
                << m.messages << " messages, " << m.hidden << " hidden\n";
    return 0;
  }
  Result<gen::GenStats> r = gen::generate(g, out, truth);
  if (!r) {
    std::cerr << "mailmill generate: " << r.problem().detail << "\n";
    return pipeline::EXIT_FATAL;
  }
  std::cerr << "wrote " << out << ": " << r->messages << " items, " << r->folders
            << " folders, " << r->attachments << " attachments, " << r->duplicates
            << " duplicates, " << r->near_duplicates << " near-duplicates, " << r->pst_bytes
            << " bytes; ground truth in " << truth << "\n";
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  // Large buffers (attachments, encoded output) come and go per item. With glibc's adaptive
  // mmap threshold they move into the heap after the first few and fragment it, so resident
  // memory creeps up with input size; a fixed 1 MiB threshold returns them to the OS. (Tried:
  // a 64 MiB threshold with one arena per core was slower on both benchmark corpora.) glibc's
  // MALLOC_MMAP_THRESHOLD_ environment variable, when set, takes precedence.
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) {
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
  }
  if (std::string error; !apply_cpu_overrides(std::getenv("MAILMILL_CPU"), error)) {
    std::cerr << "mailmill: MAILMILL_CPU: " << error << "\n";
    return pipeline::EXIT_USAGE;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << MAIN_HELP;
    return args.empty() ? pipeline::EXIT_USAGE : 0;
  }
  if (args[0] == "--version") {
    const std::string mpi = pipeline::mpi_library();
    std::cout << "mailmill " << VERSION << "\nMPI: " << (mpi.empty() ? "not built in" : mpi)
              << "\n";
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  // A rank of an MPI job joins it before any thread starts. A build without MPI must not run
  // as N independent processes writing one OUTDIR: it refuses.
  std::unique_ptr<pipeline::Cluster> cluster;
  if (cmd == "convert" && (pipeline::launched_by_mpirun() ||
                           std::find(args.begin(), args.end(), "--mpi") != args.end())) {
    std::string error;
    cluster = pipeline::join_mpi(argc, argv, error);
    if (!cluster) {
      std::cerr << "mailmill convert: cannot join the MPI job: " << error << "\n";
      return pipeline::EXIT_USAGE;
    }
    g_cluster = cluster.get();
  }
  try {
    if (cmd == "convert") return cmd_convert(args, joined_args(argc, argv));
    if (cmd == "inspect") return cmd_inspect(args);
    if (cmd == "generate") return cmd_generate(args);
    if (cmd == "verify") return cmd_verify(args);
    if (cmd == "merge") return cmd_merge(args);
    if (cmd == "upload") return cmd_upload(args);
    std::cerr << "mailmill: unknown command '" << cmd << "' (try mailmill --help)\n";
    return pipeline::EXIT_USAGE;
  } catch (const po::error &e) {
    // Every rank of an MPI job reads the same command line: one says what is wrong with it.
    if (g_cluster == nullptr || g_cluster->rank() == 0)
      std::cerr << "mailmill " << cmd << ": " << e.what() << " (try mailmill " << cmd
                << " --help)\n";
    return pipeline::EXIT_USAGE;
  } catch (const pipeline::JobError &e) {
    // Every rank stops with it; one says why.
    if (g_cluster == nullptr || g_cluster->rank() == 0)
      std::cerr << "mailmill: fatal: " << e.what() << "\n";
    return pipeline::EXIT_FATAL;
  } catch (const FatalError &e) {
    std::cerr << "mailmill: fatal: " << e.what() << "\n";
    return pipeline::EXIT_FATAL;
  } catch (const std::exception &e) {
    std::cerr << "mailmill: fatal: " << e.what() << "\n";
    return pipeline::EXIT_FATAL;
  }
}
