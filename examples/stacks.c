/* dyco example: shared and private stacks.
 * By default coroutines take turns on one shared stack (little memory, a
 * copy of the used bytes on each switch). setStack gives one a private
 * stack: one from dyco's cache (with a guard page) or one of your own. */
#include <stdio.h>
#include <stdlib.h>

#include "dyco.h"

static void show(void *arg) {
  const char *what = arg;
  void *stack;
  size_t size;
  int priv = dyco_coroutine_getStack(dyco_coroutine_coroID(), &stack, &size);
  char local;
  printf(
      "%-12s coroutine %d: %s stack of %zu bytes, a local lives %zu bytes "
      "below its top\n",
      what, dyco_coroutine_coroID(), priv ? "private" : "shared", size,
      (size_t)((char *)stack + size - &local));
  dyco_coroutine_yield();
}

int main(void) {
  dyco_schedule_create(128 * 1024, 0); /* a 128 KiB shared stack */
  dyco_coroutine_create(show, "shared");
  dyco_coroutine_create(show, "shared");
  int cached = dyco_coroutine_create(show, "from cache");
  if (dyco_coroutine_setStack(cached, NULL, 64 * 1024) != 1) {
    return 1;
  }
  static char mine[32 * 1024];
  int own = dyco_coroutine_create(show, "your own");
  if (dyco_coroutine_setStack(own, mine, sizeof mine) != 1) {
    return 1;
  }
  int undone = dyco_coroutine_create(show, "back shared");
  dyco_coroutine_setStack(undone, NULL, 64 * 1024);
  dyco_coroutine_setStack(undone, NULL, 0); /* cancelled: shared again */
  if (dyco_schedule_run() != 0) {
    return 1;
  }
  puts("done");
  return 0;
}
