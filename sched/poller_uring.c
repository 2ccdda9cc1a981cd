/* dyco — sched layer: the io_uring back end of the poller. The scheduler
 * sleeps in io_uring_enter; a multishot poll on its epoll instance reports
 * fd readiness, and operations submitted with dyco_uring_call complete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/sys.h"
#include "sched/internal/sched.h"

#if DYCO_HAVE_URING

#include <liburing.h>
#include <poll.h>

/* The user_data of the poll on the epoll instance, and of cancels (whose
 * completions say nothing the cancelled operation's will not); every other
 * completion carries its ringop's address. */
#define TAG_EPOLL ((uint64_t)1)
#define TAG_CANCEL ((uint64_t)2)

/* One operation in flight, on the heap: the submitter's stack may be the
 * shared one. */
typedef struct ringop {
  struct ringop *next;
  struct ringop *prev;
  dyco_waitq q; /* its coroutine, while it waits */
  int32_t res;
  int done;
  int fd;       /* the fd it works on, or -1 */
  int closed;   /* fd was closed while it was in flight */
  void *bounce; /* a bounce buffer the kernel reads or writes, or NULL */
  int awaited;  /* uring_quiesce waits for its end */
} ringop;

typedef struct uring {
  struct io_uring ring;
  int armed;       /* the poll on epfd is live */
  int oneshot;     /* the kernel refused a multishot poll: one at a time */
  int epoll_ready; /* epfd reported events that no look has taken yet */
  int defer;       /* IORING_SETUP_DEFER_TASKRUN: completions are posted
                      only when this thread asks for events */
  ringop live;     /* every record, until its coroutine takes the result */
} uring;

static int uring_init(dyco_schedule *s) {
  uring *u = (uring *)calloc(1, sizeof *u);
  if (u == NULL) {
    return -ENOMEM;
  }
  /* Completions' work runs only when this thread asks for events (in its
   * look or its sleep), never as an interrupt of the thread or at the exit
   * of its other system calls: one thread submits (the scheduler's), and
   * the kernel then needs no inter-processor interrupt to hand it a
   * completion (Linux 6.1; older kernels: cooperative task running, 5.19;
   * then none). */
  static const unsigned modes[] = {
      IORING_SETUP_CLAMP | IORING_SETUP_SINGLE_ISSUER |
          IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_CLAMP,
  };
  struct io_uring_params p;
  int r = -DYCO__FAULT_ERR(DYCO_FAULT_URING_SETUP);
  for (size_t i = 0; r == 0 && i < sizeof modes / sizeof modes[0]; i++) {
    memset(&p, 0, sizeof p);
    p.flags = modes[i];
    r = io_uring_queue_init_params(256, &u->ring, &p);
    if (r == 0) {
      u->defer = (modes[i] & IORING_SETUP_DEFER_TASKRUN) != 0;
      break;
    }
    if (r != -EINVAL) {
      break;
    }
    r = 0; /* an older kernel: the next mode */
  }
  if (r < 0) {
    free(u);
    return r;
  }
  /* Waits with a timeout and a signal mask in one call (Linux 5.11). */
  if (!(p.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(&u->ring);
    free(u);
    return -ENOSYS;
  }
  u->live.next = u->live.prev = &u->live;
  s->ring = u;
  return 0;
}

static void uring_destroy(dyco_schedule *s) {
  uring *u = (uring *)s->ring;
  if (u == NULL) {
    return;
  }
  io_uring_queue_exit(&u->ring);
  /* Records of coroutines killed while they waited (their operations
   * ended in uring_quiesce). */
  while (u->live.next != &u->live) {
    ringop *op = u->live.next;
    u->live.next = op->next;
    free(op->bounce);
    free(op);
  }
  free(u);
  s->ring = NULL;
}

/* An entry to fill, submitting what is queued when the queue is full. */
static struct io_uring_sqe *get_sqe(uring *u) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
  if (sqe == NULL && io_uring_submit(&u->ring) >= 0) {
    sqe = io_uring_get_sqe(&u->ring);
  }
  return sqe;
}

