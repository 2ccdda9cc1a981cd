/* dyco — seed-style test: signals and children. One coroutine waits for
 * SIGUSR1 with dyco_signal_wait (first timing out, then getting it from
 * another coroutine's kill); another forks a child that exits with 2 and
 * waits for it with dyco_signal_waitchild; a third keeps counting sleeps,
 * which it could not if a wait blocked the thread. */
#include "dyco/dyco_coroutine.h"

static int got_signal;
static int child_status = -1;
static int ticks;
static int done;

static void wait_signal(void *arg) {
  (void)arg;
  sigset_t sigmask;
  struct signalfd_siginfo fdsi;
  sigemptyset(&sigmask);
  sigaddset(&sigmask, SIGUSR1);
  DYCO_MUST(dyco_signal_init(&sigmask) == 0);
  int ret = dyco_signal_wait(&fdsi, 30);
  DYCO_MUST(ret < 0); /* nothing yet */
  ret = dyco_signal_wait(&fdsi, -1);
  DYCO_MUST(ret == (int)sizeof(struct signalfd_siginfo));
  assert(fdsi.ssi_signo == SIGUSR1);
  printf("[wait_signal] I am coro %d. Now I detected SIGUSR1\n",
         dyco_coroutine_coroID());
  got_signal = 1;
  dyco_signal_destroy();
  done++;
}

static void send_signal(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(60);
  DYCO_MUST(kill(getpid(), SIGUSR1) == 0);
}

static void wait_child(void *arg) {
  (void)arg;
  int status;
  pid_t pid = fork();
  if (pid == 0) {
    usleep(50 * 1000); /* the hooks leave a child's calls alone */
    _exit(2);
  }
  DYCO_MUST(pid > 0);
  int ret = dyco_signal_waitchild(pid, &status, -1);
  DYCO_MUST(ret == pid);
  assert(WIFEXITED(status));
  child_status = WEXITSTATUS(status);
  printf("[wait_child] I am coro %d. I wait my child, status is %d\n",
         dyco_coroutine_coroID(), child_status);
  done++;
}

static void ticker(void *arg) {
  (void)arg;
  while (done < 2) {
    dyco_coroutine_sleep(5);
    ticks++;
  }
}

int main(void) {
  dyco_coroutine_create(wait_signal, NULL);
  dyco_coroutine_create(send_signal, NULL);
  dyco_coroutine_create(wait_child, NULL);
  dyco_coroutine_create(ticker, NULL);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  DYCO_MUST(got_signal == 1 && child_status == 2);
  DYCO_MUST(ticks >= 5);
  /* The signal is not blocked any more. */
  sigset_t now;
  sigprocmask(SIG_SETMASK, NULL, &now);
  DYCO_MUST(!sigismember(&now, SIGUSR1));
  printf("signal: passed\n");
  return 0;
}
