/* dyco — sched layer: stacks. The shared stack and the copies that let many
 * coroutines take turns on it; what the scheduler tells base about its
 * coroutines' stacks (where one left its own, which one overflowed). The
 * allocator, guards and cache are base's (base/stack.h). */
#include "base/stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/hints.h"
#include "base/thread.h"
#include "sched/internal/sched.h"

/* --- The guard setting ---------------------------------------------------- */

int dyco_schedule_setStackGuard(size_t bytes) {
  return dyco__stack_set_guard(bytes);
}

size_t dyco_schedule_getStackGuard(void) { return dyco__stack_guard(); }

/* --- The shared stack ----------------------------------------------------- */

/* The stubs that return by a jump step aside on the shared stack of the
 * thread's scheduler (base/hints.h): it is told where it is. */
static void tell_stubs(const dyco_schedule *s) {
  if (pthread_equal(s->thread, pthread_self())) {
    dyco__return_plain(s->shared.stack, s->shared.size);
  }
}

int dyco__shared_stack_init(dyco_schedule *s, size_t size) {
  int err = dyco__stack_map_ref(size, &s->shared);
  if (err == 0) {
    tell_stubs(s);
  }
  return err;
}

void dyco__shared_stack_destroy(dyco_schedule *s) {
  dyco__stack_unmap_ref(&s->shared);
  tell_stubs(s);
}

/* The bytes of a suspended coroutine, off the shared stack (save) and back
 * on (restore), by base's one copy. */
static inline int plain_copy(const dyco_schedule *s) {
  return DYCO_CONTEXT_SP_ONLY && !s->tools;
}

static char *shared_top(const dyco_schedule *s) {
  return s->shared.stack + s->shared.size;
}

/* co's own stack: [*lo, *hi). */
static void own_stack(const dyco_schedule *s, const dyco_coroutine *co,
                      char **lo, char **hi) {
  if (co->flags & DYCO__F_PRIVATE) {
    const dyco__ext *e = co->ext;
    *lo = e->stack;
    *hi = e->stack + e->stack_size;
  } else {
    *lo = s->shared.stack;
    *hi = shared_top(s);
  }
}

int dyco__co_on_own_stack(const dyco_schedule *s, const dyco_coroutine *co,
                          const void *p) {
  char *lo;
  char *hi;
  own_stack(s, co, &lo, &hi);
  return (const char *)p >= lo && (const char *)p < hi;
}

/* The lowest byte of its own stack [lo, hi) that co uses while it runs, or
 * was suspended, on a stack that is not its own: where it left its stack
 * (the runner's leave, below). Without word of that, all of it. */
static char *foreign_low(const dyco_coroutine *co, char *lo, char *hi) {
  const dyco__ext *e = co->ext;
  if (e != NULL && e->foreign != NULL) {
    char *f = (char *)dyco_context_stack_low(e->foreign);
    if (f >= lo && f < hi) {
      return f;
    }
  }
  return lo;
}

/* The lowest address of co's suspended state on the shared stack. */
static char *suspended_low(const dyco_schedule *s, const dyco_coroutine *co) {
  char *sp = (char *)co->ctx.sp;
  if (DYCO__UNLIKELY(sp < s->shared.stack || sp >= shared_top(s))) {
    /* Suspended on another stack: its own holds its frames from where it
     * left it. */
    return foreign_low(co, s->shared.stack, shared_top(s));
  }
#if DYCO_CONTEXT_SP_ONLY
  dyco_context c;
  memset(&c, 0, sizeof c);
  c.sp = co->ctx.sp;
  c.stack = s->shared.stack;
  c.stack_size = s->shared.size;
  return (char *)dyco_context_stack_low(&c);
#else
  (void)s;
  return (char *)dyco_context_stack_low(&co->ctx);
#endif
}

static int save(dyco_schedule *s, dyco_coroutine *o) {
  char *low = suspended_low(s, o);
  size_t len = (size_t)(shared_top(s) - low);
  size_t need = len;
  if (DYCO__UNLIKELY(s->tools)) {
    need += dyco_context_stack_extra(len);
  }
  if (need > o->u.saved.cap) {
    size_t cap = dyco__slab_round(need);
    char *b = (char *)dyco__slab_alloc(&s->slab, cap);
    if (b == NULL) {
      return -ENOMEM;
    }
    dyco__slab_free(&s->slab, o->u.saved.bytes, o->u.saved.cap);
    o->u.saved.bytes = b;
    o->u.saved.cap = (uint32_t)cap;
  }
  dyco__stack_copy(o->u.saved.bytes, low, len, plain_copy(s),
                   dyco_context_stack_save);
  o->u.saved.len = (uint32_t)len;
  o->flags |= DYCO__F_SAVED;
  s->saves++;
  s->save_bytes += len;
  return 0;
}

