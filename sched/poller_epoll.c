/* dyco — sched layer: the epoll back end of the poller. The scheduler
 * sleeps in epoll_pwait on its own epoll instance; nothing else to set up. */
#include <errno.h>
#include <limits.h>

#include "base/sys.h"
#include "sched/internal/sched.h"

static int epoll_init(dyco_schedule *s) {
  s->ring = NULL;
  return 0;
}

static void epoll_destroy(dyco_schedule *s) { (void)s; }

static int epoll_wait_ns(dyco_schedule *s, struct epoll_event *ev, int max,
                         int64_t timeout_ns, const sigset_t *mask) {
  int ms;
  if (timeout_ns < 0) {
    ms = -1;
  } else if (timeout_ns > (int64_t)INT_MAX * 1000000) {
    ms = INT_MAX;
  } else {
    /* Round up: never wake before a timer is due. */
    ms = (int)((timeout_ns + 999999) / 1000000);
  }
  return dyco__sys_epoll_pwait(s->epfd, ev, max, ms, mask);
}

const dyco__poller_ops dyco__poller_epoll = {
    .kind = DYCO_POLLER_EPOLL,
    .name = "epoll",
    .init = epoll_init,
    .destroy = epoll_destroy,
    .wait = epoll_wait_ns,
};
