/* dyco — sched layer: the stall watchdog. A timer on the scheduler thread's
 * CPU clock samples which coroutine runs; one that runs past the threshold
 * without yielding is reported once, with a backtrace of where it is now. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/sys.h"
#include "sched/internal/sched.h"

/* Frames the handler takes above the coroutine's: itself, the kernel's
 * signal trampoline. */
#define SKIP 2

/* A sample where the unwinder loses the chain before co_main (the signal
 * landed in code without unwind tables: a PLT stub on aarch64, some
 * hand-written assembly) names no function and shows a frame or two: it is
 * taken again at the next ticks, this many times, before the stall is
 * reported with what was found. */
#define LOST_RETRIES 4

struct dyco__watchdog {
  timer_t timer;
  uint64_t threshold_ns;
  dyco_stall_fn report;
  void *arg;
  sigset_t sleep_mask; /* the thread's mask plus the watchdog's signal */
  /* The slice the handler saw last: this coroutine, since this many
   * switches to it, first seen then (the thread's CPU time, ns). */
  const dyco_coroutine *co;
  uint32_t count;
  uint64_t since;
  int reported;
  int lost; /* samples of this slice whose unwinding lost co_main */
};

/* What the handler hands the reporting thread: one write, below PIPE_BUF,
 * so that it arrives whole. */
typedef struct record {
  dyco_stall stall;    /* func: filled in by the reporting thread */
  const void *in_func; /* an address inside the coroutine's function */
  dyco_stall_fn report;
  void *arg;
} record;

_Static_assert(sizeof(record) <= 4096, "a record is written at once");

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int pipe_wr = -1;
static int setup_err;

static void default_report(const dyco_stall *st) {
  Dl_info info;
  const char *name = "?";
  if (st->func != NULL && dladdr(st->func, &info) != 0 &&
      info.dli_sname != NULL) {
    name = info.dli_sname;
  }
  fprintf(stderr,
          "dyco: watchdog: coroutine %d of scheduler %d has run %llu ms "
          "without yielding, in %s (%p); where it is now:\n",
          st->cid, st->sched_id, (unsigned long long)st->ran_ms, name,
          st->func);
  fflush(stderr);
  backtrace_symbols_fd(st->frames, st->nframes, 2);
}

/* The reporting thread: every report runs here, out of the signal
 * handler, while the coroutine it names still runs. */
static void *reporter(void *fdp) {
  int fd = (int)(intptr_t)fdp;
  record r;
  for (;;) {
    long n = dyco__sys_read(fd, &r, sizeof r);
    if (n != (long)sizeof r) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return NULL;
    }
    /* dladdr here, not in the handler: it takes the loader's lock. */
    r.stall.func = r.in_func != NULL ? dyco__function_of(r.in_func) : NULL;
    if (r.report != NULL) {
      r.report(&r.stall, r.arg);
    } else {
      default_report(&r.stall);
    }
  }
}

static void handler(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)si;
  (void)uc;
  int saved = errno;
  dyco_schedule *s = dyco__tls_sched;
  dyco__watchdog *w =
      s != NULL ? __atomic_load_n(&s->wd, __ATOMIC_RELAXED) : NULL;
  if (w == NULL) {
    errno = saved;
    return;
  }
  const dyco_coroutine *co = s->running;
  /* Slices are measured on the thread's CPU clock, as the ticks come:
   * time the system gave the CPU to other threads is no coroutine's
   * doing, and on a loaded machine would make a coroutine that yields
   * every few ms look stalled. */
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  const uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  if (co == NULL) {
    w->co = NULL; /* the loop runs: no slice */
  } else if (co != w->co || co->sched_count != w->count) {
    w->co = co; /* a new slice */
    w->count = co->sched_count;
    w->since = now;
    w->reported = 0;
    w->lost = 0;
  } else if (!w->reported && now - w->since >= w->threshold_ns) {
    record r;
    memset(&r, 0, sizeof r);
    void *frames[DYCO_STALL_FRAMES + SKIP + 1];
    int n = backtrace(frames, DYCO_STALL_FRAMES + SKIP + 1);
    int depth = dyco__frames_user(frames, n, &r.in_func);
    if (r.in_func == NULL && n == (int)(sizeof frames / sizeof *frames)) {
      /* co_main lies deeper than the frames kept (deep library code:
       * OpenSSL's key decoding runs 30 frames deep): look further. */
      r.in_func = dyco__unwind_in_func();
    }
    if (r.in_func == NULL && w->lost < LOST_RETRIES) {
      w->lost++;
      errno = saved;
      return;
    }
    w->reported = 1;
    r.stall.nframes = depth > SKIP ? depth - SKIP : 0;
    if (r.stall.nframes > DYCO_STALL_FRAMES) {
      r.stall.nframes = DYCO_STALL_FRAMES;
    }
    memcpy(r.stall.frames, frames + SKIP,
           (size_t)r.stall.nframes * sizeof(void *));
    r.stall.sched_id = s->id;
    r.stall.cid = co->cid;
    r.stall.ran_ms = (now - w->since) / 1000000u;
    r.report = w->report;
    r.arg = w->arg;
    long wr = dyco__sys_write(pipe_wr, &r, sizeof r);
    (void)wr;
  }
  errno = saved;
}

