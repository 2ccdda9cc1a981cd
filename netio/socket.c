/* dyco — netio layer: the socket family. Every call tries the system call
 * first and waits (yielding, or blocking the thread outside coroutines) only
 * after EAGAIN; sockets are read and written with MSG_DONTWAIT. */
#include "netio/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "base/clock.h"
#include "base/sys.h"
#include "netio/file.h"
#include "netio/internal/io.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"

/* --- Small helpers ------------------------------------------------------- */

static inline uint32_t flags_of(const dyco__net_fd *e) {
  return e != NULL ? __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) : 0;
}

static inline int rcv_ms(const dyco__net_fd *e) {
  return e != NULL ? __atomic_load_n(&e->rcv_ms, __ATOMIC_RELAXED) : -1;
}

static inline int snd_ms(const dyco__net_fd *e) {
  return e != NULL ? __atomic_load_n(&e->snd_ms, __ATOMIC_RELAXED) : -1;
}

static inline void set_flags(dyco__net_fd *e, uint32_t f) {
  if (e != NULL) {
    __atomic_store_n(&e->flags, f, __ATOMIC_RELEASE);
  }
}

static inline int would_block(void) {
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* After EAGAIN: waits until fd has ev, for at most timeout_ms in all
 * (*deadline, 0 until the first wait, keeps the end). Yields or blocks the
 * thread. A signal handler that runs meanwhile ends the wait with EINTR
 * when libc's call would end: always with a timeout (SO_RCVTIMEO,
 * SO_SNDTIMEO), else unless every handler restarts (SA_RESTART), when it
 * goes on waiting as the kernel would restart the call. Returns > 0 to try
 * again (the events seen), 0 when the time is up, -1 with errno. */
static int wait_fd(int fd, uint32_t ev, int yield, int timeout_ms,
                   uint64_t *deadline) {
  for (;;) {
    int ms = -1;
    if (timeout_ms >= 0) {
      uint64_t now = dyco__now_ns();
      if (*deadline == 0) {
        *deadline = now + (uint64_t)timeout_ms * 1000000u;
      }
      if (now >= *deadline) {
        return 0;
      }
      ms = (int)((*deadline - now + 999999) / 1000000);
    }
    int r;
    if (yield) {
      r = dyco_fd_wait(fd, ev | DYCO_FD_EINTR, ms);
      if (r == -ETIMEDOUT) {
        r = dyco__net_deadline(); /* the coroutine's, or the socket's */
      }
      if (r >= 0) {
        return r;
      }
      errno = -r;
    } else {
      struct pollfd p;
      p.fd = fd;
      p.events = (short)(((ev & EPOLLIN) ? POLLIN : 0) |
                         ((ev & EPOLLOUT) ? POLLOUT : 0));
      p.revents = 0;
      r = dyco__sys_poll(&p, 1, ms);
      if (r > 0) {
        if (p.revents & POLLNVAL) {
          errno = EBADF;
          return -1;
        }
        return p.revents;
      }
      if (r == 0) {
        return 0;
      }
    }
    if (errno == EINTR && timeout_ms < 0 && dyco__net_restart_after_signal()) {
      continue;
    }
    return -1;
  }
}

/* Makes the socket of e non-blocking for dyco's own use (once). Returns its
 * flags afterwards. */
static uint32_t make_nonblocking(int fd, dyco__net_fd *e, uint32_t f) {
  if (f & (DYCO__FD_USER_NB | DYCO__FD_DYCO_NB)) {
    return f;
  }
  int fl = dyco__sys_fcntl(fd, F_GETFL, 0);
  if (fl < 0) {
    return f;
  }
  if (fl & O_NONBLOCK) {
    f |= DYCO__FD_USER_NB; /* set behind netio's back (ioctl FIONBIO) */
  } else if (dyco__sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
    f |= DYCO__FD_DYCO_NB;
  }
  if (f & DYCO__FD_KNOWN) {
    set_flags(e, f);
  }
  return f;
}

/* Outside a coroutine, libc's behaviour is the kernel's unless dyco made
 * the fd non-blocking behind its user's back. */
static inline int plain_libc(uint32_t f, int flags) {
  return !(f & DYCO__FD_DYCO_NB) || (f & DYCO__FD_USER_NB) ||
         (flags & MSG_DONTWAIT);
}

/* --- socket, close, accept, connect ----------------------------------------
 */

int dyco__net_socket(int domain, int type, int protocol, int yield) {
  const int user_nb = (type & SOCK_NONBLOCK) != 0;
  int fd =
      dyco__sys_socket(domain, (yield ? type | SOCK_NONBLOCK : type), protocol);
  if (fd < 0) {
    return -1;
  }
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  uint32_t f = DYCO__FD_SOCKET;
  if (base == SOCK_STREAM || base == SOCK_SEQPACKET) {
    f |= DYCO__FD_STREAM;
  }
  if (user_nb) {
    f |= DYCO__FD_USER_NB;
  } else if (yield) {
    f |= DYCO__FD_DYCO_NB;
  }
  dyco__net_fd_created(fd, f);
  return fd;
}

int dyco__net_close(int fd) {
  /* A file's close may wait for the file system (NFS flushes): inside a
   * coroutine, on the ring or the pool. */
  if ((flags_of(dyco__net_fd_entry(fd, 0)) & DYCO__FD_FILE) &&
      dyco__net_in_coroutine()) {
    return dyco_file_close(fd);
  }
  dyco__net_fd_closing(fd);
  return dyco__sys_close(fd);
}

