/* dyco — for tools/gdb/dyco_test.sh: three coroutines, each on a private
 * stack, blocked in three different places, and a fourth that stops at
 * dyco_gdb_stop_here for the debugger to look at them (and, with
 * DYCO_GDB_ABORT set, aborts there, for a core file). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"

static int fds[2];
static dyco_waitq queue;

__attribute__((noinline)) void dyco_gdb_stop_here(void);
__attribute__((noinline)) void dyco_gdb_stop_here(void) {
  __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void sleeper(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(100000);
}

static __attribute__((noinline)) void reader(void *arg) {
  (void)arg;
  dyco_coroutine_waitRead(fds[0], -1);
}

static __attribute__((noinline)) void queued(void *arg) {
  (void)arg;
  dyco_waitq_wait(&queue, -1, NULL);
}

static void stopper(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(10); /* the three are blocked by now */
  dyco_gdb_stop_here();
  if (getenv("DYCO_GDB_ABORT") != NULL) {
    abort(); /* for a core file made by the kernel */
  }
  dyco_schedcall_abort(); /* the debugger lets it go: end everything */
}

int main(void) {
  if (pipe(fds) != 0) {
    return 1;
  }
  dyco_waitq_init(&queue, NULL);
  proc_coroutine fns[3] = {sleeper, reader, queued};
  for (int i = 0; i < 3; i++) {
    int cid = dyco_coroutine_create(fns[i], NULL);
    if (cid < 0 || dyco_coroutine_setStack(cid, NULL, 64 * 1024) != 1) {
      return 1;
    }
  }
  dyco_coroutine_create(stopper, NULL);
  dyco_schedule_run();
  puts("stopped: done");
  return 0;
}
