/* dyco — sched layer: the poller. Each scheduler's epoll instance (every fd
 * added once, edge-triggered, until it is closed), its fd table, and the
 * waits of coroutines on one file descriptor or several. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "base/fdtab.h"
#include "base/hints.h"
#include "base/sys.h"
#include "sched/internal/sched.h"

#define EVFD_TAG UINT64_MAX

/* Every event poll(2) can report, so that what epoll reports of an fd is
 * exactly what poll would (the two share their bits on Linux). Edge
 * triggered: the registration never changes, and a wait costs no call. */
#define REG_EVENTS                                                           \
  (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | \
   EPOLLWRBAND | EPOLLRDHUP | EPOLLET)

_Static_assert(POLLIN == EPOLLIN && POLLPRI == EPOLLPRI &&
                   POLLOUT == EPOLLOUT && POLLERR == EPOLLERR &&
                   POLLHUP == EPOLLHUP && POLLRDNORM == EPOLLRDNORM &&
                   POLLRDBAND == EPOLLRDBAND && POLLWRNORM == EPOLLWRNORM &&
                   POLLWRBAND == EPOLLWRBAND && POLLRDHUP == EPOLLRDHUP,
               "poll and epoll share their event bits");

/* How long a wait lasts before its registration is verified: between one
 * and two intervals. */
#define SWEEP_NS 1000000000ull

/* --- The process-wide fd table: who registered each fd --------------------
 *
 * For each fd number: a generation, bumped each time dyco_fd_closing is
 * called for it, and the scheduler that registered it (0: none, -1:
 * several). A close on any thread reads it to tell the schedulers of other
 * threads. Pages of entries, made on first use, never freed. */

typedef struct fdreg {
  uint32_t gen;
  int32_t owner; /* scheduler id */
} fdreg;

static dyco__fdtab regs; /* base/fdtab.h */

static fdreg *fdreg_of(int fd, int create) {
  return (fdreg *)dyco__fdtab_get(&regs, fd, create, sizeof(fdreg));
}

/* Scheduler s registered fd: note it, and return the fd's generation. */
static uint32_t fdreg_note(dyco_schedule *s, int fd) {
  fdreg *r = fdreg_of(fd, 1);
  if (r == NULL) {
    return 0;
  }
  int32_t owner = __atomic_load_n(&r->owner, __ATOMIC_ACQUIRE);
  while (owner != s->id && owner != -1) {
    int32_t want = owner == 0 ? s->id : -1;
    if (__atomic_compare_exchange_n(&r->owner, &owner, want, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      break;
    }
  }
  return __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE);
}

/* --- The scheduler's epoll instance ----------------------------------------
 */

/* Closes one of the scheduler's own fds. Under ThreadSanitizer through
 * libc: TSan follows fds through close(), and a raw close would make a later
 * fd with the same number look racy. */
static void close_own(int fd) {
#if defined(DYCO_TSAN)
  close(fd);
#else
  dyco__sys_close(fd);
#endif
}

int dyco__poll_init(dyco_schedule *s) {
  s->epfd = dyco__sys_epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0) {
    return -errno;
  }
  s->evfd = dyco__sys_eventfd2(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->evfd < 0) {
    int err = -errno;
    close_own(s->epfd);
    s->epfd = -1;
    return err;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = EVFD_TAG;
  int err = 0;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) != 0) {
    err = -errno;
    close_own(s->evfd);
    close_own(s->epfd);
    s->evfd = s->epfd = -1;
    return err;
  }
  sigemptyset(&s->sleep_mask);
  err = dyco__poller_init(s);
  if (err != 0) {
    close_own(s->evfd);
    close_own(s->epfd);
    s->evfd = s->epfd = -1;
    return err;
  }
  return 0;
}

