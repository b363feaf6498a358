#include "mailmill/sink/sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "mailmill/mime/build.h"
#include "mailmill/mime/mbox.h"
#include "mailmill/util/append_file.h"
#include "mailmill/util/buffer_pool.h"
#include "mailmill/util/result.h"
#include "sink_impl.h"

namespace mm::sink {
namespace fs = std::filesystem;

namespace {

std::string file_stem_of(const std::string &input_path) {
  std::string name = fs::path(input_path).filename().string();
  auto dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

// A readable, bounded title for file names ("Re: budget" -> "Re_ budget").
std::string title_component(std::string_view title) {
  std::string t = sanitize_component(title, 60);
  return t == "_" ? std::string("untitled") : t;
}

std::string index_prefix(i64 index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05lld", static_cast<long long>(index));
  return buf;
}

std::string folder_key(const Destination &dest) {
  std::string key = dest.source_key;
  for (const auto &c : dest.folder) key += '\x1f' + c;
  return key;
}

}  // namespace

[[noreturn]] void fail_io(const std::string &what, const fs::path &p) {
  throw FatalError(what + " " + p.string() + ": " + std::strerror(errno));
}

void make_dirs(const fs::path &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FatalError("cannot create directory " + dir.string() + ": " + ec.message());
}

// Writes bytes[from..] at their own offsets into `fd`, then closes it; throws naming `path`.
void write_rest_and_close(int fd, ByteView bytes, std::size_t from, const fs::path &path) {
  while (from < bytes.size()) {
    ssize_t n = ::pwrite(fd, bytes.data() + from, bytes.size() - from, static_cast<off_t>(from));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      fail_io("cannot write", path);
    }
    from += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) fail_io("cannot write", path);
}

void write_whole_file(const fs::path &path, ByteView bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_io("cannot create", path);
  write_rest_and_close(fd, bytes, 0, path);
}

Sink::Sink(fs::path root) : root_(std::move(root)) { make_dirs(root_); }

std::string Sink::add_source(const std::string &input_path) {
  std::string key = sources_.claim(sanitize_component(file_stem_of(input_path)));
  folders_[key];
  return key;
}

void Sink::reserve_source_key(const std::string &key) { sources_.reserve(key); }

void Sink::register_folder(const Destination &dest) { folders_[dest.source_key].dir_for(dest.folder); }

std::string Sink::folder_rel(const Destination &dest) {
  const std::string &rel = folders_[dest.source_key].dir_for(dest.folder);
  return rel.empty() ? dest.source_key : dest.source_key + "/" + rel;
}

fs::path Sink::folder_dir(const Destination &dest, const std::string &top) {
  fs::path dir = top.empty() ? root_ / folder_rel(dest) : root_ / top / folder_rel(dest);
  if (made_dirs_.insert(dir).second) make_dirs(dir);
  return dir;
}

UniqueNamer &Sink::namer_in(const Destination &dest) {
  return folders_[dest.source_key].namer_in(dest.folder);
}

std::pair<UniqueNamer *, std::string> Sink::parent_and_name(const Destination &dest) {
  FolderMap &fm = folders_[dest.source_key];
  const std::string &rel = fm.dir_for(dest.folder);
  if (dest.folder.empty()) return {&fm.namer_in({}), std::string("_root")};
  std::vector<std::string> parent(dest.folder.begin(), dest.folder.end() - 1);
  auto slash = rel.rfind('/');
  return {&fm.namer_in(parent), slash == std::string::npos ? rel : rel.substr(slash + 1)};
}

std::pair<fs::path, std::string> Sink::place_file(const Destination &dest, i64 index_in_folder,
                                                  std::string_view title, std::string_view ext,
                                                  const std::string &top) {
  fs::path dir = folder_dir(dest, top);
  // The index prefix makes names unique within a folder by construction; the namer only
  // guards against a subfolder that happens to carry the same name.
  std::string name =
      namer_in(dest).claim(index_prefix(index_in_folder) + " " + title_component(title), ext);
  return {dir / name, (top.empty() ? "" : top + "/") + folder_rel(dest) + "/" + name};
}

std::string Sink::write_file(const Destination &dest, i64 index_in_folder, std::string_view title,
                             std::string_view ext, ByteView bytes, const std::string &top) {
  auto [path, location] = place_file(dest, index_in_folder, title, ext, top);
  write_whole_file(path, bytes);
  return location;
}

Next Sink::triage(u64 size, bool framed, bool in_memory) const {
  // An oversize message becomes a file of its own: an mboxrd entry is not what goes there.
  if (oversize(size)) return framed ? Next::RebuildPlain : Next::Keep;
  return in_memory ? Next::Prepare : Next::Keep;
}

void Sink::announce(const OutMessage &msg) {
  if (msg.kind != OutMessage::Kind::Message && !msg.model) return;  // a file beside the stream
  if (oversize(msg.size)) return;                                      // a file under oversize/
  if (msg.framed)
    before_write_framed(msg.size, msg.framed_size);
  else
    before_write(msg.size);
}

Placed Sink::write(const Destination &dest, const OutMessage &msg) {
  Placed placed;
  auto to_oversize = [&](ByteView bytes, const char *what) {
    placed.location = write_file(dest, msg.index_in_folder, msg.subject, ".eml", bytes, "oversize");
    placed.oversize = std::string(what) + std::to_string(msg.size) + " bytes is over the " +
                      (msg.model ? "limit of " : "profile limit of ") + std::to_string(limit_) +
                      "; written to " + placed.location;
  };
  if (msg.model) {
    if (oversize(msg.size)) {
      // Over the import service's item limit: kept whole as an EML (the size is an estimate).
      Result<mime::Built> built = mime::build_message(*msg.model, mime::BuildOptions{});
      if (!built) {
        placed.failed = built.problem();
        return placed;
      }
      to_oversize(built->bytes, "item of about ");
    } else {
      placed.location = write_model(dest, *msg.model, msg);
    }
  } else if (msg.kind == OutMessage::Kind::Calendar) {
    placed.location = write_file(dest, msg.index_in_folder, msg.subject, ".ics", msg.bytes);
  } else if (msg.kind == OutMessage::Kind::Card) {
    placed.location = write_file(dest, msg.index_in_folder, msg.subject, ".vcf", msg.bytes);
  } else if (oversize(msg.size)) {
    to_oversize(msg.bytes, "message of ");  // over the upload profile's limit
  } else {
    placed.location = write_message(dest, msg);
  }
  return placed;
}

namespace {

class MboxSink final : public Sink {
 public:
  // Entries are framed as they are built, in the parallel stage.
  Form form() const override { return Form::Mboxrd; }
  explicit MboxSink(fs::path root) : Sink(std::move(root)) {}

