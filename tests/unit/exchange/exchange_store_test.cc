// The Exchange 2013+ layer on generated databases (write_edb_corpus): the ESE layer checked
// independently by libesedb's esedbexport, then open_exchange against the generator's ground
// truth (folders, counts, subjects, senders, recipients, body and attachment hashes), the
// census, mapi::to_model, mailbox selection and the refusals of exchange.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <variant>

#include "mailmill/format/ese/database.h"
#include "mailmill/format/exchange/exchange.h"
#include "mailmill/gen/edb.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::exchange {
namespace {

using testing::q;

// ---- a small JSON reader for the ground truth (objects, arrays, strings, numbers, null) ----
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, std::vector<Json>,
               std::map<std::string, Json>>
      v;
  const Json &operator[](const std::string &k) const {
    static const Json null;
    const auto *m = std::get_if<std::map<std::string, Json>>(&v);
    if (!m) return null;
    auto it = m->find(k);
    return it == m->end() ? null : it->second;
  }
  std::string str() const {
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
  }
  bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
  i64 num() const {
    return std::holds_alternative<double>(v) ? static_cast<i64>(std::get<double>(v)) : -1;
  }
  const std::vector<Json> &arr() const {
    static const std::vector<Json> empty;
    const auto *a = std::get_if<std::vector<Json>>(&v);
    return a ? *a : empty;
  }
};

struct JsonParser {
  std::string_view s;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  u32 hex4() {
    u32 v = 0;
    for (int k = 0; k < 4 && i < s.size(); ++k)
      v = v * 16 + static_cast<u32>(text::hex_digit_value(s[i++]));
    return v;
  }
  std::string string() {
    std::string out;
    ++i;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      char e = s[i++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          u32 cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4() - 0xDC00);
          }
          text::append_utf8(out, cp);
          break;
        }
        default:
          out += e;
      }
    }
    ++i;
    return out;
  }
  Json value() {
    ws();
    Json j;
    if (i >= s.size()) return j;
    if (s[i] == '{') {
      std::map<std::string, Json> m;
      ++i;
      ws();
      while (i < s.size() && s[i] != '}') {
        ws();
        std::string k = string();
        ws();
        ++i;  // ':'
        m[k] = value();
        ws();
        if (s[i] == ',') ++i;
        ws();
      }
      ++i;
      j.v = std::move(m);
    } else if (s[i] == '[') {
      std::vector<Json> a;
      ++i;
      ws();
      while (i < s.size() && s[i] != ']') {
        a.push_back(value());
        ws();
        if (s[i] == ',') ++i;
        ws();
      }
      ++i;
      j.v = std::move(a);
    } else if (s[i] == '"') {
      j.v = string();
    } else if (s.substr(i, 4) == "null") {
      i += 4;
    } else if (s.substr(i, 4) == "true") {
      i += 4;
      j.v = true;
    } else if (s.substr(i, 5) == "false") {
      i += 5;
      j.v = false;
    } else {
      std::size_t st = i;
      while (i < s.size() &&
             (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '.'))
        ++i;
      j.v = std::stod(std::string(s.substr(st, i - st)));
    }
    return j;
  }
};

std::vector<Json> read_jsonl(const std::string &path) {
  std::ifstream in(path);
  std::vector<Json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(JsonParser{line}.value());
  return out;
}

std::string sha(ByteView b) { return text::to_hex(util::Sha256::digest(b)); }

std::string join(const std::vector<std::string> &p) {
  std::string s;
  for (const std::string &x : p) s += (s.empty() ? "" : "/") + x;
  return s;
}

bool have_esedbexport() {
  if (testing::run("command -v esedbexport") == 0) return true;
  const char *ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") ADD_FAILURE() << "esedbexport missing under CI=true";
  return false;
}

gen::GenOptions corpus_options() {
  gen::GenOptions o;
  o.seed = 15;
  o.messages = 90;
  o.folders = 4;
  o.attachment_ratio = 0.4;
  o.attachment_min = 50;
  o.attachment_max = 30000;
  o.html_ratio = 0.5;
  o.non_ascii_ratio = 0.3;
  o.embedded_ratio = 0.1;
  o.duplicate_ratio = 0.05;
  return o;
}

