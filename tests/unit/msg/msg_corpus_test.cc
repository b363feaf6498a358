// Every file of the corpus's msg folder read by the .msg reader and compared with an
// independent reader: olefile (tests/unit/msg/msg_oracle.py) reading the same streams by name.
// Compared: the raw string properties of the message (subject, class, sender, display to/cc),
// the number of recipients and their display names, the number of attachments and, for each,
// the size and SHA-256 of its data, or the subject of its embedded message; every entry of the
// named-property map. The converter's model must agree on subject, recipients and attachments.
// Files that are no .msg (TNEF streams kept in the same folder) must be refused cleanly.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "mailmill/format/cfb/compound_file.h"
#include "mailmill/format/msg/msg.h"
#include "mailmill/mapi/to_model.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "test_support.h"

namespace mm::msg {
namespace {

std::string python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

struct OracleFile {
  std::vector<std::vector<std::string>> lines;  // fields of each line after FILE
  const std::vector<std::string> *first(const std::string &key) const {
    for (const auto &l : lines)
      if (!l.empty() && l[0] == key) return &l;
    return nullptr;
  }
};

std::vector<std::string> split_tabs(const std::string &line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::map<std::string, OracleFile> run_oracle(const std::vector<std::string> &paths, int &status) {
  const std::filesystem::path script =
      std::filesystem::path(MM_TESTS_DIR) / "unit" / "msg" / "msg_oracle.py";
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
  std::map<std::string, OracleFile> by_file;
  OracleFile *cur = nullptr;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = split_tabs(line);
    if (f[0] == "FILE" && f.size() == 2) {
      cur = &by_file[f[1]];
    } else if (cur != nullptr) {
      cur->lines.push_back(std::move(f));
    }
  }
  return by_file;
}

std::string hex(ByteView b) { return text::to_hex(b); }

std::string sha_hex(ByteView b) {
  const util::Sha256Digest d = util::Sha256::digest(b);
  return text::to_hex(std::span<const u8>(d));
}

std::string guid_string(const std::array<u8, 16> &g) {
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", g[3], g[2],
                g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
                g[15]);
  return buf;
}

u32 hex_u32(const std::string &s) { return static_cast<u32>(std::stoul(s, nullptr, 16)); }

/// The subject as the model shows it: a leading "\x01" + one character marks the prefix
/// length ([MS-OXCMSG] 2.2.1.46) and is not part of the subject.
std::string without_marker(std::string s) {
  if (s.size() >= 2 && s[0] == '\x01') s.erase(0, 2);
  return s;
}

std::string unhex(const std::string &h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

/// A compound file's contents in msg_oracle.py's listing() form.
std::string listing(const cfb::CompoundFile &cf) {
  std::vector<std::string> lines;
  std::function<void(const std::string &)> walk = [&](const std::string &path) {
    Result<std::vector<cfb::Entry>> kids = cf.list(path);
    if (!kids) {
      lines.push_back("ERROR\t" + kids.problem().detail);
      return;
    }
    for (const cfb::Entry &e : *kids) {
      const std::string p = path.empty() ? e.name : path + "/" + e.name;
      if (e.type == cfb::EntryType::Storage) {
        lines.push_back("D\t" + p + "\t" + cfb::clsid_to_string(e.clsid));
        walk(p);
      } else {
        Result<Bytes> data = cf.read_stream(p);
        lines.push_back("S\t" + p + "\t" +
                        (data ? std::to_string(data->size()) + "\t" + sha_hex(*data) : "ERROR"));
      }
    }
  };
  walk("");
  std::sort(lines.begin(), lines.end());
  std::string out = "ROOT\t" + cfb::clsid_to_string(cf.root_clsid()) + "\n";
  for (const std::string &l : lines) out += l + "\n";
  return out;
}

TEST(MsgCorpus, EveryFileAgreesWithOlefile) {
  MM_REQUIRE_CORPUS();
  const std::string dir = mm::testing::corpus_path("msg");
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) GTEST_SKIP() << "no files in " << dir;
  int status = 0;
  std::map<std::string, OracleFile> oracle = run_oracle(files, status);
  if (status == 77) {
    if (mm::testing::corpus_mandatory()) FAIL() << "python3-olefile is missing";
    GTEST_SKIP() << "python3-olefile is not installed";
  }
  ASSERT_EQ(status, 0);

  int read = 0, refused = 0, compared_attachments = 0, compared_names = 0, compared_props = 0;
  int with_warnings = 0;
  std::map<std::string, int> warning_kinds;
  std::string refusals;
  for (const std::string &f : files) {
    const std::string base = std::filesystem::path(f).filename().string();
    SCOPED_TRACE(base);
    ASSERT_EQ(oracle.count(f), 1u);
    const OracleFile &o = oracle[f];
    Bytes bytes;
    ASSERT_TRUE(mm::testing::read_file(f, bytes));
    Result<mapi::RawMessage> r = read_msg(bytes);
    if (const auto *err = o.first("ERROR")) {
      // olefile cannot read it or it holds no .msg: the reader must refuse it too.
      EXPECT_FALSE(r.ok()) << "olefile says: " << (*err)[1];
      if (!r.ok()) {
        EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
        ++refused;
        refusals += "  " + base + ": " + r.problem().detail + "\n";
      }
      continue;
    }
    // Fuzzer-minimized files: olefile and libgsf disagree on their broken directories, so
    // either outcome is accepted; no crash and a clean Problem is the test.
    const bool fuzzed = base.find("clusterfuzz") != std::string::npos;
    if (!r.ok()) {
      EXPECT_TRUE(fuzzed) << r.problem().detail;
      EXPECT_EQ(r.problem().code, ProblemCode::SourceCorrupt);
      ++refused;
      refusals += "  " + base + ": " + r.problem().detail + "\n";
      continue;
    }
    ++read;
    const mapi::RawMessage &m = *r;
    if (const auto *partial = o.first("PARTIAL")) {
      EXPECT_TRUE(fuzzed) << "olefile failed part-way: " << (*partial)[1];
      continue;
    }
    if (!m.warnings.empty()) {
      ++with_warnings;
      for (const Problem &w : m.warnings) ++warning_kinds[base + ": " + w.detail.substr(0, 100)];
    }
    if (fuzzed) continue;
    const bool unicode = (*o.first("UNICODE"))[1] == "1";
    const u32 oracle_cp = static_cast<u32>(std::stoul((*o.first("ANSICP"))[1]));
    const bool windows_cp = oracle_cp == 874 || (oracle_cp >= 932 && oracle_cp <= 950) ||
                            (oracle_cp >= 1250 && oracle_cp <= 1258);
    if (unicode) {
      EXPECT_EQ(m.codepage, 0u);
    } else if (oracle_cp == 0 || windows_cp) {
      EXPECT_EQ(m.codepage, oracle_cp);
    }
    // Every property olefile finds, in every bag, and nothing else.
    std::map<std::string, std::map<u16, std::pair<u32, std::string>>> want;  // scope -> id -> value
    for (const auto &l : o.lines) {
      if (l[0] == "P") want[l[1]][static_cast<u16>(hex_u32(l[2]) >> 16)] = {hex_u32(l[2]), l[3]};
    }
    auto compare_bag = [&](const std::string &scope, const mapi::PropertyBag &bag) {
      const auto &w = want[scope];
      std::size_t extra = 0;
      for (const mapi::Property &p : bag.all()) {
        auto it = w.find(p.id());
        if (it == w.end()) {
          // The one value the reader adds: an OLE object's storage as bytes.
          if (!(scope[0] == 'a' && p.tag == mapi::make_tag(0x3701, mapi::PT_OBJECT))) {
            ADD_FAILURE() << scope << ": property " << std::hex << p.tag << " not in olefile's";
          }
          ++extra;
          continue;
        }
        EXPECT_EQ(p.tag, it->second.first) << scope;
        EXPECT_EQ(hex(p.value), it->second.second) << scope << " property " << std::hex << p.tag;
        ++compared_props;
      }
      EXPECT_EQ(bag.size() - extra, w.size()) << scope << ": properties olefile found, not read";
    };
    compare_bag("m", m.props);
    for (std::size_t i = 0; i < m.recipients.size(); ++i)
      compare_bag("r" + std::to_string(i), m.recipients[i]);
    for (std::size_t i = 0; i < m.attachments.size(); ++i) {
      compare_bag("a" + std::to_string(i), m.attachments[i].props);
      if (m.attachments[i].embedded)
        compare_bag("a" + std::to_string(i) + "e", m.attachments[i].embedded->props);
    }

    std::string oracle_subject;
    bool have_subject_text = false;
    for (const auto &l : o.lines) {
      if (l[0] == "PROP") {
        const mapi::Property *p = m.props.find_tag(hex_u32(l[1]));
        ASSERT_NE(p, nullptr) << "property " << l[1];
        EXPECT_EQ(hex(p->value), l[2]) << "property " << l[1];
      } else if (l[0] == "TEXT") {
        oracle_subject = unhex(l[2]);
        have_subject_text = true;
      } else if (l[0] == "RECIPS") {
        EXPECT_EQ(m.recipients.size(), std::stoul(l[1]));
      } else if (l[0] == "RECIP") {
        const std::size_t i = std::stoul(l[1]);
        if (i >= m.recipients.size()) continue;
        const mapi::Property *p = m.recipients[i].find(0x3001);
        EXPECT_EQ(p ? hex(p->value) : "-", l[2]) << "recipient " << i;
      } else if (l[0] == "ATTACHS") {
        EXPECT_EQ(m.attachments.size(), std::stoul(l[1]));
      } else if (l[0] == "ATTACH") {
        const std::size_t i = std::stoul(l[1]);
        if (i >= m.attachments.size()) continue;
        const mapi::RawAttachment &a = m.attachments[i];
        std::istringstream kind(l[2]);
        std::string what;
        kind >> what;
        if (what == "bin") {
          u64 size = 0;
          std::string sha;
          kind >> size >> sha;
          const mapi::Property *d = a.props.find_tag(mapi::make_tag(0x3701, mapi::PT_BINARY));
          ASSERT_NE(d, nullptr) << "attachment " << i;
          EXPECT_EQ(d->value.size(), size) << "attachment " << i;
          EXPECT_EQ(sha_hex(d->value), sha) << "attachment " << i;
          EXPECT_FALSE(a.problem.has_value()) << a.problem->detail;
        } else if (what == "msg") {
          std::string subj;
          kind >> subj;
          ASSERT_NE(a.embedded, nullptr)
              << "attachment " << i << ": " << (a.problem ? a.problem->detail : "");
          const mapi::Property *s = a.embedded->props.find(0x0037);
          EXPECT_EQ(s ? hex(s->value) : "-", subj) << "attachment " << i;
        } else if (what == "obj") {
          // The OLE object's storage, written out as a compound file, lists as olefile lists
          // the storage inside the .msg.
          std::string sha;
          kind >> sha;
          EXPECT_FALSE(a.problem.has_value()) << a.problem->detail;
          const mapi::Property *d = a.props.find_tag(mapi::make_tag(0x3701, mapi::PT_OBJECT));
          ASSERT_NE(d, nullptr) << "attachment " << i;
          Result<std::unique_ptr<cfb::CompoundFile>> cf = cfb::CompoundFile::open(d->value);
          ASSERT_TRUE(cf.ok()) << cf.problem().detail;
          EXPECT_EQ(sha_hex(listing(**cf)), sha) << listing(**cf);
        }
        ++compared_attachments;
      } else if (l[0] == "NAMED") {
        ASSERT_NE(m.names, nullptr);
        const mapi::PropertyName *n = m.names->name_of(static_cast<u16>(hex_u32(l[1])));
        ASSERT_NE(n, nullptr) << "named property " << l[1];
        EXPECT_EQ(guid_string(n->guid), l[2]) << "named property " << l[1];
        if (l[3][0] == 'L') {
          EXPECT_FALSE(n->is_string);
          EXPECT_EQ(n->lid, std::stoul(l[3].substr(1))) << "named property " << l[1];
        } else {
          EXPECT_TRUE(n->is_string);
          EXPECT_EQ(hex(n->name), l[3].substr(1)) << "named property " << l[1];
        }
        ++compared_names;
      }
    }
    // The converter over the same RawMessage.
    mapi::ConvertContext ctx{m.codepage != 0 ? m.codepage : 1252, m.names.get()};
    Result<model::Message> mm = mapi::to_model(m, ctx);
    ASSERT_TRUE(mm.ok()) << mm.problem().detail;
    if (have_subject_text) {
      const u32 cp = unicode ? 0 : m.codepage;
      EXPECT_EQ(m.props.get_string(0x0037, cp).value_or("<absent>"), oracle_subject);
      // A UTF-8 PR_INTERNET_CPID says nothing of the 8-bit strings (poi__ASCII_UTF-8_*.msg):
      // the model's subject is olefile's read in the file's own codepage.
      EXPECT_EQ(mm->subject, without_marker(oracle_subject));
    }
    EXPECT_EQ(mm->recipients.size(), std::stoul((*o.first("RECIPS"))[1]));
    EXPECT_EQ(mm->attachments.size(), std::stoul((*o.first("ATTACHS"))[1]));
  }
  std::string warned;
  for (const auto &[w, n] : warning_kinds)
    warned += "  " + w + (n > 1 ? " (x" + std::to_string(n) + ")" : "") + "\n";
  std::printf(
      "[ msg corpus ] %zu files: %d read, %d refused; %d property values, %d attachments "
      "and %d named properties compared with olefile; %d files read with warnings\n"
      "%s[ msg corpus ] refused:\n%s",
      files.size(), read, refused, compared_props, compared_attachments, compared_names,
      with_warnings, warned.c_str(), refusals.c_str());
  EXPECT_GE(read, 70);
}

}  // namespace
}  // namespace mm::msg
