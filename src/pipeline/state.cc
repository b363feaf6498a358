#include "state.h"

#include <sqlite3.h>

#include <cstring>

#include "mailmill/util/result.h"

namespace mm::pipeline {
namespace {

// RAII for prepared statements; errors become FatalError (the output side is broken).
class Stmt {
 public:
  Stmt(sqlite3 *db, const char *sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw FatalError(std::string("state store: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;
  Stmt &bind(int i, i64 v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt &bind(int i, const std::string &v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt &bind_blob(int i, const void *p, int n) {
    sqlite3_bind_blob(st_, i, p, n, SQLITE_TRANSIENT);
    return *this;
  }
  /// Steps once; true when a row is available.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) throw FatalError(std::string("state store: ") + sqlite3_errmsg(db_));
    return false;
  }
  void run() {
    step();
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  i64 int_col(int i) const { return sqlite3_column_int64(st_, i); }
  std::string text_col(int i) const {
    const unsigned char *t = sqlite3_column_text(st_, i);
    return t ? std::string(reinterpret_cast<const char *>(t),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, i)))
             : std::string();
  }
  std::string blob_col(int i) const {
    const void *b = sqlite3_column_blob(st_, i);
    return b ? std::string(static_cast<const char *>(b),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, i)))
             : std::string();
  }

 private:
  sqlite3 *db_;
  sqlite3_stmt *st_ = nullptr;
};

}  // namespace

StateStore::StateStore(const std::filesystem::path &outdir) {
  std::filesystem::path dir = outdir / ".mailmill";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw FatalError("cannot create " + dir.string() + ": " + ec.message());
  path_ = dir / "state.sqlite";
  if (sqlite3_open(path_.c_str(), &db_) != SQLITE_OK) {
    // SQLite's own message ("unable to open database file") does not say why: add the
    // system's reason.
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    if (db_ && sqlite3_system_errno(db_) != 0)
      msg += std::string(" (") + std::strerror(sqlite3_system_errno(db_)) + ")";
    sqlite3_close(db_);
    db_ = nullptr;
    throw FatalError("cannot open " + path_.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    create_schema();
  } catch (...) {
    // The destructor does not run for a constructor that throws: close the handle here.
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

void StateStore::create_schema() {
  // WAL + synchronous=NORMAL: a committed transaction survives the process being killed
  // (it is in the OS page cache); only a power loss can lose the last commits.
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL,"
       " first_seq INTEGER NOT NULL, committed_seq INTEGER NOT NULL,"
       " state TEXT NOT NULL)");
  exec("CREATE TABLE IF NOT EXISTS dedup (key BLOB PRIMARY KEY, seq INTEGER NOT NULL)"
       " WITHOUT ROWID");
  exec("CREATE TABLE IF NOT EXISTS files (run_id INTEGER NOT NULL, path TEXT NOT NULL,"
       " size INTEGER NOT NULL, PRIMARY KEY (run_id, path))");
  exec("CREATE TABLE IF NOT EXISTS sources (run_id INTEGER NOT NULL, key TEXT NOT NULL,"
       " PRIMARY KEY (run_id, key))");
}

StateStore::~StateStore() { sqlite3_close(db_); }

void StateStore::exec(const char *sql) {
  char *err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    if (sqlite3_system_errno(db_) != 0)
      msg += std::string(" (") + std::strerror(sqlite3_system_errno(db_)) + ")";
    throw FatalError("state store " + path_.string() + ": " + msg);
  }
}

std::optional<StateStore::Run> StateStore::unfinished_run() {
  Stmt q(db_, "SELECT id, fingerprint, first_seq, committed_seq FROM runs WHERE state='running'"
              " ORDER BY id DESC LIMIT 1");
  if (!q.step()) return std::nullopt;
  return Run{q.int_col(0), q.text_col(1), static_cast<u64>(q.int_col(2)), q.int_col(3)};
}

void StateStore::abandon_run(i64 id) {
  Stmt(db_, "UPDATE runs SET state='abandoned' WHERE id=?").bind(1, id).run();
}

u64 StateStore::next_seq() {
  // Committed items of every run, abandoned ones included: their output stays on disk.
  Stmt q(db_, "SELECT COALESCE(MAX(committed_seq) + 1, 0) FROM runs");
  q.step();
  return static_cast<u64>(q.int_col(0));
}

StateStore::Run StateStore::begin_run(const std::string &fingerprint, u64 first_seq) {
  Stmt(db_, "INSERT INTO runs (fingerprint, first_seq, committed_seq, state)"
            " VALUES (?, ?, ?, 'running')")
      .bind(1, fingerprint)
      .bind(2, static_cast<i64>(first_seq))
      .bind(3, static_cast<i64>(first_seq) - 1)
      .run();
  return Run{sqlite3_last_insert_rowid(db_), fingerprint, first_seq,
             static_cast<i64>(first_seq) - 1};
}

void StateStore::load_dedup(dedup::KeyIndex &index) {
  Stmt q(db_, "SELECT key, seq FROM dedup");
  while (q.step()) {
    std::string k = q.blob_col(0);
    if (k.size() != 32) continue;
    dedup::Digest d;
    std::memcpy(d.data(), k.data(), 32);
    index.find_or_insert(d, static_cast<u64>(q.int_col(1)));
  }
}

std::vector<std::string> StateStore::finished_source_keys() {
  Stmt q(db_, "SELECT s.key FROM sources s JOIN runs r ON r.id = s.run_id"
              " WHERE r.state != 'running' ORDER BY s.key");
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text_col(0));
  return out;
}

std::map<std::string, u64> StateStore::committed_files(i64 run_id) {
  Stmt q(db_, "SELECT path, size FROM files WHERE run_id=?");
  q.bind(1, run_id);
  std::map<std::string, u64> out;
  while (q.step()) out[q.text_col(0)] = static_cast<u64>(q.int_col(1));
  return out;
}

void StateStore::register_file(i64 run_id, const std::string &rel_path, u64 size) {
  Stmt(db_, "INSERT OR IGNORE INTO files (run_id, path, size) VALUES (?, ?, ?)")
      .bind(1, run_id)
      .bind(2, rel_path)
      .bind(3, static_cast<i64>(size))
      .run();
}

void StateStore::commit(i64 run_id, i64 committed_seq,
                        const std::vector<std::pair<dedup::Digest, u64>> &new_keys,
                        const std::map<std::string, u64> &file_sizes,
                        const std::vector<std::string> &source_keys) {
  exec("BEGIN IMMEDIATE");
  try {
    Stmt k(db_, "INSERT OR IGNORE INTO dedup (key, seq) VALUES (?, ?)");
    for (const auto &[d, seq] : new_keys) {
      k.bind_blob(1, d.data(), 32).bind(2, static_cast<i64>(seq));
      k.run();
    }
    Stmt f(db_, "INSERT OR REPLACE INTO files (run_id, path, size) VALUES (?, ?, ?)");
    for (const auto &[p, size] : file_sizes) {
      f.bind(1, run_id).bind(2, p).bind(3, static_cast<i64>(size));
      f.run();
    }
    Stmt s(db_, "INSERT OR IGNORE INTO sources (run_id, key) VALUES (?, ?)");
    for (const auto &key : source_keys) {
      s.bind(1, run_id).bind(2, key);
      s.run();
    }
    Stmt(db_, "UPDATE runs SET committed_seq=? WHERE id=?")
        .bind(1, committed_seq)
        .bind(2, run_id)
        .run();
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void StateStore::finish_run(i64 run_id) {
  Stmt(db_, "UPDATE runs SET state='finished' WHERE id=?").bind(1, run_id).run();
}

}  // namespace mm::pipeline
