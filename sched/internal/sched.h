/* dyco — sched layer, private: the coroutine and scheduler structures and the
 * functions the sched sources share. Not for use outside sched/. */
#ifndef DYCO_SCHED_INTERNAL_SCHED_H_
#define DYCO_SCHED_INTERNAL_SCHED_H_

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/clock.h"
#include "base/heap.h"
#include "base/hints.h"
#include "base/list.h"
#include "base/slots.h"
#include "base/stack.h"
#include "base/thread.h"
#include "context/context.h"
#include "sched/coroutine.h"
#include "sched/internal/poller.h"
#include "sched/internal/slab.h"
#include "sched/pool.h"
#include "sched/schedule.h"
#include "sched/wait.h"

/* Everything declared here is internal to libsched: hidden from the
 * dynamic symbol table, so that no other library's dyco__ name can take
 * the place of one of ours, or the reverse. */
#pragma GCC visibility push(hidden)

typedef struct dyco_coroutine dyco_coroutine;

/* --- Coroutine states (dyco_coroutine.state, read and written atomically:
 * wakers on other threads claim a waiting coroutine with a CAS) --------- */
enum {
  DYCO__NEW = 0,  /* created, not started, queued to run */
  DYCO__READY,    /* queued to run */
  DYCO__RUNNING,  /* has the CPU */
  DYCO__SLEEPING, /* in the timer heap only */
  DYCO__WAITING,  /* on a wait queue (and maybe the timer heap): claimable */
  DYCO__WOKEN,    /* claimed by a waker, on its way to a run queue */
  DYCO__TIMEDOUT, /* claimed by its timer, on its way to a run queue */
  DYCO__KILLED,   /* claimed by the scheduler's shutdown */
  DYCO__CANCELLED /* claimed by dyco_coroutine_cancel, on its way to a run
                     queue: its wait returns -ECANCELED */
};

/* --- dyco_coroutine.intr: cancellation and deadline ----------------------
 * Written only by the coroutine's own thread (a cancel from another thread
 * travels through the inbox). Zero for almost every coroutine: each wait
 * tests the byte and goes on; only a nonzero one takes dyco__intr_enter. */
enum {
  DYCO__I_CANCEL = 1 << 0,   /* cancelled: waits fail with -ECANCELED */
  DYCO__I_DEADLINE = 1 << 1, /* ext->limit holds a deadline */
  DYCO__I_MASKED = 1 << 2    /* dyco_coroutine_maskCancel: both ignored */
};

/* --- dyco_coroutine.flags ------------------------------------------------ */
enum {
  DYCO__F_URGENT = 1 << 0,  /* runs before normal coroutines */
  DYCO__F_PRIVATE = 1 << 1, /* has a private stack (see its ext) */
  DYCO__F_STARTED = 1 << 2, /* its context has been made */
  DYCO__F_SAVED = 1 << 3,   /* u.saved holds its shared-stack bytes */
  DYCO__F_POOL = 1 << 4,    /* belongs to a pool (see its ext) */
  /* Waits on at least one queue with a lock: wakers on other threads may
   * claim it, so claims take a compare-and-swap. Otherwise only its own
   * thread can, and a plain load and store do. */
  DYCO__F_SHARED_WAIT = 1 << 5,
  /* Its wait ends when a signal handler interrupts the scheduler's sleep
   * (DYCO_FD_EINTR); `intr_mark` holds the scheduler's intr_epoch from
   * when the wait began. */
  DYCO__F_EINTR = 1 << 6
};

/* A node on a wait queue. Each coroutine embeds one, for waits on a single
 * queue; dyco_waitq_waitAny allocates extended ones (qtag's low bit set).
 * A node may stay on its queue after its coroutine was claimed (by its
 * timer, say): wakers drop such nodes, or the coroutine unlinks its own when
 * it runs again. Nothing but the coroutine itself and the queue's lock
 * holders ever touch a node. */
struct dyco_waitnode {
  struct dyco_waitnode *next;
  struct dyco_waitnode *prev;
  uintptr_t qtag; /* the dyco_waitq it is on (| 1 if extended), 0 if none */
};

typedef struct dyco__waitnode_ext {
  struct dyco_waitnode node;
  dyco_coroutine *co;
  int index;     /* its place in waitAny's array */
  int won;       /* set by the waker that picked this node */
  intptr_t seen; /* the value of the last waker that took it off its queue,
                    whether or not that waker got the coroutine */
  int hit;       /* set with seen */
} dyco__waitnode_ext;

