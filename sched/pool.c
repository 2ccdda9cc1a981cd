/* dyco — sched layer: coroutine pools. A pool caps how many of its
 * coroutines run at once and keeps their stacks ready between uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/internal/sched.h"

struct dyco_coropool {
  dyco_schedule *sched;
  size_t stacksize; /* 0: its coroutines use the shared stack */
  size_t guard;     /* below each of its stacks */
  int total;
  int busy;
  char **stacks; /* idle stacks */
  int nstacks;
  int cap;
  dyco_waitq waiters;
  int dying;
};

static int keep_stack(dyco_coropool *cp, char *st) {
  if (cp->nstacks == cp->cap) {
    int cap = cp->cap != 0 ? cp->cap * 2 : 16;
    char **a = (char **)realloc(cp->stacks, (size_t)cap * sizeof *a);
    if (a == NULL) {
      return -ENOMEM;
    }
    cp->stacks = a;
    cp->cap = cap;
  }
  cp->stacks[cp->nstacks++] = st;
  return 0;
}

/* Brings the idle stacks to what total allows. */
static int fit_stacks(dyco_coropool *cp) {
  dyco_schedule *s = cp->sched;
  if (cp->stacksize == 0) {
    return 0;
  }
  int want = cp->total - cp->busy;
  if (want < 0) {
    want = 0;
  }
  while (cp->nstacks > want) {
    dyco__stack_put(&s->stacks, cp->stacks[--cp->nstacks], cp->stacksize,
                    cp->guard);
  }
  while (cp->nstacks < want) {
    char *st = dyco__stack_get(&s->stacks, cp->stacksize, cp->guard);
    if (st == NULL) {
      return -ENOMEM;
    }
    if (keep_stack(cp, st) != 0) {
      dyco__stack_put(&s->stacks, st, cp->stacksize, cp->guard);
      return -ENOMEM;
    }
  }
  return 0;
}

static void maybe_free(void *p) {
  dyco_coropool *cp = (dyco_coropool *)p;
  if (cp->dying && cp->busy == 0 && cp->waiters.refs == 0) {
    free(cp->stacks);
    free(cp);
  }
}

/* A pool's size: 1 to DYCO_COROUTINES_MAX coroutines whose stacks the
 * address space can hold. 0 or a negative errno. */
static int check_total(int total, size_t stacksize, size_t guard) {
  if (total < 1 || (unsigned)total > DYCO_COROUTINES_MAX) {
    return -EINVAL;
  }
  if (stacksize != 0) {
    return dyco__stack_fits((size_t)total, stacksize, guard);
  }
  return 0;
}

dyco_coropool *dyco_coropool_create(int totalsize, size_t stacksize) {
  size_t size = 0;
  const size_t guard = dyco__stack_guard();
  int err = 0;
  if (stacksize != 0) {
    err = dyco__stack_size(stacksize, &size);
  }
  if (err == 0) {
    err = check_total(totalsize, size, guard);
  }
  if (err != 0) {
    errno = -err;
    return NULL;
  }
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    errno = -err;
    return NULL;
  }
  dyco_coropool *cp = (dyco_coropool *)calloc(1, sizeof *cp);
  if (cp == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  cp->sched = s;
  cp->stacksize = size;
  cp->guard = guard;
  cp->total = totalsize;
  dyco_waitq_init(&cp->waiters, NULL);
  if (fit_stacks(cp) != 0) {
    cp->total = 0;
    fit_stacks(cp);
    free(cp->stacks);
    free(cp);
    errno = ENOMEM;
    return NULL;
  }
  return cp;
}

