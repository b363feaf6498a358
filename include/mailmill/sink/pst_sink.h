#pragma once
/// Microsoft 365 import batches: Unicode PST files written with pst::PstWriter, split at a size
/// limit, plus the mapping CSV the Microsoft 365 PST Import Service expects.
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "mailmill/sink/sink.h"

namespace mm::sink {

struct PstSinkOptions {
  u64 max_pst_bytes = 20ull * 1000 * 1000 * 1000;  ///< split PSTs at this size (service: 20 GB)
  u64 max_item_bytes = 150ull * 1000 * 1000;       ///< larger items are diverted (service: 150 MB)
  std::string default_mailbox;                     ///< --mailbox
  /// Input path -> mailbox (from --mailbox-map CSV: "source,mailbox[,archive]"); inputs not
  /// listed use default_mailbox.
  std::map<std::string, std::string> mailbox_for_source;
  std::map<std::string, bool> archive_for_source;  ///< IsArchive per input
  std::string target_root_folder = "/";            ///< TargetRootFolder column
  bool permute = false;                            ///< compressible encryption
};

/// Writes OUTDIR/pst/<mailbox>/<name>-NNN.pst and OUTDIR/pst/mapping.csv.
std::unique_ptr<Sink> make_pst_sink(const std::filesystem::path &root, PstSinkOptions opts);

}  // namespace mm::sink
