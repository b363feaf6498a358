// `mailmill upload` and `mailmill verify --imap`: the engine around the IMAP client.
//
// One run: read the manifest's written items; map each item's folder to a server mailbox;
// drop what the journal says is on the server already; create the missing mailboxes; for each
// mailbox that held messages before this run, match the server's messages the journal does not
// account for against what is still to send (a previous run may have been killed between the
// server's OK and the journal's commit); then N connections append the rest in chunks,
// pipelined, journaling every acknowledgement. Messages whose fate a dropped connection left
// unknown are settled at the end, on one connection, by the same matching.
#include <signal.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "journal_impl.h"
#include "mailmill/dedup/keys.h"
#include "mailmill/pipeline/output.h"
#include "mailmill/upload/upload.h"
#include "mailmill/util/json_escape.h"
#include "mailmill/util/result.h"
#include "mailmill/util/sha256.h"

namespace mm::upload {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
constexpr int EXIT_OK = 0, EXIT_SOME = 1, EXIT_FATAL = 3;
constexpr std::size_t CHUNK_MESSAGES = 32;
constexpr u64 CHUNK_BYTES = 8u << 20;

std::string sha_hex(ByteView data) { return dedup::to_hex(util::Sha256::digest(data)); }

/// The digest a server that cannot send NUL in BODY[] returns for `wire` (Dovecot sends each NUL
/// as 0x80), or "" when `wire` holds no NUL.
std::string nul_digest(ByteView wire) {
  if (wire.find('\0') == ByteView::npos) return {};
  Bytes b(wire);
  std::replace(b.begin(), b.end(), '\0', '\x80');
  return sha_hex(b);
}

std::vector<std::string> imap_flags(const std::string &flags) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= flags.size()) {
    std::size_t comma = flags.find(',', i);
    if (comma == std::string::npos) comma = flags.size();
    std::string f = flags.substr(i, comma - i);
    if (f == "read") out.push_back("\\Seen");
    else if (f == "answered") out.push_back("\\Answered");
    else if (f == "flagged") out.push_back("\\Flagged");
    else if (f == "draft") out.push_back("\\Draft");
    else if (f == "forwarded") out.push_back("$Forwarded");  // RFC 5788 keyword
    i = comma + 1;
  }
  return out;
}

/// The Message-ID in a BODY[HEADER.FIELDS (MESSAGE-ID)] answer, unfolded and trimmed.
std::string message_id_of(const Bytes &fields) {
  std::string v;
  std::size_t colon = fields.find(':');
  if (colon == Bytes::npos) return v;
  for (std::size_t i = colon + 1; i < fields.size(); ++i) {
    char c = fields[i];
    if (c == '\r' || c == '\n') {
      // A line not starting with white space ends the field.
      std::size_t j = i;
      while (j < fields.size() && (fields[j] == '\r' || fields[j] == '\n')) ++j;
      if (j >= fields.size() || (fields[j] != ' ' && fields[j] != '\t')) break;
      i = j - 1;
      continue;
    }
    v += c;
  }
  std::size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
}

