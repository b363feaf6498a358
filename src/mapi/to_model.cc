#include "mailmill/mapi/to_model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "mailmill/mapi/oneoff.h"
#include "mailmill/mapi/recurrence.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/model/limits.h"
#include "mailmill/util/text.h"

namespace mm::mapi {
namespace {

/// Embedded messages nest at most this deep; deeper ones become Unreadable attachments.
using model::limits::MAX_EMBED_DEPTH;

using text::iequals_ascii;
using text::istarts_with_ascii;
using text::to_hex_upper;
using text::to_lower_ascii;
using text::trim;

// Named property ids ([MS-OXPROPS]).
namespace lid {
constexpr u32 APPOINTMENT_START_WHOLE = 0x820D;
constexpr u32 APPOINTMENT_END_WHOLE = 0x820E;
constexpr u32 LOCATION = 0x8208;
constexpr u32 APPOINTMENT_SUB_TYPE = 0x8215;
constexpr u32 BUSY_STATUS = 0x8205;
constexpr u32 RECURRING = 0x8223;
constexpr u32 GLOBAL_OBJECT_ID = 0x0003;
constexpr u32 REMINDER_DELTA = 0x8501;
constexpr u32 REMINDER_SET = 0x8503;
constexpr u32 TASK_STATUS = 0x8101;
constexpr u32 PERCENT_COMPLETE = 0x8102;
constexpr u32 TASK_START_DATE = 0x8104;
constexpr u32 TASK_DUE_DATE = 0x8105;
constexpr u32 TASK_DATE_COMPLETED = 0x810F;
constexpr u32 TASK_COMPLETE = 0x811C;
constexpr u32 TASK_OWNER = 0x811F;
constexpr u32 EMAIL1_DISPLAY_NAME = 0x8080;
constexpr u32 EMAIL1_ADDRESS_TYPE = 0x8082;
constexpr u32 EMAIL1_EMAIL_ADDRESS = 0x8083;
constexpr u32 EMAIL1_ORIGINAL_DISPLAY_NAME = 0x8084;
constexpr u32 FILE_UNDER = 0x8005;
constexpr u32 WORK_ADDRESS_STREET = 0x8045;
constexpr u32 WORK_ADDRESS_CITY = 0x8046;
constexpr u32 WORK_ADDRESS_STATE = 0x8047;
constexpr u32 WORK_ADDRESS_POSTAL_CODE = 0x8048;
constexpr u32 WORK_ADDRESS_COUNTRY = 0x8049;
constexpr u32 HTML = 0x802B;
constexpr u32 DISTRIBUTION_LIST_ONE_OFF_MEMBERS = 0x8054;
constexpr u32 DISTRIBUTION_LIST_MEMBERS = 0x8055;
constexpr u32 APPOINTMENT_RECUR = 0x8216;
constexpr u32 APPOINTMENT_SEQUENCE = 0x8201;
constexpr u32 TIME_ZONE_STRUCT = 0x8233;
constexpr u32 TIME_ZONE_DESCRIPTION = 0x8234;
constexpr u32 TIME_ZONE_DEFINITION_START_DISPLAY = 0x825E;
constexpr u32 TIME_ZONE_DEFINITION_RECUR = 0x8260;
constexpr u32 EXCEPTION_REPLACE_TIME = 0x8228;
}  // namespace lid

// PidTagResponseRequested ([MS-OXOCAL] 2.2.7.1); not in tags.h.
constexpr u16 PID_RESPONSE_REQUESTED = 0x0063;

// Other tagged ids not (yet) in tags.h.
constexpr u16 PID_ATTACH_DATA = pid::ATTACH_DATA;

// A plausible SMTP addr-spec: one '@', something on both sides, no blanks or X.500 slashes.
bool looks_like_smtp(std::string_view s) {
  const std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return false;
  if (s.find('@', at + 1) != std::string_view::npos) return false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '<' || c == '>' || c == '\r' || c == '\n') return false;
  }
  return s.front() != '/';
}

// Returns the value of header `name` in an RFC 5322 header block, unfolded (RFC 5322 2.2.3).
std::optional<std::string> header_value(std::string_view headers, std::string_view name) {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t eol = headers.find('\n', pos);
    if (eol == std::string_view::npos) eol = headers.size();
    std::string_view line = headers.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line.size() > name.size() && line[name.size()] == ':' && istarts_with_ascii(line, name)) {
      std::string value(line.substr(name.size() + 1));
      std::size_t next = eol + 1;
      while (next < headers.size() && (headers[next] == ' ' || headers[next] == '\t')) {
        std::size_t e2 = headers.find('\n', next);
        if (e2 == std::string_view::npos) e2 = headers.size();
        std::string_view cont = headers.substr(next, e2 - next);
        if (!cont.empty() && cont.back() == '\r') cont.remove_suffix(1);
        value += cont;
        next = e2 + 1;
      }
      return std::string(trim(value));
    }
    pos = eol + 1;
  }
  return std::nullopt;
}

// Extracts the first mailbox's addr-spec from an address header value: the text inside <>
// when present, else a bare addr-spec. Display-name quoting and comments are skipped.
std::optional<std::string> first_mailbox(std::string_view value) {
  bool quoted = false;
  int comment = 0;
  std::size_t token_start = std::string_view::npos;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (comment > 0) {
      if (c == '(')
        ++comment;
      else if (c == ')')
        --comment;
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      ++comment;
    } else if (c == '<') {
      const std::size_t close = value.find('>', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view addr = trim(value.substr(i + 1, close - i - 1));
      if (looks_like_smtp(addr)) return std::string(addr);
      return std::nullopt;
    } else if (c == ',') {
      break;
    }
    if (token_start == std::string_view::npos && c != ' ' && c != '\t') token_start = i;
  }
  // No angle brackets: a bare addr-spec (possibly followed by a comment).
  std::string_view v = value.substr(0, value.find(','));
  const std::size_t paren = v.find('(');
  if (paren != std::string_view::npos) v = v.substr(0, paren);
  v = trim(v);
  if (looks_like_smtp(v)) return std::string(v);
  return std::nullopt;
}

