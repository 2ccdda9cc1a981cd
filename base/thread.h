/* dyco — base layer: the per-thread record through which the layers that run
 * code on stacks of their own meet, without knowing each other's insides. */
#ifndef DYCO_BASE_THREAD_H_
#define DYCO_BASE_THREAD_H_

#include <stddef.h>

/* The context layer's record of a suspended context (context/context.h):
 * base only passes pointers to it along. */
struct dyco_context;

/* What a runner says about an overflow into the guard below one of its
 * coroutines' stacks; base prints
 *   dyco: coroutine <cid> overflowed its <size>-byte stack (<what>[<id>]):
 *   fault at 0x<addr> in its guard page
 * and aborts. */
typedef struct dyco__overflow {
  int cid;          /* the coroutine, 0 when it cannot be told */
  size_t size;      /* usable bytes of its stack */
  const char *what; /* which stack: "private, scheduler ", ... */
  int what_id;      /* printed after `what` when >= 0 (a scheduler's id) */
} dyco__overflow;

/* A runner: a layer that runs coroutines on stacks of its own, as seen by
 * the others. Each function is called on the runner's thread. */
typedef struct dyco__runner dyco__runner;
struct dyco__runner {
  /* Code on a stack of one of the runner's coroutines is about to switch to
   * a stack that is not the runner's, saving its context in *from (which
   * stays valid until it is back): until then the runner takes
   * dyco_context_stack_low(from) as the lowest byte of that coroutine's
   * stack in use. Called again before it is back, it changes nothing.
   * Returns the id (> 0) of the runner's coroutine that leaves, 0 when none
   * of its coroutines runs, -ENOMEM when it cannot keep track (then the
   * switch must not happen), -EINVAL for a NULL from. Never blocks. NULL for a
   * runner nobody leaves this way (the nested one). */
  int (*leave)(dyco__runner *self, const struct dyco_context *from);
  /* The id (> 0) of the runner's coroutine that runs now, 0 when none. */
  int (*running)(dyco__runner *self);
  /* From the SIGSEGV handler (async-signal-safe): 1 when addr lies in the
   * guard below the stack of one of the runner's coroutines, with *out
   * filled in; 0 otherwise. */
  int (*overflow)(dyco__runner *self, const char *addr, dyco__overflow *out);
};

/* Per thread. Two roles, because stacks nest in one way:
 * - the driver runs the thread's coroutines in turn from a loop (sched,
 *   registered while dyco_schedule_run runs on the thread): its coroutines
 *   are what everything else is resumed from;
 * - the nested runner resumes coroutines on top of whatever runs (asym,
 *   registered from the thread's first asymmetric coroutine until the thread
 *   exits): it is asked first which coroutine runs, since its coroutines run
 *   on top of the driver's. */
typedef struct dyco__thread {
  dyco__runner *driver;
  dyco__runner *nested;
  void *altstack; /* the alternate signal stack base gave the thread */
  size_t altstack_size;
} dyco__thread;

extern __thread dyco__thread dyco__thr;

/* dyco__thread_self returns the calling thread's record: the address stays
 * valid for the thread's life (a layer may keep it). */
static inline dyco__thread *dyco__thread_self(void) { return &dyco__thr; }

/* dyco__thread_set_driver makes r (NULL: none) the thread's driver and
 * returns the one before. dyco__thread_set_nested does the same for the
 * nested runner. */
dyco__runner *dyco__thread_set_driver(dyco__runner *r);
dyco__runner *dyco__thread_set_nested(dyco__runner *r);

/* dyco__thread_leave tells the driver, if any, that code on its stack is
 * about to switch to another stack (see dyco__runner.leave). Returns the
 * driver's coroutine that leaves (> 0), 0 when no driver's coroutine runs,
 * -ENOMEM, -EINVAL. */
static inline int dyco__thread_leave(const struct dyco_context *from) {
  dyco__runner *d = dyco__thr.driver;
  return d != NULL ? d->leave(d, from) : 0;
}

/* dyco__thread_running returns the id (> 0) of the coroutine the thread
 * runs now, the innermost one: the nested runner's if one of its runs, else
 * the driver's; 0 when none runs (the thread's own code). Never blocks. */
int dyco__thread_running(void);

/* dyco__thread_overflow_ready makes sure an overflow into a guard on this
 * thread is reported: a SIGSEGV handler for the process (chained with
 * whatever handled SIGSEGV before) and an alternate signal stack for the
 * thread, unless it has one, freed when the thread exits. Called by
 * whatever maps a guarded stack. */
void dyco__thread_overflow_ready(void);

#endif /* DYCO_BASE_THREAD_H_ */
