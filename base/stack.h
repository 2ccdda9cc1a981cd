/* dyco — base layer: stacks. Their sizes, the guard below every stack dyco
 * maps, and the cache private stacks come from: one policy for every kind of
 * stack (a scheduler's shared and private ones, asymmetric coroutines'). */
#ifndef DYCO_BASE_STACK_H_
#define DYCO_BASE_STACK_H_

#include <stddef.h>
#include <stdint.h>

#include "base/hints.h"

/* The limits of the public API, which base cannot include: each is checked
 * against its public name where the layers meet (sched/internal/sched.h). */
#define DYCO__STACK_MIN 4096                   /* DYCO_CONTEXT_STACK_MIN */
#define DYCO__STACK_ALIGN 16                   /* DYCO_CONTEXT_STACK_ALIGN */
#define DYCO__STACK_SIZE_MAX ((size_t)1 << 30) /* DYCO_STACK_SIZE_MAX */
#if defined(__aarch64__)
#define DYCO__STACK_GUARD_DEFAULT (64 * 1024) /* DYCO_STACK_GUARD_DEFAULT */
#else
#define DYCO__STACK_GUARD_DEFAULT (16 * 1024)
#endif
#define DYCO__STACK_GUARD_MAX ((size_t)64 << 20) /* DYCO_STACK_GUARD_MAX */

/* --- Sizes and the guard -------------------------------------------------- */

/* dyco__page_size returns the system's page size. */
size_t dyco__page_size(void);

/* dyco__stack_guard returns the guard stacks mapped now get, in bytes (a
 * multiple of the page size); dyco__stack_set_guard sets it for the whole
 * process: bytes rounded up to pages, 0 for DYCO__STACK_GUARD_DEFAULT.
 * 0, or -EINVAL above DYCO__STACK_GUARD_MAX. */
size_t dyco__stack_guard(void);
int dyco__stack_set_guard(size_t bytes);

/* dyco__stack_size stores in *out the size of a stack dyco maps for a
 * caller who asked for `want` bytes: at least DYCO__STACK_MIN, rounded up to
 * whole pages. 0, or -EINVAL above DYCO__STACK_SIZE_MAX. */
int dyco__stack_size(size_t want, size_t *out);

/* dyco__stack_fits says whether `count` stacks of `size` bytes, each with
 * `guard`, can be mapped at all: 0, or -ENOMEM when they exceed the address
 * space. */
int dyco__stack_fits(size_t count, size_t size, size_t guard);

/* dyco__stack_guard_regions returns 1 when guards are guard regions inside
 * shared mappings (MADV_GUARD_INSTALL, Linux 6.13+), 0 when each is
 * mprotect'ed (a kernel mapping of its own). Probed once per process. */
int dyco__stack_guard_regions(void);

/* --- One stack ------------------------------------------------------------ */

/* dyco__stack_map maps a stack of `size` usable bytes (a multiple of the
 * page size) with `guard` bytes of guard below it, and makes sure this
 * thread's overflows are reported (base/thread.h). Returns its lowest usable
 * byte, NULL when out of memory. dyco__stack_unmap unmaps it. */
char *dyco__stack_map(size_t size, size_t guard);
void dyco__stack_unmap(char *stack, size_t size, size_t guard);

/* --- Copying a suspended stack ------------------------------------------- */

/* dyco__stack_copy copies n bytes of a suspended coroutine's frames off a
 * shared stack or back onto it: a memcpy when `plain` (a constant in a plain
 * build, where only a tool found at run time makes it 0), otherwise
 * tool_copy, the context layer's dyco_context_stack_save or _restore, which
 * tell the tool (a suspended stack holds its frames' poisoned red zones).
 * base sits below context: the copy is passed in, and inlined. */
static inline void dyco__stack_copy(void *dst, const void *src, size_t n,
                                    int plain,
                                    void (*tool_copy)(void *, const void *,
                                                      size_t)) {
  if (DYCO__LIKELY(plain)) {
    __builtin_memcpy(dst, src, n);
  } else {
    tool_copy(dst, src, n);
  }
}

