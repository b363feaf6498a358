// The EDB output of the generator: Exchange 2013+ table layout as docs/exchange-edb.md states
// it (facts and marked assumptions), written with the ESE writer and edb_blob.cc's encoder.
// The whole database is collected in memory and built by finish().
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "edb_blob.h"
#include "mailmill/gen/edb.h"
#include "mailmill/gen/ese_writer.h"
#include "mailmill/mapi/tags.h"
#include "output.h"
#include "rng.h"

namespace mm::gen {

namespace {

namespace E = mm::gen::ese;
namespace T = mm::mapi::pid;

constexpr u16 kNamedGenerator = 0x8000;

const char *const kOwners[] = {"Alice Archive", "Bob Backup",   "Carol Custodian",
                               "Dave Döring",   "Eve Evidence", "Frank Fileplan"};

u64 filetime(i64 unix_seconds) {
  return static_cast<u64>(unix_seconds + 11644473600LL) * 10000000ULL;
}

Bytes le(u64 v, int n) {
  Bytes out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}

Bytes guid(Rng &r) {
  Bytes g(16, '\0');
  r.fill(g.data(), 16);
  return g;
}

// FolderId / MessageId: 16-byte GUID + 6-byte big-endian GLOBCNT + 4 zero bytes ([A] in the
// fact sheet: only "26 bytes, database GUID + id" is known).
Bytes long_id(const Bytes &db_guid, u64 globcnt) {
  Bytes id = db_guid;
  for (int i = 5; i >= 0; --i) id.push_back(static_cast<char>(globcnt >> (8 * i)));
  id.append(4, '\0');
  return id;
}

// Column ids of the generated tables (the reader finds columns by name).
enum : u32 {
  // Message_n and the message part of embedded-attachment rows
  M_DOC_ID = 1,
  M_HIDDEN = 2,
  M_READ = 3,
  M_HASATTACH = 4,
  M_BODYTYPE = 5,
  M_RECEIVED = 6,
  M_SENT = 7,
  M_SIZE = 8,
  M_FOLDER = 128,
  M_MSGID = 129,
  M_CLASS = 256,
  M_DISPLAY_TO = 257,
  M_BLOB = 258,
  M_RECIPS = 259,
  M_SUBOBJ = 260,
  M_NATIVE = 261,
  M_SEP1 = 262,
  M_SEP2 = 263,
  // Attachment_n
  A_INID = 1,
  A_METHOD = 2,
  A_SIZE = 3,
  A_BODYTYPE = 4,
  A_NAME = 256,
  A_BLOB = 257,
  A_CONTENT = 258,
  A_MSGBLOB = 259,
  A_RECIPS = 260,
  A_SUBOBJ = 261,
  A_NATIVE = 262,
};

E::Column col(u32 id, const char *name, E::ColumnType t, bool compressed = false,
              bool multi = false) {
  E::Column c;
  c.id = id;
  c.name = name;
  c.type = t;
  c.compressed = compressed;
  c.multi_valued = multi;
  if (t == E::ColumnType::Text || t == E::ColumnType::LongText) c.codepage = 1200;
  return c;
}

// One message's columns as the fact sheet lays them out.
struct MessageCells {
  Bytes blob;
  std::vector<Bytes> recipients;
  i32 body_type = 0;
  Bytes native_body;
  Bytes sep1, sep2;  // SeparatedProperty01/02 (NEAR values)
  std::vector<u64> subobjects;
};

Bytes subobjects_blob(const std::vector<u64> &inids) {
  Bytes out = le(inids.size(), 4);
  for (u64 i : inids) out += le(i, 8);
  return out;
}

class EdbOutput : public Output {
 public:
  explicit EdbOutput(const EdbOptions &e) : e_(e) {}

  struct Mailbox {
    u32 number;
    std::string owner;
    Bytes guid, owner_guid, instance_guid, mapping_guid, local_guid;
    E::Table folders, messages, attachments, names;
    std::vector<Bytes> folder_ids;    // by handle
    std::vector<i64> normal, hidden;  // rows per folder handle
    u64 globcnt = 1;
    u32 doc_id = 1;
    u64 inid = 1;
    u64 top = 0;  // handle of Top of Information Store
  };

