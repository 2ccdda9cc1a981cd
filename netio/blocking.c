/* dyco — netio layer: the worker pool behind dyco_blocking_call, and the
 * DNS lookups that glibc makes internally, run on it. */
#include "netio/blocking.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netio/internal/io.h"
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"

#define IDLE_SECONDS 10

/* One call handed to a worker. Lives on the heap: the caller's stack may be
 * the shared one, given to other coroutines while it waits. */
typedef struct job {
  struct job *next;
  dyco_blocking_fn fn;
  void *arg;
  intptr_t ret;
  int err;
  int done; /* under lock */
  /* Under lock: the caller was cancelled (or its deadline passed) and went
   * on without the result; the worker cleans up once fn returns. */
  int abandoned;
  void (*release)(void *arg, intptr_t ret); /* for an abandoned job's arg */
  dyco_spinlock lock;
  dyco_waitq q;
} job;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static job *queue_head, *queue_tail;
static int workers, idle_workers, max_workers = 8;

/* glibc keeps a thread's resolver state (its _res, holding a reference to
 * the parsed resolv.conf) until the thread exits. A worker still alive when
 * the process exits would hold it then, and memcheck, after glibc's
 * clean-up at exit dropped the shared copy, reports the configuration
 * definitely lost. A worker lets go of it after each call that set it up,
 * as glibc does at thread exit; the next lookup attaches the shared
 * configuration again (read again only if the file changed). */
static void release_resolver(void) {
  /* Only in a build for valgrind: glibc re-attaches the configuration
   * under an internal lock ThreadSanitizer cannot see, so that doing this
   * on every call shows as a race inside glibc under TSan; and outside
   * valgrind nothing reports the reference a live worker keeps. */
#if defined(__GLIBC__) && defined(DYCO_VALGRIND)
  if (_res.options & RES_INIT) {
    res_nclose(&_res);
    _res.options = 0; /* a full initialisation next time, never two closes */
  }
#endif
}

static void *worker(void *unused) {
  (void)unused;
  pthread_mutex_lock(&pool_mu);
  for (;;) {
    while (queue_head == NULL) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += IDLE_SECONDS;
      idle_workers++;
      int r = pthread_cond_timedwait(&pool_cv, &pool_mu, &until);
      idle_workers--;
      if (r == ETIMEDOUT && queue_head == NULL) {
        workers--;
        pthread_mutex_unlock(&pool_mu);
        return NULL;
      }
    }
    job *j = queue_head;
    queue_head = j->next;
    if (queue_head == NULL) {
      queue_tail = NULL;
    }
    pthread_mutex_unlock(&pool_mu);

    intptr_t ret = j->fn(j->arg);
    int err = errno;
    release_resolver();
    dyco_spinlock_lock(&j->lock);
    if (j->abandoned) {
      dyco_spinlock_unlock(&j->lock);
      if (j->release != NULL) {
        j->release(j->arg, ret);
      }
      free(j);
    } else {
      j->ret = ret;
      j->err = err;
      j->done = 1;
      dyco_waitq_wakeOne(&j->q, 1);
      /* The caller frees j once it has the lock: this is the last touch. */
      dyco_spinlock_unlock(&j->lock);
    }

    pthread_mutex_lock(&pool_mu);
  }
}

/* Queues j for a worker, starting one if none is idle. -1 when there is no
 * worker at all (none could be started). */
