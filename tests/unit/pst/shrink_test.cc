// Inputs that shrink or change while the native reader has them mapped (issue 11 item 8): the
// process must survive (no SIGBUS death), reads of what vanished must come back as Problems,
// and the store must say that its input changed. The SIGBUS guard must not swallow faults
// outside the mappings it was given.
//
// The PSTs are written at test time with PstWriter into a temporary directory, then cut with
// truncate(2) while open.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../../../src/format/pst/ndb.h"
#include "../../../src/format/pst/sigbus_guard.h"
#include "mailmill/format/pst/native_store.h"
#include "mailmill/format/pst/writer.h"
#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__)
#define MM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MM_TEST_ASAN 1
#endif
#endif

namespace mm::pst {
namespace {

using testing::q;
using testing::run;

Bytes pattern(u64 n, u32 seed) {
  Bytes b(n, '\0');
  u32 x = seed * 2654435761u + 1;
  for (u64 i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = static_cast<char>(x);
  }
  return b;
}

// A PST of `messages` messages in two folders; every third carries a 70000-byte attachment
// (nine data blocks under an XBLOCK: read_stream reads it with preadv), every fifth a body long
// enough to live in a subnode. About 1 MB for 48 messages.
std::string write_pst(const std::string &dir, int messages) {
  const std::string path = dir + "/in.pst";
  Result<std::unique_ptr<PstWriter>> w = PstWriter::create(path, WriterOptions{});
  if (!w) return "";
  Result<u64> inbox = (*w)->add_folder(0, "Inbox");
  Result<u64> other = (*w)->add_folder(0, "Other");
  if (!inbox || !other) return "";
  for (int k = 0; k < messages; ++k) {
    model::Message m;
    m.message_class = "IPM.Note";
    m.subject = "Message " + std::to_string(k);
    m.from = {"Alice", "alice@example.com", "", "SMTP"};
    m.recipients.push_back({model::RecipientType::To, {"Bob", "bob@example.com", "", "SMTP"}});
    m.body_text = "Body " + std::to_string(k) + std::string(k % 5 == 0 ? 12000 : 900, 'b');
    m.submit_time = 1700000000 + k;
    m.message_id = "<m" + std::to_string(k) + "@example.com>";
    if (k % 3 == 0) {
      model::Attachment a;
      a.filename = "a" + std::to_string(k) + ".bin";
      a.mime_type = "application/octet-stream";
      a.data = pattern(70000, static_cast<u32>(k));
      m.attachments.push_back(std::move(a));
    }
    if (!(*w)->add_message(k % 2 == 0 ? *inbox : *other, m)) return "";
  }
  if (!(*w)->finish()) return "";
  // An mtime in the past, so that a rewrite during the test moves it even on file systems
  // with coarse timestamps.
  const struct timespec old[2] = {{1600000000, 0}, {1600000000, 0}};
  utimensat(AT_FDCWD, path.c_str(), old, 0);
  return path;
}

u64 file_size(const std::string &path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<u64>(st.st_size) : 0;
}

// Every byte of every value, so a view into a vanished page is actually read.
u64 touch(const mapi::RawMessage &m) {
  u64 sum = 0;
  for (const mapi::Property &p : m.props.all()) {
    for (char c : p.value) sum += static_cast<unsigned char>(c);
  }
  for (const mapi::PropertyBag &r : m.recipients) {
    for (const mapi::Property &p : r.all()) {
      for (char c : p.value) sum += static_cast<unsigned char>(c);
    }
  }
  for (const mapi::RawAttachment &a : m.attachments) {
    for (const mapi::Property &p : a.props.all()) {
      for (char c : p.value) sum += static_cast<unsigned char>(c);
    }
    if (a.embedded) sum += touch(*a.embedded);
  }
  return sum;
}

struct Outcome {
  int ok = 0, failed = 0;
  std::vector<Problem> problems;
};

Outcome read_items(mapi::MailStore &s, const std::vector<u64> &ids) {
  Outcome o;
  for (u64 id : ids) {
    Result<mapi::RawMessage> m = s.read_item(id);
    if (m) {
      ++o.ok;
      touch(*m);
    } else {
      ++o.failed;
      o.problems.push_back(m.problem());
    }
  }
  return o;
}

std::vector<u64> all_items(mapi::MailStore &s) {
  std::vector<u64> ids;
  Result<std::vector<mapi::FolderInfo>> folders = s.folders();
  if (!folders) return ids;
  for (const mapi::FolderInfo &f : *folders) {
    Result<std::vector<u64>> in = s.items_in(f.node_id);
    if (in) ids.insert(ids.end(), in->begin(), in->end());
  }
  return ids;
}

void expect_change_reported(const mapi::MailStore &s) {
  std::optional<Problem> p = s.input_changed();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->code, ProblemCode::SourceTruncated);
  EXPECT_NE(p->detail.find("changed or shrank while it was being read"), std::string::npos)
      << p->detail;
  EXPECT_EQ(p->detail.find('\n'), std::string::npos);
}

class PstShrink : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_tmp_dir("mm_shrink");
    path_ = write_pst(dir_, 48);
    ASSERT_FALSE(path_.empty());
  }
  void TearDown() override { run("rm -rf " + q(dir_)); }
  std::string dir_, path_;
};

