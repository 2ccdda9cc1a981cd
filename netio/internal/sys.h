/* dyco — netio layer, private: the system calls behind every netio function
 * and hook, made with syscall(2) so that they never re-enter a hook and work
 * the same in static and dynamic programs. Each returns -1 and sets errno. */
#ifndef DYCO_NETIO_INTERNAL_SYS_H_
#define DYCO_NETIO_INTERNAL_SYS_H_

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

/* fcntl with 64-bit offsets where the architecture has both. */
#if defined(SYS_fcntl64)
#define DYCO__SYS_FCNTL SYS_fcntl64
#else
#define DYCO__SYS_FCNTL SYS_fcntl
#endif

/* The size of the kernel's sigset_t (the rt_* calls take it). */
#define DYCO__SIGSET_BYTES ((size_t)(_NSIG / 8))

static inline ssize_t dyco__sys_read(int fd, void *buf, size_t n) {
  return (ssize_t)syscall(SYS_read, fd, buf, n);
}

static inline ssize_t dyco__sys_write(int fd, const void *buf, size_t n) {
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

/* fds netio makes for itself (dyco_epoll_init's, dyco_signal_init's) are
 * made raw as well as closed raw: a ThreadSanitizer found at run time must
 * see neither or both (see sched/internal/sys.h). */
static inline int dyco__sys_epoll_create1(int flags) {
  return (int)syscall(SYS_epoll_create1, flags);
}

static inline int dyco__sys_signalfd4(const sigset_t *mask, int flags) {
  return (int)syscall(SYS_signalfd4, -1, mask, DYCO__SIGSET_BYTES, flags);
}

static inline int dyco__sys_socket(int domain, int type, int protocol) {
  return (int)syscall(SYS_socket, domain, type, protocol);
}

static inline int dyco__sys_connect(int fd, const struct sockaddr *addr,
                                    socklen_t len) {
  return (int)syscall(SYS_connect, fd, addr, len);
}

static inline int dyco__sys_accept4(int fd, struct sockaddr *addr,
                                    socklen_t *len, int flags) {
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

/* poll's timeout in ms (-1: for ever) through ppoll. */
static inline int dyco__sys_poll(struct pollfd *fds, nfds_t n, int ms) {
  if (ms < 0) {
    return dyco__sys_ppoll(fds, n, NULL);
  }
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  return dyco__sys_ppoll(fds, n, &ts);
}

static inline int dyco__sys_epoll_wait(int epfd, struct epoll_event *ev, int n,
                                       int ms) {
  return (int)syscall(SYS_epoll_pwait, epfd, ev, n, ms, NULL,
                      DYCO__SIGSET_BYTES);
}

/* pselect6 without a mask; *timeout (if any) is updated to what is left. */
static inline int dyco__sys_pselect(int n, fd_set *r, fd_set *w, fd_set *e,
                                    struct timespec *timeout) {
  return (int)syscall(SYS_pselect6, n, r, w, e, timeout, NULL);
}

/* nanosleep; when interrupted, *rem (if not NULL) is what is left. */
static inline int dyco__sys_nanosleep(const struct timespec *req,
                                      struct timespec *rem) {
  return (int)syscall(SYS_nanosleep, req, rem);
}

#endif /* DYCO_NETIO_INTERNAL_SYS_H_ */
