#pragma once
// The upload journal: which manifest seqs are on the server, and where. One SQLite file per
// (server, user) beside the manifest; every write is its own committed transaction, so a
// kill -9 loses at most the acknowledgements not yet recorded (which the next run finds on the
// server instead). Thread-safe.
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

struct sqlite3;

namespace mm::upload {

struct JournalEntry {
  u64 seq = 0;
  std::string mailbox;
  u32 uidvalidity = 0;  ///< 0 when the server gave no APPENDUID
  u32 uid = 0;
  std::string how;      ///< "appended" or "present" (found on the server)
  std::string wire_sha256;
  u64 size = 0;  ///< wire bytes
};

class Journal {
 public:
  /// Opens or creates the journal; throws FatalError when it cannot. `target` (the server URL
  /// and user) is stored on creation and must match afterwards.
  Journal(const std::filesystem::path &path, const std::string &target);
  ~Journal();
  Journal(const Journal &) = delete;
  Journal &operator=(const Journal &) = delete;

  std::map<u64, JournalEntry> load();
  void record(const std::vector<JournalEntry> &entries);
  /// Whether the last run that sent anything ended before finishing (killed, crashed).
  bool unclean();
  /// Marks a run as sending (true) or finished (false).
  void set_running(bool running);

 private:
  std::mutex mutex_;
  sqlite3 *db_ = nullptr;
  std::filesystem::path path_;
  void exec(const char *sql);
};

}  // namespace mm::upload
