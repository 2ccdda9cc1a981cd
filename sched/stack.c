/* dyco — sched layer: stacks. The shared stack and the copies that let many
 * coroutines take turns on it; private stacks from a cache, guard pages, and
 * the report that names a coroutine that overflowed its stack. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/sys.h"
#include "sched/internal/sched.h"

#if defined(DYCO_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(DYCO_VALGRIND)
#include <valgrind/memcheck.h>
#endif

/* Linux 6.13's guard regions: guard pages set in the page tables of one
 * mapping, without splitting it into one mapping per stack. */
#define DYCO__MADV_GUARD_INSTALL 102

/* How guards are made in this process: probed once. */
enum { GUARD_UNKNOWN = 0, GUARD_MADVISE, GUARD_MPROTECT };
static int guard_mode = GUARD_UNKNOWN;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* --- Sizes --------------------------------------------------------------- */

/* The guard below each stack made now (dyco_schedule_setStackGuard): a
 * multiple of the page size, read and written atomically. */
static size_t guard_bytes = DYCO_STACK_GUARD_DEFAULT;

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

int dyco_schedule_setStackGuard(size_t bytes) {
  if (bytes > DYCO_STACK_GUARD_MAX) {
    return -EINVAL;
  }
  if (bytes == 0) {
    bytes = DYCO_STACK_GUARD_DEFAULT;
  }
  size_t page = page_size();
  bytes = (bytes + page - 1) & ~(page - 1);
  __atomic_store_n(&guard_bytes, bytes, __ATOMIC_RELAXED);
  return 0;
}

size_t dyco_schedule_getStackGuard(void) {
  return __atomic_load_n(&guard_bytes, __ATOMIC_RELAXED);
}

size_t dyco__stack_guard(void) { return dyco_schedule_getStackGuard(); }

int dyco__stack_size(size_t page, size_t want, size_t *out) {
  if (want > DYCO_STACK_SIZE_MAX) {
    return -EINVAL; /* also keeps the rounding below from overflowing */
  }
  if (want < DYCO_CONTEXT_STACK_MIN) {
    want = DYCO_CONTEXT_STACK_MIN;
  }
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
  uint64_t one = (uint64_t)size + (uint64_t)guard + (uint64_t)page_size();
  if (count != 0 && one > space / count) {
    return -ENOMEM;
  }
  return 0;
}

/* Does MADV_GUARD_INSTALL really stop an access? The kernel must know it
 * (6.13+), and an emulator (qemu-user) may accept it yet ignore it: a
 * write(2) from a guarded page must fail with EFAULT. */
static void probe_guard(void) {
  guard_mode = GUARD_MPROTECT;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  char *m = (char *)mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    return;
  }
  int fds[2];
  if (madvise(m, page, DYCO__MADV_GUARD_INSTALL) == 0 &&
      dyco__sys_pipe2(fds, O_CLOEXEC) == 0) {
    long n = dyco__sys_write(fds[1], m, 1);
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

/* --- The shared stack ------------------------------------------------------
 */

int dyco__shared_stack_init(dyco_schedule *s, size_t size) {
  const size_t guard = dyco__stack_guard();
  size_t total = guard + size;
  char *m = (char *)mmap(NULL, total, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return -ENOMEM;
  }
  if (install_guard(m, guard) != 0) {
    munmap(m, total);
    return -ENOMEM;
  }
  s->shared_map = m;
  s->shared_map_size = total;
  s->shared_base = m + guard;
  s->shared_size = size;
  s->shared_guard = guard;
  return 0;
}

void dyco__shared_stack_destroy(dyco_schedule *s) {
  if (s->shared_map != NULL) {
    munmap(s->shared_map, s->shared_map_size);
  }
  s->shared_map = s->shared_base = NULL;
  s->shared_map_size = s->shared_size = 0;
}

/* Copies that AddressSanitizer must not check: a suspended stack holds the
 * poisoned red zones of its frames. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
__attribute__((no_sanitize_address, no_sanitize_thread))
#endif
static void
stack_copy(const dyco_schedule *s, char *to, const char *from, size_t n) {
  if (DYCO__UNLIKELY(s->tools)) {
    /* A tool found at run time: it keeps its record of the bytes too. */
    if (to >= s->shared_base && to < s->shared_base + s->shared_size) {
      dyco_context_stack_restore(to, from, n);
    } else {
      dyco_context_stack_save(to, from, n);
    }
    return;
  }
#if defined(DYCO_VALGRIND)
  /* Memcheck marks a stack's bytes below its last stack pointer as gone;
   * the copy gives them back. */
  VALGRIND_MAKE_MEM_UNDEFINED(to, n);
