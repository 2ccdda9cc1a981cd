/* dyco — sync layer: what every primitive shares. Binding a local primitive
 * to its thread, the caller's identity, a per-thread random number. */
#include "sync/internal/common.h"

#include <stdio.h>

#include "sched/coroutine.h"
#include "sched/schedule.h"

__thread char dyco__sync_thread_mark __attribute__((tls_model("initial-exec")));
static __thread uint32_t random_state
    __attribute__((tls_model("initial-exec")));

void dyco__sync_base_init(dyco__sync_base *b, int flags) {
  b->spin.locked = 0;
  b->lock = (flags & DYCO_SYNC_SHARED) ? &b->spin : NULL;
  b->owner = NULL;
}

int dyco__sync_bind(dyco__sync_base *b) {
  const void *me = dyco__sync_self();
  const void *expect = NULL;
  if (__atomic_compare_exchange_n(&b->owner, &expect, me, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE)) {
    return 0;
  }
  return expect == me ? 0 : -EXDEV;
}

int dyco__sync_enter_destroy(dyco__sync_base *b, const char *what) {
  if (dyco__sync_enter(b) == 0) {
    return 0;
  }
  fprintf(stderr,
          "dyco: %s: a local primitive belongs to another thread (called from "
          "coroutine %d); not destroyed\n",
          what, dyco_schedule_coroID() > 0 ? dyco_schedule_coroID() : 0);
  return -EXDEV;
}

dyco__sync_who dyco__sync_whoami(void) {
  dyco__sync_who w;
  int cid = dyco_schedule_coroID();
  w.thread = dyco__sync_self();
  w.cid = cid > 0 ? cid : 0;
  return w;
}

int dyco__sync_in_coroutine(void) { return dyco_schedule_coroID() > 0; }

uint32_t dyco__sync_random(void) {
  uint32_t x = random_state;
  if (x == 0) {
    x = (uint32_t)(uintptr_t)dyco__sync_self() * 2654435761u | 1u;
  }
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  random_state = x;
  return x;
}
