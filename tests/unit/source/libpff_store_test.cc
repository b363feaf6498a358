// Tests of the libpff reader against the shared PST fixtures, with pffexport as the oracle.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "mailmill/mapi/tags.h"
#include "mailmill/source/open.h"
#include "mailmill/util/text.h"
#include "test_util.h"

namespace mm::source {
namespace {

using namespace mm::source::testing;

const char *const BAD_CRC_FIXTURE = "aspnet__AddingBulkMessagesWithImprovedPerformance.pst";

std::string join(const std::vector<std::string> &path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i) out += '/';
    out += path[i];
  }
  return out;
}

// Subject as UTF-8 from the raw property, without the [MS-OXCMSG] 2.2.1.46 prefix marker
// (U+0001 followed by one length character) that some stores keep in PR_SUBJECT.
std::string subject_of(const mapi::RawMessage &m, u32 codepage) {
  std::string s = m.props.get_string(mapi::pid::SUBJECT, codepage).value_or("");
  if (s.size() >= 2 && s[0] == '\x01') s = s.substr(2);
  return s;
}

// pffexport turns a folder name into a directory name by replacing characters it considers
// unsafe with '_' (observed: '@' in hht__contacts97-2002.pst). Applied to our names only for the
// comparison.
std::string pffexport_dir_name(const std::string &name) {
  std::string out = name;
  for (char &c : out) {
    if (std::string_view("/\\:*?\"<>|@~").find(c) != std::string_view::npos ||
        static_cast<unsigned char>(c) < 0x20) {
      c = '_';
    }
  }
  return out;
}

// pffexport does not export these message classes (libpff has no item type for them; its
// definitions.h lists IPM.Post as unsupported).
bool pffexport_skips_class(const std::string &cls) {
  return cls.rfind("IPM.Post", 0) == 0 || cls.rfind("IPM.Microsoft.ScheduleData.FreeBusy", 0) == 0;
}

struct Tally {
  std::map<std::string, int> per_folder;  // pffexport-comparable item counts per folder path
  int enumerated = 0;                     // ids from items_in (readable or not)
  int unreadable = 0;                     // sentinel ids + read_item failures
  int skipped_classes = 0;                // readable, but of a class pffexport skips
};

// Our view of the store in pffexport's layout: path -> exportable item count. pffexport names a
// folder "FolderNNNNN" (1-based index among siblings) when it has no name or its name is
// already taken by an earlier sibling.
Tally our_folder_counts(mapi::MailStore &store) {
  Tally t;
  Result<std::vector<mapi::FolderInfo>> folders = store.folders();
  EXPECT_TRUE(folders.ok()) << (folders.ok() ? "" : folders.problem().detail);
  if (!folders.ok()) return t;
  std::map<u64, std::string> rel_of;                  // node id -> exported relative path
  std::map<u64, int> child_index;                     // parent id -> children seen so far
  std::map<u64, std::set<std::string>> taken;         // parent id -> names used
  for (const mapi::FolderInfo &f : *folders) {
    std::string rel;
    if (f.parent_id != 0) {
      int idx = ++child_index[f.parent_id];
      std::string name = pffexport_dir_name(f.path.empty() ? "" : f.path.back());
      if (name.empty() || !taken[f.parent_id].insert(name).second) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "Folder%05d", idx);
        name = buf;
      }
      const std::string &parent = rel_of[f.parent_id];
      rel = parent.empty() ? name : parent + "/" + name;
    }
    rel_of[f.node_id] = rel;
    Result<std::vector<u64>> ids = store.items_in(f.node_id);
    EXPECT_TRUE(ids.ok()) << rel;
    int n = 0;
    if (ids.ok()) {
      for (u64 id : *ids) {
        ++t.enumerated;
        if (is_unreadable_item_id(id)) {
          ++t.unreadable;
          continue;
        }
        Result<mapi::RawMessage> m = store.read_item(id);
        if (!m.ok()) {
          EXPECT_EQ(m.problem().code, ProblemCode::ItemUnreadable);
          EXPECT_FALSE(m.problem().detail.empty());
          ++t.unreadable;
          continue;
        }
        if (pffexport_skips_class(m->props.get_string(mapi::pid::MESSAGE_CLASS, 1252).value_or(""))) {
          ++t.skipped_classes;
          continue;
        }
        ++n;
      }
    }
    t.per_folder[rel] += n;
  }
  return t;
}

