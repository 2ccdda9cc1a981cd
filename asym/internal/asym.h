/* dyco — asym layer, private: the coroutine and per-thread structures and
 * the functions the asym sources share. Not for use outside asym/. */
#ifndef DYCO_ASYM_INTERNAL_ASYM_H_
#define DYCO_ASYM_INTERNAL_ASYM_H_

#include <stddef.h>
#include <stdint.h>

#include "asym/asymcoro.h"
#include "base/hints.h"
#include "base/slots.h"
#include "base/stack.h"
#include "base/thread.h"
#include "context/context.h"
#include "sched/wait.h"

/* --- Coroutine states --------------------------------------------------- */
enum {
  DYCO__A_NEW = 0,   /* made, never resumed */
  DYCO__A_SUSPENDED, /* yielded */
  DYCO__A_RUNNING,   /* resumed and not yet back: running, or suspended in a
                        resume of its own, or in the scheduler */
  DYCO__A_DEAD,      /* its function returned */
  DYCO__A_KILLED     /* the scheduler coroutine it ran under went away */
};

/* --- dyco__asym.flags --------------------------------------------------- */
enum {
  DYCO__AF_SHARED = 1 << 0,  /* runs on the thread's shared stack */
  DYCO__AF_STARTED = 1 << 1, /* its context has been made */
  DYCO__AF_CACHED = 1 << 2,  /* its private stack came from the cache */
  DYCO__AF_POOL = 1 << 3     /* belongs to a pool */
};

typedef struct dyco__asym dyco__asym;
typedef struct dyco__aroot dyco__aroot;
typedef struct dyco__apool dyco__apool;

/* What resumes asymmetric coroutines from outside them: the thread itself,
 * or one coroutine of its scheduler. Each root has its own chain of
 * running asymmetric coroutines; `top` is the innermost one. */
struct dyco__aroot {
  dyco__asym *top; /* NULL while the root itself runs */
  int cid;         /* the scheduler coroutine, 0 for the thread */
};

struct dyco__asym {
  /* Hot: what resume and yield touch. */
  dyco_context ctx;     /* its own context */
  dyco_context resumer; /* where it yields to */
  char *lo;             /* the stack it runs on, [lo, hi) */
  char *hi;
  dyco__asym *parent; /* the asymmetric coroutine that resumed it, or NULL */
  dyco__asym *child;  /* the one it resumed, while that one is running */
  dyco__aroot *root;
  int32_t cid;
  uint8_t state;
  uint8_t flags;
  uint16_t depth; /* 1 when resumed by a root */
  /* Cold. */
  proc_coroutine func;
  void *arg;
  void *udata;
  char *stack; /* a private stack, NULL on the shared stack */
  size_t stack_size;
  size_t guard; /* below a stack dyco made (cache, pool); 0 for yours */
  char *saved;  /* its bytes off the shared stack (the top saved_len) */
  uint32_t saved_len;
  uint32_t saved_cap;
  dyco__apool *pool;
  dyco__asym *next_free;
  /* Until it starts: its creator's floating-point modes, which it starts
   * with (its context is made at its first resume). */
  dyco_context_fpmodes start_modes;
};

/* Everything asym keeps per thread. Zero until first used. */
typedef struct dyco__athread {
  /* The asymmetric coroutine running now, as far as asym knows: checked
   * against the stack pointer before use, because a scheduler may have
   * switched coroutines since. */
  dyco__asym *current;
  dyco__aroot main; /* the thread as a root */

  /* Coroutines by cid (the asymmetric range of base/ids.h). */
  dyco__slots slots;
  uint32_t count;

  /* The shared stack [shared_lo, shared_hi), a guard below. */
  char *shared_lo;
  char *shared_hi;
  size_t shared_guard;
  dyco__asym *occupant;     /* whose bytes are on it */
  uint32_t shared_running;  /* RUNNING coroutines on the shared stack */
  dyco__aroot *shared_root; /* the root they all run under */

  /* The mover: a context on a small stack of its own that copies bytes on
   * and off the shared stack when the coroutine leaving runs on it too. */
  dyco_context mover;
  dyco__stack_ref mover_stack;
  dyco__asym *mv_install;
  dyco_context *mv_to;
  void *mv_value;

  /* The root record of the scheduler coroutine seen last. */
  int root_cid;
  dyco__aroot *root_rec;
  /* The thread's record in base (base/thread.h): while it has no driver
   * (no scheduler runs on the thread), a resume with no asymmetric
   * coroutine running comes from the thread's own code. */
  dyco__thread *base;
  /* What asym answers the thread's other layers, as its nested runner. */
  dyco__runner runner;

  dyco__asym *free_list; /* coroutine structures for reuse */
  uint32_t nfree;

  dyco__stack_cache stacks; /* private stacks (base/stack.h) */

  dyco__apool *pools; /* every pool of the thread, linked */
  uint32_t npools;

  int ready; /* set up (slots, runner, exit hook) */
  /* Nonzero when a tool found at run time must hear of every switch and
   * copy (dyco_context_tools, in a build that keeps stack pointers only). */
  int tools;
  uint64_t created;
  uint64_t freed;
  uint64_t saves;
  uint64_t save_bytes;
} dyco__athread;

