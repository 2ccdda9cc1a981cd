/* dyco — netio layer: poll, ppoll, select, pselect, the epoll_wait family
 * and the sleeps, yielding inside coroutines, with libc's results, errors
 * and timeouts. Waits go through the scheduler's own poller: no fd, no
 * system call beyond libc's own but a first look at the fds. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/clock.h"
#include "base/sys.h"
#include "netio/internal/io.h"
#include "sched/coroutine.h"
#include "sched/wait.h"

/* A relative timeout: for ever, or until `at` (ns on CLOCK_MONOTONIC). */
typedef struct until {
  int forever;
  uint64_t at;
} until;

static until until_ms(int ms) {
  until u = {ms < 0, 0};
  if (ms >= 0) {
    u.at = dyco__now_ns() + (uint64_t)ms * 1000000u;
  }
  return u;
}

/* A timespec timeout (NULL: for ever); 0, or -EINVAL for one the kernel
 * refuses. */
static int until_ts(const struct timespec *ts, until *u) {
  u->forever = ts == NULL;
  u->at = 0;
  if (ts == NULL) {
    return 0;
  }
  if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L) {
    return -EINVAL;
  }
  /* Beyond some 290 years: for ever. */
  if ((uint64_t)ts->tv_sec > UINT64_MAX / 2 / 1000000000u) {
    u->forever = 1;
    return 0;
  }
  u->at = dyco__now_ns() + (uint64_t)ts->tv_sec * 1000000000u +
          (uint64_t)ts->tv_nsec;
  return 0;
}

static int is_zero(const until *u) {
  return !u->forever && u->at <= dyco__now_ns();
}

/* ns left until u (0 when passed). */
static uint64_t left_ns(const until *u) {
  uint64_t now = dyco__now_ns();
  return u->at > now ? u->at - now : 0;
}

/* dyco_fd_poll until u, in pieces of at most INT_MAX ms. */
static int fd_poll_until(struct pollfd *fds, unsigned long n, const until *u,
                         const sigset_t *mask) {
  for (;;) {
    int ms = -1;
    if (!u->forever) {
      uint64_t left = left_ns(u);
      if (left == 0) {
        return 0;
      }
      uint64_t m = (left + 999999) / 1000000; /* never wake early */
      ms = m > INT_MAX ? INT_MAX : (int)m;
    }
    int r = dyco_fd_poll(fds, n, ms, mask);
    if (r == -ETIMEDOUT) {
      r = 0; /* poll's count of ready entries */
    }
    if (r != 0 || u->forever) {
      return r;
    }
  }
}

/* --- poll and ppoll ---------------------------------------------------------
 */

/* Inside a coroutine. nfds as the kernel takes it: an unsigned int. */
static int poll_in(struct pollfd *fds, nfds_t nfds, const until *u,
                   const sigset_t *mask) {
  const unsigned n = (unsigned)nfds;
  /* What is ready now (EINVAL above RLIMIT_NOFILE, EFAULT, POLLNVAL: the
   * kernel's answers); then the wait, through the scheduler. The timeout
   * is writable: ppoll may write what is left into it (qemu-user does). */
  struct timespec zero = {0, 0};
  int r = dyco__sys_ppoll_mask(fds, n, &zero, NULL);
  if (r != 0 || is_zero(u)) {
    return r;
  }
  r = fd_poll_until(fds, n, u, mask);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

int dyco__net_poll(struct pollfd *fds, nfds_t n, int timeout, int yield) {
  if (!yield) {
    return dyco__sys_poll(fds, n, timeout);
  }
  until u = until_ms(timeout);
  return poll_in(fds, n, &u, NULL);
}

int dyco__net_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                    const sigset_t *mask, int yield) {
  if (!yield) {
    /* The kernel writes what is left into its argument; libc's ppoll
     * passes a copy. */
    struct timespec copy;
    if (tmo != NULL) {
      copy = *tmo;
    }
    return dyco__sys_ppoll_mask(fds, n, tmo != NULL ? &copy : NULL, mask);
  }
  until u;
  int err = until_ts(tmo, &u);
  if (err != 0) {
    errno = -err;
    return -1;
  }
  return poll_in(fds, n, &u, mask);
}

/* --- select and pselect ----------------------------------------------------
 */

