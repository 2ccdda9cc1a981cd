/* dyco — base layer: a process-wide table with one entry per fd number.
 * Pages of entries are made on first use and never freed or moved, so an
 * entry's address stays valid and a lookup takes no lock. */
#ifndef DYCO_BASE_FDTAB_H_
#define DYCO_BASE_FDTAB_H_

#include <stddef.h>
#include <stdint.h>

#include "base/hints.h"

/* 4096 pages of 1024 entries: fds up to 4 Mi. */
#define DYCO__FDTAB_PAGE_BITS 10
#define DYCO__FDTAB_PAGE_LEN (1u << DYCO__FDTAB_PAGE_BITS)
#define DYCO__FDTAB_PAGES 4096u

/* A table: a static, zeroed, of the user's (each layer knows its entry
 * type and passes its size to every call). */
typedef struct dyco__fdtab {
  char *pages[DYCO__FDTAB_PAGES];
} dyco__fdtab;

/* dyco__fdtab_page makes page p of t, its `entry`-byte entries zeroed and
 * the page on a cache line's start, unless another thread made it first;
 * returns the page in t either way, NULL when there is no memory. */
char *dyco__fdtab_page(dyco__fdtab *t, uint32_t p, size_t entry);

/* dyco__fdtab_get returns fd's entry of `entry` bytes in t: NULL for a
 * negative fd or one beyond the table, or when its page is not made yet
 * and `create` is 0 (or there is no memory for it). */
static inline void *dyco__fdtab_get(dyco__fdtab *t, int fd, int create,
                                    size_t entry) {
  uint32_t p = (uint32_t)fd >> DYCO__FDTAB_PAGE_BITS;
  if (fd < 0 || p >= DYCO__FDTAB_PAGES) {
    return NULL;
  }
  char *page = __atomic_load_n(&t->pages[p], __ATOMIC_ACQUIRE);
  if (DYCO__UNLIKELY(page == NULL)) {
    if (!create || (page = dyco__fdtab_page(t, p, entry)) == NULL) {
      return NULL;
    }
  }
  return page + ((uint32_t)fd & (DYCO__FDTAB_PAGE_LEN - 1)) * entry;
}

#endif /* DYCO_BASE_FDTAB_H_ */
