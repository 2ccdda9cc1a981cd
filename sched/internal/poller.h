/* dyco — sched layer, private: the poller interface. How a scheduler sleeps
 * until its epoll instance has events, a ring operation completes, a timer
 * is due or another thread wakes it: epoll_pwait, or io_uring. */
#ifndef DYCO_SCHED_INTERNAL_POLLER_H_
#define DYCO_SCHED_INTERNAL_POLLER_H_

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "sched/poller.h"

#pragma GCC visibility push(hidden)

struct dyco_schedule;

/* A back end. Both keep the scheduler's epoll instance as the registry of
 * fd readiness (every fd added once, edge-triggered, see poll.c); they
 * differ in how the thread sleeps on it and in what else they can wait
 * for. */
typedef struct dyco__poller_ops {
  int kind;         /* DYCO_POLLER_EPOLL or DYCO_POLLER_URING */
  const char *name; /* "epoll", "io_uring" */
  /* Sets the back end up for s, whose epfd and evfd exist. 0 or a negative
   * errno (the scheduler then falls back to epoll). */
  int (*init)(struct dyco_schedule *s);
  /* Frees what init made; ring operations still in flight are abandoned. */
  void (*destroy)(struct dyco_schedule *s);
  /* Waits at most timeout_ns (-1: no limit, 0: only a look) with the
   * signal mask `mask` (NULL: the thread's own) for events of s's epoll
   * instance; fills ev with at most max of them and returns how many, or
   * -1 with errno (EINTR: a signal handler ran). Completions of ring
   * operations wake their coroutines on the way. */
  int (*wait)(struct dyco_schedule *s, struct epoll_event *ev, int max,
              int64_t timeout_ns, const sigset_t *mask);
  /* Submits op for the running coroutine and suspends it until the
   * operation completes; its result (>= 0, or a negative errno). NULL for
   * a back end without a ring. */
  long (*call)(struct dyco_schedule *s, const dyco_uring_op *op, int timeout);
  /* recv(fd, buf, len, flags), or send (send: 1), through the ring for
   * the running coroutine (dyco_uring_recv, dyco_uring_send); NULL for a
   * back end without a ring. */
  long (*sock)(struct dyco_schedule *s, int send, int fd, void *buf, size_t len,
               int flags, int timeout);
  /* fd is closing: operations on it in the ring end, with -EBADF. NULL
   * when nothing needs doing. */
  void (*fd_closed)(struct dyco_schedule *s, int fd);
  /* The scheduler is being freed, its coroutines not yet: operations still
   * in flight end (cancelled) before their memory goes. NULL when nothing
   * needs doing. */
  void (*quiesce)(struct dyco_schedule *s);
} dyco__poller_ops;

extern const dyco__poller_ops dyco__poller_epoll;
/* Its init fails with -ENOSYS in builds without io_uring support. */
extern const dyco__poller_ops dyco__poller_uring;

/* Sets up the back end s asks for (dyco_schedule_setPoller, DYCO_POLLER,
 * the build's default), falling back to epoll when io_uring cannot be set
 * up. 0 or a negative errno (epoll's own failure). */
int dyco__poller_init(struct dyco_schedule *s);

#pragma GCC visibility pop

#endif /* DYCO_SCHED_INTERNAL_POLLER_H_ */
