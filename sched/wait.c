/* dyco — sched layer: wait queues. Suspend on one or several queues with a
 * timeout; wake from any thread; close a queue whose primitive goes away. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "sched/internal/sched.h"

/* --- Spin locks ----------------------------------------------------------- */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && __ARM_ARCH >= 7)
  __asm__ volatile("yield");
#endif
}

void dyco_spinlock_lock(dyco_spinlock *l) {
  unsigned spins = 0;
  while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
      /* The holder may have been preempted: let it run. */
      if (++spins > 64) {
        sched_yield();
      } else {
        cpu_relax();
      }
    }
  }
}

void dyco_spinlock_unlock(dyco_spinlock *l) {
  __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

static inline void q_lock(dyco_waitq *q) {
  if (q->lock != NULL) {
    dyco_spinlock_lock(q->lock);
  }
}

static inline void q_unlock(dyco_waitq *q) {
  if (q->lock != NULL) {
    dyco_spinlock_unlock(q->lock);
  }
}

/* --- Nodes -------------------------------------------------------------- */

static inline uintptr_t node_tag(const struct dyco_waitnode *n) {
  return __atomic_load_n(&n->qtag, __ATOMIC_RELAXED);
}

static inline dyco_coroutine *node_co(const struct dyco_waitnode *n,
                                      uintptr_t tag) {
  if (tag & 1u) {
    return ((const dyco__waitnode_ext *)n)->co;
  }
  return (dyco_coroutine *)((char *)n - offsetof(dyco_coroutine, node));
}

void dyco_waitq_init(dyco_waitq *q, dyco_spinlock *lock) {
  memset(q, 0, sizeof *q);
  q->lock = lock;
}

__attribute__((visibility("default"))) uint64_t dyco__race_hits[DYCO__RACES];

/* --- Claiming and waking ----------------------------------------------------
 */

/* Tries to claim co for a waker; on success the waker owns the right to
 * make it ready. A waker on another thread first says a wake is in flight,
 * so that a shutdown of co's scheduler waits for it. */
static int claim(dyco_coroutine *co, int how, int remote) {
  /* A waker on another thread only reaches co through a locked queue: then
   * co's flags say shared, and it takes the compare-and-swap below. */
  if (!remote && !(co->flags & DYCO__F_SHARED_WAIT)) {
    if (__atomic_load_n(&co->state, __ATOMIC_RELAXED) != DYCO__WAITING) {
      return 0;
    }
    __atomic_store_n(&co->state, how, __ATOMIC_RELAXED);
    return 1;
  }
  if (remote) {
    __atomic_fetch_add(&co->sched->pending_wakes, 1, __ATOMIC_ACQ_REL);
  }
  int expect = DYCO__WAITING;
  if (__atomic_compare_exchange_n(&co->state, &expect, how, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE)) {
    return 1;
  }
  if (remote) {
    __atomic_fetch_sub(&co->sched->pending_wakes, 1, __ATOMIC_RELEASE);
    DYCO__RACE_HIT(DYCO__RACE_REMOTE_LOST);
  }
  return 0;
}

void dyco__deliver(dyco_coroutine *co) {
  dyco_schedule *s = co->sched;
  if (s == dyco__tls_sched) {
    dyco__make_ready(s, co);
    return;
  }
  DYCO__RACE_HIT(DYCO__RACE_REMOTE_WAKE);
  dyco__inbox_item *it = (dyco__inbox_item *)malloc(sizeof *it);
  if (it == NULL) {
    /* Without memory the wake cannot travel; spin until it can: losing it
     * would leave the coroutine asleep for ever. */
    while ((it = (dyco__inbox_item *)malloc(sizeof *it)) == NULL) {
      sched_yield();
    }
  }
  it->co = co;
  it->func = NULL;
  it->arg = NULL;
  it->fd = -1;
  it->gen = 0;
  dyco__inbox_push(s, it);
}

/* Takes the first node of q whose coroutine can be claimed, claims it and
 * hands it `value`. 1 when one was woken. */
static int wake_first(dyco_waitq *q, intptr_t value) {
  dyco_schedule *self = dyco__tls_sched;
  struct dyco_waitnode *n;
  while ((n = q->head) != NULL) {
    uintptr_t tag = node_tag(n);
    dyco_coroutine *co = node_co(n, tag);
    dyco__waitq_unlink(q, n);
    if (tag & 1u) {
      /* Seen even when another queue's waker got the coroutine first:
       * dyco_fd_poll reports every fd that became ready. */
      dyco__waitnode_ext *x = (dyco__waitnode_ext *)n;
      x->seen = value;
      x->hit = 1;
    }
    if (!claim(co, DYCO__WOKEN, co->sched != self)) {
      DYCO__RACE_HIT(DYCO__RACE_WAKE_LOST);
      continue;
    }
    if (tag & 1u) {
      ((dyco__waitnode_ext *)n)->won = 1;
    }
    co->wake = value;
    dyco__deliver(co);
    return 1;
  }
  return 0;
}

int dyco_waitq_wakeOne(dyco_waitq *q, intptr_t value) {
  if (q == NULL) {
    return 0;
  }
  return wake_first(q, value);
}

int dyco_waitq_wakeAll(dyco_waitq *q, intptr_t value) {
  if (q == NULL) {
    return 0;
  }
  int n = 0;
  while (wake_first(q, value)) {
    n++;
  }
  return n;
}

int dyco_waitq_hasWaiter(dyco_waitq *q) {
  if (q == NULL) {
    return 0;
  }
  struct dyco_waitnode *n;
  while ((n = q->head) != NULL) {
    dyco_coroutine *co = node_co(n, node_tag(n));
    if (__atomic_load_n(&co->state, __ATOMIC_ACQUIRE) == DYCO__WAITING) {
      return 1;
    }
    /* Claimed already: nobody can wake it from here. */
    dyco__waitq_unlink(q, n);
  }
  return 0;
}

int dyco_waitq_close(dyco_waitq *q, intptr_t value, void (*release)(void *),
                     void *arg) {
  q->closed = 1;
  q->release = release;
  q->release_arg = arg;
  /* Every node goes; its coroutine wakes unless something claimed it
   * first, and in either case finds q closed when it runs again. */
  while (wake_first(q, value)) {
  }
  return q->refs == 0;
}

void dyco__wait_interrupt(dyco_schedule *s) {
  for (uint32_t i = 1; i < s->slots.n; i++) {
    void *e = dyco__slots_at(&s->slots, i);
    if (e == NULL) {
      continue;
    }
    dyco_coroutine *co = (dyco_coroutine *)e;
    if (!(co->flags & DYCO__F_EINTR) ||
        __atomic_load_n(&co->state, __ATOMIC_ACQUIRE) != DYCO__WAITING) {
      continue;
    }
    if (!claim(co, DYCO__WOKEN, 0)) {
      continue;
    }
    /* A single-queue wait returns the value; a wait on several queues
     * (dyco_fd_poll) keeps its nodes in `wake` and reads intr_epoch. */
    if (node_tag(&co->node) != 0) {
      co->wake = -EINTR;
    }
    dyco__make_ready(s, co);
  }
}

void dyco__wait_timed_out(dyco_schedule *s, dyco_coroutine *co) {
  if (claim(co, DYCO__TIMEDOUT, 0)) {
    dyco__make_ready(s, co);
  } else {
    DYCO__RACE_HIT(DYCO__RACE_TIMEOUT_LOST);
  }
}

/* A coroutine leaves q for good: the last one out of a closed queue
 * releases it. Returns 1 when q was closed (q must not be used after). */
static int leave(dyco_waitq *q, struct dyco_waitnode *n, int relock) {
  q_lock(q);
  if (node_tag(n) != 0) {
    dyco__waitq_unlink(q, n);
  }
  q->refs--;
  if (q->closed) {
    int last = q->refs == 0;
    void (*release)(void *) = q->release;
    void *arg = q->release_arg;
    q_unlock(q);
    if (last && release != NULL) {
      release(arg);
    }
    return 1;
  }
  if (!relock) {
    q_unlock(q);
  }
  return 0;
}

void dyco__wait_kill(dyco_schedule *s, dyco_coroutine *co) {
  (void)s;
  if (!claim(co, DYCO__KILLED, 0)) {
    return; /* a wake is in flight */
  }
  /* The coroutine will never run again: leave its queues for it. With
   * waitAny its extended nodes hang off `wake`. */
  if (node_tag(&co->node) != 0) {
    leave(dyco__node_queue(&co->node), &co->node, 0);
  } else if (co->wake != 0) {
    dyco__waitnode_ext *x = (dyco__waitnode_ext *)co->wake;
    for (int i = 0; x[i].co == co; i++) {
      leave(dyco__node_queue(&x[i].node), &x[i].node, 0);
    }
  }
  s->waiting--;
}

/* Back from a wait: co runs again, its timer (if any) gone. Returns the state
 * it was woken in (DYCO__WOKEN, _TIMEDOUT, _CANCELLED). */
static inline int wait_end(dyco_schedule *s, dyco_coroutine *co) {
  s->waiting--;
  int st = __atomic_load_n(&co->state, __ATOMIC_ACQUIRE);
  __atomic_store_n(&co->state, DYCO__RUNNING, __ATOMIC_RELAXED);
  co->wait_kind = DYCO_WAIT_NONE;
  if (co->heap_index >= 0) {
    dyco__timer_remove(s, co);
  }
  return st;
}

/* --- Waiting on one queue
 * ----------------------------------------------------- */

int dyco__wait_on(dyco_schedule *s, dyco_waitq *q, int kind, int timeout,
                  intptr_t *result) {
  dyco_coroutine *co = s->running;
  uint64_t deadline;
  int e = dyco__wait_begin(co, timeout, &deadline);
  if (e != 0) {
    return e;
  }
  co->wake = 0;
  if (deadline != 0 && dyco__timer_add(s, co, deadline) != 0) {
    return -ENOMEM;
  }
  dyco__waitq_push(q, &co->node, (uintptr_t)q);
  q->refs++;
  if (q->lock != NULL) {
    co->flags |= DYCO__F_SHARED_WAIT;
  } else {
    co->flags &= (uint16_t)~DYCO__F_SHARED_WAIT;
  }
  co->wait_kind = (uint8_t)kind;
  __atomic_store_n(&co->state, DYCO__WAITING, __ATOMIC_RELEASE);
  s->waiting++;
  q_unlock(q);
  dyco__switch_out(s, co);
  int st = wait_end(s, co);
  if (leave(q, &co->node, 1)) {
    if (result != NULL) {
      *result = co->wake;
    }
    return -EIDRM;
  }
  if (DYCO__UNLIKELY(st != DYCO__WOKEN)) {
    return st == DYCO__CANCELLED ? -ECANCELED : -ETIMEDOUT;
  }
  if (result != NULL) {
    *result = co->wake;
  }
  return 0;
}

int dyco_waitq_wait(dyco_waitq *q, int timeout, intptr_t *result) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (q == NULL) {
    return -EINVAL;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  return dyco__wait_on(s, q, DYCO_WAIT_QUEUE, timeout, result);
}

/* --- Waiting on several queues ----------------------------------------------
 */

static int by_lock(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)(*(dyco_waitq *const *)a)->lock;
  uintptr_t y = (uintptr_t)(*(dyco_waitq *const *)b)->lock;
  return x < y ? -1 : x > y;
}