/* How a coroutine keeps its context: just the stack pointer, unless a
 * sanitizer or valgrind wants the whole dyco_context at every switch. */
#if DYCO_CONTEXT_SP_ONLY
typedef struct dyco__ctx {
  void *sp;
} dyco__ctx;
#else
typedef dyco_context dyco__ctx;
#endif

/* A coroutine: 112 bytes on 64-bit targets without a tool configured. What
 * most coroutines never use (udata, coroutine-local values, private stack,
 * pool) lives in a separate dyco__ext. */
struct dyco_coroutine {
  /* Hot: what a switch to this coroutine reads, in its first cache line. */
  dyco__ctx ctx;
  dyco_coroutine *run_next; /* link in a run queue */
  dyco_schedule *sched;
  int32_t state;     /* DYCO__NEW..., atomic */
  uint16_t flags;    /* DYCO__F_... */
  uint8_t wait_kind; /* dyco_coroutine_wait */
  uint8_t intr;      /* DYCO__I_... */
  uint32_t sched_count;
  int32_t cid;
  struct dyco__ext *ext; /* the cold part, NULL until needed */
  /* Waiting and sleeping. */
  struct dyco_waitnode node;
  union {
    uint64_t deadline; /* ns on CLOCK_MONOTONIC, while in the timer heap */
    /* Until it starts (never in the timer heap before): the floating-point
     * modes its creator had, which it starts with (its context is made at
     * its first run, by whoever runs then). */
    dyco_context_fpmodes start_modes;
  };
  intptr_t wake;      /* the value a waker hands over */
  int32_t heap_index; /* place in the timer heap, -1 when not there */
  uint32_t intr_mark; /* see DYCO__F_EINTR */
  union {
    struct {
      proc_coroutine func;
      void *arg;
    } start; /* until it starts */
    struct {
      char *bytes;  /* its shared-stack bytes, while another coroutine */
      uint32_t len; /* has the shared stack */
      uint32_t cap;
    } saved; /* once started */
  } u;
};

/* The cold part of a coroutine. */
typedef struct dyco__local {
  void *value;
  uint32_t key_gen;
} dyco__local;

/* dyco__ext_new sets each field by name (no memset): a new field must be
 * set there too. */
typedef struct dyco__ext dyco__ext;
struct dyco__ext {
  void *udata;
  dyco__local *locals; /* indexed by key */
  uint32_t nlocals;
  uint32_t guard; /* bytes of guard below the private stack, which came from
                     the cache (or a pool); 0 for the caller's own memory */
  char *stack;    /* private stack, NULL when shared */
  size_t stack_size;
  dyco_coropool *pool;
  /* Set when it leaves its own stack for another one, still running (the
   * scheduler's leave, base/thread.h): where it left its own stack. */
  const dyco_context *foreign;
  /* What a tool found at run time knows of its context (see
   * dyco_schedule.tools); NULL otherwise. */
  dyco_context *tools;
  /* With DYCO__I_DEADLINE: dyco_coroutine_setDeadline's deadline, ns on
   * CLOCK_MONOTONIC. */
  uint64_t limit;
  /* dyco_coroutine_yieldIfLong: when the slice it measures began, and the
   * sched_count then. */
  uint64_t slice_start;
  uint32_t slice_count;
};

/* A FIFO of coroutines queued to run, linked through run_next. */
typedef struct dyco__runq {
  dyco_coroutine *head;
  dyco_coroutine *tail;
} dyco__runq;

/* Per file descriptor: who waits for what. Pages of these never move, so
 * wait queues inside them can be pointed at. The first cache line holds all
 * that a read's wait and its wake-up touch: whether the fd is registered,
 * what the poller saw of it last, the readers' queue, and the head of
 * `either` (every wake-up looks at it). With thousands of connections these
 * lines are cold at every turn. */
typedef struct dyco__fdslot {
  uint8_t registered;  /* added to the scheduler's epoll */
  uint8_t checked;     /* the registration was verified (dyco__poll_sweep)
                          since a wait last began */
  uint16_t last;       /* the events of the poller's last report of it */
  uint32_t wait_round; /* the sweep round in which a wait last began */
  dyco_waitq readers;
  dyco_waitq either;
  dyco_waitq writers;
  /* Cold: registration bookkeeping. */
  uint32_t gen;       /* the fd's process-wide generation at registration */
  uint32_t reg_index; /* its place in the scheduler's `reg` array */
} __attribute__((aligned(64))) dyco__fdslot;

