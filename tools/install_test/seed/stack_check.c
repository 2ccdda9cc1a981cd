/* dyco — seed-style test: a stack check stops a runaway recursion. On the
 * seed's 64 KiB shared stack, a recursion with 1000-byte frames asks
 * dyco_coroutine_checkStack at every level: it says 1 once more than 7/8 of
 * the stack is used, well before the end, and the coroutine aborts itself;
 * another coroutine goes on. */
#include "dyco/dyco_coroutine.h"

static int deepest;
static int stopped;
static int other_rounds;

static int cal(int num, int depth) {
  if (num == 1 || num == 2) {
    return num;
  }
  char buf[1000] = "foo bar just use memory";
  if (dyco_coroutine_checkStack() != 0) {
    printf("almost overflow at depth %d! Abort...\n", depth);
    deepest = depth;
    stopped = 1;
    dyco_coroutine_abort();
  }
  dyco_coroutine_sleep(0);
  int v = cal(num - 1, depth + 1) + cal(num - 2, depth + 1);
  return v + (buf[0] == 'f' ? 0 : 1);
}

static void fibo(void *arg) {
  int num = *(int *)arg;
  cal(num, 1);
  printf("never: the recursion finished\n");
  exit(1);
}

static void otherfunc(void *arg) {
  (void)arg;
  while (!stopped) {
    dyco_coroutine_sleep(1);
    other_rounds++;
  }
}

int main(void) {
  int fn = 100;
  dyco_coroutine_create(otherfunc, NULL);
  dyco_coroutine_create(fibo, &fn);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  /* 7/8 of 64 KiB in frames of a little over 1000 bytes. */
  DYCO_MUST(stopped == 1);
  DYCO_MUST(deepest >= 30 && deepest <= 57);
  DYCO_MUST(other_rounds >= 1);
  printf("stack_check: passed (stopped at depth %d)\n", deepest);
  return 0;
}
