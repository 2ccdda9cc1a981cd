/* dyco — sync layer: the seed's waitgroup. Coroutines join a group, each says
 * once that it is done, and others wait for some or all of them. */
#ifndef DYCO_SYNC_WAITGROUP_H_
#define DYCO_SYNC_WAITGROUP_H_

#include "sync/flags.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dyco_waitgroup dyco_waitgroup;

/* dyco_waitgroup_create makes a local waitgroup sized for about
 * suggest_size members (it grows as needed; <= 0: a small default). Does not
 * block. NULL (errno ENOMEM) on error. */
dyco_waitgroup *dyco_waitgroup_create(int suggest_size);

/* dyco_waitgroup_createShared is dyco_waitgroup_create for a waitgroup whose
 * members and waiters may run on several threads (see sync/flags.h). */
dyco_waitgroup *dyco_waitgroup_createShared(int suggest_size);

/* dyco_waitgroup_destroy frees *group once no coroutine waits on it and sets
 * *group to NULL; every waiter returns -EIDRM (docs/errors.md). NULL and
 * *group NULL are ignored. Does not block. */
void dyco_waitgroup_destroy(dyco_waitgroup **group);

/* dyco_waitgroup_add makes coroutine cid, of the calling thread's scheduler,
 * a member. Never blocks. Returns 1 when added, 0 when it was a member
 * already, -ESRCH when the thread has no coroutine cid, -EINVAL for NULL,
 * -ENOMEM, -EXDEV. */
int dyco_waitgroup_add(dyco_waitgroup *group, int cid);

/* dyco_waitgroup_done, called by a member coroutine, says it is done and
 * wakes the waiters whose target that reaches. Never blocks. Returns 1;
 * -ESRCH when the caller never joined (nothing is counted), -EALREADY when
 * it said so before (counted once only), -EPERM outside a coroutine,
 * -EINVAL for NULL, -EXDEV. */
int dyco_waitgroup_done(dyco_waitgroup *group);

/* dyco_waitgroup_wait waits until at least target members are done (target
 * <= 0, such as -1: until every member is done; members that join later
 * count too), for at most timeout ms (-1: no limit; 0: does not wait).
 * Returns the number of members done then (>= target; 0 for target -1 on a
 * group without members); -ETIMEDOUT; -EIDRM when destroyed while it
 * waited; -EPERM when it would wait outside a coroutine; -EINVAL for NULL;
 * -ENOMEM; -EXDEV. */
int dyco_waitgroup_wait(dyco_waitgroup *group, int target, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SYNC_WAITGROUP_H_ */