static int submit(job *j) {
  pthread_mutex_lock(&pool_mu);
  if (idle_workers == 0 && workers < max_workers) {
    /* Workers block every signal: a signal meant for the process (say one
     * a coroutine waits for with dyco_signal_wait) must not land there. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, worker, NULL) == 0) {
      workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (workers == 0) {
    pthread_mutex_unlock(&pool_mu);
    return -1;
  }
  j->next = NULL;
  if (queue_tail != NULL) {
    queue_tail->next = j;
  } else {
    queue_head = j;
  }
  queue_tail = j;
  pthread_cond_signal(&pool_cv);
  pthread_mutex_unlock(&pool_mu);
  return 0;
}

static void on_fork_child(void) {
  /* The workers did not come along: start afresh. */
  pthread_mutex_init(&pool_mu, NULL);
  pthread_cond_init(&pool_cv, NULL);
  queue_head = queue_tail = NULL;
  workers = idle_workers = 0;
}

static void on_fork_prepare(void) { pthread_mutex_lock(&pool_mu); }

static void on_fork_parent(void) { pthread_mutex_unlock(&pool_mu); }

__attribute__((constructor)) static void pool_init(void) {
  pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child);
}

/* 1 when p points into the shared stack the running coroutine uses. */
static int on_shared_stack(const void *p) {
  void *base = NULL;
  size_t size = 0;
  if (dyco_coroutine_getStack(dyco_schedule_coroID(), &base, &size) != 0 ||
      base == NULL) {
    return 0;
  }
  return (const char *)p >= (const char *)base &&
         (const char *)p < (const char *)base + size;
}

/* dyco_blocking_call, with what the worker does with arg when the caller
 * was cancelled and went on: release(arg, fn's result), if not NULL. */
