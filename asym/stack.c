/* dyco — asym layer: stacks. The shared stack, its copies and the mover that
 * makes them; private stacks from a cache, each with a guard below. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "asym/internal/asym.h"
#include "base/fatal.h"
#include "sched/schedule.h"

#if defined(DYCO_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(DYCO_VALGRIND)
#include <valgrind/memcheck.h>
#endif

/* The mover only copies; sanitizers want more room. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
#define MOVER_STACK (128 * 1024)
#else
#define MOVER_STACK (32 * 1024)
#endif

/* A mapping of `bytes` usable bytes with `guard` bytes of guard below
 * them: returns the lowest usable byte, NULL when out of memory. */
static char *map_guarded(size_t bytes, size_t guard) {
  char *m = (char *)mmap(NULL, guard + bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return NULL;
  }
  if (mprotect(m, guard, PROT_NONE) != 0) {
    munmap(m, guard + bytes);
    return NULL;
  }
  return m + guard;
}

static void unmap_guarded(char *usable, size_t bytes, size_t guard) {
  munmap(usable - guard, guard + bytes);
}

/* --- Sizes -----------------------------------------------------------------
 */

int dyco__astack_size(dyco__athread *t, size_t want, size_t *out) {
  size_t page = t->page != 0 ? t->page : (size_t)sysconf(_SC_PAGESIZE);
  if (want > DYCO_STACK_SIZE_MAX) {
    return -EINVAL; /* also keeps the rounding below from overflowing */
  }
  if (want < DYCO_CONTEXT_STACK_MIN) {
    want = DYCO_CONTEXT_STACK_MIN;
  }
  *out = (want + page - 1) & ~(page - 1);
  return 0;
}

int dyco__astack_fits(size_t count, size_t size, size_t guard) {
  /* What a process's address space holds at most (see sched/stack.c). */
  const uint64_t space =
      sizeof(void *) >= 8 ? (uint64_t)1 << 47 : (uint64_t)1 << 32;
  uint64_t one = (uint64_t)size + (uint64_t)guard + 4096u;
  if (count != 0 && one > space / count) {
    return -ENOMEM;
  }
  return 0;
}

/* --- The shared stack ------------------------------------------------------
 */

int dyco__ashared_map(dyco__athread *t) {
  if (DYCO__LIKELY(t->shared_lo != NULL)) {
    return 0;
  }
  size_t guard = dyco_schedule_getStackGuard();
  char *lo = map_guarded(DYCO_ASYMCORO_SHARED_STACK, guard);
  if (lo == NULL) {
    return -ENOMEM;
  }
  dyco__aoverflow_thread_init(t);
  t->shared_lo = lo;
  t->shared_hi = lo + DYCO_ASYMCORO_SHARED_STACK;
  t->shared_guard = guard;
  return 0;
}

void dyco__ashared_unmap(dyco__athread *t) {
  if (t->shared_lo != NULL) {
    unmap_guarded(t->shared_lo, DYCO_ASYMCORO_SHARED_STACK, t->shared_guard);
  }
  t->shared_lo = t->shared_hi = NULL;
  t->occupant = NULL;
  if (t->mover_map != NULL) {
    dyco_context_destroy(&t->mover);
    unmap_guarded(t->mover_map, MOVER_STACK, t->mover_guard);
  }
  t->mover_map = NULL;
}

/* Copies that AddressSanitizer must not check: a suspended stack holds the
 * poisoned red zones of its frames. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
__attribute__((no_sanitize_address, no_sanitize_thread))
#endif
static void
stack_copy(char *to, const char *from, size_t n) {
  const dyco__athread *t = &dyco__athr;
  if (DYCO__UNLIKELY(t->tools)) {
    /* A tool found at run time: it keeps its record of the bytes too. */
    if (to >= t->shared_lo && to < t->shared_hi) {
      dyco_context_stack_restore(to, from, n);
    } else {
      dyco_context_stack_save(to, from, n);
    }
    return;
  }
