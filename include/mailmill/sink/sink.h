#pragma once
/// Output writers. A Sink receives finished bytes (MIME messages, .ics/.vcf files) with the
/// folder they belong to and decides names and framing. All paths are created below the
/// sink's root through sink::paths, so nothing is written outside it. Not thread-safe: the
/// pipeline calls a sink from its serial stage only. I/O failures throw FatalError (the output
/// side is broken; the run cannot continue meaningfully).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mailmill/sink/paths.h"
#include "mailmill/util/types.h"

namespace mm::sink {

enum class Format : u8 { Mbox, Eml };

/// Where a message goes: the source it came from and its folder path (raw names).
struct Destination {
  std::string source_key;          ///< unique per input (see Sink::add_source)
  std::vector<std::string> folder; ///< raw folder names below the store root
};

/// One finished message for the sink.
struct OutMessage {
  ByteView bytes;                 ///< RFC 5322 bytes (LF for mbox, CRLF for eml)
  std::string envelope_sender;    ///< mbox From_ line sender
  i64 date = 0;                   ///< mbox From_ line date (unix seconds)
  i64 index_in_folder = 0;        ///< position in the folder's contents table (stable names)
  std::string subject;            ///< for readable EML file names
};

class Sink {
 public:
  virtual ~Sink() = default;
  /// Registers an input and returns its key: a unique, sanitized directory name derived from
  /// the file name ("archive.pst" -> "archive", a second "archive.pst" -> "archive (2)").
  std::string add_source(const std::string &input_path);
  /// Writes one message; returns its location relative to the root ("a/b/Inbox.mbox#12" or
  /// "a/b/Inbox/00012 Subject.eml").
  virtual std::string write_message(const Destination &dest, const OutMessage &msg) = 0;
  /// Writes a standalone file (.ics, .vcf) into the folder's directory; returns its location.
  std::string write_file(const Destination &dest, i64 index_in_folder, std::string_view title,
                         std::string_view ext, ByteView bytes);
  /// Flushes and closes everything. Called once at the end of a successful run.
  virtual void finish() = 0;

  const std::filesystem::path &root() const { return root_; }

 protected:
  explicit Sink(std::filesystem::path root);
  /// Absolute directory for a folder, created on demand.
  std::filesystem::path folder_dir(const Destination &dest);
  /// Namer of the files directly inside a folder's directory.
  UniqueNamer &namer_in(const Destination &dest);
  /// Namer of the folder's parent directory and the folder's own directory name.
  std::pair<UniqueNamer *, std::string> parent_and_name(const Destination &dest);
  /// Relative path of a folder's directory (from root).
  std::string folder_rel(const Destination &dest);

  std::filesystem::path root_;

 private:
  UniqueNamer sources_;
  std::map<std::string, FolderMap> folders_;  // source key -> folder map
};

/// One mboxrd file per folder: <parent dir>/<folder name>.mbox, subfolders in <folder name>/.
std::unique_ptr<Sink> make_mbox_sink(const std::filesystem::path &root);
/// One .eml per message in the folder's directory, named "<index> <subject>.eml".
std::unique_ptr<Sink> make_eml_sink(const std::filesystem::path &root);

/// Writes all of `bytes` to `path` (created/truncated); throws FatalError on failure.
void write_whole_file(const std::filesystem::path &path, ByteView bytes);

}  // namespace mm::sink
