/* dyco — base layer: stacks. Sizes, guards (guard regions where the kernel
 * has them, mprotect otherwise), single guarded stacks, and the cache of
 * private stacks carved from chunks. */
#include "base/stack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/sys.h"
#include "base/thread.h"

/* Linux 6.13's guard regions: guard pages set in the page tables of one
 * mapping, without splitting it into one mapping per stack. */
#define DYCO__MADV_GUARD_INSTALL 102

/* --- Sizes ---------------------------------------------------------------- */

static size_t page_bytes;

size_t dyco__page_size(void) {
  size_t p = __atomic_load_n(&page_bytes, __ATOMIC_RELAXED);
  if (p == 0) {
    p = (size_t)sysconf(_SC_PAGESIZE);
    __atomic_store_n(&page_bytes, p, __ATOMIC_RELAXED);
  }
  return p;
}

/* The guard below each stack made now: a multiple of the page size, read
 * and written atomically. */
static size_t guard_bytes = DYCO__STACK_GUARD_DEFAULT;

int dyco__stack_set_guard(size_t bytes) {
  if (bytes > DYCO__STACK_GUARD_MAX) {
    return -EINVAL;
  }
  if (bytes == 0) {
    bytes = DYCO__STACK_GUARD_DEFAULT;
  }
  size_t page = dyco__page_size();
  bytes = (bytes + page - 1) & ~(page - 1);
  __atomic_store_n(&guard_bytes, bytes, __ATOMIC_RELAXED);
  return 0;
}

size_t dyco__stack_guard(void) {
  return __atomic_load_n(&guard_bytes, __ATOMIC_RELAXED);
}

int dyco__stack_size(size_t want, size_t *out) {
  if (want > DYCO__STACK_SIZE_MAX) {
    return -EINVAL; /* also keeps the rounding below from overflowing */
  }
  if (want < DYCO__STACK_MIN) {
    want = DYCO__STACK_MIN;
  }
  size_t page = dyco__page_size();
  *out = (want + page - 1) & ~(page - 1);
  return 0;
}

int dyco__stack_fits(size_t count, size_t size, size_t guard) {
  /* What the address space of a process can hold at most: 2^47 bytes on
   * 64-bit Linux (x86_64 and aarch64 with 4-level page tables), 4 GiB on
   * 32-bit targets. Beyond, mapping would fail anyway, after a long time
   * spent mapping the part that fits. */
  const uint64_t space =
      sizeof(void *) >= 8 ? (uint64_t)1 << 47 : (uint64_t)1 << 32;
  uint64_t one = (uint64_t)size + (uint64_t)guard + (uint64_t)dyco__page_size();
  if (count != 0 && one > space / count) {
    return -ENOMEM;
  }
  return 0;
}

/* --- Guards --------------------------------------------------------------- */

/* How guards are made in this process: probed once. */
enum { GUARD_UNKNOWN = 0, GUARD_MADVISE, GUARD_MPROTECT };
static int guard_mode = GUARD_UNKNOWN;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* Does MADV_GUARD_INSTALL really stop an access? The kernel must know it
 * (6.13+), and an emulator (qemu-user) may accept it yet ignore it: a
 * write(2) from a guarded page must fail with EFAULT. */
static void probe_guard(void) {
  guard_mode = GUARD_MPROTECT;
  size_t page = dyco__page_size();
  char *m = (char *)mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    return;
  }
  int fds[2];
  if (madvise(m, page, DYCO__MADV_GUARD_INSTALL) == 0 &&
      dyco__sys_pipe2(fds, O_CLOEXEC) == 0) {
    ssize_t n = dyco__sys_write(fds[1], m, 1);
    if (n < 0 && errno == EFAULT) {
      guard_mode = GUARD_MADVISE;
    }
    dyco__sys_close(fds[0]);
    dyco__sys_close(fds[1]);
  }
  munmap(m, 2 * page);
}

int dyco__stack_guard_regions(void) {
  pthread_once(&guard_once, probe_guard);
  return guard_mode == GUARD_MADVISE;
}

