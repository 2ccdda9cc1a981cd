/* dyco — netio layer: the libc hooks (target //netio:hook). Linking them
 * makes ordinary blocking libc calls yield inside coroutines. */
#ifndef DYCO_NETIO_HOOK_H_
#define DYCO_NETIO_HOOK_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Linking //netio:hook replaces these libc functions, for the program and
 * for the shared libraries it loads (hiredis, libcurl's easy API, libpq):
 *
 *   the calls that wait: accept accept4 connect read readv recv recvfrom
 *   recvmsg recvmmsg write writev send sendto sendmsg sendmmsg sendfile
 *   sendfile64 splice poll ppoll select pselect epoll_wait epoll_pwait
 *   epoll_pwait2 sleep usleep nanosleep getaddrinfo gethostbyname;
 *   those that make, change or close fds: socket socketpair pipe pipe2
 *   open open64 openat openat64 creat creat64 eventfd timerfd_create
 *   signalfd epoll_create epoll_create1 memfd_create inotify_init
 *   inotify_init1 dup dup2 dup3 fcntl fcntl64 setsockopt close fclose
 *   close_range closefrom;
 *   and glibc's _FORTIFY_SOURCE variants __read_chk __recv_chk
 *   __recvfrom_chk __poll_chk __ppoll_chk __open_2 __open64_2 __openat_2
 *   __openat64_2.
 *
 * Inside a coroutine each behaves as libc's does, with its results, errors
 * and signal handling (docs/netio.md has the table, each cell tested),
 * except that it yields where libc would block, so the thread's other
 * coroutines run meanwhile. getaddrinfo and gethostbyname run on dyco's
 * worker threads (netio/blocking.h). Everywhere else (outside coroutines, on
 * threads without a scheduler, in the child of a fork) each behaves exactly
 * like libc. The calls go to the kernel through syscall(2) (fclose and the
 * DNS calls to libc's own), so the hooks work in static programs too; there
 * getaddrinfo and gethostbyname are reached through the linker's --wrap
 * (see docs/netio.md). */

/* dyco_hook_disable makes the hooked libc calls of the running coroutine
 * behave exactly like libc again (blocking the whole thread) until
 * dyco_hook_enable, for code that must not be interleaved with other
 * coroutines. The setting belongs to the coroutine and ends with it; the
 * dyco_* calls of netio/socket.h yield regardless. Never blocks. Returns
 * 0, -EPERM outside a coroutine, -EAGAIN when no coroutine-local key is
 * left for the setting (DYCO_COROUTINE_KEYS_MAX, as dyco_epoll_init),
 * -ENOMEM. */
int dyco_hook_disable(void);

/* dyco_hook_enable undoes dyco_hook_disable for the running coroutine.
 * Returns 0, or -EPERM outside a coroutine. */
int dyco_hook_enable(void);

/* dyco_hook_isEnabled returns 1 when hooked libc calls made now would yield
 * (inside a coroutine whose hooks are on), 0 otherwise. */
int dyco_hook_isEnabled(void);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_NETIO_HOOK_H_ */
