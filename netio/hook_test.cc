// dyco — netio layer tests: the libc hooks. Plain libc calls yield inside
// coroutines and are libc everywhere else; the rules of docs/netio.md, each
// with a test.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/hook.h"
}

namespace {

using dyco_test::Go;
using dyco_test::Loopback;
using dyco_test::NowMs;
using dyco_test::Pattern;
using dyco_test::SchedTest;
using dyco_test::Ticker;

using NetioHookTest = SchedTest;

TEST_F(NetioHookTest, OutsideCoroutinesEveryHookBlocksLikeLibc) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  // The main thread has no scheduler: recv blocks until the writer writes.
  std::thread writer([&] {
    usleep(40 * 1000);
    EXPECT_EQ(2, write(sv[1], "ok", 2));
  });
  char buf[2];
  double start = NowMs();
  EXPECT_EQ(2, recv(sv[0], buf, 2, MSG_WAITALL));
  EXPECT_GE(NowMs() - start, 30);
  writer.join();
  start = NowMs();
  EXPECT_EQ(0, usleep(30 * 1000));
  EXPECT_GE(NowMs() - start, 29);
  struct pollfd p = {sv[0], POLLIN, 0};
  start = NowMs();
  EXPECT_EQ(0, poll(&p, 1, 30));
  EXPECT_GE(NowMs() - start, 29);
  // A thread with a scheduler, outside its coroutines: the same.
  Go([] {});
  ASSERT_NE(nullptr, dyco_schedule_self());
  start = NowMs();
  EXPECT_EQ(0, poll(&p, 1, 30));
  EXPECT_GE(NowMs() - start, 29);
  EXPECT_EQ(0, dyco_hook_isEnabled());
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[0]);
  close(sv[1]);
}

