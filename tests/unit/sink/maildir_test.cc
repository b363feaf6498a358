// The maildir sink, read back by Python's mailbox.Maildir (tests/unit/source/maildir_oracle.py
// decodes folder names on its own: modified UTF-7 with Python's codecs, then listescape's
// "\NN"): folders whose names hold dots, slashes, '&', wildcards and non-ASCII text, message
// bytes and flags, deterministic names, and nothing written outside the output folder.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "mailmill/sink/sink.h"
#include "mailmill/util/result.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::sink {
namespace {
namespace fs = std::filesystem;

const std::string kSep = "\xE2\x90\x9F";  // U+241F, the oracle's level separator

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

std::string sha_hex(ByteView b) {
  const util::Sha256Digest d = util::Sha256::digest(b);
  return text::to_hex(std::span<const u8>(d.data(), d.size()));
}

std::string join(const std::vector<std::string> &path, const std::string &sep = kSep) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) out += (i ? sep : "") + path[i];
  return out;
}

// Where a folder's messages must be: a top-level "Inbox" (any case) is the maildir root,
// which Dovecot shows as INBOX (Maildir++ has no other place for it).
// Dovecot cannot open a mailbox whose name holds the LIST wildcards: they are written as '_'.
std::vector<std::string> stored_path(const std::vector<std::string> &folder) {
  if (folder.size() == 1 && text::iequals_ascii(folder[0], "inbox")) return {};
  std::vector<std::string> out = folder;
  for (std::string &name : out)
    for (char &c : name)
      if (c == '*' || c == '%') c = '_';
  if (!out.empty() && text::iequals_ascii(out[0], "inbox")) out[0] = "INBOX";
  return out;
}

struct Oracle {
  std::map<std::string, std::string> folders;  // directory name -> decoded path
  // decoded folder path -> (sha256, subdir + ":" + flags)
  std::map<std::string, std::multiset<std::pair<std::string, std::string>>> messages;
  int status = -1;
};

Oracle run_oracle(const fs::path &root) {
  const fs::path script = fs::path(MM_TESTS_DIR) / "unit" / "source" / "maildir_oracle.py";
  const std::string cmd =
      python() + " " + mm::testing::q(script.string()) + " " + mm::testing::q(root.string());
  Oracle o;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return o;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::vector<std::vector<std::string>> lines;
  std::size_t at = 0;
  while (at < out.size()) {
    std::size_t nl = out.find('\n', at);
    std::string line = out.substr(at, nl - at);
    at = nl == std::string::npos ? out.size() : nl + 1;
    std::vector<std::string> f;
    std::size_t p = 0;
    for (;;) {
      std::size_t tab = line.find('\t', p);
      f.push_back(line.substr(p, tab == std::string::npos ? std::string::npos : tab - p));
      if (tab == std::string::npos) break;
      p = tab + 1;
    }
    lines.push_back(std::move(f));
  }
  for (const auto &f : lines)
    if (f[0] == "FOLDER" && f.size() == 3) o.folders[f[1]] = f[2];
  for (const auto &f : lines)
    if (f[0] == "MSG" && f.size() == 5 && o.folders.count(f[1]))
      o.messages[o.folders[f[1]]].insert({f[3], f[2] + ":" + f[4]});
  return o;
}

std::string message(int i) {
  return "From: a@example.org\nTo: b@example.org\nSubject: message " + std::to_string(i) +
         "\nMessage-ID: <m" + std::to_string(i) + "@example.org>\n\nbody " + std::to_string(i) +
         "\n";
}

struct Case {
  std::vector<std::string> folder;
  std::string flags;    // OutMessage::flags
  std::string letters;  // what the file name must say
};

