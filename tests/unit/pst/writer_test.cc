// PstWriter acceptance: files written here must be read fully by the independent oracles
// pffinfo/pffexport (libpff) and readpst (libpst), run as subprocesses.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "mailmill/format/pst/writer.h"

namespace mm::pst {
namespace {

std::string make_tmp_dir() { return testing::make_tmp_dir("mm_writer"); }
using testing::run;
using testing::q;
using testing::read_file;
std::vector<std::string> list_dir(const std::string &path) {
  std::vector<std::string> out;
  if (DIR *d = opendir(path.c_str())) {
    while (dirent *e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_dir(const std::string &p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The "Subject:" value from pffexport's OutlookHeaders.txt.
std::string pff_subject(const std::string &msg_dir) {
  std::string h;
  read_file(msg_dir + "/OutlookHeaders.txt", h);
  std::istringstream in(h);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Subject:", 0) == 0) {
      auto p = line.find_first_not_of('\t', 8);
      return p == std::string::npos ? "" : line.substr(p);
    }
  }
  return "";
}

model::Message make_msg(const std::string &subject, const std::string &body) {
  model::Message m;
  m.message_class = "IPM.Note";
  m.subject = subject;
  m.from = {"Alice Ünïcode", "alice@example.com", "", "SMTP"};
  m.recipients.push_back({model::RecipientType::To, {"Bob Боб", "bob@example.com", "", "SMTP"}});
  m.recipients.push_back({model::RecipientType::Cc, {"Carol", "carol@example.com", "", "SMTP"}});
  m.body_text = body;
  m.submit_time = 1700000000;
  m.delivery_time = 1700000100;
  m.message_id = "<" + std::to_string(subject.size()) + "@example.com>";
  m.transport_headers = "Received: from a by b\r\nSubject: x\r\n\r\n";
  return m;
}

Bytes pattern(u64 n, u32 seed) {
  Bytes b(n, '\0');
  u32 x = seed * 2654435761u + 1;
  for (u64 i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = static_cast<char>(x);
  }
  return b;
}

struct Expected {
  std::string folder;  // path below "Top of Personal Folders"
  std::string subject;
  std::string body;
  std::vector<std::pair<std::string, Bytes>> attachments;
};

// Runs pffexport and checks every expected message (matched by subject within its folder).
void check_pffexport(const std::string &pst, const std::string &dir, const std::vector<Expected> &want) {
  ASSERT_EQ(run("pffinfo " + q(pst)), 0);
  std::string out = dir + "/pff";
  ASSERT_EQ(run("pffexport -q -f all -t " + q(out) + " " + q(pst)), 0);
  std::string top = out + ".export/Top of Personal Folders";
  ASSERT_TRUE(is_dir(top));
  std::map<std::string, int> per_folder;
  for (const Expected &e : want) {
    std::string fdir = top + (e.folder.empty() ? "" : "/" + e.folder);
    bool found = false;
    for (const std::string &n : list_dir(fdir)) {
      if (n.rfind("Message", 0) != 0) continue;
      std::string md = fdir + "/" + n;
      if (pff_subject(md) != e.subject) continue;
      found = true;
      std::string body;
      EXPECT_TRUE(read_file(md + "/Message.txt", body)) << md;
      EXPECT_EQ(body, e.body) << md;
      for (u64 i = 0; i < e.attachments.size(); ++i) {
        std::string data;
        std::string path = md + "/Attachments/" + std::to_string(i + 1) + "_" + e.attachments[i].first;
        EXPECT_TRUE(read_file(path, data)) << path;
        EXPECT_TRUE(data == e.attachments[i].second) << path << " size " << data.size();
      }
      break;
    }
    EXPECT_TRUE(found) << "pffexport lacks '" << e.subject << "' in " << fdir;
    per_folder[fdir]++;
  }
  for (const auto &[fdir, n] : per_folder) {
    int count = 0;
    for (const std::string &name : list_dir(fdir)) count += name.rfind("Message", 0) == 0;
    EXPECT_EQ(count, n) << fdir;
  }
}

// Runs readpst -S (one file per message, attachments as "N-name") and checks counts, bodies
// and attachment bytes per folder.
void check_readpst(const std::string &pst, const std::string &dir, const std::string &store_name,
                   const std::vector<Expected> &want) {
  std::string out = dir + "/rp";
  ASSERT_EQ(run("mkdir -p " + q(out)), 0);
  ASSERT_EQ(run("readpst -q -D -j0 -r -S -o " + q(out) + " " + q(pst)), 0);
  std::map<std::string, std::vector<const Expected *>> by_folder;
  for (const Expected &e : want) by_folder[e.folder].push_back(&e);
  for (const auto &[folder, list] : by_folder) {
    std::string fdir = out + "/" + store_name + (folder.empty() ? "" : "/" + folder);
    std::vector<std::string> msgs;
    std::set<std::string> attach_files;
    for (const std::string &n : list_dir(fdir)) {
      if (is_dir(fdir + "/" + n)) continue;
      if (n.find('-') == std::string::npos) msgs.push_back(n); else attach_files.insert(n);
    }
    EXPECT_EQ(msgs.size(), list.size()) << fdir;
    for (const Expected *e : list) {
      bool found = false;
      for (const std::string &m : msgs) {
        std::string text;
        read_file(fdir + "/" + m, text);
        if (text.find(e->body) == std::string::npos) continue;
        found = true;
        for (const auto &[name, bytes] : e->attachments) {
          std::string data;
          EXPECT_TRUE(read_file(fdir + "/" + m + "-" + name, data)) << m << "-" << name;
          EXPECT_TRUE(data == bytes) << fdir << "/" << m << "-" << name;
        }
      }
      EXPECT_TRUE(found) << "readpst lacks body of '" << e->subject << "' in " << fdir;
    }
  }
}

class WriterEnc : public ::testing::TestWithParam<WriterEncryption> {};

TEST_P(WriterEnc, FolderTreeNonAsciiAttachmentsRoundTrip) {
  std::string dir = make_tmp_dir();
  std::string path = dir + "/t.pst";
  WriterOptions o;
  o.display_name = "Store";
  o.encryption = GetParam();
  auto w = PstWriter::create(path, o);
  ASSERT_TRUE(w.ok()) << w.problem().detail;
  auto inbox = (*w)->add_folder(0, "Inbox");
  ASSERT_TRUE(inbox.ok());
  auto nested = (*w)->add_folder(*inbox, "Прочее é 日本");
  ASSERT_TRUE(nested.ok());
  auto deeper = (*w)->add_folder(*nested, "Deeper");
  ASSERT_TRUE(deeper.ok());
  std::vector<Expected> want;
  struct Spec {
    u64 folder;
    std::string path;
  };
  std::vector<Spec> specs = {{*inbox, "Inbox"}, {*nested, "Inbox/Прочее é 日本"},
                             {*deeper, "Inbox/Прочее é 日本/Deeper"}};
  const char *subjects[] = {"Plain subject", "Accents àéîõü", "Кириллица тема", "中文 日本語 한국어",
                            "Long body"};
  int k = 0;
  for (const Spec &s : specs) {
    for (const char *subj : subjects) {
      std::string body = std::string("Body of ") + subj + " in " + s.path + " #" + std::to_string(k);
      if (std::string(subj) == "Long body") body += std::string(20000, 'z');  // body in a subnode
      model::Message m = make_msg(std::string(subj) + " " + std::to_string(k), body);
      Expected e{s.path, m.subject, body, {}};
      if (k % 2 == 0) {
        for (int a = 0; a < 2; ++a) {
          model::Attachment at;
          at.filename = "att" + std::to_string(a) + (a ? "_é.bin" : ".dat");
          at.mime_type = "application/octet-stream";
          at.data = pattern(a ? 70000 + k : 1000 + k, k * 10 + a);
          e.attachments.push_back({at.filename, at.data.str()});
          m.attachments.push_back(std::move(at));
        }
      }
      ASSERT_TRUE((*w)->add_message(s.folder, m).ok());
      want.push_back(std::move(e));
      ++k;
    }
  }
  ASSERT_TRUE((*w)->finish().ok());
  check_pffexport(path, dir, want);
  check_readpst(path, dir, "Store", want);
  run("rm -rf " + q(dir));
}

INSTANTIATE_TEST_SUITE_P(Encodings, WriterEnc,
                         ::testing::Values(WriterEncryption::None, WriterEncryption::Permute));

TEST(PstWriter, EmptyStoreOpensEverywhere) {
  std::string dir = make_tmp_dir();
  std::string path = dir + "/empty.pst";
  auto w = PstWriter::create(path, WriterOptions{});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->finish().ok());
  EXPECT_EQ(run("pffinfo " + q(path)), 0);
  EXPECT_EQ(run("pffexport -q -f all -t " + q(dir + "/pff") + " " + q(path)), 0);
  EXPECT_TRUE(is_dir(dir + "/pff.export/Top of Personal Folders/Deleted Items"));
  EXPECT_EQ(run("mkdir -p " + q(dir + "/rp") + " && readpst -q -D -r -o " + q(dir + "/rp") + " " + q(path)), 0);
  run("rm -rf " + q(dir));
}

TEST(PstWriter, EmbeddedMessageAndEmoji) {
  std::string dir = make_tmp_dir();
  std::string path = dir + "/emb.pst";
  auto w = PstWriter::create(path, WriterOptions{});
  ASSERT_TRUE(w.ok());
  model::Message m = make_msg("Outer 😀 emoji", "outer body 🚀 rocket");
  m.transport_headers.clear();  // readpst prefers the transport headers' Subject
  model::Attachment a;
  a.kind = model::AttachmentKind::Embedded;
  a.embedded = std::make_unique<model::Message>(make_msg("Inner subject", "inner body text"));
  model::Attachment inner_file;
  inner_file.filename = "inner.txt";
  inner_file.data = "inner attachment bytes";
  a.embedded->attachments.push_back(std::move(inner_file));
  m.attachments.push_back(std::move(a));
  ASSERT_TRUE((*w)->add_message(0, m).ok());
  ASSERT_TRUE((*w)->finish().ok());
  ASSERT_EQ(run("pffexport -q -f all -t " + q(dir + "/pff") + " " + q(path)), 0);
  std::string md = dir + "/pff.export/Top of Personal Folders/Message00001";
  std::string body, inner;
  EXPECT_TRUE(read_file(md + "/Message.txt", body));  // libpff mangles non-BMP: check prefix
  EXPECT_EQ(body.rfind("outer body ", 0), 0u);
  EXPECT_TRUE(read_file(md + "/Attachments/Attachment00001/Message00001/Message.txt", inner));
  EXPECT_EQ(inner, "inner body text");
  std::string inner_att;
  EXPECT_TRUE(read_file(md + "/Attachments/Attachment00001/Message00001/Attachments/1_inner.txt", inner_att));
  EXPECT_EQ(inner_att, "inner attachment bytes");
  // readpst decodes the UTF-16 surrogate pair correctly (libpff's text export does not).
  ASSERT_EQ(run("mkdir -p " + q(dir + "/rp") + " && readpst -q -D -j0 -r -o " + q(dir + "/rp") + " " + q(path)), 0);
  std::string mbox;
  ASSERT_TRUE(read_file(dir + "/rp/Personal Folders/mbox", mbox));
  EXPECT_NE(mbox.find("outer body 🚀 rocket"), std::string::npos);
  EXPECT_NE(mbox.find("inner body text"), std::string::npos);
  EXPECT_NE(mbox.find("=?utf-8?B?T3V0ZXIg8J+YgCBlbW9qaQ==?="), std::string::npos)  // "Outer 😀 emoji"
      << mbox.substr(0, 400);
  run("rm -rf " + q(dir));
}

TEST(PstWriter, TwentyMegabyteAttachmentUsesXXBlock) {
  std::string dir = make_tmp_dir();
  std::string path = dir + "/big.pst";
  auto w = PstWriter::create(path, WriterOptions{});
  ASSERT_TRUE(w.ok());
  model::Message m = make_msg("Big one", "has a 20 MB attachment");
  model::Attachment a;
  a.filename = "big.bin";
  a.data = pattern(20u << 20, 99);
  Bytes copy = a.data.str();
  m.attachments.push_back(std::move(a));
  ASSERT_TRUE((*w)->add_message(0, m).ok());
  ASSERT_TRUE((*w)->finish().ok());
  EXPECT_GT((*w)->bytes_written(), 20u << 20);
  check_pffexport(path, dir, {{"", "Big one", "has a 20 MB attachment", {{"big.bin", copy}}}});
  check_readpst(path, dir, "Personal Folders", {{"", "Big one", "has a 20 MB attachment", {{"big.bin", copy}}}});
  run("rm -rf " + q(dir));
}

TEST(PstWriter, ManyMessagesInOneFolderMultiBlockTables) {
  // 1500 rows: the contents table's row matrix goes to a subnode and its heap spans blocks.
  std::string dir = make_tmp_dir();
  std::string path = dir + "/many.pst";
  auto w = PstWriter::create(path, WriterOptions{});
  ASSERT_TRUE(w.ok());
  auto f = (*w)->add_folder(0, "Bulk");
  ASSERT_TRUE(f.ok());
  std::vector<Expected> want;
  for (int i = 0; i < 1500; ++i) {
    model::Message m = make_msg("Bulk message number " + std::to_string(i), "bulk body " + std::to_string(i) + ".");
    ASSERT_TRUE((*w)->add_message(*f, m).ok());
    want.push_back({"Bulk", m.subject, *m.body_text, {}});
  }
  ASSERT_TRUE((*w)->finish().ok());
  check_pffexport(path, dir, want);
  run("rm -rf " + q(dir));
}

TEST(PstWriter, UnknownFolderIsAProblemNotACrash) {
  std::string dir = make_tmp_dir();
  auto w = PstWriter::create(dir + "/x.pst", WriterOptions{});
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE((*w)->add_folder(12345, "nope").ok());
  EXPECT_FALSE((*w)->add_message(12345, make_msg("a", "b")).ok());
  ASSERT_TRUE((*w)->finish().ok());
  EXPECT_FALSE((*w)->finish().ok());
  EXPECT_FALSE(PstWriter::create("/nonexistent-dir/x.pst", WriterOptions{}).ok());
  run("rm -rf " + q(dir));
}

// Label "slow": writes a file past 4 GiB and reads the last message back.
TEST(WriterSlow, FileOver4GiB) {
  std::string dir = make_tmp_dir();
  std::string path = dir + "/huge.pst";
  auto w = PstWriter::create(path, WriterOptions{});
  ASSERT_TRUE(w.ok());
  auto f = (*w)->add_folder(0, "Huge");
  ASSERT_TRUE(f.ok());
  model::Attachment a;
  a.filename = "chunk.bin";
  Bytes chunk = pattern(150u << 20, 5);
  int i = 0;
  while ((*w)->bytes_written() < (4500ull << 20)) {
    model::Message m = make_msg("Huge " + std::to_string(i), "huge body " + std::to_string(i));
    m.attachments.push_back(model::Attachment{});
    m.attachments.back().filename = a.filename;
    chunk[0] = static_cast<char>(i);
    m.attachments.back().data = Blob(chunk, nullptr);  // add_message copies it out at once
    ASSERT_TRUE((*w)->add_message(*f, m).ok());
    ++i;
  }
  auto f2 = (*w)->add_folder(0, "Last");
  model::Message last = make_msg("The last one", "after 4 GiB");
  model::Attachment la;
  la.filename = "tail.bin";
  la.data = pattern(123457, 77);
  Bytes copy = la.data.str();
  last.attachments.push_back(std::move(la));
  ASSERT_TRUE((*w)->add_message(*f2, last).ok());
  ASSERT_TRUE((*w)->finish().ok());
  EXPECT_GT((*w)->bytes_written(), 4ull << 30);
  // Export only the small folder's message by exporting all (pffexport has no folder filter).
  check_pffexport(path, dir, {{"Last", "The last one", "after 4 GiB", {{"tail.bin", copy}}}});
  run("rm -rf " + q(dir));
}

}  // namespace
}  // namespace mm::pst
