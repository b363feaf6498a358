#include "mailmill/gen/generate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "mailmill/format/pst/writer.h"
#include "mailmill/model/item.h"
#include "mailmill/util/json_escape.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "output.h"
#include "rng.h"

namespace mm::gen {

namespace {

const char *const kWords[] = {
    "report", "meeting", "budget", "project", "update", "review", "draft", "invoice", "schedule",
    "quarter", "design", "release", "customer", "contract", "travel", "lunch", "agenda", "status",
    "question", "proposal", "summary", "deadline", "team", "plan", "notes", "offer", "order",
    "delivery", "feedback", "results", "analysis", "server", "backup", "policy", "training"};
const char *const kIntl[] = {"café", "naïve", "Ærøskøbing", "Zürich", "Привет", "отчёт", "日本語",
                             "会議", "데이터", "😀", "🚀", "Ελληνικά", "ñandú", "façade"};
const char *const kFirst[] = {"Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi",
                              "Ivan", "Judy", "Mallory", "Oscar", "Peggy", "Trent", "Victor"};
const char *const kLast[] = {"Smith", "Jones", "Müller", "Garcia", "Ivanova", "Tanaka", "Chen",
                             "Dubois", "Rossi", "Novak", "Kowalski", "Silva"};
const char *const kExt[] = {".pdf", ".docx", ".xlsx", ".png", ".jpg", ".zip", ".txt", ".bin"};
const char *const kMime[] = {"application/pdf",
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                             "image/png", "image/jpeg", "application/zip", "text/plain",
                             "application/octet-stream"};

template <class T, u64 N>
const T &pick(Rng &r, const T (&arr)[N]) {
  return arr[r.below(N)];
}

std::string sha256_hex(ByteView data) { return text::to_hex(util::Sha256::digest(data)); }

// The ground truth has always escaped every control as \u00XX.
std::string json_str(std::string_view s) {
  return text::json_string(s, text::JsonControls::Unicode);
}

std::string words(Rng &r, int n, bool intl) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += (intl && r.chance(0.3)) ? pick(r, kIntl) : pick(r, kWords);
  }
  return s;
}

struct Person {
  std::string name, smtp;
};

Person person(Rng &r) {
  std::string first = pick(r, kFirst), last = pick(r, kLast);
  std::string local;
  for (char c : first + "." + last) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x80) local += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  return {first + " " + last, local + std::to_string(r.below(100)) + "@example.com"};
}

std::string html_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