const std::vector<Case> &cases() {
  static const std::vector<Case> c = {
      {{}, "read", "S"},
      {{}, "", ""},
      {{"Inbox"}, "read,answered,forwarded,flagged,draft", "DFPRS"},
      {{"inbox", "a.b"}, "flagged,read", "FS"},
      {{"Sent/Received"}, "answered", "R"},
      {{"\xC3\x89t\xC3\xA9"}, "forwarded", "P"},  // Été
      {{"Tom & Jerry"}, "draft", "D"},
      {{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "2024"}, "read", "S"},  // 日本語/2024
      {{"\xF0\x9F\x98\x81 smile"}, "read", "S"},                        // outside the BMP
      {{"~home"}, "", ""},
      {{"x*%\\y"}, "read", "S"},
      {{"..", "."}, "read", "S"},
      {{"cur"}, "read", "S"},
      {{"Inbox"}, "read", "S"},
  };
  return c;
}

// Writes every case as one message (seq = index + 1) into a fresh sink at `root`.
std::vector<std::string> write_all(const fs::path &root) {
  std::unique_ptr<Sink> sink = make_maildir_sink(root);
  EXPECT_EQ(sink->form(), Form::MimeLf);
  const std::string key = sink->add_source("/in/archive.pst");
  for (const Case &c : cases()) sink->register_folder(Destination{key, c.folder});
  std::vector<std::string> locations;
  for (std::size_t i = 0; i < cases().size(); ++i) {
    const std::string bytes = message(static_cast<int>(i));
    OutMessage m;
    m.bytes = bytes;
    m.seq = i + 1;
    m.flags = cases()[i].flags;
    m.index_in_folder = static_cast<i64>(i);
    locations.push_back(sink->write_message(Destination{key, cases()[i].folder}, m));
  }
  // A calendar file for the folder named "cur" must not land in the maildir's cur/.
  sink->write_file(Destination{key, {"cur"}}, 1, "meeting", ".ics", "BEGIN:VCALENDAR\n");
  sink->finish();
  return locations;
}

std::set<std::string> tree_listing(const fs::path &root) {
  std::set<std::string> out;
  for (const auto &e : fs::recursive_directory_iterator(root))
    out.insert(fs::relative(e.path(), root).string());
  return out;
}

TEST(MaildirSink, PythonMailboxReadsFoldersBytesAndFlags) {
  const fs::path base = mm::testing::make_tmp_dir("mm_maildir_sink");
  const fs::path root = base / "out";
  const std::vector<std::string> locations = write_all(root);
  const Oracle oracle = run_oracle(root / "archive");
  ASSERT_EQ(oracle.status, 0) << "maildir_oracle.py failed";

  std::map<std::string, std::multiset<std::pair<std::string, std::string>>> want;
  for (std::size_t i = 0; i < cases().size(); ++i)
    want[join(stored_path(cases()[i].folder))].insert(
        {sha_hex(message(static_cast<int>(i))), "cur:" + cases()[i].letters});
  std::set<std::string> want_folders, got_folders;
  for (const auto &[f, m] : want) want_folders.insert(f);
  for (const auto &[d, f] : oracle.folders) got_folders.insert(f);
  EXPECT_EQ(got_folders, want_folders);
  EXPECT_EQ(oracle.messages, want);

  // File names: "<seq>.<16 hex of sha256>.mailmill:2,<flags>" in cur/, nothing left in tmp/.
  for (std::size_t i = 0; i < cases().size(); ++i) {
    const std::string name = fs::path(locations[i]).filename().string();
    EXPECT_EQ(name, std::to_string(i + 1) + "." +
                        sha_hex(message(static_cast<int>(i))).substr(0, 16) + ".mailmill:2," +
                        cases()[i].letters);
    EXPECT_TRUE(fs::is_regular_file(root / locations[i])) << locations[i];
    EXPECT_EQ(fs::path(locations[i]).parent_path().filename(), "cur");
  }
  for (const auto &e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == "tmp") EXPECT_TRUE(fs::is_empty(e.path())) << e.path();
  // The top folder's cur/ holds its own two messages and the top-level Inbox's two; the .ics
  // went elsewhere.
  EXPECT_EQ(
      std::distance(fs::directory_iterator(root / "archive" / "cur"), fs::directory_iterator{}), 4);
  EXPECT_FALSE(fs::exists(root / "archive" / ".Inbox" / "cur"));
  EXPECT_FALSE(fs::exists(root / "archive" / "maildirfolder"));
  bool ics_found = false;
  for (const std::string &p : tree_listing(root))
    ics_found = ics_found || p.ends_with("meeting.ics");
  EXPECT_TRUE(ics_found);
  // Maildir++ folders carry "maildirfolder"; dots never escape the root.
  EXPECT_TRUE(fs::exists(root / "archive" / ".INBOX.a\\2eb" / "maildirfolder"));
  std::set<std::string> top;
  for (const auto &e : fs::directory_iterator(base)) top.insert(e.path().filename().string());
  EXPECT_EQ(top, std::set<std::string>{"out"});
  if (std::getenv("MM_KEEP_OUTPUT") == nullptr) fs::remove_all(base);  // kept for inspection
}

