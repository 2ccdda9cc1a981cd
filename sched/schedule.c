/* dyco — sched layer: the per-thread scheduler. Its life (created on first
 * use, freed with its thread), dyco_schedule_run, the cross-thread inbox,
 * the registry of schedulers, stats and the dump. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/sys.h"
#include "sched/internal/sched.h"

__thread dyco_schedule *dyco__tls_sched;

/* Set when this thread's scheduler was aborted, until a new one is made:
 * dyco_schedule_run then says so again instead of starting an empty one. */
static __thread int tls_aborted;

/* The shared stack size of schedulers made with stack_size 0; 0 for
 * DYCO_SCHEDULE_STACK_DEFAULT. */
static size_t default_stack;

static size_t stack_or_default(size_t stack_size) {
  if (stack_size == 0) {
    stack_size = __atomic_load_n(&default_stack, __ATOMIC_RELAXED);
  }
  if (stack_size == 0) {
    stack_size = DYCO_SCHEDULE_STACK_DEFAULT;
  }
  /* The seed took any size: a small one is made usable, not refused. */
  return stack_size < DYCO_CONTEXT_STACK_MIN ? DYCO_CONTEXT_STACK_MIN
                                             : stack_size;
}

int dyco_schedule_setDefaultStack(size_t stack_size) {
  if (stack_size > DYCO_STACK_SIZE_MAX) {
    return -EINVAL; /* said here, not by the scheduler made later */
  }
  __atomic_store_n(&default_stack, stack_size, __ATOMIC_RELAXED);
  return 0;
}

/* --- The registry: every live scheduler, by id ------------------------- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static dyco_schedule **registry;
static size_t registry_len;
static size_t registry_cap;

/* For debuggers, which may have no debug information for dyco (tools/gdb/
 * dyco.py reads it): where the schedulers are, and the offsets of the
 * fields it shows. Exported, and kept however dyco is linked. */
struct dyco__debug_layout {
  uint32_t version;
  uint32_t sizeof_ptr;
  /* dyco_schedule */
  uint32_t s_id, s_running, s_slots, s_nslots, s_occupant, s_thread;
  /* dyco_coroutine (its saved stack pointer is its first word) */
  uint32_t co_state, co_flags, co_wait_kind, co_intr, co_cid, co_heap_index,
      co_deadline, co_start_func;
  dyco_schedule ***registry;
  size_t *registry_len;
};

__attribute__((visibility("default"), used))
const struct dyco__debug_layout dyco__debug = {
    1,
    sizeof(void *),
    offsetof(dyco_schedule, id),
    offsetof(dyco_schedule, running),
    offsetof(dyco_schedule, slots.table),
    offsetof(dyco_schedule, slots.n),
    offsetof(dyco_schedule, occupant),
    offsetof(dyco_schedule, thread),
    offsetof(dyco_coroutine, state),
    offsetof(dyco_coroutine, flags),
    offsetof(dyco_coroutine, wait_kind),
    offsetof(dyco_coroutine, intr),
    offsetof(dyco_coroutine, cid),
    offsetof(dyco_coroutine, heap_index),
    offsetof(dyco_coroutine, deadline),
    offsetof(dyco_coroutine, u.start.func),
    &registry,
    &registry_len,
};
static int next_sched_id = 1;

static int registry_add(dyco_schedule *s) {
  pthread_mutex_lock(&registry_lock);
  if (registry_len == registry_cap) {
    size_t cap = registry_cap != 0 ? registry_cap * 2 : 16;
    dyco_schedule **r = (dyco_schedule **)realloc(registry, cap * sizeof *r);
    if (r == NULL) {
      pthread_mutex_unlock(&registry_lock);
      return -ENOMEM;
    }
    registry = r;
    registry_cap = cap;
  }
  registry[registry_len++] = s;
  s->id = next_sched_id++;
  pthread_mutex_unlock(&registry_lock);
  return 0;
}

/* Call with registry_lock held. */
static size_t registry_find(const dyco_schedule *s, int id) {
  for (size_t i = 0; i < registry_len; i++) {
    if (registry[i] == s || (s == NULL && registry[i]->id == id)) {
      return i;
    }
  }
  return (size_t)-1;
}

