// Generator, MIME formats: determinism, mboxrd quoting, maildir names and flags, EML layout,
// line ends and --target-bytes, checked on the files written (Python's mailbox and email
// packages read the same output in tests/integration/test_generate_mime.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mailmill/gen/generate.h"
#include "openssl_sha256.h"
#include "test_support.h"

namespace mm::gen {
namespace {

namespace fs = std::filesystem;
using testing::read_file;

std::string sha256_hex(std::string_view data) { return testing::openssl_sha256_hex(data); }

// One field of a generated JSONL line (our own format: strings hold no escaped quotes here).
std::string field(const std::string &line, const std::string &name) {
  std::string key = "\"" + name + "\":";
  auto p = line.find(key);
  if (p == std::string::npos) return "";
  p += key.size();
  if (line[p] != '"') return line.substr(p, line.find_first_of(",}]", p) - p);
  std::string out;
  for (++p; p < line.size() && line[p] != '"'; ++p) {
    if (line[p] == '\\') ++p;
    out += line[p];
  }
  return out;
}

std::vector<std::string> lines_of(const std::string &path) {
  std::string data;
  read_file(path, data);
  std::vector<std::string> out;
  std::istringstream in(data);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Every file below `root`: relative path -> bytes.
std::map<std::string, std::string> tree(const std::string &root) {
  std::map<std::string, std::string> out;
  for (const auto &e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    std::string data;
    read_file(e.path().string(), data);
    out[fs::relative(e.path(), root).string()] = data;
  }
  return out;
}

GenOptions mime_options(OutputFormat f) {
  GenOptions o;
  o.seed = 99;
  o.messages = 150;
  o.folders = 5;
  o.attachment_ratio = 0.3;
  o.attachment_min = 10;
  o.attachment_max = 4000;
  o.html_ratio = 0.4;
  o.non_ascii_ratio = 0.5;
  o.embedded_ratio = 0.1;
  o.duplicate_ratio = 0.05;
  o.near_duplicate_ratio = 0.05;
  o.format = f;
  return o;
}

// mboxrd unquoting of one message (one '>' off every /^>+From / line).
std::string unquote(const std::string &s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t e = s.find('\n', i);
    e = e == std::string::npos ? s.size() : e + 1;
    std::string line = s.substr(i, e - i);
    std::size_t g = line.find_first_not_of('>');
    if (g != std::string::npos && g > 0 && line.compare(g, 5, "From ") == 0) line.erase(0, 1);
    out += line;
    i = e;
  }
  return out;
}

TEST(Generate, MimeSameSeedSameBytes) {
  const std::string dir = testing::make_tmp_dir("mm_genmime");
  for (OutputFormat f : {OutputFormat::Mbox, OutputFormat::Eml, OutputFormat::Maildir}) {
    GenOptions o = mime_options(f);
    // Same file name in three directories (an mbox's ground truth names its file).
    for (const char *d : {"/a", "/b", "/c"}) fs::create_directories(dir + d);
    const std::string a = dir + "/a/out", b = dir + "/b/out", c = dir + "/c/out";
    ASSERT_TRUE(generate(o, a, a + ".jsonl").ok());
    ASSERT_TRUE(generate(o, b, b + ".jsonl").ok());
    o.seed = 100;
    ASSERT_TRUE(generate(o, c, c + ".jsonl").ok());
    std::string ja, jb, jc;
    read_file(a + ".jsonl", ja);
    read_file(b + ".jsonl", jb);
    read_file(c + ".jsonl", jc);
    EXPECT_EQ(ja, jb);
    EXPECT_NE(ja, jc);
    if (f == OutputFormat::Mbox) {
      std::string ma, mb, mc;
      read_file(a, ma);
      read_file(b, mb);
      read_file(c, mc);
      EXPECT_EQ(ma, mb);
      EXPECT_NE(ma, mc);
    } else {
      auto ta = tree(a), tb = tree(b);
      EXPECT_EQ(ta.size(), tb.size());
      EXPECT_TRUE(ta == tb);
      EXPECT_FALSE(ta == tree(c));
    }
    for (const char *d : {"/a", "/b", "/c"}) fs::remove_all(dir + d);
  }
  // A directory output refuses to mix with an earlier run's files.
  GenOptions o = mime_options(OutputFormat::Eml);
  ASSERT_TRUE(generate(o, dir + "/e", dir + "/e.jsonl").ok());
  auto again = generate(o, dir + "/e", dir + "/e.jsonl");
  EXPECT_FALSE(again.ok());
  fs::remove_all(dir);
}

TEST(Generate, MimeSameMessagesAsPst) {
  // One seed, one corpus: subjects, Message-IDs and attachments agree between PST and MIME.
  const std::string dir = testing::make_tmp_dir("mm_genmime");
  GenOptions o = mime_options(OutputFormat::Pst);
  ASSERT_TRUE(generate(o, dir + "/p.pst", dir + "/p.jsonl").ok());
  o.format = OutputFormat::Mbox;
  ASSERT_TRUE(generate(o, dir + "/m.mbox", dir + "/m.jsonl").ok());
  auto p = lines_of(dir + "/p.jsonl"), m = lines_of(dir + "/m.jsonl");
  ASSERT_EQ(p.size(), m.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    for (const char *k : {"subject", "message_id", "sender", "attachments", "html_sha256"})
      EXPECT_EQ(field(p[i], k), field(m[i], k)) << k << " of line " << i;
    EXPECT_EQ(field(p[i], "folder"), "Top of Personal Folders/" + field(m[i], "folder"));
  }
  fs::remove_all(dir);
}

TEST(Generate, MimeMboxrdQuoting) {
  const std::string dir = testing::make_tmp_dir("mm_genmime");
  for (Eol eol : {Eol::Lf, Eol::Crlf}) {
    GenOptions o = mime_options(OutputFormat::Mbox);
    o.messages = 300;
    o.eol = eol;
    const std::string mbox = dir + "/g.mbox";
    ASSERT_TRUE(generate(o, mbox, mbox + ".jsonl").ok());
    std::string data;
    ASSERT_TRUE(read_file(mbox, data));
    auto truth = lines_of(mbox + ".jsonl");
    ASSERT_EQ(truth.size(), 300u);
    const std::string nl = eol == Eol::Crlf ? "\r\n" : "\n";
    // Every "From " line of the file is a separator, one per message, where the truth says.
    std::vector<u64> from_lines;
    if (data.rfind("From ", 0) == 0) from_lines.push_back(0);
    for (std::size_t p = data.find("\nFrom "); p != std::string::npos;
         p = data.find("\nFrom ", p + 1))
      from_lines.push_back(p + 1);
    ASSERT_EQ(from_lines.size(), truth.size());
    int quoted = 0, deep = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
      const u64 off = std::stoull(field(truth[i], "offset"));
      EXPECT_EQ(off, from_lines[i]);
      const u64 start = data.find('\n', off) + 1;
      const u64 end = i + 1 < truth.size() ? from_lines[i + 1] : data.size();
      // The message, then one empty line before the next From_ line.
      std::string stored = data.substr(start, end - start);
      ASSERT_GE(stored.size(), nl.size());
      ASSERT_EQ(stored.substr(stored.size() - nl.size()), nl);
      stored.resize(stored.size() - nl.size());
      if (stored.find(nl + ">From ") != std::string::npos) ++quoted;
      if (stored.find(nl + ">>>From ") != std::string::npos) ++deep;
      const std::string raw = unquote(stored);
      EXPECT_EQ(raw.size(), std::stoull(field(truth[i], "raw_size")));
      EXPECT_EQ(sha256_hex(raw), field(truth[i], "raw_sha256")) << "message " << i;
    }
    EXPECT_GT(quoted, 5);  // bodies with "From " lines, quoted once
    EXPECT_GT(deep, 2);    // ">>From " lines, quoted once more
    if (eol == Eol::Crlf) {
      for (std::size_t p = data.find('\n'); p != std::string::npos; p = data.find('\n', p + 1))
        ASSERT_TRUE(p > 0 && data[p - 1] == '\r') << "bare LF at " << p;
    } else {
      EXPECT_EQ(data.find('\r'), std::string::npos);
    }
  }
  fs::remove_all(dir);
}

TEST(Generate, MimeMaildirFlagsAndNames) {
  const std::string dir = testing::make_tmp_dir("mm_genmime");
  GenOptions o = mime_options(OutputFormat::Maildir);
  o.messages = 300;
  o.folders = 8;
  o.seed = 5;
  const std::string md = dir + "/md";
  ASSERT_TRUE(generate(o, md, md + ".jsonl").ok());
  for (const char *sub : {"cur", "new", "tmp"}) EXPECT_TRUE(fs::is_directory(md + "/" + sub));
  std::set<std::string> names;
  std::map<std::string, int> flag_count;
  bool nested = false, encoded = false;
  for (const std::string &line : lines_of(md + ".jsonl")) {
    const std::string path = field(line, "path"), flags = field(line, "flags");
    ASSERT_TRUE(fs::is_regular_file(md + "/" + path)) << path;
    std::string data;
    read_file(md + "/" + path, data);
    EXPECT_EQ(sha256_hex(data), field(line, "raw_sha256"));
    // ".A.B/cur/<name>:2,<flags>", flags in ASCII order from F, R, S.
    const std::string folder_dir = path.substr(0, path.find("/cur/"));
    ASSERT_EQ(folder_dir[0], '.');
    EXPECT_TRUE(fs::is_regular_file(md + "/" + folder_dir + "/maildirfolder"));
    for (const char *sub : {"cur", "new", "tmp"})
      EXPECT_TRUE(fs::is_directory(md + "/" + folder_dir + "/" + sub));
    if (folder_dir.find('.', 1) != std::string::npos) nested = true;
    if (folder_dir.find('&') != std::string::npos) encoded = true;
    for (unsigned char c : folder_dir) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << folder_dir;
    const std::string name = path.substr(path.rfind('/') + 1);
    EXPECT_TRUE(names.insert(name.substr(0, name.find(':'))).second) << "duplicate name " << name;
    ASSERT_NE(name.find(":2,"), std::string::npos);
    EXPECT_EQ(name.substr(name.find(":2,") + 3), flags);
    EXPECT_NE(name.find(",S=" + std::to_string(data.size()) + ":"), std::string::npos) << name;
    std::string sorted = flags;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, flags);
    EXPECT_EQ(flags.find_first_not_of("FRS"), std::string::npos);
    for (char c : flags) flag_count[std::string(1, c)]++;
  }
  EXPECT_EQ(names.size(), 300u);
  EXPECT_TRUE(nested) << "no nested folder (\".A.B\")";
  EXPECT_TRUE(encoded) << "no non-ASCII folder name in modified UTF-7";
  // Seen ~70 %, answered ~25 %, flagged ~15 %: each present, none on every message.
  for (const char *f : {"F", "R", "S"}) {
    EXPECT_GT(flag_count[f], 10) << f;
    EXPECT_LT(flag_count[f], 290) << f;
  }
  fs::remove_all(dir);
}

