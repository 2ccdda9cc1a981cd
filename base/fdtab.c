/* dyco — base layer: the fd table's pages (base/fdtab.h), made once each and
 * published without a lock. */
#include "base/fdtab.h"

#include <stdlib.h>
#include <string.h>

char *dyco__fdtab_page(dyco__fdtab *t, uint32_t p, size_t entry) {
  /* On a cache line's start: entries of a size that divides 64 never
   * straddle two lines, so a cold entry costs one miss. */
  size_t bytes = DYCO__FDTAB_PAGE_LEN * entry;
  char *fresh = (char *)aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (fresh == NULL) {
    return NULL;
  }
  memset(fresh, 0, bytes);
  char *page = NULL;
  if (__atomic_compare_exchange_n(&t->pages[p], &page, fresh, 0,
                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    return fresh;
  }
  free(fresh); /* another thread made it first */
  return page;
}