TEST(MaildirSink, ARerunWritesTheSameFiles) {
  const fs::path base = mm::testing::make_tmp_dir("mm_maildir_sink");
  const std::vector<std::string> first = write_all(base / "a");
  const std::vector<std::string> again = write_all(base / "a");  // a resumed run over it
  write_all(base / "b");
  EXPECT_EQ(first, again);
  EXPECT_EQ(tree_listing(base / "a"), tree_listing(base / "b"));
  for (const std::string &loc : first) {
    std::string x, y;
    ASSERT_TRUE(mm::testing::read_file((base / "a" / loc).string(), x));
    ASSERT_TRUE(mm::testing::read_file((base / "b" / loc).string(), y));
    EXPECT_EQ(x, y);
  }
  fs::remove_all(base);
}

TEST(MaildirSink, LongFolderNamesStayWithinTheNameLimit) {
  const fs::path base = mm::testing::make_tmp_dir("mm_maildir_sink");
  std::unique_ptr<Sink> sink = make_maildir_sink(base / "out");
  const std::string key = sink->add_source("in.pst");
  const std::string long_ascii(400, 'a');
  std::string long_utf8;
  for (int i = 0; i < 150; ++i) long_utf8 += "\xC3\xA9";  // é: 150 of them, 4+ bytes encoded
  const std::vector<std::vector<std::string>> folders = {
      {long_ascii}, {long_ascii + "b"}, {long_utf8}, {long_utf8, long_utf8}, {"x.y", long_ascii}};
  const std::string bytes = message(1);
  for (std::size_t i = 0; i < folders.size(); ++i) {
    OutMessage m;
    m.bytes = bytes;
    m.seq = i + 1;
    sink->write_message(Destination{key, folders[i]}, m);
  }
  sink->finish();
  std::set<std::string> dirs;
  for (const auto &e : fs::directory_iterator(base / "out" / key)) {
    const std::string name = e.path().filename().string();
    EXPECT_LE(name.size(), 255u);
    if (name[0] == '.') dirs.insert(name);
  }
  EXPECT_EQ(dirs.size(), folders.size());  // two names sharing a long prefix stay apart
  const Oracle oracle = run_oracle(base / "out" / key);  // Python can read every one
  ASSERT_EQ(oracle.status, 0);
  i64 n = 0;
  for (const auto &[f, m] : oracle.messages) n += static_cast<i64>(m.size());
  EXPECT_EQ(n, static_cast<i64>(folders.size()));
  fs::remove_all(base);
}

// The output side failing is fatal, never a silent loss: here the rename into cur/ fails
// because a directory already holds the message's name.
TEST(MaildirSink, AFailedRenameIsFatal) {
  const fs::path base = mm::testing::make_tmp_dir("mm_maildir_sink");
  std::unique_ptr<Sink> sink = make_maildir_sink(base / "out");
  const std::string key = sink->add_source("in.pst");
  const std::string bytes = message(1);
  OutMessage m;
  m.bytes = bytes;
  m.seq = 7;
  m.flags = "read";
  const std::string name = "7." + sha_hex(bytes).substr(0, 16) + ".mailmill:2,S";
  fs::create_directories(base / "out" / key / "cur" / name / "x");
  EXPECT_THROW(sink->write_message(Destination{key, {}}, m), FatalError);
  // An output root that is a file cannot be made a sink.
  std::ofstream(base / "file") << "x";
  EXPECT_THROW(make_maildir_sink(base / "file" / "out"), FatalError);
  fs::remove_all(base);
}

