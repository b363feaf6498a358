// The maildir store: Maildir and Maildir++ trees (the layout Courier and Dovecot use) read
// through mapi::MailStore. Each message file becomes an InternetMessage item whose bytes are
// read whole when the item is read; flags come from the file name's info part.
//
// Layout (Maildir++, as Courier's maildir(5) and Dovecot's LAYOUT=maildir++ describe it): the
// root's cur/ and new/ hold the top folder; every subdirectory ".A.B" holding cur/ or new/ is
// the folder A/B ('.' separates levels). Names are IMAP mailbox names in modified UTF-7
// (RFC 3501 section 5.1.3); Dovecot's listescape plugin writes a '.' inside a name as "\2e".
// A folder directory may hold folder directories of its own: Python's mailbox.Maildir
// add_folder on a folder writes M/.A/.B, and other tools nest the same way. Levels add up
// (".A.B/.C" is A/B/C), and a nested ".A/.B" is the same folder as a Maildir++ ".A.B".
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "mailmill/source/detect.h"
#include "mailmill/util/text.h"
#include "tree_io.h"

namespace mm::source {
namespace {

namespace fs = std::filesystem;

// Folder directories nested inside one another deeper than this are not read: the walk
// stops there with a warning, and the census reports them as not counted. Real folder trees
// are far shallower; the limit keeps a crafted tree from exhausting PATH_MAX or the stack.
constexpr int MAX_DIR_DEPTH = 64;

struct MdItem {
  u64 dir = 0;  // index into Listing::dirs
  bool in_new = false;
  std::string name;  // file name in new/ or cur/
};

struct MdFolder {
  mapi::FolderInfo info;
  // Its directories in walk order: none for a level only implied by a deeper folder's name,
  // two when both ".A.B" and ".A/.B" exist.
  std::vector<u64> dirs;
  std::vector<u64> items;
};

// What open_maildir lists once; shared read-only by every handle (open_another).
struct Listing {
  std::string root;
  mapi::StoreInfo info;
  std::vector<MdFolder> folders;  // depth-first pre-order, root first; node id = index + 1
  // Folder directories below the root ("" the root itself, ".A.B", ".A/.B"); MdItem::dir and
  // MdFolder::dirs index it.
  std::vector<std::string> dirs;
  std::vector<MdItem> items;  // node id = index + 1
};

std::optional<u32> base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<u32>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<u32>(c - 'a' + 26);
  if (c >= '0' && c <= '9') return static_cast<u32>(c - '0' + 52);
  if (c == '+') return 62u;
  if (c == ',') return 63u;  // modified UTF-7 uses ',' where base64 has '/'
  return std::nullopt;
}

// RFC 3501 section 5.1.3: "&-" is '&'; "&<modified base64 of UTF-16BE>-" is non-ASCII text.
// nullopt when the name is not valid modified UTF-7 (then it is shown as stored).
std::optional<std::string> decode_mutf7(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    std::size_t end = s.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (end == i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    u32 bits = 0, nbits = 0;
    std::vector<u16> units;
    for (std::size_t k = i + 1; k < end; ++k) {
      std::optional<u32> v = base64_value(s[k]);
      if (!v) return std::nullopt;
      bits = (bits << 6) | *v;
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<u16>((bits >> nbits) & 0xFFFF));
      }
    }
    if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0 || units.empty()) return std::nullopt;
    for (std::size_t k = 0; k < units.size(); ++k) {
      u32 cp = units[k];
      if (cp >= 0xD800 && cp <= 0xDBFF && k + 1 < units.size() && units[k + 1] >= 0xDC00 &&
          units[k + 1] <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (units[k + 1] - 0xDC00);
        ++k;
      } else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
        return std::nullopt;  // a lone surrogate, or a NUL no file name can carry on
      }
      text::append_utf8(out, cp);
    }
    i = end + 1;
  }
  return out;
}

