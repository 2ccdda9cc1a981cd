/* dyco example: sleeping coroutines.
 * Five coroutines sleep for different times on one thread; they wake in
 * order of their deadlines, and the whole run takes the longest sleep, not
 * the sum. */
#include <stdio.h>
#include <time.h>

#include "dyco.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double start;

static void sleeper(void *arg) {
  int ms = (int)(long)arg;
  printf("coroutine %d sleeps %d ms\n", dyco_coroutine_coroID(), ms);
  dyco_coroutine_sleep((uint32_t)ms);
  printf("coroutine %d woke after %d ms\n", dyco_coroutine_coroID(),
         (int)(now_ms() - start));
}

int main(void) {
  int ms[] = {500, 100, 300, 200, 400};
  start = now_ms();
  for (int i = 0; i < 5; i++) {
    dyco_coroutine_create(sleeper, (void *)(long)ms[i]);
  }
  int r = dyco_schedule_run();
  double total = now_ms() - start;
  printf("all woke; total %.0f ms (the longest sleep, not the sum)\n", total);
  return r == 0 && total < 1500 ? 0 : 1;
}
