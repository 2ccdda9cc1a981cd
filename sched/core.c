/* dyco — sched layer: the core. Coroutines by slot, run queues, the switch
 * from one coroutine straight to the next, ending, and the loop's rounds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fatal.h"
#include "base/hints.h"
#include "sched/internal/sched.h"

static inline void set_state(dyco_coroutine *co, int state) {
  __atomic_store_n(&co->state, state, __ATOMIC_RELAXED);
}

static inline int get_state(const dyco_coroutine *co) {
  return __atomic_load_n(&co->state, __ATOMIC_ACQUIRE);
}

/* --- Slots: cid -> coroutine --------------------------------------------- */

dyco_coroutine *dyco__co_find(dyco_schedule *s, int cid) {
  if (s == NULL || cid <= 0) {
    return NULL;
  }
  dyco_coroutine *co = (dyco_coroutine *)dyco__slots_get(&s->slots, cid);
  return co != NULL && co->cid == cid ? co : NULL;
}

/* --- Ext records ------------------------------------------------------------
 */

dyco__ext *dyco__ext_new(dyco_schedule *s, dyco_coroutine *co) {
  dyco__ext *e = (dyco__ext *)dyco__slab_alloc(&s->slab, sizeof *e);
  if (e == NULL) {
    return NULL;
  }
  /* Field by field: a memset of this size is a `rep stos` on x86_64,
   * whose start-up cost was most of a spawn from a pool. */
  e->udata = NULL;
  e->locals = NULL;
  e->nlocals = 0;
  e->guard = 0;
  e->stack = NULL;
  e->stack_size = 0;
  e->pool = NULL;
  e->foreign = NULL;
  e->tools = NULL;
  e->limit = 0;
  e->slice_start = 0;
  e->slice_count = 0;
  co->ext = e;
  return e;
}

void dyco__ext_free(dyco_schedule *s, dyco_coroutine *co) {
  dyco__ext *e = co->ext;
  if (e == NULL) {
    return;
  }
  if (e->locals != NULL) {
    free(e->locals);
  }
  dyco__slab_free(&s->slab, e, sizeof *e);
  co->ext = NULL;
}

/* --- Run queues ------------------------------------------------------------
 */

static inline void runq_append(dyco__runq *to, dyco__runq *from) {
  if (from->head == NULL) {
    return;
  }
  if (to->tail != NULL) {
    to->tail->run_next = from->head;
  } else {
    to->head = from->head;
  }
  to->tail = from->tail;
  from->head = from->tail = NULL;
}

/* The spawns waiting for their turn, s->spawn_head to s->spawn_tail
 * (base/list.h): spawnq_push, spawnq_pop, spawnq_free_all. */
DYCO__SQUEUE(spawnq, dyco_schedule, dyco__inbox_item, spawn_head, spawn_tail,
             next)
DYCO__SCHAIN(spawnq, dyco__inbox_item, next)

/* --- Creating --------------------------------------------------------------
 */

#if DYCO_CONTEXT_SP_ONLY
/* Under a tool found at run time: the record the tool keeps of co's
 * context, made before it can be needed. 0 or -ENOMEM. Out of line: the
 * spawn path stays as it is without a tool. */
static __attribute__((noinline)) int tools_record_new(dyco_schedule *s,
                                                      dyco_coroutine *co) {
  dyco__ext *e = dyco__ext_get(s, co, 1);
  if (e == NULL) {
    return -ENOMEM;
  }
  dyco_context *rec =
      (dyco_context *)dyco__slab_alloc(&s->slab, sizeof(dyco_context));
  if (rec == NULL) {
    return -ENOMEM;
  }
  memset(rec, 0, sizeof *rec);
  e->tools = rec;
  return 0;
}

/* co's context made in its record (see tools_record_new). */
static __attribute__((noinline)) int tools_make(dyco_coroutine *co, char *stack,
                                                size_t size,
                                                dyco_context_fn fn) {
  dyco_context *rec = co->ext->tools;
  int err = dyco_context_make_modes(rec, stack, size, fn, co, &co->start_modes);
  co->ctx.sp = rec->sp;
  return err;
}
#endif

