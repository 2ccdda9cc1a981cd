/* dyco — sync layer: condition variables for coroutines, used with a
 * dyco_mutex. */
#ifndef DYCO_SYNC_COND_H_
#define DYCO_SYNC_COND_H_

#include "sync/flags.h"
#include "sync/mutex.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dyco_cond dyco_cond;

/* dyco_cond_create makes a condition variable; flags 0 (local) or
 * DYCO_SYNC_SHARED (needed when coroutines of several threads wait or
 * signal; use it with a shared mutex). NULL with errno EINVAL or ENOMEM. */
dyco_cond *dyco_cond_create(int flags);

/* dyco_cond_destroy frees *cond once no coroutine waits on it and sets
 * *cond to NULL; every waiter wakes, locks its mutex again, and returns
 * -EIDRM (docs/errors.md). NULL and *cond NULL are ignored. Does not
 * block. */
void dyco_cond_destroy(dyco_cond **cond);

/* dyco_cond_wait unlocks mutex (which the caller holds) and waits, as one
 * step, until dyco_cond_signal or dyco_cond_broadcast wakes it or timeout ms
 * pass (-1: no limit, 0: returns -ETIMEDOUT at once without unlocking); then
 * locks mutex again (waiting as long as it takes) before it returns, in
 * every case but the errors found before waiting. Waiters wake first come,
 * first served. dyco_cond never wakes a waiter spuriously, but another
 * coroutine may change the state first: wait in a loop that checks it.
 * Returns 0 when woken; -ETIMEDOUT; -EIDRM when the condition variable was
 * destroyed meanwhile; -EPERM when the caller does not hold mutex or is
 * not a coroutine; -EINVAL for NULL; -ENOMEM (a timed wait); -EXDEV. When
 * the mutex itself is destroyed while the waiter waits to lock it again,
 * the mutex's -EIDRM comes back, and the mutex is not held. */
int dyco_cond_wait(dyco_cond *cond, dyco_mutex *mutex, int timeout);

/* dyco_cond_signal wakes the longest waiter, dyco_cond_broadcast every
 * waiter. Never block; call them with or without the mutex held. Return the
 * number of coroutines woken, -EINVAL for NULL, -EXDEV. */
int dyco_cond_signal(dyco_cond *cond);
int dyco_cond_broadcast(dyco_cond *cond);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_COND_H_ */
