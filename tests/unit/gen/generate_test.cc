// Generator: determinism and ground truth checked against pffexport of the generated PST.
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

#include "openssl_sha256.h"
#include "test_support.h"
#include "mailmill/gen/generate.h"
#include "../../../src/format/pst/ndb.h"

namespace mm::gen {
namespace {

std::string make_tmp_dir() { return testing::make_tmp_dir("mm_gen"); }
using testing::run;
using testing::q;
using testing::read_file;
std::string sha256_hex(std::string_view data) { return testing::openssl_sha256_hex(data); }
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

// Minimal extraction of a JSON string/number field from one generated line (our own format:
// no nested quotes other than escaped ones).
std::string field(const std::string &line, const std::string &name) {
  std::string key = "\"" + name + "\":";
  auto p = line.find(key);
  if (p == std::string::npos) return "";
  p += key.size();
  if (line[p] != '"') {
    auto e = line.find_first_of(",}]", p);
    return line.substr(p, e - p);
  }
  std::string out;
  for (++p; p < line.size() && line[p] != '"'; ++p) {
    if (line[p] == '\\') ++p;
    out += line[p];
  }
  return out;
}

GenOptions small_options() {
  GenOptions o;
  o.seed = 42;
  o.messages = 300;
  o.folders = 6;
  o.attachment_ratio = 0.3;
  o.attachment_min = 10;
  o.attachment_max = 300000;
  o.html_ratio = 0.3;
  o.non_ascii_ratio = 0.0;  // pffexport's text export mangles some non-BMP text; see writer_test
  o.embedded_ratio = 0.05;
  o.duplicate_ratio = 0.05;
  o.near_duplicate_ratio = 0.05;
  return o;
}

TEST(Generate, SameSeedSameBytes) {
  std::string dir = make_tmp_dir();
  GenOptions o = small_options();
  o.non_ascii_ratio = 0.3;
  o.calendar_ratio = 0.1;
  o.contact_ratio = 0.1;
  o.rtf_only_ratio = 0.05;
  auto a = generate(o, dir + "/a.pst", dir + "/a.jsonl");
  auto b = generate(o, dir + "/b.pst", dir + "/b.jsonl");
  ASSERT_TRUE(a.ok()) << a.problem().detail;
  ASSERT_TRUE(b.ok());
  std::string pa, pb, ja, jb;
  ASSERT_TRUE(read_file(dir + "/a.pst", pa));
  ASSERT_TRUE(read_file(dir + "/b.pst", pb));
  ASSERT_TRUE(read_file(dir + "/a.jsonl", ja));
  ASSERT_TRUE(read_file(dir + "/b.jsonl", jb));
  EXPECT_EQ(sha256_hex(pa), sha256_hex(pb));
  EXPECT_EQ(ja, jb);
  EXPECT_EQ(a->messages, 300);
  EXPECT_GT(a->duplicates + a->near_duplicates, 0);
  o.seed = 43;
  auto c = generate(o, dir + "/c.pst", dir + "/c.jsonl");
  ASSERT_TRUE(c.ok());
  std::string pc;
  read_file(dir + "/c.pst", pc);
  EXPECT_NE(sha256_hex(pa), sha256_hex(pc));
  EXPECT_EQ(run("pffinfo " + q(dir + "/a.pst")), 0);
  run("rm -rf " + q(dir));
}

TEST(Generate, GroundTruthMatchesPffexport) {
  std::string dir = make_tmp_dir();
  GenOptions o = small_options();
  auto st = generate(o, dir + "/g.pst", dir + "/g.jsonl");
  ASSERT_TRUE(st.ok()) << st.problem().detail;
  ASSERT_EQ(run("pffexport -q -f all -t " + q(dir + "/x") + " " + q(dir + "/g.pst")), 0);
  // Index the export: folder -> message dirs keyed by message id (from OutlookHeaders.txt is
  // not available for every message, so key by subject + body hash).
  std::string jl;
  ASSERT_TRUE(read_file(dir + "/g.jsonl", jl));
  std::istringstream in(jl);
  std::string line;
  std::map<std::string, std::map<std::string, int>> want;  // folder -> subject|body -> count
  int lines = 0, dups = 0;
  while (std::getline(in, line)) {
    ++lines;
    if (field(line, "duplicate_of") != "null") ++dups;
    want[field(line, "folder")][field(line, "subject") + "|" + field(line, "body_sha256")]++;
  }
  EXPECT_EQ(lines, 300);
  EXPECT_GT(dups, 0);
  int matched = 0;
  for (const auto &[folder, items] : want) {
    std::string fdir = dir + "/x.export/" + folder;
    std::map<std::string, int> got;
    for (const std::string &n : list_dir(fdir)) {
      if (n.rfind("Message", 0) != 0) continue;
      std::string md = fdir + "/" + n, hdr, body;
      read_file(md + "/OutlookHeaders.txt", hdr);
      read_file(md + "/Message.txt", body);
      auto p = hdr.find("\nSubject:");
      std::string subj;
      if (p != std::string::npos) {
        auto s = hdr.find_first_not_of('\t', p + 9);
        subj = hdr.substr(s, hdr.find('\n', s) - s);
      }
      got[subj + "|" + sha256_hex(body)]++;
    }
    for (const auto &[key, n] : items) {
      EXPECT_EQ(got[key], n) << folder << " " << key;
      if (got[key] == n) matched += n;
    }
  }
  EXPECT_EQ(matched, 300);
  // Attachments: every attachment sha256 in the ground truth exists among exported files.
  std::map<std::string, int> att_hashes;
  std::string find_out = dir + "/atts.txt";
  ASSERT_EQ(std::system(("cd " + q(dir + "/x.export") + " && find . -path '*/Attachments/*' -type f "
                         "-not -path '*/Attachment0*' -exec sha256sum {} + > " + q(find_out)).c_str()), 0);
  std::string sums;
  read_file(find_out, sums);
  std::istringstream sin(sums);
  while (std::getline(sin, line)) att_hashes[line.substr(0, 64)]++;
  std::istringstream in2(jl);
  int atts = 0;
  while (std::getline(in2, line)) {
    for (auto p = line.find("\"sha256\":\""); p != std::string::npos; p = line.find("\"sha256\":\"", p + 1)) {
      std::string h = line.substr(p + 10, 64);
      EXPECT_GT(att_hashes[h], 0) << "attachment " << h << " not exported";
      ++atts;
    }
  }
  EXPECT_EQ(atts, st->attachments);
  run("rm -rf " + q(dir));
}

// readpst (libpst 0.6.76) links every NBT entry to its parent folder by a depth-first walk of
// the descriptors recorded so far, in NBT (node id) order; a message whose folder comes after
// already-filled folders in that walk costs one step per message in them, which made readpst
// quadratic on generated corpora (bench/README.md, "readpst growth"). Checked on the written
// file's NBT: message NIDs come in runs per folder, and the runs follow the reverse pre-order
// of the folder tree (children by NID, as libpst orders them), so no walk passes a message.
TEST(Generate, FoldersAreFilledInRunsInReversePreorder) {
  std::string dir = make_tmp_dir();
  GenOptions o = small_options();
  o.calendar_ratio = 0.1;
  o.contact_ratio = 0.1;
  ASSERT_TRUE(generate(o, dir + "/g.pst", dir + "/g.jsonl").ok());
  auto f = pst::PstFile::open(dir + "/g.pst");
  ASSERT_TRUE(f.ok()) << f.problem().detail;
  std::map<u32, std::vector<u32>> children;  // folder -> subfolders in NID order
  std::vector<u32> message_parents;          // in NBT order
  for (const pst::NbtEntry &e : (*f)->nodes()) {
    if ((e.nid & 0x1F) == 0x02 && e.parent != e.nid) children[e.parent].push_back(e.nid);
    if ((e.nid & 0x1F) == 0x04) message_parents.push_back(e.parent);
  }
  std::map<u32, i64> preorder;
  std::vector<u32> stack{0x122};  // root folder
  while (!stack.empty()) {
    u32 n = stack.back();
    stack.pop_back();
    preorder[n] = static_cast<i64>(preorder.size());
    auto it = children.find(n);
    if (it != children.end()) stack.insert(stack.end(), it->second.rbegin(), it->second.rend());
  }
  ASSERT_EQ(message_parents.size(), 300u);
  std::set<u32> folders_used, done;
  for (u64 i = 0; i < message_parents.size(); ++i) {
    u32 p = message_parents[i];
    ASSERT_TRUE(preorder.count(p)) << "message parent " << p << " is no folder";
    folders_used.insert(p);
    if (i > 0 && p != message_parents[i - 1]) {
      EXPECT_FALSE(done.count(p)) << "folder " << p << " is filled in more than one run";
      EXPECT_LT(preorder[p], preorder[message_parents[i - 1]])
          << "folder " << p << " is filled after a folder that follows it in pre-order";
      done.insert(message_parents[i - 1]);
    }
  }
  EXPECT_GE(folders_used.size(), 5u);  // user folders, Calendar and Contacts all hold items
  // The ground truth is in write order: within one folder, seq ascends.
  std::ifstream in(dir + "/g.jsonl");
  std::map<std::string, i64> last_seq;
  std::string line;
  i64 lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    i64 seq = std::stoll(field(line, "seq"));
    std::string folder = field(line, "folder");
    auto it = last_seq.find(folder);
    if (it != last_seq.end()) EXPECT_LT(it->second, seq) << folder;
    last_seq[folder] = seq;
  }
  EXPECT_EQ(lines, 300);
  run("rm -rf " + q(dir));
}

TEST(Generate, TargetBytesStopsEarly) {
  std::string dir = make_tmp_dir();
  GenOptions o = small_options();
  o.messages = -1;
  o.target_bytes = 3u << 20;
  auto st = generate(o, dir + "/t.pst", dir + "/t.jsonl");
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->pst_bytes, 3u << 20);
  EXPECT_LT(st->pst_bytes, 8u << 20);
  EXPECT_GT(st->messages, 0);
  run("rm -rf " + q(dir));
}

}  // namespace
}  // namespace mm::gen
