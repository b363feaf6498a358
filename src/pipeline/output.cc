#include "mailmill/pipeline/output.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "json_read.h"
#include "mailmill/mime/encode.h"
#include "output_impl.h"

namespace mm::pipeline {
namespace fs = std::filesystem;

std::optional<Bytes> read_whole_file(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(ss).str();
}

std::optional<Bytes> zstd_decompress(ByteView data) {
  ZSTD_DCtx *d = ZSTD_createDCtx();
  if (!d) return std::nullopt;
  Bytes out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  Bytes buf(ZSTD_DStreamOutSize(), '\0');
  bool ok = true;
  for (;;) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    std::size_t r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r)) {
      ok = false;
      break;
    }
    out.append(buf.data(), o.pos);
    if (in.pos < in.size) continue;
    // 0 means the last frame is complete and flushed. Otherwise a full output buffer may mean
    // more output is pending; with room left over the input stopped inside a frame.
    if (r == 0) break;
    if (o.pos < o.size) {
      ok = false;
      break;
    }
  }
  ZSTD_freeDCtx(d);
  if (!ok) return std::nullopt;
  return out;
}

std::vector<std::pair<std::size_t, std::size_t>> index_mboxrd(ByteView data) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  auto close = [&](std::size_t end) {
    // The entry ends before the blank separator line written after it.
    if (!out.empty()) {
      if (end > out.back().first && data[end - 1] == '\n') --end;
      out.back().second = end;
    }
  };
  std::size_t i = 0;
  while (i < data.size()) {
    std::size_t nl = data.find('\n', i);
    std::size_t next = nl == ByteView::npos ? data.size() : nl + 1;
    if (data.compare(i, 5, "From ") == 0) {
      close(i);
      out.emplace_back(next, next);
    }
    i = next;
  }
  close(data.size());
  return out;
}

Bytes unquote_mboxrd(ByteView entry) {
  Bytes out;
  out.reserve(entry.size());
  std::size_t i = 0;
  while (i < entry.size()) {
    std::size_t nl = entry.find('\n', i);
    std::size_t next = nl == ByteView::npos ? entry.size() : nl + 1;
    ByteView line = entry.substr(i, next - i);
    std::size_t q = 0;
    while (q < line.size() && line[q] == '>') ++q;
    if (q > 0 && line.substr(q, 5) == "From ") line.remove_prefix(1);
    out.append(line);
    i = next;
  }
  return out;
}

std::optional<WrittenItems> read_written_items(const fs::path &out_dir, std::string *error,
                                               bool complete_lines_only) {
  std::ifstream in(out_dir / "manifest.jsonl", std::ios::binary);
  if (!in) {
    if (error) *error = (out_dir / "manifest.jsonl").string() + ": no manifest (not a mailmill output folder?)";
    return std::nullopt;
  }
  WrittenItems r;
  std::map<u64, std::size_t> by_seq;
  std::string line;
  while (std::getline(in, line)) {
    if (complete_lines_only && in.eof()) break;  // no newline after it: still being written
    ++r.lines;
    if (line.empty()) continue;
    std::optional<JsonValue> v = parse_json(line);
    if (!v || v->type != JsonValue::Type::Object) {
      ++r.malformed;
      continue;
    }
    if (v->get_str("outcome") != "written") continue;
    WrittenItem w;
    w.seq = static_cast<u64>(v->get_int("seq"));
    w.source = v->get_str("source");
    w.folder = v->get_str("folder");
    w.location = v->get_str("location");
    w.flags = v->get_str("flags");
    w.message_id = v->get_str("message_id");
    w.raw_sha256 = v->get_str("raw_sha256");
    w.size = static_cast<u64>(v->get_int("size"));
    if (std::string d = v->get_str("date"); !d.empty())
      w.date = mime::parse_rfc5322_date(d).value_or(0);
    auto [it, fresh] = by_seq.emplace(w.seq, r.items.size());
    if (fresh)
      r.items.push_back(std::move(w));
    else
      r.items[it->second] = std::move(w);
  }
  return r;
}

struct OutputReader::Container {
  std::string name;
  // Either a memory-mapped mbox file or decompressed batch bytes.
  void *map = nullptr;
  std::size_t map_size = 0;
  Bytes owned;
  ByteView data;
  std::vector<std::pair<std::size_t, std::size_t>> entries;
  ~Container() {
    if (map) munmap(map, map_size);
  }
};

OutputReader::OutputReader(fs::path out_dir) : root_(std::move(out_dir)) {}
OutputReader::~OutputReader() = default;

std::optional<Bytes> OutputReader::load(const std::string &location, std::string *error) {
  auto fail = [&](const std::string &why) -> std::optional<Bytes> {
    if (error) *error = location + ": " + why;
    return std::nullopt;
  };
  // Locations are relative paths inside the output folder; anything else is not ours to read.
  fs::path rel(location.substr(0, location.rfind('#')));
  if (location.empty() || rel.is_absolute()) return fail("not a location inside the output folder");
  for (const fs::path &part : rel)
    if (part == "..") return fail("not a location inside the output folder");
  auto hash = location.rfind('#');
  if (hash == std::string::npos) {
    std::optional<Bytes> data = read_whole_file(root_ / rel);
    if (!data) return fail("cannot read");
    return data;
  }
  std::string file = location.substr(0, hash);
  char *end = nullptr;
  unsigned long long n = std::strtoull(location.c_str() + hash + 1, &end, 10);
  if (n < 1 || !end || *end) return fail("bad entry number");
  auto hit = std::find_if(cache_.begin(), cache_.end(),
                         [&](const std::unique_ptr<Container> &c) { return c->name == file; });
  if (hit != cache_.end()) {
    std::rotate(cache_.begin(), hit, hit + 1);
  } else {
    auto c = std::make_unique<Container>();
    c->name = file;
    fs::path p = root_ / file;
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".zst") == 0) {
      std::optional<Bytes> z = read_whole_file(p);
      if (!z) return fail("cannot read " + file);
      std::optional<Bytes> plain = zstd_decompress(*z);
      if (!plain) return fail(file + " is not a complete zstd stream");
      c->owned = std::move(*plain);
      c->data = c->owned;
    } else {
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return fail("cannot open " + file + ": " + std::strerror(errno));
      struct stat st {};
      if (fstat(fd, &st) == 0 && st.st_size > 0) {
        c->map_size = static_cast<std::size_t>(st.st_size);
        c->map = mmap(nullptr, c->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (c->map == MAP_FAILED) {
          c->map = nullptr;
          ::close(fd);
          return fail("cannot map " + file + ": " + std::strerror(errno));
        }
        madvise(c->map, c->map_size, MADV_SEQUENTIAL);
        c->data = ByteView(static_cast<const char *>(c->map), c->map_size);
      }
      ::close(fd);
    }
    c->entries = index_mboxrd(c->data);
    cache_.insert(cache_.begin(), std::move(c));
    constexpr std::size_t MAX_CONTAINERS = 8, MAX_OWNED = std::size_t{512} << 20;
    std::size_t owned = 0, keep = 0;
    while (keep < cache_.size() && keep < MAX_CONTAINERS &&
           (keep == 0 || owned + cache_[keep]->owned.size() <= MAX_OWNED))
      owned += cache_[keep++]->owned.size();
    cache_.resize(keep);
  }
  Container *current = cache_.front().get();
  if (n > current->entries.size())
    return fail("no such entry (" + file + " holds " + std::to_string(current->entries.size()) + ")");
  auto [b, e] = current->entries[n - 1];
  return unquote_mboxrd(current->data.substr(b, e - b));
}

}  // namespace mm::pipeline
