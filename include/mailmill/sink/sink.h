#pragma once
/// Output writers. A Sink receives finished bytes (MIME messages, .ics/.vcf files) with the
/// folder they belong to and decides names and framing. All paths are created below the
/// sink's root through sink::paths, so nothing is written outside it. Not thread-safe: the
/// pipeline calls a sink from its serial stage only. I/O failures throw FatalError (the output
/// side is broken; the run cannot continue meaningfully).
///
/// Crash safety: files a sink appends to (mbox files, batch files) are "tracked": the sink
/// announces each one through `on_new_tracked_file` before creating it and reports their sizes
/// in `tracked_sizes()`; after a crash the pipeline truncates them to the sizes of its last
/// commit and calls `resume()`. Files written whole (EML, ICS, VCF) are rewritten identically
/// by a resumed run, so they need no tracking.
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mailmill/model/item.h"
#include "mailmill/sink/paths.h"
#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::sink {

enum class Format : u8 { Mbox, Eml, Batch, Pst };

/// What the pipeline's parallel stage builds for a sink's messages (Sink::form).
enum class Form : u8 {
  MimeCrlf,  ///< RFC 5322 bytes with CRLF line ends (EML files)
  MimeLf,    ///< RFC 5322 bytes with LF line ends
  Mboxrd,    ///< a complete mboxrd entry: From_ line, >From quoting, separator (OutMessage::framed)
  Model,     ///< the message model itself, no MIME (MAPI stores; Sink::write_model)
};

/// Where a message goes: the source it came from and its folder path (raw names).
struct Destination {
  std::string source_key;          ///< unique per input (see Sink::add_source)
  std::vector<std::string> folder; ///< raw folder names below the store root
};

/// One finished item for the sink.
struct OutMessage {
  /// A message, or an item that goes beside the messages as a file of its own (calendar
  /// items as .ics, contacts as .vcf) in MIME-writing sinks.
  enum class Kind : u8 { Message, Calendar, Card } kind = Kind::Message;
  ByteView bytes;                 ///< RFC 5322 bytes (LF for mbox/batch, CRLF for eml)
  /// The item's model instead of bytes, for sinks that write MAPI stores (form() Model).
  const model::Message *model = nullptr;
  std::string envelope_sender;    ///< mbox From_ line sender
  i64 date = 0;                   ///< mbox From_ line date (unix seconds)
  i64 index_in_folder = 0;        ///< position in the folder's contents table (stable names)
  std::string subject;            ///< for readable EML file names
  u64 seq = 0;                    ///< global sequence number (batch manifests)
  std::string label;              ///< folder label for upload profiles (batch manifests)
  std::string raw_sha256;         ///< hex sha256 of `bytes` (batch manifests)
  std::string message_id;
  std::string flags;  ///< "read,answered,forwarded,flagged,draft" subset (maildir info, mbox)
  /// True when `bytes` is already a complete mboxrd entry (From_ line, quoting, separator),
  /// framed by the pipeline's parallel stage; mbox-based sinks then write it as it is.
  bool framed = false;
  u64 size = 0;  ///< size of the message itself (without framing) when `framed`
  /// When set, the owner of `bytes`: a sink that writes later (in the background) may move
  /// the buffer out instead of copying it.
  Bytes *steal = nullptr;
  /// True when `bytes` is one complete zstd frame (made by FrameCompressor) of the mboxrd entry;
  /// implies `framed`. Only the batch sink accepts compressed messages.
  bool compressed = false;
  u64 framed_size = 0;  ///< size of the uncompressed mboxrd entry when `compressed`
};

/// Compresses mboxrd entries into self-contained zstd frames (RFC 8878 section 3.1.1: content
/// size and checksum in the frame), the unit batch files are made of. Frames depend only on
/// the input and the level, never on the context's history or the thread. Holds one zstd
/// context and an output buffer, reused across calls; not thread-safe: one per thread.
class FrameCompressor {
 public:
  /// Throws FatalError when zstd cannot allocate its context.
  explicit FrameCompressor(int level);
  ~FrameCompressor();
  FrameCompressor(const FrameCompressor &) = delete;
  FrameCompressor &operator=(const FrameCompressor &) = delete;
  /// Returns one complete zstd frame of `in`, valid until the next call. Throws FatalError
  /// when zstd fails (it can only run out of memory).
  ByteView compress(ByteView in);
  /// The same frame written into `out` (resized to fit it), so callers can use their own
  /// (recycled) buffers instead of this object's. An `out` that already holds bound(in.size())
  /// bytes (BufferPool::take_sized) is written over without being zero-filled first.
  void compress_into(ByteView in, Bytes &out);
  /// The largest frame `n` input bytes can give.
  static std::size_t bound(std::size_t n);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  Bytes out_;
};