void dyco__poll_destroy(dyco_schedule *s) {
  /* The fds first, while the fd table still stands: under TSan the close
   * is libc's, which a close hook may see and look the fd up. The back
   * end before them: a ring watches epfd. */
  if (s->poller != NULL) {
    s->poller->destroy(s);
    s->poller = NULL;
  }
  if (s->evfd >= 0) {
    close_own(s->evfd);
  }
  if (s->epfd >= 0) {
    close_own(s->epfd);
  }
  s->evfd = s->epfd = -1;
  for (uint32_t i = 0; i < s->fd_dir_len; i++) {
    free(s->fd_dir[i]);
  }
  free(s->fd_dir);
  s->fd_dir = NULL;
  s->fd_dir_len = 0;
  free(s->reg);
  s->reg = NULL;
  s->nreg = s->reg_cap = 0;
}

_Static_assert(offsetof(dyco__fdslot, either) + sizeof(void *) <= 64,
               "an fd slot's hot fields fit in its first cache line");

static dyco__fdslot *fd_slot(dyco_schedule *s, int fd, int create) {
  uint32_t page = (uint32_t)fd / DYCO__FD_PAGE;
  if (page >= s->fd_dir_len) {
    if (!create) {
      return NULL;
    }
    uint32_t n = s->fd_dir_len != 0 ? s->fd_dir_len : 8;
    while (n <= page) {
      n *= 2;
    }
    dyco__fdslot **d = (dyco__fdslot **)realloc(s->fd_dir, n * sizeof *d);
    if (d == NULL) {
      return NULL;
    }
    memset(d + s->fd_dir_len, 0, (n - s->fd_dir_len) * sizeof *d);
    s->fd_dir = d;
    s->fd_dir_len = n;
  }
  if (s->fd_dir[page] == NULL) {
    if (!create) {
      return NULL;
    }
    /* Zeroed slots are empty queues without locks, not registered. */
    dyco__fdslot *p = (dyco__fdslot *)aligned_alloc(
        _Alignof(dyco__fdslot), DYCO__FD_PAGE * sizeof(dyco__fdslot));
    if (p == NULL) {
      return NULL;
    }
    memset(p, 0, DYCO__FD_PAGE * sizeof(dyco__fdslot));
    s->fd_dir[page] = p;
  }
  return &s->fd_dir[page][(uint32_t)fd % DYCO__FD_PAGE];
}

int dyco__poll_queue_fd(dyco_schedule *s, const dyco_waitq *q) {
  for (uint32_t p = 0; p < s->fd_dir_len; p++) {
    dyco__fdslot *page = s->fd_dir[p];
    if (page == NULL) {
      continue;
    }
    const char *lo = (const char *)page;
    const char *hi = lo + DYCO__FD_PAGE * sizeof(dyco__fdslot);
    if ((const char *)q >= lo && (const char *)q < hi) {
      return (int)(p * DYCO__FD_PAGE +
                   (uint32_t)(((const char *)q - lo) / sizeof(dyco__fdslot)));
    }
  }
  return -1;
}

/* The slot's registration is gone (the fd closed): forget it. */
static void unregister(dyco_schedule *s, dyco__fdslot *slot) {
  if (!slot->registered) {
    return;
  }
  uint32_t i = slot->reg_index;
  if (i < s->nreg) {
    int32_t moved = s->reg[--s->nreg];
    s->reg[i] = moved;
    dyco__fdslot *m = fd_slot(s, moved, 0);
    if (m != NULL) {
      m->reg_index = i;
    }
  }
  slot->registered = 0;
  slot->last = 0;
}

/* Adds fd to s's epoll instance. 0, or a negative errno: -EPERM for an fd
 * epoll cannot watch (a regular file, a directory). */
static int register_fd(dyco_schedule *s, int fd, dyco__fdslot *slot) {
  if (s->nreg == s->reg_cap) {
    uint32_t cap = s->reg_cap != 0 ? s->reg_cap * 2 : 64;
    int32_t *r = (int32_t *)realloc(s->reg, cap * sizeof *r);
    if (r == NULL) {
      return -ENOMEM;
    }
    s->reg = r;
    s->reg_cap = cap;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = REG_EVENTS;
  ev.data.u64 = (uint64_t)fd;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) {
    return -errno;
  }
  slot->registered = 1;
  slot->checked = 1; /* registered just now: the new file */
  slot->last = 0;
  slot->reg_index = s->nreg;
  s->reg[s->nreg++] = fd;
  slot->gen = fdreg_note(s, fd);
  return 0;
}

