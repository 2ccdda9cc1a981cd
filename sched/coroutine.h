/* dyco — sched layer: coroutines. Create them, let them sleep, wait on file
 * descriptors, yield; their stacks, user data and coroutine-local storage. */
#ifndef DYCO_SCHED_COROUTINE_H_
#define DYCO_SCHED_COROUTINE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The function a coroutine runs. When it returns, the coroutine ends (and a
 * pool coroutine goes back to its pool). */
typedef void (*proc_coroutine)(void *arg);

/* Coroutine ids (cid) are > 0 and unique among the live coroutines of one
 * scheduler; an id is not reused until about 127 other coroutines have had
 * its slot, so a stale id is almost always rejected. Functions that take a
 * cid look it up in the calling thread's scheduler. Each call that needs a
 * running coroutine returns -EPERM when called outside one (the void ones
 * do nothing, except dyco_coroutine_sleep, which sleeps the thread). Errors
 * are negative errno values (docs/errors.md has the rule for all of dyco);
 * each call below lists every one it returns. */

/* The most coroutines one scheduler holds at once. */
#define DYCO_COROUTINES_MAX 15728639

/* The largest stack dyco maps, shared or private: 1 GiB. */
#define DYCO_STACK_SIZE_MAX ((size_t)1 << 30)

/* dyco_coroutine_create makes a coroutine that will run func(arg) on this
 * thread's scheduler (created on first use), after the coroutines already
 * ready. It does not block and does not run func yet. Returns the cid, or
 * -EINVAL for a NULL func, -EAGAIN when the scheduler already holds
 * DYCO_COROUTINES_MAX coroutines, -ENOMEM, and, when this call has to
 * create the thread's scheduler (an epoll instance and an eventfd),
 * -EMFILE or -ENFILE when no fd is free. */
int dyco_coroutine_create(proc_coroutine func, void *arg);

/* dyco_coroutine_create_urgent is dyco_coroutine_create for an urgent
 * coroutine: it runs before every normal one that is ready (see
 * dyco_coroutine_setUrgent). Same returns. */
int dyco_coroutine_create_urgent(proc_coroutine func, void *arg);

/* dyco_coroutine_sleep suspends the running coroutine for at least msecs
 * milliseconds (other coroutines run meanwhile); 0 just yields. Without
 * memory for its timer it only yields. Outside a coroutine (and in an
 * asymmetric coroutine the thread itself resumed) it sleeps the calling
 * thread for msecs ms, as nanosleep(2) would, going on after signal
 * handlers. */
void dyco_coroutine_sleep(uint32_t msecs);

/* dyco_coroutine_yield lets every other ready coroutine run once, then
 * continues. Returns 0, or -EPERM outside a coroutine. */
int dyco_coroutine_yield(void);

/* dyco_coroutine_yieldIfLong is for long loops that never wait: it yields
 * (as dyco_coroutine_yield) when the running coroutine has held the CPU for
 * ms milliseconds or more, counted from its first call of this function
 * since it last got the CPU, and does nothing otherwise. Each call reads the
 * clock (some 20 ns): call it every few hundred microseconds of work, not
 * per byte. Returns 1 when it yielded, 0 when not, -EPERM outside a
 * coroutine, -ENOMEM. */
int dyco_coroutine_yieldIfLong(uint32_t ms);

/* dyco_coroutine_abort ends the running coroutine at once, as if its
 * function had returned (its coroutine-local values are destroyed, a pool
 * coroutine goes back to its pool). Never returns inside a coroutine; does
 * nothing outside one. */
void dyco_coroutine_abort(void);

/* dyco_coroutine_waitRead, waitWrite and waitRW suspend the running
 * coroutine until fd is readable, writable, or either, or until timeout ms
 * pass (-1: no limit; 0: just look). Return the ready events (> 0, a mask of
 * EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP), 0 on timeout, -EBADF
 * when fd is invalid or is closed (through dyco, on any thread) while
 * waiting, -EPERM outside a coroutine, -ENOMEM, -ENOSPC when the kernel's
 * limit of watched fds (fs.epoll.max_user_watches) is reached. Any number
 * of coroutines may wait on one fd, for reading, writing or both. The fd is
 * registered with the scheduler's epoll once and stays registered until it
 * is closed; an fd epoll cannot watch (a regular file) is always ready. */
int dyco_coroutine_waitRead(int fd, int timeout);
int dyco_coroutine_waitWrite(int fd, int timeout);
int dyco_coroutine_waitRW(int fd, int timeout);

