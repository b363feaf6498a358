// The compound-file adapter against compound files whose contents the test knows: built here
// byte by byte from [MS-CFB] (cfb_builder.h), checked first with an independent reader
// (olefile, tests/unit/cfb/olefile_dump.py) so the builder itself is proven, then read through
// the adapter; the real .msg files of the corpus read both ways; and damaged files, which must
// give a Problem, never a crash or a hang.
#include "mailmill/format/cfb/compound_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "cfb_builder.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::cfb {
namespace {

using mm::testing::CfbNode;
using mm::testing::CfbWriter;

std::string esc(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string sha_hex(ByteView b) {
  const util::Sha256Digest d = util::Sha256::digest(b);
  return text::to_hex(std::span<const u8>(d));
}

/// The adapter's view of a compound file in olefile_dump.py's format.
std::string dump(const CompoundFile &cf) {
  std::vector<std::string> lines;
  std::function<void(const std::string &, const std::string &)> walk =
      [&](const std::string &path, const std::string &shown) {
        Result<std::vector<Entry>> kids = cf.list(path);
        ASSERT_TRUE(kids.ok()) << kids.problem().detail;
        for (const Entry &e : *kids) {
          const std::string p = path.empty() ? e.name : path + "/" + e.name;
          const std::string s = shown.empty() ? esc(e.name) : shown + "/" + esc(e.name);
          if (e.type == EntryType::Storage) {
            lines.push_back("D\t" + s + "\t" + clsid_to_string(e.clsid));
            walk(p, s);
          } else {
            Result<Bytes> data = cf.read_stream(p);
            ASSERT_TRUE(data.ok()) << data.problem().detail;
            EXPECT_EQ(data->size(), e.size) << s;
            lines.push_back("S\t" + s + "\t" + std::to_string(data->size()) + "\t" +
                            sha_hex(*data));
          }
        }
      };
  walk("", "");
  std::sort(lines.begin(), lines.end());
  std::string out = "ROOT\t" + clsid_to_string(cf.root_clsid()) + "\n";
  for (const std::string &l : lines) out += l + "\n";
  return out;
}

/// Lists every storage and reads every stream, ignoring failures (damaged input: only a crash,
/// a hang or a sanitizer report can fail).
void touch_everything(const CompoundFile &cf, const std::string &path = {}, int depth = 0) {
  if (depth > 64) return;
  Result<std::vector<Entry>> kids = cf.list(path);
  if (!kids) return;
  for (const Entry &e : *kids) {
    const std::string p = path.empty() ? e.name : path + "/" + e.name;
    if (e.type == EntryType::Storage)
      touch_everything(cf, p, depth + 1);
    else
      (void)cf.read_stream(p);
  }
}

/// The ground truth of a tree built with CfbWriter, in the same format.
std::string expected_dump(const CfbNode &root) {
  std::vector<std::string> lines;
  std::function<void(const CfbNode &, const std::string &)> walk = [&](const CfbNode &n,
                                                                       const std::string &at) {
    for (const CfbNode &c : n.children) {
      const std::string p = at.empty() ? esc(c.name) : at + "/" + esc(c.name);
      if (c.storage) {
        lines.push_back("D\t" + p + "\t" + clsid_to_string(c.clsid));
        walk(c, p);
      } else {
        lines.push_back("S\t" + p + "\t" + std::to_string(c.data.size()) + "\t" + sha_hex(c.data));
      }
    }
  };
  walk(root, "");
  std::sort(lines.begin(), lines.end());
  std::string out = "ROOT\t" + clsid_to_string(root.clsid) + "\n";
  for (const std::string &l : lines) out += l + "\n";
  return out;
}

/// Debian's interpreter when there is one (its python3-olefile is there; a pyenv shim first on
/// PATH is slow to start and lacks it), else whatever python3 is.
std::string python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/// olefile's listing of each of `paths` (olefile_dump.py's format without the FILE line);
/// `status` gets the script's exit code (77: olefile missing).
std::map<std::string, std::string> olefile_dump(const std::vector<std::string> &paths,
                                                int &status) {
  const std::filesystem::path script =
      std::filesystem::path(MM_TESTS_DIR) / "unit" / "cfb" / "olefile_dump.py";
  std::string cmd = python() + " " + mm::testing::q(script.string());
  for (const std::string &p : paths) cmd += " " + mm::testing::q(p);
  std::string out;
  FILE *pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return {};
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::map<std::string, std::string> by_file;
  std::string *cur = nullptr;
  std::size_t at = 0;
  while (at < out.size()) {
    std::size_t nl = out.find('\n', at);
    if (nl == std::string::npos) nl = out.size();
    const std::string line = out.substr(at, nl - at);
    at = nl + 1;
    if (line.starts_with("FILE\t")) {
      cur = &by_file[line.substr(5)];
    } else if (cur != nullptr) {
      *cur += line + "\n";
    }
  }
  return by_file;
}

std::string write_temp(const Bytes &b, const std::string &tag) {
  const std::string path =
      ::testing::TempDir() + "mm_cfb_" + std::to_string(::getpid()) + "_" + tag + ".cfb";
  std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
  return path;
}

/// Skips (or, with CI=true, fails) when olefile is not installed.
#define MM_REQUIRE_OLEFILE(status)                                                     \
  do {                                                                                 \
    if ((status) == 77) {                                                              \
      if (::mm::testing::corpus_mandatory()) FAIL() << "python3-olefile is missing";   \
      GTEST_SKIP() << "python3-olefile is not installed (tools/setup.sh installs it)"; \
    }                                                                                  \
  } while (false)

Bytes pattern(std::size_t n, unsigned seed) {
  Bytes b(n, '\0');
  u32 x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<char>(x >> 24);
  }
  return b;
}

/// A tree with nested storages and CLSIDs, mini-stream and regular streams (one exactly at the
/// 4096-byte cutoff, one spanning many sectors), an empty stream, and OLE's control-character
/// names.
CfbNode sample_tree() {
  return CfbNode::dir(
      "",
      {CfbNode::stream("\x01"
                       "CompObj",
                       pattern(76, 1)),
       CfbNode::stream("\x01Ole", pattern(20, 2)), CfbNode::stream("CONTENTS", pattern(10000, 3)),
       CfbNode::stream("\x02OlePres000", pattern(4095, 4)),
       CfbNode::stream("cutoff", pattern(4096, 5)), CfbNode::stream("empty", ""),
       CfbNode::dir("inner",
                    {CfbNode::stream("a", "x"), CfbNode::stream("bb", pattern(700, 6)),
                     CfbNode::dir("deeper", {CfbNode::stream("z", pattern(64, 7))},
                                  testing::cfb_clsid("00020906-0000-0000-C000-000000000046"))},
                    testing::cfb_clsid("0003000C-0000-0000-C000-000000000046"))},
      testing::cfb_clsid("00000316-0000-0000-C000-000000000046"));
}

TEST(CompoundFile, ClsidRegistryForm) {
  // CLSID_StaticDib as stored in a directory entry ([MS-CFB] 2.6.1: Data1..3 little-endian).
  const Clsid dib = {0x16, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                     0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};
  EXPECT_EQ(clsid_to_string(dib), "00000316-0000-0000-C000-000000000046");
  EXPECT_EQ(clsid_from_string("{00000316-0000-0000-c000-000000000046}"), dib);
  const std::optional<Clsid> odd = clsid_from_string("12345678-9ABC-DEF0-1122-334455667788");
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ((*odd)[0], 0x78);
  EXPECT_EQ((*odd)[4], 0xBC);
  EXPECT_EQ((*odd)[6], 0xF0);
  EXPECT_EQ((*odd)[8], 0x11);
  EXPECT_FALSE(clsid_from_string("00000316-0000-0000-C000-00000000004").has_value());
  EXPECT_FALSE(clsid_from_string("00000316+0000-0000-C000-000000000046").has_value());
  EXPECT_FALSE(clsid_from_string("0000031G-0000-0000-C000-000000000046").has_value());
}

TEST(CompoundFile, BuiltFileReadsAsOlefileAndGroundTruthSay) {
  const CfbNode tree = sample_tree();
  const Bytes image = CfbWriter::build(tree);
  const std::string truth = expected_dump(tree);
  const std::string path = write_temp(image, "sample");
  int status = 0;
  const std::string oracle = olefile_dump({path}, status)[path];
  std::filesystem::remove(path);
  MM_REQUIRE_OLEFILE(status);
  ASSERT_EQ(status, 0) << oracle;
  // The builder is right (an independent reader sees what was built)...
  EXPECT_EQ(oracle, truth);
  // ...and so is the adapter.
  Result<std::unique_ptr<CompoundFile>> cf = CompoundFile::open(image);
  ASSERT_TRUE(cf.ok()) << cf.problem().detail;
  EXPECT_EQ(dump(**cf), truth);
}

TEST(CompoundFile, FindReadAndLimits) {
  const CfbNode tree = sample_tree();
  const Bytes image = CfbWriter::build(tree);
  Result<std::unique_ptr<CompoundFile>> opened = CompoundFile::open(image);
  ASSERT_TRUE(opened.ok()) << opened.problem().detail;
  const CompoundFile &cf = **opened;

  std::optional<Entry> root = cf.find("");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->type, EntryType::Storage);
  EXPECT_EQ(clsid_to_string(root->clsid), "00000316-0000-0000-C000-000000000046");