#define DYCO__FD_PAGE 256

/* Something handed to a scheduler by another thread. */
typedef struct dyco__inbox_item {
  struct dyco__inbox_item *next;
  dyco_coroutine *co;  /* a coroutine to make ready, or NULL for: */
  proc_coroutine func; /* a coroutine to create, or NULL for: */
  void *arg;
  int fd;       /* an fd closed by another thread (dyco_fd_closing), or */
  uint32_t gen; /* DYCO__INBOX_CANCEL: its generation then, or the cid */
} dyco__inbox_item;

/* dyco__inbox_item.fd of a cancel from another thread (gen: the cid). */
#define DYCO__INBOX_CANCEL (-2)

/* A coroutine waiting in dyco_fd_poll with a signal mask. */
typedef struct dyco__maskwait {
  struct dyco__maskwait *next;
  struct dyco__maskwait *prev;
  sigset_t mask;
} dyco__maskwait;

struct dyco_schedule {
  /* The running coroutine; NULL while the scheduler's own loop runs. */
  dyco_coroutine *running;
  dyco__ctx loop; /* the loop's context, on the thread's own stack */
  /* Nonzero when a build that keeps only stack pointers runs under a tool
   * it found at run time (dyco_context_tools): every coroutine then also
   * keeps a whole dyco_context in its ext (and the loop in loop_tools), and
   * every switch and shared-stack copy tells the tool. */
  int tools;

  /* Run queues for this round; yielders go to the *_later ones. */
  dyco__runq urgent;
  dyco__runq normal;
  dyco__runq urgent_later;
  dyco__runq normal_later;
  int32_t budget;          /* picks left in this round */
  dyco_coroutine *handoff; /* for the loop: switch to this one next */
  dyco_coroutine *zombie;  /* ended; freed right after the next switch */

  /* The shared stack, with a guard below it. */
  dyco__stack_ref shared;
  dyco_coroutine *occupant; /* whose bytes are on the shared stack now */

  /* Coroutines by cid (the scheduler's range of base/ids.h). */
  dyco__slots slots;
  uint32_t count;    /* live coroutines */
  uint32_t sleeping; /* of which in dyco_coroutine_sleep */
  uint32_t waiting;  /* of which waiting on a queue or fd */

  /* Timers: coroutines in a binary min-heap on deadline (base/heap.h). */
  dyco__heap timers;

  /* epoll and the fd table. */
  int epfd;
  /* How the scheduler sleeps on epfd: epoll_pwait or an io_uring
   * (sched/internal/poller.h), and the back end's own state. */
  const dyco__poller_ops *poller;
  void *ring;
  uint32_t fd_waiters;
  dyco__fdslot **fd_dir;
  uint32_t fd_dir_len;
  /* Every registered fd, for the sweep that verifies the registrations of
   * long waits (dyco__poll_sweep). */
  int32_t *reg;
  uint32_t nreg;
  uint32_t reg_cap;
  uint32_t sweep_round;
  uint64_t next_sweep; /* ns on CLOCK_MONOTONIC, 0: not due */
  /* Signal handlers that interrupted the poller's sleep, so far. */
  uint32_t intr_epoch;
  /* Coroutines waiting with a signal mask (ppoll, pselect, epoll_pwait):
   * the poller sleeps with the signals any of them unblocks unblocked. */
  dyco__maskwait *masked;
  sigset_t sleep_mask;

  /* The inbox: a lock-free stack other threads push onto; the eventfd
   * wakes this thread when it sleeps in epoll_wait. */
  dyco__inbox_item *inbox; /* atomic */
  int sleeping_in_poll; /* atomic: 1 while in (or about to be in) epoll_wait */
  int evfd;
  uint32_t pending_wakes; /* atomic: wakes from other threads in flight */
  /* Spawns from the inbox that could not be created yet (no memory, or
   * DYCO_COROUTINES_MAX reached), oldest first: tried again every round
   * (at least every millisecond) until they are; the loop does not end
   * while one is left. A spawn accepted is never dropped. */
  dyco__inbox_item *spawn_head;
  dyco__inbox_item *spawn_tail;

