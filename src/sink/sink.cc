#include "mailmill/sink/sink.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "mailmill/mime/mbox.h"
#include "mailmill/util/result.h"

namespace mm::sink {
namespace fs = std::filesystem;

namespace {

std::string file_stem_of(const std::string &input_path) {
  std::string name = fs::path(input_path).filename().string();
  auto dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name;
}

[[noreturn]] void fail_io(const std::string &what, const fs::path &p) {
  throw FatalError(what + " " + p.string() + ": " + std::strerror(errno));
}

void make_dirs(const fs::path &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FatalError("cannot create directory " + dir.string() + ": " + ec.message());
}

// A readable, bounded title for file names ("Re: budget" -> "Re_ budget").
std::string title_component(std::string_view title) {
  std::string t = sanitize_component(title, 60);
  return t == "_" ? std::string("untitled") : t;
}

std::string index_prefix(i64 index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05lld", static_cast<long long>(index));
  return buf;
}

}  // namespace

void write_whole_file(const fs::path &path, ByteView bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) fail_io("cannot create", path);
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) fail_io("cannot write", path);
}

Sink::Sink(fs::path root) : root_(std::move(root)) { make_dirs(root_); }

std::string Sink::add_source(const std::string &input_path) {
  std::string key = sources_.claim(sanitize_component(file_stem_of(input_path)));
  folders_[key];
  return key;
}

std::string Sink::folder_rel(const Destination &dest) {
  const std::string &rel = folders_[dest.source_key].dir_for(dest.folder);
  return rel.empty() ? dest.source_key : dest.source_key + "/" + rel;
}

fs::path Sink::folder_dir(const Destination &dest) {
  fs::path dir = root_ / folder_rel(dest);
  make_dirs(dir);
  return dir;
}

UniqueNamer &Sink::namer_in(const Destination &dest) {
  return folders_[dest.source_key].namer_in(dest.folder);
}

std::pair<UniqueNamer *, std::string> Sink::parent_and_name(const Destination &dest) {
  FolderMap &fm = folders_[dest.source_key];
  const std::string &rel = fm.dir_for(dest.folder);
  if (dest.folder.empty()) return {&fm.namer_in({}), std::string("_root")};
  std::vector<std::string> parent(dest.folder.begin(), dest.folder.end() - 1);
  auto slash = rel.rfind('/');
  return {&fm.namer_in(parent), slash == std::string::npos ? rel : rel.substr(slash + 1)};
}

std::string Sink::write_file(const Destination &dest, i64 index_in_folder, std::string_view title,
                             std::string_view ext, ByteView bytes) {
  fs::path dir = folder_dir(dest);
  std::string name =
      namer_in(dest).claim(index_prefix(index_in_folder) + " " + title_component(title), ext);
  write_whole_file(dir / name, bytes);
  return folder_rel(dest) + "/" + name;
}

namespace {

class MboxSink final : public Sink {
 public:
  explicit MboxSink(fs::path root) : Sink(std::move(root)) {}
  ~MboxSink() override { close_all(); }

  std::string write_message(const Destination &dest, const OutMessage &msg) override {
    Open &o = open_for(dest);
    scratch_.clear();
    mime::append_mboxrd(scratch_, msg.bytes, msg.envelope_sender, msg.date);
    if (std::fwrite(scratch_.data(), 1, scratch_.size(), o.file) != scratch_.size())
      fail_io("cannot write", o.path);
    ++o.count;
    return o.rel + "#" + std::to_string(o.count);
  }

  void finish() override { close_all(); }

 private:
  struct Open {
    std::FILE *file = nullptr;
    fs::path path;
    std::string rel;
    i64 count = 0;
  };

  // Messages of one folder usually arrive together, but a folder may be revisited; files stay
  // open (bounded by the folder count of the inputs seen so far, closed at finish).
  Open &open_for(const Destination &dest) {
    std::string key = dest.source_key;
    for (const auto &c : dest.folder) key += '\x1f' + c;
    auto it = open_.find(key);
    if (it != open_.end()) return it->second;
    auto [parent_namer, name] = parent_and_name(dest);
    std::string file_name = parent_namer->claim(name, ".mbox");
    fs::path parent_dir = root_ / dest.source_key;
    std::string parent_rel = dest.source_key;
    if (dest.folder.size() > 1) {
      Destination parent{dest.source_key, {dest.folder.begin(), dest.folder.end() - 1}};
      parent_dir = folder_dir(parent);
      parent_rel = folder_rel(parent);
    } else {
      make_dirs(parent_dir);
    }
    Open o;
    o.path = parent_dir / file_name;
    o.rel = parent_rel + "/" + file_name;
    o.file = std::fopen(o.path.c_str(), "wb");
    if (!o.file) fail_io("cannot create", o.path);
    return open_.emplace(key, std::move(o)).first->second;
  }

  void close_all() {
    for (auto &[k, o] : open_) {
      if (o.file && std::fclose(o.file) != 0) {
        o.file = nullptr;
        fail_io("cannot close", o.path);
      }
      o.file = nullptr;
    }
    open_.clear();
  }

  std::map<std::string, Open> open_;
  Bytes scratch_;
};

class EmlSink final : public Sink {
 public:
  explicit EmlSink(fs::path root) : Sink(std::move(root)) {}

  std::string write_message(const Destination &dest, const OutMessage &msg) override {
    return write_file(dest, msg.index_in_folder, msg.subject, ".eml", msg.bytes);
  }

  void finish() override {}
};

}  // namespace

std::unique_ptr<Sink> make_mbox_sink(const fs::path &root) {
  return std::make_unique<MboxSink>(root);
}
std::unique_ptr<Sink> make_eml_sink(const fs::path &root) {
  return std::make_unique<EmlSink>(root);
}

}  // namespace mm::sink
