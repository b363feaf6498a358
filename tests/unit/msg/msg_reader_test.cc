// The .msg reader against .msg files built here from [MS-OXMSG] (msg_builder.h over
// cfb_builder.h), so every value read back is known: Unicode and ANSI files, fixed and
// variable properties, multi-valued ones, recipients, by-value and embedded attachments, the
// named-property map; then damaged files, which must give Problems or warnings, never a crash.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "mailmill/format/msg/msg.h"
#include "mailmill/mapi/tags.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/model/limits.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "msg_builder.h"
#include "test_support.h"

namespace mm::msg {
namespace {

using mapi::make_tag;
using mm::testing::build_msg;
using mm::testing::CfbNode;
using mm::testing::le32;
using mm::testing::MsgObject;
using mm::testing::MsgProp;
using mm::testing::NamedEntry;

Bytes u16s(std::string_view utf8) { return text::utf8_to_utf16le(utf8); }
Bytes le64(u64 v) { return mm::testing::le64(v); }

const std::array<u8, 16> CUSTOM_GUID =
    mapi::guid_from_string("11223344-5566-7788-99AA-BBCCDDEEFF00");

/// A Unicode message with one of everything.
MsgObject full_message() {
  MsgObject m;
  m.props = {
      MsgProp::stream(make_tag(0x001A, mapi::PT_UNICODE), u16s("IPM.Note")),
      MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("Grüße aus Köln")),
      MsgProp::stream(make_tag(0x0C1A, mapi::PT_UNICODE), u16s("Sender Name") + Bytes(2, '\0')),
      MsgProp::stream(make_tag(0x1000, mapi::PT_UNICODE), u16s("Body text\r\n")),
      MsgProp::fixed(make_tag(0x0017, mapi::PT_LONG), le32(2)),
      MsgProp::fixed(make_tag(0x0E1B, mapi::PT_BOOLEAN), Bytes("\x01", 1)),
      MsgProp::fixed(make_tag(0x0039, mapi::PT_SYSTIME), le64(0x01D2'3456'789A'BCDEull)),
      MsgProp::fixed(make_tag(0x0E08, mapi::PT_I8), le64(0x1122334455667788ull)),
      MsgProp::fixed(make_tag(0x4001, mapi::PT_SHORT), Bytes("\xFE\xFF", 2)),
      MsgProp::fixed(make_tag(0x4002, mapi::PT_DOUBLE), le64(0x400921FB54442D18ull)),
      MsgProp::fixed(make_tag(0x3FFD, mapi::PT_LONG), le32(1252)),
      MsgProp::stream(make_tag(0x0FFF, mapi::PT_BINARY), Bytes("\x00\x01\x02\x03\xFF", 5)),
      MsgProp::stream(make_tag(0x4003, mapi::PT_CLSID),
                      Bytes(reinterpret_cast<const char *>(CUSTOM_GUID.data()), 16)),
      MsgProp::stream(make_tag(0x4004, mapi::PT_MV_LONG), le32(7) + le32(8) + le32(0xFFFFFFFF)),
      MsgProp::multi(make_tag(0x8000, mapi::PT_MV_UNICODE),
                     {u16s("Red") + Bytes(2, '\0'), u16s("Grün") + Bytes(2, '\0'), Bytes()}),
      MsgProp::multi(make_tag(0x4005, mapi::PT_MV_BINARY),
                     {Bytes("ab", 2), Bytes(), Bytes(3, '\0')}),
      MsgProp::fixed(make_tag(0x8001, mapi::PT_SYSTIME), le64(0x01D0'0000'0000'0000ull)),
      MsgProp::stream(make_tag(0x8002, mapi::PT_UNICODE), u16s("named string")),
  };
  for (int i = 0; i < 2; ++i) {
    MsgObject r;
    const std::string name = i == 0 ? "Alice Example" : "Bob Example";
    const std::string addr = i == 0 ? "alice@example.com" : "bob@example.com";
    r.props = {MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s(name)),
               MsgProp::stream(make_tag(0x3002, mapi::PT_UNICODE), u16s("SMTP")),
               MsgProp::stream(make_tag(0x3003, mapi::PT_UNICODE), u16s(addr)),
               MsgProp::fixed(make_tag(0x0C15, mapi::PT_LONG), le32(i == 0 ? 1 : 2))};
    m.recipients.push_back(r);
  }
  // A by-value attachment big enough for regular sectors, and an embedded message.
  Bytes data(5000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7 + 3) & 0xFF);
  MsgObject a;
  a.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(1)),
             MsgProp::stream(make_tag(0x3707, mapi::PT_UNICODE), u16s("data.bin")),
             MsgProp::stream(make_tag(0x3701, mapi::PT_BINARY), data)};
  m.attachments.push_back(a);
  MsgObject e;
  e.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(5)),
             MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("Inner")),
             MsgProp::fixed(make_tag(0x3701, mapi::PT_OBJECT), le32(0xFFFFFFFF))};
  MsgObject inner;
  inner.props = {
      MsgProp::stream(make_tag(0x001A, mapi::PT_UNICODE), u16s("IPM.Note")),
      MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("Inner subject")),
      MsgProp::fixed(make_tag(0x8001, mapi::PT_SYSTIME), le64(0x01D1'0000'0000'0000ull))};
  MsgObject ir;
  ir.props = {MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("Carol"))};
  inner.recipients.push_back(ir);
  e.embedded.push_back(inner);
  m.attachments.push_back(e);
  return m;
}