  void begin_mailbox(u32 number, const std::string &owner, u64 seed) {
    Rng r(seed ^ 0xEDB0ULL);
    Mailbox m;
    m.number = number;
    m.owner = owner;
    m.guid = guid(r);
    m.owner_guid = guid(r);
    m.instance_guid = guid(r);
    m.mapping_guid = guid(r);
    m.local_guid = guid(r);
    const std::string n = std::to_string(number);
    m.folders.name = "Folder_" + n;
    m.folders.columns = {col(1, "MessageCount", E::ColumnType::Long),
                         col(2, "HiddenItemCount", E::ColumnType::Long),
                         col(128, "FolderId", E::ColumnType::Binary),
                         col(129, "ParentFolderId", E::ColumnType::Binary),
                         col(256, "DisplayName", E::ColumnType::LongText),
                         col(257, "ContainerClass", E::ColumnType::LongText, true),
                         col(258, "PropertyBlob", E::ColumnType::LongBinary)};
    m.messages.name = "Message_" + n;
    m.messages.columns = {col(M_DOC_ID, "MessageDocumentId", E::ColumnType::Long),
                          col(M_HIDDEN, "IsHidden", E::ColumnType::Bit),
                          col(M_READ, "IsRead", E::ColumnType::Bit),
                          col(M_HASATTACH, "HasAttachments", E::ColumnType::Bit),
                          col(M_BODYTYPE, "BodyType", E::ColumnType::Long),
                          col(M_RECEIVED, "DateReceived", E::ColumnType::DateTime),
                          col(M_SENT, "DateSent", E::ColumnType::DateTime),
                          col(M_SIZE, "Size", E::ColumnType::LongLong),
                          col(M_FOLDER, "FolderId", E::ColumnType::Binary),
                          col(M_MSGID, "MessageId", E::ColumnType::Binary),
                          col(M_CLASS, "MessageClass", E::ColumnType::LongText, true),
                          col(M_DISPLAY_TO, "DisplayTo", E::ColumnType::LongText, true),
                          col(M_BLOB, "PropertyBlob", E::ColumnType::LongBinary),
                          col(M_RECIPS, "RecipientList", E::ColumnType::LongBinary, false, true),
                          col(M_SUBOBJ, "SubobjectsBlob", E::ColumnType::LongBinary),
                          col(M_NATIVE, "NativeBody", E::ColumnType::LongBinary),
                          col(M_SEP1, "SeparatedProperty01", E::ColumnType::LongBinary),
                          col(M_SEP2, "SeparatedProperty02", E::ColumnType::LongBinary)};
    m.attachments.name = "Attachment_" + n;
    m.attachments.columns = {col(A_INID, "Inid", E::ColumnType::LongLong),
                             col(A_METHOD, "AttachmentMethod", E::ColumnType::Long),
                             col(A_SIZE, "Size", E::ColumnType::LongLong),
                             col(A_BODYTYPE, "BodyType", E::ColumnType::Long),
                             col(A_NAME, "Name", E::ColumnType::LongText, true),
                             col(A_BLOB, "PropertyBlob", E::ColumnType::LongBinary),
                             col(A_CONTENT, "Content", E::ColumnType::LongBinary),
                             col(A_MSGBLOB, "MessagePropertyBlob", E::ColumnType::LongBinary),
                             col(A_RECIPS, "RecipientList", E::ColumnType::LongBinary, false, true),
                             col(A_SUBOBJ, "SubobjectsBlob", E::ColumnType::LongBinary),
                             col(A_NATIVE, "NativeBody", E::ColumnType::LongBinary)};
    m.names.name = "ExtendedPropertyNameMapping_" + n;
    m.names.columns = {
        col(1, "PropNumber", E::ColumnType::Long), col(2, "PropDispId", E::ColumnType::Long),
        col(3, "PropGuid", E::ColumnType::GUID), col(256, "PropName", E::ColumnType::LongText)};
    // PSETID_Common {00062008-0000-0000-C000-000000000046}, LID 0x8580 (a numeric name) and
    // PS_INTERNET_HEADERS {00020386-0000-0000-C000-000000000046} "x-mailmill-generator".
    const Bytes common("\x08\x20\x06\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46", 16);
    const Bytes headers("\x86\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46", 16);
    m.names.rows.push_back(E::Row()
                               .set(1, E::encode_u32(kNamedGenerator))
                               .set(2, E::encode_u32(0))
                               .set(3, headers)
                               .set(256, E::encode_utf16("x-mailmill-generator")));
    m.names.rows.push_back(E::Row()
                               .set(1, E::encode_u32(kNamedGenerator + 1))
                               .set(2, E::encode_u32(0x8580))
                               .set(3, common));
    mbx_.push_back(std::move(m));
    Mailbox &b = mbx_.back();
    // The mailbox root (parent: 26 zero bytes, no name) and Top of Information Store.
    add_folder_row(b, Bytes(26, '\0'), "", "");
    b.top = add_folder_row(b, b.folder_ids[0], "Top of Information Store", "IPF.Note");
  }