#endif
#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
  for (size_t i = 0; i < n; i++) {
    to[i] = from[i];
  }
#else
  memcpy(to, from, n);
#endif
}

static char *shared_top(const dyco_schedule *s) {
  return s->shared_base + s->shared_size;
}

/* co's own stack: [*lo, *hi). */
static void own_stack(const dyco_schedule *s, const dyco_coroutine *co,
                      char **lo, char **hi) {
  if (co->flags & DYCO__F_PRIVATE) {
    const dyco__ext *e = co->ext;
    *lo = e->stack;
    *hi = e->stack + e->stack_size;
  } else {
    *lo = s->shared_base;
    *hi = shared_top(s);
  }
}

int dyco__co_on_own_stack(const dyco_schedule *s, const dyco_coroutine *co,
                          const void *p) {
  char *lo;
  char *hi;
  own_stack(s, co, &lo, &hi);
  return (const char *)p >= lo && (const char *)p < hi;
}

/* The lowest byte of its own stack [lo, hi) that co uses while it runs, or
 * was suspended, on a stack that is not its own: where it left its stack
 * (dyco_coroutine_leaveStack). Without word of that, all of it. */
static char *foreign_low(const dyco_coroutine *co, char *lo, char *hi) {
  const dyco__ext *e = co->ext;
  if (e != NULL && e->foreign != NULL) {
    char *f = (char *)dyco_context_stack_low(e->foreign);
    if (f >= lo && f < hi) {
      return f;
    }
  }
  return lo;
}

/* The lowest address of co's suspended state on the shared stack. */
static char *suspended_low(const dyco_schedule *s, const dyco_coroutine *co) {
  char *sp = (char *)co->ctx.sp;
  if (DYCO__UNLIKELY(sp < s->shared_base || sp >= shared_top(s))) {
    /* Suspended on another stack: its own holds its frames from where it
     * left it. */
    return foreign_low(co, s->shared_base, shared_top(s));
  }
#if DYCO_CONTEXT_SP_ONLY
  dyco_context c;
  memset(&c, 0, sizeof c);
  c.sp = co->ctx.sp;
  c.stack = s->shared_base;
  c.stack_size = s->shared_size;
  return (char *)dyco_context_stack_low(&c);
#else
  (void)s;
  return (char *)dyco_context_stack_low(&co->ctx);
#endif
}

static int save(dyco_schedule *s, dyco_coroutine *o) {
  char *low = suspended_low(s, o);
  size_t len = (size_t)(shared_top(s) - low);
  size_t need = len;
  if (DYCO__UNLIKELY(s->tools)) {
    need += dyco_context_stack_extra(len);
  }
  if (need > o->u.saved.cap) {
    size_t cap = dyco__slab_round(need);
    char *b = (char *)dyco__slab_alloc(&s->slab, cap);
    if (b == NULL) {
      return -ENOMEM;
    }
    dyco__slab_free(&s->slab, o->u.saved.bytes, o->u.saved.cap);
    o->u.saved.bytes = b;
    o->u.saved.cap = (uint32_t)cap;
  }
  stack_copy(s, o->u.saved.bytes, low, len);
  o->u.saved.len = (uint32_t)len;
  o->flags |= DYCO__F_SAVED;
  s->saves++;
  s->save_bytes += len;
  return 0;
}

int dyco__shared_install(dyco_schedule *s, dyco_coroutine *next) {
  dyco_coroutine *o = s->occupant;
  if (o != NULL && o != next && (o->flags & DYCO__F_STARTED)) {
    int err = save(s, o);
    if (err != 0) {
      return err;
    }
  }
#if defined(DYCO_ASAN)
  /* The previous owner's red zones must not follow the next one. */
  ASAN_UNPOISON_MEMORY_REGION(s->shared_base, s->shared_size);
#endif
  if (DYCO__UNLIKELY(s->tools)) {
    dyco_context_stack_reuse(s->shared_base, s->shared_size);
  }
  if (!(next->flags & DYCO__F_STARTED)) {
    dyco__co_make_context(s, next);
  } else if (next->flags & DYCO__F_SAVED) {
    stack_copy(s, shared_top(s) - next->u.saved.len, next->u.saved.bytes,
               next->u.saved.len);
  }
  s->occupant = next;
  return 0;
}

void dyco__shared_forget(dyco_schedule *s, dyco_coroutine *co) {
  if (co->flags & DYCO__F_PRIVATE) {
    return;
  }
  dyco__slab_free(&s->slab, co->u.saved.bytes, co->u.saved.cap);
  co->u.saved.bytes = NULL;
  co->u.saved.len = co->u.saved.cap = 0;
  co->flags &= (uint16_t)~DYCO__F_SAVED;
}

