/* dyco — netio layer: the fd table (what netio knows of each fd: socket or
 * not, who asked for O_NONBLOCK, SO_RCVTIMEO/SO_SNDTIMEO) and fork safety. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/fdtab.h"
#include "base/sys.h"
#include "netio/internal/io.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"

/* Every fd's entry (base/fdtab.h): it never moves. */
static dyco__fdtab table;

int dyco__net_forked;

static void on_fork_child(void) {
  /* The scheduler this thread had lives on in the child as a copy whose
   * epoll instance is shared with the parent: leave it alone. */
  if (dyco_schedule_self() != NULL) {
    dyco__net_forked = 1;
  }
}

__attribute__((constructor)) static void fd_init(void) {
  pthread_atfork(NULL, NULL, on_fork_child);
}

int dyco__net_in_coroutine(void) {
  return dyco_schedule_coroID() > 0 && !dyco__net_forked;
}

static dyco__net_fd *slot(int fd) {
  return (dyco__net_fd *)dyco__fdtab_get(&table, fd, 1, sizeof(dyco__net_fd));
}

static int32_t timeval_ms(const struct timeval *tv) {
  if (tv->tv_sec <= 0 && tv->tv_usec <= 0) {
    return -1; /* 0 means no timeout */
  }
  int64_t ms = (int64_t)tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000;
  return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

static void learn(int fd, dyco__net_fd *e) {
  struct stat st;
  if (dyco__file_raw_fstat(fd, &st) != 0) {
    return; /* not an fd: nothing to remember */
  }
  int fl = dyco__sys_fcntl(fd, F_GETFL, 0);
  if (fl < 0) {
    return;
  }
  uint32_t f = DYCO__FD_KNOWN;
  int32_t rcv = -1, snd = -1;
  if (fl & O_NONBLOCK) {
    f |= DYCO__FD_USER_NB;
  }
  if (S_ISSOCK(st.st_mode)) {
    f |= DYCO__FD_SOCKET;
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
        (type == SOCK_STREAM || type == SOCK_SEQPACKET)) {
      f |= DYCO__FD_STREAM;
    }
    struct timeval tv;
    len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0) {
      rcv = timeval_ms(&tv);
    }
    len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0) {
      snd = timeval_ms(&tv);
    }
  } else if (S_ISFIFO(st.st_mode)) {
    f |= DYCO__FD_FIFO;
  } else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
    f |= DYCO__FD_FILE;
  }
  __atomic_store_n(&e->rcv_ms, rcv, __ATOMIC_RELAXED);
  __atomic_store_n(&e->snd_ms, snd, __ATOMIC_RELAXED);
  __atomic_store_n(&e->drained_cid, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&e->flags, f, __ATOMIC_RELEASE);
}

dyco__net_fd *dyco__net_fd_entry(int fd, int learn_it) {
  dyco__net_fd *e = slot(fd);
  if (e != NULL && learn_it &&
      !(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & DYCO__FD_KNOWN)) {
    learn(fd, e);
  }
  return e;
}

void dyco__net_fd_created(int fd, uint32_t flags) {
  if (!dyco__net_forked) {
    /* A waiter or a registration left from an older fd with this number
     * (closed behind netio's back) must not stick to the new one. */
    dyco_fd_closing(fd);
  }
  dyco__net_fd *e = slot(fd);
  if (e == NULL) {
    return;
  }
  __atomic_store_n(&e->rcv_ms, -1, __ATOMIC_RELAXED);
  __atomic_store_n(&e->snd_ms, -1, __ATOMIC_RELAXED);
  __atomic_store_n(&e->drained_cid, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&e->flags, flags | DYCO__FD_KNOWN, __ATOMIC_RELEASE);
}

void dyco__net_fd_closing(int fd) {
  if (!dyco__net_forked) {
    dyco_fd_closing(fd);
  }
  dyco__net_fd *e = slot(fd);
  if (e != NULL) {
    __atomic_store_n(&e->drained_cid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->flags, 0, __ATOMIC_RELEASE);
  }
}

void dyco__net_fd_fresh(int fd) {
  /* Like a close of the older fd with that number, which happened behind
   * netio's back: its waiters wake with EBADF, registrations go. */
  dyco__net_fd_closing(fd);
}

/* --- Closing many ----------------------------------------------------------
 */

/* The highest fd number + 1 the process may have open. */
static unsigned fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur > (1u << 30)) {
    return 1u << 20;
  }
  return (unsigned)rl.rlim_cur;
}

static void closing_range(unsigned first, unsigned last) {
  unsigned lim = fd_limit();
  if (last >= lim) {
    last = lim - 1;
  }
  for (unsigned fd = first; fd <= last && fd < lim; fd++) {
    dyco__net_fd_closing((int)fd);
  }
}

int dyco__net_close_range(unsigned first, unsigned last, int flags) {
  if (first > last) {
    errno = EINVAL; /* the kernel's answer, before anything is closed */
    return -1;
  }
#if defined(CLOSE_RANGE_CLOEXEC)
  const int closes = !(flags & CLOSE_RANGE_CLOEXEC);
#else
  const int closes = 1;
#endif
  if (closes) {
    closing_range(first, last);
  }
  return dyco__sys_close_range(first, last, (unsigned)flags);
}

int dyco__net_closefrom(int lowfd) {
  if (lowfd < 0) {
    lowfd = 0; /* as glibc */
  }
  closing_range((unsigned)lowfd, ~0u);
  if (dyco__sys_close_range((unsigned)lowfd, ~0u, 0) == 0) {
    return 0;
  }
  /* No close_range (Linux before 5.9, an emulator): one by one, as glibc
   * falls back to doing. */
  unsigned lim = fd_limit();
  for (unsigned fd = (unsigned)lowfd; fd < lim; fd++) {
    dyco__sys_close((int)fd);
  }
  return 0;
}

/* --- Signals ------------------------------------------------------------- */

int dyco__net_restart_after_signal(void) {
  /* The caller still has EINTR to report: sigaction fails (EINVAL) on the
   * signals the C library or a tool keeps for itself. */
  const int saved = errno;
  int restart = 1;
  sigset_t blocked;
  if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0) {
    sigemptyset(&blocked);
  }
  for (int sig = 1; sig < NSIG; sig++) {
    /* Signals raised by the code itself (a fault) never interrupt a wait;
     * blocked ones cannot have run here. */
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
        sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGSYS ||
        sigismember(&blocked, sig) == 1) {
      continue;
    }
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) {
      continue;
    }
    /* Default or ignored whatever SA_SIGINFO says: sa_handler and
     * sa_sigaction share their storage, and a disposition set to SIG_IGN
     * with SA_SIGINFO (valgrind sets its own signal so) runs no handler. */
    if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN) {
      continue;
    }
    if (!(sa.sa_flags & SA_RESTART)) {
      restart = 0;
      break;
    }
  }
  errno = saved;
  return restart;
}
