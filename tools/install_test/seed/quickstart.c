/* dyco — seed-style test: the seed's quick start. Arguments by pointer, the
 * coroutine's udata read back into a dyco_semaphore * (no cast, as the
 * seed's README wrote it), coroutines created from coroutines, a private
 * stack set from main, blocking-style sockets through the hooks, and
 * fork() + exec() + dyco_signal_waitchild(pid, &status, 3000). */
#include <arpa/inet.h>

#include "dyco/dyco_coroutine.h"

struct foobarargs {
  int arg1;
  char *arg2;
};

static int children_seen;
static int helpers_ran;
static int exit_code = -1;
static int timed_out = -1;

static void helper(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(10);
  helpers_ran++;
}

static void foobar(void *arg) {
  struct foobarargs *args = arg;
  int cid = dyco_coroutine_coroID();
  dyco_semaphore *sem;
  DYCO_MUST(dyco_coroutine_getUdata(cid, &sem) == 0);
  DYCO_MUST(sem != NULL && args->arg1 == 7 && strcmp(args->arg2, "seven") == 0);
  DYCO_MUST(dyco_semaphore_wait(sem, -1) == 0);
  dyco_coroutine_create(helper, NULL);
  dyco_coroutine_sleep(20);

  /* A socket pair through the hooks: plain calls, yielding. */
  int sv[2];
  DYCO_MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  DYCO_MUST(send(sv[0], "ping", 4, 0) == 4);
  char buf[8];
  DYCO_MUST(recv(sv[1], buf, sizeof buf, 0) == 4);
  close(sv[0]);
  close(sv[1]);

  int status;
  int ret = fork();
  if (ret == 0) {
    execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
    _exit(127);
  } else if (ret < 0) {
    DYCO_ABORT();
  }
  /* Wait child for 3000 ms. */
  int got = dyco_signal_waitchild(ret, &status, 3000);
  DYCO_MUST(got == ret && WIFEXITED(status));
  exit_code = WEXITSTATUS(status);
  children_seen++;

  /* A child that outlives the timeout: < 0 (the seed documents "pid, < 0
   * error" and names no timeout value: dyco says -ETIMEDOUT), then it is
   * still ours to reap. */
  ret = fork();
  if (ret == 0) {
    execl("/bin/sh", "sh", "-c", "sleep 5", (char *)NULL);
    _exit(127);
  }
  timed_out = dyco_signal_waitchild(ret, &status, 50);
  kill(ret, SIGKILL);
  DYCO_MUST(dyco_signal_waitchild(ret, &status, -1) == ret);
  DYCO_MUST(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  children_seen++;
  dyco_semaphore_signal(sem);
}

int main(void) {
  struct foobarargs *args = calloc(1, sizeof(struct foobarargs));
  args->arg1 = 7;
  args->arg2 = "seven";
  int cid = dyco_coroutine_create(foobar, args);
  DYCO_MUST(dyco_coroutine_setStack(cid, NULL, 4096) == 1);
  dyco_semaphore *sem = dyco_semaphore_create(3);
  DYCO_MUST(dyco_coroutine_setUdata(cid, sem) == 0);
  DYCO_MUST(dyco_schedule_run() == 0);
  DYCO_MUST(children_seen == 2 && exit_code == 3 && timed_out == -ETIMEDOUT);
  DYCO_MUST(helpers_ran == 1);
  dyco_semaphore_destroy(&sem);
  free(args);
  printf("quickstart: passed\n");
  return 0;
}
