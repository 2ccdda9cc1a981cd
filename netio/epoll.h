/* dyco — netio layer: an epoll instance of the running coroutine's own,
 * waited on without blocking the scheduler. */
#ifndef DYCO_NETIO_EPOLL_H_
#define DYCO_NETIO_EPOLL_H_

#include <sys/epoll.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dyco_epoll_init gives the running coroutine an epoll instance of its own
 * (one per coroutine), closed by dyco_epoll_destroy or when the coroutine
 * ends. Never blocks. Returns 0, -EEXIST when the coroutine has one
 * already, -EPERM outside a coroutine, -EAGAIN when no coroutine-local key
 * is left (DYCO_COROUTINE_KEYS_MAX), -ENOMEM, or epoll_create1's error
 * (-EMFILE, -ENFILE). */
int dyco_epoll_init(void);

/* dyco_epoll_destroy closes the running coroutine's epoll instance (waking
 * nothing: only the coroutine itself waits on it). Does nothing when it has
 * none or outside a coroutine. Never blocks. */
void dyco_epoll_destroy(void);

/* dyco_epoll_add, dyco_epoll_mod and dyco_epoll_del are epoll_ctl on the
 * running coroutine's instance (EPOLL_CTL_ADD, _MOD, _DEL; ev may be NULL
 * for del). Never block. 0, -EBADF when the coroutine has no instance
 * (dyco_epoll_init), -EPERM outside a coroutine, or epoll_ctl's error as a
 * negative errno (-EEXIST, -ENOENT, -EINVAL, -ENOMEM, ...). */
int dyco_epoll_add(int fd, struct epoll_event *ev);
int dyco_epoll_mod(int fd, struct epoll_event *ev);
int dyco_epoll_del(int fd, struct epoll_event *ev);

/* dyco_epoll_wait waits (yields; the scheduler and the other coroutines go
 * on) until fds added to the running coroutine's instance have events, or
 * timeout ms pass (-1: no limit; 0: just look). Returns the number of
 * events stored in events (> 0); 0 on timeout, the seed's "ready count"
 * (as epoll_wait(2)); -EBADF without an instance; -EPERM outside a
 * coroutine; -EINVAL for maxevents < 1 or a NULL events; -EINTR when a
 * signal handler interrupts it; -ENOMEM or -ENOSPC when its wait cannot be
 * registered; or epoll_wait's error. */
int dyco_epoll_wait(struct epoll_event *events, int maxevents, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_NETIO_EPOLL_H_ */
