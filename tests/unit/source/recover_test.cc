// --recover: libpff's recovered (deleted) and orphan items as two extra folders, checked against
// `pffexport -m recovered` as the oracle, plus the CLI run (ledger balanced, nothing else
// changes without the flag).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <set>

#include "mailmill/mapi/tags.h"
#include "mailmill/source/open.h"
#include "test_util.h"

namespace mm::source {
namespace {

using namespace mm::source::testing;

// Fixtures whose recovery lists hold readable items (pffexport -m recovered exports items).
const char *const WITH_RECOVERED[] = {
    "aspnet__Outlook.pst",   "aspnet__SampleOstFile.ost", "aspnet__passwordprotectedPST.pst",
    "hht__contacts97-2002.pst", "jlibpst__dist-list.pst", "pstsdk__sample1.pst",
    "pstsdk__sample2.pst",   "pstsdk__submessage.pst",    "tika__testPST.pst",
    "tika__testPST_variousBodyTypes.pst"};

// Runs `pffexport -m recovered -f all`; returns the number of item directories under the
// .recovered and .orphans targets (item subtrees, e.g. attachments, are not descended).
int pffexport_recovered_count(const std::string &pst, const fs::path &dir) {
  fs::path target = dir / "rec";
  std::string cmd = std::string(MM_PFFEXPORT) + " -q -m recovered -f all -t " +
                    shell_quote(target.string()) + " " + shell_quote(pst) + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  (void)rc;
  int n = 0;
  for (const char *suffix : {".recovered", ".orphans"}) {
    fs::path root = dir / (std::string("rec") + suffix);
    if (!fs::is_directory(root)) continue;
    for (const auto &[path, count] : pffexport_folder_counts(root)) n += count;
  }
  return n;
}

// pffexport has no exporter for these classes (libpff item types configuration, posting note,
// free/busy): it skips them, while we account for them (written or skipped as system items).
bool pffexport_skips_class(const std::string &cls) {
  return cls.rfind("IPM.Post", 0) == 0 || cls.rfind("IPM.Configuration", 0) == 0 ||
         cls.rfind("IPM.Microsoft.ScheduleData.FreeBusy", 0) == 0;
}

struct RecoveryTally {
  int listed = 0;      // ids in the two recovery folders
  int readable = 0;    // read_item succeeded
  int exportable = 0;  // readable and of a class pffexport exports
  int failed = 0;      // read_item gave a Problem
};

RecoveryTally tally_recovery(mapi::MailStore &store) {
  RecoveryTally t;
  Result<std::vector<mapi::FolderInfo>> folders = store.folders();
  EXPECT_TRUE(folders.ok());
  if (!folders.ok()) return t;
  for (const mapi::FolderInfo &f : *folders) {
    if (!is_recovery_folder_id(f.node_id)) continue;
    Result<std::vector<u64>> ids = store.items_in(f.node_id);
    EXPECT_TRUE(ids.ok());
    if (!ids.ok()) continue;
    EXPECT_FALSE(ids->empty()) << "an empty recovery folder is listed: " << f.path[0];
    EXPECT_EQ(f.content_count, static_cast<i64>(ids->size()));
    for (u64 id : *ids) {
      ++t.listed;
      EXPECT_TRUE(is_recovery_id(id));
      EXPECT_FALSE(is_recovery_folder_id(id));
      EXPECT_EQ(recovery_kind(id), recovery_kind(f.node_id));
      Result<mapi::RawMessage> m = store.read_item(id);
      if (!m.ok()) {
        ++t.failed;
        EXPECT_EQ(m.problem().code, ProblemCode::ItemUnreadable);
        EXPECT_FALSE(m.problem().detail.empty());
        continue;
      }
      ++t.readable;
      EXPECT_EQ(m->node_id, id);
      std::string cls = m->props.get_string(mapi::pid::MESSAGE_CLASS, 1252).value_or("");
      if (!pffexport_skips_class(cls)) ++t.exportable;
    }
  }
  return t;
}

TEST(RecoveryIds, NeverCollideWithRealOrUnreadableIds) {
  constexpr u64 rec = make_recovery_item_id(RecoveryKind::Recovered, 5);
  constexpr u64 orph = make_recovery_item_id(RecoveryKind::Orphan, 0x7FFFFFFF, 3);
  static_assert(is_recovery_id(rec) && !is_recovery_folder_id(rec));
  static_assert(recovery_kind(rec) == RecoveryKind::Recovered && recovery_index(rec) == 5 &&
                recovery_sub(rec) == 0);
  static_assert(recovery_kind(orph) == RecoveryKind::Orphan &&
                recovery_index(orph) == 0x7FFFFFFF && recovery_sub(orph) == 3);
  static_assert(!is_unreadable_item_id(rec) && !is_unreadable_item_id(orph));
  static_assert(rec > 0xFFFFFFFFu && orph > 0xFFFFFFFFu);
  // An unreadable-item id can have bit 62 set (its index field), but it is never a recovery id.
  static_assert(!is_recovery_id(make_unreadable_item_id(0xFFFFFFFF, 0x7FFFFFFF)));
  static_assert(is_recovery_folder_id(make_recovery_folder_id(RecoveryKind::Orphan)));
  static_assert(make_recovery_folder_id(RecoveryKind::Orphan) !=
                make_recovery_folder_id(RecoveryKind::Recovered));
  static_assert(!is_recovery_id(0xFFFFFFFFu));
}

// Without --recover nothing changes: same folders, same items; with it the real folder tree is
// an unchanged prefix and only the two named folders are added.
TEST(Recover, OffChangesNothingOnChangesOnlyTheAddedFolders) {
  MM_REQUIRE_CORPUS();
  for (const std::string &name : all_pst_fixtures()) {
    SCOPED_TRACE(name);
    Result<std::unique_ptr<mapi::MailStore>> plain = open_libpff(pst_fixture(name));
    Result<std::unique_ptr<mapi::MailStore>> rec =
        open_libpff(pst_fixture(name), OpenOptions{true, {}});
    ASSERT_EQ(plain.ok(), rec.ok());
    if (!plain.ok()) continue;
    Result<std::vector<mapi::FolderInfo>> a = (*plain)->folders();
    Result<std::vector<mapi::FolderInfo>> b = (*rec)->folders();
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_GE(b->size(), a->size());
    ASSERT_LE(b->size(), a->size() + 2);
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].node_id, (*b)[i].node_id);
      EXPECT_EQ((*a)[i].path, (*b)[i].path);
      EXPECT_FALSE(is_recovery_id((*a)[i].node_id));
      Result<std::vector<u64>> ia = (*plain)->items_in((*a)[i].node_id);
      Result<std::vector<u64>> ib = (*rec)->items_in((*b)[i].node_id);
      ASSERT_EQ(ia.ok(), ib.ok());
      if (ia.ok()) {
        EXPECT_EQ(*ia, *ib);
      }
    }
    std::vector<std::string> added;
    for (std::size_t i = a->size(); i < b->size(); ++i) {
      const mapi::FolderInfo &f = (*b)[i];
      EXPECT_TRUE(is_recovery_folder_id(f.node_id));
      EXPECT_EQ(f.parent_id, a->front().node_id);
      ASSERT_EQ(f.path.size(), 1u);
      added.push_back(f.path[0]);
    }
    if (added.size() == 2) {
      EXPECT_EQ(added[0], RECOVERED_FOLDER_NAME);
      EXPECT_EQ(added[1], ORPHAN_FOLDER_NAME);
    } else if (added.size() == 1) {
      EXPECT_TRUE(added[0] == RECOVERED_FOLDER_NAME || added[0] == ORPHAN_FOLDER_NAME);
    }
    // A plain store rejects recovery ids instead of reading anything for them.
    EXPECT_FALSE((*plain)->items_in(make_recovery_folder_id(RecoveryKind::Recovered)).ok());
    EXPECT_FALSE((*plain)->read_item(make_recovery_item_id(RecoveryKind::Recovered, 0)).ok());
  }
}

