// The mbox store: one folder named after the file, one item per entry (ids 1..n in file
// order). The file is split once at open (mbox_scan.cc); items are read with pread into owned
// bytes rather than mapped, so that a file that shrinks while it is read gives a Problem
// instead of SIGBUS.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "mailmill/source/detect.h"
#include "mbox_scan.h"
#include "tree_io.h"

namespace mm::source {
namespace {

constexpr u64 FOLDER_ID = 1;

// What every handle on one file shares: the descriptor (pread needs no cursor, so one fd
// serves all handles), the scan, and the once-set "input changed" problem.
struct MboxFile {
  int fd = -1;
  std::string path;
  mbox::Scan scan;
  mapi::StoreInfo info;
  std::string folder_name;
  mapi::NameMap names;

  std::atomic<bool> changed{false};
  mutable std::mutex change_mu;
  std::optional<Problem> change;

  ~MboxFile() {
    if (fd >= 0) ::close(fd);
  }

  void mark_changed(const Problem &p) {
    std::lock_guard<std::mutex> lock(change_mu);
    if (!change) change = p;
    changed.store(true, std::memory_order_release);
  }

  std::optional<Problem> change_problem() const {
    if (!changed.load(std::memory_order_acquire)) return std::nullopt;
    std::lock_guard<std::mutex> lock(change_mu);
    return change;
  }
};


class MboxStore final : public mapi::MailStore {
 public:
  explicit MboxStore(std::shared_ptr<MboxFile> file) : file_(std::move(file)) {}

  const mapi::StoreInfo &info() const override { return file_->info; }
  const mapi::NameMap &names() const override { return file_->names; }
  const char *reader_name() const override { return "mbox"; }
  Result<mapi::PropertyBag> store_properties() override { return mapi::PropertyBag{}; }
  std::optional<Problem> input_changed() const override { return file_->change_problem(); }
  Result<std::unique_ptr<mapi::MailStore>> open_another() const override {
    return std::unique_ptr<mapi::MailStore>(std::make_unique<MboxStore>(file_));
  }

  Result<std::vector<mapi::FolderInfo>> folders() override {
    mapi::FolderInfo f;
    f.node_id = FOLDER_ID;
    f.path = {file_->folder_name};
    f.container_class = "IPF.Note";
    f.content_count = static_cast<i64>(file_->scan.entries.size());
    return std::vector<mapi::FolderInfo>{std::move(f)};
  }