  u64 root() const override { return mbx_.back().top; }

  Result<u64> add_folder(u64 parent, const std::string &name, const std::string &cls) override {
    Mailbox &b = mbx_.back();
    return add_folder_row(b, b.folder_ids[parent], name, cls);
  }

  Result<std::string> add_message(u64 folder, model::Message &m, i64, u64) override {
    Mailbox &b = mbx_.back();
    try {
      add_message_row(b, folder, m, false);
    } catch (const std::invalid_argument &e) {
      return Problem{ProblemCode::OutputWriteFailed, std::string("EDB generator: ") + e.what()};
    }
    return std::string();
  }

  u64 bytes_written() const override { return bytes_; }
  Status finish() override { return {}; }

  // Hidden rows, folder counts, then the image.
  Result<E::WriteStats> build(const std::string &path, u64 seed) {
    std::vector<E::Table> tables;
    E::Table mailbox{
        "Mailbox",
        {col(1, "MailboxNumber", E::ColumnType::Long), col(2, "MailboxGuid", E::ColumnType::GUID),
         col(3, "OwnerADGuid", E::ColumnType::GUID),
         col(4, "MailboxInstanceGuid", E::ColumnType::GUID),
         col(5, "MappingSignatureGuid", E::ColumnType::GUID),
         col(256, "MailboxOwnerDisplayName", E::ColumnType::LongText)},
        {}};
    E::Table identity{
        "MailboxIdentity",
        {col(1, "MailboxNumber", E::ColumnType::Long), col(2, "LocalIdGuid", E::ColumnType::GUID)},
        {}};
    for (Mailbox &b : mbx_) {
      for (u64 f = 0; f < b.folder_ids.size(); ++f) {
        for (i64 h = 0; h < e_.hidden_per_folder; ++h) {
          model::Message fai;
          fai.message_class = "IPM.Configuration.Generated." + std::to_string(h);
          fai.subject = "hidden " + std::to_string(h);
          fai.body_text = "configuration";
          add_message_row(b, f, fai, true);
        }
      }
      for (u64 f = 0; f < b.folder_ids.size(); ++f) {
        E::Row &row = b.folders.rows[f];
        row.set(1, E::encode_i32(static_cast<i32>(b.normal[f])));
        row.set(2, E::encode_i32(static_cast<i32>(b.hidden[f])));
      }
      mailbox.rows.push_back(E::Row()
                                 .set(1, E::encode_u32(b.number))
                                 .set(2, b.guid)
                                 .set(3, b.owner_guid)
                                 .set(4, b.instance_guid)
                                 .set(5, b.mapping_guid)
                                 .set(256, E::encode_utf16(b.owner)));
      identity.rows.push_back(E::Row().set(1, E::encode_u32(b.number)).set(2, b.local_guid));
    }
    tables.push_back(std::move(mailbox));
    tables.push_back(std::move(identity));
    for (Mailbox &b : mbx_) {
      tables.push_back(std::move(b.folders));
      tables.push_back(std::move(b.messages));
      tables.push_back(std::move(b.attachments));
      tables.push_back(std::move(b.names));
    }
    E::WriteOptions wo;
    wo.page_size = e_.page_size;
    wo.seed = seed;
    wo.lv_inline_max = e_.lv_inline_max;
    try {
      return E::write_database(path, tables, wo);
    } catch (const std::invalid_argument &ex) {
      return Problem{ProblemCode::OutputWriteFailed, std::string("EDB generator: ") + ex.what()};
    } catch (const FatalError &ex) {
      return Problem{ProblemCode::OutputWriteFailed, ex.what()};
    }
  }

