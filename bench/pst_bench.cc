// Benchmarks of the PST format module: block decryption, the native reader (open, items,
// properties, tables, to_model), raw block reads, and PstWriter.
//
// Reader inputs are PSTs made by gen::generate with fixed options, written once into
// /tmp/mailmill-bench/ under a name derived from the options and reused by later runs (delete
// that directory after changing the generator). The reader maps the file, so once it is in the
// page cache the reader benchmarks measure decoding, not the disk. BM_PstWriter* DO measure
// I/O: every iteration writes a whole PST into a scratch directory.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "crypt.h"  // private: src/format/pst (see bench/CMakeLists.txt)
#include "mailmill/format/pst/native_store.h"
#include "mailmill/format/pst/writer.h"
#include "mailmill/gen/generate.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "ndb.h"  // private: PstFile::read_block

namespace mm::bench {
namespace {

// ---------------------------------------------------------------------------------------------
// Block decryption over 8 KiB (the Unicode PST block size) of random data.

constexpr u64 BLOCK = 8192;

void BM_PermuteDecode(benchmark::State &state) {
  Bytes block = random_bytes(BLOCK, 71);
  auto *p = reinterpret_cast<u8 *>(block.data());
  for (auto _ : state) {
    pst::permute_decode(p, BLOCK);
    benchmark::ClobberMemory();
  }
  set_rates(state, BLOCK, 1.0, "blocks/s");
}
BENCHMARK(BM_PermuteDecode);

void BM_PermuteDecodeCopy(benchmark::State &state) {
  const Bytes src = random_bytes(BLOCK, 72);
  Bytes dst(BLOCK, '\0');
  for (auto _ : state) {
    pst::permute_decode_copy(reinterpret_cast<const u8 *>(src.data()),
                             reinterpret_cast<u8 *>(dst.data()), BLOCK);
    benchmark::ClobberMemory();
  }
  set_rates(state, BLOCK, 1.0, "blocks/s");
}
BENCHMARK(BM_PermuteDecodeCopy);

void BM_CyclicDecode(benchmark::State &state) {
  Bytes block = random_bytes(BLOCK, 73);
  auto *p = reinterpret_cast<u8 *>(block.data());
  u32 key = 0x1234;
  for (auto _ : state) {
    pst::cyclic_decode(p, BLOCK, key);
    key += 4;  // successive BIDs, as when walking a file
    benchmark::ClobberMemory();
  }
  set_rates(state, BLOCK, 1.0, "blocks/s");
}
BENCHMARK(BM_CyclicDecode);

// ---------------------------------------------------------------------------------------------
// Generated, cached reader inputs.

struct Fixture {
  std::string path;
  gen::GenStats stats;  // only filled when generated in this process
  u64 file_size = 0;
  bool ok = false;
  std::string error;
};

/// Options of the reader corpus: 20,000 small mails in 8 folders, a few attachments and
/// embedded messages. `permute` gives the same corpus with NDB_CRYPT_PERMUTE blocks.
gen::GenOptions corpus_options(bool permute) {
  gen::GenOptions o;
  o.seed = 20240601;
  o.messages = 20000;
  o.folders = 8;
  o.attachment_ratio = 0.1;
  o.attachment_min = 200;
  o.attachment_max = 20000;
  o.html_ratio = 0.3;
  o.non_ascii_ratio = 0.2;
  o.transport_headers_ratio = 0.5;
  o.embedded_ratio = 0.02;
  o.permute = permute;
  return o;
}

std::string cache_name(const gen::GenOptions &o) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "gen-s%llu-m%lld-f%lld-a%g-%llu-%llu-h%g-r%g-n%g-t%g-e%g-%s",
                static_cast<unsigned long long>(o.seed), static_cast<long long>(o.messages),
                static_cast<long long>(o.folders), o.attachment_ratio,
                static_cast<unsigned long long>(o.attachment_min),
                static_cast<unsigned long long>(o.attachment_max), o.html_ratio,
                o.rtf_only_ratio, o.non_ascii_ratio, o.transport_headers_ratio, o.embedded_ratio,
                o.permute ? "permute" : "none");
  return buf;
}

