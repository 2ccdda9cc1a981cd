/* dyco — sync layer: select. Try the cases in a random order under every
 * lock; else queue a cell per case and sleep on all (waitAny). */
#include "sync/select.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hints.h"
#include "sync/internal/chan.h"

static inline dyco__chan *core_of(const dyco_select_case *c) {
  return &c->chan->core;
}

static int by_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(dyco_spinlock *const *)a;
  uintptr_t y = (uintptr_t)*(dyco_spinlock *const *)b;
  return x < y ? -1 : x > y;
}

/* The distinct locks of the shared channels, in address order (the order
 * dyco_waitq_lockAll and dyco_waitq_waitAny use). */
static int collect_locks(const dyco_select_case *cs, int n,
                         dyco_spinlock **locks) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (cs[i].chan != NULL && core_of(&cs[i])->base.lock != NULL) {
      locks[m++] = core_of(&cs[i])->base.lock;
    }
  }
  if (m > 1) {
    qsort(locks, (size_t)m, sizeof *locks, by_address);
  }
  int k = 0;
  for (int i = 0; i < m; i++) {
    if (k == 0 || locks[k - 1] != locks[i]) {
      locks[k++] = locks[i];
    }
  }
  return k;
}

static void unlock_all(dyco_spinlock **locks, int m) {
  for (int i = m; i-- > 0;) {
    dyco_spinlock_unlock(locks[i]);
  }
}

/* Tries case c; 1 when it went ahead (result set). */
static int try_case(dyco_select_case *c) {
  dyco__chan *ch = core_of(c);
  if (c->op == DYCO_SELECT_SEND) {
    int r = dyco__chan_try_send(ch, c->elem, ch->msgmax);
    if (r != 0) {
      c->result = r == 1 ? 0 : -EPIPE;
      return 1;
    }
    return 0;
  }
  size_t len;
  int r = dyco__chan_try_recv(ch, c->elem, &len);
  if (r != 0) {
    c->result = r == 1 ? 1 : 0;
    return 1;
  }
  return 0;
}

/* The waiting part, off the fast path. All locks held on entry and exit.
 * Channels destroyed meanwhile whose last cell this select gave back go to
 * gone[] (to be released once the locks are let go). */
static __attribute__((noinline)) int wait_cases(dyco_select_case *cs,
                                                const int *active, int nactive,
                                                int timeout, dyco__chan **gone,
                                                int *ngone) {
  dyco__cell *cells[DYCO_SELECT_MAX];
  dyco_waitq *qs[DYCO_SELECT_MAX] = {NULL};
  int k;
  for (k = 0; k < nactive; k++) {
    dyco_select_case *c = &cs[active[k]];
    int send = c->op == DYCO_SELECT_SEND;
    cells[k] =
        dyco__chan_enqueue(core_of(c), send, c->elem, core_of(c)->msgmax);
    if (cells[k] == NULL) {
      break;
    }
    qs[k] = &cells[k]->q;
  }
  int r;
  intptr_t v = 0;
  if (k < nactive) {
    r = -ENOMEM;
  } else {
    r = dyco_waitq_waitAny(qs, nactive, timeout, &v, NULL);
  }
  /* Every lock is held again (no queue here is ever closed). Take the
   * winner's outcome, then give every cell back. */
  if (r >= 0) {
    dyco_select_case *c = &cs[active[r]];
    dyco__cell *cell = cells[r];
    if (v == DYCO__SYNC_DESTROYED) {
      c->result = DYCO__SYNC_EDESTROYED;
    } else if (c->op == DYCO_SELECT_SEND) {
      c->result = v == DYCO__SYNC_OK ? 0 : -EPIPE;
    } else if (v == DYCO__SYNC_OK) {
      if (c->elem != NULL && cell->len != 0) {
        memcpy(c->elem, cell->data.bytes, cell->len);
      }
      c->result = 1;
    } else {
      c->result = 0;
    }
    r = active[r];
  }
  *ngone = 0;
  for (int i = 0; i < k; i++) {
    dyco__chan *ch = core_of(&cs[active[i]]);
    if (dyco__chan_dequeue(ch, cells[i])) {
      gone[(*ngone)++] = ch;
    }
  }
  return r;
}

DYCO__RETURN_BY_JUMP(int, dyco_select,
                     (dyco_select_case * cs, int n, int timeout)) {
  if (cs == NULL || n < 1 || n > DYCO_SELECT_MAX) {
    return -EINVAL;
  }
  int active[DYCO_SELECT_MAX];
  int nactive = 0;
  for (int i = 0; i < n; i++) {
    dyco_select_case *c = &cs[i];
    if (c->chan == NULL) {
      continue;
    }
    if (c->op != DYCO_SELECT_SEND && c->op != DYCO_SELECT_RECV) {
      return -EINVAL;
    }
    if (c->op == DYCO_SELECT_SEND && c->elem == NULL &&
        core_of(c)->msgmax != 0) {
      return -EINVAL;
    }
    /* A local channel: check the thread (takes no lock). */
    if (core_of(c)->base.lock == NULL) {
      int r = dyco__sync_enter(&core_of(c)->base);
      if (r != 0) {
        return r;
      }
    }
    active[nactive++] = i;
  }
  if (nactive == 0) {
    return -EINVAL;
  }
  /* A random order (Fisher-Yates), so that no ready case starves. */
  for (int i = nactive - 1; i > 0; i--) {
    int j = (int)(dyco__sync_random() % (uint32_t)(i + 1));
    int t = active[i];
    active[i] = active[j];
    active[j] = t;
  }
  dyco_spinlock *locks[DYCO_SELECT_MAX];
  int m = collect_locks(cs, n, locks);
  for (int i = 0; i < m; i++) {
    dyco_spinlock_lock(locks[i]);
  }
  for (int i = 0; i < nactive; i++) {
    if (try_case(&cs[active[i]])) {
      unlock_all(locks, m);
      return active[i];
    }
  }
  if (timeout == 0) {
    unlock_all(locks, m);
    return -ETIMEDOUT;
  }
  dyco__chan *gone[DYCO_SELECT_MAX];
  int ngone = 0;
  int r = wait_cases(cs, active, nactive, timeout, gone, &ngone);
  unlock_all(locks, m);
  for (int i = 0; i < ngone; i++) {
    dyco__chan_release(gone[i]);
  }
  return r;
}