  Result<std::vector<u64>> items_in(u64 folder_id) override {
    if (folder_id != FOLDER_ID)
      return Problem{ProblemCode::SourceCorrupt, "no folder " + std::to_string(folder_id), -1};
    std::vector<u64> ids(file_->scan.entries.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = i + 1;
    return ids;
  }

  Result<mapi::RawMessage> read_item(u64 id) override {
    const std::vector<mbox::Entry> &entries = file_->scan.entries;
    if (id == 0 || id > entries.size())
      return Problem{ProblemCode::ItemUnreadable, "no entry #" + std::to_string(id), -1};
    if (std::optional<Problem> p = file_->change_problem()) return *p;
    const mbox::Entry &e = entries[id - 1];
    const u64 len = e.end - e.from_off;
    if (e.end - e.body_off > mbox::MAX_ENTRY_BYTES) {
      return Problem{ProblemCode::LimitExceeded,
                     "entry #" + std::to_string(id) + " is " + std::to_string(e.end - e.body_off) +
                         " bytes (limit " + std::to_string(mbox::MAX_ENTRY_BYTES) + ")",
                     static_cast<i64>(e.from_off)};
    }
    struct stat st {};
    if (::fstat(file_->fd, &st) != 0)
      return Problem{ProblemCode::SourceUnreadable, std::strerror(errno), -1};
    if (static_cast<u64>(st.st_size) < file_->scan.file_size) {
      return changed(
          Problem{ProblemCode::SourceTruncated,
                  file_->path + " shrank while it was read: " + std::to_string(st.st_size) +
                      " bytes, " + std::to_string(file_->scan.file_size) + " when it was opened",
                  static_cast<i64>(st.st_size)});
    }
    Bytes buf(len, '\0');
    const i64 got = tree::pread_full(file_->fd, buf.data(), len, e.from_off);
    if (got < 0) return Problem{ProblemCode::SourceUnreadable, std::strerror(errno), -1};
    if (static_cast<u64>(got) < len) {
      return changed(Problem{ProblemCode::SourceTruncated,
                             file_->path + " shrank while it was read: entry #" +
                                 std::to_string(id) + " ends at " + std::to_string(e.end) +
                                 ", the file now ends at " + std::to_string(e.from_off + got),
                             static_cast<i64>(e.from_off + got)});
    }
    const std::size_t from_len = static_cast<std::size_t>(e.body_off - e.from_off);
    std::string_view from_line(buf.data(), from_len);
    if (e.from_off == 0 && from_line.substr(0, 3) == "\xEF\xBB\xBF") from_line.remove_prefix(3);
    if (from_line.substr(0, 5) != "From ") {
      return changed(Problem{ProblemCode::SourceCorrupt,
                             file_->path + " was rewritten while it was read: entry #" +
                                 std::to_string(id) + " no longer starts with a From_ line",
                             static_cast<i64>(e.from_off)});
    }
    const mbox::FromLine from = mbox::parse_from_line(from_line);
    buf.erase(0, from_len);
    const bool maybe_quoted = file_->scan.dialect != mbox::Dialect::Mboxcl2 &&
                              (buf.starts_with('>') || buf.find("\n>") != Bytes::npos);
    if (maybe_quoted) buf = mbox::unquote(buf, file_->scan.dialect);

    mapi::RawMessage msg;
    msg.node_id = id;
    mapi::InternetMessage im;
    im.flags = mbox::parse_status_flags(buf);
    im.received = from.date;
    im.envelope_sender = from.sender;
    im.bytes = Blob(std::move(buf));
    msg.internet = std::move(im);
    if (e.truncated) {
      msg.warnings.push_back(Problem{ProblemCode::SourceTruncated,
                                     "entry #" + std::to_string(id) +
                                         " is cut off: its Content-Length reaches past the end "
                                         "of the file",
                                     static_cast<i64>(e.from_off)});
    }
    return msg;
  }

  Result<mapi::Census> census() override {
    Result<i64> n = mbox::census_count(file_->fd, file_->scan.file_size, file_->scan.dialect);
    if (!n) return n.problem();
    mapi::Census c;
    c.basis = "mbox-from-lines";
    c.message_nodes = *n;
    c.folder_nodes = 1;
    mapi::CensusFolder f;
    f.folder_id = FOLDER_ID;
    f.rows = *n;
    f.items = *n;
    c.folders.push_back(f);
    return c;
  }

 private:
  Problem changed(Problem p) {
    file_->mark_changed(p);
    return p;
  }

  std::shared_ptr<MboxFile> file_;
};

}  // namespace

Result<std::unique_ptr<mapi::MailStore>> open_mbox(const std::string &path) {
  auto file = std::make_shared<MboxFile>();
  file->path = path;
  file->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd < 0) {
    return Problem{ProblemCode::SourceUnreadable,
                   "cannot open " + path + ": " + std::strerror(errno), -1};
  }
  struct stat st {};
  if (::fstat(file->fd, &st) != 0 || !S_ISREG(st.st_mode))
    return Problem{ProblemCode::SourceUnreadable, path + " is not a regular file", -1};
  Result<mbox::Scan> scan = mbox::scan_mbox(file->fd, static_cast<u64>(st.st_size));
  if (!scan) {
    Problem p = scan.problem();
    p.detail = path + ": " + p.detail;
    return p;
  }
  file->scan = std::move(*scan);
  const std::filesystem::path fp(path);
  file->folder_name = fp.stem().string();
  if (file->folder_name.empty()) file->folder_name = fp.filename().string();
  if (file->folder_name.empty()) file->folder_name = "mbox";
  mapi::StoreInfo &info = file->info;
  info.kind = "mbox";
  info.detail = file->scan.detail;
  info.file_size = file->scan.file_size;
  info.display_name = fp.filename().string();
  info.warnings = file->scan.warnings;
  return std::unique_ptr<mapi::MailStore>(std::make_unique<MboxStore>(std::move(file)));
}

}  // namespace mm::source