static int install_guard(char *at, size_t bytes) {
  pthread_once(&guard_once, probe_guard);
  if (guard_mode == GUARD_MADVISE &&
      madvise(at, bytes, DYCO__MADV_GUARD_INSTALL) == 0) {
    return 0;
  }
  return mprotect(at, bytes, PROT_NONE) == 0 ? 0 : -errno;
}

/* --- One stack ------------------------------------------------------------ */

char *dyco__stack_map(size_t size, size_t guard) {
  size_t total = guard + size;
  char *m = (char *)mmap(NULL, total, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return NULL;
  }
  if (install_guard(m, guard) != 0) {
    munmap(m, total);
    return NULL;
  }
  dyco__thread_overflow_ready();
  return m + guard;
}

void dyco__stack_unmap(char *stack, size_t size, size_t guard) {
  if (stack != NULL) {
    munmap(stack - guard, guard + size);
  }
}

/* Fills *out with stack st (NULL: none could be had). 0 or -ENOMEM. */
static int ref_set(dyco__stack_ref *out, char *st, size_t size, size_t guard) {
  if (st == NULL) {
    return -ENOMEM;
  }
  out->stack = st;
  out->size = size;
  out->guard = guard;
  return 0;
}

int dyco__stack_map_ref(size_t size, dyco__stack_ref *out) {
  const size_t guard = dyco__stack_guard();
  return ref_set(out, dyco__stack_map(size, guard), size, guard);
}

void dyco__stack_unmap_ref(dyco__stack_ref *st) {
  dyco__stack_unmap(st->stack, st->size, st->guard);
  st->stack = NULL;
  st->size = 0;
  st->guard = 0;
}

/* --- A coroutine's private stack ----------------------------------------- */

int dyco__stack_for(dyco__stack_cache *c, void *mine, size_t size,
                    dyco__stack_ref *out) {
  if (mine != NULL) {
    uintptr_t lo = (uintptr_t)mine;
    uintptr_t top = (lo + size) & ~(uintptr_t)(DYCO__STACK_ALIGN - 1);
    if (lo + size < lo || top < lo || top - lo < DYCO__STACK_MIN) {
      return -EINVAL;
    }
    return ref_set(out, (char *)mine, size, 0);
  }
  size_t rounded;
  int err = dyco__stack_size(size, &rounded);
  if (err != 0) {
    return err;
  }
  const size_t guard = dyco__stack_guard();
  return ref_set(out, dyco__stack_get(c, rounded, guard), rounded, guard);
}

void dyco__stack_drop(dyco__stack_cache *c, const dyco__stack_ref *st) {
  if (st->stack != NULL && st->guard != 0) {
    dyco__stack_put(c, st->stack, st->size, st->guard);
  }
}

/* --- The cache ------------------------------------------------------------ */

static dyco__stack_class *stack_class(dyco__stack_cache *c, size_t size,
                                      size_t guard, int create) {
  for (uint32_t i = 0; i < c->nclasses; i++) {
    if (c->classes[i].size == size && c->classes[i].guard == guard) {
      return &c->classes[i];
    }
  }
  if (!create) {
    return NULL;
  }
  dyco__stack_class *k =
      (dyco__stack_class *)realloc(c->classes, (c->nclasses + 1) * sizeof *k);
  if (k == NULL) {
    return NULL;
  }
  c->classes = k;
  k = &c->classes[c->nclasses++];
  memset(k, 0, sizeof *k);
  k->size = size;
  k->guard = guard;
  return k;
}

static int push_free(dyco__stack_class *k, char *stack) {
  if (k->nfree == k->cap) {
    uint32_t cap = k->cap != 0 ? k->cap * 2 : 64;
    char **f = (char **)realloc(k->free, cap * sizeof *f);
    if (f == NULL) {
      return -ENOMEM;
    }
    k->free = f;
    k->cap = cap;
  }
  k->free[k->nfree++] = stack;
  return 0;
}

/* Maps room for several stacks of one size at once, each with its guard:
 * with guard regions the whole chunk stays one mapping. */
