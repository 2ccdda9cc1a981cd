/* dyco — netio layer, private: the fd table and the I/O functions behind
 * both the dyco_* calls and the libc hooks, each told whether it may yield. */
#ifndef DYCO_NETIO_INTERNAL_IO_H_
#define DYCO_NETIO_INTERNAL_IO_H_

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "sched/coroutine.h"

/* --- What netio knows about an fd ------------------------------------- */

enum {
  DYCO__FD_KNOWN = 1u << 0,   /* the entry is filled in */
  DYCO__FD_SOCKET = 1u << 1,  /* a socket */
  DYCO__FD_STREAM = 1u << 2,  /* a stream (or seqpacket) socket */
  DYCO__FD_FIFO = 1u << 3,    /* a pipe or FIFO */
  DYCO__FD_USER_NB = 1u << 4, /* its user made it non-blocking */
  DYCO__FD_DYCO_NB = 1u << 5, /* dyco set O_NONBLOCK on it, the user did not */
  /* A regular file or a block device: its reads and writes inside a
   * coroutine go to the ring or the blocking-call pool (netio/file.c). */
  DYCO__FD_FILE = 1u << 6
};

/* One per fd number, process-wide (fds are). Fields are read and written
 * atomically (relaxed): an fd used by two threads at once sees one value
 * or the other. */
typedef struct dyco__net_fd {
  uint32_t flags;
  int32_t rcv_ms; /* SO_RCVTIMEO in ms, -1 for none */
  int32_t snd_ms; /* SO_SNDTIMEO in ms, -1 for none */
  /* "Drained": the coroutine (scheduler, cid, times scheduled) whose last
   * read of this stream socket, right after a clean wake-up, came back
   * short. Until it gives up the CPU no readiness of the fd can have been
   * consumed, so its next read may wait at once instead of trying first
   * (a read that would only say EAGAIN). */
  uint32_t drained_count;
  int32_t drained_cid;
  void *drained_sched;
} dyco__net_fd;

/* The entry of fd, NULL for a negative fd or one beyond the table. With
 * learn set, an unknown fd is looked at (fstat, F_GETFL, SO_TYPE,
 * SO_RCVTIMEO, SO_SNDTIMEO: a few system calls, once per fd). */
dyco__net_fd *dyco__net_fd_entry(int fd, int learn);

/* netio made fd (socket, accept): its entry says flags, no timeouts, and
 * this thread's scheduler forgets whatever it knew of an older fd with the
 * same number. */
void dyco__net_fd_created(int fd, uint32_t flags);

/* fd goes away (closed, or replaced by dup2): the coroutines waiting on it,
 * on every thread, wake with EBADF and its entry is cleared. */
void dyco__net_fd_closing(int fd);

/* fd was just made by a call that is not netio's own socket family (pipe,
 * open, eventfd ...): whatever dyco knew of an older fd with that number
 * (closed behind its back) is forgotten, and that fd's waiters wake with
 * EBADF. */
void dyco__net_fd_fresh(int fd);

/* What a blocking call interrupted by a signal handler does, when libc's
 * would be restarted by the kernel under SA_RESTART: 1 when every handler
 * that can have run on this thread (unblocked, caught, asynchronous) has
 * SA_RESTART, so the call goes on waiting; 0 when it fails with EINTR.
 * Called only after an interruption; errno is left as it was. */
int dyco__net_restart_after_signal(void);

/* 1 in the child of a fork until it execs: there the scheduler the child
 * inherited is not its own (its epoll instance is the parent's), so every
 * netio call behaves like libc and leaves the scheduler alone. */
extern int dyco__net_forked;

/* 1 when the caller runs inside a coroutine (and not in a forked child). */
int dyco__net_in_coroutine(void);

/* After a wait inside a coroutine said -ETIMEDOUT: the negative errno the
 * call must fail with when the coroutine's deadline (or a cancel) ended it,
 * -ETIMEDOUT or -ECANCELED; 0 when the call's own timeout did (and the call
 * says it as libc would: poll's 0, SO_RCVTIMEO's EAGAIN). */
