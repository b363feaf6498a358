// Fuzz target: the mbox splitter and dialect decision (src/source/mbox_scan.cc) and the mbox
// store on top of it (src/source/mbox_store.cc), on arbitrary bytes given as an mbox file.
//
// The bytes go into one memfd (an in-memory file: the scanner reads a descriptor with pread,
// exactly as it reads a real file, and nothing touches the disk). Then:
//   - scan_mbox with its normal read size and with a 509-byte one must agree entry for entry,
//     and so must census_count (block boundaries are where splitters go wrong);
//   - every entry must lie inside the file, in order, start at a From_ line and never overlap
//     the next one;
//   - each entry's From_ line and status headers are parsed and its body unquoted in all four
//     dialects (unquoting only removes bytes; mboxcl2 changes nothing);
//   - the store opened on the same file (through /proc/self/fd) lists the same entries and
//     reads every item (its census is census_count, checked above, so it is not run again:
//     the census byte loop is the most expensive part of an execution under trace-cmp).
// Any input must give a Problem or entries that satisfy the above: a broken invariant aborts.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../src/source/mbox_scan.h"
#include "mailmill/source/detect.h"

namespace {

using namespace mm;
using namespace mm::source;

constexpr std::size_t SMALL_BLOCK = 509;

[[noreturn]] void fail(const char *what) {
  std::fprintf(stderr, "fuzz_mbox: invariant broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char *what) {
  if (!ok) fail(what);
}

bool same_entries(const mbox::Scan &a, const mbox::Scan &b) {
  if (a.entries.size() != b.entries.size() || a.dialect != b.dialect || a.detail != b.detail ||
      a.warnings.size() != b.warnings.size() || a.file_size != b.file_size)
    return false;
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    const mbox::Entry &x = a.entries[i], &y = b.entries[i];
    if (x.from_off != y.from_off || x.body_off != y.body_off || x.end != y.end ||
        x.truncated != y.truncated)
      return false;
  }
  return true;
}

// One memfd for the whole run, rewritten for every input.
int file_with(const uint8_t *data, size_t size) {
  static const int fd = memfd_create("fuzz_mbox", MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create");
  if (ftruncate(fd, 0) != 0) fail("ftruncate");
  for (size_t done = 0; done < size;) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) fail("pwrite");
    done += static_cast<size_t>(n);
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const int fd = file_with(data, size);
  const ByteView bytes(reinterpret_cast<const char *>(data), size);

  Result<mbox::Scan> scan = mbox::scan_mbox(fd, size);
  Result<mbox::Scan> small = mbox::scan_mbox(fd, size, SMALL_BLOCK);
  check(static_cast<bool>(scan) == static_cast<bool>(small), "scan result depends on block size");
  if (!scan) {
    check(scan.problem().code == small.problem().code, "scan problem depends on block size");
    return 0;
  }
  check(same_entries(*scan, *small), "entries depend on block size");
  check(scan->file_size == size, "file_size");

  Result<i64> census = mbox::census_count(fd, size, scan->dialect);
  Result<i64> census_small = mbox::census_count(fd, size, scan->dialect, SMALL_BLOCK);
  check(census && census_small && *census == *census_small, "census depends on block size");

  u64 prev_end = 0;
  for (std::size_t i = 0; i < scan->entries.size(); ++i) {
    const mbox::Entry &e = scan->entries[i];
    check(e.from_off >= prev_end, "entries overlap or go backwards");
    check(e.from_off < e.body_off && e.body_off <= e.end && e.end <= size,
          "entry outside the file");
    ByteView from_line = bytes.substr(e.from_off, e.body_off - e.from_off);
    if (e.from_off == 0 && from_line.starts_with("\xEF\xBB\xBF")) from_line.remove_prefix(3);
    check(from_line.starts_with("From "), "entry does not start at a From_ line");
    prev_end = e.end;

    (void)mbox::parse_from_line(from_line);
    const ByteView body = bytes.substr(e.body_off, e.end - e.body_off);
    (void)mbox::parse_status_flags(body);
    for (mbox::Dialect d : {mbox::Dialect::Mboxo, mbox::Dialect::Mboxrd, mbox::Dialect::Mboxcl,
                            mbox::Dialect::Mboxcl2}) {
      const Bytes plain = mbox::unquote(body, d);
      check(plain.size() <= body.size(), "unquoting added bytes");
      if (d == mbox::Dialect::Mboxcl2) check(plain == body, "mboxcl2 unquoting changed bytes");
    }
  }

  // The store on the same file: the same entries, every item readable.
  Result<std::unique_ptr<mapi::MailStore>> store = open_mbox("/proc/self/fd/" + std::to_string(fd));
  check(static_cast<bool>(store), "the store refuses a file the scanner split");
  Result<std::vector<mapi::FolderInfo>> folders = (*store)->folders();
  check(folders && folders->size() == 1, "folders");
  Result<std::vector<u64>> ids = (*store)->items_in(folders->front().node_id);
  check(ids && ids->size() == scan->entries.size(), "the store lists other entries");
  for (std::size_t i = 0; i < ids->size(); ++i) {
    Result<mapi::RawMessage> item = (*store)->read_item((*ids)[i]);
    check(item && item->internet.has_value(), "an entry the scanner found is unreadable");
    const mbox::Entry &e = scan->entries[i];
    const ByteView body = bytes.substr(e.body_off, e.end - e.body_off);
    check(item->internet->bytes == mbox::unquote(body, scan->dialect),
          "the store's item is not the unquoted entry");
  }
  return 0;
}
