// The file-tree store against file_tree_oracle.py, a listing of the same tree by the test's
// own rule (with olefile for .msg), over the corpus's .eml and .msg samples copied under
// misleading names beside files that are no messages, a maildir, an mbox, a PST head, a FIFO
// and a symlink loop.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>

#include "mailmill/source/detect.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_util.h"

namespace mm::source {
namespace {

using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

std::string sha_hex(ByteView b) {
  const util::Sha256Digest d = util::Sha256::digest(b);
  return text::to_hex(std::span<const u8>(d.data(), d.size()));
}

std::string join(const std::vector<std::string> &path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) out += (i ? "/" : "") + path[i];
  return out;
}

struct Expected {
  std::multiset<std::string> eml_sha;  // sha256 of each .eml's bytes
  i64 msg = 0;
  i64 count() const { return static_cast<i64>(eml_sha.size()) + msg; }
};

// folder ("" or "a/b") -> what the oracle says lies in it; `status` gets the exit code.
std::map<std::string, Expected> run_oracle(const fs::path &root, int &status) {
  const fs::path script = fs::path(MM_TESTS_DIR) / "unit" / "source" / "file_tree_oracle.py";
  const std::string cmd = python() + " " + testing::shell_quote(script.string()) + " " +
                          testing::shell_quote(root.string());
  std::map<std::string, Expected> out;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return out;
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  const int rc = ::pclose(pipe);
  status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    const std::string line = text.substr(at, nl - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    const std::string kind = line.substr(0, tab), rel = line.substr(tab + 1);
    const std::string folder = fs::path(rel).parent_path().string();
    if (kind == "eml")
      out[folder].eml_sha.insert(sha_hex(testing::read_file(root / rel)));
    else
      ++out[folder].msg;
  }
  return out;
}

// Every item of the store, folder by folder, in the oracle's terms.
std::map<std::string, Expected> read_store(mapi::MailStore &store) {
  std::map<std::string, Expected> out;
  auto folders = store.folders();
  EXPECT_TRUE(folders.ok());
  if (!folders) return out;
  for (const mapi::FolderInfo &f : *folders) {
    auto items = store.items_in(f.node_id);
    EXPECT_TRUE(items.ok());
    for (u64 id : *items) {
      auto m = store.read_item(id);
      // .msg items go through msg::read_msg, which may refuse a sample: still a .msg item.
      if (m.ok() && m->internet) {
        EXPECT_FALSE(m->internet->received.has_value()) << "the message's Date rules";
        out[join(f.path)].eml_sha.insert(sha_hex(m->internet->bytes));
      } else {
        ++out[join(f.path)].msg;
      }
    }
  }
  return out;
}

bool operator==(const Expected &a, const Expected &b) {
  return a.eml_sha == b.eml_sha && a.msg == b.msg;
}

void copy_corpus_dir(const fs::path &from, const fs::path &to_root) {
  std::vector<fs::path> files;
  for (const auto &e : fs::directory_iterator(from))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  // Spread over nested folders, under names that say nothing or the wrong thing.
  const char *dirs[] = {"", "a", "a/b c", "d/e/f"};
  const char *exts[] = {"", ".txt", ".bin", ".msg", ".eml"};
  for (std::size_t i = 0; i < files.size(); ++i) {
    const fs::path dir = to_root / dirs[i % 4];
    fs::create_directories(dir);
    fs::copy_file(files[i], dir / ("f" + std::to_string(i) + exts[i % 5]),
                  fs::copy_options::overwrite_existing);
  }
}

void add_noise(const fs::path &root) {
  fs::create_directories(root / "noise" / "deeper");
  write_file(root / "noise" / "notes.txt", "just some text\nno headers here\n");
  write_file(root / "noise" / "config.yaml", "Key: value\nOther: thing\n\nbody\n");
  write_file(root / "noise" / "deeper" / "image.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
  write_file(root / "noise" / "empty", "");
  write_file(root / "noise" / "cut.pst", "!BDN\x01\x02\x03\x04 not the rest of a PST");
  write_file(root / "noise" / "letters.mbox",
             "From a@b Thu Jan  1 00:00:00 1970\nFrom: a@b\nSubject: in an mbox\n\nx\n");
  write_file(root / "noise" / "word.doc", std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) +
                                              std::string(504, '\0'));  // a broken compound file
  ASSERT_EQ(::mkfifo((root / "noise" / "pipe").c_str(), 0600), 0);
  // A maildir inside the tree is an input of its own.
  for (const char *s : {"cur", "new", "tmp"}) fs::create_directories(root / "Maildir" / s);
  write_file(root / "Maildir" / "cur" / "1.x:2,S", "From: a@b\nSubject: in a maildir\n\nx\n");
  fs::create_directories(root / "Maildir" / ".Sub" / "cur");
  write_file(root / "Maildir" / ".Sub" / "cur" / "2.y:2,S", "From: a@b\nSubject: sub\n\nx\n");
  // A directory link back to the root: a loop.
  fs::create_directory_symlink(root, root / "a" / "loop");
  // A directory with nothing in it is no folder.
  fs::create_directories(root / "nothing" / "here");
}

TEST(FileTreeStore, FindsWhatTheOracleFindsInTheCorpus) {
  MM_REQUIRE_CORPUS();
  TempDir tmp;
  const fs::path root = tmp.path() / "loose";
  copy_corpus_dir(::mm::testing::corpus_path("eml"), root);
  copy_corpus_dir(::mm::testing::corpus_path("msg"), root / "outlook");
  add_noise(root);
  int status = -1;
  const std::map<std::string, Expected> want = run_oracle(root, status);
  if (status == 77) GTEST_SKIP() << "python3-olefile is not installed (tools/setup.sh installs it)";
  ASSERT_EQ(status, 0);
  i64 eml = 0, msg = 0;
  for (const auto &[f, e] : want) {
    eml += static_cast<i64>(e.eml_sha.size());
    msg += e.msg;
  }
  // The corpus holds hundreds of each; an oracle that found few would prove little.
  EXPECT_GT(eml, 600);
  EXPECT_GT(msg, 60);

  auto store = open_file_tree(root.string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  EXPECT_EQ((*store)->info().kind, "files");
  const std::string &detail = (*store)->info().detail;
  EXPECT_NE(detail.find("other files ignored"), std::string::npos) << detail;
  EXPECT_NE(detail.find(" mbox, "), std::string::npos) << detail;  // the corpus has From_ files too
  EXPECT_NE(detail.find("1 PST/OST"), std::string::npos) << detail;
  EXPECT_NE(detail.find("1 maildirs"), std::string::npos) << detail;
  const std::map<std::string, Expected> got = read_store(**store);
  EXPECT_EQ(got.size(), want.size());
  for (const auto &[folder, e] : want) {
    auto it = got.find(folder);
    ASSERT_NE(it, got.end()) << "folder " << folder;
    EXPECT_EQ(it->second.eml_sha.size(), e.eml_sha.size()) << folder;
    EXPECT_EQ(it->second.msg, e.msg) << folder;
    EXPECT_TRUE(it->second == e) << folder;
  }

  // Folders: root first, pre-order, parents consistent; no folder without messages below it.
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  ASSERT_FALSE(folders->empty());
  EXPECT_TRUE((*folders)[0].path.empty());
  std::map<u64, std::vector<std::string>> path_of;
  for (const mapi::FolderInfo &f : *folders) {
    if (!f.path.empty()) {
      ASSERT_TRUE(path_of.count(f.parent_id)) << join(f.path);
      EXPECT_EQ(path_of[f.parent_id], std::vector<std::string>(f.path.begin(), f.path.end() - 1));
    }
    path_of[f.node_id] = f.path;
    EXPECT_NE(join(f.path).substr(0, 7), "nothing");
    EXPECT_NE(join(f.path).substr(0, 7), "Maildir");
  }

  // The census counts the same, folder by folder.
  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->basis, "directory-listing");
  EXPECT_EQ(census->items(), eml + msg);
  for (const mapi::CensusFolder &cf : census->folders) {
    auto it = want.find(join(path_of[cf.folder_id]));
    EXPECT_EQ(cf.items, it == want.end() ? 0 : it->second.count()) << join(path_of[cf.folder_id]);
  }
  // Files removed after opening: the census sees it, read_item reports it.
  for (const auto &e : fs::directory_iterator(root / "a"))
    if (e.is_regular_file()) fs::remove(e.path());
  auto after = (*store)->census();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->items(), eml + msg - want.at("a").count());
  auto a_items = (*store)->items_in([&] {
    for (const auto &[id, p] : path_of)
      if (p == std::vector<std::string>{"a"}) return id;
    return u64{0};
  }());
  ASSERT_TRUE(a_items.ok());
  ASSERT_FALSE(a_items->empty());
  auto gone = (*store)->read_item(a_items->front());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.problem().code, ProblemCode::ItemUnreadable);
}