Fixture make_fixture(const gen::GenOptions &o) {
  Fixture f;
  const std::filesystem::path dir = "/tmp/mailmill-bench";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path pst = dir / (cache_name(o) + ".pst");
  f.path = pst.string();
  if (!std::filesystem::exists(pst)) {
    // Generate under a private name and rename, so an interrupted run leaves no half file.
    const std::string tmp = f.path + ".part" + std::to_string(::getpid());
    Result<gen::GenStats> r = gen::generate(o, tmp, tmp + ".jsonl");
    std::filesystem::remove(tmp + ".jsonl", ec);
    if (!r) {
      f.error = "gen::generate failed: " + r.problem().detail;
      std::filesystem::remove(tmp, ec);
      return f;
    }
    f.stats = *r;
    std::filesystem::rename(tmp, pst, ec);
    if (ec) {
      f.error = "cannot rename the generated PST: " + ec.message();
      return f;
    }
  }
  f.file_size = std::filesystem::file_size(pst, ec);
  f.ok = !ec;
  return f;
}

const Fixture &plain_corpus() {
  static const Fixture f = make_fixture(corpus_options(false));
  return f;
}
const Fixture &permute_corpus() {
  static const Fixture f = make_fixture(corpus_options(true));
  return f;
}

/// An opened store plus the node ids of every item, in folder order.
struct Opened {
  std::unique_ptr<mapi::MailStore> store;
  std::vector<mapi::FolderInfo> folders;
  std::vector<u64> items;
};