static int map_chunk(dyco__stack_cache *c, dyco__stack_class *k) {
  /* One page more than guard and stack, never touched: stacks whose sizes
   * are powers of two would otherwise start at the same offset modulo the
   * cache's way size, and their hot tops would crowd into a few sets. */
  size_t slot = k->guard + k->size + dyco__page_size();
  size_t n = (1u << 20) / slot;
  if (n < 1) {
    n = 1;
  }
  if (n > 64) {
    n = 64;
  }
  if (k->cap - k->nfree < n) {
    uint32_t cap = k->cap;
    while (cap - k->nfree < n) {
      cap = cap != 0 ? cap * 2 : 64;
    }
    char **f = (char **)realloc(k->free, cap * sizeof *f);
    if (f == NULL) {
      return -ENOMEM;
    }
    k->free = f;
    k->cap = cap;
  }
  if (c->nchunks == c->chunks_cap) {
    uint32_t cap = c->chunks_cap != 0 ? c->chunks_cap * 2 : 16;
    dyco__stack_chunk *m =
        (dyco__stack_chunk *)realloc(c->chunks, cap * sizeof *m);
    if (m == NULL) {
      return -ENOMEM;
    }
    c->chunks = m;
    c->chunks_cap = cap;
  }
  size_t bytes = n * slot;
  char *m = (char *)mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (install_guard(m + i * slot, k->guard) != 0) {
      munmap(m, bytes);
      return -ENOMEM;
    }
  }
  dyco__thread_overflow_ready();
  c->chunks[c->nchunks].base = m;
  c->chunks[c->nchunks].bytes = bytes;
  c->nchunks++;
  /* Highest first, so stacks are handed out from the chunk's start. */
  for (size_t i = n; i-- > 0;) {
    k->free[k->nfree++] = m + i * slot + k->guard;
  }
  return 0;
}

char *dyco__stack_get(dyco__stack_cache *c, size_t size, size_t guard) {
  dyco__stack_class *k = stack_class(c, size, guard, 1);
  if (k == NULL) {
    return NULL;
  }
  if (k->nfree == 0 && map_chunk(c, k) != 0) {
    return NULL;
  }
  k->in_use++;
  char *st = k->free[--k->nfree];
  if (k->trimmed > k->nfree) {
    k->trimmed = k->nfree;
  }
  return st;
}

void dyco__stack_put(dyco__stack_cache *c, char *stack, size_t size,
                     size_t guard) {
  dyco__stack_class *k = stack_class(c, size, guard, 0);
  if (k == NULL) {
    return;
  }
  k->in_use--;
  if (push_free(k, stack) != 0) {
    /* Cannot even remember it: the range stays mapped until the cache
     * goes, which is all a lost stack costs. */
    return;
  }
  /* Many idle stacks: the coldest one gives its memory back (keeping its
   * address range), one per release. The hot end of the list is never
   * touched. */
  uint32_t warm = k->nfree - k->trimmed;
  uint32_t keep = k->in_use > 64 ? k->in_use : 64;
  if (warm > keep) {
    madvise(k->free[k->trimmed], size, MADV_DONTNEED);
    k->trimmed++;
  }
}

void dyco__stack_cache_destroy(dyco__stack_cache *c) {
  for (uint32_t i = 0; i < c->nchunks; i++) {
    munmap(c->chunks[i].base, c->chunks[i].bytes);
  }
  for (uint32_t i = 0; i < c->nclasses; i++) {
    free(c->classes[i].free);
  }
  free(c->chunks);
  free(c->classes);
  memset(c, 0, sizeof *c);
}

void dyco__stack_cache_count(const dyco__stack_cache *c, uint64_t *in_use,
                             uint64_t *idle) {
  uint64_t u = 0;
  uint64_t f = 0;
  for (uint32_t i = 0; i < c->nclasses; i++) {
    u += c->classes[i].in_use;
    f += c->classes[i].nfree;
  }
  *in_use = u;
  *idle = f;
}