CfbNode full_nameid() {
  return mm::testing::nameid_storage(
      {CUSTOM_GUID, mapi::psetid::Appointment},
      {NamedEntry{0, 2, true, 0, u"Keywords"}, NamedEntry{1, 4, false, 0x820D, {}},
       NamedEntry{2, 3, true, 0, u"x-custom-name"}, NamedEntry{3, 1, false, 0x8501, {}}});
}

std::string str(const mapi::PropertyBag &bag, u16 id, u32 cp = 0) {
  return bag.get_string(id, cp).value_or("<absent>");
}

TEST(MsgReader, UnicodeMessageReadsEveryField) {
  const Bytes file = build_msg(full_message(), {full_nameid()});
  Result<mapi::RawMessage> r = read_msg(file);
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  const mapi::RawMessage &m = *r;
  for (const Problem &w : m.warnings) ADD_FAILURE() << "unexpected warning: " << w.detail;
  EXPECT_EQ(m.codepage, 0u) << "a Unicode file names no ANSI codepage";

  EXPECT_EQ(str(m.props, 0x001A), "IPM.Note");
  EXPECT_EQ(str(m.props, 0x0037), "Grüße aus Köln");
  ASSERT_NE(m.props.find_tag(make_tag(0x0037, mapi::PT_UNICODE)), nullptr);
  // The terminator a writer stored is not part of the value.
  EXPECT_EQ(m.props.find(0x0C1A)->value, u16s("Sender Name"));
  EXPECT_EQ(str(m.props, 0x1000), "Body text\r\n");
  EXPECT_EQ(m.props.get_i32(0x0017), 2);
  EXPECT_EQ(m.props.get_bool(0x0E1B), true);
  EXPECT_EQ(m.props.find(0x0E1B)->value.size(), 1u);
  EXPECT_EQ(m.props.get_i64(0x0039), static_cast<i64>(0x01D2'3456'789A'BCDEull));
  EXPECT_EQ(m.props.get_i64(0x0E08), 0x1122334455667788ll);
  EXPECT_EQ(m.props.get_i32(0x4001), -2);
  EXPECT_DOUBLE_EQ(m.props.get_double(0x4002).value_or(0), 3.141592653589793);
  EXPECT_EQ(m.props.get_bytes(0x0FFF), ByteView("\x00\x01\x02\x03\xFF", 5));
  EXPECT_EQ(m.props.get_bytes(0x4003),
            ByteView(reinterpret_cast<const char *>(CUSTOM_GUID.data()), 16));
  EXPECT_EQ(m.props.get_bytes(0x4004), ByteView(le32(7) + le32(8) + le32(0xFFFFFFFF)));
  EXPECT_EQ(m.props.get_strings(0x8000, 0), (std::vector<std::string>{"Red", "Grün", ""}));
  EXPECT_EQ(m.props.get_bytes(0x4005),
            ByteView(mm::testing::mv({Bytes("ab", 2), Bytes(), Bytes(3, '\0')})));

  ASSERT_EQ(m.recipients.size(), 2u);
  EXPECT_EQ(str(m.recipients[0], 0x3001), "Alice Example");
  EXPECT_EQ(str(m.recipients[0], 0x3003), "alice@example.com");
  EXPECT_EQ(m.recipients[0].get_i32(0x0C15), 1);
  EXPECT_EQ(str(m.recipients[1], 0x3001), "Bob Example");
  EXPECT_EQ(m.recipients[1].get_i32(0x0C15), 2);

  ASSERT_EQ(m.attachments.size(), 2u);
  const mapi::RawAttachment &a = m.attachments[0];
  EXPECT_FALSE(a.problem.has_value());
  EXPECT_EQ(str(a.props, 0x3707), "data.bin");
  const mapi::Property *data = a.props.find_tag(make_tag(0x3701, mapi::PT_BINARY));
  ASSERT_NE(data, nullptr);
  ASSERT_EQ(data->value.size(), 5000u);
  for (std::size_t i = 0; i < 5000; i += 499)
    EXPECT_EQ(static_cast<u8>(data->value[i]), static_cast<u8>((i * 7 + 3) & 0xFF));
  EXPECT_EQ(a.embedded, nullptr);

  const mapi::RawAttachment &e = m.attachments[1];
  EXPECT_FALSE(e.problem.has_value()) << e.problem->detail;
  ASSERT_NE(e.embedded, nullptr);
  EXPECT_EQ(str(e.embedded->props, 0x0037), "Inner subject");
  ASSERT_EQ(e.embedded->recipients.size(), 1u);
  EXPECT_EQ(str(e.embedded->recipients[0], 0x3001), "Carol");
  EXPECT_TRUE(e.embedded->attachments.empty());
  EXPECT_EQ(e.embedded->names, m.names) << "embedded messages use the file's one map";

  // The named-property map, every kind of entry.
  ASSERT_NE(m.names, nullptr);
  EXPECT_EQ(m.names->size(), 4u);
  const mapi::PropertyName *kw = m.names->name_of(0x8000);
  ASSERT_NE(kw, nullptr);
  EXPECT_TRUE(kw->is_string);
  EXPECT_EQ(kw->name, "Keywords");
  EXPECT_EQ(kw->guid, mapi::psetid::PublicStrings);
  EXPECT_EQ(m.names->id_of(mapi::psetid::Appointment, 0x820Du), 0x8001);
  EXPECT_EQ(m.names->id_of(CUSTOM_GUID, std::string_view("x-custom-name")), 0x8002);
  const mapi::PropertyName *pm = m.names->name_of(0x8003);
  ASSERT_NE(pm, nullptr);
  EXPECT_EQ(pm->guid, mapi::guid_from_string("00020328-0000-0000-C000-000000000046"));
  EXPECT_EQ(pm->lid, 0x8501u);

  // What the shared converter makes of it.
  mapi::ConvertContext ctx{1252, m.names.get()};
  Result<model::Message> mm = mapi::to_model(m, ctx);
  ASSERT_TRUE(mm.ok()) << mm.problem().detail;
  EXPECT_EQ(mm->subject, "Grüße aus Köln");
  EXPECT_EQ(mm->recipients.size(), 2u);
  EXPECT_EQ(mm->categories, (std::vector<std::string>{"Red", "Grün"}));
  ASSERT_EQ(mm->attachments.size(), 2u);
  EXPECT_EQ(mm->attachments[0].kind, model::AttachmentKind::ByValue);
  EXPECT_EQ(mm->attachments[0].filename, "data.bin");
  EXPECT_EQ(mm->attachments[0].data.size(), 5000u);
  EXPECT_EQ(mm->attachments[1].kind, model::AttachmentKind::Embedded);
  ASSERT_NE(mm->attachments[1].embedded, nullptr);
  EXPECT_EQ(mm->attachments[1].embedded->subject, "Inner subject");
}

TEST(MsgReader, AnsiMessageCarriesItsCodepage) {
  MsgObject m;
  // "Привет" in windows-1251, stored with its terminator as writers do.
  const Bytes privet("\xCF\xF0\xE8\xE2\xE5\xF2", 6);
  m.props = {MsgProp::stream(make_tag(0x001A, mapi::PT_STRING8), Bytes("IPM.Note\0", 9)),
             MsgProp::stream(make_tag(0x0037, mapi::PT_STRING8), privet + Bytes(1, '\0')),
             MsgProp::fixed(make_tag(0x3FFD, mapi::PT_LONG), le32(1251)),
             MsgProp::multi(make_tag(0x4010, mapi::PT_MV_STRING8),
                            {privet + Bytes(1, '\0'), Bytes("ok", 2)})};
  Result<mapi::RawMessage> r = read_msg(build_msg(m));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->codepage, 1251u);
  EXPECT_EQ(r->props.find(0x0037)->value, privet);
  EXPECT_EQ(r->props.find(0x0037)->type(), mapi::PT_STRING8);
  EXPECT_EQ(str(r->props, 0x0037, r->codepage), "Привет");
  EXPECT_EQ(r->props.get_strings(0x4010, 1251), (std::vector<std::string>{"Привет", "ok"}));
  ASSERT_NE(r->names, nullptr);
  EXPECT_EQ(r->names->size(), 0u) << "no __nameid_version1.0: an empty map";
  Result<model::Message> mm = mapi::to_model(*r, mapi::ConvertContext{r->codepage, r->names.get()});
  ASSERT_TRUE(mm.ok());
  EXPECT_EQ(mm->subject, "Привет");
}

TEST(MsgReader, AnsiCodepageFromInternetCpid) {
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_STRING8), Bytes("x", 1)),
             MsgProp::fixed(make_tag(0x3FDE, mapi::PT_LONG), le32(1250))};
  Result<mapi::RawMessage> r = read_msg(build_msg(m));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->codepage, 1250u);
}

