/* dyco — sync layer: counting semaphores. A coroutine that finds no permit
 * waits (yielding, never blocking the thread) until one is signalled. */
#ifndef DYCO_SYNC_SEMAPHORE_H_
#define DYCO_SYNC_SEMAPHORE_H_

#include <stddef.h>
#include <sys/types.h>

#include "sync/flags.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dyco_semaphore dyco_semaphore;

/* dyco_semaphore_create makes a local semaphore holding value permits. Does
 * not block. Returns NULL with errno EINVAL for a value above SSIZE_MAX, or
 * ENOMEM. */
dyco_semaphore *dyco_semaphore_create(size_t value);

/* dyco_semaphore_createShared is dyco_semaphore_create for a semaphore that
 * coroutines of several threads may use (see sync/flags.h). */
dyco_semaphore *dyco_semaphore_createShared(size_t value);

/* dyco_semaphore_destroy frees *sem once no coroutine waits on it any more
 * and sets *sem to NULL; every waiter returns -EIDRM (docs/errors.md). NULL
 * and *sem NULL are ignored. Does not block. */
void dyco_semaphore_destroy(dyco_semaphore **sem);

/* dyco_semaphore_wait takes a permit, waiting at most timeout ms (-1: no
 * limit, 0: does not wait) for one. Waiters are served first come, first
 * served: a signal hands its permit straight to the longest waiter. Returns
 * 0 with a permit; -ETIMEDOUT (no permit taken); -EIDRM when the semaphore
 * was destroyed while it waited; -EINVAL for NULL; -EPERM when it
 * would wait outside a coroutine; -ENOMEM (a timed wait); -EXDEV for a
 * local semaphore of another thread. */
int dyco_semaphore_wait(dyco_semaphore *sem, int timeout);

/* dyco_semaphore_signal gives a permit back: to the longest waiter if any
 * (it wakes), else to the count. Never blocks; from any coroutine or, for a
 * shared semaphore, any thread. Returns 0, -EINVAL for NULL, -EOVERFLOW when
 * the count is at its maximum, -EXDEV. */
int dyco_semaphore_signal(dyco_semaphore *sem);

/* dyco_semaphore_value returns the permits available now (0 while
 * coroutines wait), -EINVAL for NULL, -EXDEV. */
ssize_t dyco_semaphore_value(dyco_semaphore *sem);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_SEMAPHORE_H_ */
