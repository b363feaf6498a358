// CompoundFile over libgsf's MS-OLE reader (Debian libgsf-1-dev).
//
// Why libgsf and not libolecf (both are in Debian): the bytes to open are an attachment already
// in memory, and libgsf reads them in place (gsf_input_memory_new without copying), where
// libolecf needs a libbfio handle; and libgsf gives the CLSID of every storage
// (gsf_infile_msole_get_class_id), which is how an OLE object says what it is, where libolecf
// only exposes the class ids of property sets. libgsf also treats storages and streams alike
// as GsfInput/GsfInfile, which is the whole interface this adapter needs.
//
// libgsf reports damage twice: as a GError from gsf_infile_msole_new, and as g_warning lines
// while reading (log domains "libgsf" and "libgsf:msole", and no domain at all for
// gsf_infile_child_by_name's "Unable to get child" from gsf-infile.c). Library code here must not
// print, so those domains get a handler that drops them; the damage still reaches the caller as
// a failed open or a failed read, which becomes the Problem. GLib is used by nothing else in
// mailmill, so the domain-less handler hides no one else's messages.
#include "mailmill/format/cfb/compound_file.h"

#include <gsf/gsf-infile-msole.h>
#include <gsf/gsf-infile.h>
#include <gsf/gsf-input-memory.h>
#include <gsf/gsf-input.h>
#include <gsf/gsf-utils.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

namespace mm::cfb {
namespace {

void drop_log(const gchar *, GLogLevelFlags, const gchar *, gpointer) {}

/// gsf_init once per process, and the log handlers installed with it. Thread-safe (a function
/// static is initialized once).
void init_gsf() {
  static const bool done = [] {
    gsf_init();
    const auto levels = static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK | G_LOG_FLAG_RECURSION);
    g_log_set_handler("libgsf", levels, drop_log, nullptr);
    g_log_set_handler("libgsf:msole", levels, drop_log, nullptr);
    g_log_set_handler(nullptr, levels, drop_log, nullptr);
    return true;
  }();
  (void)done;
}

/// An owned GObject reference (g_object_unref on destruction).
template <class T>
class Ref {
 public:
  Ref() = default;
  explicit Ref(T *p) : p_(p) {}
  Ref(Ref &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Ref &operator=(Ref &&o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  Ref(const Ref &) = delete;
  Ref &operator=(const Ref &) = delete;
  ~Ref() { reset(); }
  void reset() {
    if (p_ != nullptr) g_object_unref(p_);
    p_ = nullptr;
  }
  T *get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  T *p_ = nullptr;
};

Problem corrupt(std::string detail) {
  return Problem{ProblemCode::SourceCorrupt, std::move(detail)};
}

/// Splits "a/b/c" into its names; empty parts (a leading, trailing or doubled '/') are skipped.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

/// Printable form of a name for a Problem: control characters as \xNN.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

/// libgsf gives every MS-OLE directory entry as a GsfInfile; a stream is the one whose
/// child count is -1 ("not a directory").
bool is_storage(GsfInput *in) {
  return GSF_IS_INFILE(in) && gsf_infile_num_children(GSF_INFILE(in)) >= 0;
}

Clsid clsid_of(GsfInput *in) {
  Clsid id{};
  if (GSF_IS_INFILE_MSOLE(in) && !gsf_infile_msole_get_class_id(GSF_INFILE_MSOLE(in), id.data()))
    id.fill(0);
  return id;
}

Entry entry_of(GsfInput *in, std::string name) {
  Entry e;
  e.name = std::move(name);
  if (is_storage(in)) {
    e.type = EntryType::Storage;
    e.clsid = clsid_of(in);
  } else {
    e.type = EntryType::Stream;
    const gsf_off_t size = gsf_input_size(in);
    e.size = size > 0 ? static_cast<u64>(size) : 0;
  }
  return e;
}

}  // namespace

struct CompoundFile::Impl {
  Bytes repaired;       // a copy of the caller's bytes when open() had to repair them, else empty
  Ref<GsfInput> input;  // the memory input over the caller's bytes (or `repaired`)
  Ref<GsfInfile> root;
  Clsid root_clsid{};

