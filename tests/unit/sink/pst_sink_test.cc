// The Microsoft 365 PST sink: mapping CSV bytes, --mailbox-map parsing, splitting at the size
// limit (checked with pffinfo/pffexport as independent readers), folder depth, resume.
#include "test_support.h"
#include "mailmill/sink/pst_sink.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace mm::sink {
namespace {
namespace fs = std::filesystem;

std::string make_tmp_dir() { return testing::make_tmp_dir("mm_pstsink"); }
using testing::run;
using testing::q;
std::string slurp(const fs::path &p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

model::Message make_msg(const std::string &subject, std::size_t body_bytes,
                        std::size_t attach_bytes) {
  model::Message m;
  m.message_class = "IPM.Note";
  m.subject = subject;
  m.from = {"Alice", "alice@example.com", "", "SMTP"};
  m.recipients.push_back({model::RecipientType::To, {"Bob", "bob@example.com", "", "SMTP"}});
  std::string body;
  for (std::size_t i = 0; body.size() < body_bytes; ++i)
    body += "line " + std::to_string(i) + " of " + subject + "\n";
  m.body_text = body;
  m.submit_time = 1700000000;
  m.delivery_time = 1700000100;
  if (attach_bytes) {
    model::Attachment a;
    a.filename = "data.bin";
    Bytes data(attach_bytes, '\0');
    u32 x = static_cast<u32>(subject.size() * 2654435761u + 7);
    for (auto &c : data) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      c = static_cast<char>(x);
    }
    a.data = std::move(data);
    m.attachments.push_back(std::move(a));
    m.flags.has_attachments = true;
  }
  return m;
}

// Same as the pipeline's estimate (text + attachments + fixed overhead).
u64 est(const model::Message &m) {
  u64 n = m.subject.size() + 512 + (m.body_text ? m.body_text->size() : 0);
  for (const auto &r : m.recipients) n += r.address.name.size() + r.address.smtp.size() + 64;
  for (const auto &a : m.attachments) n += a.data.size() + a.filename.size() + 256;
  return n;
}

struct Item {
  std::vector<std::string> folder;
  model::Message msg;
};

void add(std::vector<Item> &items, std::vector<std::string> folder, model::Message msg) {
  items.emplace_back();
  items.back().folder = std::move(folder);
  items.back().msg = std::move(msg);
}

std::vector<Item> corpus(int n) {
  std::vector<Item> out;
  const std::vector<std::vector<std::string>> folders = {
      {"Top of Personal Folders", "Inbox"},
      {"Top of Personal Folders", "Inbox", "Projects"},
      {"Top of Personal Folders", "Sent Items"},
      {"Top of Personal Folders", "Deleted Items"}};
  for (int i = 0; i < n; ++i) {
    std::string subject = "Message " + std::to_string(i);
    add(out, folders[i % folders.size()],
        make_msg(subject, 1000 + (i * 37) % 4000, i % 3 == 0 ? 8000 + (i * 131) % 20000 : 0));
  }
  return out;
}

// (folder below "Top of Personal Folders", subject) of every message pffexport finds.
std::multiset<std::pair<std::string, std::string>> pff_messages(const std::string &pst,
                                                                const std::string &out) {
  std::multiset<std::pair<std::string, std::string>> got;
  if (run("pffexport -q -f all -t " + q(out) + " " + q(pst)) != 0) return got;
  fs::path top = fs::path(out + ".export") / "Top of Personal Folders";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(top, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_directory() || it->path().filename().string().rfind("Message", 0) != 0) continue;
    it.disable_recursion_pending();
    std::istringstream h(slurp(it->path() / "OutlookHeaders.txt"));
    std::string line, subject;
    while (std::getline(h, line))
      if (line.rfind("Subject:", 0) == 0) subject = line.substr(line.find_first_not_of('\t', 8));
    got.insert({it->path().parent_path().lexically_relative(top).generic_string(), subject});
  }
  return got;
}