// Uncompressed RTF in the [MS-OXRTFCP] container ("MELA"): header cbSize, cbRawSize, magic, crc 0.
Bytes rtf_container(std::string_view text) {
  std::string rtf = "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Calibri;}}\\f0 ";
  for (unsigned char c : text) {
    if (c == '\\' || c == '{' || c == '}') {
      rtf += '\\';
      rtf += static_cast<char>(c);
    } else if (c == '\n') {
      rtf += "\\par\n";
    } else if (c < 0x80) {
      rtf += static_cast<char>(c);
    }
  }
  rtf += "}";
  Bytes out;
  auto put32 = [&out](u32 v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  put32(static_cast<u32>(rtf.size() + 12));
  put32(static_cast<u32>(rtf.size()));
  put32(0x414C454D);  // "MELA"
  put32(0);
  return out + rtf;
}

struct Shape {
  model::Message msg;
  std::string kind = "message";
  i64 embedded = 0;
  bool rtf_only = false;
};

// Builds message number `seq` entirely from `mseed`, so duplicates can be regenerated.
// The kind of item number `seq` comes from the first two draws of its generator (the second
// draw: k); kind_of() repeats them so that items can be planned into folders before they are
// built.
enum class Kind : u8 { Message, Appointment, Contact, DistList };
Kind kind_from(const GenOptions &o, double k, bool nested) {
  if (nested) return Kind::Message;
  if (k < o.calendar_ratio) return Kind::Appointment;
  if (k < o.calendar_ratio + o.contact_ratio) return Kind::Contact;
  if (k < o.calendar_ratio + o.contact_ratio + o.dist_list_ratio) return Kind::DistList;
  return Kind::Message;
}
Kind kind_of(const GenOptions &o, u64 mseed) {
  Rng r(mseed);
  (void)r.chance(o.non_ascii_ratio);
  return kind_from(o, r.unit(), false);
}

Shape make_message(const GenOptions &o, u64 mseed, i64 seq, bool nested) {
  Rng r(mseed);
  Shape s;
  model::Message &m = s.msg;
  bool intl = r.chance(o.non_ascii_ratio);
  double k = r.unit();
  const Kind kind = kind_from(o, k, nested);
  if (kind == Kind::Appointment) {
    s.kind = "appointment";
    m.kind = model::ItemKind::Appointment;
    m.message_class = "IPM.Appointment";
    model::Appointment a;
    a.start = 1600000000 + static_cast<i64>(r.below(200000000));
    a.end = *a.start + 1800 * static_cast<i64>(1 + r.below(8));
    a.location = "Room " + std::to_string(r.below(500)) + (intl ? " Zürich" : "");
    a.busy_status = 2;
    m.appointment = a;
  } else if (kind == Kind::Contact) {
    s.kind = "contact";
    m.kind = model::ItemKind::Contact;
    m.message_class = "IPM.Contact";
  } else if (kind == Kind::DistList) {
    s.kind = "distlist";
    m.kind = model::ItemKind::DistList;
    m.message_class = "IPM.DistList";
  } else {
    m.message_class = "IPM.Note";
  }
  m.subject = words(r, 2 + static_cast<int>(r.below(7)), intl);
  if (intl) m.subject += " " + std::string(pick(r, kIntl));
  Person from = person(r);
  m.from = {from.name, from.smtp, "", "SMTP"};
  i64 nrcpt = 1 + static_cast<i64>(r.below(4));
  for (i64 i = 0; i < nrcpt; ++i) {
    Person p = person(r);
    auto t = i == 0 ? model::RecipientType::To : (r.chance(0.5) ? model::RecipientType::Cc : model::RecipientType::To);
    m.recipients.push_back({t, {p.name, p.smtp, "", "SMTP"}});
  }
  i64 t0 = 1262304000 + static_cast<i64>(r.below(450000000));
  m.submit_time = t0;
  m.delivery_time = t0 + static_cast<i64>(r.below(600));
  m.creation_time = m.delivery_time;
  m.modification_time = m.delivery_time;
  m.flags.read = r.chance(0.7);
  m.importance = static_cast<i32>(r.below(3));
  m.message_id = "<" + std::to_string(mseed % 1000000007ULL) + "." + std::to_string(seq) + "@gen.mailmill>";
  if (s.kind == "contact") {
    model::Contact c;
    c.display_name = from.name;
    auto sp = from.name.find(' ');
    c.given_name = from.name.substr(0, sp);
    c.surname = from.name.substr(sp + 1);
    c.company = "Example " + std::string(pick(r, kWords));
    c.emails.push_back({from.smtp, from.name});
    c.phones.push_back({"work", "+1 555 " + std::to_string(1000 + r.below(9000))});
    m.subject = from.name;
    m.contact = c;
  }
  if (s.kind == "distlist") {
    // Members with an SMTP address, and some known only by name (an address-book entry).
    model::DistList dl;
    const i64 n = 1 + static_cast<i64>(r.below(6));
    for (i64 i = 0; i < n; ++i) {
      Person p = person(r);
      dl.members.push_back({p.name, r.chance(0.75) ? p.smtp : std::string()});
    }
    m.subject = "List " + std::to_string(seq) + " " + words(r, 1 + static_cast<int>(r.below(3)), intl);
    m.dist_list = std::move(dl);
  }
  // Body: a few paragraphs.
  std::string body;
  int paras = 1 + static_cast<int>(r.below(4));
  for (int i = 0; i < paras; ++i) {
    body += words(r, 10 + static_cast<int>(r.below(60)), intl);
    body += ".\r\n\r\n";
  }
  if (!nested && r.chance(o.rtf_only_ratio)) {
    s.rtf_only = true;
    m.body_rtf = rtf_container(body);
  } else {
    m.body_text = body;
    if (r.chance(o.html_ratio)) {
      m.body_html = "<html><head><meta charset=\"utf-8\"></head><body><p>" + html_escape(body) +
                    "</p></body></html>";
      m.html_charset = "utf-8";
    }
  }
  if (r.chance(o.transport_headers_ratio)) {
    std::string h;
    h += "Received: from mx" + std::to_string(r.below(10)) + ".example.com by mail.example.com; id " +
         std::to_string(r.next() % 1000000) + "\r\n";
    h += "Message-ID: " + m.message_id + "\r\n";
    h += "From: " + from.smtp + "\r\nTo: " + m.recipients[0].address.smtp + "\r\n";
    h += "Subject: generated\r\nMIME-Version: 1.0\r\n\r\n";
    m.transport_headers = h;
  }
  if (!nested && r.chance(o.attachment_ratio)) {
    i64 n = 1 + static_cast<i64>(r.below(3));
    for (i64 i = 0; i < n; ++i) {
      model::Attachment a;
      u64 lo = std::max<u64>(1, o.attachment_min), hi = std::max(lo, o.attachment_max);
      double lsz = std::log(static_cast<double>(lo)) +
                   r.unit() * (std::log(static_cast<double>(hi)) - std::log(static_cast<double>(lo)));
      u64 size = std::min(hi, std::max(lo, static_cast<u64>(std::exp(lsz))));
      u64 ext = r.below(std::size(kExt));
      a.filename = std::string(intl && r.chance(0.5) ? "fichier_été_" : "file_") + std::to_string(i) + kExt[ext];
      a.mime_type = kMime[ext];
      Bytes data(size, '\0');
      r.fill(data.data(), size);
      a.data = std::move(data);
      m.attachments.push_back(std::move(a));
    }
  }
  if (!nested && r.chance(o.embedded_ratio)) {
    model::Attachment a;
    a.kind = model::AttachmentKind::Embedded;
    Shape inner = make_message(o, r.next(), seq, true);
    a.embedded = std::make_unique<model::Message>(std::move(inner.msg));
    a.filename = a.embedded->subject + ".msg";
    m.attachments.push_back(std::move(a));
    s.embedded = 1;
  }
  m.flags.has_attachments = !m.attachments.empty();
  return s;
}

// The PST output: folders and messages straight into pst::PstWriter.
class PstOutput : public Output {
 public:
  explicit PstOutput(std::unique_ptr<pst::PstWriter> w) : w_(std::move(w)) {}
  u64 root() const override { return w_->ipm_subtree_nid(); }
  Result<u64> add_folder(u64 parent, const std::string &name,
                         const std::string &container_class) override {
    return w_->add_folder(parent, name, container_class);
  }
  Result<std::string> add_message(u64 folder, model::Message &m, i64, u64) override {
    auto res = w_->add_message(folder, m);
    if (!res) return res.problem();
    return std::string();
  }
  u64 bytes_written() const override { return w_->bytes_written(); }
  Status finish() override { return w_->finish(); }

 private:
  std::unique_ptr<pst::PstWriter> w_;
};

u64 message_seed(u64 seed, i64 seq) {
  u64 x = seed ^ (0xA0761D6478BD642FULL * static_cast<u64>(seq + 1));
  return splitmix64(x);
}

}  // namespace

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "pst") return OutputFormat::Pst;
  if (name == "mbox") return OutputFormat::Mbox;
  if (name == "eml") return OutputFormat::Eml;
  if (name == "maildir") return OutputFormat::Maildir;
  return std::nullopt;
}

