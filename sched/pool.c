/* dyco — sched layer: coroutine pools. A pool caps how many of its
 * coroutines run at once and keeps their stacks ready between uses; the
 * mechanism is base's (base/pool.h), the coroutines and the waiting are the
 * scheduler's. */
#include "base/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched/internal/sched.h"

/* What tells a scheduler's pool from another layer's. */
static const char sched_pool_kind = 's';

typedef struct sched_pool {
  dyco_coropool pool; /* first: a dyco_coropool * points here */
  dyco_schedule *sched;
  dyco_waitq waiters;
} sched_pool;

/* cp as a scheduler's pool, or NULL. */
static sched_pool *pool_of(dyco_coropool *cp) {
  return (sched_pool *)(void *)dyco__pool_of(cp, &sched_pool_kind);
}

static void maybe_free(void *arg) {
  sched_pool *sp = (sched_pool *)arg;
  if (dyco__pool_unused(&sp->pool, sp->waiters.refs)) {
    dyco__pool_fini(&sp->pool);
    free(sp);
  }
}

dyco_coropool *dyco_coropool_create(int totalsize, size_t stacksize) {
  /* At once, before a scheduler is made and anything mapped. */
  int err = dyco__pool_check(totalsize, DYCO_COROUTINES_MAX, stacksize);
  if (err != 0) {
    errno = -err;
    return NULL;
  }
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    errno = -err;
    return NULL;
  }
  sched_pool *sp =
      (sched_pool *)dyco__pool_new(sizeof *sp, &sched_pool_kind, &s->stacks,
                                   totalsize, DYCO_COROUTINES_MAX, stacksize);
  if (sp == NULL) {
    return NULL;
  }
  sp->sched = s;
  dyco_waitq_init(&sp->waiters, NULL);
  return &sp->pool;
}

/* Waiting for a coroutine of the pool to come back: in the scheduler. */
static int can_wait(void *arg) {
  return ((sched_pool *)arg)->sched->running != NULL;
}

static int wait_return(void *arg, int timeout_ms) {
  sched_pool *sp = (sched_pool *)arg;
  intptr_t v;
  return dyco__wait_on(sp->sched, &sp->waiters, DYCO_WAIT_QUEUE, timeout_ms,
                       &v);
}

static int wake_one(void *arg) {
  return dyco_waitq_wakeOne(&((sched_pool *)arg)->waiters, 0);
}

static void close_waiters(void *arg) {
  dyco_waitq_close(&((sched_pool *)arg)->waiters, 0, maybe_free, arg);
  maybe_free(arg);
}

static const dyco__pool_waiting waiting = {can_wait, wait_return, wake_one,
                                           close_waiters};

dyco_coropool *dyco_coropool_resize(dyco_coropool *cp, int newsize) {
  sched_pool *sp = pool_of(cp);
  if (sp == NULL || sp->sched != dyco__tls_sched) {
    errno = EINVAL;
    return NULL;
  }
  return dyco__pool_resize(cp, newsize, DYCO_COROUTINES_MAX, &waiting, sp);
}

int dyco_coropool_destroy(dyco_coropool **pcp) {
  sched_pool *sp = pcp != NULL ? pool_of(*pcp) : NULL;
  if (sp == NULL || sp->sched != dyco__tls_sched) {
    return -EINVAL;
  }
  return dyco__pool_destroy(pcp, &waiting, sp);
}

int dyco_coropool_available(dyco_coropool *cp) {
  return pool_of(cp) != NULL ? dyco__pool_available(cp) : -EINVAL;
}

static int obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                  int timeout, int urgent) {
  sched_pool *sp = pool_of(cp);
  if (sp == NULL || func == NULL) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || sp->sched != s || cp->dying) {
    return -EINVAL;
  }
  int r = dyco__pool_wait_free(cp, timeout, &waiting, sp);
  if (r <= 0) {
    return r;
  }
  int err;
  dyco_coroutine *co = dyco__co_new(s, func, arg, urgent, &err);
  if (co == NULL) {
    return err;
  }
  dyco__ext *e = dyco__ext_get(s, co, 1);
  if (e == NULL) {
    dyco__co_free(s, co);
    return -ENOMEM;
  }
  char *stack;
  if (dyco__pool_take(cp, &stack) != 0) {
    dyco__co_free(s, co);
    return -ENOMEM;
  }
  e->pool = cp;
  co->flags |= DYCO__F_POOL;
  if (stack != NULL) {
    e->stack = stack;
    e->stack_size = cp->stacksize;
    e->guard = (uint32_t)cp->guard;
    co->flags |= DYCO__F_PRIVATE;
  }
  dyco__make_ready(s, co);
  return co->cid;
}

/* The seed's errors: -1, with the reason in errno. */
int dyco_coropool_obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                         int timeout) {
  return dyco__pool_seed_result(obtain(cp, func, arg, timeout, 0));
}

int dyco_coropool_obtain_urgent(dyco_coropool *cp, proc_coroutine func,
                                void *arg, int timeout) {
  return dyco__pool_seed_result(obtain(cp, func, arg, timeout, 1));
}

void dyco__pool_release(dyco_schedule *s, dyco_coroutine *co, dyco__ext *e) {
  sched_pool *sp = (sched_pool *)(void *)e->pool;
  (void)s;
  (void)co;
  dyco__pool_give_back(e->pool, e->stack);
  e->stack = NULL;
  e->guard = 0;
  if (sp->pool.dying) {
    maybe_free(sp);
  } else if (sp->waiters.head != NULL) {
    dyco_waitq_wakeOne(&sp->waiters, 0);
  }
}
