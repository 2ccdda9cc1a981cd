/* dyco — sched layer: wait queues and file-descriptor waits, the building
 * blocks of channels, semaphores, sockets and whatever else must block. */
#ifndef DYCO_SCHED_WAIT_H_
#define DYCO_SCHED_WAIT_H_

#include <poll.h>
#include <signal.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- A spin lock, for state that coroutines of several threads share --- */

/* Held only for a few instructions; a waiter spins, then yields the thread.
 * Never hold one across anything that suspends, except as the lock of a
 * wait queue passed to dyco_waitq_wait, which releases it. */
typedef struct dyco_spinlock {
  int locked;
} dyco_spinlock;

#define DYCO_SPINLOCK_INIT {0}

/* dyco_spinlock_lock takes l, spinning (then yielding the thread) while
 * another thread holds it. dyco_spinlock_unlock releases it. */
void dyco_spinlock_lock(dyco_spinlock *l);
void dyco_spinlock_unlock(dyco_spinlock *l);

/* --- Wait queues ------------------------------------------------------ */

struct dyco_waitnode;

/* A FIFO of suspended coroutines. With lock NULL it serves the coroutines of
 * one thread and takes no lock at all. With a lock it may be shared by the
 * coroutines of several threads: hold the lock around every call on the
 * queue (and around the state it guards); a coroutine woken from another
 * thread is handed back to its own scheduler. */
typedef struct dyco_waitq {
  struct dyco_waitnode *head;
  struct dyco_waitnode *tail;
  dyco_spinlock *lock;
  int refs;   /* coroutines that queued here and have not left yet */
  int closed; /* set by dyco_waitq_close */
  void (*release)(void *);
  void *release_arg;
} dyco_waitq;

/* dyco_waitq_init empties q and sets its lock (NULL: one thread only). */
void dyco_waitq_init(dyco_waitq *q, dyco_spinlock *lock);

/* dyco_waitq_wait queues the running coroutine at q's tail and suspends it
 * until a waker picks it or timeout ms pass (-1: no limit; 0: returns
 * -ETIMEDOUT at once, not queued). When q has a lock, the caller holds it:
 * the lock is released while the coroutine is suspended and held again when
 * this returns. Returns 0 when woken, with the waker's value in *result (if
 * result is not NULL); -ETIMEDOUT when the time passed first (the coroutine
 * is then no longer queued, and no waker can reach it); -EIDRM when q was
 * closed (dyco_waitq_close) while it waited: *result holds the value passed
 * to close and the lock is NOT held again (-EIDRM is what every destroyed
 * primitive's waiters return, docs/errors.md); -EPERM outside a coroutine;
 * -EINVAL for a NULL q; -ENOMEM. */
int dyco_waitq_wait(dyco_waitq *q, int timeout, intptr_t *result);

/* dyco_waitq_waitAny is dyco_waitq_wait on n queues at once (1 <= n <= 64):
 * the first waker on any of them wins, and the coroutine leaves all the
 * others. The caller holds the locks of all locked queues, taken in
 * dyco_waitq_lockAll's order; they are released while suspended and held
 * again on return, except those of queues that were closed meanwhile: bit i
 * of *closed (if closed is not NULL) is set for each closed qs[i]. Returns
 * the index in qs of the queue it was woken from, with the waker's value in
 * *result (a dyco_waitq_close counts as a wake: its bit in *closed says so,
 * and *result holds close's value); -ETIMEDOUT (0: at once); -EPERM outside a
 * coroutine; -EINVAL for a NULL qs or a bad n; -ENOMEM. A queue may appear
 * only once in qs. */
int dyco_waitq_waitAny(dyco_waitq *const *qs, int n, int timeout,
                       intptr_t *result, uint64_t *closed);

/* dyco_waitq_lockAll / unlockAll take and release the distinct locks of n
 * queues in one global order (by address), so that coroutines locking
 * overlapping sets of queues never deadlock. */
void dyco_waitq_lockAll(dyco_waitq *const *qs, int n);
void dyco_waitq_unlockAll(dyco_waitq *const *qs, int n);

/* dyco_waitq_wakeOne takes the first waiter of q that can still be woken
 * (skipping any whose timeout has already fired), makes it ready and has its
 * wait return `value`. Returns 1 when it woke one, 0 when there was none.
 * Never blocks; from any thread, in or outside a coroutine. */
int dyco_waitq_wakeOne(dyco_waitq *q, intptr_t value);

/* dyco_waitq_wakeAll wakes every waiter of q with `value`; returns how many. */
int dyco_waitq_wakeAll(dyco_waitq *q, intptr_t value);