/* The queues' distinct locks in address order, into `out` (n <= 64). */
static int sorted_locks(dyco_waitq *const *qs, int n, dyco_spinlock **out) {
  dyco_waitq *tmp[64];
  memcpy(tmp, qs, (size_t)n * sizeof *tmp);
  qsort(tmp, (size_t)n, sizeof *tmp, by_lock);
  int m = 0;
  for (int i = 0; i < n; i++) {
    dyco_spinlock *l = tmp[i]->lock;
    if (l != NULL && (m == 0 || out[m - 1] != l)) {
      out[m++] = l;
    }
  }
  return m;
}

void dyco_waitq_lockAll(dyco_waitq *const *qs, int n) {
  if (qs == NULL || n < 1 || n > 64) {
    return;
  }
  dyco_spinlock *locks[64];
  int m = sorted_locks(qs, n, locks);
  for (int i = 0; i < m; i++) {
    dyco_spinlock_lock(locks[i]);
  }
}

void dyco_waitq_unlockAll(dyco_waitq *const *qs, int n) {
  if (qs == NULL || n < 1 || n > 64) {
    return;
  }
  dyco_spinlock *locks[64];
  int m = sorted_locks(qs, n, locks);
  for (int i = m; i-- > 0;) {
    dyco_spinlock_unlock(locks[i]);
  }
}

