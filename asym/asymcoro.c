/* dyco — asym layer: asymmetric coroutines. Create, resume, yield, end and
 * free them; find which one runs now, with or without a scheduler around. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(DYCO_CONTEXT_UCONTEXT)
#include <ucontext.h>
#endif

#include "asym/internal/asym.h"
#include "base/fatal.h"
#include "sched/schedule.h"

__thread dyco__athread dyco__athr;

/* How far below a yielding coroutine's frame its saved state may reach:
 * the switch's frame, and what lies between. Room for that much more is
 * kept in each shared-stack coroutine's copy buffer at each yield, so that
 * copying it later never needs memory (a copy that turns out bigger still
 * gets it, but then may fail). A ucontext switch keeps a ucontext_t there;
 * sanitizers add frames of their own. */
#if defined(DYCO_CONTEXT_UCONTEXT)
#define SAVE_SLACK (sizeof(ucontext_t) + 2048)
#elif DYCO_CONTEXT_SP_ONLY
/* (A tool found at run time adds frames of its own: a copy may then need
 * more than was kept, which it gets when it is made.) */
#define SAVE_SLACK 512
#else
#define SAVE_SLACK 4096
#endif

/* dyco_context_switch_int (which resume ends with a jump into: see
 * context/context.h), or under a tool found at run time the switch that
 * tells it. */
static inline int aswitch_int(const dyco__athread *t, dyco_context *from,
                              dyco_context *to) {
  if (DYCO__UNLIKELY(t->tools)) {
    return (int)(intptr_t)dyco_context_switch_tools(&from->sp, &to->sp, NULL,
                                                    from, to);
  }
  return dyco_context_switch_int(from, to, NULL);
}

/* Coroutine structures kept for reuse. Under AddressSanitizer none are, so
 * that a use after free is caught. */
#if defined(DYCO_ASAN)
#define KEEP_FREE 0
#else
#define KEEP_FREE 1024
#endif

/* --- The thread's state ------------------------------------------------ */

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void thread_gone(void *p);

/* asym as the thread's nested runner (base/thread.h). */
#define THREAD_OF(r) \
  ((dyco__athread *)(void *)((char *)(r) - offsetof(dyco__athread, runner)))

/* What dyco_coroutine_coroID asks first: the asymmetric coroutine running
 * on this thread, if any. */
static int runner_running(dyco__runner *r) {
  if (THREAD_OF(r)->count == 0) {
    return 0;
  }
  int cid = dyco_asymcoro_coroID();
  return cid > 0 ? cid : 0;
}

static int runner_overflow(dyco__runner *r, const char *addr,
                           dyco__overflow *out) {
  return dyco__astack_overflow(THREAD_OF(r), addr, out);
}

static void make_exit_key(void) { pthread_key_create(&exit_key, thread_gone); }

dyco__athread *dyco__athread_get(void) {
  dyco__athread *t = &dyco__athr;
  if (DYCO__LIKELY(t->ready)) {
    return t;
  }
  pthread_once(&exit_once, make_exit_key);
#if DYCO_CONTEXT_SP_ONLY
  t->tools = dyco_context_tools() != 0;
#endif
  dyco__slots_init(&t->slots, DYCO__CID_ASYM_FIRST, DYCO__CID_ASYM_MAX, 256);
  t->base = dyco__thread_self();
  t->runner.leave = NULL; /* nothing leaves an asymmetric stack this way */
  t->runner.running = runner_running;
  t->runner.overflow = runner_overflow;
  dyco__thread_set_nested(&t->runner);
  pthread_setspecific(exit_key, t);
  t->ready = 1;
  return t;
}

/* --- Making and freeing ------------------------------------------------- */

dyco__asym *dyco__asym_new(dyco__athread *t, proc_coroutine func, void *arg,
                           int *err) {
  dyco__asym *co = t->free_list;
  if (co != NULL) {
    t->free_list = co->next_free;
    t->nfree--;
  } else {
    co = (dyco__asym *)malloc(sizeof *co);
    if (co == NULL) {
      *err = -ENOMEM;
      return NULL;
    }
  }
  memset(co, 0, sizeof *co);
  int32_t cid = dyco__slots_take(&t->slots, co);
  if (cid < 0) {
    free(co);
    *err = cid;
    return NULL;
  }
  co->cid = cid;
  co->state = DYCO__A_NEW;
  co->flags = DYCO__AF_SHARED;
  co->func = func;
  co->arg = arg;
  dyco_context_fpmodes_get(&co->start_modes);
  t->count++;
  t->created++;
  return co;
}

