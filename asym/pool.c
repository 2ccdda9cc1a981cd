/* dyco — asym layer: pools of asymmetric coroutines. Their stacks are made
 * ahead, so obtaining one costs no system call; return it when done. The
 * mechanism is base's (base/pool.h), the coroutines asym's. */
#include "base/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "asym/internal/asym.h"
#include "base/list.h"
#include "sched/schedule.h"
#include "sched/wait.h"

/* What tells an asymmetric pool from another layer's. */
static const char asym_pool_kind = 'a';

struct dyco__apool {
  dyco_coropool pool; /* first: a dyco_coropool * points here */
  dyco__athread *owner;
  dyco__apool *next; /* the owner's pools */
  dyco__apool *prev;
  dyco_waitq waiters;
};

/* cp as an asymmetric pool of this thread, or NULL. */
static dyco__apool *pool_of(dyco_coropool *cp) {
  dyco__apool *p = (dyco__apool *)(void *)dyco__pool_of(cp, &asym_pool_kind);
  return p != NULL && p->owner == &dyco__athr ? p : NULL;
}

/* The thread's pools, t->pools (base/list.h): pools_push, pools_unlink. */
DYCO__HLIST(pools, dyco__athread, dyco__apool, pools, next, prev)

static void unlink_pool(dyco__apool *p) {
  pools_unlink(p->owner, p);
  p->owner->npools--;
}

static void maybe_free(void *arg) {
  dyco__apool *p = (dyco__apool *)arg;
  if (dyco__pool_unused(&p->pool, p->waiters.refs)) {
    unlink_pool(p);
    dyco__pool_fini(&p->pool);
    free(p);
  }
}

dyco_coropool *dyco_asymcpool_create(int totalsize, size_t stacksize) {
  dyco__athread *t = dyco__athread_get();
  dyco__apool *p =
      (dyco__apool *)dyco__pool_new(sizeof *p, &asym_pool_kind, &t->stacks,
                                    totalsize, DYCO_ASYMCORO_MAX, stacksize);
  if (p == NULL) {
    return NULL;
  }
  p->owner = t;
  dyco_waitq_init(&p->waiters, NULL);
  pools_push(t, p);
  t->npools++;
  return &p->pool;
}

/* Waiting for a coroutine of the pool to come back: only a scheduler
 * coroutine can. */
static int can_wait(void *arg) {
  (void)arg;
  return dyco_schedule_coroID() >= 0;
}

static int wait_return(void *arg, int timeout_ms) {
  intptr_t v;
  return dyco_waitq_wait(&((dyco__apool *)arg)->waiters, timeout_ms, &v);
}

static int wake_one(void *arg) {
  return dyco_waitq_wakeOne(&((dyco__apool *)arg)->waiters, 0);
}

static void close_waiters(void *arg) {
  dyco_waitq_close(&((dyco__apool *)arg)->waiters, 0, maybe_free, arg);
  maybe_free(arg);
}

static const dyco__pool_waiting waiting = {can_wait, wait_return, wake_one,
                                           close_waiters};

dyco_coropool *dyco_asymcpool_resize(dyco_coropool *cp, int newsize) {
  dyco__apool *p = pool_of(cp);
  if (p == NULL || cp->dying) {
    errno = EINVAL;
    return NULL;
  }
  return dyco__pool_resize(cp, newsize, DYCO_ASYMCORO_MAX, &waiting, p);
}

int dyco_asymcpool_destroy(dyco_coropool **pcp) {
  dyco__apool *p = pcp != NULL ? pool_of(*pcp) : NULL;
  if (p == NULL || p->pool.dying) {
    return -EINVAL;
  }
  return dyco__pool_destroy(pcp, &waiting, p);
}

int dyco_asymcpool_available(dyco_coropool *cp) {
  return pool_of(cp) != NULL ? dyco__pool_available(cp) : -EINVAL;
}

static int obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                  int timeout) {
  dyco__apool *p = pool_of(cp);
  if (p == NULL || cp->dying || func == NULL) {
    return -EINVAL;
  }
  dyco__athread *t = p->owner;
  int r = dyco__pool_wait_free(cp, timeout, &waiting, p);
  if (r <= 0) {
    return r;
  }
  int err;
  dyco__asym *co = dyco__asym_new(t, func, arg, &err);
  if (co == NULL) {
    return err;
  }
  char *stack;
  if (dyco__pool_take(cp, &stack) != 0) {
    dyco__asym_release(t, co);
    return -ENOMEM;
  }
  if (stack != NULL) {
    co->stack = stack;
    co->stack_size = cp->stacksize;
    co->guard = cp->guard;
    co->flags &= (uint8_t)~DYCO__AF_SHARED;
  }
  co->flags |= DYCO__AF_POOL;
  co->pool = p;
  return co->cid;
}

/* The seed's errors: -1, with the reason in errno. */
int dyco_asymcpool_obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                          int timeout) {
  return dyco__pool_seed_result(obtain(cp, func, arg, timeout));
}

void dyco__apool_release(dyco__athread *t, dyco__asym *co) {
  dyco__apool *p = co->pool;
  dyco__pool_give_back(&p->pool, co->stack);
  co->stack = NULL;
  co->guard = 0;
  co->pool = NULL;
  co->flags &= (uint8_t)~(DYCO__AF_POOL | DYCO__AF_CACHED);
  dyco__asym_release(t, co);
  if (p->pool.dying) {
    maybe_free(p);
  } else if (p->waiters.head != NULL) {
    dyco_waitq_wakeOne(&p->waiters, 0);
  }
}

void dyco_asymcpool_return(int cid) {
  dyco__asym *co = dyco__asym_find(&dyco__athr, cid);
  if (co != NULL && (co->flags & DYCO__AF_POOL)) {
    dyco_asymcoro_free(cid); /* says so when it is running */
  }
}

void dyco__apool_destroy_all(dyco__athread *t) {
  while (t->pools != NULL) {
    dyco__apool *p = t->pools;
    unlink_pool(p);
    dyco__pool_fini(&p->pool);
    free(p);
  }
}
