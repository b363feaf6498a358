// The maildir store against Python's mailbox.Maildir (maildir_oracle.py): folders, message
// bytes and flags of Maildir++ trees built here with tricky names, flags, new/ and cur/,
// dot-files, tmp/ and a file that vanishes before it is read; folders nested the way Python's
// add_folder nests them (maildir_nested_tree.py), symlink loops and a too-deep tree.
#include <sys/stat.h>
#include <utime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "mailmill/source/detect.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_util.h"

namespace mm::source {
namespace {

using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

const std::string kSep = "\xE2\x90\x9F";  // U+241F, the oracle's level separator

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

struct OracleMsg {
  std::string folder, subdir, sha256, flags;
};
struct Oracle {
  std::map<std::string, std::string> folders;  // directory name -> decoded path
  std::vector<OracleMsg> messages;
  int status = -1;
};

std::vector<std::string> split_tabs(const std::string &line) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    std::size_t tab = line.find('\t', at);
    out.push_back(line.substr(at, tab == std::string::npos ? std::string::npos : tab - at));
    if (tab == std::string::npos) return out;
    at = tab + 1;
  }
}

Oracle run_oracle(const fs::path &root) {
  const fs::path script = fs::path(MM_TESTS_DIR) / "unit" / "source" / "maildir_oracle.py";
  const std::string cmd = python() + " " + testing::shell_quote(script.string()) + " " +
                          testing::shell_quote(root.string());
  Oracle o;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return o;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  o.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::size_t at = 0;
  while (at < out.size()) {
    std::size_t nl = out.find('\n', at);
    const std::vector<std::string> f = split_tabs(out.substr(at, nl - at));
    at = nl == std::string::npos ? out.size() : nl + 1;
    if (f[0] == "FOLDER" && f.size() == 3) o.folders[f[1]] = f[2];
    if (f[0] == "MSG" && f.size() == 5) o.messages.push_back({f[1], f[2], f[3], f[4]});
  }
  return o;
}

std::string sha_hex(ByteView b) {
  const util::Sha256Digest d = util::Sha256::digest(b);
  return text::to_hex(std::span<const u8>(d.data(), d.size()));
}

std::string join(const std::vector<std::string> &path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) out += (i ? kSep : "") + path[i];
  return out;
}

// Model flags as maildir letters (the model has no T).
std::string letters(const std::optional<model::Flags> &f) {
  if (!f) return "-";
  std::string s;
  if (f->draft) s += 'D';
  if (f->flagged) s += 'F';
  if (f->forwarded) s += 'P';
  if (f->answered) s += 'R';
  if (f->read) s += 'S';
  return s;
}

void make_maildir(const fs::path &dir) {
  for (const char *s : {"cur", "new", "tmp"}) fs::create_directories(dir / s);
}

std::string message(const std::string &subject) {
  return "From: a@example.org\nTo: b@example.org\nSubject: " + subject + "\nMessage-ID: <" +
         subject + "@example.org>\n\nbody of " + subject + "\n";
}

// A Maildir++ tree with the cases readers get wrong.
void build_tree(const fs::path &root) {
  make_maildir(root);
  write_file(root / "cur" / "1700000000.M1P1.host:2,FRS", message("seen flagged replied"));
  write_file(root / "new" / "1700000001.M2P1.host", message("new one"));
  write_file(root / "cur" / "abc.host:2,DPT", message("draft passed trashed"));
  write_file(root / "cur" / "1700000002.M3.host", message("cur without info"));
  write_file(root / "cur" / "1700000003.M4.host:2,", message("empty flags"));
  write_file(root / "new" / "1700000004.M5.host:2,S", message("new with S"));
  write_file(root / "cur" / ".hidden:2,S", message("dot file"));       // skipped by maildir(5)
  write_file(root / "tmp" / "1700000005.M6.host", message("in tmp"));  // not delivered yet
  fs::create_directories(root / "cur" / "a-directory");
  fs::create_directories(root / ".notafolder");  // no cur/ new/
  write_file(root / "maildirsize", "0S,0C\n");
  write_file(root / "dovecot-uidlist", "3 V1 N1\n");
  const std::vector<std::string> folders = {
      ".Sent",   ".Archive",      ".Archive.2024", ".Work.Projects",          ".&AMk-t&AOk-",
      ".a\\2eb", ".Tom &- Jerry", ".&2D3eAQ-",     ".&ZeVnLIqe-.&ZeVnLIqe- 2"};
  int n = 10;
  for (const std::string &f : folders) {
    make_maildir(root / f);
    write_file(root / f / "maildirfolder", "");
    write_file(root / f / "cur" /
                   (std::to_string(1700000000 + n) + ".M" + std::to_string(n) + ".host:2,S"),
               message("in " + f));
    write_file(
        root / f / "new" / (std::to_string(1700000100 + n) + ".N" + std::to_string(n) + ".host"),
        message("new in " + f));
    ++n;
  }
  // The same bytes in two folders are two items.
  write_file(root / ".Sent" / "cur" / "dup.host:2,RS", message("new one"));
}