/* dyco_coroutine_coroID returns the running coroutine's cid: inside an
 * asymmetric coroutine (asym/, whether the thread or a scheduler coroutine
 * resumed it) the asymmetric coroutine's, otherwise the scheduler
 * coroutine's (see dyco_schedule_coroID); -EPERM outside both. Never
 * blocks. */
int dyco_coroutine_coroID(void);

/* dyco_coroutine_setStack gives coroutine cid, which must not have started
 * yet, a private stack: [stackptr, stackptr + stacksize) if stackptr is not
 * NULL (yours to free after the coroutine ends; no guard below it), or one
 * that dyco takes from its cache, with a guard region below it
 * (dyco_schedule_setStackGuard), if stackptr is NULL: stacksize bytes
 * rounded up to whole pages and to at least DYCO_CONTEXT_STACK_MIN, so any
 * small size runs. stacksize 0 cancels a private stack: the coroutine runs
 * on the scheduler's shared stack again. Returns 1 when set, 0 when
 * cancelled, -ESRCH for an unknown cid, -EBUSY when the coroutine has
 * started or belongs to a pool, -EINVAL for a size above
 * DYCO_STACK_SIZE_MAX (stackptr NULL) or for memory of yours that wraps
 * around or holds less than DYCO_CONTEXT_STACK_MIN bytes below its top
 * aligned to DYCO_CONTEXT_STACK_ALIGN, -ENOMEM. On error the coroutine keeps
 * the stack it had. */
int dyco_coroutine_setStack(int cid, void *stackptr, size_t stacksize);

/* dyco_coroutine_getStack stores the stack coroutine cid runs on in
 * *stackptr and *stacksize (either may be NULL). Returns 1 for a private
 * stack, 0 for the scheduler's shared stack, -ESRCH for an unknown cid. */
int dyco_coroutine_getStack(int cid, void **stackptr, size_t *stacksize);

/* dyco_coroutine_checkStack returns 1 when the running coroutine has used
 * more than 7/8 of its stack (time to stop recursing), 0 when it is safe,
 * -EPERM outside a coroutine. */
int dyco_coroutine_checkStack(void);

/* dyco_coroutine_setUdata and getUdata store and fetch one pointer of yours
 * per coroutine. 0 on success, -ESRCH for an unknown cid, -EINVAL for a
 * NULL udata pointer (get), -ENOMEM (set, the first non-NULL value). */
int dyco_coroutine_setUdata(int cid, void *udata);
int dyco_coroutine_getUdata(int cid, void **udata);

/* dyco_coroutine_getSchedCount returns how many times coroutine cid has been
 * given the CPU, or -ESRCH. */
int dyco_coroutine_getSchedCount(int cid);

/* dyco_coroutine_setUrgent marks coroutine cid urgent: whenever it is ready
 * it runs before every ready normal coroutine. An urgent coroutine that
 * yields waits for the others to have had their turn, so normal coroutines
 * are delayed, never starved. unsetUrgent makes it normal again. Both take
 * effect the next time the coroutine becomes ready. 0, or -ESRCH. */
int dyco_coroutine_setUrgent(int cid);
int dyco_coroutine_unsetUrgent(int cid);

/* --- Cancellation and deadlines -------------------------------------------
 *
 * A wait point is every call that can suspend a coroutine: the hooked libc
 * calls (read, recv, connect, poll, sleep ... inside any library), the
 * dyco_socket family, dyco_coroutine_waitRead/Write/RW, dyco_fd_wait,
 * dyco_fd_poll, dyco_waitq_wait(Any), every sync primitive, both pools'
 * obtain, dyco_SSL_*, dyco_blocking_call, dyco_signal_wait(child), and
 * dyco_coroutine_sleep. A call that can finish without waiting (data is
 * there, the semaphore has a permit) is not a wait point: it finishes.
 *
 * A cancelled coroutine's wait points fail: the one it is suspended in ends
 * at once, and every later one fails at once, until dyco_coroutine_uncancel
 * or the coroutine returns. A coroutine whose deadline has passed fails them
 * the same way with ETIMEDOUT, and a wait in progress when the deadline
 * passes ends then. How each call says it follows docs/errors.md: dyco's
 * calls return -ECANCELED / -ETIMEDOUT; the hooks and the dyco_socket family
 * return -1 with errno ECANCELED / ETIMEDOUT (a poll or select included,
 * whose own timeout still returns 0, as SO_RCVTIMEO still says EAGAIN: the
 * earlier of a call's own timeout and the deadline ends the wait, and says
 * which it was); the seed's pool obtains return -1 with errno ECANCELED and
 * 0 (their timeout) for the deadline; dyco_coroutine_sleep, which returns
 * nothing, just ends early; the seed's waitRead/Write/RW return -ECANCELED
 * or -ETIMEDOUT (not their 0 of a timeout). A wake that reached the
 * coroutine before the cancel keeps its result: the cancel shows at the
 * next wait point. dyco_coroutine_yield is not a wait point.
 *
 * A coroutine that pays for none of this: the state is one byte of the
 * coroutine, which each wait point tests. */