  std::optional<Entry> deeper = cf.find("inner/deeper");
  ASSERT_TRUE(deeper.has_value());
  EXPECT_EQ(deeper->type, EntryType::Storage);
  EXPECT_EQ(deeper->name, "deeper");
  EXPECT_EQ(clsid_to_string(deeper->clsid), "00020906-0000-0000-C000-000000000046");

  std::optional<Entry> contents = cf.find("CONTENTS");
  ASSERT_TRUE(contents.has_value());
  EXPECT_EQ(contents->type, EntryType::Stream);
  EXPECT_EQ(contents->size, 10000u);

  EXPECT_EQ(*cf.read_stream("inner/deeper/z"), pattern(64, 7));
  EXPECT_EQ(*cf.read_stream("/inner//bb/"), pattern(700, 6));  // empty parts are skipped
  EXPECT_EQ(*cf.read_stream("\x02OlePres000"), pattern(4095, 4));
  EXPECT_EQ(*cf.read_stream("empty"), "");

  EXPECT_FALSE(cf.find("nothing").has_value());
  EXPECT_FALSE(cf.find("CONTENTS/below-a-stream").has_value());
  Result<Bytes> missing = cf.read_stream("inner/nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.problem().code, ProblemCode::SourceCorrupt);
  EXPECT_NE(missing.problem().detail.find("inner/nothing"), std::string::npos);
  Result<Bytes> storage = cf.read_stream("inner");
  ASSERT_FALSE(storage.ok());
  EXPECT_NE(storage.problem().detail.find("storage"), std::string::npos);
  Result<Bytes> big = cf.read_stream("CONTENTS", 9999);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.problem().code, ProblemCode::LimitExceeded);
  EXPECT_TRUE(cf.read_stream("CONTENTS", 10000).ok());
  Result<std::vector<Entry>> not_dir = cf.list("CONTENTS");
  ASSERT_FALSE(not_dir.ok());
  EXPECT_EQ(not_dir.problem().code, ProblemCode::SourceCorrupt);