static void setup(void) {
  int fds[2];
  if (dyco__sys_pipe2(fds, O_CLOEXEC) != 0) {
    setup_err = -errno;
    return;
  }
  /* backtrace loads libgcc's unwinder on its first call, which allocates:
   * never in the handler. */
  void *warm[4];
  backtrace(warm, 4);
  (void)dyco__unwind_in_func();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(DYCO_WATCHDOG_SIGNAL, &sa, NULL) != 0) {
    setup_err = -errno;
    return;
  }
  /* The reporter takes no signal: they are the scheduler threads'. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int e = pthread_create(&t, &attr, reporter, (void *)(intptr_t)fds[0]);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0) {
    setup_err = -e;
    return;
  }
  pipe_wr = fds[1];
}

void dyco__watchdog_stop(dyco_schedule *s) {
  dyco__watchdog *w = s->wd;
  if (w == NULL) {
    return;
  }
  timer_delete(w->timer);
  /* A signal still pending finds no watchdog (the handler runs on this
   * thread, before or after this store). */
  __atomic_store_n(&s->wd, NULL, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  free(w);
}

const sigset_t *dyco__watchdog_sleep_mask(dyco_schedule *s,
                                          const sigset_t *mask) {
  /* While the loop sleeps the signal waits: it would only end the sleep
   * early (EINTR) to find no coroutine running. */
  dyco__watchdog *w = s->wd;
  if (mask == NULL) {
    return &w->sleep_mask;
  }
  static __thread sigset_t both;
  both = *mask;
  sigaddset(&both, DYCO_WATCHDOG_SIGNAL);
  return &both;
}

void dyco__watchdog_mask_changed(dyco_schedule *s) {
  dyco__watchdog *w = s->wd;
  pthread_sigmask(SIG_BLOCK, NULL, &w->sleep_mask);
  sigaddset(&w->sleep_mask, DYCO_WATCHDOG_SIGNAL);
}

int dyco_schedule_setWatchdog(uint32_t threshold_ms, dyco_stall_fn report,
                              void *arg) {
  int err;
  dyco_schedule *s = dyco__sched_get(&err);
  if (s == NULL) {
    return err;
  }
  dyco__watchdog_stop(s);
  if (threshold_ms == 0) {
    return 0;
  }
  pthread_once(&once, setup);
  if (setup_err != 0) {
    return setup_err;
  }
  dyco__watchdog *w = (dyco__watchdog *)calloc(1, sizeof *w);
  if (w == NULL) {
    return -ENOMEM;
  }
  w->threshold_ns = (uint64_t)threshold_ms * 1000000u;
  w->report = report;
  w->arg = arg;
  pthread_sigmask(SIG_BLOCK, NULL, &w->sleep_mask);
  sigaddset(&w->sleep_mask, DYCO_WATCHDOG_SIGNAL);
  /* On this thread's CPU clock: it stands still while the thread sleeps,
   * so an idle scheduler is never woken. Every quarter threshold: a stall
   * is seen between one and one and a quarter thresholds in. */
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = DYCO_WATCHDOG_SIGNAL;
  ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &w->timer) != 0) {
    err = -errno;
    free(w);
    return err;
  }
  uint64_t period = w->threshold_ns / 4;
  if (period < 1000000u) {
    period = 1000000u;
  }
  struct itimerspec it;
  it.it_interval.tv_sec = (time_t)(period / 1000000000u);
  it.it_interval.tv_nsec = (long)(period % 1000000000u);
  it.it_value = it.it_interval;
  __atomic_store_n(&s->wd, w, __ATOMIC_RELAXED);
  if (timer_settime(w->timer, 0, &it, NULL) != 0) {
    err = -errno;
    dyco__watchdog_stop(s);
    return err;
  }
  return 0;
}

int dyco_coroutine_yieldIfLong(uint32_t ms) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  dyco_coroutine *co = s->running;
  dyco__ext *e = dyco__ext_get(s, co, 1);
  if (e == NULL) {
    return -ENOMEM;
  }
  const uint64_t now = dyco__now_ns();
  if (e->slice_start == 0 || e->slice_count != co->sched_count) {
    /* The first call since the coroutine last got the CPU: the slice is
     * measured from here. */
    e->slice_count = co->sched_count;
    e->slice_start = now;
    return 0;
  }
  if (now - e->slice_start < (uint64_t)ms * 1000000u) {
    return 0;
  }
  dyco_coroutine_yield();
  return 1;
}
