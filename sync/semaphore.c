/* dyco — sync layer: counting semaphores on one wait queue. A signal hands
 * its permit to a waiter it can claim, or adds it to the count. */
#include "sync/semaphore.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/hints.h"
#include "sync/internal/common.h"

struct dyco_semaphore {
  dyco__sync_base base;
  dyco_waitq q;
  size_t count;
  int dead; /* destroyed: the last waiter to leave frees it */
};

static dyco_semaphore *create(size_t value, int flags) {
  if (value > (size_t)SSIZE_MAX) {
    errno = EINVAL;
    return NULL;
  }
  dyco_semaphore *sem = (dyco_semaphore *)calloc(1, sizeof *sem);
  if (sem == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  dyco__sync_base_init(&sem->base, flags);
  dyco_waitq_init(&sem->q, sem->base.lock);
  sem->count = value;
  return sem;
}

dyco_semaphore *dyco_semaphore_create(size_t value) { return create(value, 0); }

dyco_semaphore *dyco_semaphore_createShared(size_t value) {
  return create(value, DYCO_SYNC_SHARED);
}

/* Lets go of the lock; frees a destroyed semaphore nobody waits on. */
static inline void finish(dyco_semaphore *sem) {
  int gone = sem->dead && sem->q.refs == 0;
  dyco__sync_leave(&sem->base);
  if (gone) {
    free(sem);
  }
}

void dyco_semaphore_destroy(dyco_semaphore **psem) {
  if (psem == NULL || *psem == NULL) {
    return;
  }
  dyco_semaphore *sem = *psem;
  if (dyco__sync_enter_destroy(&sem->base, "dyco_semaphore_destroy") != 0) {
    return;
  }
  *psem = NULL;
  sem->dead = 1;
  dyco_waitq_wakeAll(&sem->q, DYCO__SYNC_DESTROYED);
  finish(sem);
}

static __attribute__((noinline)) int wait_slow(dyco_semaphore *sem,
                                               int timeout) {
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  intptr_t v = 0;
  int r = dyco_waitq_wait(&sem->q, timeout, &v);
  if (r == 0 && v != DYCO__SYNC_OK) {
    r = DYCO__SYNC_EDESTROYED;
  }
  return r;
}

/* dyco_semaphore_wait's wait, sem's lock entered: it returns to the caller
 * of dyco_semaphore_wait by a jump when that pays (base/hints.h). */
DYCO__RETURN_BY_JUMP(int, dyco__semaphore_wait_slow,
                     (dyco_semaphore * sem, int timeout)) {
  int r = wait_slow(sem, timeout);
  finish(sem);
  return r;
}

int dyco_semaphore_wait(dyco_semaphore *sem, int timeout) {
  if (sem == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&sem->base);
  if (r != 0) {
    return r;
  }
  if (DYCO__LIKELY(sem->count > 0)) {
    sem->count--;
    dyco__sync_leave(&sem->base);
    return 0;
  }
  return dyco__semaphore_wait_slow(sem, timeout); /* a tail call */
}

int dyco_semaphore_signal(dyco_semaphore *sem) {
  if (sem == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&sem->base);
  if (r != 0) {
    return r;
  }
  /* A waiter that already timed out cannot be claimed: the permit goes to
   * the next one, or to the count, never into the void. */
  if (sem->q.head == NULL || !dyco_waitq_wakeOne(&sem->q, DYCO__SYNC_OK)) {
    if (sem->count >= (size_t)SSIZE_MAX) {
      r = -EOVERFLOW;
    } else {
      sem->count++;
    }
  }
  dyco__sync_leave(&sem->base);
  return r;
}

ssize_t dyco_semaphore_value(dyco_semaphore *sem) {
  if (sem == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&sem->base);
  if (r != 0) {
    return r;
  }
  ssize_t n = (ssize_t)sem->count;
  dyco__sync_leave(&sem->base);
  return n;
}