TEST_F(NetioHookTest, InsideACoroutineReadYieldsToTheOthers) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  Ticker t;
  t.Start();
  std::string got;
  Go([&] {
    EXPECT_EQ(1, dyco_hook_isEnabled());
    char buf[16];
    ssize_t n = read(sv[0], buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.assign(buf, static_cast<size_t>(n));
    t.stop = true;
  });
  Go([&] {
    sleep(0);  // yields
    usleep(30 * 1000);
    EXPECT_EQ(5, write(sv[1], "hello", 5));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("hello", got);
  EXPECT_GE(t.ticks, 5);
  close(sv[0]);
  close(sv[1]);
}

TEST_F(NetioHookTest, AnFdTheUserMadeNonBlockingReturnsEagain) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  Go([&] {
    int fl = fcntl(sv[0], F_GETFL);
    ASSERT_EQ(0, fcntl(sv[0], F_SETFL, fl | O_NONBLOCK));
    char c;
    EXPECT_EQ(-1, read(sv[0], &c, 1));
    EXPECT_EQ(EAGAIN, errno);
    EXPECT_EQ(-1, recv(sv[0], &c, 1, 0));
    EXPECT_EQ(EAGAIN, errno);
    ASSERT_EQ(0, fcntl(sv[0], F_SETFL, fl));
    Go([&] { EXPECT_EQ(1, write(sv[1], "x", 1)); });
    EXPECT_EQ(1, read(sv[0], &c, 1));  // waits for it
    // A socket made in a coroutine is non-blocking underneath, blocking for
    // its user.
    int s = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_FALSE(fcntl(s, F_GETFL) & O_NONBLOCK);
    close(s);
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_TRUE(fcntl(s, F_GETFL) & O_NONBLOCK);
    int port = dyco_test::BindAndListen(s);
    EXPECT_EQ(-1, accept(s, nullptr, nullptr));
    EXPECT_EQ(EAGAIN, errno);
    int c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a = Loopback(port);
    int r = connect(c2, reinterpret_cast<sockaddr *>(&a), sizeof a);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS);
    close(c2);
    close(s);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[0]);
  close(sv[1]);
}

TEST_F(NetioHookTest, SoRcvtimeoAndSoSndtimeoAreHonoured) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  Ticker t;
  t.Start();
  Go([&] {
    timeval tv = {0, 60 * 1000};
    ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    char c;
    double start = NowMs();
    EXPECT_EQ(-1, recv(sv[0], &c, 1, 0));
    EXPECT_EQ(EAGAIN, errno);
    EXPECT_GE(NowMs() - start, 59);
    EXPECT_LT(NowMs() - start, 5000);
    start = NowMs();
    EXPECT_EQ(-1, read(sv[0], &c, 1));
    EXPECT_EQ(EAGAIN, errno);
    EXPECT_GE(NowMs() - start, 59);
    EXPECT_GE(t.ticks, 10);

    ASSERT_EQ(0, setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    std::string big = Pattern(16 << 20, 1);
    start = NowMs();
    ssize_t n = send(sv[1], big.data(), big.size(), 0);
    EXPECT_GT(n, 0);
    EXPECT_LT(n, static_cast<ssize_t>(big.size()));
    EXPECT_GE(NowMs() - start, 59);
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[0]);
  close(sv[1]);
}

TEST_F(NetioHookTest, ABlockingConnectReturnsZeroOrTheRealError) {
  const int closed = dyco_test::ClosedPort();
  int port = -1;
  Go([&] {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    port = dyco_test::BindAndListen(l);
    int c = accept(l, nullptr, nullptr);
    EXPECT_GE(c, 0);
    close(c);
    close(l);
  });
  Go([&] {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(closed);
    EXPECT_EQ(-1, connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a));
    EXPECT_EQ(ECONNREFUSED, errno);
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    a = Loopback(port);
    EXPECT_EQ(0, connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a));
    close(s);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(NetioHookTest, ClosingAnFdWakesItsWaitersAndTheNumberWorksAtOnce) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  std::vector<int> errnos;
  for (int i = 0; i < 3; ++i) {
    Go([&] {
      char c;
      EXPECT_EQ(-1, read(sv[0], &c, 1));
      errnos.push_back(errno);
    });
  }
  int old = sv[0];
  int again[2] = {-1, -1};
  Go([&] {
    dyco_coroutine_sleep(10);
    EXPECT_EQ(0, close(sv[0]));
    dyco_coroutine_sleep(1);
    EXPECT_EQ((std::vector<int>{EBADF, EBADF, EBADF}), errnos);
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, again));
    EXPECT_TRUE(again[0] == old || again[1] == old);
    Go([&] {
      dyco_coroutine_sleep(5);
      EXPECT_EQ(1, write(again[1], "y", 1));
      EXPECT_EQ(1, write(again[0], "z", 1));
    });
    char c;
    const int fd = again[0] == old ? again[0] : again[1];
    EXPECT_EQ(1, read(fd, &c, 1));  // a stale registration would hang here
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[1]);
  close(again[0]);
  close(again[1]);
}

TEST_F(NetioHookTest, AHookCanBeSwitchedOffForOneCoroutine) {
  Ticker t;
  t.Start();
  int during = -1;
  Go([&] {
    EXPECT_EQ(0, dyco_hook_disable());
    EXPECT_EQ(0, dyco_hook_isEnabled());
    const int before = t.ticks;
    usleep(40 * 1000);  // blocks the whole thread
    during = t.ticks - before;
    EXPECT_EQ(0, dyco_hook_enable());
    EXPECT_EQ(1, dyco_hook_isEnabled());
    const int again = t.ticks;
    usleep(40 * 1000);  // yields
    EXPECT_GT(t.ticks - again, 3);
    t.stop = true;
  });
  // Another coroutine's hooks stay on.
  Go([&] { EXPECT_EQ(1, dyco_hook_isEnabled()); });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, during);
  EXPECT_EQ(-EPERM, dyco_hook_disable());
}

