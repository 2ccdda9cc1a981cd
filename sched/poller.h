/* dyco — sched layer: which poller a scheduler sleeps in (epoll or
 * io_uring), and operations submitted to the scheduler's io_uring. */
#ifndef DYCO_SCHED_POLLER_H_
#define DYCO_SCHED_POLLER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Poller back ends (docs/poller.md). */
#define DYCO_POLLER_DEFAULT 0 /* the environment's or the build's choice */
#define DYCO_POLLER_EPOLL 1   /* epoll_pwait: always available */
#define DYCO_POLLER_URING 2   /* io_uring, when the kernel allows it */

/* dyco_schedule_setPoller chooses, for the whole process, the back end of
 * every scheduler created from now on (on any thread); schedulers that
 * exist keep theirs. DYCO_POLLER_DEFAULT restores the default: the
 * environment variable DYCO_POLLER ("epoll" or "uring") when set, else the
 * build's (epoll, or io_uring in a build with --define=dyco_poller=uring).
 * A scheduler asked for io_uring that cannot set a ring up (a kernel
 * without it, a container whose seccomp profile refuses io_uring_setup, a
 * build without liburing such as the cross builds) uses epoll: see
 * dyco_schedule_getPoller. Returns 0, or -EINVAL for an unknown kind. Never
 * blocks. */
int dyco_schedule_setPoller(int kind);

/* dyco_schedule_getPoller returns the back end of this thread's scheduler
 * (DYCO_POLLER_EPOLL or DYCO_POLLER_URING), creating the scheduler if
 * needed; -ENOMEM, -EMFILE or -ENFILE when it cannot be created. Never
 * blocks. */
int dyco_schedule_getPoller(void);

/* One io_uring operation, as dyco_uring_call submits it: the fields of an
 * io_uring submission queue entry (linux/io_uring.h) that the common
 * operations use. `opcode` is an IORING_OP_* value; `addr`, `len` and `off`
 * go to the entry's fields of those names (for IORING_OP_STATX, `off` is
 * the statx buffer: the entry's addr2); `op_flags` to the union of
 * per-operation flags (rw_flags, fsync_flags, open_flags, statx_flags...).
 * Unused fields must be zero. */
typedef struct dyco_uring_op {
  uint8_t opcode;
  int32_t fd;
  uint64_t addr;
  uint32_t len;
  uint64_t off;
  uint32_t op_flags;
} dyco_uring_op;

/* dyco_uring_call submits op to the ring of this thread's scheduler and
 * suspends the calling coroutine until it completes; the other coroutines
 * run meanwhile. Returns the completion's result: >= 0 on success, a
 * negative errno from the operation otherwise. Memory the operation points
 * to must stay valid until it returns, and must not lie on the scheduler's
 * shared stack (which other coroutines use while this one waits): use heap
 * memory or a private stack. Returns -ENOSYS when the scheduler's back end
 * is epoll (no ring), -EPERM outside a coroutine, -ENOMEM when no record
 * for the operation can be allocated, and -EBUSY when the ring refuses the
 * submission. Not interrupted by signals (as disk I/O is not). */
long dyco_uring_call(const dyco_uring_op *op);

/* dyco_uring_callTimeout is dyco_uring_call with a limit: the operation may
 * take at most timeout ms (-1: no limit; 0: -ETIMEDOUT at once, nothing
 * submitted). Both are wait points (sched/coroutine.h): when the time is
 * up, or the coroutine is cancelled (dyco_coroutine_cancel) or its deadline
 * passes, the operation is cancelled in the ring and the call returns once
 * the ring has let go of it (of its memory): -ETIMEDOUT or -ECANCELED, or
 * the operation's own result when it completed first (a read's data is
 * never lost). A disk operation the kernel cannot stop runs to its end
 * first. -EINVAL for a NULL op; the other values as dyco_uring_call. */
long dyco_uring_callTimeout(const dyco_uring_op *op, int timeout);

/* dyco_uring_recv receives from the stream socket fd into buf, as
 * recv(fd, buf, len, flags) on a blocking socket would, through the ring
 * of this thread's scheduler: the running coroutine is suspended until the
 * data is there, with no system call of its own (the ring's submission is
 * shared by the round). A buf on the scheduler's shared stack is received
 * into a bounce buffer (at most 64 KiB at once) and copied. For at most
 * timeout ms (-1: no limit), and a wait point, as
 * dyco_uring_callTimeout. Returns the bytes received (0 at the end of the
 * stream), -ETIMEDOUT, -ECANCELED, -EINTR when a signal handler interrupted
 * the scheduler's sleep meanwhile (as it would interrupt recv: call again
 * to go on), -EBADF when fd is closed meanwhile (by any coroutine or
 * thread), recv's own negative errno; -ENOSYS when the back end is epoll
 * or fd cannot be watched by the scheduler (do it without the ring), -EPERM
 * outside a coroutine, -EBADF for a negative fd, -EFAULT for a NULL buf,
 * -ENOMEM, -EBUSY. */
long dyco_uring_recv(int fd, void *buf, size_t len, int flags, int timeout);

/* dyco_uring_send sends buf on the stream socket fd through the ring, as
 * send(fd, buf, len, flags) would (a buf on the shared stack is copied to
 * a bounce buffer first), with the rest as dyco_uring_recv. */
long dyco_uring_send(int fd, const void *buf, size_t len, int flags,
                     int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SCHED_POLLER_H_ */
