/* dyco — sync layer: waitgroups. Members in a hash table keyed by (scheduler,
 * cid); waiters in a min-heap on their target, or on one queue for all. */
#include "sync/waitgroup.h"

#include <errno.h>
#include <stdlib.h>

#include "base/heap.h"
#include "base/hints.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sync/internal/common.h"

/* Wake values: the count done, offset past the common values. */
#define COUNT_BASE 16

enum { MEMBER = 1, DONE = 2 };

/* A coroutine waiting for a count. Heap memory: wakers never touch a
 * waiter's stack. */
typedef struct waiter {
  dyco_waitq q;
  int64_t target; /* the heap's key (base/heap.h) */
  int32_t index;  /* in the heap, -1 once taken out */
} waiter;

struct dyco_waitgroup {
  dyco__sync_base base;
  uint64_t *keys; /* open addressing; 0: empty */
  uint8_t *states;
  size_t cap; /* a power of two */
  size_t used;
  int members;
  int done;
  dyco__heap heap; /* waiters, a min-heap on target */
  dyco_waitq all;  /* waiters for every member */
  int refs;        /* waiters records out */
  int dead;
};

/* --- Members --------------------------------------------------------- */

static inline size_t hash(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return (size_t)k;
}

static size_t slot_of(const dyco_waitgroup *g, uint64_t key) {
  size_t mask = g->cap - 1;
  size_t i = hash(key) & mask;
  while (g->keys[i] != 0 && g->keys[i] != key) {
    i = (i + 1) & mask;
  }
  return i;
}

static int table_init(dyco_waitgroup *g, size_t cap) {
  g->keys = (uint64_t *)calloc(cap, sizeof *g->keys);
  g->states = (uint8_t *)calloc(cap, 1);
  if (g->keys == NULL || g->states == NULL) {
    free(g->keys);
    free(g->states);
    return -ENOMEM;
  }
  g->cap = cap;
  return 0;
}

static int table_grow(dyco_waitgroup *g) {
  uint64_t *keys = g->keys;
  uint8_t *states = g->states;
  size_t cap = g->cap;
  if (table_init(g, cap * 2) != 0) {
    g->keys = keys;
    g->states = states;
    return -ENOMEM;
  }
  for (size_t i = 0; i < cap; i++) {
    if (keys[i] != 0) {
      size_t j = slot_of(g, keys[i]);
      g->keys[j] = keys[i];
      g->states[j] = states[i];
    }
  }
  free(keys);
  free(states);
  return 0;
}

static uint64_t key_of(int cid) {
  return ((uint64_t)(uint32_t)dyco_schedule_schedID() << 32) | (uint32_t)cid;
}

/* --- Waiters by target ------------------------------------------------ */

#define KEY offsetof(waiter, target)
#define INDEX offsetof(waiter, index)

static int heap_push(dyco_waitgroup *g, waiter *w) {
  return dyco__heap_push(&g->heap, w, 8, KEY, INDEX);
}

static void heap_remove(dyco_waitgroup *g, waiter *w) {
  dyco__heap_remove(&g->heap, w, KEY, INDEX);
}

/* --- Life ------------------------------------------------------------ */

