// mailmill command line: the only place Boost.Program_options appears. Parses arguments,
// calls the pipeline, prints the summary, maps outcomes to exit codes.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "mailmill/gen/generate.h"
#include "mailmill/pipeline/convert.h"

namespace po = boost::program_options;
using namespace mm;

namespace {

constexpr const char *VERSION = "0.1.0";

const char *MAIN_HELP = R"(mailmill - convert Outlook PST/OST archives to standard mailboxes

Usage:
  mailmill convert INPUT... -o OUTDIR [--format mbox|eml] [--report FILE] [options]
  mailmill inspect FILE [--reader native|libpff|auto]
  mailmill generate -o FILE.pst [--truth FILE.jsonl] [--seed N] [--messages N] [options]
  mailmill --help | --version
  mailmill COMMAND --help        help for one command

Commands:
  convert   Convert every item of the inputs; write mbox or EML files and an account of
            every item (written / skipped / failed, with reasons).
  inspect   Print a store's format, encryption and folder tree with item counts by type.
  generate  Write a deterministic synthetic PST (and its ground truth as JSONL) for tests
            and benchmarks: the same options always give the same bytes.

Exit codes:
  0  every item was converted (or deliberately skipped, e.g. distribution lists)
  1  some items or whole inputs failed (see the summary and the --report file)
  2  usage error
  3  fatal error (for example the output folder is not writable)
  4  internal accounting error: the counts did not add up (a bug; please report it)
)";

const char *CONVERT_EXAMPLES = R"(
Inputs are PST/OST files or folders searched recursively for *.pst and *.ost.
Output layout (OUTDIR/<input name>/<folder path>):
  mbox: one mboxrd file per folder, "<Folder>.mbox", subfolders in "<Folder>/"
  eml:  one file per message, "<Folder>/<index> <subject>.eml" (stable across runs)
  appointments and tasks become .ics files, contacts .vcf files, in their folder.

Examples:
  mailmill convert archive.pst -o out/
  mailmill convert exports/ -o out/ --format eml --report out/report.json
  mailmill convert a.pst b.ost -o out/ --reader libpff --quiet
)";

source::Reader parse_reader(const std::string &s) {
  if (s == "native") return source::Reader::Native;
  if (s == "libpff") return source::Reader::Libpff;
  if (s == "auto") return source::Reader::Auto;
  throw po::validation_error(po::validation_error::invalid_option_value, "reader", s);
}

std::string joined_args(int argc, char **argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i) out += ' ';
    out += argv[i];
  }
  return out;
}

int cmd_convert(const std::vector<std::string> &args, const std::string &command_line) {
  pipeline::ConvertOptions opts;
  std::string format = "mbox", reader = "auto";
  bool quiet = false;
  po::options_description desc("mailmill convert INPUT... -o OUTDIR [options]");
  desc.add_options()
      ("help,h", "show this help")
      ("output,o", po::value(&opts.out_dir)->required(),
       "output folder (created if missing); nothing is written outside it")
      ("format,f", po::value(&format)->default_value("mbox"),
       "output format: mbox (mboxrd, one file per folder) or eml (one file per message)")
      ("report,r", po::value(&opts.report_path),
       "write a JSON report: totals {seen, written, duplicates, skipped, failed} and, per "
       "input and folder, every skipped or failed item with its reason")
      ("reader", po::value(&reader)->default_value("auto"),
       "PST reader: auto (native, libpff if the file looks damaged), native, or libpff")
      ("quiet,q", po::bool_switch(&quiet), "no progress line, only errors and the summary");
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
  if (opts.inputs.empty()) throw po::error("no INPUT given (a PST/OST file or a folder)");
  if (format == "mbox")
    opts.format = pipeline::OutputFormat::Mbox;
  else if (format == "eml")
    opts.format = pipeline::OutputFormat::Eml;
  else
    throw po::validation_error(po::validation_error::invalid_option_value, "format", format);
  opts.reader = parse_reader(reader);
  opts.progress = !quiet && isatty(STDERR_FILENO);
  opts.command_line = command_line;
  pipeline::ConvertResult r = pipeline::run_convert(opts, std::cerr);
  std::cerr << r.ledger.summary();
  return r.exit_code;
}