std::vector<fs::path> psts_under(const fs::path &dir) {
  std::vector<fs::path> out;
  for (const auto &e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".pst") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Feeds items like the pipeline's serial stage does: before_write, then write_model.
std::vector<std::string> feed(Sink &s, const std::string &key, const std::vector<Item> &items,
                              std::size_t from = 0, std::size_t to = SIZE_MAX,
                              std::map<std::string, u64> *commit = nullptr,
                              std::size_t *commit_at = nullptr) {
  std::vector<std::string> locs;
  for (std::size_t i = from; i < std::min(to, items.size()); ++i) {
    s.before_write(est(items[i].msg));
    if (commit && s.at_commit_point()) {
      *commit = s.tracked_sizes();
      *commit_at = i;
    }
    locs.push_back(s.write_model(Destination{key, items[i].folder}, items[i].msg, OutMessage{}));
  }
  return locs;
}

TEST(PstMappingCsv, ExactBytes) {
  std::vector<PstMappingRow> rows = {
      {"a@example.com", "archive-001.pst", "a@example.com", false, "/"},
      {"b@example.com", "old_mail-002.pst", "B@Example.com", true, "/Imported, 2019"},
      {"", "x.pst", "c@example.com", false, ""}};
  EXPECT_EQ(pst_mapping_csv(rows),
            "Workload,FilePath,Name,Mailbox,IsArchive,TargetRootFolder,ContentCodePage,"
            "SPFileContainer,SPManifestContainer,SPSiteUrl\r\n"
            "Exchange,a@example.com,archive-001.pst,a@example.com,FALSE,/,,,,\r\n"
            "Exchange,b@example.com,old_mail-002.pst,B@Example.com,TRUE,\"/Imported, 2019\",,,,\r\n"
            "Exchange,,x.pst,c@example.com,FALSE,,,,,\r\n");
  EXPECT_EQ(pst_mapping_csv({}), std::string(PST_MAPPING_HEADER) + "\r\n");
}

TEST(MailboxMap, ParsesHeaderQuotesAndArchive) {
  PstSinkOptions o;
  Status st = parse_mailbox_map(
      "\xEF\xBB\xBFsource,mailbox,archive\r\n"
      "/data/ann.pst,ann@example.com\n"
      "\n"
      "\"/data/with, comma.pst\", bob@example.com , TRUE\n"
      "/data/old,carl@example.com,false\n",
      o);
  ASSERT_TRUE(st) << st.problem().detail;
  EXPECT_EQ(o.mailbox_for_source.size(), 3u);
  EXPECT_EQ(o.mailbox_for_source["/data/ann.pst"], "ann@example.com");
  EXPECT_EQ(o.mailbox_for_source["/data/with, comma.pst"], "bob@example.com");
  EXPECT_TRUE(o.archive_for_source["/data/with, comma.pst"]);
  EXPECT_FALSE(o.archive_for_source["/data/old"]);
  EXPECT_FALSE(o.archive_for_source["/data/ann.pst"]);
}

TEST(MailboxMap, RejectsMalformedLines) {
  for (const char *bad :
       {"a.pst,not-an-address\nb.pst,b@example.com\n"  // line 1 is a header...
        "c.pst,nope\n",
        "a.pst,a@example.com,maybe\n", "\"a.pst,a@example.com\n",
        "a.pst,a@example.com\na.pst,b@example.com\n", "a.pst,a@example.com,x,y\n"}) {
    PstSinkOptions o;
    Status st = parse_mailbox_map(bad, o);
    EXPECT_FALSE(st) << bad;
    if (!st) {
      EXPECT_NE(st.problem().detail.find("mailbox map"), std::string::npos);
    }
  }
}

TEST(PstSink, SplitsAtLimitAndKeepsEveryMessageOnce) {
  std::string dir = make_tmp_dir();
  PstSinkOptions o;
  o.default_mailbox = "User@Example.com";
  o.max_pst_bytes = 300 * 1024;
  std::vector<Item> items = corpus(160);
  auto sink = make_pst_sink(dir, o);
  ASSERT_TRUE(sink->wants_model());
  std::string key = sink->add_source("/somewhere/My Archive.pst");
  std::vector<std::string> locs = feed(*sink, key, items);
  sink->finish();

  std::vector<fs::path> psts = psts_under(fs::path(dir) / "pst");
  ASSERT_GE(psts.size(), 4u);
  std::multiset<std::pair<std::string, std::string>> all;
  std::string want_csv = std::string(PST_MAPPING_HEADER) + "\r\n";
  for (std::size_t i = 0; i < psts.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "My_Archive-%03zu.pst", i + 1);
    EXPECT_EQ(psts[i].filename().string(), name);
    EXPECT_EQ(psts[i].parent_path().filename().string(), "user@example.com");
    // The guarantee: no part is over the limit (each holds many items, none alone too big).
    EXPECT_LE(fs::file_size(psts[i]), o.max_pst_bytes) << psts[i];
    EXPECT_EQ(run("pffinfo " + q(psts[i].string())), 0) << psts[i];
    auto got = pff_messages(psts[i].string(), dir + "/pff" + std::to_string(i));
    EXPECT_FALSE(got.empty()) << psts[i];
    all.insert(got.begin(), got.end());
    want_csv +=
        std::string("Exchange,user@example.com,") + name + ",User@Example.com,FALSE,/,,,,\r\n";
  }
  std::multiset<std::pair<std::string, std::string>> want;
  for (const Item &it : items) {
    std::string f;
    for (std::size_t k = 1; k < it.folder.size(); ++k) f += (k > 1 ? "/" : "") + it.folder[k];
    want.insert({f, it.msg.subject});
  }
  EXPECT_EQ(all, want);
  EXPECT_EQ(slurp(fs::path(dir) / "pst" / "mapping.csv"), want_csv);
  // The parts are well filled (the projection is not wildly pessimistic).
  for (std::size_t i = 0; i + 1 < psts.size(); ++i)
    EXPECT_GE(fs::file_size(psts[i]), o.max_pst_bytes / 2) << psts[i];
  ASSERT_EQ(locs.size(), items.size());
  EXPECT_EQ(locs[0].rfind("pst/user@example.com/My_Archive-001.pst#", 0), 0u) << locs[0];
  EXPECT_TRUE(fs::is_empty(fs::path(dir) / "pst" / "user@example.com") == false);
  for (const auto &e : fs::recursive_directory_iterator(fs::path(dir) / "pst"))
    EXPECT_NE(e.path().extension(), ".part") << e.path();
  fs::remove_all(dir);
}