bool temporary(const Status &s) {
  static const char *const CODES[] = {"THROTTLED", "UNAVAILABLE", "INUSE", "SERVERBUG"};
  for (const char *c : CODES)
    if (s.code == c) return true;
  std::string t = s.text;
  for (char &c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t.find("throttl") != std::string::npos || t.find("try again") != std::string::npos;
}

std::string decoded(const std::string &mailbox) {
  std::optional<std::string> d = decode_mutf7(mailbox);
  return d ? *d : mailbox;
}

/// Appointments, tasks and contacts are written as .ics and .vcf files beside the mail: they
/// are not Internet messages and do not belong in an IMAP mailbox.
const char *not_mail(const std::string &location) {
  auto ends = [&](const char *ext) {
    std::size_t n = std::strlen(ext);
    return location.size() > n && strcasecmp(location.c_str() + location.size() - n, ext) == 0;
  };
  if (ends(".ics")) return "iCalendar";
  if (ends(".vcf")) return "vCard";
  return nullptr;
}

/// A written item on its way to the server.
struct Item {
  const pipeline::WrittenItem *w = nullptr;
  std::string mailbox;
};

/// A stored message made ready to send.
struct Prepared {
  Bytes wire;
  std::string sha;  ///< of the wire bytes
  std::string nul;  ///< nul_digest(wire)
};

struct Refusal {
  u64 seq;
  std::string mailbox, code, reason;
};

/// One server message the journal does not account for.
struct PoolEntry {
  u32 uid = 0;
  std::string mid;
  u64 size = 0;
  bool used = false;
};

class Engine {
 public:
  Engine(const UploadOptions &o, std::ostream &out, std::ostream &err) : o_(o), out_(out), err_(err) {}

  int run_upload();
  int run_verify();

  /// Set for the passes of run_upload_following: `final_pass` false defers items not yet
  /// complete on disk instead of refusing them; mailboxes in `settled` were matched against the
  /// server (or created) by an earlier pass of this process and are not scanned again.
  void follow(bool final_pass, std::set<std::string> *settled) {
    following_ = true;
    final_pass_ = final_pass;
    settled_ = settled;
  }
  u64 deferred() const { return deferred_; }

 private:
  const UploadOptions &o_;
  std::ostream &out_, &err_;
  pipeline::WrittenItems written_;
  std::vector<Item> items_;
  std::map<u64, const Item *> by_seq_;
  std::vector<Refusal> skipped_;  ///< not mail (calendar and contact files)
  ServerFolders server_;
  std::set<std::string> existing_;  ///< mailboxes on the server
  std::unique_ptr<Journal> journal_;
  bool following_ = false, final_pass_ = true;
  std::set<std::string> *settled_ = nullptr;
  std::atomic<u64> deferred_{0};
  std::map<u64, JournalEntry> done_;
  std::optional<u64> append_limit_;

  std::mutex mu_;  // guards everything below
  std::vector<Refusal> refused_;
  std::vector<const Item *> uncertain_;
  std::vector<JournalEntry> pending_journal_;
  std::string fatal_;
  std::atomic<bool> stop_{false};
  std::atomic<u64> refused_n_{0}, appended_{0}, present_{0}, failed_{0}, bytes_{0}, acks_{0};
  std::atomic<i64> pause_until_{0};  // steady-clock nanoseconds
  u64 die_after_ = 0, pause_after_ = 0;  // test hooks (MAILMILL_UPLOAD_DIE_AFTER / _PAUSE_AFTER)

  std::unique_ptr<ImapConnection> connect();
  void discover(ImapConnection &c);
  bool load_items();
  std::optional<Prepared> prepare(pipeline::OutputReader &reader, const Item &it);
  std::vector<PoolEntry> unaccounted(ImapConnection &c, const std::string &mailbox);
  std::vector<const Item *> settle(ImapConnection &c, pipeline::OutputReader &reader,
                                   const std::string &mailbox,
                                   const std::vector<const Item *> &todo);
  void send_chunk(std::unique_ptr<ImapConnection> &c, pipeline::OutputReader &reader,
                  const std::vector<const Item *> &chunk);
  void refuse(const Item &it, std::string code, std::string reason);
  void quiesce(ImapConnection &c, const std::vector<std::string> &mailboxes);
  std::string resolve(ImapConnection &c, const std::string &mailbox, bool create,
                      const std::vector<const Item *> *items = nullptr);
  std::set<std::string> created_;  ///< mailboxes this run created
  void acknowledge(std::vector<JournalEntry> entries);
  void write_report(double seconds, u64 total, u64 journaled);
};

std::unique_ptr<ImapConnection> Engine::connect() {
  std::chrono::milliseconds wait{250};
  for (int attempt = 0;; ++attempt) {
    try {
      std::unique_ptr<ImapConnection> c = ImapConnection::open(o_.endpoint);
      c->login(o_.credentials);
      return c;
    } catch (const ImapError &e) {
      if (!e.retryable() || attempt >= o_.retries || stop_) throw;
      {
        std::lock_guard lock(mu_);
        err_ << "upload: " << e.what() << "; retrying in " << wait.count() << " ms\n";
      }
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, o_.max_backoff);
    }
  }
}

void Engine::discover(ImapConnection &c) {
  auto [prefix, delimiter] = c.personal_namespace();
  server_.prefix = prefix;
  server_.delimiter = delimiter;
  for (const MailboxInfo &m : c.list("*")) {
    existing_.insert(m.name);
    for (const std::string &a : m.attributes) {
      static const char *const USES[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged",
                                         "\\Junk", "\\Sent", "\\Trash"};
      for (const char *u : USES)
        if (strcasecmp(a.c_str(), u) == 0) server_.special.emplace(u, m.name);
    }
  }
  append_limit_ = c.append_limit();
}

bool Engine::load_items() {
  std::string error;
  std::optional<pipeline::WrittenItems> w =
      pipeline::read_written_items(o_.out_dir, &error, following_);
  if (!w) {
    err_ << "mailmill upload: " << error << "\n";
    return false;
  }
  written_ = std::move(*w);
  if (written_.malformed)
    err_ << "upload: " << written_.malformed << " manifest lines are not valid JSON (left out)\n";
  for (const pipeline::WrittenItem &it : written_.items) {
    std::string container = it.location.substr(0, it.location.rfind('#'));
    if (container.size() > 4 && container.compare(container.size() - 4, 4, ".pst") == 0) {
      err_ << "mailmill upload: " << o_.out_dir
           << " holds PST output; IMAP upload takes mbox, eml, maildir or batch output "
              "(convert again with --format mbox)\n";
      return false;
    }
  }
  return true;
}

std::optional<Prepared> Engine::prepare(pipeline::OutputReader &reader, const Item &it) {
  std::string error;
  std::optional<Bytes> stored = reader.load(it.w->location, &error);
  bool complete = stored && sha_hex(*stored) == it.w->raw_sha256;
  if (!complete && !final_pass_) {
    ++deferred_;  // convert is still writing it: a later pass sends it
    return std::nullopt;
  }
  if (!stored) {
    refuse(it, "Unreadable", error);
    return std::nullopt;
  }
  if (!complete) {
    refuse(it, "Changed", it.w->location + ": the stored bytes no longer match the manifest's "
                          "raw_sha256 (changed since convert; run mailmill verify)");
    return std::nullopt;
  }
  Prepared p;
  p.wire = wire_form(*stored);
  if (p.wire.empty()) {
    refuse(it, "Empty", "an empty message cannot be appended");
    return std::nullopt;
  }
  u64 limit = o_.max_message_bytes;
  if (append_limit_ && (!limit || *append_limit_ < limit)) limit = *append_limit_;
  if (limit && p.wire.size() > limit) {
    refuse(it, "TOOBIG",
           std::to_string(p.wire.size()) + " bytes, over the limit of " + std::to_string(limit) +
               (append_limit_ && limit == *append_limit_ ? " (the server's APPENDLIMIT)"
                                                         : " (--max-message-bytes)"));
    return std::nullopt;
  }
  p.sha = sha_hex(p.wire);
  p.nul = nul_digest(p.wire);
  return p;
}

