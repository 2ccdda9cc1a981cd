/* dyco example: epoll inside coroutines.
 * Each of three coroutines watches timerfds of its own: once through
 * dyco's per-coroutine epoll (dyco_epoll_init/add/wait), once through the
 * plain epoll_wait on an epoll fd of its own, which the hooks make yield.
 * Neither blocks the thread: the three coroutines' timers interleave. */
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "dyco.h"

static int timer(int ms) {
  int fd = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec t = {{0, ms * 1000000L}, {0, ms * 1000000L}};
  timerfd_settime(fd, 0, &t, NULL);
  return fd;
}

static void with_dyco_epoll(void *arg) {
  int ms = (int)(long)arg;
  dyco_epoll_init();
  int fd = timer(ms);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  dyco_epoll_add(fd, &ev);
  for (int i = 0; i < 3; i++) {
    struct epoll_event got[4];
    int n = dyco_epoll_wait(got, 4, 1000);
    uint64_t ticks;
    if (n == 1 && read(fd, &ticks, sizeof ticks) == sizeof ticks) {
      printf("dyco_epoll_wait: %d ms timer fired\n", ms);
    }
  }
  dyco_epoll_destroy();
  close(fd);
}

static void with_plain_epoll(void *arg) {
  int ms = (int)(long)arg;
  int ep = epoll_create1(0);
  int fd = timer(ms);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  for (int i = 0; i < 3; i++) {
    struct epoll_event got[4];
    int n = epoll_wait(ep, got, 4, 1000); /* hooked: yields */
    uint64_t ticks;
    if (n == 1 && read(fd, &ticks, sizeof ticks) == sizeof ticks) {
      printf("hooked epoll_wait: %d ms timer fired\n", ms);
    }
  }
  close(fd);
  close(ep);
}

int main(void) {
  dyco_coroutine_create(with_dyco_epoll, (void *)30L);
  dyco_coroutine_create(with_plain_epoll, (void *)20L);
  dyco_coroutine_create(with_plain_epoll, (void *)50L);
  return dyco_schedule_run();
}
