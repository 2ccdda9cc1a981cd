/* A program written for dyco-coroutine, built unchanged from another Bazel
 * workspace against @dyco//:dyco_coroutine (the seed's header, all of dyco
 * and the hooks): coroutines pass a count through the seed's udata and a
 * semaphore, while plain usleep yields. */
#include "dyco/dyco_coroutine.h"

static int total;

static void worker(void *arg) {
  int n = *(int *)arg;
  dyco_semaphore *sem;
  DYCO_MUST(dyco_coroutine_getUdata(dyco_coroutine_coroID(), &sem) == 0);
  DYCO_MUST(dyco_semaphore_wait(sem, -1) == 0);
  usleep(1000); /* yields: the hooks */
  total += n;
  DYCO_MUST(dyco_semaphore_signal(sem) == 0);
}

int main(void) {
  int n[3] = {1, 2, 3};
  dyco_semaphore *sem = dyco_semaphore_create(2);
  for (int i = 0; i < 3; i++) {
    int cid = dyco_coroutine_create(worker, n + i);
    DYCO_MUST(dyco_coroutine_setUdata(cid, sem) == 0);
  }
  DYCO_MUST(dyco_schedule_run() == 0);
  dyco_semaphore_destroy(&sem);
  printf("seed_app: total %d (%s)\n", total, DYCO_VERSION);
  return total == 6 ? 0 : 1;
}
