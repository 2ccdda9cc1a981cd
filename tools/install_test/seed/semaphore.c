/* dyco — seed-style test: the semaphore. Ten coroutines go through a
 * critical section of 50 ms guarded by a semaphore of 3: never more than
 * three inside, four rounds in all. */
#include "dyco/dyco_coroutine.h"

static int inside;
static int most;
static int done;

static void cofunc(void *arg) {
  (void)arg;
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_semaphore *sem = udata;
  int ret = dyco_semaphore_wait(sem, -1);
  assert(ret == 0);
  inside++;
  if (inside > most) {
    most = inside;
  }
  printf("[cofunc] I am coro %d. I'm in critical section\n",
         dyco_coroutine_coroID());
  dyco_coroutine_sleep(50);
  inside--;
  ret = dyco_semaphore_signal(sem);
  assert(ret == 0);
  done++;
}

int main(void) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < 10; i++) {
    dyco_coroutine_create(cofunc, NULL);
  }
  dyco_semaphore *sem = dyco_semaphore_create(3);
  DYCO_MUST(sem != NULL);
  dyco_schedule_setUdata(sem);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms = (b.tv_sec - a.tv_sec) * 1000L + (b.tv_nsec - a.tv_nsec) / 1000000L;
  DYCO_MUST(done == 10 && most == 3);
  DYCO_MUST(ms >= 200 && ms < 200 + 300);
  /* Timed out: < 0. */
  dyco_semaphore *none = dyco_semaphore_create(0);
  DYCO_MUST(dyco_semaphore_wait(none, 0) < 0);
  dyco_semaphore_destroy(&none);
  dyco_semaphore_destroy(&sem);
  printf("semaphore: passed\n");
  return 0;
}