  /// A new reference to the entry at `path` (the root itself for ""), or null when absent.
  Ref<GsfInput> resolve(std::string_view path) const {
    Ref<GsfInput> cur(GSF_INPUT(g_object_ref(root.get())));
    for (std::string_view name : split_path(path)) {
      if (!is_storage(cur.get())) return {};
      const std::string z(name);
      Ref<GsfInput> next(gsf_infile_child_by_name(GSF_INFILE(cur.get()), z.c_str()));
      if (!next) return {};
      cur = std::move(next);
    }
    return cur;
  }
};

CompoundFile::CompoundFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompoundFile::~CompoundFile() = default;

// [MS-CFB] 2.6.3: the root storage (directory entry 0) has no siblings: its left and right
// sibling ids are NOSTREAM. libgsf (1.14.50) follows them anyway, reads the entries they name
// with no parent to link them to, and loses each one with its name: a leak on every open of
// such a file (found by fuzz_msg; the input had its directory start sector pointing at a
// sector of streams). Nothing in libgsf's API can reach those entries, so a copy with the two
// ids set to NOSTREAM reads the same and leaks nothing. Returns that copy, or nothing when
// the root has no siblings (or the header is too damaged to find it: libgsf refuses those).
// Entry 0 is the first entry of the first directory sector; sector n starts at byte
// (n + 1) << shift for the two sector sizes the format has (512 and 4096 bytes).
std::optional<Bytes> without_root_siblings(ByteView bytes) {
  constexpr u32 NOSTREAM = 0xFFFFFFFF;
  auto le16 = [&](std::size_t at) {
    return static_cast<u32>(static_cast<unsigned char>(bytes[at])) |
           static_cast<u32>(static_cast<unsigned char>(bytes[at + 1])) << 8;
  };
  auto le32 = [&](std::size_t at) { return le16(at) | le16(at + 2) << 16; };
  const u32 shift = le16(0x1E);
  if (shift != 9 && shift != 12) return std::nullopt;
  const u64 entry = (u64{le32(0x30)} + 1) << shift;
  if (entry + 128 > bytes.size()) return std::nullopt;
  const std::size_t left = static_cast<std::size_t>(entry) + 0x44;
  if (le32(left) == NOSTREAM && le32(left + 4) == NOSTREAM) return std::nullopt;
  Bytes copy(bytes);
  std::memset(copy.data() + left, 0xFF, 8);
  return copy;
}

bool has_signature(ByteView bytes) {
  static constexpr unsigned char SIG[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), SIG, 8) == 0;
}

Result<std::unique_ptr<CompoundFile>> CompoundFile::open(ByteView bytes) {
  // [MS-CFB] 2.2: a header is 512 bytes; anything shorter or without the signature is not one
  // (checked here so that the common "not a compound file at all" case needs no library call).
  if (bytes.size() < 512) {
    return corrupt("not a compound file: " + std::to_string(bytes.size()) +
                   " bytes, shorter than the 512-byte header");
  }
  if (!has_signature(bytes)) return corrupt("not a compound file: no D0 CF 11 E0 signature");
  init_gsf();
  auto impl = std::make_unique<Impl>();
  if (std::optional<Bytes> repaired = without_root_siblings(bytes)) {
    impl->repaired = std::move(*repaired);
    bytes = impl->repaired;
  }
  impl->input = Ref<GsfInput>(gsf_input_memory_new(reinterpret_cast<const guint8 *>(bytes.data()),
                                                   static_cast<gsf_off_t>(bytes.size()), FALSE));
  if (!impl->input) return corrupt("compound file: cannot create a memory input");
  GError *err = nullptr;
  impl->root = Ref<GsfInfile>(gsf_infile_msole_new(impl->input.get(), &err));
  if (!impl->root) {
    std::string why = err != nullptr && err->message != nullptr ? err->message : "unreadable";
    if (err != nullptr) g_error_free(err);
    return corrupt("compound file unreadable: " + why);
  }
  if (err != nullptr) g_error_free(err);
  impl->root_clsid = clsid_of(GSF_INPUT(impl->root.get()));
  return std::unique_ptr<CompoundFile>(new CompoundFile(std::move(impl)));
}

const Clsid &CompoundFile::root_clsid() const { return impl_->root_clsid; }

Result<std::vector<Entry>> CompoundFile::list(std::string_view storage_path) const {
  Ref<GsfInput> dir = impl_->resolve(storage_path);
  if (!dir || !is_storage(dir.get()))
    return corrupt("compound file: no storage '" + printable(storage_path) + "'");
  GsfInfile *infile = GSF_INFILE(dir.get());
  const int n = gsf_infile_num_children(infile);
  std::vector<Entry> out;
  out.reserve(static_cast<std::size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) {
    const char *name = gsf_infile_name_by_index(infile, i);
    Ref<GsfInput> child(gsf_infile_child_by_index(infile, i));
    if (!child || name == nullptr) {
      return corrupt("compound file: entry " + std::to_string(i) + " of '" +
                     printable(storage_path) + "' unreadable");
    }
    out.push_back(entry_of(child.get(), name));
  }
  return out;
}

std::optional<Entry> CompoundFile::find(std::string_view path) const {
  Ref<GsfInput> in = impl_->resolve(path);
  if (!in) return std::nullopt;
  const std::vector<std::string_view> parts = split_path(path);
  return entry_of(in.get(), parts.empty() ? std::string() : std::string(parts.back()));
}

Result<Bytes> CompoundFile::read_stream(std::string_view path, u64 max_bytes) const {
  Ref<GsfInput> in = impl_->resolve(path);
  if (!in) return corrupt("compound file: no stream '" + printable(path) + "'");
  if (is_storage(in.get()))
    return corrupt("compound file: '" + printable(path) + "' is a storage, not a stream");
  const gsf_off_t size = gsf_input_size(in.get());
  if (size < 0) return corrupt("compound file: stream '" + printable(path) + "' has no size");
  if (static_cast<u64>(size) > max_bytes) {
    return Problem{ProblemCode::LimitExceeded,
                   "compound file: stream '" + printable(path) + "' is " + std::to_string(size) +
                       " bytes, over the limit of " + std::to_string(max_bytes)};
  }
  // The stream's size comes from its directory entry, but the bytes come from its sector
  // chain: a chain that ends early or leaves the file makes gsf_input_read fail, which is
  // reported rather than padded.
  Bytes out(static_cast<std::size_t>(size), '\0');
  constexpr std::size_t CHUNK = 64 * 1024;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(CHUNK, out.size() - done);
    if (gsf_input_read(in.get(), n, reinterpret_cast<guint8 *>(out.data() + done)) == nullptr) {
      return corrupt("compound file: stream '" + printable(path) + "' unreadable at byte " +
                     std::to_string(done) + " of " + std::to_string(size));
    }
    done += n;
  }
  return out;
}

std::string clsid_to_string(const Clsid &c) {
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", c[3], c[2],
                c[1], c[0], c[5], c[4], c[7], c[6], c[8], c[9], c[10], c[11], c[12], c[13], c[14],
                c[15]);
  return buf;
}

std::optional<Clsid> clsid_from_string(std::string_view text) {
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') text = text.substr(1, 36);
  if (text.size() != 36) return std::nullopt;
  std::string hex;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return std::nullopt;
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return std::nullopt;
    hex += ch;
  }
  u8 v[16];
  for (std::size_t i = 0; i < 16; ++i)
    v[i] = static_cast<u8>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  // Registry order -> file order: Data1 (4 bytes), Data2, Data3 (2 each) are little-endian.
  return Clsid{v[3], v[2], v[1],  v[0],  v[5],  v[4],  v[7],  v[6],
               v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

}  // namespace mm::cfb