/// `mailbox` with the characters servers most often refuse in a name ('.' for Dovecot's and
/// Courier's Maildir++ layouts, the LIST wildcards) replaced by '_'. ASCII only: it never
/// touches the base64 of a modified UTF-7 run, which uses none of them.
std::string conservative(const std::string &mailbox, char delimiter) {
  std::string out = mailbox;
  for (char &ch : out)
    if ((ch == '.' || ch == '%' || ch == '*') && ch != delimiter) ch = '_';
  return out;
}

// The server's name for `mailbox`: itself when it exists (or is INBOX); else its conservative
// variant when that exists; else (with `create`) it is created, parents first, and when the
// server refuses the name, the conservative variant is created instead. "" when neither can be
// created (then every item in `items` is refused with the server's reason).
std::string Engine::resolve(ImapConnection &c, const std::string &mailbox, bool create,
                            const std::vector<const Item *> *items) {
  if (mailbox == "INBOX" || existing_.count(mailbox)) return mailbox;
  std::string alt = conservative(mailbox, server_.delimiter);
  if (existing_.count(alt)) return alt;
  if (!create) return mailbox;
  auto make = [&](const std::string &mb) {
    // Parents first: not every server creates them.
    std::size_t pos = 0;
    while (server_.delimiter && (pos = mb.find(server_.delimiter, pos + 1)) != std::string::npos) {
      std::string parent = mb.substr(0, pos);
      if (!existing_.count(parent) && parent + server_.delimiter != server_.prefix &&
          c.create(parent).ok())
        existing_.insert(parent);
    }
    Status st = c.create(mb);
    if (st.ok()) {
      existing_.insert(mb);
      created_.insert(mb);
    }
    return st;
  };
  Status st = make(mailbox);
  if (st.ok()) return mailbox;
  if (alt != mailbox) {
    Status st2 = make(alt);
    if (st2.ok()) {
      std::lock_guard lock(mu_);
      err_ << "upload: the server refused the name " << decoded(mailbox) << " (" << st.text
           << "); its messages go to " << decoded(alt) << "\n";
      return alt;
    }
  }
  if (items)
    for (const Item *it : *items)
      refuse(*it, "CREATE", "cannot create mailbox " + decoded(mailbox) + ": " + st.text);
  return "";
}

// A connection that died with APPENDs in flight (a killed run, a dropped network) may leave the
// server working through them for a moment: the messages appear after the client has gone.
// Before matching against what is there, wait until the message counts stop changing (1 s
// unchanged, at most 60 s), so a late arrival is matched instead of sent a second time.
void Engine::quiesce(ImapConnection &c, const std::vector<std::string> &mailboxes) {
  std::vector<std::string> boxes;
  for (const std::string &mb : mailboxes)
    if (mb == "INBOX" || existing_.count(mb) || existing_.count(conservative(mb, server_.delimiter)))
      boxes.push_back(resolve(c, mb, false));
  if (boxes.empty()) return;
  auto counts = [&] {
    std::vector<u32> n;
    for (const std::string &mb : boxes) n.push_back(c.examine(mb).exists);
    return n;
  };
  Clock::time_point until = Clock::now() + std::chrono::seconds(60);
  std::vector<u32> before = counts();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::vector<u32> now = counts();
    if (now == before || Clock::now() > until) break;
    before = std::move(now);
  }
}

void Engine::refuse(const Item &it, std::string code, std::string reason) {
  std::lock_guard lock(mu_);
  refused_.push_back({it.w->seq, it.mailbox, std::move(code), std::move(reason)});
  ++refused_n_;
}

void Engine::acknowledge(std::vector<JournalEntry> entries) {
  journal_->record(entries);
  for (const JournalEntry &e : entries) (e.how == "present" ? present_ : appended_)++;
}