/// A chain of `levels` messages, each attached to the one above.
MsgObject nested(int levels) {
  MsgObject m;
  m.props = {
      MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("level " + std::to_string(levels)))};
  if (levels > 0) {
    MsgObject a;
    a.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(5)),
               MsgProp::fixed(make_tag(0x3701, mapi::PT_OBJECT), le32(0xFFFFFFFF))};
    a.embedded.push_back(nested(levels - 1));
    m.attachments.push_back(a);
  }
  return m;
}

TEST(MsgReader, EmbeddedNestingStopsAtTheLimit) {
  const int limit = model::limits::MAX_EMBED_DEPTH;
  Result<mapi::RawMessage> r = read_msg(build_msg(nested(limit + 3)));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  const mapi::RawMessage *m = &*r;
  int depth = 0;
  while (!m->attachments.empty() && m->attachments[0].embedded) {
    m = m->attachments[0].embedded.get();
    ++depth;
  }
  EXPECT_EQ(depth, limit);
  ASSERT_EQ(m->attachments.size(), 1u);
  ASSERT_TRUE(m->attachments[0].problem.has_value());
  EXPECT_EQ(m->attachments[0].problem->code, ProblemCode::LimitExceeded);
  EXPECT_EQ(str(m->props, 0x0037), "level 3");

  // Exactly at the limit everything is read.
  Result<mapi::RawMessage> ok = read_msg(build_msg(nested(limit)));
  ASSERT_TRUE(ok.ok());
  m = &*ok;
  while (!m->attachments.empty()) {
    ASSERT_FALSE(m->attachments[0].problem.has_value()) << m->attachments[0].problem->detail;
    m = m->attachments[0].embedded.get();
  }
  EXPECT_EQ(str(m->props, 0x0037), "level 0");
}