  const std::vector<Mailbox> &mailboxes() const { return mbx_; }

 private:
  u64 add_folder_row(Mailbox &b, const Bytes &parent_id, const std::string &name,
                     const std::string &cls) {
    const Bytes id = long_id(b.guid, b.globcnt++);
    E::Row row;
    row.set(128, id).set(129, parent_id);
    if (!name.empty()) row.set(256, E::encode_utf16(name));
    if (!cls.empty()) row.set(257, E::encode_utf16(cls));
    edb::BlobWriter w;
    w.add_text(T::DISPLAY_NAME, name);
    row.set(258, w.finish());
    b.folders.rows.push_back(std::move(row));
    b.folder_ids.push_back(id);
    b.normal.push_back(0);
    b.hidden.push_back(0);
    return b.folder_ids.size() - 1;
  }

  // A text property inline, or off-page through a NEAR reference when long.
  void text_prop(edb::BlobWriter &w, u16 id, const std::string &v, Bytes &sep, u16 slot) const {
    if (!in_embedded_ && v.size() > e_.blob_inline_max && sep.empty()) {
      sep = v;
      w.add_near(id, edb::T_UNICODE, slot, 0x4e, static_cast<u32>(v.size()));
    } else {
      w.add_text(id, v);
    }
  }

  MessageCells encode_message(Mailbox &b, const model::Message &m) {
    MessageCells c;
    edb::BlobWriter w;
    w.add_text(T::SUBJECT, m.subject);
    if (!m.message_id.empty()) w.add_text(T::INTERNET_MESSAGE_ID, m.message_id);
    if (!m.from.smtp.empty() || !m.from.name.empty()) {
      for (u16 id : {T::SENDER_NAME, T::SENT_REPRESENTING_NAME}) w.add_text(id, m.from.name);
      for (u16 id : {T::SENDER_ADDRTYPE, T::SENT_REPRESENTING_ADDRTYPE}) w.add_text(id, "SMTP");
      for (u16 id : {T::SENDER_EMAIL_ADDRESS, T::SENT_REPRESENTING_EMAIL_ADDRESS,
                     T::SENDER_SMTP_ADDRESS, T::SENT_REPRESENTING_SMTP_ADDRESS})
        w.add_text(id, m.from.smtp);
    }
    if (m.submit_time) w.add_systime(T::CLIENT_SUBMIT_TIME, filetime(*m.submit_time));
    if (m.creation_time) w.add_systime(T::CREATION_TIME, filetime(*m.creation_time));
    if (m.modification_time)
      w.add_systime(T::LAST_MODIFICATION_TIME, filetime(*m.modification_time));
    w.add_long(T::IMPORTANCE, m.importance);
    i32 flags = m.flags.read ? 0x1 : 0;
    if (!m.attachments.empty()) flags |= 0x10;
    w.add_long(T::MESSAGE_FLAGS, flags);
    if (!m.transport_headers.empty())
      text_prop(w, T::TRANSPORT_MESSAGE_HEADERS, m.transport_headers, c.sep2, 2);
    // Native body: HTML when there is one (the text body then rides in the PropertyBlob), else
    // the text, else RTF.
    if (m.body_html) {
      c.body_type = 3;
      c.native_body = *m.body_html;
      w.add_long(T::INTERNET_CPID, 65001);
      if (m.body_text) text_prop(w, T::BODY, *m.body_text, c.sep1, 1);
    } else if (m.body_text) {
      c.body_type = 1;
      c.native_body = *m.body_text;
    } else if (m.body_rtf) {
      c.body_type = 2;
      c.native_body = *m.body_rtf;
    }
    w.add_text(kNamedGenerator, "mailmill");
    w.add_tombstone(T::SENSITIVITY, edb::T_LONG);  // a deleted property: skipped by readers
    c.blob = w.finish(true, 0);
    for (u64 i = 0; i < m.recipients.size(); ++i) {
      const model::Recipient &r = m.recipients[i];
      edb::BlobWriter rw;
      rw.add_long(T::RECIPIENT_TYPE, static_cast<i64>(r.type));
      rw.add_text(T::DISPLAY_NAME, r.address.name);
      rw.add_text(T::ADDRTYPE, "SMTP");
      rw.add_text(T::EMAIL_ADDRESS, r.address.smtp);
      rw.add_text(T::SMTP_ADDRESS, r.address.smtp);
      rw.add_long(T::ROWID, static_cast<i64>(i));
      c.recipients.push_back(rw.finish());
    }
    for (u64 i = 0; i < m.attachments.size(); ++i) {
      c.subobjects.push_back(add_attachment_row(b, m.attachments[i], static_cast<i64>(i)));
    }
    return c;
  }

