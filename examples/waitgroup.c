/* dyco example: a waitgroup.
 * Five workers join a group; the waiter first waits for any two of them
 * to be done, then for all of them. */
#include <stdio.h>

#include "dyco.h"

static dyco_waitgroup *wg;

static void worker(void *arg) {
  long ms = (long)arg;
  dyco_coroutine_sleep((uint32_t)ms);
  printf("worker %d done after %ld ms\n", dyco_coroutine_coroID(), ms);
  dyco_waitgroup_done(wg);
}

static void waiter(void *arg) {
  (void)arg;
  int r = dyco_waitgroup_wait(wg, 2, 1000);
  printf("two workers are done (wait returned %d)\n", r);
  r = dyco_waitgroup_wait(wg, -1, 1000);
  printf("all workers are done (wait returned %d)\n", r);
}

int main(void) {
  wg = dyco_waitgroup_create(8);
  long ms[] = {50, 10, 40, 20, 30};
  for (int i = 0; i < 5; i++) {
    int cid = dyco_coroutine_create(worker, (void *)ms[i]);
    dyco_waitgroup_add(wg, cid);
  }
  dyco_coroutine_create(waiter, NULL);
  int r = dyco_schedule_run();
  dyco_waitgroup_destroy(&wg);
  return r;
}