dyco_coroutine *dyco__co_new(dyco_schedule *s, proc_coroutine func, void *arg,
                             int urgent, int *err) {
  dyco_coroutine *co =
      (dyco_coroutine *)dyco__slab_alloc(&s->slab, sizeof(dyco_coroutine));
  if (co == NULL) {
    *err = -ENOMEM;
    return NULL;
  }
  int32_t cid = dyco__slots_take(&s->slots, co);
  if (cid < 0) {
    dyco__slab_free(&s->slab, co, sizeof *co);
    *err = cid;
    return NULL;
  }
  co->cid = cid;
  /* Every field, without a memset (this is the spawn path). */
#if DYCO_CONTEXT_SP_ONLY
  co->ctx.sp = NULL;
#else
  memset(&co->ctx, 0, sizeof co->ctx);
#endif
  co->run_next = NULL;
  co->sched = s;
  co->state = DYCO__NEW;
  co->flags = urgent ? DYCO__F_URGENT : 0;
  co->wait_kind = DYCO_WAIT_NONE;
  co->intr = 0;
  co->sched_count = 0;
  co->ext = NULL;
  co->node.next = co->node.prev = NULL;
  co->node.qtag = 0;
  /* Like a thread's (C11 7.6), a coroutine's floating-point modes start as
   * its creator's: taken now, not at its first run, when whoever runs
   * then would lend it theirs. */
  dyco_context_fpmodes_get(&co->start_modes);
  co->wake = 0;
  co->heap_index = -1;
  co->intr_mark = 0;
  co->u.start.func = func;
  co->u.start.arg = arg;
#if DYCO_CONTEXT_SP_ONLY
  if (DYCO__UNLIKELY(s->tools) && tools_record_new(s, co) != 0) {
    dyco__ext_free(s, co);
    dyco__slots_give_back(&s->slots, co->cid);
    dyco__slab_free(&s->slab, co, sizeof *co);
    *err = -ENOMEM;
    return NULL;
  }
#endif
  s->count++;
  s->created++;
  return co;
}

/* --- Switching ---------------------------------------------------------------
 *
 * A coroutine that gives up the CPU switches straight to the next one when
 * it can: when the next one has a private stack, or is the shared stack's
 * current owner, or when the leaving one is not on the shared stack itself
 * (then it can copy the shared stack's owner out and the next one in before
 * it leaves). Otherwise it switches to the loop (on the thread's own stack),
 * which does the copying. Nothing here makes a system call. */

#if DYCO_CONTEXT_SP_ONLY
/* Under a tool found at run time: what the tool knows of a context, the
 * loop's or a coroutine's (whose ctx is its first member). */
static dyco_context *tools_record(dyco_schedule *s, dyco__ctx *c) {
  if (c == &s->loop) {
    return &s->loop_tools;
  }
  return ((dyco_coroutine *)c)->ext->tools;
}

static __attribute__((noinline)) void tools_switch(dyco_schedule *s,
                                                   dyco__ctx *from,
                                                   dyco__ctx *to) {
  dyco_context_switch_tools(&from->sp, &to->sp, NULL, tools_record(s, from),
                            tools_record(s, to));
}
#endif

/* How a switch leaves (a constant where it matters): by `ret` for the
 * common case, where every coroutine is suspended at the same call and the
 * return predictor guesses right, or by an indirect jump for a switch into
 * a coroutine that has not started (its trampoline is never where the
 * return predictor points) or out of one that has ended (its exit never
 * returns to its caller): there the jump's single target is predicted.
 * Measured: create+run+end 46 -> 33 ns from a pool, 48 -> 37 on the shared
 * stack (sched_benchmark, Intel Xeon, 2026-12-01). A coroutine that has
 * ended saves nothing (dyco_context_resume_sp): on AMD cores reading MXCSR
 * alone takes about 4 ns. */
enum { SWITCH_RET, SWITCH_JUMP, SWITCH_END };

static inline void ctx_switch_how(dyco_schedule *s, dyco__ctx *from,
                                  dyco__ctx *to, int how) {
#if DYCO_CONTEXT_SP_ONLY
  if (DYCO__UNLIKELY(s->tools)) {
    tools_switch(s, from, to);
    return;
  }
  if (how == SWITCH_END) {
    dyco_context_resume_sp(&to->sp, NULL);
  } else if (how == SWITCH_JUMP) {
    dyco_context_switch_sp_jump(&from->sp, &to->sp, NULL);
  } else {
    dyco_context_switch_sp(&from->sp, &to->sp, NULL);
  }
#else
  (void)s;
  (void)how;
  dyco_context_switch(from, to, NULL);
#endif
}

static inline void ctx_switch(dyco_schedule *s, dyco__ctx *from,
                              dyco__ctx *to) {
  ctx_switch_how(s, from, to, SWITCH_RET);
}

/* Whatever the context that just got the CPU must do first: free the
 * coroutine that ended with the switch (its stack was in use until then). */
static inline void after_switch(dyco_schedule *s) {
  if (DYCO__UNLIKELY(s->zombie != NULL)) {
    dyco_coroutine *z = s->zombie;
    s->zombie = NULL;
    dyco__co_free(s, z);
  }
}