// Finds <meta ... charset=NAME> (or content="...; charset=NAME") in the first 1 KB of HTML.
std::optional<std::string> html_meta_charset(std::string_view html) {
  const std::string head = to_lower_ascii(html.substr(0, 1024));
  std::size_t pos = 0;
  while ((pos = head.find("<meta", pos)) != std::string::npos) {
    const std::size_t end = head.find('>', pos);
    const std::string_view tag = std::string_view(head).substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    const std::size_t cs = tag.find("charset");
    if (cs != std::string_view::npos) {
      std::size_t i = cs + 7;
      while (i < tag.size() && (tag[i] == ' ' || tag[i] == '=')) ++i;
      while (i < tag.size() && (tag[i] == '"' || tag[i] == '\'')) ++i;
      std::size_t j = i;
      while (j < tag.size() && tag[j] != '"' && tag[j] != '\'' && tag[j] != ';' && tag[j] != ' ' &&
             tag[j] != '/' && tag[j] != '>') {
        ++j;
      }
      if (j > i) return std::string(tag.substr(i, j - i));
    }
    if (end == std::string::npos) break;
    pos = end;
  }
  return std::nullopt;
}

// Interprets one property bag with a fixed codepage, collecting warnings for values it had to
// ignore (wrong size/type). Every getter tolerates absence silently.
class Reader {
 public:
  Reader(const PropertyBag &bag, u32 codepage, const NameMap *names, std::vector<Problem> &warnings,
         std::string_view what)
      : bag_(bag), codepage_(codepage), names_(names), warnings_(warnings), what_(what) {}

  u32 codepage() const { return codepage_; }
  const PropertyBag &bag() const { return bag_; }

  std::string str(u16 id) const {
    const Property *p = bag_.find(id);
    if (p == nullptr) return {};
    std::optional<std::string> s = bag_.get_string(id, codepage_);
    if (!s) {
      bad(id, "is not a string");
      return {};
    }
    return *std::move(s);
  }
  std::optional<i32> i32v(u16 id) const {
    const Property *p = bag_.find(id);
    if (p == nullptr) return std::nullopt;
    std::optional<i32> v = bag_.get_i32(id);
    if (!v) bad(id, "is not a well-formed integer");
    return v;
  }
  std::optional<bool> boolv(u16 id) const {
    const Property *p = bag_.find(id);
    if (p == nullptr) return std::nullopt;
    std::optional<bool> v = bag_.get_bool(id);
    if (!v) bad(id, "is not a well-formed boolean");
    return v;
  }
  std::optional<double> dbl(u16 id) const {
    const Property *p = bag_.find(id);
    if (p == nullptr) return std::nullopt;
    std::optional<double> v = bag_.get_double(id);
    if (!v) bad(id, "is not a well-formed floating-point value");
    return v;
  }
  std::optional<i64> time(u16 id) const {
    const Property *p = bag_.find(id);
    if (p == nullptr) return std::nullopt;
    std::optional<i64> v = bag_.get_time(id);
    if (!v) {
      const bool zero = p->value.size() == 8 && load_le64(p->value.data()) == 0;
      if (!zero) bad(id, "is not a valid FILETIME");
    }
    return v;
  }
  std::optional<std::string_view> bytes(u16 id) const { return bag_.get_bytes(id); }

  // Named properties: resolved through the NameMap; absent when there is no map or no name.
  std::optional<u16> named(const std::array<u8, 16> &guid, u32 l) const {
    if (names_ == nullptr) return std::nullopt;
    return names_->id_of(guid, l);
  }
  std::optional<u16> named(const std::array<u8, 16> &guid, std::string_view n) const {
    if (names_ == nullptr) return std::nullopt;
    return names_->id_of(guid, n);
  }
  std::string named_str(const std::array<u8, 16> &guid, u32 l) const {
    const std::optional<u16> id = named(guid, l);
    return id ? str(*id) : std::string();
  }
  std::optional<i32> named_i32(const std::array<u8, 16> &guid, u32 l) const {
    const std::optional<u16> id = named(guid, l);
    return id ? i32v(*id) : std::nullopt;
  }
  std::optional<bool> named_bool(const std::array<u8, 16> &guid, u32 l) const {
    const std::optional<u16> id = named(guid, l);
    return id ? boolv(*id) : std::nullopt;
  }
  std::optional<i64> named_time(const std::array<u8, 16> &guid, u32 l) const {
    const std::optional<u16> id = named(guid, l);
    return id ? time(*id) : std::nullopt;
  }

  void warn(ProblemCode code, std::string detail) const {
    warnings_.push_back(Problem{code, std::move(detail), -1});
  }

 private:
  void bad(u16 id, const char *why) const {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.*s property 0x%04X %s; ignored",
                  static_cast<int>(what_.size()), what_.data(), id, why);
    warn(ProblemCode::ItemUnreadable, buf);
  }

  const PropertyBag &bag_;
  u32 codepage_;
  const NameMap *names_;
  std::vector<Problem> &warnings_;
  std::string_view what_;
};

u32 item_codepage(const PropertyBag &bag, u32 fallback) {
  return item_ansi_codepage(bag).value_or(fallback);
}

model::ItemKind kind_of(std::string_view cls, bool has_content) {
  using model::ItemKind;
  if (cls.empty()) return ItemKind::Message;
  auto is_class = [&](std::string_view base) {
    // "IPM.Task" matches "IPM.Task" and "IPM.Task.Custom" but not "IPM.TaskRequest".
    return iequals_ascii(cls, base) ||
           (istarts_with_ascii(cls, base) && cls.size() > base.size() && cls[base.size()] == '.');
  };
  if (istarts_with_ascii(cls, "IPM.Note") || istarts_with_ascii(cls, "REPORT.") ||
      istarts_with_ascii(cls, "IPM.Schedule.Meeting.")) {
    return ItemKind::Message;
  }
  if (is_class("IPM.Appointment")) return ItemKind::Appointment;
  if (is_class("IPM.Task")) return ItemKind::Task;
  if (is_class("IPM.Contact")) return ItemKind::Contact;
  if (is_class("IPM.DistList")) return ItemKind::DistList;
  if (is_class("IPM.StickyNote")) return ItemKind::StickyNote;
  if (is_class("IPM.Activity")) return ItemKind::Journal;
  (void)has_content;
  return ItemKind::Other;
}

