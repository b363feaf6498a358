// The batch sink: one zstd frame per message, frames located by the batch manifest, sha256
// taken while appending, exact byte limits for messages the pipeline framed.
#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>
#include <random>

#include "mailmill/mime/mbox.h"
#include "mailmill/sink/sink.h"
#include "openssl_sha256.h"
#include "test_support.h"

namespace mm::sink {
namespace {
namespace fs = std::filesystem;

Bytes slurp(const fs::path &p) {
  Bytes out;
  EXPECT_TRUE(mm::testing::read_file(p.string(), out)) << p;
  return out;
}

std::string sha256_hex(std::string_view data) { return testing::openssl_sha256_hex(data); }

/// Decompresses a whole zstd stream (any number of frames); fails the test on an error.
Bytes unzstd(ByteView data) {
  ZSTD_DCtx *d = ZSTD_createDCtx();
  Bytes out, buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::size_t r = 1;
  while (in.pos < in.size || r != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r) || (in.pos == in.size && r != 0 && o.pos < o.size)) {
      ADD_FAILURE() << "zstd: " << (ZSTD_isError(r) ? ZSTD_getErrorName(r) : "truncated");
      break;
    }
    out.append(buf.data(), o.pos);
  }
  ZSTD_freeDCtx(d);
  return out;
}

/// The unsigned number after "key": in a manifest line, or -1.
i64 field(const std::string &line, const std::string &key) {
  auto at = line.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::stoll(line.substr(at + key.size() + 3));
}

std::vector<std::string> lines_of(const Bytes &text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

Bytes message(int i, std::size_t body_bytes, bool random_body = false) {
  Bytes m = "From: a" + std::to_string(i) + "@example.com\nSubject: m" + std::to_string(i) +
            "\n\nFrom the start: a line that needs quoting.\n";
  std::mt19937_64 rng(static_cast<u64>(i));
  while (m.size() < body_bytes) {
    if (random_body) {
      m += static_cast<char>('!' + rng() % 90);
      if (rng() % 70 == 0) m += '\n';
    } else {
      m += "line " + std::to_string(m.size()) + " of the body\n";
    }
  }
  return m + "\n";
}

Bytes entry_of(const Bytes &msg, i64 date) {
  Bytes e;
  mime::append_mboxrd(e, msg, "sender@example.com", date);
  return e;
}

struct Written {
  Bytes file, manifest, sum;
  std::vector<std::string> lines;
};

Written read_batch(const fs::path &root, int n) {
  char stem[32];
  std::snprintf(stem, sizeof stem, "batch-%06d", n);
  fs::path dir = root / "batches";
  Written w;
  w.file = slurp(dir / (std::string(stem) + ".mbox.zst"));
  w.manifest = slurp(dir / (std::string(stem) + ".manifest.jsonl"));
  w.sum = slurp(dir / (std::string(stem) + ".mbox.zst.sha256"));
  w.lines = lines_of(w.manifest);
  return w;
}

TEST(FrameCompressor, OneCompleteFrameIndependentOfHistory) {
  Bytes a = entry_of(message(1, 50000), 1000), b = entry_of(message(2, 300), 2000);
  FrameCompressor fresh(3), reused(3);
  Bytes fa(fresh.compress(a));
  reused.compress(b);
  reused.compress(entry_of(message(3, 17u << 20, true), 3000));  // grows, then drops, its buffer
  Bytes fa2(reused.compress(a));
  EXPECT_EQ(fa, fa2);
  EXPECT_EQ(ZSTD_findFrameCompressedSize(fa.data(), fa.size()), fa.size());
  EXPECT_EQ(ZSTD_getFrameContentSize(fa.data(), fa.size()), a.size());
  // Frame_Header_Descriptor after the magic number: bit 2 is Content_Checksum_flag
  // (RFC 8878 section 3.1.1.1.1).
  ASSERT_GT(fa.size(), 5u);
  EXPECT_TRUE(static_cast<unsigned char>(fa[4]) & 4);
  EXPECT_EQ(unzstd(fa), a);
  EXPECT_LT(fa.size(), a.size() / 4);
}

TEST(BatchSink, FramePerMessageLocatedByTheManifest) {
  std::string root = mm::testing::make_tmp_dir("mm_batch");
  BatchOptions opts;
  std::unique_ptr<Sink> s = make_batch_sink(root, opts);
  std::string key = s->add_source("/in/a.pst");
  Destination dest{key, {"Inbox"}};
  // Three kinds of input: compressed by the pipeline, framed only, plain MIME; one message
  // big and random enough to span the file's 4 MiB direct-I/O chunks.
  std::vector<Bytes> msgs = {message(1, 2000), message(2, 9u << 20, true), message(3, 100),
                             message(4, 70000), message(5, 10)};
  FrameCompressor zstd(opts.zstd_level);
  Bytes expected_plain;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    Bytes entry = entry_of(msgs[i], 1000000 + static_cast<i64>(i));
    expected_plain += entry;
    Bytes frame(zstd.compress(entry));
    OutMessage m;
    m.seq = 10 + i;
    m.label = "Inbox";
    m.raw_sha256 = sha256_hex(msgs[i]);
    m.envelope_sender = "sender@example.com";
    m.date = 1000000 + static_cast<i64>(i);
    m.size = msgs[i].size();
    if (i % 3 == 0) {
      m.bytes = frame;
      m.framed = m.compressed = true;
      m.framed_size = entry.size();
      s->before_write_framed(m.size, entry.size());
    } else if (i % 3 == 1) {
      m.bytes = entry;
      m.framed = true;
      s->before_write_framed(m.size, entry.size());
    } else {
      m.bytes = msgs[i];
      s->before_write(m.size);
    }
    EXPECT_EQ(s->write_message(dest, m), "batches/batch-000001.mbox.zst#" + std::to_string(i + 1));
    EXPECT_FALSE(s->at_commit_point());
  }
  s->finish();
  EXPECT_TRUE(s->at_commit_point());
  EXPECT_FALSE(fs::exists(fs::path(root) / "batches" / "batch-000001.mbox.zst.part"));

  Written w = read_batch(root, 1);
  EXPECT_EQ(w.sum, sha256_hex(w.file) + "  batch-000001.mbox.zst\n");
  EXPECT_EQ(s->tracked_sizes(),
            (std::map<std::string, u64>{{"batches/batch-000001.mbox.zst", w.file.size()}}));
  EXPECT_EQ(unzstd(w.file), expected_plain);
  ASSERT_EQ(w.lines.size(), msgs.size());
  i64 next = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const std::string &line = w.lines[i];
    i64 off = field(line, "zst_offset"), n = field(line, "zst_bytes");
    EXPECT_EQ(off, next) << line;
    ASSERT_GT(n, 0) << line;
    ASSERT_LE(static_cast<u64>(off + n), w.file.size());
    ByteView frame =
        ByteView(w.file).substr(static_cast<std::size_t>(off), static_cast<std::size_t>(n));
    EXPECT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size());
    // Each frame is the same whichever way the message came in.
    Bytes entry = entry_of(msgs[i], 1000000 + static_cast<i64>(i));
    EXPECT_EQ(Bytes(frame), Bytes(zstd.compress(entry))) << "message " << i + 1;
    EXPECT_EQ(unzstd(frame), entry) << "message " << i + 1;
    EXPECT_EQ(field(line, "bytes"), static_cast<i64>(msgs[i].size()));
    EXPECT_EQ(field(line, "batch_index"), static_cast<i64>(i + 1));
    next = off + n;
  }
  EXPECT_EQ(static_cast<u64>(next), w.file.size());
  fs::remove_all(root);
}

