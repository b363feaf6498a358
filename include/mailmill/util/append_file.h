#pragma once
/// Sequential output files written around the page cache.
///
/// Why: on Linux, once a few GB of dirty pages build up, every further buffered write pays for
/// page-cache reclaim and writeback throttling in the writer's own system time. Measured on the
/// reference VM (bench/README.md): `dd bs=1M` writes 600 MB at 3.9 GB/s but 6 GB at 327 MB/s,
/// almost all of it system time, while the same 6 GB with O_DIRECT take 4.4 s at 0.5 s of CPU.
/// A converter writes as much as it reads, so large outputs (mbox files, batches, PSTs) go
/// through this class: appended bytes collect in an aligned buffer and whole aligned chunks are
/// written with O_DIRECT; the unaligned tail is written through an ordinary descriptor when the
/// caller asks for the data to be visible (`sync_tail`, commit points, close).
///
/// Direct chunks are written by a background thread while the caller fills the next ones (up
/// to three queued), so the disk's time overlaps the caller's work instead of adding to it.
///
/// When the file system refuses O_DIRECT (tmpfs, some network file systems) or the user asks
/// for buffered I/O, the same calls become ordinary large buffered writes. Either way the bytes
/// in the file are identical. Errors throw FatalError naming the file.
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::util {

enum class IoMode : u8 {
  Auto,      ///< O_DIRECT where the file system supports it, else buffered
  Buffered,  ///< always through the page cache
};

/// Process-wide default for files opened without an explicit mode (`--io`).
void set_default_io_mode(IoMode mode);
IoMode default_io_mode();

class AppendFile {
 public:
  enum class Open : u8 { Truncate, Append };
  /// Opens (creating) `path`. Append continues at the current end of the file.
  AppendFile(const std::filesystem::path &path, Open how, IoMode mode = default_io_mode(),
             std::size_t chunk = 1u << 20);
  ~AppendFile();
  AppendFile(const AppendFile &) = delete;
  AppendFile &operator=(const AppendFile &) = delete;

  void append(ByteView data);
  /// Appends `n` zero bytes.
  void append_zeros(u64 n);
  /// Makes every appended byte visible in the file (the tail goes through the page cache).
  void sync_tail();
  /// sync_tail(), then frees the buffer until the next append (many files open at once).
  void release_buffer();
  /// Writes `data` at `offset`, which must lie below the data already synced (patching
  /// headers after sync_tail). Goes through the page cache.
  void pwrite_at(u64 offset, ByteView data);
  /// Bytes appended so far (the logical file size).
  u64 size() const { return base_ + len_; }
  /// sync_tail() and close; further calls are errors. Called by the destructor (errors ignored).
  void close();
  /// True while aligned chunks go out with O_DIRECT.
  bool direct() const { return fd_direct_ >= 0; }
  const std::filesystem::path &path() const { return path_; }

 private:
  void ensure_buffer();
  void write_chunk();
  void write_all(int fd, const char *p, std::size_t n, u64 off);
  /// Waits until the background write (if any) is done; rethrows its error.
  void wait_idle();
  void stop_writer();
  void writer_loop();

  std::filesystem::path path_;
  int fd_ = -1;         // ordinary descriptor: tails, patches, fallback
  int fd_direct_ = -1;  // O_DIRECT descriptor, -1 when not used
  std::size_t chunk_;
  struct Free {
    void operator()(char *p) const;
  };
  std::unique_ptr<char, Free> buf_;

  // Background writer (direct mode only): up to kInFlight chunks queued, written in order.
  static constexpr std::size_t kInFlight = 3;
  struct Job {
    std::unique_ptr<char, Free> data;
    std::size_t len = 0;
    u64 off = 0;
  };
  std::thread writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;                      // queued or being written (front)
  std::vector<std::unique_ptr<char, Free>> free_;  // written chunks, ready for reuse
  bool stop_ = false;
  int job_errno_ = 0;        // set by the writer; reported by wait_idle
  bool direct_failed_ = false;  // the writer fell back to buffered for a chunk
  u64 base_ = 0;        // file offset of buf_[0]; aligned while direct
  std::size_t len_ = 0; // bytes in buf_
  bool loaded_ = true;  // buf_ holds the bytes of [base_, base_ + len_) (false after release)
};

}  // namespace mm::util
