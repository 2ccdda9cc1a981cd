/* dyco — sched layer: the per-thread scheduler. Create it (or let the first
 * coroutine create it), run it, stop it, hand coroutines to other threads. */
#ifndef DYCO_SCHED_SCHEDULE_H_
#define DYCO_SCHED_SCHEDULE_H_

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sched/coroutine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One scheduler per thread. It runs that thread's coroutines, one at a
 * time, on a shared stack (by default) or on their private stacks. */
typedef struct dyco_schedule dyco_schedule;

/* The shared stack's size when nothing else is asked for (see
 * dyco_schedule_setDefaultStack). */
#define DYCO_SCHEDULE_STACK_DEFAULT (256 * 1024)

/* dyco_schedule_create sets up this thread's scheduler: a shared stack of
 * stack_size bytes (0: the default, DYCO_SCHEDULE_STACK_DEFAULT unless
 * dyco_schedule_setDefaultStack said otherwise; sizes under
 * DYCO_CONTEXT_STACK_MIN are rounded up to it, every size up to whole pages,
 * so any small size runs) and loopwait_timeout, the longest time in ms the
 * scheduler sleeps when no coroutine is ready (0: no limit; wake-ups by
 * timers, file descriptors and other threads are immediate anyway).
 * Optional: the first coroutine creates the scheduler with the defaults.
 * Called again, or after coroutines were created, it applies the new
 * settings; the shared stack can be resized only while no coroutine has
 * started on it. Never blocks. Returns the scheduler's id (> 0, as
 * dyco_schedule_schedID), -EBUSY when the shared stack is in use, -EINVAL
 * for a stack_size above DYCO_STACK_SIZE_MAX, -ENOMEM, -EMFILE or -ENFILE
 * when no fd is free for the scheduler's epoll instance and eventfd. */
int dyco_schedule_create(size_t stack_size, uint64_t loopwait_timeout);

/* The guard region below each stack dyco maps, by default, and the most it
 * may be set to. At least what the compiler's -fstack-clash-protection
 * assumes: GCC probes every page of a frame above 4 KiB on x86 and arm, but
 * on aarch64 only frames above 64 KiB (its stack-clash-protection-guard-size
 * default). */
#if defined(__aarch64__)
#define DYCO_STACK_GUARD_DEFAULT (64 * 1024)
#else
#define DYCO_STACK_GUARD_DEFAULT (16 * 1024)
#endif
#define DYCO_STACK_GUARD_MAX ((size_t)64 << 20)

/* dyco_schedule_setStackGuard sets, for the whole process, the size of the
 * guard region dyco maps below every stack it makes from now on: shared
 * stacks, private stacks of setStack and pools, asymmetric coroutines'
 * stacks (asym/asymcoro.h). Stacks made earlier keep theirs. bytes is
 * rounded up to whole pages; 0 restores DYCO_STACK_GUARD_DEFAULT. A guard
 * costs address space only, no memory. Code built with
 * -fstack-clash-protection (dyco's own, and what pkg-config and the Bazel
 * settings of docs/sched.md give yours) touches every page of a large frame
 * on the way down, so any overflow meets even a one-page guard; for code
 * built without it, a frame larger than the guard can jump over it: make
 * the guard larger than the largest frame. Returns 0, or -EINVAL above
 * DYCO_STACK_GUARD_MAX. Never blocks. */
int dyco_schedule_setStackGuard(size_t bytes);

/* dyco_schedule_getStackGuard returns the guard size stacks made now get,
 * in bytes. */
size_t dyco_schedule_getStackGuard(void);

/* dyco_schedule_run runs this thread's coroutines until none is left
 * (returns 0), until a coroutine calls dyco_schedcall_stop (returns 1: call
 * it again to carry on), or until one calls dyco_schedcall_abort (returns
 * -ECANCELED: every coroutine was killed and the scheduler freed; later
 * calls return -ECANCELED again, doing nothing, until the thread creates a
 * coroutine or calls dyco_schedule_create). Blocks the thread while
 * coroutines wait. Returns -EDEADLK when called from a coroutine; when the
 * thread has no scheduler yet and one cannot be created, -ENOMEM, or
 * -EMFILE/-ENFILE when no fd is free. */
int dyco_schedule_run(void);

