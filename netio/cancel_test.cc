// dyco — netio layer tests: a coroutine cancelled, or past its deadline,
// while blocked in each hooked libc call, dyco_blocking_call, and the signal
// and child waits (a table) fails at once the libc way, -1 with errno
// ECANCELED or ETIMEDOUT; a call's own timeout keeps its libc answer.
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/blocking.h"
#include "netio/hook.h"
#include "netio/signal.h"
}

namespace {

using dyco_test::FdCount;
using dyco_test::Go;
using dyco_test::NowMs;

uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

bool Suspended(int cid) {
  dyco_coroutine_info info;
  return dyco_coroutine_getInfo(cid, &info) == 0 &&
         (info.state == DYCO_COROUTINE_WAITING ||
          info.state == DYCO_COROUTINE_SLEEPING);
}

double Slack() { return dyco_test::Slow() ? 200 : 20; }

// The fds and the child the calls block on.
struct Things {
  int pipe_fds[2] = {-1, -1};
  int pair[2] = {-1, -1};
  int listener = -1;
  int ep = -1;
  pid_t child = -1;
  Things() {
    EXPECT_EQ(0, pipe(pipe_fds));
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
    listener = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GT(dyco_test::BindAndListen(listener), 0);
    ep = epoll_create1(0);
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = pipe_fds[0];
    EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, pipe_fds[0], &ev));
    if (!dyco_test::NoFork()) {
      child = fork();
      if (child == 0) {
        pause();
        _exit(0);
      }
    }
  }
  ~Things() {
    for (int fd : {pipe_fds[0], pipe_fds[1], pair[0], pair[1], listener, ep}) {
      close(fd);
    }
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
  }
};

struct Point {
  std::string name;
  std::function<int()> block;  // -errno, or what it returned
};

// A hooked call's result as -errno (or its value when it did not fail).
int Libc(long r) { return r < 0 ? -errno : static_cast<int>(r); }

intptr_t SlowFn(void *arg) {
  // A worker's blocking work: a plain wait on a pipe nobody writes to,
  // given up after 2 s (its caller has long gone by then; with 200 ms, a
  // stall of the whole process across both the caller's 20 ms deadline and
  // the end of the work let the work's result win, as it should). The
  // argument is fn's: a cancelled caller leaves it behind.
  int *fd = static_cast<int *>(arg);
  struct pollfd p = {*fd, POLLIN, 0};
  int r = poll(&p, 1, 2000);
  delete fd;
  return r;
}

