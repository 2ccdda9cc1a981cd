/* dyco — netio layer: one epoll instance per coroutine, kept in
 * coroutine-local storage and closed when the coroutine ends. */
#include "netio/epoll.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "base/sys.h"
#include "netio/internal/io.h"
#include "sched/coroutine.h"

/* The value stored is fd + 1, so that NULL means "none". */
static int ep_key = -1;
static pthread_once_t ep_once = PTHREAD_ONCE_INIT;

static void close_instance(void *v) { dyco__net_close((int)(intptr_t)v - 1); }

static void make_key(void) {
  dyco_coroutine_keyCreate(&ep_key, close_instance);
}

/* The running coroutine's instance, or a negative errno. */
static int instance(void) {
  if (!dyco__net_in_coroutine()) {
    return -EPERM;
  }
  pthread_once(&ep_once, make_key);
  if (ep_key < 0) {
    return -EBADF;
  }
  void *v = dyco_coroutine_getLocal(ep_key);
  return v != NULL ? (int)(intptr_t)v - 1 : -EBADF;
}

int dyco_epoll_init(void) {
  int ep = instance();
  if (ep >= 0) {
    return -EEXIST;
  }
  if (ep == -EPERM) {
    return ep;
  }
  if (ep_key < 0) {
    return -EAGAIN; /* no coroutine-local key left */
  }
  ep = dyco__sys_epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    return -errno;
  }
  int r = dyco_coroutine_setLocal(ep_key, (void *)(intptr_t)(ep + 1));
  if (r != 0) {
    dyco__net_close(ep);
    return r;
  }
  return 0;
}

void dyco_epoll_destroy(void) {
  int ep = instance();
  if (ep < 0) {
    return;
  }
  dyco_coroutine_setLocal(ep_key, NULL);
  dyco__net_close(ep);
}

static int ctl(int op, int fd, struct epoll_event *ev) {
  int ep = instance();
  if (ep < 0) {
    return ep;
  }
  return epoll_ctl(ep, op, fd, ev) == 0 ? 0 : -errno;
}

int dyco_epoll_add(int fd, struct epoll_event *ev) {
  return ctl(EPOLL_CTL_ADD, fd, ev);
}

int dyco_epoll_mod(int fd, struct epoll_event *ev) {
  return ctl(EPOLL_CTL_MOD, fd, ev);
}

int dyco_epoll_del(int fd, struct epoll_event *ev) {
  return ctl(EPOLL_CTL_DEL, fd, ev);
}

int dyco_epoll_wait(struct epoll_event *events, int maxevents, int timeout) {
  int ep = instance();
  if (ep < 0) {
    return ep;
  }
  if (maxevents < 1 || events == NULL) {
    return -EINVAL;
  }
  int r = dyco__net_epoll_wait(ep, events, maxevents, timeout, 1);
  return r < 0 ? -errno : r;
}
