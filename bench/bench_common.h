#pragma once
/// Shared helpers of the micro-benchmarks: a seeded PRNG, generated buffers and representative
/// model::Message values. Everything is deterministic (fixed seeds), built outside the timed
/// loops, and touches no disk. Header-only; each *_bench.cc is its own executable.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>

#include "mailmill/model/item.h"
#include "mailmill/util/types.h"

namespace mm::bench {

/// SplitMix64: tiny, seedable and identical on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(u64 seed) : s_(seed) {}
  u64 next() {
    u64 z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n).
  u64 below(u64 n) { return next() % n; }

 private:
  u64 s_;
};

/// `n` bytes of uniformly random data (incompressible, every byte value).
inline Bytes random_bytes(u64 n, u64 seed) {
  Rng rng(seed);
  Bytes out(n, '\0');
  for (u64 i = 0; i < n; i += 8) {
    const u64 v = rng.next();
    for (u64 k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<char>(v >> (8 * k));
  }
  return out;
}

/// `n` bytes of English-like ASCII prose: words from a small vocabulary, punctuation and lines
/// of 60-78 characters ended by `eol`. Compresses and encodes like real mail bodies.
inline Bytes text_like(u64 n, u64 seed, std::string_view eol = "\r\n") {
  static constexpr std::string_view WORDS[] = {
      "the",     "meeting", "report",  "please", "attached", "review", "budget", "quarter",
      "thanks",  "regards", "project", "update", "schedule", "client", "invoice", "draft",
      "of",      "and",     "to",      "for",    "with",     "on",     "is",     "we",
      "will",    "next",    "week",    "team",   "numbers",  "final",  "call",   "notes",
      "summary", "action",  "items",   "from",   "yesterday", "sales", "forecast", "a"};
  Rng rng(seed);
  Bytes out;
  out.reserve(n + 128);
  u64 line = 0;
  const u64 width = 60 + rng.below(19);
  while (out.size() < n) {
    std::string_view w = WORDS[rng.below(std::size(WORDS))];
    if (line + w.size() + 1 > width) {
      out += rng.below(4) == 0 ? "." : ",";
      out += eol;
      line = 0;
    } else if (line > 0) {
      out += ' ';
      ++line;
    }
    out += w;
    line += w.size();
  }
  out.resize(n);
  return out;
}

/// A plain mail with sender, two recipients, dates, Message-ID and a text body of `body_bytes`.
inline model::Message plain_message(u64 body_bytes, u64 seed) {
  model::Message m;
  m.kind = model::ItemKind::Message;
  m.message_class = "IPM.Note";
  m.subject = "Quarterly budget review #" + std::to_string(seed);
  m.from = {"Alice Example", "alice@example.com", "", "SMTP"};
  m.recipients.push_back({model::RecipientType::To, {"Bob Example", "bob@example.com", "", "SMTP"}});
  m.recipients.push_back(
      {model::RecipientType::Cc, {"Carol Example", "carol@example.org", "", "SMTP"}});
  m.submit_time = 1627424390 + static_cast<i64>(seed);
  m.delivery_time = *m.submit_time + 5;
  m.message_id = "<bench." + std::to_string(seed) + "@example.com>";
  m.body_text = text_like(body_bytes, seed);
  m.flags.read = true;
  return m;
}

/// Text plus an HTML rendering of the same prose: built as multipart/alternative.
inline model::Message html_message(u64 body_bytes, u64 seed) {
  model::Message m = plain_message(body_bytes, seed);
  Bytes html = "<html><head><meta charset=\"utf-8\"></head><body><p>";
  for (char c : *m.body_text) {
    if (c == '\r') continue;
    html += c == '\n' ? std::string_view("</p>\r\n<p>") : std::string_view(&c, 1);
  }
  html += "</p></body></html>\r\n";
  m.body_html = std::move(html);
  m.html_charset = "utf-8";
  return m;
}

/// A by-value attachment of `n` random bytes.
inline model::Attachment binary_attachment(const std::string &name, u64 n, u64 seed) {
  model::Attachment a;
  a.kind = model::AttachmentKind::ByValue;
  a.filename = name;
  a.mime_type = "application/octet-stream";
  a.data = random_bytes(n, seed);
  return a;
}

/// A message carrying another message as an embedded (message/rfc822) attachment.
inline model::Message embedded_message(u64 seed) {
  model::Message outer = plain_message(2048, seed);
  outer.subject = "FW: " + outer.subject;
  model::Attachment a;
  a.kind = model::AttachmentKind::Embedded;
  a.filename = "original.eml";
  a.embedded = std::make_unique<model::Message>(html_message(4096, seed + 1));
  a.embedded->attachments.push_back(binary_attachment("chart.png", 20 * 1024, seed + 2));
  outer.attachments.push_back(std::move(a));
  outer.flags.has_attachments = true;
  return outer;
}

/// A fresh, empty scratch directory below the system temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string &tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("mailmill-bench-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::filesystem::path &path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Sets the byte rate (when `bytes_per_iter` > 0) and, when `items_per_iter` > 0, a rate counter named `counter` ("msgs/s"
/// unless the items are something else, e.g. keys or strings).
inline void set_rates(benchmark::State &state, u64 bytes_per_iter, double items_per_iter,
                      const char *counter = "msgs/s") {
  if (bytes_per_iter > 0)
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes_per_iter));
  if (items_per_iter > 0)
    state.counters[counter] = benchmark::Counter(
        static_cast<double>(state.iterations()) * items_per_iter, benchmark::Counter::kIsRate);
}

}  // namespace mm::bench
