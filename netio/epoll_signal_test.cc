// dyco — netio layer tests: a coroutine's own epoll instance, signals
// through dyco_signal_*, children through dyco_signal_waitchild (fork+exec
// from coroutines).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/epoll.h"
#include "netio/signal.h"
#include "netio/socket.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;
using dyco_test::Ticker;

using NetioEpollTest = SchedTest;
using NetioSignalTest = SchedTest;

TEST_F(NetioEpollTest, EachCoroutineHasItsOwnInstance) {
  EXPECT_EQ(-EPERM, dyco_epoll_init());
  int a[2];
  ASSERT_EQ(0, pipe(a));
  Ticker t;
  t.Start();
  int lowest_free = -1;
  Go([&] {
    lowest_free = dup(0);
    close(lowest_free);
    epoll_event out[4];
    EXPECT_EQ(-EBADF, dyco_epoll_wait(out, 4, 0));
    ASSERT_EQ(0, dyco_epoll_init());
    EXPECT_EQ(-EEXIST, dyco_epoll_init());
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u32 = 77;
    ASSERT_EQ(0, dyco_epoll_add(a[0], &ev));
    EXPECT_EQ(-EEXIST, dyco_epoll_add(a[0], &ev));
    // Timeout: 0 events after the time, the scheduler running meanwhile
    // (longer where everything is slow: a loaded machine under valgrind
    // let the 2 ms ticker run once in 40 ms).
    const int wait_ms = dyco_test::Slow() ? 200 : 40;
    double start = NowMs();
    int before = t.ticks;
    EXPECT_EQ(0, dyco_epoll_wait(out, 4, wait_ms));
    EXPECT_GE(NowMs() - start, wait_ms - 1);
    EXPECT_GT(t.ticks - before, 3);
    Go([&] {
      dyco_coroutine_sleep(20);
      dyco_write(a[1], "!", 1);
    });
    ASSERT_EQ(1, dyco_epoll_wait(out, 4, -1));
    EXPECT_EQ(77u, out[0].data.u32);
    EXPECT_TRUE(out[0].events & EPOLLIN);
    EXPECT_EQ(0, dyco_epoll_del(a[0], nullptr));
    EXPECT_EQ(0, dyco_epoll_wait(out, 4, 0));
    dyco_epoll_destroy();
    EXPECT_EQ(-EBADF, dyco_epoll_add(a[0], &ev));
    t.stop = true;
  });
  // Another coroutine's instance is another instance.
  Go([&] {
    EXPECT_EQ(0, dyco_epoll_init());
    epoll_event out[1];
    EXPECT_EQ(0, dyco_epoll_wait(out, 1, 0));
    // Not destroyed: closed when the coroutine ends.
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // Both instances are closed: the lowest free fd is what it was.
  int fd = dup(0);
  EXPECT_EQ(lowest_free, fd);
  close(fd);
  close(a[0]);
  close(a[1]);
}

bool Blocked(int sig) {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  return sigismember(&cur, sig) == 1;
}

TEST_F(NetioSignalTest, SignalWaitReceivesTheSignalAndDestroyRestoresTheMask) {
  // SIGUSR2 was blocked before: it stays blocked afterwards.
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
  ASSERT_FALSE(Blocked(SIGUSR1));
  EXPECT_EQ(-EPERM, dyco_signal_init(&usr2));
  Go([&] {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    ASSERT_EQ(0, dyco_signal_init(&mask));
    EXPECT_EQ(-EEXIST, dyco_signal_init(&mask));
    EXPECT_TRUE(Blocked(SIGUSR1));
    struct signalfd_siginfo si;
    double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_signal_wait(&si, 30));
    EXPECT_GE(NowMs() - start, 29);
    EXPECT_EQ(-ETIMEDOUT, dyco_signal_wait(&si, 0));
    Go([] {
      dyco_coroutine_sleep(20);
      kill(getpid(), SIGUSR1);
    });
    ASSERT_EQ(static_cast<int>(sizeof si), dyco_signal_wait(&si, 5000));
    EXPECT_EQ(static_cast<uint32_t>(SIGUSR1), si.ssi_signo);
    EXPECT_EQ(static_cast<uint32_t>(getpid()), si.ssi_pid);
    dyco_signal_destroy();
    EXPECT_FALSE(Blocked(SIGUSR1));
    EXPECT_TRUE(Blocked(SIGUSR2));
    EXPECT_EQ(-EINVAL, dyco_signal_wait(&si, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_FALSE(Blocked(SIGUSR1));
  EXPECT_TRUE(Blocked(SIGUSR2));
  pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr);
}

TEST_F(NetioSignalTest, TwoCoroutinesShareASignalUntilTheLastLetsGo) {
  Go([&] {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    ASSERT_EQ(0, dyco_signal_init(&mask));
    dyco_coroutine_sleep(30);
    EXPECT_TRUE(Blocked(SIGUSR1));  // the other one still wants it
    dyco_signal_destroy();
    EXPECT_FALSE(Blocked(SIGUSR1));
  });
  Go([&] {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    ASSERT_EQ(0, dyco_signal_init(&mask));
    dyco_coroutine_sleep(10);
    // Ends without dyco_signal_destroy: done for it.
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_FALSE(Blocked(SIGUSR1));
}

TEST_F(NetioSignalTest, ManyCoroutinesEachWaitForTheirOwnChild) {
  constexpr int kChildren = 6;
  std::vector<int> codes(kChildren, -1);
  Ticker t;
  t.Start();
  int done = 0;
  for (int i = 0; i < kChildren; ++i) {
    Go([&, i] {
      pid_t pid = fork();
      if (pid == 0) {
        // The child runs a real program: the shell, exiting with i after
        // a nap that gets shorter with i.
        char cmd[64];
        snprintf(cmd, sizeof cmd, "sleep 0.%d; exit %d", kChildren - i, i);
        execl("/bin/sh", "sh", "-c", cmd, static_cast<char *>(nullptr));
        _exit(127);
      }
      ASSERT_GT(pid, 0);
      int status = 0;
      ASSERT_EQ(pid, dyco_signal_waitchild(pid, &status, -1));
      ASSERT_TRUE(WIFEXITED(status));
      codes[i] = WEXITSTATUS(status);
      if (++done == kChildren) {
        t.stop = true;
      }
    });
  }
  const double start = NowMs();
  ASSERT_EQ(0, dyco_schedule_run());
  for (int i = 0; i < kChildren; ++i) {
    EXPECT_EQ(i, codes[i]);
  }
  // They waited at once, not one after another (which would take 2.1 s).
  EXPECT_LT(NowMs() - start, 1900);
  EXPECT_GT(t.ticks, 50);
}

TEST_F(NetioSignalTest, WaitChildTimesOutAndKnowsItsChildren) {
  Go([&] {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", "sleep 5", static_cast<char *>(nullptr));
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    // A timeout is -ETIMEDOUT, as dyco_signal_wait's (docs/errors.md).
    EXPECT_EQ(-ETIMEDOUT, dyco_signal_waitchild(pid, &status, 0));
    double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_signal_waitchild(pid, &status, 40));
    EXPECT_GE(NowMs() - start, 39);
    kill(pid, SIGKILL);
    EXPECT_EQ(pid, dyco_signal_waitchild(pid, &status, -1));
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(SIGKILL, WTERMSIG(status));
    EXPECT_EQ(-ECHILD, dyco_signal_waitchild(pid, &status, 10));
    EXPECT_EQ(-ECHILD, dyco_signal_waitchild(1, &status, 10));
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

}  // namespace
