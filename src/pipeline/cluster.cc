#include "mailmill/pipeline/cluster.h"

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "mailmill/util/result.h"

#ifdef MM_HAVE_MPI
// The C API only: the deprecated C++ bindings would need their own library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace mm::pipeline {

// Waiting ranks sleep between checks: Open MPI's blocking calls poll at full speed, which on a
// machine with as many ranks as cores takes the CPU the converting ranks need.
static void nap() { std::this_thread::sleep_for(std::chrono::microseconds(200)); }

std::vector<Bytes> Cluster::exchange(std::vector<Bytes> to) {
  std::unique_ptr<Exchange> x = start_exchange(std::move(to));
  while (!x->done()) nap();
  return x->take();
}

bool launched_by_mpirun() {
  for (const char *v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (const char *s = std::getenv(v); s != nullptr && *s != '\0') return true;
  return false;
}

#ifdef MM_HAVE_MPI
namespace {

void wait(MPI_Request &req) {
  for (;;) {
    int flag = 0;
    MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
    if (flag) return;
    nap();
  }
}

int int_count(u64 n, const char *what) {
  if (n > static_cast<u64>(INT_MAX))
    throw FatalError(std::string("MPI: ") + what + " of " + std::to_string(n) +
                     " bytes is more than one message may carry");
  return static_cast<int>(n);
}

class MpiExchange final : public Exchange {
 public:
  MpiExchange(MPI_Comm comm, std::vector<Bytes> to)
      : comm_(comm), n_(static_cast<int>(to.size())), send_(std::move(to)), send_counts_(n_),
        recv_counts_(n_) {
    for (int r = 0; r < n_; ++r) send_counts_[r] = send_[r].size();
    MPI_Ialltoall(send_counts_.data(), 1, MPI_UINT64_T, recv_counts_.data(), 1, MPI_UINT64_T,
                  comm_, &req_);
  }
  ~MpiExchange() override {
    // A round is always completed by its caller; a destroyed one in flight is a bug, but
    // MPI must not be left writing into freed buffers.
    if (stage_ != Stage::Done) wait(req_);
  }

  bool done() override {
    if (stage_ == Stage::Done) return true;
    int flag = 0;
    MPI_Test(&req_, &flag, MPI_STATUS_IGNORE);
    if (!flag) return false;
    if (stage_ == Stage::Counts) {
      std::vector<int> scount(n_), sdispl(n_), rcount(n_), rdispl(n_);
      u64 stotal = 0, rtotal = 0;
      for (int r = 0; r < n_; ++r) {
        sdispl[r] = int_count(stotal, "an exchange");
        scount[r] = int_count(send_counts_[r], "an exchange");
        stotal += send_counts_[r];
        rdispl[r] = int_count(rtotal, "an exchange");
        rcount[r] = int_count(recv_counts_[r], "an exchange");
        rtotal += recv_counts_[r];
      }
      int_count(stotal, "an exchange");
      int_count(rtotal, "an exchange");
      packed_.reserve(stotal);
      for (const Bytes &b : send_) packed_ += b;
      send_.clear();
      received_.resize(rtotal);
      MPI_Ialltoallv(packed_.data(), scount.data(), sdispl.data(), MPI_BYTE, received_.data(),
                     rcount.data(), rdispl.data(), MPI_BYTE, comm_, &req_);
      stage_ = Stage::Data;
      return false;
    }
    stage_ = Stage::Done;
    return true;
  }

  std::vector<Bytes> take() override {
    std::vector<Bytes> out(n_);
    u64 at = 0;
    for (int r = 0; r < n_; ++r) {
      out[r] = received_.substr(at, recv_counts_[r]);
      at += recv_counts_[r];
    }
    return out;
  }

 private:
  enum class Stage { Counts, Data, Done };
  MPI_Comm comm_;
  int n_;
  std::vector<Bytes> send_;
  std::vector<u64> send_counts_, recv_counts_;
  Bytes packed_, received_;
  MPI_Request req_ = MPI_REQUEST_NULL;
  Stage stage_ = Stage::Counts;
};

class MpiCluster final : public Cluster {
 public:
  MpiCluster() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCluster() override { MPI_Finalize(); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override {
    return mpi_library() + ", " + std::to_string(size_) + " ranks";
  }
  Bytes broadcast(Bytes data, int root) override {
    u64 n = data.size();
    MPI_Request req;
    MPI_Ibcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD, &req);
    wait(req);
    data.resize(n);
    MPI_Ibcast(data.data(), int_count(n, "a broadcast"), MPI_BYTE, root, MPI_COMM_WORLD, &req);
    wait(req);
    return data;
  }
  u64 sum(u64 v) override {
    u64 out = 0;
    MPI_Request req;
    MPI_Iallreduce(&v, &out, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD, &req);
    wait(req);
    return out;
  }
  void barrier() override {
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    wait(req);
  }
  std::unique_ptr<Exchange> start_exchange(std::vector<Bytes> to) override {
    return std::make_unique<MpiExchange>(MPI_COMM_WORLD, std::move(to));
  }
  void send(int to, ByteView data) override {
    u64 n = data.size();
    MPI_Send(&n, 1, MPI_UINT64_T, to, TAG, MPI_COMM_WORLD);
    for (u64 at = 0; at < n; at += PIECE) {
      const u64 len = std::min<u64>(PIECE, n - at);
      MPI_Send(data.data() + at, static_cast<int>(len), MPI_BYTE, to, TAG, MPI_COMM_WORLD);
    }
  }
  Bytes receive(int from) override {
    u64 n = 0;
    MPI_Request req;
    MPI_Irecv(&n, 1, MPI_UINT64_T, from, TAG, MPI_COMM_WORLD, &req);
    wait(req);
    Bytes out(n, '\0');
    for (u64 at = 0; at < n; at += PIECE) {
      const u64 len = std::min<u64>(PIECE, n - at);
      MPI_Irecv(out.data() + at, static_cast<int>(len), MPI_BYTE, from, TAG, MPI_COMM_WORLD, &req);
      wait(req);
    }
    return out;
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  static constexpr int TAG = 17;
  static constexpr u64 PIECE = 64ull << 20;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::string mpi_library() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  std::string v(version, static_cast<std::size_t>(len));
  // "Open MPI v4.1.4, package: Debian OpenMPI, ..." -> "Open MPI v4.1.4"
  if (std::size_t comma = v.find(','); comma != std::string::npos) v.resize(comma);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ' || v.back() == '\0')) v.pop_back();
  return v;
}

std::unique_ptr<Cluster> join_mpi(int &argc, char **&argv, std::string &error) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
    error = "MPI_Init_thread failed";
    return nullptr;
  }
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    error = mpi_library() + " does not offer MPI_THREAD_SERIALIZED";
    return nullptr;
  }
  return std::make_unique<MpiCluster>();
}

