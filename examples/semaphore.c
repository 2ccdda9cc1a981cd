/* dyco example: a semaphore.
 * Ten coroutines want a critical section that at most three may be in at
 * once; the others wait in the scheduler, first come, first served. */
#include <stdio.h>

#include "dyco.h"

static dyco_semaphore *sem;
static int inside, most;

static void worker(void *arg) {
  long id = (long)arg;
  if (dyco_semaphore_wait(sem, -1) != 0) {
    return;
  }
  if (++inside > most) {
    most = inside;
  }
  printf("worker %ld in (%d inside)\n", id, inside);
  dyco_coroutine_sleep(10);
  inside--;
  dyco_semaphore_signal(sem);
}

int main(void) {
  sem = dyco_semaphore_create(3);
  for (long i = 0; i < 10; i++) {
    dyco_coroutine_create(worker, (void *)i);
  }
  dyco_schedule_run();
  dyco_semaphore_destroy(&sem);
  printf("at most %d were inside at once\n", most);
  return most == 3 ? 0 : 1;
}
