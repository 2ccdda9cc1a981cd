/* dyco — asym layer: asymmetric coroutines. Resume one and it runs until it
 * yields back to whoever resumed it; with or without a scheduler. */
#ifndef DYCO_ASYM_ASYMCORO_H_
#define DYCO_ASYM_ASYMCORO_H_

#include <stddef.h>
#include <stdint.h>

#include "sched/coroutine.h"
#include "sched/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An asymmetric coroutine runs func(arg) on its own stack when something
 * resumes it, until it yields (dyco_asymcoroyield) or its function returns;
 * then the resume call returns. Whoever resumes it may be the thread itself
 * (no scheduler needed), a coroutine of the thread's scheduler (which keeps
 * scheduling its other coroutines meanwhile), or another asymmetric
 * coroutine. Its cid (> 0) names it in the thread that created it, and only
 * there; asymmetric cids never equal a scheduler coroutine's cid (the two
 * kinds are drawn from separate ranges of slots: a scheduler's end at
 * DYCO_COROUTINES_MAX, just below where the asymmetric ones begin, however
 * many coroutines either holds).
 *
 * Stacks: by default a coroutine runs on the thread's asymmetric shared
 * stack (DYCO_ASYMCORO_SHARED_STACK bytes, guarded): a coroutine suspended
 * off it costs only the bytes it used, copied out when another coroutine
 * needs the stack. dyco_asymcoro_setStack gives it a private stack instead.
 * A coroutine on the shared stack must not let other coroutines keep
 * pointers into its stack frames. */

/* The size of each thread's asymmetric shared stack. */
#define DYCO_ASYMCORO_SHARED_STACK (256 * 1024)

/* How deep asymmetric coroutines may nest: a chain of coroutines each
 * resumed by the one before, counted from the first one resumed by the
 * thread or by a scheduler's coroutine. */
#define DYCO_ASYMCORO_DEPTH_MAX 256

/* The most asymmetric coroutines one thread holds at once. */
#define DYCO_ASYMCORO_MAX 1048575

/* dyco_asymcoro_create makes an asymmetric coroutine that will run
 * func(arg) on the shared stack once resumed. Does not run it, does not
 * block, needs no scheduler. Returns its cid, -EINVAL for a NULL func,
 * -ENOMEM, or -EAGAIN when the thread already has DYCO_ASYMCORO_MAX. */
int dyco_asymcoro_create(proc_coroutine func, void *arg);

/* dyco_asymcororesume runs coroutine cid until it yields or ends; it blocks
 * the caller that long (the thread, or the calling coroutine: other
 * coroutines of a scheduler run meanwhile if cid waits in the scheduler).
 * Returns cid when it yielded, 0 when its function returned, or
 *   -ESRCH      no such coroutine in this thread (never made, or freed),
 *   -ENODATA    it has already ended (free it),
 *   -ECANCELED  it was killed: the scheduler coroutine that had resumed it
 *               ended or was killed meanwhile (free it),
 *   -EBUSY      it is running (it resumed the caller, directly or not, or it
 *               is suspended in the scheduler under another coroutine), or
 *               it needs the shared stack while a coroutine on that stack is
 *               suspended in the scheduler under another scheduler
 *               coroutine (give coroutines that block a private stack),
 *   -ELOOP      it would nest deeper than DYCO_ASYMCORO_DEPTH_MAX,
 *   -EPERM      called from a stack asym cannot place (neither the
 *               thread's own, a scheduler coroutine's nor an asymmetric
 *               coroutine's: a signal handler's alternate stack, say),
 *   -ENOMEM, or -EINVAL for a private stack too small to start on. */
int dyco_asymcororesume(int cid);

/* dyco_asymcoroyield suspends the running asymmetric coroutine and returns
 * to the resume call that ran it, which returns the coroutine's cid; this
 * returns when the coroutine is resumed again. Outside an asymmetric
 * coroutine it does nothing. Aborts with a message on stderr only if memory
 * runs out to keep a shared-stack coroutine's bytes (a yield cannot fail). */
void dyco_asymcoroyield(void);

/* dyco_asymcoro_free frees coroutine cid and its stack (a stack you gave
 * stays yours) whatever state it is in, except running: a suspended
 * coroutine's function never continues. A pool's coroutine goes back to its
 * pool (as dyco_asymcpool_return). Unknown cids are ignored; a running
 * coroutine is not freed, and that is said on stderr. Never blocks. */
void dyco_asymcoro_free(int cid);

/* dyco_asymcoro_coroID returns the cid of the running asymmetric
 * coroutine, -EPERM outside one. */
int dyco_asymcoro_coroID(void);

/* dyco_asymcoro_setStack gives coroutine cid, which must not have been
 * resumed yet, a private stack: [stackptr, stackptr + stacksize) if
 * stackptr is not NULL (yours to free after dyco_asymcoro_free; no guard
 * below it), or one that dyco takes from its cache, with a guard region
 * below it (dyco_schedule_setStackGuard), if stackptr is NULL: stacksize
 * bytes rounded up to whole pages and to at least DYCO_CONTEXT_STACK_MIN,
 * so any small size runs. An overflow into the guard is reported on
 * stderr naming the coroutine, as for the scheduler's coroutines. stacksize
 * 0 cancels: back to the shared stack. Returns 1 when set, 0 when
 * cancelled, -ESRCH for an unknown cid, -EBUSY when it has been resumed or
 * belongs to a pool, -EINVAL for a size above DYCO_STACK_SIZE_MAX
 * (stackptr NULL) or for memory of yours that wraps around or holds less
 * than DYCO_CONTEXT_STACK_MIN bytes below its top aligned to
 * DYCO_CONTEXT_STACK_ALIGN, -ENOMEM. On error the coroutine keeps the stack
 * it had. */