/// olefile's listing of a compound file (tests/unit/cfb/olefile_dump.py, run on a temporary
/// copy); `status` gets the script's exit status (77: python3-olefile is missing).
std::string olefile_listing(const Bytes &file, int &status) {
  const std::string path =
      ::testing::TempDir() + "mm_msg_ole_" + std::to_string(::getpid()) + ".cfb";
  std::ofstream(path, std::ios::binary)
      .write(file.data(), static_cast<std::streamsize>(file.size()));
  const std::string script = std::string(MM_TESTS_DIR) + "/unit/cfb/olefile_dump.py";
  const std::string py =
      std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  FILE *pipe =
      ::popen((py + " " + mm::testing::q(script) + " " + mm::testing::q(path)).c_str(), "r");
  std::string out;
  if (pipe != nullptr) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int rc = ::pclose(pipe);
    status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  } else {
    status = -1;
  }
  std::remove(path.c_str());
  return out;
}

TEST(MsgReader, OleAttachmentBecomesACompoundFile) {
  // An OLE object storage with a stream in the mini stream, one in regular sectors, an empty
  // one, a control-character name and a sub-storage with its own CLSID.
  Bytes big(9000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i % 251);
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("with an OLE object"))};
  MsgObject a;
  a.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(6)),
             MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("Picture")),
             MsgProp::fixed(make_tag(0x3701, mapi::PT_OBJECT), le32(0xFFFFFFFF))};
  a.extra.push_back(CfbNode::dir(
      "__substg1.0_3701000D",
      {CfbNode::stream("CONTENTS", Bytes("picture", 7)),
       CfbNode::stream("\x01Ole", Bytes(20, '\x01')), CfbNode::stream("Big", big),
       CfbNode::stream("Big2", big.substr(17, 5000)), CfbNode::stream("Empty", Bytes()),
       CfbNode::dir("Sub", {CfbNode::stream("Inner", Bytes("inner", 5))},
                    mm::testing::cfb_clsid("11111111-2222-3333-4444-555555555555"))},
      mm::testing::cfb_clsid("0003000C-0000-0000-C000-000000000046")));
  m.attachments.push_back(a);
  Result<mapi::RawMessage> r = read_msg(build_msg(m));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->attachments.size(), 1u);
  const mapi::RawAttachment &att = r->attachments[0];
  EXPECT_FALSE(att.problem.has_value()) << att.problem->detail;
  EXPECT_EQ(att.embedded, nullptr);
  const mapi::Property *obj = att.props.find_tag(make_tag(0x3701, mapi::PT_OBJECT));
  ASSERT_NE(obj, nullptr);

  // Independent reader: olefile lists what the storage held.
  const Bytes copy(obj->value);
  int status = 0;
  const std::string listing = olefile_listing(copy, status);
  if (status == 77 && !mm::testing::corpus_mandatory())
    GTEST_SKIP() << "python3-olefile is not installed";
  ASSERT_EQ(status, 0) << listing;
  EXPECT_NE(listing.find("ROOT\t0003000C-0000-0000-C000-000000000046\n"), std::string::npos)
      << listing;
  auto sha = [](ByteView b) {
    const util::Sha256Digest d = util::Sha256::digest(b);
    return text::to_hex(std::span<const u8>(d));
  };
  const std::vector<std::string> want = {
      "S\tCONTENTS\t7\t" + sha("picture"), "S\t\\x01Ole\t20\t" + sha(Bytes(20, '\x01')),
      "S\tBig\t9000\t" + sha(big),         "S\tBig2\t5000\t" + sha(big.substr(17, 5000)),
      "S\tEmpty\t0\t" + sha(""),           "D\tSub\t11111111-2222-3333-4444-555555555555",
      "S\tSub/Inner\t5\t" + sha("inner")};
  for (const std::string &line : want) {
    EXPECT_NE(listing.find(line + "\n"), std::string::npos) << line << " not in\n" << listing;
  }
  EXPECT_EQ(listing.find("ERROR"), std::string::npos) << listing;

  // The converter passes the object on as an OLE attachment with those bytes.
  Result<model::Message> mm = mapi::to_model(*r, mapi::ConvertContext{1252, r->names.get()});
  ASSERT_TRUE(mm.ok()) << mm.problem().detail;
  ASSERT_EQ(mm->attachments.size(), 1u);
  EXPECT_EQ(mm->attachments[0].kind, model::AttachmentKind::Ole);
  EXPECT_EQ(mm->attachments[0].data.size(), copy.size());
}