TEST(Generate, MimeEmlTree) {
  const std::string dir = testing::make_tmp_dir("mm_genmime");
  GenOptions o = mime_options(OutputFormat::Eml);
  o.eol = Eol::Crlf;
  const std::string root = dir + "/eml";
  ASSERT_TRUE(generate(o, root, root + ".jsonl").ok());
  auto files = tree(root);
  auto truth = lines_of(root + ".jsonl");
  EXPECT_EQ(files.size(), truth.size());
  for (const std::string &line : truth) {
    const std::string path = field(line, "path");
    EXPECT_EQ(path.substr(0, path.rfind('/')), field(line, "folder"));
    EXPECT_EQ(field(line, "offset"), "null");
    ASSERT_TRUE(files.count(path)) << path;
    EXPECT_EQ(sha256_hex(files[path]), field(line, "raw_sha256"));
    EXPECT_EQ(files[path].find("\nMessage-ID: " + field(line, "message_id") + "\r\n") !=
                  std::string::npos,
              true);
  }
  fs::remove_all(dir);
}

TEST(Generate, MimeTargetBytes) {
  EXPECT_EQ(parse_byte_size("12"), 12u);
  EXPECT_EQ(parse_byte_size("3k"), 3072u);
  EXPECT_EQ(parse_byte_size("50M"), 50u << 20);
  EXPECT_EQ(parse_byte_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_byte_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("7MB"), 7u << 20);
  for (const char *bad : {"", "G", "1T", "-1", "1.5G", "99999999999999999999"})
    EXPECT_FALSE(parse_byte_size(bad).has_value()) << bad;

  const std::string dir = testing::make_tmp_dir("mm_genmime");
  for (OutputFormat f : {OutputFormat::Mbox, OutputFormat::Eml, OutputFormat::Maildir}) {
    GenOptions o = mime_options(f);
    o.messages = -1;
    o.target_bytes = 600 << 10;
    const std::string out = dir + "/t";
    auto st = generate(o, out, out + ".jsonl");
    ASSERT_TRUE(st.ok()) << st.problem().detail;
    u64 on_disk = 0;
    if (f == OutputFormat::Mbox) {
      on_disk = fs::file_size(out);
    } else {
      for (const auto &[rel, data] : tree(out)) on_disk += data.size();
    }
    EXPECT_EQ(st->pst_bytes, on_disk);
    // Stops at the first message that reaches the target: at most one message past it.
    auto truth = lines_of(out + ".jsonl");
    ASSERT_FALSE(truth.empty());
    const u64 last = std::stoull(field(truth.back(), "raw_size"));
    EXPECT_GE(on_disk, o.target_bytes);
    EXPECT_LT(on_disk - last, o.target_bytes + 200);  // +200: the last From_ line and separator
    EXPECT_EQ(static_cast<i64>(truth.size()), st->messages);
    fs::remove_all(out);
    fs::remove(out + ".jsonl");
  }
  // A message count still bounds the run.
  GenOptions o = mime_options(OutputFormat::Mbox);
  o.messages = 20;
  o.target_bytes = 1ull << 30;
  auto st = generate(o, dir + "/n.mbox", dir + "/n.jsonl");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->messages, 20);
  // MIME formats hold mail only.
  o.calendar_ratio = 0.1;
  EXPECT_FALSE(generate(o, dir + "/x.mbox", dir + "/x.jsonl").ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mm::gen
