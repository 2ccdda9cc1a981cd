/* dyco — sync layer: condition variables. Queue on the condition's wait
 * queue, unlock the mutex, sleep; relock on the way out. */
#include "sync/cond.h"

#include <errno.h>
#include <stdlib.h>

#include "base/hints.h"
#include "sched/coroutine.h"
#include "sync/internal/mutex.h"

struct dyco_cond {
  dyco__sync_base base;
  dyco_waitq q;
  int dead; /* destroyed: the last waiter to leave frees it */
};

dyco_cond *dyco_cond_create(int flags) {
  if ((flags & ~DYCO_SYNC_SHARED) != 0) {
    errno = EINVAL;
    return NULL;
  }
  dyco_cond *cv = (dyco_cond *)calloc(1, sizeof *cv);
  if (cv == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  dyco__sync_base_init(&cv->base, flags);
  dyco_waitq_init(&cv->q, cv->base.lock);
  return cv;
}

void dyco_cond_destroy(dyco_cond **pcv) {
  if (pcv == NULL || *pcv == NULL) {
    return;
  }
  dyco_cond *cv = *pcv;
  if (dyco__sync_enter_destroy(&cv->base, "dyco_cond_destroy") != 0) {
    return;
  }
  *pcv = NULL;
  cv->dead = 1;
  dyco_waitq_wakeAll(&cv->q, DYCO__SYNC_DESTROYED);
  int gone = cv->q.refs == 0;
  dyco__sync_leave(&cv->base);
  if (gone) {
    free(cv);
  }
}

DYCO__RETURN_BY_JUMP(int, dyco_cond_wait,
                     (dyco_cond * cv, dyco_mutex *m, int timeout)) {
  if (cv == NULL || m == NULL) {
    return -EINVAL;
  }
  dyco__sync_who me = dyco__sync_whoami();
  if (me.cid == 0) {
    return -EPERM;
  }
  int r = dyco__sync_enter(&cv->base);
  if (r != 0) {
    return r;
  }
  if (timeout == 0) {
    dyco__sync_leave(&cv->base);
    return -ETIMEDOUT;
  }
  /* Unlocking under the condition's lock: a signal from another thread
   * cannot come between the unlock and the wait. (Lock order: condition,
   * then mutex; nothing takes them the other way round.) */
  r = dyco__mutex_unlock_as(m, me);
  if (r != 0) {
    dyco__sync_leave(&cv->base);
    return r;
  }
  intptr_t v = 0;
  r = dyco_waitq_wait(&cv->q, timeout, &v);
  if (r == 0 && v != DYCO__SYNC_OK) {
    r = DYCO__SYNC_EDESTROYED;
  }
  int gone = cv->dead && cv->q.refs == 0;
  dyco__sync_leave(&cv->base);
  if (gone) {
    free(cv);
  }
  /* The mutex again, whatever the wait's outcome: not even a cancel or a
   * deadline of the caller returns without it. */
  int masked = dyco_coroutine_maskCancel(1);
  int l = dyco__mutex_lock_as(m, me, -1);
  if (masked == 0) {
    dyco_coroutine_maskCancel(0);
  }
  return l != 0 ? l : r;
}

static int wake(dyco_cond *cv, int all) {
  if (cv == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&cv->base);
  if (r != 0) {
    return r;
  }
  int n = 0;
  if (cv->q.head != NULL) {
    n = all ? dyco_waitq_wakeAll(&cv->q, DYCO__SYNC_OK)
            : dyco_waitq_wakeOne(&cv->q, DYCO__SYNC_OK);
  }
  dyco__sync_leave(&cv->base);
  return n;
}

int dyco_cond_signal(dyco_cond *cv) { return wake(cv, 0); }

int dyco_cond_broadcast(dyco_cond *cv) { return wake(cv, 1); }