TEST_F(PstShrink, TruncatedToHalfWhileReading) {
  const u64 size = file_size(path_);
  ASSERT_GT(size, 800000u);
  Result<std::unique_ptr<mapi::MailStore>> s = open_native(path_);
  ASSERT_TRUE(s.ok()) << s.problem().detail;
  std::unique_ptr<mapi::MailStore> other = share_native(**s);
  ASSERT_NE(other, nullptr);
  const std::vector<u64> ids = all_items(**s);
  ASSERT_EQ(ids.size(), 48u);
  // Before the cut everything reads and nothing is reported.
  const std::vector<u64> first(ids.begin(), ids.begin() + 5);
  Outcome before = read_items(**s, first);
  EXPECT_EQ(before.ok, 5);
  EXPECT_FALSE((*s)->input_changed().has_value());

  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(size / 2)), 0);
  Outcome after = read_items(**s, ids);
  EXPECT_EQ(after.ok + after.failed, 48);
  EXPECT_GT(after.failed, 0);
  EXPECT_GT(after.ok, 0);  // what lies in the first half still reads
  for (const Problem &p : after.problems) {
    EXPECT_NE(p.detail.find("changed or shrank"), std::string::npos) << p.detail;
  }
  expect_change_reported(**s);
  expect_change_reported(*other);  // handles on the same file share the flag
  std::printf("half: %d read, %d failed; %s\n", after.ok, after.failed,
              (*s)->input_changed()->detail.c_str());
  // The other handle survives too, and so does opening the cut file afresh.
  Outcome via_other = read_items(*other, ids);
  EXPECT_EQ(via_other.ok, after.ok);
  EXPECT_EQ(via_other.failed, after.failed);
  Result<std::unique_ptr<mapi::MailStore>> again = open_native(path_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.problem().code, ProblemCode::SourceTruncated);
}

TEST_F(PstShrink, TruncatedToZeroWhileReading) {
  Result<std::unique_ptr<mapi::MailStore>> s = open_native(path_);
  ASSERT_TRUE(s.ok()) << s.problem().detail;
  const std::vector<u64> ids = all_items(**s);
  ASSERT_EQ(ids.size(), 48u);
  ASSERT_EQ(truncate(path_.c_str(), 0), 0);
  Outcome after = read_items(**s, ids);
  EXPECT_EQ(after.ok, 0);
  EXPECT_EQ(after.failed, 48);
  expect_change_reported(**s);
  EXPECT_NE((*s)->input_changed()->detail.find(", 0 now"), std::string::npos)
      << (*s)->input_changed()->detail;
  // Listing again reads only zeros now: problems or empty lists, no crash.
  (void)(*s)->folders();
  (void)(*s)->store_properties();
  EXPECT_TRUE(all_items(**s).empty());
}

// release_pages() drops the mapped pages (MADV_DONTNEED); pages that come back afterwards fault
// again, both before and after the guard put zero pages in.
TEST_F(PstShrink, ReleasedPagesStayGuarded) {
  const u64 size = file_size(path_);
  Result<std::unique_ptr<mapi::MailStore>> s = open_native(path_);
  ASSERT_TRUE(s.ok()) << s.problem().detail;
  const std::vector<u64> ids = all_items(**s);
  EXPECT_EQ(read_items(**s, ids).ok, 48);
  (*s)->release_memory();
  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(size / 3)), 0);
  (*s)->release_memory();
  Outcome a = read_items(**s, ids);
  EXPECT_GT(a.failed, 0);
  (*s)->release_memory();
  Outcome b = read_items(**s, ids);
  EXPECT_EQ(a.ok, b.ok);
  expect_change_reported(**s);
}