void dyco__asym_release(dyco__athread *t, dyco__asym *co) {
  if (t->occupant == co) {
    t->occupant = NULL;
  }
  free(co->saved);
  co->saved = NULL;
  if (co->flags & DYCO__AF_STARTED) {
    dyco_context_destroy(&co->ctx);
  }
  if ((co->flags & DYCO__AF_CACHED) && co->stack != NULL) {
    dyco__stack_put(&t->stacks, co->stack, co->stack_size, co->guard);
  }
  dyco__slots_give_back(&t->slots, co->cid);
  t->count--;
  t->freed++;
  co->cid = 0;
#if KEEP_FREE > 0
  if (t->nfree < KEEP_FREE) {
    co->next_free = t->free_list;
    t->free_list = co;
    t->nfree++;
    return;
  }
#endif
  free(co);
}

int dyco_asymcoro_create(proc_coroutine func, void *arg) {
  if (func == NULL) {
    return -EINVAL;
  }
  dyco__athread *t = dyco__athread_get();
  int err;
  dyco__asym *co = dyco__asym_new(t, func, arg, &err);
  return co != NULL ? co->cid : err;
}

void dyco_asymcoro_free(int cid) {
  dyco__athread *t = &dyco__athr;
  dyco__asym *co = dyco__asym_find(t, cid);
  if (co == NULL) {
    return;
  }
  if (co->state == DYCO__A_RUNNING) {
    fprintf(stderr,
            "dyco: dyco_asymcoro_free: asymmetric coroutine %d is running; "
            "not freed\n",
            cid);
    return;
  }
  if (co->flags & DYCO__AF_POOL) {
    dyco__apool_release(t, co);
  } else {
    dyco__asym_release(t, co);
  }
}

/* --- Roots: the thread, and each scheduler coroutine ---------------------
 *
 * A scheduler coroutine that resumes asymmetric coroutines gets a root
 * record, kept as a coroutine-local value: when the coroutine ends or is
 * killed while asymmetric coroutines run under it, they can never go back
 * to it, and the value's destructor marks them killed. */

static int root_key = -1;
static pthread_once_t root_once = PTHREAD_ONCE_INIT;

static void root_gone(void *p);

static void make_root_key(void) {
  int key;
  if (dyco_coroutine_keyCreate(&key, root_gone) == 0) {
    root_key = key;
  }
}

/* Marks every coroutine of r's chain killed: nothing can resume it. */
static void orphan(dyco__athread *t, dyco__aroot *r) {
  dyco__asym *x = r->top;
  while (x != NULL) {
    dyco__asym *up = x->parent;
    x->state = DYCO__A_KILLED;
    if (x->flags & DYCO__AF_SHARED) {
      t->shared_running--;
    }
    if (t->current == x) {
      t->current = NULL;
    }
    x->parent = x->child = NULL;
    x->root = NULL;
    x = up;
  }
  r->top = NULL;
  if (t->shared_root == r || t->shared_running == 0) {
    t->shared_root = NULL;
  }
}

static void root_gone(void *p) {
  dyco__aroot *r = (dyco__aroot *)p;
  dyco__athread *t = &dyco__athr;
  if (t->root_rec == r) {
    t->root_rec = NULL;
    t->root_cid = 0;
  }
  orphan(t, r);
  free(r);
}

/* The root record of scheduler coroutine scid (the running one); made if
 * `create`. NULL with *err set when there is none. */
static dyco__aroot *sched_root(dyco__athread *t, int scid, int create,
                               int *err) {
  if (t->root_cid == scid && t->root_rec != NULL) {
    return t->root_rec;
  }
  pthread_once(&root_once, make_root_key);
  if (root_key < 0) {
    *err = -EAGAIN;
    return NULL;
  }
  dyco__aroot *r = (dyco__aroot *)dyco_coroutine_getLocal(root_key);
  if (r == NULL) {
    if (!create) {
      *err = -EPERM;
      return NULL;
    }
    r = (dyco__aroot *)calloc(1, sizeof *r);
    if (r == NULL) {
      *err = -ENOMEM;
      return NULL;
    }
    r->cid = scid;
    int e = dyco_coroutine_setLocal(root_key, r);
    if (e != 0) {
      free(r);
      *err = e;
      return NULL;
    }
  }
  t->root_cid = scid;
  t->root_rec = r;
  return r;
}

