// Messaging layer of the PST writer ([MS-PST] 2.4): store, name-to-id map, folders, messages,
// recipients, attachments. model::Message -> MAPI properties is the inverse of mapi/to_model.
#include "mailmill/format/pst/writer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include "crc.h"
#include "layout.h"
#include "ltp_build.h"
#include "mailmill/mapi/property.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/util/text.h"
#include "writer_ndb.h"

namespace mm::pst {

namespace {

using ltp::Cell;
using ltp::NodeOut;
using ltp::PropIn;
using ltp::put16;
using ltp::put32;
using ltp::put64;
using ltp::SubnodeIds;
using ltp::SubnodeOut;
using ltp::TcBuilder;
namespace pid = mapi::pid;
using mapi::make_tag;

using Guid = std::array<u8, 16>;

// Property-set GUIDs in stored (little-endian) layout.
constexpr Guid kPsPublicStrings = {0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
constexpr Guid kPsetidAppointment = {0x02, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
constexpr Guid kPsetidAddress = {0x04, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
// MAPI one-off entry id provider ([MS-OXCDATA] 2.2.5.1).
constexpr u8 kOneOffUid[16] = {0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                               0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02};

// The named properties this writer uses; their ids are fixed (0x8000 + index), registered in
// the name-to-id map at creation.
struct NamedDef {
  const Guid *guid;
  bool is_string;
  u32 lid;
  const char *name;
};
const NamedDef kNamed[] = {
    {&kPsPublicStrings, true, 0, "Keywords"},  // 0x8000 categories (PT_MV_UNICODE)
    {&kPsetidAppointment, false, 0x820D, nullptr},  // 0x8001 AppointmentStartWhole
    {&kPsetidAppointment, false, 0x820E, nullptr},  // 0x8002 AppointmentEndWhole
    {&kPsetidAppointment, false, 0x8208, nullptr},  // 0x8003 Location
    {&kPsetidAppointment, false, 0x8215, nullptr},  // 0x8004 AppointmentSubType (all day)
    {&kPsetidAppointment, false, 0x8205, nullptr},  // 0x8005 BusyStatus
    {&kPsetidAddress, false, 0x8083, nullptr},      // 0x8006 Email1EmailAddress
    {&kPsetidAddress, false, 0x8080, nullptr},      // 0x8007 Email1DisplayName
    {&kPsetidAddress, false, 0x8082, nullptr},      // 0x8008 Email1AddressType
    {&kPsetidAddress, false, 0x8093, nullptr},      // 0x8009 Email2EmailAddress
    {&kPsetidAddress, false, 0x8090, nullptr},      // 0x800A Email2DisplayName
    {&kPsetidAddress, false, 0x80A3, nullptr},      // 0x800B Email3EmailAddress
    {&kPsetidAddress, false, 0x80A0, nullptr},      // 0x800C Email3DisplayName
    {&kPsetidAddress, false, 0x8005, nullptr},      // 0x800D FileUnder
    {&kPsetidAppointment, false, 0x8216, nullptr},  // 0x800E AppointmentRecur
    {&kPsetidAppointment, false, 0x8223, nullptr},  // 0x800F Recurring
    {&kPsetidAppointment, false, 0x8233, nullptr},  // 0x8010 TimeZoneStruct
    {&kPsetidAppointment, false, 0x8234, nullptr},  // 0x8011 TimeZoneDescription
    {&kPsetidAddress, false, 0x8055, nullptr},      // 0x8012 DistributionListOneOffMembers
    {&kPsetidAddress, false, 0x8053, nullptr},      // 0x8013 DistributionListName
};
constexpr u16 kIdKeywords = 0x8000;
constexpr u16 kIdApptStart = 0x8001;
constexpr u16 kIdApptEnd = 0x8002;
constexpr u16 kIdLocation = 0x8003;
constexpr u16 kIdAllDay = 0x8004;
constexpr u16 kIdBusy = 0x8005;
constexpr u16 kIdEmail[3] = {0x8006, 0x8009, 0x800B};
constexpr u16 kIdEmailName[3] = {0x8007, 0x800A, 0x800C};
constexpr u16 kIdEmail1Type = 0x8008;
constexpr u16 kIdFileUnder = 0x800D;
constexpr u16 kIdRecur = 0x800E;
constexpr u16 kIdRecurring = 0x800F;
constexpr u16 kIdTimeZoneStruct = 0x8010;
constexpr u16 kIdTimeZoneDescription = 0x8011;
constexpr u16 kIdDlOneOffMembers = 0x8012;
constexpr u16 kIdDlName = 0x8013;

u64 to_filetime(i64 unix_seconds) {
  return static_cast<u64>(unix_seconds + 11644473600LL) * 10000000ULL;
}

Bytes le32(u32 v) {
  Bytes b;
  put32(b, v);
  return b;
}
Bytes le64(u64 v) {
  Bytes b;
  put64(b, v);
  return b;
}

// Collects properties for a PC.
struct Props {
  std::vector<PropIn> v;
  void add(u32 tag, Bytes value) {
    PropIn p;
    p.tag = tag;
    p.value = std::move(value);
    v.push_back(std::move(p));
  }
  void str(u16 id, std::string_view utf8) {
    if (!utf8.empty()) add(make_tag(id, mapi::PT_UNICODE), text::utf8_to_utf16le(utf8));
  }
  void i32v(u16 id, i32 x) { add(make_tag(id, mapi::PT_LONG), le32(static_cast<u32>(x))); }
  void boolean(u16 id, bool x) { add(make_tag(id, mapi::PT_BOOLEAN), Bytes(1, x ? '\1' : '\0')); }
  void time(u16 id, std::optional<i64> t) {
    if (t) add(make_tag(id, mapi::PT_SYSTIME), le64(to_filetime(*t)));
  }
  void bin(u16 id, ByteView b) { add(make_tag(id, mapi::PT_BINARY), Bytes(b)); }
  void view(u16 id, u16 type, ByteView b) {
    PropIn p;
    p.tag = make_tag(id, type);
    p.view = b;
    p.use_view = true;
    v.push_back(std::move(p));
  }
};

// Multi-valued UTF-16 strings: count, offsets, data ([MS-PST] 2.3.3.4.2).
Bytes mv_unicode(const std::vector<std::string> &items) {
  std::vector<Bytes> enc;
  for (const auto &s : items) enc.push_back(text::utf8_to_utf16le(s));
  Bytes out;
  put32(out, static_cast<u32>(enc.size()));
  u32 off = 4 + 4 * static_cast<u32>(enc.size());
  for (const auto &e : enc) {
    put32(out, off);
    off += static_cast<u32>(e.size());
  }
  for (const auto &e : enc) out += e;
  return out;
}

// Multi-valued binary: the same layout as mv_unicode.
Bytes mv_binary(const std::vector<Bytes> &items) {
  Bytes out;
  put32(out, static_cast<u32>(items.size()));
  u32 off = 4 + 4 * static_cast<u32>(items.size());
  for (const auto &e : items) {
    put32(out, off);
    off += static_cast<u32>(e.size());
  }
  for (const auto &e : items) out += e;
  return out;
}

Bytes one_off_entryid(const std::string &name, const std::string &addrtype, const std::string &email) {
  Bytes b(4, '\0');
  b.append(reinterpret_cast<const char *>(kOneOffUid), 16);
  put16(b, 0);                      // version
  b.push_back('\x01');              // flags: MAPI_UNICODE | send-no-rich-info (0x9001 as bytes)
  b.push_back('\x90');
  for (const std::string *s : {&name, &addrtype, &email}) {
    b += text::utf8_to_utf16le(*s);
    put16(b, 0);
  }
  return b;
}

std::string join_names(const model::Message &m, model::RecipientType t) {
  std::string out;
  for (const auto &r : m.recipients) {
    if (r.type != t) continue;
    if (!out.empty()) out += "; ";
    out += r.address.name.empty() ? r.address.smtp : r.address.name;
  }
  return out;
}

struct FolderState {
  u32 nid = 0;
  u32 parent = 0;
  std::string name;
  std::string container_class;
  i64 unread = 0;
  std::vector<u32> children;
  std::unique_ptr<TcBuilder> contents;
};

// Contents-table columns ([MS-PST] 2.4.4.5.1, a subset of the template's columns).
const std::vector<u32> &contents_columns() {
  static const std::vector<u32> cols = {
      make_tag(pid::IMPORTANCE, mapi::PT_LONG),
      make_tag(pid::MESSAGE_CLASS, mapi::PT_UNICODE),
      make_tag(pid::SENSITIVITY, mapi::PT_LONG),
      make_tag(pid::SUBJECT, mapi::PT_UNICODE),
      make_tag(pid::CLIENT_SUBMIT_TIME, mapi::PT_SYSTIME),
      make_tag(pid::SENT_REPRESENTING_NAME, mapi::PT_UNICODE),
      make_tag(pid::DISPLAY_CC, mapi::PT_UNICODE),
      make_tag(pid::DISPLAY_TO, mapi::PT_UNICODE),
      make_tag(pid::MESSAGE_DELIVERY_TIME, mapi::PT_SYSTIME),
      make_tag(pid::MESSAGE_FLAGS, mapi::PT_LONG),
      make_tag(pid::MESSAGE_SIZE, mapi::PT_LONG),
      make_tag(pid::LAST_MODIFICATION_TIME, mapi::PT_SYSTIME),
  };
  return cols;
}

const std::vector<u32> &hierarchy_columns() {
  static const std::vector<u32> cols = {
      make_tag(pid::DISPLAY_NAME, mapi::PT_UNICODE),
      make_tag(pid::CONTENT_COUNT, mapi::PT_LONG),
      make_tag(pid::CONTENT_UNREAD, mapi::PT_LONG),
      make_tag(pid::SUBFOLDERS, mapi::PT_BOOLEAN),
      make_tag(pid::CONTAINER_CLASS, mapi::PT_UNICODE),
  };
  return cols;
}

const std::vector<u32> &recipient_columns() {
  static const std::vector<u32> cols = {
      make_tag(pid::RECIPIENT_TYPE, mapi::PT_LONG),
      make_tag(0x0E0F, mapi::PT_BOOLEAN),  // PidTagResponsibility
      make_tag(0x0FFE, mapi::PT_LONG),     // PidTagObjectType
      make_tag(pid::ENTRYID, mapi::PT_BINARY),
      make_tag(pid::ROWID, mapi::PT_LONG),
      make_tag(pid::DISPLAY_NAME, mapi::PT_UNICODE),
      make_tag(pid::ADDRTYPE, mapi::PT_UNICODE),
      make_tag(pid::EMAIL_ADDRESS, mapi::PT_UNICODE),
      make_tag(0x300B, mapi::PT_BINARY),   // PidTagSearchKey
      make_tag(pid::DISPLAY_TYPE, mapi::PT_LONG),
      make_tag(pid::SMTP_ADDRESS, mapi::PT_UNICODE),
      make_tag(0x39FF, mapi::PT_UNICODE),  // PidTag7BitDisplayName
      make_tag(0x3A40, mapi::PT_BOOLEAN),  // PidTagSendRichInfo
      make_tag(pid::RECIPIENT_DISPLAY_NAME, mapi::PT_UNICODE),
  };
  return cols;
}

// Report recipients ([MS-OXOMSG] 2.2.2.30-36) get these columns too; other messages keep the
// plain recipient table (and their bytes).
const std::vector<u32> &report_recipient_columns() {
  static const std::vector<u32> cols = [] {
    std::vector<u32> c = recipient_columns();
    c.push_back(make_tag(pid::NDR_STATUS_CODE, mapi::PT_LONG));
    c.push_back(make_tag(pid::NDR_DIAG_CODE, mapi::PT_LONG));
    c.push_back(make_tag(pid::NDR_REASON_CODE, mapi::PT_LONG));
    c.push_back(make_tag(pid::SUPPLEMENTARY_INFO, mapi::PT_UNICODE));
    c.push_back(make_tag(pid::REMOTE_MTA, mapi::PT_UNICODE));
    c.push_back(make_tag(pid::REPORT_TIME, mapi::PT_SYSTIME));
    c.push_back(make_tag(pid::DELIVER_TIME, mapi::PT_SYSTIME));
    return c;
  }();
  return cols;
}

const std::vector<u32> &attachment_columns() {
  static const std::vector<u32> cols = {
      make_tag(pid::ATTACH_SIZE, mapi::PT_LONG),
      make_tag(pid::ATTACH_FILENAME, mapi::PT_UNICODE),
      make_tag(pid::ATTACH_METHOD, mapi::PT_LONG),
      make_tag(pid::RENDERING_POSITION, mapi::PT_LONG),
  };
  return cols;
}

Cell cell_str(std::string_view s) {
  Cell c;
  if (!s.empty()) {
    c.present = true;
    c.value = text::utf8_to_utf16le(s);
  }
  return c;
}
Cell cell_bytes(Bytes b) {
  Cell c;
  c.present = !b.empty();
  c.value = std::move(b);
  return c;
}
Cell cell_i32(i32 v) { return Cell{true, le32(static_cast<u32>(v))}; }
Cell cell_bool(bool v) { return Cell{true, Bytes(1, v ? '\1' : '\0')}; }
Cell cell_time(std::optional<i64> t) {
  if (!t) return Cell{};
  return Cell{true, le64(to_filetime(*t))};
}
Cell cell_opt_i32(std::optional<i32> v) { return v ? cell_i32(*v) : Cell{}; }

void add_report_props(Props &p, const model::Report &r) {
  p.str(pid::REPORTING_MTA, r.reporting_mta);
  p.str(pid::REPORT_TEXT, r.report_text);
  p.time(pid::REPORT_TIME, r.report_time);
  p.str(pid::REPORT_DISPOSITION_MODE, r.disposition_mode);
  p.str(pid::ORIGINAL_SUBJECT, r.original_subject);
  p.time(pid::ORIGINAL_SUBMIT_TIME, r.original_submit_time);
  p.str(pid::ORIGINAL_MESSAGE_ID, r.original_message_id);
  p.str(pid::ORIGINAL_SENDER_NAME, r.original_sender_name);
  p.str(pid::ORIGINAL_SENDER_EMAIL_ADDRESS, r.original_sender_email);
  p.str(pid::ORIGINAL_SENDER_ADDRTYPE, r.original_sender_addr_type);
  p.str(pid::ORIGINAL_DISPLAY_TO, r.original_display_to);
  p.str(pid::ORIGINAL_DISPLAY_CC, r.original_display_cc);
}

}  // namespace

struct PstWriter::Impl {
  std::unique_ptr<NdbWriter> ndb;
  WriterOptions opt;
  Bytes record_key;
  u32 next_index = 0x400;  // shared nidIndex counter for folders and messages
  std::map<u32, FolderState> folders;
  u32 ipm = 0, deleted = 0, search_root = 0;
  bool finished = false;

  u32 new_nid(u32 type) { return make_nid(type, next_index++); }

  Bytes entryid(u32 nid) const {
    Bytes b(4, '\0');
    b += record_key;
    put32(b, nid);
    return b;
  }

  u32 make_folder(u32 parent, const std::string &name, const std::string &cls, u32 fixed_nid = 0) {
    u32 nid = fixed_nid ? fixed_nid : new_nid(NID_TYPE_NORMAL_FOLDER);
    FolderState f;
    f.nid = nid;
    f.parent = parent;
    f.name = name;
    f.container_class = cls;
    f.contents = std::make_unique<TcBuilder>(contents_columns());
    folders.emplace(nid, std::move(f));
    if (parent != nid) folders[parent].children.push_back(nid);
    return nid;
  }

  // Builds a message PC with its recipient/attachment subnodes (recursively for embedded).
  NodeOut build_message(const model::Message &m, int depth);
  void write_static_nodes();
  void write_folders();
};

NodeOut PstWriter::Impl::build_message(const model::Message &m, int depth) {
  SubnodeIds ids;
  Props p;
  std::string cls = m.message_class;
  if (cls.empty()) {
    switch (m.kind) {
      case model::ItemKind::Appointment: cls = "IPM.Appointment"; break;
      case model::ItemKind::Contact: cls = "IPM.Contact"; break;
      case model::ItemKind::Task: cls = "IPM.Task"; break;
      case model::ItemKind::StickyNote: cls = "IPM.StickyNote"; break;
      case model::ItemKind::DistList: cls = "IPM.DistList"; break;
      default: cls = "IPM.Note"; break;
    }
  }
  p.str(pid::MESSAGE_CLASS, cls);
  // Subjects starting with a non-ASCII or control character get the U+0001 marker with an
  // empty prefix: libpff otherwise drops the first character (pffexport 20180714, found with
  // a Cyrillic/CJK subject in writer_test). Readers strip the two marker characters.
  if (!m.subject.empty() && (static_cast<u8>(m.subject[0]) >= 0x80 || static_cast<u8>(m.subject[0]) < 0x20)) {
    p.str(pid::SUBJECT, std::string("\x01\x01") + m.subject);
  } else {
    p.str(pid::SUBJECT, m.subject);
  }
  p.str(pid::NORMALIZED_SUBJECT, m.subject);
  p.str(pid::CONVERSATION_TOPIC, m.subject);
  const model::Address &from = m.from.empty() ? m.sender : m.from;
  const model::Address &sender = m.sender.empty() ? m.from : m.sender;
  auto addr_props = [&](const model::Address &a, u16 name, u16 type, u16 email, u16 smtp, u16 eid) {
    if (a.empty()) return;
    std::string at = a.addr_type.empty() ? "SMTP" : a.addr_type;
    std::string em = at == "EX" && !a.x500.empty() ? a.x500 : a.smtp;
    p.str(name, a.name.empty() ? a.smtp : a.name);
    p.str(type, at);
    p.str(email, em);
    p.str(smtp, a.smtp);
    p.bin(eid, one_off_entryid(a.name, at, em));
  };
  addr_props(from, pid::SENT_REPRESENTING_NAME, pid::SENT_REPRESENTING_ADDRTYPE,
             pid::SENT_REPRESENTING_EMAIL_ADDRESS, pid::SENT_REPRESENTING_SMTP_ADDRESS,
             pid::SENT_REPRESENTING_ENTRYID);
  addr_props(sender, pid::SENDER_NAME, pid::SENDER_ADDRTYPE, pid::SENDER_EMAIL_ADDRESS,
             pid::SENDER_SMTP_ADDRESS, pid::SENDER_ENTRYID);
  if (!sender.smtp.empty()) {
    p.bin(pid::SENDER_SEARCH_KEY,
          "SMTP:" + text::to_upper_ascii(sender.smtp) + std::string(1, '\0'));
  }
  p.time(pid::CLIENT_SUBMIT_TIME, m.submit_time);
  p.time(pid::MESSAGE_DELIVERY_TIME, m.delivery_time);
  p.time(pid::CREATION_TIME, m.creation_time ? m.creation_time : m.delivery_time);
  p.time(pid::LAST_MODIFICATION_TIME, m.modification_time ? m.modification_time : m.delivery_time);
  i32 flags = 0;
  if (m.flags.read) flags |= pid::MSGFLAG_READ;
  if (m.flags.draft) flags |= pid::MSGFLAG_UNSENT;
  if (!m.attachments.empty()) flags |= pid::MSGFLAG_HASATTACH;
  p.i32v(pid::MESSAGE_FLAGS, flags);
  p.boolean(pid::HASATTACH, !m.attachments.empty());
  p.i32v(pid::IMPORTANCE, m.importance);
  p.i32v(pid::SENSITIVITY, m.sensitivity);
  if (!m.transport_headers.empty()) {
    p.add(make_tag(pid::TRANSPORT_MESSAGE_HEADERS, mapi::PT_UNICODE),
          text::utf8_to_utf16le(m.transport_headers));
  }
  p.str(pid::INTERNET_MESSAGE_ID, m.message_id);
  p.str(pid::IN_REPLY_TO_ID, m.in_reply_to);
  p.str(pid::INTERNET_REFERENCES, m.references);
  if (m.body_text && !m.body_text->empty()) {
    p.add(make_tag(pid::BODY, mapi::PT_UNICODE), text::utf8_to_utf16le(*m.body_text));
  }
  if (m.body_html && !m.body_html->empty()) {
    p.view(pid::HTML, mapi::PT_BINARY, *m.body_html);
    u32 cp = 65001;
    if (!m.html_charset.empty()) {
      if (auto c = text::charset_to_codepage(m.html_charset)) cp = *c;
    }
    p.i32v(pid::INTERNET_CPID, static_cast<i32>(cp));
  }
  if (m.body_rtf && !m.body_rtf->empty()) {
    p.view(pid::RTF_COMPRESSED, mapi::PT_BINARY, *m.body_rtf);
    p.boolean(pid::RTF_IN_SYNC, m.rtf_in_sync);
  }
  std::string to = m.display_to.empty() ? join_names(m, model::RecipientType::To) : m.display_to;
  std::string cc = m.display_cc.empty() ? join_names(m, model::RecipientType::Cc) : m.display_cc;
  std::string bcc = m.display_bcc.empty() ? join_names(m, model::RecipientType::Bcc) : m.display_bcc;
  p.str(pid::DISPLAY_TO, to);
  p.str(pid::DISPLAY_CC, cc);
  p.str(pid::DISPLAY_BCC, bcc);
  p.i32v(pid::MESSAGE_CODEPAGE, 65001);
  if (m.report) add_report_props(p, *m.report);
  if (!m.categories.empty()) p.add(make_tag(kIdKeywords, mapi::PT_MV_UNICODE), mv_unicode(m.categories));
  if (m.appointment) {
    const model::Appointment &a = *m.appointment;
    p.time(kIdApptStart, a.start);
    p.time(kIdApptEnd, a.end);
    p.str(kIdLocation, a.location);
    p.boolean(kIdAllDay, a.all_day);
    if (a.busy_status) p.i32v(kIdBusy, *a.busy_status);
    // A series keeps its pattern and zone as stored ([MS-OXOCAL] 2.2.1.44, 2.2.1.39).
    if (a.is_recurring) p.boolean(kIdRecurring, true);
    if (!a.recurrence_blob.empty()) p.bin(kIdRecur, a.recurrence_blob);
    if (!a.time_zone_blob.empty()) p.bin(kIdTimeZoneStruct, a.time_zone_blob);
    if (a.time_zone && !a.time_zone->name.empty()) p.str(kIdTimeZoneDescription, a.time_zone->name);
  }
  if (m.contact) {
    const model::Contact &c = *m.contact;
    p.str(pid::DISPLAY_NAME, c.display_name);
    p.str(pid::GIVEN_NAME, c.given_name);
    p.str(pid::SURNAME, c.surname);
    p.str(pid::MIDDLE_NAME, c.middle_name);
    p.str(pid::NICKNAME, c.nickname);
    p.str(pid::COMPANY_NAME, c.company);
    p.str(pid::DEPARTMENT_NAME, c.department);
    p.str(pid::TITLE, c.job_title);
    p.str(kIdFileUnder, c.display_name);
    for (u64 i = 0; i < c.emails.size() && i < 3; ++i) {
      p.str(kIdEmail[i], c.emails[i].address);
      p.str(kIdEmailName[i], c.emails[i].display.empty() ? c.emails[i].address : c.emails[i].display);
    }
    if (!c.emails.empty()) p.str(kIdEmail1Type, "SMTP");
    for (const auto &ph : c.phones) {
      u16 id = ph.type == "home" ? pid::HOME_TELEPHONE_NUMBER
               : ph.type == "cell" || ph.type == "mobile" ? pid::MOBILE_TELEPHONE_NUMBER
               : ph.type == "fax" ? pid::BUSINESS_FAX_NUMBER
                                  : pid::BUSINESS_TELEPHONE_NUMBER;
      p.str(id, ph.number);
    }
    p.str(pid::BUSINESS_HOME_PAGE, c.web_page);
    p.time(pid::BIRTHDAY, c.birthday);
  }

  if (m.dist_list) {
    // One one-off entry id per member ([MS-OXOCNTC] PidLidDistributionListOneOffMembers): SMTP
    // when the member has an address, else type "EX" without one (a member whose entry points
    // into an address book the file does not hold).
    std::vector<Bytes> entries;
    for (const model::DistList::Member &mem : m.dist_list->members) {
      entries.push_back(mem.smtp.empty() ? one_off_entryid(mem.name, "EX", "")
                                         : one_off_entryid(mem.name, "SMTP", mem.smtp));
    }
    p.add(make_tag(kIdDlOneOffMembers, mapi::PT_MV_BINARY), mv_binary(entries));
    p.str(kIdDlName, m.subject);
    p.str(pid::DISPLAY_NAME, m.subject);
  }

  NodeOut out_subs;  // collects message subnodes
  // Recipient table (subnode 0x692); always present.
  {
    const bool report_rows = std::any_of(m.recipients.begin(), m.recipients.end(),
                                         [](const model::Recipient &r) { return r.report; });
    TcBuilder rt(report_rows ? report_recipient_columns() : recipient_columns());
    i32 row = 0;
    for (const auto &r : m.recipients) {
      const model::Address &a = r.address;
      std::string at = a.addr_type.empty() ? "SMTP" : a.addr_type;
      std::string em = at == "EX" && !a.x500.empty() ? a.x500 : a.smtp;
      std::string name = a.name.empty() ? a.smtp : a.name;
      std::vector<Cell> cells = {
          cell_i32(static_cast<i32>(r.type)),
          cell_bool(true),
          cell_i32(6),  // MAPI_MAILUSER
          cell_bytes(one_off_entryid(name, at, em)),
          cell_i32(row),
          cell_str(name),
          cell_str(at),
          cell_str(em),
          cell_bytes(at + ":" + text::to_upper_ascii(em) + std::string(1, '\0')),
          cell_i32(0),
          cell_str(a.smtp),
          cell_str(name),
          cell_bool(false),
          cell_str(name),
      };
      if (report_rows) {
        const model::RecipientReport rr = r.report.value_or(model::RecipientReport{});
        for (const Cell &c :
             {cell_opt_i32(rr.status_code), cell_opt_i32(rr.diag_code),
              cell_opt_i32(rr.reason_code), cell_str(rr.supplementary_info),
              cell_str(rr.remote_mta), cell_time(rr.report_time), cell_time(rr.deliver_time)})
          cells.push_back(c);
      }
      rt.add_row(static_cast<u32>(row), cells);
      ++row;
    }
    SubnodeOut s;
    s.nid = NID_RECIPIENT_TABLE;
    s.node = rt.finish();
    out_subs.subnodes.push_back(std::move(s));
  }
  // Attachments: table (0x671) + one PC per attachment.
  if (!m.attachments.empty()) {
    TcBuilder at(attachment_columns());
    i32 num = 0;
    for (const model::Attachment &a : m.attachments) {
      u32 anid = ids.next(NID_TYPE_ATTACHMENT);
      SubnodeIds aids;
      Props ap;
      i32 method = pid::ATTACH_BY_VALUE;
      u64 size = a.data.size();
      std::unique_ptr<SubnodeOut> object;
      if (a.kind == model::AttachmentKind::Embedded && a.embedded && depth < 32) {
        method = pid::ATTACH_EMBEDDED_MSG;
        object = std::make_unique<SubnodeOut>();
        object->nid = aids.next(NID_TYPE_NORMAL_MESSAGE);
        object->node = build_message(*a.embedded, depth + 1);
        size = 0;
        for (const auto &b : object->node.blocks) size += b.size();
      } else if (a.kind == model::AttachmentKind::Reference) {
        method = pid::ATTACH_BY_REFERENCE;
      } else if (a.kind == model::AttachmentKind::Ole) {
        method = pid::ATTACH_OLE;
      }
      ap.i32v(pid::ATTACH_METHOD, method);
      if (method == pid::ATTACH_EMBEDDED_MSG) {
        PropIn obj;
        obj.tag = make_tag(pid::ATTACH_DATA, mapi::PT_OBJECT);
        obj.object = std::move(object);
        ap.v.push_back(std::move(obj));
      } else if (method != pid::ATTACH_BY_REFERENCE) {
        ap.view(pid::ATTACH_DATA, mapi::PT_BINARY, a.data);
      }
      std::string display = a.filename;
      if (display.empty() && method == pid::ATTACH_EMBEDDED_MSG) display = a.embedded->subject;
      ap.str(pid::ATTACH_LONG_FILENAME, a.filename);
      ap.str(pid::ATTACH_FILENAME, a.filename);
      auto dot = a.filename.rfind('.');
      if (dot != std::string::npos) ap.str(pid::ATTACH_EXTENSION, a.filename.substr(dot));
      ap.str(pid::DISPLAY_NAME, display);
      ap.str(pid::ATTACH_MIME_TAG, a.mime_type);
      ap.str(pid::ATTACH_CONTENT_ID, a.content_id);
      ap.str(pid::ATTACH_CONTENT_LOCATION, a.content_location);
      ap.str(pid::ATTACH_LONG_PATHNAME, a.reference_path);
      ap.i32v(pid::ATTACH_SIZE, static_cast<i32>(std::min<u64>(size, 0x7FFFFFFF)));
      ap.i32v(pid::RENDERING_POSITION, -1);
      ap.i32v(pid::ATTACH_NUM, num);
      if (a.is_inline) ap.boolean(pid::ATTACHMENT_HIDDEN, true);
      ap.time(pid::CREATION_TIME, a.creation_time);
      ap.time(pid::LAST_MODIFICATION_TIME, a.modification_time);
      SubnodeOut as;
      as.nid = anid;
      as.node = ltp::build_pc(std::move(ap.v), aids);
      std::vector<Cell> cells = {
          cell_i32(static_cast<i32>(std::min<u64>(size, 0x7FFFFFFF))),
          cell_str(a.filename.empty() ? display : a.filename),
          cell_i32(method),
          cell_i32(-1),
      };
      at.add_row(anid, cells);
      out_subs.subnodes.push_back(std::move(as));
      ++num;
    }
    SubnodeOut s;
    s.nid = NID_ATTACHMENT_TABLE;
    s.node = at.finish();
    out_subs.subnodes.push_back(std::move(s));
  }
  // PR_MESSAGE_SIZE: an estimate of the stored size (properties + attachments).
  u64 msize = 0;
  for (const auto &pi : p.v) msize += pi.bytes().size() + 8;
  for (const auto &a : m.attachments) msize += a.data.size();
  p.i32v(pid::MESSAGE_SIZE, static_cast<i32>(std::min<u64>(msize, 0x7FFFFFFF)));
  NodeOut pc = ltp::build_pc(std::move(p.v), ids);
  for (auto &s : out_subs.subnodes) pc.subnodes.push_back(std::move(s));
  return pc;
}

// Message store, name-to-id map, templates and search nodes ([MS-PST] 2.7.1).
void PstWriter::Impl::write_static_nodes() {
  SubnodeIds ids;
  {
    Props p;
    p.bin(pid::RECORD_KEY, record_key);
    p.str(pid::DISPLAY_NAME, opt.display_name);
    p.bin(pid::IPM_SUBTREE_ENTRYID, entryid(ipm));
    p.bin(pid::IPM_WASTEBASKET_ENTRYID, entryid(deleted));
    p.bin(pid::FINDER_ENTRYID, entryid(search_root));
    p.i32v(0x35DF, 0x89);  // PidTagValidFolderMask: subtree, wastebasket, finder
    p.i32v(pid::PST_PASSWORD, 0);
    ndb->add_node(NID_MESSAGE_STORE, 0, ltp::build_pc(std::move(p.v), ids));
  }
  {
    // Name-to-id map ([MS-PST] 2.4.7): GUID stream, entry stream, string stream, buckets.
    Bytes guids, entries, strings;
    std::vector<const Guid *> guid_list;
    constexpr u32 kBuckets = 251;
    std::vector<Bytes> buckets(kBuckets);
    for (u64 i = 0; i < std::size(kNamed); ++i) {
      const NamedDef &d = kNamed[i];
      u16 wguid;
      if (d.guid == &kPsPublicStrings) {
        wguid = NAMEID_GUID_PUBLIC_STRINGS;
      } else {
        auto it = std::find(guid_list.begin(), guid_list.end(), d.guid);
        if (it == guid_list.end()) {
          guid_list.push_back(d.guid);
          guids.append(reinterpret_cast<const char *>(d.guid->data()), 16);
          it = guid_list.end() - 1;
        }
        wguid = static_cast<u16>(NAMEID_GUID_STREAM_BASE + (it - guid_list.begin()));
      }
      u32 key;
      u32 hash_value;
      if (d.is_string) {
        Bytes u = text::utf8_to_utf16le(d.name);
        key = static_cast<u32>(strings.size());
        put32(strings, static_cast<u32>(u.size()));
        strings += u;
        while (strings.size() % 4) strings.push_back('\0');
        hash_value = pst_crc(0, u);
      } else {
        key = d.lid;
        hash_value = d.lid;
      }
      u16 guid_n = static_cast<u16>((wguid << 1) | (d.is_string ? 1 : 0));
      Bytes rec;
      put32(rec, key);
      put16(rec, guid_n);
      put16(rec, static_cast<u16>(i));
      entries += rec;
      // Hash bucket record: the same NAMEID with dwPropertyID = hash for string names.
      Bytes hrec;
      put32(hrec, hash_value);
      put16(hrec, guid_n);
      put16(hrec, static_cast<u16>(i));
      buckets[(hash_value ^ guid_n) % kBuckets] += hrec;
    }
    Props p;
    p.i32v(PID_NAMEID_BUCKET_COUNT, kBuckets);
    p.bin(PID_NAMEID_STREAM_GUID, guids);
    p.bin(PID_NAMEID_STREAM_ENTRY, entries);
    p.bin(PID_NAMEID_STREAM_STRING, strings);
    for (u32 b = 0; b < kBuckets; ++b) {
      if (!buckets[b].empty()) p.bin(static_cast<u16>(PID_NAMEID_BUCKET_BASE + b), buckets[b]);
    }
    ndb->add_node(NID_NAME_TO_ID_MAP, 0, ltp::build_pc(std::move(p.v), ids));
  }
  // Table templates: empty tables with the standard columns.
  {
    TcBuilder h(hierarchy_columns());
    ndb->add_node(NID_HIERARCHY_TABLE_TEMPLATE, 0, h.finish());
    TcBuilder c(contents_columns());
    ndb->add_node(NID_CONTENTS_TABLE_TEMPLATE, 0, c.finish());
    TcBuilder a(contents_columns());
    ndb->add_node(NID_ASSOC_CONTENTS_TABLE_TEMPLATE, 0, a.finish());
    TcBuilder s(contents_columns());
    ndb->add_node(NID_SEARCH_CONTENTS_TABLE_TEMPLATE, 0, s.finish());
    TcBuilder at(attachment_columns());
    ndb->add_node(NID_ATTACHMENT_TABLE, 0, at.finish());
    TcBuilder rt(recipient_columns());
    ndb->add_node(NID_RECIPIENT_TABLE, 0, rt.finish());
  }
  // Search-related queues and objects: empty nodes (a zero-length data block each).
  for (u32 nid : {NID_SEARCH_MANAGEMENT_QUEUE, NID_SEARCH_ACTIVITY_LIST, NID_SEARCH_DOMAIN_OBJECT,
                  NID_SEARCH_GATHERER_QUEUE, NID_SEARCH_GATHERER_DESCRIPTOR,
                  NID_SEARCH_GATHERER_FOLDER_QUEUE}) {
    NodeOut empty;
    empty.is_stream = true;
    ndb->add_node(nid, 0, empty);
  }
}

void PstWriter::Impl::write_folders() {
  for (auto &[nid, f] : folders) {
    SubnodeIds ids;
    i64 count = f.contents->rows();
    Props p;
    p.str(pid::DISPLAY_NAME, f.name);
    p.i32v(pid::CONTENT_COUNT, static_cast<i32>(count));
    p.i32v(pid::CONTENT_UNREAD, static_cast<i32>(f.unread));
    p.boolean(pid::SUBFOLDERS, !f.children.empty());
    p.str(pid::CONTAINER_CLASS, f.container_class);
    ndb->add_node(nid, f.parent, ltp::build_pc(std::move(p.v), ids));
    TcBuilder h(hierarchy_columns());
    for (u32 c : f.children) {
      const FolderState &cf = folders[c];
      std::vector<Cell> cells = {cell_str(cf.name), cell_i32(static_cast<i32>(cf.contents->rows())),
                                 cell_i32(static_cast<i32>(cf.unread)), cell_bool(!cf.children.empty()),
                                 cell_str(cf.container_class)};
      h.add_row(c, cells);
    }
    u32 idx = nid_index(nid);
    ndb->add_node(make_nid(NID_TYPE_HIERARCHY_TABLE, idx), 0, h.finish());
    ndb->add_node(make_nid(NID_TYPE_CONTENTS_TABLE, idx), 0, f.contents->finish());
    TcBuilder a(contents_columns());
    ndb->add_node(make_nid(NID_TYPE_ASSOC_CONTENTS_TABLE, idx), 0, a.finish());
  }
}

PstWriter::PstWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PstWriter::~PstWriter() = default;

Result<std::unique_ptr<PstWriter>> PstWriter::create(const std::string &path, WriterOptions options) {
  u8 crypt = options.encryption == WriterEncryption::Permute ? NDB_CRYPT_PERMUTE : NDB_CRYPT_NONE;
  auto ndb = NdbWriter::open(path, crypt);
  if (!ndb) return ndb.problem();
  auto impl = std::make_unique<Impl>();
  impl->ndb = std::move(ndb).value();
  impl->opt = std::move(options);
  impl->record_key = impl->opt.record_key;
  if (impl->record_key.size() != 16) {
    // Deterministic provider uid from the display name (two CRC passes with different seeds).
    Bytes k;
    for (u32 seed : {0x6D61696Cu, 0x6D696C6Cu, 0x70737477u, 0x72697465u}) {
      put32(k, pst_crc(seed, impl->opt.display_name));
    }
    impl->record_key = k;
  }
  Impl &w = *impl;
  w.make_folder(NID_ROOT_FOLDER, "", "", NID_ROOT_FOLDER);
  w.ipm = w.make_folder(NID_ROOT_FOLDER, "Top of Personal Folders", "");
  w.search_root = w.make_folder(NID_ROOT_FOLDER, "Search Root", "");
  w.deleted = w.make_folder(w.ipm, "Deleted Items", "IPF.Note");
  try {
    w.write_static_nodes();
  } catch (const FatalError &e) {
    return Problem{ProblemCode::OutputWriteFailed, e.what()};
  }
  return std::unique_ptr<PstWriter>(new PstWriter(std::move(impl)));
}

u64 PstWriter::ipm_subtree_nid() const { return impl_->ipm; }
u64 PstWriter::deleted_items_nid() const { return impl_->deleted; }

Result<u64> PstWriter::add_folder(u64 parent_nid, const std::string &name, const std::string &container_class) {
  Impl &w = *impl_;
  if (w.finished) return Problem{ProblemCode::LimitExceeded, "add_folder after finish"};
  u32 parent = parent_nid == 0 ? w.ipm : static_cast<u32>(parent_nid);
  if (!w.folders.count(parent)) {
    return Problem{ProblemCode::ItemUnreadable, "unknown parent folder " + std::to_string(parent_nid)};
  }
  return static_cast<u64>(w.make_folder(parent, name, container_class));
}

Result<u64> PstWriter::add_message(u64 folder_nid, const model::Message &message) {
  Impl &w = *impl_;
  if (w.finished) return Problem{ProblemCode::LimitExceeded, "add_message after finish"};
  u32 folder = folder_nid == 0 ? w.ipm : static_cast<u32>(folder_nid);
  auto it = w.folders.find(folder);
  if (it == w.folders.end()) {
    return Problem{ProblemCode::ItemUnreadable, "unknown folder " + std::to_string(folder_nid)};
  }
  u32 nid = w.new_nid(NID_TYPE_NORMAL_MESSAGE);
  NodeOut node = w.build_message(message, 0);
  w.ndb->add_node(nid, folder, node);
  FolderState &f = it->second;
  i32 flags = (message.flags.read ? pid::MSGFLAG_READ : 0) |
              (message.attachments.empty() ? 0 : pid::MSGFLAG_HASATTACH);
  if (!message.flags.read) ++f.unread;
  u64 size = 0;
  for (const auto &b : node.blocks) size += b.size();
  for (const auto &a : message.attachments) size += a.data.size();
  std::string cls = message.message_class.empty() ? "IPM.Note" : message.message_class;
  const model::Address &from = message.from.empty() ? message.sender : message.from;
  std::vector<Cell> cells = {
      cell_i32(message.importance),
      cell_str(cls),
      cell_i32(message.sensitivity),
      cell_str(message.subject),
      cell_time(message.submit_time),
      cell_str(from.name.empty() ? from.smtp : from.name),
      cell_str(message.display_cc.empty() ? join_names(message, model::RecipientType::Cc) : message.display_cc),
      cell_str(message.display_to.empty() ? join_names(message, model::RecipientType::To) : message.display_to),
      cell_time(message.delivery_time),
      cell_i32(flags),
      cell_i32(static_cast<i32>(std::min<u64>(size, 0x7FFFFFFF))),
      cell_time(message.modification_time ? message.modification_time : message.delivery_time),
  };
  f.contents->add_row(nid, cells);
  return static_cast<u64>(nid);
}

Status PstWriter::finish() {
  Impl &w = *impl_;
  if (w.finished) return Problem{ProblemCode::LimitExceeded, "finish called twice"};
  w.finished = true;
  try {
    w.write_folders();
    u32 rgnid[32];
    for (u32 &v : rgnid) v = 0x400;
    rgnid[NID_TYPE_NORMAL_FOLDER] = w.next_index;
    rgnid[NID_TYPE_NORMAL_MESSAGE] = w.next_index;
    rgnid[NID_TYPE_SEARCH_FOLDER] = w.next_index;
    rgnid[NID_TYPE_ASSOC_MESSAGE] = w.next_index;
    rgnid[NID_TYPE_HIERARCHY_TABLE] = w.next_index;
    rgnid[NID_TYPE_CONTENTS_TABLE] = w.next_index;
    rgnid[NID_TYPE_ASSOC_CONTENTS_TABLE] = w.next_index;
    w.ndb->finish(rgnid);
  } catch (const FatalError &e) {
    return Problem{ProblemCode::OutputWriteFailed, e.what()};
  }
  return Status{};
}

u64 PstWriter::bytes_written() const { return impl_->ndb->size(); }

}  // namespace mm::pst