static void registry_remove(dyco_schedule *s) {
  pthread_mutex_lock(&registry_lock);
  size_t i = registry_find(s, 0);
  if (i != (size_t)-1) {
    registry[i] = registry[--registry_len];
  }
  pthread_mutex_unlock(&registry_lock);
}

/* --- Life ------------------------------------------------------------- */

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void destroy(dyco_schedule *s);

/* A thread that ends frees its scheduler. */
static void on_thread_exit(void *p) {
  dyco_schedule *s = (dyco_schedule *)p;
  if (s != NULL && s == dyco__tls_sched && s->running == NULL && !s->in_run) {
    destroy(s);
  }
}

static void make_exit_key(void) {
  pthread_key_create(&exit_key, on_thread_exit);
}

static dyco_schedule *create(size_t stack_size, int *err) {
  pthread_once(&exit_once, make_exit_key);
  dyco_schedule *s = (dyco_schedule *)calloc(1, sizeof *s);
  if (s == NULL) {
    *err = -ENOMEM;
    return NULL;
  }
  s->epfd = s->evfd = -1;
#if DYCO_CONTEXT_SP_ONLY
  s->tools = dyco_context_tools() != 0;
#endif
  s->thread = pthread_self();
  dyco__slab_init(&s->slab);
  dyco__slots_init(&s->slots, 0, DYCO__CID_SCHED_MAX, 1024);
  dyco__sched_runner_init(s);
  int e = dyco__shared_stack_init(s, stack_size);
  if (e == 0) {
    e = dyco__poll_init(s);
  }
  if (e == 0) {
    e = registry_add(s);
  }
  if (e != 0) {
    dyco__poll_destroy(s);
    dyco__shared_stack_destroy(s);
    free(s);
    *err = e;
    return NULL;
  }
  dyco__tls_sched = s;
  tls_aborted = 0;
  pthread_setspecific(exit_key, s);
  return s;
}

dyco_schedule *dyco__sched_get(int *err) {
  dyco_schedule *s = dyco__tls_sched;
  if (DYCO__LIKELY(s != NULL)) {
    return s;
  }
  size_t want;
  int e = dyco__stack_size(stack_or_default(0), &want);
  if (e != 0) {
    *err = e;
    return NULL;
  }
  return create(want, err);
}

static void destroy(dyco_schedule *s) {
  dyco__watchdog_stop(s);
  registry_remove(s);
  if (s->poller != NULL && s->poller->quiesce != NULL) {
    s->poller->quiesce(s);
  }
  dyco__kill_all(s);
  dyco__stack_cache_destroy(&s->stacks);
  dyco__poll_destroy(s);
  dyco__shared_stack_destroy(s);
  dyco__slots_destroy(&s->slots);
  dyco__heap_destroy(&s->timers);
  dyco__slab_destroy(&s->slab);
  if (dyco__tls_sched == s) {
    dyco__tls_sched = NULL;
    pthread_setspecific(exit_key, NULL);
  }
  free(s);
}

int dyco_schedule_create(size_t stack_size, uint64_t loopwait_timeout) {
  size_t want;
  int err = dyco__stack_size(stack_or_default(stack_size), &want);
  if (err != 0) {
    return err;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL) {
    s = create(want, &err);
    if (s == NULL) {
      return err;
    }
  } else {
    if (want != s->shared.size) {
      /* Saved stacks hold addresses inside the shared stack: it can move
       * only while nobody has started on it. */
      for (uint32_t i = 1; i < s->slots.n; i++) {
        void *e = dyco__slots_at(&s->slots, i);
        if (e == NULL) {
          continue;
        }
        const dyco_coroutine *co = (const dyco_coroutine *)e;
        if ((co->flags & DYCO__F_STARTED) && !(co->flags & DYCO__F_PRIVATE)) {
          return -EBUSY;
        }
      }
      dyco__stack_ref old = s->shared;
      err = dyco__shared_stack_init(s, want); /* s->shared unchanged on error */
      if (err != 0) {
        return err;
      }
      dyco__stack_unmap_ref(&old);
      s->occupant = NULL;
    }
  }
  s->loopwait_ns = (int64_t)(loopwait_timeout > (uint64_t)INT64_MAX / 1000000
                                 ? INT64_MAX
                                 : loopwait_timeout * 1000000);
  return s->id;
}

dyco_schedule *dyco_schedule_self(void) { return dyco__tls_sched; }

