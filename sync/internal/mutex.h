/* dyco — sync layer, private: the mutex's structure, for the condition
 * variable that unlocks and locks it. */
#ifndef DYCO_SYNC_INTERNAL_MUTEX_H_
#define DYCO_SYNC_INTERNAL_MUTEX_H_

#include "sync/internal/common.h"
#include "sync/mutex.h"

struct dyco_mutex {
  dyco__sync_base base;
  dyco_waitq q;
  dyco__sync_who holder; /* valid while locked; thread NULL: handed over to
                            a woken waiter that has not run yet */
  int locked;
  int dead; /* destroyed: the last waiter to leave frees it */
};

/* dyco_mutex_unlock for `me`, who must hold it. */
int dyco__mutex_unlock_as(dyco_mutex *m, dyco__sync_who me);

/* dyco_mutex_lock for `me`. */
int dyco__mutex_lock_as(dyco_mutex *m, dyco__sync_who me, int timeout);

#endif /* DYCO_SYNC_INTERNAL_MUTEX_H_ */