bool open_corpus(benchmark::State &state, const Fixture &f, Opened &o) {
  if (!f.ok) {
    state.SkipWithError(f.error.c_str());
    return false;
  }
  Result<std::unique_ptr<mapi::MailStore>> s = pst::open_native(f.path);
  if (!s) {
    state.SkipWithError(("open_native: " + s.problem().detail).c_str());
    return false;
  }
  o.store = std::move(s.value());
  Result<std::vector<mapi::FolderInfo>> fs = o.store->folders();
  if (!fs) {
    state.SkipWithError(("folders: " + fs.problem().detail).c_str());
    return false;
  }
  o.folders = std::move(fs.value());
  for (const mapi::FolderInfo &fi : o.folders) {
    Result<std::vector<u64>> ids = o.store->items_in(fi.node_id);
    if (ids) o.items.insert(o.items.end(), ids->begin(), ids->end());
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Native reader.

// Opening: mmap, header, and flattening the NBT/BBT into the in-memory indexes.
void BM_OpenNative(benchmark::State &state) {
  const Fixture &f = plain_corpus();
  if (!f.ok) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  for (auto _ : state) {
    Result<std::unique_ptr<mapi::MailStore>> s = pst::open_native(f.path);
    if (!s) {
      state.SkipWithError(s.problem().detail.c_str());
      return;
    }
    benchmark::DoNotOptimize(s->get());
  }
  // Bytes: the file size (the index covers the whole file); items: opens.
  set_rates(state, f.file_size, 1.0, "opens/s");
  state.counters["file_MiB"] = static_cast<double>(f.file_size) / (1 << 20);
}
BENCHMARK(BM_OpenNative)->Unit(benchmark::kMillisecond);

// read_item (properties, recipients, attachments with data, embedded messages) of every item.
// Arg 1 reads the NDB_CRYPT_PERMUTE copy of the same corpus.
void BM_ReadAllItems(benchmark::State &state) {
  Opened o;
  if (!open_corpus(state, state.range(0) == 1 ? permute_corpus() : plain_corpus(), o)) return;
  // One untimed pass first, so first-touch page faults on the fresh mapping are not timed.
  for (u64 nid : o.items) benchmark::DoNotOptimize(o.store->read_item(nid));
  u64 failed = 0;
  for (auto _ : state) {
    for (u64 nid : o.items) {
      Result<mapi::RawMessage> m = o.store->read_item(nid);
      if (!m) ++failed;
      benchmark::DoNotOptimize(m);
    }
  }
  // Bytes: the PST file size per pass (every item read once).
  set_rates(state, o.store->info().file_size, static_cast<double>(o.items.size()));
  state.counters["items"] = static_cast<double>(o.items.size());
  state.counters["failed"] = static_cast<double>(failed);
}
BENCHMARK(BM_ReadAllItems)->ArgName("permute")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Contents-table reads: items_in() over every folder (row ids only).
void BM_TableReads(benchmark::State &state) {
  Opened o;
  if (!open_corpus(state, plain_corpus(), o)) return;
  u64 rows = 0;
  for (auto _ : state) {
    rows = 0;
    for (const mapi::FolderInfo &fi : o.folders) {
      Result<std::vector<u64>> ids = o.store->items_in(fi.node_id);
      if (ids) rows += ids->size();
      benchmark::DoNotOptimize(ids);
    }
  }
  set_rates(state, 0, static_cast<double>(rows), "rows/s");
  state.counters["folders"] = static_cast<double>(o.folders.size());
}
BENCHMARK(BM_TableReads)->Unit(benchmark::kMicrosecond);

// Folder hierarchy: folders() (hierarchy tables walked from the root).
void BM_FolderWalk(benchmark::State &state) {
  Opened o;
  if (!open_corpus(state, plain_corpus(), o)) return;
  for (auto _ : state) {
    Result<std::vector<mapi::FolderInfo>> fs = o.store->folders();
    benchmark::DoNotOptimize(fs);
  }
  set_rates(state, 0, static_cast<double>(o.folders.size()), "folders/s");
}
BENCHMARK(BM_FolderWalk)->Unit(benchmark::kMicrosecond);

// PropertyBag getters on read messages: the lookups mapi::to_model makes per item.
void BM_PropertyReads(benchmark::State &state) {
  Opened o;
  if (!open_corpus(state, plain_corpus(), o)) return;
  std::vector<mapi::RawMessage> msgs;
  for (u64 i = 0; i < o.items.size() && msgs.size() < 256; i += 37) {
    Result<mapi::RawMessage> m = o.store->read_item(o.items[i]);
    if (m) msgs.push_back(std::move(m.value()));
  }
  if (msgs.empty()) {
    state.SkipWithError("no readable items");
    return;
  }
  namespace pid = mapi::pid;
  constexpr double GETS = 10;
  u64 bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const mapi::RawMessage &m : msgs) {
      const mapi::PropertyBag &p = m.props;
      auto subject = p.get_string(pid::SUBJECT, 1252);
      auto cls = p.get_string(pid::MESSAGE_CLASS, 1252);
      auto sender = p.get_string(pid::SENDER_NAME, 1252);
      auto smtp = p.get_string(pid::SENDER_SMTP_ADDRESS, 1252);
      auto mid = p.get_string(pid::INTERNET_MESSAGE_ID, 1252);
      auto submit = p.get_time(pid::CLIENT_SUBMIT_TIME);
      auto flags = p.get_i32(pid::MESSAGE_FLAGS);
      auto size = p.get_i32(pid::MESSAGE_SIZE);
      auto body = p.get_bytes(pid::BODY);
      auto hdrs = p.get_bytes(pid::TRANSPORT_MESSAGE_HEADERS);
      if (body) bytes += body->size();
      if (subject) bytes += subject->size();
      benchmark::DoNotOptimize(subject);
      benchmark::DoNotOptimize(cls);
      benchmark::DoNotOptimize(sender);
      benchmark::DoNotOptimize(smtp);
      benchmark::DoNotOptimize(mid);
      benchmark::DoNotOptimize(submit);
      benchmark::DoNotOptimize(flags);
      benchmark::DoNotOptimize(size);
      benchmark::DoNotOptimize(hdrs);
    }
  }
  // Bytes: body and subject bytes returned; items: property reads.
  set_rates(state, bytes, GETS * static_cast<double>(msgs.size()), "props/s");
  state.counters["msgs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * msgs.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PropertyReads);

// mapi::to_model over read messages (interpretation only; the reads are outside the loop).
void BM_ToModel(benchmark::State &state) {
  Opened o;
  if (!open_corpus(state, plain_corpus(), o)) return;
  std::vector<mapi::RawMessage> msgs;
  for (u64 i = 0; i < o.items.size() && msgs.size() < 512; i += 19) {
    Result<mapi::RawMessage> m = o.store->read_item(o.items[i]);
    if (m) msgs.push_back(std::move(m.value()));
  }
  const mapi::ConvertContext ctx{o.store->info().default_codepage, &o.store->names()};
  for (auto _ : state) {
    for (const mapi::RawMessage &m : msgs) {
      Result<model::Message> mm = mapi::to_model(m, ctx);
      benchmark::DoNotOptimize(mm);
    }
  }
  set_rates(state, 0, static_cast<double>(msgs.size()));
}
BENCHMARK(BM_ToModel)->Unit(benchmark::kMillisecond);

// PstFile::read_block over every block of the file (BBT order): bounds checks and decoding.
// Arg 1 is the permute-encrypted copy, so the difference is the cost of decryption.
void BM_ReadAllBlocks(benchmark::State &state) {
  const Fixture &f = state.range(0) == 1 ? permute_corpus() : plain_corpus();
  if (!f.ok) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  Result<std::shared_ptr<const pst::PstFile>> file = pst::PstFile::open(f.path);
  if (!file) {
    state.SkipWithError(file.problem().detail.c_str());
    return;
  }
  const pst::PstFile &pf = **file;
  // Untimed pass: fault the fresh mapping in (unencoded blocks are zero-copy views, so the
  // timed passes would otherwise be dominated by first-touch page faults).
  for (const pst::BbtEntry &e : pf.blocks()) benchmark::DoNotOptimize(pf.read_block(e.bid));
  u64 bytes = 0, blocks = 0, failed = 0;
  for (auto _ : state) {
    bytes = blocks = failed = 0;
    for (const pst::BbtEntry &e : pf.blocks()) {
      Result<pst::BlockRef> b = pf.read_block(e.bid);
      if (!b) {
        ++failed;
        continue;
      }
      bytes += b->data.size();
      ++blocks;
      benchmark::DoNotOptimize(b->data.data());
    }
  }
  set_rates(state, bytes, static_cast<double>(blocks), "blocks/s");
  state.counters["failed"] = static_cast<double>(failed);
}
BENCHMARK(BM_ReadAllBlocks)->ArgName("permute")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// PstWriter (measures I/O: the writer streams blocks to the file as messages are added).

void run_writer(benchmark::State &state, const std::vector<model::Message> &msgs, u64 bytes) {
  TempDir tmp("pstw");
  const std::string path = (tmp.path() / "out.pst").string();
  u64 file_size = 0;
  for (auto _ : state) {
    Result<std::unique_ptr<pst::PstWriter>> w = pst::PstWriter::create(path, {});
    if (!w) {
      state.SkipWithError(w.problem().detail.c_str());
      return;
    }
    Result<u64> folder = (*w)->add_folder(0, "Inbox");
    if (!folder) {
      state.SkipWithError(folder.problem().detail.c_str());
      return;
    }
    for (const model::Message &m : msgs) {
      Result<u64> id = (*w)->add_message(*folder, m);
      if (!id) {
        state.SkipWithError(id.problem().detail.c_str());
        return;
      }
    }
    Status st = (*w)->finish();
    if (!st) {
      state.SkipWithError(st.problem().detail.c_str());
      return;
    }
    file_size = (*w)->bytes_written();
  }
  // Bytes: message payload (bodies + attachment data) per iteration.
  set_rates(state, bytes, static_cast<double>(msgs.size()));
  state.counters["file_MiB"] = static_cast<double>(file_size) / (1 << 20);
}

void BM_PstWriterBody4K(benchmark::State &state) {
  std::vector<model::Message> msgs;
  u64 bytes = 0;
  for (i64 i = 0; i < state.range(0); ++i) {
    msgs.push_back(plain_message(4096, 500 + static_cast<u64>(i)));
    bytes += msgs.back().body_text->size();
  }
  run_writer(state, msgs, bytes);
}
BENCHMARK(BM_PstWriterBody4K)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PstWriterAttach1M(benchmark::State &state) {
  std::vector<model::Message> msgs;
  u64 bytes = 0;
  for (i64 i = 0; i < state.range(0); ++i) {
    model::Message m = plain_message(1024, 900 + static_cast<u64>(i));
    m.attachments.push_back(binary_attachment("data.bin", 1 << 20, 900 + static_cast<u64>(i)));
    m.flags.has_attachments = true;
    bytes += m.body_text->size() + m.attachments[0].data.size();
    msgs.push_back(std::move(m));
  }
  run_writer(state, msgs, bytes);
}
BENCHMARK(BM_PstWriterAttach1M)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace mm::bench
