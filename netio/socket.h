/* dyco — netio layer: the socket family. Each call means what the libc call
 * it mirrors means, but inside a coroutine it yields instead of blocking. */
#ifndef DYCO_NETIO_SOCKET_H_
#define DYCO_NETIO_SOCKET_H_

#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function here returns what its libc namesake returns, -1 with errno
 * set on error, so that code moves between the two unchanged: the errors
 * are libc's, in every situation of the table in docs/netio.md (non-
 * blocking fds, socket timeouts, shutdown, peer reset, signal handlers with
 * and without SA_RESTART, a full fd table), each of them tested. Inside a
 * coroutine, where libc would block the thread these suspend the coroutine
 * until the fd is ready (other coroutines run meanwhile); outside a
 * coroutine they block the thread exactly as libc does. Besides libc's
 * errors, a call waiting on an fd that is closed meanwhile (dyco_close or
 * the close hook, on any thread) fails with EBADF, and one whose wait
 * cannot be registered with the scheduler's epoll fails with ENOMEM or
 * ENOSPC (fs.epoll.max_user_watches reached).
 *
 * Blocking and non-blocking fds: an fd that you made non-blocking
 * (O_NONBLOCK, SOCK_NONBLOCK) returns EAGAIN / EINPROGRESS as libc does.
 * dyco may set O_NONBLOCK on a socket itself (dyco_socket inside a
 * coroutine, or the first dyco_accept or dyco_connect on a socket inside
 * one) and remembers that you did not ask for it: every dyco call (and
 * every hooked libc call, see netio/hook.h) still blocks for you. Calls on
 * sockets pass MSG_DONTWAIT instead of depending on the fd's flags. Timeouts
 * you set with SO_RCVTIMEO / SO_SNDTIMEO are honoured (the call fails with
 * EAGAIN when one passes, EINPROGRESS for connect) when set through
 * setsockopt with netio/hook.h linked, or before dyco first sees the fd.
 * Closing an fd with dyco_close wakes the coroutines waiting on it, on
 * every thread, which fail with EBADF. A signal handler that runs while
 * the thread sleeps in its scheduler ends the waits as it would a blocked
 * thread's call: EINTR when the socket has a timeout or a handler lacks
 * SA_RESTART, else the wait goes on. */

/* dyco_socket creates a socket as socket(2) does. Inside a coroutine the
 * socket is non-blocking underneath (see above). Never blocks. */
int dyco_socket(int domain, int type, int protocol);

/* dyco_close closes fd as close(2) does, first waking the coroutines that
 * wait on it, on every thread (their calls fail with EBADF), and dropping
 * the schedulers' registrations, so that a new fd with the same number
 * works at once. Never blocks. */
int dyco_close(int fd);

/* dyco_accept accepts a connection as accept(2); it waits (yields) until
 * one arrives, or until SO_RCVTIMEO passes (EAGAIN). The new socket is
 * blocking for its user, as accept(2) makes it. */
int dyco_accept(int fd, struct sockaddr *addr, socklen_t *len);

/* dyco_accept4 is dyco_accept with accept4(2)'s flags (SOCK_NONBLOCK,
 * SOCK_CLOEXEC) for the new socket. */
int dyco_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* dyco_connect connects as connect(2) on a blocking socket: it waits
 * (yields) until the connection is made and returns 0, or returns -1 with
 * the real error (ECONNREFUSED, ETIMEDOUT, ...; EINPROGRESS only when
 * SO_SNDTIMEO passes first, as Linux does). On a socket you made
 * non-blocking it returns -1/EINPROGRESS as connect(2) does. */
int dyco_connect(int fd, struct sockaddr *name, socklen_t namelen);

/* dyco_send sends all len bytes, waiting (yielding) while the socket's
 * buffer is full, as send(2) on a blocking stream socket does. Returns len,
 * or the bytes that went before an error or an SO_SNDTIMEO timeout (-1 with
 * errno when none went). On a non-blocking socket, or with MSG_DONTWAIT, it
 * sends what fits once, as send(2). */
ssize_t dyco_send(int fd, const void *buf, size_t len, int flags);