// Several handles read on their own threads while the file is cut: faults arrive on several
// threads at once, on the same mapping.
TEST_F(PstShrink, ConcurrentReadersDuringTheCut) {
  const u64 size = file_size(path_);
  Result<std::unique_ptr<mapi::MailStore>> s = open_native(path_);
  ASSERT_TRUE(s.ok()) << s.problem().detail;
  const std::vector<u64> ids = all_items(**s);
  constexpr int THREADS = 3;
  std::atomic<int> warm{0};
  std::atomic<bool> cut{false};
  std::vector<Outcome> last(THREADS);
  std::vector<std::thread> readers;
  for (int t = 0; t < THREADS; ++t) {
    readers.emplace_back([&, t] {
      std::unique_ptr<mapi::MailStore> h = share_native(**s);
      read_items(*h, ids);
      warm.fetch_add(1);
      // Passes until one has started after the cut; the pass in flight at the cut faults.
      for (;;) {
        const bool after = cut.load();
        last[t] = read_items(*h, ids);
        if (after) break;
      }
    });
  }
  while (warm.load() < THREADS) std::this_thread::yield();
  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(size / 2)), 0);
  cut.store(true);
  for (std::thread &r : readers) r.join();
  for (const Outcome &o : last) {
    EXPECT_EQ(o.ok + o.failed, 48);
    EXPECT_GT(o.failed, 0);
    EXPECT_EQ(o.ok, last[0].ok);
  }
  expect_change_reported(**s);
}

// Same size, other bytes: a failed read looks at the file's size and mtime and reports the
// change instead of damage.
TEST_F(PstShrink, RewrittenInPlace) {
  const u64 size = file_size(path_);
  Result<std::unique_ptr<mapi::MailStore>> s = open_native(path_);
  ASSERT_TRUE(s.ok()) << s.problem().detail;
  const std::vector<u64> ids = all_items(**s);
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 4));
    const Bytes junk = pattern(size / 2, 5);
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ASSERT_EQ(file_size(path_), size);
  Outcome after = read_items(**s, ids);
  EXPECT_GT(after.failed, 0);
  expect_change_reported(**s);
}

// Opening an unchanged file does not register a change, and a store's destruction ends its
// registration with the guard.
TEST_F(PstShrink, UnchangedFileReportsNothing) {
  const i64 before = registered_mappings();
  {
    Result<std::unique_ptr<mapi::MailStore>> s = open_native(path_);
    ASSERT_TRUE(s.ok()) << s.problem().detail;
    EXPECT_EQ(registered_mappings(), before + 1);
    std::unique_ptr<mapi::MailStore> other = share_native(**s);
    EXPECT_EQ(registered_mappings(), before + 1);  // one mapping, shared
    EXPECT_EQ(read_items(**s, all_items(**s)).ok, 48);
    EXPECT_FALSE((*s)->input_changed().has_value());
    EXPECT_FALSE(other->input_changed().has_value());
  }
  EXPECT_EQ(registered_mappings(), before);
  // Stores made from bytes (no file) never report a change.
  std::string bytes;
  ASSERT_TRUE(testing::read_file(path_, bytes));
  Result<std::unique_ptr<mapi::MailStore>> m = open_native_bytes(bytes);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE((*m)->input_changed().has_value());
}

// Little-endian search for an 8-byte value followed by another (a BBT leaf entry's bid, ib).
u64 find_pair(const std::string &bytes, u64 a, u64 b) {
  char want[16];
  for (int i = 0; i < 8; ++i) {
    want[i] = static_cast<char>((a >> (8 * i)) & 0xFF);
    want[8 + i] = static_cast<char>((b >> (8 * i)) & 0xFF);
  }
  const std::size_t at = bytes.find(std::string(want, 16));
  return at == std::string::npos ? ~u64{0} : at;
}

