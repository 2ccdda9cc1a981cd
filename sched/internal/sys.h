/* dyco — sched layer, private: the system calls the scheduler makes for
 * itself, raw, so that libc hooks (netio's) never see them. */
#ifndef DYCO_SCHED_INTERNAL_SYS_H_
#define DYCO_SCHED_INTERNAL_SYS_H_

#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long dyco__sys_read(int fd, void *buf, size_t n) {
  return syscall(SYS_read, fd, buf, n);
}

static inline long dyco__sys_write(int fd, const void *buf, size_t n) {
  return syscall(SYS_write, fd, buf, n);
}

/* Under ThreadSanitizer through libc: TSan follows fds through close(),
 * and a raw close would make a later fd with the same number look racy. */
#if defined(DYCO_TSAN)
static inline int dyco__sys_close(int fd) { return close(fd); }
#else
static inline int dyco__sys_close(int fd) {
  return (int)syscall(SYS_close, fd);
}
#endif

/* The scheduler's own fds are made raw too, so that a ThreadSanitizer
 * found at run time (whose libc wrappers follow fds from their creation to
 * their close) never sees them: a raw close after a wrapped creation would
 * make the next fd with that number, on another thread, look racy. */
static inline int dyco__sys_epoll_create1(int flags) {
  return (int)syscall(SYS_epoll_create1, flags);
}

static inline int dyco__sys_eventfd2(unsigned int initval, int flags) {
  return (int)syscall(SYS_eventfd2, initval, flags);
}

static inline int dyco__sys_pipe2(int fds[2], int flags) {
  return (int)syscall(SYS_pipe2, fds, flags);
}

/* epoll_wait as epoll_pwait without a mask: every architecture has it. */
static inline int dyco__sys_epoll_wait(int epfd, struct epoll_event *ev, int n,
                                       int timeout_ms) {
  return (int)syscall(SYS_epoll_pwait, epfd, ev, n, timeout_ms, NULL,
                      (size_t)8);
}

/* poll with a zero timeout, as ppoll: every architecture has it. */
static inline int dyco__sys_poll_now(struct pollfd *fds, unsigned n) {
  struct timespec zero = {0, 0};
  return (int)syscall(SYS_ppoll, fds, (unsigned long)n, &zero, NULL, (size_t)8);
}

/* Sleeps for *ts; when interrupted, *ts is what is left. */
static inline int dyco__sys_nanosleep(struct timespec *ts) {
  return (int)syscall(SYS_nanosleep, ts, ts);
}

#endif /* DYCO_SCHED_INTERNAL_SYS_H_ */