int dyco__net_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags,
                      int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  uint32_t f = flags_of(e);
  if (yield) {
    f = make_nonblocking(fd, e, f);
  }
  const int nb = (f & DYCO__FD_USER_NB) || (!yield && plain_libc(f, 0));
  uint64_t deadline = 0;
  for (;;) {
    int c = dyco__sys_accept4(fd, addr, len, flags);
    if (c >= 0) {
      uint32_t cf = DYCO__FD_SOCKET | (f & DYCO__FD_STREAM);
      if (flags & SOCK_NONBLOCK) {
        cf |= DYCO__FD_USER_NB;
      }
      dyco__net_fd_created(c, cf);
      return c;
    }
    if (!would_block() || nb) {
      return -1;
    }
    /* libc's blocking accept takes its fd number before it waits: it says
     * EMFILE at once when none is free, and a connection that comes while
     * the table filled up meanwhile still gets one. Hold a number the same
     * way (a dup) until the retry. */
    int spare = dyco__sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (spare < 0) {
      return -1; /* EMFILE, ENFILE */
    }
    int w = wait_fd(fd, EPOLLIN, yield, rcv_ms(e), &deadline);
    int saved = errno;
    dyco__sys_close(spare);
    errno = saved;
    if (w <= 0) {
      if (w == 0) {
        errno = EAGAIN;
      }
      return -1;
    }
  }
}

int dyco__net_connect(int fd, const struct sockaddr *addr, socklen_t len,
                      int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  uint32_t f = flags_of(e);
  if (yield) {
    f = make_nonblocking(fd, e, f);
  } else if (plain_libc(f, 0)) {
    return dyco__sys_connect(fd, addr, len);
  }
  uint64_t deadline = 0;
  int pause_ms = 1; /* a full Unix backlog: looked at again after this */
  for (;;) {
    if (dyco__sys_connect(fd, addr, len) == 0) {
      return 0;
    }
    if (f & DYCO__FD_USER_NB) {
      return -1;
    }
    if (errno == EAGAIN) {
      /* A Unix socket whose listener's backlog is full: no readiness to
       * wait for, so try again in a moment (1, 2, 4, then every 8 ms;
       * interruptible, as the kernel's wait for room is: the longer the
       * pauses, the rarer a signal that lands between two of them). */
      int ms = snd_ms(e);
      if (ms >= 0 && deadline != 0 && dyco__now_ns() >= deadline) {
        return -1;
      }
      if (ms >= 0 && deadline == 0) {
        deadline = dyco__now_ns() + (uint64_t)ms * 1000000u;
      }
      int r;
      if (yield) {
        r = dyco_fd_poll(NULL, 0, pause_ms, NULL);
        if (r == -ETIMEDOUT) {
          r = dyco__net_deadline(); /* 0: the pause is over */
        }
        if (r < 0) {
          errno = -r;
          if (errno == ECANCELED || errno == ETIMEDOUT) {
            return -1; /* the coroutine's cancel or deadline */
          }
          r = -1;
        }
      } else {
        struct timespec pause = {0, pause_ms * 1000000L};
        r = dyco__sys_nanosleep(&pause, NULL);
      }
      if (pause_ms < 8) {
        pause_ms *= 2;
      }
      if (r < 0 && errno == EINTR &&
          (ms >= 0 || !dyco__net_restart_after_signal())) {
        return -1;
      }
      continue;
    }
    if (errno != EINPROGRESS) {
      return -1;
    }
    int w = wait_fd(fd, EPOLLOUT, yield, snd_ms(e), &deadline);
    if (w <= 0) {
      if (w == 0) {
        errno = EINPROGRESS; /* as Linux says when SO_SNDTIMEO passes */
      }
      return -1;
    }
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) {
      return -1;
    }
    if (err != 0) {
      errno = err;
      return -1;
    }
    return 0;
  }
}

/* --- Receiving ------------------------------------------------------------ */

/* A datagram socket shut down for reading answers EAGAIN to a read with
 * MSG_DONTWAIT, where a blocking read returns 0: woken with a hang-up and
 * still nothing to read, it is that. (A stream socket returns 0 itself.) */
static inline int shut_for_reading(uint32_t f, int woke) {
  return woke > 0 && (woke & (EPOLLRDHUP | EPOLLHUP)) &&
         (f & DYCO__FD_SOCKET) && !(f & DYCO__FD_STREAM);
}

/* The drained mark (see dyco__net_fd) of the running coroutine. */
static inline int drained_here(const dyco__net_fd *e, int cid, uint32_t count) {
  return __atomic_load_n(&e->drained_cid, __ATOMIC_RELAXED) == cid &&
         __atomic_load_n(&e->drained_count, __ATOMIC_RELAXED) == count &&
         __atomic_load_n(&e->drained_sched, __ATOMIC_RELAXED) ==
             (void *)dyco_schedule_self();
}

static void mark_drained(dyco__net_fd *e, int cid) {
  __atomic_store_n(&e->drained_count,
                   (uint32_t)dyco_coroutine_getSchedCount(cid),
                   __ATOMIC_RELAXED);
  __atomic_store_n(&e->drained_sched, (void *)dyco_schedule_self(),
                   __ATOMIC_RELAXED);
  __atomic_store_n(&e->drained_cid, cid, __ATOMIC_RELAXED);
}

