/* dyco — base layer: a binary min-heap of records that keep their own key
 * and their own place in the heap, so any of them can be taken out in
 * O(log n). For the scheduler's timers and the waitgroup's waiters. */
#ifndef DYCO_BASE_HEAP_H_
#define DYCO_BASE_HEAP_H_

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* The heap: pointers to records. Each record has, at offsets the caller
 * passes to every call (offsetof, constants once inlined), an int64_t key
 * (or uint64_t below 2^63) and an int32_t index: its place in `items`, -1
 * when it is not in the heap. Zero it before use. Not thread-safe. */
typedef struct dyco__heap {
  void **items;
  uint32_t len;
  uint32_t cap;
} dyco__heap;

static inline int64_t dyco__heap_key(const void *x, size_t key_off) {
  return *(const int64_t *)(const void *)((const char *)x + key_off);
}

static inline int32_t *dyco__heap_index(void *x, size_t index_off) {
  return (int32_t *)(void *)((char *)x + index_off);
}

static inline void dyco__heap_place(dyco__heap *h, uint32_t i, void *x,
                                    size_t index_off) {
  h->items[i] = x;
  *dyco__heap_index(x, index_off) = (int32_t)i;
}

static inline void dyco__heap_up(dyco__heap *h, uint32_t i, size_t key_off,
                                 size_t index_off) {
  void *x = h->items[i];
  int64_t k = dyco__heap_key(x, key_off);
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (k >= dyco__heap_key(h->items[parent], key_off)) {
      break;
    }
    dyco__heap_place(h, i, h->items[parent], index_off);
    i = parent;
  }
  dyco__heap_place(h, i, x, index_off);
}

static inline void dyco__heap_down(dyco__heap *h, uint32_t i, size_t key_off,
                                   size_t index_off) {
  void *x = h->items[i];
  int64_t k = dyco__heap_key(x, key_off);
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= h->len) {
      break;
    }
    if (child + 1 < h->len && dyco__heap_key(h->items[child + 1], key_off) <
                                  dyco__heap_key(h->items[child], key_off)) {
      child++;
    }
    if (dyco__heap_key(h->items[child], key_off) >= k) {
      break;
    }
    dyco__heap_place(h, i, h->items[child], index_off);
    i = child;
  }
  dyco__heap_place(h, i, x, index_off);
}

/* Makes room for one more: the array doubles, from `initial`. 0 or
 * -ENOMEM. */
int dyco__heap_grow(dyco__heap *h, uint32_t initial);

/* dyco__heap_push adds x (its key set). 0, or -ENOMEM. */
static inline int dyco__heap_push(dyco__heap *h, void *x, uint32_t initial,
                                  size_t key_off, size_t index_off) {
  if (h->len == h->cap && dyco__heap_grow(h, initial) != 0) {
    return -ENOMEM;
  }
  h->items[h->len] = x;
  dyco__heap_up(h, h->len++, key_off, index_off);
  return 0;
}

/* dyco__heap_remove takes x (which is in the heap) out; its index becomes
 * -1. */
static inline void dyco__heap_remove(dyco__heap *h, void *x, size_t key_off,
                                     size_t index_off) {
  int32_t *at = dyco__heap_index(x, index_off);
  uint32_t i = (uint32_t)*at;
  *at = -1;
  uint32_t last = --h->len;
  if (i == last) {
    return;
  }
  void *moved = h->items[last];
  dyco__heap_place(h, i, moved, index_off);
  if (i > 0 && dyco__heap_key(moved, key_off) <
                   dyco__heap_key(h->items[(i - 1) / 2], key_off)) {
    dyco__heap_up(h, i, key_off, index_off);
  } else {
    dyco__heap_down(h, i, key_off, index_off);
  }
}

/* dyco__heap_top returns the record with the least key, NULL when empty. */
static inline void *dyco__heap_top(const dyco__heap *h) {
  return h->len != 0 ? h->items[0] : NULL;
}

/* dyco__heap_destroy frees the array (not the records). */
void dyco__heap_destroy(dyco__heap *h);

#endif /* DYCO_BASE_HEAP_H_ */