/* dyco_recv receives as recv(2): waits (yields) until data, end of stream
 * (0) or an error; with MSG_WAITALL on a stream socket until len bytes came.
 * -1/EAGAIN when SO_RCVTIMEO passes first. */
ssize_t dyco_recv(int fd, void *buf, size_t len, int flags);

/* dyco_sendto is sendto(2), waiting as dyco_send does. */
ssize_t dyco_sendto(int fd, const void *buf, size_t len, int flags,
                    const struct sockaddr *dest_addr, socklen_t addrlen);

/* dyco_recvfrom is recvfrom(2), waiting as dyco_recv does. */
ssize_t dyco_recvfrom(int fd, void *buf, size_t len, int flags,
                      struct sockaddr *src_addr, socklen_t *addrlen);

/* dyco_sendmsg is sendmsg(2), waiting as dyco_send does (the ancillary data
 * goes with the first bytes). */
ssize_t dyco_sendmsg(int fd, const struct msghdr *msg, int flags);

/* dyco_recvmsg is recvmsg(2), waiting as dyco_recv does. */
ssize_t dyco_recvmsg(int fd, struct msghdr *msg, int flags);

/* dyco_read is read(2) on any fd: on sockets as dyco_recv; on pipes,
 * FIFOs, terminals, eventfds and the like it waits (yields) until the fd is
 * readable, then reads. Regular files are always ready. */
ssize_t dyco_read(int fd, void *buf, size_t count);

/* dyco_write is write(2) on any fd: on sockets as dyco_send; on a pipe it
 * writes in pieces of at most PIPE_BUF bytes, waiting (yielding) while the
 * pipe is full, until all went (or an error). */
ssize_t dyco_write(int fd, const void *buf, size_t count);

/* dyco_readv and dyco_writev are readv(2) and writev(2), waiting as
 * dyco_read and dyco_write do. */
ssize_t dyco_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t dyco_writev(int fd, const struct iovec *iov, int iovcnt);

/* dyco_fcntl is fcntl(2), keeping dyco's view of the fd right: F_SETFL
 * with or without O_NONBLOCK says whether you want EAGAIN (dyco keeps the
 * fd non-blocking underneath if it needs to), F_GETFL reports O_NONBLOCK
 * only when you set it. arg is the third argument, if the command has one.
 * Never blocks (except for F_SETLKW, as fcntl(2)). */
int dyco_fcntl(int fd, int cmd, long arg);

/* dyco_setsockopt is setsockopt(2); SO_RCVTIMEO and SO_SNDTIMEO set
 * through it become the timeouts of dyco's waits on fd. Never blocks. */
int dyco_setsockopt(int fd, int level, int optname, const void *optval,
                    socklen_t optlen);

/* dyco_poll is poll(2): returns the number of fds with events in their
 * revents, 0 when timeout ms passed (-1: no limit; 0: just look), -1 with
 * errno (poll's: EINVAL for nfds above RLIMIT_NOFILE, EFAULT, EINTR when a
 * signal handler interrupts it; ENOMEM, ENOSPC). Inside a coroutine it
 * yields while it waits, through the scheduler's own epoll instance: no fd
 * per wait. */
int dyco_poll(struct pollfd *fds, nfds_t nfds, int timeout);

/* dyco_getaddrinfo is getaddrinfo(3). glibc resolves names inside, where
 * dyco cannot make it yield, so inside a coroutine the lookup runs on one
 * of dyco's worker threads (see dyco_blocking_call in netio/blocking.h)
 * while the coroutine waits; the thread's other coroutines keep running.
 * Returns what getaddrinfo(3) returns: 0, or an EAI_* code (EAI_SYSTEM
 * with errno; EAI_MEMORY also when dyco cannot copy the arguments). Free
 * the result with freeaddrinfo(3). */
int dyco_getaddrinfo(const char *node, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res);

/* dyco_gethostbyname is gethostbyname(3), run as dyco_getaddrinfo is. The
 * result belongs to the calling coroutine (to the thread outside one) and
 * stays valid until its next dyco_gethostbyname or until it ends. NULL with
 * h_errno set when the name is not found. */
struct hostent *dyco_gethostbyname(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_NETIO_SOCKET_H_ */