TEST(PstSink, ItemLargerThanLimitGetsAPstOfItsOwn) {
  std::string dir = make_tmp_dir();
  PstSinkOptions o;
  o.default_mailbox = "a@example.com";
  o.max_pst_bytes = 100 * 1024;
  std::vector<Item> items;
  add(items, {"Top of Personal Folders", "Inbox"}, make_msg("small 1", 500, 0));
  add(items, {"Top of Personal Folders", "Inbox"}, make_msg("huge", 500, 300 * 1024));
  add(items, {"Top of Personal Folders", "Inbox"}, make_msg("small 2", 500, 0));
  auto sink = make_pst_sink(dir, o);
  std::string key = sink->add_source("/x/a.pst");
  feed(*sink, key, items);
  sink->finish();
  std::vector<fs::path> psts = psts_under(fs::path(dir) / "pst");
  ASSERT_EQ(psts.size(), 3u);
  EXPECT_LE(fs::file_size(psts[0]), o.max_pst_bytes);
  EXPECT_GT(fs::file_size(psts[1]), o.max_pst_bytes);  // documented: a lone item may exceed
  EXPECT_LE(fs::file_size(psts[2]), o.max_pst_bytes);
  fs::remove_all(dir);
}

TEST(PstSink, FoldersDeeperThan299AreFlattened) {
  std::string dir = make_tmp_dir();
  PstSinkOptions o;
  o.default_mailbox = "a@example.com";
  auto sink = make_pst_sink(dir, o);
  std::string key = sink->add_source("/x/deep.pst");
  std::vector<std::string> path = {"Top of Personal Folders"};
  for (int i = 1; i <= 305; ++i) path.push_back("f" + std::to_string(i));
  std::vector<Item> items;
  add(items, path, make_msg("deep", 100, 0));
  add(items, std::vector<std::string>(path.begin(), path.begin() + 11), make_msg("ten", 100, 0));
  feed(*sink, key, items);
  sink->finish();
  std::vector<fs::path> psts = psts_under(fs::path(dir) / "pst");
  ASSERT_EQ(psts.size(), 1u);
  EXPECT_EQ(run("pffinfo " + q(psts[0].string())), 0);
  auto got = pff_messages(psts[0].string(), dir + "/pff");
  std::string want_deep;
  for (int i = 1; i <= 298; ++i) want_deep += "f" + std::to_string(i) + "/";
  want_deep += "f299";
  // The folder is named "f299 > f300 > ... > f305"; pffexport writes '>' as '_' in file names.
  for (int i = 300; i <= 305; ++i) want_deep += " _ f" + std::to_string(i);
  std::multiset<std::pair<std::string, std::string>> want = {
      {want_deep, "deep"}, {"f1/f2/f3/f4/f5/f6/f7/f8/f9/f10", "ten"}};
  EXPECT_EQ(got, want);
  fs::remove_all(dir);
}