// poll inside a coroutine gives what libc gives outside: same results,
// same waits.
TEST_F(NetioHookTest, PollMatchesLibc) {
  int a[2], b[2];
  ASSERT_EQ(0, pipe(a));
  ASSERT_EQ(0, pipe(b));
  ASSERT_EQ(1, write(b[1], "x", 1));
  auto fds = [&] {
    return std::vector<pollfd>{{a[0], POLLIN, 0},
                               {-5, POLLIN, 0},
                               {b[0], POLLIN, 0},
                               {a[1], POLLOUT, 0},
                               {9999, POLLIN, 0}};
  };
  std::vector<pollfd> outside = fds();
  const int r_outside = poll(outside.data(), outside.size(), 0);
  Ticker t;
  t.Start();
  Go([&] {
    std::vector<pollfd> inside = fds();
    EXPECT_EQ(r_outside, poll(inside.data(), inside.size(), 1000));
    for (size_t i = 0; i < inside.size(); ++i) {
      EXPECT_EQ(outside[i].revents, inside[i].revents) << "fd #" << i;
    }
    EXPECT_EQ(0, inside[1].revents);         // negative fds are skipped
    EXPECT_EQ(POLLNVAL, inside[4].revents);  // not an fd
    // Nothing ready, timeout 0: at once.
    char c;
    EXPECT_EQ(1, read(b[0], &c, 1));
    pollfd none[2] = {{a[0], POLLIN, 0}, {b[0], POLLIN, 0}};
    double start = NowMs();
    EXPECT_EQ(0, poll(none, 2, 0));
    EXPECT_LT(NowMs() - start, 20);
    // A timeout: waits that long, yielding.
    const int ticks = t.ticks;
    start = NowMs();
    EXPECT_EQ(0, poll(none, 2, 50));
    EXPECT_GE(NowMs() - start, 49);
    EXPECT_GT(t.ticks - ticks, 5);
    // No fds at all: a sleep.
    start = NowMs();
    EXPECT_EQ(0, poll(nullptr, 0, 20));
    EXPECT_GE(NowMs() - start, 19);
    // Several fds, one becomes ready later.
    Go([&] {
      dyco_coroutine_sleep(30);
      EXPECT_EQ(1, write(b[1], "y", 1));
    });
    start = NowMs();
    EXPECT_EQ(1, poll(none, 2, 5000));
    EXPECT_GE(NowMs() - start, 25);
    EXPECT_EQ(0, none[0].revents);
    EXPECT_EQ(POLLIN, none[1].revents);
    EXPECT_EQ(1, read(b[0], &c, 1));
    // One fd, becoming ready later, and POLLHUP when the writer goes.
    pollfd one = {b[0], POLLIN, 0};
    Go([&] {
      dyco_coroutine_sleep(20);
      close(b[1]);
    });
    EXPECT_EQ(1, poll(&one, 1, -1));
    EXPECT_EQ(POLLHUP, one.revents);
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(a[0]);
  close(a[1]);
  close(b[0]);
}

TEST_F(NetioHookTest, SelectWaitsAndCountsLikeLibc) {
  int a[2];
  ASSERT_EQ(0, pipe(a));
  Ticker t;
  t.Start();
  Go([&] {
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(a[0], &rd);
    FD_SET(a[1], &wr);
    const int n = (a[0] > a[1] ? a[0] : a[1]) + 1;
    timeval tv = {1, 0};
    EXPECT_EQ(1, select(n, &rd, &wr, nullptr, &tv));  // only writable
    EXPECT_FALSE(FD_ISSET(a[0], &rd));
    EXPECT_TRUE(FD_ISSET(a[1], &wr));
    Go([&] {
      dyco_coroutine_sleep(30);
      EXPECT_EQ(1, write(a[1], "q", 1));
    });
    FD_ZERO(&rd);
    FD_SET(a[0], &rd);
    tv = {2, 0};
    const int ticks = t.ticks;
    EXPECT_EQ(1, select(n, &rd, nullptr, nullptr, &tv));
    EXPECT_TRUE(FD_ISSET(a[0], &rd));
    EXPECT_GT(t.ticks - ticks, 3);
    EXPECT_LT(tv.tv_sec, 2);  // Linux leaves the time not slept
    char c;
    EXPECT_EQ(1, read(a[0], &c, 1));
    FD_ZERO(&rd);
    FD_SET(a[0], &rd);
    tv = {0, 30 * 1000};
    double start = NowMs();
    EXPECT_EQ(0, select(n, &rd, nullptr, nullptr, &tv));
    EXPECT_GE(NowMs() - start, 29);
    EXPECT_FALSE(FD_ISSET(a[0], &rd));
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(a[0]);
  close(a[1]);
}

TEST_F(NetioHookTest, EpollWaitOnAnyEpollFdYieldsUntilEventsOrTimeout) {
  int a[2];
  ASSERT_EQ(0, pipe(a));
  Ticker t;
  t.Start();
  Go([&] {
    int ep = epoll_create1(0);
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = a[0];
    ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, a[0], &ev));
    epoll_event out[4];
    double start = NowMs();
    int ticks = t.ticks;
    EXPECT_EQ(0, epoll_wait(ep, out, 4, 40));
    EXPECT_GE(NowMs() - start, 39);
    EXPECT_GT(t.ticks - ticks, 3);
    Go([&] {
      dyco_coroutine_sleep(20);
      EXPECT_EQ(1, write(a[1], "e", 1));
    });
    ASSERT_EQ(1, epoll_wait(ep, out, 4, -1));
    EXPECT_EQ(a[0], out[0].data.fd);
    EXPECT_TRUE(out[0].events & EPOLLIN);
    // Level-triggered and unread: ready again at once.
    EXPECT_EQ(1, epoll_wait(ep, out, 4, 1000));
    close(ep);
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(a[0]);
  close(a[1]);
}

TEST_F(NetioHookTest, SleepsYieldInsideCoroutines) {
  const double start = NowMs();
  Go([] { EXPECT_EQ(0u, sleep(1)); });
  Go([] { EXPECT_EQ(0, usleep(1000 * 1000)); });
  Go([] {
    timespec ts = {1, 0};
    EXPECT_EQ(0, nanosleep(&ts, nullptr));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  const double took = NowMs() - start;
  EXPECT_GE(took, 999);
  EXPECT_LT(took, 2500) << "the sleeps ran one after another";
}

// An echo server in plain blocking code (accept, recv, send), many clients
// at once: every byte comes back, in order.
TEST_F(NetioHookTest, ABlockingStyleEchoServerServesManyClientsAtOnce) {
  const int kClients = dyco_test::Slow() ? 30 : 100;
  int port = -1;
  std::vector<std::string> back(kClients);
  Go([&] {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    port = dyco_test::BindAndListen(l);
    for (int i = 0; i < kClients; ++i) {
      int c = accept(l, nullptr, nullptr);
      ASSERT_GE(c, 0);
      Go([c] {
        char buf[1500];
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0) {
          ASSERT_EQ(n, send(c, buf, static_cast<size_t>(n), 0));
        }
        close(c);
      });
    }
    close(l);
  });
  for (int i = 0; i < kClients; ++i) {
    Go([&, i] {
      const std::string msg = Pattern(20000 + 37 * i, 100 + i);
      int s = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = Loopback(port);
      ASSERT_EQ(0, connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a));
      // Write in uneven pieces, reading back as we go.
      size_t sent = 0, got = 0;
      std::string &out = back[i];
      out.resize(msg.size());
      while (got < msg.size()) {
        if (sent < msg.size()) {
          size_t piece = std::min<size_t>(msg.size() - sent, 700 + 13 * i);
          ASSERT_EQ(static_cast<ssize_t>(piece),
                    write(s, msg.data() + sent, piece));
          sent += piece;
        }
        ssize_t n = read(s, &out[got], msg.size() - got);
        ASSERT_GT(n, 0);
        got += static_cast<size_t>(n);
      }
      close(s);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(back[i] == Pattern(20000 + 37 * i, 100 + i)) << "client " << i;
  }
}

TEST_F(NetioHookTest, Dup2OntoAWaitedFdWakesItsWaiters) {
  int sv[2], other[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, other));
  int waiter_errno = 0;
  Go([&] {
    char c;
    EXPECT_EQ(-1, read(sv[0], &c, 1));
    waiter_errno = errno;
  });
  Go([&] {
    dyco_coroutine_sleep(10);
    EXPECT_EQ(sv[0], dup2(other[0], sv[0]));
    dyco_coroutine_sleep(1);
    EXPECT_EQ(EBADF, waiter_errno);
    // sv[0] is other[0]'s socket now.
    Go([&] { EXPECT_EQ(1, write(other[1], "d", 1)); });
    char c;
    EXPECT_EQ(1, read(sv[0], &c, 1));
    EXPECT_EQ('d', c);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  for (int fd : {sv[0], sv[1], other[0], other[1]}) {
    close(fd);
  }
}

}  // namespace
