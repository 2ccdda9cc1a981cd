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
 *   socket accept accept4 connect close read write readv writev recv send
 *   recvfrom sendto recvmsg sendmsg poll select epoll_wait sleep usleep
 *   nanosleep fcntl fcntl64 setsockopt dup dup2 dup3 getaddrinfo
 *   gethostbyname (and glibc's _FORTIFY_SOURCE variants __read_chk,
 *   __recv_chk, __recvfrom_chk, __poll_chk)
 *
 * Inside a coroutine each behaves as its dyco_* counterpart in
 * netio/socket.h: it yields where libc would block, so the thread's other
 * coroutines run meanwhile. getaddrinfo and gethostbyname run on dyco's
 * worker threads (netio/blocking.h). Everywhere else (outside coroutines, on
 * threads without a scheduler, in the child of a fork) each behaves exactly
 * like libc. The calls go to the kernel through syscall(2), so the hooks
 * work in static programs too; there getaddrinfo and gethostbyname are
 * reached through the linker's --wrap (see docs/netio.md). */

/* dyco_hook_disable makes the hooked libc calls of the running coroutine
 * behave exactly like libc again (blocking the whole thread) until
 * dyco_hook_enable, for code that must not be interleaved with other
 * coroutines. The setting belongs to the coroutine and ends with it; the
 * dyco_* calls of netio/socket.h yield regardless. Returns 0, -EPERM
 * outside a coroutine, -ENOMEM. */
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