  // Names come back as stored, control characters included, in one listing.
  Result<std::vector<Entry>> top = cf.list();
  ASSERT_TRUE(top.ok());
  std::set<std::string> names;
  for (const Entry &e : *top) names.insert(e.name);
  EXPECT_EQ(names, (std::set<std::string>{"\x01"
                                          "CompObj",
                                          "\x01Ole", "CONTENTS", "\x02OlePres000", "cutoff",
                                          "empty", "inner"}));
}

TEST(CompoundFile, NotACompoundFile) {
  for (const Bytes &b :
       {Bytes(), Bytes("hello"), Bytes(4096, 'A'), Bytes("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)}) {
    Result<std::unique_ptr<CompoundFile>> cf = CompoundFile::open(b);
    ASSERT_FALSE(cf.ok()) << b.size();
    EXPECT_EQ(cf.problem().code, ProblemCode::SourceCorrupt);
    EXPECT_NE(cf.problem().detail.find("not a compound file"), std::string::npos)
        << cf.problem().detail;
  }
  EXPECT_FALSE(has_signature("\xD0\xCF\x11\xE0\xA1\xB1\x1A"));
  EXPECT_TRUE(has_signature(CfbWriter::build(sample_tree())));
}

// Damage at each structure the reader follows. Every case must come back as a Problem from
// open() or from a read of the damaged part; the test's timeout catches a hang.
TEST(CompoundFile, DamagedFilesGiveProblems) {
  const Bytes good = CfbWriter::build(sample_tree());
  auto put32 = [](Bytes &b, std::size_t at, u32 v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  auto fat_sector = [&good]() { return load_le32(good.data() + 0x4C); };
  auto dir_sector = [&good]() { return load_le32(good.data() + 0x30); };
  auto sector_at = [](u32 s) { return 512 + std::size_t{s} * 512; };
  // Finds the directory entry named `name` (ASCII) in the good image.
  auto dir_entry = [&](const std::string &name) -> std::size_t {
    for (std::size_t at = sector_at(dir_sector()); at + 128 <= good.size(); at += 128) {
      std::string n;
      for (std::size_t c = 0; c < 32 && good[at + 2 * c] != 0; ++c) n += good[at + 2 * c];
      if (n == name) return at;
    }
    ADD_FAILURE() << "no entry " << name;
    return 0;
  };

  struct Case {
    std::string what;
    Bytes bytes;
    std::string stream;  // read after a successful open: must fail
  };
  std::vector<Case> cases;
  cases.push_back({"header only", good.substr(0, 512), ""});
  cases.push_back({"cut in the middle", good.substr(0, good.size() / 2), "CONTENTS"});
  {
    Bytes b = good;
    b[0x1E] = 30;  // sector shift 2^30
    cases.push_back({"absurd sector size", b, ""});
  }
  {
    Bytes b = good;
    put32(b, 0x2C, 0x7FFFFFFF);  // FAT sector count
    cases.push_back({"absurd FAT sector count", b, ""});
  }
  {
    Bytes b = good;
    put32(b, 0x30, 0x00FFFFFF);  // directory beyond the end of the file
    cases.push_back({"directory beyond the end", b, ""});
  }
  {
    // CONTENTS' first sector points to itself in the FAT: a cycle.
    Bytes b = good;
    const u32 first = load_le32(good.data() + dir_entry("CONTENTS") + 0x74);
    put32(b, sector_at(fat_sector()) + 4 * first, first);
    cases.push_back({"FAT cycle", b, "CONTENTS"});
  }
  {
    // CONTENTS claims more bytes than its chain holds.
    Bytes b = good;
    put32(b, dir_entry("CONTENTS") + 0x78, 900000);
    cases.push_back({"stream longer than its chain", b, "CONTENTS"});
  }
  {
    // CONTENTS starts at a sector past the end of the file.
    Bytes b = good;
    put32(b, dir_entry("CONTENTS") + 0x74, 0x00ABCDEF);
    cases.push_back({"stream start beyond the end", b, "CONTENTS"});
  }
  {
    // A mini stream whose start is outside the mini stream.
    Bytes b = good;
    put32(b, dir_entry("bb") + 0x74, 0x00ABCDEF);
    cases.push_back({"mini stream start beyond the mini stream", b, "inner/bb"});
  }

  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    Result<std::unique_ptr<CompoundFile>> cf = CompoundFile::open(c.bytes);
    if (!cf.ok()) {
      EXPECT_EQ(cf.problem().code, ProblemCode::SourceCorrupt);
      EXPECT_FALSE(cf.problem().detail.empty());
      continue;
    }
    ASSERT_FALSE(c.stream.empty()) << "damaged file opened without complaint";
    Result<Bytes> s = (*cf)->read_stream(c.stream);
    EXPECT_FALSE(s.ok()) << "damaged stream read " << s->size() << " bytes";
    if (!s.ok()) EXPECT_NE(s.problem().detail.find("compound file"), std::string::npos);
  }
}

// A directory whose child pointer loops back to the root (a cycle in the tree) must not make
// list() or find() run forever or recurse without bound.
TEST(CompoundFile, DirectoryCycleTerminates) {
  Bytes b = CfbWriter::build(sample_tree());
  const u32 dir = load_le32(b.data() + 0x30);
  const std::size_t base = 512 + std::size_t{dir} * 512;
  // Every entry's left sibling becomes entry 1, and entry 1's child becomes the root.
  for (std::size_t at = base + 128; at < base + 512; at += 128) {
    for (int i = 0; i < 4; ++i) b[at + 0x44 + i] = static_cast<char>((1u >> (8 * i)) & 0xFF);
  }
  Result<std::unique_ptr<CompoundFile>> cf = CompoundFile::open(b);
  if (!cf.ok()) {
    EXPECT_EQ(cf.problem().code, ProblemCode::SourceCorrupt);
    return;
  }
  (void)(*cf)->list();
  (void)(*cf)->find("inner/deeper/z");
  SUCCEED();
}

// The root entry with sibling links (a damaged directory; fuzz_msg's input had its directory
// start pointing at a sector of streams): libgsf read those siblings with no parent to hold
// them and lost them (LeakSanitizer in fuzz_msg and in ASan builds of this test). open()
// clears the two links in a copy; what the file shows must not change.
TEST(CompoundFile, RootWithSiblingsReadsAsWithout) {
  const Bytes clean = CfbWriter::build(sample_tree());
  Bytes damaged = clean;
  const u32 dir = load_le32(damaged.data() + 0x30);
  const std::size_t root = 512 + std::size_t{dir} * 512;
  ASSERT_EQ(load_le32(damaged.data() + root + 0x44), 0xFFFFFFFFu);
  for (int i = 0; i < 4; ++i) {
    damaged[root + 0x44 + i] = static_cast<char>((1u >> (8 * i)) & 0xFF);  // left: entry 1
    damaged[root + 0x48 + i] = static_cast<char>((2u >> (8 * i)) & 0xFF);  // right: entry 2
  }
  const Bytes before = damaged;
  Result<std::unique_ptr<CompoundFile>> a = CompoundFile::open(clean);
  Result<std::unique_ptr<CompoundFile>> b = CompoundFile::open(damaged);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(dump(**a), dump(**b));
  EXPECT_EQ(damaged, before) << "the caller's bytes are not written to";
}

TEST(CompoundFile, CorpusMsgFilesReadAsOlefileSays) {
  MM_REQUIRE_CORPUS();
  const std::string dir = mm::testing::corpus_path("msg");
  std::vector<std::string> files;
  for (const auto &e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".msg") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 10u);
  int status = 0;
  std::map<std::string, std::string> oracle = olefile_dump(files, status);
  MM_REQUIRE_OLEFILE(status);
  ASSERT_EQ(status, 0);
  int compared = 0;
  for (const std::string &f : files) {
    SCOPED_TRACE(f);
    Bytes bytes;
    ASSERT_TRUE(mm::testing::read_file(f, bytes));
    Result<std::unique_ptr<CompoundFile>> cf = CompoundFile::open(bytes);
    ASSERT_EQ(oracle.count(f), 1u);
    if (oracle[f].starts_with("ERROR\t")) continue;  // olefile cannot read it: no crash is all
    // Fuzzer-minimized files have names without their NUL terminator, which the two readers
    // cut at different lengths; for them, opening and reading without a crash is the test.
    if (f.find("clusterfuzz") != std::string::npos) {
      if (cf.ok()) touch_everything(**cf);
      continue;
    }
    ASSERT_TRUE(cf.ok()) << cf.problem().detail;
    EXPECT_EQ(dump(**cf), oracle[f]);
    ++compared;
  }
  EXPECT_GE(compared, 10);
}

}  // namespace
}  // namespace mm::cfb