  dyco__stack_cache stacks; /* private stacks (base/stack.h) */
  dyco__slab slab;
  /* What the thread's other layers know of the scheduler while it runs
   * (base/thread.h: it is the thread's driver then). */
  dyco__runner runner;

  int64_t loopwait_ns; /* 0: no limit */
  int id;
  pthread_t thread;
  void *udata;
  int in_run;
  int stop;
  int aborting;

  dyco_context loop_tools; /* the loop's record when `tools` is set */

  /* The stall watchdog (watchdog.c), NULL when off; read by its signal
   * handler on this thread. */
  struct dyco__watchdog *wd;

  uint64_t created;
  uint64_t finished;
  uint64_t retired_resumes; /* sched_count of the coroutines freed */
  uint64_t saves;
  uint64_t save_bytes;
  uint64_t polls;
};

/* A scheduler's cids are the scheduler's range of the id space
 * (base/ids.h): asymmetric coroutines (asym/) have the other one. */
_Static_assert(DYCO__CID_SCHED_MAX == DYCO_COROUTINES_MAX,
               "sched/coroutine.h says how many coroutines a scheduler holds");

/* --- schedule.c ---------------------------------------------------------- */

/* This thread's scheduler, or NULL. */
extern __thread dyco_schedule *dyco__tls_sched;

/* This thread's scheduler, created with the defaults if needed; NULL with
 * *err set (-ENOMEM, -EMFILE, -ENFILE) when it cannot be. */
dyco_schedule *dyco__sched_get(int *err);

/* Gives coroutine co (claimed by this thread or another) to its scheduler:
 * at once when that is this thread's, through its inbox otherwise. */
void dyco__deliver(dyco_coroutine *co);

/* Pushes an item to s's inbox and wakes s's thread if it sleeps. */
void dyco__inbox_push(dyco_schedule *s, dyco__inbox_item *item);

/* Tests only: while it is above 0, each coroutine this thread's scheduler
 * tries to create for a spawn (dyco_schedule_spawn) fails as if memory had
 * run out, and the count goes down by one. Visible to the tests, which
 * link sched as a shared library (sched/spawn_test.cc declares it). */
extern __thread int dyco__test_spawn_failures
    __attribute__((visibility("default")));

/* --- core.c: creating, switching, ending --------------------------------- */

/* Creates a coroutine in s, NEW and not yet queued (dyco__make_ready does
 * that). Returns it (its cid is set), or NULL with *err set to a negative
 * errno. */
dyco_coroutine *dyco__co_new(dyco_schedule *s, proc_coroutine func, void *arg,
                             int urgent, int *err);

/* dyco__runq_push and dyco__runq_pop: a run queue's FIFO (base/list.h). */
DYCO__SQUEUE(dyco__runq, dyco__runq, dyco_coroutine, head, tail, run_next)

/* Race paths, counted when taken, so that a stress test can assert that it
 * reached each one (sync/stress_test.cc). Only rare branches count. */
enum {
  DYCO__RACE_WAKE_LOST,    /* a waker found its waiter claimed already */
  DYCO__RACE_TIMEOUT_LOST, /* a timer found its waiter claimed already */
  DYCO__RACE_REMOTE_WAKE,  /* a wake carried to another thread's inbox */
  DYCO__RACE_REMOTE_LOST,  /* another thread's waker lost the claim */
  DYCO__RACE_KICK,         /* a push woke a scheduler asleep in its poll */
  DYCO__RACE_LATE_LOOK,    /* the last look before sleeping found mail */
  DYCO__RACES
};
extern __attribute__((
    visibility("default"))) uint64_t dyco__race_hits[DYCO__RACES];
#define DYCO__RACE_HIT(i) \
  __atomic_fetch_add(&dyco__race_hits[(i)], 1, __ATOMIC_RELAXED)

/* A wait queue's list of nodes (base/list.h): dyco__waitq_list_push and
 * dyco__waitq_list_unlink. */
DYCO__DLIST(dyco__waitq_list, dyco_waitq, struct dyco_waitnode, head, tail,
            next, prev)

/* Queues node n at the tail of wait queue q (whose lock the caller holds),
 * tagged with tag (q, | 1 for an extended node): the one push of a wait
 * node, for wait.c and for the poller's waits on several queues. */