static intptr_t blocking_run(dyco_blocking_fn fn, void *arg,
                             void (*release)(void *, intptr_t)) {
  if (fn == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (!dyco__net_in_coroutine() || on_shared_stack(arg)) {
    return fn(arg);
  }
  job *j = (job *)calloc(1, sizeof *j);
  if (j == NULL) {
    return fn(arg);
  }
  j->fn = fn;
  j->arg = arg;
  j->release = release;
  dyco_waitq_init(&j->q, &j->lock);
  dyco_spinlock_lock(&j->lock);
  if (submit(j) != 0) {
    dyco_spinlock_unlock(&j->lock);
    free(j);
    return fn(arg);
  }
  while (!j->done) {
    /* Held again on return; released while the coroutine waits. */
    int w = dyco_waitq_wait(&j->q, -1, NULL);
    if ((w == -ECANCELED || w == -ETIMEDOUT) && !j->done) {
      /* fn cannot be stopped: it runs on, and its worker cleans up. */
      j->abandoned = 1;
      dyco_spinlock_unlock(&j->lock);
      errno = -w;
      return -1;
    }
  }
  intptr_t ret = j->ret;
  int err = j->err;
  dyco_spinlock_unlock(&j->lock);
  free(j);
  errno = err;
  return ret;
}

intptr_t dyco_blocking_call(dyco_blocking_fn fn, void *arg) {
  return blocking_run(fn, arg, NULL);
}

int dyco_blocking_setWorkers(int max) {
  if (max < 1) {
    return -EINVAL;
  }
  pthread_mutex_lock(&pool_mu);
  int old = max_workers;
  max_workers = max;
  pthread_mutex_unlock(&pool_mu);
  return old;
}

/* --- getaddrinfo -----------------------------------------------------------
 */

dyco__net_getaddrinfo_fn dyco__net_real_getaddrinfo = getaddrinfo;

typedef struct gai_job {
  char *node;
  char *service;
  struct addrinfo hints;
  int has_hints;
  struct addrinfo *res;
} gai_job;

static intptr_t gai_run(void *p) {
  gai_job *g = (gai_job *)p;
  return dyco__net_real_getaddrinfo(g->node, g->service,
                                    g->has_hints ? &g->hints : NULL, &g->res);
}

static void gai_free(gai_job *g) {
  free(g->node);
  free(g->service);
  free(g);
}

/* A lookup whose caller was cancelled: nobody takes its result. */
static void gai_release(void *p, intptr_t ret) {
  gai_job *g = (gai_job *)p;
  if (ret == 0 && g->res != NULL) {
    freeaddrinfo(g->res);
  }
  gai_free(g);
}

int dyco_getaddrinfo(const char *node, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res) {
  if (!dyco__net_in_coroutine()) {
    return dyco__net_real_getaddrinfo(node, service, hints, res);
  }
  /* Copies of everything: the caller's strings and hints may be on its
   * stack, which is not there while it waits. */
  gai_job *g = (gai_job *)calloc(1, sizeof *g);
  if (g == NULL) {
    return EAI_MEMORY;
  }
  int r = EAI_MEMORY;
  if ((node == NULL || (g->node = strdup(node)) != NULL) &&
      (service == NULL || (g->service = strdup(service)) != NULL)) {
    if (hints != NULL) {
      g->hints.ai_flags = hints->ai_flags;
      g->hints.ai_family = hints->ai_family;
      g->hints.ai_socktype = hints->ai_socktype;
      g->hints.ai_protocol = hints->ai_protocol;
      g->has_hints = 1;
    }
    intptr_t v = blocking_run(gai_run, g, gai_release);
    if (v == -1 && (errno == ECANCELED || errno == ETIMEDOUT)) {
      return EAI_SYSTEM; /* cancelled: g is the worker's now */
    }
    r = (int)v;
    *res = g->res;
  }
  int saved = errno;
  gai_free(g);
  errno = saved;
  return r;
}

/* --- gethostbyname ---------------------------------------------------------
 */

/* A result: the hostent and the buffer its pointers point into. */
typedef struct host_result {
  struct hostent he;
  char buf[];
} host_result;

static int host_key = -1;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void make_host_key(void) { dyco_coroutine_keyCreate(&host_key, free); }

typedef struct ghbn_job {
  char *name;
  host_result *out;
  int herr;
} ghbn_job;

static intptr_t ghbn_run(void *p) {
  ghbn_job *g = (ghbn_job *)p;
  for (size_t len = 1024; len <= (1u << 20); len *= 4) {
    host_result *hr = (host_result *)malloc(sizeof *hr + len);
    if (hr == NULL) {
      g->herr = NO_RECOVERY;
      return -1;
    }
    struct hostent *found = NULL;
    int herr = 0;
    int r = gethostbyname_r(g->name, &hr->he, hr->buf, len, &found, &herr);
    if (r == ERANGE) {
      free(hr);
      continue;
    }
    if (found == NULL) {
      free(hr);
      g->herr = herr;
      return -1;
    }
    g->out = hr;
    return 0;
  }
  g->herr = NO_RECOVERY;
  return -1;
}

static void ghbn_release(void *p, intptr_t ret) {
  (void)ret;
  ghbn_job *g = (ghbn_job *)p;
  free(g->out);
  free(g->name);
  free(g);
}

struct hostent *dyco_gethostbyname(const char *name) {
  if (!dyco__net_in_coroutine()) {
    return gethostbyname(name);
  }
  pthread_once(&host_once, make_host_key);
  /* On the heap, with a copy of the name: the caller's stack may be the
   * shared one, not there while it waits. */
  ghbn_job *g = (ghbn_job *)calloc(1, sizeof *g);
  if (g == NULL || name == NULL || (g->name = strdup(name)) == NULL) {
    free(g);
    h_errno = NO_RECOVERY;
    return NULL;
  }
  if (blocking_run(ghbn_run, g, ghbn_release) == -1 &&
      (errno == ECANCELED || errno == ETIMEDOUT)) {
    h_errno = TRY_AGAIN; /* cancelled: g is the worker's now */
    return NULL;
  }
  host_result *out = g->out;
  int herr = g->herr;
  free(g->name);
  free(g);
  if (out == NULL) {
    h_errno = herr;
    return NULL;
  }
  /* Kept until this coroutine's next lookup, or its end. */
  void *old = dyco_coroutine_getLocal(host_key);
  if (dyco_coroutine_setLocal(host_key, out) != 0) {
    free(out);
    h_errno = NO_RECOVERY;
    return NULL;
  }
  free(old);
  return &out->he;
}
