#include "mailmill/pipeline/convert.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/build.h"
#include "mailmill/mime/render.h"
#include "mailmill/sink/sink.h"
#include "mailmill/source/discover.h"
#include "manifest.h"

namespace mm::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

const char *format_name(mapi::PstFormat f) {
  switch (f) {
    case mapi::PstFormat::Ansi: return "ansi";
    case mapi::PstFormat::Unicode: return "unicode";
    case mapi::PstFormat::Unicode4k: return "unicode-4k";
  }
  return "unknown";
}

const char *encryption_name(mapi::PstEncryption e) {
  switch (e) {
    case mapi::PstEncryption::None: return "none";
    case mapi::PstEncryption::Permute: return "compressible";
    case mapi::PstEncryption::Cyclic: return "high";
    case mapi::PstEncryption::Unknown: return "unknown";
  }
  return "unknown";
}

std::string join_path(const std::vector<std::string> &path) {
  std::string out;
  for (const auto &p : path) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

ItemNote note_of(u64 nid, const model::Message *msg, const Problem &p) {
  ItemNote n;
  n.node_id = nid;
  if (msg) {
    n.subject = msg->subject;
    n.kind = msg->message_class.empty() ? model::item_kind_name(msg->kind) : msg->message_class;
  }
  n.code = problem_code_name(p.code);
  n.detail = p.detail;
  return n;
}

/// Outlook's own bookkeeping items (free/busy publishing, view and rule configuration): they
/// carry no user content, so they are accounted as skipped rather than written as mail.
bool is_system_item(std::string_view message_class) {
  auto starts = [&](std::string_view prefix) {
    if (message_class.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(message_class[i])) != prefix[i]) return false;
    return true;
  };
  return starts("ipm.microsoft.scheduledata.freebusy") || starts("ipm.configuration.") ||
         starts("ipm.microsoft.freebusy") || starts("ipm.microsoft.fol") ||
         starts("ipm.microsoft.custommessage") || starts("ipm.aggregation");
}

/// Converts and writes one item; returns its outcome and fills `note` for the ledger.
class ItemWriter {
 public:
  ItemWriter(sink::Sink &sink, OutputFormat format) : sink_(sink), format_(format) {
    build_opts_.crlf = format == OutputFormat::Eml;
    build_opts_.flags = format == OutputFormat::Eml ? mime::FlagStyle::Eml : mime::FlagStyle::Mbox;
  }

  Outcome write(mapi::MailStore &store, const sink::Destination &dest, u64 nid, i64 index,
                ItemNote &note, std::vector<ItemNote> &warnings, std::string &location) {
    note.node_id = nid;
    Result<mapi::RawMessage> raw = store.read_item(nid);
    if (!raw) {
      note = note_of(nid, nullptr, raw.problem());
      return Outcome::Failed;
    }
    mapi::ConvertContext ctx{store.info().default_codepage, &store.names()};
    Result<model::Message> msg = mapi::to_model(*raw, ctx);
    if (!msg) {
      note = note_of(nid, nullptr, msg.problem());
      return Outcome::Failed;
    }
    for (const Problem &w : raw->warnings) warnings.push_back(note_of(nid, &*msg, w));
    for (const Problem &w : msg->warnings) warnings.push_back(note_of(nid, &*msg, w));
    switch (msg->kind) {
      case model::ItemKind::Appointment:
      case model::ItemKind::Task:
        location = sink_.write_file(dest, index, msg->subject, ".ics", mime::render_ics(*msg));
        note = note_of(nid, &*msg, Problem{});
        return Outcome::Written;
      case model::ItemKind::Contact: {
        std::string title = msg->contact ? msg->contact->display_name : msg->subject;
        location = sink_.write_file(dest, index, title.empty() ? msg->subject : title, ".vcf",
                                    mime::render_vcf(*msg));
        note = note_of(nid, &*msg, Problem{});
        return Outcome::Written;
      }
      case model::ItemKind::DistList:
      case model::ItemKind::StickyNote:
      case model::ItemKind::Journal:
        note = note_of(nid, &*msg, Problem{ProblemCode::ItemUnsupportedType, ""});
        note.code = "skipped";
        note.detail = std::string("item type not converted: ") +
                      model::item_kind_name(msg->kind) + " (" + msg->message_class + ")";
        return Outcome::Skipped;
      case model::ItemKind::Message:
      case model::ItemKind::Other:
        if (is_system_item(msg->message_class)) {
          note = note_of(nid, &*msg, Problem{ProblemCode::ItemUnsupportedType, ""});
          note.code = "skipped";
          note.detail = "Outlook system item, not mail: " + msg->message_class;
          return Outcome::Skipped;
        }
        break;
    }
    Result<mime::Built> built = mime::build_message(*msg, build_opts_);
    if (!built) {
      note = note_of(nid, &*msg, built.problem());
      return Outcome::Failed;
    }
    for (const Problem &w : built->warnings) warnings.push_back(note_of(nid, &*msg, w));
    sink::OutMessage out;
    out.bytes = built->bytes;
    out.envelope_sender = built->envelope_sender;
    out.date = built->date;
    out.index_in_folder = index;
    out.subject = msg->subject;
    location = sink_.write_message(dest, out);
    note = note_of(nid, &*msg, Problem{});
    return Outcome::Written;
  }

