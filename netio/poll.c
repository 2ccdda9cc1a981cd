/* dyco — netio layer: poll, select, epoll_wait and the sleeps, yielding
 * inside coroutines, with libc's results and timeouts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "netio/internal/io.h"
#include "netio/internal/sys.h"
#include "sched/coroutine.h"
#include "sched/wait.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ms left until deadline (rounded up), 0 when passed; -1 for no deadline. */
static int left_ms(uint64_t deadline) {
  if (deadline == 0) {
    return -1;
  }
  uint64_t now = now_ns();
  if (now >= deadline) {
    return 0;
  }
  uint64_t ms = (deadline - now + 999999) / 1000000;
  return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static uint64_t deadline_of(int timeout_ms) {
  return timeout_ms > 0 ? now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
}

/* Suspends the running coroutine for ms (-1: for ever). */
static void idle(int ms) {
  if (ms >= 0) {
    dyco_coroutine_sleep((uint32_t)ms);
    return;
  }
  for (;;) {
    dyco_coroutine_sleep(UINT32_MAX);
  }
}

static uint32_t epoll_events(short ev) {
  uint32_t e = 0;
  if (ev & (POLLIN | POLLRDNORM | POLLRDBAND)) {
    e |= EPOLLIN;
  }
  if (ev & (POLLOUT | POLLWRNORM | POLLWRBAND)) {
    e |= EPOLLOUT;
  }
  if (ev & POLLPRI) {
    e |= EPOLLPRI;
  }
  if (ev & POLLRDHUP) {
    e |= EPOLLRDHUP;
  }
  return e;
}

/* Waits (yields) until one of several fds has its events, through an epoll
 * instance made for this wait. Returns what dyco_fd_wait returns. */
static int wait_many(struct pollfd *fds, nfds_t n, int ms) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    return -errno;
  }
  int r = 0;
  for (nfds_t i = 0; i < n && r == 0; i++) {
    if (fds[i].fd < 0) {
      continue;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = epoll_events(fds[i].events);
    ev.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &ev) != 0) {
      if (errno == EEXIST) {
        /* The same fd twice: wait for anything it may be asked for. */
        ev.events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP;
        epoll_ctl(ep, EPOLL_CTL_MOD, fds[i].fd, &ev);
      } else if (errno != EPERM) {
        /* EBADF and the like: poll reports them (POLLNVAL). */
        r = 1;
      }
    }
  }
  if (r == 0) {
    r = dyco_fd_wait(ep, EPOLLIN, ms);
  }
  dyco_fd_closing(ep);
  dyco__sys_close(ep);
  return r;
}

int dyco__net_poll(struct pollfd *fds, nfds_t n, int timeout, int yield) {
  if (!yield) {
    return dyco__sys_poll(fds, n, timeout);
  }
  int r = dyco__sys_poll(fds, n, 0);
  if (r != 0 || timeout == 0) {
    return r;
  }
  const uint64_t deadline = deadline_of(timeout);
  int valid = 0;
  nfds_t one = 0;
  for (nfds_t i = 0; i < n; i++) {
    if (fds[i].fd >= 0) {
      valid++;
      one = i;
    }
  }
  for (;;) {
    int ms = left_ms(deadline);
    if (ms == 0) {
      return 0;
    }
    if (valid == 0) {
      idle(ms); /* poll(NULL, 0, ms) sleeps */
      return 0;
    }
    int w;
    const short simple = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
    if (valid == 1 && !(fds[one].events & ~simple)) {
      uint32_t ev = epoll_events(fds[one].events);
      w = dyco_fd_wait(fds[one].fd, ev != 0 ? ev : EPOLLIN, ms);
    } else {
      w = wait_many(fds, n, ms);
    }
    if (w < 0 && w != -EBADF) {
      errno = -w;
      return -1;
    }
    /* Readiness as poll itself reports it (POLLNVAL for a closed fd). */
    r = dyco__sys_poll(fds, n, 0);
    if (r != 0 || w == 0) {
      return r;
    }
  }
}