// ---- damage -------------------------------------------------------------------------------

TEST(MsgReaderDamage, NotACompoundFile) {
  Result<mapi::RawMessage> r = read_msg("From: x\r\n\r\nhello");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_FALSE(read_msg("").ok());
  Bytes tnef("\x78\x9F\x3E\x22", 4);
  tnef.resize(200, '\0');
  EXPECT_EQ(read_msg(tnef).problem().code, ProblemCode::SourceCorrupt);
}

TEST(MsgReaderDamage, CompoundFileWithoutPropertyStream) {
  const Bytes f = mm::testing::CfbWriter::build(
      CfbNode::dir("Root Entry", {CfbNode::stream("WordDocument", Bytes(100, 'x'))}));
  Result<mapi::RawMessage> r = read_msg(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_NE(r.problem().detail.find("__properties_version1.0"), std::string::npos);
}

TEST(MsgReaderDamage, PropertyStreamShorterThanHeader) {
  const Bytes f = mm::testing::CfbWriter::build(
      CfbNode::dir("Root Entry", {CfbNode::stream("__properties_version1.0", Bytes(20, '\0'))}));
  Result<mapi::RawMessage> r = read_msg(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
}

TEST(MsgReaderDamage, PartialEntryAndMissingStreamsAreWarnings) {
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("kept")),
             MsgProp::fixed(make_tag(0x0017, mapi::PT_LONG), le32(1))};
  // The entries name a stream that is not there and a multi-valued property whose second value
  // stream is missing.
  Bytes props = mm::testing::property_stream(m, 32);
  props += le32(make_tag(0x1000, mapi::PT_UNICODE)) + le32(6) + le32(10) + le32(0);
  props += le32(make_tag(0x4010, mapi::PT_MV_UNICODE)) + le32(6) + le32(8) + le32(0);
  props += Bytes(7, '\x55');  // a partial entry
  std::vector<CfbNode> kids = {
      CfbNode::stream("__properties_version1.0", props),
      CfbNode::stream("__substg1.0_0037001F", u16s("kept")),
      CfbNode::stream("__substg1.0_4010101F", le32(2) + le32(2)),
      CfbNode::stream("__substg1.0_4010101F-00000000", u16s("a")),
  };
  Result<mapi::RawMessage> r =
      read_msg(mm::testing::CfbWriter::build(CfbNode::dir("Root Entry", kids)));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  EXPECT_EQ(str(r->props, 0x0037), "kept");
  EXPECT_EQ(r->props.get_i32(0x0017), 1);
  EXPECT_FALSE(r->props.has(0x1000));
  EXPECT_FALSE(r->props.has(0x4010));
  ASSERT_EQ(r->warnings.size(), 1u);
  const std::string &w = r->warnings[0].detail;
  EXPECT_NE(w.find("partial entry"), std::string::npos) << w;
  EXPECT_NE(w.find("2 properties unreadable"), std::string::npos) << w;
  EXPECT_NE(w.find("0x1000001F"), std::string::npos) << w;
}

