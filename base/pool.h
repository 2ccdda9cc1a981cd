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
} dyco__pool_waiting;

/* dyco__pool_resize makes it a pool of `total` (1 to max): stacks are made
 * at once when it grows, and as many waiters as may now go out are woken
 * (w, arg); when it shrinks, idle stacks go at once and the others when they
 * come back. 0, -EINVAL, -ENOMEM; unchanged on error. */
int dyco__pool_resize(dyco__pool *p, int total, int max,
                      const dyco__pool_waiting *w, void *arg);

/* dyco__pool_wait_free waits, when none may go out now, up to timeout ms
 * (-1: no limit, 0: not at all) for one to. Returns 1 when one may go out,
 * 0 when the time passed (or was 0) with none, -EAGAIN when none may and the
 * caller cannot wait, -EIDRM when the pool was destroyed meanwhile (it
 * is gone then), or the wait's error. */
int dyco__pool_wait_free(dyco__pool *p, int timeout,
                         const dyco__pool_waiting *w, void *arg);

/* dyco__pool_take lets one coroutine go out, with a stack in *stack (NULL
 * when the pool has none). 0, or -ENOMEM when no stack can be had. */
int dyco__pool_take(dyco__pool *p, char **stack);

/* dyco__pool_give_back takes a coroutine back, with its stack (NULL: none),
 * which stays ready for the next one or goes back to the cache. */
void dyco__pool_give_back(dyco__pool *p, char *stack);

/* dyco__pool_close marks the pool destroyed: nothing more may go out, its
 * idle stacks go back to the cache at once, those out when they come back. */
void dyco__pool_close(dyco__pool *p);

/* dyco__pool_fini frees the pool's bookkeeping (idle stacks go back to the
 * cache); the record itself is the caller's. */
void dyco__pool_fini(dyco__pool *p);

#endif /* DYCO_BASE_POOL_H_ */