int dyco_asymcoro_setStack(int cid, void *stackptr, size_t stacksize);

/* dyco_asymcoro_getStack stores the stack coroutine cid runs on in
 * *stackptr and *stacksize (either may be NULL). Returns 1 for a private
 * stack, 0 for the shared stack, -ESRCH for an unknown cid, -ENOMEM when
 * the shared stack cannot be mapped. */
int dyco_asymcoro_getStack(int cid, void **stackptr, size_t *stacksize);

/* dyco_asymcoro_setUdata and getUdata store and fetch one pointer of yours
 * per coroutine: the way to pass values in and out of a generator. 0, -ESRCH
 * for an unknown cid, -EINVAL for a NULL udata pointer (get). */
int dyco_asymcoro_setUdata(int cid, void *udata);
int dyco_asymcoro_getUdata(int cid, void **udata);

/* dyco_coroutine_isasymmetric returns 1 when cid is an asymmetric
 * coroutine of this thread, 0 when it is a coroutine of this thread's
 * scheduler, -ESRCH when it is neither. */
int dyco_coroutine_isasymmetric(int cid);

/* --- Pools ------------------------------------------------------------ */

/* An asymmetric pool keeps totalsize coroutines' stacks ready: obtaining
 * one costs no system call and no stack. It belongs to the thread that
 * created it. It is a dyco_coropool only in name: pass it to the
 * dyco_asymcpool_* functions only. */

/* dyco_asymcpool_create makes a pool of totalsize asymmetric coroutines,
 * each with a private stack of stacksize bytes made now (rounded up as
 * dyco_asymcoro_setStack rounds it; a guard region below each), or on the
 * shared stack when stacksize is 0. Returns the pool, or NULL with errno
 * set: EINVAL when totalsize is < 1 or above DYCO_ASYMCORO_MAX or
 * stacksize is above DYCO_STACK_SIZE_MAX (at once, nothing mapped); ENOMEM
 * when memory runs out or the stacks would not fit the address space. */
dyco_coropool *dyco_asymcpool_create(int totalsize, size_t stacksize);

/* dyco_asymcpool_resize changes the pool to newsize coroutines: stacks are
 * made at once when growing; when shrinking, idle ones go at once and busy
 * ones when returned. Returns cp, or NULL with errno set, cp unchanged:
 * EINVAL for newsize < 1 or above DYCO_ASYMCORO_MAX or a pool of another
 * thread (or destroyed), ENOMEM. */
dyco_coropool *dyco_asymcpool_resize(dyco_coropool *cp, int newsize);

/* dyco_asymcpool_destroy frees *cp and sets it to NULL: its idle stacks go
 * at once; coroutines obtained from it stay usable until returned or freed;
 * coroutines waiting in obtain return -1 with errno EIDRM (docs/errors.md).
 * Returns 0, or -EINVAL for NULL, a pool of another thread or not an
 * asymmetric pool. Never blocks. */
int dyco_asymcpool_destroy(dyco_coropool **cp);

/* dyco_asymcpool_available returns how many of the pool's coroutines can
 * be obtained now, or -EINVAL. */
int dyco_asymcpool_available(dyco_coropool *cp);

/* dyco_asymcpool_obtain takes a coroutine of the pool, ready to run
 * func(arg) when resumed (as dyco_asymcoro_create makes one). When none is
 * free, a coroutine of the thread's scheduler waits up to timeout ms (-1:
 * no limit) for one to be returned; elsewhere it never waits. Returns the
 * cid (> 0), 0 when timeout passed (or was 0) with none free, or -1 on
 * error, as the seed did, with errno set: EAGAIN outside a scheduler
 * coroutine with none free, EINVAL for bad arguments or a pool of another
 * thread, EIDRM when the pool was destroyed while waiting, ENOMEM. */
int dyco_asymcpool_obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                          int timeout);

/* dyco_asymcpool_return gives coroutine cid back to its pool, whatever
 * state it is in except running (its function never continues), and wakes
 * one waiter of obtain. Unknown cids and coroutines of no pool are ignored;
 * a running coroutine is not returned, and that is said on stderr. */
void dyco_asymcpool_return(int cid);

/* --- Introspection ----------------------------------------------------- */

typedef struct dyco_asymcoro_stats {
  uint64_t coroutines;     /* alive now (made and not freed) */
  uint64_t created;        /* since the thread began */
  uint64_t freed;          /* freed or returned to a pool */
  uint64_t shared_saves;   /* copies off the shared stack */
  uint64_t shared_bytes;   /* bytes those copies held */
  uint64_t saved_bytes;    /* bytes held now by suspended coroutines' copies */
  uint64_t private_stacks; /* stacks from dyco's cache in use, pools' too */
  uint64_t cached_stacks;  /* idle stacks in the cache */
  uint64_t pools;          /* pools alive */
} dyco_asymcoro_stats;

/* dyco_asymcoro_getStats fills *stats for this thread. 0, or -EINVAL for
 * NULL. */
int dyco_asymcoro_getStats(dyco_asymcoro_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_ASYM_ASYMCORO_H_ */