// [MS-OXCMSG] PidTagSubject as stored in PST: when the value begins with U+0001, the next
// character holds the length of the prefix (plus one in some writers); both marker characters
// are not part of the subject. The rest is the full subject, prefix included.
std::string strip_subject_marker(std::string s) {
  if (s.size() >= 2 && s[0] == '\x01') {
    // The length character is a single code point; remove exactly one UTF-8 sequence.
    std::size_t len = 1;
    const auto b = static_cast<u8>(s[1]);
    if (b >= 0xF0)
      len = 4;
    else if (b >= 0xE0)
      len = 3;
    else if (b >= 0xC0)
      len = 2;
    if (1 + len <= s.size()) return s.substr(1 + len);
    return std::string();
  }
  if (s.size() == 1 && s[0] == '\x01') return std::string();
  return s;
}

// Resolves an address from its parts following the order documented in the brief: the
// dedicated SMTP property, an SMTP addrtype, a one-off entry id, an "SMTP:" search key, then
// (for EX senders) a header mailbox. Never invents an address.
struct AddressParts {
  std::string name, addr_type, email, smtp_prop;
  std::optional<std::string_view> entry_id, search_key;
};

model::Address resolve_address(const AddressParts &p, u32 codepage,
                               const std::optional<std::string> &header_mailbox) {
  model::Address a;
  a.name = p.name;
  a.addr_type = p.addr_type;
  std::optional<OneOffEntry> one_off;
  if (p.entry_id) one_off = parse_one_off_entry_id(*p.entry_id, codepage);
  if (a.addr_type.empty() && one_off) a.addr_type = one_off->addr_type;
  if (a.name.empty() && one_off) a.name = one_off->display_name;

  const bool is_ex = iequals_ascii(a.addr_type, "EX");
  if (is_ex) a.x500 = p.email;
  if (is_ex && a.x500.empty() && one_off && iequals_ascii(one_off->addr_type, "EX")) {
    a.x500 = one_off->address;
  }

  if (looks_like_smtp(p.smtp_prop)) {
    a.smtp = p.smtp_prop;
  } else if (iequals_ascii(a.addr_type, "SMTP") && !p.email.empty()) {
    a.smtp = p.email;
  } else if (one_off && iequals_ascii(one_off->addr_type, "SMTP") &&
             looks_like_smtp(one_off->address)) {
    a.smtp = one_off->address;
  } else if (p.search_key && istarts_with_ascii(*p.search_key, "SMTP:")) {
    std::string_view key = p.search_key->substr(5);
    while (!key.empty() && key.back() == '\0') key.remove_suffix(1);
    if (looks_like_smtp(key)) a.smtp = std::string(key);
  }
  if (a.smtp.empty() && a.addr_type.empty() && looks_like_smtp(p.email)) a.smtp = p.email;
  if (a.smtp.empty() && is_ex && header_mailbox) a.smtp = *header_mailbox;
  return a;
}

bool same_party(const model::Address &a, const model::Address &b) {
  if (!a.x500.empty() && !b.x500.empty()) return iequals_ascii(a.x500, b.x500);
  if (!a.smtp.empty() && !b.smtp.empty()) return iequals_ascii(a.smtp, b.smtp) && a.name == b.name;
  return a.name == b.name && a.smtp == b.smtp && a.x500 == b.x500;
}

std::string strip_angles(std::string s) {
  std::string_view v = trim(s);
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

bool contains_icase(std::string_view hay, std::string_view needle) {
  if (needle.empty() || hay.size() < needle.size()) return false;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char x, char y) {
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    return x == y;
  });
  return it != hay.end();
}

class Converter {
 public:
  explicit Converter(const ConvertContext &ctx) : ctx_(ctx) {}

  Result<model::Message> convert(const RawMessage &raw, int depth) {
    if (raw.props.empty()) {
      return Problem{ProblemCode::ItemUnreadable, "item has no properties", -1};
    }
    model::Message m;
    m.warnings = raw.warnings;
    const u32 cp = item_codepage(raw.props, ctx_.default_codepage);
    Reader r(raw.props, cp, ctx_.names, m.warnings, "message");

    m.message_class = r.str(pid::MESSAGE_CLASS);
    convert_subject(r, m);
    convert_bodies(r, m);
    m.kind = kind_of(m.message_class, !m.subject.empty() || m.body_text || m.body_html);

    m.transport_headers = r.str(pid::TRANSPORT_MESSAGE_HEADERS);
    m.message_id = r.str(pid::INTERNET_MESSAGE_ID);
    m.in_reply_to = r.str(pid::IN_REPLY_TO_ID);
    m.references = r.str(pid::INTERNET_REFERENCES);
    m.display_to = r.str(pid::DISPLAY_TO);
    m.display_cc = r.str(pid::DISPLAY_CC);
    m.display_bcc = r.str(pid::DISPLAY_BCC);

    convert_parties(r, m);
    convert_recipients(raw, cp, m);
    if (istarts_with_ascii(m.message_class, "REPORT.")) convert_report(r, m);

    m.submit_time = r.time(pid::CLIENT_SUBMIT_TIME);
    m.delivery_time = r.time(pid::MESSAGE_DELIVERY_TIME);
    m.creation_time = r.time(pid::CREATION_TIME);
    m.modification_time = r.time(pid::LAST_MODIFICATION_TIME);

    convert_flags(r, m);
    convert_categories(r, m);
    convert_attachments(raw, cp, depth, m);
    if (!m.attachments.empty()) m.flags.has_attachments = true;

    if (m.kind == model::ItemKind::Appointment ||
        istarts_with_ascii(m.message_class, "IPM.Schedule.Meeting.")) {
      convert_appointment(r, m);
    }
    if (m.kind == model::ItemKind::Task) convert_task(r, m);
    if (m.kind == model::ItemKind::Contact) convert_contact(r, m);
    if (m.kind == model::ItemKind::DistList) convert_dist_list(r, m);
    return m;
  }

