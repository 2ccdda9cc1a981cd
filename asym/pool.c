/* dyco — asym layer: pools of asymmetric coroutines. Their stacks are made
 * ahead, so obtaining one costs no system call; return it when done. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asym/internal/asym.h"
#include "sched/schedule.h"
#include "sched/wait.h"

/* Odd: never the low word of an aligned pointer, which is what a
 * scheduler's pool (sched/pool.h) starts with. */
#define POOL_MAGIC 0xA5C0B001u

struct dyco__apool {
  uint32_t magic;
  int dying;
  dyco__athread *owner;
  dyco__apool *next; /* the owner's pools */
  dyco__apool *prev;
  size_t stacksize; /* 0: its coroutines use the shared stack */
  size_t guard;     /* below each of its stacks */
  int total;
  int busy;
  char **stacks; /* idle stacks */
  int nstacks;
  int cap;
  dyco_waitq waiters;
};

/* cp as a pool of this thread, or NULL. */
static dyco__apool *pool_of(dyco_coropool *cp) {
  dyco__apool *p = (dyco__apool *)(void *)cp;
  if (p == NULL || p->magic != POOL_MAGIC || p->owner != &dyco__athr) {
    return NULL;
  }
  return p;
}

static int keep_stack(dyco__apool *p, char *st) {
  if (p->nstacks == p->cap) {
    int cap = p->cap != 0 ? p->cap * 2 : 16;
    char **a = (char **)realloc(p->stacks, (size_t)cap * sizeof *a);
    if (a == NULL) {
      return -ENOMEM;
    }
    p->stacks = a;
    p->cap = cap;
  }
  p->stacks[p->nstacks++] = st;
  return 0;
}

/* Brings the idle stacks to what total allows. */
static int fit_stacks(dyco__apool *p) {
  if (p->stacksize == 0) {
    return 0;
  }
  int want = p->total - p->busy;
  if (want < 0) {
    want = 0;
  }
  while (p->nstacks > want) {
    dyco__stack_put(&p->owner->stacks, p->stacks[--p->nstacks], p->stacksize,
                    p->guard);
  }
  while (p->nstacks < want) {
    char *st = dyco__stack_get(&p->owner->stacks, p->stacksize, p->guard);
    if (st == NULL) {
      return -ENOMEM;
    }
    if (keep_stack(p, st) != 0) {
      dyco__stack_put(&p->owner->stacks, st, p->stacksize, p->guard);
      return -ENOMEM;
    }
  }
  return 0;
}

static void unlink_pool(dyco__apool *p) {
  dyco__athread *t = p->owner;
  if (p->prev != NULL) {
    p->prev->next = p->next;
  } else {
    t->pools = p->next;
  }
  if (p->next != NULL) {
    p->next->prev = p->prev;
  }
  t->npools--;
  p->magic = 0;
}

static void maybe_free(void *arg) {
  dyco__apool *p = (dyco__apool *)arg;
  if (p->dying && p->busy == 0 && p->waiters.refs == 0) {
    unlink_pool(p);
    free(p->stacks);
    free(p);
  }
}

/* A pool's size: 1 to DYCO_ASYMCORO_MAX coroutines whose stacks the
 * address space can hold. 0 or a negative errno. */
static int check_total(int total, size_t stacksize, size_t guard) {
  if (total < 1 || (unsigned)total > DYCO_ASYMCORO_MAX) {
    return -EINVAL;
  }
  return stacksize != 0 ? dyco__stack_fits((size_t)total, stacksize, guard) : 0;
}

dyco_coropool *dyco_asymcpool_create(int totalsize, size_t stacksize) {
  dyco__athread *t = dyco__athread_get();
  size_t size = 0;
  const size_t guard = dyco__stack_guard();
  int err = stacksize != 0 ? dyco__stack_size(stacksize, &size) : 0;
  if (err == 0) {
    err = check_total(totalsize, size, guard);
  }
  if (err != 0) {
    errno = -err;
    return NULL;
  }
  dyco__apool *p = (dyco__apool *)calloc(1, sizeof *p);
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  p->magic = POOL_MAGIC;
  p->owner = t;
  p->stacksize = size;
  p->guard = guard;
  p->total = totalsize;
  dyco_waitq_init(&p->waiters, NULL);
  if (fit_stacks(p) != 0) {
    p->total = 0;
    fit_stacks(p);
    free(p->stacks);
    free(p);
    errno = ENOMEM;
    return NULL;
  }
  p->next = t->pools;
  if (t->pools != NULL) {
    t->pools->prev = p;
  }
  t->pools = p;
  t->npools++;
  return (dyco_coropool *)(void *)p;
}