gen::EdbOptions edb_options() {
  gen::EdbOptions e;
  e.mailboxes = 3;
  e.hidden_per_folder = 1;
  e.blob_inline_max = 400;  // bodies and headers above this go off-page (NEAR)
  return e;
}

class ExchangeCorpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_tmp_dir("mm_exch"));
    auto st = gen::write_edb_corpus(corpus_options(), edb_options(), db(), jsonl());
    ASSERT_TRUE(st.ok()) << st.problem().detail;
    stats_ = new gen::EdbStats(std::move(*st));
  }
  static void TearDownTestSuite() {
    testing::run("rm -rf " + q(*dir_));
    delete stats_;
    delete dir_;
  }
  static std::string db() { return *dir_ + "/mb.edb"; }
  static std::string jsonl() { return *dir_ + "/mb.jsonl"; }
  static std::string *dir_;
  static gen::EdbStats *stats_;
};
std::string *ExchangeCorpus::dir_ = nullptr;
gen::EdbStats *ExchangeCorpus::stats_ = nullptr;

TEST_F(ExchangeCorpus, GeneratedFileHasSeparatedAndCompressedValues) {
  ASSERT_NE(stats_, nullptr);
  EXPECT_EQ(stats_->mailboxes.size(), 3u);
  EXPECT_EQ(stats_->gen.messages, 90);
  EXPECT_GT(stats_->separated_values, 0u);
  EXPECT_GT(stats_->compressed_values, 0u);
  EXPECT_GT(stats_->gen.attachments, 0);
  EXPECT_GT(stats_->gen.embedded, 0);
  // Off-page (NEAR) properties and the RecipientList multi-values are there, read through our
  // ESE layer (their meaning is checked in ItemsMatchGroundTruth).
  auto d = ese::Database::open(db());
  ASSERT_TRUE(d.ok());
  i64 near = 0, multi = 0;
  for (const gen::EdbMailboxStats &m : stats_->mailboxes) {
    auto t = d->table("Message_" + std::to_string(m.number));
    ASSERT_TRUE(t.ok());
    auto rows = t->read_all();
    ASSERT_TRUE(rows.ok());
    for (const ese::Record &r : *rows) {
      near += r.value("SeparatedProperty01").ok() || r.value("SeparatedProperty02").ok();
      multi += r.value("RecipientList").size() > 1;
    }
  }
  EXPECT_GT(near, 0);
  EXPECT_GT(multi, 0);
}

TEST_F(ExchangeCorpus, DeterministicFromTheSeed) {
  const std::string d2 = *dir_ + "/again.edb", j2 = *dir_ + "/again.jsonl";
  ASSERT_TRUE(gen::write_edb_corpus(corpus_options(), edb_options(), d2, j2).ok());
  std::string a, b, ja, jb;
  ASSERT_TRUE(testing::read_file(db(), a) && testing::read_file(d2, b));
  ASSERT_TRUE(testing::read_file(jsonl(), ja) && testing::read_file(j2, jb));
  EXPECT_TRUE(a == b);
  EXPECT_EQ(ja, jb);
}