size_t dyco__co_stack_used(dyco_schedule *s, dyco_coroutine *co) {
  char *bottom;
  char *top;
  char *low;
  own_stack(s, co, &bottom, &top);
  if (!(co->flags & DYCO__F_STARTED)) {
    return 0;
  }
  if (s->running == co) {
    low = (char *)__builtin_frame_address(0);
  } else if (!(co->flags & DYCO__F_PRIVATE) && s->occupant != co) {
    return co->u.saved.len;
  } else {
    low = (char *)co->ctx.sp;
  }
  if (low < bottom || low >= top) {
    low = foreign_low(co, bottom, top); /* running on another stack */
  }
  return (size_t)(top - low);
}

/* --- The private stack cache -----------------------------------------------
 */

static dyco__stack_class *stack_class(dyco_schedule *s, size_t size,
                                      size_t guard, int create) {
  for (uint32_t i = 0; i < s->stacks.nclasses; i++) {
    if (s->stacks.classes[i].size == size &&
        s->stacks.classes[i].guard == guard) {
      return &s->stacks.classes[i];
    }
  }
  if (!create) {
    return NULL;
  }
  dyco__stack_class *c = (dyco__stack_class *)realloc(
      s->stacks.classes, (s->stacks.nclasses + 1) * sizeof *c);
  if (c == NULL) {
    return NULL;
  }
  s->stacks.classes = c;
  c = &s->stacks.classes[s->stacks.nclasses++];
  memset(c, 0, sizeof *c);
  c->size = size;
  c->guard = guard;
  return c;
}

static int push_free(dyco__stack_class *c, char *stack) {
  if (c->nfree == c->cap) {
    uint32_t cap = c->cap != 0 ? c->cap * 2 : 64;
    char **f = (char **)realloc(c->free, cap * sizeof *f);
    if (f == NULL) {
      return -ENOMEM;
    }
    c->free = f;
    c->cap = cap;
  }
  c->free[c->nfree++] = stack;
  return 0;
}

/* Maps room for several stacks of one size at once, each with its guard:
 * with guard regions the whole chunk stays one mapping. */
static int map_chunk(dyco_schedule *s, dyco__stack_class *c) {
  /* One page more than guard and stack, never touched: stacks whose sizes
   * are powers of two would otherwise start at the same offset modulo the
   * cache's way size, and their hot tops would crowd into a few sets. */
  size_t slot = c->guard + c->size + s->page;
  size_t n = (1u << 20) / slot;
  if (n < 1) {
    n = 1;
  }
  if (n > 64) {
    n = 64;
  }
  if (c->cap - c->nfree < n) {
    uint32_t cap = c->cap;
    while (cap - c->nfree < n) {
      cap = cap != 0 ? cap * 2 : 64;
    }
    char **f = (char **)realloc(c->free, cap * sizeof *f);
    if (f == NULL) {
      return -ENOMEM;
    }
    c->free = f;
    c->cap = cap;
  }
  if (s->stacks.nmaps == s->stacks.maps_cap) {
    uint32_t cap = s->stacks.maps_cap != 0 ? s->stacks.maps_cap * 2 : 16;
    dyco__stack_map *m =
        (dyco__stack_map *)realloc(s->stacks.maps, cap * sizeof *m);
    if (m == NULL) {
      return -ENOMEM;
    }
    s->stacks.maps = m;
    s->stacks.maps_cap = cap;
  }
  size_t bytes = n * slot;
  char *m = (char *)mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    if (install_guard(m + i * slot, c->guard) != 0) {
      munmap(m, bytes);
      return -ENOMEM;
    }
  }
  s->stacks.maps[s->stacks.nmaps].base = m;
  s->stacks.maps[s->stacks.nmaps].bytes = bytes;
  s->stacks.nmaps++;
  /* Highest first, so stacks are handed out from the chunk's start. */
  for (size_t i = n; i-- > 0;) {
    c->free[c->nfree++] = m + i * slot + c->guard;
  }
  return 0;
}

char *dyco__stack_get(dyco_schedule *s, size_t size, size_t guard) {
  dyco__stack_class *c = stack_class(s, size, guard, 1);
  if (c == NULL) {
    return NULL;
  }
  if (c->nfree == 0 && map_chunk(s, c) != 0) {
    return NULL;
  }
  c->in_use++;
  char *st = c->free[--c->nfree];
  if (c->trimmed > c->nfree) {
    c->trimmed = c->nfree;
  }
  return st;
}

