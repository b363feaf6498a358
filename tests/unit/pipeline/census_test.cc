// The account of every item against the census: a PST written here (so the ground truth is
// what we wrote), then damaged at test time in the ways salvaged files are damaged. Each test
// checks the outcomes against the ground truth, and one proves that the end-of-run check can
// fail (exit 4) when an outcome vanishes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../../../src/format/pst/crc.h"
#include "../../../src/format/pst/layout.h"
#include "../../../src/format/pst/ndb.h"
#include "mailmill/format/pst/writer.h"
#include "mailmill/pipeline/convert.h"
#include "test_support.h"

namespace mm::pipeline {
namespace {
namespace fs = std::filesystem;

constexpr int INBOX_ITEMS = 5, OTHER_ITEMS = 3;

struct Fixture {
  fs::path root, pst;
  u64 inbox = 0, other = 0;
  std::vector<u64> inbox_messages;
};

// Two folders, eight messages, no encryption (so the tests can patch blocks in place).
Fixture make_pst(const std::string &tag) {
  Fixture f;
  f.root = testing::make_tmp_dir("mm_census_" + tag);
  f.pst = f.root / "in.pst";
  auto w = pst::PstWriter::create(f.pst.string(), pst::WriterOptions{});
  EXPECT_TRUE(w.ok());
  f.inbox = *(*w)->add_folder(0, "Inbox");
  f.other = *(*w)->add_folder(0, "Other");
  for (int i = 0; i < INBOX_ITEMS + OTHER_ITEMS; ++i) {
    model::Message m;
    m.subject = "message " + std::to_string(i);
    m.body_text = "body of message " + std::to_string(i) + "\n";
    Result<u64> nid = (*w)->add_message(i < INBOX_ITEMS ? f.inbox : f.other, m);
    EXPECT_TRUE(nid.ok());
    if (i < INBOX_ITEMS) f.inbox_messages.push_back(*nid);
  }
  EXPECT_TRUE((*w)->finish().ok());
  return f;
}

// Rewrites the data of node `nid`'s data block in the file with `patch` (same size), and
// fixes the block trailer's CRC ([MS-PST] 2.2.2.8.1) so that only the content is damaged.
void patch_node_block(const fs::path &path, u32 nid, const std::function<void(std::string &)> &patch) {
  u64 ib = 0, cb = 0;
  {
    auto file = pst::PstFile::open(path.string());
    ASSERT_TRUE(file.ok()) << file.problem().detail;
    const pst::NbtEntry *n = (*file)->find_node(nid);
    ASSERT_NE(n, nullptr) << std::hex << nid;
    const pst::BbtEntry *b = (*file)->find_block(n->bid_data);
    ASSERT_NE(b, nullptr);
    ib = b->ib;
    cb = b->cb;
  }
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string data(cb, '\0');
  io.seekg(static_cast<std::streamoff>(ib));
  io.read(data.data(), static_cast<std::streamsize>(cb));
  patch(data);
  ASSERT_EQ(data.size(), cb);
  io.seekp(static_cast<std::streamoff>(ib));
  io.write(data.data(), static_cast<std::streamsize>(cb));
  // Unicode BLOCKTRAILER after the data, padded to 64 bytes: cb, wSig, dwCRC, bid.
  const u64 trailer = ib + ((cb + 16 + 63) / 64) * 64 - 16;
  const u32 crc = pst::pst_crc(0, ByteView(data));
  char crc_bytes[4];
  for (int i = 0; i < 4; ++i) crc_bytes[i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  io.seekp(static_cast<std::streamoff>(trailer + 4));
  io.write(crc_bytes, 4);
  ASSERT_TRUE(io.good());
}

ConvertResult convert(const Fixture &f, const std::string &out, std::string *log_out = nullptr,
                      source::Reader reader = source::Reader::Native, bool recover = false) {
  ConvertOptions opts;
  opts.inputs = {f.pst.string()};
  opts.out_dir = (f.root / out).string();
  opts.format = OutputFormat::Eml;
  opts.dedup = DedupMode::None;
  opts.reader = reader;
  opts.recover = recover;
  std::ostringstream log;
  ConvertResult r = run_convert(opts, log);
  if (log_out) *log_out = log.str();
  return r;
}

const FolderLedger *folder(const ConvertResult &r, const std::string &path) {
  for (const FolderLedger &fl : r.ledger.sources().at(0).folders)
    if (fl.path.size() >= path.size() && fl.path.compare(fl.path.size() - path.size(), path.size(), path) == 0)
      return &fl;
  return nullptr;
}

i64 mail_seen(const ConvertResult &r) {
  // Associated items (folder views the writer may add) are skipped with their own reason.
  i64 n = r.ledger.totals().seen;
  for (const FolderLedger &fl : r.ledger.sources().at(0).folders)
    for (const ItemNote &note : fl.skipped) n -= note.code == "associated" ? 1 : 0;
  return n;
}

TEST(Census, CleanFileEveryWrittenItemIsInTheCensus) {
  Fixture f = make_pst("clean");
  std::string log;
  ConvertResult r = convert(f, "out", &log);
  EXPECT_EQ(r.exit_code, EXIT_ALL_CONVERTED) << log;
  EXPECT_TRUE(r.ledger.balanced());
  EXPECT_EQ(mail_seen(r), INBOX_ITEMS + OTHER_ITEMS);
  EXPECT_EQ(r.ledger.totals().written, INBOX_ITEMS + OTHER_ITEMS);
  const SourceLedger &s = r.ledger.sources().at(0);
  EXPECT_EQ(s.census.basis, "node-index");
  EXPECT_EQ(s.census.message_nodes, INBOX_ITEMS + OTHER_ITEMS);
  EXPECT_EQ(s.status(), "ok");
  ASSERT_NE(folder(r, "Inbox"), nullptr);
  EXPECT_EQ(folder(r, "Inbox")->totals.seen, INBOX_ITEMS);
  EXPECT_EQ(folder(r, "Inbox")->census.rows, INBOX_ITEMS);
}

// The check at the end of the run is not a tautology: when one outcome vanishes (fault
// injection, tests only), the run says so and exits 4.
TEST(Census, AVanishedOutcomeIsALedgerMismatch) {
  Fixture f = make_pst("fault");
  ::setenv("MAILMILL_TEST_FAULT", "drop-outcome:3", 1);
  std::string log;
  ConvertResult r = convert(f, "out", &log);
  ::unsetenv("MAILMILL_TEST_FAULT");
  EXPECT_EQ(r.exit_code, EXIT_LEDGER_MISMATCH) << log;
  EXPECT_FALSE(r.ledger.balanced());
  const SourceLedger &s = r.ledger.sources().at(0);
  ASSERT_EQ(s.missing.size(), 1u);
  EXPECT_TRUE(std::count(f.inbox_messages.begin(), f.inbox_messages.end(), s.missing[0]) == 1)
      << "the third item in input order is an Inbox message";
  EXPECT_NE(r.ledger.summary().find("LEDGER MISMATCH"), std::string::npos);
  // The manifest has one line less than the census.
  std::ifstream m(f.root / "out" / "manifest.jsonl");
  i64 lines = std::count(std::istreambuf_iterator<char>(m), {}, '\n');
  EXPECT_EQ(lines, r.ledger.totals().seen - 1);
}

// A contents table that cannot be read no longer loses its folder's messages: the node index
// names them (nidParent), and they are converted.
TEST(Census, UnreadableContentsTableItemsFoundThroughTheNodeIndex) {
  Fixture f = make_pst("table");
  patch_node_block(f.pst, pst::make_nid(pst::NID_TYPE_CONTENTS_TABLE, pst::nid_index(static_cast<u32>(f.inbox))),
                   [](std::string &d) { std::fill(d.begin(), d.end(), '\xEE'); });
  // And the folder claims 2^31-1 items (PR_CONTENT_COUNT, PT_LONG 0x3602 in its property
  // context: a BTH record tag 02 36 03 00 followed by the value): a claim, never a loop bound.
  int claims = 0;
  patch_node_block(f.pst, static_cast<u32>(f.inbox), [&](std::string &d) {
    const std::string tag("\x02\x36\x03\x00", 4);
    for (std::size_t at = d.find(tag); at != std::string::npos && at + 8 <= d.size();
         at = d.find(tag, at + 1)) {
      d.replace(at + 4, 4, std::string("\xFF\xFF\xFF\x7F", 4));
      ++claims;
    }
  });
  ASSERT_EQ(claims, 1);
  std::string log;
  ConvertResult r = convert(f, "out", &log);
  EXPECT_TRUE(r.ledger.balanced()) << log;
  EXPECT_EQ(r.ledger.totals().written, INBOX_ITEMS + OTHER_ITEMS) << log;
  const FolderLedger *inbox = folder(r, "Inbox");
  ASSERT_NE(inbox, nullptr);
  EXPECT_EQ(inbox->totals.written, INBOX_ITEMS);
  EXPECT_EQ(inbox->census.rows, -1);
  EXPECT_EQ(inbox->census.claimed, 2147483647);
  ASSERT_EQ(inbox->warnings.size(), 1u);
  EXPECT_EQ(inbox->warnings[0].code, "CountMismatch");
  EXPECT_NE(inbox->warnings[0].detail.find("2147483647"), std::string::npos);
  const SourceLedger &s = r.ledger.sources().at(0);
  ASSERT_FALSE(s.folder_errors.empty());
  EXPECT_NE(s.folder_errors[0].detail.find("found through the node index"), std::string::npos)
      << s.folder_errors[0].detail;
  // The same damage under the libpff reader: libpff has no node index, so the folder's items
  // cannot be counted; the source is read only in part, and the run says so (exit 1).
  ConvertResult p = convert(f, "out-pff", &log, source::Reader::Libpff);
  EXPECT_TRUE(p.ledger.balanced()) << log;
  EXPECT_EQ(p.exit_code, EXIT_SOME_FAILED) << log;
  EXPECT_EQ(p.ledger.sources().at(0).status(), "partial");
  EXPECT_LT(p.ledger.totals().seen, 1000) << "a claimed count must never become items";
}

// A row that names no message (damaged row id): the row fails, and the message node it used to
// name, listed by no table now, is found by the census and skipped as unlisted, or exported
// under --recover.
TEST(Census, DanglingRowFailsAndTheUnlistedNodeIsAccounted) {
  Fixture f = make_pst("dangling");
  const u32 victim = static_cast<u32>(f.inbox_messages[2]);
  const u32 bogus = victim + (0x7000u << 5);  // same type (normal message), no such node
  int replaced = 0;
  patch_node_block(f.pst, pst::make_nid(pst::NID_TYPE_CONTENTS_TABLE, pst::nid_index(static_cast<u32>(f.inbox))),
                   [&](std::string &d) {
                     for (std::size_t i = 0; i + 4 <= d.size(); ++i) {
                       if (load_le32(d.data() + i) != victim) continue;
                       for (int k = 0; k < 4; ++k) d[i + k] = static_cast<char>((bogus >> (8 * k)) & 0xFF);
                       ++replaced;
                     }
                   });
  ASSERT_GT(replaced, 0);
  std::string log;
  ConvertResult r = convert(f, "out", &log);
  EXPECT_TRUE(r.ledger.balanced()) << log;
  EXPECT_EQ(r.exit_code, EXIT_SOME_FAILED) << log;
  const SourceLedger &s = r.ledger.sources().at(0);
  EXPECT_EQ(s.census.unlisted, 1);
  const FolderLedger *inbox = folder(r, "Inbox");
  ASSERT_NE(inbox, nullptr);
  EXPECT_EQ(inbox->totals.written, INBOX_ITEMS - 1);
  EXPECT_EQ(inbox->totals.failed, 1);
  ASSERT_EQ(inbox->failed.size(), 1u);
  EXPECT_EQ(inbox->failed[0].node_id, bogus);
  i64 unlisted = 0;
  for (const ItemNote &n : inbox->skipped) unlisted += n.code == "unlisted" && n.node_id == victim;
  EXPECT_EQ(unlisted, 1);
  // --recover (with the native reader named) exports it.
  ConvertResult rec = convert(f, "out-rec", &log, source::Reader::Native, true);
  EXPECT_TRUE(rec.ledger.balanced()) << log;
  EXPECT_EQ(folder(rec, "Inbox")->totals.written, INBOX_ITEMS);
}

// A file whose folder tree cannot be read is an input that could not be read: exit 1, counted
// in the summary, status "failed" in the report.
TEST(Census, UnreadableFolderTreeIsAFailedSource) {
  Fixture f = make_pst("root");
  patch_node_block(f.pst, pst::NID_ROOT_FOLDER, [](std::string &d) { std::fill(d.begin(), d.end(), '\0'); });
  std::string log;
  ConvertResult r = convert(f, "out", &log);
  EXPECT_EQ(r.exit_code, EXIT_SOME_FAILED) << log;
  EXPECT_EQ(r.ledger.failed_sources(), 1);
  EXPECT_EQ(r.ledger.sources().at(0).status(), "failed");
  EXPECT_NE(r.ledger.summary().find("1 source(s) could not be read"), std::string::npos)
      << r.ledger.summary();
  EXPECT_NE(log.find("folder tree"), std::string::npos) << log;
}

// Folders nested deeper than the readers' limit (256) are not cut away with their items: the
// items are counted and failed with the reason, under both readers.
TEST(Census, ItemsOfFoldersNestedTooDeepAreFailedNotLost) {
  fs::path root = testing::make_tmp_dir("mm_census_deep");
  Fixture f;
  f.root = root;
  f.pst = root / "deep.pst";
  {
    auto w = pst::PstWriter::create(f.pst.string(), pst::WriterOptions{});
    ASSERT_TRUE(w.ok());
    u64 parent = 0;
    for (int depth = 1; depth <= 260; ++depth) {
      Result<u64> nid = (*w)->add_folder(parent, "d");
      ASSERT_TRUE(nid.ok());
      parent = *nid;
      if (depth == 10 || depth == 258) {
        model::Message m;
        m.subject = "at depth " + std::to_string(depth);
        m.body_text = "x\n";
        ASSERT_TRUE((*w)->add_message(parent, m).ok());
      }
    }
    ASSERT_TRUE((*w)->finish().ok());
  }
  for (source::Reader reader : {source::Reader::Native, source::Reader::Libpff}) {
    std::string log;
    ConvertResult r = convert(f, reader == source::Reader::Native ? "out-native" : "out-pff", &log,
                              reader);
    EXPECT_TRUE(r.ledger.balanced()) << log;
    EXPECT_EQ(r.exit_code, EXIT_SOME_FAILED) << log;
    EXPECT_EQ(mail_seen(r), 2) << log;
    EXPECT_EQ(r.ledger.totals().written, 1);
    EXPECT_EQ(r.ledger.totals().failed, 1);
    bool reason = false;
    for (const FolderLedger &fl : r.ledger.sources().at(0).folders)
      for (const ItemNote &n : fl.failed) reason |= n.detail.find("deeper than 256") != std::string::npos;
    EXPECT_TRUE(reason);
  }
}

}  // namespace
}  // namespace mm::pipeline
