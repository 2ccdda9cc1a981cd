/* dyco — sync layer: a coroutine mutex. A coroutine that finds it locked
 * waits (yielding to the others) instead of blocking the thread. */
#ifndef DYCO_SYNC_MUTEX_H_
#define DYCO_SYNC_MUTEX_H_

#include "sync/flags.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why not a pthread mutex: a coroutine that holds one across anything that
 * yields (I/O, sleep, a channel) and another coroutine of the same thread
 * that then locks it blocks the whole thread, and with it the holder, for
 * ever. A dyco_mutex suspends only the coroutine that waits. */
typedef struct dyco_mutex dyco_mutex;

/* dyco_mutex_create makes an unlocked mutex; flags 0 (local) or
 * DYCO_SYNC_SHARED (see sync/flags.h). Does not block. NULL with errno
 * EINVAL or ENOMEM. */
dyco_mutex *dyco_mutex_create(int flags);

/* dyco_mutex_destroy frees *mutex once no coroutine waits on it any more and
 * sets *mutex to NULL; every waiter returns -EIDRM (docs/errors.md). Destroy
 * a mutex only when its holder will not touch it again. NULL and *mutex NULL
 * are ignored. Does not block. */
void dyco_mutex_destroy(dyco_mutex **mutex);

/* dyco_mutex_lock locks the mutex for the running coroutine, waiting at most
 * timeout ms (-1: no limit, 0: does not wait, a try-lock). Waiters get the
 * mutex first come, first served: an unlock hands it straight to the
 * longest waiter. Returns 0 when locked; -ETIMEDOUT; -EDEADLK when the
 * caller holds it already; -EIDRM when destroyed while waiting; -EINVAL
 * for NULL; -EPERM when it would wait outside a coroutine (outside one, the
 * thread itself may hold the mutex); -ENOMEM (a timed wait); -EXDEV. */
int dyco_mutex_lock(dyco_mutex *mutex, int timeout);

/* dyco_mutex_unlock unlocks the mutex, which the caller holds, handing it to
 * the longest waiter if any. Never blocks. Returns 0, -EPERM when the caller
 * does not hold it, -EINVAL for NULL, -EXDEV. */
int dyco_mutex_unlock(dyco_mutex *mutex);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_MUTEX_H_ */