int dyco_waitq_waitAny(dyco_waitq *const *qs, int n, int timeout,
                       intptr_t *result, uint64_t *closed) {
  if (closed != NULL) {
    *closed = 0;
  }
  dyco_schedule *s;
  uint64_t deadline;
  int e =
      dyco__wait_enter(qs != NULL && n >= 1 && n <= 64, timeout, &s, &deadline);
  if (e != 0) {
    return e;
  }
  dyco_coroutine *co = s->running;
  /* One node per queue, plus an end marker whose co is NULL. */
  size_t bytes = (size_t)(n + 1) * sizeof(dyco__waitnode_ext);
  dyco__waitnode_ext *x =
      (dyco__waitnode_ext *)dyco__slab_alloc(&s->slab, bytes);
  if (x == NULL) {
    return -ENOMEM;
  }
  memset(x, 0, bytes);
  if (deadline != 0 && dyco__timer_add(s, co, deadline) != 0) {
    dyco__slab_free(&s->slab, x, bytes);
    return -ENOMEM;
  }
  dyco_spinlock *qlock[64]; /* read now: a closed queue may be gone later */
  for (int i = 0; i < n; i++) {
    qlock[i] = qs[i]->lock;
    x[i].co = co;
    x[i].index = i;
    dyco__waitq_push(qs[i], &x[i].node, (uintptr_t)qs[i] | 1u);
    qs[i]->refs++;
  }
  co->wake = (intptr_t)x; /* for a shutdown that kills us while we wait */
  co->flags &= (uint16_t)~DYCO__F_SHARED_WAIT;
  for (int i = 0; i < n; i++) {
    if (qlock[i] != NULL) {
      co->flags |= DYCO__F_SHARED_WAIT;
    }
  }
  co->wait_kind = DYCO_WAIT_QUEUE;
  __atomic_store_n(&co->state, DYCO__WAITING, __ATOMIC_RELEASE);
  s->waiting++;
  dyco_spinlock *locks[64];
  int m = sorted_locks(qs, n, locks);
  for (int i = m; i-- > 0;) {
    dyco_spinlock_unlock(locks[i]);
  }

  dyco__switch_out(s, co);

  int st = wait_end(s, co);
  int won = -1;
  uint64_t gone = 0;
  /* Leave every queue, one at a time (each under its own lock), then take
   * the locks of those still open again in the global order. */
  for (int i = 0; i < n; i++) {
    if (x[i].won) {
      won = i;
    }
    if (leave(qs[i], &x[i].node, 0)) {
      gone |= (uint64_t)1 << i;
    }
  }
  for (int i = 0; i < m; i++) {
    int open = 0;
    for (int j = 0; j < n; j++) {
      if (qlock[j] == locks[i] && !(gone & ((uint64_t)1 << j))) {
        open = 1;
      }
    }
    if (open) {
      dyco_spinlock_lock(locks[i]);
    }
  }
  intptr_t value = co->wake;
  dyco__slab_free(&s->slab, x, bytes);
  if (closed != NULL) {
    *closed = gone;
  }
  if (st == DYCO__CANCELLED) {
    return -ECANCELED;
  }
  if (st == DYCO__TIMEDOUT || won < 0) {
    return -ETIMEDOUT;
  }
  if (result != NULL) {
    *result = value;
  }
  return won;
}