std::vector<PoolEntry> Engine::unaccounted(ImapConnection &c, const std::string &mailbox) {
  SelectInfo s = c.examine(mailbox);
  std::vector<PoolEntry> pool;
  if (s.exists == 0) return pool;
  c.uid_fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
              [&](const FetchedMessage &m) {
                PoolEntry p;
                p.uid = m.uid;
                p.size = m.size.value_or(0);
                if (m.header_fields) p.mid = message_id_of(*m.header_fields);
                pool.push_back(std::move(p));
              });
  // What the journal recorded in this mailbox is accounted for: by UID while the mailbox keeps
  // its UIDVALIDITY, else by Message-ID and size.
  std::set<u32> uids;
  std::multiset<std::pair<std::string, u64>> keys;
  for (const auto &[seq, e] : done_) {
    if (e.mailbox != mailbox) continue;
    if (e.uid && e.uidvalidity == s.uidvalidity) {
      uids.insert(e.uid);
    } else if (auto it = by_seq_.find(seq); it != by_seq_.end()) {
      keys.emplace(it->second->w->message_id, e.size);
    }
  }
  std::vector<PoolEntry> out;
  for (PoolEntry &p : pool) {
    if (uids.count(p.uid)) continue;
    if (auto k = keys.find({p.mid, p.size}); k != keys.end()) {
      keys.erase(k);
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<const Item *> Engine::settle(ImapConnection &c, pipeline::OutputReader &reader,
                                         const std::string &mailbox,
                                         const std::vector<const Item *> &todo) {
  std::vector<PoolEntry> pool = unaccounted(c, mailbox);
  if (pool.empty()) return todo;
  // Wire size and digest of each candidate, and how often each (Message-ID, size) occurs.
  struct Cand {
    const Item *item;
    u64 size;
    std::string sha, nul;  // nul: set when the message holds NUL (sent as binary)
  };
  std::vector<Cand> cands;
  std::map<std::pair<std::string, u64>, int> count;
  std::map<std::string, int> mid_count;
  for (const Item *it : todo) {
    std::optional<Prepared> p = prepare(reader, *it);
    if (!p) continue;  // refused already
    cands.push_back({it, p->wire.size(), p->sha, p->nul});
    ++count[{it->w->message_id, p->wire.size()}];
    ++mid_count[it->w->message_id];
  }
  // The pool indexed by (Message-ID, size), by Message-ID and by size.
  std::multimap<std::pair<std::string, u64>, std::size_t> by_key;
  std::multimap<std::string, std::size_t> by_mid;
  std::multimap<u64, std::size_t> by_size;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    by_key.emplace(std::make_pair(pool[i].mid, pool[i].size), i);
    if (!pool[i].mid.empty()) by_mid.emplace(pool[i].mid, i);
    by_size.emplace(pool[i].size, i);
  }
  auto first_free = [&](auto range) -> PoolEntry * {
    for (auto it = range.first; it != range.second; ++it)
      if (!pool[it->second].used) return &pool[it->second];
    return nullptr;
  };
  std::vector<const Item *> send;
  std::vector<JournalEntry> found;
  auto take = [&](const Cand &k, PoolEntry *p) {
    p->used = true;
    found.push_back({k.item->w->seq, mailbox, 0, p->uid, "present", k.sha, k.size});
  };
  // First by Message-ID and size where that pair is unique among what is left to send.
  std::vector<const Cand *> by_bytes;
  for (const Cand &k : cands) {
    const std::string &mid = k.item->w->message_id;
    PoolEntry *hit = nullptr;
    if (!mid.empty() && count[{mid, k.size}] == 1) hit = first_free(by_key.equal_range({mid, k.size}));
    if (!hit && !k.nul.empty() && !mid.empty() && mid_count[mid] == 1) {
      // Sent as binary (literal8): the server may store and return it re-encoded (Dovecot
      // turns binary parts into base64), so neither its size nor its bytes are ours. A
      // Message-ID unique among what is left to send identifies it.
      hit = first_free(by_mid.equal_range(mid));
    }
    if (hit)
      take(k, hit);
    else
      by_bytes.push_back(&k);
  }
  // Then by the bytes, among the server's messages of the same size or with the same
  // Message-ID (a server may count the size of a message holding NUL or bare CR differently):
  // their bodies are fetched in batches of bounded size, and only their digests kept.
  std::set<u32> wanted;
  for (const Cand *k : by_bytes) {
    const std::string &mid = k->item->w->message_id;
    for (auto [it, end] = by_size.equal_range(k->size); it != end; ++it)
      if (!pool[it->second].used) wanted.insert(pool[it->second].uid);
    if (!mid.empty())
      for (auto [it, end] = by_mid.equal_range(mid); it != end; ++it)
        if (!pool[it->second].used) wanted.insert(pool[it->second].uid);
  }
  std::map<u32, std::string> body_sha;  // uid -> sha256 of the server's bytes
  std::map<u32, u64> size_of;
  for (const PoolEntry &p : pool) size_of[p.uid] = p.size;
  for (auto it = wanted.begin(); it != wanted.end();) {
    std::string set;
    for (u64 bytes = 0; it != wanted.end() && (set.empty() || bytes < CHUNK_BYTES); ++it) {
      if (!set.empty()) set += ',';
      set += std::to_string(*it);
      bytes += size_of[*it];
    }
    c.uid_fetch(set, "(UID BODY.PEEK[])", [&](const FetchedMessage &m) {
      if (m.body) body_sha[m.uid] = sha_hex(*m.body);
    });
  }
  std::multimap<std::string, std::size_t> by_sha;
  for (std::size_t i = 0; i < pool.size(); ++i)
    if (auto d = body_sha.find(pool[i].uid); d != body_sha.end()) by_sha.emplace(d->second, i);
  for (const Cand *k : by_bytes) {
    PoolEntry *hit = first_free(by_sha.equal_range(k->sha));
    if (!hit && !k->nul.empty()) hit = first_free(by_sha.equal_range(k->nul));
    if (hit)
      take(*k, hit);
    else
      send.push_back(k->item);
  }
  // In manifest order, as they came.
  std::sort(send.begin(), send.end(), [](const Item *a, const Item *b) { return a->w->seq < b->w->seq; });
  if (!found.empty()) {
    SelectInfo s = c.examine(mailbox);
    for (JournalEntry &e : found) e.uidvalidity = s.uidvalidity;
    acknowledge(std::move(found));
  }
  return send;
}

void Engine::send_chunk(std::unique_ptr<ImapConnection> &c, pipeline::OutputReader &reader,
                        const std::vector<const Item *> &chunk) {
  struct Out {
    const Item *item;
    Prepared p;
    int tries = 0;
  };
  std::vector<Out> todo;
  for (const Item *it : chunk)
    if (std::optional<Prepared> p = prepare(reader, *it)) todo.push_back({it, std::move(*p)});
  std::chrono::milliseconds wait{500};
  while (Clock::now().time_since_epoch().count() < pause_until_)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  while (!todo.empty() && !stop_) {
    std::vector<AppendRequest> reqs;
    for (const Out &o : todo)
      reqs.push_back({o.item->mailbox, imap_flags(o.item->w->flags), o.item->w->date, o.p.wire});
    std::vector<AppendResult> results;
    try {
      results = c->append(reqs);
    } catch (const ImapError &e) {
      if (e.kind() == ImapError::Kind::Tls || e.kind() == ImapError::Kind::Auth) throw;
      // Which of these arrived is unknown: they are settled against the server at the end.
      {
        std::lock_guard lock(mu_);
        err_ << "upload: connection lost (" << e.what() << "); " << todo.size()
             << " messages in flight are checked on the server at the end\n";
        for (const Out &o : todo) uncertain_.push_back(o.item);
      }
      c.reset();
      c = connect();
      return;
    }
    std::vector<JournalEntry> ok;
    std::vector<Out> again;
    bool throttled = false;
    for (std::size_t i = 0; i < results.size() && i < todo.size(); ++i) {
      const AppendResult &r = results[i];
      Out &o = todo[i];
      if (r.status.ok()) {
        u64 n = ++acks_;
        if (die_after_ && n == die_after_) {
          acknowledge(std::move(ok));
          ::kill(::getpid(), SIGKILL);  // test hook: acknowledged by the server, not journaled
        }
        if (pause_after_ && n == pause_after_) {
          // Test hook: every connection waits, so a test can restart the server mid-upload.
          pause_until_ = (Clock::now() + std::chrono::seconds(3)).time_since_epoch().count();
          std::lock_guard lock(mu_);
          err_ << "upload: test hook: pausing for 3 s after " << n << " messages" << std::endl;
        }
        bytes_ += o.p.wire.size();
        ok.push_back({o.item->w->seq, o.item->mailbox, r.uidvalidity, r.uid, "appended", o.p.sha,
                      o.p.wire.size()});
      } else if (r.status.code == "TRYCREATE" && o.tries++ < 2) {
        c->create(o.item->mailbox);
        again.push_back(std::move(o));
      } else if (temporary(r.status) && o.tries++ < o_.retries) {
        throttled = true;
        again.push_back(std::move(o));
      } else {
        refuse(*o.item, r.status.code.empty() ? (r.status.kind == Status::Kind::Bad ? "BAD" : "NO")
                                              : r.status.code,
               r.status.text);
      }
    }
    acknowledge(std::move(ok));
    todo = std::move(again);
    if (throttled) {
      {
        std::lock_guard lock(mu_);
        err_ << "upload: the server asks to slow down; waiting " << wait.count() << " ms\n";
      }
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, o_.max_backoff);
    }
  }
}

