/* dyco — base layer: the heap's allocation; the sifting is inline in
 * base/heap.h. */
#include "base/heap.h"

#include <stdlib.h>

int dyco__heap_grow(dyco__heap *h, uint32_t initial) {
  uint32_t cap = h->cap != 0 ? h->cap * 2 : initial;
  void **a = (void **)realloc(h->items, cap * sizeof *a);
  if (a == NULL) {
    return -ENOMEM;
  }
  h->items = a;
  h->cap = cap;
  return 0;
}

void dyco__heap_destroy(dyco__heap *h) {
  free(h->items);
  h->items = NULL;
  h->len = h->cap = 0;
}