/* 1 when sp lies on the stack co runs on, and so co is the asymmetric
 * coroutine running now (only the shared stack's occupant runs there). */
static inline int on_stack(const dyco__athread *t, const dyco__asym *co,
                           const char *sp) {
  return (uintptr_t)(sp - co->lo) < (uintptr_t)(co->hi - co->lo) &&
         (!(co->flags & DYCO__AF_SHARED) || t->occupant == co);
}

/* The asymmetric coroutine running now when t->current is not it: the
 * innermost one of the running root's chain, if sp is on its stack. NULL
 * when none runs (the root itself does). *root gets the root. */
static dyco__asym *find_running(dyco__athread *t, const char *sp,
                                dyco__aroot **root) {
  int scid = dyco_schedule_coroID();
  dyco__aroot *r;
  if (scid > 0) {
    int err;
    r = sched_root(t, scid, 0, &err);
    if (r == NULL) {
      return NULL;
    }
  } else {
    r = &t->main;
  }
  *root = r;
  dyco__asym *top = r->top;
  if (top != NULL && on_stack(t, top, sp)) {
    t->current = top;
    return top;
  }
  return NULL;
}

/* For a resume that did not find its caller in t->current: who resumes
 * (*cur, NULL for a root) under which root. A scheduler coroutine resuming
 * from its own stack is told to the scheduler, the thread's driver
 * (dyco__thread_leave), which must know where it left its stack while it
 * runs on co's. */
static int find_resumer(dyco__athread *t, dyco__asym *co, const char *sp,
                        dyco__asym **cur, dyco__aroot **root) {
  int scid = dyco__thread_leave(&co->resumer);
  dyco__aroot *r;
  if (scid > 0) {
    int err;
    r = sched_root(t, scid, 1, &err);
    if (r == NULL) {
      return err;
    }
  } else if (scid < 0) {
    return scid;
  } else {
    r = &t->main;
  }
  dyco__asym *top = r->top;
  if (top == NULL) {
    *cur = NULL;
  } else if (on_stack(t, top, sp)) {
    *cur = top;
  } else {
    return -EPERM; /* from a context asym cannot place */
  }
  t->current = *cur;
  *root = r;
  return 0;
}

/* --- Switching ------------------------------------------------------------ */

static int state_error(int state) {
  switch (state) {
    case DYCO__A_DEAD:
      return -ENODATA;
    case DYCO__A_KILLED:
      return -ECANCELED;
    default:
      return -EBUSY;
  }
}

/* co becomes the running coroutine of root's chain, resumed by cur. */
static inline void enter(dyco__athread *t, dyco__asym *co, dyco__asym *cur,
                         dyco__aroot *root) {
  co->parent = cur;
  co->root = root;
  co->depth = (uint16_t)(cur != NULL ? cur->depth + 1 : 1);
  if (cur != NULL) {
    cur->child = co;
  }
  root->top = co;
  t->current = co;
  co->state = DYCO__A_RUNNING;
#if !DYCO_CONTEXT_SP_ONLY
  /* Sanitizers learn the resumer's stack at each switch from it. */
  memset(&co->resumer, 0, sizeof co->resumer);
#endif
}

/* enter, on the slow paths, which also serve a tool found at run time (the
 * fast paths leave that case to them): the tool learns the resumer's stack
 * afresh too. */
static inline void enter_slow(dyco__athread *t, dyco__asym *co, dyco__asym *cur,
                              dyco__aroot *root) {
  enter(t, co, cur, root);
#if DYCO_CONTEXT_SP_ONLY
  if (DYCO__UNLIKELY(t->tools)) {
    memset(&co->resumer, 0, sizeof co->resumer);
  }
#endif
}

/* co, running, hands the CPU back: its parent (or root) runs next. */
static inline void leave(dyco__athread *t, dyco__asym *co, dyco__asym *p) {
  co->root->top = p;
  t->current = p;
  if (p != NULL) {
    p->child = NULL;
  }
  if (co->flags & DYCO__AF_SHARED) {
    t->shared_running--;
  }
}