static inline dyco_coroutine *pick_next_queued(dyco_schedule *s) {
  /* stop and abort set the budget to 0 too: one test. */
  if (DYCO__UNLIKELY(s->budget <= 0)) {
    return NULL;
  }
  dyco_coroutine *co = dyco__runq_pop(&s->urgent);
  if (co == NULL) {
    co = dyco__runq_pop(&s->normal);
  }
  if (co != NULL) {
    s->budget--;
    /* With many coroutines, each one's stack and struct have left the
     * cache by its next turn, and a switch would wait for them line by
     * line. The queues say who comes next: fetch ahead. The one after this
     * one (now at a queue's head) had
     * its struct fetched on the previous turn, so its saved stack pointer is
     * at hand: fetch the two lines above it (on x86_64 all the switch
     * restores, return address included; more lines cost more than they
     * saved, measured with 1,000 and 10,000 coroutines), and the struct of
     * the one after. */
    dyco_coroutine *after =
        s->urgent.head != NULL ? s->urgent.head : s->normal.head;
    if (after != NULL) {
      const char *sp = (const char *)after->ctx.sp;
      __builtin_prefetch(sp);
      __builtin_prefetch(sp + 64);
      __builtin_prefetch(after->run_next);
    }
  }
  return co;
}

/* The queues of this round are empty. When the loop would find nothing to
 * do between rounds but move the later queues forward (no other thread's
 * message, no timer, no fd waited on, no spawn to retry, no stop), start
 * the next round here, so that the running coroutine switches straight to
 * the next one instead of through the loop: the common case of coroutines
 * that only yield to each other. The round's budget is not renewed, so the
 * loop still runs every so many picks. Out of line: rare per yield when
 * many are ready, and it keeps pick_next small. */
static __attribute__((noinline)) dyco_coroutine *next_round(dyco_schedule *s) {
  if ((s->urgent_later.head == NULL && s->normal_later.head == NULL) ||
      s->timers.len != 0 || s->fd_waiters != 0 || s->spawn_head != NULL ||
      s->stop || s->aborting ||
      __atomic_load_n(&s->inbox, __ATOMIC_RELAXED) != NULL) {
    return NULL;
  }
  runq_append(&s->urgent, &s->urgent_later);
  runq_append(&s->normal, &s->normal_later);
  /* The budget goes on: the loop still comes every so many picks. */
  return pick_next_queued(s);
}

static inline dyco_coroutine *pick_next(dyco_schedule *s) {
  dyco_coroutine *co = pick_next_queued(s);
  if (DYCO__UNLIKELY(co == NULL) && s->budget > 0) {
    co = next_round(s);
  }
  return co;
}

/* Readies `next` to be switched to from a context that is off the shared
 * stack (or when next does not need it). 0, or -ENOMEM. */
static int prepare(dyco_schedule *s, dyco_coroutine *next) {
  if (next->flags & DYCO__F_PRIVATE) {
    if (!(next->flags & DYCO__F_STARTED)) {
      dyco__co_make_context(s, next);
    }
    return 0;
  }
  if (s->occupant == next) {
    return 0;
  }
  return dyco__shared_install(s, next);
}

static inline __attribute__((always_inline)) void resume_direct(
    dyco_schedule *s, dyco_coroutine *self, dyco_coroutine *next, int how) {
  s->running = next;
  next->sched_count++;
  ctx_switch_how(s, &self->ctx, &next->ctx, how);
  after_switch(s);
}

/* With the assembly switch, a coroutine on the shared stack hands the
 * stack to the next one in one switch (dyco_context_switch_sp_via): the
 * copies run on the thread's stack below the loop's frames (nothing is
 * live there while a coroutine runs), and the next coroutine is resumed
 * by the `ret` the return predictor expects (it was suspended by the same
 * call). Through the loop, both switches' `ret`s were mispredicted. */
#if DYCO_CONTEXT_VIA_ONE_SWITCH
#define SHARED_VIA 1
/* Below the loop's saved stack pointer: past its red zone, and the room
 * the copies (a slab allocation at worst) may take. */
#define VIA_GAP 256
#define VIA_ROOM (64 * 1024)

/* Runs on the loop's stack: the shared stack becomes s->running's. Where
 * to go: the next coroutine, or when the leaving one's frames cannot be
 * saved (no memory), the loop, which tries again in a later round. */
static void **shared_move(void *arg) {
  dyco_schedule *s = (dyco_schedule *)arg;
  dyco_coroutine *next = s->running;
  if (DYCO__LIKELY(dyco__shared_install(s, next) == 0)) {
    return &next->ctx.sp;
  }
  next->sched_count--;
  s->handoff = next;
  s->running = NULL;
  return &s->loop.sp;
}
/* Apart, so that the private stacks' path through switch_out stays as
 * short as it was (yield among 100 measured 4 % slower with this inline). */
static __attribute__((noinline)) void shared_via(dyco_schedule *s,
                                                 dyco_coroutine *self,
                                                 dyco_coroutine *next) {
  s->running = next;
  next->sched_count++;
  char *lo = (char *)s->loop.sp - VIA_GAP - VIA_ROOM;
  dyco_context_switch_sp_via(&self->ctx.sp, lo, VIA_ROOM, shared_move, s);
  after_switch(s);
}
#else
#define SHARED_VIA 0
#endif

/* `how`: SWITCH_RET, or SWITCH_END when self has ended (dyco__co_exit) and
 * leaves saving nothing. */