TEST(LibpffStore, OpensEveryFixtureExceptBadHeaderCrc) {
  MM_REQUIRE_CORPUS();
  std::vector<std::string> fixtures = all_pst_fixtures();
  ASSERT_GE(fixtures.size(), 30u);
  for (const std::string &name : fixtures) {
    SCOPED_TRACE(name);
    Result<std::unique_ptr<mapi::MailStore>> store = open_libpff(pst_fixture(name));
    if (name == BAD_CRC_FIXTURE) {
      ASSERT_FALSE(store.ok());
      EXPECT_EQ(store.problem().code, ProblemCode::SourceCorrupt);
      // libpff's own words, condensed to one line.
      EXPECT_NE(store.problem().detail.find("checksum"), std::string::npos)
          << store.problem().detail;
      EXPECT_EQ(store.problem().detail.find('\n'), std::string::npos);
      continue;
    }
    ASSERT_TRUE(store.ok()) << store.problem().detail;
    const mapi::StoreInfo &info = (*store)->info();
    EXPECT_STREQ((*store)->reader_name(), "libpff");
    EXPECT_EQ(info.file_size, std::filesystem::file_size(pst_fixture(name)));
    // Every fixture is "compressible" (permute) encrypted, per MANIFEST.tsv.
    EXPECT_EQ(info.encryption, mapi::PstEncryption::Permute);
    // ANSI (wVer 14) files per MANIFEST.tsv; the rest are 64-bit Unicode.
    bool ansi = name == "hht__contacts97-2002.pst" || name == "pstsdk__sample2.pst" ||
                name == "pstsdk__test_ansi.pst";
    EXPECT_EQ(info.format, ansi ? mapi::PstFormat::Ansi : mapi::PstFormat::Unicode);
    // Only SampleOstFile.ost has the OST content type ("PersonalStorageFile.ost" is a PST).
    EXPECT_EQ(info.is_ost, name == "aspnet__SampleOstFile.ost");
    // ANSI stores do not record their codepage; the reader infers it from the messages
    // (hht__contacts97-2002.pst was written by a Japanese Outlook: its items say 50220/1041).
    EXPECT_EQ(info.default_codepage, name == "hht__contacts97-2002.pst" ? 932u : 1252u);
    Result<mapi::PropertyBag> sp = (*store)->store_properties();
    EXPECT_TRUE(sp.ok());
  }
}

TEST(LibpffStore, FoldersAndItemCountsMatchPffexport) {
  MM_REQUIRE_CORPUS();
  for (const std::string &name : all_pst_fixtures()) {
    if (name == BAD_CRC_FIXTURE) continue;
    SCOPED_TRACE(name);
    TempDir tmp;
    Result<std::unique_ptr<mapi::MailStore>> store = open_libpff(pst_fixture(name));
    ASSERT_TRUE(store.ok()) << store.problem().detail;
    fs::path exported =
        run_pffexport(pst_fixture(name), tmp.path(), (*store)->info().default_codepage);
    ASSERT_TRUE(fs::is_directory(exported));
    std::map<std::string, int> expected = pffexport_folder_counts(exported);

    Tally ours = our_folder_counts(**store);
    for (const auto &[path, n] : expected) {
      auto it = ours.per_folder.find(path);
      EXPECT_TRUE(it != ours.per_folder.end()) << "missing folder: " << path;
      if (it != ours.per_folder.end()) {
        EXPECT_EQ(it->second, n) << path;
      }
    }
    for (const auto &[path, n] : ours.per_folder) {
      EXPECT_TRUE(expected.count(path)) << "extra folder: " << path;
    }
    int total = 0;
    for (const auto &[path, n] : ours.per_folder) total += n;
    std::printf("[ counts ] %-50s folders=%zu enumerated=%d exported=%d unreadable=%d "
                "skipped-class=%d\n",
                name.c_str(), ours.per_folder.size(), ours.enumerated, total, ours.unreadable,
                ours.skipped_classes);
  }
}

TEST(LibpffStore, RootFolderHasEmptyPathAndChildrenPointToParents) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> store =
      open_libpff(pst_fixture("hht__alpha-beta-gamma-delta.pst"));
  ASSERT_TRUE(store.ok());
  Result<std::vector<mapi::FolderInfo>> folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  ASSERT_FALSE(folders->empty());
  EXPECT_EQ((*folders)[0].parent_id, 0u);
  EXPECT_TRUE((*folders)[0].path.empty());
  std::vector<std::string> paths;
  for (std::size_t i = 1; i < folders->size(); ++i) {
    EXPECT_NE((*folders)[i].parent_id, 0u);
    paths.push_back(join((*folders)[i].path));
  }
  // Japanese folder names decoded from the raw UTF-16 PR_DISPLAY_NAME (pffexport names them so).
  EXPECT_NE(std::find(paths.begin(), paths.end(),
                      "Outlook データ ファイルのトップ/削除済みアイテム"),
            paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "検索ルート"), paths.end());
}

