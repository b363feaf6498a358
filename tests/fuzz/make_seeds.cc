// Writes the seed corpora of the RTF and header fuzz targets (run by ctest as the setup of the
// fuzz smoke tests, so nothing binary is committed). Usage:
//   fuzz_make_seeds OUT_DIR SEED_SOURCES_DIR [SHARED_FIXTURES_DIR]
// OUT_DIR/rtf:
//   - every SEED_SOURCES_DIR/rtf/*.rtf as it is (the target reads non-RTF-compressed input as
//     RTF), LZFu-compressed by mime::rtf::compress, and wrapped as MELA;
//   - every *.hex there decoded ('#' lines are comments): the [MS-OXRTFCP] examples;
//   - real PR_RTF_COMPRESSED values (Outlook's own LZFu) from the shared PST fixtures.
// OUT_DIR/recurrence: every SEED_SOURCES_DIR/recurrence/*.hex decoded (calendar blobs).
// OUT_DIR/tnef: every SEED_SOURCES_DIR/tnef/*.hex decoded (fuzz_tnef regressions).
// OUT_DIR/headers: the header target's input (transport headers, subject, sender name, sender
// address and body, separated by 0xFF bytes) from
//   - every SEED_SOURCES_DIR/headers/*.eml (header block, Subject:, From:, body);
//   - real PR_TRANSPORT_MESSAGE_HEADERS and fields of items in the shared PST fixtures;
//   - the header blocks of the shared .eml fixtures.
// Every compressed seed must decompress completely with a matching CRC, or this fails (exit 1):
// the smoke tests then start from streams that reach the decoder's end, not from noise.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mailmill/format/pst/native_store.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mime/rtf.h"
#include "mailmill/util/text.h"

namespace fs = std::filesystem;
using namespace mm;

namespace {

constexpr std::size_t MAX_PST_SEEDS = 24;      // per corpus, from the shared PSTs
constexpr std::size_t MAX_EML_SEEDS = 60;      // header blocks from the shared .eml files
constexpr std::size_t MAX_SEED_BYTES = 32768;  // keeps each smoke run short
constexpr std::size_t MAX_BODY_BYTES = 2048;

int g_failures = 0;

void fail(const std::string &what) {
  std::fprintf(stderr, "fuzz_make_seeds: %s\n", what.c_str());
  ++g_failures;
}

Bytes slurp(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void spill(const fs::path &p, ByteView bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write " + p.string());
}

// Files of `dir` ending in `ext`, sorted (the corpus is the same on every run).
std::vector<fs::path> files(const fs::path &dir, std::string_view ext) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > ext.size() &&
        name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool decompresses(ByteView packed, const std::string &what) {
  Result<mime::rtf::Decompressed> d = mime::rtf::decompress_checked(packed);
  if (!d || !d->complete || !d->crc_ok) {
    fail(what + ": does not decompress completely with a matching CRC");
    return false;
  }
  return true;
}

Bytes from_hex_text(std::string_view text) {
  Bytes out;
  int hi = -1;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.front() == '#') continue;
    for (char c : line) {
      const int v = text::hex_digit_value(c);
      if (v < 0) continue;
      if (hi < 0) {
        hi = v;
      } else {
        out += static_cast<char>(hi * 16 + v);
        hi = -1;
      }
    }
  }
  return out;
}

// The header target splits its input at 0xFF bytes into these five fields.
Bytes header_input(std::string_view headers, std::string_view subject, std::string_view name,
                   std::string_view addr, std::string_view body) {
  Bytes out(headers);
  for (std::string_view f : {subject, name, addr, body.substr(0, MAX_BODY_BYTES)}) {
    out += '\xFF';
    out += f;
  }
  return out;
}

// The first field `name` of an RFC 5322 header block (unfolded first line only).
std::string field(std::string_view block, std::string_view name) {
  std::size_t pos = 0;
  while (pos < block.size()) {
    const std::size_t eol = std::min(block.find('\n', pos), block.size());
    std::string_view line = block.substr(pos, eol - pos);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        text::istarts_with_ascii(line, name))
      return std::string(text::trim(line.substr(name.size() + 1)));
    pos = eol + 1;
  }
  return {};
}

