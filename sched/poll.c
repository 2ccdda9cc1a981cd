/* dyco — sched layer: the poller. Each scheduler's epoll instance (every fd
 * added once, edge-triggered, until it is closed), its fd table, and the
 * waits of coroutines on file descriptors. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "sched/internal/sched.h"
#include "sched/internal/sys.h"

#define EVFD_TAG UINT64_MAX

int dyco__poll_init(dyco_schedule *s) {
  s->epfd = dyco__sys_epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0) {
    return -errno;
  }
  s->evfd = dyco__sys_eventfd2(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->evfd < 0) {
    int err = -errno;
    dyco__sys_close(s->epfd);
    return err;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = EVFD_TAG;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) != 0) {
    int err = -errno;
    dyco__sys_close(s->evfd);
    dyco__sys_close(s->epfd);
    return err;
  }
  return 0;
}

void dyco__poll_destroy(dyco_schedule *s) {
  /* The fds first, while the fd table still stands: under TSan the close
   * is libc's, which a close hook may see and look the fd up. */
  if (s->evfd >= 0) {
    dyco__sys_close(s->evfd);
  }
  if (s->epfd >= 0) {
    dyco__sys_close(s->epfd);
  }
  s->evfd = s->epfd = -1;
  for (uint32_t i = 0; i < s->fd_dir_len; i++) {
    free(s->fd_dir[i]);
  }
  free(s->fd_dir);
  s->fd_dir = NULL;
  s->fd_dir_len = 0;
}

_Static_assert(offsetof(dyco__fdslot, either) + sizeof(void *) <= 64,
               "an fd slot's hot fields fit in its first cache line");

static dyco__fdslot *fd_slot(dyco_schedule *s, int fd, int create) {
  uint32_t page = (uint32_t)fd / DYCO__FD_PAGE;
  if (page >= s->fd_dir_len) {
    if (!create) {
      return NULL;
    }
    uint32_t n = s->fd_dir_len != 0 ? s->fd_dir_len : 8;
    while (n <= page) {
      n *= 2;
    }
    dyco__fdslot **d = (dyco__fdslot **)realloc(s->fd_dir, n * sizeof *d);
    if (d == NULL) {
      return NULL;
    }
    memset(d + s->fd_dir_len, 0, (n - s->fd_dir_len) * sizeof *d);
    s->fd_dir = d;
    s->fd_dir_len = n;
  }
  if (s->fd_dir[page] == NULL) {
    if (!create) {
      return NULL;
    }
    /* Zeroed slots are empty queues without locks, not registered. */
    dyco__fdslot *p = (dyco__fdslot *)aligned_alloc(
        _Alignof(dyco__fdslot), DYCO__FD_PAGE * sizeof(dyco__fdslot));
    if (p == NULL) {
      return NULL;
    }
    memset(p, 0, DYCO__FD_PAGE * sizeof(dyco__fdslot));
    s->fd_dir[page] = p;
  }
  return &s->fd_dir[page][(uint32_t)fd % DYCO__FD_PAGE];
}

int dyco__poll_queue_fd(dyco_schedule *s, const dyco_waitq *q) {
  for (uint32_t p = 0; p < s->fd_dir_len; p++) {
    dyco__fdslot *page = s->fd_dir[p];
    if (page == NULL) {
      continue;
    }
    const char *lo = (const char *)page;
    const char *hi = lo + DYCO__FD_PAGE * sizeof(dyco__fdslot);
    if ((const char *)q >= lo && (const char *)q < hi) {
      return (int)(p * DYCO__FD_PAGE +
                   (uint32_t)(((const char *)q - lo) / sizeof(dyco__fdslot)));
    }
  }
  return -1;
}