static void arm(uring *u, int epfd) {
  struct io_uring_sqe *sqe = get_sqe(u);
  if (sqe == NULL) {
    return; /* next time */
  }
  if (u->oneshot) {
    io_uring_prep_poll_add(sqe, epfd, POLLIN);
  } else {
    io_uring_prep_poll_multishot(sqe, epfd, POLLIN);
  }
  io_uring_sqe_set_data64(sqe, TAG_EPOLL);
  u->armed = 1;
}

/* Takes every completion: marks epoll ready, ends ring operations and
 * (with wake) wakes their waiters. */
static void reap_ops(uring *u, int wake) {
  struct io_uring_cqe *cqe;
  unsigned head;
  unsigned n = 0;
  io_uring_for_each_cqe(&u->ring, head, cqe) {
    n++;
    if (cqe->user_data == TAG_CANCEL) {
      continue;
    }
    if (cqe->user_data == TAG_EPOLL) {
      if (cqe->res >= 0) {
        u->epoll_ready = 1;
      } else if (cqe->res == -EINVAL) {
        u->oneshot = 1;
      }
      if (!(cqe->flags & IORING_CQE_F_MORE)) {
        u->armed = 0; /* ended (one shot, overflow): armed again next wait */
      }
      continue;
    }
    ringop *op = (ringop *)(uintptr_t)cqe->user_data;
    op->res = cqe->res;
    op->done = 1;
    if (wake) {
      dyco_waitq_wakeAll(&op->q, 1);
    }
  }
  io_uring_cq_advance(&u->ring, n);
}

static void reap(uring *u) { reap_ops(u, 1); }

static int uring_wait(dyco_schedule *s, struct epoll_event *ev, int max,
                      int64_t timeout_ns, const sigset_t *mask) {
  uring *u = (uring *)s->ring;
  if (!u->armed) {
    arm(u, s->epfd);
  }
  if (u->epoll_ready) {
    timeout_ns = 0; /* the last look left events behind */
  }
  int r = 0;
  if (timeout_ns != 0 && io_uring_sq_ready(&u->ring) != 0) {
    /* Submit apart from the sleep: an io_uring_enter that submits returns
     * how many it took even when a signal handler interrupted its wait,
     * and the interruption would be lost. Operations that completed at
     * once (cached reads) spare the sleep. */
    io_uring_submit(&u->ring);
  }
  if (timeout_ns != 0 && io_uring_cq_ready(&u->ring) == 0) {
    struct __kernel_timespec ts;
    struct __kernel_timespec *tsp = NULL;
    if (timeout_ns > 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      tsp = &ts;
    }
    struct io_uring_cqe *cqe;
    /* Submits what coroutines queued and sleeps, in one system call. */
    r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, tsp,
                                         (sigset_t *)mask);
  } else if (u->defer) {
    /* A look: the completions' work runs only now. */
    r = io_uring_submit_and_get_events(&u->ring);
  } else if (io_uring_sq_ready(&u->ring) != 0) {
    r = io_uring_submit(&u->ring);
  }
  reap(u);
  if (r == -EINTR) {
    errno = EINTR;
    return -1;
  }
  if (!u->epoll_ready) {
    return 0;
  }
  int n = dyco__sys_epoll_wait(s->epfd, ev, max, 0);
  if (n < 0) {
    return 0;
  }
  /* A full batch may have left more: look again next time without
   * sleeping (the poll reports only new events). */
  u->epoll_ready = n == max;
  return n;
}

/* A record for an operation on fd (-1: none), linked into the live list;
 * NULL without memory. */
static ringop *op_new(uring *u, int fd) {
  ringop *op = (ringop *)calloc(1, sizeof *op);
  if (op == NULL) {
    return NULL;
  }
  dyco_waitq_init(&op->q, NULL);
  op->fd = fd;
  op->next = u->live.next;
  op->prev = &u->live;
  u->live.next->prev = op;
  u->live.next = op;
  return op;
}

static void op_free(ringop *op) {
  op->prev->next = op->next;
  op->next->prev = op->prev;
  free(op);
}