/* --- A coroutine's private stack ------------------------------------------ */

typedef struct dyco__stack_cache dyco__stack_cache;

/* A private stack: the caller's memory (guard 0), or one from a cache. */
typedef struct dyco__stack_ref {
  char *stack;
  size_t size;
  size_t guard;
} dyco__stack_ref;

/* dyco__stack_map_ref maps a stack of `size` usable bytes (a multiple of the
 * page size) with the current guard below it, as dyco__stack_map, into
 * *out: the one mapping of a stack that no cache keeps (a scheduler's or a
 * thread's shared stack, asym's mover). 0, or -ENOMEM with *out unchanged.
 * dyco__stack_unmap_ref unmaps such a stack (none: nothing) and empties
 * *st. */
int dyco__stack_map_ref(size_t size, dyco__stack_ref *out);
void dyco__stack_unmap_ref(dyco__stack_ref *st);

/* dyco__stack_for finds the private stack a caller asks a coroutine to run
 * on (setStack): its own memory [mine, mine + size) when mine is not NULL,
 * which cannot grow, so what a context made on it uses (its top aligned
 * down to DYCO__STACK_ALIGN) must hold DYCO__STACK_MIN without wrapping
 * around; otherwise one of `size` bytes (rounded up as dyco__stack_size
 * rounds) from cache c, with the current guard below it. size must not be
 * 0. Fills *out. 0, -EINVAL (memory too small, size above
 * DYCO__STACK_SIZE_MAX), -ENOMEM. */
int dyco__stack_for(dyco__stack_cache *c, void *mine, size_t size,
                    dyco__stack_ref *out);

/* dyco__stack_drop gives back a stack dyco__stack_for took from cache c;
 * the caller's memory stays the caller's. */
void dyco__stack_drop(dyco__stack_cache *c, const dyco__stack_ref *st);

/* --- The cache of private stacks -------------------------------------------
 * Stacks of one size and guard are carved from chunks mapped for several at
 * once (with guard regions a chunk stays one kernel mapping); each guard is
 * set once, when its chunk is mapped. Idle stacks are kept: the coldest of
 * them give their memory back (keeping their addresses) once more than the
 * number in use (at least 64) are idle, so a burst of coroutines does not
 * hold its memory for ever and a steady state makes no system call. One
 * cache per owner (a scheduler, a thread's asymmetric coroutines), used by
 * its thread only; zero it before use. */

typedef struct dyco__stack_class {
  size_t size;  /* usable bytes (a multiple of the page size) */
  size_t guard; /* bytes of guard below each */
  char **free;  /* free stacks, coldest first: the lowest usable address */
  uint32_t nfree;
  uint32_t cap;
  uint32_t in_use;
  uint32_t trimmed; /* free[0..trimmed) have given their memory back */
} dyco__stack_class;

typedef struct dyco__stack_chunk {
  char *base;
  size_t bytes;
} dyco__stack_chunk;

struct dyco__stack_cache {
  dyco__stack_class *classes;
  uint32_t nclasses;
  dyco__stack_chunk *chunks;
  uint32_t nchunks;
  uint32_t chunks_cap;
};

/* dyco__stack_get returns a stack of `size` bytes (from dyco__stack_size)
 * with `guard` bytes of guard below it (from dyco__stack_guard), NULL when
 * out of memory. dyco__stack_put gives it back. */
char *dyco__stack_get(dyco__stack_cache *c, size_t size, size_t guard);
void dyco__stack_put(dyco__stack_cache *c, char *stack, size_t size,
                     size_t guard);

/* dyco__stack_cache_destroy unmaps every stack of the cache, in use or
 * not, and frees its bookkeeping; the cache is empty again. */
void dyco__stack_cache_destroy(dyco__stack_cache *c);

/* dyco__stack_cache_count stores how many of the cache's stacks are in use
 * and how many are idle. */
void dyco__stack_cache_count(const dyco__stack_cache *c, uint64_t *in_use,
                             uint64_t *idle);

#endif /* DYCO_BASE_STACK_H_ */
