#include "spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mailmill/dedup/keys.h"
#include "mailmill/util/buffer_pool.h"
#include "mailmill/util/result.h"

namespace mm::pipeline {
namespace fs = std::filesystem;
namespace {

constexpr u32 PIECE_MAGIC = 0x5053'4d4d;  // "MMSP"
constexpr u32 END_MAGIC = 0x4553'4d4d;    // "MMSE"
constexpr u64 PROGRESS_MAGIC = 0x3130'474f'5250'4d4d;  // "MMPROG01"

std::string io_error(const char *what, const fs::path &p) {
  return std::string(what) + " " + p.string() + ": " + std::strerror(errno);
}

void put(Bytes &b, const void *p, std::size_t n) { b.append(static_cast<const char *>(p), n); }
void put_u64(Bytes &b, u64 v) {
  char x[8];
  for (int i = 0; i < 8; ++i) x[i] = static_cast<char>(v >> (8 * i));
  b.append(x, 8);
}
void put_u8(Bytes &b, u8 v) { b.push_back(static_cast<char>(v)); }
void put_str(Bytes &b, std::string_view s) {
  put_u64(b, s.size());
  b.append(s);
}
void put_note(Bytes &b, const ItemNote &n) {
  put_u64(b, n.node_id);
  put_str(b, n.subject);
  put_str(b, n.kind);
  put_str(b, n.code);
  put_str(b, n.detail);
}

}  // namespace

// ---- Writer ---------------------------------------------------------------------------------

SpoolWriter::SpoolWriter(const fs::path &path, u64 keep) : path_(path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) std::fclose(std::fopen(path.c_str(), "wb"));
  if (fs::file_size(path, ec) != keep) fs::resize_file(path, keep, ec);
  if (ec) throw FatalError("cannot truncate " + path.string() + ": " + ec.message());
  f_ = std::fopen(path.c_str(), "ab");
  if (!f_) throw FatalError(io_error("cannot open", path));
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  size_ = keep;
}

SpoolWriter::~SpoolWriter() {
  if (f_) std::fclose(f_);
}

void SpoolWriter::append(ByteView data) {
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f_) != data.size())
    throw FatalError(io_error("cannot write", path_));
  size_ += data.size();
}

void SpoolWriter::write(u64 unit, const UnitOut &piece) {
  buf_.clear();
  const u32 magic = PIECE_MAGIC;
  put(buf_, &magic, 4);
  put_u64(buf_, unit);
  put_u64(buf_, piece.unit.begin);
  put_u64(buf_, piece.unit.end);
  put_u64(buf_, piece.unit.first_seq);
  put_u64(buf_, piece.items.size());
  append(buf_);
  for (const ItemOut &it : piece.items) {
    if (it.spilled) throw FatalError("internal: a spilled item reached the spool");
    buf_.clear();
    put_u64(buf_, it.seq);
    put_u64(buf_, static_cast<u64>(it.index));
    put_u64(buf_, it.node_id);
    put_u8(buf_, static_cast<u8>(it.outcome));
    put_note(buf_, it.note);
    put_u64(buf_, it.warnings.size());
    for (const ItemNote &w : it.warnings) put_note(buf_, w);
    put_u8(buf_, static_cast<u8>(it.form));
    put_u64(buf_, it.size);
    put_u8(buf_, (it.framed ? 1 : 0) | (it.compressed ? 2 : 0) | (it.message_id_generated ? 4 : 0) |
                     (it.mih ? 8 : 0));
    put_u64(buf_, it.framed_size);
    put_str(buf_, it.envelope_sender);
    put_u64(buf_, static_cast<u64>(it.date));
    put_str(buf_, it.title);
    put_str(buf_, it.message_id);
    put_str(buf_, it.flags);
    if (it.mih) put(buf_, it.mih->data(), it.mih->size());
    put(buf_, it.content.data(), it.content.size());
    put(buf_, it.raw.data(), it.raw.size());
    put_u64(buf_, it.bytes.size());
    append(buf_);
    append(it.bytes);
  }
  buf_.clear();
  const u32 end = END_MAGIC;
  put(buf_, &end, 4);
  put_u64(buf_, unit);
  append(buf_);
}

u64 SpoolWriter::flush() {
  if (std::fflush(f_) != 0) throw FatalError(io_error("cannot write", path_));
  return size_;
}

// ---- Reader ---------------------------------------------------------------------------------

SpoolReader::SpoolReader(const fs::path &path) : path_(path) {
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) throw FatalError(io_error("cannot open", path));
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  std::error_code ec;
  left_ = fs::file_size(path, ec);
}

SpoolReader::~SpoolReader() {
  if (f_) std::fclose(f_);
}

bool SpoolReader::get(void *p, std::size_t n) {
  if (n > left_ || std::fread(p, 1, n, f_) != n) return false;
  left_ -= n;
  return true;
}