  u64 add_attachment_row(Mailbox &b, const model::Attachment &a, i64 num) {
    const u64 inid = b.inid++;
    const bool embedded = a.kind == model::AttachmentKind::Embedded && a.embedded;
    const i32 method = embedded ? T::ATTACH_EMBEDDED_MSG : T::ATTACH_BY_VALUE;
    edb::BlobWriter w;
    w.add_long(T::ATTACH_METHOD, method);
    w.add_long(T::ATTACH_NUM, num);
    w.add_long(T::RENDERING_POSITION, -1);
    w.add_text(T::DISPLAY_NAME, a.filename);
    if (!embedded) {
      w.add_text(T::ATTACH_LONG_FILENAME, a.filename);
      if (!a.mime_type.empty()) w.add_text(T::ATTACH_MIME_TAG, a.mime_type);
      w.add_long(T::ATTACH_SIZE, static_cast<i64>(a.data.size()));
    }
    E::Row row;
    row.set(A_INID, E::encode_i64(static_cast<i64>(inid)))
        .set(A_METHOD, E::encode_i32(method))
        .set(A_NAME, E::encode_utf16(a.filename))
        .set(A_BLOB, w.finish());
    if (embedded) {
      // Embedded messages keep every property in their blob (no SeparatedProperty columns on
      // an attachment row in this layout).
      in_embedded_ = true;
      MessageCells c = encode_message(b, *a.embedded);
      in_embedded_ = false;
      row.set(A_MSGBLOB, c.blob).set(A_BODYTYPE, E::encode_i32(c.body_type));
      if (!c.native_body.empty()) row.set(A_NATIVE, c.native_body);
      if (!c.recipients.empty()) row.set_multi(A_RECIPS, c.recipients);
      if (!c.subobjects.empty()) row.set(A_SUBOBJ, subobjects_blob(c.subobjects));
    } else {
      row.set(A_SIZE, E::encode_i64(static_cast<i64>(a.data.size())));
      row.set(A_CONTENT, Bytes(a.data.view()));
      bytes_ += a.data.size();
    }
    b.attachments.rows.push_back(std::move(row));
    return inid;
  }

  void add_message_row(Mailbox &b, u64 folder, const model::Message &m, bool hidden) {
    MessageCells c = encode_message(b, m);
    std::string to;
    for (const model::Recipient &r : m.recipients) {
      if (r.type != model::RecipientType::To) continue;
      if (!to.empty()) to += "; ";
      to += r.address.name;
    }
    E::Row row;
    row.set(M_DOC_ID, E::encode_i32(static_cast<i32>(b.doc_id++)))
        .set(M_HIDDEN, E::encode_bit(hidden))
        .set(M_READ, E::encode_bit(m.flags.read))
        .set(M_HASATTACH, E::encode_bit(!m.attachments.empty()))
        .set(M_BODYTYPE, E::encode_i32(c.body_type))
        .set(M_SIZE, E::encode_i64(static_cast<i64>(c.blob.size() + c.native_body.size())))
        .set(M_FOLDER, b.folder_ids[folder])
        .set(M_MSGID, long_id(b.guid, b.globcnt++))
        .set(M_CLASS, E::encode_utf16(m.message_class.empty() ? "IPM.Note" : m.message_class))
        .set(M_BLOB, c.blob);
    if (m.delivery_time)
      row.set(M_RECEIVED, E::encode_i64(static_cast<i64>(filetime(*m.delivery_time))));
    if (m.submit_time) row.set(M_SENT, E::encode_i64(static_cast<i64>(filetime(*m.submit_time))));
    if (!to.empty()) row.set(M_DISPLAY_TO, E::encode_utf16(to));
    if (!c.recipients.empty()) row.set_multi(M_RECIPS, c.recipients);
    if (!c.subobjects.empty()) row.set(M_SUBOBJ, subobjects_blob(c.subobjects));
    if (!c.native_body.empty()) row.set(M_NATIVE, c.native_body);
    if (!c.sep1.empty()) row.set(M_SEP1, c.sep1);
    if (!c.sep2.empty()) row.set(M_SEP2, c.sep2);
    bytes_ += c.blob.size() + c.native_body.size() + c.sep1.size() + c.sep2.size();
    b.messages.rows.push_back(std::move(row));
    ++(hidden ? b.hidden : b.normal)[folder];
  }

