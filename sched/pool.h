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
 * private stack of stacksize bytes taken from the stack cache now (guard
 * page below each), or running on the shared stack when stacksize is 0.
 * Returns NULL when totalsize < 1, stacksize is under
 * DYCO_CONTEXT_STACK_MIN, or memory runs out. */
dyco_coropool *dyco_coropool_create(int totalsize, size_t stacksize);

/* dyco_coropool_resize changes the pool to newsize coroutines: more are
 * made at once; when shrinking, idle ones go at once and busy ones when they
 * finish. Returns cp, or NULL (leaving cp as it was) for newsize < 1, a
 * pool of another thread, or no memory. */
dyco_coropool *dyco_coropool_resize(dyco_coropool *cp, int newsize);

/* dyco_coropool_destroy frees *cp and sets it to NULL: coroutines waiting
 * in obtain return -ECANCELED, busy coroutines finish their function first.
 * Returns 0, or -EINVAL for NULL or a pool of another thread. */
int dyco_coropool_destroy(dyco_coropool **cp);

/* dyco_coropool_available returns how many of the pool's coroutines are
 * free, or -EINVAL for NULL. */
int dyco_coropool_available(dyco_coropool *cp);

/* dyco_coropool_obtain takes a free coroutine of the pool and has it run
 * func(arg) (as dyco_coroutine_create would). When none is free it waits up
 * to timeout ms (-1: no limit) inside a coroutine; outside a coroutine it
 * never waits. Returns the cid (> 0), 0 when timeout passed (or was 0) with
 * none free, or -1 on error, as the seed did, with errno set: EAGAIN
 * outside a coroutine with none free, EINVAL for bad arguments or a pool of
 * another thread, ECANCELED when the pool was destroyed while waiting,
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
