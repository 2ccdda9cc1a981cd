/* dyco example: signals and children.
 * A coroutine waits for SIGUSR1 with dyco_signal_wait while others run; two
 * coroutines each fork and exec a child (sleep, then exit with a code of
 * its own) and wait for their own child with dyco_signal_waitchild. */
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dyco.h"

static void signal_waiter(void *arg) {
  (void)arg;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  dyco_signal_init(&mask);
  struct signalfd_siginfo si;
  if (dyco_signal_wait(&si, 2000) > 0) {
    printf("got signal %u (SIGUSR1)\n", si.ssi_signo);
  }
  dyco_signal_destroy();
}

static void sender(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(50);
  kill(getpid(), SIGUSR1);
}

static void parent(void *arg) {
  long code = (long)arg;
  pid_t child = fork();
  if (child == 0) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "sleep 0.1; exit %ld", code);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (dyco_signal_waitchild(child, &status, 5000) == child &&
      WIFEXITED(status)) {
    printf("child %d exited with %d\n", (int)child, WEXITSTATUS(status));
  }
}

int main(void) {
  dyco_coroutine_create(signal_waiter, NULL);
  dyco_coroutine_create(sender, NULL);
  dyco_coroutine_create(parent, (void *)3L);
  dyco_coroutine_create(parent, (void *)7L);
  return dyco_schedule_run();
}
