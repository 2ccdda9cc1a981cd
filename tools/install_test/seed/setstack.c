/* dyco — seed-style test: shared and private stacks. Three coroutines run
 * on the scheduler's shared stack (the seed's 64 KiB), three on stacks of
 * the program's own (dyco_coroutine_setStack), three on stacks dyco
 * allocates; each keeps a pattern in its frame across sleeps, and
 * dyco_coroutine_getStack says which stack each runs on. */
#include "dyco/dyco_coroutine.h"

#define OWN 16384
static char own[3][OWN];
static int finished;

static void corofun(void *arg) {
  int want = *(int *)arg; /* 0 shared, 1 private */
  int cid = dyco_coroutine_coroID();
  void *stack = NULL;
  size_t size = 0;
  int priv = dyco_coroutine_getStack(cid, &stack, &size);
  DYCO_MUST(priv == want);
  if (priv == 0) {
    DYCO_MUST(size == DYCO_MAX_STACKSIZE); /* the seed's shared stack */
  }
  char local[256];
  int counter = 0;
  for (size_t i = 0; i < sizeof local; i++) {
    local[i] = (char)(cid + i);
  }
  /* The frame is on the stack getStack named. */
  DYCO_MUST((char *)local >= (char *)stack &&
            (char *)local < (char *)stack + size);
  for (int i = 0; i < 5; i++) {
    printf("I am coro %d [ownstack? %d]. I will calculate %d + %d\n", cid, priv,
           counter, i);
    dyco_coroutine_sleep(10);
    counter += i;
  }
  for (size_t i = 0; i < sizeof local; i++) {
    DYCO_MUST(local[i] == (char)(cid + i));
  }
  DYCO_MUST(counter == 10);
  finished++;
}

int main(void) {
  int shared = 0, priv = 1;
  for (int i = 0; i < 3; i++) {
    DYCO_MUST(dyco_coroutine_create(corofun, &shared) > 0);
  }
  for (int i = 0; i < 3; i++) {
    int cid = dyco_coroutine_create(corofun, &priv);
    int ret = dyco_coroutine_setStack(cid, own[i], OWN);
    assert(ret == 1);
    void *p = NULL;
    size_t n = 0;
    DYCO_MUST(dyco_coroutine_getStack(cid, &p, &n) == 1);
    DYCO_MUST(p == own[i] && n == OWN);
  }
  for (int i = 0; i < 3; i++) {
    int cid = dyco_coroutine_create(corofun, &priv);
    DYCO_MUST(dyco_coroutine_setStack(cid, NULL, DYCO_DEFAULT_STACKSIZE) == 1);
  }
  /* Set and cancelled: back on the shared stack. */
  int cid = dyco_coroutine_create(corofun, &shared);
  DYCO_MUST(dyco_coroutine_setStack(cid, NULL, 32768) == 1);
  DYCO_MUST(dyco_coroutine_setStack(cid, NULL, 0) == 0);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  DYCO_MUST(finished == 10);
  printf("setstack: passed\n");
  return 0;
}