// The preadv path of read_stream: the XBLOCK is read through the mapping, its data blocks with
// preadv. The writer puts an XBLOCK after its data blocks, so a cut before the data would take
// the XBLOCK too; the test moves one XBLOCK (a copy over the first data block of an earlier
// stream, and its BBT entry pointed there) so that a cut removes only the later stream's data.
TEST_F(PstShrink, ShortPreadvIsAChange) {
  std::string bytes;
  ASSERT_TRUE(testing::read_file(path_, bytes));
  Result<std::shared_ptr<const PstFile>> pf = PstFile::open_bytes(bytes);
  ASSERT_TRUE(pf.ok());
  // Streams of at least 64 KiB under one XBLOCK, in file order of their XBLOCKs.
  struct Stream {
    const BbtEntry *x;
    std::vector<const BbtEntry *> leaves;
  };
  std::vector<Stream> streams;
  for (const BbtEntry &b : (*pf)->blocks()) {
    if (!bid_is_internal(b.bid)) continue;
    Result<BlockRef> x = (*pf)->read_block(b.bid);
    ASSERT_TRUE(x.ok());
    const auto *p = reinterpret_cast<const u8 *>(x->data.data());
    if (x->data.size() < XBLOCK_HDR_SIZE || p[XBLOCK_OFF_BTYPE] != BTYPE_XBLOCK ||
        p[XBLOCK_OFF_CLEVEL] != XBLOCK_LEVEL || load_le32(p + 4) < (64u << 10)) {
      continue;
    }
    Stream s{&b, {}};
    for (u64 i = 0; i < load_le16(p + XBLOCK_OFF_CENT); ++i) {
      s.leaves.push_back((*pf)->find_block(load_le64(p + XBLOCK_HDR_SIZE + 8 * i)));
      ASSERT_NE(s.leaves.back(), nullptr);
    }
    streams.push_back(std::move(s));
  }
  ASSERT_GE(streams.size(), 2u);
  std::sort(streams.begin(), streams.end(),
            [](const Stream &a, const Stream &b) { return a.x->ib < b.x->ib; });
  const Stream &victim = streams.front();
  const Stream &target = streams.back();
  u64 first_leaf = ~u64{0};
  for (const BbtEntry *l : target.leaves) first_leaf = std::min(first_leaf, l->ib);
  const u64 new_ib = victim.leaves.front()->ib;
  ASSERT_LT(new_ib + 8192, first_leaf);
  const u64 x_disk = (target.x->cb + 16 + 63) / 64 * 64;
  ASSERT_LE(x_disk, 8192u);
  const u64 entry = find_pair(bytes, target.x->bid, target.x->ib);
  ASSERT_NE(entry, ~u64{0});
  bytes.replace(new_ib, x_disk, bytes.substr(target.x->ib, x_disk));
  for (int i = 0; i < 8; ++i) bytes[entry + 8 + i] = static_cast<char>((new_ib >> (8 * i)) & 0xFF);
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  Result<std::shared_ptr<const PstFile>> f = PstFile::open(path_);
  ASSERT_TRUE(f.ok()) << f.problem().detail;
  Result<BlockRef> whole = (*f)->read_stream(target.x->bid);
  ASSERT_TRUE(whole.ok()) << whole.problem().detail;
  EXPECT_GE(whole->data.size(), 64u << 10);
  EXPECT_FALSE((*f)->changed_while_reading());

  const u64 cut = first_leaf + 100;
  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(cut)), 0);
  Result<BlockRef> again = (*f)->read_stream(target.x->bid);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.problem().code, ProblemCode::SourceTruncated);
  EXPECT_TRUE((*f)->changed_while_reading());
  std::optional<Problem> why = (*f)->change_problem();
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->offset, static_cast<i64>(cut)) << why->detail;
  EXPECT_NE(why->detail.find(std::to_string(cut) + " now"), std::string::npos) << why->detail;
}

// A file mapped and registered by hand: the fault turns into zeros and the offset is recorded.
TEST(SigbusGuard, RegisteredMappingReadsZeros) {
  const std::string dir = testing::make_tmp_dir("mm_sigbus");
  const std::string path = dir + "/f";
  const u64 page = static_cast<u64>(sysconf(_SC_PAGESIZE));
  {
    std::ofstream out(path, std::ios::binary);
    const Bytes b(4 * page, 'x');
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  }
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  void *addr = mmap(nullptr, 4 * page, PROT_READ, MAP_PRIVATE, fd, 0);
  ASSERT_NE(addr, MAP_FAILED);
  std::atomic<u64> fault_at{0};
  const i64 id = register_mapping(addr, 4 * page - 10, &fault_at);  // rounded up to 4 pages
  const auto *p = static_cast<const volatile char *>(addr);
  EXPECT_EQ(p[3 * page], 'x');
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(page + 100)), 0);
  EXPECT_EQ(p[0], 'x');
  EXPECT_EQ(p[page + 99], 'x');
  EXPECT_EQ(p[page + 100], '\0');  // past the end, same page: the kernel's zeros, no fault
  EXPECT_EQ(fault_at.load(), 0u);
  EXPECT_EQ(p[3 * page + 5], '\0');  // a vanished page: the guard's zeros
  EXPECT_EQ(fault_at.load(), 3 * page + 5 + 1);
  EXPECT_EQ(p[2 * page + 7], '\0');  // an earlier vanished page faults again; first offset stays
  EXPECT_EQ(fault_at.load(), 3 * page + 5 + 1);
  EXPECT_EQ(p[4 * page - 1], '\0');
  unregister_mapping(id);
  munmap(addr, 4 * page);
  close(fd);
  run("rm -rf " + q(dir));
}