/* From co back to its resumer when that is its parent p, on the shared
 * stack but not installed there now. */
static void *back_to_shared_parent(dyco__athread *t, dyco__asym *co,
                                   dyco__asym *p, void *value) {
  if (co->flags & DYCO__AF_SHARED) {
    /* co runs on the shared stack itself: the mover copies. */
    return dyco__ashared_move(t, &co->ctx, p, &co->resumer, value);
  }
  if (dyco__ashared_install(t, p) != 0) {
    dyco__fatal(
        "out of memory to copy the shared stack (asymmetric coroutine %d)",
        p->cid);
  }
  return dyco__aswitch(t, &co->ctx, &co->resumer, value);
}

/* co's function returned: back to its resumer for good. */
static void finish(dyco__asym *co) __attribute__((noreturn));
static void finish(dyco__asym *co) {
  dyco__athread *t = &dyco__athr;
  dyco__asym *p = co->parent;
  co->state = DYCO__A_DEAD;
  leave(t, co, p);
  if (p == NULL || !(p->flags & DYCO__AF_SHARED) || t->occupant == p) {
    dyco__aswitch(t, &co->ctx, &co->resumer, NULL);
  } else {
    back_to_shared_parent(t, co, p, NULL);
  }
  dyco__fatal("resumed after it ended (asymmetric coroutine %d)", co->cid);
}

/* Every asymmetric coroutine starts here, on its stack. */
static void asym_main(void *arg) {
  dyco__asym *co = (dyco__asym *)arg;
  co->func(co->arg);
  finish(co);
}

int dyco__asym_make(dyco__asym *co, char *stack, size_t size) {
  int err = dyco_context_make_modes(&co->ctx, stack, size, asym_main, co,
                                    &co->start_modes);
  if (err != 0) {
    return err;
  }
  co->lo = stack;
  co->hi = stack + size;
  co->flags |= DYCO__AF_STARTED;
  return 0;
}

/* The slower resume: co runs on the shared stack. */
static __attribute__((noinline)) int resume_shared(dyco__athread *t,
                                                   dyco__asym *co,
                                                   dyco__asym *cur,
                                                   dyco__aroot *root,
                                                   const char *sp) {
  if (t->shared_running != 0 && t->shared_root != root) {
    return -EBUSY; /* held by coroutines suspended under another root */
  }
  int err = dyco__ashared_map(t);
  if (err != 0) {
    return err;
  }
  if (t->occupant == co) {
    enter_slow(t, co, cur, root);
    t->shared_running++;
    t->shared_root = root;
    return aswitch_int(t, &co->resumer, &co->ctx);
  }
  if (cur != NULL && (cur->flags & DYCO__AF_SHARED)) {
    /* The caller runs on the shared stack: the mover copies its bytes off
     * and co's on, from its own stack. */
    err = dyco__ashared_reserve(t, cur, (size_t)(cur->hi - sp) + SAVE_SLACK);
    if (err == 0) {
      err = dyco__ashared_mover_ready(t);
    }
    if (err != 0) {
      return err;
    }
    enter_slow(t, co, cur, root);
    t->shared_running++;
    t->shared_root = root;
    return (int)(intptr_t)dyco__ashared_move(t, &co->resumer, co, &co->ctx,
                                             NULL);
  }
  err = dyco__ashared_install(t, co);
  if (err != 0) {
    return err;
  }
  enter_slow(t, co, cur, root);
  t->shared_running++;
  t->shared_root = root;
  return aswitch_int(t, &co->resumer, &co->ctx);
}

/* The stack pointer, or near enough: an address in the running frame. */
static inline const char *stack_pointer(void) {
  const char *sp;
#if defined(__x86_64__)
  __asm__("mov %%rsp, %0" : "=r"(sp));
#elif defined(__i386__)
  __asm__("mov %%esp, %0" : "=r"(sp));
#elif defined(__aarch64__) || defined(__arm__)
  __asm__("mov %0, sp" : "=r"(sp));
#else
  sp = (const char *)__builtin_frame_address(0);
#endif
  return sp;
}