std::string doveadm_path() {
  for (const char *p : {"/usr/bin/doveadm", "/usr/local/bin/doveadm"})
    if (fs::exists(p)) return p;
  return {};
}

// Dovecot itself lists and fetches what the sink wrote: doveadm run directly on the tree
// (no server) with a private configuration, the listescape plugin and '/' as the separator,
// so that escaped names come back as they were. A name holding '/' (the separator) is the
// one thing Dovecot cannot show that way (its listescape documentation says so); it is left
// out here, and readable as "Sent\2fReceived" without the plugin.
TEST(MaildirSink, DovecotListsFoldersFlagsAndSizes) {
  const std::string doveadm = doveadm_path();
  if (doveadm.empty()) GTEST_SKIP() << "doveadm is not installed (dovecot-core)";
  const fs::path base = mm::testing::make_tmp_dir("mm_maildir_dovecot");
  write_all(base / "out");
  // Dovecot refuses to act as root: as root, the tree goes to "nobody".
  const bool root_user = ::geteuid() == 0;
  const std::string uid = root_user ? "65534" : std::to_string(::geteuid());
  const std::string gid = root_user ? "65534" : std::to_string(::getegid());
  fs::create_directories(base / "run");
  fs::create_directories(base / "home");
  {
    std::ofstream conf(base / "dovecot.conf");
    conf << "base_dir = " << (base / "run").string() << "\nstate_dir = " << (base / "run").string()
         << "\nlog_path = " << (base / "dovecot.log").string() << "\nfirst_valid_uid = 1\n"
         << "mail_uid = " << uid << "\nmail_gid = " << gid << "\n"
         << "mail_plugins = $mail_plugins listescape\n"
         << "namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
         << "mail_location = maildir:" << (base / "out" / "archive").string() << "\n";
  }
  if (root_user)
    ASSERT_EQ(mm::testing::run("chown -R 65534:65534 " + mm::testing::q(base.string())), 0);
  const std::string cmd = "USER=mailmill HOME=" + mm::testing::q((base / "home").string()) + " " +
                          doveadm + " -c " + mm::testing::q((base / "dovecot.conf").string()) +
                          " -f tab fetch 'mailbox flags size.physical' all 2>&1";
  std::string out;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ASSERT_EQ(::pclose(pipe), 0) << out;

  // mailbox, the system flags the letters stand for, size
  std::multiset<std::string> got, want;
  std::size_t at = out.find('\n') + 1;  // after the header line
  while (at < out.size()) {
    std::size_t nl = out.find('\n', at);
    const std::string line = out.substr(at, nl - at);
    at = nl == std::string::npos ? out.size() : nl + 1;
    auto t1 = line.find('\t'), t2 = line.rfind('\t');
    if (t1 == std::string::npos || t1 == t2) continue;
    std::string flags;
    for (const char *f : {"\\Answered", "\\Draft", "\\Flagged", "\\Seen"})
      if (line.substr(t1, t2 - t1).find(f) != std::string::npos) flags += std::string(f) + " ";
    got.insert(line.substr(0, t1) + "|" + flags + "|" + line.substr(t2 + 1));
  }
  for (std::size_t i = 0; i < cases().size(); ++i) {
    const Case &c = cases()[i];
    if (c.folder.size() == 1 && c.folder[0].find('/') != std::string::npos) continue;
    std::vector<std::string> vpath = stored_path(c.folder);
    std::string flags;
    for (auto [letter, name] : std::initializer_list<std::pair<char, const char *>>{
             {'R', "\\Answered"}, {'D', "\\Draft"}, {'F', "\\Flagged"}, {'S', "\\Seen"}})
      if (c.letters.find(letter) != std::string::npos) flags += std::string(name) + " ";
    want.insert((vpath.empty() ? std::string("INBOX") : join(vpath, "/")) + "|" + flags + "|" +
                std::to_string(message(static_cast<int>(i)).size()));
  }
  EXPECT_EQ(got, want) << out;
  fs::remove_all(base);
}

}  // namespace
}  // namespace mm::sink