/* dyco_waitq_close is for a primitive being destroyed: it wakes every
 * waiter of q, whose wait returns -EIDRM with *result = value; none of them
 * takes the lock again or looks at q afterwards, except the last one to
 * leave, which calls release(arg) (if not NULL) once it is done with q.
 * Returns 1 when no coroutine needs q any more (release will not be called:
 * free the primitive yourself after unlocking), 0 when release(arg) will be
 * called by the last waiter to leave. The caller holds q's lock. */
int dyco_waitq_close(dyco_waitq *q, intptr_t value, void (*release)(void *),
                     void *arg);

/* dyco_waitq_hasWaiter returns 1 when dyco_waitq_wakeOne would wake someone
 * now, 0 otherwise. */
int dyco_waitq_hasWaiter(dyco_waitq *q);

/* --- File descriptors, for I/O layers --------------------------------- */

/* Every fd a coroutine waits on is added to its scheduler's epoll instance
 * once (edge-triggered, for every event poll(2) knows) and stays there
 * until it is closed through dyco_fd_closing; a wait costs no system call. */

/* Or'ed into dyco_fd_wait's events: the wait also ends, with -EINTR, when
 * a signal handler runs on this thread while its scheduler sleeps (the
 * moment a thread blocked in that call would have been interrupted). */
#define DYCO_FD_EINTR (1u << 27)

/* dyco_fd_wait suspends the running coroutine until fd has one of events
 * (EPOLLIN, EPOLLOUT or both, optionally | DYCO_FD_EINTR), an error or a
 * hang-up, or timeout ms pass. Made for callers that just got EAGAIN from
 * fd: any readiness the scheduler saw before that is stale, so unlike
 * dyco_coroutine_waitRead it does not look at the fd first; except that a
 * read wait on an fd whose last report said EPOLLRDHUP (a socket shut down
 * for reading, say a datagram socket after shutdown(SHUT_RD), which keeps
 * answering EAGAIN) returns that report at once. timeout: -1 no limit, 0
 * returns -ETIMEDOUT at once (it never looks). Returns the events (> 0),
 * -ETIMEDOUT when timeout ms passed first, -EBADF when fd is closed
 * (through dyco_fd_closing, from any thread) meanwhile or is not open,
 * -EINTR (with DYCO_FD_EINTR), -EINVAL for events without EPOLLIN or
 * EPOLLOUT, -EPERM outside a coroutine, -ENOMEM, -ENOSPC when the kernel's
 * limit of watched fds is reached. An fd that cannot be polled (a regular
 * file) is always ready. */
int dyco_fd_wait(int fd, uint32_t events, int timeout);

/* dyco_fd_poll is poll(2)'s wait through the scheduler: it suspends the
 * running coroutine until one of the nfds entries of fds (a negative fd is
 * skipped) has one of its events, or an error or hang-up, or timeout ms pass
 * (-1: no limit; 0: it returns -ETIMEDOUT at once), or a signal handler
 * interrupts the scheduler's sleep. Like dyco_fd_wait it is for callers that
 * just found none of them ready (with a zero-timeout poll): it waits for the
 * next event of each, and costs no system call beyond the scheduler's own
 * (each fd is registered once). With mask not NULL, the scheduler sleeps with
 * the signals mask leaves unblocked unblocked while the coroutine waits, as
 * ppoll(2) would (with several such waiters, the signals any of them
 * unblocks). It sets each entry's revents as poll(2) would from what the
 * scheduler saw (POLLNVAL for an fd closed meanwhile through dyco_fd_closing,
 * or that cannot be registered because it is not open) and returns the number
 * of entries with revents (> 0), -ETIMEDOUT when the timeout passed, -EINTR,
 * -EPERM outside a coroutine, -ENOMEM, -ENOSPC when the kernel's limit of
 * watched fds is reached. With nfds 0 it is a sleep that a signal handler
 * interrupts. An fd that cannot be polled at all (a regular file) never
 * reports. nfds has no limit but memory. */
int dyco_fd_poll(struct pollfd *fds, unsigned long nfds, int timeout,
                 const sigset_t *mask);

/* dyco_fd_closing tells dyco that fd is about to be closed: coroutines
 * waiting on it, on every thread's scheduler, wake with -EBADF, and its
 * registrations are dropped, so that a new fd with the same number starts
 * clean. Other threads' coroutines are woken by their own schedulers
 * moments later (through their inboxes); a wait that begins on a new fd
 * with the number meanwhile is not disturbed. Call it before close(fd); the
 * netio layer's dyco_close and close hook do, as do its hooks that close
 * fds (fclose, close_range, dup2 ...) and those that make them. An fd
 * closed without it (a raw system call) leaves its registration stale; the
 * scheduler verifies the registration of any wait that lasts more than a
 * second (once per wait, one epoll_ctl) and repairs it, or wakes the
 * waiters with -EBADF when the fd is gone. Works from any thread, with or
 * without a scheduler. Never blocks. */
void dyco_fd_closing(int fd);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SCHED_WAIT_H_ */