/* Wakes every waiter of slot with v. */
static void wake_slot(dyco__fdslot *slot, intptr_t v) {
  dyco_waitq_wakeAll(&slot->readers, v);
  dyco_waitq_wakeAll(&slot->writers, v);
  dyco_waitq_wakeAll(&slot->either, v);
}

static int slot_has_waiters(const dyco__fdslot *slot) {
  return slot->readers.head != NULL || slot->writers.head != NULL ||
         slot->either.head != NULL;
}

/* --- The poller ------------------------------------------------------------
 */

void dyco__poll(dyco_schedule *s, int64_t timeout_ns) {
  struct epoll_event ev[256];
  s->polls++;
  const sigset_t *mask = s->masked != NULL ? &s->sleep_mask : NULL;
  if (DYCO__UNLIKELY(s->wd != NULL) && timeout_ns != 0) {
    mask = dyco__watchdog_sleep_mask(s, mask);
  }
  /* The back end (sched/internal/poller.h): epoll_pwait, or io_uring. */
  int n = s->poller->wait(s, ev, 256, timeout_ns, mask);
  if (n < 0) {
    if (errno == EINTR) {
      /* A signal handler ran on this thread while it slept: the calls that
       * asked for it are interrupted, as a thread blocked in them would
       * have been. */
      s->intr_epoch++;
      dyco__wait_interrupt(s);
    }
    return;
  }
  for (int i = 0; i < n; i++) {
    if (ev[i].data.u64 == EVFD_TAG) {
      uint64_t v;
      while (dyco__sys_read(s->evfd, &v, sizeof v) > 0) {
      }
      continue;
    }
    dyco__fdslot *slot = fd_slot(s, (int)ev[i].data.u64, 0);
    if (slot == NULL) {
      continue;
    }
    uint32_t rev = ev[i].events;
    /* Each report holds the fd's whole state: it replaces the last one. */
    slot->last = (uint16_t)rev;
    if (rev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      dyco_waitq_wakeAll(&slot->readers, (intptr_t)rev);
    }
    if (rev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      dyco_waitq_wakeAll(&slot->writers, (intptr_t)rev);
    }
    dyco_waitq_wakeAll(&slot->either, (intptr_t)rev);
  }
}

void dyco__poll_masked_signals(dyco_schedule *s) {
  if (s->masked == NULL) {
    return;
  }
  /* A signal the waiters' masks unblock, pending now, would be delivered
   * when the poller next sleeps; with coroutines ready it does not sleep,
   * so let it in here (rt_sigsuspend returns at once, after its handler). */
  sigset_t pending;
  if (dyco__sys_sigpending(&pending) != 0) {
    return;
  }
  for (int sig = 1; sig < 65; sig++) {
    if (sigismember(&pending, sig) == 1 &&
        sigismember(&s->sleep_mask, sig) == 0) {
      dyco__sys_sigsuspend(&s->sleep_mask);
      s->intr_epoch++;
      dyco__wait_interrupt(s);
      return;
    }
  }
}

/* --- Waiting on one fd -----------------------------------------------------
 */