ssize_t dyco__net_recvfrom(int fd, void *buf, size_t len, int flags,
                           struct sockaddr *addr, socklen_t *alen, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  const uint32_t f = flags_of(e);
  if (!yield && plain_libc(f, flags)) {
    return dyco__sys_recvfrom(fd, buf, len, flags, addr, alen);
  }
  const int nb = (f & DYCO__FD_USER_NB) || (flags & MSG_DONTWAIT);
  const int waitall =
      (flags & MSG_WAITALL) && (f & DYCO__FD_STREAM) && !nb && len > 0;
  const int fl = (flags | MSG_DONTWAIT) & ~(waitall ? MSG_WAITALL : 0);
  /* A stream socket this coroutine drained without giving up the CPU since:
   * wait first. */
  const int marks =
      yield && !nb && !waitall && (f & DYCO__FD_STREAM) && !(flags & MSG_PEEK);
  int cid = 0;
  int try_first = 1;
  if (marks) {
    cid = dyco_schedule_coroID();
    if (__atomic_load_n(&e->drained_cid, __ATOMIC_RELAXED) != 0) {
      try_first =
          !drained_here(e, cid, (uint32_t)dyco_coroutine_getSchedCount(cid));
      __atomic_store_n(&e->drained_cid, 0, __ATOMIC_RELAXED);
    }
  }
  size_t got = 0;
  uint64_t deadline = 0;
  int woke = 0;
  for (;;) {
    if (try_first) {
      ssize_t r =
          dyco__sys_recvfrom(fd, (char *)buf + got, len - got, fl, addr, alen);
      if (r >= 0) {
        if (!waitall) {
          if (marks && woke > 0 && r > 0 && (size_t)r < len &&
              !(woke & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            mark_drained(e, cid);
          }
          return r;
        }
        got += (size_t)r;
        if (r == 0 || got == len) {
          return (ssize_t)got;
        }
        continue;
      }
      if (!would_block() || nb) {
        return got > 0 ? (ssize_t)got : -1;
      }
      if (shut_for_reading(f, woke)) {
        return 0;
      }
    }
    try_first = 1;
    woke = wait_fd(fd, EPOLLIN, yield, rcv_ms(e), &deadline);
    if (woke <= 0) {
      if (woke == 0) {
        errno = EAGAIN;
      }
      return got > 0 ? (ssize_t)got : -1;
    }
  }
}

ssize_t dyco__net_recvmsg(int fd, struct msghdr *msg, int flags, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  const uint32_t f = flags_of(e);
  if (!yield && plain_libc(f, flags)) {
    return dyco__sys_recvmsg(fd, msg, flags);
  }
  const int nb = (f & DYCO__FD_USER_NB) || (flags & MSG_DONTWAIT);
  uint64_t deadline = 0;
  int woke = 0;
  for (;;) {
    ssize_t r = dyco__sys_recvmsg(fd, msg, flags | MSG_DONTWAIT);
    if (r >= 0 || !would_block() || nb) {
      return r;
    }
    if (shut_for_reading(f, woke)) {
      msg->msg_flags = 0;
      return 0;
    }
    woke = wait_fd(fd, EPOLLIN, yield, rcv_ms(e), &deadline);
    if (woke <= 0) {
      if (woke == 0) {
        errno = EAGAIN;
      }
      return -1;
    }
  }
}

ssize_t dyco__net_recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen,
                           int flags, struct timespec *timeout, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  const uint32_t f = flags_of(e);
  if (!yield && plain_libc(f, flags)) {
    return dyco__sys_recvmmsg(fd, vec, vlen, flags, timeout);
  }
  if (vlen > UIO_MAXIOV) {
    vlen = UIO_MAXIOV; /* as the kernel */
  }
  /* The kernel's timeout: checked after each datagram, what is left
   * written back. */
  uint64_t end = 0;
  if (timeout != NULL) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
        timeout->tv_nsec >= 1000000000L) {
      errno = EINVAL;
      return -1;
    }
    end = dyco__now_ns() + (uint64_t)timeout->tv_sec * 1000000000u +
          (uint64_t)timeout->tv_nsec;
  }
  int nb = (f & DYCO__FD_USER_NB) || (flags & MSG_DONTWAIT);
  unsigned got = 0;
  uint64_t deadline = 0;
  int woke = 0;
  ssize_t result;
  for (;;) {
    /* All that is there, in one call. */
    int r = dyco__sys_recvmmsg(fd, vec + got, vlen - got, flags | MSG_DONTWAIT,
                               NULL);
    if (r > 0) {
      got += (unsigned)r;
      woke = 0;
      deadline = 0; /* SO_RCVTIMEO counts per datagram */
      if (flags & MSG_WAITFORONE) {
        nb = 1; /* after the first, the kernel adds MSG_DONTWAIT */
      }
      if (got == vlen || (vec[got - 1].msg_hdr.msg_flags & MSG_OOB) ||
          (end != 0 && dyco__now_ns() >= end)) {
        result = (ssize_t)got;
        break;
      }
      continue;
    }
    if (r == 0 || !would_block() || nb) {
      result = got > 0 ? (ssize_t)got : (r == 0 ? 0 : -1);
      break;
    }
    if (shut_for_reading(f, woke)) {
      /* A blocking recvmmsg gets an empty datagram, again and again. */
      for (; got < vlen; got++) {
        vec[got].msg_len = 0;
        vec[got].msg_hdr.msg_flags = 0;
      }
      result = (ssize_t)got;
      break;
    }
    woke = wait_fd(fd, EPOLLIN, yield, rcv_ms(e), &deadline);
    if (woke <= 0) {
      if (woke == 0) {
        errno = EAGAIN;
      }
      result = got > 0 ? (ssize_t)got : -1;
      break;
    }
  }
  if (timeout != NULL && result >= 0) {
    uint64_t now = dyco__now_ns();
    uint64_t left = end > now ? end - now : 0;
    timeout->tv_sec = (time_t)(left / 1000000000u);
    timeout->tv_nsec = (long)(left % 1000000000u);
  }
  return result;
}