// Subjects that start with a non-ASCII character (the libpff string getters' weak spot).
// Expected strings from pffexport's OutlookHeaders.txt for the same items.
TEST(LibpffStore, NonAsciiSubjectsDecodeFromRawBytes) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> store =
      open_libpff(pst_fixture("aspnet__passwordprotectedPST.pst"));
  ASSERT_TRUE(store.ok());
  Result<std::vector<mapi::FolderInfo>> folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  std::vector<std::string> subjects;
  for (const mapi::FolderInfo &f : *folders) {
    Result<std::vector<u64>> ids = (*store)->items_in(f.node_id);
    ASSERT_TRUE(ids.ok());
    for (u64 id : *ids) {
      Result<mapi::RawMessage> m = (*store)->read_item(id);
      if (!m.ok()) continue;
      subjects.push_back(subject_of(*m, (*store)->info().default_codepage));
    }
  }
  for (const char *want : {"绩效考核与薪酬体系的激励与创新", "采购成本为何居高不下呢？"}) {
    EXPECT_NE(std::find(subjects.begin(), subjects.end(), want), subjects.end()) << want;
  }
}

// Walks every item of a store and collects the data attachments' bytes in order of
// (item, attachment), recursing into embedded messages.
void collect_attachment_data(const mapi::RawMessage &m, std::vector<std::string> &out,
                             int *embedded) {
  for (const mapi::RawAttachment &a : m.attachments) {
    EXPECT_FALSE(a.problem.has_value()) << a.problem->detail;
    if (a.embedded) {
      ++*embedded;
      collect_attachment_data(*a.embedded, out, embedded);
      continue;
    }
    const mapi::Property *p =
        a.props.find_tag(mapi::make_tag(mapi::pid::ATTACH_DATA, mapi::PT_BINARY));
    if (p != nullptr) out.emplace_back(p->value);
  }
}

struct StoreAttachments {
  std::vector<std::string> data;
  int embedded = 0;
  int items = 0;
};

StoreAttachments read_all_attachments(const std::string &fixture) {
  StoreAttachments out;
  Result<std::unique_ptr<mapi::MailStore>> store = open_libpff(pst_fixture(fixture));
  EXPECT_TRUE(store.ok());
  if (!store.ok()) return out;
  Result<std::vector<mapi::FolderInfo>> folders = (*store)->folders();
  EXPECT_TRUE(folders.ok());
  if (!folders.ok()) return out;
  for (const mapi::FolderInfo &f : *folders) {
    Result<std::vector<u64>> ids = (*store)->items_in(f.node_id);
    if (!ids.ok()) continue;
    for (u64 id : *ids) {
      Result<mapi::RawMessage> m = (*store)->read_item(id);
      EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.problem().detail);
      if (!m.ok()) continue;
      ++out.items;
      collect_attachment_data(*m, out.data, &out.embedded);
    }
  }
  return out;
}