DYCO__RETURN_BY_JUMP(int, dyco_fd_wait,
                     (int fd, uint32_t events, int timeout)) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (fd < 0) {
    return -EBADF;
  }
  const int intr = (events & DYCO_FD_EINTR) != 0;
  events &= EPOLLIN | EPOLLOUT;
  if (events == 0) {
    return -EINVAL;
  }
  if (timeout == 0) {
    return -ETIMEDOUT;
  }
  dyco__fdslot *slot = fd_slot(s, fd, 1);
  if (slot == NULL) {
    return -ENOMEM;
  }
  if (!slot->registered) {
    int err = register_fd(s, fd, slot);
    if (err != 0) {
      /* Regular files and directories cannot be polled: always ready. */
      return err == -EPERM ? (int)events : err;
    }
  } else if (events == EPOLLIN && (slot->last & EPOLLRDHUP)) {
    /* Shut down for reading (level state, reported as an edge long ago):
     * a read answers at once now; one that still says EAGAIN (a datagram
     * socket) is told by this. */
    return slot->last;
  }
  dyco_waitq *q;
  int kind;
  if (events == EPOLLIN) {
    q = &slot->readers;
    kind = DYCO_WAIT_READ;
  } else if (events == EPOLLOUT) {
    q = &slot->writers;
    kind = DYCO_WAIT_WRITE;
  } else {
    q = &slot->either;
    kind = DYCO_WAIT_RW;
  }
  slot->checked = 0;
  slot->wait_round = s->sweep_round;
  dyco_coroutine *co = s->running;
  if (intr) {
    co->flags |= DYCO__F_EINTR;
    co->intr_mark = s->intr_epoch;
  }
  /* The fd's generation: a close through dyco during the wait bumps it. A
   * close that comes after a wake-up (the fd became ready, then another
   * coroutine closed it before this one ran again) must end the wait with
   * EBADF too: by then the number may name a new fd. */
  const fdreg *reg = fdreg_of(fd, 0);
  const uint32_t gen =
      reg != NULL ? __atomic_load_n(&reg->gen, __ATOMIC_ACQUIRE) : 0;
  s->fd_waiters++;
  intptr_t v = 0;
  int r = dyco__wait_on(s, q, kind, timeout, &v);
  s->fd_waiters--;
  co->flags &= (uint16_t)~DYCO__F_EINTR;
  if (DYCO__UNLIKELY(reg != NULL &&
                     __atomic_load_n(&reg->gen, __ATOMIC_ACQUIRE) != gen)) {
    return -EBADF;
  }
  return r == 0 ? (int)v : r;
}

/* --- Waiting on several fds ------------------------------------------------
 */

/* The queue of slot for a poll entry asking for `events`. */
static dyco_waitq *queue_for(dyco__fdslot *slot, short events) {
  const short in = POLLIN | POLLRDNORM | POLLRDBAND | POLLRDHUP;
  const short out = POLLOUT | POLLWRNORM | POLLWRBAND;
  if ((events & (in | out | POLLPRI)) == (events & in) && (events & in)) {
    return &slot->readers; /* woken by IN, RDHUP, HUP, ERR */
  }
  if ((events & (in | out | POLLPRI)) == (events & out) && (events & out)) {
    return &slot->writers; /* woken by OUT, HUP, ERR */
  }
  return &slot->either; /* woken by anything */
}

/* The coroutines waiting with a mask, s->masked (base/list.h): maskq_push
 * and maskq_unlink. */
DYCO__HLIST(maskq, dyco_schedule, dyco__maskwait, masked, next, prev)

static void mask_recompute(dyco_schedule *s) {
  if (s->masked == NULL) {
    return;
  }
  /* Blocked while the poller sleeps: what every waiter blocks. */
  s->sleep_mask = s->masked->mask;
  for (const dyco__maskwait *m = s->masked->next; m != NULL; m = m->next) {
    sigandset(&s->sleep_mask, &s->sleep_mask, &m->mask);
  }
}

/* Queues node x for fds[x->index] on its queue of slot. */
static void poll_queue(dyco__waitnode_ext *x, dyco_waitq *wq) {
  x->hit = 0;
  x->won = 0;
  x->seen = 0;
  dyco__waitq_push(wq, &x->node, (uintptr_t)wq | 1u);
  wq->refs++;
}

/* Takes node x off wq if a waker has not already. */
static void poll_unqueue(dyco__waitnode_ext *x, dyco_waitq *wq) {
  struct dyco_waitnode *nd = &x->node;
  if (__atomic_load_n(&nd->qtag, __ATOMIC_RELAXED) != 0) {
    dyco__waitq_unlink(wq, nd);
  }
  wq->refs--;
}