/* --- Sending ---------------------------------------------------------------
 */

ssize_t dyco__net_sendto(int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr *addr, socklen_t alen,
                         int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  const uint32_t f = flags_of(e);
  if (!yield && plain_libc(f, flags)) {
    return dyco__sys_sendto(fd, buf, len, flags, addr, alen);
  }
  const int nb = (f & DYCO__FD_USER_NB) || (flags & MSG_DONTWAIT);
  size_t sent = 0;
  uint64_t deadline = 0;
  for (;;) {
    ssize_t r = dyco__sys_sendto(fd, (const char *)buf + sent, len - sent,
                                 flags | MSG_DONTWAIT, addr, alen);
    if (r >= 0) {
      sent += (size_t)r;
      /* A blocking stream socket takes everything; a datagram goes whole
       * or not at all. */
      if (sent >= len || nb || !(f & DYCO__FD_STREAM)) {
        return (ssize_t)sent;
      }
      continue;
    }
    if (!would_block() || nb) {
      return sent > 0 ? (ssize_t)sent : -1;
    }
    int w = wait_fd(fd, EPOLLOUT, yield, snd_ms(e), &deadline);
    if (w <= 0) {
      if (w == 0) {
        errno = EAGAIN;
      }
      return sent > 0 ? (ssize_t)sent : -1;
    }
  }
}

/* Drops the first n bytes of *iov (a private copy of cnt entries). */
static void iov_skip(struct iovec **iov, size_t *cnt, size_t n) {
  while (*cnt > 0 && n >= (*iov)->iov_len) {
    n -= (*iov)->iov_len;
    (*iov)++;
    (*cnt)--;
  }
  if (*cnt > 0) {
    (*iov)->iov_base = (char *)(*iov)->iov_base + n;
    (*iov)->iov_len -= n;
  }
}

ssize_t dyco__net_sendmsg(int fd, const struct msghdr *msg, int flags,
                          int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  const uint32_t f = flags_of(e);
  if (!yield && plain_libc(f, flags)) {
    return dyco__sys_sendmsg(fd, msg, flags);
  }
  const int nb = (f & DYCO__FD_USER_NB) || (flags & MSG_DONTWAIT);
  size_t total = 0;
  for (size_t i = 0; i < (size_t)msg->msg_iovlen; i++) {
    total += msg->msg_iov[i].iov_len;
  }
  struct msghdr m = *msg;
  struct iovec *copy = NULL; /* made after a partial send */
  size_t sent = 0;
  uint64_t deadline = 0;
  ssize_t result;
  for (;;) {
    ssize_t r = dyco__sys_sendmsg(fd, &m, flags | MSG_DONTWAIT);
    if (r >= 0) {
      sent += (size_t)r;
      if (sent >= total || nb || !(f & DYCO__FD_STREAM)) {
        result = (ssize_t)sent;
        break;
      }
      if (copy == NULL) {
        copy = (struct iovec *)malloc(m.msg_iovlen * sizeof *copy);
        if (copy == NULL) {
          result = (ssize_t)sent;
          break;
        }
        memcpy(copy, msg->msg_iov, m.msg_iovlen * sizeof *copy);
        m.msg_iov = copy;
      }
      size_t cnt = (size_t)m.msg_iovlen;
      iov_skip(&m.msg_iov, &cnt, (size_t)r);
      m.msg_iovlen = cnt;
      m.msg_control = NULL; /* ancillary data went with the first bytes */
      m.msg_controllen = 0;
      continue;
    }
    if (!would_block() || nb) {
      result = sent > 0 ? (ssize_t)sent : -1;
      break;
    }
    int w = wait_fd(fd, EPOLLOUT, yield, snd_ms(e), &deadline);
    if (w <= 0) {
      if (w == 0) {
        errno = EAGAIN;
      }
      result = sent > 0 ? (ssize_t)sent : -1;
      break;
    }
  }
  int saved = errno;
  free(copy);
  errno = saved;
  return result;
}

ssize_t dyco__net_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen,
                           int flags, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  const uint32_t f = flags_of(e);
  if (!yield && plain_libc(f, flags)) {
    return dyco__sys_sendmmsg(fd, vec, vlen, flags);
  }
  if (vlen > UIO_MAXIOV) {
    vlen = UIO_MAXIOV; /* as the kernel */
  }
  /* All that goes at once, in one call. */
  int r = dyco__sys_sendmmsg(fd, vec, vlen, flags | MSG_DONTWAIT);
  if (r < 0 && !would_block()) {
    return -1;
  }
  unsigned done = r > 0 ? (unsigned)r : 0;
  const int nb = (f & DYCO__FD_USER_NB) || (flags & MSG_DONTWAIT);
  if (done > 0) {
    /* The kernel stops after a message that went in part. */
    const struct msghdr *m = &vec[done - 1].msg_hdr;
    size_t total = 0;
    for (size_t i = 0; i < (size_t)m->msg_iovlen; i++) {
      total += m->msg_iov[i].iov_len;
    }
    if (vec[done - 1].msg_len < total || done == vlen || nb) {
      return (ssize_t)done;
    }
  } else if (nb) {
    errno = EAGAIN;
    return -1;
  }
  /* The rest one by one, each as a blocking sendmsg. */
  for (; done < vlen; done++) {
    ssize_t n = dyco__net_sendmsg(fd, &vec[done].msg_hdr, flags, yield);
    if (n < 0) {
      return done > 0 ? (ssize_t)done : -1;
    }
    vec[done].msg_len = (unsigned)n;
  }
  return (ssize_t)done;
}