TEST(FileTreeStore, OneFileIsAStoreOfOneItem) {
  TempDir tmp;
  const std::string text = "Subject :obsolete space before the colon\nFrom: a@b\n\nhello\n";
  write_file(tmp.path() / "one", text);
  auto store = open_file_tree((tmp.path() / "one").string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto items = (*store)->items_in(1);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  auto m = (*store)->read_item((*items)[0]);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->internet.has_value());
  EXPECT_EQ(m->internet->bytes, text);
  EXPECT_EQ((*store)->census()->items(), 1);

  // A file that is no message gives an empty store that says why, and From_ files are mbox.
  for (const std::string &content :
       {std::string("plain words\n"),
        std::string("From a@b Thu Jan  1 00:00:00 1970\nFrom: a@b\n\nx\n"),
        std::string("Key: value\n\nnot a message\n"), std::string()}) {
    write_file(tmp.path() / "other", content);
    auto other = open_file_tree((tmp.path() / "other").string());
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE((*other)->items_in(1)->empty()) << content;
    EXPECT_EQ((*other)->census()->items(), 0);
  }
  // A malformed line ends the header block without making the file a non-message; a block
  // without a field messages carry ("Note:" then prose) is no message.
  write_file(tmp.path() / "bad_line",
             "Subject: x\r\nThis is an invalid header\r\nTo: a@b\r\n\r\nbody\r\n");
  EXPECT_EQ((*open_file_tree((tmp.path() / "bad_line").string()))->items_in(1)->size(), 1u);
  write_file(tmp.path() / "note", "Note: remember the milk\nand then some prose\n");
  EXPECT_EQ((*open_file_tree((tmp.path() / "note").string()))->items_in(1)->size(), 0u);
  // "From  :" is an obsolete-syntax header, not a From_ line.
  write_file(tmp.path() / "obs", "From  : John <j@example.org>\nSubject: x\n\nbody\n");
  EXPECT_EQ((*open_file_tree((tmp.path() / "obs").string()))->items_in(1)->size(), 1u);
}