#else

std::string mpi_library() { return ""; }

std::unique_ptr<Cluster> join_mpi(int &, char **&, std::string &error) {
  error = "this mailmill was built without MPI (Debian: libopenmpi-dev, then rebuild)";
  return nullptr;
}

#endif

// ---- Threads of one process, for tests ----------------------------------------------------

namespace {

struct Hub {
  explicit Hub(int n) : n(n) {}
  const int n;
  std::mutex mu;
  std::condition_variable cv;
  struct Round {
    std::vector<std::vector<Bytes>> sent;  // [from][to]
    int arrived = 0, taken = 0;
  };
  std::map<u64, Round> rounds;
  std::map<std::pair<int, int>, std::deque<Bytes>> mail;  // (from, to) -> messages
};

class ThreadExchange final : public Exchange {
 public:
  ThreadExchange(std::shared_ptr<Hub> hub, u64 round, int rank)
      : hub_(std::move(hub)), round_(round), rank_(rank) {}
  bool done() override {
    std::lock_guard lock(hub_->mu);
    return hub_->rounds[round_].arrived == hub_->n;
  }
  std::vector<Bytes> take() override {
    std::lock_guard lock(hub_->mu);
    Hub::Round &r = hub_->rounds[round_];
    std::vector<Bytes> out(hub_->n);
    for (int from = 0; from < hub_->n; ++from) out[from] = std::move(r.sent[from][rank_]);
    if (++r.taken == hub_->n) hub_->rounds.erase(round_);
    return out;
  }

 private:
  std::shared_ptr<Hub> hub_;
  u64 round_;
  int rank_;
};

class ThreadCluster final : public Cluster {
 public:
  ThreadCluster(std::shared_ptr<Hub> hub, int rank) : hub_(std::move(hub)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return hub_->n; }
  std::string describe() const override { return std::to_string(hub_->n) + " threads"; }
  Bytes broadcast(Bytes data, int root) override {
    std::vector<Bytes> to(hub_->n);
    if (rank_ == root) to.assign(hub_->n, data);
    return exchange(std::move(to))[root];
  }
  u64 sum(u64 v) override {
    Bytes b(sizeof v, '\0');
    std::memcpy(b.data(), &v, sizeof v);
    u64 total = 0;
    for (const Bytes &got : exchange(std::vector<Bytes>(hub_->n, b))) total += load_le64(got.data());
    return total;
  }
  void barrier() override { exchange(std::vector<Bytes>(hub_->n)); }
  std::unique_ptr<Exchange> start_exchange(std::vector<Bytes> to) override {
    const u64 round = next_round_++;
    std::lock_guard lock(hub_->mu);
    Hub::Round &r = hub_->rounds[round];
    if (r.sent.empty()) r.sent.resize(hub_->n);
    r.sent[rank_] = std::move(to);
    ++r.arrived;
    return std::make_unique<ThreadExchange>(hub_, round, rank_);
  }
  void send(int to, ByteView data) override {
    std::lock_guard lock(hub_->mu);
    hub_->mail[{rank_, to}].emplace_back(data);
    hub_->cv.notify_all();
  }
  Bytes receive(int from) override {
    std::unique_lock lock(hub_->mu);
    auto &q = hub_->mail[{from, rank_}];
    hub_->cv.wait(lock, [&] { return !q.empty(); });
    Bytes b = std::move(q.front());
    q.pop_front();
    return b;
  }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }

 private:
  std::shared_ptr<Hub> hub_;
  int rank_;
  u64 next_round_ = 0;
};

}  // namespace

std::vector<std::unique_ptr<Cluster>> make_thread_cluster(int n) {
  auto hub = std::make_shared<Hub>(n);
  std::vector<std::unique_ptr<Cluster>> out;
  for (int r = 0; r < n; ++r) out.push_back(std::make_unique<ThreadCluster>(hub, r));
  return out;
}

}  // namespace mm::pipeline
