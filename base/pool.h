/* dyco — base layer: the pool mechanism. How many coroutines a pool may have
 * out at once, the stacks it keeps ready for them, and the wait for one to
 * come back; for every kind of pool (sched's, asym's). */
#ifndef DYCO_BASE_POOL_H_
#define DYCO_BASE_POOL_H_

#include <stddef.h>

#include "base/stack.h"

/* Every pool of the seed API's type dyco_coropool (sched/pool.h,
 * asym/asymcoro.h) starts with this record: `kind` says which layer made it,
 * so that each layer's functions refuse the others' pools. Belongs to one
 * thread. */
struct dyco_coropool {
  const void *kind;         /* the address of a static of the layer's */
  dyco__stack_cache *cache; /* where its stacks come from and go back */
  size_t stacksize;         /* of each stack; 0: its coroutines have none */
  size_t guard;             /* below each of its stacks */
  int total;                /* coroutines it may have out at once */
  int busy;                 /* out now */
  int dying;                /* destroyed, waiting for what is out */
  char **stacks;            /* idle stacks, ready for the next ones */
  int nstacks;
  int cap;
};
typedef struct dyco_coropool dyco__pool;

/* dyco__pool_check says whether dyco__pool_init would accept total, max and
 * stacksize, without mapping anything: 0, -EINVAL or -ENOMEM as it. */
int dyco__pool_check(int total, int max, size_t stacksize);

/* dyco__pool_init sets up a pool of `total` coroutines (1 to max) with a
 * stack of `stacksize` bytes each (0: none; rounded up as dyco__stack_size
 * rounds) with the current guard, mapped now from `cache`. 0, or -EINVAL
 * for a total out of range or a stacksize above DYCO__STACK_SIZE_MAX,
 * -ENOMEM when the stacks cannot be had or would not fit the address space
 * (checked before anything is mapped). On error nothing is left to free. */
int dyco__pool_init(dyco__pool *p, const void *kind, dyco__stack_cache *cache,
                    int total, int max, size_t stacksize);

/* dyco__pool_new allocates a layer's pool record of `bytes` bytes, zeroed,
 * which starts with a dyco_coropool, and sets that up as dyco__pool_init
 * does. Returns it, or NULL with errno set (ENOMEM, or dyco__pool_init's
 * error); on error nothing is left to free. */
void *dyco__pool_new(size_t bytes, const void *kind, dyco__stack_cache *cache,
                     int total, int max, size_t stacksize);

/* dyco__pool_of returns cp when it is a pool of `kind` (the address its
 * layer gave dyco__pool_init), NULL when it is NULL or another layer's. */
static inline dyco__pool *dyco__pool_of(dyco__pool *cp, const void *kind) {
  return cp != NULL && cp->kind == kind ? cp : NULL;
}

/* dyco__pool_unused says whether a destroyed pool may be freed: nothing
 * out, and none of the `waiting` coroutines still on its layer's queue. */
static inline int dyco__pool_unused(const dyco__pool *p, int waiting) {
  return p->dying && p->busy == 0 && waiting == 0;
}

/* dyco__pool_seed_result turns r, a pool call's result (>= 0, or a negative
 * errno), into the seed's: r, or -1 with errno set to -r. */
int dyco__pool_seed_result(int r);

/* dyco__pool_available returns how many more coroutines may go out now. */
static inline int dyco__pool_available(const dyco__pool *p) {
  int n = p->total - p->busy;
  return n > 0 ? n : 0;
}

/* How the layer waits for a coroutine to come back. */
typedef struct dyco__pool_waiting {
  /* 1 when the caller may wait (it runs in a coroutine), 0 otherwise. */
  int (*can_wait)(void *arg);
  /* Waits at most timeout_ms (-1: no limit) to be woken by a return: 0,
   * -ETIMEDOUT, -EIDRM when the pool was destroyed meanwhile, or another
   * negative errno. */
  int (*wait)(void *arg, int timeout_ms);
  /* Wakes the first coroutine waiting, if any: 1 when one was, 0 when none
   * waits. */
  int (*wake_one)(void *arg);
  /* The pool is destroyed: wakes every coroutine waiting with -EIDRM and
   * frees the layer's record once nothing is out and none is left waiting
   * (dyco__pool_unused), at once if so already. */
  void (*close)(void *arg);
} dyco__pool_waiting;