int dyco_fd_poll(struct pollfd *fds, unsigned long nfds, int timeout,
                 const sigset_t *mask) {
  dyco_schedule *s;
  uint64_t deadline;
  int e = dyco__wait_enter(1, timeout, &s, &deadline);
  if (e != 0) {
    return e;
  }
  dyco_coroutine *co = s->running;
  size_t count = 0;
  for (unsigned long i = 0; i < nfds; i++) {
    fds[i].revents = 0;
    if (fds[i].fd >= 0) {
      count++;
    }
  }
  /* One node per fd, an end marker whose co is NULL (dyco__wait_kill
   * stops there), and the mask: never on the coroutine's stack, which may
   * be the shared one. */
  if (count >= (SIZE_MAX / 2) / sizeof(dyco__waitnode_ext)) {
    return -ENOMEM;
  }
  const size_t nodes = (count + 1) * sizeof(dyco__waitnode_ext);
  const size_t bytes = nodes + sizeof(dyco__maskwait);
  dyco__waitnode_ext *x =
      (dyco__waitnode_ext *)dyco__slab_alloc(&s->slab, bytes);
  if (x == NULL) {
    return -ENOMEM;
  }
  memset(x, 0, nodes);
  dyco__maskwait *mw = (dyco__maskwait *)(void *)((char *)x + nodes);
  /* Register every fd first. One that is not open is answered at once;
   * one epoll cannot watch (a regular file) never reports. */
  int bad = 0;
  size_t q = 0;
  for (unsigned long i = 0; i < nfds; i++) {
    int fd = fds[i].fd;
    if (fd < 0) {
      continue;
    }
    dyco__fdslot *slot = fd_slot(s, fd, 1);
    int err = slot == NULL ? -ENOMEM : 0;
    if (err == 0 && !slot->registered) {
      err = register_fd(s, fd, slot);
    }
    if (err == -EBADF) {
      fds[i].revents = POLLNVAL;
      bad++;
    } else if (err == 0) {
      x[q].co = co;
      x[q].index = (int)i;
      q++;
    } else if (err != -EPERM) {
      dyco__slab_free(&s->slab, x, bytes);
      return err;
    }
  }
  if (bad != 0) {
    dyco__slab_free(&s->slab, x, bytes);
    return bad;
  }
  if (mask != NULL) {
    mw->mask = *mask;
    maskq_push(s, mw);
    mask_recompute(s);
  }
  const uint32_t epoch = s->intr_epoch;
  int result;
  for (;;) {
    /* Again on every turn: a cancel that came while the coroutine was on
     * its way back from a wake for nothing must not be slept through. */
    if (DYCO__UNLIKELY(co->intr != 0)) {
      e = dyco__intr_enter(co, &deadline);
      if (e != 0) {
        result = e;
        break;
      }
    }
    if (deadline != 0) {
      uint64_t now = dyco__now_ns();
      if (now >= deadline) {
        result = -ETIMEDOUT;
        break;
      }
      if (dyco__timer_add(s, co, deadline) != 0) {
        result = -ENOMEM;
        break;
      }
    }
    for (size_t j = 0; j < q; j++) {
      const struct pollfd *p = &fds[x[j].index];
      dyco__fdslot *slot = fd_slot(s, p->fd, 0);
      poll_queue(&x[j], queue_for(slot, p->events));
      slot->checked = 0;
      slot->wait_round = s->sweep_round;
    }
    co->wake = (intptr_t)x; /* for a shutdown that kills us while we wait */
    co->flags &= (uint16_t)~DYCO__F_SHARED_WAIT;
    co->flags |= DYCO__F_EINTR;
    co->intr_mark = epoch;
    co->wait_kind = q != 0 ? DYCO_WAIT_RW : DYCO_WAIT_SLEEP;
    __atomic_store_n(&co->state, DYCO__WAITING, __ATOMIC_RELEASE);
    s->waiting++;
    s->fd_waiters++;

    dyco__switch_out(s, co);

    s->fd_waiters--;
    s->waiting--;
    const int st = __atomic_load_n(&co->state, __ATOMIC_ACQUIRE);
    __atomic_store_n(&co->state, DYCO__RUNNING, __ATOMIC_RELAXED);
    co->wait_kind = DYCO_WAIT_NONE;
    co->flags &= (uint16_t)~DYCO__F_EINTR;
    if (co->heap_index >= 0) {
      dyco__timer_remove(s, co);
    }
    /* Off every queue; what each node saw becomes its entry's revents. */
    int n = 0;
    for (size_t j = 0; j < q; j++) {
      struct pollfd *p = &fds[x[j].index];
      poll_unqueue(&x[j], queue_for(fd_slot(s, p->fd, 0), p->events));
      if (!x[j].hit) {
        continue;
      }
      short re;
      if (x[j].seen < 0) {
        re = POLLNVAL; /* closed while we waited */
      } else {
        re = (short)((uint32_t)x[j].seen &
                     ((uint16_t)p->events | POLLERR | POLLHUP));
      }
      if (re != 0 && p->revents == 0) {
        n++;
      }
      p->revents |= re;
    }
    if (st == DYCO__CANCELLED) {
      result = -ECANCELED;
      break;
    }
    if (n != 0) {
      result = n;
      break;
    }
    if (st == DYCO__TIMEDOUT) {
      result = -ETIMEDOUT;
      break;
    }
    if (s->intr_epoch != epoch) {
      result = -EINTR;
      break;
    }
    /* Woken by events nobody asked for (POLLOUT while waiting for POLLPRI,
     * say): wait again for what is left of the time. */
  }
  if (mask != NULL) {
    maskq_unlink(s, mw);
    mask_recompute(s);
  }
  dyco__slab_free(&s->slab, x, bytes);
  return result;
}

