/* dyco — sched layer, private: a per-scheduler allocator of small blocks in
 * 8-byte size classes, without headers, for coroutines and saved stacks. */
#ifndef DYCO_SCHED_INTERNAL_SLAB_H_
#define DYCO_SCHED_INTERNAL_SLAB_H_

#include <stddef.h>

/* Blocks up to this size come from the slab; larger ones from malloc. */
#define DYCO__SLAB_MAX 2048
#define DYCO__SLAB_STEP 8
#define DYCO__SLAB_CLASSES (DYCO__SLAB_MAX / DYCO__SLAB_STEP)

#pragma GCC visibility push(hidden)

typedef struct dyco__slab_chunk dyco__slab_chunk;

/* One thread's slab: a free list per size class, carved from 64 KiB chunks
 * that are returned to the system only when the slab is destroyed. Not
 * thread-safe: each scheduler has its own. */
typedef struct dyco__slab {
  void *free[DYCO__SLAB_CLASSES];
  char *cursor; /* unused tail of the newest chunk */
  size_t left;
  dyco__slab_chunk *chunks;
  size_t chunk_bytes; /* bytes of all chunks, for accounting */
} dyco__slab;

void dyco__slab_init(dyco__slab *s);
void dyco__slab_destroy(dyco__slab *s);

/* The size a request of n bytes really gets (n rounded up to its class). */
static inline size_t dyco__slab_round(size_t n) {
  return n == 0 ? DYCO__SLAB_STEP
                : (n + DYCO__SLAB_STEP - 1) & ~(size_t)(DYCO__SLAB_STEP - 1);
}

/* Under AddressSanitizer or valgrind every block is a malloc block of its
 * own, so that those tools see each use after free. */
#if defined(DYCO_ASAN) || defined(DYCO_VALGRIND)
#define DYCO__SLAB_PASS_THROUGH 1
#else
#define DYCO__SLAB_PASS_THROUGH 0
#endif

/* The out-of-line part of dyco__slab_alloc: a block from malloc (too big,
 * or a tool's build) or carved from the newest chunk. */
void *dyco__slab_alloc_slow(dyco__slab *s, size_t size);

/* The out-of-line part of dyco__slab_free: a block that came from malloc. */
void dyco__slab_free_slow(void *p);

/* Returns a block of at least n bytes (8-byte aligned), or NULL. Inline:
 * a spawn takes two blocks and gives them back, and a recycled block is one
 * pop from its class's free list. */
static inline void *dyco__slab_alloc(dyco__slab *s, size_t n) {
  size_t size = dyco__slab_round(n);
  if (!DYCO__SLAB_PASS_THROUGH && size <= DYCO__SLAB_MAX) {
    size_t cls = size / DYCO__SLAB_STEP - 1;
    void *p = s->free[cls];
    if (p != NULL) {
      s->free[cls] = *(void **)p;
      return p;
    }
  }
  return dyco__slab_alloc_slow(s, size);
}

/* Returns block p of size n (the size it was allocated with) to the slab;
 * NULL is ignored. */
static inline void dyco__slab_free(dyco__slab *s, void *p, size_t n) {
  size_t size = dyco__slab_round(n);
  if (DYCO__SLAB_PASS_THROUGH || size > DYCO__SLAB_MAX) {
    dyco__slab_free_slow(p);
    return;
  }
  if (p != NULL) {
    size_t cls = size / DYCO__SLAB_STEP - 1;
    *(void **)p = s->free[cls];
    s->free[cls] = p;
  }
}

#pragma GCC visibility pop

#endif /* DYCO_SCHED_INTERNAL_SLAB_H_ */
