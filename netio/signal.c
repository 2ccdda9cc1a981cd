/* dyco — netio layer: signals through a signalfd per coroutine, children
 * through a pidfd per wait. */
#include "netio/signal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/sys.h"
#include "netio/internal/io.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"

/* --- Signals ------------------------------------------------------------- */

typedef struct sigstate {
  int fd;
  sigset_t mask;
} sigstate;

/* Per thread (a signal mask is per thread): how many coroutines want each
 * signal blocked, and whether dyco blocked it (it was not blocked before). */
static __thread int want_blocked[_NSIG];
static __thread unsigned char dyco_blocked[_NSIG];

static int sig_key = -1;
static pthread_once_t sig_once = PTHREAD_ONCE_INIT;

static void release(sigstate *st) {
  dyco__net_close(st->fd);
  sigset_t unblock;
  sigemptyset(&unblock);
  int any = 0;
  for (int s = 1; s < _NSIG; s++) {
    if (sigismember(&st->mask, s) == 1 && --want_blocked[s] == 0 &&
        dyco_blocked[s]) {
      dyco_blocked[s] = 0;
      sigaddset(&unblock, s);
      any = 1;
    }
  }
  if (any) {
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
  }
  free(st);
}

static void release_value(void *v) { release((sigstate *)v); }

static void make_key(void) {
  dyco_coroutine_keyCreate(&sig_key, release_value);
}

static sigstate *state(void) {
  pthread_once(&sig_once, make_key);
  return sig_key < 0 ? NULL : (sigstate *)dyco_coroutine_getLocal(sig_key);
}

int dyco_signal_init(sigset_t *mask) {
  if (!dyco__net_in_coroutine()) {
    return -EPERM;
  }
  if (mask == NULL) {
    return -EINVAL;
  }
  if (state() != NULL) {
    return -EEXIST;
  }
  if (sig_key < 0) {
    return -EAGAIN;
  }
  sigstate *st = (sigstate *)malloc(sizeof *st);
  if (st == NULL) {
    return -ENOMEM;
  }
  st->mask = *mask;
  sigset_t old;
  int r = dyco_schedcall_sigprocmask(SIG_BLOCK, mask, &old);
  if (r != 0) {
    free(st);
    return r;
  }
  for (int s = 1; s < _NSIG; s++) {
    if (sigismember(mask, s) == 1 && want_blocked[s]++ == 0 &&
        sigismember(&old, s) == 0) {
      dyco_blocked[s] = 1;
    }
  }
  st->fd = dyco__sys_signalfd4(mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (st->fd < 0) {
    r = -errno;
    st->fd = -1;
  } else {
    dyco__net_fd_created(st->fd, DYCO__FD_USER_NB);
    r = dyco_coroutine_setLocal(sig_key, st);
  }
  if (r != 0) {
    release(st);
  }
  return r;
}

void dyco_signal_destroy(void) {
  if (!dyco__net_in_coroutine()) {
    return;
  }
  sigstate *st = state();
  if (st == NULL) {
    return;
  }
  dyco_coroutine_setLocal(sig_key, NULL);
  release(st);
}

/* ms left until deadline; -1 without one (timeout < 0). */
static int left_ms(int timeout, uint64_t deadline) {
  if (timeout < 0) {
    return -1;
  }
  uint64_t now = dyco__now_ms();
  return now >= deadline ? 0 : (int)(deadline - now);
}

int dyco_signal_wait(struct signalfd_siginfo *sinfo, int timeout) {
  if (!dyco__net_in_coroutine()) {
    return -EPERM;
  }
  sigstate *st = state();
  if (st == NULL || sinfo == NULL) {
    return -EINVAL;
  }
  const uint64_t deadline =
      timeout > 0 ? dyco__now_ms() + (uint64_t)timeout : 0;
  for (;;) {
    ssize_t r = dyco__sys_read(st->fd, sinfo, sizeof *sinfo);
    if (r == (ssize_t)sizeof *sinfo) {
      return (int)r;
    }
    if (r >= 0) {
      return -EIO;
    }
    if (errno == EINTR) {
      continue; /* a handler ran: the signal is still pending, read again */
    }
    if (errno != EAGAIN) {
      return -errno;
    }
    int ms = left_ms(timeout, deadline);
    if (ms == 0) {
      return -ETIMEDOUT;
    }
    /* Another coroutine may take the signal first: then look again. */
    int w = dyco_fd_wait(st->fd, EPOLLIN, ms);
    if (w < 0) {
      return w;
    }
  }
}

/* --- Children ------------------------------------------------------------ */

/* waitpid without waiting: the pid, 0 while it runs, or -errno. */
static int reap(pid_t child, int *status) {
  pid_t r = waitpid(child, status, WNOHANG);
  return r < 0 ? -errno : (int)r;
}

static void nap(int yield, int ms) {
  if (yield) {
    dyco_coroutine_sleep((uint32_t)ms);
  } else {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    dyco__sys_nanosleep(&ts, NULL);
  }
}

int dyco_signal_waitchild(const pid_t child, int *status, int timeout) {
  int r = reap(child, status);
  if (r != 0) {
    return r;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  const int yield = dyco__net_in_coroutine();
  const uint64_t deadline =
      timeout > 0 ? dyco__now_ms() + (uint64_t)timeout : 0;
  int pidfd = -1;
  if (child > 0) {
    pidfd = dyco__sys_pidfd_open(child, 0);
  }
  int backoff = 1;
  for (;;) {
    int ms = left_ms(timeout, deadline);
    if (ms == 0) {
      r = reap(child, status);
      break;
    }
    if (pidfd >= 0) {
      /* Readable once the child has ended. */
      if (yield) {
        int w = dyco_fd_wait(pidfd, EPOLLIN, ms);
        if (w == -ETIMEDOUT) {
          w = dyco__net_deadline(); /* 0: this call's own timeout */
        }
        if (w < 0) {
          r = w;
          break;
        }
      } else {
        struct pollfd p = {pidfd, POLLIN, 0};
        if (dyco__sys_poll(&p, 1, ms) < 0 && errno != EINTR) {
          r = -errno;
          break;
        }
      }
    } else {
      /* No pidfd (pid <= 0, or a kernel or emulator without pidfd_open):
       * look now and then. */
      nap(yield, ms >= 0 && ms < backoff ? ms : backoff);
      backoff = backoff < 32 ? backoff * 2 : 50;
      int c = yield ? dyco__net_deadline() : 0;
      if (c < 0) {
        r = c; /* cancelled, or past the coroutine's deadline */
        break;
      }
    }
    r = reap(child, status);
    if (r != 0) {
      break;
    }
  }
  if (pidfd >= 0) {
    dyco__net_close(pidfd);
  }
  /* Still running when the time was up: a timeout, as dyco_signal_wait's. */
  return r == 0 ? -ETIMEDOUT : r;
}