static inline void dyco__waitq_push(dyco_waitq *q, struct dyco_waitnode *n,
                                    uintptr_t tag) {
  dyco__waitq_list_push(q, n);
  __atomic_store_n(&n->qtag, tag, __ATOMIC_RELAXED);
}

/* Takes node n off wait queue q (whose lock the caller holds): the one
 * unlink of a wait node, for wait.c and for the poller's waits on several
 * queues. */
static inline void dyco__waitq_unlink(dyco_waitq *q, struct dyco_waitnode *n) {
  dyco__waitq_list_unlink(q, n);
  __atomic_store_n(&n->qtag, 0, __ATOMIC_RELAXED);
}

/* Queues co to run in this round (urgent or normal). Inline: every wake-up
 * within a thread ends here. */
static inline void dyco__make_ready(dyco_schedule *s, dyco_coroutine *co) {
  int st = __atomic_load_n(&co->state, __ATOMIC_RELAXED);
  if (st == DYCO__SLEEPING || st == DYCO__RUNNING) {
    __atomic_store_n(&co->state, DYCO__READY, __ATOMIC_RELAXED);
  }
  dyco__runq_push(co->flags & DYCO__F_URGENT ? &s->urgent : &s->normal, co);
}

/* The running coroutine `self` (its state and queues already set) gives up
 * the CPU; returns when it runs again. */
void dyco__switch_out(dyco_schedule *s, dyco_coroutine *self);

/* Outside a coroutine, dyco_coroutine_sleep sleeps the thread. */
void dyco__sleep_thread(uint32_t msecs);

/* Ends the running coroutine. */
void dyco__co_exit(dyco_schedule *s, dyco_coroutine *co)
    __attribute__((noreturn));

/* Frees a coroutine that is not running and is in no queue of this
 * scheduler (its destructors run, its stack goes back). */
void dyco__co_free(dyco_schedule *s, dyco_coroutine *co);

/* Coroutine by cid in s, or NULL. */
dyco_coroutine *dyco__co_find(dyco_schedule *s, int cid);

/* The loop of dyco_schedule_run: runs rounds until a stop. */
int dyco__loop(dyco_schedule *s);

/* Kills every coroutine of s (used by abort and free). */
void dyco__kill_all(dyco_schedule *s);

/* dyco__ext_get's creating part: co's new, zeroed ext record, or NULL. */
dyco__ext *dyco__ext_new(dyco_schedule *s, dyco_coroutine *co);

/* The ext record of co, created if `create`; NULL if none / no memory. */
static inline dyco__ext *dyco__ext_get(dyco_schedule *s, dyco_coroutine *co,
                                       int create) {
  if (DYCO__LIKELY(co->ext != NULL) || !create) {
    return co->ext;
  }
  return dyco__ext_new(s, co);
}
void dyco__ext_free(dyco_schedule *s, dyco_coroutine *co);

/* --- stack.c: the shared stack, the scheduler as the thread's driver ----- */

/* The limits base keeps for every layer are the public ones. */
_Static_assert(DYCO__STACK_MIN == DYCO_CONTEXT_STACK_MIN &&
                   DYCO__STACK_ALIGN == DYCO_CONTEXT_STACK_ALIGN,
               "base/stack.h checks stacks against the context layer's "
               "minimum and alignment");
_Static_assert(DYCO__STACK_SIZE_MAX == DYCO_STACK_SIZE_MAX,
               "sched/coroutine.h says the largest stack dyco maps");
_Static_assert(DYCO__STACK_GUARD_DEFAULT == DYCO_STACK_GUARD_DEFAULT &&
                   DYCO__STACK_GUARD_MAX == DYCO_STACK_GUARD_MAX,
               "sched/schedule.h says the guard's default and limit");

/* Maps s's shared stack, of `size` bytes (from dyco__stack_size), with the
 * current guard below it (base's dyco__stack_map_ref). 0, or -ENOMEM with
 * s->shared unchanged. */
int dyco__shared_stack_init(dyco_schedule *s, size_t size);
void dyco__shared_stack_destroy(dyco_schedule *s);

/* Makes `next` the owner of the shared stack: saves the current owner's
 * bytes, then restores next's (or lays out its first frame). Must run off
 * the shared stack. Returns 0 or -ENOMEM. */
int dyco__shared_install(dyco_schedule *s, dyco_coroutine *next);

/* Releases co's saved shared-stack bytes. */
void dyco__shared_forget(dyco_schedule *s, dyco_coroutine *co);