/* The bytes of an fd_set the kernel reads for n fds. */
static size_t set_bytes(int n) {
  return ((size_t)n + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
}

static int bit(const fd_set *s, int fd) {
  return s != NULL &&
         (((const unsigned char *)s)[fd / 8] >> (fd % 8) & 1u) != 0;
}

static void set_bit(fd_set *s, int fd) {
  ((unsigned char *)s)[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

/* The kernel's rules (fs/select.c): readable, writable, exceptional. */
#define IN_SET (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define OUT_SET (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define EX_SET (POLLPRI)

/* Inside a coroutine. On return *u's time left is what the caller reports
 * (select writes it back). */
static int select_in(int n, fd_set *rd, fd_set *wr, fd_set *ex, const until *u,
                     const sigset_t *mask) {
  if (n < 0) {
    errno = EINVAL;
    return -1;
  }
  const size_t bytes = set_bytes(n);
  /* Copies for the first look, which the kernel rewrites: its answer to
   * bad fds (EBADF), n beyond the fd table (ignored), and readiness now. */
  fd_set small[3];
  unsigned char *buf = (unsigned char *)small;
  size_t stride = sizeof small[0];
  if (bytes > stride) {
    stride = bytes;
    buf = (unsigned char *)malloc(3 * bytes);
    if (buf == NULL) {
      errno = ENOMEM;
      return -1;
    }
  }
  fd_set *c[3] = {NULL, NULL, NULL};
  fd_set *user[3] = {rd, wr, ex};
  for (int i = 0; i < 3; i++) {
    if (user[i] != NULL) {
      c[i] = (fd_set *)(void *)(buf + (size_t)i * stride);
      memcpy(c[i], user[i], bytes);
    }
  }
  struct timespec zero = {0, 0};
  int result = dyco__sys_pselect(n, c[0], c[1], c[2], &zero);
  struct pollfd few[16];
  struct pollfd *p = few;
  int np = 0;
  if (result == 0 && !is_zero(u)) {
    for (int fd = 0; fd < n; fd++) {
      if (bit(rd, fd) || bit(wr, fd) || bit(ex, fd)) {
        np++;
      }
    }
    if (np > 16) {
      p = (struct pollfd *)malloc((size_t)np * sizeof *p);
      if (p == NULL) {
        result = -ENOMEM;
      }
    }
    if (result == 0) {
      int k = 0;
      for (int fd = 0; fd < n; fd++) {
        short ev = 0;
        if (bit(rd, fd)) {
          ev |= POLLIN | POLLRDNORM | POLLRDBAND;
        }
        if (bit(wr, fd)) {
          ev |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        if (bit(ex, fd)) {
          ev |= POLLPRI;
        }
        if (ev != 0) {
          p[k].fd = fd;
          p[k].events = ev;
          p[k].revents = 0;
          k++;
        }
      }
      int w = fd_poll_until(p, (unsigned long)np, u, mask);
      if (w < 0) {
        result = w;
      } else {
        for (int i = 0; i < 3; i++) {
          if (c[i] != NULL) {
            memset(c[i], 0, bytes);
          }
        }
        for (int i = 0; i < np && w > 0; i++) {
          short re = p[i].revents;
          if (re & POLLNVAL) {
            result = -EBADF; /* closed while we waited */
            break;
          }
          if (c[0] != NULL && bit(rd, p[i].fd) && (re & IN_SET)) {
            set_bit(c[0], p[i].fd);
            result++;
          }
          if (c[1] != NULL && bit(wr, p[i].fd) && (re & OUT_SET)) {
            set_bit(c[1], p[i].fd);
            result++;
          }
          if (c[2] != NULL && bit(ex, p[i].fd) && (re & EX_SET)) {
            set_bit(c[2], p[i].fd);
            result++;
          }
        }
      }
    }
  } else if (result < 0) {
    result = -errno;
  }
  if (result >= 0) {
    for (int i = 0; i < 3; i++) {
      if (user[i] != NULL) {
        memcpy(user[i], c[i], bytes);
      }
    }
  }
  if (p != few) {
    free(p);
  }
  if (buf != (unsigned char *)small) {
    free(buf);
  }
  if (result < 0) {
    errno = -result;
    return -1;
  }
  return result;
}

int dyco__net_select(int n, fd_set *rd, fd_set *wr, fd_set *ex,
                     struct timeval *tv, int yield) {
  struct timespec ts;
  if (tv != NULL) {
    if (tv->tv_sec < 0 || tv->tv_usec < 0) {
      errno = EINVAL;
      return -1;
    }
    /* As the kernel: microseconds beyond a second carry over. */
    ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
    ts.tv_nsec = (long)(tv->tv_usec % 1000000) * 1000;
  }
  if (!yield) {
    int r = dyco__sys_pselect(n, rd, wr, ex, tv != NULL ? &ts : NULL);
    if (tv != NULL) {
      /* Linux leaves the time not slept in *tv. */
      tv->tv_sec = ts.tv_sec;
      tv->tv_usec = ts.tv_nsec / 1000;
    }
    return r;
  }
  until u;
  until_ts(tv != NULL ? &ts : NULL, &u);
  int r = select_in(n, rd, wr, ex, &u, NULL);
  if (tv != NULL) {
    /* The time not slept, as Linux leaves it (0 after a timeout). */
    uint64_t left = r == 0 ? 0 : left_ns(&u);
    tv->tv_sec = (time_t)(left / 1000000000u);
    tv->tv_usec = (suseconds_t)(left % 1000000000u / 1000u);
  }
  return r;
}

int dyco__net_pselect(int n, fd_set *rd, fd_set *wr, fd_set *ex,
                      const struct timespec *tmo, const sigset_t *mask,
                      int yield) {
  if (!yield) {
    struct timespec copy; /* libc's pselect leaves the caller's alone */
    if (tmo != NULL) {
      copy = *tmo;
    }
    return dyco__sys_pselect_mask(n, rd, wr, ex, tmo != NULL ? &copy : NULL,
                                  mask);
  }
  until u;
  int err = until_ts(tmo, &u);
  if (err != 0) {
    errno = -err;
    return -1;
  }
  return select_in(n, rd, wr, ex, &u, mask);
}

/* --- The epoll_wait family ------------------------------------------------ */

/* Inside a coroutine: epoll_wait on any epoll fd. first() makes the first
 * look, with the call's own system call (its errors are libc's), later()
 * the looks after each wake. */
typedef struct ep_call {
  int epfd;
  struct epoll_event *ev;
  int max;
  const struct timespec *tmo; /* epoll_pwait2's */
  int pwait2;
} ep_call;

static int ep_look(const ep_call *c, int first) {
  if (c->pwait2 && first) {
    struct timespec zero = {0, 0};
    return dyco__sys_epoll_pwait2(c->epfd, c->ev, c->max, &zero, NULL);
  }
  return dyco__sys_epoll_pwait(c->epfd, c->ev, c->max, 0, NULL);
}

static int epoll_in(const ep_call *c, const until *u, const sigset_t *mask) {
  int r = ep_look(c, 1);
  if (r != 0 || is_zero(u)) {
    return r;
  }
  for (;;) {
    struct pollfd p = {c->epfd, POLLIN, 0};
    int w = fd_poll_until(&p, 1, u, mask);
    if (w < 0) {
      errno = -w;
      return -1;
    }
    if (w == 0) {
      return 0;
    }
    if (p.revents & POLLNVAL) {
      errno = EBADF; /* closed while we waited */
      return -1;
    }
    r = ep_look(c, 0);
    if (r != 0) {
      return r;
    }
    /* Taken by another waiter on the same instance: wait again. */
  }
}

int dyco__net_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout,
                         int yield) {
  return dyco__net_epoll_pwait(epfd, ev, max, timeout, NULL, yield);
}

int dyco__net_epoll_pwait(int epfd, struct epoll_event *ev, int max,
                          int timeout, const sigset_t *mask, int yield) {
  if (!yield) {
    return dyco__sys_epoll_pwait(epfd, ev, max, timeout, mask);
  }
  ep_call c = {epfd, ev, max, NULL, 0};
  until u = until_ms(timeout);
  return epoll_in(&c, &u, mask);
}

int dyco__net_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                           const struct timespec *tmo, const sigset_t *mask,
                           int yield) {
  if (!yield) {
    return dyco__sys_epoll_pwait2(epfd, ev, max, tmo, mask);
  }
  until u;
  int err = until_ts(tmo, &u);
  if (err != 0) {
    errno = -err;
    return -1;
  }
  ep_call c = {epfd, ev, max, tmo, 1};
  return epoll_in(&c, &u, mask);
}

/* --- Sleeps --------------------------------------------------------------- */

int dyco__net_nanosleep(const struct timespec *req, struct timespec *rem,
                        int yield) {
  if (!yield) {
    return dyco__sys_nanosleep(req, rem);
  }
  if (req == NULL) {
    errno = EFAULT;
    return -1;
  }
  until u;
  if (until_ts(req, &u) != 0) {
    errno = EINVAL;
    return -1;
  }
  /* A wait on no fd: the time, or a signal handler. */
  int r = fd_poll_until(NULL, 0, &u, NULL);
  if (r == -EINTR) {
    if (rem != NULL) {
      uint64_t left = u.forever ? 0 : left_ns(&u);
      rem->tv_sec = (time_t)(left / 1000000000u);
      rem->tv_nsec = (long)(left % 1000000000u);
    }
    errno = EINTR;
    return -1;
  }
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return 0;
}
