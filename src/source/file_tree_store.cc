// The file-tree store: a directory (or one file) of loose messages. Every regular file whose
// content is an RFC 5322 message or an Outlook .msg is an item, whatever its name says;
// directories are folders. Maildir directories, mbox and PST files found inside are inputs of
// their own (source discovery opens them) and are skipped here, as is everything else, with
// counts a user can read in info().detail.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "mailmill/format/msg/msg.h"
#include "mailmill/source/detect.h"
#include "mailmill/util/text.h"
#include "tree_io.h"

namespace mm::source {
namespace {

namespace fs = std::filesystem;

// Bytes of a file's head the content checks look at: enough for any real header block's
// first fields and for the compound-file signature.
constexpr std::size_t kHeadBytes = 64 * 1024;
// Directory levels searched below the argument (FolderInfo::beyond_depth's limit).
constexpr std::size_t kMaxDepth = 256;

enum class ItemKind : u8 { Eml, Msg };

struct FtItem {
  u64 folder = 0;  // index into Tree::folders
  ItemKind kind = ItemKind::Eml;
  std::string path;  // absolute
};

struct FtFolder {
  mapi::FolderInfo info;
  std::string dir;  // absolute directory ("" for a single-file store)
  std::vector<u64> items;
};

// What a walk found besides items.
struct Skipped {
  i64 other = 0, mbox = 0, pst = 0, maildirs = 0, unreadable_dirs = 0, loops = 0, too_deep = 0;
  std::vector<std::string> other_examples;  // first few ignored files, relative
  std::vector<std::string> problems;        // unreadable directories
};

struct Tree {
  std::string root;  // canonical argument
  mapi::StoreInfo info;
  std::vector<FtFolder> folders;  // pre-order, root first; node id = index + 1
  std::vector<FtItem> items;      // node id = index + 1
};

bool is_dir(const std::string &p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A maildir (or Maildir++ root or folder): maildir discovery gives it its own input.
bool is_maildir(const std::string &dir) { return is_dir(dir + "/cur") && is_dir(dir + "/new"); }

// Tells what the file at `path` is; Other for anything that is no message of ours.
tree::Content classify_file(const std::string &path) {
  tree::Content c = tree::classify_head(tree::read_head(path, kHeadBytes));
  if (c == tree::Content::Msg && !tree::is_msg_file(path)) return tree::Content::Other;
  return c;
}

// One directory's entries, split into subdirectories and regular files (after symlinks),
// each sorted by name. False when the directory cannot be listed.
bool list_dir(const std::string &dir, std::vector<std::string> &subdirs,
              std::vector<std::string> &files) {
  DIR *d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  while (struct dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::stat((dir + "/" + name).c_str(), &st) != 0) continue;  // dangling link, vanished
    if (S_ISDIR(st.st_mode))
      subdirs.push_back(std::move(name));
    else if (S_ISREG(st.st_mode))
      files.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(subdirs.begin(), subdirs.end());
  std::sort(files.begin(), files.end());
  return true;
}

// Walks the directory `dir` (folder path `path`) depth-first: `on_file` gets each message
// file with its kind, `on_dir` each directory before its files. Directories already visited
// (by canonical path) are not entered again, so symlink loops end.
template <class OnDir, class OnFile>
void walk(const std::string &dir, std::vector<std::string> &path, std::set<std::string> &visited,
          Skipped &skipped, const std::string &root, OnDir &&on_dir, OnFile &&on_file) {
  std::error_code ec;
  const std::string canon = fs::canonical(dir, ec).string();
  if (ec || !visited.insert(canon).second) {
    ++skipped.loops;
    return;
  }
  if (is_maildir(dir)) {
    ++skipped.maildirs;
    return;
  }
  std::vector<std::string> subdirs, files;
  if (!list_dir(dir, subdirs, files)) {
    const int err = errno;
    ++skipped.unreadable_dirs;
    skipped.problems.push_back("cannot list directory " +
                               text::sanitize_utf8(dir.substr(std::min(dir.size(), root.size()))) +
                               ": " + std::strerror(err));
    return;
  }
  const u64 folder = on_dir(path, dir);
  for (const std::string &f : files) {
    const std::string full = dir + "/" + f;
    switch (classify_file(full)) {
      case tree::Content::Eml:
        on_file(folder, ItemKind::Eml, full);
        break;
      case tree::Content::Msg:
        on_file(folder, ItemKind::Msg, full);
        break;
      case tree::Content::Mbox:
        ++skipped.mbox;
        break;
      case tree::Content::Pst:
        ++skipped.pst;
        break;
      case tree::Content::Other:
        ++skipped.other;
        if (skipped.other_examples.size() < 3)
          skipped.other_examples.push_back(text::sanitize_utf8(full.substr(root.size() + 1)));
        break;
    }
  }
  if (path.size() >= kMaxDepth) {
    skipped.too_deep += static_cast<i64>(subdirs.size());
    return;
  }
  for (const std::string &s : subdirs) {
    path.push_back(text::sanitize_utf8(s));
    walk(dir + "/" + s, path, visited, skipped, root, on_dir, on_file);
    path.pop_back();
  }
}

std::string describe(const Tree &t, const Skipped &s) {
  i64 eml = 0, msg = 0;
  for (const FtItem &i : t.items) (i.kind == ItemKind::Eml ? eml : msg) += 1;
  std::string d = std::to_string(eml) + " .eml and " + std::to_string(msg) + " .msg files in " +
                  std::to_string(t.folders.size()) + " folders";
  if (s.other > 0) {
    d += "; " + std::to_string(s.other) + " other files ignored (not a message:";
    for (const std::string &e : s.other_examples) d += " " + e;
    d += s.other > static_cast<i64>(s.other_examples.size()) ? " ...)" : ")";
  }
  if (s.mbox + s.pst + s.maildirs > 0)
    d += "; left to their own inputs: " + std::to_string(s.mbox) + " mbox, " +
         std::to_string(s.pst) + " PST/OST files, " + std::to_string(s.maildirs) + " maildirs";
  if (s.unreadable_dirs > 0)
    d += "; " + std::to_string(s.unreadable_dirs) + " unreadable directories";
  if (s.loops > 0)
    d += "; " + std::to_string(s.loops) + " directories reached twice (links) skipped";
  if (s.too_deep > 0)
    d += "; " + std::to_string(s.too_deep) + " directories deeper than " +
         std::to_string(kMaxDepth) + " levels skipped";
  return d;
}

class FileTreeStore final : public mapi::MailStore {
 public:
  explicit FileTreeStore(std::shared_ptr<const Tree> t) : t_(std::move(t)) {}

  const mapi::StoreInfo &info() const override { return t_->info; }

  Result<std::vector<mapi::FolderInfo>> folders() override {
    std::vector<mapi::FolderInfo> out;
    for (const FtFolder &f : t_->folders) out.push_back(f.info);
    return out;
  }

  Result<std::vector<u64>> items_in(u64 folder_id) override {
    if (folder_id == 0 || folder_id > t_->folders.size())
      return Problem{ProblemCode::InternalError, "no folder " + std::to_string(folder_id)};
    return t_->folders[folder_id - 1].items;
  }

  Result<mapi::RawMessage> read_item(u64 node_id) override {
    if (node_id == 0 || node_id > t_->items.size())
      return Problem{ProblemCode::ItemUnreadable, "no item " + std::to_string(node_id)};
    const FtItem &item = t_->items[node_id - 1];
    Result<tree::FileBytes> got = tree::read_whole(item.path);
    if (!got) return got.problem();
    if (item.kind == ItemKind::Msg) {
      Result<mapi::RawMessage> m = msg::read_msg(got->bytes);
      if (!m) {
        Problem p = m.problem();
        p.detail = item.path + ": " + p.detail;
        return p;
      }
      m->node_id = node_id;
      return m;
    }
    // The message's own Date rules for an EML file: its mtime says when it was copied.
    mapi::RawMessage m;
    m.node_id = node_id;
    mapi::InternetMessage im;
    im.bytes = Blob(std::move(got->bytes));
    m.internet = std::move(im);
    return m;
  }

  const mapi::NameMap &names() const override { return names_; }
  Result<mapi::PropertyBag> store_properties() override { return mapi::PropertyBag{}; }

  // Walks the tree again and classifies every file again: files added or removed since the
  // store was opened change the counts, and folders not in the opened tree are problems.
  Result<mapi::Census> census() override {
    mapi::Census c;
    c.basis = "directory-listing";
    std::map<std::string, u64> id_of_dir;
    for (std::size_t i = 0; i < t_->folders.size(); ++i) id_of_dir[t_->folders[i].dir] = i + 1;
    std::vector<i64> rows(t_->folders.size(), 0);
    if (t_->folders.size() == 1 && t_->folders[0].dir.empty()) {
      rows[0] = static_cast<i64>(t_->items.size());  // a single file: is it still there?
      struct stat st {};
      if (!t_->items.empty() && ::stat(t_->items[0].path.c_str(), &st) != 0) rows[0] = 0;
    } else {
      Skipped skipped;
      std::set<std::string> visited;
      std::vector<std::string> path;
      u64 unknown = 0;
      walk(
          t_->root, path, visited, skipped, t_->root,
          [&](const std::vector<std::string> &, const std::string &dir) -> u64 {
            auto it = id_of_dir.find(dir);
            return it == id_of_dir.end() ? 0 : it->second;
          },
          [&](u64 folder, ItemKind, const std::string &) {
            if (folder == 0)
              ++unknown;
            else
              ++rows[folder - 1];
          });
      c.problems = skipped.problems;
      if (unknown > 0)
        c.problems.push_back(std::to_string(unknown) +
                             " message files appeared in directories added after the tree was "
                             "opened; they are not read");
    }
    for (std::size_t i = 0; i < t_->folders.size(); ++i) {
      mapi::CensusFolder cf;
      cf.folder_id = i + 1;
      cf.rows = rows[i];
      cf.items = rows[i];
      c.message_nodes += rows[i];
      c.folders.push_back(std::move(cf));
    }
    c.folder_nodes = static_cast<i64>(t_->folders.size());
    return c;
  }

  const char *reader_name() const override { return "files"; }

  Result<std::unique_ptr<mapi::MailStore>> open_another() const override {
    return std::unique_ptr<mapi::MailStore>(std::make_unique<FileTreeStore>(t_));
  }

 private:
  std::shared_ptr<const Tree> t_;
  mapi::NameMap names_;
};

}  // namespace

Result<std::unique_ptr<mapi::MailStore>> open_file_tree(const std::string &path) {
  std::error_code ec;
  const fs::path canon = fs::canonical(path, ec);
  if (ec)
    return Problem{ProblemCode::SourceUnreadable, "cannot open " + path + ": " + ec.message()};
  auto t = std::make_shared<Tree>();
  t->root = canon.string();
  t->info.kind = "files";
  t->info.display_name = canon.filename().string();
  Skipped skipped;
  if (!fs::is_directory(canon, ec)) {
    // One file: one folder holding it, when it is a message.
    FtFolder root;
    root.info.node_id = 1;
    root.info.container_class = "IPF.Note";
    t->folders.push_back(std::move(root));
    switch (classify_file(t->root)) {
      case tree::Content::Eml:
        t->items.push_back(FtItem{0, ItemKind::Eml, t->root});
        break;
      case tree::Content::Msg:
        t->items.push_back(FtItem{0, ItemKind::Msg, t->root});
        break;
      case tree::Content::Mbox:
        ++skipped.mbox;
        break;
      case tree::Content::Pst:
        ++skipped.pst;
        break;
      case tree::Content::Other:
        ++skipped.other;
        break;
    }
    if (!t->items.empty()) t->folders[0].items.push_back(1);
    t->info.file_size = fs::file_size(canon, ec);
  } else {
    // Folders are recorded as the walk enters them and dropped again at the end when no
    // message lies in or below them (pre-order is kept: the walk is depth-first).
    std::vector<FtFolder> all;
    std::vector<std::size_t> parent;     // index into `all` of each folder's parent (root: npos)
    std::vector<std::size_t> open_dirs;  // indices of the folders on the walk's current path
    std::vector<FtItem> items;
    std::set<std::string> visited;
    std::vector<std::string> folder_path;
    walk(
        t->root, folder_path, visited, skipped, t->root,
        [&](const std::vector<std::string> &p, const std::string &dir) -> u64 {
          while (open_dirs.size() > p.size()) open_dirs.pop_back();
          parent.push_back(open_dirs.empty() ? std::string::npos : open_dirs.back());
          open_dirs.push_back(all.size());
          FtFolder f;
          f.info.path = p;
          f.info.container_class = "IPF.Note";
          f.dir = dir;
          all.push_back(std::move(f));
          return all.size();  // 1-based index into `all`
        },
        [&](u64 folder, ItemKind kind, const std::string &file) {
          items.push_back(FtItem{folder, kind, file});
        });
    if (all.empty())
      return Problem{ProblemCode::SourceUnreadable,
                     !skipped.problems.empty() ? skipped.problems[0]
                     : skipped.maildirs > 0 ? path + " is a maildir, not a tree of loose messages"
                                            : path + " holds nothing to read"};
    // A folder is kept when it or a folder below it holds a message (and the root always).
    std::vector<bool> keep(all.size(), false);
    keep[0] = true;
    for (const FtItem &i : items)
      for (std::size_t f = i.folder - 1; f != std::string::npos && !keep[f]; f = parent[f])
        keep[f] = true;
    // Names are made valid UTF-8 by the walk, so two directory names can become one: the
    // later sibling gets " (2)", " (3)"... so that every folder path stays distinct.
    std::vector<u64> new_id(all.size(), 0);
    std::map<std::pair<u64, std::string>, int> taken;  // (parent id, name) -> uses
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (!keep[i]) continue;
      FtFolder f = std::move(all[i]);
      f.info.node_id = t->folders.size() + 1;
      if (i > 0) {
        std::string name = f.info.path.back();
        f.info.parent_id = new_id[parent[i]];
        f.info.path = t->folders[f.info.parent_id - 1].info.path;
        const int uses = ++taken[{f.info.parent_id, name}];
        if (uses > 1) name += " (" + std::to_string(uses) + ")";
        f.info.path.push_back(std::move(name));
      }
      new_id[i] = f.info.node_id;
      t->folders.push_back(std::move(f));
    }
    for (FtItem &i : items) {
      i.folder = new_id[i.folder - 1] - 1;
      t->items.push_back(std::move(i));
      t->folders[t->items.back().folder].items.push_back(t->items.size());
    }
  }
  for (FtFolder &f : t->folders) f.info.content_count = static_cast<i64>(f.items.size());
  t->info.detail = describe(*t, skipped);
  for (const std::string &p : skipped.problems)
    t->info.warnings.push_back(Problem{ProblemCode::SourceUnreadable, p});
  return std::unique_ptr<mapi::MailStore>(std::make_unique<FileTreeStore>(std::move(t)));
}

}  // namespace mm::source