// The ESE layer of the generated file, read by an independent reader: esedbexport exports every
// table with the row counts the generator wrote.
TEST_F(ExchangeCorpus, EsedbexportReadsEveryTable) {
  if (!have_esedbexport()) GTEST_SKIP() << "libesedb-utils absent";
  const std::string out = *dir_ + "/x";
  ASSERT_EQ(
      testing::run("rm -rf " + q(out + ".export") + " && esedbexport -t " + q(out) + " " + q(db())),
      0);
  // The exported table `table`: rows of tab-separated cells, the header (column names) first.
  auto grid = [&](const std::string &table) {
    std::vector<std::vector<std::string>> g;
    const std::string list = *dir_ + "/ls.txt";
    // testing::run discards output: the parentheses keep our own redirection.
    testing::run("(ls " + q(out + ".export") + " > " + q(list) + ")");
    std::string names;
    testing::read_file(list, names);
    auto split = [](const std::string &t, char sep) {
      std::vector<std::string> v(1);
      for (char c : t) {
        if (c == sep)
          v.emplace_back();
        else
          v.back() += c;
      }
      return v;
    };
    for (const std::string &f : split(names, '\n')) {
      if (f.rfind(table + ".", 0) != 0) continue;
      std::string body;
      testing::read_file(out + ".export/" + f, body);
      for (const std::string &line : split(body, '\n'))
        if (!line.empty()) g.push_back(split(line, '\t'));
    }
    return g;
  };
  auto rows = [&](const std::string &table) -> i64 {
    auto g = grid(table);
    return g.empty() ? -1 : static_cast<i64>(g.size()) - 1;
  };
  auto column = [&](const std::string &table, const std::string &name) {
    std::vector<std::string> v;
    auto g = grid(table);
    if (g.empty()) return v;
    auto it = std::find(g[0].begin(), g[0].end(), name);
    if (it == g[0].end()) return v;
    const std::size_t c = static_cast<std::size_t>(it - g[0].begin());
    for (std::size_t r = 1; r < g.size(); ++r) v.push_back(c < g[r].size() ? g[r][c] : "");
    return v;
  };
  std::vector<std::string> owners;
  for (const gen::EdbMailboxStats &m : stats_->mailboxes) owners.push_back(m.owner);
  EXPECT_EQ(column("Mailbox", "MailboxOwnerDisplayName"), owners);
  for (const gen::EdbMailboxStats &m : stats_->mailboxes) {
    std::vector<std::string> ids;
    for (i64 k = 1; k <= m.messages + m.hidden; ++k) ids.push_back(std::to_string(k));
    EXPECT_EQ(column("Message_" + std::to_string(m.number), "MessageDocumentId"), ids);
  }
  EXPECT_EQ(rows("Mailbox"), 3);
  EXPECT_EQ(rows("MailboxIdentity"), 3);
  for (const gen::EdbMailboxStats &m : stats_->mailboxes) {
    const std::string n = std::to_string(m.number);
    EXPECT_EQ(rows("Folder_" + n), m.folders) << n;
    EXPECT_EQ(rows("Message_" + n), m.messages + m.hidden) << n;
    EXPECT_EQ(rows("Attachment_" + n), m.attachment_rows) << n;
    EXPECT_EQ(rows("ExtendedPropertyNameMapping_" + n), 2) << n;
  }
}

TEST_F(ExchangeCorpus, DescribeListsMailboxes) {
  Result<DatabaseInfo> d = describe(db());
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_TRUE(d->exchange);
  EXPECT_EQ(d->layout, "Exchange 2013+");
  EXPECT_EQ(d->state, "CleanShutdown");
  EXPECT_EQ(d->page_size, 32768u);
  ASSERT_EQ(d->mailboxes.size(), 3u);
  for (u64 i = 0; i < 3; ++i) {
    EXPECT_EQ(d->mailboxes[i].number, stats_->mailboxes[i].number);
    EXPECT_EQ(d->mailboxes[i].owner, stats_->mailboxes[i].owner);
    EXPECT_EQ(d->mailboxes[i].folders, stats_->mailboxes[i].folders);
    EXPECT_EQ(d->mailboxes[i].messages,
              stats_->mailboxes[i].messages + stats_->mailboxes[i].hidden);
    EXPECT_EQ(d->mailboxes[i].hidden, stats_->mailboxes[i].hidden);
    EXPECT_EQ(d->mailboxes[i].guid.size(), 36u);
  }
  EXPECT_TRUE(looks_like_ese(db()));
  EXPECT_FALSE(looks_like_ese(jsonl()));
}

