/* dyco — base layer: fault injection (base/fault.h), --config=faults only. */
#if defined(DYCO_FAULTS)

#define DYCO__FAULT_IMPL 1
#undef malloc
#undef calloc
#undef realloc
#undef aligned_alloc
#undef strdup
#undef mmap
#undef mprotect
#undef madvise
#undef epoll_ctl
#undef pthread_create

#include "base/fault.h"

#include <errno.h>

static long calls[DYCO_FAULT_KINDS];
static int armed_kind = -1;
static long armed_nth;
static int armed_err;
static int fired;

static const char *const names[DYCO_FAULT_KINDS] = {
    "malloc",         "mmap",          "mprotect",   "madvise", "epoll_ctl",
    "pthread_create", "epoll_create",  "epoll_wait", "eventfd", "pipe",
    "signalfd",       "pidfd_open",    "socket",     "accept",  "read",
    "write",          "io_uring_setup"};

const char *dyco__fault_name(int kind) {
  return kind >= 0 && kind < DYCO_FAULT_KINDS ? names[kind] : "?";
}

void dyco__fault_arm(int kind, long nth, int err) {
  for (int i = 0; i < DYCO_FAULT_KINDS; i++) {
    __atomic_store_n(&calls[i], 0, __ATOMIC_RELAXED);
  }
  __atomic_store_n(&fired, 0, __ATOMIC_RELAXED);
  armed_err = err;
  armed_nth = nth;
  __atomic_store_n(&armed_kind, nth > 0 ? kind : -1, __ATOMIC_SEQ_CST);
}

long dyco__fault_calls(int kind) {
  return __atomic_load_n(&calls[kind], __ATOMIC_RELAXED);
}

int dyco__fault_fired(void) {
  return __atomic_load_n(&fired, __ATOMIC_RELAXED);
}

int dyco__fault_hit(int kind) {
  long n = __atomic_add_fetch(&calls[kind], 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&armed_kind, __ATOMIC_RELAXED) == kind &&
      n == armed_nth) {
    __atomic_store_n(&fired, 1, __ATOMIC_RELAXED);
    return armed_err;
  }
  return 0;
}

#define FAIL_NULL(kind)             \
  do {                              \
    int e_ = dyco__fault_hit(kind); \
    if (e_ != 0) {                  \
      errno = e_;                   \
      return NULL;                  \
    }                               \
  } while (0)

void *dyco__fault_malloc(size_t n) {
  FAIL_NULL(DYCO_FAULT_MALLOC);
  return malloc(n);
}

void *dyco__fault_calloc(size_t n, size_t size) {
  FAIL_NULL(DYCO_FAULT_MALLOC);
  return calloc(n, size);
}

void *dyco__fault_realloc(void *p, size_t n) {
  FAIL_NULL(DYCO_FAULT_MALLOC);
  return realloc(p, n);
}

void *dyco__fault_aligned_alloc(size_t align, size_t n) {
  FAIL_NULL(DYCO_FAULT_MALLOC);
  return aligned_alloc(align, n);
}

char *dyco__fault_strdup(const char *s) {
  FAIL_NULL(DYCO_FAULT_MALLOC);
  return strdup(s);
}

void *dyco__fault_mmap(void *addr, size_t n, int prot, int flags, int fd,
                       off_t off) {
  int e = dyco__fault_hit(DYCO_FAULT_MMAP);
  if (e != 0) {
    errno = e;
    return MAP_FAILED;
  }
  return mmap(addr, n, prot, flags, fd, off);
}

int dyco__fault_mprotect(void *addr, size_t n, int prot) {
  DYCO__FAULT(DYCO_FAULT_MPROTECT);
  return mprotect(addr, n, prot);
}

int dyco__fault_madvise(void *addr, size_t n, int advice) {
  DYCO__FAULT(DYCO_FAULT_MADVISE);
  return madvise(addr, n, advice);
}

int dyco__fault_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
  DYCO__FAULT(DYCO_FAULT_EPOLL_CTL);
  return epoll_ctl(ep, op, fd, ev);
}

int dyco__fault_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                               void *(*fn)(void *), void *arg) {
  int e = dyco__fault_hit(DYCO_FAULT_PTHREAD_CREATE);
  if (e != 0) {
    return e;
  }
  return pthread_create(t, attr, fn, arg);
}

#else
/* ISO C wants something in a translation unit. */
typedef int dyco__fault_unused;
#endif /* DYCO_FAULTS */