/* Everything resume does, for the cases the fast paths leave out: errors,
 * a caller asym must look for, shared stacks, a first run. */
static __attribute__((noinline)) int resume_slow(dyco__asym *co) {
  dyco__athread *t = &dyco__athr;
  const char *sp = stack_pointer();
  if (co == NULL) {
    return -ESRCH;
  }
  if (co->state > DYCO__A_SUSPENDED) {
    return state_error(co->state);
  }
  dyco__asym *cur = t->current;
  dyco__aroot *root;
  if (cur != NULL && on_stack(t, cur, sp)) {
    root = cur->root;
  } else {
    int err = find_resumer(t, co, sp, &cur, &root);
    if (err != 0) {
      return err;
    }
  }
  if (cur != NULL && cur->depth >= DYCO_ASYMCORO_DEPTH_MAX) {
    return -ELOOP;
  }
  if (co->flags & DYCO__AF_SHARED) {
    return resume_shared(t, co, cur, root, sp);
  }
  if (!(co->flags & DYCO__AF_STARTED)) {
    int err = dyco__asym_make(co, co->stack, co->stack_size);
    if (err != 0) {
      return err;
    }
  }
  enter_slow(t, co, cur, root);
  return aswitch_int(t, &co->resumer, &co->ctx);
}

/* 1 when co may run now without anything copied on the shared stack: a
 * private stack, or the shared stack with co on it and no other root
 * holding it. */
static inline int ready_to_run(const dyco__athread *t, const dyco__asym *co,
                               const dyco__aroot *root) {
  if (!(co->flags & DYCO__AF_SHARED)) {
    return (co->flags & DYCO__AF_STARTED) != 0;
  }
  return t->occupant == co &&
         (t->shared_running == 0 || t->shared_root == root);
}

/* The common case's last steps: co runs, resumed by cur under root. */
static inline int run(dyco__athread *t, dyco__asym *co, dyco__asym *cur,
                      dyco__aroot *root) {
  if (co->flags & DYCO__AF_SHARED) {
    t->shared_running++;
    t->shared_root = root;
  }
  enter(t, co, cur, root);
  return dyco_context_switch_int(&co->resumer, &co->ctx, NULL);
}

/* A resume by a root, as far as asym knows (no asymmetric coroutine ran
 * last): the thread, or the scheduler coroutine seen last, whose chain
 * must be empty. The scheduler (the thread's driver) learns where its
 * coroutine leaves its stack. */
static __attribute__((noinline)) int resume_from_sched(dyco__asym *co) {
  int scid = dyco__thread_leave(&co->resumer);
  /* Only co itself is kept across the call (one register to save). */
  __asm__("" : "+r"(co));
  dyco__athread *t = &dyco__athr;
  dyco__aroot *r = scid == 0                         ? &t->main
                   : scid > 0 && scid == t->root_cid ? t->root_rec
                                                     : NULL;
  if (DYCO__LIKELY(r != NULL && r->top == NULL && ready_to_run(t, co, r))) {
    return run(t, co, NULL, r);
  }
  return resume_slow(co);
}

static inline int resume_from_root(dyco__athread *t, dyco__asym *co) {
  /* No scheduler runs (the thread has no driver): the thread's own code
   * resumes, and no call to the scheduler is needed. */
  if (DYCO__LIKELY(t->base->driver == NULL && t->main.top == NULL &&
                   ready_to_run(t, co, &t->main))) {
    return run(t, co, NULL, &t->main);
  }
  return resume_from_sched(co);
}

int dyco_asymcororesume(int cid) {
  dyco__athread *t = &dyco__athr;
  dyco__asym *co = dyco__asym_find(t, cid);
  /* The fast paths below switch without telling a tool: under a tool
   * found at run time, resume_slow does everything. */
  if (DYCO__LIKELY(co != NULL && co->state <= DYCO__A_SUSPENDED && !t->tools)) {
    dyco__asym *cur = t->current;
    if (cur == NULL) {
      return resume_from_root(t, co);
    }
    /* From the asymmetric coroutine that ran last, if it still runs. */
    if (DYCO__LIKELY(on_stack(t, cur, stack_pointer()) &&
                     cur->depth < DYCO_ASYMCORO_DEPTH_MAX &&
                     ready_to_run(t, co, cur->root))) {
      return run(t, co, cur, cur->root);
    }
  }
  return resume_slow(co);
}