TEST(MsgReaderDamage, LyingSizesReadWhatTheStreamHolds) {
  MsgObject m;
  MsgProp subject = MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("short"));
  subject.size_claim = 0x7FFFFFFF;
  MsgProp mv = MsgProp::stream(make_tag(0x4004, mapi::PT_MV_LONG), le32(1) + Bytes(3, '\0'));
  MsgProp odd_lengths = MsgProp::stream(make_tag(0x4011, mapi::PT_MV_BINARY), Bytes(12, '\0'));
  MsgProp guid = MsgProp::stream(make_tag(0x4012, mapi::PT_CLSID), Bytes(15, '\x01'));
  m.props = {subject, mv, odd_lengths, guid};
  m.recip_count_claim = 5;
  Result<mapi::RawMessage> r = read_msg(build_msg(m));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  EXPECT_EQ(str(r->props, 0x0037), "short");
  EXPECT_FALSE(r->props.has(0x4004)) << "7 bytes are not whole PT_LONG values";
  EXPECT_FALSE(r->props.has(0x4011)) << "12 bytes are not whole 8-byte length entries";
  EXPECT_FALSE(r->props.has(0x4012)) << "a GUID is 16 bytes";
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].detail.find("3 properties unreadable"), std::string::npos)
      << r->warnings[0].detail;
  EXPECT_NE(r->warnings[1].detail.find("claims 5 recipients"), std::string::npos)
      << r->warnings[1].detail;
}

TEST(MsgReaderDamage, WrongHeaderSizeIsRecognized) {
  // An embedded message written with the top-level 32-byte header, and a top-level message
  // with the 24-byte one: the entries still line up, with a warning.
  MsgObject inner;
  inner.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("inner")),
                 MsgProp::fixed(make_tag(0x0017, mapi::PT_LONG), le32(2))};
  MsgObject a;
  a.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(5))};
  std::vector<CfbNode> inner_kids = mm::testing::object_nodes(inner, 24);
  inner_kids[0].data = mm::testing::property_stream(inner, 32);
  a.extra.push_back(CfbNode::dir("__substg1.0_3701000D", inner_kids));
  MsgObject top;
  top.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("top")),
               MsgProp::fixed(make_tag(0x0E07, mapi::PT_LONG), le32(0x12))};
  top.attachments.push_back(a);
  std::vector<CfbNode> kids = mm::testing::object_nodes(top, 32);
  kids[0].data = mm::testing::property_stream(top, 24);
  Result<mapi::RawMessage> r =
      read_msg(mm::testing::CfbWriter::build(CfbNode::dir("Root Entry", kids)));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  EXPECT_EQ(str(r->props, 0x0037), "top");
  EXPECT_EQ(r->props.get_i32(0x0E07), 0x12);
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_NE(r->warnings[0].detail.find("24-byte header"), std::string::npos)
      << r->warnings[0].detail;
  ASSERT_EQ(r->attachments.size(), 1u);
  ASSERT_NE(r->attachments[0].embedded, nullptr);
  const mapi::RawMessage &e = *r->attachments[0].embedded;
  EXPECT_EQ(str(e.props, 0x0037), "inner");
  EXPECT_EQ(e.props.get_i32(0x0017), 2);
  ASSERT_FALSE(e.warnings.empty());
  EXPECT_NE(e.warnings[0].detail.find("32-byte header"), std::string::npos) << e.warnings[0].detail;
}