int cmd_inspect(const std::vector<std::string> &args) {
  std::string file, reader = "auto";
  po::options_description desc("mailmill inspect FILE [options]");
  desc.add_options()("help,h", "show this help")(
      "reader", po::value(&reader)->default_value("auto"), "auto, native or libpff");
  po::options_description hidden;
  hidden.add_options()("file", po::value(&file));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\nExample:\n  mailmill inspect archive.pst\n";
    return 0;
  }
  po::notify(vm);
  if (file.empty()) throw po::error("no FILE given");
  return pipeline::run_inspect(file, parse_reader(reader), std::cout, std::cerr);
}

int cmd_generate(const std::vector<std::string> &args) {
  gen::GenOptions g;
  std::string out, truth, encryption = "none";
  po::options_description desc("mailmill generate -o FILE.pst [options]");
  desc.add_options()
      ("help,h", "show this help")
      ("output,o", po::value(&out)->required(), "PST file to write (overwritten)")
      ("truth", po::value(&truth), "ground-truth JSONL to write (default: FILE.pst.jsonl)")
      ("seed", po::value(&g.seed)->default_value(g.seed), "PRNG seed")
      ("messages,n", po::value(&g.messages)->default_value(g.messages),
       "number of top-level items; -1 = until --target-bytes")
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
       "share of messages whose only body is RTF")
      ("non-ascii-ratio", po::value(&g.non_ascii_ratio)->default_value(g.non_ascii_ratio),
       "share with accented Latin, Cyrillic, CJK or emoji text")
      ("transport-headers-ratio",
       po::value(&g.transport_headers_ratio)->default_value(g.transport_headers_ratio),
       "share with PR_TRANSPORT_MESSAGE_HEADERS")
      ("embedded-ratio", po::value(&g.embedded_ratio)->default_value(g.embedded_ratio),
       "share carrying an attached message")
      ("calendar-ratio", po::value(&g.calendar_ratio)->default_value(g.calendar_ratio),
       "share of appointments")
      ("contact-ratio", po::value(&g.contact_ratio)->default_value(g.contact_ratio),
       "share of contacts")
      ("duplicate-ratio", po::value(&g.duplicate_ratio)->default_value(g.duplicate_ratio),
       "share of exact copies of earlier messages (in other folders)")
      ("near-duplicate-ratio",
       po::value(&g.near_duplicate_ratio)->default_value(g.near_duplicate_ratio),
       "share of copies differing only in transport headers")
      ("target-bytes", po::value(&g.target_bytes)->default_value(0),
       "stop once the PST reaches this size (0 = no limit)")
      ("encryption", po::value(&encryption)->default_value("none"), "none or compressible");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nExamples:\n  mailmill generate -o sample.pst --messages 1000 --seed 7\n"
                 "  mailmill generate -o big.pst -n 200000 --attachment-ratio 0.05\n";
    return 0;
  }
  po::notify(vm);
  if (encryption == "compressible" || encryption == "permute")
    g.permute = true;
  else if (encryption != "none")
    throw po::validation_error(po::validation_error::invalid_option_value, "encryption",
                               encryption);
  if (truth.empty()) truth = out + ".jsonl";
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
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << MAIN_HELP;
    return args.empty() ? pipeline::EXIT_USAGE : 0;
  }
  if (args[0] == "--version") {
    std::cout << "mailmill " << VERSION << "\n";
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "convert") return cmd_convert(args, joined_args(argc, argv));
    if (cmd == "inspect") return cmd_inspect(args);
    if (cmd == "generate") return cmd_generate(args);
    std::cerr << "mailmill: unknown command '" << cmd << "' (try mailmill --help)\n";
    return pipeline::EXIT_USAGE;
  } catch (const po::error &e) {
    std::cerr << "mailmill " << cmd << ": " << e.what() << " (try mailmill " << cmd
              << " --help)\n";
    return pipeline::EXIT_USAGE;
  } catch (const FatalError &e) {
    std::cerr << "mailmill: fatal: " << e.what() << "\n";
    return pipeline::EXIT_FATAL;
  } catch (const std::exception &e) {
    std::cerr << "mailmill: fatal: " << e.what() << "\n";
    return pipeline::EXIT_FATAL;
  }
}
