/* dyco — seed-style test: sleeping coroutines. Ten coroutines sleep 0, 30,
 * ... 270 ms each; they wake in that order, none early, all within about
 * the longest sleep (they sleep at the same time). Written only against the
 * seed's header, as a seed program is. */
#include "dyco/dyco_coroutine.h"

static long start_ms;
static int woke[10];
static int nwoke;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void corofun(void *arg) {
  int sleeptime = *(int *)arg;
  printf("I am coro %d. I'm about sleep %d ms\n", dyco_coroutine_coroID(),
         sleeptime);
  dyco_coroutine_sleep(sleeptime);
  long late = now_ms() - start_ms;
  printf("I am coro %d. Now I wake up\n", dyco_coroutine_coroID());
  DYCO_MUST(late >= sleeptime);
  woke[nwoke++] = sleeptime;
}

int main(void) {
  int sleeptime[10];
  start_ms = now_ms();
  /* Created longest first: they still wake shortest first. */
  for (int i = 9; i >= 0; i--) {
    sleeptime[i] = 30 * i;
    DYCO_MUST(dyco_coroutine_create(corofun, sleeptime + i) > 0);
  }
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  long total = now_ms() - start_ms;
  DYCO_MUST(nwoke == 10);
  for (int i = 0; i < 10; i++) {
    DYCO_MUST(woke[i] == 30 * i);
  }
  DYCO_MUST(total >= 270 && total < 270 + 400);
  printf("sleep: passed\n");
  return 0;
}