void dyco__poll(dyco_schedule *s, int64_t timeout_ns) {
  struct epoll_event ev[256];
  int ms;
  if (timeout_ns < 0) {
    ms = -1;
  } else if (timeout_ns > (int64_t)INT_MAX * 1000000) {
    ms = INT_MAX;
  } else {
    /* Round up: never wake before a timer is due. */
    ms = (int)((timeout_ns + 999999) / 1000000);
  }
  s->polls++;
  int n = dyco__sys_epoll_wait(s->epfd, ev, 256, ms);
  for (int i = 0; i < n; i++) {
    if (ev[i].data.u64 == EVFD_TAG) {
      uint64_t v;
      while (dyco__sys_read(s->evfd, &v, sizeof v) > 0) {
      }
      continue;
    }
    dyco__fdslot *slot = fd_slot(s, (int)ev[i].data.u64, 0);
    if (slot == NULL) {
      continue;
    }
    uint32_t rev = ev[i].events;
    if (rev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      dyco_waitq_wakeAll(&slot->readers, (intptr_t)rev);
    }
    if (rev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      dyco_waitq_wakeAll(&slot->writers, (intptr_t)rev);
    }
    dyco_waitq_wakeAll(&slot->either, (intptr_t)rev);
  }
}

int dyco_fd_wait(int fd, uint32_t events, int timeout) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (fd < 0) {
    return -EBADF;
  }
  events &= EPOLLIN | EPOLLOUT;
  if (events == 0) {
    return -EINVAL;
  }
  if (timeout == 0) {
    return 0;
  }
  dyco__fdslot *slot = fd_slot(s, fd, 1);
  if (slot == NULL) {
    return -ENOMEM;
  }
  if (!slot->registered) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = (uint64_t)fd;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) {
      /* Regular files and directories cannot be polled: always ready. */
      if (errno == EPERM) {
        return (int)events;
      }
      return -errno;
    }
    slot->registered = 1;
  }
  dyco_waitq *q;
  int kind;
  if (events == EPOLLIN) {
    q = &slot->readers;
    kind = DYCO_WAIT_READ;
  } else if (events == EPOLLOUT) {
    q = &slot->writers;
    kind = DYCO_WAIT_WRITE;
  } else {
    q = &slot->either;
    kind = DYCO_WAIT_RW;
  }
  s->fd_waiters++;
  intptr_t v = 0;
  int r = dyco__wait_on(s, q, kind, timeout, &v);
  s->fd_waiters--;
  if (r == 0) {
    return (int)v;
  }
  return r == -ETIMEDOUT ? 0 : r;
}

void dyco_fd_closing(int fd) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || fd < 0) {
    return;
  }
  dyco__fdslot *slot = fd_slot(s, fd, 0);
  if (slot == NULL) {
    return;
  }
  dyco_waitq_wakeAll(&slot->readers, -EBADF);
  dyco_waitq_wakeAll(&slot->writers, -EBADF);
  dyco_waitq_wakeAll(&slot->either, -EBADF);
  if (slot->registered) {
    /* A dup of fd would keep the registration alive: drop it now. */
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
    slot->registered = 0;
  }
}

static int wait_events(int fd, uint32_t events, int timeout) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (fd < 0) {
    return -EBADF;
  }
  /* Readiness the scheduler saw earlier may be stale or consumed: ask the
   * kernel first, then wait for the next edge. */
  struct pollfd p;
  p.fd = fd;
  p.events = (short)events;
  p.revents = 0;
  int n = dyco__sys_poll_now(&p, 1);
  if (n < 0) {
    return -errno;
  }
  if (p.revents & POLLNVAL) {
    return -EBADF;
  }
  if (n > 0) {
    return p.revents;
  }
  if (timeout == 0) {
    return 0;
  }
  return dyco_fd_wait(fd, events, timeout);
}

int dyco_coroutine_waitRead(int fd, int timeout) {
  return wait_events(fd, EPOLLIN, timeout);
}

int dyco_coroutine_waitWrite(int fd, int timeout) {
  return wait_events(fd, EPOLLOUT, timeout);
}

int dyco_coroutine_waitRW(int fd, int timeout) {
  return wait_events(fd, EPOLLIN | EPOLLOUT, timeout);
}