static inline __attribute__((always_inline)) void switch_to_how(
    dyco_schedule *s, dyco_coroutine *self, dyco_coroutine *next, int how) {
  if (DYCO__LIKELY(next != NULL)) {
    if (DYCO__UNLIKELY(next == self)) {
      /* It yielded with no one else ready: it goes on, no switch. */
      s->running = self;
      self->sched_count++;
      return;
    }
    if (next->flags & DYCO__F_PRIVATE) {
      if (DYCO__UNLIKELY(!(next->flags & DYCO__F_STARTED))) {
        dyco__co_make_context(s, next);
      }
      resume_direct(s, self, next, how);
      return;
    }
    if (s->occupant == next || ((self->flags & DYCO__F_PRIVATE) &&
                                dyco__shared_install(s, next) == 0)) {
      resume_direct(s, self, next, how);
      return;
    }
#if SHARED_VIA
    if (how != SWITCH_END && !(self->flags & DYCO__F_PRIVATE) &&
        DYCO__LIKELY(!s->tools)) {
      shared_via(s, self, next);
      return;
    }
#endif
  }
  s->handoff = next;
  s->running = NULL;
  ctx_switch_how(s, &self->ctx, &s->loop, how);
  after_switch(s);
}

static inline __attribute__((always_inline)) void switch_out_how(
    dyco_schedule *s, dyco_coroutine *self, int how) {
  switch_to_how(s, self, pick_next(s), how);
}

static inline __attribute__((always_inline)) void switch_out(
    dyco_schedule *s, dyco_coroutine *self) {
  switch_out_how(s, self, SWITCH_RET);
}

void dyco__switch_out(dyco_schedule *s, dyco_coroutine *self) {
  switch_out(s, self);
}

/* Yield and sleep live here rather than with the other coroutine calls:
 * the hottest paths, with the switch inlined into them (for sleep that
 * also means a smaller stack to save while it sleeps).
 * dyco_coroutine_yield goes back to its caller by a jump on x86_64 when
 * the return predictor would miss (base/hints.h): when two coroutines
 * yielding from two places take turns, the `ret` to the caller missed
 * every time (2 ready: 18.6 -> 11.2 ns, docs/sched.md). */
DYCO__RETURN_BY_JUMP(int, dyco_coroutine_yield, (void)) {
  dyco_schedule *s = dyco__tls_sched;
  if (DYCO__UNLIKELY(s == NULL || s->running == NULL)) {
    return -EPERM;
  }
  dyco_coroutine *co = s->running;
  set_state(co, DYCO__READY);
  /* Behind everyone else of this round: back in the next one. */
  dyco__runq_push(
      co->flags & DYCO__F_URGENT ? &s->urgent_later : &s->normal_later, co);
  switch_out(s, co);
  set_state(co, DYCO__RUNNING);
  return 0;
}

/* The deadline of a sleep of co until `deadline` once its cancellation and
 * its own deadline are seen to; 0 when it must not sleep. Apart, so that the
 * sleep's frame, which every sleeping coroutine keeps on its stack (and in
 * its shared-stack copy), holds no variable whose address is taken. */
static __attribute__((noinline)) uint64_t sleep_deadline(dyco_coroutine *co,
                                                         uint64_t deadline) {
  return dyco__intr_enter(co, &deadline) != 0 ? 0 : deadline;
}

/* Where a coroutine that leaves without being queued (a sleep) goes: what
 * switch_out decides, without the switch. Returns the two contexts to
 * switch between (equal when there is no switch to make). It repeats
 * switch_out's decision, and a change to one is a change to both: written
 * as one inline decision returning this pair, used by both, the wait-queue
 * wake-up measured 10-15 % slower (sched_benchmark, 2026-12-01), so the
 * hot path keeps its own shape. */
typedef struct park_pair {
  dyco__ctx *from;
  dyco__ctx *to;
} park_pair;

static __attribute__((noinline)) park_pair park_target(dyco_schedule *s,
                                                       dyco_coroutine *self) {
  park_pair p = {&self->ctx, &s->loop};
  dyco_coroutine *next = pick_next(s);
  if (DYCO__LIKELY(next != NULL)) {
    if (DYCO__UNLIKELY(next == self)) {
      s->running = self;
      self->sched_count++;
      p.to = p.from;
      return p;
    }
    if ((next->flags & DYCO__F_PRIVATE) || s->occupant == next ||
        ((self->flags & DYCO__F_PRIVATE) &&
         dyco__shared_install(s, next) == 0)) {
      if ((next->flags & DYCO__F_PRIVATE) &&
          DYCO__UNLIKELY(!(next->flags & DYCO__F_STARTED))) {
        dyco__co_make_context(s, next);
      }
      s->running = next;
      next->sched_count++;
      p.to = &next->ctx;
      return p;
    }
  }
  s->handoff = next;
  s->running = NULL;
  return p;
}

