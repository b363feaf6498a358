#pragma once
// The run state in OUTDIR/.mailmill/state.sqlite: the dedup index (digest -> kept seq), the
// journal (runs, the last committed item, committed sizes of append-only files) and the input
// names already used. SQLite because it is a single-file, crash-safe (WAL) store that Debian
// ships and every tool can inspect; a committed transaction survives SIGKILL of the process.
// Not thread-safe: used from the pipeline's serial stage.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/dedup/index.h"
#include "mailmill/util/types.h"

struct sqlite3;

namespace mm::pipeline {

class StateStore {
 public:
  /// Opens or creates the store under `outdir`; throws FatalError when it cannot.
  explicit StateStore(const std::filesystem::path &outdir);
  ~StateStore();
  StateStore(const StateStore &) = delete;
  StateStore &operator=(const StateStore &) = delete;

  struct Run {
    i64 id = 0;
    std::string fingerprint;
    u64 first_seq = 0;
    i64 committed_seq = -1;  ///< last committed seq; first_seq - 1 when nothing committed
  };

  /// The newest run that did not finish, if any.
  std::optional<Run> unfinished_run();
  /// Abandons an unfinished run (a different command was started in the same OUTDIR).
  void abandon_run(i64 id);
  /// One more than the highest seq any run used (0 for a fresh OUTDIR).
  u64 next_seq();
  /// Starts a run; returns it.
  Run begin_run(const std::string &fingerprint, u64 first_seq);
  /// Loads every committed dedup key into `index`.
  void load_dedup(dedup::KeyIndex &index);
  /// Source directory names used by finished runs (to keep new ones unique).
  std::vector<std::string> finished_source_keys();
  /// Committed sizes of the append-only files of the run (relative paths).
  std::map<std::string, u64> committed_files(i64 run_id);
  /// Records that an append-only file belongs to the run, with the size it has now (the size to
  /// truncate back to if the run dies before its first commit). Immediate.
  void register_file(i64 run_id, const std::string &rel_path, u64 size);
  /// Atomically: adds dedup keys, records source keys, updates file sizes and the committed seq.
  void commit(i64 run_id, i64 committed_seq,
              const std::vector<std::pair<dedup::Digest, u64>> &new_keys,
              const std::map<std::string, u64> &file_sizes,
              const std::vector<std::string> &source_keys);
  /// Marks the run finished.
  void finish_run(i64 run_id);

 private:
  void exec(const char *sql);
  void create_schema();
  sqlite3 *db_ = nullptr;
  std::filesystem::path path_;
};

}  // namespace mm::pipeline