dyco_coropool *dyco_asymcpool_resize(dyco_coropool *cp, int newsize) {
  dyco__apool *p = pool_of(cp);
  if (p == NULL || p->dying) {
    errno = EINVAL;
    return NULL;
  }
  int err = check_total(newsize, p->stacksize, p->guard);
  if (err != 0) {
    errno = -err;
    return NULL;
  }
  int old = p->total;
  p->total = newsize;
  if (fit_stacks(p) != 0) {
    p->total = old;
    fit_stacks(p);
    errno = ENOMEM;
    return NULL;
  }
  for (int free_now = p->total - p->busy; free_now > 0; free_now--) {
    if (!dyco_waitq_wakeOne(&p->waiters, 0)) {
      break;
    }
  }
  return cp;
}

int dyco_asymcpool_destroy(dyco_coropool **pcp) {
  if (pcp == NULL) {
    return -EINVAL;
  }
  dyco__apool *p = pool_of(*pcp);
  if (p == NULL || p->dying) {
    return -EINVAL;
  }
  *pcp = NULL;
  p->dying = 1;
  p->total = 0;
  fit_stacks(p);
  dyco_waitq_close(&p->waiters, -ECANCELED, maybe_free, p);
  maybe_free(p);
  return 0;
}

int dyco_asymcpool_available(dyco_coropool *cp) {
  dyco__apool *p = pool_of(cp);
  if (p == NULL) {
    return -EINVAL;
  }
  int n = p->total - p->busy;
  return n > 0 ? n : 0;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                  int timeout) {
  dyco__apool *p = pool_of(cp);
  if (p == NULL || p->dying || func == NULL) {
    return -EINVAL;
  }
  dyco__athread *t = p->owner;
  uint64_t deadline = timeout > 0 ? now_ms() + (uint64_t)timeout : 0;
  while (p->busy >= p->total) {
    if (dyco_schedule_coroID() < 0) {
      return -EAGAIN; /* only a scheduler coroutine can wait */
    }
    if (timeout == 0) {
      return 0;
    }
    int left = -1;
    if (timeout > 0) {
      uint64_t now = now_ms();
      if (now >= deadline) {
        return 0;
      }
      left = (int)(deadline - now);
    }
    intptr_t v;
    int r = dyco_waitq_wait(&p->waiters, left, &v);
    if (r == -EIDRM) {
      return -ECANCELED; /* destroyed: p is gone */
    }
    if (r == -ETIMEDOUT) {
      return 0;
    }
    if (r < 0) {
      return r;
    }
  }
  int err;
  dyco__asym *co = dyco__asym_new(t, func, arg, &err);
  if (co == NULL) {
    return err;
  }
  if (p->stacksize != 0) {
    if (p->nstacks == 0 && fit_stacks(p) != 0) {
      dyco__asym_release(t, co);
      return -ENOMEM;
    }
    co->stack = p->stacks[--p->nstacks];
    co->stack_size = p->stacksize;
    co->guard = p->guard;
    co->flags &= (uint8_t)~DYCO__AF_SHARED;
  }
  co->flags |= DYCO__AF_POOL;
  co->pool = p;
  p->busy++;
  return co->cid;
}

/* The seed's errors: -1, with the reason in errno. */
int dyco_asymcpool_obtain(dyco_coropool *cp, proc_coroutine func, void *arg,
                          int timeout) {
  int r = obtain(cp, func, arg, timeout);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

void dyco__apool_release(dyco__athread *t, dyco__asym *co) {
  dyco__apool *p = co->pool;
  p->busy--;
  if (co->stack != NULL) {
    if (p->dying || p->nstacks >= p->total - p->busy ||
        keep_stack(p, co->stack) != 0) {
      dyco__stack_put(&t->stacks, co->stack, p->stacksize, p->guard);
    }
    co->stack = NULL;
    co->guard = 0;
  }
  co->pool = NULL;
  co->flags &= (uint8_t)~(DYCO__AF_POOL | DYCO__AF_CACHED);
  dyco__asym_release(t, co);
  if (p->dying) {
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
    p->total = 0;
    p->busy = 0;
    fit_stacks(p);
    unlink_pool(p);
    free(p->stacks);
    free(p);
  }
}