TEST(Recover, OpenStoreWithRecoverUsesLibpffUnlessNativeIsNamed) {
  MM_REQUIRE_CORPUS();
  const std::string path = pst_fixture("pstsdk__sample1.pst");
  for (Reader r : {Reader::Auto, Reader::Native, Reader::Libpff}) {
    Result<std::unique_ptr<mapi::MailStore>> s = open_store(path, r, OpenOptions{true, {}});
    ASSERT_TRUE(s.ok()) << s.problem().detail;
    EXPECT_STREQ((*s)->reader_name(), r == Reader::Native ? "native" : "libpff");
  }
  Result<std::unique_ptr<mapi::MailStore>> native = open_store(path, Reader::Native);
  ASSERT_TRUE(native.ok());
  EXPECT_STREQ((*native)->reader_name(), "native");
}

// Every fixture: every listed id reads or fails with a Problem (never a crash), and the items we
// can read, of the classes pffexport exports, are exactly as many as pffexport exports.
TEST(Recover, MatchesPffexportOnEveryFixture) {
  MM_REQUIRE_CORPUS();
  int total_listed = 0;
  for (const std::string &name : all_pst_fixtures()) {
    SCOPED_TRACE(name);
    Result<std::unique_ptr<mapi::MailStore>> store =
        open_libpff(pst_fixture(name), OpenOptions{true, {}});
    if (!store.ok()) continue;  // e.g. the header-CRC fixture libpff refuses
    RecoveryTally t = tally_recovery(**store);
    EXPECT_EQ(t.listed, t.readable + t.failed);
    TempDir tmp;
    int oracle = pffexport_recovered_count(pst_fixture(name), tmp.path());
    EXPECT_EQ(t.exportable, oracle)
        << "listed " << t.listed << ", readable " << t.readable << ", failed " << t.failed;
    total_listed += t.listed;
  }
  EXPECT_GT(total_listed, 0);
}