  void register_folder(const Destination &dest) override { entry_for(dest); }

  std::string write_message(const Destination &dest, const OutMessage &msg) override {
    File &o = entry_for(dest);
    if (!o.file) {
      if (on_new_tracked_file) on_new_tracked_file(o.rel);
      make_dirs(o.path.parent_path());
      o.file = std::make_unique<util::AppendFile>(o.path, util::AppendFile::Open::Append,
                                                  util::default_io_mode(), kChunk);
    }
    activate(o);
    scratch_.clear();
    if (!msg.framed) mime::append_mboxrd(scratch_, msg.bytes, msg.envelope_sender, msg.date);
    ByteView entry = msg.framed ? msg.bytes : ByteView(scratch_);
    o.file->append(entry);
    o.size += entry.size();
    ++o.count;
    return o.rel + "#" + std::to_string(o.count);
  }

  void flush() override {
    for (auto &[k, o] : files_)
      if (o.file) o.file->sync_tail();
  }

  std::map<std::string, u64> tracked_sizes() const override {
    std::map<std::string, u64> out;
    for (const auto &[k, o] : files_)
      if (o.file) out[o.rel] = o.size;
    return out;
  }

  void resume(const std::map<std::string, u64> &committed) override { committed_ = committed; }

  void finish() override {
    active_.clear();
    for (auto &[k, o] : files_) {
      if (o.file) o.file->close();
      o.file.reset();
    }
  }