int dyco__net_select(int n, fd_set *rd, fd_set *wr, fd_set *ex,
                     struct timeval *tv, int yield) {
  if (!yield) {
    struct timespec ts, *tsp = NULL;
    if (tv != NULL) {
      if (tv->tv_sec < 0 || tv->tv_usec < 0) {
        errno = EINVAL;
        return -1;
      }
      ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
      ts.tv_nsec = (long)(tv->tv_usec % 1000000) * 1000;
      tsp = &ts;
    }
    int r = dyco__sys_pselect(n, rd, wr, ex, tsp);
    if (tv != NULL) {
      /* Linux leaves the time not slept in *tv. */
      tv->tv_sec = ts.tv_sec;
      tv->tv_usec = ts.tv_nsec / 1000;
    }
    return r;
  }
  if (n < 0 || n > FD_SETSIZE ||
      (tv != NULL && (tv->tv_sec < 0 || tv->tv_usec < 0))) {
    errno = EINVAL;
    return -1;
  }
  int timeout = -1;
  if (tv != NULL) {
    int64_t ms = (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
    timeout = ms > INT32_MAX ? INT32_MAX : (int)ms;
  }
  struct pollfd small[16];
  struct pollfd *p = small;
  int cnt = 0;
  for (int fd = 0; fd < n; fd++) {
    if ((rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) ||
        (ex && FD_ISSET(fd, ex))) {
      cnt++;
    }
  }
  if (cnt > 16) {
    p = (struct pollfd *)malloc((size_t)cnt * sizeof *p);
    if (p == NULL) {
      errno = ENOMEM;
      return -1;
    }
  }
  int k = 0;
  for (int fd = 0; fd < n; fd++) {
    short ev = 0;
    if (rd && FD_ISSET(fd, rd)) {
      ev |= POLLIN;
    }
    if (wr && FD_ISSET(fd, wr)) {
      ev |= POLLOUT;
    }
    if (ex && FD_ISSET(fd, ex)) {
      ev |= POLLPRI;
    }
    if (ev != 0) {
      p[k].fd = fd;
      p[k].events = ev;
      p[k].revents = 0;
      k++;
    }
  }
  const uint64_t start = now_ns();
  int r = dyco__net_poll(p, (nfds_t)cnt, timeout, 1);
  int result = r;
  if (r > 0) {
    for (int i = 0; i < cnt; i++) {
      if (p[i].revents & POLLNVAL) {
        errno = EBADF;
        result = -1;
      }
    }
  }
  if (result >= 0) {
    /* Count as select does: one per fd per set it is ready in. */
    if (rd) {
      FD_ZERO(rd);
    }
    if (wr) {
      FD_ZERO(wr);
    }
    if (ex) {
      FD_ZERO(ex);
    }
    result = 0;
    for (int i = 0; i < cnt && r > 0; i++) {
      short re = p[i].revents;
      if (rd && (p[i].events & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR))) {
        FD_SET(p[i].fd, rd);
        result++;
      }
      if (wr && (p[i].events & POLLOUT) && (re & (POLLOUT | POLLERR))) {
        FD_SET(p[i].fd, wr);
        result++;
      }
      if (ex && (p[i].events & POLLPRI) && (re & POLLPRI)) {
        FD_SET(p[i].fd, ex);
        result++;
      }
    }
    if (tv != NULL) {
      int64_t left = (int64_t)tv->tv_sec * 1000000 + tv->tv_usec -
                     (int64_t)((now_ns() - start) / 1000);
      if (left < 0 || result == 0) {
        left = 0;
      }
      tv->tv_sec = (time_t)(left / 1000000);
      tv->tv_usec = (suseconds_t)(left % 1000000);
    }
  }
  if (p != small) {
    int saved = errno;
    free(p);
    errno = saved;
  }
  return result;
}

int dyco__net_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout,
                         int yield) {
  if (!yield) {
    return dyco__sys_epoll_wait(epfd, ev, max, timeout);
  }
  int r = dyco__sys_epoll_wait(epfd, ev, max, 0);
  if (r != 0 || timeout == 0) {
    return r;
  }
  const uint64_t deadline = deadline_of(timeout);
  for (;;) {
    int ms = left_ms(deadline);
    if (ms == 0) {
      return 0;
    }
    int w = dyco_fd_wait(epfd, EPOLLIN, ms);
    if (w < 0) {
      errno = -w;
      return -1;
    }
    r = dyco__sys_epoll_wait(epfd, ev, max, 0);
    if (r != 0 || w == 0) {
      return r;
    }
  }
}

int dyco__net_nanosleep(const struct timespec *req, struct timespec *rem,
                        int yield) {
  if (!yield) {
    return dyco__sys_nanosleep(req, rem);
  }
  if (req == NULL) {
    errno = EFAULT;
    return -1;
  }
  if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) {
    errno = EINVAL;
    return -1;
  }
  uint64_t ms = (uint64_t)req->tv_sec * 1000 +
                ((uint64_t)req->tv_nsec + 999999) / 1000000;
  do {
    uint32_t step = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    dyco_coroutine_sleep(step);
    ms -= step;
  } while (ms > 0);
  if (rem != NULL) {
    rem->tv_sec = 0;
    rem->tv_nsec = 0;
  }
  return 0;
}