 private:
  void convert_subject(const Reader &r, model::Message &m) {
    if (r.bag().has(pid::SUBJECT)) {
      m.subject = strip_subject_marker(r.str(pid::SUBJECT));
    } else {
      m.subject = r.str(pid::SUBJECT_PREFIX) + r.str(pid::NORMALIZED_SUBJECT);
    }
  }

  void convert_bodies(const Reader &r, model::Message &m) {
    if (r.bag().has(pid::BODY)) m.body_text = r.str(pid::BODY);
    if (const Property *h = r.bag().find(pid::HTML)) {
      if (h->type() == PT_BINARY) {
        Bytes html(h->value);
        m.html_charset = html_charset_for(r, html);
        m.body_html = std::move(html);
      } else if (h->type() == PT_UNICODE || h->type() == PT_STRING8) {
        m.body_html = r.str(pid::HTML);
        m.html_charset = "utf-8";
      } else {
        r.warn(ProblemCode::BodyUndecodable, "HTML body has an unexpected property type; ignored");
      }
    }
    if (std::optional<std::string_view> rtf = r.bytes(pid::RTF_COMPRESSED)) {
      m.body_rtf = Bytes(*rtf);
    }
    m.rtf_in_sync = r.boolv(pid::RTF_IN_SYNC).value_or(false);
  }

  std::string html_charset_for(const Reader &r, std::string_view html) {
    if (std::optional<i32> cpid = r.bag().get_i32(pid::INTERNET_CPID); cpid && *cpid > 0) {
      if (auto name = text::codepage_charset_name(static_cast<u32>(*cpid))) return *name;
    }
    if (std::optional<std::string> meta = html_meta_charset(html)) {
      if (text::charset_to_codepage(*meta)) return *meta;
    }
    if (auto name = text::codepage_charset_name(r.codepage())) return *name;
    return "windows-1252";
  }

  void convert_parties(const Reader &r, model::Message &m) {
    const PropertyBag &b = r.bag();
    std::optional<std::string> from_hdr, sender_hdr;
    if (!m.transport_headers.empty()) {
      if (auto v = header_value(m.transport_headers, "From")) from_hdr = first_mailbox(*v);
      if (auto v = header_value(m.transport_headers, "Sender")) sender_hdr = first_mailbox(*v);
    }
    AddressParts from;
    from.name = r.str(pid::SENT_REPRESENTING_NAME);
    from.addr_type = r.str(pid::SENT_REPRESENTING_ADDRTYPE);
    from.email = r.str(pid::SENT_REPRESENTING_EMAIL_ADDRESS);
    from.smtp_prop = r.str(pid::SENT_REPRESENTING_SMTP_ADDRESS);
    from.entry_id = b.get_bytes(pid::SENT_REPRESENTING_ENTRYID);
    from.search_key = b.get_bytes(pid::SENT_REPRESENTING_SEARCH_KEY);

    AddressParts sender;
    sender.name = r.str(pid::SENDER_NAME);
    sender.addr_type = r.str(pid::SENDER_ADDRTYPE);
    sender.email = r.str(pid::SENDER_EMAIL_ADDRESS);
    sender.smtp_prop = r.str(pid::SENDER_SMTP_ADDRESS);
    sender.entry_id = b.get_bytes(pid::SENDER_ENTRYID);
    sender.search_key = b.get_bytes(pid::SENDER_SEARCH_KEY);

    m.from = resolve_address(from, r.codepage(), from_hdr);
    // The Sender: header names the sender only when it differs from From:; otherwise the
    // sender is the From: mailbox, which is only the right fallback if both are the same party.
    model::Address s =
        resolve_address(sender, r.codepage(), sender_hdr ? sender_hdr : std::nullopt);
    if (s.smtp.empty() && iequals_ascii(s.addr_type, "EX") && !sender_hdr && from_hdr &&
        !s.x500.empty() && iequals_ascii(s.x500, m.from.x500)) {
      s.smtp = *from_hdr;
    }
    if (m.from.empty()) {
      m.from = s;
    } else if (!s.empty() && !same_party(s, m.from)) {
      m.sender = std::move(s);
    }
  }

  void convert_recipients(const RawMessage &raw, u32 cp, model::Message &m) {
    for (const PropertyBag &bag : raw.recipients) {
      Reader r(bag, cp, ctx_.names, m.warnings, "recipient");
      model::Recipient rec;
      const i32 type = r.i32v(pid::RECIPIENT_TYPE).value_or(1);
      switch (type & 0x0F) {
        case 1:
          rec.type = model::RecipientType::To;
          break;
        case 2:
          rec.type = model::RecipientType::Cc;
          break;
        case 3:
          rec.type = model::RecipientType::Bcc;
          break;
        default:
          r.warn(ProblemCode::RecipientsUnreadable,
                 "recipient type " + std::to_string(type) + " unknown; treated as To");
          break;
      }
      AddressParts p;
      p.name = r.str(pid::DISPLAY_NAME);
      if (p.name.empty()) p.name = r.str(pid::RECIPIENT_DISPLAY_NAME);
      p.addr_type = r.str(pid::ADDRTYPE);
      p.email = r.str(pid::EMAIL_ADDRESS);
      p.smtp_prop = r.str(pid::SMTP_ADDRESS);
      p.entry_id = bag.get_bytes(pid::ENTRYID);
      p.search_key = bag.get_bytes(0x300B);  // PR_SEARCH_KEY
      rec.address = resolve_address(p, cp, std::nullopt);
      if (rec.address.empty()) continue;
      if (istarts_with_ascii(m.message_class, "REPORT.")) rec.report = recipient_report(r);
      m.recipients.push_back(std::move(rec));
    }
  }

