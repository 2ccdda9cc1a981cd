/* dyco — sync layer: the coroutine mutex. A flag, a holder and a wait queue;
 * unlock hands the mutex straight to the first waiter it can claim. */
#include "sync/internal/mutex.h"

#include <errno.h>
#include <stdlib.h>

#include "base/hints.h"

dyco_mutex *dyco_mutex_create(int flags) {
  if ((flags & ~DYCO_SYNC_SHARED) != 0) {
    errno = EINVAL;
    return NULL;
  }
  dyco_mutex *m = (dyco_mutex *)calloc(1, sizeof *m);
  if (m == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  dyco__sync_base_init(&m->base, flags);
  dyco_waitq_init(&m->q, m->base.lock);
  return m;
}

static inline void finish(dyco_mutex *m) {
  int gone = m->dead && m->q.refs == 0;
  dyco__sync_leave(&m->base);
  if (gone) {
    free(m);
  }
}

void dyco_mutex_destroy(dyco_mutex **pm) {
  if (pm == NULL || *pm == NULL) {
    return;
  }
  dyco_mutex *m = *pm;
  if (dyco__sync_enter_destroy(&m->base, "dyco_mutex_destroy") != 0) {
    return;
  }
  *pm = NULL;
  m->dead = 1;
  dyco_waitq_wakeAll(&m->q, DYCO__SYNC_DESTROYED);
  finish(m);
}

static __attribute__((noinline)) int lock_slow(dyco_mutex *m, dyco__sync_who me,
                                               int timeout) {
  if (dyco__sync_same(m->holder, me)) {
    return -EDEADLK;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  intptr_t v = 0;
  int r = dyco_waitq_wait(&m->q, timeout, &v);
  if (r == 0) {
    if (v == DYCO__SYNC_OK) {
      m->holder = me; /* handed over by the unlock that woke us */
    } else {
      r = DYCO__SYNC_EDESTROYED;
    }
  }
  return r;
}

/* Enters m's lock and takes m if it is free: 1 taken (the lock left), 0
 * held by another (the lock still entered), or enter's error. */
static inline int take(dyco_mutex *m, dyco__sync_who me) {
  int r = dyco__sync_enter(&m->base);
  if (r != 0) {
    return r;
  }
  if (DYCO__LIKELY(!m->locked)) {
    m->locked = 1;
    m->holder = me;
    dyco__sync_leave(&m->base);
    return 1;
  }
  return 0;
}

int dyco__mutex_lock_as(dyco_mutex *m, dyco__sync_who me, int timeout) {
  int r = take(m, me);
  if (r != 0) {
    return r > 0 ? 0 : r;
  }
  r = lock_slow(m, me, timeout);
  finish(m);
  return r;
}

int dyco__mutex_unlock_as(dyco_mutex *m, dyco__sync_who me) {
  int r = dyco__sync_enter(&m->base);
  if (r != 0) {
    return r;
  }
  if (DYCO__UNLIKELY(!m->locked || !dyco__sync_same(m->holder, me))) {
    dyco__sync_leave(&m->base);
    return -EPERM;
  }
  if (m->q.head != NULL && dyco_waitq_wakeOne(&m->q, DYCO__SYNC_OK)) {
    /* Still locked: it belongs to the waiter now, who names itself when it
     * runs. Until then nobody holds it by name. */
    m->holder.thread = NULL;
    m->holder.cid = 0;
  } else {
    m->locked = 0;
  }
  dyco__sync_leave(&m->base);
  return 0;
}

/* dyco_mutex_lock's wait, m's lock entered: it returns to the caller of
 * dyco_mutex_lock by a jump when that pays (base/hints.h). */
DYCO__RETURN_BY_JUMP(int, dyco__mutex_lock_wait,
                     (dyco_mutex * m, dyco__sync_who me, int timeout)) {
  int r = lock_slow(m, me, timeout);
  finish(m);
  return r;
}

int dyco_mutex_lock(dyco_mutex *m, int timeout) {
  if (m == NULL) {
    return -EINVAL;
  }
  dyco__sync_who me = dyco__sync_whoami();
  int r = take(m, me);
  if (DYCO__LIKELY(r != 0)) {
    return r > 0 ? 0 : r;
  }
  return dyco__mutex_lock_wait(m, me, timeout); /* a tail call */
}

int dyco_mutex_unlock(dyco_mutex *m) {
  if (m == NULL) {
    return -EINVAL;
  }
  return dyco__mutex_unlock_as(m, dyco__sync_whoami());
}