/// What the pipeline's parallel stage does next with an item it built in the sink's form
/// (Sink::triage).
enum class Next : u8 {
  Prepare,      ///< a message for the sink's stream: the thread's Preparer (if any) works on it
  Keep,         ///< written as built (an oversize file, or the bytes are in the spill file)
  RebuildPlain, ///< over the size limit but framed: build it again as plain MIME with LF ends
};

/// Where Sink::write put an item.
struct Placed {
  std::string location;  ///< relative to the root, as write_message returns it
  /// Non-empty when the item went somewhere else than the folder's stream because of its size
  /// (the pipeline records it as a warning with code "Oversize").
  std::string oversize;
  /// Set when the item could not be written at all (an oversize model that cannot be built
  /// as MIME); nothing was written then.
  std::optional<Problem> failed;
};

/// A sink's share of the pipeline's parallel stage: the work on a finished message that does
/// not depend on what was written before it (the batch sink compresses it into its zstd frame
/// there), so that the serial write_message only appends. One per thread, made by
/// Sink::make_preparer; not thread-safe.
class Preparer {
 public:
  virtual ~Preparer() = default;
  /// Replaces `bytes`, one message in the sink's form held in memory, by what write_message
  /// takes, and sets `compressed` when that is a zstd frame (OutMessage::compressed). The
  /// result must depend only on the bytes (output is the same for any thread count). Throws
  /// FatalError when out of memory.
  virtual void prepare(Bytes &bytes, bool &compressed) = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  /// The form its messages are built in, in the parallel stage (default: MIME with LF).
  virtual Form form() const { return Form::MimeLf; }
  /// A preparer for one thread of the parallel stage, or nullptr when the sink needs none
  /// (then messages reach write_message as built). Thread-safe: reads only the sink's options.
  virtual std::unique_ptr<Preparer> make_preparer() const { return nullptr; }
  /// Registers an input and returns its key: a unique, sanitized directory name derived from
  /// the file name ("archive.pst" -> "archive", a second "archive.pst" -> "archive (2)").
  /// Overrides (the PST sink records per-input settings) must call this base version.
  virtual std::string add_source(const std::string &input_path);
  /// Keeps `key` from being handed out (used by an earlier run in the same folder).
  void reserve_source_key(const std::string &key);
  /// Claims the names of a folder (directory, and for mbox its file) ahead of any write, so
  /// that names depend only on the folder tree, never on which items were written first.
  virtual void register_folder(const Destination &dest);
  /// Sets the largest message the sink puts into its folders' streams (0: no limit). A larger
  /// one goes whole to oversize/<folder>/ as an .eml file instead (upload profiles' and the
  /// import service's limits), reported in Placed::oversize. Set before any write.
  void set_message_limit(u64 bytes) { limit_ = bytes; }
  /// Decides, in the parallel stage, what happens to an item built in form() (`size`: of the
  /// message itself; `framed`: built as an mboxrd entry; `in_memory`: not in the spill file).
  /// Thread-safe: reads only the sink's options.
  Next triage(u64 size, bool framed, bool in_memory) const;
  /// Called in the serial stage before write() with the same item, ahead of the pipeline's
  /// chance to commit: the sink closes a full batch or PST part here (before_write), so that
  /// a commit point falls between two items.
  void announce(const OutMessage &msg);
  /// Writes one item where it belongs: a message into its folder's stream (write_message or
  /// write_model), a calendar item or contact as a file, an oversize message to oversize/.
  Placed write(const Destination &dest, const OutMessage &msg);

  /// Writes one message; returns its location relative to the root ("a/b/Inbox.mbox#12",
  /// "a/b/Inbox/00012 Subject.eml", "batches/batch-000003.mbox.zst#7").
  virtual std::string write_message(const Destination &dest, const OutMessage &msg) = 0;
  /// True for sinks that write MAPI stores (PST) from the message model instead of MIME bytes
  /// (form() is Form::Model); the pipeline then calls write_model for every item kind and
  /// builds no MIME.
  bool wants_model() const { return form() == Form::Model; }
  /// Writes one item from its model (wants_model sinks only); `meta` carries seq, index,
  /// label and the size estimate (`meta.bytes` is empty). Returns the location.
  virtual std::string write_model(const Destination &dest, const model::Message &msg,
                                  const OutMessage &meta) {
    return {};
  }
  /// Writes a standalone file (.ics, .vcf, oversize .eml) into the folder's directory (under
  /// `top` when not empty, e.g. "oversize"); returns its location.
  std::string write_file(const Destination &dest, i64 index_in_folder, std::string_view title,
                         std::string_view ext, ByteView bytes, const std::string &top = "");
  /// Announces the size of the next message before write_message (the batch sink closes a full
  /// batch here, so that a commit point falls between the two messages).
  virtual void before_write(u64 size) {}
  /// The same for a message the pipeline has framed already: `framed_size` is the exact size
  /// of its mboxrd entry (OutMessage::framed_size). The default forwards `size` to before_write.
  virtual void before_write_framed(u64 size, u64 framed_size) { before_write(size); }
  /// True when every written item so far is durable once the files are flushed (always, except
  /// for the batch sink in the middle of a batch).
  virtual bool at_commit_point() const { return true; }
  /// Flushes buffered data of tracked files to the OS.
  virtual void flush() {}
  /// Current sizes of tracked files, relative path -> bytes.
  virtual std::map<std::string, u64> tracked_sizes() const { return {}; }
  /// Called once before any write when resuming: `committed` are the tracked files of the run
  /// with the sizes they had been truncated to.
  virtual void resume(const std::map<std::string, u64> &committed) {}
  /// Flushes and closes everything. Called once at the end of a successful run.
  virtual void finish() = 0;