/* Fills s->runner: what s answers as the thread's driver (base/thread.h)
 * while dyco_schedule_run runs. */
void dyco__sched_runner_init(dyco_schedule *s);

/* Makes co's context on its private stack or (already installed) on the
 * shared stack. Every stack dyco accepts is big enough: a failure is a bug,
 * reported naming the coroutine, and aborts. */
void dyco__co_make_context(dyco_schedule *s, dyco_coroutine *co);

/* Bytes of stack co uses (now, if running, else when it stopped). */
size_t dyco__co_stack_used(dyco_schedule *s, dyco_coroutine *co);

/* 1 when p lies in co's own stack (its private one, or the shared one). */
int dyco__co_on_own_stack(const dyco_schedule *s, const dyco_coroutine *co,
                          const void *p);

/* --- timer.c ------------------------------------------------------------- */

int dyco__timer_add(dyco_schedule *s, dyco_coroutine *co, uint64_t deadline);
void dyco__timer_remove(dyco_schedule *s, dyco_coroutine *co);
/* Fires every timer due at `now`; returns how many. */
int dyco__timers_fire(dyco_schedule *s, uint64_t now);
/* ns until the next timer (0 if due), or -1 when there is none. */
int64_t dyco__timer_next(dyco_schedule *s, uint64_t now);

/* Deadline for a timeout in ms (> 0) from now. Not inlined on purpose: the
 * clock's timespec must not sit in the frame of a coroutine about to
 * suspend (every byte of that frame is saved while it waits). */
uint64_t dyco__deadline(uint64_t timeout_ms) __attribute__((noinline));

/* --- wait.c -------------------------------------------------------------- */

/* The common part of every single-queue wait: queues the running coroutine
 * on q with wait kind `kind`, suspends, and sorts out the outcome. */
int dyco__wait_on(dyco_schedule *s, dyco_waitq *q, int kind, int timeout,
                  intptr_t *result);

/* Called by the timer for a coroutine in the WAITING state: claims it and
 * queues it to run. Touches no wait queue. */
void dyco__wait_timed_out(dyco_schedule *s, dyco_coroutine *co);

/* Claims a waiting co for shutdown and takes it off whatever it waits on.
 * When another thread claimed it first, its wake is in flight: the caller
 * waits for it to arrive through the inbox. */
void dyco__wait_kill(dyco_schedule *s, dyco_coroutine *co);

/* The queue a node is on. */
static inline dyco_waitq *dyco__node_queue(const struct dyco_waitnode *n) {
  return (dyco_waitq *)(n->qtag & ~(uintptr_t)1);
}

/* A signal handler interrupted the poller's sleep: every coroutine in a
 * wait that asked for it (DYCO__F_EINTR) wakes, single-queue waits with
 * -EINTR. */
void dyco__wait_interrupt(dyco_schedule *s);

/* Before a wait of co, whose intr is not zero: 0 to go on, with *deadline
 * (0: none) lowered to co's own deadline; or what the wait returns at once,
 * -ECANCELED or -ETIMEDOUT (the deadline has passed). */
int dyco__intr_enter(dyco_coroutine *co, uint64_t *deadline)
    __attribute__((noinline));

/* The start of every wait of co, the running coroutine, for at most timeout
 * ms (-1: no limit; not 0): its deadline (0: none) into *deadline, lowered
 * to co's own by dyco__intr_enter when co has a cancel or a deadline. 0 to
 * go on, or what the wait returns at once. Inline: a wait with neither pays
 * the test of co->intr and nothing more. */
static inline int dyco__wait_begin(dyco_coroutine *co, int timeout,
                                   uint64_t *deadline) {
  *deadline = timeout > 0 ? dyco__deadline((uint64_t)timeout) : 0;
  if (DYCO__UNLIKELY(co->intr != 0)) {
    return dyco__intr_enter(co, deadline);
  }
  return 0;
}

/* The checks of a public wait of the calling thread's running coroutine on
 * more than one thing (dyco_fd_poll, dyco_waitq_waitAny), in this order:
 * -EPERM outside a coroutine, -EINVAL when !args_ok, -ETIMEDOUT for a
 * timeout of 0 (no wait); then dyco__wait_begin. 0 with *ps set to the
 * thread's scheduler, or what the wait returns at once. */