std::optional<u64> parse_byte_size(std::string_view t) {
  u64 v = 0;
  std::size_t i = 0;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
    if (v > (~0ULL - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<u64>(t[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string suffix;
  for (; i < t.size(); ++i) suffix += static_cast<char>(t[i] >= 'a' && t[i] <= 'z' ? t[i] - 32 : t[i]);
  int shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB") shift = 10;
  else if (suffix == "M" || suffix == "MB" || suffix == "MIB") shift = 20;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB") shift = 30;
  else return std::nullopt;
  if (shift && v > (~0ULL >> shift)) return std::nullopt;
  return v << shift;
}

Status generate_items(const GenOptions &o, Output &w, std::FILE *jf, const std::string &jsonl_path,
                      const std::string &top, i64 seq_base, GenStats &st) {
  Rng fr(o.seed ^ 0xF01DE7ULL);

  // Folder tree: each folder goes under the IPM subtree or an earlier folder. MIME stores have
  // no "Top of Personal Folders": their folder paths start below the root.
  struct F {
    u64 nid;
    u64 parent;
    std::string path;
  };
  std::vector<F> mail_folders;
  mail_folders.push_back({w.root(), 0, top});
  for (i64 i = 0; i < std::max<i64>(o.folders, 1); ++i) {
    const F &parent = mail_folders[fr.below(mail_folders.size())];
    std::string name = "Folder " + std::to_string(i);
    if (fr.chance(o.non_ascii_ratio)) name += std::string(" ") + pick(fr, kIntl);
    auto nid = w.add_folder(parent.nid, name, "IPF.Note");
    if (!nid) return nid.problem();
    mail_folders.push_back({*nid, parent.nid, parent.path.empty() ? name : parent.path + "/" + name});
    ++st.folders;
  }
  mail_folders.erase(mail_folders.begin());  // messages go to user folders only
  const u64 n_mail = mail_folders.size();
  // Write targets: the user folders, then Calendar and Contacts (nid 0 while not created).
  std::vector<F> targets = mail_folders;
  targets.push_back({0, w.root(), top + "/Calendar"});
  targets.push_back({0, w.root(), top + "/Contacts"});
  const u64 kCalendar = n_mail, kContacts = n_mail + 1;
  if (o.calendar_ratio > 0) {
    auto nid = w.add_folder(0, "Calendar", "IPF.Appointment");
    if (!nid) return nid.problem();
    targets[kCalendar].nid = *nid;
    ++st.folders;
  }
  if (o.contact_ratio > 0 || o.dist_list_ratio > 0) {
    auto nid = w.add_folder(0, "Contacts", "IPF.Contact");
    if (!nid) return nid.problem();
    targets[kContacts].nid = *nid;
    ++st.folders;
  }

  // Write order of the folders. Outlook fills a store folder by folder (an import, a copy or a
  // move writes one folder's messages as one run of node ids: see the message NIDs of
  // fixtures/pst aspnet__Test_part1.pst and aspnet__Outlook.pst), while choosing each
  // message's folder at random interleaves all folders. The order of the runs matters to
  // libpst: readpst links each NBT entry to its parent by a depth-first walk of the descriptor
  // tree built so far (pst_getDptr from record_descriptor), so an entry costs one step per
  // node that precedes its folder in that walk. Runs in reverse pre-order (the folder the walk
  // reaches last is filled first) leave every folder before the current one empty, so each
  // lookup costs about the number of folders and readpst's time stays linear in the message
  // count; interleaved folders cost it O(messages^2) (bench/README.md, "readpst growth").
  std::vector<u64> rank(targets.size(), 0);  // position of each target in the write order
  {
    std::vector<u64> preorder;
    std::vector<std::pair<u64, u64>> stack{{w.root(), 0}};  // (nid, next child)
    while (!stack.empty()) {
      auto &[nid, next] = stack.back();
      u64 i = next;
      while (i < targets.size() && !(targets[i].nid != 0 && targets[i].parent == nid)) ++i;
      if (i == targets.size()) {
        stack.pop_back();
        continue;
      }
      next = i + 1;
      preorder.push_back(i);
      stack.push_back({targets[i].nid, 0});
    }
    for (u64 p = 0; p < preorder.size(); ++p) rank[preorder[p]] = preorder.size() - 1 - p;
  }

  // Originals that duplicates may copy: seq, folder index (only plain messages).
  struct Orig {
    i64 seq;
    u64 folder;
  };
  // One planned item: where it goes and what it copies. The plan draws from `dr` in seq order
  // exactly as the items are numbered, so the content of item `seq` does not depend on the
  // write order.
  struct Planned {
    i64 seq;
    i64 src_seq;  // seq whose generator builds the item (the original's for copies)
    u64 target;
    i64 dup_of = -1, near_of = -1;
    u64 relay = 0;
  };
  std::vector<Orig> originals;
  Rng dr(o.seed ^ 0xD0D0ULL);
  auto plan_one = [&](i64 seq) {
    Planned p{seq, seq, 0};
    double d = dr.unit();
    u64 folder_idx = dr.below(n_mail);
    if (!originals.empty() && n_mail > 1 && d < o.duplicate_ratio + o.near_duplicate_ratio) {
      const Orig &orig = originals[dr.below(originals.size())];
      p.src_seq = orig.seq;
      // Another folder than the original's.
      folder_idx = (orig.folder + 1 + dr.below(n_mail - 1)) % n_mail;
      if (d < o.duplicate_ratio) {
        p.dup_of = orig.seq;
      } else {
        p.near_of = orig.seq;
        p.relay = dr.below(1000);
      }
    }
    p.target = folder_idx;
    switch (kind_of(o, message_seed(o.seed, p.src_seq))) {
      case Kind::Appointment:
        p.target = kCalendar;
        break;
      case Kind::Contact:
      case Kind::DistList:
        p.target = kContacts;
        break;
      case Kind::Message:
        if (p.dup_of < 0 && p.near_of < 0) originals.push_back({seq, folder_idx});
        break;
    }
    return p;
  };
  // A known item count is planned whole and written folder by folder. With --target-bytes the
  // count is unknown and items are written one by one in seq order (folders interleaved).
  const bool whole_plan = o.messages >= 0 && o.target_bytes == 0;
  std::vector<Planned> plan;
  std::string line;
  try {
    for (i64 seq = 0; o.messages < 0 || seq < o.messages;) {
      if (o.target_bytes > 0 && w.bytes_written() >= o.target_bytes) break;
      if (o.messages < 0 && o.target_bytes == 0) break;
      plan.clear();
      if (whole_plan) {
        plan.reserve(static_cast<u64>(o.messages));
        for (; seq < o.messages; ++seq) plan.push_back(plan_one(seq));
        std::stable_sort(plan.begin(), plan.end(), [&](const Planned &a, const Planned &b) {
          return rank[a.target] < rank[b.target];
        });
      } else {
        plan.push_back(plan_one(seq++));
      }
      for (const Planned &p : plan) {
        Shape s = make_message(o, message_seed(o.seed, p.src_seq), p.src_seq, false);
        std::optional<i64> dup_of, near_of;
        if (p.dup_of >= 0) {
          dup_of = seq_base + p.dup_of;
          ++st.duplicates;
        } else if (p.near_of >= 0) {
          near_of = seq_base + p.near_of;
          ++st.near_duplicates;
          std::string h = "Received: from relay" + std::to_string(p.relay) +
                          ".example.net by mail.example.com; resent\r\n";
          s.msg.transport_headers = h + s.msg.transport_headers;
          if (s.msg.transport_headers.find("\r\n\r\n") == std::string::npos) s.msg.transport_headers += "\r\n";
        }
        const i64 seq_out = seq_base + p.seq;
        const F *folder = &targets[p.target];
        Result<std::string> extra =
            w.add_message(folder->nid, s.msg, p.seq, message_seed(o.seed, p.src_seq));
        if (!extra) return extra.problem();
        ++st.messages;
        st.embedded += s.embedded;

        const model::Message &m = s.msg;
        line.clear();
        line += "{\"seq\":" + std::to_string(seq_out);
        line += ",\"folder\":" + json_str(folder->path);
        line += ",\"kind\":" + json_str(s.kind);
        line += ",\"subject\":" + json_str(m.subject);
        line += ",\"message_id\":" + json_str(m.message_id);
        line += ",\"sender\":" + json_str(m.from.smtp);
        line += ",\"recipients\":[";
        for (u64 i = 0; i < m.recipients.size(); ++i) {
          if (i) line += ',';
          line += json_str(m.recipients[i].address.smtp);
        }
        line += "],\"body_sha256\":" +
                (m.body_text ? json_str(sha256_hex(*m.body_text)) : std::string("null"));
        line += ",\"html_sha256\":" +
                (m.body_html ? json_str(sha256_hex(*m.body_html)) : std::string("null"));
        line += std::string(",\"rtf_only\":") + (s.rtf_only ? "true" : "false");
        line += ",\"attachments\":[";
        bool first = true;
        for (const auto &a : m.attachments) {
          if (a.kind != model::AttachmentKind::ByValue) continue;
          if (!first) line += ',';
          first = false;
          line += "{\"name\":" + json_str(a.filename) +
                  ",\"size\":" + std::to_string(a.data.size()) +
                  ",\"sha256\":" + json_str(sha256_hex(a.data)) + "}";
          ++st.attachments;
          st.attachment_bytes += a.data.size();
        }
        line += "],\"embedded\":" + std::to_string(s.embedded);
        line += ",\"duplicate_of\":" + (dup_of ? std::to_string(*dup_of) : std::string("null"));
        line +=
            ",\"near_duplicate_of\":" + (near_of ? std::to_string(*near_of) : std::string("null"));
        if (m.dist_list) {
          line += ",\"members\":[";
          for (u64 i = 0; i < m.dist_list->members.size(); ++i) {
            const model::DistList::Member &mem = m.dist_list->members[i];
            if (i) line += ',';
            line += "{\"name\":" + json_str(mem.name) + ",\"smtp\":" + json_str(mem.smtp) + "}";
          }
          line += "]";
        }
        line += *extra;
        line += "}\n";
        if (std::fwrite(line.data(), 1, line.size(), jf) != line.size()) {
          return Problem{ProblemCode::OutputWriteFailed, "cannot write " + jsonl_path};
        }
      }
    }
  } catch (const FatalError &e) {
    return Problem{ProblemCode::OutputWriteFailed, e.what()};
  }
  return {};
}

Result<GenStats> generate(const GenOptions &o, const std::string &pst_path, const std::string &jsonl_path) {
  const bool pst_out = o.format == OutputFormat::Pst;
  // MIME stores hold mail only; these item kinds and RTF-only bodies exist only in a PST.
  if (!pst_out && (o.calendar_ratio > 0 || o.contact_ratio > 0 || o.dist_list_ratio > 0 ||
                   o.rtf_only_ratio > 0)) {
    return Problem{ProblemCode::ItemUnsupportedType,
                   "appointments, contacts, distribution lists and RTF-only bodies are "
                   "generated for PST output only"};
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> jf(std::fopen(jsonl_path.c_str(), "wb"), &std::fclose);
  if (!jf) return Problem{ProblemCode::OutputWriteFailed, "cannot create " + jsonl_path};
  std::unique_ptr<Output> out;
  if (pst_out) {
    pst::WriterOptions wo;
    wo.display_name = "Generated " + std::to_string(o.seed);
    wo.encryption = o.permute ? pst::WriterEncryption::Permute : pst::WriterEncryption::None;
    auto wr = pst::PstWriter::create(pst_path, wo);
    if (!wr) return wr.problem();
    out = std::make_unique<PstOutput>(std::move(*wr));
  } else {
    auto mo = create_mime_output(o.format, pst_path, o.eol);
    if (!mo) return mo.problem();
    out = std::move(*mo);
  }
  GenStats st;
  if (Status s = generate_items(o, *out, jf.get(), jsonl_path, pst_out ? "Top of Personal Folders" : "", 0, st); !s)
    return s.problem();
  Status fs = out->finish();
  if (!fs) return fs.problem();
  st.pst_bytes = out->bytes_written();
  if (std::fflush(jf.get()) != 0) return Problem{ProblemCode::OutputWriteFailed, "cannot write " + jsonl_path};
  return st;
}

}  // namespace mm::gen