TEST(FileTreeStore, BadInputIsAProblemNotACrash) {
  TempDir tmp;
  EXPECT_FALSE(open_file_tree((tmp.path() / "absent").string()).ok());
  // A maildir handed over as a file tree has no loose messages.
  for (const char *s : {"cur", "new"}) fs::create_directories(tmp.path() / "md" / s);
  EXPECT_FALSE(open_file_tree((tmp.path() / "md").string()).ok());
}

TEST(FileTreeStore, DirectoryNamesThatAreNotUtf8StayDistinctFolders) {
  TempDir tmp;
  const fs::path root = tmp.path() / "t";
  for (const char *d : {"a\xff", "a\xfe", "a\xff/inner"}) {
    fs::create_directories(root / d);
    write_file(root / d / "m", "From: a@b\nSubject: x\n\nbody\n");
  }
  auto store = open_file_tree(root.string());
  ASSERT_TRUE(store.ok()) << store.problem().detail;
  auto folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  ASSERT_EQ(folders->size(), 4u);
  std::set<std::vector<std::string>> paths;
  for (const mapi::FolderInfo &f : *folders) {
    paths.insert(f.path);
    for (const std::string &c : f.path) EXPECT_TRUE(text::is_valid_utf8(c));
    if (f.path.size() == 2) {
      EXPECT_EQ((*folders)[f.parent_id - 1].path, std::vector<std::string>{f.path[0]});
    }
  }
  EXPECT_EQ(paths.size(), 4u);
  auto census = (*store)->census();
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->items(), 3);
  for (const mapi::CensusFolder &cf : census->folders)
    EXPECT_EQ(cf.items, static_cast<i64>((*store)->items_in(cf.folder_id)->size()));
}

TEST(FileTreeStore, UnreadableDirectoryIsAWarning) {
  // Not testable as root, who can list anything.
  TempDir tmp;
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: unreadable directories cannot be made";
  fs::create_directories(tmp.path() / "t" / "locked");
  write_file(tmp.path() / "t" / "m.eml", "From: a@b\nSubject: x\n\nbody\n");
  fs::permissions(tmp.path() / "t" / "locked", fs::perms::none);
  auto store = open_file_tree((tmp.path() / "t").string());
  fs::permissions(tmp.path() / "t" / "locked", fs::perms::owner_all);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->info().warnings.size(), 1u);
}

}  // namespace
}  // namespace mm::source
