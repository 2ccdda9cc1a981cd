/* dyco example: stop, run again, then abort.
 * dyco_schedcall_stop makes dyco_schedule_run return 1 with every
 * coroutine kept; running again carries on. dyco_schedcall_abort kills them
 * all and frees the scheduler. */
#include <errno.h>
#include <stdio.h>

#include "dyco.h"

static int ticks;

static void ticker(void *arg) {
  (void)arg;
  for (;;) {
    ticks++;
    dyco_coroutine_sleep(10);
  }
}

static void stopper(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(55);
  printf("stopper: stop\n");
  dyco_schedcall_stop();
  dyco_coroutine_sleep(50);
  printf("stopper: abort\n");
  dyco_schedcall_abort();
}

int main(void) {
  dyco_coroutine_create(ticker, NULL);
  dyco_coroutine_create(stopper, NULL);
  int r = dyco_schedule_run();
  printf("run returned %d after %d ticks; %d coroutines kept\n", r, ticks,
         dyco_schedule_getCoroCount());
  int before = ticks;
  r = dyco_schedule_run();
  printf("run returned %d after %d more ticks; %d coroutines left\n", r,
         ticks - before, dyco_schedule_getCoroCount());
  return r == -ECANCELED && dyco_schedule_self() == NULL ? 0 : 1;
}