#if defined(DYCO_VALGRIND)
  /* Memcheck marks a stack's bytes below its last stack pointer as gone;
   * the copy gives them back. */
  VALGRIND_MAKE_MEM_UNDEFINED(to, n);
#endif
#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
  for (size_t i = 0; i < n; i++) {
    to[i] = from[i];
  }
#else
  memcpy(to, from, n);
#endif
}

int dyco__ashared_reserve(dyco__athread *t, dyco__asym *co, size_t bytes) {
  size_t max = DYCO_ASYMCORO_SHARED_STACK;
  if (bytes > max) {
    bytes = max;
  }
  if (DYCO__UNLIKELY(t->tools)) {
    bytes += dyco_context_stack_extra(bytes); /* the tool's record */
  }
  if (bytes <= co->saved_cap) {
    return 0;
  }
  size_t cap = (bytes + 255) & ~(size_t)255;
  char *b = (char *)malloc(cap);
  if (b == NULL) {
    return -ENOMEM;
  }
  free(co->saved); /* it holds nothing that is still needed */
  co->saved = b;
  co->saved_cap = (uint32_t)cap;
  return 0;
}

/* Copies o's bytes, from the lowest one its context `at` still uses up to
 * the top, off the shared stack. */
static int save(dyco__athread *t, dyco__asym *o, const dyco_context *at) {
  char *low = (char *)dyco_context_stack_low(at);
  if (low < t->shared_lo || low > t->shared_hi) {
    low = t->shared_lo; /* cannot happen; all of it is always right */
  }
  size_t len = (size_t)(t->shared_hi - low);
  int err = dyco__ashared_reserve(t, o, len);
  if (err != 0) {
    return err;
  }
  stack_copy(o->saved, low, len);
  o->saved_len = (uint32_t)len;
  t->saves++;
  t->save_bytes += len;
  return 0;
}

int dyco__ashared_install(dyco__athread *t, dyco__asym *x) {
  dyco__asym *o = t->occupant;
  if (o != NULL && o != x) {
    /* Which context holds o's stack pointer: its own when it yielded; its
     * child's resumer while it waits in a resume. Dead ones need nothing. */
    const dyco_context *at = NULL;
    if (o->state == DYCO__A_SUSPENDED) {
      at = &o->ctx;
    } else if (o->state == DYCO__A_RUNNING) {
      if (o->child == NULL) {
        return -EBUSY; /* running on it: cannot be moved */
      }
      at = &o->child->resumer;
    }
    if (at != NULL) {
      int err = save(t, o, at);
      if (err != 0) {
        return err;
      }
    }
  }
#if defined(DYCO_ASAN)
  /* The previous owner's red zones must not follow the next one. */
  ASAN_UNPOISON_MEMORY_REGION(t->shared_lo,
                              (size_t)(t->shared_hi - t->shared_lo));
#endif
  if (DYCO__UNLIKELY(t->tools)) {
    dyco_context_stack_reuse(t->shared_lo,
                             (size_t)(t->shared_hi - t->shared_lo));
  }
  if (!(x->flags & DYCO__AF_STARTED)) {
    int err =
        dyco__asym_make(x, t->shared_lo, (size_t)(t->shared_hi - t->shared_lo));
    if (err != 0) {
      return err;
    }
  } else if (o != x) {
    stack_copy(t->shared_hi - x->saved_len, x->saved, x->saved_len);
  }
  t->occupant = x;
  return 0;
}

/* The mover's loop: install what it is asked to, then switch on. */
static void mover_main(void *arg) {
  dyco__athread *t = (dyco__athread *)arg;
  for (;;) {
    dyco__asym *x = t->mv_install;
    if (dyco__ashared_install(t, x) != 0) {
      dyco__fatal(
          "out of memory to copy the shared stack (asymmetric coroutine %d)",
          x->cid);
    }
    dyco__aswitch(t, &t->mover, t->mv_to, t->mv_value);
  }
}