bool SpoolReader::read(u64 &unit, UnitOut &out) {
  const std::string damaged = "the part " + path_.string() + " is damaged or cut short";
  u32 magic = 0;
  if (left_ == 0) return false;
  if (!get(&magic, 4) || magic != PIECE_MAGIC) throw FatalError(damaged);
  auto u64_ = [&]() {
    char b[8];
    if (!get(b, 8)) throw FatalError(damaged);
    return load_le64(b);
  };
  auto u8_ = [&]() {
    u8 v;
    if (!get(&v, 1)) throw FatalError(damaged);
    return v;
  };
  // A length is never more than what is left of the file (a damaged one must not make the
  // reader allocate terabytes).
  auto str = [&](std::string &s) {
    const u64 n = u64_();
    if (n > left_) throw FatalError(damaged);
    s.resize(n);
    if (n && !get(s.data(), n)) throw FatalError(damaged);
  };
  auto note = [&](ItemNote &nt) {
    nt.node_id = u64_();
    str(nt.subject);
    str(nt.kind);
    str(nt.code);
    str(nt.detail);
  };
  unit = u64_();
  out.unit.begin = u64_();
  out.unit.end = u64_();
  out.unit.first_seq = u64_();
  const u64 count = u64_();
  if (out.unit.end < out.unit.begin || count != out.unit.end - out.unit.begin ||
      count > left_ / 64)  // an item takes more than 64 bytes
    throw FatalError(damaged);
  out.items.resize(count);
  for (ItemOut &it : out.items) {
    it.seq = u64_();
    it.index = static_cast<i64>(u64_());
    it.node_id = u64_();
    const u8 outcome = u8_();
    if (outcome > static_cast<u8>(Outcome::Failed)) throw FatalError(damaged);
    it.outcome = static_cast<Outcome>(outcome);
    note(it.note);
    const u64 warnings = u64_();
    if (warnings > left_ / 40) throw FatalError(damaged);  // a note takes 40 bytes at least
    it.warnings.resize(warnings);
    for (ItemNote &w : it.warnings) note(w);
    const u8 form = u8_();
    if (form > static_cast<u8>(ItemOut::Form::Vcf)) throw FatalError(damaged);
    it.form = static_cast<ItemOut::Form>(form);
    it.size = u64_();
    const u8 bits = u8_();
    it.framed = bits & 1;
    it.compressed = bits & 2;
    it.message_id_generated = bits & 4;
    it.framed_size = u64_();
    str(it.envelope_sender);
    it.date = static_cast<i64>(u64_());
    str(it.title);
    str(it.message_id);
    str(it.flags);
    if (bits & 8) {
      it.mih.emplace();
      if (!get(it.mih->data(), it.mih->size())) throw FatalError(damaged);
    }
    if (!get(it.content.data(), it.content.size()) || !get(it.raw.data(), it.raw.size()))
      throw FatalError(damaged);
    // The bytes in a recycled buffer, as the parallel stage builds them (the sinks give
    // buffers back to the pool).
    const u64 n = u64_();
    if (n > left_) throw FatalError(damaged);
    it.bytes = util::BufferPool::instance().take_sized(n);
    if (n && !get(it.bytes.data(), n)) throw FatalError(damaged);
  }
  u32 end = 0;
  if (!get(&end, 4) || end != END_MAGIC || u64_() != unit) throw FatalError(damaged);
  return true;
}

// ---- Progress -------------------------------------------------------------------------------

namespace {
Bytes progress_record(const PartProgress &p) {
  Bytes b;
  put_u64(b, PROGRESS_MAGIC);
  put_u64(b, p.units_done);
  put_u64(b, p.spool_bytes);
  put_u64(b, p.keys_bytes);
  const dedup::Digest check = dedup::sha256(b);
  b.append(reinterpret_cast<const char *>(check.data()), 8);
  return b;
}
}  // namespace

std::optional<PartProgress> read_progress(const fs::path &path) {
  const std::string text = read_text(path);
  if (text.size() != 40) return std::nullopt;
  PartProgress p{load_le64(text.data() + 8), load_le64(text.data() + 16),
                 load_le64(text.data() + 24)};
  if (load_le64(text.data()) != PROGRESS_MAGIC || progress_record(p) != text) return std::nullopt;
  return p;
}

void write_progress(const fs::path &path, const PartProgress &p) {
  const Bytes rec = progress_record(p);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw FatalError(io_error("cannot write", path));
  const ssize_t n = ::pwrite(fd, rec.data(), rec.size(), 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(rec.size())) throw FatalError(io_error("cannot write", path));
}

std::string read_text(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path &path, const std::string &text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw FatalError(io_error("cannot write", tmp));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw FatalError("cannot rename " + tmp.string() + ": " + ec.message());
}

}  // namespace mm::pipeline
