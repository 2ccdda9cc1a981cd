/* dyco — install test: a correct program that exercises every kind of
 * switch and stack copy dyco makes, for the user's own tools: built against
 * the installed library with -fsanitize=address or -fsanitize=thread, or
 * run under valgrind, nothing may be reported. Shared-stack coroutines keep
 * patterns in their frames across many copies; private stacks, pools,
 * asymmetric coroutines (on their shared stack and on private ones), a
 * channel, deep recursion, an abort, and a second thread with a scheduler
 * of its own. Exits 0 and prints "tools_ok: passed" when every check holds. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dyco.h"

static int failures;
static int checks;

/* Both threads check: counted atomically (a race here would be a real one,
 * and ThreadSanitizer would rightly report it). */
static void check(int ok, const char *what) {
  __atomic_add_fetch(&checks, 1, __ATOMIC_RELAXED);
  if (!ok) {
    __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "tools_ok: failed: %s\n", what);
  }
}

/* Keeps a pattern in its frame across sleeps and yields: the shared stack
 * is copied out and back in each time another coroutine takes it. */
static void patterned(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  unsigned char frame[512];
  for (size_t i = 0; i < sizeof frame; i++) {
    frame[i] = (unsigned char)(seed * 31 + i);
  }
  for (int round = 0; round < 8; round++) {
    if (round % 2 == 0) {
      dyco_coroutine_sleep(1);
    } else {
      dyco_coroutine_yield();
    }
    int intact = 1;
    for (size_t i = 0; i < sizeof frame; i++) {
      intact &= frame[i] == (unsigned char)(seed * 31 + i);
    }
    check(intact, "a frame kept its bytes across switches");
  }
}

/* Recursion that yields at every level on the way down and up. */
static int deep(int n) {
  volatile char pad[64];
  pad[0] = (char)n;
  dyco_coroutine_yield();
  int below = n > 0 ? deep(n - 1) : 0;
  dyco_coroutine_yield();
  return below + (pad[0] == (char)n);
}

static void recursive(void *arg) {
  (void)arg;
  check(deep(150) == 151, "recursion across yields");
}

static void aborting(void *arg) {
  int *after = (int *)arg;
  dyco_coroutine_sleep(1);
  dyco_coroutine_abort();
  *after = 1; /* never */
}

/* A generator: each resume hands out the next square through udata. */
static void squares(void *arg) {
  int n = (int)(intptr_t)arg;
  int *out = NULL;
  dyco_asymcoro_getUdata(dyco_asymcoro_coroID(), (void **)&out);
  for (int i = 1; i <= n; i++) {
    char local[256];
    memset(local, i, sizeof local);
    *out = i * i;
    dyco_asymcoroyield();
    check(local[0] == (char)i && local[255] == (char)i,
          "a generator's frame kept its bytes");
  }
}

static int run_generator(int shared) {
  int value = 0, sum = 0;
  int cid = dyco_asymcoro_create(squares, (void *)(intptr_t)10);
  if (!shared) {
    dyco_asymcoro_setStack(cid, NULL, 64 * 1024);
  }
  dyco_asymcoro_setUdata(cid, &value);
  while (dyco_asymcororesume(cid) > 0) {
    sum += value;
    dyco_coroutine_sleep(0); /* outside a coroutine: nothing */
  }
  dyco_asymcoro_free(cid);
  return sum;
}

static void generator_user(void *arg) {
  int shared = (int)(intptr_t)arg;
  int sum = 0, value = 0;
  int cid = dyco_asymcoro_create(squares, (void *)(intptr_t)10);
  if (!shared) {
    dyco_asymcoro_setStack(cid, NULL, 64 * 1024);
  }
  dyco_asymcoro_setUdata(cid, &value);
  while (dyco_asymcororesume(cid) > 0) {
    sum += value;
    dyco_coroutine_yield();
  }
  dyco_asymcoro_free(cid);
  check(sum == 385, "a generator resumed by a coroutine");
}

static dyco_chan *pingpong;

static void pinger(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) {
    dyco_chan_send(pingpong, &i, -1);
  }
  dyco_chan_close(pingpong);
}

static void ponger(void *arg) {
  int *sum = (int *)arg;
  int v;
  while (dyco_chan_recv(pingpong, &v, -1) > 0) {
    *sum += v;
  }
}