 private:
  // Output goes out in 4 MiB direct-I/O chunks; only the few most recently written files keep
  // a buffer, so a store with thousands of folders does not hold thousands of chunks.
  static constexpr std::size_t kChunk = 4u << 20;
  static constexpr std::size_t kActiveFiles = 2;

  struct File {
    std::unique_ptr<util::AppendFile> file;
    fs::path path;
    std::string rel;
    u64 size = 0;
    i64 count = 0;  // messages in the file (for "#n" locations)
  };

  // The file name of a folder is claimed at registration, in folder order, so it does not
  // depend on which folder receives a message first.
  File &entry_for(const Destination &dest) {
    std::string key = folder_key(dest);
    auto it = files_.find(key);
    if (it != files_.end()) return it->second;
    register_parents(dest);
    auto [parent_namer, name] = parent_and_name(dest);
    std::string file_name = parent_namer->claim(name, ".mbox");
    std::string parent_rel = dest.source_key;
    if (dest.folder.size() > 1)
      parent_rel = folder_rel(Destination{dest.source_key, {dest.folder.begin(), dest.folder.end() - 1}});
    File f;
    f.rel = parent_rel + "/" + file_name;
    f.path = root_ / f.rel;
    auto c = committed_.find(f.rel);
    if (c != committed_.end()) {
      f.size = c->second;
      f.count = count_messages(f.path, f.size);
    }
    return files_.emplace(key, std::move(f)).first->second;
  }

  void register_parents(const Destination &dest) {
    for (std::size_t n = 1; n < dest.folder.size(); ++n) {
      Destination p{dest.source_key, {dest.folder.begin(), dest.folder.begin() + n}};
      if (!files_.count(folder_key(p))) entry_for(p);
    }
  }

  // After a resume, "#n" locations continue from the messages already in the file: count the
  // From_ lines (mboxrd quotes every body line that could look like one).
  static i64 count_messages(const fs::path &path, u64 size) {
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return 0;
    i64 n = 0;
    bool at_line_start = true;
    char buf[1 << 16];
    std::string carry;
    u64 left = size;
    while (left > 0) {
      std::size_t got = std::fread(buf, 1, std::min<u64>(sizeof buf, left), f);
      if (got == 0) break;
      left -= got;
      for (std::size_t i = 0; i < got; ++i) {
        if (at_line_start) {
          carry.clear();
          at_line_start = false;
        }
        if (carry.size() < 5) carry += buf[i];
        if (carry.size() == 5 && carry == "From ") {
          ++n;
          carry += 'x';
        }
        if (buf[i] == '\n') at_line_start = true;
      }
    }
    std::fclose(f);
    return n;
  }

  void activate(File &o) {
    auto it = std::find(active_.begin(), active_.end(), &o);
    if (it == active_.begin() && it != active_.end()) return;
    if (it != active_.end()) active_.erase(it);
    active_.insert(active_.begin(), &o);
    if (active_.size() > kActiveFiles) {
      active_.back()->file->release_buffer();
      active_.pop_back();
    }
  }