TEST(MsgReaderDamage, BrokenPartsBecomeAttachmentProblemsAndWarnings) {
  MsgObject m = full_message();
  // Recipient 1 and attachment 0 lose their property streams; attachment 1's embedded message
  // loses its own; a third attachment names data it does not have.
  std::vector<CfbNode> kids = mm::testing::object_nodes(m, 32);
  auto strip_props = [](CfbNode &dir) {
    std::erase_if(dir.children,
                  [](const CfbNode &c) { return c.name == "__properties_version1.0"; });
  };
  for (CfbNode &k : kids) {
    if (k.name == "__recip_version1.0_#00000001" || k.name == "__attach_version1.0_#00000000")
      strip_props(k);
    if (k.name == "__attach_version1.0_#00000001") {
      for (CfbNode &c : k.children)
        if (c.name == "__substg1.0_3701000D") strip_props(c);
    }
  }
  MsgObject nodata;
  nodata.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(1))};
  Bytes ps = mm::testing::property_stream(nodata, 8);
  ps += le32(make_tag(0x3701, mapi::PT_BINARY)) + le32(6) + le32(100) + le32(0);
  kids.push_back(CfbNode::dir("__attach_version1.0_#00000002",
                              {CfbNode::stream("__properties_version1.0", ps)}));
  // And a fourth says it is an embedded message but holds none.
  MsgObject noembed;
  noembed.props = {MsgProp::fixed(make_tag(0x3705, mapi::PT_LONG), le32(5))};
  kids.push_back(
      CfbNode::dir("__attach_version1.0_#00000003", mm::testing::object_nodes(noembed, 8)));
  kids.push_back(full_nameid());
  Result<mapi::RawMessage> r =
      read_msg(mm::testing::CfbWriter::build(CfbNode::dir("Root Entry", kids)));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(str(r->recipients[0], 0x3001), "Alice Example");
  ASSERT_EQ(r->attachments.size(), 4u);
  ASSERT_TRUE(r->attachments[3].problem.has_value());
  EXPECT_EQ(r->attachments[3].problem->code, ProblemCode::EmbeddedUnreadable);
  ASSERT_TRUE(r->attachments[0].problem.has_value());
  EXPECT_EQ(r->attachments[0].problem->code, ProblemCode::AttachmentUnreadable);
  ASSERT_TRUE(r->attachments[1].problem.has_value());
  EXPECT_EQ(r->attachments[1].problem->code, ProblemCode::EmbeddedUnreadable);
  ASSERT_TRUE(r->attachments[2].problem.has_value());
  EXPECT_EQ(r->attachments[2].problem->code, ProblemCode::AttachmentUnreadable);
  EXPECT_NE(r->attachments[2].problem->detail.find("37010102"), std::string::npos);
  bool recip_warned = false;
  for (const Problem &w : r->warnings)
    recip_warned = recip_warned || w.code == ProblemCode::RecipientsUnreadable;
  EXPECT_TRUE(recip_warned);
  // The converter still produces the message, with the broken attachments as unreadable.
  Result<model::Message> mm = mapi::to_model(*r, mapi::ConvertContext{1252, r->names.get()});
  ASSERT_TRUE(mm.ok());
  ASSERT_EQ(mm->attachments.size(), 4u);
  for (const model::Attachment &a : mm->attachments)
    EXPECT_EQ(a.kind, model::AttachmentKind::Unreadable);
}

TEST(MsgReaderDamage, NamedMapWithBadEntriesKeepsTheGoodOnes) {
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("s"))};
  // GUID index 9 points past the one-GUID stream; the string offset 1000 past the strings.
  CfbNode map = mm::testing::nameid_storage(
      {CUSTOM_GUID}, {NamedEntry{0, 3, false, 7, {}}, NamedEntry{1, 9, false, 8, {}},
                      NamedEntry{2, 2, true, 0, u"ok"}});
  for (CfbNode &c : map.children) {
    if (c.name == "__substg1.0_00030102") {
      c.data += le32(1000) + mm::testing::le16(5) + mm::testing::le16(3);  // string, bad offset
      c.data += Bytes(3, '\0');                                            // partial entry
    }
  }
  Result<mapi::RawMessage> r = read_msg(build_msg(m, {map}));
  ASSERT_TRUE(r.ok());
  ASSERT_NE(r->names, nullptr);
  EXPECT_EQ(r->names->size(), 2u);
  EXPECT_EQ(r->names->id_of(CUSTOM_GUID, 7u), 0x8000);
  EXPECT_EQ(r->names->id_of(mapi::psetid::PublicStrings, std::string_view("ok")), 0x8002);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].detail.find("2 entries unresolvable"), std::string::npos)
      << r->warnings[0].detail;
}

/// Offsets of every directory entry named `name` in a compound file built by CfbWriter.
std::vector<std::size_t> dir_entries(const Bytes &file, const std::string &name) {
  Bytes key;
  for (char c : name) key += Bytes{c, '\0'};
  std::vector<std::size_t> at;
  for (std::size_t p = file.find(key); p != Bytes::npos; p = file.find(key, p + 1))
    if ((p - 512) % 128 == 0) at.push_back(p);
  return at;
}