/* dyco_coroutine_cancel cancels coroutine cid of this thread's scheduler,
 * whatever it is doing: suspended at a wait point, it wakes there (the call
 * fails with ECANCELED); ready or running (itself included), its next wait
 * point fails. Never blocks. Returns 0, or -ESRCH for a cid that is not a
 * live coroutine of this thread's scheduler (or when the thread has none). */
int dyco_coroutine_cancel(int cid);

/* dyco_coroutine_cancelById is dyco_coroutine_cancel for coroutine cid of
 * scheduler schedid (dyco_schedule_schedID on its thread), from any thread,
 * in or outside a coroutine. For another thread's scheduler the cancel is
 * handed to it (its thread wakes if it sleeps) and takes effect in its
 * next round, moments later; a cid that has ended by then is ignored. Never
 * blocks. Returns 0, -ESRCH for a scheduler that does not exist (or, for
 * the calling thread's own scheduler, a cid that is not live), -ENOMEM. */
int dyco_coroutine_cancelById(int schedid, int cid);

/* dyco_coroutine_uncancel clears the running coroutine's cancellation: its
 * wait points wait again. Returns 1 when it was cancelled, 0 when not,
 * -EPERM outside a coroutine. Never blocks. */
int dyco_coroutine_uncancel(void);

/* dyco_coroutine_maskCancel(1) shields the running coroutine from its
 * cancellation and its deadline until dyco_coroutine_maskCancel(0): its wait
 * points wait as if neither were set (for clean-up that must finish: a
 * reply, a ROLLBACK). A cancel that comes meanwhile is kept and shows at the
 * first wait point after the mask is lifted. Returns the previous setting
 * (1 or 0), or -EPERM outside a coroutine. Never blocks. */
int dyco_coroutine_maskCancel(int masked);

/* dyco_coroutine_checkCancel says whether the running coroutine's next
 * wait point would fail: -ECANCELED when it is cancelled, -ETIMEDOUT when
 * its deadline has passed, 0 otherwise (and while masked); -EPERM outside a
 * coroutine. For long loops that never wait, and for layers that must tell
 * a deadline's -ETIMEDOUT from their own timeout's. Never blocks. */
int dyco_coroutine_checkCancel(void);

/* dyco_coroutine_setDeadline gives the running coroutine a deadline: ns on
 * CLOCK_MONOTONIC (clock_gettime's tv_sec * 1e9 + tv_nsec); 0 clears it.
 * From then on each wait point ends, with ETIMEDOUT (see above), at the
 * deadline if it has not ended before, and fails at once once the deadline
 * has passed. A deadline in the past takes effect at the next wait point.
 * Returns 0, -EPERM outside a coroutine, -ENOMEM. Never blocks. */
int dyco_coroutine_setDeadline(uint64_t ns);

/* dyco_coroutine_getDeadline returns the running coroutine's deadline (ns on
 * CLOCK_MONOTONIC), 0 when it has none or outside a coroutine. */
uint64_t dyco_coroutine_getDeadline(void);

/* dyco_coroutine_narrowDeadline is the scoped form: it stores the current
 * deadline (0: none) in *saved (if saved is not NULL) and sets ns as the
 * deadline when it is earlier than the current one (ns 0 changes nothing);
 * dyco_coroutine_setDeadline(*saved) restores it at the end of the scope.
 * Returns 0, -EPERM outside a coroutine, -ENOMEM. Never blocks. */
int dyco_coroutine_narrowDeadline(uint64_t ns, uint64_t *saved);

/* --- Coroutine-local storage, in the spirit of pthread keys ------------- */

