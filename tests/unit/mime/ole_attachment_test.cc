// OLE objects built by the test ([MS-CFB] image from cfb_builder.h, streams laid out from
// [MS-OLEDS] and the Packager format) unpacked into what a mail client should get. Expected
// bytes are written out literally (the BMP file headers from the BMP format's field list), not
// computed by the code under test.
#include "mailmill/mime/ole_attachment.h"

#include <gtest/gtest.h>

#include "cfb_builder.h"
#include "mailmill/format/cfb/compound_file.h"
#include "mailmill/mime/build.h"
#include "test_support.h"

namespace mm::mime {
namespace {

using mm::testing::cfb_clsid;
using mm::testing::CfbNode;
using mm::testing::CfbWriter;

const std::array<u8, 16> STATIC_DIB = cfb_clsid("00000316-0000-0000-C000-000000000046");
const std::array<u8, 16> STATIC_METAFILE = cfb_clsid("00000315-0000-0000-C000-000000000046");
const std::array<u8, 16> ENH_METAFILE = cfb_clsid("00000319-0000-0000-C000-000000000046");
const std::array<u8, 16> PACKAGE = cfb_clsid("0003000C-0000-0000-C000-000000000046");
const std::array<u8, 16> WORD_DOC = cfb_clsid("00020906-0000-0000-C000-000000000046");

Bytes le32(u32 v) {
  Bytes b(4, '\0');
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return b;
}
Bytes le16(u16 v) { return Bytes{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }

/// A 2x2 24-bit DIB: BITMAPINFOHEADER then two rows of 6 bytes padded to 8.
const Bytes DIB_2X2 = le32(40) + le32(2) + le32(2) + le16(1) + le16(24) + le32(0) + le32(16) +
                      le32(2835) + le32(2835) + le32(0) + le32(0) +
                      Bytes("\x00\x00\xFF\x00\xFF\x00\x00\x00\xFF\x00\x00\xFF\xFF\xFF\x00\x00", 16);
/// The same as a .bmp: "BM", file size 70, reserved 0, bits at 54 (14 + 40, no palette).
const Bytes BMP_2X2 = Bytes("BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", 14) + DIB_2X2;

Blob object(const CfbNode &root) { return Blob(CfbWriter::build(root)); }

/// An OLE1 Packager native stream for an embedded file (type 3).
Bytes package_native(const std::string &label, const std::string &path, const std::string &temp,
                     const Bytes &data, u16 type = 3) {
  Bytes body = le16(2) + label + '\0' + path + '\0' + le16(0) + le16(type) +
               le32(static_cast<u32>(temp.size() + 1)) + temp + '\0' +
               le32(static_cast<u32>(data.size())) + data;
  return le32(static_cast<u32>(body.size())) + body;
}

/// An OLEPresentationStream with a standard clipboard format and no target device.
Bytes olepres(u32 format, const Bytes &data) {
  return le32(0xFFFFFFFF) + le32(format) + le32(4) + le32(1) + le32(0xFFFFFFFF) + le32(2) +
         le32(0) + le32(100) + le32(100) + le32(static_cast<u32>(data.size())) + data +
         Bytes(18, '\0');
}

TEST(OleAttachment, StaticDibContentsBecomesBmpWithComputedFileHeader) {
  const Blob in = object(CfbNode::dir("", {CfbNode::stream("CONTENTS", DIB_2X2)}, STATIC_DIB));
  OleContent c = unpack_ole_object(in, "Picture (Device Independent Bitmap)");
  EXPECT_EQ(c.kind, OleContentKind::Picture);
  EXPECT_EQ(c.filename, "Picture (Device Independent Bitmap).bmp");
  EXPECT_EQ(c.mime_type, "image/bmp");
  EXPECT_EQ(c.data, BMP_2X2);
  EXPECT_EQ(c.source, "CONTENTS");
  EXPECT_FALSE(c.warning.has_value());
}

TEST(OleAttachment, PaletteAndBitfieldsMoveTheBitsOffset) {
  // 8 bits per pixel, biClrUsed 0: a 256-entry palette, bits at 14 + 40 + 1024 = 1078.
  Bytes dib8 = le32(40) + le32(4) + le32(1) + le16(1) + le16(8) + le32(0) + le32(4) + le32(0) +
               le32(0) + le32(0) + le32(0) + Bytes(1024, '\x11') + Bytes(4, '\x01');
  OleContent c = unpack_ole_object(
      object(CfbNode::dir("", {CfbNode::stream("CONTENTS", dib8)}, STATIC_DIB)), "p");
  ASSERT_EQ(c.kind, OleContentKind::Picture);
  EXPECT_EQ(Bytes(c.data.view().substr(0, 14)),
            Bytes("BM\x3A\x04\x00\x00\x00\x00\x00\x00\x36\x04\x00\x00", 14));  // 1082, 1078
  // 8 bits, biClrUsed 2: a 2-entry palette, bits at 14 + 40 + 8 = 62.
  Bytes dib2 = le32(40) + le32(4) + le32(1) + le16(1) + le16(8) + le32(0) + le32(4) + le32(0) +
               le32(0) + le32(2) + le32(0) + Bytes(8, '\x22') + Bytes(4, '\x01');
  c = unpack_ole_object(object(CfbNode::dir("", {CfbNode::stream("CONTENTS", dib2)}, STATIC_DIB)),
                        "p");
  EXPECT_EQ(Bytes(c.data.view().substr(10, 4)), Bytes("\x3E\x00\x00\x00", 4));
  // 32 bits BI_BITFIELDS with the 40-byte header: three masks, bits at 14 + 40 + 12 = 66.
  Bytes dib32 = le32(40) + le32(1) + le32(1) + le16(1) + le16(32) + le32(3) + le32(4) + le32(0) +
                le32(0) + le32(0) + le32(0) + le32(0xFF0000) + le32(0xFF00) + le32(0xFF) +
                Bytes(4, '\x7F');
  c = unpack_ole_object(object(CfbNode::dir("", {CfbNode::stream("CONTENTS", dib32)}, STATIC_DIB)),
                        "p");
  EXPECT_EQ(Bytes(c.data.view().substr(10, 4)), Bytes("\x42\x00\x00\x00", 4));
}

TEST(OleAttachment, ContentsThatIsAlreadyABmpFileIsKeptByteForByte) {
  // What the fixture (aspnet__SampleOstFile.ost) holds: CONTENTS starts with "BM".
  const Blob in = object(CfbNode::dir(
      "", {CfbNode::stream("\x01Ole", Bytes(20, '\0')), CfbNode::stream("CONTENTS", BMP_2X2)},
      STATIC_DIB));
  OleContent c = unpack_ole_object(in, "Picture (Device Independent Bitmap)");
  EXPECT_EQ(c.kind, OleContentKind::Picture);
  EXPECT_EQ(c.data, BMP_2X2);
  EXPECT_EQ(c.filename, "Picture (Device Independent Bitmap).bmp");
}

TEST(OleAttachment, PresentationStreamPictures) {
  // A static DIB with only its presentation stream (CF_DIB).
  OleContent c = unpack_ole_object(
      object(
          CfbNode::dir("", {CfbNode::stream("\x02OlePres000", olepres(8, DIB_2X2))}, STATIC_DIB)),
      "Picture");
  EXPECT_EQ(c.kind, OleContentKind::Picture);
  EXPECT_EQ(c.data, BMP_2X2);
  EXPECT_EQ(c.source, "\x02OlePres000");
  // A static metafile: CF_METAFILEPICT data is a WMF (META_HEADER: type 1, 9 words, 0x0300).
  const Bytes wmf =
      le16(1) + le16(9) + le16(0x0300) + le32(12) + le16(0) + le32(3) + le16(0) + le32(3) + le16(0);
  c = unpack_ole_object(
      object(
          CfbNode::dir("", {CfbNode::stream("\x02OlePres000", olepres(3, wmf))}, STATIC_METAFILE)),
      "Picture (Metafile)");
  EXPECT_EQ(c.kind, OleContentKind::Picture);
  EXPECT_EQ(c.filename, "Picture (Metafile).wmf");
  EXPECT_EQ(c.mime_type, "image/x-wmf");
  EXPECT_EQ(c.data, wmf);
  // A presentation stream with a target device: TargetDeviceSize 12 counts its own 4 bytes.
  Bytes with_td = le32(0xFFFFFFFF) + le32(8) + le32(12) + Bytes(8, '\x55') + le32(1) +
                  le32(0xFFFFFFFF) + le32(2) + le32(0) + le32(10) + le32(10) +
                  le32(static_cast<u32>(DIB_2X2.size())) + DIB_2X2 + Bytes(18, '\0');
  c = unpack_ole_object(
      object(CfbNode::dir("", {CfbNode::stream("\x02OlePres000", with_td)}, STATIC_DIB)), "P");
  EXPECT_EQ(c.data, BMP_2X2);
}

TEST(OleAttachment, EnhancedMetafileContents) {
  // EMR_HEADER: type 1, size 88, ..., " EMF" at offset 40.
  Bytes emf = le32(1) + le32(88) + Bytes(32, '\0') + le32(0x464D4520) + Bytes(44, '\0');
  OleContent c =
      unpack_ole_object(object(CfbNode::dir("", {CfbNode::stream("CONTENTS", emf)}, ENH_METAFILE)),
                        "Picture (Enhanced Metafile)");
  EXPECT_EQ(c.kind, OleContentKind::Picture);
  EXPECT_EQ(c.filename, "Picture (Enhanced Metafile).emf");
  EXPECT_EQ(c.mime_type, "image/x-emf");
  EXPECT_EQ(c.data, emf);
}

TEST(OleAttachment, PackageGivesTheEmbeddedFileWithItsOwnName) {
  const Bytes file = "%PDF-1.4\n" + Bytes(5000, 'x') + Bytes("\x00\x01\xFF", 3);
  const Blob in = object(CfbNode::dir(
      "",
      {CfbNode::stream("\x01Ole10Native",
                       package_native("report.pdf", "C:\\Users\\me\\Desktop\\report.pdf",
                                      "C:\\Temp\\report.pdf", file))},
      PACKAGE));
  OleContent c = unpack_ole_object(in, "Package");
  EXPECT_EQ(c.kind, OleContentKind::File);
  EXPECT_EQ(c.filename, "report.pdf");
  EXPECT_EQ(c.mime_type, "");  // the builder types it by the extension
  EXPECT_EQ(c.data, file);
  EXPECT_EQ(c.source, "\x01Ole10Native");
  EXPECT_FALSE(c.warning.has_value());
}

TEST(OleAttachment, PackageRecognizedByProgIdWithoutClsid) {
  // CompObjStream: 28-byte header, AnsiUserType, clipboard format 0, ProgID "Package".
  const std::string user = "Package";
  Bytes compobj = Bytes(28, '\0') + le32(static_cast<u32>(user.size() + 1)) + user + '\0' +
                  le32(0) + le32(8) + "Package" + '\0' + Bytes(12, '\0');
  const Bytes file = "plain text\r\n";
  OleContent c = unpack_ole_object(
      object(
          CfbNode::dir("", {CfbNode::stream("\x01"
                                            "CompObj",
                                            compobj),
                            CfbNode::stream("\x01Ole10Native",
                                            package_native("notes.txt", "notes.txt", "t", file))})),
      "Package");
  EXPECT_EQ(c.kind, OleContentKind::File);
  EXPECT_EQ(c.filename, "notes.txt");
  EXPECT_EQ(c.data, file);
}

TEST(OleAttachment, DamagedOrLinkedPackageStaysTheObjectWithAWarning) {
  const Bytes native = package_native("a.txt", "C:\\a.txt", "t", "hello");
  for (const Bytes &bad : {native.substr(0, native.size() - 2),                  // data cut short
                           package_native("a.txt", "C:\\a.txt", "t", "", 1)}) {  // a link
    const Blob in = object(CfbNode::dir("", {CfbNode::stream("\x01Ole10Native", bad)}, PACKAGE));
    OleContent c = unpack_ole_object(in, "Package");
    EXPECT_EQ(c.kind, OleContentKind::Storage);
    EXPECT_EQ(c.filename, "Package.ole");
    EXPECT_EQ(c.mime_type, "application/x-ole-storage");
    EXPECT_EQ(c.data, in);
    ASSERT_TRUE(c.warning.has_value());
    EXPECT_EQ(c.warning->code, ProblemCode::AttachmentUnreadable);
    EXPECT_NE(c.warning->detail.find("Package"), std::string::npos) << c.warning->detail;
  }
}

TEST(OleAttachment, UnknownObjectStaysTheCompoundFile) {
  const Blob in = object(CfbNode::dir(
      "",
      {CfbNode::stream("WordDocument", Bytes(6000, 'w')), CfbNode::stream("1Table", "t"),
       CfbNode::stream("\x01"
                       "CompObj",
                       Bytes(40, '\0'))},
      WORD_DOC));
  OleContent c = unpack_ole_object(in, "Microsoft Word Document");
  EXPECT_EQ(c.kind, OleContentKind::Storage);
  EXPECT_EQ(c.filename, "Microsoft Word Document.ole");
  EXPECT_EQ(c.mime_type, "application/x-ole-storage");
  EXPECT_EQ(c.data, in);
  EXPECT_EQ(c.data.data(), in.data());  // the same bytes, not a copy
  EXPECT_FALSE(c.warning.has_value());
  // A static-picture class whose streams hold no picture is kept too.
  const Blob odd = object(CfbNode::dir("", {CfbNode::stream("CONTENTS", "not a dib")}, STATIC_DIB));
  EXPECT_EQ(unpack_ole_object(odd, "x").kind, OleContentKind::Storage);
}

TEST(OleAttachment, ContentsOfAKnownFormatUnderAnyClass) {
  const Bytes pdf = "%PDF-1.7\nbody";
  OleContent c =
      unpack_ole_object(object(CfbNode::dir("", {CfbNode::stream("CONTENTS", pdf)},
                                            cfb_clsid("B801CA65-A1FC-11D0-85AD-444553540000"))),
                        "Adobe Acrobat Document");
  EXPECT_EQ(c.kind, OleContentKind::File);
  EXPECT_EQ(c.filename, "Adobe Acrobat Document.pdf");
  EXPECT_EQ(c.mime_type, "application/pdf");
  EXPECT_EQ(c.data, pdf);
}

TEST(OleAttachment, NotACompoundFileOrBrokenOne) {
  OleContent c = unpack_ole_object(Blob(Bytes("just some bytes")), "Object");
  EXPECT_EQ(c.kind, OleContentKind::Opaque);
  EXPECT_EQ(c.filename, "Object.bin");
  EXPECT_EQ(c.mime_type, "application/octet-stream");
  EXPECT_EQ(c.data, "just some bytes");
  ASSERT_TRUE(c.warning.has_value());

  Bytes broken =
      CfbWriter::build(CfbNode::dir("", {CfbNode::stream("CONTENTS", DIB_2X2)}, STATIC_DIB));
  broken.resize(700);  // header and one sector: the directory is gone
  c = unpack_ole_object(Blob(broken), "Picture");
  EXPECT_EQ(c.kind, OleContentKind::Storage);
  EXPECT_EQ(c.filename, "Picture.ole");
  EXPECT_EQ(c.data, broken);
  ASSERT_TRUE(c.warning.has_value());
  EXPECT_NE(c.warning->detail.find("kept as .ole"), std::string::npos) << c.warning->detail;
}

TEST(OleAttachment, NamesKeepAMatchingExtensionAndFallBack) {
  const CfbNode pic = CfbNode::dir("", {CfbNode::stream("CONTENTS", DIB_2X2)}, STATIC_DIB);
  EXPECT_EQ(unpack_ole_object(object(pic), "scan.BMP").filename, "scan.BMP");
  EXPECT_EQ(unpack_ole_object(object(pic), "").filename, "OLE object.bmp");
}

/// Decodes the base64 lines of `b64` (RFC 4648 alphabet; line breaks skipped).
Bytes unbase64(std::string_view b64) {
  static const std::string ALPHA =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  Bytes out;
  u32 acc = 0;
  int bits = 0;
  for (char c : b64) {
    const std::size_t v = ALPHA.find(c);
    if (v == std::string::npos) continue;
    acc = (acc << 6) | static_cast<u32>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

TEST(OleAttachment, BuiltMessageCarriesThePictureAndStaysDeterministic) {
  // 300x200 at 24 bits: rows of 900 bytes (already a multiple of 4), 180000 bytes of bits.
  Bytes bits(180000, '\0');
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<char>((i * 7) & 0xFF);
  const Bytes dib = le32(40) + le32(300) + le32(200) + le16(1) + le16(24) + le32(0) + le32(180000) +
                    le32(0) + le32(0) + le32(0) + le32(0) + bits;
  // "BM", 14 + 40 + 180000 = 180054 = 0x0002BF56, reserved, bits at 54.
  const Bytes bmp = Bytes("BM\x56\xBF\x02\x00\x00\x00\x00\x00\x36\x00\x00\x00", 14) + dib;
  model::Message m;
  m.subject = "ole";
  m.body_text = "see picture";
  model::Attachment a;
  a.kind = model::AttachmentKind::Ole;
  a.filename = "Picture (Device Independent Bitmap)";
  a.data = object(CfbNode::dir("", {CfbNode::stream("CONTENTS", dib)}, STATIC_DIB));
  m.attachments.push_back(std::move(a));
  BuildOptions lf;
  lf.crlf = false;
  Result<Built> b1 = build_message(m, lf);
  Result<Built> b2 = build_message(m, lf);
  ASSERT_TRUE(b1.ok()) << b1.problem().detail;
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b1->bytes, b2->bytes);
  const std::string &s = b1->bytes;
  const std::size_t ct = s.find("Content-Type: image/bmp;");
  ASSERT_NE(ct, std::string::npos) << s.substr(0, 2000);
  EXPECT_NE(s.find("filename=\"Picture (Device Independent Bitmap).bmp\""), std::string::npos);
  EXPECT_EQ(s.find("application/octet-stream"), std::string::npos);
  EXPECT_TRUE(b1->warnings.empty());
  // The part's body, decoded, is the BMP (the unpacked bytes live until the message is written).
  const std::size_t body = s.find("\n\n", ct) + 2;
  const std::size_t end = s.find("\n--", body);
  ASSERT_NE(end, std::string::npos);
  EXPECT_TRUE(unbase64(std::string_view(s).substr(body, end - body)) == bmp);
  // The model is untouched: the PST writer still sees an OLE object.
  EXPECT_EQ(m.attachments[0].kind, model::AttachmentKind::Ole);
}

// A real OLE1 Package: the one in aspnet__MSG_file_with_RTF_Formatting.msg of the corpus (an
// .msg keeps the object as a sub-storage, __substg1.0_3701000D, of the attachment). Its streams
// are copied into a standalone object, which is what a PST's PidTagAttachDataObject holds. The
// expected file name and bytes are what olefile shows in the Ole10Native stream.
TEST(OleAttachment, CorpusPackageFromAnMsgFile) {
  MM_REQUIRE_CORPUS();
  Bytes msg;
  ASSERT_TRUE(mm::testing::read_file(
      mm::testing::corpus_path("msg/aspnet__MSG_file_with_RTF_Formatting.msg"), msg));
  Result<std::unique_ptr<cfb::CompoundFile>> cf = cfb::CompoundFile::open(msg);
  ASSERT_TRUE(cf.ok()) << cf.problem().detail;
  const std::string obj = "__attach_version1.0_#00000000/__substg1.0_3701000D";
  std::optional<cfb::Entry> storage = (*cf)->find(obj);
  ASSERT_TRUE(storage.has_value());
  Result<std::vector<cfb::Entry>> entries = (*cf)->list(obj);
  ASSERT_TRUE(entries.ok());
  CfbNode root = CfbNode::dir("", {}, storage->clsid);
  for (const cfb::Entry &e : *entries) {
    ASSERT_EQ(e.type, cfb::EntryType::Stream) << e.name;
    Result<Bytes> data = (*cf)->read_stream(obj + "/" + e.name);
    ASSERT_TRUE(data.ok()) << data.problem().detail;
    root.children.push_back(CfbNode::stream(e.name, *data));
  }
  ASSERT_EQ(root.children.size(), 5u);
  OleContent c = unpack_ole_object(object(root), "OLE Package");
  EXPECT_EQ(c.kind, OleContentKind::File);
  EXPECT_EQ(c.filename, "Attach.txt");
  EXPECT_EQ(c.data, "This text file is attached");
  EXPECT_FALSE(c.warning.has_value());
}

}  // namespace
}  // namespace mm::mime