static int mover_ready(dyco__athread *t) {
  if (DYCO__LIKELY(t->mover_map != NULL)) {
    return 0;
  }
  size_t guard = dyco_schedule_getStackGuard();
  char *st = map_guarded(MOVER_STACK, guard);
  if (st == NULL) {
    return -ENOMEM;
  }
  if (dyco_context_make(&t->mover, st, MOVER_STACK, mover_main, t) != 0) {
    unmap_guarded(st, MOVER_STACK, guard);
    return -ENOMEM;
  }
  t->mover_map = st;
  t->mover_guard = guard;
  return 0;
}

void *dyco__ashared_move(dyco__athread *t, dyco_context *from_ctx,
                         dyco__asym *x, dyco_context *to, void *value) {
  if (mover_ready(t) != 0) {
    dyco__fatal("out of memory for the mover's stack (asymmetric coroutine %d)",
                x->cid);
  }
  t->mv_install = x;
  t->mv_to = to;
  t->mv_value = value;
  return dyco__aswitch(t, from_ctx, &t->mover, NULL);
}

int dyco__ashared_mover_ready(dyco__athread *t) { return mover_ready(t); }

/* --- The private stack cache ------------------------------------------------
 */

static dyco__astack_class *stack_class(dyco__athread *t, size_t size,
                                       size_t guard, int create) {
  for (uint32_t i = 0; i < t->nclasses; i++) {
    if (t->classes[i].size == size && t->classes[i].guard == guard) {
      return &t->classes[i];
    }
  }
  if (!create) {
    return NULL;
  }
  dyco__astack_class *c =
      (dyco__astack_class *)realloc(t->classes, (t->nclasses + 1) * sizeof *c);
  if (c == NULL) {
    return NULL;
  }
  t->classes = c;
  c = &t->classes[t->nclasses++];
  memset(c, 0, sizeof *c);
  c->size = size;
  c->guard = guard;
  return c;
}

char *dyco__astack_get(dyco__athread *t, size_t size, size_t guard) {
  dyco__astack_class *c = stack_class(t, size, guard, 1);
  if (c == NULL) {
    return NULL;
  }
  char *st;
  if (c->nfree != 0) {
    st = c->free[--c->nfree];
  } else {
    st = map_guarded(size, guard);
    if (st == NULL) {
      return NULL;
    }
    dyco__aoverflow_thread_init(t);
  }
  c->in_use++;
  return st;
}

void dyco__astack_put(dyco__athread *t, char *stack, size_t size,
                      size_t guard) {
  dyco__astack_class *c = stack_class(t, size, guard, 0);
  if (c == NULL) {
    unmap_guarded(stack, size, guard);
    return;
  }
  c->in_use--;
  /* Keep as many idle stacks as are in use (at least 64): a steady state
   * makes no system call, a burst does not keep its memory for ever. */
  uint32_t keep = c->in_use > 64 ? c->in_use : 64;
  if (c->nfree < keep) {
    if (c->nfree == c->cap) {
      uint32_t cap = c->cap != 0 ? c->cap * 2 : 64;
      char **f = (char **)realloc(c->free, cap * sizeof *f);
      if (f != NULL) {
        c->free = f;
        c->cap = cap;
      }
    }
    if (c->nfree < c->cap) {
      c->free[c->nfree++] = stack;
      return;
    }
  }
  unmap_guarded(stack, size, guard);
}

void dyco__astack_cache_destroy(dyco__athread *t) {
  for (uint32_t i = 0; i < t->nclasses; i++) {
    dyco__astack_class *c = &t->classes[i];
    for (uint32_t j = 0; j < c->nfree; j++) {
      unmap_guarded(c->free[j], c->size, c->guard);
    }
    free(c->free);
  }
  free(t->classes);
  t->classes = NULL;
  t->nclasses = 0;
}

uint64_t dyco__astack_in_use(const dyco__athread *t) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < t->nclasses; i++) {
    n += t->classes[i].in_use;
  }
  return n;
}