extern __thread dyco__athread dyco__athr;

/* A switch between asym's contexts: dyco_context_switch, or under a tool
 * found at run time, dyco_context_switch_tools. */
static inline void *dyco__aswitch(const dyco__athread *t, dyco_context *from,
                                  dyco_context *to, void *value) {
  if (DYCO__UNLIKELY(t->tools)) {
    return dyco_context_switch_tools(&from->sp, &to->sp, value, from, to);
  }
  return dyco_context_switch(from, to, value);
}

/* --- cids -------------------------------------------------------------- */

/* Asymmetric cids are the asymmetric range of the id space (base/ids.h):
 * never equal to a scheduler coroutine's. */
_Static_assert(DYCO__CID_ASYM_MAX == DYCO_ASYMCORO_MAX,
               "asym/asymcoro.h says how many coroutines a thread holds");

/* base checks a caller's stack against the context layer's limits. */
_Static_assert(DYCO__STACK_MIN == DYCO_CONTEXT_STACK_MIN &&
                   DYCO__STACK_ALIGN == DYCO_CONTEXT_STACK_ALIGN,
               "base/stack.h checks stacks against the context layer's "
               "minimum and alignment");

static inline dyco__asym *dyco__asym_find(const dyco__athread *t, int cid) {
  if (DYCO__UNLIKELY(((uint32_t)cid & (0x80000000u | DYCO__CID_ASYM_FIRST)) !=
                     DYCO__CID_ASYM_FIRST)) {
    return NULL; /* not a positive asymmetric cid */
  }
  dyco__asym *co = (dyco__asym *)dyco__slots_get(&t->slots, cid);
  return DYCO__LIKELY(co != NULL && co->cid == cid) ? co : NULL;
}

/* --- asymcoro.c ---------------------------------------------------------- */

/* This thread's state, set up. */
dyco__athread *dyco__athread_get(void);

/* A new coroutine in NEW state on the shared stack, with a cid. NULL with
 * *err set on failure. */
dyco__asym *dyco__asym_new(dyco__athread *t, proc_coroutine func, void *arg,
                           int *err);

/* Frees a coroutine that is not running (its stack, copies, cid). */
void dyco__asym_release(dyco__athread *t, dyco__asym *co);

/* Makes co's context on [stack, stack + size), to start in its function.
 * 0, or -EINVAL for a stack too small. */
int dyco__asym_make(dyco__asym *co, char *stack, size_t size);

/* --- stack.c ------------------------------------------------------------- */

/* Maps the shared stack if it is not yet. 0 or -ENOMEM. */
int dyco__ashared_map(dyco__athread *t);

/* Makes x the occupant of the shared stack, copying the current occupant's
 * bytes off if it will need them again, then x's on (or making its first
 * frame). Must not run on the shared stack. 0, or -ENOMEM. */
int dyco__ashared_install(dyco__athread *t, dyco__asym *x);

/* Makes sure co's copy buffer holds `bytes`, so that saving it later
 * cannot fail. 0 or -ENOMEM. */
int dyco__ashared_reserve(dyco__athread *t, dyco__asym *co, size_t bytes);

/* Sets up the mover (its stack and context) if it is not yet. 0 or
 * -ENOMEM. */
int dyco__ashared_mover_ready(dyco__athread *t);

/* Switches from `from` (on the shared stack, in `from_ctx`) to `to`, having
 * the mover install x on the shared stack in between. Returns what the
 * switch back to from_ctx passes. */
void *dyco__ashared_move(dyco__athread *t, dyco_context *from_ctx,
                         dyco__asym *x, dyco_context *to, void *value);

/* Unmaps the shared stack and the mover's. */
void dyco__ashared_unmap(dyco__athread *t);

/* For the overflow report (base/thread.h), from the SIGSEGV handler: 1
 * when addr lies in the guard below a stack of one of the thread's
 * asymmetric coroutines, with *out filled in. */
int dyco__astack_overflow(const dyco__athread *t, const char *addr,
                          dyco__overflow *out);

/* --- pool.c -------------------------------------------------------------- */

/* A pool coroutine goes back to its pool (it is freed). */
void dyco__apool_release(dyco__athread *t, dyco__asym *co);

/* Frees every pool of the thread (at thread exit). */
void dyco__apool_destroy_all(dyco__athread *t);

#endif /* DYCO_ASYM_INTERNAL_ASYM_H_ */