/* A sleeper back on the CPU: its state again. */
static __attribute__((noinline)) void sleep_resumed(void) {
  dyco_schedule *s = dyco__tls_sched;
  after_switch(s);
  dyco_coroutine *co = s->running;
  co->wait_kind = DYCO_WAIT_NONE;
  set_state(co, DYCO__RUNNING);
}

/* The sleep itself, once co is in the timer heap. Apart and reached by a
 * tail call; the switch is decided by park_target, and nothing is kept in
 * a register across either call (the scheduler and the coroutine are read
 * again after the switch): the frame a sleeping coroutine keeps on its
 * stack (and in its shared-stack copy) is a return address and a frame
 * pointer, without saved registers. */
static __attribute__((noinline)) void sleep_switch(dyco_schedule *s,
                                                   dyco_coroutine *co) {
  set_state(co, DYCO__SLEEPING);
  co->wait_kind = DYCO_WAIT_SLEEP;
  s->sleeping++;
  park_pair p = park_target(s, co);
  if (DYCO__LIKELY(p.from != p.to)) {
    ctx_switch(dyco__tls_sched, p.from, p.to);
  }
  sleep_resumed(); /* a tail call too */
}

void dyco_coroutine_sleep(uint32_t msecs) {
  dyco_schedule *s = dyco__tls_sched;
  if (DYCO__UNLIKELY(s == NULL || s->running == NULL)) {
    dyco__sleep_thread(msecs);
    return;
  }
  if (msecs == 0) {
    dyco_coroutine_yield();
    return;
  }
  dyco_coroutine *co = s->running;
  uint64_t deadline = dyco__deadline(msecs);
  if (DYCO__UNLIKELY(co->intr != 0)) {
    deadline = sleep_deadline(co, deadline);
    if (deadline == 0) {
      return; /* cancelled, or past its deadline: no sleep */
    }
  }
  if (DYCO__UNLIKELY(dyco__timer_add(s, co, deadline) != 0)) {
    dyco_coroutine_yield(); /* no memory for a timer: at least let go */
    return;
  }
  sleep_switch(s, co); /* a tail call: this frame is gone while it sleeps */
}

/* The end of co_main: the running coroutine is done. Apart (and reading
 * the scheduler again) so that co_main keeps nothing in a register across
 * the coroutine's function, whose saving would cost every coroutine's stack
 * (and shared-stack copy) a word. */
static __attribute__((noinline)) void co_end(void) {
  dyco_schedule *s = dyco__tls_sched;
  dyco__co_exit(s, s->running);
}

/* co_main lies alone in a section of its own, whose bounds the linker marks
 * (__start_ and __stop_ of a section named as a C identifier): a return
 * address is inside co_main exactly when it lies between them, however the
 * compiler laid out this file. (Until 2026-12-03 a backtrace took any
 * address less than 512 bytes past co_main's start as in it: in an
 * unoptimised i386 build with resume_direct forced inline, shared_via came
 * 342 bytes after it, and the walk of a coroutine that had switched
 * through shared_via stopped there, with no frame of its own.) */
#define CO_MAIN_SECTION "dyco_co_main"
extern const char __start_dyco_co_main[] __attribute__((visibility("hidden")));
extern const char __stop_dyco_co_main[] __attribute__((visibility("hidden")));

/* Every coroutine starts here, on its own stack. Its frame stays under
 * every frame the coroutine ever has, in every saved copy of its stack: it
 * keeps nothing across a call (the scheduler and the coroutine are read
 * again after each), so that the frame is the return address and the
 * frame pointer. */
__attribute__((section(CO_MAIN_SECTION))) static void co_main(void *arg) {
  after_switch(((dyco_coroutine *)arg)->sched);
  dyco_coroutine *co = dyco__tls_sched->running;
  proc_coroutine func = co->u.start.func;
  void *farg = co->u.start.arg;
  co->u.saved.bytes = NULL;
  co->u.saved.len = 0;
  co->u.saved.cap = 0;
  set_state(co, DYCO__RUNNING);
  func(farg);
  co_end();
}

int dyco__in_co_main(uintptr_t pc) {
  return pc > (uintptr_t)__start_dyco_co_main &&
         pc <= (uintptr_t)__stop_dyco_co_main;
}

