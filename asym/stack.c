/* dyco — asym layer: stacks. The shared stack, its copies and the mover that
 * makes them; which asymmetric coroutine overflowed into a guard. Private
 * stacks come from the thread's cache, guards and the report from base
 * (base/stack.h, base/thread.h). */
#include "base/stack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asym/internal/asym.h"
#include "base/fatal.h"
#include "base/thread.h"

/* The mover only copies; sanitizers want more room. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
#define MOVER_STACK (128 * 1024)
#else
#define MOVER_STACK (32 * 1024)
#endif

/* --- The shared stack ----------------------------------------------------- */

int dyco__ashared_map(dyco__athread *t) {
  if (DYCO__LIKELY(t->shared_lo != NULL)) {
    return 0;
  }
  dyco__stack_ref st;
  if (dyco__stack_map_ref(DYCO_ASYMCORO_SHARED_STACK, &st) != 0) {
    return -ENOMEM;
  }
  t->shared_lo = st.stack;
  t->shared_hi = st.stack + st.size;
  t->shared_guard = st.guard;
  return 0;
}

void dyco__ashared_unmap(dyco__athread *t) {
  dyco__stack_unmap(t->shared_lo, DYCO_ASYMCORO_SHARED_STACK, t->shared_guard);
  t->shared_lo = t->shared_hi = NULL;
  t->occupant = NULL;
  if (t->mover_stack.stack != NULL) {
    dyco_context_destroy(&t->mover);
    dyco__stack_unmap_ref(&t->mover_stack);
  }
}

/* The bytes of a suspended coroutine, off the shared stack (save) and back
 * on (restore), by base's one copy. */
static inline int plain_copy(const dyco__athread *t) {
  return DYCO_CONTEXT_SP_ONLY && !t->tools;
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
  dyco__stack_copy(o->saved, low, len, plain_copy(t), dyco_context_stack_save);
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
  if (!DYCO_CONTEXT_SP_ONLY || DYCO__UNLIKELY(t->tools)) {
    /* The previous owner's red zones must not follow the next one. */
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
    dyco__stack_copy(t->shared_hi - x->saved_len, x->saved, x->saved_len,
                     plain_copy(t), dyco_context_stack_restore);
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
  if (DYCO__LIKELY(t->mover_stack.stack != NULL)) {
    return 0;
  }
  dyco__stack_ref st;
  if (dyco__stack_map_ref(MOVER_STACK, &st) != 0) {
    return -ENOMEM;
  }
  if (dyco_context_make(&t->mover, st.stack, st.size, mover_main, t) != 0) {
    dyco__stack_unmap_ref(&st);
    return -ENOMEM;
  }
  t->mover_stack = st;
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

/* --- Overflow reports ----------------------------------------------------- */

static int in_guard(const char *addr, const char *lo, size_t guard) {
  return lo != NULL && guard != 0 && addr < lo && (size_t)(lo - addr) <= guard;
}

int dyco__astack_overflow(const dyco__athread *t, const char *addr,
                          dyco__overflow *out) {
  for (uint32_t i = 1; i < t->slots.n; i++) {
    const dyco__asym *co = (const dyco__asym *)dyco__slots_at(&t->slots, i);
    if (co != NULL && co->stack != NULL &&
        in_guard(addr, co->stack, co->guard)) {
      out->cid = co->cid;
      out->size = co->stack_size;
      out->what = "private, asymmetric";
      return 1;
    }
  }
  if (in_guard(addr, t->shared_lo, t->shared_guard)) {
    out->cid = t->occupant != NULL ? t->occupant->cid : 0;
    out->size = DYCO_ASYMCORO_SHARED_STACK;
    out->what = "the asymmetric coroutines' shared stack";
    return 1;
  }
  return 0;
}