struct Read {
  std::string sha256, flags;
  std::optional<i64> received;
};

TEST(MaildirStore, FoldersBytesAndFlagsMatchPythonMailbox) {
  TempDir tmp;
  const fs::path root = tmp.path() / "Maildir";
  build_tree(root);
  const Oracle oracle = run_oracle(root);
  ASSERT_EQ(oracle.status, 0) << "maildir_oracle.py failed";
  ASSERT_EQ(oracle.folders.size(), 10u);  // the root and nine folders

  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  EXPECT_EQ((*store)->info().kind, "maildir");
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());

  // Every folder the oracle lists is in the tree, under the path the oracle decoded.
  std::set<std::string> ours;
  std::map<u64, std::vector<std::string>> path_of;
  for (const mapi::FolderInfo &f : *folders) {
    ours.insert(join(f.path));
    path_of[f.node_id] = f.path;
  }
  for (const auto &[dir, decoded] : oracle.folders) EXPECT_TRUE(ours.count(decoded)) << dir;
  // Plus the levels only implied by deeper names: "Work" and the CJK parent.
  EXPECT_EQ(ours.size(), oracle.folders.size() + 2) << "implied levels";
  EXPECT_TRUE(ours.count("Work")) << "implied by .Work.Projects";
  EXPECT_TRUE(ours.count("a.b"));
  EXPECT_TRUE(ours.count("Tom & Jerry"));
  EXPECT_TRUE(ours.count("\xC3\x89t\xC3\xA9"));  // Été
  EXPECT_TRUE(ours.count("\xF0\x9F\x98\x81"));   // U+1F601 from a surrogate pair

  // Tree order: root first, parents before children, parent ids consistent with paths.
  ASSERT_FALSE(folders->empty());
  EXPECT_TRUE((*folders)[0].path.empty());
  EXPECT_EQ((*folders)[0].parent_id, 0u);
  std::set<u64> seen_ids;
  for (const mapi::FolderInfo &f : *folders) {
    if (!f.path.empty()) {
      ASSERT_TRUE(seen_ids.count(f.parent_id)) << join(f.path) << ": parent after child";
      std::vector<std::string> parent(f.path.begin(), f.path.end() - 1);
      EXPECT_EQ(path_of[f.parent_id], parent) << join(f.path);
    }
    seen_ids.insert(f.node_id);
  }

  // Messages per folder: sha256 and flags, against the oracle's. The oracle's flags are the
  // name's letters; the store drops T (no model flag) and reads new/ as unseen.
  std::map<std::string, std::multiset<std::pair<std::string, std::string>>> want, got;
  std::map<std::string, i64> want_count;
  for (const OracleMsg &m : oracle.messages) {
    std::string f;
    for (char c : m.flags)
      if (c != 'T' && !(m.subdir == "new" && c == 'S')) f += c;
    std::sort(f.begin(), f.end());
    // A cur/ file without "2," info records no flags; new/ always records "unseen".
    if (m.subdir == "cur" && m.flags.empty() && m.sha256 == sha_hex(message("cur without info")))
      f = "-";
    want[oracle.folders.at(m.folder)].insert({m.sha256, f});
    ++want_count[oracle.folders.at(m.folder)];
  }
  i64 total = 0;
  for (const mapi::FolderInfo &f : *folders) {
    auto items = (*store)->items_in(f.node_id);
    ASSERT_TRUE(items.ok());
    for (u64 id : *items) {
      auto m = (*store)->read_item(id);
      ASSERT_TRUE(m.ok()) << m.problem().detail;
      ASSERT_TRUE(m->internet.has_value());
      EXPECT_TRUE(m->props.empty());
      got[join(f.path)].insert({sha_hex(m->internet->bytes), letters(m->internet->flags)});
      ++total;
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(total, static_cast<i64>(oracle.messages.size()));

  // The census counts what the oracle counts, folder by folder.
  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->basis, "directory-listing");
  EXPECT_EQ(census->items(), static_cast<i64>(oracle.messages.size()));
  EXPECT_TRUE(census->problems.empty());
  for (const mapi::CensusFolder &cf : census->folders)
    EXPECT_EQ(cf.items, want_count[join(path_of[cf.folder_id])]) << join(path_of[cf.folder_id]);
}