/* --- Closing ----------------------------------------------------------------
 */

/* Tells scheduler `id` (or, for -1, every scheduler but `self`) that fd,
 * generation gen, is closing. */
static void tell_others(int id, const dyco_schedule *self, int fd,
                        uint32_t gen);

int dyco__poll_own(dyco_schedule *s, int fd) {
  dyco__fdslot *slot = fd_slot(s, fd, 1);
  if (slot == NULL) {
    return -ENOMEM;
  }
  return slot->registered ? 0 : register_fd(s, fd, slot);
}

void dyco_fd_closing(int fd) {
  if (fd < 0) {
    return;
  }
  dyco_schedule *s = dyco__tls_sched;
  if (s != NULL) {
    /* No poller while the scheduler is being freed (its coroutines'
     * clean-up may close fds then). */
    if (s->poller != NULL && s->poller->fd_closed != NULL) {
      s->poller->fd_closed(s, fd);
    }
    dyco__fdslot *slot = fd_slot(s, fd, 0);
    if (slot != NULL) {
      wake_slot(slot, -EBADF);
      if (slot->registered) {
        /* A dup of fd would keep the registration alive: drop it now. */
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
        unregister(s, slot);
      }
    }
  }
  fdreg *r = fdreg_of(fd, 0);
  if (r == NULL) {
    return;
  }
  int32_t owner = __atomic_exchange_n(&r->owner, 0, __ATOMIC_ACQ_REL);
  uint32_t gen = __atomic_fetch_add(&r->gen, 1, __ATOMIC_ACQ_REL);
  if (owner != 0 && (s == NULL || owner != s->id)) {
    tell_others(owner, s, fd, gen);
  }
}

void dyco__poll_remote_close(dyco_schedule *s, int fd, uint32_t gen) {
  dyco__fdslot *slot = fd_slot(s, fd, 0);
  if (slot == NULL || !slot->registered || slot->gen != gen) {
    return; /* not registered here, or a newer fd with that number */
  }
  if (s->poller != NULL && s->poller->fd_closed != NULL) {
    s->poller->fd_closed(s, fd);
  }
  wake_slot(slot, -EBADF);
  epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
  unregister(s, slot);
}

/* The registry of schedulers lives in schedule.c. */
int dyco__sched_tell(int id, const dyco_schedule *except,
                     dyco__inbox_item *(*make)(void *), void *arg);

typedef struct close_msg {
  int fd;
  uint32_t gen;
} close_msg;