  // [MS-OXOMSG] 2.2.2: what a delivery, non-delivery or read report says, on the report
  // itself (the original's subject, time, id and sender) and per recipient of the original.
  void convert_report(const Reader &r, model::Message &m) {
    model::Report rep;
    rep.reporting_mta = r.str(pid::REPORTING_MTA);
    rep.report_text = r.str(pid::REPORT_TEXT);
    rep.report_time = r.time(pid::REPORT_TIME);
    rep.disposition_mode = r.str(pid::REPORT_DISPOSITION_MODE);
    rep.original_subject = r.str(pid::ORIGINAL_SUBJECT);
    rep.original_submit_time = r.time(pid::ORIGINAL_SUBMIT_TIME);
    rep.original_message_id = r.str(pid::ORIGINAL_MESSAGE_ID);
    rep.original_sender_name = r.str(pid::ORIGINAL_SENDER_NAME);
    rep.original_sender_email = r.str(pid::ORIGINAL_SENDER_EMAIL_ADDRESS);
    rep.original_sender_addr_type = r.str(pid::ORIGINAL_SENDER_ADDRTYPE);
    rep.original_display_to = r.str(pid::ORIGINAL_DISPLAY_TO);
    rep.original_display_cc = r.str(pid::ORIGINAL_DISPLAY_CC);
    m.report = std::move(rep);
  }

  static model::RecipientReport recipient_report(const Reader &r) {
    model::RecipientReport rr;
    rr.status_code = r.i32v(pid::NDR_STATUS_CODE);
    rr.diag_code = r.i32v(pid::NDR_DIAG_CODE);
    rr.reason_code = r.i32v(pid::NDR_REASON_CODE);
    rr.supplementary_info = r.str(pid::SUPPLEMENTARY_INFO);
    rr.remote_mta = r.str(pid::REMOTE_MTA);
    rr.report_time = r.time(pid::REPORT_TIME);
    rr.deliver_time = r.time(pid::DELIVER_TIME);
    return rr;
  }

  void convert_flags(const Reader &r, model::Message &m) {
    const i32 f = r.i32v(pid::MESSAGE_FLAGS).value_or(0);
    m.flags.read = (f & pid::MSGFLAG_READ) != 0;
    m.flags.draft = (f & pid::MSGFLAG_UNSENT) != 0;
    m.flags.has_attachments = (f & pid::MSGFLAG_HASATTACH) != 0;
    if (r.boolv(pid::HASATTACH).value_or(false)) m.flags.has_attachments = true;
    if (std::optional<i32> verb = r.i32v(pid::LAST_VERB_EXECUTED)) {
      if (*verb == 102 || *verb == 103) m.flags.answered = true;
      if (*verb == 104) m.flags.forwarded = true;
    }
    m.flags.flagged = r.i32v(pid::FLAG_STATUS).value_or(0) == 2;
    if (std::optional<i32> imp = r.i32v(pid::IMPORTANCE)) {
      if (*imp >= 0 && *imp <= 2)
        m.importance = *imp;
      else
        r.warn(ProblemCode::ItemUnreadable, "importance out of range; kept normal");
    }
    if (std::optional<i32> sens = r.i32v(pid::SENSITIVITY)) {
      if (*sens >= 0 && *sens <= 3)
        m.sensitivity = *sens;
      else
        r.warn(ProblemCode::ItemUnreadable, "sensitivity out of range; kept none");
    }
  }

  void convert_categories(const Reader &r, model::Message &m) {
    const std::optional<u16> id = r.named(psetid::PublicStrings, std::string_view("Keywords"));
    if (!id || !r.bag().has(*id)) return;
    std::optional<std::vector<std::string>> cats = r.bag().get_strings(*id, r.codepage());
    if (!cats) {
      r.warn(ProblemCode::ItemUnreadable, "categories (Keywords) malformed; ignored");
      return;
    }
    for (std::string &c : *cats) {
      if (!c.empty()) m.categories.push_back(std::move(c));
    }
  }

  void convert_attachments(const RawMessage &raw, u32 cp, int depth, model::Message &m) {
    std::string_view html;
    if (m.body_html) html = *m.body_html;
    for (const RawAttachment &ra : raw.attachments) {
      Reader r(ra.props, cp, ctx_.names, m.warnings, "attachment");
      model::Attachment a;
      a.filename = r.str(pid::ATTACH_LONG_FILENAME);
      if (a.filename.empty()) a.filename = r.str(pid::ATTACH_FILENAME);
      if (a.filename.empty()) a.filename = r.str(pid::DISPLAY_NAME);
      if (a.filename.empty()) a.filename = "attachment" + r.str(pid::ATTACH_EXTENSION);
      a.mime_type = to_lower_ascii(trim(r.str(pid::ATTACH_MIME_TAG)));
      a.content_id = strip_angles(r.str(pid::ATTACH_CONTENT_ID));
      a.content_location = r.str(pid::ATTACH_CONTENT_LOCATION);
      a.creation_time = r.time(pid::CREATION_TIME);
      a.modification_time = r.time(pid::LAST_MODIFICATION_TIME);
      if (!a.content_id.empty()) {
        const bool hidden = r.boolv(pid::ATTACHMENT_HIDDEN).value_or(false);
        const bool mhtml_ref = (r.i32v(pid::ATTACH_FLAGS).value_or(0) & 4) != 0;
        const bool referenced = contains_icase(html, "cid:" + a.content_id);
        a.is_inline = hidden || mhtml_ref || referenced;
      }

      const std::optional<std::string_view> data = r.bytes(PID_ATTACH_DATA);
      const i32 method = r.i32v(pid::ATTACH_METHOD).value_or(data ? pid::ATTACH_BY_VALUE : 0);
      if (ra.problem) {
        a.kind = model::AttachmentKind::Unreadable;
        a.problem = ra.problem;
      } else if (method == pid::ATTACH_EMBEDDED_MSG) {
        convert_embedded(ra, depth, a);
      } else if (method == pid::ATTACH_BY_REFERENCE || method == pid::ATTACH_BY_REF_RESOLVE ||
                 method == pid::ATTACH_BY_REF_ONLY) {
        a.kind = model::AttachmentKind::Reference;
        a.reference_path = r.str(pid::ATTACH_LONG_PATHNAME);
        if (a.reference_path.empty()) a.reference_path = r.str(pid::ATTACH_PATHNAME);
        a.problem = Problem{ProblemCode::AttachmentNotExportable,
                            "attachment by reference: " + a.reference_path, -1};
      } else if (method == pid::ATTACH_OLE) {
        a.kind = model::AttachmentKind::Ole;
        if (data) {
          a.data = Blob(*data, ra.props.share_storage());
        } else {
          a.problem =
              Problem{ProblemCode::AttachmentNotExportable, "OLE attachment has no data", -1};
        }
      } else if (data) {
        a.kind = model::AttachmentKind::ByValue;
        a.data = Blob(*data, ra.props.share_storage());
      } else {
        a.kind = model::AttachmentKind::Unreadable;
        a.problem = Problem{ProblemCode::AttachmentUnreadable,
                            "attachment (method " + std::to_string(method) + ") has no data", -1};
      }
      m.attachments.push_back(std::move(a));
    }
  }

