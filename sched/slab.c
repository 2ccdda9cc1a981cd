/* dyco — sched layer: the per-scheduler small-block allocator. Exact 8-byte
 * size classes and no per-block header keep an idle coroutine small. */
#include "sched/internal/slab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"

#define CHUNK_BYTES (64 * 1024)

struct dyco__slab_chunk {
  dyco__slab_chunk *next;
  /* the blocks follow, 8-byte aligned */
};

void dyco__slab_init(dyco__slab *s) { memset(s, 0, sizeof *s); }

/* chunks_free_all (base/list.h). */
DYCO__SCHAIN(chunks, dyco__slab_chunk, next)

void dyco__slab_destroy(dyco__slab *s) {
  chunks_free_all(s->chunks);
  memset(s, 0, sizeof *s);
}

void *dyco__slab_alloc_slow(dyco__slab *s, size_t size) {
  if (DYCO__SLAB_PASS_THROUGH || size > DYCO__SLAB_MAX) {
    return malloc(size);
  }
  if (s->left < size) {
    /* Whatever is left of the chunk goes to the free list of its size. */
    if (s->left >= DYCO__SLAB_STEP) {
      size_t rest = s->left / DYCO__SLAB_STEP - 1;
      *(void **)s->cursor = s->free[rest];
      s->free[rest] = s->cursor;
    }
    dyco__slab_chunk *c = (dyco__slab_chunk *)malloc(CHUNK_BYTES);
    if (c == NULL) {
      return NULL;
    }
    c->next = s->chunks;
    s->chunks = c;
    s->chunk_bytes += CHUNK_BYTES;
    size_t head = dyco__slab_round(sizeof *c);
    s->cursor = (char *)c + head;
    s->left = CHUNK_BYTES - head;
  }
  void *p = s->cursor;
  s->cursor += size;
  s->left -= size;
  return p;
}

void dyco__slab_free_slow(void *p) { free(p); }
