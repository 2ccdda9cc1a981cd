/* dyco — base layer: the raw system calls dyco makes for itself, with
 * syscall(2), so that they never re-enter a libc hook (netio's, or a
 * sanitizer's interceptor) and work the same in static and dynamic programs.
 * The one set for every layer. Each returns -1 and sets errno, as libc. */
#ifndef DYCO_BASE_SYS_H_
#define DYCO_BASE_SYS_H_

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/fault.h"

/* fcntl with 64-bit offsets where the architecture has both. */
#if defined(SYS_fcntl64)
#define DYCO__SYS_FCNTL SYS_fcntl64
#else
#define DYCO__SYS_FCNTL SYS_fcntl
#endif

/* The calls newer than some of the kernel headers dyco builds with: their
 * numbers, -1 where these headers lack them (DYCO__SYS_OPTIONAL). */
#if defined(SYS_epoll_pwait2)
#define DYCO__NR_EPOLL_PWAIT2 SYS_epoll_pwait2
#else
#define DYCO__NR_EPOLL_PWAIT2 (-1L)
#endif
#if defined(SYS_close_range)
#define DYCO__NR_CLOSE_RANGE SYS_close_range
#else
#define DYCO__NR_CLOSE_RANGE (-1L)
#endif
#if defined(SYS_pidfd_open)
#define DYCO__NR_PIDFD_OPEN SYS_pidfd_open
#else
#define DYCO__NR_PIDFD_OPEN (-1L)
#endif

/* DYCO__SYS_OPTIONAL(nr, args...) is syscall(nr, args...), or -1 with errno
 * ENOSYS, as libc's, where the headers lack the call (nr is -1): the one
 * wrapper of the calls above. nr is a constant, so the test is the
 * compiler's, not the program's. */
#define DYCO__SYS_OPTIONAL(nr, ...) \
  ((nr) < 0 ? (errno = ENOSYS, -1L) : syscall((nr), __VA_ARGS__))

/* The size of the kernel's sigset_t (the rt_* calls take it). */
#define DYCO__SIGSET_BYTES ((size_t)(_NSIG / 8))

static inline ssize_t dyco__sys_read(int fd, void *buf, size_t n) {
  DYCO__FAULT(DYCO_FAULT_READ);
  return (ssize_t)syscall(SYS_read, fd, buf, n);
}

static inline ssize_t dyco__sys_write(int fd, const void *buf, size_t n) {
  DYCO__FAULT(DYCO_FAULT_WRITE);
  return (ssize_t)syscall(SYS_write, fd, buf, n);
}

static inline ssize_t dyco__sys_readv(int fd, const struct iovec *iov,
                                      int cnt) {
  return (ssize_t)syscall(SYS_readv, fd, iov, cnt);
}

static inline ssize_t dyco__sys_writev(int fd, const struct iovec *iov,
                                       int cnt) {
  return (ssize_t)syscall(SYS_writev, fd, iov, cnt);
}

static inline int dyco__sys_close(int fd) {
  return (int)syscall(SYS_close, fd);
}

/* The fds dyco makes for itself (a scheduler's epoll instance and eventfd,
 * dyco_epoll_init's, dyco_signal_init's) are made raw as well as closed raw,
 * so that a ThreadSanitizer found at run time (whose libc wrappers follow
 * fds from their creation to their close) sees neither: a raw close after a
 * wrapped creation would make the next fd with that number, on another
 * thread, look racy. */
static inline int dyco__sys_epoll_create1(int flags) {
  DYCO__FAULT(DYCO_FAULT_EPOLL_CREATE);
  return (int)syscall(SYS_epoll_create1, flags);
}

static inline int dyco__sys_eventfd2(unsigned int initval, int flags) {
  DYCO__FAULT(DYCO_FAULT_EVENTFD);
  return (int)syscall(SYS_eventfd2, initval, flags);
}

static inline int dyco__sys_pipe2(int fds[2], int flags) {
  DYCO__FAULT(DYCO_FAULT_PIPE);
  return (int)syscall(SYS_pipe2, fds, flags);
}

static inline int dyco__sys_signalfd4(const sigset_t *mask, int flags) {
  DYCO__FAULT(DYCO_FAULT_SIGNALFD);
  return (int)syscall(SYS_signalfd4, -1, mask, DYCO__SIGSET_BYTES, flags);
}

