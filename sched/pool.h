/* dyco — sched layer: coroutine pools. A fixed number of coroutines with
 * their stacks made ahead; each runs one function, then returns to the pool. */
#ifndef DYCO_SCHED_POOL_H_
#define DYCO_SCHED_POOL_H_

#include <stddef.h>

#include "sched/coroutine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pool belongs to the scheduler of the thread that created it. */
typedef struct dyco_coropool dyco_coropool;

/* dyco_coropool_create makes a pool of totalsize coroutines, each with a
 * private stack of stacksize bytes taken from the stack cache now (rounded
 * up as dyco_coroutine_setStack rounds it, so any small size runs; a guard
 * region below each), or running on the shared stack when stacksize is 0.
 * Creates the thread's scheduler if it has none. Returns the pool, or NULL
 * with errno set: EINVAL when totalsize is < 1 or above
 * DYCO_COROUTINES_MAX or stacksize is above DYCO_STACK_SIZE_MAX (at once,
 * nothing mapped); ENOMEM when memory runs out or the stacks would not fit
 * the address space; EMFILE or ENFILE when the scheduler had to be created
 * and no fd is free. */
dyco_coropool *dyco_coropool_create(int totalsize, size_t stacksize);

/* dyco_coropool_resize changes the pool to newsize coroutines: more are
 * made at once; when shrinking, idle ones go at once and busy ones when they
 * finish. Returns cp, or NULL with errno set, leaving cp as it was: EINVAL
 * for a NULL cp, a pool of another thread, or newsize < 1 or above
 * DYCO_COROUTINES_MAX; ENOMEM. */
dyco_coropool *dyco_coropool_resize(dyco_coropool *cp, int newsize);

/* dyco_coropool_destroy frees *cp and sets it to NULL: coroutines waiting
 * in obtain return -1 with errno EIDRM (docs/errors.md), busy coroutines
 * finish their function first. Returns 0, or -EINVAL for NULL or a pool of
 * another thread. Never blocks. */
int dyco_coropool_destroy(dyco_coropool **cp);

/* dyco_coropool_available returns how many of the pool's coroutines are
 * free, or -EINVAL for NULL. */
int dyco_coropool_available(dyco_coropool *cp);

/* dyco_coropool_obtain takes a free coroutine of the pool and has it run
 * func(arg) (as dyco_coroutine_create would). When none is free it waits up
 * to timeout ms (-1: no limit) inside a coroutine; outside a coroutine it
 * never waits. Returns the cid (> 0), 0 when timeout passed (or was 0) with
 * none free, or -1 on error, as the seed did, with errno set: EAGAIN
 * outside a coroutine with none free (or when the scheduler already holds
 * DYCO_COROUTINES_MAX coroutines), EINVAL for bad arguments or a pool of
 * another thread, EIDRM when the pool was destroyed while waiting,
 * ENOMEM. */
int dyco_coropool_obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                         int timeout);

/* dyco_coropool_obtain_urgent is dyco_coropool_obtain for an urgent
 * coroutine (see dyco_coroutine_setUrgent). */
int dyco_coropool_obtain_urgent(dyco_coropool *cp, proc_coroutine func,
                                void *arg, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SCHED_POOL_H_ */
