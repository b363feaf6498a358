#pragma once
/// The conversion run: inputs -> readers -> model -> MIME/ics/vcf -> sinks, with the ledger.
#include <iosfwd>
#include <string>
#include <vector>

#include "mailmill/pipeline/ledger.h"
#include "mailmill/source/open.h"

namespace mm::pipeline {

enum class OutputFormat : u8 { Mbox, Eml };

/// Process exit codes of `mailmill convert` (also documented in --help).
enum ExitCode : int {
  EXIT_ALL_CONVERTED = 0,  ///< every item written (or deliberately skipped, e.g. dist lists)
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
};

struct ConvertResult {
  Ledger ledger;
  double seconds = 0;
  int exit_code = EXIT_ALL_CONVERTED;
};

/// Runs a conversion. Per-source errors and progress go to `log`; the summary is NOT printed
/// (the caller prints ledger.summary()). Throws FatalError when the output side fails.
ConvertResult run_convert(const ConvertOptions &opts, std::ostream &log);

/// `mailmill inspect`: prints format, encryption, and the folder tree with item counts by
/// type. Returns an exit code.
int run_inspect(const std::string &path, source::Reader reader, std::ostream &out,
                std::ostream &err);

}  // namespace mm::pipeline
