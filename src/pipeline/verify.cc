// `mailmill verify OUTDIR`: every written item is re-read from disk and hashed again, and every
// batch file is checked against its .sha256 and its frames against the zst_offset/zst_bytes of
// its batch manifest. Nothing here trusts the run that wrote OUTDIR.
#include <zstd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

#include "json_read.h"
#include "mailmill/dedup/keys.h"
#include "mailmill/pipeline/convert.h"
#include "mailmill/pipeline/output.h"
#include "output_impl.h"

namespace mm::pipeline {
namespace fs = std::filesystem;
namespace {

/// Every entry of an mboxrd stream, unquoted.
std::vector<Bytes> split_mboxrd(ByteView data) {
  std::vector<Bytes> out;
  for (auto [b, e] : index_mboxrd(data)) out.push_back(unquote_mboxrd(data.substr(b, e - b)));
  return out;
}

/// The messages of a batch file read frame by frame through the zst_offset/zst_bytes fields
/// of its batch manifest: the frames must tile the file, each slice must be exactly one zstd
/// frame and decompress alone into exactly one mboxrd entry. Reports each violation through
/// `fail`; returns nullopt when the manifest has no frame fields (a batch written before they
/// existed) or they do not match, and the caller then decompresses the file as one stream.
std::optional<std::vector<Bytes>> batch_by_frames(
    ByteView data, const fs::path &manifest, const std::string &name,
    const std::function<void(const std::string &)> &fail) {
  std::optional<Bytes> text = read_whole_file(manifest);
  if (!text) return std::nullopt;
  std::vector<Bytes> msgs;
  u64 pos = 0;
  std::size_t start = 0;
  while (start < text->size()) {
    std::size_t nl = text->find('\n', start);
    if (nl == Bytes::npos) nl = text->size();
    std::string_view line(text->data() + start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    std::optional<JsonValue> v = parse_json(line);
    std::string where = name + "#" + std::to_string(msgs.size() + 1);
    if (!v) {
      fail(where + ": batch manifest line is not valid JSON");
      return std::nullopt;
    }
    i64 off = v->get_int("zst_offset", -1), n = v->get_int("zst_bytes", -1);
    if (off < 0 && n < 0 && msgs.empty()) return std::nullopt;  // no frame fields
    if (off < 0 || n <= 0 || static_cast<u64>(off) != pos || static_cast<u64>(n) > data.size() ||
        pos > data.size() - static_cast<u64>(n)) {
      fail(where + ": zst_offset/zst_bytes " + std::to_string(off) + "/" + std::to_string(n) +
           " do not continue the frames before it (next frame at " + std::to_string(pos) +
           ", file size " + std::to_string(data.size()) + ")");
      return std::nullopt;
    }
    ByteView frame = data.substr(pos, static_cast<std::size_t>(n));
    std::size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
    std::optional<Bytes> plain;
    if (!ZSTD_isError(frame_size) && frame_size == frame.size()) plain = zstd_decompress(frame);
    std::vector<Bytes> one;
    if (plain) one = split_mboxrd(*plain);
    if (one.size() != 1) {
      fail(where + ": bytes " + std::to_string(off) + "+" + std::to_string(n) +
           " are not one zstd frame holding one mboxrd entry");
      return std::nullopt;
    }
    msgs.push_back(std::move(one.front()));
    pos += static_cast<u64>(n);
  }
  if (pos != data.size()) {
    fail(name + ": the frames listed in the batch manifest end at " + std::to_string(pos) +
         ", the file at " + std::to_string(data.size()));
    return std::nullopt;
  }
  return msgs;
}

}  // namespace

int run_verify(const std::string &out_dir, std::ostream &out, std::ostream &err) {
  fs::path root(out_dir);
  std::ifstream manifest(root / "manifest.jsonl", std::ios::binary);
  if (!manifest) {
    err << "error: " << (root / "manifest.jsonl").string() << ": no manifest (not a mailmill output folder?)\n";
    return 1;
  }
  i64 checked = 0, bad = 0, lines = 0;
  std::map<std::string, std::vector<Bytes>> containers;  // mbox / batch file -> messages
  auto fail = [&](const std::string &what) {
    ++bad;
    err << "MISMATCH: " << what << "\n";
  };
  // Batch files first: their own checksums.
  std::error_code ec;
  if (fs::is_directory(root / "batches", ec)) {
    for (const auto &e : fs::directory_iterator(root / "batches", ec)) {
      std::string name = e.path().filename().string();
      if (name.size() < 9 || name.substr(name.size() - 9) != ".mbox.zst") continue;
      std::optional<Bytes> data = read_whole_file(e.path());
      std::optional<Bytes> sum = read_whole_file(e.path().string() + ".sha256");
      std::string want = sum && sum->size() >= 64 ? sum->substr(0, 64) : "";
      if (!data || dedup::to_hex(dedup::sha256(*data)) != want)
        fail("batches/" + name + ": sha256 does not match " + name + ".sha256");
      ++checked;
      if (!data) continue;
      // Each message's frame, located by the batch manifest, must decompress on its own; the
      // messages found that way are the ones the item checks below compare.
      std::string stem = name.substr(0, name.size() - 9);
      std::optional<std::vector<Bytes>> msgs = batch_by_frames(
          *data, e.path().parent_path() / (stem + ".manifest.jsonl"), "batches/" + name, fail);
      if (msgs) containers.emplace("batches/" + name, std::move(*msgs));
    }
  }
  std::string line;
  while (std::getline(manifest, line)) {
    ++lines;
    std::optional<JsonValue> v = parse_json(line);
    if (!v) {
      fail("manifest line " + std::to_string(lines) + " is not valid JSON");
      continue;
    }
    if (v->get_str("outcome") != "written") continue;
    std::string loc = v->get_str("location"), want = v->get_str("raw_sha256");
    auto hash = loc.rfind('#');
    Bytes got;
    if (hash == std::string::npos) {
      std::optional<Bytes> data = read_whole_file(root / loc);
      if (!data) {
        fail(loc + ": missing");
        continue;
      }
      got = std::move(*data);
    } else {
      std::string file = loc.substr(0, hash);
      i64 n = std::atoll(loc.c_str() + hash + 1);
      auto it = containers.find(file);
      if (it == containers.end()) {
        std::optional<Bytes> data = read_whole_file(root / file);
        std::vector<Bytes> msgs;
        if (data && file.size() > 4 && file.substr(file.size() - 4) == ".zst") {
          std::optional<Bytes> plain = zstd_decompress(*data);
          if (plain) msgs = split_mboxrd(*plain);
        } else if (data) {
          msgs = split_mboxrd(*data);
        }
        it = containers.emplace(file, std::move(msgs)).first;
      }
      if (n < 1 || static_cast<std::size_t>(n) > it->second.size()) {
        fail(loc + ": no such message in " + file);
        continue;
      }
      got = it->second[static_cast<std::size_t>(n - 1)];
    }
    ++checked;
    if (dedup::to_hex(dedup::sha256(got)) != want) fail(loc + ": sha256 differs from the manifest");
  }
  out << "verified " << checked << " items and batch files from " << lines
      << " manifest lines: " << (bad ? std::to_string(bad) + " mismatches" : "all match") << "\n";
  return bad ? 1 : 0;
}

}  // namespace mm::pipeline
