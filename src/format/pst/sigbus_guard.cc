#include "sigbus_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>

namespace mm::pst {
namespace {

// The registry: chunks of slots in a singly linked list that only grows. Writers (register,
// unregister) serialize on a mutex; the signal handler reads without locking. A slot's fields
// are guarded by a sequence number (odd while a writer changes them): the handler skips a slot
// whose number was odd or changed while it read the fields. Skipping is safe: the mapping that
// faulted is in use by the faulting thread, so it is registered and its slot does not change.
constexpr int SLOTS_PER_CHUNK = 64;

struct Slot {
  std::atomic<u64> seq{0};
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::uintptr_t> end{0};  ///< 0 = free
  std::atomic<std::atomic<u64> *> fault_at{nullptr};
};

struct Chunk {
  Slot slots[SLOTS_PER_CHUNK];
  std::atomic<Chunk *> next{nullptr};
};

static_assert(std::atomic<u64>::is_always_lock_free);
static_assert(std::atomic<std::uintptr_t>::is_always_lock_free);
static_assert(std::atomic<std::atomic<u64> *>::is_always_lock_free);

// All constant-initialized: usable before and after static constructors and destructors run.
constinit Chunk g_first;
constinit std::mutex g_write_mutex;
constinit i64 g_live = 0;  // guarded by g_write_mutex
constinit std::uintptr_t g_page = 4096;
constinit struct sigaction g_previous {};

void write_slot(Slot &s, std::uintptr_t begin, std::uintptr_t end, std::atomic<u64> *fault_at) {
  const u64 seq = s.seq.load(std::memory_order_relaxed);
  s.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  s.begin.store(begin, std::memory_order_relaxed);
  s.end.store(end, std::memory_order_relaxed);
  s.fault_at.store(fault_at, std::memory_order_relaxed);
  s.seq.store(seq + 2, std::memory_order_release);
}

// Makes the rest of the registered mapping around `addr` read as zeros. False when `addr` is in
// no registered mapping, or the zero pages could not be mapped.
bool zero_fill(std::uintptr_t addr) {
  for (Chunk *c = &g_first; c != nullptr; c = c->next.load(std::memory_order_acquire)) {
    for (Slot &s : c->slots) {
      const u64 seq = s.seq.load(std::memory_order_acquire);
      if ((seq & 1) != 0) continue;
      const std::uintptr_t begin = s.begin.load(std::memory_order_relaxed);
      const std::uintptr_t end = s.end.load(std::memory_order_relaxed);
      std::atomic<u64> *fault_at = s.fault_at.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (s.seq.load(std::memory_order_relaxed) != seq) continue;
      if (addr < begin || addr >= end) continue;
      // The whole rest of the mapping, not just the faulting page: a file shrinks from its end,
      // so every later page would fault too, one signal each. Pages before the fault keep their
      // file data. Another thread faulting on the same mapping just maps zeros again.
      // The flag goes up before the zeros go in: a thread that reads a zero page has then
      // necessarily been preceded by the flag, so checking it after an item is enough to
      // catch every item that could have read zeros.
      u64 expected = 0;
      if (fault_at != nullptr) {
        fault_at->compare_exchange_strong(expected, 1 + static_cast<u64>(addr - begin),
                                          std::memory_order_seq_cst, std::memory_order_relaxed);
      }
      const std::uintptr_t page = addr & ~(g_page - 1);
      void *z = mmap(reinterpret_cast<void *>(page), end - page, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (z == MAP_FAILED) return false;
      return true;
    }
  }
  return false;
}

// What would have happened without us: the previous handler, or the default action. For the
// default action the handler is reset and the fault simply happens again when we return (a
// SIGBUS sent with kill() is raised again instead), so the process dies of SIGBUS with the
// original faulting instruction in its core dump. The previous handler's sa_mask and flags
// other than SA_SIGINFO are not reapplied.
void chain(int sig, siginfo_t *info, void *ctx) {
  const bool sent = info == nullptr || info->si_code <= 0;
  if ((g_previous.sa_flags & SA_SIGINFO) != 0) {
    if (g_previous.sa_sigaction != nullptr) g_previous.sa_sigaction(sig, info, ctx);
    return;
  }
  if (g_previous.sa_handler == SIG_IGN && sent) return;
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  if (sent) raise(sig);  // blocked until we return, then delivered with the default action
}

void on_sigbus(int sig, siginfo_t *info, void *ctx) {
  const int saved_errno = errno;
  // BUS_ADRERR is what a page beyond the end of the file (or an I/O error reading it) gives.
  // Other codes (BUS_MCEERR_*: hardware memory errors; BUS_ADRALN) are not ours to hide.
  const bool handled = info != nullptr && info->si_code == BUS_ADRERR &&
                       zero_fill(reinterpret_cast<std::uintptr_t>(info->si_addr));
  errno = saved_errno;
  if (!handled) chain(sig, info, ctx);
}

bool install_once() {
  g_page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  // The previous action is saved before ours goes in, so a fault on another thread right after
  // the switch already finds it.
  if (sigaction(SIGBUS, nullptr, &g_previous) != 0 || sigaction(SIGBUS, &sa, nullptr) != 0) {
    return false;
  }
  // AddressSanitizer intercepts sigaction and, with allow_user_segv_handler=0, keeps its own
  // handler while reporting success: read the installed handler back.
  struct sigaction now {};
  return sigaction(SIGBUS, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) != 0 &&
         now.sa_sigaction == on_sigbus;
}

}  // namespace

bool install_sigbus_guard() {
  static const bool installed = install_once();
  return installed;
}

i64 register_mapping(const void *base, u64 len, std::atomic<u64> *fault_at) {
  install_sigbus_guard();
  const auto begin = reinterpret_cast<std::uintptr_t>(base);
  const std::uintptr_t end = begin + ((len + g_page - 1) & ~(g_page - 1));
  std::lock_guard<std::mutex> lock(g_write_mutex);
  i64 id = 0;
  Chunk *last = nullptr;
  for (Chunk *c = &g_first; c != nullptr; c = c->next.load(std::memory_order_relaxed)) {
    for (Slot &s : c->slots) {
      if (s.end.load(std::memory_order_relaxed) == 0) {
        write_slot(s, begin, end, fault_at);
        ++g_live;
        return id;
      }
      ++id;
    }
    last = c;
  }
  // All slots taken: add a chunk. It is never freed (the handler may be walking the list at any
  // time, up to process exit).
  Chunk *fresh = std::make_unique<Chunk>().release();
  write_slot(fresh->slots[0], begin, end, fault_at);
  last->next.store(fresh, std::memory_order_release);
  ++g_live;
  return id;
}

void unregister_mapping(i64 id) {
  if (id < 0) return;
  std::lock_guard<std::mutex> lock(g_write_mutex);
  Chunk *c = &g_first;
  for (i64 k = id / SLOTS_PER_CHUNK; k > 0 && c != nullptr; --k) {
    c = c->next.load(std::memory_order_relaxed);
  }
  if (c == nullptr) return;
  Slot &s = c->slots[id % SLOTS_PER_CHUNK];
  if (s.end.load(std::memory_order_relaxed) == 0) return;
  write_slot(s, 0, 0, nullptr);
  --g_live;
}

i64 registered_mappings() {
  std::lock_guard<std::mutex> lock(g_write_mutex);
  return g_live;
}

}  // namespace mm::pst