 private:
  sink::Sink &sink_;
  OutputFormat format_;
  mime::BuildOptions build_opts_;
};

class Progress {
 public:
  Progress(std::ostream &log, bool enabled) : log_(log), enabled_(enabled) {}
  void tick(i64 items, const std::string &source) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    char buf[512];
    std::snprintf(buf, sizeof buf, "\r%lld items, %.0f items/s  %s\x1b[K",
                  static_cast<long long>(items), secs > 0 ? items / secs : 0.0, source.c_str());
    log_ << buf << std::flush;
  }
  void done() {
    if (enabled_) log_ << "\r\x1b[K" << std::flush;
  }

 private:
  std::ostream &log_;
  bool enabled_;
  Clock::time_point start_ = Clock::now(), last_{};
};

void convert_source(const std::string &path, const ConvertOptions &opts, sink::Sink &sink,
                    Ledger &ledger, Manifest &manifest, Progress &progress, i64 &items_done,
                    std::ostream &log) {
  SourceLedger &src = ledger.add_source(path);
  Result<std::unique_ptr<mapi::MailStore>> opened = source::open_store(path, opts.reader);
  if (!opened) {
    src.error_code = problem_code_name(opened.problem().code);
    src.error = opened.problem().detail;
    log << "error: " << path << ": " << src.error << "\n";
    return;
  }
  mapi::MailStore &store = **opened;
  src.opened = true;
  src.reader = store.reader_name();
  src.format = format_name(store.info().format);
  src.is_ost = store.info().is_ost;
  src.encryption = encryption_name(store.info().encryption);

  Result<std::vector<mapi::FolderInfo>> folders = store.folders();
  if (!folders) {
    src.folder_errors.push_back(note_of(0, nullptr, folders.problem()));
    log << "error: " << path << ": cannot read the folder tree: " << folders.problem().detail
        << "\n";
    return;
  }
  std::string key = sink.add_source(path);
  ItemWriter writer(sink, opts.format);
  for (const mapi::FolderInfo &folder : *folders) {
    FolderLedger &fl = ledger.add_folder(src, join_path(folder.path));
    Result<std::vector<u64>> items = store.items_in(folder.node_id);
    if (!items) {
      // The contents table is unreadable: account for the items the folder says it has, so
      // that nothing disappears from the totals.
      ItemNote n = note_of(folder.node_id, nullptr, items.problem());
      src.folder_errors.push_back(n);
      for (i64 i = 0; i < folder.content_count; ++i) {
        manifest.add(path, fl.path, i + 1, Outcome::Failed, n, "");
        ledger.record(src, fl, Outcome::Failed, n);
      }
      continue;
    }
    sink::Destination dest{key, folder.path};
    i64 index = 0;
    for (u64 nid : *items) {
      ++index;
      ItemNote note;
      std::vector<ItemNote> warnings;
      std::string location;
      Outcome outcome;
      try {
        outcome = writer.write(store, dest, nid, index, note, warnings, location);
      } catch (const FatalError &) {
        throw;
      } catch (const std::exception &e) {
        // A bug of ours on this item must not stop the run or lose the item from the ledger.
        note = note_of(nid, nullptr, Problem{ProblemCode::InternalError, e.what()});
        outcome = Outcome::Failed;
      }
      manifest.add(path, fl.path, index, outcome, note, location);
      ledger.record(src, fl, outcome, std::move(note));
      for (auto &w : warnings) ledger.warn(fl, std::move(w));
      progress.tick(++items_done, path);
    }
  }
}

}  // namespace

