#include "process.h"

#include <chrono>
#include <cstring>

#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/render.h"
#include "mailmill/util/text.h"

namespace mm::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
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

std::string flags_of(const model::Flags &f) {
  std::string out;
  auto add = [&](bool on, const char *name) {
    if (!on) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(f.read, "read");
  add(f.answered, "answered");
  add(f.forwarded, "forwarded");
  add(f.flagged, "flagged");
  add(f.draft, "draft");
  return out;
}

void skip(ItemOut &out, const model::Message &msg, std::string reason) {
  out.note = note_of(out.node_id, &msg, Problem{});
  out.note.code = "skipped";
  out.note.detail = std::move(reason);
  out.outcome = Outcome::Skipped;
}

void convert(mapi::MailStore &store, u64 nid, Produce produce, ItemOut &out, StageTimes &times,
             const Streaming *streaming) {
  const bool eml = produce == Produce::MimeCrlf;
  auto t0 = Clock::now();
  Result<mapi::RawMessage> raw = store.read_item(nid);
  times.read += since(t0);
  if (!raw) {
    out.note = note_of(nid, nullptr, raw.problem());
    out.outcome = Outcome::Failed;
    return;
  }
  auto t1 = Clock::now();
  mapi::ConvertContext ctx{store.info().default_codepage, &store.names()};
  Result<model::Message> converted = mapi::to_model(*raw, ctx);
  std::vector<Problem> raw_warnings = std::move(raw->warnings);
  raw = Problem{};  // free the raw properties before building
  times.convert += since(t1);
  if (!converted) {
    out.note = note_of(nid, nullptr, converted.problem());
    out.outcome = Outcome::Failed;
    return;
  }
  const model::Message &msg = *converted;
  for (const Problem &w : raw_warnings) out.warnings.push_back(note_of(nid, &msg, w));
  for (const Problem &w : msg.warnings) out.warnings.push_back(note_of(nid, &msg, w));
  out.note = note_of(nid, &msg, Problem{});
  out.title = msg.subject;
  out.flags = flags_of(msg.flags);
  out.date = mime::message_date(msg).value_or(0);

  auto t2 = Clock::now();
  std::vector<mime::DataDigest> digests;  // attachments the builder hashed on the way
  if (produce == Produce::Model) {
    switch (msg.kind) {
      case model::ItemKind::StickyNote:
      case model::ItemKind::Journal:
        skip(out, msg,
             std::string("item type not converted: ") + model::item_kind_name(msg.kind) + " (" +
                 msg.message_class + ")");
        return;
      default:
        if (is_system_item(msg.message_class)) {
          skip(out, msg, "Outlook system item, not mail: " + msg.message_class);
          return;
        }
    }
    out.message_id = msg.message_id;
    out.content = dedup::content_hash(msg);
    out.raw = out.content;
    if (!msg.message_id.empty()) out.mih = dedup::edrm_mih(msg.message_id);
    out.size = estimated_size(msg);
    out.model = std::make_unique<model::Message>(std::move(*converted));
    out.outcome = Outcome::Written;
    times.hash += since(t2);
    return;
  }
  switch (msg.kind) {
    case model::ItemKind::Appointment:
    case model::ItemKind::Task:
      out.form = ItemOut::Form::Ics;
      out.bytes = mime::render_ics(msg);
      break;
    case model::ItemKind::Contact:
      out.form = ItemOut::Form::Vcf;
      out.bytes = mime::render_vcf(msg);
      if (msg.contact && !msg.contact->display_name.empty()) out.title = msg.contact->display_name;
      break;
    case model::ItemKind::DistList: {
      out.form = ItemOut::Form::Vcf;
      std::size_t name_only = 0;
      out.bytes = mime::render_dist_list_vcf(msg, &name_only);
      if (name_only > 0) {
        out.warnings.push_back(note_of(
            nid, &msg,
            Problem{ProblemCode::ItemUnreadable,
                    std::to_string(name_only) +
                        " distribution list member(s) point into an address book the file "
                        "does not hold; listed by name only"}));
      }
      break;
    }
    case model::ItemKind::StickyNote:
    case model::ItemKind::Journal:
      skip(out, msg,
           std::string("item type not converted: ") + model::item_kind_name(msg.kind) + " (" +
               msg.message_class + ")");
      return;
    case model::ItemKind::Message:
    case model::ItemKind::Other: {
      if (is_system_item(msg.message_class)) {
        skip(out, msg, "Outlook system item, not mail: " + msg.message_class);
        return;
      }
      mime::BuildOptions bo;
      bo.crlf = eml;
      bo.mboxrd = produce == Produce::Mboxrd;
      if (streaming) {
        bo.stream_to = streaming->file;
        bo.stream_above = streaming->above;
      }
      bo.flags = eml ? mime::FlagStyle::Eml : mime::FlagStyle::Mbox;
      Result<mime::Built> built = mime::build_message(msg, bo);
      if (!built) {
        out.note = note_of(nid, &msg, built.problem());
        out.outcome = Outcome::Failed;
        return;
      }
      for (const Problem &w : built->warnings) out.warnings.push_back(note_of(nid, &msg, w));
      out.bytes = std::move(built->bytes);
      if (built->streamed) {  // the bytes are in the unit's spill file
        out.spilled = true;
        out.spill_offset = built->stream_offset;
        out.spill_len = built->stream_size;
        out.framed = bo.mboxrd;
        out.framed_size = bo.mboxrd ? built->stream_size : 0;
        out.size = built->message_size;
        std::memcpy(out.raw.data(), built->sha256.data(), out.raw.size());
      } else if (bo.mboxrd) {
        out.framed = true;
        out.framed_size = out.bytes.size();
        out.size = built->message_size;
        std::memcpy(out.raw.data(), built->sha256.data(), out.raw.size());
      } else {
        // mbox framing always ends a message with a newline; hash what a reader gets back.
        if (!eml && (out.bytes.empty() || out.bytes.back() != '\n')) out.bytes += '\n';
        out.size = out.bytes.size();
        if (out.bytes.size() == built->message_size)
          std::memcpy(out.raw.data(), built->sha256.data(), out.raw.size());
        else
          out.raw = dedup::sha256(out.bytes);
      }
      digests = std::move(built->data_digests);
      out.envelope_sender = std::move(built->envelope_sender);
      out.date = built->date;
      out.message_id = std::move(built->message_id);
      out.message_id_generated = built->message_id_generated;
      break;
    }
  }
  times.build += since(t2);

  auto t3 = Clock::now();
  out.content = dedup::content_hash(msg, digests);
  if (out.form != ItemOut::Form::Mime) {  // ics / vcf: MIME bytes come hashed from the build
    out.raw = dedup::sha256(out.bytes);
    out.size = out.bytes.size();
  }
  if (!out.message_id.empty() && !out.message_id_generated)
    out.mih = dedup::edrm_mih(out.message_id);
  times.hash += since(t3);
  out.outcome = Outcome::Written;
}

}  // namespace