/* Asks the ring to cancel op (submitted with the scheduler's next look).
 * 0, or -1 when no entry could be had (op then ends on its own). */
static int cancel_op(uring *u, const ringop *op) {
  struct io_uring_sqe *sqe = get_sqe(u);
  if (sqe == NULL) {
    return -1; /* the operation ends on its own; the wait goes on */
  }
  io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
  io_uring_sqe_set_data64(sqe, TAG_CANCEL);
  return 0;
}

/* Suspends the running coroutine until op completes, for at most timeout
 * ms (-1: no limit). When the time is up, or the coroutine is cancelled or
 * its deadline passes, op is cancelled in the ring and the wait goes on,
 * shielded, until the ring lets go of op (of its buffer): then the result
 * is the reason (-ETIMEDOUT, -ECANCELED), unless op completed first, whose
 * result is never lost. An fd closed meanwhile ends it with -EBADF. With
 * intr, a signal handler that interrupts the scheduler's sleep ends it the
 * same way, with -EINTR (as it would end a blocking system call). */
static long op_wait(dyco_schedule *s, uring *u, ringop *op, int timeout,
                    int intr) {
  s->fd_waiters++;
  dyco_coroutine *co = s->running;
  int stop = 0;
  while (!op->done) {
    intptr_t v = 0;
    if (stop == 0) {
      if (intr) {
        co->flags |= DYCO__F_EINTR;
        co->intr_mark = s->intr_epoch;
      }
      int r = dyco__wait_on(s, &op->q, DYCO_WAIT_QUEUE, timeout, &v);
      co->flags &= (uint16_t)~DYCO__F_EINTR;
      if (r == 0 && v == -EINTR && !op->done) {
        r = -EINTR; /* a signal handler interrupted the scheduler's sleep */
      }
      if (r == -ECANCELED || r == -ETIMEDOUT || r == -ENOMEM || r == -EINTR) {
        stop = r;
        if (!op->done) {
          cancel_op(u, op);
        }
      }
    } else {
      int was = dyco_coroutine_maskCancel(1);
      dyco__wait_on(s, &op->q, DYCO_WAIT_QUEUE, -1, &v);
      dyco_coroutine_maskCancel(was);
    }
  }
  s->fd_waiters--;
  long res = op->res;
  if (res == -ECANCELED && op->closed) {
    res = -EBADF;
  } else if (res == -ECANCELED && stop != 0) {
    res = stop;
  }
  return res;
}

static long uring_call(dyco_schedule *s, const dyco_uring_op *o, int timeout) {
  uring *u = (uring *)s->ring;
  ringop *op = op_new(u, -1);
  if (op == NULL) {
    return -ENOMEM;
  }
  struct io_uring_sqe *sqe = get_sqe(u);
  if (sqe == NULL) {
    op_free(op);
    return -EBUSY;
  }
  io_uring_prep_rw(o->opcode, sqe, o->fd, (const void *)(uintptr_t)o->addr,
                   o->len, o->off);
  sqe->rw_flags = (__kernel_rwf_t)o->op_flags;
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op);
  /* Submitted with the scheduler's next look or sleep, together with
   * whatever else this round queued. */
  long res = op_wait(s, u, op, timeout, 0);
  op_free(op);
  return res;
}

/* The most a recv into a bounce buffer takes at once. */
#define BOUNCE_MAX (64 * 1024)