void dyco__stack_put(dyco_schedule *s, char *stack, size_t size, size_t guard) {
  dyco__stack_class *c = stack_class(s, size, guard, 0);
  if (c == NULL) {
    return;
  }
  c->in_use--;
  if (push_free(c, stack) != 0) {
    /* Cannot even remember it: the range stays mapped until the cache
     * goes, which is all a lost stack costs. */
    return;
  }
  /* Many idle stacks: the coldest one gives its memory back (keeping its
   * address range), one per release, so that a burst of coroutines does
   * not hold its memory for ever and a steady state makes no system call.
   * The hot end of the list is never touched. */
  uint32_t warm = c->nfree - c->trimmed;
  uint32_t keep = c->in_use > 64 ? c->in_use : 64;
  if (warm > keep) {
    madvise(c->free[c->trimmed], size, MADV_DONTNEED);
    c->trimmed++;
  }
}

void dyco__stack_cache_destroy(dyco_schedule *s) {
  for (uint32_t i = 0; i < s->stacks.nmaps; i++) {
    munmap(s->stacks.maps[i].base, s->stacks.maps[i].bytes);
  }
  for (uint32_t i = 0; i < s->stacks.nclasses; i++) {
    free(s->stacks.classes[i].free);
  }
  free(s->stacks.maps);
  free(s->stacks.classes);
  memset(&s->stacks, 0, sizeof s->stacks);
}

/* --- Overflow reports -------------------------------------------------- */

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

/* Formats without stdio: this runs in a signal handler. */
static size_t fmt_u(char *out, uintptr_t v, int base) {
  char tmp[32];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % (uintptr_t)base];
    v /= (uintptr_t)base;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) {
    out[i] = tmp[n - 1 - i];
  }
  return n;
}

static size_t fmt_s(char *out, const char *s) {
  size_t n = strlen(s);
  memcpy(out, s, n);
  return n;
}

static void report_overflow(int cid, size_t size, int shared, int sched_id,
                            const void *addr) {
  char msg[256];
  size_t n = 0;
  n += fmt_s(msg + n, "dyco: coroutine ");
  n += fmt_u(msg + n, (uintptr_t)cid, 10);
  n += fmt_s(msg + n, " overflowed its ");
  n += fmt_u(msg + n, size, 10);
  n += fmt_s(msg + n, shared ? "-byte stack (the shared stack of scheduler "
                             : "-byte stack (private, scheduler ");
  n += fmt_u(msg + n, (uintptr_t)sched_id, 10);
  n += fmt_s(msg + n, "): fault at 0x");
  n += fmt_u(msg + n, (uintptr_t)addr, 16);
  n += fmt_s(msg + n, " in its guard page\n");
  long w = dyco__sys_write(2, msg, n);
  (void)w;
}

static void segv_handler(int sig, siginfo_t *info, void *uctx) {
  dyco_schedule *s = dyco__tls_sched;
  char *addr = (char *)info->si_addr;
  if (s != NULL && s->running != NULL) {
    dyco_coroutine *co = s->running;
    char *base = NULL;
    size_t size = 0;
    size_t guard = 0;
    int shared = !(co->flags & DYCO__F_PRIVATE);
    if (shared) {
      base = s->shared_base;
      size = s->shared_size;
      guard = s->shared_guard;
    } else {
      /* Every private stack dyco made (setStack's and pools'): their guard
       * is recorded; the caller's own memory has none. */
      const dyco__ext *e = co->ext;
      if (e != NULL && e->guard != 0) {
        base = e->stack;
        size = e->stack_size;
        guard = e->guard;
      }
    }
    if (base != NULL && addr < base && (size_t)(base - addr) <= guard) {
      report_overflow(co->cid, size, shared, s->id, addr);
      signal(SIGABRT, SIG_DFL);
      abort();
    }
  }
  /* Not ours: as if we had never been installed. */
  if (previous_segv.sa_flags & SA_SIGINFO) {
    previous_segv.sa_sigaction(sig, info, uctx);
  } else if (previous_segv.sa_handler != SIG_DFL &&
             previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
  } else {
    signal(sig, SIG_DFL); /* the fault repeats on return and kills us */
  }
}

static void install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
}

void dyco__overflow_thread_init(dyco_schedule *s) {
  pthread_once(&handler_once, install_handler);
  stack_t old;
  if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) {
    return; /* the thread has one already */
  }
  size_t size = 64 * 1024;
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    return;
  }
  stack_t ss;
  ss.ss_sp = m;
  ss.ss_size = size;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(m, size);
    return;
  }
  s->altstack = m;
  s->altstack_size = size;
}

void dyco__overflow_thread_done(dyco_schedule *s) {
  if (s->altstack == NULL) {
    return;
  }
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  munmap(s->altstack, s->altstack_size);
  s->altstack = NULL;
}