bool is_system_item(std::string_view message_class) {
  auto starts = [&](std::string_view prefix) {
    return text::istarts_with_ascii(message_class, prefix);
  };
  return starts("ipm.microsoft.scheduledata.freebusy") || starts("ipm.configuration.") ||
         starts("ipm.microsoft.freebusy") || starts("ipm.microsoft.fol") ||
         starts("ipm.microsoft.custommessage") || starts("ipm.aggregation");
}

u64 estimated_size(const model::Message &msg) {
  u64 n = msg.subject.size() + msg.transport_headers.size() + 512;
  if (msg.body_text) n += msg.body_text->size();
  if (msg.body_html) n += msg.body_html->size();
  if (msg.body_rtf) n += msg.body_rtf->size();
  for (const auto &r : msg.recipients) n += r.address.name.size() + r.address.smtp.size() + 64;
  for (const auto &a : msg.attachments) {
    n += a.data.size() + a.filename.size() + 256;
    if (a.embedded) n += estimated_size(*a.embedded);
  }
  return n;
}

void process_item(mapi::MailStore &store, u64 nid, Produce produce, ItemOut &out,
                  StageTimes &times, const Streaming *streaming) {
  out.node_id = nid;
  try {
    convert(store, nid, produce, out, times, streaming);
  } catch (const std::exception &e) {
    // A bug of ours on this item must not stop the run or lose the item from the ledger.
    out = ItemOut{out.seq, out.index, nid};
    out.note = note_of(nid, nullptr, Problem{ProblemCode::InternalError, e.what()});
    out.outcome = Outcome::Failed;
  }
  ++times.items;
  times.bytes += out.size;
}

}  // namespace mm::pipeline