  void convert_embedded(const RawAttachment &ra, int depth, model::Attachment &a) {
    if (!ra.embedded) {
      a.kind = model::AttachmentKind::Unreadable;
      a.problem = Problem{ProblemCode::EmbeddedUnreadable, "embedded message missing", -1};
      return;
    }
    if (depth + 1 > MAX_EMBED_DEPTH) {
      a.kind = model::AttachmentKind::Unreadable;
      a.problem =
          Problem{ProblemCode::LimitExceeded,
                  "embedded messages nested deeper than " + std::to_string(MAX_EMBED_DEPTH), -1};
      return;
    }
    Result<model::Message> inner = convert(*ra.embedded, depth + 1);
    if (!inner) {
      a.kind = model::AttachmentKind::Unreadable;
      a.problem = Problem{ProblemCode::EmbeddedUnreadable, inner.problem().detail, -1};
      return;
    }
    a.kind = model::AttachmentKind::Embedded;
    a.embedded = std::make_unique<model::Message>(std::move(inner).value());
  }

  void convert_appointment(const Reader &r, model::Message &m) {
    model::Appointment ap;
    ap.start = r.named_time(psetid::Appointment, lid::APPOINTMENT_START_WHOLE);
    ap.end = r.named_time(psetid::Appointment, lid::APPOINTMENT_END_WHOLE);
    ap.location = r.named_str(psetid::Appointment, lid::LOCATION);
    ap.all_day = r.named_bool(psetid::Appointment, lid::APPOINTMENT_SUB_TYPE).value_or(false);
    ap.busy_status = r.named_i32(psetid::Appointment, lid::BUSY_STATUS);
    ap.is_recurring = r.named_bool(psetid::Appointment, lid::RECURRING).value_or(false);
    if (r.named_bool(psetid::Common, lid::REMINDER_SET).value_or(false)) {
      ap.reminder_minutes = r.named_i32(psetid::Common, lid::REMINDER_DELTA);
    }
    if (std::optional<u16> id = r.named(psetid::Meeting, lid::GLOBAL_OBJECT_ID)) {
      if (std::optional<std::string_view> goid = r.bytes(*id))
        ap.global_object_id_hex = to_hex_upper(*goid);
    }
    ap.organizer_name = m.from.name;
    ap.organizer_smtp = m.from.smtp;
    ap.sequence = r.named_i32(psetid::Appointment, lid::APPOINTMENT_SEQUENCE);
    ap.response_requested = r.boolv(PID_RESPONSE_REQUESTED).value_or(false);
    // A global object id with an instance date (bytes 16..19, [MS-OXOCAL] 2.2.1.27) is about
    // one instance of a series; PidLidExceptionReplaceTime is that instance's original start.
    if (ap.global_object_id_hex.size() >= 40 && ap.global_object_id_hex.substr(32, 8) != "00000000")
      ap.instance_start = r.named_time(psetid::Appointment, lid::EXCEPTION_REPLACE_TIME);
    convert_recurrence(r, ap);
    m.appointment = std::move(ap);
  }

  // PidLidAppointmentRecur ([MS-OXOCAL] 2.2.1.44) and the zone its local times are in. A blob
  // that does not parse leaves the item as before (the single instance, is_recurring set)
  // with a warning.
  void convert_recurrence(const Reader &r, model::Appointment &ap) {
    const std::optional<u16> id = r.named(psetid::Appointment, lid::APPOINTMENT_RECUR);
    const std::optional<std::string_view> blob = id ? r.bytes(*id) : std::nullopt;
    if (!blob) return;
    ap.recurrence_blob = Bytes(*blob);
    if (!ap.is_recurring) return;  // a stale pattern of an item that is no longer recurring
    Result<ParsedRecurrence> parsed = parse_appointment_recurrence(*blob, r.codepage());
    if (!parsed) {
      r.warn(ProblemCode::ItemUnreadable,
             parsed.problem().detail + " at offset " + std::to_string(parsed.problem().offset) +
                 "; recurrence not exported (single instance kept)");
      return;
    }
    for (const std::string &n : parsed->notes) r.warn(ProblemCode::ItemUnreadable, n);
    ap.recurrence = std::move(parsed->recurrence);

    // The zone: the definition for the recurrence (2.2.1.42), else TZSTRUCT (2.2.1.39), else
    // the start's display zone (2.2.1.41).
    auto named_blob = [&](u32 l) -> std::optional<std::string_view> {
      const std::optional<u16> pid = r.named(psetid::Appointment, l);
      return pid ? r.bytes(*pid) : std::nullopt;
    };
    std::optional<model::TimeZone> tz;
    if (auto def = named_blob(lid::TIME_ZONE_DEFINITION_RECUR)) tz = parse_time_zone_definition(*def);
    if (!tz) {
      if (auto st = named_blob(lid::TIME_ZONE_STRUCT)) {
        tz = parse_time_zone_struct(*st);
        if (tz) ap.time_zone_blob = Bytes(*st);
      }
    }
    if (!tz) {
      if (auto def = named_blob(lid::TIME_ZONE_DEFINITION_START_DISPLAY))
        tz = parse_time_zone_definition(*def);
    }
    if (tz && tz->name.empty()) tz->name = r.named_str(psetid::Appointment, lid::TIME_ZONE_DESCRIPTION);
    if (!tz && ap.start) {
      // Zone unknown: a fixed offset taken from the first instance, whose UTC start is
      // PidLidAppointmentStartWhole. The renderer writes times in UTC for such a zone (it has
      // no name), so DST changes within the series are not followed.
      const i64 offset = ap.recurrence->start - *ap.start;
      if (offset % 60 == 0 && offset > -14 * 3600 && offset < 14 * 3600) {
        tz = model::TimeZone{};
        tz->bias = static_cast<i32>(-offset / 60);
      }
    }
    if (!tz || tz->name.empty()) {
      r.warn(ProblemCode::ItemUnreadable,
             "recurring appointment has no time zone; instances written in UTC");
    }
    ap.time_zone = std::move(tz);
  }