// Every regular file pffexport wrote inside an Attachments directory.
std::vector<std::string> pffexport_attachment_files(const fs::path &root) {
  std::vector<std::string> out;
  for (const auto &e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && e.path().parent_path().filename() == "Attachments") {
      out.push_back(read_file(e.path()));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void expect_attachments_match_pffexport(const std::string &fixture, std::size_t min_count) {
  SCOPED_TRACE(fixture);
  TempDir tmp;
  fs::path exported = run_pffexport(pst_fixture(fixture), tmp.path());
  std::vector<std::string> expected = pffexport_attachment_files(exported);
  ASSERT_GE(expected.size(), min_count);
  StoreAttachments ours = read_all_attachments(fixture);
  std::sort(ours.data.begin(), ours.data.end());
  ASSERT_EQ(ours.data.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(ours.data[i].size(), expected[i].size()) << i;
    EXPECT_TRUE(ours.data[i] == expected[i]) << "attachment " << i << " bytes differ";
  }
}

TEST(LibpffStore, AttachmentBytesEqualPffexportAttachAndInline) {
  MM_REQUIRE_CORPUS();
  expect_attachments_match_pffexport("rubymsg__attachAndInline.pst", 2);
}

TEST(LibpffStore, AttachmentBytesEqualPffexportAlphaBetaGammaDelta) {
  MM_REQUIRE_CORPUS();
  // alpha.png, beta.png, gamma.png, delta.png: one per nesting level of embedded messages.
  expect_attachments_match_pffexport("hht__alpha-beta-gamma-delta.pst", 4);
  StoreAttachments ours = read_all_attachments("hht__alpha-beta-gamma-delta.pst");
  EXPECT_EQ(ours.embedded, 3);
  ASSERT_EQ(ours.data.size(), 4u);
  // PNG signature ([RFC 2083] 3.1) at the start of each.
  for (const std::string &d : ours.data) EXPECT_EQ(d.substr(0, 8), "\x89PNG\r\n\x1a\n");
}

// The embedded message of the first item, with its subject, as pffexport exports it.
TEST(LibpffStore, EmbeddedMessagePresentMsgInMsg) {
  MM_REQUIRE_CORPUS();
  StoreAttachments ours = read_all_attachments("rubymsg__msgInMsg.pst");
  EXPECT_EQ(ours.items, 1);
  EXPECT_EQ(ours.embedded, 1);
}

TEST(LibpffStore, EmbeddedMessagePresentSubmessage) {
  MM_REQUIRE_CORPUS();
  StoreAttachments ours = read_all_attachments("pstsdk__submessage.pst");
  EXPECT_GE(ours.items, 1);
  EXPECT_EQ(ours.embedded, 1);
}

TEST(LibpffStore, RecipientsOfTwoHundredRecipientMessage) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> store =
      open_libpff(pst_fixture("rubymsg__200_recipients.pst"));
  ASSERT_TRUE(store.ok());
  Result<std::vector<mapi::FolderInfo>> folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  std::size_t max_rcpts = 0;
  for (const mapi::FolderInfo &f : *folders) {
    Result<std::vector<u64>> ids = (*store)->items_in(f.node_id);
    ASSERT_TRUE(ids.ok());
    for (u64 id : *ids) {
      Result<mapi::RawMessage> m = (*store)->read_item(id);
      ASSERT_TRUE(m.ok());
      max_rcpts = std::max(max_rcpts, m->recipients.size());
      for (const mapi::PropertyBag &r : m->recipients) {
        EXPECT_TRUE(r.has(mapi::pid::RECIPIENT_TYPE));
      }
    }
  }
  EXPECT_EQ(max_rcpts, 200u);
}

TEST(LibpffStore, NameMapResolvesNamedPropertiesOfItems) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> store =
      open_libpff(pst_fixture("aspnet__Outlook.pst"));
  ASSERT_TRUE(store.ok());
  const mapi::NameMap &names = (*store)->names();
  EXPECT_GT(names.size(), 100u);
  for (const auto &[id, name] : names.all()) {
    EXPECT_GE(id, 0x8000);
    if (name.is_string) {
      EXPECT_FALSE(name.name.empty());
    }
  }
  // PidLidAppointmentStartWhole = PSETID_Appointment / 0x820D, PT_SYSTIME ([MS-OXPROPS] 2.29).
  std::optional<u16> start = names.id_of(mapi::psetid::Appointment, 0x820D);
  ASSERT_TRUE(start.has_value());
  Result<std::vector<mapi::FolderInfo>> folders = (*store)->folders();
  ASSERT_TRUE(folders.ok());
  int appointments = 0;
  int named_props = 0;
  for (const mapi::FolderInfo &f : *folders) {
    Result<std::vector<u64>> ids = (*store)->items_in(f.node_id);
    ASSERT_TRUE(ids.ok());
    for (u64 id : *ids) {
      Result<mapi::RawMessage> m = (*store)->read_item(id);
      if (!m.ok()) continue;
      // Every named property id an item carries resolves through the store's map.
      for (const mapi::Property &p : m->props.all()) {
        if (p.id() < 0x8000) continue;
        ++named_props;
        EXPECT_NE(names.name_of(p.id()), nullptr) << std::hex << p.id();
      }
      if (m->props.get_string(mapi::pid::MESSAGE_CLASS, 1252) == "IPM.Appointment") {
        ++appointments;
        const mapi::Property *p = m->props.find(*start);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(p->type(), mapi::PT_SYSTIME);
        EXPECT_TRUE(m->props.get_time(*start).has_value());
      }
    }
  }
  EXPECT_EQ(appointments, 1);  // pffexport: Appointment:1 (MANIFEST.tsv)
  EXPECT_GT(named_props, 0);
}

TEST(LibpffStore, UnreadableSentinelIdsReportProblems) {
  MM_REQUIRE_CORPUS();
  Result<std::unique_ptr<mapi::MailStore>> store =
      open_libpff(pst_fixture("rubymsg__msgInMsg.pst"));
  ASSERT_TRUE(store.ok());
  u64 sentinel = make_unreadable_item_id(0x8022, 7);
  EXPECT_TRUE(is_unreadable_item_id(sentinel));
  EXPECT_EQ(unreadable_item_folder(sentinel), 0x8022u);
  EXPECT_EQ(unreadable_item_index(sentinel), 7u);
  Result<mapi::RawMessage> m = (*store)->read_item(sentinel);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.problem().code, ProblemCode::ItemUnreadable);
  // A node id that does not exist is a Problem, not a crash.
  Result<mapi::RawMessage> missing = (*store)->read_item(0x7FFFFFE4);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.problem().code, ProblemCode::ItemUnreadable);
  Result<std::vector<u64>> none = (*store)->items_in(0x7FFFFFE2);
  EXPECT_FALSE(none.ok());
}

}  // namespace
}  // namespace mm::source