/* --- read and write on any fd -------------------------------------------- */

/* Whether fd (not a socket) has ev now: 1 yes, 0 no, -1 with errno. */
static int ready_now(int fd, short ev) {
  struct pollfd p;
  p.fd = fd;
  p.events = ev;
  p.revents = 0;
  struct timespec zero = {0, 0};
  int r = dyco__sys_ppoll(&p, 1, &zero);
  if (r > 0 && (p.revents & POLLNVAL)) {
    errno = EBADF;
    return -1;
  }
  return r;
}

/* For an fd that is not a socket, inside a coroutine: waits (yields) until
 * it is ready for ev. 1 ready, -1 with errno (EAGAIN for a non-blocking fd
 * that is not ready). The fd's flags are never changed. */
static int wait_other(int fd, uint32_t f, short ev) {
  for (;;) {
    int r = ready_now(fd, ev);
    if (r != 0) {
      return r;
    }
    if (f & DYCO__FD_USER_NB) {
      errno = EAGAIN;
      return -1;
    }
    int w = dyco_fd_wait(
        fd, (ev == POLLIN ? EPOLLIN : EPOLLOUT) | DYCO_FD_EINTR, -1);
    if (w == -EINTR && dyco__net_restart_after_signal()) {
      continue; /* the kernel would restart the call */
    }
    if (w < 0) {
      errno = -w;
      return -1;
    }
  }
}

/* The fd's flags inside a coroutine, learned again when a socket turned out
 * not to be one (an fd closed and reopened behind netio's back). */
static uint32_t relearn(int fd, dyco__net_fd *e) {
  set_flags(e, 0);
  return flags_of(dyco__net_fd_entry(fd, 1));
}

ssize_t dyco__net_read(int fd, void *buf, size_t n, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  uint32_t f = flags_of(e);
  if (f & DYCO__FD_SOCKET) {
    if (!yield && plain_libc(f, 0)) {
      return dyco__sys_read(fd, buf, n);
    }
    ssize_t r = dyco__net_recvfrom(fd, buf, n, 0, NULL, NULL, yield);
    if (r >= 0 || errno != ENOTSOCK) {
      return r;
    }
    f = relearn(fd, e);
  }
  if (yield && (f & DYCO__FD_FILE)) {
    return dyco_file_read(fd, buf, n); /* the ring or the pool */
  }
  if (yield && wait_other(fd, f, POLLIN) < 0) {
    return -1;
  }
  return dyco__sys_read(fd, buf, n);
}

ssize_t dyco__net_readv(int fd, const struct iovec *iov, int cnt, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  uint32_t f = flags_of(e);
  if (f & DYCO__FD_SOCKET) {
    if (!yield && plain_libc(f, 0)) {
      return dyco__sys_readv(fd, iov, cnt);
    }
    if (cnt < 0) {
      errno = EINVAL;
      return -1;
    }
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)cnt;
    ssize_t r = dyco__net_recvmsg(fd, &m, 0, yield);
    if (r >= 0 || errno != ENOTSOCK) {
      return r;
    }
    f = relearn(fd, e);
  }
  if (yield && (f & DYCO__FD_FILE)) {
    return dyco_file_readv(fd, iov, cnt);
  }
  if (yield && wait_other(fd, f, POLLIN) < 0) {
    return -1;
  }
  return dyco__sys_readv(fd, iov, cnt);
}

/* write on something that is not a socket, inside a coroutine. */
static ssize_t write_other(int fd, uint32_t f, const char *buf, size_t n) {
  /* A blocking write to a pipe would block the thread once the pipe is
   * full: write pieces that a writable pipe always takes whole. */
  const int pieces = (f & DYCO__FD_FIFO) && !(f & DYCO__FD_USER_NB);
  size_t done = 0;
  for (;;) {
    if (wait_other(fd, f, POLLOUT) < 0) {
      return done > 0 ? (ssize_t)done : -1;
    }
    size_t chunk = n - done;
    if (pieces && chunk > PIPE_BUF) {
      chunk = PIPE_BUF;
    }
    ssize_t r = dyco__sys_write(fd, buf + done, chunk);
    if (r < 0) {
      return done > 0 ? (ssize_t)done : -1;
    }
    done += (size_t)r;
    if (done >= n || !pieces) {
      return (ssize_t)done;
    }
  }
}