static dyco_waitgroup *create(int suggest, int flags) {
  dyco_waitgroup *g = (dyco_waitgroup *)calloc(1, sizeof *g);
  if (g == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  size_t cap = 16;
  while (suggest > 0 && cap < (size_t)suggest * 2 && cap < ((size_t)1 << 30)) {
    cap *= 2;
  }
  if (table_init(g, cap) != 0) {
    free(g);
    errno = ENOMEM;
    return NULL;
  }
  dyco__sync_base_init(&g->base, flags);
  dyco_waitq_init(&g->all, g->base.lock);
  return g;
}

dyco_waitgroup *dyco_waitgroup_create(int suggest_size) {
  return create(suggest_size, 0);
}

dyco_waitgroup *dyco_waitgroup_createShared(int suggest_size) {
  return create(suggest_size, DYCO_SYNC_SHARED);
}

static void release(dyco_waitgroup *g) {
  free(g->keys);
  free(g->states);
  dyco__heap_destroy(&g->heap);
  free(g);
}

static inline void finish(dyco_waitgroup *g) {
  int gone = g->dead && g->refs == 0 && g->all.refs == 0;
  dyco__sync_leave(&g->base);
  if (gone) {
    release(g);
  }
}

void dyco_waitgroup_destroy(dyco_waitgroup **pg) {
  if (pg == NULL || *pg == NULL) {
    return;
  }
  dyco_waitgroup *g = *pg;
  if (dyco__sync_enter_destroy(&g->base, "dyco_waitgroup_destroy") != 0) {
    return;
  }
  *pg = NULL;
  g->dead = 1;
  waiter *w;
  while ((w = (waiter *)dyco__heap_top(&g->heap)) != NULL) {
    heap_remove(g, w);
    dyco_waitq_wakeOne(&w->q, DYCO__SYNC_DESTROYED);
  }
  dyco_waitq_wakeAll(&g->all, DYCO__SYNC_DESTROYED);
  finish(g);
}

/* --- Operations ------------------------------------------------------- */

int dyco_waitgroup_add(dyco_waitgroup *g, int cid) {
  if (g == NULL) {
    return -EINVAL;
  }
  if (cid <= 0 || dyco_coroutine_getSchedCount(cid) < 0) {
    return -ESRCH;
  }
  uint64_t key = key_of(cid);
  int r = dyco__sync_enter(&g->base);
  if (r != 0) {
    return r;
  }
  size_t i = slot_of(g, key);
  if (g->keys[i] == key) {
    r = 0;
  } else if (g->members == INT32_MAX) {
    r = -ENOMEM;
  } else {
    if ((g->used + 1) * 2 > g->cap) {
      if (table_grow(g) != 0) {
        dyco__sync_leave(&g->base);
        return -ENOMEM;
      }
      i = slot_of(g, key);
    }
    g->keys[i] = key;
    g->states[i] = MEMBER;
    g->used++;
    g->members++;
    r = 1;
  }
  dyco__sync_leave(&g->base);
  return r;
}

int dyco_waitgroup_done(dyco_waitgroup *g) {
  if (g == NULL) {
    return -EINVAL;
  }
  int cid = dyco_schedule_coroID();
  if (cid <= 0) {
    return -EPERM;
  }
  uint64_t key = key_of(cid);
  int r = dyco__sync_enter(&g->base);
  if (r != 0) {
    return r;
  }
  size_t i = slot_of(g, key);
  if (g->keys[i] != key) {
    r = -ESRCH;
  } else if (g->states[i] == DONE) {
    r = -EALREADY;
  } else {
    g->states[i] = DONE;
    g->done++;
    r = 1;
    intptr_t v = COUNT_BASE + g->done;
    waiter *w;
    while ((w = (waiter *)dyco__heap_top(&g->heap)) != NULL &&
           w->target <= g->done) {
      heap_remove(g, w);
      dyco_waitq_wakeOne(&w->q, v); /* 0 when it timed out: no matter */
    }
    if (g->done == g->members && g->all.head != NULL) {
      dyco_waitq_wakeAll(&g->all, v);
    }
  }
  dyco__sync_leave(&g->base);
  return r;
}

static int outcome(int r, intptr_t v) {
  if (r != 0) {
    return r;
  }
  return v >= COUNT_BASE ? (int)(v - COUNT_BASE) : DYCO__SYNC_EDESTROYED;
}

DYCO__RETURN_BY_JUMP(int, dyco_waitgroup_wait,
                     (dyco_waitgroup * g, int target, int timeout)) {
  if (g == NULL) {
    return -EINVAL;
  }
  int r = dyco__sync_enter(&g->base);
  if (r != 0) {
    return r;
  }
  if (target <= 0 ? g->done == g->members : g->done >= target) {
    r = g->done;
    dyco__sync_leave(&g->base);
    return r;
  }
  if (timeout == 0) {
    dyco__sync_leave(&g->base);
    return -ETIMEDOUT;
  }
  intptr_t v = 0;
  if (target <= 0) {
    r = dyco_waitq_wait(&g->all, timeout, &v);
    r = outcome(r, v);
    finish(g);
    return r;
  }
  waiter *w = (waiter *)malloc(sizeof *w);
  if (w != NULL) {
    dyco_waitq_init(&w->q, g->base.lock);
    w->target = target;
    w->index = -1;
  }
  if (w == NULL || heap_push(g, w) != 0) {
    free(w);
    dyco__sync_leave(&g->base);
    return -ENOMEM;
  }
  g->refs++;
  r = dyco_waitq_wait(&w->q, timeout, &v);
  r = outcome(r, v);
  if (w->index >= 0) {
    heap_remove(g, w); /* timed out, or could not wait */
  }
  free(w);
  g->refs--;
  finish(g);
  return r;
}