void dyco__co_make_context(dyco_schedule *s, dyco_coroutine *co) {
  char *stack;
  size_t size;
  if (co->flags & DYCO__F_PRIVATE) {
    dyco__ext *e = dyco__ext_get(s, co, 0);
    stack = e->stack;
    size = e->stack_size;
    /* Stacks from the cache sit at the same offsets modulo the page and
     * far beyond: their tops would all fall in the same cache sets. Start
     * each a few cache lines lower ("stack colouring"): one of up to 64
     * offsets, 64 bytes apart, spread evenly, taking at most a 16th of the
     * stack and never leaving less than the minimum. (Until 2026-12-01 the
     * offsets that took more than a 16th fell back to 0: with 16 KiB
     * stacks half of them started at the same line, and a yield among
     * 1,000 ready ones cost 8.0 ns instead of 5.9, sched_benchmark, Intel
     * Xeon.) The offset comes from the stack's address, not from the
     * coroutine: a stack the cache hands out again keeps its offset, so its
     * users touch the same pages (coloured by coroutine, a reused stack's
     * resident pages crept down as users with larger offsets came by: the
     * soak's RSS drift). */
    if (e->guard != 0) {
      uint32_t page = (uint32_t)((uintptr_t)stack >> 12);
      size_t colors = size / (16 * 64);
      if (colors > 64) {
        colors = 64;
      }
      size_t color =
          (size_t)(((uint64_t)(page * 0x9E3779B1u) * colors) >> 32) * 64u;
      if (size - color >= DYCO_CONTEXT_STACK_MIN) {
        size -= color;
      }
    }
  } else {
    stack = s->shared.stack;
    size = s->shared.size;
  }
#if DYCO_CONTEXT_SP_ONLY
  int err;
  if (DYCO__UNLIKELY(s->tools)) {
    err = tools_make(co, stack, size, co_main);
  } else {
    dyco_context made;
    err = dyco_context_make_modes(&made, stack, size, co_main, co,
                                  &co->start_modes);
    co->ctx.sp = made.sp;
  }
#else
  int err = dyco_context_make_modes(&co->ctx, stack, size, co_main, co,
                                    &co->start_modes);
#endif
  if (DYCO__UNLIKELY(err != 0)) {
    /* setStack and the pools accept only stacks that hold the minimum:
     * running on this one would corrupt memory. */
    dyco__fatal(
        "coroutine %d cannot start on its %zu-byte stack at %p (scheduler "
        "%d): %s",
        co->cid, size, (void *)stack, s->id, strerror(-err));
  }
  co->flags |= DYCO__F_STARTED;
}

/* --- Ending -------------------------------------------------------------- */

/* A coroutine that ends on the shared stack hands it straight to the next
 * one when that one has not started (a server spawning one per request on
 * the default stack), instead of going through the loop, which resumed and
 * then saved itself in between (two switches and a round of the loop for
 * one). The next one's first frame is made at the shared stack's top,
 * where the ending one's first frames lie: all dead, as this coroutine
 * never returns, but the frames that do the making must lie below the
 * bytes made. dyco__co_exit leaves room (an alloca of more than any first
 * frame) and calls start_fresh, which never returns: everything live from
 * then on is below the room. Only with the assembly switch (a ucontext
 * context is made elsewhere) and when no tool watches the stacks. */
#if DYCO_CONTEXT_VIA_ONE_SWITCH
#define END_INTO_FRESH 1
#define FRESH_ROOM (DYCO_CONTEXT_FRAME_MAX + 64)
/* The room and the making take about 600 bytes more than the switch to the
 * loop: a coroutine that ends this near the bottom of the stack (it used
 * nearly all of it) goes through the loop, as before. */
#define FRESH_NEAR_BOTTOM 4096

static __attribute__((noinline, noreturn)) void start_fresh(
    dyco_schedule *s, dyco_coroutine *self, dyco_coroutine *next) {
  /* What dyco__shared_install does for a coroutine not started, when the
   * stack's owner has nothing to save (it ended): written here, as the
   * call into it measured 2 ns more a spawn (29.5 -> 31.7, Zen 4). */
  s->occupant = next;
  dyco__co_make_context(s, next);
  resume_direct(s, self, next, SWITCH_END);
  __builtin_unreachable();
}
#else
#define END_INTO_FRESH 0
#endif

void dyco__co_exit(dyco_schedule *s, dyco_coroutine *co) {
  dyco__ext *e = dyco__ext_get(s, co, 0);
  if (e != NULL && e->locals != NULL) {
    dyco__locals_destroy(e);
  }
  set_state(co, DYCO__KILLED);
  s->zombie = co;
  dyco_coroutine *next = pick_next(s);
#if END_INTO_FRESH
  if (next != NULL && s->occupant == co &&
      !(next->flags & (DYCO__F_PRIVATE | DYCO__F_STARTED)) &&
      DYCO__LIKELY(!s->tools) &&
      (uintptr_t)__builtin_frame_address(0) - (uintptr_t)s->shared.stack >
          FRESH_NEAR_BOTTOM) {
    void *room = __builtin_alloca(FRESH_ROOM);
    __asm__ volatile("" : : "r"(room) : "memory");
    start_fresh(s, co, next);
  }
#endif
  switch_to_how(s, co, next, SWITCH_END);
  /* Nothing switches back to a zombie. */
  dyco__fatal("coroutine %d resumed after it ended", co->cid);
}

