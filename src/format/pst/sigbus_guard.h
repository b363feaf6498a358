#pragma once
/// Survives an input file that shrinks (or whose storage goes away) while it is memory-mapped.
///
/// Reading a page of a file mapping that lies beyond the file's current end, or whose data the
/// kernel cannot read, raises SIGBUS, which by default kills the whole process. For mappings
/// registered here, a process-wide SIGBUS handler maps anonymous zero pages over the rest of the
/// mapping from the faulting page, records the offset of the fault and returns: the faulting
/// instruction runs again and reads zeros, which the reader's checks then reject as damage. A
/// SIGBUS anywhere else goes to the handler that was installed before ours (the default action,
/// a sanitizer's handler, the application's), exactly as if ours were not there.
///
/// The handler calls nothing but lock-free atomics, mmap and (when chaining to the default
/// action) sigaction/raise: no malloc, no locks.
#include <atomic>

#include "mailmill/util/types.h"

namespace mm::pst {

/// Installs the SIGBUS handler once per process; later calls only report the first result.
/// Thread-safe. False when sigaction failed or another layer refused the handler (AddressSanitizer
/// with allow_user_segv_handler=0): registered mappings are then unprotected, as before.
bool install_sigbus_guard();

/// Registers the read-only file mapping [base, base + len) (len is rounded up to whole pages,
/// as mmap maps them) and installs the handler if needed. A SIGBUS inside the range makes the
/// rest of the mapping read as zeros and stores 1 + the faulting file offset into `*fault_at`
/// unless it already holds a nonzero value. `*fault_at` must stay alive until
/// unregister_mapping. Never fails: the registry grows (its storage is never freed). Returns
/// the registration's id. Thread-safe.
i64 register_mapping(const void *base, u64 len, std::atomic<u64> *fault_at);

/// Ends a registration (call it before munmap, so the address range cannot be matched once it
/// is reused). Thread-safe; `id` < 0 is ignored.
void unregister_mapping(i64 id);

/// Number of live registrations (tests).
i64 registered_mappings();

}  // namespace mm::pst
