/* dyco — sync layer, private: what every primitive shares. A lock that costs
 * nothing for a local primitive, the owner-thread check, wake values. */
#ifndef DYCO_SYNC_INTERNAL_COMMON_H_
#define DYCO_SYNC_INTERNAL_COMMON_H_

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hints.h"
#include "sched/wait.h"
#include "sync/flags.h"

/* What a waker hands a waiter through dyco_waitq_wakeOne. Pointers handed
 * instead (a pubsub message) are never this small. */
enum {
  DYCO__SYNC_OK = 1,        /* the operation the waiter waited for is done */
  DYCO__SYNC_CLOSED = 2,    /* the channel was closed (dyco_chan_close) */
  DYCO__SYNC_DESTROYED = 3, /* the primitive was destroyed */
};

/* What a waiter of a destroyed primitive returns, every primitive alike
 * (docs/errors.md): "identifier removed", as semop(2) and msgrcv(2) answer
 * a waiter whose System V semaphore set or queue is removed. The seed's
 * half-duplex channel keeps its documented 0 instead. */
#define DYCO__SYNC_EDESTROYED (-EIDRM)

/* The head of every primitive. */
typedef struct dyco__sync_base {
  dyco_spinlock *lock; /* &spin when shared, NULL when local */
  const void *owner;   /* local: the thread it belongs to, NULL until used */
  dyco_spinlock spin;
} dyco__sync_base;

/* One byte per thread: its address names the thread. */
extern __thread char dyco__sync_thread_mark
    __attribute__((tls_model("initial-exec")));

static inline const void *dyco__sync_self(void) {
  return &dyco__sync_thread_mark;
}

void dyco__sync_base_init(dyco__sync_base *b, int flags);

/* The slow part of dyco__sync_enter: binds an unbound local primitive to
 * this thread. 0, or -EXDEV when it belongs to another thread. */
int dyco__sync_bind(dyco__sync_base *b);

/* dyco__sync_enter starts an operation on the primitive: takes its lock when
 * it is shared; checks the thread when it is local. 0, or -EXDEV (no lock is
 * then held). */
static inline int dyco__sync_enter(dyco__sync_base *b) {
  if (b->lock != NULL) {
    dyco_spinlock_lock(b->lock);
    return 0;
  }
  if (DYCO__LIKELY(__atomic_load_n(&b->owner, __ATOMIC_RELAXED) ==
                   dyco__sync_self())) {
    return 0;
  }
  return dyco__sync_bind(b);
}

static inline void dyco__sync_leave(dyco__sync_base *b) {
  if (b->lock != NULL) {
    dyco_spinlock_unlock(b->lock);
  }
}

/* For destroy, which returns nothing: 0 when the caller may go on (with the
 * lock held when shared); otherwise reports the misuse on stderr. */
int dyco__sync_enter_destroy(dyco__sync_base *b, const char *what);

/* The identity of the running coroutine (or of the thread, outside one),
 * for owner checks. */
typedef struct dyco__sync_who {
  const void *thread;
  int cid; /* 0 outside a coroutine */
} dyco__sync_who;

dyco__sync_who dyco__sync_whoami(void);

static inline int dyco__sync_same(dyco__sync_who a, dyco__sync_who b) {
  return a.thread == b.thread && a.cid == b.cid;
}

/* 1 when the caller runs in a coroutine (and so may wait). */
int dyco__sync_in_coroutine(void);

/* A per-thread pseudo-random number (xorshift), for select's order. */
uint32_t dyco__sync_random(void);

#endif /* DYCO_SYNC_INTERNAL_COMMON_H_ */