void dyco_schedule_free(dyco_schedule *sched) {
  if (sched == NULL) {
    return;
  }
  if (sched != dyco__tls_sched) {
    fprintf(stderr,
            "dyco: dyco_schedule_free: scheduler %d belongs to another "
            "thread; not freed\n",
            sched->id);
    return;
  }
  if (sched->running != NULL || sched->in_run) {
    fprintf(stderr,
            "dyco: dyco_schedule_free: scheduler %d is running (called from "
            "coroutine %d); not freed\n",
            sched->id, sched->running != NULL ? sched->running->cid : 0);
    return;
  }
  destroy(sched);
}

int dyco_schedule_run(void) {
  if (DYCO__UNLIKELY(tls_aborted) && dyco__tls_sched == NULL) {
    return -ECANCELED;
  }
  int err;
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    return err;
  }
  if (s->running != NULL || s->in_run) {
    return -EDEADLK;
  }
  s->in_run = 1;
  /* While it runs, the scheduler is the thread's driver (base/thread.h):
   * what other layers ask which coroutine runs, and tell when one leaves
   * its stack. */
  dyco__runner *outer = dyco__thread_set_driver(&s->runner);
  int r = dyco__loop(s);
  dyco__thread_set_driver(outer);
  s->in_run = 0;
  if (r == -ECANCELED) {
    destroy(s);
    tls_aborted = 1;
  }
  return r;
}

int dyco_schedule_schedID(void) {
  int err;
  dyco_schedule *s = dyco__sched_get(&err);
  return s != NULL ? s->id : err;
}

int dyco_schedule_setUdata(void *udata) {
  int err;
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    return err;
  }
  s->udata = udata;
  return 0;
}

int dyco_schedule_getUdata(void **udata) {
  if (udata == NULL) {
    return -EINVAL;
  }
  int err;
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    return err;
  }
  *udata = s->udata;
  return 0;
}

int dyco_schedule_getCoroCount(void) {
  dyco_schedule *s = dyco__tls_sched;
  return s != NULL ? (int)s->count : 0;
}

/* --- The inbox ------------------------------------------------------------ */

void dyco__inbox_push(dyco_schedule *s, dyco__inbox_item *item) {
  dyco__inbox_item *head = __atomic_load_n(&s->inbox, __ATOMIC_RELAXED);
  do {
    item->next = head;
  } while (!__atomic_compare_exchange_n(&s->inbox, &head, item, 1,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  /* The owner says it sleeps before its last look at the inbox: if it did
   * not see our item, we see its flag (both sequentially consistent). */
  if (__atomic_exchange_n(&s->sleeping_in_poll, 0, __ATOMIC_SEQ_CST)) {
    DYCO__RACE_HIT(DYCO__RACE_KICK);
    uint64_t one = 1;
    long n = dyco__sys_write(s->evfd, &one, sizeof one);
    (void)n;
  }
}

/* Pushes make(arg) to the inbox of scheduler `id`, or of every scheduler
 * but `except` when id is -1. Returns how many were told. */
int dyco__sched_tell(int id, const dyco_schedule *except,
                     dyco__inbox_item *(*make)(void *), void *arg);

int dyco__sched_tell(int id, const dyco_schedule *except,
                     dyco__inbox_item *(*make)(void *), void *arg) {
  int told = 0;
  /* Under the registry lock no scheduler can be freed meanwhile. */
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < registry_len; i++) {
    dyco_schedule *r = registry[i];
    if (r == except || (id != -1 && r->id != id)) {
      continue;
    }
    dyco__inbox_item *it = make(arg);
    if (it != NULL) {
      dyco__inbox_push(r, it);
      told++;
    }
  }
  pthread_mutex_unlock(&registry_lock);
  return told;
}

static int spawn(dyco_schedule *s, int id, proc_coroutine func, void *arg) {
  if (func == NULL) {
    return -EINVAL;
  }
  dyco__inbox_item *it = (dyco__inbox_item *)malloc(sizeof *it);
  if (it == NULL) {
    return -ENOMEM;
  }
  it->co = NULL;
  it->func = func;
  it->arg = arg;
  it->fd = -1;
  it->gen = 0;
  /* Under the registry lock the scheduler cannot be freed meanwhile. */
  pthread_mutex_lock(&registry_lock);
  size_t i = registry_find(s, id);
  if (i == (size_t)-1) {
    pthread_mutex_unlock(&registry_lock);
    free(it);
    return -ESRCH;
  }
  dyco__inbox_push(registry[i], it);
  pthread_mutex_unlock(&registry_lock);
  return 0;
}

int dyco_schedule_spawn(dyco_schedule *sched, proc_coroutine func, void *arg) {
  if (sched == NULL) {
    return -EINVAL;
  }
  return spawn(sched, 0, func, arg);
}

int dyco_schedule_spawnById(int schedid, proc_coroutine func, void *arg) {
  if (schedid <= 0) {
    return -ESRCH;
  }
  return spawn(NULL, schedid, func, arg);
}

/* --- Scheduler calls ------------------------------------------------------ */

int dyco_schedcall_sigprocmask(int how, sigset_t *set, sigset_t *oset) {
  int err = pthread_sigmask(how, set, oset);
  if (err == 0 && dyco__tls_sched != NULL && dyco__tls_sched->wd != NULL) {
    dyco__watchdog_mask_changed(dyco__tls_sched);
  }
  return err == 0 ? 0 : -err;
}

void dyco_schedcall_stop(void) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return;
  }
  /* Queued behind the coroutines ready now; the loop sees the flag before
   * picking any of them and returns, and the next run carries on. */
  s->stop = 1;
  s->budget = 0; /* no more picks in this round */
  dyco_coroutine_yield();
}