/* dyco_schedule_setDefaultStack sets the shared stack size of every
 * scheduler created from now on, on any thread, that is created implicitly
 * or with a stack_size of 0 (rounded as dyco_schedule_create rounds; 0
 * restores DYCO_SCHEDULE_STACK_DEFAULT). Schedulers that exist keep theirs.
 * The compatibility header dyco/dyco_coroutine.h sets the seed's 64 KiB.
 * Returns 0, or -EINVAL for a size above DYCO_STACK_SIZE_MAX (the default
 * stays as it was). Never blocks. */
int dyco_schedule_setDefaultStack(size_t stack_size);

/* dyco_schedule_coroID returns the cid of the coroutine of this thread's
 * scheduler that has the CPU: what dyco_coroutine_coroID returns, except
 * while that coroutine runs an asymmetric coroutine (asym/), when
 * dyco_coroutine_coroID names the asymmetric one and this still names the
 * scheduler's. -EPERM outside the scheduler's coroutines. For layers that
 * keep per-coroutine state of the scheduler's. */
int dyco_schedule_coroID(void);

/* dyco_schedule_self returns this thread's scheduler, NULL when it has none
 * (it does not create one). */
dyco_schedule *dyco_schedule_self(void);

/* dyco_schedule_free kills every coroutine of sched (running each
 * coroutine-local destructor) and frees it; the thread gets a new scheduler
 * on next use. Call it from sched's own thread, outside its coroutines and
 * outside dyco_schedule_run; otherwise it prints why on stderr and does
 * nothing. NULL is ignored. A thread's scheduler is also freed when the
 * thread exits. */
void dyco_schedule_free(dyco_schedule *sched);

/* dyco_schedule_schedID returns the id of this thread's scheduler (> 0,
 * unique in the process), creating the scheduler if needed; -ENOMEM,
 * -EMFILE or -ENFILE when it cannot be created. */
int dyco_schedule_schedID(void);

/* dyco_schedule_setUdata / getUdata keep one pointer of yours in this
 * thread's scheduler (created if needed). 0, -EINVAL for a NULL pointer
 * (get), -ENOMEM, -EMFILE or -ENFILE when the scheduler cannot be
 * created. */
int dyco_schedule_setUdata(void *udata);
int dyco_schedule_getUdata(void **udata);

/* dyco_schedule_getCoroCount returns how many coroutines this thread's
 * scheduler holds (every state), 0 when it has no scheduler. */
int dyco_schedule_getCoroCount(void);

/* dyco_schedule_spawn hands a new coroutine func(arg) to sched, which may
 * belong to another thread: it is created there, in that scheduler's next
 * round, and that thread is woken if it sleeps. Safe from any thread, with or
 * without a scheduler of its own; never blocks. Returns 0 when accepted,
 * -EINVAL for a NULL sched or func, -ENOMEM (nothing was handed over),
 * -ESRCH when sched has been freed. A spawn accepted is never dropped: when
 * sched cannot create the coroutine at once (out of memory, or holding
 * DYCO_COROUTINES_MAX), it tries again every round, and at least every
 * millisecond, creating the spawns in the order they came, and its
 * dyco_schedule_run does not return 0 while one waits. Like the coroutines
 * it holds, spawns not created yet go only with the scheduler itself (freed,
 * aborted, or its thread ended). Use dyco_schedule_spawnById when the other
 * thread may free its scheduler at any time. */
int dyco_schedule_spawn(dyco_schedule *sched, proc_coroutine func, void *arg);

/* dyco_schedule_spawnById is dyco_schedule_spawn for the scheduler whose
 * dyco_schedule_schedID is schedid: same returns, and -ESRCH when there is
 * none (any more). */
int dyco_schedule_spawnById(int schedid, proc_coroutine func, void *arg);

/* --- Calls from inside a coroutine, about its scheduler ---------------- */

/* dyco_schedcall_sigprocmask changes this thread's signal mask, as
 * pthread_sigmask (all coroutines of the thread share it). 0, or -EINVAL
 * for a bad how, -EFAULT for a bad pointer. */
int dyco_schedcall_sigprocmask(int how, sigset_t *set, sigset_t *oset);

/* dyco_schedcall_stop suspends the calling coroutine at once and makes
 * dyco_schedule_run return 1 without running anything else; every coroutine
 * keeps its state. The next dyco_schedule_run carries on: the coroutines
 * that were ready run first, then the caller returns from this call, as if
 * it had yielded. Outside a coroutine it does nothing. */
void dyco_schedcall_stop(void);

/* dyco_schedcall_abort shuts the scheduler down: the running coroutine ends
 * at once, every other coroutine is killed and freed (their coroutine-local
 * destructors run), the scheduler is freed and dyco_schedule_run returns
 * -ECANCELED. Outside a coroutine it does nothing. */
