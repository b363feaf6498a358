// End to end: a PST written by the project's PST writer with ATTACH_OLE attachments whose
// objects the test built ([MS-CFB] image from cfb_builder.h) — (a) an OLE1 Package holding a
// file, (b) a static DIB picture, (c) an object of an unknown class, (d) a damaged compound
// file — converted to mbox and read back by Python's mailbox/email and Pillow
// (mbox_attachments.py). The ground truth is what the test put in: the file's name and bytes,
// the picture's pixels, the unknown object's bytes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "cfb_builder.h"
#include "mailmill/format/pst/writer.h"
#include "mailmill/pipeline/convert.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::pipeline {
namespace {
namespace fs = std::filesystem;
using mm::testing::cfb_clsid;
using mm::testing::CfbNode;
using mm::testing::CfbWriter;

Bytes le32(u32 v) {
  Bytes b(4, '\0');
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return b;
}
Bytes le16(u16 v) { return Bytes{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
std::string sha_hex(ByteView b) {
  const util::Sha256Digest d = util::Sha256::digest(b);
  return text::to_hex(std::span<const u8>(d));
}

Bytes noise(std::size_t n) {
  Bytes b(n, '\0');
  u32 x = 12345;
  for (char &c : b) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return b;
}

/// (a) An OLE1 Packager object holding `file` as "budget.xlsx".
Bytes package_object(const Bytes &file) {
  const std::string label = "budget.xlsx", path = "C:\\Users\\ann\\budget.xlsx",
                    temp = "C:\\Temp\\budget.xlsx";
  Bytes body = le16(2) + label + '\0' + path + '\0' + le16(0) + le16(3) +
               le32(static_cast<u32>(temp.size() + 1)) + temp + '\0' +
               le32(static_cast<u32>(file.size())) + file;
  return CfbWriter::build(CfbNode::dir(
      "", {CfbNode::stream("\x01Ole10Native", le32(static_cast<u32>(body.size())) + body)},
      cfb_clsid("0003000C-0000-0000-C000-000000000046")));
}

/// (b) A static DIB picture, 3x2 pixels at 24 bits, rows bottom-up and padded to 12 bytes:
/// top row red, green, blue; bottom row white, black, rgb(10,20,30).
Bytes dib_object() {
  const Bytes bottom = Bytes("\xFF\xFF\xFF\x00\x00\x00\x1E\x14\x0A\x00\x00\x00", 12);
  const Bytes top = Bytes("\x00\x00\xFF\x00\xFF\x00\xFF\x00\x00\x00\x00\x00", 12);
  const Bytes dib = le32(40) + le32(3) + le32(2) + le16(1) + le16(24) + le32(0) + le32(24) +
                    le32(2835) + le32(2835) + le32(0) + le32(0) + bottom + top;
  return CfbWriter::build(CfbNode::dir(
      "", {CfbNode::stream("\x01Ole", Bytes(20, '\0')), CfbNode::stream("CONTENTS", dib)},
      cfb_clsid("00000316-0000-0000-C000-000000000046")));
}

/// (c) An object of a class nothing here knows (a Word document's storage).
Bytes unknown_object() {
  return CfbWriter::build(
      CfbNode::dir("",
                   {CfbNode::stream("WordDocument", noise(7000)),
                    CfbNode::stream("1Table", noise(300)), CfbNode::dir("ObjectPool", {})},
                   cfb_clsid("00020906-0000-0000-C000-000000000046")));
}

struct Att {
  std::string filename, type, sha, image;
  u64 size = 0;
};

/// Runs mbox_attachments.py on `mbox`: message subjects with defect counts, and attachments.
/// `pil` is false when Pillow is missing.
std::vector<std::pair<std::string, std::vector<Att>>> read_mbox(const fs::path &mbox, bool &pil) {
  const fs::path script = fs::path(MM_TESTS_DIR) / "unit" / "pipeline" / "mbox_attachments.py";
  const std::string cmd =
      "python3 " + mm::testing::q(script.string()) + " " + mm::testing::q(mbox.string());
  std::string out;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  const int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  EXPECT_TRUE(status == 0 || status == 77) << cmd << "\n" << out;
  pil = status == 0;
  std::vector<std::pair<std::string, std::vector<Att>>> msgs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t s = 0;
    for (;;) {
      const std::size_t t = line.find('\t', s);
      f.push_back(line.substr(s, t == std::string::npos ? std::string::npos : t - s));
      if (t == std::string::npos) break;
      s = t + 1;
    }
    if (f[0] == "message" && f.size() == 3) {
      EXPECT_EQ(f[2], "0") << "defects in " << f[1];
      msgs.push_back({f[1], {}});
    } else if (f[0] == "attachment" && f.size() == 6 && !msgs.empty()) {
      msgs.back().second.push_back({f[1], f[2], f[4], f[5], std::stoull(f[3])});
    } else {
      ADD_FAILURE() << "unexpected oracle line: " << line;
    }
  }
  return msgs;
}

std::map<std::string, Bytes> output_files(const fs::path &out) {
  std::map<std::string, Bytes> files;
  for (const auto &e : fs::recursive_directory_iterator(out)) {
    const std::string rel = fs::relative(e.path(), out).string();
    if (!e.is_regular_file() || rel.starts_with(".mailmill")) continue;
    Bytes b;
    EXPECT_TRUE(mm::testing::read_file(e.path().string(), b));
    files[rel] = std::move(b);
  }
  return files;
}

TEST(OleAttachments, GeneratedPstToMboxAsPythonAndPillowSeeIt) {
  const fs::path root = mm::testing::make_tmp_dir("mm_ole");
  const fs::path pst = root / "ole.pst";
  const Bytes xlsx = noise(9000);
  const Bytes package = package_object(xlsx), picture = dib_object(), unknown = unknown_object();
  const Bytes damaged = unknown.substr(0, 600);
  {
    auto w = pst::PstWriter::create(pst.string(), pst::WriterOptions{});
    ASSERT_TRUE(w.ok()) << w.problem().detail;
    model::Message m;
    m.subject = "OLE objects";
    m.body_text = "three objects and a broken one";
    m.submit_time = 1600000000;
    const std::pair<std::string, const Bytes *> objects[] = {
        {"Package", &package},
        {"Picture (Device Independent Bitmap)", &picture},
        {"Microsoft Word Document", &unknown},
        {"Broken Object", &damaged}};
    for (const auto &[name, bytes] : objects) {
      model::Attachment a;
      a.kind = model::AttachmentKind::Ole;
      a.filename = name;
      a.data = *bytes;
      m.attachments.push_back(std::move(a));
    }
    // The same item twice: content dedup must still see one message.
    ASSERT_TRUE((*w)->add_message(0, m).ok());
    ASSERT_TRUE((*w)->add_message(0, m).ok());
    ASSERT_TRUE((*w)->finish().ok());
  }

  std::map<std::string, Bytes> first;
  for (int jobs : {1, 2}) {
    const fs::path out = root / ("out" + std::to_string(jobs));
    ConvertOptions opts;
    opts.inputs = {pst.string()};
    opts.out_dir = out.string();
    opts.format = OutputFormat::Mbox;
    opts.dedup = DedupMode::Content;
    opts.jobs = jobs;
    std::ostringstream log;
    ConvertResult r = run_convert(opts, log);
    const Totals t = r.ledger.totals();
    EXPECT_TRUE(r.ledger.balanced()) << log.str();
    EXPECT_EQ(t.seen, 2) << log.str();
    EXPECT_EQ(t.written, 1) << log.str();
    EXPECT_EQ(t.duplicates, 1) << log.str();
    std::map<std::string, Bytes> files = output_files(out);
    if (jobs == 1) {
      first = files;
      continue;
    }
    EXPECT_EQ(files, first) << "output differs between 1 and 2 jobs";
  }

  fs::path mbox;
  for (const auto &[rel, bytes] : first)
    if (rel.ends_with(".mbox")) mbox = root / "out1" / rel;
  ASSERT_FALSE(mbox.empty()) << "no mbox written";
  bool pil = false;
  const auto msgs = read_mbox(mbox, pil);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].first, "OLE objects");
  const std::vector<Att> &atts = msgs[0].second;
  ASSERT_EQ(atts.size(), 4u);