static void pooled(void *arg) {
  int *done = (int *)arg;
  char frame[128];
  memset(frame, 7, sizeof frame);
  dyco_coroutine_sleep(1);
  check(frame[0] == 7 && frame[127] == 7, "a pool coroutine's frame");
  ++*done;
}

static void scheduler_round(void) {
  for (int i = 0; i < 60; i++) {
    dyco_coroutine_create(patterned, (void *)(uintptr_t)i);
  }
  for (int i = 0; i < 10; i++) {
    int cid = dyco_coroutine_create(patterned, (void *)(uintptr_t)(100 + i));
    check(dyco_coroutine_setStack(cid, NULL, 64 * 1024) == 1,
          "a private stack");
  }
  dyco_coroutine_create(recursive, NULL);
}

/* A scheduler and an epoll of dyco's on a thread that ends: the next such
 * thread gets the same fd numbers (a ThreadSanitizer that saw dyco make
 * them but not close them would call that a race). */
static void epoll_user(void *arg) {
  int *ok = (int *)arg;
  *ok = dyco_epoll_init() == 0;
  struct epoll_event ev;
  *ok &= dyco_epoll_wait(&ev, 1, 1) == 0;
  dyco_epoll_destroy();
}

static void *short_lived(void *arg) {
  dyco_coroutine_create(epoll_user, arg);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  return NULL;
}

/* The same, the second thread starting its scheduler once the first has
 * freed its own, with no join in between. */
static void *late_starter(void *arg) {
  usleep(50 * 1000);
  return short_lived(arg);
}

static void *second_thread(void *arg) {
  int *ok = (int *)arg;
  scheduler_round();
  *ok = dyco_schedule_run() == 0;
  dyco_schedule_free(dyco_schedule_self());
  return NULL;
}

int main(void) {
  int thread_ok = 0;
  pthread_t t;
  check(pthread_create(&t, NULL, second_thread, &thread_ok) == 0,
        "a second thread");

  scheduler_round();
  int after_abort = 0;
  dyco_coroutine_create(aborting, &after_abort);
  dyco_coroutine_create(generator_user, (void *)(intptr_t)1);
  dyco_coroutine_create(generator_user, (void *)(intptr_t)0);
  int sum = 0;
  pingpong = dyco_chan_create(sizeof(int), 0, 0);
  dyco_coroutine_create(pinger, NULL);
  dyco_coroutine_create(ponger, &sum);
  int pooled_done = 0;
  dyco_coropool *shared_pool = dyco_coropool_create(4, 0);
  dyco_coropool *private_pool = dyco_coropool_create(4, 64 * 1024);
  for (int i = 0; i < 4; i++) {
    check(dyco_coropool_obtain(shared_pool, pooled, &pooled_done, 0) > 0,
          "a shared-stack pool coroutine");
    check(dyco_coropool_obtain(private_pool, pooled, &pooled_done, 0) > 0,
          "a private-stack pool coroutine");
  }
  check(dyco_schedule_run() == 0, "the scheduler ran to the end");
  check(after_abort == 0, "abort ended its coroutine");
  check(sum == 4950, "the channel carried every number");
  check(pooled_done == 8, "every pool coroutine ran");
  check(run_generator(1) == 385, "a generator on the shared stack");
  check(run_generator(0) == 385, "a generator on a private stack");
  dyco_chan_destroy(&pingpong);
  dyco_coropool_destroy(&shared_pool);
  dyco_coropool_destroy(&private_pool);

  check(pthread_join(t, NULL) == 0 && thread_ok, "the second thread's run");
  for (int i = 0; i < 3; i++) {
    int ok = 0;
    check(pthread_create(&t, NULL, short_lived, &ok) == 0 &&
              pthread_join(t, NULL) == 0 && ok,
          "threads one after another, each with a scheduler");
  }
  int early_ok = 0, late_ok = 0;
  pthread_t early, late;
  check(pthread_create(&early, NULL, short_lived, &early_ok) == 0 &&
            pthread_create(&late, NULL, late_starter, &late_ok) == 0 &&
            pthread_join(early, NULL) == 0 && pthread_join(late, NULL) == 0 &&
            early_ok && late_ok,
        "a scheduler ends, then another thread's begins");
  dyco_schedule_free(dyco_schedule_self());
  if (failures != 0) {
    fprintf(stderr, "tools_ok: %d of %d checks failed\n", failures, checks);
    return 1;
  }
  printf("tools_ok: passed (%d checks)\n", checks);
  return 0;
}