static long uring_sock(dyco_schedule *s, int send, int fd, void *buf,
                       size_t len, int flags, int timeout) {
  uring *u = (uring *)s->ring;
  /* A buffer on the shared stack is another coroutine's memory while this
   * one waits: the kernel writes into a bounce buffer, copied once this
   * coroutine has its stack back. */
  char *bounce = NULL;
  char *base = s->shared.stack;
  if ((char *)buf < base + s->shared.size && (char *)buf + len > base) {
    if (len > BOUNCE_MAX) {
      len = BOUNCE_MAX; /* a stream recv may return less */
    }
    bounce = (char *)malloc(len != 0 ? len : 1);
    if (bounce == NULL) {
      return -ENOMEM;
    }
    if (send) {
      memcpy(bounce, buf, len);
    }
  }
  ringop *op = op_new(u, fd);
  struct io_uring_sqe *sqe = op != NULL ? get_sqe(u) : NULL;
  if (sqe == NULL) {
    if (op != NULL) {
      op_free(op);
    }
    free(bounce);
    return op == NULL ? -ENOMEM : -EBUSY;
  }
  if (send) {
    io_uring_prep_send(sqe, fd, bounce != NULL ? bounce : buf, len, flags);
  } else {
    io_uring_prep_recv(sqe, fd, bounce != NULL ? bounce : buf, len, flags);
  }
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op);
  /* The record owns the bounce buffer while the kernel may use it: a
   * coroutine killed meanwhile never comes back to free it. */
  op->bounce = bounce;
  long res = op_wait(s, u, op, timeout, 1);
  op->bounce = NULL;
  op_free(op);
  if (bounce != NULL) {
    if (res > 0 && !send) {
      memcpy(buf, bounce, (size_t)res);
    }
    free(bounce);
  }
  return res;
}

/* The scheduler is being freed with coroutines that wait in the ring:
 * before they and their stacks go, every operation still in flight is
 * cancelled and waited for, so that the kernel writes no buffer of theirs
 * (a stack about to be unmapped, a bounce buffer about to be freed) after
 * it is gone. A disk operation the kernel cannot stop runs to its end
 * first. The waiters are not woken: they will never run again. */
static void uring_quiesce(dyco_schedule *s) {
  uring *u = (uring *)s->ring;
  if (u == NULL) {
    return;
  }
  /* An operation whose cancel could not be queued is not waited for: it
   * might never end. */
  for (ringop *op = u->live.next; op != &u->live; op = op->next) {
    op->awaited = !op->done && cancel_op(u, op) == 0;
  }
  for (;;) {
    int left = 0;
    for (ringop *op = u->live.next; op != &u->live; op = op->next) {
      left += op->awaited && !op->done;
    }
    if (left == 0) {
      return;
    }
    int r = io_uring_submit_and_wait(&u->ring, 1);
    if (r < 0 && r != -EINTR) {
      return; /* the ring itself failed: nothing more will complete */
    }
    reap_ops(u, 0);
  }
}

static void uring_fd_closed(dyco_schedule *s, int fd) {
  uring *u = (uring *)s->ring;
  int any = 0;
  for (ringop *op = u->live.next; op != &u->live; op = op->next) {
    if (op->fd == fd && !op->done && !op->closed) {
      /* By the record, not the number: when another thread closed fd, the
       * number names no file by now (or another one). */
      op->closed = 1;
      cancel_op(u, op);
      any = 1;
    }
  }
  if (any) {
    io_uring_submit(&u->ring);
  }
}

const dyco__poller_ops dyco__poller_uring = {
    .kind = DYCO_POLLER_URING,
    .name = "io_uring",
    .init = uring_init,
    .destroy = uring_destroy,
    .wait = uring_wait,
    .call = uring_call,
    .sock = uring_sock,
    .fd_closed = uring_fd_closed,
    .quiesce = uring_quiesce,
};

#else /* !DYCO_HAVE_URING */

/* A build without liburing (the cross builds): asked for io_uring, the
 * scheduler falls back to epoll. */
static int uring_init(dyco_schedule *s) {
  (void)s;
  return -ENOSYS;
}

static void uring_destroy(dyco_schedule *s) { (void)s; }

static int uring_wait(dyco_schedule *s, struct epoll_event *ev, int max,
                      int64_t timeout_ns, const sigset_t *mask) {
  (void)s;
  (void)ev;
  (void)max;
  (void)timeout_ns;
  (void)mask;
  errno = ENOSYS;
  return -1;
}

const dyco__poller_ops dyco__poller_uring = {
    .kind = DYCO_POLLER_URING,
    .name = "io_uring",
    .init = uring_init,
    .destroy = uring_destroy,
    .wait = uring_wait,
};

#endif