TEST(BatchSink, ByteLimitCountsExactFramedSizes) {
  std::string root = mm::testing::make_tmp_dir("mm_batch");
  std::vector<Bytes> entries;
  for (int i = 0; i < 5; ++i) entries.push_back(entry_of(message(i, 5000 + 1000 * i), i));
  BatchOptions opts;
  // Room for exactly the first two entries: an estimate with slack would split them.
  opts.max_bytes = entries[0].size() + entries[1].size();
  std::unique_ptr<Sink> s = make_batch_sink(root, opts);
  std::string key = s->add_source("/in/a.pst");
  FrameCompressor zstd(opts.zstd_level);
  std::vector<std::string> where;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    OutMessage m;
    m.bytes = zstd.compress(entries[i]);
    m.framed = m.compressed = true;
    m.framed_size = entries[i].size();
    m.size = entries[i].size() - 40;
    s->before_write_framed(m.size, m.framed_size);
    // A full batch is closed before the next message: a commit point between the two.
    EXPECT_EQ(s->at_commit_point(), i != 1) << i;
    where.push_back(s->write_message(Destination{key, {"Inbox"}}, m));
  }
  s->finish();
  EXPECT_EQ(where, (std::vector<std::string>{
                       "batches/batch-000001.mbox.zst#1", "batches/batch-000001.mbox.zst#2",
                       "batches/batch-000002.mbox.zst#1", "batches/batch-000003.mbox.zst#1",
                       "batches/batch-000004.mbox.zst#1"}));
  EXPECT_EQ(unzstd(read_batch(root, 1).file), entries[0] + entries[1]);
  EXPECT_EQ(unzstd(read_batch(root, 4).file), entries[4]);
  EXPECT_EQ(s->tracked_sizes().size(), 4u);
  fs::remove_all(root);
}

}  // namespace
}  // namespace mm::sink

namespace mm::sink {
namespace {

// The forms the sinks ask the parallel stage for, and the batch sink's preparer: what the
// pipeline hands write_message for a batch is exactly the frame FrameCompressor makes.
TEST(SinkForms, EachSinkSaysWhatItTakes) {
  const std::string root = mm::testing::make_tmp_dir("mm_forms");
  EXPECT_EQ(make_mbox_sink(fs::path(root) / "m")->form(), Form::Mboxrd);
  EXPECT_EQ(make_eml_sink(fs::path(root) / "e")->form(), Form::MimeCrlf);
  EXPECT_EQ(make_batch_sink(fs::path(root) / "b", BatchOptions{})->form(), Form::Mboxrd);
  EXPECT_EQ(make_mbox_sink(fs::path(root) / "m")->make_preparer(), nullptr);
  EXPECT_EQ(make_eml_sink(fs::path(root) / "e")->make_preparer(), nullptr);
  fs::remove_all(root);
}

TEST(BatchSink, PreparerMakesTheMessagesFrame) {
  const std::string root = mm::testing::make_tmp_dir("mm_prep");
  BatchOptions opts;
  std::unique_ptr<Sink> sink = make_batch_sink(root, opts);
  std::unique_ptr<Preparer> prep = sink->make_preparer();
  ASSERT_NE(prep, nullptr);
  FrameCompressor zstd(opts.zstd_level);
  for (int i = 0; i < 3; ++i) {
    const Bytes entry = entry_of(message(i + 1, 20000 >> i), 1000 + i);
    Bytes bytes = entry;
    bool compressed = false;
    prep->prepare(bytes, compressed);
    EXPECT_TRUE(compressed);
    EXPECT_EQ(bytes, Bytes(zstd.compress(entry))) << i;
    EXPECT_EQ(unzstd(bytes), entry) << i;
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace mm::sink