TEST(Recover, FixturesWithRecoveredItemsListThem) {
  MM_REQUIRE_CORPUS();
  for (const char *name : WITH_RECOVERED) {
    SCOPED_TRACE(name);
    Result<std::unique_ptr<mapi::MailStore>> store =
        open_libpff(pst_fixture(name), OpenOptions{true, {}});
    ASSERT_TRUE(store.ok()) << store.problem().detail;
    RecoveryTally t = tally_recovery(**store);
    EXPECT_GT(t.readable, 0);
  }
}

// Ids are stable between handles: a second handle (as each pipeline worker opens) reads the
// same item for the same id, without having listed the folders first.
TEST(Recover, IdsAreStableAcrossHandles) {
  MM_REQUIRE_CORPUS();
  const std::string path = pst_fixture("aspnet__SampleOstFile.ost");
  Result<std::unique_ptr<mapi::MailStore>> a = open_libpff(path, OpenOptions{true, {}});
  Result<std::unique_ptr<mapi::MailStore>> b = open_libpff(path, OpenOptions{true, {}});
  ASSERT_TRUE(a.ok() && b.ok());
  Result<std::vector<u64>> ids = (*a)->items_in(make_recovery_folder_id(RecoveryKind::Recovered));
  ASSERT_TRUE(ids.ok());
  ASSERT_FALSE(ids->empty());
  int compared = 0;
  for (u64 id : *ids) {
    Result<mapi::RawMessage> ma = (*a)->read_item(id);
    Result<mapi::RawMessage> mb = (*b)->read_item(id);
    ASSERT_EQ(ma.ok(), mb.ok());
    if (!ma.ok()) continue;
    EXPECT_EQ(ma->props.get_string(mapi::pid::SUBJECT, 1252),
              mb->props.get_string(mapi::pid::SUBJECT, 1252));
    ++compared;
  }
  EXPECT_GT(compared, 0);
  // Ids past the end of a list are Problems, not crashes.
  EXPECT_FALSE((*b)->read_item(make_recovery_item_id(RecoveryKind::Recovered, 0x7FFFFFF0)).ok());
  EXPECT_FALSE((*b)->read_item(make_recovery_item_id(RecoveryKind::Orphan, 12345)).ok());
  EXPECT_FALSE((*b)->read_item(make_recovery_item_id(RecoveryKind::Recovered, 0, 7)).ok());
}

// ---- The CLI: `mailmill convert --recover` ------------------------------------------------

