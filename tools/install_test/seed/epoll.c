/* dyco — seed-style test: epoll inside coroutines, on timerfds. One
 * coroutine uses plain epoll_create/epoll_ctl/epoll_wait (the hooks make
 * epoll_wait yield), another the dyco_epoll_* calls; a third counts 5 ms
 * sleeps meanwhile, which it could not if either wait blocked the thread. */
#include <sys/timerfd.h>

#include "dyco/dyco_coroutine.h"

static int ticks;
static int done;
static int events_seen[2];

static int inittimerfd(int start_ms, int interval_ms) {
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec t;
  t.it_value.tv_sec = start_ms / 1000;
  t.it_value.tv_nsec = (start_ms % 1000) * 1000000L;
  t.it_interval.tv_sec = interval_ms / 1000;
  t.it_interval.tv_nsec = (interval_ms % 1000) * 1000000L;
  timerfd_settime(tfd, 0, &t, NULL);
  return tfd;
}

static void cofunc0(void *arg) {
  (void)arg;
  int tfd[3] = {inittimerfd(20, 20), inittimerfd(30, 30), inittimerfd(40, 40)};
  int epollfd = epoll_create(1);
  DYCO_MUST(epollfd >= 0);
  struct epoll_event ev, events[3];
  ev.events = EPOLLIN | EPOLLERR | EPOLLHUP;
  for (int i = 0; i < 3; i++) {
    ev.data.fd = tfd[i];
    DYCO_MUST(epoll_ctl(epollfd, EPOLL_CTL_ADD, tfd[i], &ev) == 0);
  }
  int x = 0;
  while (x < 8) {
    int nevents = epoll_wait(epollfd, events, 3, -1);
    for (int i = 0; i < nevents; i++) {
      uint64_t cnt;
      DYCO_MUST(read(events[i].data.fd, &cnt, sizeof cnt) == sizeof cnt);
      printf("cofunc0: fd %d, read counter val %lu\n", events[i].data.fd,
             (unsigned long)cnt);
      ++x;
    }
  }
  events_seen[0] = x;
  for (int i = 0; i < 3; i++) {
    close(tfd[i]);
  }
  close(epollfd);
  done++;
}

static void cofunc1(void *arg) {
  (void)arg;
  int tfd[3] = {inittimerfd(10, 20), inittimerfd(20, 20), inittimerfd(10, 40)};
  DYCO_MUST(dyco_epoll_init() == 0);
  struct epoll_event ev, events[3];
  ev.events = EPOLLIN | EPOLLERR | EPOLLHUP;
  for (int i = 0; i < 3; i++) {
    ev.data.fd = tfd[i];
    DYCO_MUST(dyco_epoll_add(tfd[i], &ev) == 0);
  }
  int x = 0;
  while (x < 8) {
    int nevents = dyco_epoll_wait(events, 3, -1);
    DYCO_MUST(nevents > 0);
    for (int i = 0; i < nevents; i++) {
      uint64_t cnt;
      DYCO_MUST(read(events[i].data.fd, &cnt, sizeof cnt) == sizeof cnt);
      printf("cofunc1: fd %d, read counter val %lu\n", events[i].data.fd,
             (unsigned long)cnt);
      ++x;
    }
  }
  events_seen[1] = x;
  for (int i = 0; i < 3; i++) {
    dyco_epoll_del(tfd[i], NULL);
    close(tfd[i]);
  }
  dyco_epoll_destroy();
  done++;
}

static void ticker(void *arg) {
  (void)arg;
  while (done < 2) {
    dyco_coroutine_sleep(5);
    ticks++;
  }
}

int main(void) {
  dyco_coroutine_create(cofunc0, NULL);
  dyco_coroutine_create(cofunc1, NULL);
  dyco_coroutine_create(ticker, NULL);
  DYCO_MUST(dyco_schedule_run() == 0);
  DYCO_MUST(events_seen[0] >= 8 && events_seen[1] >= 8);
  /* About 80 ms of waiting: the ticker ran all along. */
  DYCO_MUST(ticks >= 5);
  printf("epoll: passed (%d ticks while waiting)\n", ticks);
  return 0;
}