static inline int dyco__wait_enter(int args_ok, int timeout, dyco_schedule **ps,
                                   uint64_t *deadline) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (!args_ok) {
    return -EINVAL;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  *ps = s;
  return dyco__wait_begin(s->running, timeout, deadline);
}

/* Cancels coroutine cid of s, the calling thread's scheduler: 0, or -ESRCH
 * for a cid that is not live. */
int dyco__cancel_here(dyco_schedule *s, int cid);

/* --- poll.c -------------------------------------------------------------- */

int dyco__poll_init(dyco_schedule *s);
void dyco__poll_destroy(dyco_schedule *s);
/* Waits at most timeout_ns (-1: no limit) for fds and the inbox' eventfd;
 * wakes the coroutines whose fds are ready. */
void dyco__poll(dyco_schedule *s, int64_t timeout_ns);
/* Registers fd with s's epoll instance unless it is already (so that its
 * closing, on any thread, reaches s). 0, or a negative errno (-EPERM for an
 * fd epoll cannot watch, -ENOMEM). */
int dyco__poll_own(dyco_schedule *s, int fd);
/* The fd an fd wait queue belongs to, or -1. */
int dyco__poll_queue_fd(dyco_schedule *s, const dyco_waitq *q);
/* Another thread closed fd (generation gen): this scheduler's waiters on
 * it wake with -EBADF and its registration goes, unless it is of a newer
 * fd with that number. */
void dyco__poll_remote_close(dyco_schedule *s, int fd, uint32_t gen);
/* ns until the poller must run its sweep (0: now), -1 when none is due.
 * The sweep verifies, once per wait, the registration of fds waited on for
 * more than a sweep interval: an fd closed behind dyco's back whose number
 * was reused would otherwise never report an event. */
int64_t dyco__poll_sweep_due(dyco_schedule *s, uint64_t now);
void dyco__poll_sweep(dyco_schedule *s, uint64_t now);
/* While coroutines wait with a signal mask and others are ready (so the
 * poller does not sleep), a signal pending for them is delivered here. */
void dyco__poll_masked_signals(dyco_schedule *s);

/* --- watchdog.c ------------------------------------------------------------
 */

typedef struct dyco__watchdog dyco__watchdog;

/* Turns s's watchdog off (its timer goes); nothing when it is off. */
void dyco__watchdog_stop(dyco_schedule *s);

/* The mask the poller sleeps with while s's watchdog is on: `mask` (NULL:
 * the thread's own) with the watchdog's signal blocked. */
const sigset_t *dyco__watchdog_sleep_mask(dyco_schedule *s,
                                          const sigset_t *mask);

/* The thread's signal mask changed (dyco_schedcall_sigprocmask): the
 * mask the poller sleeps with follows. */
void dyco__watchdog_mask_changed(dyco_schedule *s);

/* Whether a return address lies inside co_main, the first frame of every
 * coroutine (core.c): exactly, from the bounds of co_main's own section.
 * Visible to the tests (backtrace_test checks the bounds); the installed
 * libraries export no dyco__ name. */
int dyco__in_co_main(uintptr_t pc) __attribute__((visibility("default")));

/* Of the n return addresses a backtrace() inside a coroutine found, how
 * many lie above co_main: the coroutine's function and what it called.
 * *in_func (when in_func is not NULL) gets the frame of the coroutine's
 * function (an address inside it), or NULL when co_main is not among
 * them. */
int dyco__frames_user(void *const *frames, int n, const void **in_func);

/* The frame of the coroutine's function (an address inside it), found by
 * unwinding the caller's stack however deep (a backtrace() buffer may end
 * before co_main), without storing the frames; NULL when the unwinder loses
 * the chain before co_main. Async-signal-safe as backtrace() is, once the
 * unwinder has run once. */
const void *dyco__unwind_in_func(void);

/* The function an address lies in (from dladdr: not in a signal handler),
 * or the address itself when dladdr knows no symbol there. */
const void *dyco__function_of(const void *pc);

/* --- pool.c / local.c ------------------------------------------------------
 */

/* A pool coroutine's stack and slot go back to its pool. */
void dyco__pool_release(dyco_schedule *s, dyco_coroutine *co, dyco__ext *ext);
/* Runs co's coroutine-local destructors. */
void dyco__locals_destroy(dyco__ext *ext);

#pragma GCC visibility pop

#endif /* DYCO_SCHED_INTERNAL_SCHED_H_ */