int dyco__shared_install(dyco_schedule *s, dyco_coroutine *next) {
  dyco_coroutine *o = s->occupant;
  if (o != NULL && o != next && (o->flags & DYCO__F_STARTED)) {
    int err = save(s, o);
    if (err != 0) {
      return err;
    }
  }
  if (!DYCO_CONTEXT_SP_ONLY || DYCO__UNLIKELY(s->tools)) {
    /* The previous owner's red zones must not follow the next one. */
    dyco_context_stack_reuse(s->shared.stack, s->shared.size);
  }
  if (!(next->flags & DYCO__F_STARTED)) {
    dyco__co_make_context(s, next);
  } else if (next->flags & DYCO__F_SAVED) {
    dyco__stack_copy(shared_top(s) - next->u.saved.len, next->u.saved.bytes,
                     next->u.saved.len, plain_copy(s),
                     dyco_context_stack_restore);
  }
  s->occupant = next;
  return 0;
}

void dyco__shared_forget(dyco_schedule *s, dyco_coroutine *co) {
  if (co->flags & DYCO__F_PRIVATE) {
    return;
  }
  dyco__slab_free(&s->slab, co->u.saved.bytes, co->u.saved.cap);
  co->u.saved.bytes = NULL;
  co->u.saved.len = co->u.saved.cap = 0;
  co->flags &= (uint16_t)~DYCO__F_SAVED;
}

size_t dyco__co_stack_used(dyco_schedule *s, dyco_coroutine *co) {
  char *bottom;
  char *top;
  char *low;
  own_stack(s, co, &bottom, &top);
  if (!(co->flags & DYCO__F_STARTED)) {
    return 0;
  }
  if (s->running == co) {
    low = (char *)__builtin_frame_address(0);
  } else if (!(co->flags & DYCO__F_PRIVATE) && s->occupant != co) {
    return co->u.saved.len;
  } else {
    low = (char *)co->ctx.sp;
  }
  if (low < bottom || low >= top) {
    low = foreign_low(co, bottom, top); /* running on another stack */
  }
  return (size_t)(top - low);
}

/* --- The scheduler as the thread's driver (base/thread.h) ----------------- */

#define SCHED_OF(r) \
  ((dyco_schedule *)(void *)((char *)(r) - offsetof(dyco_schedule, runner)))

/* The part of leave that runs inside a coroutine. */
static __attribute__((noinline)) int leave_stack(
    dyco_schedule *s, const struct dyco_context *from) {
  dyco_coroutine *co = s->running;
  /* From a second foreign stack: the first one's mark still holds. */
  if (!dyco__co_on_own_stack(s, co, __builtin_frame_address(0))) {
    return co->cid;
  }
  dyco__ext *e = dyco__ext_get(s, co, 1);
  if (e == NULL) {
    return -ENOMEM;
  }
  e->foreign = from;
  return co->cid;
}

static int runner_leave(dyco__runner *r, const struct dyco_context *from) {
  dyco_schedule *s = SCHED_OF(r);
  if (s->running == NULL) {
    return 0;
  }
  if (from == NULL) {
    return -EINVAL;
  }
  return leave_stack(s, from);
}

static int runner_running(dyco__runner *r) {
  dyco_schedule *s = SCHED_OF(r);
  return s->running != NULL ? s->running->cid : 0;
}

/* Every stack of a coroutine of the scheduler: the shared one, and the
 * private ones dyco made (setStack's and pools'), whose guard is recorded;
 * the caller's own memory has none. */
static int runner_overflow(dyco__runner *r, const char *addr,
                           dyco__overflow *out) {
  dyco_schedule *s = SCHED_OF(r);
  dyco_coroutine *co = s->running;
  if (co == NULL) {
    return 0;
  }
  const char *base = NULL;
  size_t size = 0;
  size_t guard = 0;
  int shared = !(co->flags & DYCO__F_PRIVATE);
  if (shared) {
    base = s->shared.stack;
    size = s->shared.size;
    guard = s->shared.guard;
  } else if (co->ext != NULL && co->ext->guard != 0) {
    base = co->ext->stack;
    size = co->ext->stack_size;
    guard = co->ext->guard;
  }
  if (base == NULL || addr >= base || (size_t)(base - addr) > guard) {
    return 0;
  }
  out->cid = co->cid;
  out->size = size;
  out->what = shared ? "the shared stack of scheduler " : "private, scheduler ";
  out->what_id = s->id;
  return 1;
}

void dyco__sched_runner_init(dyco_schedule *s) {
  s->runner.leave = runner_leave;
  s->runner.running = runner_running;
  s->runner.overflow = runner_overflow;
}