void dyco_schedcall_abort(void) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return;
  }
  s->aborting = 1;
  s->budget = 0; /* no more picks in this round */
  dyco__co_exit(s, s->running);
}

/* --- Introspection ---------------------------------------------------------
 */

static int public_state(dyco_schedule *s, const dyco_coroutine *co) {
  if (s->running == co) {
    return DYCO_COROUTINE_RUNNING;
  }
  switch (__atomic_load_n(&co->state, __ATOMIC_ACQUIRE)) {
    case DYCO__NEW:
      return DYCO_COROUTINE_NEW;
    case DYCO__SLEEPING:
      return DYCO_COROUTINE_SLEEPING;
    case DYCO__WAITING:
      return DYCO_COROUTINE_WAITING;
    default:
      return DYCO_COROUTINE_READY;
  }
}

int dyco_coroutine_getInfo(int cid, dyco_coroutine_info *info) {
  if (info == NULL) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  memset(info, 0, sizeof *info);
  info->cid = cid;
  info->state = (dyco_coroutine_state)public_state(s, co);
  info->fd = -1;
  info->timeout_ms = -1;
  if (info->state == DYCO_COROUTINE_SLEEPING) {
    info->wait = DYCO_WAIT_SLEEP;
  } else if (info->state == DYCO_COROUTINE_WAITING) {
    info->wait = (dyco_coroutine_wait)co->wait_kind;
    if (co->wait_kind != DYCO_WAIT_QUEUE) {
      info->fd = dyco__poll_queue_fd(s, dyco__node_queue(&co->node));
    } else if (co->node.qtag != 0) {
      info->queue = dyco__node_queue(&co->node);
    }
  }
  if (co->heap_index >= 0) {
    uint64_t now = dyco__now_ns();
    info->timeout_ms =
        co->deadline > now ? (int64_t)((co->deadline - now) / 1000000) : 0;
  }
  info->urgent = (co->flags & DYCO__F_URGENT) != 0;
  info->private_stack = (co->flags & DYCO__F_PRIVATE) != 0;
  if (info->private_stack) {
    info->stack_size = dyco__ext_get(s, co, 0)->stack_size;
  } else {
    info->stack_size = s->shared.size;
  }
  info->stack_used = dyco__co_stack_used(s, co);
  info->sched_count = co->sched_count;
  return 0;
}

