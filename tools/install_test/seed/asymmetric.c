/* dyco — seed-style test: asymmetric coroutines as generators. A: the main
 * thread resumes a Fibonacci generator until it ends. B: one generator made
 * in main, resumed once each by eight scheduler coroutines in turn. C: two
 * coroutines each drive a generator of their own, interleaved. Inside a
 * generator dyco_coroutine_coroID names the generator itself. */
#include "dyco/dyco_coroutine.h"

static int id_mismatch;

static void fibo_gen(void *arg) {
  int *times = arg;
  int f1 = 1, f2 = 1, f3;
  int *number = NULL;
  int self = dyco_asymcoro_coroID();
  dyco_asymcoro_getUdata(self, &number);
  printf("[fibo_gen] I am coro %d. I can generate fibonacci array\n",
         dyco_coroutine_coroID());
  if (dyco_coroutine_coroID() != self ||
      dyco_coroutine_isasymmetric(dyco_coroutine_coroID()) != 1) {
    id_mismatch++;
  }
  if (*times <= 0) {
    return;
  }
  *number = 1;
  if (*times == 1) {
    return;
  }
  dyco_asymcoroyield(); /* 1 */
  dyco_asymcoroyield(); /* 1 */
  for (int i = 2; i < *times; i++) {
    f3 = f1 + f2;
    f1 = f2;
    f2 = f3;
    *number = f3;
    dyco_asymcoroyield(); /* 2 3 5 8 ... */
  }
  *number = -1;
}

static int fibogencid;
static int b_values[8];
static int b_rets[8];

static void foo(void *arg) {
  int idx = *(int *)arg;
  dyco_coroutine_sleep((uint32_t)(idx + 1) * 10);
  int *number = NULL;
  if (dyco_asymcoro_getUdata(fibogencid, &number) != 0) {
    b_rets[idx] = -1000; /* freed already */
    return;
  }
  int ret = dyco_asymcororesume(fibogencid);
  b_rets[idx] = ret;
  b_values[idx] = *number;
  printf("[+] coro %d get: %d. ret = %d\n", dyco_coroutine_coroID(), *number,
         ret);
  if (ret == 0) {
    dyco_asymcoro_free(fibogencid);
  }
}

static int c_seen[2][16];
static int c_count[2];

static void bar(void *arg) {
  int which = *(int *)arg;
  int *times = malloc(sizeof(int));
  *times = 10;
  int cid = dyco_asymcoro_create(fibo_gen, times);
  assert(cid > 0);
  int *number = malloc(sizeof(int));
  *number = 0;
  dyco_asymcoro_setUdata(cid, number);
  DYCO_MUST(dyco_asymcoro_setStack(cid, NULL, 4096) == 1);
  while (dyco_asymcororesume(cid)) {
    c_seen[which][c_count[which]++] = *number;
    dyco_coroutine_sleep(which == 0 ? 9 : 5);
  }
  c_seen[which][c_count[which]++] = *number;
  dyco_asymcoro_free(cid);
  free(times);
  free(number);
}

int main(void) {
  /* A */
  int *times = malloc(sizeof(int));
  *times = 30;
  int cid = dyco_asymcoro_create(fibo_gen, times);
  assert(cid > 0);
  int *number = malloc(sizeof(int));
  *number = 0;
  dyco_asymcoro_setUdata(cid, number);
  dyco_asymcoro_setStack(cid, NULL, 4096);
  int i = 0, a = 0, b = 1, ok = 1;
  while (dyco_asymcororesume(cid)) {
    printf("%dth generate: %d\n", ++i, *number);
    ok &= *number == b;
    int t = a + b;
    a = b;
    b = t;
  }
  DYCO_MUST(ok && i == 30 && *number == -1);
  dyco_asymcoro_free(cid);
  printf("first asymmetric coroutine finished.\n");

  /* B */
  *times = 4;
  fibogencid = dyco_asymcoro_create(fibo_gen, times);
  *number = -1;
  dyco_asymcoro_setUdata(fibogencid, number);
  int idx[8];
  for (i = 0; i < 8; i++) {
    idx[i] = i;
    dyco_coroutine_create(foo, idx + i);
  }
  DYCO_MUST(dyco_schedule_run() == 0);
  /* Yields 1, 1, 2 and ends (-1) on the fourth resume; then it is gone. */
  int want_v[4] = {1, 1, 2, 3},
      want_r[4] = {fibogencid, fibogencid, fibogencid, fibogencid};
  for (i = 0; i < 4; i++) {
    DYCO_MUST(b_values[i] == want_v[i] && b_rets[i] == want_r[i]);
  }
  DYCO_MUST(b_rets[4] == 0 && b_values[4] == -1);
  for (i = 5; i < 8; i++) {
    DYCO_MUST(b_rets[i] == -1000);
  }
  printf("second asymmetric coroutine finished.\n");

  /* C */
  int which[2] = {0, 1};
  dyco_coroutine_create(bar, which);
  dyco_coroutine_create(bar, which + 1);
  DYCO_MUST(dyco_schedule_run() == 0);
  /* Ten yields, then the end (-1). */
  int fib10[11] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, -1};
  for (int w = 0; w < 2; w++) {
    DYCO_MUST(c_count[w] == 11);
    for (i = 0; i < 11; i++) {
      DYCO_MUST(c_seen[w][i] == fib10[i]);
    }
  }
  DYCO_MUST(id_mismatch == 0);
  free(times);
  free(number);
  printf("asymmetric: passed\n");
  return 0;
}
