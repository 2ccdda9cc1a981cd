/* dyco example: stack check and the overflow report.
 * A recursive coroutine asks dyco_coroutine_checkStack before going deeper
 * and stops in time. Another one (in a child process) recurses blindly: it
 * hits the guard page below its stack, and dyco names it before aborting. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dyco.h"

static int careful(int depth) {
  volatile char frame[256];
  frame[0] = (char)depth;
  if (dyco_coroutine_checkStack() == 1) {
    return depth;
  }
  /* The frame must outlive the call (no tail call), or the recursion
   * would never grow the stack. */
  int deeper = careful(depth + 1);
  return frame[0] == (char)depth ? deeper : -1;
}

static void recurse_carefully(void *arg) {
  (void)arg;
  printf("careful coroutine stopped at depth %d, with 1/8 of its stack left\n",
         careful(0));
}

static volatile int forever = 1;

static int reckless(int depth) {
  volatile char frame[256];
  frame[0] = (char)depth;
  int deeper = forever ? reckless(depth + 1) : 0;
  return deeper + frame[0];
}

static void recurse_blindly(void *arg) {
  (void)arg;
  reckless(0);
}

int main(void) {
  int cid = dyco_coroutine_create(recurse_carefully, NULL);
  dyco_coroutine_setStack(cid, NULL, 64 * 1024);
  dyco_schedule_run();

  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    cid = dyco_coroutine_create(recurse_blindly, NULL);
    dyco_coroutine_setStack(cid, NULL, 32 * 1024);
    dyco_schedule_run();
    _exit(0); /* not reached */
  }
  int status;
  waitpid(child, &status, 0);
  printf("the reckless child %s\n",
         WIFSIGNALED(status) ? "was stopped by a signal, as reported above"
                             : "exited?");
  return WIFSIGNALED(status) ? 0 : 1;
}
