// read_batch.cpp — a pass's counter reads as one io_uring submission.
//
// Each read is IORING_OP_READ on a registered file. A read io_uring cannot do
// inline during io_uring_enter is handed to an io-wq worker thread, which only
// moves the CPU to a thread the sampler does not own; so no read may get there:
//   - a sysfs (kernfs) file, where RAPL's energy_uj and hwmon's files live, is
//     read without flags: kernfs files are pollable and always readable, so
//     io_uring reads them inline, and kernfs never answers −EAGAIN. (They lack
//     FMODE_NOWAIT, so RWF_NOWAIT would be refused with −EOPNOTSUPP.)
//   - any other file is read with RWF_NOWAIT: inline, or −EAGAIN (tmpfs and
//     ext4 pages may need a lock) or −EOPNOTSUPP (no FMODE_NOWAIT), both
//     handed back as −EAGAIN, for the caller to read with pread.
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "energy/sources/sysfs_util.h"

#if SMARAGDINE_HAVE_LIBURING
#include <linux/magic.h>  // SYSFS_MAGIC
#include <liburing.h>
#include <sys/statfs.h>
#include <sys/uio.h>  // RWF_NOWAIT
#endif

namespace smaragdine {

#if SMARAGDINE_HAVE_LIBURING
namespace {

class UringReadBatch : public ReadBatch {
 public:
  UringReadBatch() = default;
  ~UringReadBatch() override {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  UringReadBatch(const UringReadBatch&) = delete;
  UringReadBatch& operator=(const UringReadBatch&) = delete;

  Status Init(const std::vector<int>& fds) {
    fds_ = fds;
    for (int fd : fds_) {
      struct statfs st;
      const bool kernfs = fstatfs(fd, &st) == 0 && st.f_type == SYSFS_MAGIC;
      rw_flags_.push_back(kernfs ? 0 : RWF_NOWAIT);
    }
    const unsigned entries = static_cast<unsigned>(fds.size() < 1 ? 1 : fds.size());
    // SUBMIT_ALL (5.18): a request that fails at submission does not leave the
    // ones after it queued for the next pass. Older kernels refuse the flag.
    int r = io_uring_queue_init(entries, &ring_, IORING_SETUP_SUBMIT_ALL);
    if (r == -EINVAL) r = io_uring_queue_init(entries, &ring_, 0);
    if (r < 0) {
      return Nothing(fmt::format("io_uring_queue_init: {}", ErrnoText(-r)));
    }
    ready_ = true;
    // Registered files spare the kernel a file lookup per read; without them
    // (an old kernel, a memlock limit) the plain fds work the same.
    fixed_ = io_uring_register_files(&ring_, fds_.data(), static_cast<unsigned>(fds_.size())) == 0;
    return Status();
  }

  void Read(std::span<BatchRead> reads) override {
    if (broken_ || reads.size() > fds_.size()) {
      for (BatchRead& r : reads) r.result = -EAGAIN;
      return;
    }
    for (size_t i = 0; i < reads.size(); ++i) {
      BatchRead& r = reads[i];
      r.result = -EAGAIN;  // until its completion says otherwise
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return Break(reads);  // cannot happen: the ring holds fds_.size()
      const int fd = fixed_ ? static_cast<int>(r.slot) : fds_[r.slot];
      io_uring_prep_read(sqe, fd, r.buf, static_cast<unsigned>(r.len), r.offset);
      sqe->rw_flags = rw_flags_[r.slot];
      if (fixed_) sqe->flags |= IOSQE_FIXED_FILE;
      io_uring_sqe_set_data64(sqe, i);
    }
    const int want = static_cast<int>(reads.size());
    int r;
    do {  // −EINTR: a signal came before the kernel took the requests; they are still queued
      r = io_uring_submit_and_wait(&ring_, static_cast<unsigned>(want));
    } while (r == -EINTR);
    // Each request the kernel took completes once; one it did not take would
    // never complete, and waiting for it would stop the sampler.
    if (r < 0 || io_uring_sq_ready(&ring_) != 0) return Break(reads);
    int done = 0;
    while (done < want) {
      io_uring_cqe* cqe = nullptr;
      r = io_uring_wait_cqe(&ring_, &cqe);
      if (r == -EINTR) continue;
      if (r < 0) return Break(reads);
      const uint64_t i = io_uring_cqe_get_data64(cqe);
      if (i < reads.size()) {
        const int res = cqe->res;
        reads[i].result = res == -EOPNOTSUPP && rw_flags_[reads[i].slot] != 0 ? -EAGAIN : res;
      }
      io_uring_cqe_seen(&ring_, cqe);
      ++done;
    }
  }

 private:
  // The ring misbehaved (a submission refused, a wait that failed): every
  // read of this pass and of later ones comes back −EAGAIN, so the caller
  // reads them with pread. The ring stays until the batch goes: nothing it
  // took is in flight, as no read here is handed to a worker.
  void Break(std::span<BatchRead> reads) {
    broken_ = true;
    for (BatchRead& r : reads) r.result = -EAGAIN;
  }

  io_uring ring_{};
  std::vector<int> fds_;
  std::vector<int> rw_flags_;  // per file: RWF_NOWAIT, or 0 for kernfs
  bool ready_ = false;
  bool fixed_ = false;
  bool broken_ = false;
};

}  // namespace

Result<std::unique_ptr<ReadBatch>> OpenUringReadBatch(const std::vector<int>& fds) {
  auto batch = std::make_unique<UringReadBatch>();
  SMG_RETURN_IF_ERROR(batch->Init(fds));
  return std::unique_ptr<ReadBatch>(std::move(batch));
}

#else

Result<std::unique_ptr<ReadBatch>> OpenUringReadBatch(const std::vector<int>&) {
  return Nothing("built without liburing (SMARAGDINE_WITH_LIBURING): one pread per read");
}

#endif

}  // namespace smaragdine
