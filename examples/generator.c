/* dyco example: asymmetric coroutines as generators. A Fibonacci generator
 * driven by the thread itself, then one generator shared by coroutines of a
 * scheduler. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "asym/asymcoro.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"

/* The generator: each time it is resumed it puts the next Fibonacci number
 * where its udata points and yields; after `count` numbers it returns. */
static void fibonacci(void *arg) {
  const int count = *(const int *)arg;
  int64_t *out = NULL;
  dyco_asymcoro_getUdata(dyco_asymcoro_coroID(), (void **)&out);
  int64_t a = 0, b = 1;
  for (int i = 0; i < count; i++) {
    *out = b;
    dyco_asymcoroyield(); /* back to whoever resumed us */
    int64_t next = a + b;
    a = b;
    b = next;
  }
}

static int shared_gen;
static int64_t shared_value;
static int wrong;

/* A coroutine of the scheduler: sleeps, then takes the next number from
 * the generator; the other coroutines keep running meanwhile. */
static void consumer(void *arg) {
  const int id = (int)(intptr_t)arg;
  dyco_coroutine_sleep((uint32_t)(10 * id));
  int r = dyco_asymcororesume(shared_gen);
  if (r > 0) {
    printf("  coroutine %d got %lld\n", id, (long long)shared_value);
  } else if (r == 0) {
    printf("  coroutine %d: the generator has finished\n", id);
  } else {
    printf("  coroutine %d: %s\n", id, strerror(-r));
  }
}

int main(void) {
  /* A. The thread resumes a generator on a private stack until it ends. */
  printf("A. Fibonacci numbers from a generator, no scheduler:\n");
  int count = 12;
  int64_t value = 0;
  int gen = dyco_asymcoro_create(fibonacci, &count);
  if (gen < 0 || dyco_asymcoro_setStack(gen, NULL, 64 * 1024) != 1) {
    return 1;
  }
  dyco_asymcoro_setUdata(gen, &value);
  const int64_t expect[12] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144};
  int n = 0;
  while (dyco_asymcororesume(gen) > 0) {
    printf("  %lld\n", (long long)value);
    wrong += n >= 12 || value != expect[n];
    n++;
  }
  wrong += n != 12;
  dyco_asymcoro_free(gen);

  /* B. One generator (on the shared stack), made by the thread, resumed by
   * six coroutines of a running scheduler in turn. */
  printf("B. one generator, six coroutines:\n");
  count = 4;
  shared_gen = dyco_asymcoro_create(fibonacci, &count);
  dyco_asymcoro_setUdata(shared_gen, &shared_value);
  for (int i = 1; i <= 6; i++) {
    dyco_coroutine_create(consumer, (void *)(intptr_t)i);
  }
  dyco_schedule_run();
  wrong += dyco_asymcororesume(shared_gen) >= 0; /* finished: an error now */
  wrong += dyco_coroutine_isasymmetric(shared_gen) != 1;
  dyco_asymcoro_free(shared_gen);
  dyco_schedule_free(dyco_schedule_self());
  printf(wrong == 0 ? "ok\n" : "WRONG\n");
  return wrong == 0 ? 0 : 1;
}
