#pragma once
/// The processes of one job spread over machines (MPI ranks), as the conversion sees them:
/// a rank number, a size, and the few exchanges a distributed run needs. Every collective call
/// (broadcast, sum, barrier, start_exchange) must be made by every rank in the same order.
///
/// Two implementations: the MPI world (built when Open MPI's headers were found; see
/// join_mpi), and a group of threads of one process for tests (make_thread_cluster). Calls on
/// one Cluster object are never concurrent; they may come from different threads one after
/// another (MPI_THREAD_SERIALIZED).
#include <memory>
#include <string>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::pipeline {

/// One all-to-all round in flight: every rank sends one buffer to every rank (itself included)
/// and receives one from each. Started by Cluster::start_exchange; completes in the background
/// as the ranks call done().
class Exchange {
 public:
  virtual ~Exchange() = default;
  /// Moves the round on without blocking; true once every buffer has arrived.
  virtual bool done() = 0;
  /// The received buffers, by sending rank (call after done() returned true).
  virtual std::vector<Bytes> take() = 0;
};

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "Open MPI v4.1.4, 4 ranks" and the like, for logs and the report.
  virtual std::string describe() const = 0;
  /// `data` of rank `root`, on every rank.
  virtual Bytes broadcast(Bytes data, int root) = 0;
  /// The sum of `v` over all ranks, on every rank.
  virtual u64 sum(u64 v) = 0;
  virtual void barrier() = 0;
  /// Starts an all-to-all round: `to[r]` goes to rank r (`to.size()` == size()).
  virtual std::unique_ptr<Exchange> start_exchange(std::vector<Bytes> to) = 0;
  /// Point to point, any size (sent in pieces): `data` to rank `to`, which calls receive.
  virtual void send(int to, ByteView data) = 0;
  virtual Bytes receive(int from) = 0;
  /// Ends every rank of the job at once with `code` (mpirun's MPI_Abort).
  [[noreturn]] virtual void abort(int code) = 0;

  /// start_exchange, then waits for it (sleeping, not spinning, between checks).
  std::vector<Bytes> exchange(std::vector<Bytes> to);
};

/// True when this process was started by mpirun (Open MPI, or a PMIx/PMI launcher such as
/// Slurm's srun) as one of several ranks.
bool launched_by_mpirun();

/// The library mailmill was built with ("Open MPI v4.1.4"), or "" for a build without MPI.
std::string mpi_library();

/// Joins the MPI job this process belongs to (MPI_Init_thread, MPI_THREAD_SERIALIZED) and
/// returns the world; MPI_Finalize runs when it is destroyed. Returns nullptr and sets `error`
/// when mailmill was built without MPI or the library refuses. Call once, early, before any
/// thread starts.
std::unique_ptr<Cluster> join_mpi(int &argc, char **&argv, std::string &error);

/// `n` ranks in one process, one per thread, each using its own element (tests).
std::vector<std::unique_ptr<Cluster>> make_thread_cluster(int n);

}  // namespace mm::pipeline