void Engine::write_report(double seconds, u64 total, u64 journaled) {
  if (o_.report.empty()) return;
  std::string j = "{";
  auto kv = [&](const char *k, const std::string &v, bool str) {
    if (j.size() > 1) j += ',';
    j += text::json_string(k) + ':' + (str ? text::json_string(v) : v);
  };
  kv("server", o_.endpoint.url(), true);
  kv("user", o_.credentials.user, true);
  kv("out_dir", o_.out_dir, true);
  kv("messages", std::to_string(total), false);
  kv("journaled_before", std::to_string(journaled), false);
  kv("appended", std::to_string(appended_.load()), false);
  kv("present", std::to_string(present_.load()), false);
  kv("refused", std::to_string(refused_.size()), false);
  kv("failed", std::to_string(failed_.load()), false);
  kv("skipped", std::to_string(skipped_.size()), false);
  kv("bytes_sent", std::to_string(bytes_.load()), false);
  {
    std::ostringstream s;
    s << std::fixed << std::setprecision(3) << seconds;
    kv("seconds", s.str(), false);
  }
  std::map<std::string, std::pair<std::string, u64>> folders;  // mailbox -> (source folder, n)
  for (const Item &it : items_) {
    auto &f = folders[it.mailbox];
    if (f.second++ == 0) f.first = it.w->folder;
  }
  std::string fl = "[";
  for (const auto &[mb, f] : folders) {
    if (fl.size() > 1) fl += ',';
    fl += "{\"mailbox\":" + text::json_string(decoded(mb)) + ",\"server_name\":" +
          text::json_string(mb) + ",\"first_source_folder\":" + text::json_string(f.first) +
          ",\"messages\":" + std::to_string(f.second) + "}";
  }
  kv("mailboxes", fl + "]", false);
  std::string rl = "[";
  for (const Refusal &r : refused_) {
    if (rl.size() > 1) rl += ',';
    rl += "{\"seq\":" + std::to_string(r.seq) + ",\"mailbox\":" + text::json_string(decoded(r.mailbox)) +
          ",\"code\":" + text::json_string(r.code) + ",\"reason\":" + text::json_string(r.reason) + "}";
  }
  kv("refused_items", rl + "]", false);
  std::string sl = "[";
  for (const Refusal &r : skipped_) {
    if (sl.size() > 1) sl += ',';
    sl += "{\"seq\":" + std::to_string(r.seq) + ",\"code\":" + text::json_string(r.code) +
          ",\"reason\":" + text::json_string(r.reason) + "}";
  }
  kv("skipped_items", sl + "]", false);
  j += "}\n";
  std::ofstream f(o_.report, std::ios::binary | std::ios::trunc);
  f << j;
  if (!f) throw FatalError("cannot write " + o_.report);
}

