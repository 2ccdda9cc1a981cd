/* dyco — the program the install test builds with a plain compiler:
 * three coroutines through the installed headers and library. */
#include <stdio.h>

#include "dyco.h"

static int ran;

static void work(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(1);
  ran++;
}

int main(void) {
  for (int i = 0; i < 3; i++) {
    dyco_coroutine_create(work, NULL);
  }
  if (dyco_schedule_run() != 0) {
    return 1;
  }
  printf("ran %d coroutines on scheduler %d\n", ran, dyco_schedule_schedID());
  return ran == 3 ? 0 : 1;
}
