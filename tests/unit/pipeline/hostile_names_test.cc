// End to end: a PST whose folder and attachment names try to escape the output folder or trip
// file systems ("../x", "a/b", "CON", control characters, very long names) converts with every
// file inside OUTDIR, sanitized names, and a ledger that adds up.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "mailmill/format/pst/writer.h"
#include "mailmill/pipeline/convert.h"
#include "test_support.h"

namespace mm::pipeline {
namespace {
namespace fs = std::filesystem;

TEST(HostileNames, EveryOutputFileStaysInsideOutdir) {
  fs::path root = testing::make_tmp_dir("mm_hostile");
  fs::path pst = root / "in" / "hostile.pst";
  fs::create_directories(pst.parent_path());
  const std::vector<std::string> folder_names = {
      "../x", "a/b", "CON", "..", ".", std::string("ctl\x01\x1f", 5), std::string(300, 'L'),
      "lpt1.txt", "trailing. ", "a\\b"};
  {
    auto w = pst::PstWriter::create(pst.string(), pst::WriterOptions{});
    ASSERT_TRUE(w.ok()) << w.problem().detail;
    for (const std::string &name : folder_names) {
      auto f = (*w)->add_folder(0, name);
      ASSERT_TRUE(f.ok()) << f.problem().detail;
      model::Message m;
      m.subject = "../../etc/passwd " + name;
      m.body_text = "body";
      model::Attachment a;
      a.filename = "../../" + name + ".bin";
      a.data = "payload";
      m.attachments.push_back(std::move(a));
      ASSERT_TRUE((*w)->add_message(*f, m).ok());
      model::Message c;
      c.kind = model::ItemKind::Contact;
      c.message_class = "IPM.Contact";
      c.subject = "/abs/" + name;
      c.contact = model::Contact{};
      c.contact->display_name = "../" + name;
      ASSERT_TRUE((*w)->add_message(*f, c).ok());
    }
    ASSERT_TRUE((*w)->finish().ok());
  }
  for (OutputFormat format : {OutputFormat::Mbox, OutputFormat::Eml}) {
    fs::path out = root / (format == OutputFormat::Mbox ? "out-mbox" : "out-eml");
    ConvertOptions opts;
    opts.inputs = {pst.string()};
    opts.out_dir = out.string();
    opts.format = format;
    opts.dedup = DedupMode::None;
    std::ostringstream log;
    ConvertResult r = run_convert(opts, log);
    Totals t = r.ledger.totals();
    EXPECT_TRUE(r.ledger.balanced());
    EXPECT_EQ(t.seen, static_cast<i64>(2 * folder_names.size())) << log.str();
    EXPECT_EQ(t.written, t.seen) << log.str();
    // Nothing outside OUTDIR: the work folder holds only what we created.
    std::vector<std::string> top;
    for (const auto &e : fs::directory_iterator(root)) top.push_back(e.path().filename().string());
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top.size(), format == OutputFormat::Mbox ? 2u : 3u);
    std::size_t files = 0;
    fs::path canon_out = fs::canonical(out);
    for (const auto &e : fs::recursive_directory_iterator(out)) {
      fs::path c = fs::weakly_canonical(e.path());
      EXPECT_EQ(c.string().rfind(canon_out.string(), 0), 0u) << c;
      std::string name = e.path().filename().string();
      EXPECT_NE(name, "..");
      EXPECT_LE(name.size(), 255u);
      for (unsigned char ch : name) EXPECT_GE(ch, 0x20) << name;
      std::string stem = name.substr(0, name.find('.'));
      for (char &ch : stem) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      EXPECT_NE(stem, "con") << name;
      EXPECT_NE(stem, "lpt1") << name;
      if (e.is_regular_file()) ++files;
    }
    EXPECT_GT(files, folder_names.size());
  }
  if (!std::getenv("MM_KEEP_TEST_OUTPUT")) fs::remove_all(root);
}

}  // namespace
}  // namespace mm::pipeline
