/* A program in another Bazel workspace, built against single dyco
 * targets: two coroutines taking turns. */
#include <stdio.h>

#include "sched/coroutine.h"
#include "sched/schedule.h"

static void turn(void *arg) {
  for (int i = 0; i < 3; i++) {
    printf("%s %d\n", (const char *)arg, i);
    dyco_coroutine_yield();
  }
}

int main(void) {
  dyco_coroutine_create(turn, "ping");
  dyco_coroutine_create(turn, "pong");
  if (dyco_schedule_run() != 0) return 1;
  puts("consumer: ok");
  return 0;
}