static dyco__inbox_item *make_close(void *arg) {
  const close_msg *m = (const close_msg *)arg;
  dyco__inbox_item *it = (dyco__inbox_item *)calloc(1, sizeof *it);
  if (it != NULL) {
    it->fd = m->fd;
    it->gen = m->gen;
  }
  return it;
}

static void tell_others(int id, const dyco_schedule *self, int fd,
                        uint32_t gen) {
  close_msg m = {fd, gen};
  dyco__sched_tell(id, self, make_close, &m);
}

/* --- The sweep: registrations verified -------------------------------------
 */

int64_t dyco__poll_sweep_due(dyco_schedule *s, uint64_t now) {
  if (s->fd_waiters == 0 || s->nreg == 0) {
    return -1;
  }
  if (s->next_sweep == 0) {
    s->next_sweep = now + SWEEP_NS;
  }
  return now >= s->next_sweep ? 0 : (int64_t)(s->next_sweep - now);
}

void dyco__poll_sweep(dyco_schedule *s, uint64_t now) {
  const uint32_t round = s->sweep_round;
  s->sweep_round++;
  s->next_sweep = now + SWEEP_NS;
  for (uint32_t i = 0; i < s->nreg;) {
    int fd = s->reg[i];
    dyco__fdslot *slot = fd_slot(s, fd, 0);
    /* Only waits older than the last sweep, once per wait. */
    if (slot == NULL || slot->checked || slot->wait_round == round ||
        !slot_has_waiters(slot)) {
      i++;
      continue;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = REG_EVENTS;
    ev.data.u64 = (uint64_t)fd;
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
      /* Still this file's registration (the modification re-arms the edge:
       * a waiter may wake once for nothing). */
      slot->checked = 1;
      i++;
      continue;
    }
    int err = errno;
    if (err == ENOENT && epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
      /* The fd was closed behind dyco's back and its number reused: the
       * new file is registered now, and reports its state at once. */
      slot->checked = 1;
      slot->gen = fdreg_note(s, fd);
      i++;
      continue;
    }
    /* Closed and not reused (EBADF), or reused by a file epoll cannot
     * watch (EPERM: always ready): the waits end, as they would have for
     * libc. */
    intptr_t v = err == EPERM ? (intptr_t)(EPOLLIN | EPOLLOUT) : -EBADF;
    unregister(s, slot); /* moves the last fd into place i */
    wake_slot(slot, v);
  }
}

/* --- The seed's waits --------------------------------------------------------
 */

static int wait_events(int fd, uint32_t events, int timeout) {
  dyco_schedule *s = dyco__tls_sched;
  if (s == NULL || s->running == NULL) {
    return -EPERM;
  }
  if (fd < 0) {
    return -EBADF;
  }
  /* Readiness the scheduler saw earlier may be stale or consumed: ask the
   * kernel first, then wait for the next edge. */
  struct pollfd p;
  p.fd = fd;
  p.events = (short)events;
  p.revents = 0;
  int n = dyco__sys_poll_now(&p, 1);
  if (n < 0) {
    return -errno;
  }
  if (p.revents & POLLNVAL) {
    return -EBADF;
  }
  if (n > 0) {
    return p.revents;
  }
  if (timeout == 0) {
    return 0;
  }
  /* The seed's 0 on timeout, where dyco_fd_wait says -ETIMEDOUT. */
  int r = DYCO__BODY(dyco_fd_wait)(fd, events, timeout);
  if (r == -ETIMEDOUT && dyco_coroutine_checkCancel() == 0) {
    return 0; /* its own timeout; the coroutine's deadline says -ETIMEDOUT */
  }
  return r;
}

DYCO__RETURN_BY_JUMP(int, dyco_coroutine_waitRead, (int fd, int timeout)) {
  return wait_events(fd, EPOLLIN, timeout);
}

DYCO__RETURN_BY_JUMP(int, dyco_coroutine_waitWrite, (int fd, int timeout)) {
  return wait_events(fd, EPOLLOUT, timeout);
}

DYCO__RETURN_BY_JUMP(int, dyco_coroutine_waitRW, (int fd, int timeout)) {
  return wait_events(fd, EPOLLIN | EPOLLOUT, timeout);
}