TEST(PstSink, ResumeKeepsCommittedPartsAndRewritesTheRestIdentically) {
  std::vector<Item> items = corpus(120);
  PstSinkOptions o;
  o.default_mailbox = "a@example.com";
  o.max_pst_bytes = 250 * 1024;

  // Uninterrupted run.
  std::string ref = make_tmp_dir();
  {
    auto s = make_pst_sink(ref, o);
    feed(*s, s->add_source("/x/mail.pst"), items);
    s->finish();
  }
  // Interrupted run: remember the second commit point, write some more, then "crash".
  std::string dir = make_tmp_dir();
  std::map<std::string, u64> committed;
  std::size_t resume_at = 0;
  {
    auto s = make_pst_sink(dir, o);
    std::string key = s->add_source("/x/mail.pst");
    std::map<std::string, u64> c;
    std::size_t at = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      s->before_write(est(items[i].msg));
      if (s->at_commit_point() && i > 0) {
        c = s->tracked_sizes();
        at = i;
        if (c.size() == 2) {
          committed = c;
          resume_at = i;
        }
      }
      s->write_model(Destination{key, items[i].folder}, items[i].msg, OutMessage{});
      if (resume_at && i > resume_at + 30) break;  // crash with a PST open and one finished after
    }
    (void)at;
  }  // destroyed without finish(): the open PST stays a .part file
  ASSERT_EQ(committed.size(), 2u);
  {
    auto s = make_pst_sink(dir, o);
    s->resume(committed);
    std::string key = s->add_source("/x/mail.pst");
    feed(*s, key, items, resume_at);
    s->finish();
  }
  std::vector<fs::path> a = psts_under(fs::path(ref) / "pst"),
                        b = psts_under(fs::path(dir) / "pst");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].lexically_relative(ref), b[i].lexically_relative(dir));
    EXPECT_TRUE(slurp(a[i]) == slurp(b[i])) << b[i];
  }
  EXPECT_EQ(slurp(fs::path(ref) / "pst" / "mapping.csv"),
            slurp(fs::path(dir) / "pst" / "mapping.csv"));
  for (const auto &e : fs::recursive_directory_iterator(fs::path(dir) / "pst"))
    EXPECT_NE(e.path().extension(), ".part") << e.path();
  fs::remove_all(ref);
  fs::remove_all(dir);
}

TEST(PstSink, MailboxesFromTheMapAndIncrementalRunsKeepRows) {
  std::string dir = make_tmp_dir();
  fs::create_directories(fs::path(dir) / "in" / "bob");
  PstSinkOptions o;
  ASSERT_TRUE(parse_mailbox_map("source,mailbox,archive\n" + dir + "/in/ann.pst,ann@example.com\n" +
                                    dir + "/in/bob,bob@example.com,true\n",
                                o));
  std::vector<Item> items = corpus(6);
  {
    auto s = make_pst_sink(fs::path(dir) / "out", o);
    std::string k1 = s->add_source(dir + "/in/ann.pst");
    std::string k2 = s->add_source(dir + "/in/bob/../bob/archive.pst");
    EXPECT_THROW(s->add_source(dir + "/in/carl.pst"), FatalError);  // no mailbox, no default
    feed(*s, k1, items);
    feed(*s, k2, items);
    s->finish();
  }
  std::string want = std::string(PST_MAPPING_HEADER) + "\r\n" +
                     "Exchange,ann@example.com,ann-001.pst,ann@example.com,FALSE,/,,,,\r\n" +
                     "Exchange,bob@example.com,archive-001.pst,bob@example.com,TRUE,/,,,,\r\n";
  EXPECT_EQ(slurp(fs::path(dir) / "out" / "pst" / "mapping.csv"), want);
  // A later run into the same folder adds its rows; the source key of the earlier run is taken.
  {
    PstSinkOptions o2;
    o2.default_mailbox = "dora@example.com";
    o2.target_root_folder = "/Imported";
    auto s = make_pst_sink(fs::path(dir) / "out", o2);
    s->reserve_source_key("ann");
    std::string k = s->add_source(dir + "/elsewhere/ann.pst");
    feed(*s, k, items);
    s->finish();
  }
  want += "Exchange,dora@example.com,ann__2_-001.pst,dora@example.com,FALSE,/Imported,,,,\r\n";
  EXPECT_EQ(slurp(fs::path(dir) / "out" / "pst" / "mapping.csv"), want);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mm::sink