TEST(MsgReaderDamage, CrossLinkedStreamsCannotReadMoreThanTheFile) {
  // Forty recipients whose display-name streams the directory points at the sector chain of
  // one 200 KB attachment: each would read 200 KB, eight megabytes from a 230 KB file.
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("s"))};
  for (int i = 0; i < 40; ++i) {
    MsgObject r;
    r.props = {MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("name"))};
    m.recipients.push_back(r);
  }
  MsgObject a;
  a.props = {MsgProp::stream(make_tag(0x3701, mapi::PT_BINARY), Bytes(200000, 'z'))};
  m.attachments.push_back(a);
  Bytes f = build_msg(m);
  const std::vector<std::size_t> big = dir_entries(f, "__substg1.0_37010102");
  const std::vector<std::size_t> names = dir_entries(f, "__substg1.0_3001001F");
  ASSERT_EQ(big.size(), 1u);
  ASSERT_EQ(names.size(), 40u);
  for (std::size_t at : names) {
    f.replace(at + 0x74, 4, f.substr(big[0] + 0x74, 4));  // start sector
    f.replace(at + 0x78, 4, f.substr(big[0] + 0x78, 4));  // size
  }
  Result<mapi::RawMessage> r = read_msg(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_NE(r.problem().detail.find("more than the file"), std::string::npos) << r.problem().detail;
}

TEST(MsgReaderDamage, StoragesWithTooManyEntriesAreRefused) {
  // 8193 entries in the root: the whole file is refused. The same in one recipient's storage:
  // that recipient is dropped with a warning, the other one is read.
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("s"))};
  std::vector<CfbNode> many;
  for (int i = 0; i < 8193 - 2; ++i) many.push_back(CfbNode::stream("x" + std::to_string(i), {}));
  Result<mapi::RawMessage> r = read_msg(build_msg(m, many));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_NE(r.problem().detail.find("over the limit of 8192"), std::string::npos)
      << r.problem().detail;

  MsgObject big, small;
  big.props = {MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("big"))};
  for (int i = 0; i < 8193 - 2; ++i)
    big.extra.push_back(CfbNode::stream("y" + std::to_string(i), {}));
  small.props = {MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("small"))};
  m.recipients = {big, small};
  r = read_msg(build_msg(m));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(str(r->recipients[0], 0x3001), "small");
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_EQ(r->warnings[0].code, ProblemCode::RecipientsUnreadable);
}

TEST(MsgReader, ThousandsOfRecipientsAreAllRead) {
  MsgObject m;
  m.props = {MsgProp::stream(make_tag(0x0037, mapi::PT_UNICODE), u16s("s"))};
  for (int i = 0; i < 2048; ++i) {
    MsgObject r;
    r.props = {MsgProp::stream(make_tag(0x3001, mapi::PT_UNICODE), u16s("r" + std::to_string(i))),
               MsgProp::fixed(make_tag(0x0C15, mapi::PT_LONG), le32(1 + i % 3))};
    m.recipients.push_back(r);
  }
  Result<mapi::RawMessage> r = read_msg(build_msg(m));
  ASSERT_TRUE(r.ok()) << r.problem().detail;
  ASSERT_EQ(r->recipients.size(), 2048u);
  // In number order (the directory holds them in name order: shorter names first).
  for (int i = 0; i < 2048; i += 97) {
    EXPECT_EQ(str(r->recipients[i], 0x3001), "r" + std::to_string(i));
    EXPECT_EQ(r->recipients[i].get_i32(0x0C15), 1 + i % 3);
  }
}

TEST(MsgReaderDamage, TruncatedAndGarbledFilesNeverCrash) {
  const Bytes good = build_msg(full_message(), {full_nameid()});
  int ok = 0, refused = 0;
  for (std::size_t len = 0; len < good.size(); len += 97) {
    Result<mapi::RawMessage> r = read_msg(ByteView(good).substr(0, len));
    if (r.ok()) {
      ++ok;
    } else {
      ++refused;
      EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt) << r.problem().detail;
    }
  }
  EXPECT_GT(refused, 0);
  std::mt19937 rng(20261205);
  for (int round = 0; round < 300; ++round) {
    Bytes bad = good;
    const int flips = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < flips; ++i) bad[rng() % bad.size()] = static_cast<char>(rng() & 0xFF);
    Result<mapi::RawMessage> r = read_msg(bad);
    if (r.ok()) {
      ++ok;
      mapi::ConvertContext ctx{r->codepage ? r->codepage : 1252, r->names.get()};
      (void)mapi::to_model(*r, ctx);
    } else {
      EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt) << r.problem().detail;
    }
  }
  EXPECT_GT(ok, 0);
}

}  // namespace
}  // namespace mm::msg
