/* dyco example: a coroutine pool.
 * A pool of 3 coroutines with their stacks made ahead runs 10 jobs: never
 * more than 3 at once; an obtain waits for a free coroutine, and a finished
 * coroutine returns to the pool by itself. */
#include <stdio.h>

#include "dyco.h"

static int running, peak, done;

static void job(void *arg) {
  int n = (int)(long)arg;
  if (++running > peak) {
    peak = running;
  }
  printf("job %d runs on coroutine %d (%d running)\n", n,
         dyco_coroutine_coroID(), running);
  dyco_coroutine_sleep(20);
  running--;
  done++;
}

static void feeder(void *arg) {
  dyco_coropool *pool = arg;
  for (long i = 0; i < 10; i++) {
    int cid = dyco_coropool_obtain(pool, job, (void *)i, -1);
    if (cid <= 0) {
      printf("obtain failed: %d\n", cid);
    }
  }
}

int main(void) {
  dyco_coropool *pool = dyco_coropool_create(3, 64 * 1024);
  if (pool == NULL) {
    return 1;
  }
  dyco_coroutine_create(feeder, pool);
  dyco_schedule_run();
  printf("%d jobs done, at most %d at once, %d free now\n", done, peak,
         dyco_coropool_available(pool));
  dyco_coropool_destroy(&pool);
  return done == 10 && peak == 3 ? 0 : 1;
}