/* --- Cancellation and deadlines
 * -----------------------------------------------
 */

int dyco__intr_enter(dyco_coroutine *co, uint64_t *deadline) {
  const uint8_t i = co->intr;
  if (i & DYCO__I_MASKED) {
    return 0;
  }
  if (i & DYCO__I_CANCEL) {
    return -ECANCELED;
  }
  if (i & DYCO__I_DEADLINE) {
    const uint64_t limit = co->ext->limit;
    if (dyco__now_ns() >= limit) {
      return -ETIMEDOUT;
    }
    if (*deadline == 0 || *deadline > limit) {
      *deadline = limit;
    }
  }
  return 0;
}

/* Ends whatever co waits in now, if anything: the wait returns -ECANCELED
 * (a sleep just ends). A wake already claimed by a waker (or a timer) keeps
 * its outcome: the cancel shows at co's next wait. */
static void interrupt(dyco_schedule *s, dyco_coroutine *co) {
  if (co->intr & DYCO__I_MASKED) {
    return;
  }
  int st = __atomic_load_n(&co->state, __ATOMIC_ACQUIRE);
  if (st == DYCO__SLEEPING) {
    if (co->heap_index >= 0) {
      dyco__timer_remove(s, co);
    }
    s->sleeping--;
    dyco__make_ready(s, co);
  } else if (st == DYCO__WAITING && claim(co, DYCO__CANCELLED, 0)) {
    dyco__make_ready(s, co);
  }
}

