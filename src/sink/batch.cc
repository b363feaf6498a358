// Upload-ready batches: mboxrd streams compressed with zstd, bounded in bytes and messages.
//
// Why mbox.zst rather than tar.zst of EML: one stream per batch that any tool can read
// (`zstdcat batch.mbox.zst | formail ...`, Thunderbird, Google's and Microsoft's importers
// take mbox), no per-file overhead for millions of small messages, and mboxrd framing is
// reversible. The folder (label) of each message travels in the batch manifest, so the message
// bytes stay exactly those the manifest hashes.
#include <openssl/evp.h>
#include <zstd.h>

#include <cstdio>
#include <vector>

#include "mailmill/mime/mbox.h"
#include "mailmill/sink/sink.h"
#include "mailmill/util/result.h"
#include "mailmill/util/text.h"
#include "sink_impl.h"

namespace mm::sink {
namespace fs = std::filesystem;
namespace {

std::string json_string(std::string_view raw) {
  std::string s = text::sanitize_utf8(raw), out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string sha256_file(const fs::path &path) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) fail_io("cannot read", path);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) EVP_DigestUpdate(ctx, buf.data(), n);
  bool err = std::ferror(f);
  std::fclose(f);
  unsigned char md[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (err) fail_io("cannot read", path);
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += HEX[c >> 4];
    out += HEX[c & 15];
  }
  return out;
}

class BatchSink final : public Sink {
 public:
  BatchSink(fs::path root, BatchOptions opts) : Sink(std::move(root)), opts_(opts) {
    dir_ = root_ / "batches";
    make_dirs(dir_);
    cctx_ = ZSTD_createCCtx();
    if (!cctx_) throw FatalError("zstd: cannot create a compression context");
  }
  ~BatchSink() override {
    if (file_) std::fclose(file_);
    ZSTD_freeCCtx(cctx_);
  }

  void before_write(u64 size) override {
    u64 framed = size + size / 50 + 128;  // From_ line, quoting and separator, generously
    if (count_ > 0 && (count_ >= opts_.max_messages || raw_bytes_ + framed > opts_.max_bytes))
      close_batch();
  }

  std::string write_message(const Destination &dest, const OutMessage &msg) override {
    if (!file_) open_batch();
    scratch_.clear();
    if (!msg.framed) mime::append_mboxrd(scratch_, msg.bytes, msg.envelope_sender, msg.date);
    ByteView entry = msg.framed ? msg.bytes : ByteView(scratch_);
    compress(entry, ZSTD_e_continue);
    raw_bytes_ += entry.size();
    ++count_;
    manifest_ += "{\"batch_index\":" + std::to_string(count_) + ",\"seq\":" +
                 std::to_string(msg.seq) + ",\"label\":" + json_string(msg.label) +
                 ",\"message_id\":" + json_string(msg.message_id) +
                 ",\"raw_sha256\":" + json_string(msg.raw_sha256) +
                 ",\"bytes\":" + std::to_string(msg.framed ? msg.size : msg.bytes.size()) + "}\n";
    return "batches/" + name_ + "#" + std::to_string(count_);
  }

  bool at_commit_point() const override { return file_ == nullptr; }

  std::map<std::string, u64> tracked_sizes() const override { return finished_; }

  void resume(const std::map<std::string, u64> &committed) override {
    // Committed batches stay; anything else in batches/ is from after the last commit and is
    // written again by this run.
    for (const auto &[rel, size] : committed)
      if (rel.rfind("batches/", 0) == 0) {
        finished_[rel] = size;
        ++number_;
      }
    // A committed batch keeps its three files: batch-N.mbox.zst, batch-N.mbox.zst.sha256 and
    // batch-N.manifest.jsonl, which share the stem "batch-N".
    std::error_code ec;
    std::vector<fs::path> remove;
    for (const auto &e : fs::directory_iterator(dir_, ec)) {
      std::string name = e.path().filename().string();
      std::string stem = name.substr(0, name.find('.'));
      bool keep = false;
      for (const auto &[c, size] : committed)
        if (c == "batches/" + stem + ".mbox.zst") keep = true;
      if (!keep) remove.push_back(e.path());
    }
    for (const auto &p : remove) fs::remove(p, ec);
  }

  void finish() override {
    if (file_) close_batch();
  }

 private:
  void open_batch() {
    ++number_;
    char buf[64];
    std::snprintf(buf, sizeof buf, "batch-%06lld.mbox.zst", static_cast<long long>(number_));
    name_ = buf;
    part_ = dir_ / (name_ + ".part");
    file_ = std::fopen(part_.c_str(), "wb");
    if (!file_) fail_io("cannot create", part_);
    ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_only);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, opts_.zstd_level);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
    raw_bytes_ = 0;
    count_ = 0;
    manifest_.clear();
  }

  void compress(ByteView in, ZSTD_EndDirective mode) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    out_.resize(ZSTD_CStreamOutSize());
    for (;;) {
      ZSTD_outBuffer output{out_.data(), out_.size(), 0};
      std::size_t left = ZSTD_compressStream2(cctx_, &output, &input, mode);
      if (ZSTD_isError(left)) throw FatalError(std::string("zstd: ") + ZSTD_getErrorName(left));
      if (output.pos && std::fwrite(out_.data(), 1, output.pos, file_) != output.pos)
        fail_io("cannot write", part_);
      bool done = mode == ZSTD_e_end ? left == 0 : input.pos == input.size;
      if (done) break;
    }
  }

  // Completes the batch: end of the zstd frame, rename into place, then the sidecars.
  void close_batch() {
    compress({}, ZSTD_e_end);
    if (std::fclose(file_) != 0) {
      file_ = nullptr;
      fail_io("cannot write", part_);
    }
    file_ = nullptr;
    fs::path final_path = dir_ / name_;
    std::error_code ec;
    fs::rename(part_, final_path, ec);
    if (ec) throw FatalError("cannot rename " + part_.string() + ": " + ec.message());
    std::string stem = name_.substr(0, name_.size() - std::string(".mbox.zst").size());
    write_whole_file(dir_ / (stem + ".manifest.jsonl"), manifest_);
    std::string sum = sha256_file(final_path) + "  " + name_ + "\n";
    write_whole_file(dir_ / (name_ + ".sha256"), sum);
    finished_["batches/" + name_] = fs::file_size(final_path, ec);
  }

  BatchOptions opts_;
  fs::path dir_, part_;
  std::string name_;
  std::FILE *file_ = nullptr;
  ZSTD_CCtx *cctx_ = nullptr;
  i64 number_ = 0, count_ = 0;
  u64 raw_bytes_ = 0;
  std::string manifest_;
  Bytes scratch_, out_;
  std::map<std::string, u64> finished_;
};

}  // namespace

std::unique_ptr<Sink> make_batch_sink(const fs::path &root, BatchOptions opts) {
  return std::make_unique<BatchSink>(root, opts);
}

}  // namespace mm::sink
