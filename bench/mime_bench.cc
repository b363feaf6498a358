// Micro-benchmarks of the mime module: the builder (model -> RFC 5322 bytes), the encoders,
// mboxrd framing, compressed-RTF decompression, and mimetic parsing for comparison. Inputs are
// generated from fixed seeds before the timed loops; nothing here touches the disk.
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <mimetic/mimetic.h>

#include "bench_common.h"
#include "mailmill/mime/build.h"
#include "mailmill/mime/encode.h"
#include "mailmill/mime/mbox.h"
#include "mailmill/mime/rtf.h"

namespace mm::bench {
namespace {

// ---------------------------------------------------------------------------------------------
// build_message

enum class Shape : int { Plain2K, HtmlAlternative, ThreeAttachments100K, Embedded };

model::Message make_shape(Shape shape) {
  switch (shape) {
    case Shape::Plain2K:
      return plain_message(2048, 11);
    case Shape::HtmlAlternative:
      return html_message(8192, 12);
    case Shape::ThreeAttachments100K: {
      model::Message m = plain_message(2048, 13);
      m.attachments.push_back(binary_attachment("report.pdf", 100 * 1024, 131));
      m.attachments.push_back(binary_attachment("budget.xlsx", 100 * 1024, 132));
      model::Attachment notes;
      notes.filename = "notes.txt";
      notes.mime_type = "text/plain";
      notes.data = text_like(100 * 1024, 133);
      m.attachments.push_back(std::move(notes));
      m.flags.has_attachments = true;
      return m;
    }
    case Shape::Embedded:
      return embedded_message(14);
  }
  return {};
}

void BM_BuildMessage(benchmark::State &state) {
  const model::Message msg = make_shape(static_cast<Shape>(state.range(0)));
  const mime::BuildOptions opts;
  u64 out_bytes = 0;
  for (auto _ : state) {
    Result<mime::Built> built = mime::build_message(msg, opts);
    if (!built) {
      state.SkipWithError(built.problem().detail.c_str());
      return;
    }
    out_bytes = built->bytes.size();
    benchmark::DoNotOptimize(built->bytes.data());
  }
  // Bytes are the size of the message produced (the builder's output rate).
  set_rates(state, out_bytes, 1.0);
  state.counters["msg_bytes"] = static_cast<double>(out_bytes);
}
BENCHMARK(BM_BuildMessage)
    ->ArgName("shape")
    ->Arg(static_cast<int>(Shape::Plain2K))
    ->Arg(static_cast<int>(Shape::HtmlAlternative))
    ->Arg(static_cast<int>(Shape::ThreeAttachments100K))
    ->Arg(static_cast<int>(Shape::Embedded));

// ---------------------------------------------------------------------------------------------
// Encoders over 1 MiB: arg 0 = random bytes, arg 1 = text-like prose.

Bytes encoder_input(int64_t kind) {
  constexpr u64 N = 1 << 20;
  return kind == 0 ? random_bytes(N, 21) : text_like(N, 22);
}

void BM_Base64Encode(benchmark::State &state) {
  const Bytes in = encoder_input(state.range(0));
  for (auto _ : state) {
    Bytes out = mime::base64_encode(in);
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, in.size(), 0.0);
}
BENCHMARK(BM_Base64Encode)->ArgName("text")->Arg(0)->Arg(1);

void BM_QpEncode(benchmark::State &state) {
  const Bytes in = encoder_input(state.range(0));
  for (auto _ : state) {
    Bytes out = mime::qp_encode(in);
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, in.size(), 0.0);
}
BENCHMARK(BM_QpEncode)->ArgName("text")->Arg(0)->Arg(1);

// Short non-ASCII header values as found in subjects and display names.
void BM_Rfc2047Encode(benchmark::State &state) {
  const std::vector<std::string> values = {
      "R\xC3\xA9union budget \xE2\x80\x93 \xC3\xA9t\xC3\xA9 2021",
      "\xD0\x9E\xD1\x82\xD1\x87\xD1\x91\xD1\x82 \xD0\xB7\xD0\xB0 \xD0\xBA\xD0\xB2\xD0\xB0\xD1\x80"
      "\xD1\x82\xD0\xB0\xD0\xBB",
      "\xE4\xBC\x9A\xE8\xAD\xB0\xE3\x81\xAE\xE8\xAD\xB0\xE4\xBA\x8B\xE9\x8C\xB2",
      "Party \xF0\x9F\x8E\x89 on Friday",
      "M\xC3\xBCller, J\xC3\xBCrgen",
      "Stra\xC3\x9F" "e und Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln \xE2\x80\x94 Protokoll der "
      "Sitzung vom Donnerstag",
  };
  u64 bytes = 0;
  for (const std::string &v : values) bytes += v.size();
  for (auto _ : state) {
    for (const std::string &v : values) {
      std::string enc = mime::rfc2047_encode(v, 9);
      benchmark::DoNotOptimize(enc.data());
    }
  }
  set_rates(state, bytes, static_cast<double>(values.size()), "strings/s");
}
BENCHMARK(BM_Rfc2047Encode);

// ---------------------------------------------------------------------------------------------
// mboxrd framing of a ~50 KB LF message whose body has "From " and ">From " lines.

void BM_AppendMboxrd(benchmark::State &state) {
  model::Message m = plain_message(0, 31);
  Rng rng(32);
  std::string body;
  while (body.size() < 50 * 1024) {
    const u64 pick = rng.below(20);
    if (pick == 0) body += "From the desk of the CFO, with thanks\r\n";
    else if (pick == 1) body += ">From an earlier reply\r\n";
    body += text_like(70, rng.next(), "\r\n");
    body += "\r\n";
  }
  m.body_text = std::move(body);
  mime::BuildOptions opts;
  opts.crlf = false;
  opts.flags = mime::FlagStyle::Mbox;
  Result<mime::Built> built = mime::build_message(m, opts);
  if (!built) {
    state.SkipWithError(built.problem().detail.c_str());
    return;
  }
  Bytes out;
  out.reserve(built->bytes.size() * 2);
  for (auto _ : state) {
    out.clear();
    mime::append_mboxrd(out, built->bytes, built->envelope_sender, built->date);
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, built->bytes.size(), 1.0);
  state.counters["msg_bytes"] = static_cast<double>(built->bytes.size());
}
BENCHMARK(BM_AppendMboxrd);

// ---------------------------------------------------------------------------------------------
// Compressed RTF, packed by mime::rtf::compress (or stored as MELA).

/// An HTML-encapsulating RTF body ([MS-OXRTFEX]) of about `n` bytes, like Outlook writes.
Bytes rtf_document(u64 n, u64 seed) {
  Bytes r =
      "{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl\r\n{\\f0\\fswiss Arial;}\r\n"
      "{\\f1\\fmodern Courier New;}\r\n{\\f2\\fnil\\fcharset2 Symbol;}}\r\n"
      "{\\colortbl\\red0\\green0\\blue0;\\red0\\green0\\blue255;}\r\n"
      "{\\*\\htmltag19 <html>}\r\n{\\*\\htmltag34 <head>}\r\n{\\*\\htmltag49 </head>}\r\n"
      "{\\*\\htmltag50 <body>}\\htmlrtf \\f0\\fs20 \\htmlrtf0 \r\n";
  Rng rng(seed);
  while (r.size() < n) {
    r += "{\\*\\htmltag64 <p class=MsoNormal>}\\htmlrtf {\\htmlrtf0 ";
    r += text_like(200 + rng.below(200), rng.next(), " ");
    r += "\r\n{\\*\\htmltag72 </p>}\\htmlrtf }\\htmlrtf0 \\par\r\n";
  }
  r += "{\\*\\htmltag58 </body>}\r\n{\\*\\htmltag27 </html>}}\r\n";
  return r;
}

void BM_RtfDecompress(benchmark::State &state) {
  const Bytes raw = rtf_document(64 * 1024, 41);
  const Bytes packed =
      state.range(0) == 1 ? mime::rtf::compress(raw) : mime::rtf::wrap_uncompressed(raw);
  Result<mime::rtf::Decompressed> check = mime::rtf::decompress_checked(packed);
  if (!check || check->rtf != raw || !check->crc_ok || !check->complete || !check->sizes_match) {
    state.SkipWithError("RTF round trip through the benchmark compressor failed");
    return;
  }
  for (auto _ : state) {
    Result<Bytes> out = mime::rtf::decompress(packed);
    benchmark::DoNotOptimize(out->data());
  }
  // Bytes are decompressed (output) bytes; one body per iteration.
  set_rates(state, raw.size(), 1.0);
  state.counters["ratio"] = static_cast<double>(raw.size()) / static_cast<double>(packed.size());
}
BENCHMARK(BM_RtfDecompress)->ArgName("lzfu")->Arg(1)->Arg(0);

void BM_RtfDeencapsulateHtml(benchmark::State &state) {
  const Bytes raw = rtf_document(64 * 1024, 42);
  for (auto _ : state) {
    auto html = mime::rtf::deencapsulate(raw);
    benchmark::DoNotOptimize(html->content.data());
  }
  set_rates(state, raw.size(), 1.0);
}
BENCHMARK(BM_RtfDeencapsulateHtml);

// ---------------------------------------------------------------------------------------------
// mimetic parse of built messages (the third-party parser the normalizer sits on).

void BM_MimeticParse(benchmark::State &state) {
  const model::Message msg = make_shape(static_cast<Shape>(state.range(0)));
  Result<mime::Built> built = mime::build_message(msg, mime::BuildOptions{});
  if (!built) {
    state.SkipWithError(built.problem().detail.c_str());
    return;
  }
  const Bytes &bytes = built->bytes;
  for (auto _ : state) {
    mimetic::MimeEntity me(bytes.begin(), bytes.end());
    benchmark::DoNotOptimize(&me);
  }
  set_rates(state, bytes.size(), 1.0);
  state.counters["msg_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_MimeticParse)
    ->ArgName("shape")
    ->Arg(static_cast<int>(Shape::Plain2K))
    ->Arg(static_cast<int>(Shape::HtmlAlternative))
    ->Arg(static_cast<int>(Shape::ThreeAttachments100K))
    ->Arg(static_cast<int>(Shape::Embedded));

// The same through mimetic's std::istream constructor (how a file or pipe would be parsed).
void BM_MimeticParseStream(benchmark::State &state) {
  const model::Message msg = make_shape(static_cast<Shape>(state.range(0)));
  Result<mime::Built> built = mime::build_message(msg, mime::BuildOptions{});
  if (!built) {
    state.SkipWithError(built.problem().detail.c_str());
    return;
  }
  const Bytes &bytes = built->bytes;
  for (auto _ : state) {
    std::istringstream in(bytes);
    mimetic::MimeEntity me(in);
    benchmark::DoNotOptimize(&me);
  }
  set_rates(state, bytes.size(), 1.0);
  state.counters["msg_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_MimeticParseStream)
    ->ArgName("shape")
    ->Arg(static_cast<int>(Shape::Plain2K))
    ->Arg(static_cast<int>(Shape::HtmlAlternative))
    ->Arg(static_cast<int>(Shape::ThreeAttachments100K))
    ->Arg(static_cast<int>(Shape::Embedded));

}  // namespace
}  // namespace mm::bench