void dyco_schedcall_abort(void);

/* --- The stall watchdog ----------------------------------------------------
 */

/* The signal the watchdog samples with: a real-time one, kept for dyco
 * while any scheduler's watchdog is on. */
#define DYCO_WATCHDOG_SIGNAL (SIGRTMIN + 7)

/* Frames of a stall's backtrace, at most. */
#define DYCO_STALL_FRAMES 32

/* A coroutine that has held the CPU too long. */
typedef struct dyco_stall {
  int sched_id;
  int cid;
  const void *func; /* its function (NULL when the unwinder lost it) */
  uint64_t ran_ms;  /* it has run at least this long without yielding (its
                       thread's CPU time) */
  int nframes;
  void *frames[DYCO_STALL_FRAMES]; /* where it is now, innermost first, down
                                      to its function */
} dyco_stall;

typedef void (*dyco_stall_fn)(const dyco_stall *stall, void *arg);

/* dyco_schedule_setWatchdog turns on this thread's scheduler's stall
 * watchdog (creating the scheduler if needed): when one coroutine runs for
 * more than threshold_ms of its thread's CPU time without giving up the CPU
 * (at a wait point or a yield), it is reported once (time the system gave
 * the CPU to other threads does not count), while it still runs: report(stall,
 * arg), or, with report NULL, a paragraph on stderr naming its id, its function
 * and how long, with the backtrace of where it is now. report runs on a thread
 * of dyco's own, not in a signal handler; the stall it gets is valid during
 * the call. threshold_ms 0 turns the watchdog off; another call replaces the
 * settings. The first call in a process starts a reporting thread and a
 * pipe (two fds), kept for the life of the process. Off by default, and
 * then it costs nothing; on, a timer on the
 * thread's CPU clock (it stands still while the thread sleeps) sends the
 * thread DYCO_WATCHDOG_SIGNAL every quarter threshold of CPU time, whose
 * handler (SA_RESTART) looks at the running coroutine: a stall is seen
 * between one and one and a quarter thresholds in (up to two when the
 * unwinder loses the coroutine's frames: such a sample is taken again at the
 * next four ticks before it is reported with func NULL). Like any signal, it
 * can make a system call that is never restarted (nanosleep, outside the hooks)
 * return EINTR. The cure for a stall is dyco_blocking_call (the work runs on
 * a worker thread) or dyco_coroutine_yieldIfLong in the long loop. Returns 0,
 * -ENOMEM, -EAGAIN when no timer or reporting thread can be had, and, when
 * it has to create the scheduler, -EMFILE or -ENFILE. */
int dyco_schedule_setWatchdog(uint32_t threshold_ms, dyco_stall_fn report,
                              void *arg);

/* --- Introspection ----------------------------------------------------- */

typedef struct dyco_schedule_stats {
  int sched_id;
  uint64_t coroutines;                      /* alive now */
  uint64_t by_state[DYCO_COROUTINE_STATES]; /* alive now, per state */
  uint64_t created;                         /* since the scheduler began */
  uint64_t finished;                        /* ended or killed */
  uint64_t switches;                        /* coroutine resumptions */
  uint64_t shared_stack_saves;              /* copies out of the shared stack */
  uint64_t shared_stack_bytes;              /* bytes those copies held */
  uint64_t polls;                           /* epoll_wait calls */
  uint64_t private_stacks;                  /* private stacks in use */
  uint64_t cached_stacks;                   /* private stacks in the cache */
  int guard_regions; /* 1: guard pages are guard regions inside shared
                        mappings (MADV_GUARD_INSTALL, Linux 6.13+); 0: each
                        guard is mprotect'ed, costing a mapping, which the
                        kernel's vm.max_map_count limits (about 32,000
                        guarded stacks by default) */
} dyco_schedule_stats;

/* dyco_schedule_getStats fills *stats for this thread's scheduler. 0, or
 * -ESRCH when the thread has none, -EINVAL for NULL. */
int dyco_schedule_getStats(dyco_schedule_stats *stats);

/* dyco_schedule_dump writes one line per coroutine of this thread's
 * scheduler to out (id, state, what it waits on, stack use, times
 * scheduled), each followed by its backtrace (dyco_coroutine_backtrace, up
 * to 32 frames: address, function+offset from dladdr, object; or why there
 * is none), then the counters. Returns the number of coroutines listed,
 * -ESRCH when the thread has no scheduler, -EINVAL for a NULL out. */
int dyco_schedule_dump(FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_SCHED_SCHEDULE_H_ */
