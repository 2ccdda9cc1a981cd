/* dyco — base layer: the pool mechanism every kind of pool shares: its
 * count, its stacks kept ready, the wait for a free one. */
#include "base/pool.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

static int keep_stack(dyco__pool *p, char *st) {
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
static int fit_stacks(dyco__pool *p) {
  if (p->stacksize == 0) {
    return 0;
  }
  int want = p->total - p->busy;
  if (want < 0) {
    want = 0;
  }
  while (p->nstacks > want) {
    dyco__stack_put(p->cache, p->stacks[--p->nstacks], p->stacksize, p->guard);
  }
  while (p->nstacks < want) {
    char *st = dyco__stack_get(p->cache, p->stacksize, p->guard);
    if (st == NULL) {
      return -ENOMEM;
    }
    if (keep_stack(p, st) != 0) {
      dyco__stack_put(p->cache, st, p->stacksize, p->guard);
      return -ENOMEM;
    }
  }
  return 0;
}

/* A pool's size: 1 to max coroutines whose stacks the address space can
 * hold. 0 or a negative errno. */
static int check_total(int total, int max, size_t stacksize, size_t guard) {
  if (total < 1 || total > max) {
    return -EINVAL;
  }
  if (stacksize != 0) {
    return dyco__stack_fits((size_t)total, stacksize, guard);
  }
  return 0;
}

/* The size of each stack of a pool asked for stacksize (0: none), and
 * whether total of them fit: 0 or a negative errno. */
static int check(int total, int max, size_t stacksize, size_t guard,
                 size_t *size) {
  *size = 0;
  int err = stacksize != 0 ? dyco__stack_size(stacksize, size) : 0;
  return err != 0 ? err : check_total(total, max, *size, guard);
}

int dyco__pool_check(int total, int max, size_t stacksize) {
  size_t size;
  return check(total, max, stacksize, dyco__stack_guard(), &size);
}

void *dyco__pool_new(size_t bytes, const void *kind, dyco__stack_cache *cache,
                     int total, int max, size_t stacksize) {
  dyco__pool *p = (dyco__pool *)calloc(1, bytes);
  if (p == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  int err = dyco__pool_init(p, kind, cache, total, max, stacksize);
  if (err != 0) {
    free(p);
    errno = -err;
    return NULL;
  }
  return p;
}

int dyco__pool_seed_result(int r) {
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

int dyco__pool_init(dyco__pool *p, const void *kind, dyco__stack_cache *cache,
                    int total, int max, size_t stacksize) {
  memset(p, 0, sizeof *p);
  size_t size;
  const size_t guard = dyco__stack_guard();
  int err = check(total, max, stacksize, guard, &size);
  if (err != 0) {
    return err;
  }
  p->kind = kind;
  p->cache = cache;
  p->stacksize = size;
  p->guard = guard;
  p->total = total;
  if (fit_stacks(p) != 0) {
    p->total = 0;
    fit_stacks(p);
    free(p->stacks);
    p->stacks = NULL;
    return -ENOMEM;
  }
  return 0;
}

dyco__pool *dyco__pool_resize(dyco__pool *p, int total, int max,
                              const dyco__pool_waiting *w, void *arg) {
  int err = check_total(total, max, p->stacksize, p->guard);
  if (err != 0) {
    errno = -err;
    return NULL;
  }
  int old = p->total;
  p->total = total;
  if (fit_stacks(p) != 0) {
    p->total = old;
    fit_stacks(p);
    errno = ENOMEM;
    return NULL;
  }
  for (int free_now = p->total - p->busy; free_now > 0; free_now--) {
    if (!w->wake_one(arg)) {
      break;
    }
  }
  return p;
}

int dyco__pool_destroy(dyco__pool **pcp, const dyco__pool_waiting *w,
                       void *arg) {
  dyco__pool *p = *pcp;
  *pcp = NULL;
  dyco__pool_close(p);
  w->close(arg);
  return 0;
}

/* ms left until deadline (ns), rounded up; 0 when it has passed. Not
 * inlined: the clock's timespec stays out of the frame of a coroutine about
 * to suspend (a shared-stack coroutine's frames are copied while it waits). */
static __attribute__((noinline)) int left_ms(uint64_t deadline) {
  uint64_t now = dyco__now_ns();
  return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

static __attribute__((noinline)) uint64_t deadline_ns(int timeout) {
  return dyco__now_ns() + (uint64_t)timeout * 1000000u;
}

int dyco__pool_wait_free_slow(dyco__pool *p, int timeout,
                              const dyco__pool_waiting *w, void *arg) {
  uint64_t deadline = timeout > 0 ? deadline_ns(timeout) : 0;
  while (p->busy >= p->total) {
    if (!w->can_wait(arg)) {
      return -EAGAIN;
    }
    if (timeout == 0) {
      return 0;
    }
    int left = -1;
    if (timeout > 0) {
      left = left_ms(deadline);
      if (left == 0) {
        return 0;
      }
    }
    int r = w->wait(arg, left);
    if (r == -EIDRM) {
      return -EIDRM; /* destroyed: p is gone */
    }
    if (r == -ETIMEDOUT) {
      return 0;
    }
    if (r < 0) {
      return r;
    }
  }
  return 1;
}

int dyco__pool_take_slow(dyco__pool *p, char **stack) {
  *stack = NULL;
  if (p->stacksize != 0) {
    if (p->nstacks == 0 && fit_stacks(p) != 0) {
      return -ENOMEM;
    }
    *stack = p->stacks[--p->nstacks];
  }
  p->busy++;
  return 0;
}

void dyco__pool_give_back_slow(dyco__pool *p, char *stack) {
  p->busy--;
  if (stack != NULL) {
    if (p->dying || p->nstacks >= p->total - p->busy ||
        keep_stack(p, stack) != 0) {
      dyco__stack_put(p->cache, stack, p->stacksize, p->guard);
    }
  }
}

void dyco__pool_close(dyco__pool *p) {
  p->dying = 1;
  p->total = 0;
  fit_stacks(p);
}

void dyco__pool_fini(dyco__pool *p) {
  p->total = 0;
  p->busy = 0;
  fit_stacks(p);
  free(p->stacks);
  p->stacks = NULL;
  p->nstacks = p->cap = 0;
}