// Python's add_folder on a folder writes M/.A/.B: every message there belongs to A/B, a
// Maildir++ ".A.B" next to it is the same folder, and the census counts them all (before the
// fix they were neither read nor counted, so nothing reported them).
TEST(MaildirStore, NestedFolderDirectoriesMatchPythonMailbox) {
  TempDir tmp;
  const fs::path root = tmp.path() / "M";
  const fs::path script = fs::path(MM_TESTS_DIR) / "unit" / "source" / "maildir_nested_tree.py";
  ASSERT_EQ(std::system((python() + " " + testing::shell_quote(script.string()) + " " +
                         testing::shell_quote(root.string()))
                            .c_str()),
            0);
  const Oracle oracle = run_oracle(root);
  ASSERT_EQ(oracle.status, 0) << "maildir_oracle.py failed";
  ASSERT_EQ(oracle.folders.size(), 11u);  // the root and ten folder directories
  ASSERT_EQ(oracle.messages.size(), 15u);

  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  EXPECT_TRUE((*store)->info().warnings.empty());
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  std::set<std::string> ours;
  std::map<u64, std::vector<std::string>> path_of;
  std::set<u64> seen_ids;
  for (const mapi::FolderInfo &f : *folders) {
    ours.insert(join(f.path));
    path_of[f.node_id] = f.path;
    if (!f.path.empty()) {
      ASSERT_TRUE(seen_ids.count(f.parent_id)) << join(f.path) << ": parent after child";
      EXPECT_EQ(path_of[f.parent_id], std::vector<std::string>(f.path.begin(), f.path.end() - 1));
    }
    seen_ids.insert(f.node_id);
  }
  for (const auto &[dir, decoded] : oracle.folders) EXPECT_TRUE(ours.count(decoded)) << dir;
  EXPECT_TRUE(ours.count("Archive" + kSep + "2024" + kSep + "Q1"));
  EXPECT_TRUE(ours.count("\xC3\x89t\xC3\xA9" + kSep + "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"));
  EXPECT_TRUE(ours.count("Archive" + kSep + "a.b"));
  // Two directories share a path (".Archive.2024" and ".Archive/.2024"); two levels are only
  // implied (Archive/Work by ".Archive/.Work.Projects", x by ".x.y").
  EXPECT_EQ(ours.size(), oracle.folders.size() - 1 + 2);

  // Every message once, in the folder the oracle puts it, with its bytes and flags (Python
  // writes flags only into cur/ names; new/ reads as unseen).
  std::map<std::string, std::multiset<std::pair<std::string, std::string>>> want, got;
  std::map<std::string, i64> want_count;
  for (const OracleMsg &m : oracle.messages) {
    std::string f = m.subdir == "new" ? "" : m.flags;
    std::sort(f.begin(), f.end());
    want[oracle.folders.at(m.folder)].insert({m.sha256, f});
    ++want_count[oracle.folders.at(m.folder)];
  }
  EXPECT_EQ(want_count["Archive" + kSep + "2024"], 3);  // two nested + one dotted
  std::set<u64> item_ids;
  for (const mapi::FolderInfo &f : *folders) {
    auto items = (*store)->items_in(f.node_id);
    ASSERT_TRUE(items.ok());
    EXPECT_EQ(f.content_count, static_cast<i64>(items->size()));
    for (u64 id : *items) {
      EXPECT_TRUE(item_ids.insert(id).second) << "item " << id << " listed twice";
      auto m = (*store)->read_item(id);
      ASSERT_TRUE(m.ok()) << m.problem().detail;
      got[join(f.path)].insert({sha_hex(m->internet->bytes), letters(m->internet->flags)});
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(item_ids.size(), oracle.messages.size());

  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->items(), static_cast<i64>(oracle.messages.size()));
  EXPECT_TRUE(census->problems.empty());
  for (const mapi::CensusFolder &cf : census->folders)
    EXPECT_EQ(cf.items, want_count[join(path_of[cf.folder_id])]) << join(path_of[cf.folder_id]);

  // A message delivered into a nested folder after opening is counted by the census (which
  // lists again), not read: the ledger will show the difference. A folder directory made
  // after opening is a census problem.
  write_file(root / ".Archive" / ".2024" / ".Q1" / "new" / "1800000000.late.host", message("late"));
  make_maildir(root / ".Archive" / ".2024" / ".Q2");
  census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->items(), static_cast<i64>(oracle.messages.size()) + 1);
  ASSERT_EQ(census->problems.size(), 1u);
  EXPECT_NE(census->problems[0].find(".Archive/.2024/.Q2 appeared after"), std::string::npos)
      << census->problems[0];
}