// Every item of every mailbox against its ground-truth line, in order, folder by folder.
TEST_F(ExchangeCorpus, ItemsMatchGroundTruth) {
  auto store = open_exchange(db());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  mapi::MailStore &s = **store;
  EXPECT_EQ(s.info().kind, "edb");
  auto folders = s.folders();
  ASSERT_TRUE(folders.ok());
  ASSERT_FALSE(folders->empty());
  EXPECT_TRUE((*folders)[0].path.empty());
  std::set<u64> folder_ids;
  for (const mapi::FolderInfo &f : *folders) {
    EXPECT_TRUE(folder_ids.insert(f.node_id).second);
    EXPECT_EQ(f.node_id >> 63, 0u);
    if (f.node_id != (*folders)[0].node_id) {
      EXPECT_TRUE(folder_ids.count(f.parent_id)) << join(f.path);
    }  // pre-order
  }
  i64 mailbox_tops = 0;
  for (const mapi::FolderInfo &f : *folders) mailbox_tops += f.path.size() == 1;
  EXPECT_EQ(mailbox_tops, 3);

  // Ground truth by folder path, in file order.
  std::map<std::string, std::vector<Json>> truth;
  for (Json &j : read_jsonl(jsonl())) truth[j["folder"].str()].push_back(std::move(j));
  i64 items = 0, with_attachments = 0, embedded = 0, html = 0, checked_folders = 0;
  std::set<u64> item_ids;
  for (const mapi::FolderInfo &f : *folders) {
    auto ids = s.items_in(f.node_id);
    ASSERT_TRUE(ids.ok());
    const std::vector<Json> &want = truth[join(f.path)];
    ASSERT_EQ(ids->size(), want.size()) << join(f.path);
    if (!want.empty()) ++checked_folders;
    for (u64 i = 0; i < ids->size(); ++i) {
      const u64 id = (*ids)[i];
      EXPECT_TRUE(item_ids.insert(id).second);
      EXPECT_EQ(id >> 63, 0u);
      const Json &w = want[i];
      auto raw = s.read_item(id);
      ASSERT_TRUE(raw.ok()) << raw.problem().detail;
      EXPECT_TRUE(raw->warnings.empty()) << raw->warnings.front().detail;
      mapi::ConvertContext ctx;
      ctx.names = raw->names ? raw->names.get() : &s.names();
      auto m = mapi::to_model(*raw, ctx);
      ASSERT_TRUE(m.ok()) << m.problem().detail;
      const std::string where = join(f.path) + " seq " + std::to_string(w["seq"].num());
      EXPECT_EQ(m->subject, w["subject"].str()) << where;
      EXPECT_EQ(m->message_id, w["message_id"].str()) << where;
      EXPECT_EQ(m->from.smtp, w["sender"].str()) << where;
      EXPECT_EQ(m->message_class, "IPM.Note") << where;
      std::vector<std::string> rcpts;
      for (const model::Recipient &r : m->recipients) rcpts.push_back(r.address.smtp);
      std::vector<std::string> want_rcpts;
      for (const Json &r : w["recipients"].arr()) want_rcpts.push_back(r.str());
      EXPECT_EQ(rcpts, want_rcpts) << where;
      if (w["body_sha256"].is_null()) {
        EXPECT_FALSE(m->body_text.has_value()) << where;
      } else {
        ASSERT_TRUE(m->body_text.has_value()) << where;
        EXPECT_EQ(sha(*m->body_text), w["body_sha256"].str()) << where;
      }
      if (!w["html_sha256"].is_null()) {
        ++html;
        ASSERT_TRUE(m->body_html.has_value()) << where;
        EXPECT_EQ(sha(*m->body_html), w["html_sha256"].str()) << where;
      }
      EXPECT_TRUE(m->submit_time.has_value()) << where;
      EXPECT_TRUE(m->delivery_time.has_value()) << where;
      // By-value attachments in order, then the embedded message count.
      std::vector<const model::Attachment *> by_value;
      i64 emb = 0;
      for (const model::Attachment &a : m->attachments) {
        if (a.kind == model::AttachmentKind::Embedded) {
          ++emb;
          ASSERT_NE(a.embedded, nullptr) << where;
          EXPECT_FALSE(a.embedded->subject.empty()) << where;
          EXPECT_FALSE(a.embedded->recipients.empty()) << where;
        } else {
          by_value.push_back(&a);
        }
      }
      const std::vector<Json> &wa = w["attachments"].arr();
      ASSERT_EQ(by_value.size(), wa.size()) << where;
      for (u64 k = 0; k < wa.size(); ++k) {
        EXPECT_EQ(by_value[k]->filename, wa[k]["name"].str()) << where;
        EXPECT_EQ(static_cast<i64>(by_value[k]->data.size()), wa[k]["size"].num()) << where;
        EXPECT_EQ(sha(by_value[k]->data), wa[k]["sha256"].str()) << where;
      }
      EXPECT_EQ(emb, w["embedded"].num()) << where;
      EXPECT_EQ(m->flags.has_attachments, !m->attachments.empty()) << where;
      with_attachments += !wa.empty();
      embedded += emb;
      ++items;
    }
  }
  EXPECT_EQ(items, 90);
  EXPECT_GT(with_attachments, 0);
  EXPECT_GT(embedded, 0);
  EXPECT_GT(html, 0);
  EXPECT_GE(checked_folders, 6);
  // Every ground-truth folder was found among the store's folders.
  std::set<std::string> paths;
  for (const mapi::FolderInfo &f : *folders) paths.insert(join(f.path));
  for (const auto &[path, lines] : truth) EXPECT_TRUE(paths.count(path)) << path;
  // Named properties of the mailbox's mapping table.
  EXPECT_EQ(s.names().size(), 2u);
  ASSERT_NE(s.names().name_of(0x8000), nullptr);
  EXPECT_EQ(s.names().name_of(0x8000)->name, "x-mailmill-generator");
  ASSERT_NE(s.names().name_of(0x8001), nullptr);
  EXPECT_EQ(s.names().name_of(0x8001)->lid, 0x8580u);
}