ConvertResult run_convert(const ConvertOptions &opts, std::ostream &log) {
  auto start = Clock::now();
  ConvertResult result;
  std::vector<Problem> problems;
  std::vector<std::string> inputs = source::discover_inputs(opts.inputs, problems);
  for (const Problem &p : problems) {
    SourceLedger &src = result.ledger.add_source(p.detail);
    src.error_code = problem_code_name(p.code);
    src.error = p.detail;
    log << "error: " << p.detail << "\n";
  }
  std::unique_ptr<sink::Sink> sink = opts.format == OutputFormat::Mbox
                                         ? sink::make_mbox_sink(opts.out_dir)
                                         : sink::make_eml_sink(opts.out_dir);
  Manifest manifest(std::filesystem::path(opts.out_dir) / "manifest.jsonl");
  Progress progress(log, opts.progress);
  i64 items_done = 0;
  for (const std::string &path : inputs)
    convert_source(path, opts, *sink, result.ledger, manifest, progress, items_done, log);
  sink->finish();
  manifest.close();
  progress.done();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();

  Totals t = result.ledger.totals();
  if (!result.ledger.balanced())
    result.exit_code = EXIT_LEDGER_MISMATCH;
  else if (t.failed > 0 || result.ledger.failed_sources() > 0)
    result.exit_code = EXIT_SOME_FAILED;
  if (!opts.report_path.empty()) {
    std::ofstream f(opts.report_path, std::ios::binary | std::ios::trunc);
    f << result.ledger.to_json(opts.command_line, result.seconds);
    if (!f.good()) throw FatalError("cannot write the report " + opts.report_path);
  }
  return result;
}

int run_inspect(const std::string &path, source::Reader reader, std::ostream &out,
                std::ostream &err) {
  Result<std::unique_ptr<mapi::MailStore>> opened = source::open_store(path, reader);
  if (!opened) {
    err << "error: " << path << ": " << opened.problem().detail << "\n";
    return EXIT_SOME_FAILED;
  }
  mapi::MailStore &store = **opened;
  const mapi::StoreInfo &info = store.info();
  out << "file:        " << path << "\n";
  out << "type:        " << (info.is_ost ? "OST" : "PST") << ", " << format_name(info.format)
      << "\n";
  out << "encryption:  " << encryption_name(info.encryption) << "\n";
  out << "size:        " << info.file_size << " bytes\n";
  out << "store name:  " << info.display_name << "\n";
  out << "codepage:    " << info.default_codepage << "\n";
  out << "reader:      " << store.reader_name() << "\n";
  Result<std::vector<mapi::FolderInfo>> folders = store.folders();
  if (!folders) {
    err << "error: " << path << ": cannot read the folder tree: " << folders.problem().detail
        << "\n";
    return EXIT_SOME_FAILED;
  }
  out << "folders:\n";
  int rc = EXIT_ALL_CONVERTED;
  mapi::ConvertContext ctx{info.default_codepage, &store.names()};
  for (const mapi::FolderInfo &folder : *folders) {
    std::string indent(2 * (folder.path.size() + 1), ' ');
    std::string name = folder.path.empty() ? std::string("(root)") : folder.path.back();
    std::map<std::string, i64> kinds;
    Result<std::vector<u64>> items = store.items_in(folder.node_id);
    if (!items) {
      out << indent << name << "  [contents unreadable: " << items.problem().detail << "]\n";
      rc = EXIT_SOME_FAILED;
      continue;
    }
    for (u64 nid : *items) {
      Result<mapi::RawMessage> raw = store.read_item(nid);
      if (!raw) {
        ++kinds["unreadable"];
        continue;
      }
      Result<model::Message> msg = mapi::to_model(*raw, ctx);
      ++kinds[msg ? model::item_kind_name(msg->kind) : "unreadable"];
    }
    out << indent << name << "  (" << items->size() << " items";
    for (const auto &[k, n] : kinds) out << ", " << k << ": " << n;
    out << ")" << (folder.container_class.empty() ? "" : "  " + folder.container_class) << "\n";
  }
  return rc;
}

}  // namespace mm::pipeline