// A symlink back up the tree is followed once, never around; one to a folder already read
// is not read again. Either way every message is read and counted exactly once.
TEST(MaildirStore, SymlinkedFolderDirectoriesAreReadOnce) {
  TempDir tmp;
  const fs::path root = tmp.path() / "md";
  make_maildir(root);
  make_maildir(root / ".A");
  write_file(root / "cur" / "1.top:2,S", message("top"));
  write_file(root / ".A" / "cur" / "2.a:2,S", message("in A"));
  fs::create_directory_symlink("..", root / ".A" / ".up");  // the root again
  fs::create_directory_symlink(".", root / ".A" / ".self");
  fs::create_directory_symlink(".A", root / ".B");  // A again, met after A
  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  ASSERT_EQ(folders->size(), 2u);  // the root and A
  EXPECT_EQ((*folders)[1].path, std::vector<std::string>{"A"});
  EXPECT_EQ((*folders)[1].content_count, 1);
  const auto &warnings = (*store)->info().warnings;
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_EQ(warnings[0].detail,
            "folder directory .A/.self is .A again (a symbolic link); its messages are read "
            "once, there");
  EXPECT_EQ(warnings[1].detail,
            "folder directory .A/.up is the maildir root again (a symbolic link); its messages "
            "are read once, there");
  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->items(), 2);
  EXPECT_TRUE(census->problems.empty());
}

// Folder directories nested deeper than the limit are not read: a warning when opening, a
// census problem (the source is then "partial"), and no hang or stack overflow.
TEST(MaildirStore, NestingDeeperThanTheLimitIsAProblem) {
  TempDir tmp;
  const fs::path root = tmp.path() / "md";
  make_maildir(root);
  fs::path dir = root;
  for (int depth = 1; depth <= 66; ++depth) {
    dir /= ".d";
    make_maildir(dir);
    write_file(dir / "cur" / (std::to_string(depth) + ".x:2,S"), message(std::to_string(depth)));
  }
  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  EXPECT_EQ(folders->size(), 65u);  // the root and 64 levels
  EXPECT_EQ(folders->back().path.size(), 64u);
  const auto &warnings = (*store)->info().warnings;
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].code, ProblemCode::LimitExceeded);
  EXPECT_NE(warnings[0].detail.find("nested deeper than 64 levels"), std::string::npos);
  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->items(), 64);          // what is read: levels 65 and 66 are not counted...
  ASSERT_EQ(census->problems.size(), 1u);  // ...and the census says so
  EXPECT_NE(census->problems[0].find("not counted"), std::string::npos) << census->problems[0];
}

TEST(MaildirStore, ReceivedIsTheNamesTimeElseTheFilesMtime) {
  TempDir tmp;
  const fs::path root = tmp.path() / "md";
  make_maildir(root);
  write_file(root / "cur" / "1600000000.M1.host:2,S", message("named"));
  write_file(root / "cur" / "nodate.host:2,S", message("unnamed"));
  struct utimbuf t {
    1500000000, 1500000123
  };
  ASSERT_EQ(::utime((root / "cur" / "nodate.host:2,S").c_str(), &t), 0);
  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok());
  auto items = (*store)->items_in((*(*store)->folders())[0].node_id);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 2u);
  // Sorted by name: "1600000000..." before "nodate...".
  EXPECT_EQ((*store)->read_item((*items)[0])->internet->received, 1600000000);
  EXPECT_EQ((*store)->read_item((*items)[1])->internet->received, 1500000123);
}