static inline int dyco__sys_socket(int domain, int type, int protocol) {
  DYCO__FAULT(DYCO_FAULT_SOCKET);
  return (int)syscall(SYS_socket, domain, type, protocol);
}

static inline int dyco__sys_connect(int fd, const struct sockaddr *addr,
                                    socklen_t len) {
  return (int)syscall(SYS_connect, fd, addr, len);
}

static inline int dyco__sys_accept4(int fd, struct sockaddr *addr,
                                    socklen_t *len, int flags) {
  DYCO__FAULT(DYCO_FAULT_ACCEPT);
  return (int)syscall(SYS_accept4, fd, addr, len, flags);
}

static inline ssize_t dyco__sys_sendto(int fd, const void *buf, size_t n,
                                       int flags, const struct sockaddr *addr,
                                       socklen_t len) {
  return (ssize_t)syscall(SYS_sendto, fd, buf, n, flags, addr, len);
}

static inline ssize_t dyco__sys_recvfrom(int fd, void *buf, size_t n, int flags,
                                         struct sockaddr *addr,
                                         socklen_t *len) {
  return (ssize_t)syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);
}

static inline ssize_t dyco__sys_sendmsg(int fd, const struct msghdr *m,
                                        int flags) {
  return (ssize_t)syscall(SYS_sendmsg, fd, m, flags);
}

static inline ssize_t dyco__sys_recvmsg(int fd, struct msghdr *m, int flags) {
  return (ssize_t)syscall(SYS_recvmsg, fd, m, flags);
}

