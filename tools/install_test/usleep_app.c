/* dyco — the install test's second program: ten coroutines call the plain
 * libc usleep; with libdyco_hook linked it yields, so they sleep together. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "dyco.h"

static void nap(void *arg) {
  (void)arg;
  usleep(100 * 1000);
}

int main(void) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < 10; i++) {
    dyco_coroutine_create(nap, NULL);
  }
  dyco_schedule_run();
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  printf("10 naps of 100 ms took %.0f ms\n", ms);
  return ms < 600 ? 0 : 1; /* 1000 ms if usleep blocked the thread */
}