  /// Called with the relative path of each tracked file before it is created.
  std::function<void(const std::string &)> on_new_tracked_file;

  const std::filesystem::path &root() const { return root_; }

 protected:
  explicit Sink(std::filesystem::path root);
  /// Absolute directory for a folder, created on demand.
  std::filesystem::path folder_dir(const Destination &dest, const std::string &top = "");
  /// Namer of the files directly inside a folder's directory.
  UniqueNamer &namer_in(const Destination &dest);
  /// Namer of the folder's parent directory and the folder's own directory name.
  std::pair<UniqueNamer *, std::string> parent_and_name(const Destination &dest);
  /// Relative path of a folder's directory (from root).
  std::string folder_rel(const Destination &dest);
  /// Claims the file name for a standalone file (see write_file); returns its absolute path
  /// (directories created) and its location relative to the root.
  std::pair<std::filesystem::path, std::string> place_file(const Destination &dest,
                                                           i64 index_in_folder,
                                                           std::string_view title,
                                                           std::string_view ext,
                                                           const std::string &top = "");

  std::filesystem::path root_;

 private:
  bool oversize(u64 size) const { return limit_ != 0 && size > limit_; }
  u64 limit_ = 0;
  UniqueNamer sources_;
  std::map<std::string, FolderMap> folders_;  // source key -> folder map
  std::set<std::filesystem::path> made_dirs_;  // directories known to exist
};

/// One mboxrd file per folder: <parent dir>/<folder name>.mbox, subfolders in <folder name>/.
std::unique_ptr<Sink> make_mbox_sink(const std::filesystem::path &root);
/// One .eml per message in the folder's directory, named "<index> <subject>.eml".
std::unique_ptr<Sink> make_eml_sink(const std::filesystem::path &root);
/// A Maildir++ tree per input, as Dovecot and Courier read it: <root>/<source key>/ is the
/// maildir root (cur/ new/ tmp/) and holds the store's top folder and a top-level "Inbox"
/// (any case: Dovecot's INBOX); folder A/B is the subdirectory ".A.B" with a "maildirfolder"
/// file, names in IMAP modified UTF-7 with '.', '/', '\', '~' escaped as \NN (Dovecot's
/// listescape), '*' and '%' (which Dovecot cannot open) as '_', long names cut with a hash.
/// Each message is a file in cur/ named from its sequence and bytes ("<seq>.<16 hex of raw
/// sha256>.mailmill:2,<flags>", flags DFPRS from OutMessage::flags), written to tmp/ and
/// renamed, so a reader never sees half a message and a rerun writes the same names.
/// .ics/.vcf files go beside, in the folder's directory, as with the EML sink.
std::unique_ptr<Sink> make_maildir_sink(const std::filesystem::path &root);

struct BatchOptions {
  u64 max_bytes = 1ull << 30;  ///< uncompressed bytes per batch
  i64 max_messages = 50000;    ///< messages per batch
  int zstd_level = 3;
};
/// Upload-ready batches: batches/batch-NNNNNN.mbox.zst (mboxrd, one zstd frame per message,
/// concatenated), each with batch-NNNNNN.manifest.jsonl (one line per message: index in the
/// batch, seq, label, message_id, raw_sha256, bytes, and zst_offset/zst_bytes locating its
/// frame in the .mbox.zst) and batch-NNNNNN.mbox.zst.sha256 (sha256sum format). A batch file
/// is complete only once renamed from its ".part" name. write_message takes compressed
/// (OutMessage::compressed), framed or plain messages.
std::unique_ptr<Sink> make_batch_sink(const std::filesystem::path &root, BatchOptions opts);

/// Writes all of `bytes` to `path` (created/truncated); throws FatalError on failure.
void write_whole_file(const std::filesystem::path &path, ByteView bytes);

}  // namespace mm::sink
