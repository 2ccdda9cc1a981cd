/* dyco — base layer: slot tables with generations, for the cids of every
 * kind of coroutine. */
#include "base/slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dyco__slots_init(dyco__slots *t, uint32_t first, uint32_t max,
                      uint32_t initial) {
  memset(t, 0, sizeof *t);
  t->first = first;
  t->max = max;
  t->initial = initial;
}

void dyco__slots_destroy(dyco__slots *t) {
  free(t->table);
  t->table = NULL;
  t->n = t->free_head = t->free_tail = 0;
}

int dyco__slots_grow(dyco__slots *t) {
  uint32_t old = t->n;
  uint64_t want = old != 0 ? (uint64_t)old * 2 : t->initial;
  if (want > (uint64_t)t->max + 1) {
    want = (uint64_t)t->max + 1;
  }
  uint32_t n = (uint32_t)want;
  if (n <= old) {
    return -EAGAIN;
  }
  uintptr_t *e = (uintptr_t *)realloc(t->table, n * sizeof *e);
  if (e == NULL) {
    return -ENOMEM;
  }
  uint32_t first = old != 0 ? old : 1;
  if (old == 0) {
    e[0] = dyco__slots_free_entry(0, 0); /* slot 0 is never handed out */
  }
  for (uint32_t i = first; i < n; i++) {
    e[i] = dyco__slots_free_entry(i + 1 < n ? i + 1 : 0, 0);
  }
  t->table = e;
  t->n = n;
  if (t->free_tail != 0) {
    e[t->free_tail] =
        dyco__slots_free_entry(first, dyco__slots_entry_gen(e[t->free_tail]));
  } else {
    t->free_head = first;
  }
  t->free_tail = n - 1;
  return 0;
}
