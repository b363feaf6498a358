#include <sqlite3.h>

#include "journal_impl.h"
#include "mailmill/util/result.h"

namespace mm::upload {
namespace {

struct Stmt {
  Stmt(sqlite3 *db, const char *sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw FatalError(std::string("upload journal: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt &) = delete;
  Stmt &operator=(const Stmt &) = delete;
  void bind(int i, i64 v) { sqlite3_bind_int64(st_, i, v); }
  void bind(int i, const std::string &v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) throw FatalError(std::string("upload journal: ") + sqlite3_errmsg(db_));
    return false;
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  i64 num(int i) const { return sqlite3_column_int64(st_, i); }
  std::string text(int i) const {
    const unsigned char *t = sqlite3_column_text(st_, i);
    return t ? std::string(reinterpret_cast<const char *>(t),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, i)))
             : std::string();
  }
  sqlite3 *db_;
  sqlite3_stmt *st_ = nullptr;
};

}  // namespace

Journal::Journal(const std::filesystem::path &path, const std::string &target) : path_(path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw FatalError("cannot open upload journal " + path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  exec("CREATE TABLE IF NOT EXISTS sent(seq INTEGER PRIMARY KEY, mailbox TEXT NOT NULL, "
       "uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL, how TEXT NOT NULL, "
       "wire_sha256 TEXT NOT NULL, size INTEGER NOT NULL)");
  Stmt get(db_, "SELECT value FROM meta WHERE key='target'");
  if (get.step()) {
    if (get.text(0) != target)
      throw FatalError("upload journal " + path.string() + " belongs to " + get.text(0) +
                       ", not " + target);
  } else {
    Stmt put(db_, "INSERT INTO meta(key, value) VALUES('target', ?)");
    put.bind(1, target);
    put.step();
  }
}

Journal::~Journal() { sqlite3_close(db_); }

void Journal::exec(const char *sql) {
  char *msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "?";
    sqlite3_free(msg);
    throw FatalError("upload journal " + path_.string() + ": " + m);
  }
}

std::map<u64, JournalEntry> Journal::load() {
  std::lock_guard lock(mutex_);
  std::map<u64, JournalEntry> out;
  Stmt s(db_, "SELECT seq, mailbox, uidvalidity, uid, how, wire_sha256, size FROM sent");
  while (s.step()) {
    JournalEntry e;
    e.seq = static_cast<u64>(s.num(0));
    e.mailbox = s.text(1);
    e.uidvalidity = static_cast<u32>(s.num(2));
    e.uid = static_cast<u32>(s.num(3));
    e.how = s.text(4);
    e.wire_sha256 = s.text(5);
    e.size = static_cast<u64>(s.num(6));
    out.emplace(e.seq, std::move(e));
  }
  return out;
}

bool Journal::unclean() {
  std::lock_guard lock(mutex_);
  Stmt get(db_, "SELECT value FROM meta WHERE key='running'");
  return get.step() && get.text(0) == "1";
}

void Journal::set_running(bool running) {
  std::lock_guard lock(mutex_);
  Stmt put(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('running', ?)");
  put.bind(1, std::string(running ? "1" : "0"));
  put.step();
}

void Journal::record(const std::vector<JournalEntry> &entries) {
  if (entries.empty()) return;
  std::lock_guard lock(mutex_);
  exec("BEGIN IMMEDIATE");
  try {
    Stmt s(db_,
           "INSERT OR REPLACE INTO sent(seq, mailbox, uidvalidity, uid, how, wire_sha256, size) "
           "VALUES(?, ?, ?, ?, ?, ?, ?)");
    for (const JournalEntry &e : entries) {
      s.bind(1, static_cast<i64>(e.seq));
      s.bind(2, e.mailbox);
      s.bind(3, static_cast<i64>(e.uidvalidity));
      s.bind(4, static_cast<i64>(e.uid));
      s.bind(5, e.how);
      s.bind(6, e.wire_sha256);
      s.bind(7, static_cast<i64>(e.size));
      s.step();
      s.reset();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace mm::upload