TEST(MaildirStore, VanishedFileIsAnItemProblemAndMovedFileIsFound) {
  TempDir tmp;
  const fs::path root = tmp.path() / "md";
  make_maildir(root);
  write_file(root / "cur" / "1.a.host:2,S", message("stays"));
  write_file(root / "cur" / "2.b.host:2,S", message("vanishes"));
  write_file(root / "new" / "3.c.host", message("moves"));
  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok());
  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->items(), 3);
  fs::remove(root / "cur" / "2.b.host:2,S");
  fs::rename(root / "new" / "3.c.host", root / "cur" / "3.c.host:2,RS");  // a client read it
  auto items = (*store)->items_in(1);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);  // new/ first: 3.c, then cur/: 1.a, 2.b
  auto moved = (*store)->read_item((*items)[0]);
  ASSERT_TRUE(moved.ok()) << moved.problem().detail;
  EXPECT_EQ(moved->internet->bytes, message("moves"));
  EXPECT_EQ(letters(moved->internet->flags), "RS");  // from its new name
  EXPECT_TRUE((*store)->read_item((*items)[1]).ok());
  auto gone = (*store)->read_item((*items)[2]);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.problem().code, ProblemCode::ItemUnreadable);
  // A second census sees the file gone.
  EXPECT_EQ((*store)->census()->items(), 2);
  // Ids that were never handed out are problems, not crashes.
  EXPECT_FALSE((*store)->read_item(0).ok());
  EXPECT_FALSE((*store)->read_item(99).ok());
  EXPECT_FALSE((*store)->items_in(42).ok());
}

TEST(MaildirStore, FlagsAfterSemicolonOrBangWhenTheNameHasNoColon) {
  TempDir tmp;
  const fs::path root = tmp.path() / "md";
  make_maildir(root);
  write_file(root / "cur" / "1.a.host;2,RS", message("semicolon"));
  write_file(root / "cur" / "2.b.host!2,F", message("bang"));
  write_file(root / "cur" / "3.c;x.host:2,D", message("colon wins"));
  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok());
  auto items = (*store)->items_in(1);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ(letters((*store)->read_item((*items)[0])->internet->flags), "RS");
  EXPECT_EQ(letters((*store)->read_item((*items)[1])->internet->flags), "F");
  EXPECT_EQ(letters((*store)->read_item((*items)[2])->internet->flags), "D");
}

TEST(MaildirStore, OpenAnotherSharesTheListing) {
  TempDir tmp;
  const fs::path root = tmp.path() / "Maildir";
  build_tree(root);
  auto a = open_maildir(root.string());
  ASSERT_TRUE(a.ok());
  auto b = (*a)->open_another();
  ASSERT_TRUE(b.ok());
  // A file delivered after opening is in neither handle's listing (they share it).
  write_file(root / "new" / "1800000000.late.host", message("late"));
  auto fa = (*a)->folders();
  auto fb = (*b)->folders();
  ASSERT_EQ(fa->size(), fb->size());
  for (std::size_t i = 0; i < fa->size(); ++i) {
    EXPECT_EQ((*fa)[i].path, (*fb)[i].path);
    EXPECT_EQ(*(*a)->items_in((*fa)[i].node_id), *(*b)->items_in((*fb)[i].node_id));
  }
  EXPECT_EQ((*b)->read_item(1)->internet->bytes, (*a)->read_item(1)->internet->bytes);
}

TEST(MaildirStore, RefusesWhatIsNoMaildir) {
  TempDir tmp;
  EXPECT_FALSE(open_maildir((tmp.path() / "absent").string()).ok());
  fs::create_directories(tmp.path() / "plain" / "sub");
  EXPECT_FALSE(open_maildir((tmp.path() / "plain").string()).ok());
  write_file(tmp.path() / "file", "x");
  EXPECT_FALSE(open_maildir((tmp.path() / "file").string()).ok());
  // Broken folder names are shown as stored, with a warning, never a crash.
  const fs::path root = tmp.path() / "md";
  make_maildir(root);
  make_maildir(root / ".&broken");
  make_maildir(root / ".&AAA-");  // U+0000
  make_maildir(root / ".&2D0-");  // a lone high surrogate
  make_maildir(root / ".x..y");   // an empty level
  write_file(root / ".&broken" / "cur" / "1.x:2,S", message("in broken"));
  auto store = open_maildir(root.string());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->info().warnings.size(), 3u);
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  std::set<std::string> names;
  for (const auto &f : *folders) names.insert(join(f.path));
  EXPECT_TRUE(names.count("&broken"));
  EXPECT_EQ((*store)->census()->items(), 1);
}

}  // namespace
}  // namespace mm::source