int Engine::run_upload() {
  Clock::time_point t0 = Clock::now();
  if (!load_items()) return EXIT_FATAL;
  if (const char *d = std::getenv("MAILMILL_UPLOAD_DIE_AFTER")) die_after_ = std::strtoull(d, nullptr, 10);
  if (const char *d = std::getenv("MAILMILL_UPLOAD_PAUSE_AFTER")) pause_after_ = std::strtoull(d, nullptr, 10);
  fs::path jpath = o_.journal;
  if (jpath.empty()) {
    // One journal per mailbox: the same server may be reached on several ports (993, 143).
    std::string name = o_.endpoint.host + "-" + o_.credentials.user;
    for (char &ch : name)
      if (ch == '/' || ch == '\\' || ch == ':' || static_cast<unsigned char>(ch) < 0x20) ch = '_';
    jpath = fs::path(o_.out_dir) / "upload" / (name + ".sqlite");
  }
  journal_ = std::make_unique<Journal>(jpath, o_.credentials.user + "@" + o_.endpoint.host);
  done_ = journal_->load();

  std::unique_ptr<ImapConnection> control;
  try {
    control = connect();
    discover(*control);
  } catch (const ImapError &e) {
    err_ << "mailmill upload: " << o_.endpoint.url() << ": " << e.what() << "\n";
    return EXIT_FATAL;
  }

  std::map<std::string, std::string> mapped;  // source folder -> mailbox
  items_.reserve(written_.items.size());
  for (const pipeline::WrittenItem &w : written_.items) {
    auto it = mapped.find(w.folder);
    if (it == mapped.end())
      it = mapped.emplace(w.folder, map_folder(w.folder, o_.folder_map, o_.default_folder_map, server_)).first;
    items_.push_back({&w, it->second});
  }
  for (const Item &it : items_) by_seq_.emplace(it.w->seq, &it);
  u64 journaled = 0;
  std::map<std::string, std::vector<const Item *>> todo;  // mailbox -> items, manifest order
  std::vector<std::string> order;                          // mailboxes in first-use order
  for (const Item &it : items_) {
    if (done_.count(it.w->seq)) {
      ++journaled;
      continue;
    }
    if (const char *kind = not_mail(it.w->location)) {
      skipped_.push_back({it.w->seq, it.mailbox, "NotMail",
                          std::string(kind) + " file (" + it.w->location +
                              "): not a mail message; import it into the calendar or address book"});
      continue;
    }
    auto &v = todo[it.mailbox];
    if (v.empty()) order.push_back(it.mailbox);
    v.push_back(&it);
  }
  u64 total = items_.size();
  out_ << "upload: " << total << " messages in " << o_.out_dir << " for " << o_.endpoint.url()
       << " (" << journaled << " on the server already by the journal), "
       << order.size() << " mailboxes to fill\n";

  std::vector<std::vector<std::vector<const Item *>>> per_mailbox;  // chunks, by mailbox
  try {
    if (journal_->unclean()) {
      out_ << "upload: the last run did not finish; waiting for the server to settle\n";
      quiesce(*control, order);
    }
    pipeline::OutputReader reader(o_.out_dir);
    for (const std::string &mb : order) {
      std::vector<const Item *> send = todo[mb];
      std::string name = resolve(*control, mb, true, &send);
      if (name.empty()) continue;  // refused; every item of it is reported
      for (const Item *it : send) const_cast<Item *>(it)->mailbox = name;
      // A mailbox this run created is empty: nothing there to match; nor is there anything new
      // in one an earlier pass of this process matched or created.
      if (!created_.count(name) && !(settled_ && settled_->count(name)))
        send = settle(*control, reader, name, send);
      if (settled_) settled_->insert(name);
      std::vector<std::vector<const Item *>> &chunks = per_mailbox.emplace_back();
      std::vector<const Item *> chunk;
      u64 bytes = 0;
      for (const Item *it : send) {
        if (!chunk.empty() && (chunk.size() >= CHUNK_MESSAGES || bytes + it->w->size > CHUNK_BYTES)) {
          chunks.push_back(std::move(chunk));
          chunk.clear();
          bytes = 0;
        }
        chunk.push_back(it);
        bytes += it->w->size;
      }
      if (!chunk.empty()) chunks.push_back(std::move(chunk));
    }
  } catch (const ImapError &e) {
    err_ << "mailmill upload: " << o_.endpoint.url() << ": " << e.what() << "\n";
    return EXIT_FATAL;
  }
  // Mailboxes take turns, so parallel connections write to different mailboxes: a server
  // serialises appends to one mailbox (Dovecot locks its index), and per-folder limits are
  // common. Within a mailbox the chunks keep manifest order.
  std::vector<std::vector<const Item *>> chunks;
  for (std::size_t round = 0, left = 1; left; ++round) {
    left = 0;
    for (auto &m : per_mailbox)
      if (round < m.size()) {
        chunks.push_back(std::move(m[round]));
        left += round + 1 < m.size();
      }
  }
  u64 to_send = 0;
  for (const auto &c : chunks) to_send += c.size();

  // The workers.
  std::atomic<std::size_t> next{0};
  std::atomic<int> running{0};
  auto worker = [&](std::unique_ptr<ImapConnection> c) {
    pipeline::OutputReader reader(o_.out_dir);
    try {
      if (!c) c = connect();
      for (std::size_t i; !stop_ && (i = next++) < chunks.size();) send_chunk(c, reader, chunks[i]);
      if (c) c->logout();
    } catch (const std::exception &e) {
      std::lock_guard lock(mu_);
      if (fatal_.empty()) fatal_ = e.what();
      stop_ = true;
    }
    --running;
  };
  int n = std::max(1, std::min<int>(o_.connections, static_cast<int>(chunks.size())));
  std::vector<std::thread> threads;
  journal_->set_running(true);
  running = n;
  for (int i = 0; i < n; ++i)
    threads.emplace_back(worker, i == 0 ? std::move(control) : nullptr);
  // Progress, once a second, while the workers run.
  u64 base = appended_ + present_;
  Clock::time_point last = Clock::now();
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (o_.progress && Clock::now() - last >= std::chrono::seconds(1)) {
      last = Clock::now();
      double s = std::chrono::duration<double>(last - t0).count();
      u64 done = appended_ + present_ - base + refused_n_;
      double rate = s > 0 ? static_cast<double>(appended_) / s : 0;
      std::lock_guard lock(mu_);
      err_ << "upload: " << done << "/" << to_send << " messages, " << std::fixed
           << std::setprecision(0) << rate << " msg/s, "
           << std::setprecision(1) << static_cast<double>(bytes_) / 1e6 / s << " MB/s";
      if (rate > 0) err_ << ", ETA " << std::setprecision(0) << static_cast<double>(to_send - std::min(done, to_send)) / rate << " s";
      err_ << "\n";
    }
  }
  for (std::thread &t : threads) t.join();
  if (!fatal_.empty()) {
    err_ << "mailmill upload: " << o_.endpoint.url() << ": " << fatal_ << "\n";
    write_report(std::chrono::duration<double>(Clock::now() - t0).count(), total, journaled);
    return EXIT_FATAL;
  }

  // Messages a dropped connection left unknown: found on the server, or sent now.
  for (int round = 0; !uncertain_.empty(); ++round) {
    std::vector<const Item *> open = std::move(uncertain_);
    uncertain_.clear();
    if (round > o_.retries) {
      failed_ += open.size();
      for (const Item *it : open) refuse(*it, "Unsent", "the connection kept dropping");
      break;
    }
    try {
      std::unique_ptr<ImapConnection> c = connect();
      pipeline::OutputReader reader(o_.out_dir);
      done_ = journal_->load();
      std::map<std::string, std::vector<const Item *>> by_mb;
      for (const Item *it : open) by_mb[it->mailbox].push_back(it);
      std::vector<std::string> boxes;
      for (const auto &[mb, v] : by_mb) boxes.push_back(mb);
      quiesce(*c, boxes);
      for (auto &[mb, v] : by_mb) {
        std::vector<const Item *> send = settle(*c, reader, mb, v);
        for (std::size_t i = 0; i < send.size(); i += CHUNK_MESSAGES) {
          std::vector<const Item *> chunk(send.begin() + static_cast<std::ptrdiff_t>(i),
                                          send.begin() + static_cast<std::ptrdiff_t>(std::min(send.size(), i + CHUNK_MESSAGES)));
          send_chunk(c, reader, chunk);
        }
      }
      if (c) c->logout();
    } catch (const ImapError &e) {
      if (!e.retryable()) {
        err_ << "mailmill upload: " << o_.endpoint.url() << ": " << e.what() << "\n";
        return EXIT_FATAL;
      }
      uncertain_.insert(uncertain_.end(), open.begin(), open.end());
    }
  }

  journal_->set_running(false);
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  write_report(seconds, total, journaled);
  u64 on_server = journaled + appended_ + present_;
  out_ << "upload: " << total << " items = " << journaled << " journaled before + " << appended_
       << " appended + " << present_ << " found on the server + " << refused_.size() - failed_
       << " refused + " << failed_ << " unsent + " << skipped_.size() << " not mail (skipped); " << std::fixed << std::setprecision(1) << seconds
       << " s, " << std::setprecision(0) << (seconds > 0 ? static_cast<double>(appended_) / seconds : 0)
       << " msg/s\n";
  for (const Refusal &r : refused_)
    err_ << "upload: refused seq " << r.seq << " (" << decoded(r.mailbox) << "): " << r.code << ": "
         << r.reason << "\n";
  if (on_server + refused_.size() + skipped_.size() + deferred_ != total) {
    err_ << "mailmill upload: accounting mismatch: " << on_server << " on the server + "
         << refused_.size() << " refused + " << skipped_.size() << " skipped != " << total
         << " items (a bug; please report it)\n";
    return 4;
  }
  return refused_.empty() ? EXIT_OK : EXIT_SOME;
}