uint64_t dyco__astack_cached(const dyco__athread *t) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < t->nclasses; i++) {
    n += t->classes[i].nfree;
  }
  return n;
}

/* --- Overflow reports -------------------------------------------------------
 * The same report as the scheduler's (sched/stack.c) for asymmetric
 * coroutines' stacks: a handler of asym's own, chained with whatever
 * handled SIGSEGV before it (the scheduler's among them). */

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

/* Formats without stdio: this runs in a signal handler. */
static size_t fmt_u(char *out, uintptr_t v, int base) {
  char tmp[32];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % (uintptr_t)base];
    v /= (uintptr_t)base;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) {
    out[i] = tmp[n - 1 - i];
  }
  return n;
}

static size_t fmt_s(char *out, const char *str) {
  size_t n = strlen(str);
  memcpy(out, str, n);
  return n;
}

static void report_overflow(int cid, size_t size, const char *which,
                            const void *addr) {
  char msg[256];
  size_t n = 0;
  n += fmt_s(msg + n, "dyco: coroutine ");
  n += fmt_u(msg + n, (uintptr_t)(uint32_t)cid, 10);
  n += fmt_s(msg + n, " overflowed its ");
  n += fmt_u(msg + n, size, 10);
  n += fmt_s(msg + n, "-byte stack (");
  n += fmt_s(msg + n, which);
  n += fmt_s(msg + n, "): fault at 0x");
  n += fmt_u(msg + n, (uintptr_t)addr, 16);
  n += fmt_s(msg + n, " in its guard page\n");
  long w = syscall(SYS_write, 2, msg, n);
  (void)w;
}

static int in_guard(const char *addr, const char *lo, size_t guard) {
  return lo != NULL && guard != 0 && addr < lo && (size_t)(lo - addr) <= guard;
}

static void segv_handler(int sig, siginfo_t *info, void *uctx) {
  const dyco__athread *t = &dyco__athr;
  const char *addr = (const char *)info->si_addr;
  if (t->ready) {
    for (uint32_t i = 1; i < t->slots.n; i++) {
      const void *e = dyco__slots_at(&t->slots, i);
      if (e == NULL) {
        continue;
      }
      const dyco__asym *co = (const dyco__asym *)e;
      if (co->stack != NULL && in_guard(addr, co->stack, co->guard)) {
        report_overflow(co->cid, co->stack_size, "private, asymmetric", addr);
        signal(SIGABRT, SIG_DFL);
        abort();
      }
    }
    if (in_guard(addr, t->shared_lo, t->shared_guard)) {
      int cid = t->occupant != NULL ? t->occupant->cid : 0;
      report_overflow(cid, DYCO_ASYMCORO_SHARED_STACK,
                      "the asymmetric coroutines' shared stack", addr);
      signal(SIGABRT, SIG_DFL);
      abort();
    }
  }
  /* Not ours: as if we had never been installed. */
  if (previous_segv.sa_flags & SA_SIGINFO) {
    previous_segv.sa_sigaction(sig, info, uctx);
  } else if (previous_segv.sa_handler != SIG_DFL &&
             previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
  } else {
    signal(sig, SIG_DFL); /* the fault repeats on return and kills us */
  }
}

static void install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
}

void dyco__aoverflow_thread_init(dyco__athread *t) {
  pthread_once(&handler_once, install_handler);
  if (t->altstack != NULL) {
    return;
  }
  stack_t old;
  if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) {
    return; /* the thread has one already (its scheduler's, say) */
  }
  size_t size = 64 * 1024;
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    return;
  }
  stack_t ss;
  ss.ss_sp = m;
  ss.ss_size = size;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(m, size);
    return;
  }
  t->altstack = m;
  t->altstack_size = size;
}

void dyco__aoverflow_thread_done(dyco__athread *t) {
  if (t->altstack == NULL) {
    return;
  }
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == t->altstack) {
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
  }
  munmap(t->altstack, t->altstack_size);
  t->altstack = NULL;
}