// The mailmill binary of the same build tree (tests/ and tools/ are siblings), or "" when it
// has not been built.
std::string mailmill_binary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  fs::path bin = self.parent_path().parent_path() / "tools" / "mailmill";
  return fs::is_regular_file(bin, ec) ? bin.string() : std::string();
}

struct Totals {
  long seen = 0, written = 0, duplicates = 0, skipped = 0, failed = 0;
  bool operator==(const Totals &) const = default;
};

// Per-folder totals of a JSON report (keyed by folder path), from its compact form.
std::map<std::string, Totals> folder_totals(const std::string &json) {
  static const std::regex re(
      R"re("path":"((?:[^"\\]|\\.)*)","folder_id":\d+,"totals":\{"seen":(\d+),"written":(\d+),)re"
      R"re("duplicates":(\d+),"skipped":(\d+),"failed":(\d+)\})re");
  std::map<std::string, Totals> out;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), re); it != std::sregex_iterator();
       ++it) {
    const std::smatch &m = *it;
    out[m[1]] = Totals{std::stol(m[2]), std::stol(m[3]), std::stol(m[4]), std::stol(m[5]),
                       std::stol(m[6])};
  }
  return out;
}

int run_convert(const std::string &bin, const std::string &input, const fs::path &out,
                const fs::path &report, const std::string &extra) {
  std::string cmd = shell_quote(bin) + " convert " + shell_quote(input) + " -o " +
                    shell_quote(out.string()) + " -r " + shell_quote(report.string()) +
                    " -q -j 2 " + extra + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(RecoverCli, LedgerBalancedAndOnlyRecoveryFoldersAdded) {
  MM_REQUIRE_CORPUS();
  const std::string bin = mailmill_binary();
  if (bin.empty()) GTEST_SKIP() << "mailmill binary not built";
  for (const char *name : {"pstsdk__sample1.pst", "aspnet__SampleOstFile.ost",
                           "hht__contacts97-2002.pst", "tika__testPST.pst"}) {
    SCOPED_TRACE(name);
    TempDir tmp;
    const std::string input = pst_fixture(name);
    int rc_plain = run_convert(bin, input, tmp.path() / "plain", tmp.path() / "plain.json",
                               "--reader libpff");
    int rc_rec = run_convert(bin, input, tmp.path() / "rec", tmp.path() / "rec.json", "--recover");
    EXPECT_TRUE(rc_plain == 0 || rc_plain == 1) << rc_plain;
    EXPECT_TRUE(rc_rec == 0 || rc_rec == 1) << rc_rec;  // 1: some recovered items failed
    std::string plain = read_file(tmp.path() / "plain.json");
    std::string rec = read_file(tmp.path() / "rec.json");
    EXPECT_NE(plain.find("\"balanced\":true"), std::string::npos);
    EXPECT_NE(rec.find("\"balanced\":true"), std::string::npos);
    EXPECT_NE(rec.find("\"reader\":\"libpff\""), std::string::npos);
    std::map<std::string, Totals> a = folder_totals(plain);
    std::map<std::string, Totals> b = folder_totals(rec);
    ASSERT_FALSE(a.empty());
    // Every real folder is converted exactly as without --recover (recovered items come last,
    // so dedup never lets one of them displace a live item).
    for (const auto &[path, t] : a) {
      ASSERT_TRUE(b.count(path)) << path;
      EXPECT_TRUE(b[path] == t) << path;
    }
    // The recovery folders account for every listed item.
    Result<std::unique_ptr<mapi::MailStore>> store = open_libpff(input, OpenOptions{true, {}});
    ASSERT_TRUE(store.ok());
    RecoveryTally t = tally_recovery(**store);
    long seen = 0, failed = 0;
    for (const auto &[path, tot] : b) {
      if (a.count(path)) continue;
      EXPECT_TRUE(path == RECOVERED_FOLDER_NAME || path == ORPHAN_FOLDER_NAME) << path;
      EXPECT_EQ(tot.seen, tot.written + tot.duplicates + tot.skipped + tot.failed);
      seen += tot.seen;
      failed += tot.failed;
    }
    EXPECT_EQ(seen, t.listed);
    EXPECT_GE(failed, t.failed);
    EXPECT_GT(seen, 0);
  }
}

}  // namespace
}  // namespace mm::source
