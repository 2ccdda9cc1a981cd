/* dyco — seed-style test: stop, run again, then abort. Four coroutines
 * count in steps of 20 ms; a fifth stops the scheduler after 70 ms: run
 * returns 1 at once and nothing runs until the thread runs the scheduler
 * again (after sleeping 100 ms itself); then the fifth sleeps 70 ms more
 * and aborts the scheduler: run returns < 0, every coroutine is gone, and
 * running again says the same. */
#include "dyco/dyco_coroutine.h"

static int steps[4];
static int phase; /* 0 first run, 1 between the runs, 2 second run */
static int ran_between;
static long stopped_at, resumed_at, aborted_at;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void corofun(void *arg) {
  int idx = *(int *)arg;
  for (int i = 0; i < 100; i++) {
    dyco_coroutine_sleep(20);
    if (phase == 1) {
      ran_between = 1;
    }
    steps[idx]++;
  }
}

static void foobar(void *arg) {
  int actiontime = *(int *)arg;
  printf("I am coro %d. I will sleep %d then stop the scheduler\n",
         dyco_coroutine_coroID(), actiontime);
  dyco_coroutine_sleep(actiontime);
  stopped_at = now_ms();
  dyco_schedcall_stop();
  /* Only once the scheduler runs again. */
  DYCO_MUST(phase == 2);
  resumed_at = now_ms();
  printf("I am coro %d. I will sleep %d then abort the scheduler\n",
         dyco_coroutine_coroID(), actiontime);
  dyco_coroutine_sleep(actiontime);
  aborted_at = now_ms();
  dyco_schedcall_abort();
  printf("never\n");
  exit(1);
}

int main(void) {
  int idx[4] = {0, 1, 2, 3};
  int actiontime = 70;
  for (int i = 0; i < 4; i++) {
    dyco_coroutine_create(corofun, idx + i);
  }
  dyco_coroutine_create(foobar, &actiontime);
  printf("[+] scheduler start running.\n");
  int ret = dyco_schedule_run();
  printf("[-] scheduler stopped. ret = %d\n", ret);
  DYCO_MUST(ret == 1);
  DYCO_MUST(dyco_schedule_getCoroCount() == 5);
  phase = 1;
  usleep(100 * 1000);
  phase = 2;
  printf("[+] scheduler restart.\n");
  ret = dyco_schedule_run();
  printf("[-] scheduler stopped. ret = %d\n", ret);
  DYCO_MUST(ret < 0);
  DYCO_MUST(ran_between == 0);
  DYCO_MUST(resumed_at - stopped_at >= 100);
  DYCO_MUST(aborted_at - resumed_at >= actiontime);
  for (int i = 0; i < 4; i++) {
    DYCO_MUST(steps[i] >= 5 && steps[i] < 100);
  }
  DYCO_MUST(dyco_schedule_getCoroCount() == 0);
  printf("[+] scheduler restart.\n");
  ret = dyco_schedule_run();
  printf("[-] scheduler stopped. ret = %d\n", ret);
  DYCO_MUST(ret < 0); /* still aborted, as in the seed */
  printf("stop_abort: passed\n");
  return 0;
}
