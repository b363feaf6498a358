#include "process.h"

#include <chrono>
#include <cstring>

#include "mailmill/mapi/to_model.h"
#include "mailmill/mime/mbox.h"
#include "mailmill/mime/parse.h"
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

// An Internet message into the model (the MIME worker pool is this parallel stage): what its
// container recorded (flags, the From_ line's date) fills what the message itself does not say.
// An entry with no header field at all (an mbox body cut off by an unquoted "From " line in
// the body before it, a bare text file) is never dropped: its bytes are the message's text
// (UTF-8 when valid, else windows-1252; NULs left out), with a warning; MIME outputs keep the
// bytes verbatim.
model::Message text_only_message(ByteView bytes, const Problem &why) {
  model::Message m;
  m.kind = model::ItemKind::Message;
  m.message_class = "IPM.Note";
  const std::string_view v = bytes;
  std::string text = text::is_valid_utf8(v)
                         ? std::string(v)
                         : text::codepage_to_utf8(bytes, 1252).value_or(text::sanitize_utf8(v));
  std::erase(text, '\0');
  m.body_text = std::move(text);
  m.warnings.push_back(Problem{why.code, why.detail + "; the whole entry is kept as the "
                                         "message text (an mbox body split at an unquoted From "
                                         "line looks so)"});
  return m;
}

Result<model::Message> parse_internet(const mapi::InternetMessage &in) {
  Result<model::Message> msg = mime::parse_message(in.bytes);
  if (!msg && msg.problem().code == ProblemCode::ItemUnreadable)
    msg = text_only_message(in.bytes.view(), msg.problem());
  if (!msg) return msg;
  if (in.flags) {
    const bool has_attachments = msg->flags.has_attachments;
    msg->flags = *in.flags;
    msg->flags.has_attachments = has_attachments;
  }
  if (in.received && !msg->delivery_time) msg->delivery_time = in.received;
  return msg;
}

// The message's own bytes in the form the sink takes: line ends converted (CRLF for EML, LF
// otherwise; nothing else changes) and, for mbox, framed as an mboxrd entry.
void pass_through(const mapi::InternetMessage &in, const model::Message &msg, Produce produce,
                  ItemOut &out) {
  const ByteView src = in.bytes.view();
  Bytes body;
  body.reserve(src.size() + src.size() / 32 + 2);
  const bool crlf = produce == Produce::MimeCrlf;
  for (std::size_t i = 0; i < src.size();) {
    const void *p = std::memchr(src.data() + i, '\n', src.size() - i);
    std::size_t nl = p ? static_cast<std::size_t>(static_cast<const char *>(p) - src.data())
                       : src.size();
    std::size_t end = nl;
    if (end > i && src[end - 1] == '\r') --end;
    body.append(src.data() + i, end - i);
    if (nl < src.size() || !crlf) body += crlf ? "\r\n" : "\n";
    i = nl + 1;
  }
  if (crlf && !body.empty() && body.back() != '\n') body += "\r\n";
  std::optional<i64> date = mime::message_date(msg);
  out.date = date.value_or(in.received.value_or(0));
  out.envelope_sender = !in.envelope_sender.empty() ? in.envelope_sender
                        : !msg.from.smtp.empty()    ? msg.from.smtp
                                                    : msg.sender.smtp;
  out.message_id = msg.message_id;
  out.size = body.size();
  out.raw = dedup::sha256(body);
  if (produce == Produce::Mboxrd) {
    Bytes entry;
    entry.reserve(body.size() + body.size() / 64 + 128);
    mime::append_mboxrd(entry, body, out.envelope_sender, out.date);
    out.framed = true;
    out.framed_size = entry.size();
    out.bytes = std::move(entry);
  } else {
    out.bytes = std::move(body);
  }
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
  std::vector<Problem> raw_warnings = std::move(raw->warnings);
  Result<model::Message> converted = Problem{};
  // An Internet message keeps its bytes: MIME output passes them through as they are.
  std::optional<mapi::InternetMessage> internet = std::move(raw->internet);
  if (internet) {
    converted = parse_internet(*internet);
  } else {
    mapi::ConvertContext ctx{raw->codepage ? raw->codepage : store.info().default_codepage,
                             raw->names ? raw->names.get() : &store.names()};
    converted = mapi::to_model(*raw, ctx);
  }
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
      if (internet) {
        pass_through(*internet, msg, produce, out);
        break;
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
    ItemOut fresh;
    fresh.seq = out.seq;
    fresh.index = out.index;
    fresh.node_id = nid;
    out = std::move(fresh);
    out.note = note_of(nid, nullptr, Problem{ProblemCode::InternalError, e.what()});
    out.outcome = Outcome::Failed;
  }
  ++times.items;
  times.bytes += out.size;
}

}  // namespace mm::pipeline