  void convert_task(const Reader &r, model::Message &m) {
    model::Task t;
    t.start = r.named_time(psetid::Task, lid::TASK_START_DATE);
    t.due = r.named_time(psetid::Task, lid::TASK_DUE_DATE);
    t.completed = r.named_time(psetid::Task, lid::TASK_DATE_COMPLETED);
    if (std::optional<u16> id = r.named(psetid::Task, lid::PERCENT_COMPLETE)) {
      t.percent_complete = r.dbl(*id);
    }
    t.status = r.named_i32(psetid::Task, lid::TASK_STATUS);
    t.complete = r.named_bool(psetid::Task, lid::TASK_COMPLETE).value_or(false);
    t.owner = r.named_str(psetid::Task, lid::TASK_OWNER);
    m.task = std::move(t);
  }

  void convert_contact(const Reader &r, model::Message &m) {
    model::Contact c;
    c.display_name = r.str(pid::DISPLAY_NAME);
    if (c.display_name.empty()) c.display_name = r.named_str(psetid::Address, lid::FILE_UNDER);
    c.given_name = r.str(pid::GIVEN_NAME);
    c.surname = r.str(pid::SURNAME);
    c.middle_name = r.str(pid::MIDDLE_NAME);
    c.nickname = r.str(pid::NICKNAME);
    c.title_prefix = r.str(pid::DISPLAY_NAME_PREFIX);
    c.suffix = r.str(pid::GENERATION);
    c.company = r.str(pid::COMPANY_NAME);
    c.department = r.str(pid::DEPARTMENT_NAME);
    c.job_title = r.str(pid::TITLE);
    // Email1..3 share one layout: display name at base, addrtype +2, address +3,
    // original display name +4 ([MS-OXOCNTC] 2.2.1.2).
    for (u32 base : {lid::EMAIL1_DISPLAY_NAME, lid::EMAIL1_DISPLAY_NAME + 0x10u,
                     lid::EMAIL1_DISPLAY_NAME + 0x20u}) {
      const u32 off = base - lid::EMAIL1_DISPLAY_NAME;
      std::string addr = r.named_str(psetid::Address, lid::EMAIL1_EMAIL_ADDRESS + off);
      const std::string type = r.named_str(psetid::Address, lid::EMAIL1_ADDRESS_TYPE + off);
      if (iequals_ascii(type, "EX")) {
        const std::string orig =
            r.named_str(psetid::Address, lid::EMAIL1_ORIGINAL_DISPLAY_NAME + off);
        if (looks_like_smtp(orig)) addr = orig;
      }
      if (addr.empty()) continue;
      c.emails.push_back({std::move(addr), r.named_str(psetid::Address, base)});
    }
    const std::pair<u16, const char *> phones[] = {
        {pid::BUSINESS_TELEPHONE_NUMBER, "work"}, {pid::HOME_TELEPHONE_NUMBER, "home"},
        {pid::MOBILE_TELEPHONE_NUMBER, "cell"},   {pid::BUSINESS_FAX_NUMBER, "fax"},
        {pid::HOME_FAX_NUMBER, "home-fax"},       {pid::PAGER_TELEPHONE_NUMBER, "pager"},
        {pid::PRIMARY_TELEPHONE_NUMBER, "main"},
    };
    for (const auto &[id, type] : phones) {
      std::string n = r.str(id);
      if (!n.empty()) c.phones.push_back({type, std::move(n)});
    }
    model::Contact::PostalAddress work{"work",
                                       r.named_str(psetid::Address, lid::WORK_ADDRESS_STREET),
                                       r.named_str(psetid::Address, lid::WORK_ADDRESS_CITY),
                                       r.named_str(psetid::Address, lid::WORK_ADDRESS_STATE),
                                       r.named_str(psetid::Address, lid::WORK_ADDRESS_POSTAL_CODE),
                                       r.named_str(psetid::Address, lid::WORK_ADDRESS_COUNTRY)};
    if (work.street.empty() && work.city.empty() && work.region.empty() &&
        work.postal_code.empty() && work.country.empty()) {
      work = {"work",
              r.str(pid::STREET_ADDRESS),
              r.str(pid::LOCALITY),
              r.str(pid::STATE_OR_PROVINCE),
              r.str(pid::POSTAL_CODE),
              r.str(pid::COUNTRY)};
    }
    model::Contact::PostalAddress home{"home",
                                       r.str(pid::HOME_ADDRESS_STREET),
                                       r.str(pid::HOME_ADDRESS_CITY),
                                       r.str(pid::HOME_ADDRESS_STATE_OR_PROVINCE),
                                       r.str(pid::HOME_ADDRESS_POSTAL_CODE),
                                       r.str(pid::HOME_ADDRESS_COUNTRY)};
    for (model::Contact::PostalAddress *pa : {&work, &home}) {
      if (!pa->street.empty() || !pa->city.empty() || !pa->region.empty() ||
          !pa->postal_code.empty() || !pa->country.empty()) {
        c.addresses.push_back(std::move(*pa));
      }
    }
    c.web_page = r.named_str(psetid::Address, lid::HTML);
    if (c.web_page.empty()) c.web_page = r.str(pid::BUSINESS_HOME_PAGE);
    if (c.web_page.empty()) c.web_page = r.str(pid::PERSONAL_HOME_PAGE);
    c.birthday = r.time(pid::BIRTHDAY);
    if (m.body_text) c.notes = *m.body_text;
    m.contact = std::move(c);
  }