/* Everything yield does, for the cases the fast path leaves out. */
static __attribute__((noinline)) void yield_slow(dyco__athread *t) {
  const char *sp = stack_pointer();
  dyco__asym *co = t->current;
  if (co == NULL || !on_stack(t, co, sp)) {
    dyco__aroot *root;
    co = find_running(t, sp, &root);
    if (co == NULL) {
      return; /* not in an asymmetric coroutine */
    }
  }
  if (co->flags & DYCO__AF_SHARED) {
    /* Whatever happens next, keeping its bytes must not fail later. */
    size_t need = (size_t)(co->hi - sp) + SAVE_SLACK;
    if (need > co->saved_cap && dyco__ashared_reserve(t, co, need) != 0) {
      dyco__fatal(
          "out of memory to keep the stack of (asymmetric coroutine %d)",
          co->cid);
    }
  }
  dyco__asym *p = co->parent;
  co->state = DYCO__A_SUSPENDED;
  leave(t, co, p);
  void *value = (void *)(intptr_t)co->cid;
  if (p == NULL || !(p->flags & DYCO__AF_SHARED) || t->occupant == p) {
    dyco__aswitch(t, &co->ctx, &co->resumer, value);
  } else {
    back_to_shared_parent(t, co, p, value);
  }
}

void dyco_asymcoroyield(void) {
  dyco__athread *t = &dyco__athr;
  const char *sp = stack_pointer();
  dyco__asym *co = t->current;
  /* As resume: a tool found at run time takes the slow path. */
  if (DYCO__LIKELY(co != NULL && !t->tools && on_stack(t, co, sp))) {
    dyco__asym *p = co->parent;
    /* Its parent (if any) ready to run again, and (on the shared stack)
     * room kept for its bytes. */
    if (DYCO__LIKELY(
            (p == NULL || !(p->flags & DYCO__AF_SHARED) || t->occupant == p) &&
            (!(co->flags & DYCO__AF_SHARED) ||
             (size_t)(co->hi - sp) + SAVE_SLACK <= co->saved_cap))) {
      co->state = DYCO__A_SUSPENDED;
      leave(t, co, p);
      dyco_context_switch(&co->ctx, &co->resumer, (void *)(intptr_t)co->cid);
      return;
    }
  }
  yield_slow(t);
}

int dyco_asymcoro_coroID(void) {
  dyco__athread *t = &dyco__athr;
  const char *sp = stack_pointer();
  dyco__asym *co = t->current;
  if (co == NULL || !on_stack(t, co, sp)) {
    dyco__aroot *root;
    co = find_running(t, sp, &root);
  }
  return co != NULL ? co->cid : -EPERM;
}

/* --- Stacks and udata ------------------------------------------------------
 */