// Header block and body of a message file (split at the first empty line, CRLF or LF).
std::pair<std::string_view, std::string_view> split_message(std::string_view msg) {
  for (std::string_view sep : {std::string_view("\r\n\r\n"), std::string_view("\n\n")}) {
    const std::size_t at = msg.find(sep);
    if (at != std::string_view::npos)
      return {msg.substr(0, at + sep.size() / 2), msg.substr(at + sep.size())};
  }
  return {msg, {}};
}

Bytes header_input_from_message(std::string_view msg) {
  auto [headers, body] = split_message(msg);
  const std::string from = field(headers, "From");
  std::string name = from, addr;
  if (const std::size_t lt = from.find('<'); lt != std::string::npos) {
    name = std::string(text::trim(std::string_view(from).substr(0, lt)));
    addr = from.substr(lt + 1, from.find('>', lt) - lt - 1);
  }
  return header_input(headers, field(headers, "Subject"), name, addr, body);
}

// Real compressed RTF bodies and transport headers from the shared PSTs, at most
// MAX_PST_SEEDS distinct values of each.
void from_psts(const fs::path &shared, std::map<Bytes, std::string> &rtf,
               std::map<Bytes, std::string> &headers) {
  std::vector<fs::path> psts = files(shared / "pst", ".pst");
  for (const fs::path &p : files(shared / "pst", ".ost")) psts.push_back(p);
  std::sort(psts.begin(), psts.end());
  for (const fs::path &path : psts) {
    Result<std::unique_ptr<mapi::MailStore>> store = pst::open_native(path.string());
    if (!store) continue;  // damaged fixtures are other tests' business
    mapi::MailStore &s = **store;
    Result<std::vector<mapi::FolderInfo>> folders = s.folders();
    if (!folders) continue;
    const u32 cp = s.info().default_codepage;
    for (const mapi::FolderInfo &f : *folders) {
      Result<std::vector<u64>> ids = s.items_in(f.node_id);
      if (!ids) continue;
      for (u64 id : *ids) {
        if (rtf.size() >= MAX_PST_SEEDS && headers.size() >= MAX_PST_SEEDS) return;
        Result<mapi::RawMessage> m = s.read_item(id);
        if (!m) continue;
        const std::string where = path.filename().string() + " item " + std::to_string(id);
        std::optional<std::string_view> packed = m->props.get_bytes(mapi::pid::RTF_COMPRESSED);
        if (packed && packed->size() <= MAX_SEED_BYTES && rtf.size() < MAX_PST_SEEDS &&
            !rtf.count(Bytes(*packed)) && decompresses(*packed, where)) {
          rtf.emplace(Bytes(*packed), where);
        }
        std::optional<std::string> th =
            m->props.get_string(mapi::pid::TRANSPORT_MESSAGE_HEADERS, cp);
        if (th && !th->empty() && th->size() <= MAX_SEED_BYTES && headers.size() < MAX_PST_SEEDS) {
          Bytes in =
              header_input(*th, m->props.get_string(mapi::pid::SUBJECT, cp).value_or(""),
                           m->props.get_string(mapi::pid::SENDER_NAME, cp).value_or(""),
                           m->props.get_string(mapi::pid::SENDER_EMAIL_ADDRESS, cp).value_or(""),
                           m->props.get_string(mapi::pid::BODY, cp).value_or(""));
          headers.emplace(std::move(in), where);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR SEED_SOURCES_DIR [SHARED_FIXTURES_DIR]\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1], src = argv[2];
  const fs::path shared = argc > 3 ? fs::path(argv[3]) : fs::path();
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out / "rtf");
  fs::create_directories(out / "headers");

  // RTF: committed documents, raw, compressed by our writer and as MELA.
  std::size_t n_rtf = 0, n_headers = 0;
  for (const fs::path &p : files(src / "rtf", ".rtf")) {
    const Bytes doc = slurp(p);
    const std::string stem = p.stem().string();
    const Bytes packed = mime::rtf::compress(doc);
    Result<mime::rtf::Decompressed> d = mime::rtf::decompress_checked(packed);
    if (!d || d->rtf != doc || !d->crc_ok || !d->complete) fail(stem + ": compress round trip");
    if (mime::rtf::detect(doc) == mime::rtf::Encapsulated::None && stem != "native")
      fail(stem + ": expected an encapsulating document");
    spill(out / "rtf" / (stem + ".rtf"), doc);
    spill(out / "rtf" / (stem + ".lzfu"), packed);
    spill(out / "rtf" / (stem + ".mela"), mime::rtf::wrap_uncompressed(doc));
    n_rtf += 3;
  }
  for (const fs::path &p : files(src / "rtf", ".hex")) {
    const Bytes bytes = from_hex_text(slurp(p));
    decompresses(bytes, p.filename().string());
    spill(out / "rtf" / p.stem(), bytes);
    ++n_rtf;
  }
  // Recurrence: committed calendar blobs ([MS-OXOCAL] layouts, hex).
  fs::create_directories(out / "recurrence");
  std::size_t n_recurrence = 0;
  for (const fs::path &p : files(src / "recurrence", ".hex")) {
    spill(out / "recurrence" / p.stem(), from_hex_text(slurp(p)));
    ++n_recurrence;
  }
  if (n_recurrence == 0) fail("no recurrence seeds under " + src.string());
  // TNEF: regression streams found by fuzz_tnef (hex).
  fs::create_directories(out / "tnef");
  std::size_t n_tnef = 0;
  for (const fs::path &p : files(src / "tnef", ".hex")) {
    spill(out / "tnef" / p.stem(), from_hex_text(slurp(p)));
    ++n_tnef;
  }
  if (n_tnef == 0) fail("no TNEF seeds under " + src.string());
  // Headers: committed messages.
  for (const fs::path &p : files(src / "headers", ".eml")) {
    spill(out / "headers" / (p.stem().string() + ".bin"), header_input_from_message(slurp(p)));
    ++n_headers;
  }
  if (n_rtf == 0 || n_headers == 0) fail("no committed seeds under " + src.string());

  // Real data from the shared fixtures, when present.
  std::size_t n_real_rtf = 0, n_real_headers = 0, n_eml = 0;
  if (!shared.empty() && fs::is_directory(shared / "pst")) {
    std::map<Bytes, std::string> rtf, headers;
    from_psts(shared, rtf, headers);
    for (const auto &[bytes, where] : rtf)
      spill(out / "rtf" / ("pst_" + std::to_string(n_real_rtf++) + ".lzfu"), bytes);
    for (const auto &[bytes, where] : headers)
      spill(out / "headers" / ("pst_" + std::to_string(n_real_headers++) + ".bin"), bytes);
    std::set<Bytes> seen;
    for (const fs::path &p : files(shared / "eml", ".eml")) {
      if (n_eml >= MAX_EML_SEEDS) break;
      const Bytes msg = slurp(p);
      auto [headers_block, body] = split_message(msg);
      if (headers_block.size() > MAX_SEED_BYTES) continue;
      Bytes in = header_input_from_message(msg);
      if (!seen.insert(in).second) continue;
      spill(out / "headers" / ("eml_" + p.stem().string() + ".bin"), in);
      ++n_eml;
    }
    if (n_real_rtf == 0) fail("no PR_RTF_COMPRESSED found in " + (shared / "pst").string());
    if (n_real_headers == 0) fail("no transport headers found in " + (shared / "pst").string());
  } else {
    std::printf("no shared fixtures (%s): committed seeds only\n", shared.string().c_str());
  }
  std::printf(
      "rtf: %zu committed + %zu from PSTs; headers: %zu committed + %zu from PSTs + %zu "
      "from .eml files\n",
      n_rtf, n_real_rtf, n_headers, n_real_headers, n_eml);
  return g_failures == 0 ? 0 : 1;
}