static inline int dyco__sys_setsockopt(int fd, int level, int name,
                                       const void *val, socklen_t len) {
  return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

static inline int dyco__sys_fcntl(int fd, int cmd, long arg) {
  return (int)syscall(DYCO__SYS_FCNTL, fd, cmd, arg);
}

static inline int dyco__sys_dup(int fd) { return (int)syscall(SYS_dup, fd); }

static inline int dyco__sys_dup3(int fd, int to, int flags) {
  return (int)syscall(SYS_dup3, fd, to, flags);
}

/* ppoll: timeout NULL waits for ever. */
static inline int dyco__sys_ppoll(struct pollfd *fds, nfds_t n,
                                  const struct timespec *timeout) {
  return (int)syscall(SYS_ppoll, fds, n, timeout, NULL, DYCO__SIGSET_BYTES);
}

/* poll with a zero timeout: what is ready now. The timespec is writable
 * (qemu-user writes ppoll's back). */
static inline int dyco__sys_poll_now(struct pollfd *fds, nfds_t n) {
  struct timespec zero = {0, 0};
  return dyco__sys_ppoll(fds, n, &zero);
}

/* poll's timeout in ms (-1: for ever) through ppoll. */
static inline int dyco__sys_poll(struct pollfd *fds, nfds_t n, int ms) {
  if (ms < 0) {
    return dyco__sys_ppoll(fds, n, NULL);
  }
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  return dyco__sys_ppoll(fds, n, &ts);
}

/* epoll_wait as epoll_pwait without a mask: every architecture has it. */
static inline int dyco__sys_epoll_wait(int epfd, struct epoll_event *ev, int n,
                                       int ms) {
  DYCO__FAULT(DYCO_FAULT_EPOLL_WAIT);
  return (int)syscall(SYS_epoll_pwait, epfd, ev, n, ms, NULL,
                      DYCO__SIGSET_BYTES);
}

/* ppoll with a signal mask (NULL: none); timeout NULL waits for ever. The
 * kernel takes nfds as an unsigned int, as poll(2) does. */
static inline int dyco__sys_ppoll_mask(struct pollfd *fds, nfds_t n,
                                       const struct timespec *timeout,
                                       const sigset_t *mask) {
  return (int)syscall(SYS_ppoll, fds, n, timeout, mask, DYCO__SIGSET_BYTES);
}

/* pselect6 with a signal mask (NULL: none); *timeout (if any) is updated
 * to what is left. */
static inline int dyco__sys_pselect_mask(int n, fd_set *r, fd_set *w, fd_set *e,
                                         struct timespec *timeout,
                                         const sigset_t *mask) {
  /* The kernel's sixth argument: the mask and its size, together. */
  struct {
    const sigset_t *ss;
    size_t len;
  } data = {mask, DYCO__SIGSET_BYTES};
  return (int)syscall(SYS_pselect6, n, r, w, e, timeout,
                      mask != NULL ? (void *)&data : NULL);
}

/* pselect6 without a mask; *timeout (if any) is updated to what is left. */
static inline int dyco__sys_pselect(int n, fd_set *r, fd_set *w, fd_set *e,
                                    struct timespec *timeout) {
  return dyco__sys_pselect_mask(n, r, w, e, timeout, NULL);
}

static inline int dyco__sys_epoll_pwait(int epfd, struct epoll_event *ev, int n,
                                        int ms, const sigset_t *mask) {
  DYCO__FAULT(DYCO_FAULT_EPOLL_WAIT);
  return (int)syscall(SYS_epoll_pwait, epfd, ev, n, ms, mask,
                      DYCO__SIGSET_BYTES);
}

/* epoll_pwait2 (Linux 5.11): ENOSYS where the kernel lacks it, as libc's. */
static inline int dyco__sys_epoll_pwait2(int epfd, struct epoll_event *ev,
                                         int n, const struct timespec *timeout,
                                         const sigset_t *mask) {
  return (int)DYCO__SYS_OPTIONAL(DYCO__NR_EPOLL_PWAIT2, epfd, ev, n, timeout,
                                 mask, DYCO__SIGSET_BYTES);
}

static inline int dyco__sys_recvmmsg(int fd, struct mmsghdr *v, unsigned n,
                                     int flags, struct timespec *timeout) {
  return (int)syscall(SYS_recvmmsg, fd, v, n, flags, timeout);
}

static inline int dyco__sys_sendmmsg(int fd, struct mmsghdr *v, unsigned n,
                                     int flags) {
  return (int)syscall(SYS_sendmmsg, fd, v, n, flags);
}

/* sendfile; off points to a 64-bit offset when wide, to a long otherwise
 * (the two entry points of 32-bit architectures: sendfile64 and sendfile;
 * 64-bit ones have one, with a 64-bit offset). */
static inline ssize_t dyco__sys_sendfile(int out, int in, void *off, size_t n,
                                         int wide) {
#if defined(SYS_sendfile64)
  if (wide) {
    return (ssize_t)syscall(SYS_sendfile64, out, in, off, n);
  }
#else
  (void)wide;
#endif
  return (ssize_t)syscall(SYS_sendfile, out, in, off, n);
}

static inline ssize_t dyco__sys_splice(int in, loff_t *in_off, int out,
                                       loff_t *out_off, size_t n,
                                       unsigned flags) {
  return (ssize_t)syscall(SYS_splice, in, in_off, out, out_off, n, flags);
}

/* nanosleep; when interrupted, *rem (if not NULL) is what is left. */
static inline int dyco__sys_nanosleep(const struct timespec *req,
                                      struct timespec *rem) {
  return (int)syscall(SYS_nanosleep, req, rem);
}

/* The signals pending for the thread (rt_sigpending). */
static inline int dyco__sys_sigpending(sigset_t *set) {
  return (int)syscall(SYS_rt_sigpending, set, DYCO__SIGSET_BYTES);
}

/* Waits with mask in place until a signal handler has run (rt_sigsuspend):
 * always -1 with errno EINTR. */
static inline int dyco__sys_sigsuspend(const sigset_t *mask) {
  return (int)syscall(SYS_rt_sigsuspend, mask, DYCO__SIGSET_BYTES);
}

/* close_range (Linux 5.9): ENOSYS where the headers or the kernel lack it. */
static inline int dyco__sys_close_range(unsigned first, unsigned last,
                                        unsigned flags) {
  return (int)DYCO__SYS_OPTIONAL(DYCO__NR_CLOSE_RANGE, first, last, flags);
}

/* pidfd_open (Linux 5.3): ENOSYS where the headers or the kernel lack it. */
static inline int dyco__sys_pidfd_open(int pid, unsigned flags) {
  DYCO__FAULT(DYCO_FAULT_PIDFD);
  return (int)DYCO__SYS_OPTIONAL(DYCO__NR_PIDFD_OPEN, pid, flags);
}

#endif /* DYCO_BASE_SYS_H_ */