ssize_t dyco__net_write(int fd, const void *buf, size_t n, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  uint32_t f = flags_of(e);
  if (f & DYCO__FD_SOCKET) {
    if (!yield && plain_libc(f, 0)) {
      return dyco__sys_write(fd, buf, n);
    }
    ssize_t r = dyco__net_sendto(fd, buf, n, 0, NULL, 0, yield);
    if (r >= 0 || errno != ENOTSOCK) {
      return r;
    }
    f = relearn(fd, e);
  }
  if (!yield) {
    return dyco__sys_write(fd, buf, n);
  }
  if (f & DYCO__FD_FILE) {
    return dyco_file_write(fd, buf, n);
  }
  return write_other(fd, f, (const char *)buf, n);
}

ssize_t dyco__net_writev(int fd, const struct iovec *iov, int cnt, int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(fd, yield);
  uint32_t f = flags_of(e);
  if (cnt < 0 || cnt > IOV_MAX) {
    errno = EINVAL;
    return -1;
  }
  if (f & DYCO__FD_SOCKET) {
    if (!yield && plain_libc(f, 0)) {
      return dyco__sys_writev(fd, iov, cnt);
    }
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = (size_t)cnt;
    ssize_t r = dyco__net_sendmsg(fd, &m, 0, yield);
    if (r >= 0 || errno != ENOTSOCK) {
      return r;
    }
    f = relearn(fd, e);
  }
  if (!yield) {
    return dyco__sys_writev(fd, iov, cnt);
  }
  if (f & DYCO__FD_FILE) {
    return dyco_file_writev(fd, iov, cnt);
  }
  size_t total = 0;
  for (int i = 0; i < cnt; i++) {
    total += iov[i].iov_len;
  }
  if ((f & DYCO__FD_FIFO) && !(f & DYCO__FD_USER_NB) && total > PIPE_BUF) {
    /* In pieces, as write_other: gather first. */
    char *all = (char *)malloc(total);
    if (all == NULL) {
      errno = ENOMEM;
      return -1;
    }
    size_t at = 0;
    for (int i = 0; i < cnt; i++) {
      memcpy(all + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
    ssize_t r = write_other(fd, f, all, total);
    int saved = errno;
    free(all);
    errno = saved;
    return r;
  }
  if (wait_other(fd, f, POLLOUT) < 0) {
    return -1;
  }
  return dyco__sys_writev(fd, iov, cnt);
}

/* --- sendfile and splice ----------------------------------------------------
 */

ssize_t dyco__net_sendfile(int out, int in, void *off, size_t count, int wide,
                           int yield) {
  dyco__net_fd *e = dyco__net_fd_entry(out, yield);
  uint32_t f = flags_of(e);
  const int sock = (f & DYCO__FD_SOCKET) != 0;
  if (!yield && (!sock || plain_libc(f, 0))) {
    return dyco__sys_sendfile(out, in, off, count, wide);
  }
  if (yield && sock) {
    f = make_nonblocking(out, e, f);
  }
  const int nb = (f & DYCO__FD_USER_NB) != 0;
  /* To a pipe that is full a blocking sendfile would block the thread:
   * pieces a writable pipe always takes (as write_other). */
  const int pieces = yield && (f & DYCO__FD_FIFO) && !nb;
  size_t sent = 0;
  uint64_t deadline = 0;
  for (;;) {
    if (yield && !sock && wait_other(out, f, POLLOUT) < 0) {
      return sent > 0 ? (ssize_t)sent : -1;
    }
    size_t chunk = count - sent;
    if (pieces && chunk > PIPE_BUF) {
      chunk = PIPE_BUF;
    }
    ssize_t r = dyco__sys_sendfile(out, in, off, chunk, wide);
    if (r > 0) {
      sent += (size_t)r;
      /* A blocking sendfile goes on until count or the input's end. */
      if (sent >= count || nb || (!sock && !pieces)) {
        return (ssize_t)sent;
      }
      continue;
    }
    if (r == 0) {
      return (ssize_t)sent; /* the input's end */
    }
    if (!would_block() || nb || !sock) {
      return sent > 0 ? (ssize_t)sent : -1;
    }
    int w = wait_fd(out, EPOLLOUT, yield, snd_ms(e), &deadline);
    if (w <= 0) {
      if (w == 0) {
        errno = EAGAIN;
      }
      return sent > 0 ? (ssize_t)sent : -1;
    }
  }
}

ssize_t dyco__net_splice(int in, loff_t *in_off, int out, loff_t *out_off,
                         size_t len, unsigned flags, int yield) {
  dyco__net_fd *ei = dyco__net_fd_entry(in, yield);
  dyco__net_fd *eo = dyco__net_fd_entry(out, yield);
  uint32_t fi = flags_of(ei);
  uint32_t fo = flags_of(eo);
  if (yield) {
    /* A socket end must not block the thread: non-blocking underneath. */
    if (fi & DYCO__FD_SOCKET) {
      fi = make_nonblocking(in, ei, fi);
    }
    if (fo & DYCO__FD_SOCKET) {
      fo = make_nonblocking(out, eo, fo);
    }
  }
  /* Sockets dyco made non-blocking underneath, which the user thinks
   * blocking: outside a coroutine they still need waiting for. */
  const int hidden = ((fi & DYCO__FD_SOCKET) && !plain_libc(fi, 0)) ||
                     ((fo & DYCO__FD_SOCKET) && !plain_libc(fo, 0));
  if (!yield && !hidden) {
    return dyco__sys_splice(in, in_off, out, out_off, len, flags);
  }
  /* A blocking pipe end would block the thread: the pipe side is made
   * non-blocking for the call (SPLICE_F_NONBLOCK), and the wait is ours.
   * What the caller asked to be non-blocking fails with EAGAIN as it
   * would: the pipe side with SPLICE_F_NONBLOCK, a socket or pipe it made
   * non-blocking itself. */
  const int user_nb_pipe = (flags & SPLICE_F_NONBLOCK) != 0;
  for (;;) {
    ssize_t r = dyco__sys_splice(in, in_off, out, out_off, len,
                                 flags | SPLICE_F_NONBLOCK);
    if (r >= 0 || !would_block()) {
      return r;
    }
    /* Which side is not ready? */
    int rin = ready_now(in, POLLIN);
    int rout = ready_now(out, POLLOUT);
    if (rin < 0 || rout < 0) {
      return -1;
    }
    int fd;
    uint32_t ev;
    uint32_t fl;
    if (rin == 0) {
      fd = in;
      ev = EPOLLIN;
      fl = fi;
    } else if (rout == 0) {
      fd = out;
      ev = EPOLLOUT;
      fl = fo;
    } else {
      /* Both ready by poll's measure, yet EAGAIN (a pipe with room for less
       * than a page): let others run, then try again. */
      if (yield) {
        dyco_coroutine_yield();
      } else {
        struct timespec pause = {0, 100000};
        dyco__sys_nanosleep(&pause, NULL);
      }
      continue;
    }
    const int is_sock = (fl & DYCO__FD_SOCKET) != 0;
    if ((fl & DYCO__FD_USER_NB) || (!is_sock && user_nb_pipe)) {
      errno = EAGAIN;
      return -1;
    }
    uint64_t deadline = 0;
    const int ms = is_sock ? (ev == EPOLLIN ? rcv_ms(dyco__net_fd_entry(fd, 0))
                                            : snd_ms(dyco__net_fd_entry(fd, 0)))
                           : -1;
    int w;
    if (yield && !is_sock) {
      w = wait_other(fd, fl, ev == EPOLLIN ? POLLIN : POLLOUT) < 0 ? -1 : 1;
    } else {
      w = wait_fd(fd, ev, yield, ms, &deadline);
    }
    if (w <= 0) {
      if (w == 0) {
        errno = EAGAIN;
      }
      return -1;
    }
  }
}

/* --- fcntl, setsockopt, dup -------------------------------------------------
 */

/* The entry of `to` becomes a copy of that of `from` (they share one open
 * file now); this thread's scheduler forgets the old `to`. */
static void copy_entry(int from, int to) {
  if (!dyco__net_forked) {
    dyco_fd_closing(to);
  }
  dyco__net_fd *dst = dyco__net_fd_entry(to, 0);
  if (dst == NULL) {
    return;
  }
  dyco__net_fd *src = dyco__net_fd_entry(from, 0);
  uint32_t f = flags_of(src);
  __atomic_store_n(&dst->rcv_ms, rcv_ms(src), __ATOMIC_RELAXED);
  __atomic_store_n(&dst->snd_ms, snd_ms(src), __ATOMIC_RELAXED);
  set_flags(dst, (f & DYCO__FD_KNOWN) ? f : 0);
}

int dyco__net_fcntl(int fd, int cmd, long arg) {
  switch (cmd) {
    case F_GETFL: {
      int r = dyco__sys_fcntl(fd, F_GETFL, 0);
      if (r >= 0 && (flags_of(dyco__net_fd_entry(fd, 0)) & DYCO__FD_DYCO_NB)) {
        r &= ~O_NONBLOCK; /* what the user set, not what dyco did */
      }
      return r;
    }
    case F_SETFL: {
      dyco__net_fd *e = dyco__net_fd_entry(fd, 0);
      uint32_t f = flags_of(e);
      const int want = (int)arg;
      if ((f & DYCO__FD_DYCO_NB) && !(want & O_NONBLOCK)) {
        /* Blocking for the user; dyco keeps O_NONBLOCK underneath. */
        int r = dyco__sys_fcntl(fd, F_SETFL, want | O_NONBLOCK);
        if (r == 0) {
          set_flags(e, f & ~DYCO__FD_USER_NB);
        }
        return r;
      }
      int r = dyco__sys_fcntl(fd, F_SETFL, want);
      if (r == 0 && (f & DYCO__FD_KNOWN)) {
        f &= ~(DYCO__FD_USER_NB | DYCO__FD_DYCO_NB);
        set_flags(e, (want & O_NONBLOCK) ? f | DYCO__FD_USER_NB : f);
      }
      return r;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int r = dyco__sys_fcntl(fd, cmd, arg);
      if (r >= 0) {
        copy_entry(fd, r);
      }
      return r;
    }
    default:
      return dyco__sys_fcntl(fd, cmd, arg);
  }
}

/* SO_RCVTIMEO / SO_SNDTIMEO's value in ms (-1: none). */
static int32_t sockopt_ms(int name, const void *val, socklen_t len) {
  int64_t sec, usec;
#if defined(SO_RCVTIMEO_NEW) && defined(SO_RCVTIMEO_OLD) && \
    SO_RCVTIMEO_NEW != SO_RCVTIMEO_OLD
  if (name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW) {
    if (len < (socklen_t)(2 * sizeof(int64_t))) {
      return -1;
    }
    int64_t v[2];
    memcpy(v, val, sizeof v);
    sec = v[0];
    usec = v[1];
  } else
#endif
  {
    (void)name;
    if (len < (socklen_t)(2 * sizeof(long))) {
      return -1;
    }
    long v[2]; /* the native struct timeval of the old options */
    memcpy(v, val, sizeof v);
    sec = v[0];
    usec = v[1];
  }
  if (sec <= 0 && usec <= 0) {
    return -1;
  }
  int64_t ms = sec * 1000 + (usec + 999) / 1000;
  return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

static int is_timeo(int name, int *rcv) {
  *rcv = 0;
  if (name == SO_RCVTIMEO) {
    *rcv = 1;
    return 1;
  }
  if (name == SO_SNDTIMEO) {
    return 1;
  }
#if defined(SO_RCVTIMEO_NEW) && defined(SO_RCVTIMEO_OLD)
  if (name == SO_RCVTIMEO_NEW || name == SO_RCVTIMEO_OLD) {
    *rcv = 1;
    return 1;
  }
  if (name == SO_SNDTIMEO_NEW || name == SO_SNDTIMEO_OLD) {
    return 1;
  }
#endif
  return 0;
}

int dyco__net_setsockopt(int fd, int level, int name, const void *val,
                         socklen_t len) {
  int r = dyco__sys_setsockopt(fd, level, name, val, len);
  int rcv;
  if (r != 0 || level != SOL_SOCKET || !is_timeo(name, &rcv)) {
    return r;
  }
  dyco__net_fd *e = dyco__net_fd_entry(fd, 0);
  if (flags_of(e) & DYCO__FD_KNOWN) {
    __atomic_store_n(rcv ? &e->rcv_ms : &e->snd_ms, sockopt_ms(name, val, len),
                     __ATOMIC_RELAXED);
  }
  return r;
}

int dyco__net_dup(int fd) {
  int r = dyco__sys_dup(fd);
  if (r >= 0) {
    copy_entry(fd, r);
  }
  return r;
}

int dyco__net_dup3(int fd, int to, int flags, int dup2_semantics) {
  if (dup2_semantics && fd == to) {
    /* dup2(fd, fd): fd itself when it is open. */
    return dyco__sys_fcntl(fd, F_GETFL, 0) < 0 ? -1 : to;
  }
  int r = dyco__sys_dup3(fd, to, flags);
  if (r >= 0) {
    copy_entry(fd, r);
  }
  return r;
}

/* --- The public calls -------------------------------------------------- */

int dyco_socket(int domain, int type, int protocol) {
  return dyco__net_socket(domain, type, protocol, dyco__net_in_coroutine());
}

int dyco_close(int fd) { return dyco__net_close(fd); }

int dyco_accept(int fd, struct sockaddr *addr, socklen_t *len) {
  return dyco__net_accept4(fd, addr, len, 0, dyco__net_in_coroutine());
}

int dyco_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  return dyco__net_accept4(fd, addr, len, flags, dyco__net_in_coroutine());
}

int dyco_connect(int fd, struct sockaddr *name, socklen_t namelen) {
  return dyco__net_connect(fd, name, namelen, dyco__net_in_coroutine());
}

ssize_t dyco_send(int fd, const void *buf, size_t len, int flags) {
  return dyco__net_sendto(fd, buf, len, flags, NULL, 0,
                          dyco__net_in_coroutine());
}

ssize_t dyco_recv(int fd, void *buf, size_t len, int flags) {
  return dyco__net_recvfrom(fd, buf, len, flags, NULL, NULL,
                            dyco__net_in_coroutine());
}

ssize_t dyco_sendto(int fd, const void *buf, size_t len, int flags,
                    const struct sockaddr *dest_addr, socklen_t addrlen) {
  return dyco__net_sendto(fd, buf, len, flags, dest_addr, addrlen,
                          dyco__net_in_coroutine());
}

ssize_t dyco_recvfrom(int fd, void *buf, size_t len, int flags,
                      struct sockaddr *src_addr, socklen_t *addrlen) {
  return dyco__net_recvfrom(fd, buf, len, flags, src_addr, addrlen,
                            dyco__net_in_coroutine());
}

ssize_t dyco_sendmsg(int fd, const struct msghdr *msg, int flags) {
  return dyco__net_sendmsg(fd, msg, flags, dyco__net_in_coroutine());
}

ssize_t dyco_recvmsg(int fd, struct msghdr *msg, int flags) {
  return dyco__net_recvmsg(fd, msg, flags, dyco__net_in_coroutine());
}

ssize_t dyco_read(int fd, void *buf, size_t count) {
  return dyco__net_read(fd, buf, count, dyco__net_in_coroutine());
}

ssize_t dyco_write(int fd, const void *buf, size_t count) {
  return dyco__net_write(fd, buf, count, dyco__net_in_coroutine());
}

ssize_t dyco_readv(int fd, const struct iovec *iov, int iovcnt) {
  return dyco__net_readv(fd, iov, iovcnt, dyco__net_in_coroutine());
}

ssize_t dyco_writev(int fd, const struct iovec *iov, int iovcnt) {
  return dyco__net_writev(fd, iov, iovcnt, dyco__net_in_coroutine());
}

int dyco_fcntl(int fd, int cmd, long arg) {
  return dyco__net_fcntl(fd, cmd, arg);
}

int dyco_setsockopt(int fd, int level, int optname, const void *optval,
                    socklen_t optlen) {
  return dyco__net_setsockopt(fd, level, optname, optval, optlen);
}

int dyco_poll(struct pollfd *fds, nfds_t nfds, int timeout) {
  return dyco__net_poll(fds, nfds, timeout, dyco__net_in_coroutine());
}
