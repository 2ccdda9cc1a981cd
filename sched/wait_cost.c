/* dyco — a cost probe: N yields, or N wake-ups between two coroutines of
 * one thread, for counting instructions under cachegrind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"

static long n;
static dyco_waitq qa, qb;

static void yielder(void *arg) {
  (void)arg;
  for (long i = 0; i < n; i++) {
    dyco_coroutine_yield();
  }
}

static void ping(void *arg) {
  (void)arg;
  for (long i = 0; i < n; i++) {
    dyco_waitq_wakeOne(&qb, 1);
    dyco_waitq_wait(&qa, -1, NULL);
  }
  dyco_waitq_wakeOne(&qb, 1);
}

static void pong(void *arg) {
  (void)arg;
  for (long i = 0; i < n; i++) {
    dyco_waitq_wait(&qb, -1, NULL);
    dyco_waitq_wakeOne(&qa, 1);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s yield|wake N\n", argv[0]);
    return 2;
  }
  n = atol(argv[2]);
  dyco_waitq_init(&qa, NULL);
  dyco_waitq_init(&qb, NULL);
  if (strcmp(argv[1], "yield") == 0) {
    dyco_coroutine_create(yielder, NULL);
    dyco_coroutine_create(yielder, NULL);
  } else {
    dyco_coroutine_create(pong, NULL);
    dyco_coroutine_create(ping, NULL);
  }
  dyco_schedule_run();
  return 0;
}