int Engine::run_verify() {
  if (!load_items()) return EXIT_FATAL;
  std::unique_ptr<ImapConnection> c;
  try {
    c = connect();
    discover(*c);
  } catch (const ImapError &e) {
    err_ << "mailmill verify: " << o_.endpoint.url() << ": " << e.what() << "\n";
    return EXIT_FATAL;
  }
  // The wire digest of every written item, per mailbox.
  std::map<std::string, std::multiset<std::string>> want;
  // Per mailbox, the messages sent as binary: Message-ID, digest with NUL as 0x80, digest.
  struct Binary {
    std::string mid, nul, plain;
  };
  std::map<std::string, std::vector<Binary>> binary;
  std::map<std::string, std::string> mapped;
  pipeline::OutputReader reader(o_.out_dir);
  u64 unreadable = 0, not_mail_files = 0;
  for (const pipeline::WrittenItem &w : written_.items) {
    if (not_mail(w.location)) {
      ++not_mail_files;  // upload skips them too
      continue;
    }
    auto it = mapped.find(w.folder);
    if (it == mapped.end())
      it = mapped.emplace(w.folder, map_folder(w.folder, o_.folder_map, o_.default_folder_map, server_)).first;
    std::string error;
    std::optional<Bytes> stored = reader.load(w.location, &error);
    if (!stored) {
      err_ << "verify: " << error << "\n";
      ++unreadable;
      continue;
    }
    Bytes wire = wire_form(*stored);
    if (std::string n = nul_digest(wire); !n.empty()) {
      // Sent as binary: the server may send its NULs as 0x80 or re-encode it (see settle), so
      // it is found as sent, in that form, or by its Message-ID.
      binary[it->second].push_back({w.message_id, n, sha_hex(wire)});
      continue;
    }
    want[it->second].insert(sha_hex(wire));
  }
  u64 missing = 0, extra = 0, matched = 0, by_mid = 0;
  for (const auto &[mb, mids] : binary) want[mb];  // a mailbox of binary messages only
  try {
    for (auto &[mb, digests] : want) {
      std::multiset<std::string> got, got_mids;
      std::string name = resolve(*c, mb, false);
      if (existing_.count(name) || name == "INBOX") {
        SelectInfo s = c->examine(name);
        if (s.exists) {
          // Bodies in groups of UIDs, so memory stays bounded by one group.
          std::vector<std::pair<u32, u64>> uids;
          c->uid_fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
                       [&](const FetchedMessage &m) {
                         uids.emplace_back(m.uid, m.size.value_or(0));
                         if (m.header_fields) got_mids.insert(message_id_of(*m.header_fields));
                       });
          std::size_t i = 0;
          while (i < uids.size()) {
            std::string set;
            u64 bytes = 0;
            for (; i < uids.size() && (set.empty() || bytes < CHUNK_BYTES); ++i) {
              if (!set.empty()) set += ',';
              set += std::to_string(uids[i].first);
              bytes += uids[i].second;
            }
            c->uid_fetch(set, "(UID BODY.PEEK[])", [&](const FetchedMessage &m) {
              if (m.body) got.insert(sha_hex(*m.body));
            });
          }
        }
      }
      u64 m = 0, miss = 0, m_bin = 0;
      for (const Binary &b : binary[mb]) {
        auto it = got.find(b.nul);
        if (it == got.end()) it = got.find(b.plain);
        auto by_id = b.mid.empty() ? got_mids.end() : got_mids.find(b.mid);
        if (it != got.end()) {
          got.erase(it);
          ++m;
        } else if (by_id != got_mids.end()) {
          got_mids.erase(by_id);
          ++m;
          ++m_bin;
        } else {
          ++miss;
        }
      }
      for (const std::string &d : digests) {
        auto it = got.find(d);
        if (it != got.end()) {
          got.erase(it);
          ++m;
        } else {
          ++miss;
        }
      }
      matched += m;
      missing += miss;
      by_mid += m_bin;
      // The binary messages found by Message-ID are among `got` under digests of their own.
      u64 others = got.size() - std::min<u64>(got.size(), m_bin);
      extra += others;
      out_ << (miss ? "MISSING " : "ok      ") << decoded(name) << ": " << digests.size() + binary[mb].size()
           << " in the manifest, " << m << " found byte for byte";
      if (miss) out_ << ", " << miss << " missing";
      if (others) out_ << ", " << others << " other messages on the server";
      out_ << "\n";
    }
    c->logout();
  } catch (const ImapError &e) {
    err_ << "mailmill verify: " << o_.endpoint.url() << ": " << e.what() << "\n";
    return EXIT_FATAL;
  }
  out_ << "verified " << matched + missing + unreadable << " written messages against "
       << o_.endpoint.url() << ": " << matched << " on the server byte for byte, " << missing
       << " missing (" << by_mid << " binary messages found by Message-ID), " << unreadable
       << " unreadable in the output folder; " << extra
       << " other messages in those mailboxes; " << not_mail_files
       << " calendar and contact files left out (not mail)\n";
  return missing || unreadable ? EXIT_SOME : EXIT_OK;
}

}  // namespace