TEST(SigbusGuard, RegistryGrows) {
  const i64 before = registered_mappings();
  std::atomic<u64> flag{0};
  static char region[1 << 12];
  std::vector<i64> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(register_mapping(region, sizeof region, &flag));
  EXPECT_EQ(registered_mappings(), before + 300);
  for (i64 id : ids) unregister_mapping(id);
  EXPECT_EQ(registered_mappings(), before);
  unregister_mapping(-1);
  EXPECT_EQ(registered_mappings(), before);
}

// Death tests run in a fresh process (threadsafe style), so the order in which the handlers
// are installed is the one written here.
class SigbusGuardDeath : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Touches a page of a mapping whose file was cut, without registering the mapping.
void touch_unregistered_vanished_page() {
  char tmpl[] = "/tmp/mm_sigbus_XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) _exit(3);
  unlink(tmpl);
  const long page = sysconf(_SC_PAGESIZE);
  if (ftruncate(fd, 4 * page) != 0) _exit(3);
  void *addr = mmap(nullptr, static_cast<std::size_t>(4 * page), PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) _exit(3);
  if (ftruncate(fd, page) != 0) _exit(3);
  const auto *p = static_cast<const volatile char *>(addr);
  (void)p[3 * page];
  _exit(4);  // not reached: the read above must kill the process
}

// The child starts from the default SIGBUS action, as a process not built with AddressSanitizer
// does. Under ASan (handle_sigbus=1, the default) ASan's own handler would be the "previous"
// one the guard chains to: it writes a report (which the sanitizer run counts as a finding) and
// exits with its exitcode, so the test would check ASan rather than the guard.
void start_from_default_sigbus_action() {
#ifdef MM_TEST_ASAN
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  if (sigaction(SIGBUS, &dfl, nullptr) != 0) _exit(3);
#endif
}

bool died_of_sigbus(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS; }

TEST_F(SigbusGuardDeath, FaultOutsideRegisteredMappingsStillKills) {
  EXPECT_EXIT(
      {
        start_from_default_sigbus_action();
        if (!install_sigbus_guard()) _exit(5);
        touch_unregistered_vanished_page();
      },
      died_of_sigbus, "");
}

// A registered mapping elsewhere does not change that.
TEST_F(SigbusGuardDeath, FaultOutsideWhileAFileIsGuardedStillKills) {
  EXPECT_EXIT(
      {
        start_from_default_sigbus_action();
        static char region[1 << 12];
        std::atomic<u64> flag{0};
        register_mapping(region, sizeof region, &flag);
        touch_unregistered_vanished_page();
      },
      died_of_sigbus, "");
}

TEST_F(SigbusGuardDeath, SentSigbusStillKills) {
  EXPECT_EXIT(
      {
        start_from_default_sigbus_action();
        if (!install_sigbus_guard()) _exit(5);
        raise(SIGBUS);
        _exit(4);
      },
      died_of_sigbus, "");
}

void exit_42(int, siginfo_t *, void *) { _exit(42); }

TEST_F(SigbusGuardDeath, ChainsToThePreviousHandler) {
  EXPECT_EXIT(
      {
        struct sigaction sa {};
        sa.sa_sigaction = exit_42;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, nullptr);
        if (!install_sigbus_guard()) _exit(5);
        struct sigaction now {};
        sigaction(SIGBUS, nullptr, &now);
        if (now.sa_sigaction == exit_42) _exit(6);  // the guard is not in front
        touch_unregistered_vanished_page();
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace
}  // namespace mm::pst