dyco_coropool *dyco_coropool_resize(dyco_coropool *cp, int newsize) {
  if (cp == NULL || cp->sched != dyco__tls_sched) {
    errno = EINVAL;
    return NULL;
  }
  int err = check_total(newsize, cp->stacksize, cp->guard);
  if (err != 0) {
    errno = -err;
    return NULL;
  }
  int old = cp->total;
  cp->total = newsize;
  if (fit_stacks(cp) != 0) {
    cp->total = old;
    fit_stacks(cp);
    errno = ENOMEM;
    return NULL;
  }
  for (int free_now = cp->total - cp->busy; free_now > 0; free_now--) {
    if (!dyco_waitq_wakeOne(&cp->waiters, 0)) {
      break;
    }
  }
  return cp;
}

int dyco_coropool_destroy(dyco_coropool **pcp) {
  if (pcp == NULL || *pcp == NULL) {
    return -EINVAL;
  }
  dyco_coropool *cp = *pcp;
  if (cp->sched != dyco__tls_sched) {
    return -EINVAL;
  }
  *pcp = NULL;
  cp->dying = 1;
  cp->total = 0;
  fit_stacks(cp);
  dyco_waitq_close(&cp->waiters, -ECANCELED, maybe_free, cp);
  maybe_free(cp);
  return 0;
}

int dyco_coropool_available(dyco_coropool *cp) {
  if (cp == NULL) {
    return -EINVAL;
  }
  int n = cp->total - cp->busy;
  return n > 0 ? n : 0;
}

static int obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                  int timeout, int urgent) {
  if (cp == NULL || func == NULL) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || cp->sched != s || cp->dying) {
    return -EINVAL;
  }
  uint64_t deadline = timeout > 0 ? dyco__deadline(timeout) : 0;
  while (cp->busy >= cp->total) {
    if (s->running == NULL) {
      return -EAGAIN;
    }
    if (timeout == 0) {
      return 0;
    }
    int left = -1;
    if (timeout > 0) {
      uint64_t now = dyco__now_ns();
      if (now >= deadline) {
        return 0;
      }
      left = (int)((deadline - now + 999999) / 1000000);
    }
    intptr_t v;
    int r = dyco__wait_on(s, &cp->waiters, DYCO_WAIT_QUEUE, left, &v);
    if (r == -EIDRM) {
      return -ECANCELED; /* destroyed: cp is gone */
    }
    if (r == -ETIMEDOUT) {
      return 0;
    }
    if (r < 0) {
      return r;
    }
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
  e->pool = cp;
  co->flags |= DYCO__F_POOL;
  if (cp->stacksize != 0) {
    if (cp->nstacks == 0 && fit_stacks(cp) != 0) {
      e->pool = NULL;
      co->flags &= (uint16_t)~DYCO__F_POOL;
      dyco__co_free(s, co);
      return -ENOMEM;
    }
    e->stack = cp->stacks[--cp->nstacks];
    e->stack_size = cp->stacksize;
    e->guard = (uint32_t)cp->guard;
    co->flags |= DYCO__F_PRIVATE;
  }
  cp->busy++;
  dyco__make_ready(s, co);
  return co->cid;
}

/* The seed's errors: -1, with the reason in errno. */
static int seed_result(int r) {
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

int dyco_coropool_obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                         int timeout) {
  return seed_result(obtain(cp, func, arg, timeout, 0));
}

int dyco_coropool_obtain_urgent(dyco_coropool *cp, proc_coroutine func,
                                void *arg, int timeout) {
  return seed_result(obtain(cp, func, arg, timeout, 1));
}

void dyco__pool_release(dyco_schedule *s, dyco_coroutine *co, dyco__ext *e) {
  dyco_coropool *cp = e->pool;
  (void)co;
  cp->busy--;
  if (e->stack != NULL) {
    if (cp->dying || cp->nstacks >= cp->total - cp->busy ||
        keep_stack(cp, e->stack) != 0) {
      dyco__stack_put(&s->stacks, e->stack, e->stack_size, cp->guard);
    }
    e->stack = NULL;
    e->guard = 0;
  }
  if (cp->dying) {
    maybe_free(cp);
  } else if (cp->waiters.head != NULL) {
    dyco_waitq_wakeOne(&cp->waiters, 0);
  }
}
