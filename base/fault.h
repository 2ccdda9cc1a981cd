/* dyco — base layer: fault injection, for tests only. In a build with
 * --config=faults (which defines DYCO_FAULTS and makes every dyco C source
 * include this header first), every allocation dyco makes and every system
 * call of the kinds below counts, and a test can make the Nth call of one
 * kind fail with an errno of its choice (//tools/faults:fault_test). In any
 * other build this header declares nothing and costs nothing. */
#ifndef DYCO_BASE_FAULT_H_
#define DYCO_BASE_FAULT_H_

#if defined(DYCO_FAULTS) && !defined(__ASSEMBLER__)

/* Every declaration the macros below replace, before they are defined. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What can be made to fail. */
enum {
  DYCO_FAULT_MALLOC,         /* malloc, calloc, realloc, aligned_alloc,
                                strdup: NULL */
  DYCO_FAULT_MMAP,           /* mmap: MAP_FAILED */
  DYCO_FAULT_MPROTECT,       /* mprotect: -1 */
  DYCO_FAULT_MADVISE,        /* madvise: -1 */
  DYCO_FAULT_EPOLL_CTL,      /* epoll_ctl: -1 */
  DYCO_FAULT_PTHREAD_CREATE, /* pthread_create: the errno, returned */
  DYCO_FAULT_EPOLL_CREATE,   /* the raw calls of base/sys.h: -1 */
  DYCO_FAULT_EPOLL_WAIT,
  DYCO_FAULT_EVENTFD,
  DYCO_FAULT_PIPE,
  DYCO_FAULT_SIGNALFD,
  DYCO_FAULT_PIDFD,
  DYCO_FAULT_SOCKET,
  DYCO_FAULT_ACCEPT,
  DYCO_FAULT_READ,
  DYCO_FAULT_WRITE,
  DYCO_FAULT_URING_SETUP, /* io_uring_queue_init_params: -errno */
  DYCO_FAULT_KINDS
};

/* The kind's name, for reports. */
const char *dyco__fault_name(int kind);

/* From now on, the nth call (1 for the next) of `kind` fails with err, once;
 * every other call runs. nth 0 arms nothing. Resets every count. */
void dyco__fault_arm(int kind, long nth, int err);

/* Calls of `kind` since the last dyco__fault_arm; whether the armed one
 * failed. */
long dyco__fault_calls(int kind);
int dyco__fault_fired(void);

/* The errno a call of `kind` must fail with now, or 0. */
int dyco__fault_hit(int kind);

void *dyco__fault_malloc(size_t n);
void *dyco__fault_calloc(size_t n, size_t size);
void *dyco__fault_realloc(void *p, size_t n);
void *dyco__fault_aligned_alloc(size_t align, size_t n);
char *dyco__fault_strdup(const char *s);
void *dyco__fault_mmap(void *addr, size_t n, int prot, int flags, int fd,
                       off_t off);
int dyco__fault_mprotect(void *addr, size_t n, int prot);
int dyco__fault_madvise(void *addr, size_t n, int advice);
int dyco__fault_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int dyco__fault_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                               void *(*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif

#if !defined(DYCO__FAULT_IMPL)
#define malloc(n) dyco__fault_malloc(n)
#define calloc(n, s) dyco__fault_calloc(n, s)
#define realloc(p, n) dyco__fault_realloc(p, n)
#define aligned_alloc(a, n) dyco__fault_aligned_alloc(a, n)
#define strdup(s) dyco__fault_strdup(s)
#define mmap(a, n, p, f, d, o) dyco__fault_mmap(a, n, p, f, d, o)
#define mprotect(a, n, p) dyco__fault_mprotect(a, n, p)
#define madvise(a, n, v) dyco__fault_madvise(a, n, v)
#define epoll_ctl(e, o, f, v) dyco__fault_epoll_ctl(e, o, f, v)
#define pthread_create(t, a, f, g) dyco__fault_pthread_create(t, a, f, g)
#endif

/* In base/sys.h's raw calls: fail as the kernel would. */
#define DYCO__FAULT(kind)                    \
  do {                                       \
    int dyco_fault_ = dyco__fault_hit(kind); \
    if (dyco_fault_ != 0) {                  \
      errno = dyco_fault_;                   \
      return -1;                             \
    }                                        \
  } while (0)

/* The errno a call of `kind` must fail with now, or 0 (for calls that
 * report errors their own way). */
#define DYCO__FAULT_ERR(kind) dyco__fault_hit(kind)

#else /* !DYCO_FAULTS */

#define DYCO__FAULT(kind) ((void)0)
#define DYCO__FAULT_ERR(kind) 0

#endif /* DYCO_FAULTS */

#endif /* DYCO_BASE_FAULT_H_ */