void dyco__co_free(dyco_schedule *s, dyco_coroutine *co) {
  if (co->heap_index >= 0) {
    dyco__timer_remove(s, co);
  }
  dyco__ext *e = dyco__ext_get(s, co, 0);
  if (e != NULL) {
    if (e->locals != NULL) {
      dyco__locals_destroy(e);
    }
    if (e->tools != NULL) {
      dyco_context_destroy(e->tools);
      dyco__slab_free(&s->slab, e->tools, sizeof *e->tools);
      e->tools = NULL;
    }
    if (co->flags & DYCO__F_POOL) {
      dyco__pool_release(s, co, e);
    } else if (e->stack != NULL && e->guard != 0) {
      dyco__stack_put(&s->stacks, e->stack, e->stack_size, e->guard);
    }
    dyco__ext_free(s, co);
  }
  if (s->occupant == co) {
    s->occupant = NULL;
  }
  if (co->flags & DYCO__F_STARTED) {
    dyco__shared_forget(s, co);
#if !DYCO_CONTEXT_SP_ONLY
    dyco_context_destroy(&co->ctx);
#endif
  }
  dyco__slots_give_back(&s->slots, co->cid);
  s->retired_resumes += co->sched_count;
  dyco__slab_free(&s->slab, co, sizeof *co);
  s->count--;
  s->finished++;
}

/* --- The loop ------------------------------------------------------------ */

__attribute__((visibility("default"))) __thread int dyco__test_spawn_failures;

/* How often a spawn that could not be created is tried again while the
 * scheduler has nothing else to do: 1 ms. */
#define SPAWN_RETRY_NS 1000000

/* Creates the coroutine of a spawn. 0, or why it cannot now. */
static int spawn_create(dyco_schedule *s, const dyco__inbox_item *it) {
  if (DYCO__UNLIKELY(dyco__test_spawn_failures > 0)) {
    dyco__test_spawn_failures--;
    return -ENOMEM;
  }
  int err;
  dyco_coroutine *co = dyco__co_new(s, it->func, it->arg, 0, &err);
  if (co == NULL) {
    return err;
  }
  dyco__make_ready(s, co);
  return 0;
}

/* Spawns that could not be created before, oldest first, until one still
 * cannot. */
static __attribute__((noinline)) void spawn_retry(dyco_schedule *s) {
  dyco__inbox_item *it;
  while ((it = s->spawn_head) != NULL && spawn_create(s, it) == 0) {
    free(spawnq_pop(s));
  }
}

static void inbox_drain(dyco_schedule *s) {
  if (DYCO__UNLIKELY(s->spawn_head != NULL)) {
    spawn_retry(s);
  }
  if (__atomic_load_n(&s->inbox, __ATOMIC_RELAXED) == NULL) {
    return;
  }
  dyco__inbox_item *list =
      __atomic_exchange_n(&s->inbox, NULL, __ATOMIC_ACQUIRE);
  /* The stack came newest first: reverse it to keep the senders' order. */
  dyco__inbox_item *fifo = NULL;
  while (list != NULL) {
    dyco__inbox_item *next = list->next;
    list->next = fifo;
    fifo = list;
    list = next;
  }
  while (fifo != NULL) {
    dyco__inbox_item *it = fifo;
    fifo = it->next;
    if (it->co != NULL) {
      dyco__make_ready(s, it->co);
      __atomic_fetch_sub(&s->pending_wakes, 1, __ATOMIC_RELEASE);
    } else if (it->func == NULL && it->fd == DYCO__INBOX_CANCEL) {
      dyco__cancel_here(s, (int)it->gen);
    } else if (it->func == NULL) {
      dyco__poll_remote_close(s, it->fd, it->gen);
    } else if (s->spawn_head != NULL || spawn_create(s, it) != 0) {
      /* Accepted by dyco_schedule_spawn: created as soon as it can be, in
       * the order spawned, never dropped. */
      spawnq_push(s, it); /* behind the ones already waiting */
      continue;
    }
    free(it);
  }
}

/* Between rounds: what other threads sent, due timers, ready fds; blocks
 * when nothing is ready. */
