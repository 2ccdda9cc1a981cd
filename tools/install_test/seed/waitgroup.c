/* dyco — seed-style test: the waitgroup. A boss adds eight workers that
 * finish after 20, 40, ... 160 ms; two watchers wait for five of them, a
 * third starts waiting late (after 200 ms, when five are long done), the
 * boss waits for all. */
#include "dyco/dyco_coroutine.h"

static int watcher_ret[3];
static long watcher_at[3];
static int boss_ret;
static long start;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void worker(void *arg) {
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_waitgroup *wg = udata;
  int *t = arg;
  dyco_coroutine_sleep(*t);
  printf("[worker] I am coro %d. I'm done\n", dyco_coroutine_coroID());
  DYCO_MUST(dyco_waitgroup_done(wg) > 0);
}

static void watcher(void *arg) {
  int w = *(int *)arg;
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_waitgroup *wg = udata;
  if (w == 2) {
    dyco_coroutine_sleep(200);
  }
  watcher_ret[w] = dyco_waitgroup_wait(wg, 5, -1);
  watcher_at[w] = now_ms() - start;
  printf("[watcher%d] I am coro %d. I have finish waiting and ret = %d\n",
         w + 1, dyco_coroutine_coroID(), watcher_ret[w]);
}

static void boss(void *arg) {
  (void)arg;
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_waitgroup *wg = udata;
  int *sleeptime = (int *)malloc(8 * sizeof(int));
  for (int i = 0; i < 8; i++) {
    sleeptime[i] = (i + 1) * 20;
    int cid = dyco_coroutine_create(worker, sleeptime + i);
    int ret = dyco_waitgroup_add(wg, cid);
    assert(ret == 1);
  }
  boss_ret = dyco_waitgroup_wait(wg, -1, -1);
  printf("[boss] I am coro %d. I have finish waiting and ret = %d\n",
         dyco_coroutine_coroID(), boss_ret);
  free(sleeptime);
}

int main(void) {
  int w[3] = {0, 1, 2};
  start = now_ms();
  dyco_coroutine_create(boss, NULL);
  for (int i = 0; i < 3; i++) {
    dyco_coroutine_create(watcher, w + i);
  }
  dyco_waitgroup *wg = dyco_waitgroup_create(10);
  DYCO_MUST(wg != NULL);
  dyco_schedule_setUdata(wg);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  /* Back once five were done (the fifth after 100 ms), not all eight. */
  for (int i = 0; i < 2; i++) {
    DYCO_MUST(watcher_ret[i] >= 5 && watcher_ret[i] < 8);
    DYCO_MUST(watcher_at[i] >= 100);
  }
  /* The late one: all eight were done when it came. */
  DYCO_MUST(watcher_ret[2] == 8 && watcher_at[2] >= 200);
  DYCO_MUST(boss_ret == 8);
  dyco_waitgroup_destroy(&wg);
  printf("waitgroup: passed\n");
  return 0;
}