TEST_F(ExchangeCorpus, CensusCountsEveryRowIncludingHidden) {
  auto store = open_exchange(db());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto c = (*store)->census();
  ASSERT_TRUE(c.ok());
  i64 msgs = 0, hidden = 0, folders = 0;
  for (const gen::EdbMailboxStats &m : stats_->mailboxes) {
    msgs += m.messages;
    hidden += m.hidden;
    folders += m.folders;
  }
  EXPECT_EQ(c->message_nodes, msgs);
  EXPECT_EQ(c->assoc_nodes, hidden);
  EXPECT_EQ(c->folder_nodes, folders);
  EXPECT_EQ(c->items(), msgs + hidden);
  EXPECT_EQ(c->orphan_nodes, 0);
  EXPECT_EQ(static_cast<i64>(c->node_ids.size()), msgs + hidden);
  EXPECT_TRUE(std::is_sorted(c->node_ids.begin(), c->node_ids.end()));
  // Per folder: rows = what items_in lists, assoc_rows = hidden_per_folder, claimed = rows.
  for (const mapi::CensusFolder &f : c->folders) {
    auto ids = (*store)->items_in(f.folder_id);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(f.rows, static_cast<i64>(ids->size()));
    EXPECT_EQ(f.assoc_rows, 1);
    EXPECT_EQ(f.claimed, f.rows);
    EXPECT_EQ(f.items, f.rows + f.assoc_rows);
  }
  // A second handle shares the database and reads the same.
  auto other = (*store)->open_another();
  ASSERT_TRUE(other.ok());
  auto c2 = (*other)->census();
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->node_ids, c->node_ids);
}