  void convert_dist_list(const Reader &r, model::Message &m) {
    model::DistList dl;
    std::optional<std::vector<std::string_view>> entries;
    for (u32 l : {lid::DISTRIBUTION_LIST_ONE_OFF_MEMBERS, lid::DISTRIBUTION_LIST_MEMBERS}) {
      const std::optional<u16> id = r.named(psetid::Address, l);
      if (!id) continue;
      entries = mv_binary(r.bag(), *id);
      if (entries) break;
      if (r.bag().has(*id)) {
        r.warn(ProblemCode::ItemUnreadable, "distribution list members malformed; ignored");
      }
    }
    i64 unresolved = 0;
    if (entries) {
      for (std::string_view e : *entries) {
        std::optional<OneOffEntry> one = parse_one_off_entry_id(e, r.codepage());
        if (!one) {
          ++unresolved;
          continue;
        }
        model::DistList::Member mem;
        mem.name = one->display_name;
        if (iequals_ascii(one->addr_type, "SMTP") && looks_like_smtp(one->address))
          mem.smtp = one->address;
        dl.members.push_back(std::move(mem));
      }
    }
    if (unresolved > 0) {
      r.warn(ProblemCode::ItemUnreadable,
             std::to_string(unresolved) + " distribution list member(s) not one-off; skipped");
    }
    m.dist_list = std::move(dl);
  }

  // PT_MV_BINARY: u32 count, count x u32 offsets, data (see property.h).
  static std::optional<std::vector<std::string_view>> mv_binary(const PropertyBag &bag, u16 id) {
    const Property *p = bag.find(id);
    if (p == nullptr || p->type() != PT_MV_BINARY) return std::nullopt;
    const ByteView v = p->value;
    if (v.size() < 4) return std::nullopt;
    const u64 count = load_le32(v.data());
    if (4 + count * 4 > v.size()) return std::nullopt;
    std::vector<std::string_view> out;
    for (u64 i = 0; i < count; ++i) {
      const u64 begin = load_le32(v.data() + 4 + 4 * i);
      const u64 end = i + 1 < count ? load_le32(v.data() + 4 + 4 * (i + 1)) : v.size();
      if (begin < 4 + count * 4 || begin > end || end > v.size()) return std::nullopt;
      out.push_back(v.substr(begin, end - begin));
    }
    return out;
  }

  const ConvertContext &ctx_;
};

}  // namespace

Result<model::Message> to_model(const RawMessage &raw, const ConvertContext &ctx) {
  // Nothing may escape into a TBB body; an exception here is our bug, reported per item.
  try {
    Converter c(ctx);
    return c.convert(raw, 0);
  } catch (const std::exception &e) {
    return Problem{ProblemCode::InternalError, std::string("to_model: ") + e.what(), -1};
  }
}

namespace {

// PT_STRING8 values are in the writer's Windows ANSI codepage, never in an Internet encoding
// such as iso-2022-jp: map Internet codepages to the ANSI codepage of the same script.
u32 ansi_for_internet(u32 cp) {
  switch (cp) {
    case 50220: case 50221: case 50222: case 51932: case 20932: return 932;
    case 52936: case 54936: case 20936: return 936;
    case 51949: case 50225: return 949;
    case 20866: case 21866: case 28595: return 1251;
    case 28591: case 28605: case 20127: return 1252;
    case 28592: return 1250;
    case 28597: return 1253;
    case 28599: return 1254;
    case 28598: case 38598: return 1255;
    case 28596: return 1256;
    case 28594: case 28603: return 1257;
    default: return cp;
  }
}

// ANSI codepage of a Windows locale (LCID), by primary language ([MS-LCID]).
std::optional<u32> ansi_for_lcid(u32 lcid) {
  switch (lcid) {
    case 0x0404: case 0x0C04: case 0x1404: return 950;  // zh-TW, zh-HK, zh-MO
    case 0x0804: case 0x1004: return 936;                // zh-CN, zh-SG
    default: break;
  }
  switch (lcid & 0x3FF) {
    case 0x11: return 932;                                  // Japanese
    case 0x12: return 949;                                  // Korean
    case 0x19: case 0x22: case 0x23: case 0x02: case 0x2F: case 0x1C: return 1251;
    case 0x05: case 0x15: case 0x0E: case 0x18: case 0x1B: case 0x24: case 0x1A: return 1250;
    case 0x08: return 1253;                                 // Greek
    case 0x1F: case 0x2C: return 1254;                      // Turkish, Azeri
    case 0x0D: return 1255;                                 // Hebrew
    case 0x01: case 0x29: case 0x20: return 1256;           // Arabic, Farsi, Urdu
    case 0x25: case 0x26: case 0x27: return 1257;           // Baltic
    case 0x2A: return 1258;                                 // Vietnamese
    case 0x1E: return 874;                                  // Thai
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<u32> item_ansi_codepage(const PropertyBag &props) {
  for (u16 id : {pid::MESSAGE_CODEPAGE, pid::INTERNET_CPID}) {
    std::optional<i32> cp = props.get_i32(id);
    // PR_INTERNET_CPID is the charset of the Internet form (often UTF-8 or UTF-16), not of
    // the item's 8-bit strings: a Unicode one says nothing about them (a .msg with CPID 65001
    // and locale 1031 stores windows-1252 strings).
    if (id == pid::INTERNET_CPID && cp &&
        (*cp == 65000 || *cp == 65001 || *cp == 1200 || *cp == 1201))
      continue;
    if (cp && *cp > 0) {
      u32 ansi = ansi_for_internet(static_cast<u32>(*cp));
      if (text::codepage_charset_name(ansi)) return ansi;
    }
  }
  if (std::optional<i32> lcid = props.get_i32(pid::MESSAGE_LOCALE_ID); lcid && *lcid > 0)
    return ansi_for_lcid(static_cast<u32>(*lcid));
  return std::nullopt;
}

}  // namespace mm::mapi