static inline int dyco__net_deadline(void) {
  int c = dyco_coroutine_checkCancel();
  return c == -EPERM ? 0 : c;
}

/* --- The calls; `yield` 1: inside a coroutine, may yield; 0: block the
 * thread like libc. All return -1 with errno on error. ----------------- */

int dyco__net_socket(int domain, int type, int protocol, int yield);
int dyco__net_close(int fd);
int dyco__net_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags,
                      int yield);
int dyco__net_connect(int fd, const struct sockaddr *addr, socklen_t len,
                      int yield);
ssize_t dyco__net_sendto(int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr *addr, socklen_t alen,
                         int yield);
ssize_t dyco__net_recvfrom(int fd, void *buf, size_t len, int flags,
                           struct sockaddr *addr, socklen_t *alen, int yield);
ssize_t dyco__net_sendmsg(int fd, const struct msghdr *msg, int flags,
                          int yield);
ssize_t dyco__net_recvmsg(int fd, struct msghdr *msg, int flags, int yield);
ssize_t dyco__net_read(int fd, void *buf, size_t n, int yield);
ssize_t dyco__net_write(int fd, const void *buf, size_t n, int yield);
ssize_t dyco__net_readv(int fd, const struct iovec *iov, int cnt, int yield);
ssize_t dyco__net_writev(int fd, const struct iovec *iov, int cnt, int yield);
int dyco__net_fcntl(int fd, int cmd, long arg);
int dyco__net_setsockopt(int fd, int level, int name, const void *val,
                         socklen_t len);
int dyco__net_dup(int fd);
int dyco__net_dup3(int fd, int to, int flags, int dup2_semantics);

ssize_t dyco__net_recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen,
                           int flags, struct timespec *timeout, int yield);
ssize_t dyco__net_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen,
                           int flags, int yield);
/* off: an off_t (wide 0) or a 64-bit offset (wide 1), or NULL. */
ssize_t dyco__net_sendfile(int out, int in, void *off, size_t count, int wide,
                           int yield);
ssize_t dyco__net_splice(int in, loff_t *in_off, int out, loff_t *out_off,
                         size_t len, unsigned flags, int yield);
int dyco__net_close_range(unsigned first, unsigned last, int flags);
int dyco__net_closefrom(int lowfd);

int dyco__net_poll(struct pollfd *fds, nfds_t n, int timeout, int yield);
int dyco__net_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                    const sigset_t *mask, int yield);
int dyco__net_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv,
                     int yield);
int dyco__net_pselect(int n, fd_set *r, fd_set *w, fd_set *e,
                      const struct timespec *tmo, const sigset_t *mask,
                      int yield);
int dyco__net_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout,
                         int yield);
int dyco__net_epoll_pwait(int epfd, struct epoll_event *ev, int max,
                          int timeout, const sigset_t *mask, int yield);
int dyco__net_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                           const struct timespec *tmo, const sigset_t *mask,
                           int yield);
int dyco__net_nanosleep(const struct timespec *req, struct timespec *rem,
                        int yield);

/* --- file.c ------------------------------------------------------------- */

struct stat;
/* fstat as a system call, past any hook (64-bit targets; libc's fstat on
 * 32-bit ones, where the hooks leave fstat alone). 0 or -1 with errno. */
int dyco__file_raw_fstat(int fd, struct stat *st);

/* --- DNS ----------------------------------------------------------------- */

/* The getaddrinfo that dyco's workers call: libc's. The hooks (which
 * replace the symbol getaddrinfo) point it at the real one. */
typedef int (*dyco__net_getaddrinfo_fn)(const char *, const char *,
                                        const struct addrinfo *,
                                        struct addrinfo **);
extern dyco__net_getaddrinfo_fn dyco__net_real_getaddrinfo;

#endif /* DYCO_NETIO_INTERNAL_IO_H_ */
