#pragma once
/// Microsoft 365 import batches: Unicode PST files written with pst::PstWriter, split at a size
/// limit, plus the mapping CSV the Microsoft 365 PST Import Service expects.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/sink/sink.h"
#include "mailmill/util/result.h"

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

/// Deepest folder level written (the service rejects PSTs with folders nested 300 or more
/// levels deep). Levels are counted below the mailbox root, including the components of
/// TargetRootFolder; deeper source folders are flattened into one folder at the last allowed
/// level whose name joins the remaining names with " > ".
inline constexpr std::size_t PST_MAX_FOLDER_DEPTH = 299;

/// Header line of the PST Import Service mapping file (exactly as the service's sample).
inline constexpr std::string_view PST_MAPPING_HEADER =
    "Workload,FilePath,Name,Mailbox,IsArchive,TargetRootFolder,ContentCodePage,SPFileContainer,"
    "SPManifestContainer,SPSiteUrl";

/// One row of the mapping file: one finished PST.
struct PstMappingRow {
  std::string file_path;  ///< folder of the PST inside the upload container ("" = top)
  std::string name;       ///< file name, unique within the mapping file
  std::string mailbox;
  bool is_archive = false;
  std::string target_root_folder;
};

/// The bytes of a mapping file: the header and one row per entry, in the given order, CRLF
/// line ends (RFC 4180), fields quoted only when they contain a comma, quote, CR or LF. Pure.
std::string pst_mapping_csv(const std::vector<PstMappingRow> &rows);

/// Parses a --mailbox-map file: lines "source_path,mailbox[,archive]" (RFC 4180 quoting allowed;
/// archive is true/false/yes/no/1/0, default false); a first line whose mailbox field has no '@'
/// is a header; blank lines are ignored. Fills `opts.mailbox_for_source` and
/// `opts.archive_for_source`. A SourceCorrupt Problem naming the line on malformed input.
Status parse_mailbox_map(std::string_view csv, PstSinkOptions &opts);

/// Writes OUTDIR/pst/<mailbox>/<source>-NNN.pst and OUTDIR/pst/mapping.csv (see pst_sink.cc for
/// the layout and the upload command). `add_source` throws FatalError for an input that has no
/// mailbox (not in the map and no default_mailbox). Not thread-safe, like every Sink.
std::unique_ptr<Sink> make_pst_sink(const std::filesystem::path &root, PstSinkOptions opts);

}  // namespace mm::sink
