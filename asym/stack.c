/* dyco — asym layer: stacks. The shared stack, its copies and the mover that
 * makes them; private stacks from a cache, each with a guard below. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "asym/internal/asym.h"

#if defined(DYCO_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(DYCO_VALGRIND)
#include <valgrind/memcheck.h>
#endif

/* Below every stack: big enough that a function with a few KiB of locals
 * cannot jump over it. */
#define GUARD_BYTES (16 * 1024)

/* The mover only copies; sanitizers want more room. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
#define MOVER_STACK (128 * 1024)
#else
#define MOVER_STACK (32 * 1024)
#endif

/* A mapping of `bytes` usable bytes with a guard below them: returns the
 * lowest usable byte, NULL when out of memory. */
static char *map_guarded(size_t bytes) {
  char *m = (char *)mmap(NULL, GUARD_BYTES + bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return NULL;
  }
  if (mprotect(m, GUARD_BYTES, PROT_NONE) != 0) {
    munmap(m, GUARD_BYTES + bytes);
    return NULL;
  }
  return m + GUARD_BYTES;
}

static void unmap_guarded(char *usable, size_t bytes) {
  munmap(usable - GUARD_BYTES, GUARD_BYTES + bytes);
}

/* --- The shared stack ------------------------------------------------------
 */

int dyco__ashared_map(dyco__athread *t) {
  if (DYCO__A_LIKELY(t->shared_lo != NULL)) {
    return 0;
  }
  char *lo = map_guarded(DYCO_ASYMCORO_SHARED_STACK);
  if (lo == NULL) {
    return -ENOMEM;
  }
  t->shared_lo = lo;
  t->shared_hi = lo + DYCO_ASYMCORO_SHARED_STACK;
  return 0;
}

void dyco__ashared_unmap(dyco__athread *t) {
  if (t->shared_lo != NULL) {
    unmap_guarded(t->shared_lo, DYCO_ASYMCORO_SHARED_STACK);
  }
  t->shared_lo = t->shared_hi = NULL;
  t->occupant = NULL;
  if (t->mover_map != NULL) {
    dyco_context_destroy(&t->mover);
    unmap_guarded(t->mover_map, MOVER_STACK);
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
  if (DYCO__A_UNLIKELY(t->tools)) {
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
  if (DYCO__A_UNLIKELY(t->tools)) {
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
  if (DYCO__A_UNLIKELY(t->tools)) {
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
      dyco__asym_fatal("out of memory to copy the shared stack", x->cid);
    }
    dyco__aswitch(t, &t->mover, t->mv_to, t->mv_value);
  }
}

static int mover_ready(dyco__athread *t) {
  if (DYCO__A_LIKELY(t->mover_map != NULL)) {
    return 0;
  }
  char *st = map_guarded(MOVER_STACK);
  if (st == NULL) {
    return -ENOMEM;
  }
  if (dyco_context_make(&t->mover, st, MOVER_STACK, mover_main, t) != 0) {
    unmap_guarded(st, MOVER_STACK);
    return -ENOMEM;
  }
  t->mover_map = st;
  return 0;
}

void *dyco__ashared_move(dyco__athread *t, dyco_context *from_ctx,
                         dyco__asym *x, dyco_context *to, void *value) {
  if (mover_ready(t) != 0) {
    dyco__asym_fatal("out of memory for the mover's stack", x->cid);
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
                                       int create) {
  for (uint32_t i = 0; i < t->nclasses; i++) {
    if (t->classes[i].size == size) {
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
  return c;
}

char *dyco__astack_get(dyco__athread *t, size_t size, size_t *got) {
  size_t page = t->page != 0 ? t->page : 4096;
  size = (size + page - 1) & ~(page - 1);
  dyco__astack_class *c = stack_class(t, size, 1);
  if (c == NULL) {
    return NULL;
  }
  char *st;
  if (c->nfree != 0) {
    st = c->free[--c->nfree];
  } else {
    st = map_guarded(size);
    if (st == NULL) {
      return NULL;
    }
  }
  c->in_use++;
  *got = size;
  return st;
}

void dyco__astack_put(dyco__athread *t, char *stack, size_t size) {
  dyco__astack_class *c = stack_class(t, size, 0);
  if (c == NULL) {
    unmap_guarded(stack, size);
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
  unmap_guarded(stack, size);
}

void dyco__astack_cache_destroy(dyco__athread *t) {
  for (uint32_t i = 0; i < t->nclasses; i++) {
    dyco__astack_class *c = &t->classes[i];
    for (uint32_t j = 0; j < c->nfree; j++) {
      unmap_guarded(c->free[j], c->size);
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