static void gather(dyco_schedule *s) {
  inbox_drain(s);
  runq_append(&s->urgent, &s->urgent_later);
  runq_append(&s->normal, &s->normal_later);
  /* The clock only when a timer may be due (no system call either way:
   * the vDSO answers, but it still costs some 20 ns). */
  uint64_t now = 0;
  int polled = 0;
  if (s->timers.len != 0) {
    now = dyco__now_ns();
    /* The fds before the due timers: a wait whose fd became ready while the
     * thread was busy past its deadline ends with the event, as the
     * kernel's call returns the data it finds rather than time out (the
     * poll the busy path below makes anyway, made first). */
    if (s->fd_waiters != 0 && dyco__timer_next(s, now) == 0) {
      dyco__poll(s, 0);
      polled = 1;
    }
    dyco__timers_fire(s, now);
  }
  if (s->urgent.head != NULL || s->normal.head != NULL) {
    if (s->fd_waiters != 0) {
      if (!polled) {
        dyco__poll(s, 0);
      }
      /* Now and then, while busy: the sweep, signals for masked waits. */
      if (DYCO__UNLIKELY((s->polls & 255) == 0)) {
        uint64_t t = dyco__now_ns();
        if (dyco__poll_sweep_due(s, t) == 0) {
          dyco__poll_sweep(s, t);
        }
      }
      dyco__poll_masked_signals(s);
    }
    return;
  }
  if (s->count == 0 && s->spawn_head == NULL) {
    return;
  }
  int64_t wait = s->timers.len != 0 ? dyco__timer_next(s, now) : -1;
  if (s->loopwait_ns > 0 && (wait < 0 || wait > s->loopwait_ns)) {
    wait = s->loopwait_ns;
  }
  if (s->spawn_head != NULL && (wait < 0 || wait > SPAWN_RETRY_NS)) {
    wait = SPAWN_RETRY_NS; /* memory may be back, a coroutine may end */
  }
  if (s->fd_waiters != 0) {
    /* Not beyond the sweep that verifies long waits' registrations. */
    uint64_t t = now != 0 ? now : dyco__now_ns();
    int64_t due = dyco__poll_sweep_due(s, t);
    if (due == 0) {
      dyco__poll_sweep(s, t);
      due = dyco__poll_sweep_due(s, t);
      if (s->urgent.head != NULL || s->normal.head != NULL) {
        due = 0; /* it woke some */
      }
    }
    if (due >= 0 && (wait < 0 || wait > due)) {
      wait = due;
    }
  }
  /* Say we sleep before looking at the inbox one last time: a thread that
   * pushes after our look sees the flag and writes the eventfd. */
  __atomic_store_n(&s->sleeping_in_poll, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&s->inbox, __ATOMIC_SEQ_CST) != NULL) {
    DYCO__RACE_HIT(DYCO__RACE_LATE_LOOK);
    wait = 0;
  }
  dyco__poll(s, wait);
  __atomic_store_n(&s->sleeping_in_poll, 0, __ATOMIC_RELAXED);
  inbox_drain(s);
  if (s->timers.len != 0) {
    dyco__timers_fire(s, dyco__now_ns());
  }
}

static void run_round(dyco_schedule *s) {
  /* Enough picks for every coroutine, and 256 more for wake-ups within the
   * round, before the loop looks at fds and timers again. */
  s->budget =
      (int32_t)(s->count > INT32_MAX - 256 ? INT32_MAX : s->count + 256);
  dyco_coroutine *next = pick_next(s);
  while (next != NULL) {
    /* A coroutine's first entry: by a jump (see ctx_switch_how). */
    const int fresh = !(next->flags & DYCO__F_STARTED);
    if (prepare(s, next) != 0) {
      /* No memory to save the shared stack's owner: try again next round. */
      dyco__runq_push(&s->normal_later, next);
      next = pick_next(s);
      continue;
    }
    s->running = next;
    next->sched_count++;
    if (fresh) {
      ctx_switch_how(s, &s->loop, &next->ctx, SWITCH_JUMP);
    } else {
      ctx_switch(s, &s->loop, &next->ctx);
    }
    after_switch(s);
    next = s->handoff;
    s->handoff = NULL;
  }
  s->running = NULL;
}

int dyco__loop(dyco_schedule *s) {
  for (;;) {
    if (s->aborting) {
      return -ECANCELED;
    }
    if (s->stop) {
      s->stop = 0;
      return 1;
    }
    gather(s);
    if (s->count == 0 && __atomic_load_n(&s->inbox, __ATOMIC_ACQUIRE) == NULL &&
        s->spawn_head == NULL) {
      return 0;
    }
    run_round(s);
  }
}

/* --- Shutdown ------------------------------------------------------------- */

void dyco__kill_all(dyco_schedule *s) {
  /* Nothing can be waiting any more once each waiter is claimed here; wakes
   * other threads claimed first are on their way: wait for them. */
  for (uint32_t i = 1; i < s->slots.n; i++) {
    void *e = dyco__slots_at(&s->slots, i);
    if (e == NULL) {
      continue;
    }
    dyco_coroutine *co = (dyco_coroutine *)e;
    if (get_state(co) == DYCO__WAITING) {
      dyco__wait_kill(s, co);
    }
  }
  while (__atomic_load_n(&s->pending_wakes, __ATOMIC_ACQUIRE) != 0 ||
         __atomic_load_n(&s->inbox, __ATOMIC_ACQUIRE) != NULL) {
    inbox_drain(s);
  }
  /* Spawns not created yet go with the scheduler, as its coroutines do. */
  spawnq_free_all(s->spawn_head);
  s->spawn_head = s->spawn_tail = NULL;
  s->urgent = s->normal = s->urgent_later = s->normal_later =
      (dyco__runq){NULL, NULL};
  s->handoff = NULL;
  s->running = NULL;
  for (uint32_t i = 1; i < s->slots.n; i++) {
    void *e = dyco__slots_at(&s->slots, i);
    if (e == NULL) {
      continue;
    }
    dyco__co_free(s, (dyco_coroutine *)e);
  }
}
