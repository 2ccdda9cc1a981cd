/* dyco — seed-style test: coroutine pools. The seed's sequence: a pool of
 * two coroutines with small private stacks (4000 bytes, which the seed took
 * and dyco rounds up) and one on the shared stack; obtain outside a
 * coroutine never waits (-1 when none is free), inside one it waits for a
 * coroutine to come back or times out (0); resize grows and shrinks. */
#include "dyco/dyco_coroutine.h"

static dyco_coropool *pool1;
static dyco_coropool *pool2;
static int ran;
static int results[3];

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void corofunc1(void *arg) {
  (void)arg;
  printf("I am coro %d. Hello\n", dyco_coroutine_coroID());
  dyco_coroutine_sleep(100);
  printf("I am coro %d. Bye.\n", dyco_coroutine_coroID());
  ran++;
}

static void corofunc2(void *arg) {
  (void)arg;
  printf("I am coro %d. Hello\n", dyco_coroutine_coroID());
  dyco_coroutine_sleep(100);
  /* One of pool2's two is free. */
  results[0] = dyco_coropool_obtain(pool2, corofunc1, NULL, 300);
  printf("6: ret = %d\n", results[0]);
  /* None free: waits until that one finishes. */
  long t = now_ms();
  results[1] = dyco_coropool_obtain(pool2, corofunc1, NULL, 300);
  printf("7: ret = %d\n", results[1]);
  DYCO_MUST(now_ms() - t >= 90);
  dyco_coroutine_sleep(200);
  DYCO_MUST(dyco_coropool_resize(pool2, 1) == pool2);
  /* This one holds the only coroutine left: times out. */
  t = now_ms();
  results[2] = dyco_coropool_obtain(pool2, corofunc1, NULL, 300);
  printf("8: ret = %d\n", results[2]);
  DYCO_MUST(now_ms() - t >= 300);
  printf("I am coro %d. Bye.\n", dyco_coroutine_coroID());
}

int main(void) {
  pool1 = dyco_coropool_create(2, 4000);
  if (pool1 == NULL) {
    printf(
        "coropool: dyco_coropool_create(2, 4000) refused: it needs small "
        "stacks rounded up (issue 14)\n");
    return 77;
  }
  pool2 = dyco_coropool_create(2, 0);
  DYCO_MUST(pool2 != NULL);
  int ret;
  ret = dyco_coropool_obtain(pool1, corofunc1, NULL, 3000);
  printf("1: ret = %d\n", ret);
  DYCO_MUST(ret > 0);
  ret = dyco_coropool_obtain(pool1, corofunc1, NULL, 3000);
  printf("2: ret = %d\n", ret);
  DYCO_MUST(ret > 0);
  /* Outside a coroutine: immediately -1. */
  long t = now_ms();
  errno = 0;
  ret = dyco_coropool_obtain(pool1, corofunc1, NULL, 3000);
  printf("3: ret = %d\n", ret);
  DYCO_MUST(ret == -1 && errno == EAGAIN && now_ms() - t < 100);
  DYCO_MUST(dyco_coropool_available(pool1) == 0);
  DYCO_MUST(dyco_coropool_resize(pool1, 4) == pool1);
  DYCO_MUST(dyco_coropool_available(pool1) == 2);
  ret = dyco_coropool_obtain(pool1, corofunc1, NULL, 3000);
  printf("4: ret = %d\n", ret);
  DYCO_MUST(ret > 0);
  ret = dyco_coropool_obtain(pool2, corofunc2, NULL, 3000);
  printf("5: ret = %d\n", ret);
  DYCO_MUST(ret > 0);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  DYCO_MUST(results[0] > 0 && results[1] > 0 && results[2] == 0);
  DYCO_MUST(ran == 5);
  ret = dyco_coropool_destroy(&pool1);
  assert(ret == 0);
  ret = dyco_coropool_destroy(&pool2);
  assert(ret == 0);
  DYCO_MUST(pool1 == NULL && pool2 == NULL);
  printf("coropool: passed\n");
  return 0;
}
