/* dyco — base layer: the per-thread record of runners, and the one report
 * of a stack overflow, for every kind of stack. */
#include "base/thread.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/hints.h"
#include "base/sys.h"

__thread dyco__thread dyco__thr;

#if defined(__x86_64__)
/* base/hints.h: the DYCO__RETURN_BY_JUMP stubs' word. */
__thread dyco__return_tls dyco__return_state;
#endif

dyco__runner *dyco__thread_set_driver(dyco__runner *r) {
  dyco__runner *prev = dyco__thr.driver;
  dyco__thr.driver = r;
  return prev;
}

dyco__runner *dyco__thread_set_nested(dyco__runner *r) {
  dyco__runner *prev = dyco__thr.nested;
  dyco__thr.nested = r;
  return prev;
}

int dyco__thread_running(void) {
  dyco__thread *t = &dyco__thr;
  if (t->nested != NULL) {
    int id = t->nested->running(t->nested);
    if (id > 0) {
      return id;
    }
  }
  if (t->driver != NULL) {
    int id = t->driver->running(t->driver);
    if (id > 0) {
      return id;
    }
  }
  return 0;
}

/* --- Overflow reports ----------------------------------------------------- */

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

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

static void report(const dyco__overflow *o, const void *addr) {
  char msg[256];
  size_t n = 0;
  n += fmt_s(msg + n, "dyco: coroutine ");
  n += fmt_u(msg + n, (uintptr_t)(uint32_t)o->cid, 10);
  n += fmt_s(msg + n, " overflowed its ");
  n += fmt_u(msg + n, o->size, 10);
  n += fmt_s(msg + n, "-byte stack (");
  n += fmt_s(msg + n, o->what);
  if (o->what_id >= 0) {
    n += fmt_u(msg + n, (uintptr_t)o->what_id, 10);
  }
  n += fmt_s(msg + n, "): fault at 0x");
  n += fmt_u(msg + n, (uintptr_t)addr, 16);
  n += fmt_s(msg + n, " in its guard page\n");
  ssize_t w = dyco__sys_write(2, msg, n);
  (void)w;
}

static int ask(dyco__runner *r, const char *addr, dyco__overflow *o) {
  return r != NULL && r->overflow(r, addr, o);
}

static void segv_handler(int sig, siginfo_t *info, void *uctx) {
  dyco__thread *t = &dyco__thr;
  const char *addr = (const char *)info->si_addr;
  dyco__overflow o;
  memset(&o, 0, sizeof o);
  o.what_id = -1;
  if (ask(t->nested, addr, &o) || ask(t->driver, addr, &o)) {
    report(&o, addr);
    signal(SIGABRT, SIG_DFL);
    abort();
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

/* At thread exit: the alternate signal stack goes. */
static void thread_gone(void *arg) {
  dyco__thread *t = (dyco__thread *)arg;
  if (t != &dyco__thr || t->altstack == NULL) {
    return;
  }
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == t->altstack) {
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
  }
  munmap(t->altstack, t->altstack_size);
  t->altstack = NULL;
}

static void install_handler(void) {
  pthread_key_create(&exit_key, thread_gone);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &previous_segv);
}

void dyco__thread_overflow_ready(void) {
  pthread_once(&handler_once, install_handler);
  dyco__thread *t = &dyco__thr;
  if (t->altstack != NULL) {
    return;
  }
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
  t->altstack = m;
  t->altstack_size = size;
  pthread_setspecific(exit_key, t);
}