std::vector<Point> Points(Things *t) {
  return {
      {"read",
       [t] {
         char c;
         return Libc(read(t->pipe_fds[0], &c, 1));
       }},
      {"recv",
       [t] {
         char c;
         return Libc(recv(t->pair[0], &c, 1, 0));
       }},
      {"recv_SO_RCVTIMEO",
       [t] {
         struct timeval tv = {10, 0};
         setsockopt(t->pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
         char c;
         int r = Libc(recv(t->pair[0], &c, 1, 0));
         struct timeval zero = {0, 0};
         setsockopt(t->pair[0], SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
         return r;
       }},
      {"accept", [t] { return Libc(accept(t->listener, nullptr, nullptr)); }},
      {"poll",
       [t] {
         struct pollfd p = {t->pipe_fds[0], POLLIN, 0};
         return Libc(poll(&p, 1, 10000));
       }},
      {"poll_forever",
       [t] {
         struct pollfd p = {t->pipe_fds[0], POLLIN, 0};
         return Libc(poll(&p, 1, -1));
       }},
      {"select",
       [t] {
         fd_set rd;
         FD_ZERO(&rd);
         FD_SET(t->pipe_fds[0], &rd);
         struct timeval tv = {10, 0};
         return Libc(select(t->pipe_fds[0] + 1, &rd, nullptr, nullptr, &tv));
       }},
      {"epoll_wait",
       [t] {
         struct epoll_event ev;
         return Libc(epoll_wait(t->ep, &ev, 1, 10000));
       }},
      {"nanosleep",
       [] {
         struct timespec ts = {10, 0};
         return Libc(nanosleep(&ts, nullptr));
       }},
      {"usleep", [] { return Libc(usleep(9000000)); }},
      {"blocking_call",
       [t] {
         // On the heap, and SlowFn's to free: the worker may outlive the
         // call.
         return Libc(dyco_blocking_call(SlowFn, new int(t->pipe_fds[0])));
       }},
      {"signal_wait",
       [] {
         // The signalfd is the coroutine's (and goes when it ends).
         sigset_t m;
         sigemptyset(&m);
         sigaddset(&m, SIGUSR2);
         int r = dyco_signal_init(&m);
         EXPECT_TRUE(r == 0 || r == -EEXIST) << r;
         struct signalfd_siginfo si;
         return dyco_signal_wait(&si, 10000);
       }},
      {"signal_waitchild",
       [t] {
         if (t->child <= 0) {
           return -ECHILD;  // no fork under this emulator: skipped
         }
         int status;
         return dyco_signal_waitchild(t->child, &status, 10000);
       }},
  };
}

class NetCancelTest : public dyco_test::SchedTest {};

struct Outcome {
  int first = 1;
  int again = 1;
  bool done = false;
  double woke_at = 0;
  double took = 0;
  double again_ms = 1e9;
};

// Runs the table from a driver coroutine; shared state lives on the heap
// (the coroutines share one stack).
void Drive(Things *t, const std::function<void(const Point &)> &cell) {
  auto points = std::make_shared<std::vector<Point>>(Points(t));
  Go([cell, points] {
    for (const Point &pt : *points) {
      SCOPED_TRACE(pt.name);
      cell(pt);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

bool Skipped(const Point &pt, int r) {
  return pt.name == "signal_waitchild" && r == -ECHILD;
}

TEST_F(NetCancelTest, EveryHookedCallFailsWithECANCELED) {
  Things t;
  dyco_schedule_schedID();  // its epoll and eventfd, before the count
  int fds = FdCount();
  Drive(&t, [](const Point &pt) {
    auto o = std::make_shared<Outcome>();
    int cid = Go([o, &pt] {
      o->first = pt.block();
      o->woke_at = NowMs();
      double t0 = NowMs();
      o->again = pt.block();
      o->again_ms = NowMs() - t0;
      EXPECT_EQ(1, dyco_coroutine_uncancel());
      o->done = true;
    });
    while (!Suspended(cid)) {
      dyco_coroutine_yield();
    }
    double cancelled_at = NowMs();
    EXPECT_EQ(0, dyco_coroutine_cancel(cid));
    while (!o->done) {
      dyco_coroutine_yield();
    }
    if (Skipped(pt, o->first)) {
      return;
    }
    EXPECT_EQ(-ECANCELED, o->first);
    EXPECT_LT(o->woke_at - cancelled_at, Slack());
    EXPECT_EQ(-ECANCELED, o->again);
    EXPECT_LT(o->again_ms, Slack());
  });
  // Nothing was left open by the calls that gave up (the blocking call's
  // worker thread keeps no fd).
  EXPECT_EQ(fds, FdCount());
}

TEST_F(NetCancelTest, EveryHookedCallFailsWithETIMEDOUTAtTheDeadline) {
  Things t;
  Drive(&t, [](const Point &pt) {
    auto o = std::make_shared<Outcome>();
    Go([o, &pt] {
      double t0 = NowMs();
      ASSERT_EQ(0, dyco_coroutine_setDeadline(MonoNs() + 20 * 1000000u));
      o->first = pt.block();
      o->took = NowMs() - t0;
      t0 = NowMs();
      o->again = pt.block();
      o->again_ms = NowMs() - t0;
      o->done = true;
    });
    while (!o->done) {
      dyco_coroutine_sleep(1);
    }
    if (Skipped(pt, o->first)) {
      return;
    }
    EXPECT_EQ(-ETIMEDOUT, o->first);
    EXPECT_GE(o->took, 19);
    EXPECT_LT(o->took, 20 + 10 * Slack());
    EXPECT_EQ(-ETIMEDOUT, o->again);
    EXPECT_LT(o->again_ms, Slack());
  });
}

// The calls' own timeouts keep their libc answers under a later deadline:
// poll's 0, SO_RCVTIMEO's EAGAIN; under an earlier one, ETIMEDOUT.
TEST_F(NetCancelTest, OwnTimeoutsKeepTheirAnswersTheEarlierWins) {
  Things t;
  Go([&t] {
    ASSERT_EQ(0, dyco_coroutine_setDeadline(MonoNs() + 10000000000ull));
    struct pollfd p = {t.pipe_fds[0], POLLIN, 0};
    EXPECT_EQ(0, poll(&p, 1, 10));
    struct timeval tv = {0, 10000};
    ASSERT_EQ(0,
              setsockopt(t.pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    char c;
    errno = 0;
    EXPECT_EQ(-1, recv(t.pair[0], &c, 1, 0));
    EXPECT_EQ(EAGAIN, errno);
    // Now the deadline is the earlier one.
    ASSERT_EQ(0, dyco_coroutine_setDeadline(MonoNs() + 5000000u));
    tv.tv_usec = 0;
    tv.tv_sec = 10;
    ASSERT_EQ(0,
              setsockopt(t.pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    double t0 = NowMs();
    errno = 0;
    EXPECT_EQ(-1, recv(t.pair[0], &c, 1, 0));
    EXPECT_EQ(ETIMEDOUT, errno);
    EXPECT_LT(NowMs() - t0, 1000);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

}  // namespace