  std::map<std::string, File> files_;
  std::vector<File *> active_;  // most recently written first; pointers into files_ (stable)
  std::map<std::string, u64> committed_;
  Bytes scratch_;
};

// Writes whole files on background threads. Creating a file costs far more kernel time than
// filling it (50-80 us each on ext4 with a full page cache): for message-heavy runs, the
// serial stage creating every .eml itself was the pipeline's bottleneck. Names are still
// chosen in order by the caller; only the open/write/close moves. drain() waits for
// everything submitted, so a commit point still means "every file before it is written".
// EmlSink uses one thread: with four, creates in the same directory spun on its lock
// (A corpus, --jobs 2: 17.0 s with four threads, 13.0 s with one).
class BackgroundFiles {
 public:
  explicit BackgroundFiles(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) pool_.emplace_back([this] { loop(); });
  }
  ~BackgroundFiles() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto &t : pool_) t.join();
  }

  void submit(fs::path path, Bytes bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    // Bounded: at most kMaxQueued files or kMaxBytes waiting.
    room_.wait(lock, [&] { return (queue_.size() < kMaxQueued && queued_bytes_ < kMaxBytes) || !error_.empty(); });
    throw_if_failed();
    queued_bytes_ += bytes.size();
    queue_.push_back({std::move(path), std::move(bytes)});
    ++pending_;
    cv_.notify_one();
  }

  void drain() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return pending_ == 0; });
    throw_if_failed();
  }

 private:
  static constexpr std::size_t kMaxQueued = 1024;
  static constexpr std::size_t kMaxBytes = 32u << 20;
  struct Job {
    fs::path path;
    Bytes bytes;
  };

  void throw_if_failed() {
    if (!error_.empty()) throw FatalError(error_);
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Job job = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= job.bytes.size();
      room_.notify_one();
      lock.unlock();
      std::string err;
      try {
        write_file_direct(job.path, job.bytes);
      } catch (const std::exception &e) {
        err = e.what();
      }
      util::BufferPool::instance().give(std::move(job.bytes));
      lock.lock();
      if (!err.empty() && error_.empty()) error_ = err;
      if (--pending_ == 0) idle_.notify_all();
      if (!error_.empty()) room_.notify_all();
    }
  }

  // Files of a few MiB and more go around the page cache like the other large outputs
  // (util::AppendFile explains why), through this thread's aligned chunk buffer.
  static void write_file_direct(const fs::path &path, ByteView bytes) {
    constexpr std::size_t kAlign = 4096, kChunk = 4u << 20;
    if (bytes.size() < kDirectFrom || util::default_io_mode() != util::IoMode::Auto) {
      write_whole_file(path, bytes);
      return;
    }
    thread_local std::unique_ptr<char, decltype(&std::free)> bounce(nullptr, &std::free);
    if (!bounce) {
      void *p = nullptr;
      if (posix_memalign(&p, kAlign, kChunk) != 0) throw std::bad_alloc();
      bounce.reset(static_cast<char *>(p));
    }
    write_whole_file(path, {});  // create / truncate
    int fd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    std::size_t done = 0;
    const std::size_t aligned = bytes.size() / kAlign * kAlign;
    while (fd >= 0 && done < aligned) {
      std::size_t n = std::min(kChunk, aligned - done);
      std::memcpy(bounce.get(), bytes.data() + done, n);
      ssize_t w = ::pwrite(fd, bounce.get(), n, static_cast<off_t>(done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;  // refused or failed: the rest goes through the page cache
      done += static_cast<std::size_t>(w) / kAlign * kAlign;
      if (static_cast<std::size_t>(w) % kAlign != 0) break;
    }
    if (fd >= 0) ::close(fd);
    int tail = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (tail < 0) fail_io("cannot write", path);
    write_rest_and_close(tail, bytes, done, path);
  }
  static constexpr std::size_t kDirectFrom = 1u << 20;

  std::mutex mu_;
  std::condition_variable cv_, room_, idle_;
  std::deque<Job> queue_;
  std::size_t queued_bytes_ = 0, pending_ = 0;
  bool stop_ = false;
  std::string error_;
  std::vector<std::thread> pool_;
};

class EmlSink final : public Sink {
 public:
  Form form() const override { return Form::MimeCrlf; }
  explicit EmlSink(fs::path root)
      : Sink(std::move(root)),
        files_(1) {}  // one thread: parallel creates in one directory contend on its lock

  std::string write_message(const Destination &dest, const OutMessage &msg) override {
    auto [path, location] = place_file(dest, msg.index_in_folder, msg.subject, ".eml");
    Bytes bytes;
    if (msg.steal && msg.steal->data() == msg.bytes.data() && msg.steal->size() == msg.bytes.size())
      bytes = std::move(*msg.steal);
    else
      bytes.assign(msg.bytes);
    files_.submit(std::move(path), std::move(bytes));
    return location;
  }

  void flush() override { files_.drain(); }
  void finish() override { files_.drain(); }

 private:
  BackgroundFiles files_;
};

}  // namespace

std::unique_ptr<Sink> make_mbox_sink(const fs::path &root) {
  return std::make_unique<MboxSink>(root);
}
std::unique_ptr<Sink> make_eml_sink(const fs::path &root) {
  return std::make_unique<EmlSink>(root);
}

}  // namespace mm::sink
