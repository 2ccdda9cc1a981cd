/* dyco — sched layer: the coroutine calls of the public API (create, sleep,
 * yield, abort, stacks, udata, urgency) over the core. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/sys.h"
#include "sched/internal/sched.h"

static int create(proc_coroutine func, void *arg, int urgent) {
  if (func == NULL) {
    return -EINVAL;
  }
  int err;
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    return err;
  }
  dyco_coroutine *co = dyco__co_new(s, func, arg, urgent, &err);
  if (co == NULL) {
    return err;
  }
  dyco__make_ready(s, co);
  return co->cid;
}

int dyco_coroutine_create(proc_coroutine func, void *arg) {
  return create(func, arg, 0);
}

int dyco_coroutine_create_urgent(proc_coroutine func, void *arg) {
  return create(func, arg, 1);
}

void dyco__sleep_thread(uint32_t msecs) {
  struct timespec ts = {(time_t)(msecs / 1000),
                        (long)(msecs % 1000) * 1000000L};
  while (dyco__sys_nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void dyco_coroutine_abort(void) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return;
  }
  dyco__co_exit(s, s->running);
}

int dyco_schedule_coroID(void) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  return s->running->cid;
}

/* The innermost coroutine the thread runs: an asymmetric one (asym/, the
 * thread's nested runner) when one runs, else the scheduler's (its driver
 * while it runs). Asked of base, which knows both (base/thread.h). */
int dyco_coroutine_coroID(void) {
  int id = dyco__thread_running();
  return id > 0 ? id : -EPERM;
}

/* --- Stacks -------------------------------------------------------------- */

int dyco_coroutine_setStack(int cid, void *stackptr, size_t stacksize) {
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  if (co->flags & DYCO__F_STARTED) {
    return -EBUSY;
  }
  if (co->flags & DYCO__F_POOL) {
    return -EBUSY; /* the pool owns its stack */
  }
  /* Had before anything changes: on error the old stack stays. */
  dyco__stack_ref fresh = {NULL, 0, 0};
  if (stacksize != 0) {
    int err = dyco__stack_for(&s->stacks, stackptr, stacksize, &fresh);
    if (err != 0) {
      return err;
    }
  }
  dyco__ext *e = dyco__ext_get(s, co, stacksize != 0);
  if (stacksize != 0 && e == NULL) {
    dyco__stack_drop(&s->stacks, &fresh);
    return -ENOMEM;
  }
  /* Whatever it had goes. */
  if (e != NULL && e->stack != NULL) {
    if (e->guard != 0) {
      dyco__stack_put(&s->stacks, e->stack, e->stack_size, e->guard);
    }
    e->stack = NULL;
    e->stack_size = 0;
    e->guard = 0;
    co->flags &= (uint16_t)~DYCO__F_PRIVATE;
  }
  if (stacksize == 0) {
    return 0;
  }
  e->stack = fresh.stack;
  e->stack_size = fresh.size;
  e->guard = (uint32_t)fresh.guard;
  co->flags |= DYCO__F_PRIVATE;
  return 1;
}

int dyco_coroutine_getStack(int cid, void **stackptr, size_t *stacksize) {
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  void *p;
  size_t n;
  int priv = (co->flags & DYCO__F_PRIVATE) != 0;
  if (priv) {
    dyco__ext *e = dyco__ext_get(s, co, 0);
    p = e->stack;
    n = e->stack_size;
  } else {
    p = s->shared.stack;
    n = s->shared.size;
  }
  if (stackptr != NULL) {
    *stackptr = p;
  }
  if (stacksize != NULL) {
    *stacksize = n;
  }
  return priv;
}

int dyco_coroutine_checkStack(void) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  dyco_coroutine *co = s->running;
  size_t size;
  if (co->flags & DYCO__F_PRIVATE) {
    size = dyco__ext_get(s, co, 0)->stack_size;
  } else {
    size = s->shared.size;
  }
  size_t used = dyco__co_stack_used(s, co);
  return used > size / 8 * 7 ? 1 : 0;
}

/* --- Udata, counts, urgency ----------------------------------------------- */

int dyco_coroutine_setUdata(int cid, void *udata) {
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  dyco__ext *e = dyco__ext_get(s, co, udata != NULL);
  if (e == NULL) {
    return udata == NULL ? 0 : -ENOMEM;
  }
  e->udata = udata;
  return 0;
}

int dyco_coroutine_getUdata(int cid, void **udata) {
  if (udata == NULL) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  dyco__ext *e = dyco__ext_get(s, co, 0);
  *udata = e != NULL ? e->udata : NULL;
  return 0;
}

int dyco_coroutine_getSchedCount(int cid) {
  dyco_coroutine *co = dyco__co_find(dyco__tls_sched, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  return (int)(co->sched_count & 0x7fffffff);
}

int dyco_coroutine_setUrgent(int cid) {
  dyco_coroutine *co = dyco__co_find(dyco__tls_sched, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  co->flags |= DYCO__F_URGENT;
  return 0;
}

int dyco_coroutine_unsetUrgent(int cid) {
  dyco_coroutine *co = dyco__co_find(dyco__tls_sched, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  co->flags &= (uint16_t)~DYCO__F_URGENT;
  return 0;
}