TEST_F(ExchangeCorpus, SelectsMailboxesByNameAndNumber) {
  const gen::EdbMailboxStats &second = stats_->mailboxes[1];
  OpenOptions by_name;
  by_name.mailboxes = {text::to_upper_ascii(second.owner)};
  auto s1 = open_exchange(db(), by_name);
  ASSERT_TRUE(s1.ok()) << s1.problem().detail;
  auto f1 = (*s1)->folders();
  ASSERT_TRUE(f1.ok());
  std::set<std::string> tops;
  for (const mapi::FolderInfo &f : *f1)
    if (f.path.size() == 1) tops.insert(f.path[0]);
  EXPECT_EQ(tops, std::set<std::string>{"Mailbox - " + second.owner});
  auto c1 = (*s1)->census();
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->message_nodes, second.messages);

  OpenOptions by_number;
  by_number.mailboxes = {std::to_string(stats_->mailboxes[0].number),
                         std::to_string(stats_->mailboxes[2].number)};
  auto s2 = open_exchange(db(), by_number);
  ASSERT_TRUE(s2.ok());
  auto c2 = (*s2)->census();
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->message_nodes, stats_->mailboxes[0].messages + stats_->mailboxes[2].messages);

  OpenOptions none;
  none.mailboxes = {"Nobody Here"};
  auto s3 = open_exchange(db(), none);
  ASSERT_FALSE(s3.ok());
  EXPECT_NE(s3.problem().detail.find("no mailbox matches"), std::string::npos);
  EXPECT_NE(s3.problem().detail.find(second.owner), std::string::npos);
}

// A generated database whose header says DirtyShutdown (state at offset 52 of the header and
// of its shadow copy, the header XOR checksum over bytes 4..4096 with seed 0x89abcdef
// recomputed): it opens as an ESE database, and open_exchange refuses it with the state line.
TEST_F(ExchangeCorpus, RefusesDirtyShutdown) {
  std::string bytes;
  ASSERT_TRUE(testing::read_file(db(), bytes));
  for (std::size_t base : {std::size_t{0}, std::size_t{32768}}) {
    bytes[base + 52] = 2;
    u32 x = 0x89abcdef;
    for (std::size_t o = 4; o < 4096; o += 4) x ^= load_le32(bytes.data() + base + o);
    for (int k = 0; k < 4; ++k)
      bytes[base + static_cast<std::size_t>(k)] = static_cast<char>(x >> (8 * k));
  }
  const std::string dirty = *dir_ + "/dirty.edb";
  {
    std::ofstream o(dirty, std::ios::binary);
    o.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto h = ese::Database::open(dirty);
  ASSERT_TRUE(h.ok()) << h.problem().detail;
  ASSERT_EQ(h->header().state, ese::DbState::DirtyShutdown);
  EXPECT_TRUE(h->header().checksum_ok);
  auto d = describe(dirty);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, "DirtyShutdown");
  auto s = open_exchange(dirty);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_NE(s.problem().detail.find("DirtyShutdown"), std::string::npos) << s.problem().detail;
  EXPECT_NE(s.problem().detail.find("eseutil /r"), std::string::npos) << s.problem().detail;
}

// Cut and damaged copies of the generated file: a clear Problem or a readable store, never a
// crash; items of a store that opened are read without crashing.
TEST_F(ExchangeCorpus, TruncatedAndCorruptFilesNeverCrash) {
  std::string bytes;
  ASSERT_TRUE(testing::read_file(db(), bytes));
  const std::string path = *dir_ + "/bad.edb";
  auto write = [&](const std::string &b) {
    std::ofstream o(path, std::ios::binary | std::ios::trunc);
    o.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  auto exercise = [&](const std::string &what) {
    auto s = open_exchange(path);
    if (!s.ok()) {
      EXPECT_FALSE(s.problem().detail.empty()) << what;
      return;
    }
    auto folders = (*s)->folders();
    if (!folders.ok()) return;
    (void)(*s)->census();
    for (const mapi::FolderInfo &f : *folders) {
      auto ids = (*s)->items_in(f.node_id);
      if (!ids.ok()) continue;
      for (u64 id : *ids) {
        auto raw = (*s)->read_item(id);
        if (raw.ok()) (void)mapi::to_model(*raw, {});
      }
    }
  };
  for (std::size_t cut : {std::size_t{0}, std::size_t{100}, std::size_t{65536}, bytes.size() / 3,
                          bytes.size() / 2, bytes.size() - 32768}) {
    write(bytes.substr(0, cut));
    auto s = open_exchange(path);
    EXPECT_FALSE(s.ok()) << "cut at " << cut;
    exercise("cut at " + std::to_string(cut));
  }
  // Pseudo-random byte damage in the data pages (past the header and its shadow).
  u64 x = 12345;
  for (int round = 0; round < 12; ++round) {
    std::string bad = bytes;
    for (int k = 0; k < 64; ++k) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const std::size_t at = 65536 + static_cast<std::size_t>((x >> 17) % (bad.size() - 65536));
      bad[at] = static_cast<char>(x >> 56);
    }
    write(bad);
    exercise("damage round " + std::to_string(round));
  }
}