  // (a) The Package's file, under its own name and the type of its extension, byte-identical.
  EXPECT_EQ(atts[0].filename, "budget.xlsx");
  EXPECT_EQ(atts[0].type, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(atts[0].size, xlsx.size());
  EXPECT_EQ(atts[0].sha, sha_hex(xlsx));
  // (b) The picture as a BMP that Pillow opens, with the pixels the DIB holds.
  EXPECT_EQ(atts[1].filename, "Picture (Device Independent Bitmap).bmp");
  EXPECT_EQ(atts[1].type, "image/bmp");
  EXPECT_EQ(atts[1].size, 14u + 40u + 24u);
  if (pil) {
    EXPECT_EQ(atts[1].image, "3x2:RGB:255,0,0;0,255,0;0,0,255;255,255,255;0,0,0;10,20,30");
  }
  // (c) The unknown object as the compound file itself, byte-identical.
  EXPECT_EQ(atts[2].filename, "Microsoft Word Document.ole");
  EXPECT_EQ(atts[2].type, "application/x-ole-storage");
  EXPECT_EQ(atts[2].sha, sha_hex(unknown));
  // (d) The damaged object is still there, as it was.
  EXPECT_EQ(atts[3].filename, "Broken Object.ole");
  EXPECT_EQ(atts[3].type, "application/x-ole-storage");
  EXPECT_EQ(atts[3].sha, sha_hex(damaged));
  if (!std::getenv("MM_KEEP_TEST_OUTPUT")) fs::remove_all(root);
  if (!pil) {
    if (mm::testing::corpus_mandatory()) FAIL() << "python3-pil is missing (CI=true needs it)";
    GTEST_SKIP() << "python3-pil is not installed: pixels not checked";
  }
}

}  // namespace
}  // namespace mm::pipeline