  EdbOptions e_;
  bool in_embedded_ = false;
  std::vector<Mailbox> mbx_;
  u64 bytes_ = 0;
};

}  // namespace

Result<EdbStats> write_edb_corpus(const GenOptions &o, const EdbOptions &e,
                                  const std::string &edb_path, const std::string &jsonl_path) {
  if (o.calendar_ratio > 0 || o.contact_ratio > 0 || o.dist_list_ratio > 0)
    return Problem{
        ProblemCode::ItemUnsupportedType,
        "appointments, contacts and distribution lists are generated for PST output only"};
  if (e.mailboxes < 1 || e.mailboxes > 1000)
    return Problem{ProblemCode::ItemUnsupportedType, "EDB mailboxes must be 1..1000"};
  if (o.messages < 0 || o.target_bytes > 0)
    return Problem{ProblemCode::ItemUnsupportedType, "EDB output needs a message count"};
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> jf(std::fopen(jsonl_path.c_str(), "wb"),
                                                      &std::fclose);
  if (!jf) return Problem{ProblemCode::OutputWriteFailed, "cannot create " + jsonl_path};
  EdbOutput out(e);
  EdbStats st;
  i64 seq_base = 0;
  for (i64 k = 0; k < e.mailboxes; ++k) {
    GenOptions mo = o;
    u64 x = o.seed ^ (0x9E3779B97F4A7C15ULL * static_cast<u64>(k + 1));
    mo.seed = k == 0 ? o.seed : splitmix64(x);
    mo.messages = o.messages / e.mailboxes + (k < o.messages % e.mailboxes ? 1 : 0);
    std::string owner = kOwners[static_cast<u64>(k) % std::size(kOwners)];
    if (k >= static_cast<i64>(std::size(kOwners))) owner += " " + std::to_string(k);
    const u32 number = e.first_mailbox_number + static_cast<u32>(k);
    out.begin_mailbox(number, owner, mo.seed);
    GenStats gs;
    Status s = generate_items(mo, out, jf.get(), jsonl_path,
                              "Mailbox - " + owner + "/Top of Information Store", seq_base, gs);
    if (!s) return s.problem();
    seq_base += mo.messages;
    st.gen.messages += gs.messages;
    st.gen.folders += gs.folders;
    st.gen.attachments += gs.attachments;
    st.gen.embedded += gs.embedded;
    st.gen.duplicates += gs.duplicates;
    st.gen.near_duplicates += gs.near_duplicates;
    st.gen.attachment_bytes += gs.attachment_bytes;
  }
  Result<E::WriteStats> ws = out.build(edb_path, o.seed);
  if (!ws) return ws.problem();
  st.separated_values = ws->separated_values;
  st.compressed_values = ws->compressed_values;
  for (const auto &b : out.mailboxes()) {
    EdbMailboxStats ms;
    ms.number = b.number;
    ms.owner = b.owner;
    ms.folders = static_cast<i64>(b.folder_ids.size());
    for (i64 n : b.normal) ms.messages += n;
    for (i64 n : b.hidden) ms.hidden += n;
    ms.attachment_rows = static_cast<i64>(b.inid - 1);
    st.mailboxes.push_back(std::move(ms));
  }
  st.gen.pst_bytes = static_cast<u64>(ws->pages + 2) * e.page_size;
  if (std::fflush(jf.get()) != 0)
    return Problem{ProblemCode::OutputWriteFailed, "cannot write " + jsonl_path};
  return st;
}

}  // namespace mm::gen