int dyco_asymcoro_setStack(int cid, void *stackptr, size_t stacksize) {
  dyco__athread *t = &dyco__athr;
  dyco__asym *co = dyco__asym_find(t, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  if (co->state != DYCO__A_NEW || (co->flags & DYCO__AF_POOL)) {
    return -EBUSY;
  }
  /* Had before anything changes: on error the old stack stays. */
  dyco__stack_ref fresh = {NULL, 0, 0};
  if (stacksize != 0) {
    int err = dyco__stack_for(&t->stacks, stackptr, stacksize, &fresh);
    if (err != 0) {
      return err;
    }
  }
  /* Whatever it had goes. */
  if ((co->flags & DYCO__AF_CACHED) && co->stack != NULL) {
    dyco__stack_put(&t->stacks, co->stack, co->stack_size, co->guard);
  }
  co->stack = NULL;
  co->stack_size = 0;
  co->guard = 0;
  co->flags = (uint8_t)((co->flags & ~DYCO__AF_CACHED) | DYCO__AF_SHARED);
  if (stacksize == 0) {
    return 0;
  }
  co->stack = fresh.stack;
  co->stack_size = fresh.size;
  co->guard = fresh.guard;
  if (fresh.guard != 0) {
    co->flags |= DYCO__AF_CACHED;
  }
  co->flags &= (uint8_t)~DYCO__AF_SHARED;
  return 1;
}

int dyco_asymcoro_getStack(int cid, void **stackptr, size_t *stacksize) {
  dyco__athread *t = &dyco__athr;
  dyco__asym *co = dyco__asym_find(t, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  void *p;
  size_t n;
  int priv = !(co->flags & DYCO__AF_SHARED);
  if (priv) {
    p = co->stack;
    n = co->stack_size;
  } else {
    int err = dyco__ashared_map(t);
    if (err != 0) {
      return err;
    }
    p = t->shared_lo;
    n = (size_t)(t->shared_hi - t->shared_lo);
  }
  if (stackptr != NULL) {
    *stackptr = p;
  }
  if (stacksize != NULL) {
    *stacksize = n;
  }
  return priv;
}

int dyco_asymcoro_setUdata(int cid, void *udata) {
  dyco__asym *co = dyco__asym_find(&dyco__athr, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  co->udata = udata;
  return 0;
}

int dyco_asymcoro_getUdata(int cid, void **udata) {
  if (udata == NULL) {
    return -EINVAL;
  }
  dyco__asym *co = dyco__asym_find(&dyco__athr, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  *udata = co->udata;
  return 0;
}

int dyco_coroutine_isasymmetric(int cid) {
  if (dyco__asym_find(&dyco__athr, cid) != NULL) {
    return 1;
  }
  if (cid > 0 && dyco_coroutine_getSchedCount(cid) >= 0) {
    return 0;
  }
  return -ESRCH;
}

int dyco_asymcoro_getStats(dyco_asymcoro_stats *st) {
  if (st == NULL) {
    return -EINVAL;
  }
  dyco__athread *t = &dyco__athr;
  memset(st, 0, sizeof *st);
  st->coroutines = t->count;
  st->created = t->created;
  st->freed = t->freed;
  st->shared_saves = t->saves;
  st->shared_bytes = t->save_bytes;
  for (uint32_t i = 1; i < t->slots.n; i++) {
    void *e = dyco__slots_at(&t->slots, i);
    if (e != NULL) {
      st->saved_bytes += ((const dyco__asym *)e)->saved_cap;
    }
  }
  dyco__stack_cache_count(&t->stacks, &st->private_stacks, &st->cached_stacks);
  st->pools = t->npools;
  return 0;
}

/* --- Thread exit ------------------------------------------------------------
 */

static void thread_gone(void *p) {
  dyco__athread *t = (dyco__athread *)p;
  if (t != &dyco__athr) {
    return;
  }
  /* Scheduler coroutines' root records outlive this when the scheduler is
   * freed after asym: they must not point at freed coroutines. */
  for (uint32_t i = 1; i < t->slots.n; i++) {
    void *e = dyco__slots_at(&t->slots, i);
    if (e == NULL) {
      continue;
    }
    dyco__asym *co = (dyco__asym *)e;
    if (co->state == DYCO__A_RUNNING && co->root != NULL &&
        co->root != &t->main) {
      co->root->top = NULL;
    }
  }
  const char *sp = (const char *)__builtin_frame_address(0);
  int on_shared =
      t->shared_lo != NULL && sp >= t->shared_lo && sp < t->shared_hi;
  for (uint32_t i = 1; i < t->slots.n; i++) {
    void *e = dyco__slots_at(&t->slots, i);
    if (e == NULL) {
      continue;
    }
    dyco__asym *co = (dyco__asym *)e;
    if (co->state == DYCO__A_RUNNING && co->stack != NULL && sp >= co->stack &&
        sp < co->stack + co->stack_size) {
      co->flags &= (uint8_t)~DYCO__AF_CACHED; /* still on it: leave it */
    }
    co->state = DYCO__A_KILLED;
    if (co->flags & DYCO__AF_POOL) {
      dyco__apool_release(t, co);
    } else {
      dyco__asym_release(t, co);
    }
  }
  dyco__apool_destroy_all(t);
  while (t->free_list != NULL) {
    dyco__asym *co = t->free_list;
    t->free_list = co->next_free;
    free(co);
  }
  if (!on_shared) {
    dyco__ashared_unmap(t);
  }
  dyco__stack_cache_destroy(&t->stacks);
  dyco__slots_destroy(&t->slots);
  if (t->base->nested == &t->runner) {
    dyco__thread_set_nested(NULL);
  }
  memset(t, 0, sizeof *t);
}