/* dyco_coroutine_keyCreate makes a key under which every coroutine of every
 * thread can keep its own value, NULL until set. When a coroutine that has a
 * non-NULL value ends (or is killed), destructor(value) is called, unless
 * destructor is NULL. Returns 0 and stores the key in *key, -EINVAL for a
 * NULL key, -EAGAIN when all DYCO_COROUTINE_KEYS_MAX keys are in use. */
#define DYCO_COROUTINE_KEYS_MAX 128
int dyco_coroutine_keyCreate(int *key, void (*destructor)(void *));

/* dyco_coroutine_keyDelete frees key for reuse; values still held under it
 * are forgotten without calling the destructor (as pthread_key_delete).
 * 0, or -EINVAL for a key not in use. */
int dyco_coroutine_keyDelete(int key);

/* dyco_coroutine_setLocal stores value under key for the running coroutine.
 * 0, -EINVAL for a key not in use, -EPERM outside a coroutine, -ENOMEM. */
int dyco_coroutine_setLocal(int key, const void *value);

/* dyco_coroutine_getLocal returns the running coroutine's value under key,
 * NULL when unset, for a bad key, or outside a coroutine. */
void *dyco_coroutine_getLocal(int key);

/* --- Introspection ----------------------------------------------------- */

/* What a coroutine is doing. */
typedef enum dyco_coroutine_state {
  DYCO_COROUTINE_NEW = 0,  /* created, has not run yet */
  DYCO_COROUTINE_READY,    /* waiting for its turn */
  DYCO_COROUTINE_RUNNING,  /* has the CPU */
  DYCO_COROUTINE_SLEEPING, /* in dyco_coroutine_sleep */
  DYCO_COROUTINE_WAITING,  /* on a file descriptor or a wait queue */
  DYCO_COROUTINE_STATES
} dyco_coroutine_state;

/* What a waiting coroutine waits on. */
typedef enum dyco_coroutine_wait {
  DYCO_WAIT_NONE = 0,
  DYCO_WAIT_READ,  /* fd readable */
  DYCO_WAIT_WRITE, /* fd writable */
  DYCO_WAIT_RW,    /* fd readable or writable */
  DYCO_WAIT_QUEUE, /* a wait queue: a channel, semaphore, pool, ... */
  DYCO_WAIT_SLEEP  /* a timer only */
} dyco_coroutine_wait;

typedef struct dyco_coroutine_info {
  int cid;
  dyco_coroutine_state state;
  dyco_coroutine_wait wait;
  int fd;             /* the fd waited on, or -1 */
  const void *queue;  /* the wait queue waited on, or NULL */
  int64_t timeout_ms; /* ms until its timeout, -1 when none */
  int urgent;         /* 1 when urgent */
  int private_stack;  /* 1 on a private stack, 0 on the shared stack */
  size_t stack_size;  /* bytes of the stack it runs on */
  size_t stack_used;  /* bytes in use when it last stopped (or now) */
  uint32_t sched_count;
} dyco_coroutine_info;

/* dyco_coroutine_getInfo fills *info for coroutine cid of this thread's
 * scheduler. 0, -ESRCH, or -EINVAL for a NULL info. */
int dyco_coroutine_getInfo(int cid, dyco_coroutine_info *info);

/* dyco_coroutine_backtrace stores in frames[0..max) the return addresses of
 * coroutine cid's frames (of this thread's scheduler), innermost first, as
 * glibc's backtrace() does, down to the coroutine's function: where it is
 * now, waiting or running. The frames of dyco that started it are left out;
 * name the addresses with dladdr() or backtrace_symbols() (link with
 * -rdynamic for the program's own names). A suspended coroutine's frames
 * are read from inside it: it is resumed for a moment with a function on
 * top of its frames, which walks them and gives the CPU back; none of the
 * coroutine's own code runs. On the shared stack its bytes are copied in
 * for that (and stay there, as after a switch). Returns the number stored
 * (0 for a coroutine that has not started), -EINVAL for a NULL frames or a
 * max below 1, -ESRCH without a scheduler or such a coroutine, -ENOTSUP
 * with the ucontext switch, under a sanitizer or valgrind (which watch
 * every switch), or when it is suspended on a stack that is not its own,
 * -ENOSPC when less than 16 KiB of its stack is free below its frames, and
 * -ENOMEM when the walk's own stack cannot be mapped. */
int dyco_coroutine_backtrace(int cid, void **frames, int max);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SCHED_COROUTINE_H_ */
