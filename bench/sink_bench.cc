// Benchmarks of the output side.
//
// BM_MboxSink and BM_EmlSink MEASURE FILE I/O: each iteration writes the same set of built
// messages through a fresh sink into a scratch directory under the system temp dir (files are
// created, written and closed; the data normally lands in the page cache, so these figures are
// an upper bound for a real disk). Messages are built before the timed loop; only the sink
// calls (naming, directory creation, framing, fwrite, close) are timed. Removing the output
// between iterations is not timed.
//
// BM_Zstd* compress an mbox-like 16 MiB buffer in memory (no I/O) at level 3, the level the
// batch sink uses, one-shot and streaming with a reused context.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include <zstd.h>

#include "bench_common.h"
#include "mailmill/mime/build.h"
#include "mailmill/mime/mbox.h"
#include "mailmill/sink/sink.h"

namespace mm::bench {
namespace {

/// A mixed corpus of built messages: mostly 2-12 KB plain/HTML mails, every 8th with a
/// 30-150 KB attachment. `crlf` selects EML (CRLF) or mbox (LF) line ends.
struct Corpus {
  std::vector<mime::Built> built;
  std::vector<std::string> subjects;
  u64 bytes = 0;
};

Corpus make_corpus(i64 n, bool crlf) {
  Corpus c;
  Rng rng(61);
  mime::BuildOptions opts;
  opts.crlf = crlf;
  opts.flags = crlf ? mime::FlagStyle::Eml : mime::FlagStyle::Mbox;
  for (i64 i = 0; i < n; ++i) {
    const u64 seed = 1000 + static_cast<u64>(i);
    const u64 body = 2048 + rng.below(10 * 1024);
    model::Message m = rng.below(3) == 0 ? html_message(body, seed) : plain_message(body, seed);
    if (i % 8 == 7) {
      m.attachments.push_back(binary_attachment("scan.pdf", 30 * 1024 + rng.below(120 * 1024),
                                                seed));
      m.flags.has_attachments = true;
    }
    Result<mime::Built> b = mime::build_message(m, opts);
    if (!b) continue;
    c.bytes += b->bytes.size();
    c.subjects.push_back(m.subject);
    c.built.push_back(std::move(b.value()));
  }
  return c;
}

const std::vector<std::string> FOLDERS[] = {
    {"Top of Personal Folders", "Inbox"},
    {"Top of Personal Folders", "Inbox", "Projects"},
    {"Top of Personal Folders", "Sent Items"},
    {"Top of Personal Folders", "Archive", "2021"},
};

void run_sink(benchmark::State &state, bool eml) {
  const Corpus corpus = make_corpus(state.range(0), eml);
  TempDir tmp(eml ? "eml" : "mbox");
  i64 round = 0;
  for (auto _ : state) {
    const std::filesystem::path root = tmp.path() / std::to_string(round++);
    std::unique_ptr<sink::Sink> s = eml ? sink::make_eml_sink(root) : sink::make_mbox_sink(root);
    const std::string key = s->add_source("/archive/bench.pst");
    std::vector<i64> next_index(std::size(FOLDERS), 0);
    for (u64 i = 0; i < corpus.built.size(); ++i) {
      const u64 f = i % std::size(FOLDERS);
      const sink::Destination dest{key, FOLDERS[f]};
      sink::OutMessage out;
      out.bytes = corpus.built[i].bytes;
      out.envelope_sender = corpus.built[i].envelope_sender;
      out.date = corpus.built[i].date;
      out.index_in_folder = next_index[f]++;
      out.subject = corpus.subjects[i];
      benchmark::DoNotOptimize(s->write_message(dest, out));
    }
    s->finish();
    s.reset();
    state.PauseTiming();
    std::filesystem::remove_all(root);
    state.ResumeTiming();
  }
  set_rates(state, corpus.bytes, static_cast<double>(corpus.built.size()));
}

void BM_MboxSink(benchmark::State &state) { run_sink(state, false); }
BENCHMARK(BM_MboxSink)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EmlSink(benchmark::State &state) { run_sink(state, true); }
BENCHMARK(BM_EmlSink)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();

/// About 16 MiB of mboxrd: the corpus above framed with From_ lines, repeated with fresh
/// messages until the size is reached. Also returns how many messages it holds.
const Bytes &mbox_16m(i64 &messages) {
  static i64 count = 0;
  static const Bytes data = [] {
    constexpr u64 TARGET = 16u << 20;
    Bytes out;
    out.reserve(TARGET + (1 << 20));
    const Corpus c = make_corpus(1500, false);
    for (u64 i = 0; out.size() < TARGET; ++i, ++count) {
      const mime::Built &b = c.built[i % c.built.size()];
      mime::append_mboxrd(out, b.bytes, b.envelope_sender, b.date);
    }
    out.resize(TARGET);
    return out;
  }();
  messages = count;
  return data;
}

void BM_ZstdCompressOneShot(benchmark::State &state) {
  i64 messages = 0;
  const Bytes &in = mbox_16m(messages);
  const int level = static_cast<int>(state.range(0));
  Bytes out(ZSTD_compressBound(in.size()), '\0');
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  std::size_t n = 0;
  for (auto _ : state) {
    n = ZSTD_compressCCtx(cctx, out.data(), out.size(), in.data(), in.size(), level);
    if (ZSTD_isError(n)) {
      state.SkipWithError(ZSTD_getErrorName(n));
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  ZSTD_freeCCtx(cctx);
  set_rates(state, in.size(), static_cast<double>(messages));
  state.counters["ratio"] = static_cast<double>(in.size()) / static_cast<double>(n);
}
BENCHMARK(BM_ZstdCompressOneShot)->ArgName("level")->Arg(3)->Unit(benchmark::kMillisecond);

// Streaming as a batch sink would: 128 KiB input chunks (ZSTD_CStreamInSize), one frame per
// 16 MiB, output drained through a fixed buffer.
void BM_ZstdCompressStream(benchmark::State &state) {
  i64 messages = 0;
  const Bytes &in = mbox_16m(messages);
  const int level = static_cast<int>(state.range(0));
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  Bytes obuf(ZSTD_CStreamOutSize(), '\0');
  const u64 chunk = ZSTD_CStreamInSize();
  u64 total_out = 0;
  for (auto _ : state) {
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    total_out = 0;
    for (u64 off = 0; off < in.size(); off += chunk) {
      const bool last = off + chunk >= in.size();
      ZSTD_inBuffer ib{in.data() + off, std::min<u64>(chunk, in.size() - off), 0};
      const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
      bool done = false;
      while (!done) {
        ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
        const std::size_t rem = ZSTD_compressStream2(cctx, &ob, &ib, mode);
        if (ZSTD_isError(rem)) {
          state.SkipWithError(ZSTD_getErrorName(rem));
          ZSTD_freeCCtx(cctx);
          return;
        }
        total_out += ob.pos;
        benchmark::DoNotOptimize(obuf.data());
        done = last ? rem == 0 : ib.pos == ib.size;
      }
    }
  }
  ZSTD_freeCCtx(cctx);
  set_rates(state, in.size(), static_cast<double>(messages));
  state.counters["ratio"] = static_cast<double>(in.size()) / static_cast<double>(total_out);
}
BENCHMARK(BM_ZstdCompressStream)->ArgName("level")->Arg(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mm::bench