int dyco_schedule_getStats(dyco_schedule_stats *st) {
  if (st == NULL) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL) {
    return -ESRCH;
  }
  memset(st, 0, sizeof *st);
  st->sched_id = s->id;
  st->coroutines = s->count;
  for (uint32_t i = 1; i < s->slots.n; i++) {
    void *e = dyco__slots_at(&s->slots, i);
    if (e == NULL) {
      continue;
    }
    st->by_state[public_state(s, (const dyco_coroutine *)e)]++;
    st->switches += ((const dyco_coroutine *)e)->sched_count;
  }
  /* Counted on demand, not per switch: every time a coroutine was given the
   * CPU, by the ones alive and the ones gone. */
  st->switches += s->retired_resumes;
  st->created = s->created;
  st->finished = s->finished;
  st->shared_stack_saves = s->saves;
  st->shared_stack_bytes = s->save_bytes;
  st->polls = s->polls;
  dyco__stack_cache_count(&s->stacks, &st->private_stacks, &st->cached_stacks);
  st->guard_regions = dyco__stack_guard_regions();
  return 0;
}

static const char *const state_names[] = {"new", "ready", "running", "sleeping",
                                          "waiting"};
static const char *const wait_names[] = {"-",  "read",  "write",
                                         "rw", "queue", "sleep"};

/* Frames a dump shows of each coroutine, at most. */
#define DYCO_DUMP_FRAMES 32

/* A coroutine's frames under its line in the dump: address, function and
 * offset, object. */
static void print_backtrace(FILE *out, int cid) {
  void *frames[DYCO_DUMP_FRAMES];
  int n = dyco_coroutine_backtrace(cid, frames, DYCO_DUMP_FRAMES);
  if (n < 0) {
    fprintf(out, "%14s(no backtrace: %s)\n", "",
            n == -ENOSPC    ? "less than 16 KiB of its stack is free"
            : n == -ENOTSUP ? "not with this switch, or a tool "
                              "watches switches"
                            : strerror(-n));
    return;
  }
  for (int i = 0; i < n; i++) {
    Dl_info dl;
    fprintf(out, "%14s#%-2d %p", "", i, frames[i]);
    if (dladdr(frames[i], &dl) == 0 || dl.dli_fname == NULL) {
      fputc('\n', out);
      continue;
    }
    const char *slash = strrchr(dl.dli_fname, '/');
    const char *object = slash != NULL ? slash + 1 : dl.dli_fname;
    if (dl.dli_sname != NULL && dl.dli_saddr != NULL) {
      fprintf(out, " %s+0x%lx (%s)\n", dl.dli_sname,
              (unsigned long)((uintptr_t)frames[i] - (uintptr_t)dl.dli_saddr),
              object);
    } else { /* a function without a dynamic symbol */
      fprintf(out, " %s+0x%lx\n", object,
              (unsigned long)((uintptr_t)frames[i] - (uintptr_t)dl.dli_fbase));
    }
  }
}

int dyco_schedule_dump(FILE *out) {
  if (out == NULL) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL) {
    return -ESRCH;
  }
  fprintf(out, "dyco scheduler %d: %u coroutines\n", s->id, s->count);
  fprintf(out, "%10s %-8s %-6s %6s %10s %8s %10s %8s\n", "cid", "state", "wait",
          "fd", "timeout_ms", "stack", "used", "scheds");
  int listed = 0;
  for (uint32_t i = 1; i < s->slots.n; i++) {
    void *e = dyco__slots_at(&s->slots, i);
    if (e == NULL) {
      continue;
    }
    dyco_coroutine_info info;
    if (dyco_coroutine_getInfo(((dyco_coroutine *)e)->cid, &info) != 0) {
      continue;
    }
    fprintf(out, "%10d %-8s %-6s %6d %10lld %8s %10zu %8u%s\n", info.cid,
            state_names[info.state], wait_names[info.wait], info.fd,
            (long long)info.timeout_ms,
            info.private_stack ? "private" : "shared", info.stack_used,
            info.sched_count, info.urgent ? " urgent" : "");
    print_backtrace(out, info.cid);
    listed++;
  }
  dyco_schedule_stats st;
  dyco_schedule_getStats(&st);
  fprintf(out,
          "created %llu finished %llu switches %llu shared-stack saves %llu "
          "(%llu bytes) polls %llu private stacks %llu (+%llu cached)\n",
          (unsigned long long)st.created, (unsigned long long)st.finished,
          (unsigned long long)st.switches,
          (unsigned long long)st.shared_stack_saves,
          (unsigned long long)st.shared_stack_bytes,
          (unsigned long long)st.polls, (unsigned long long)st.private_stacks,
          (unsigned long long)st.cached_stacks);
  return listed;
}
