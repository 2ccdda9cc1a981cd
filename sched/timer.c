/* dyco — sched layer: timers. One binary min-heap of coroutines on their
 * deadline (base/heap.h), for sleeps and for the timeouts of every wait. */
#include <errno.h>
#include <stdlib.h>

#include "sched/internal/sched.h"

#define KEY offsetof(dyco_coroutine, deadline)
#define INDEX offsetof(dyco_coroutine, heap_index)
_Static_assert(sizeof(((dyco_coroutine *)0)->deadline) == sizeof(int64_t) &&
                   sizeof(((dyco_coroutine *)0)->heap_index) == sizeof(int32_t),
               "base/heap.h: an int64_t key (deadlines stay below 2^63 ns) "
               "and an int32_t index");

int dyco__timer_add(dyco_schedule *s, dyco_coroutine *co, uint64_t deadline) {
  co->deadline = deadline;
  return dyco__heap_push(&s->timers, co, 256, KEY, INDEX);
}

void dyco__timer_remove(dyco_schedule *s, dyco_coroutine *co) {
  dyco__heap_remove(&s->timers, co, KEY, INDEX);
}

int dyco__timers_fire(dyco_schedule *s, uint64_t now) {
  int fired = 0;
  dyco_coroutine *co;
  while ((co = (dyco_coroutine *)dyco__heap_top(&s->timers)) != NULL &&
         co->deadline <= now) {
    dyco__timer_remove(s, co);
    fired++;
    int st = __atomic_load_n(&co->state, __ATOMIC_ACQUIRE);
    if (st == DYCO__SLEEPING) {
      s->sleeping--;
      dyco__make_ready(s, co);
    } else if (st == DYCO__WAITING) {
      dyco__wait_timed_out(s, co);
    }
    /* Otherwise a waker got there first; the coroutine is on its way. */
  }
  return fired;
}

uint64_t dyco__deadline(uint64_t timeout_ms) {
  return dyco__now_ns() + timeout_ms * 1000000u;
}

int64_t dyco__timer_next(dyco_schedule *s, uint64_t now) {
  const dyco_coroutine *top =
      (const dyco_coroutine *)dyco__heap_top(&s->timers);
  if (top == NULL) {
    return -1;
  }
  uint64_t d = top->deadline;
  return d <= now ? 0 : (int64_t)(d - now);
}