// Dovecot's listescape plugin: "\NN" (two hex digits) stands for the byte NN.
std::string unescape_listescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) {
      int hi = text::hex_digit_value(s[i + 1]), lo = text::hex_digit_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string decode_component(std::string_view raw, bool &undecodable) {
  std::optional<std::string> text = decode_mutf7(raw);
  if (!text) {
    undecodable = true;
    return text::sanitize_utf8(raw);
  }
  return unescape_listescape(*text);
}

bool is_dir(const std::string &p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_folder_dir(const std::string &parent, const std::string &name) {
  if (name.size() < 2 || name[0] != '.' || name == "..") return false;
  const std::string dir = parent + "/" + name;
  return is_dir(dir) && (is_dir(dir + "/cur") || is_dir(dir + "/new"));
}

std::string join_rel(const std::string &parent_rel, const std::string &name) {
  return parent_rel.empty() ? name : parent_rel + "/" + name;
}

// A directory's identity after symlinks. The walks enter each directory once, so a symlink
// back up the tree (a loop) or across it cannot make them read a message twice or not end.
using DirId = std::pair<dev_t, ino_t>;

std::optional<DirId> dir_id(const std::string &p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return DirId{st.st_dev, st.st_ino};
}

std::string describe_rel(const std::string &rel) {
  return rel.empty() ? std::string("the maildir root") : text::sanitize_utf8(rel);
}

// Message files of one subdirectory (new/ or cur/), sorted by name: regular files (after
// symlinks) whose names do not start with '.' (maildir(5): readers skip them). Listed with
// std::filesystem; the census lists again with readdir(3) (count_messages).
std::vector<std::string> list_messages(const std::string &dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code sec;
    if (fs::is_regular_file(it->path(), sec)) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The census's own count: readdir(3) and stat(2), the same rule. -1 when `dir` is absent.
i64 count_messages(const std::string &dir, std::string &problem) {
  DIR *d = ::opendir(dir.c_str());
  if (d == nullptr) {
    const int err = errno;
    if (err == ENOENT) return 0;
    problem = "cannot list " + dir + ": " + std::strerror(err);
    return -1;
  }
  i64 n = 0;
  while (struct dirent *e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    const std::string p = dir + "/" + e->d_name;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ++n;
  }
  ::closedir(d);
  return n;
}

// Flags of a maildir file name ("unique:2,FRS"): nullopt when the name carries no "2," info.
// Letters per maildir(5)/Dovecot: P passed (forwarded), R replied, S seen, T trashed, D draft,
// F flagged. T has no model flag (the model has no deleted state) and is dropped.
// Maildirs kept on file systems that refuse ':' (mbsync's InfoDelimiter, some Windows
// copies) use ';' or '!' in its place; those are read too when the name has no ':'.
std::size_t info_start(std::string_view name) {
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos) return colon;
  for (std::string_view alt : {";2,", "!2,"})
    if (auto at = name.rfind(alt); at != std::string_view::npos) return at;
  return std::string_view::npos;
}

std::optional<model::Flags> name_flags(std::string_view name) {
  auto colon = info_start(name);
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view info = name.substr(colon + 1);
  if (info.substr(0, 2) != "2,") return std::nullopt;
  model::Flags f;
  for (char c : info.substr(2)) {
    switch (c) {
      case 'P':
        f.forwarded = true;
        break;
      case 'R':
        f.answered = true;
        break;
      case 'S':
        f.read = true;
        break;
      case 'D':
        f.draft = true;
        break;
      case 'F':
        f.flagged = true;
        break;
      default:
        break;
    }
  }
  return f;
}

// The delivery time maildir(5) puts first in a file name ("1733400000.M1P2.host").
std::optional<i64> name_time(std::string_view name) {
  std::string_view first = name.substr(0, name.find('.'));
  if (first.empty() || first.size() > 12) return std::nullopt;
  i64 v = 0;
  for (char c : first) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string_view unique_part(std::string_view name) { return name.substr(0, info_start(name)); }

class MaildirStore final : public mapi::MailStore {
 public:
  explicit MaildirStore(std::shared_ptr<const Listing> l) : l_(std::move(l)) {}

  const mapi::StoreInfo &info() const override { return l_->info; }

  Result<std::vector<mapi::FolderInfo>> folders() override {
    std::vector<mapi::FolderInfo> out;
    for (const MdFolder &f : l_->folders) out.push_back(f.info);
    return out;
  }

  Result<std::vector<u64>> items_in(u64 folder_id) override {
    if (folder_id == 0 || folder_id > l_->folders.size())
      return Problem{ProblemCode::InternalError, "no folder " + std::to_string(folder_id)};
    return l_->folders[folder_id - 1].items;
  }

  Result<mapi::RawMessage> read_item(u64 node_id) override {
    if (node_id == 0 || node_id > l_->items.size())
      return Problem{ProblemCode::ItemUnreadable, "no item " + std::to_string(node_id)};
    const MdItem &item = l_->items[node_id - 1];
    const std::string dir = dir_path(l_->dirs[item.dir]);
    std::string name = item.name;
    bool in_new = item.in_new;
    Result<tree::FileBytes> got = tree::read_whole(dir + (in_new ? "/new/" : "/cur/") + name);
    if (!got && got.problem().code == ProblemCode::ItemUnreadable) {
      // A mail client may have moved the file since it was listed: from new/ to cur/, or to
      // a new info part when it changed the flags. The unique part before ':' stays.
      if (auto moved = find_moved(dir, name)) {
        std::tie(in_new, name) = *moved;
        got = tree::read_whole(dir + (in_new ? "/new/" : "/cur/") + name);
      }
    }
    if (!got) return got.problem();
    mapi::RawMessage m;
    m.node_id = node_id;
    mapi::InternetMessage im;
    im.flags = name_flags(name);
    if (in_new) im.flags = model::Flags{};  // maildir(5): new/ holds mail nobody has seen
    im.received = name_time(name).value_or(got->mtime);
    im.bytes = Blob(std::move(got->bytes));
    m.internet = std::move(im);
    return m;
  }

  const mapi::NameMap &names() const override { return names_; }
  Result<mapi::PropertyBag> store_properties() override { return mapi::PropertyBag{}; }

  Result<mapi::Census> census() override {
    mapi::Census c;
    c.basis = "directory-listing";
    std::map<std::string, u64> by_rel;  // folder directory -> index into folders
    for (std::size_t i = 0; i < l_->folders.size(); ++i) {
      for (u64 d : l_->folders[i].dirs) by_rel[l_->dirs[d]] = i;
      mapi::CensusFolder cf;
      cf.folder_id = i + 1;
      cf.rows = 0;
      c.folders.push_back(std::move(cf));
    }
    std::set<DirId> seen;
    if (std::optional<DirId> id = dir_id(l_->root)) seen.insert(*id);
    if (!census_walk("", 0, by_rel, seen, c))
      return Problem{ProblemCode::SourceUnreadable,
                     "cannot list " + l_->root + ": " + std::strerror(errno)};
    for (mapi::CensusFolder &cf : c.folders) {
      cf.items = cf.rows;
      c.message_nodes += cf.items;
    }
    c.folder_nodes = static_cast<i64>(l_->folders.size());
    return c;
  }

  const char *reader_name() const override { return "maildir"; }

  Result<std::unique_ptr<mapi::MailStore>> open_another() const override {
    return std::unique_ptr<mapi::MailStore>(std::make_unique<MaildirStore>(l_));
  }

 private:
  std::string dir_path(const std::string &rel) const {
    return rel.empty() ? l_->root : l_->root + "/" + rel;
  }

  // The census's own walk, with readdir(3) where the listing used std::filesystem, by the same
  // rules: name order, depth first, each directory once, MAX_DIR_DEPTH. Counts the messages of
  // `rel` (a folder directory the listing has) and descends. A folder directory the listing
  // lacks appeared after it was made: its messages are not in the tree the conversion reads.
  // false when `rel` cannot be listed (errno says why).
  bool census_walk(const std::string &rel, int depth, const std::map<std::string, u64> &by_rel,
                   std::set<DirId> &seen, mapi::Census &c) const {
    const std::string dir = dir_path(rel);
    mapi::CensusFolder &cf = c.folders[by_rel.at(rel)];
    for (const char *sub : {"/new", "/cur"}) {
      i64 n = count_messages(dir + sub, cf.problem);
      if (n < 0)
        c.problems.push_back(cf.problem);
      else
        cf.rows += n;
    }
    DIR *d = ::opendir(dir.c_str());
    if (d == nullptr) return false;
    std::vector<std::string> names;
    while (struct dirent *e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string &name : names) {
      if (!is_folder_dir(dir, name)) continue;
      const std::string child = join_rel(rel, name);
      std::optional<DirId> id = dir_id(dir + "/" + name);
      if (!id || !seen.insert(*id).second) continue;  // counted where it was first met
      if (depth + 1 > MAX_DIR_DEPTH) {
        c.problems.push_back("folder directory " + describe_rel(child) + " is nested deeper than " +
                             std::to_string(MAX_DIR_DEPTH) +
                             " levels: its messages and folders are not counted");
      } else if (!by_rel.count(child)) {
        c.problems.push_back("folder directory " + describe_rel(child) +
                             " appeared after the maildir was opened");
      } else if (!census_walk(child, depth + 1, by_rel, seen, c)) {
        c.problems.push_back("cannot list " + dir_path(child) + ": " + std::strerror(errno));
      }
    }
    return true;
  }

  static std::optional<std::pair<bool, std::string>> find_moved(const std::string &dir,
                                                                const std::string &name) {
    const std::string_view unique = unique_part(name);
    for (bool in_new : {false, true}) {
      for (const std::string &n : list_messages(dir + (in_new ? "/new" : "/cur")))
        if (unique_part(n) == unique && n != name) return std::make_pair(in_new, n);
    }
    return std::nullopt;
  }

  std::shared_ptr<const Listing> l_;
  mapi::NameMap names_;
};

// A folder directory the listing found: its place below the root, its folder path's levels
// as the directory names on the way spell them, and its own name's levels decoded.
struct FoundDir {
  std::string rel;
  std::vector<std::string> raw, decoded;
};

struct DirWalk {
  std::string root;
  std::map<DirId, std::string> seen;  // directory -> where it was first met
  std::vector<FoundDir> found;        // depth-first pre-order, names sorted
  std::vector<Problem> warnings;
};

// Adds the folder directories inside `parent` (the root or a folder directory) and theirs;
// the error listing `parent` itself.
std::error_code find_folder_dirs(DirWalk &w, const FoundDir &parent, int depth) {
  const std::string dir = parent.rel.empty() ? w.root : w.root + "/" + parent.rel;
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) return ec;
  std::sort(names.begin(), names.end());
  for (const std::string &name : names) {
    if (!is_folder_dir(dir, name)) continue;
    FoundDir f{join_rel(parent.rel, name), parent.raw, {}};
    std::optional<DirId> id = dir_id(dir + "/" + name);
    if (!id) continue;
    if (auto [first, fresh] = w.seen.emplace(*id, f.rel); !fresh) {
      w.warnings.push_back({ProblemCode::SourceCorrupt,
                            "folder directory " + describe_rel(f.rel) + " is " +
                                describe_rel(first->second) +
                                " again (a symbolic link); its messages are read once, there"});
      continue;
    }
    if (depth + 1 > MAX_DIR_DEPTH) {
      w.warnings.push_back({ProblemCode::LimitExceeded,
                            "folder directory " + describe_rel(f.rel) + " is nested deeper than " +
                                std::to_string(MAX_DIR_DEPTH) +
                                " levels; it and its folders are not read"});
      continue;
    }
    bool bad = false;
    for (std::size_t at = 1;;) {
      std::size_t dot = name.find('.', at);
      std::string_view level = std::string_view(name).substr(
          at, dot == std::string::npos ? std::string::npos : dot - at);
      f.raw.emplace_back(level);
      f.decoded.push_back(decode_component(level, bad));
      if (dot == std::string::npos) break;
      at = dot + 1;
    }
    if (bad)
      w.warnings.push_back(
          {ProblemCode::CharsetUnknown, "folder directory " + describe_rel(f.rel) +
                                            " is not modified UTF-7; its name is shown as stored"});
    w.found.push_back(f);
    if (std::error_code sub = find_folder_dirs(w, f, depth + 1))
      w.warnings.push_back({ProblemCode::SourceUnreadable,
                            "cannot list folder directory " + describe_rel(f.rel) + " (" +
                                sub.message() + "); folders inside it are not read"});
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<mapi::MailStore>> open_maildir(const std::string &path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    return Problem{ProblemCode::SourceUnreadable, path + " is not a directory"};
  auto l = std::make_shared<Listing>();
  l->root = path;
  while (l->root.size() > 1 && l->root.back() == '/') l->root.pop_back();
  if (!is_dir(l->root + "/cur") && !is_dir(l->root + "/new"))
    return Problem{ProblemCode::SourceUnreadable, path + " is not a maildir (no cur/ or new/)"};

  // Folder directories, decoded into paths. Sorting the paths gives depth-first pre-order
  // with every parent before its children; levels only implied by a deeper name (".A.B"
  // without ".A", which Dovecot shows as a \NoSelect folder) are added as empty folders.
  DirWalk w;
  w.root = l->root;
  if (std::optional<DirId> id = dir_id(l->root)) w.seen.emplace(*id, "");
  if (std::error_code err = find_folder_dirs(w, FoundDir{}, 0))
    return Problem{ProblemCode::SourceUnreadable, "cannot list " + path + ": " + err.message()};
  // Directories with the same raw levels (".A.B" and ".A/.B") are one folder. Different raw
  // levels decoding to one path (a non-canonical UTF-7 spelling) stay apart: the later one
  // keeps its directory in its last level, and a nested directory goes below its parent's
  // folder. Walk order puts every parent first.
  std::map<std::vector<std::string>, std::vector<std::string>> path_of_raw;
  std::map<std::string, std::vector<std::string>> path_of_rel;
  std::map<std::vector<std::string>, std::vector<std::string>> rels;  // path -> directories
  for (const FoundDir &f : w.found) {
    std::vector<std::string> p;
    if (std::size_t slash = f.rel.rfind('/'); slash != std::string::npos)
      p = path_of_rel.at(f.rel.substr(0, slash));
    p.insert(p.end(), f.decoded.begin(), f.decoded.end());
    auto [at, fresh] = path_of_raw.emplace(f.raw, std::move(p));
    if (fresh)
      while (rels.count(at->second)) at->second.back() += " [" + text::sanitize_utf8(f.rel) + "]";
    rels[at->second].push_back(f.rel);
    path_of_rel[f.rel] = at->second;
  }
  std::set<std::vector<std::string>> paths{{}};
  for (const auto &[p, d] : rels)
    for (std::size_t n = 1; n <= p.size(); ++n) paths.insert({p.begin(), p.begin() + n});
  rels[{}].push_back("");
  std::map<std::vector<std::string>, u64> id_of;
  for (const std::vector<std::string> &p : paths) {
    MdFolder f;
    f.info.node_id = l->folders.size() + 1;
    f.info.parent_id = p.empty() ? 0 : id_of.at({p.begin(), p.end() - 1});
    f.info.path = p;
    f.info.container_class = "IPF.Note";
    if (auto d = rels.find(p); d != rels.end()) {
      for (const std::string &rel : d->second) {
        f.dirs.push_back(l->dirs.size());
        l->dirs.push_back(rel);
      }
    }
    id_of[p] = f.info.node_id;
    l->folders.push_back(std::move(f));
  }
  i64 messages = 0;
  for (MdFolder &f : l->folders) {
    for (u64 d : f.dirs) {
      const std::string &rel = l->dirs[d];
      const std::string dir = rel.empty() ? l->root : l->root + "/" + rel;
      for (bool in_new : {true, false}) {
        for (std::string &n : list_messages(dir + (in_new ? "/new" : "/cur"))) {
          l->items.push_back(MdItem{d, in_new, std::move(n)});
          f.items.push_back(l->items.size());
          ++messages;
        }
      }
    }
    f.info.content_count = static_cast<i64>(f.items.size());
  }
  l->info.kind = "maildir";
  l->info.display_name = fs::path(l->root).filename().string();
  l->info.detail = (w.found.empty() ? std::string("maildir") : std::string("Maildir++")) + ": " +
                   std::to_string(l->folders.size()) + " folders, " + std::to_string(messages) +
                   " message files";
  l->info.warnings = std::move(w.warnings);
  return std::unique_ptr<mapi::MailStore>(std::make_unique<MaildirStore>(std::move(l)));
}

}  // namespace mm::source