/* dyco__pool_resize makes it a pool of `total` (1 to max): stacks are made
 * at once when it grows, and as many waiters as may now go out are woken
 * (w, arg); when it shrinks, idle stacks go at once and the others when they
 * come back. Returns p, or, as the seed's resize, NULL with errno EINVAL or
 * ENOMEM; unchanged on error. */
dyco__pool *dyco__pool_resize(dyco__pool *p, int total, int max,
                              const dyco__pool_waiting *w, void *arg);

/* dyco__pool_destroy destroys *pcp, a pool its layer has checked is its own
 * and may be destroyed by the caller: *pcp becomes NULL, nothing more may go
 * out (dyco__pool_close), and w->close(arg) wakes the waiters and frees the
 * layer's record when nothing is left. Returns 0. */
int dyco__pool_destroy(dyco__pool **pcp, const dyco__pool_waiting *w,
                       void *arg);

/* The out-of-line parts of the three calls below, for when there is
 * something to wait for, a stack to map or a list to grow. */
int dyco__pool_wait_free_slow(dyco__pool *p, int timeout,
                              const dyco__pool_waiting *w, void *arg);
int dyco__pool_take_slow(dyco__pool *p, char **stack);
void dyco__pool_give_back_slow(dyco__pool *p, char *stack);

/* dyco__pool_wait_free waits, when none may go out now, up to timeout ms
 * (-1: no limit, 0: not at all) for one to. Returns 1 when one may go out,
 * 0 when the time passed (or was 0) with none, -EAGAIN when none may and the
 * caller cannot wait, -EIDRM when the pool was destroyed meanwhile (it
 * is gone then), or the wait's error. Inline, as the next two: they are
 * most of a spawn from a pool. */
static inline int dyco__pool_wait_free(dyco__pool *p, int timeout,
                                       const dyco__pool_waiting *w, void *arg) {
  if (__builtin_expect(p->busy < p->total, 1)) {
    return 1;
  }
  return dyco__pool_wait_free_slow(p, timeout, w, arg);
}

/* dyco__pool_take lets one coroutine go out, with a stack in *stack (NULL
 * when the pool has none). 0, or -ENOMEM when no stack can be had. */
static inline int dyco__pool_take(dyco__pool *p, char **stack) {
  if (p->stacksize == 0) {
    *stack = NULL;
  } else if (__builtin_expect(p->nstacks > 0, 1)) {
    *stack = p->stacks[--p->nstacks];
  } else {
    return dyco__pool_take_slow(p, stack);
  }
  p->busy++;
  return 0;
}

/* dyco__pool_give_back takes a coroutine back, with its stack (NULL: none),
 * which stays ready for the next one or goes back to the cache. */
static inline void dyco__pool_give_back(dyco__pool *p, char *stack) {
  if (stack == NULL) {
    p->busy--;
    return;
  }
  /* Kept when the pool may still have that many out, and there is room. */
  if (__builtin_expect(!p->dying && p->nstacks < p->cap &&
                           p->nstacks < p->total - (p->busy - 1),
                       1)) {
    p->busy--;
    p->stacks[p->nstacks++] = stack;
    return;
  }
  dyco__pool_give_back_slow(p, stack);
}

/* dyco__pool_close marks the pool destroyed: nothing more may go out, its
 * idle stacks go back to the cache at once, those out when they come back. */
void dyco__pool_close(dyco__pool *p);

/* dyco__pool_fini frees the pool's bookkeeping (idle stacks go back to the
 * cache); the record itself is the caller's. */
void dyco__pool_fini(dyco__pool *p);

#endif /* DYCO_BASE_POOL_H_ */
