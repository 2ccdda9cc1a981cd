/* dyco — sched layer: the choice of a scheduler's poller back end (the
 * process-wide setting, DYCO_POLLER, the build's default) and its fallback. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/internal/sched.h"

/* The build's default: --define=dyco_poller=uring sets it to io_uring. */
#ifndef DYCO_POLLER_BUILD_DEFAULT
#define DYCO_POLLER_BUILD_DEFAULT DYCO_POLLER_EPOLL
#endif

static int chosen; /* DYCO_POLLER_*, atomic; DEFAULT: not set */

int dyco_schedule_setPoller(int kind) {
  if (kind != DYCO_POLLER_DEFAULT && kind != DYCO_POLLER_EPOLL &&
      kind != DYCO_POLLER_URING) {
    return -EINVAL;
  }
  __atomic_store_n(&chosen, kind, __ATOMIC_RELAXED);
  return 0;
}

/* The kind a new scheduler asks for. */
static int wanted(void) {
  int kind = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
  if (kind != DYCO_POLLER_DEFAULT) {
    return kind;
  }
  const char *env = getenv("DYCO_POLLER");
  if (env != NULL) {
    if (strcmp(env, "uring") == 0 || strcmp(env, "io_uring") == 0) {
      return DYCO_POLLER_URING;
    }
    if (strcmp(env, "epoll") == 0) {
      return DYCO_POLLER_EPOLL;
    }
  }
  return DYCO_POLLER_BUILD_DEFAULT;
}

int dyco__poller_init(dyco_schedule *s) {
  if (wanted() == DYCO_POLLER_URING) {
    s->poller = &dyco__poller_uring;
    if (s->poller->init(s) == 0) {
      return 0;
    }
    /* No ring (refused by the kernel or a seccomp profile, no memory for
     * it, a build without liburing): epoll serves. */
  }
  s->poller = &dyco__poller_epoll;
  return s->poller->init(s);
}

int dyco_schedule_getPoller(void) {
  int err = 0;
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    return err;
  }
  return s->poller->kind;
}

long dyco_uring_callTimeout(const dyco_uring_op *op, int timeout) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (op == NULL) {
    return -EINVAL;
  }
  if (s->poller->call == NULL) {
    return -ENOSYS;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  return s->poller->call(s, op, timeout);
}

long dyco_uring_call(const dyco_uring_op *op) {
  return dyco_uring_callTimeout(op, -1);
}

static long sock_op(int send, int fd, void *buf, size_t len, int flags,
                    int timeout) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (s->poller->sock == NULL) {
    return -ENOSYS;
  }
  if (fd < 0) {
    return -EBADF;
  }
  if (buf == NULL && len != 0) {
    return -EFAULT;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  if (dyco__poll_own(s, fd) != 0) {
    return -ENOSYS; /* not a file the scheduler can watch, or no memory */
  }
  return s->poller->sock(s, send, fd, buf, len, flags, timeout);
}

long dyco_uring_recv(int fd, void *buf, size_t len, int flags, int timeout) {
  return sock_op(0, fd, buf, len, flags, timeout);
}

long dyco_uring_send(int fd, const void *buf, size_t len, int flags,
                     int timeout) {
  return sock_op(1, fd, (void *)(uintptr_t)buf, len, flags, timeout);
}