int run_upload(const UploadOptions &options, std::ostream &out, std::ostream &err) {
  Engine e(options, out, err);
  return e.run_upload();
}

int run_upload_following(const UploadOptions &options, const std::function<bool()> &finished,
                         std::ostream &out, std::ostream &err) {
  std::set<std::string> settled;
  UploadOptions pass = options;
  pass.report.clear();
  pass.progress = false;
  std::ostringstream quiet;
  for (;;) {
    // Read `finished` before the pass: a pass that starts after convert ended sees everything.
    if (finished()) {
      Engine last(options, out, err);
      last.follow(true, &settled);
      return last.run_upload();
    }
    Clock::time_point start = Clock::now();
    if (std::filesystem::exists(std::filesystem::path(options.out_dir) / "manifest.jsonl")) {
      Engine e(pass, quiet, err);
      e.follow(false, &settled);
      quiet.str("");
      if (e.run_upload() == EXIT_FATAL) return EXIT_FATAL;  // cannot connect or log in
    }
    // Half a second between passes, or as long as the last pass took: re-reading a manifest of
    // millions of lines then costs at most half the time.
    Clock::time_point next = Clock::now() + std::max<Clock::duration>(std::chrono::milliseconds(500), Clock::now() - start);
    while (Clock::now() < next && !finished()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int run_verify_imap(const UploadOptions &options, std::ostream &out, std::ostream &err) {
  Engine e(options, out, err);
  return e.run_verify();
}

}  // namespace mm::upload
