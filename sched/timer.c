/* dyco — sched layer: timers. One binary min-heap of coroutines on their
 * deadline, for sleeps and for the timeouts of every wait. */
#include <errno.h>
#include <stdlib.h>

#include "sched/internal/sched.h"

static inline int before(const dyco_coroutine *a, const dyco_coroutine *b) {
  return a->deadline < b->deadline;
}

static inline void place(dyco_schedule *s, uint32_t i, dyco_coroutine *co) {
  s->heap[i] = co;
  co->heap_index = (int32_t)i;
}

static void sift_up(dyco_schedule *s, uint32_t i) {
  dyco_coroutine *co = s->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!before(co, s->heap[parent])) {
      break;
    }
    place(s, i, s->heap[parent]);
    i = parent;
  }
  place(s, i, co);
}

static void sift_down(dyco_schedule *s, uint32_t i) {
  dyco_coroutine *co = s->heap[i];
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= s->heap_len) {
      break;
    }
    if (child + 1 < s->heap_len && before(s->heap[child + 1], s->heap[child])) {
      child++;
    }
    if (!before(s->heap[child], co)) {
      break;
    }
    place(s, i, s->heap[child]);
    i = child;
  }
  place(s, i, co);
}

int dyco__timer_add(dyco_schedule *s, dyco_coroutine *co, uint64_t deadline) {
  if (s->heap_len == s->heap_cap) {
    uint32_t cap = s->heap_cap != 0 ? s->heap_cap * 2 : 256;
    dyco_coroutine **h =
        (dyco_coroutine **)realloc(s->heap, cap * sizeof(dyco_coroutine *));
    if (h == NULL) {
      return -ENOMEM;
    }
    s->heap = h;
    s->heap_cap = cap;
  }
  co->deadline = deadline;
  s->heap[s->heap_len] = co;
  sift_up(s, s->heap_len++);
  return 0;
}

void dyco__timer_remove(dyco_schedule *s, dyco_coroutine *co) {
  uint32_t i = (uint32_t)co->heap_index;
  co->heap_index = -1;
  uint32_t last = --s->heap_len;
  if (i == last) {
    return;
  }
  dyco_coroutine *moved = s->heap[last];
  place(s, i, moved);
  if (i > 0 && before(moved, s->heap[(i - 1) / 2])) {
    sift_up(s, i);
  } else {
    sift_down(s, i);
  }
}

int dyco__timers_fire(dyco_schedule *s, uint64_t now) {
  int fired = 0;
  while (s->heap_len != 0 && s->heap[0]->deadline <= now) {
    dyco_coroutine *co = s->heap[0];
    dyco__timer_remove(s, co);
    fired++;
    int st = __atomic_load_n(&co->state, __ATOMIC_ACQUIRE);
    if (st == DYCO__SLEEPING) {
      s->sleeping--;
      dyco__make_ready(s, co);
    } else if (st == DYCO__WAITING) {
      dyco__wait_timed_out(s, co);
    } else {
      /* A waker got there first; the coroutine is on its way. */
      DYCO__RACE_HIT(DYCO__RACE_TIMEOUT_LOST);
    }
  }
  return fired;
}

uint64_t dyco__deadline(uint64_t timeout_ms) {
  return dyco__now_ns() + timeout_ms * 1000000u;
}

int64_t dyco__timer_next(dyco_schedule *s, uint64_t now) {
  if (s->heap_len == 0) {
    return -1;
  }
  uint64_t d = s->heap[0]->deadline;
  return d <= now ? 0 : (int64_t)(d - now);
}