TEST(ExchangeRefusals, NotEseAndMissingFiles) {
  const std::string dir = testing::make_tmp_dir("mm_exch_r");
  const std::string txt = dir + "/x.edb";
  {
    std::ofstream o(txt);
    o << "this is not a database at all, just some text that is long enough";
  }
  auto s = open_exchange(txt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::SourceNotPst);
  EXPECT_FALSE(describe(txt).ok());
  EXPECT_FALSE(looks_like_ese(txt));
  auto missing = open_exchange(dir + "/missing.edb");
  ASSERT_FALSE(missing.ok());
  testing::run("rm -rf " + q(dir));
}

// An ESE database of another application (the corpus's dissect.esedb test file): described as
// non-Exchange, refused by open_exchange with one line naming what it holds.
TEST(ExchangeRefusals, NonExchangeEseFromCorpus) {
  MM_REQUIRE_CORPUS();
  const std::string path = testing::corpus_path("edb/dissect__basic.edb");
  if (!std::ifstream(path)) {
    if (testing::corpus_mandatory()) FAIL() << path << " missing";
    GTEST_SKIP() << path << " missing";
  }
  auto d = describe(path);
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_FALSE(d->exchange);
  EXPECT_FALSE(d->tables.empty());
  auto s = open_exchange(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::SourceNotPst);
  EXPECT_NE(s.problem().detail.find("not an Exchange mailbox database"), std::string::npos);
}

// stroz__Current.mdb is in DirtyShutdown state (and not an Exchange database): refused, no crash.
TEST(ExchangeRefusals, DirtyNonExchangeFromCorpus) {
  MM_REQUIRE_CORPUS();
  const std::string path = testing::corpus_path("edb/stroz__Current.mdb");
  if (!std::ifstream(path)) {
    if (testing::corpus_mandatory()) FAIL() << path << " missing";
    GTEST_SKIP() << path << " missing";
  }
  auto d = describe(path);
  ASSERT_TRUE(d.ok()) << d.problem().detail;
  EXPECT_EQ(d->state, "DirtyShutdown");
  auto s = open_exchange(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem().code, ProblemCode::SourceNotPst);
}

}  // namespace
}  // namespace mm::exchange

namespace mm::exchange {
namespace {

// Every ESE file of the corpus (none is an Exchange database): describe() reads it or says why
// not, open_exchange refuses it with one line; nothing crashes.
TEST(ExchangeRefusals, EveryCorpusEseFileIsRefusedCleanly) {
  MM_REQUIRE_CORPUS();
  const std::string dir = testing::corpus_path("edb");
  std::error_code ec;
  i64 seen = 0;
  for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string p = e.path().string();
    if (p.size() > 3 && p.substr(p.size() - 3) == ".gz") continue;
    ++seen;
    (void)describe(p);
    auto s = open_exchange(p);
    ASSERT_FALSE(s.ok()) << p;
    EXPECT_FALSE(s.problem().detail.empty()) << p;
    EXPECT_EQ(s.problem().detail.find('\n'), std::string::npos) << p;
  }
  EXPECT_GT(seen, 0);
}

TEST(EdbGenerator, RefusesItemKindsItCannotLayOut) {
  gen::GenOptions o;
  o.messages = 3;
  o.calendar_ratio = 0.5;
  const std::string dir = testing::make_tmp_dir("mm_exch_g");
  auto st = gen::write_edb_corpus(o, {}, dir + "/x.edb", dir + "/x.jsonl");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.problem().code, ProblemCode::ItemUnsupportedType);
  testing::run("rm -rf " + testing::q(dir));
}

}  // namespace
}  // namespace mm::exchange