int dyco__cancel_here(dyco_schedule *s, int cid) {
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  co->intr |= DYCO__I_CANCEL;
  if (co != s->running) {
    interrupt(s, co);
  }
  return 0;
}

int dyco_coroutine_cancel(int cid) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL) {
    return -ESRCH;
  }
  return dyco__cancel_here(s, cid);
}

/* The registry of schedulers lives in schedule.c. */
int dyco__sched_tell(int id, const dyco_schedule *except,
                     dyco__inbox_item *(*make)(void *), void *arg);

typedef struct cancel_msg {
  int cid;
  int nomem;
} cancel_msg;

static dyco__inbox_item *make_cancel(void *arg) {
  cancel_msg *m = (cancel_msg *)arg;
  dyco__inbox_item *it = (dyco__inbox_item *)calloc(1, sizeof *it);
  if (it == NULL) {
    m->nomem = 1;
    return NULL;
  }
  it->fd = DYCO__INBOX_CANCEL;
  it->gen = (uint32_t)m->cid;
  return it;
}

int dyco_coroutine_cancelById(int schedid, int cid) {
  if (schedid <= 0 || cid <= 0) {
    return -ESRCH;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s != NULL && s->id == schedid) {
    return dyco__cancel_here(s, cid);
  }
  cancel_msg m = {cid, 0};
  if (dyco__sched_tell(schedid, NULL, make_cancel, &m) == 0) {
    return m.nomem ? -ENOMEM : -ESRCH;
  }
  return 0;
}

/* The running coroutine, or NULL. */
static inline dyco_coroutine *running(void) {
  dyco_schedule *s = dyco__tls_sched;
  return s != NULL ? s->running : NULL;
}

int dyco_coroutine_uncancel(void) {
  dyco_coroutine *co = running();
  if (co == NULL) {
    return -EPERM;
  }
  int was = (co->intr & DYCO__I_CANCEL) != 0;
  co->intr &= (uint8_t)~DYCO__I_CANCEL;
  return was;
}

int dyco_coroutine_maskCancel(int masked) {
  dyco_coroutine *co = running();
  if (co == NULL) {
    return -EPERM;
  }
  int was = (co->intr & DYCO__I_MASKED) != 0;
  if (masked) {
    co->intr |= DYCO__I_MASKED;
  } else {
    co->intr &= (uint8_t)~DYCO__I_MASKED;
  }
  return was;
}

int dyco_coroutine_checkCancel(void) {
  dyco_coroutine *co = running();
  if (co == NULL) {
    return -EPERM;
  }
  if (DYCO__LIKELY(co->intr == 0)) {
    return 0;
  }
  uint64_t unused = 0;
  return dyco__intr_enter(co, &unused);
}

int dyco_coroutine_setDeadline(uint64_t ns) {
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = running();
  if (co == NULL) {
    return -EPERM;
  }
  if (ns == 0) {
    co->intr &= (uint8_t)~DYCO__I_DEADLINE;
    return 0;
  }
  dyco__ext *e = dyco__ext_get(s, co, 1);
  if (e == NULL) {
    return -ENOMEM;
  }
  e->limit = ns;
  co->intr |= DYCO__I_DEADLINE;
  return 0;
}

uint64_t dyco_coroutine_getDeadline(void) {
  dyco_coroutine *co = running();
  if (co == NULL || !(co->intr & DYCO__I_DEADLINE)) {
    return 0;
  }
  return co->ext->limit;
}

int dyco_coroutine_narrowDeadline(uint64_t ns, uint64_t *saved) {
  dyco_coroutine *co = running();
  if (co == NULL) {
    return -EPERM;
  }
  uint64_t now = dyco_coroutine_getDeadline();
  if (saved != NULL) {
    *saved = now;
  }
  if (ns == 0 || (now != 0 && now <= ns)) {
    return 0;
  }
  return dyco_coroutine_setDeadline(ns);
}
