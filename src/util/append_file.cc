#include "mailmill/util/append_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "mailmill/util/buffer_pool.h"
#include "mailmill/util/result.h"

namespace mm::util {
namespace {

// Direct I/O needs offsets, sizes and buffer addresses aligned to the device's logical block
// size; 4096 covers every current device.
constexpr std::size_t kAlign = 4096;

std::atomic<IoMode> g_default{IoMode::Auto};

[[noreturn]] void fail(const char *what, const std::filesystem::path &p) {
  throw FatalError(std::string(what) + " " + p.string() + ": " + std::strerror(errno));
}

}  // namespace

void set_default_io_mode(IoMode mode) { g_default.store(mode); }
IoMode default_io_mode() { return g_default.load(); }

void AppendFile::Free::operator()(char *p) const { std::free(p); }

AppendFile::AppendFile(const std::filesystem::path &path, Open how, IoMode mode, std::size_t chunk)
    : path_(path), chunk_(std::max(kAlign, chunk / kAlign * kAlign)) {
  int flags = O_RDWR | O_CREAT | O_CLOEXEC | (how == Open::Truncate ? O_TRUNC : 0);
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) fail("cannot create", path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    fail("cannot stat", path);
  }
  const u64 end = static_cast<u64>(st.st_size);
  if (mode == IoMode::Auto) fd_direct_ = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd_direct_ >= 0) {
    // Keep chunks aligned: the partial block at the end is read back on the first append.
    base_ = end / kAlign * kAlign;
    len_ = static_cast<std::size_t>(end - base_);
    loaded_ = len_ == 0;
  } else {
    base_ = end;
  }
}

AppendFile::~AppendFile() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; callers that care call close() themselves.
  }
}

void AppendFile::write_all(int fd, const char *p, std::size_t n, u64 off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (fd == fd_direct_ && errno == EINVAL) {
        // The file system accepted the flag at open but not the write: go buffered for good.
        ::close(fd_direct_);
        fd_direct_ = -1;
        fd = fd_;
        continue;
      }
      fail("cannot write", path_);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<u64>(w);
  }
}

void AppendFile::ensure_buffer() {
  if (!loaded_) wait_idle();
  if (!buf_) {
    void *p = nullptr;
    if (posix_memalign(&p, kAlign, chunk_) != 0) throw std::bad_alloc();
    hint_huge_pages(p, chunk_);
    buf_.reset(static_cast<char *>(p));
  }
  if (!loaded_) {
    std::size_t got = 0;
    while (got < len_) {
      ssize_t r = ::pread(fd_, buf_.get() + got, len_ - got, static_cast<off_t>(base_ + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) fail("cannot read back the end of", path_);
      got += static_cast<std::size_t>(r);
    }
    loaded_ = true;
  }
}

void AppendFile::write_chunk() {
  if (fd_direct_ < 0) {
    write_all(fd_, buf_.get(), len_, base_);
    base_ += len_;
    len_ = 0;
    return;
  }
  std::unique_ptr<char, Free> next;
  bool trouble = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return jobs_.size() < kInFlight || job_errno_ != 0; });
    trouble = job_errno_ != 0 || direct_failed_;
    if (!free_.empty()) {
      next = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (trouble) wait_idle();  // reports the error, or leaves direct mode
  if (fd_direct_ < 0) {
    write_chunk();
    return;
  }
  if (!next) {
    void *p = nullptr;
    if (posix_memalign(&p, kAlign, chunk_) != 0) throw std::bad_alloc();
    hint_huge_pages(p, chunk_);
    next.reset(static_cast<char *>(p));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(Job{std::move(buf_), len_, base_});
  }
  buf_ = std::move(next);
  if (!writer_.joinable()) writer_ = std::thread([this] { writer_loop(); });
  cv_.notify_all();
  base_ += len_;
  len_ = 0;
}

void AppendFile::writer_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !jobs_.empty() || stop_; });
    if (jobs_.empty()) return;
    Job &job = jobs_.front();  // stays at the front (and alive) while it is written
    const char *p = job.data.get();
    std::size_t n = job.len;
    u64 off = job.off;
    lock.unlock();
    int err = 0;
    bool fell_back = false;
    int fd = fd_direct_;
    while (n > 0) {
      ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && fd != fd_) {  // accepted at open, refused now: go buffered
          fd = fd_;
          fell_back = true;
          continue;
        }
        err = errno;
        break;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
      off += static_cast<u64>(w);
    }
    lock.lock();
    free_.push_back(std::move(jobs_.front().data));
    jobs_.pop_front();
    if (err != 0 && job_errno_ == 0) job_errno_ = err;
    if (fell_back) direct_failed_ = true;
    cv_.notify_all();
  }
}

void AppendFile::wait_idle() {
  if (!writer_.joinable()) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return jobs_.empty(); });
  if (direct_failed_ && fd_direct_ >= 0) {
    ::close(fd_direct_);
    fd_direct_ = -1;
  }
  if (job_errno_ != 0) {
    errno = job_errno_;
    job_errno_ = 0;
    fail("cannot write", path_);
  }
}

void AppendFile::stop_writer() {
  if (!writer_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
  stop_ = false;
}

void AppendFile::append(ByteView data) {
  if (fd_ < 0) throw FatalError("write after close: " + path_.string());
  const char *p = data.data();
  std::size_t n = data.size();
  while (n > 0) {
    ensure_buffer();
    std::size_t k = std::min(chunk_ - len_, n);
    std::memcpy(buf_.get() + len_, p, k);
    len_ += k;
    p += k;
    n -= k;
    if (len_ == chunk_) write_chunk();
  }
}

void AppendFile::append_zeros(u64 n) {
  while (n > 0) {
    ensure_buffer();
    std::size_t k = static_cast<std::size_t>(std::min<u64>(chunk_ - len_, n));
    std::memset(buf_.get() + len_, 0, k);
    len_ += k;
    n -= k;
    if (len_ == chunk_) write_chunk();
  }
}

void AppendFile::sync_tail() {
  if (fd_ < 0) return;
  wait_idle();
  if (len_ == 0 || !loaded_) return;
  write_all(fd_, buf_.get(), len_, base_);
  if (fd_direct_ < 0) {
    // Buffered: nothing needs the tail again.
    base_ += len_;
    len_ = 0;
  }
}

void AppendFile::release_buffer() {
  sync_tail();
  stop_writer();
  buf_.reset();
  free_.clear();
  if (len_ > 0) loaded_ = false;
}

void AppendFile::pwrite_at(u64 offset, ByteView data) {
  wait_idle();
  write_all(fd_, data.data(), data.size(), offset);
  // Keep a buffered copy of the same range in step, or the next chunk would undo the patch.
  if (buf_ && loaded_ && len_ > 0) {
    u64 lo = std::max(offset, base_), hi = std::min(offset + data.size(), base_ + len_);
    if (lo < hi) std::memcpy(buf_.get() + (lo - base_), data.data() + (lo - offset), hi - lo);
  }
}

void AppendFile::close() {
  if (fd_ < 0) return;
  try {
    sync_tail();
  } catch (...) {
    stop_writer();
    throw;
  }
  stop_writer();
  buf_.reset();
  free_.clear();
  if (fd_direct_ >= 0) ::close(fd_direct_);
  fd_direct_ = -1;
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("cannot close", path_);
}

}  // namespace mm::util
