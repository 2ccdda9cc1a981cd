// dyco — netio layer tests: the dyco_* socket family (no hooks linked):
// yielding waits, blocking semantics kept for blocking fds, EAGAIN for
// non-blocking ones, timeouts, close waking waiters, pipes, libc outside.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/socket.h"
}

namespace {

using dyco_test::Go;
using dyco_test::Loopback;
using dyco_test::NowMs;
using dyco_test::Pattern;
using dyco_test::SchedTest;
using dyco_test::Ticker;

using NetioSocketTest = SchedTest;

// A connected TCP pair made with the dyco calls inside a coroutine.
struct Pair {
  int a = -1;  // the connecting end
  int b = -1;  // the accepted end
};

Pair TcpPair() {
  Pair p;
  int l = dyco_socket(AF_INET, SOCK_STREAM, 0);
  int port = dyco_test::BindAndListen(l);
  p.a = dyco_socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(port);
  int c = dyco_connect(p.a, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
  EXPECT_EQ(0, c) << strerror(errno);
  p.b = dyco_accept(l, nullptr, nullptr);
  EXPECT_GE(p.b, 0) << strerror(errno);
  dyco_close(l);
  return p;
}

TEST_F(NetioSocketTest, EchoesBetweenCoroutinesOverLoopback) {
  constexpr int kClients = 20;
  int listener = -1;
  int port = -1;
  std::vector<std::string> got(kClients);
  Go([&] {
    listener = dyco_socket(AF_INET, SOCK_STREAM, 0);
    port = dyco_test::BindAndListen(listener);
    for (int i = 0; i < kClients; ++i) {
      int c = dyco_accept(listener, nullptr, nullptr);
      ASSERT_GE(c, 0) << strerror(errno);
      Go([c] {
        char buf[1000];
        ssize_t n;
        while ((n = dyco_recv(c, buf, sizeof buf, 0)) > 0) {
          EXPECT_EQ(n, dyco_send(c, buf, static_cast<size_t>(n), 0));
        }
        EXPECT_EQ(0, n);
        dyco_close(c);
      });
    }
    dyco_close(listener);
  });
  for (int i = 0; i < kClients; ++i) {
    Go([&, i] {
      const std::string msg = Pattern(5000 + 100 * i, i);
      int fd = dyco_socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr = Loopback(port);
      ASSERT_EQ(0, dyco_connect(fd, reinterpret_cast<sockaddr *>(&addr),
                                sizeof addr));
      ASSERT_EQ(static_cast<ssize_t>(msg.size()),
                dyco_send(fd, msg.data(), msg.size(), 0));
      std::string back(msg.size(), '\0');
      ASSERT_EQ(static_cast<ssize_t>(msg.size()),
                dyco_recv(fd, &back[0], back.size(), MSG_WAITALL));
      got[i] = back;
      EXPECT_EQ(0, dyco_close(fd));
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(Pattern(5000 + 100 * i, i), got[i]) << "client " << i;
  }
}

TEST_F(NetioSocketTest, ConnectReturnsTheRealErrorNeverEinprogress) {
  const int port = dyco_test::ClosedPort();
  Go([&] {
    int fd = dyco_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(port);
    EXPECT_EQ(
        -1, dyco_connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr));
    EXPECT_EQ(ECONNREFUSED, errno);
    dyco_close(fd);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(NetioSocketTest, SendSendsEverythingWhileTheReaderIsSlow) {
  const std::string big = Pattern(4 << 20, 7);
  std::string got;
  Go([&] {
    Pair p = TcpPair();
    Go([&, p] {
      char buf[65536];
      ssize_t n;
      while ((n = dyco_recv(p.b, buf, sizeof buf, 0)) > 0) {
        got.append(buf, static_cast<size_t>(n));
        dyco_coroutine_yield();
      }
      dyco_close(p.b);
    });
    EXPECT_EQ(static_cast<ssize_t>(big.size()),
              dyco_send(p.a, big.data(), big.size(), 0));
    dyco_close(p.a);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(got == big) << got.size() << " bytes came of " << big.size();
}

// Coroutines run on the shared stack: what nested coroutines share lives in
// the test's own frame, not in a coroutine's.
TEST_F(NetioSocketTest, AnFdTheUserMadeNonBlockingGetsEagain) {
  Pair p;
  Go([&] {
    p = TcpPair();
    ASSERT_EQ(0, dyco_fcntl(p.b, F_SETFL, O_NONBLOCK));
    EXPECT_TRUE(dyco_fcntl(p.b, F_GETFL, 0) & O_NONBLOCK);
    char c;
    EXPECT_EQ(-1, dyco_recv(p.b, &c, 1, 0));
    EXPECT_EQ(EAGAIN, errno);
    EXPECT_EQ(-1, dyco_read(p.b, &c, 1));
    EXPECT_EQ(EAGAIN, errno);
    // Blocking again: now the coroutine waits for the byte.
    ASSERT_EQ(0, dyco_fcntl(p.b, F_SETFL, 0));
    Go([&] {
      dyco_coroutine_sleep(20);
      dyco_send(p.a, "x", 1, 0);
    });
    EXPECT_EQ(1, dyco_recv(p.b, &c, 1, 0));
    // A socket dyco made non-blocking does not say so.
    EXPECT_FALSE(dyco_fcntl(p.a, F_GETFL, 0) & O_NONBLOCK);
    EXPECT_TRUE(fcntl(p.a, F_GETFL) & O_NONBLOCK);

    int l = dyco_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int port = dyco_test::BindAndListen(l);
    EXPECT_EQ(-1, dyco_accept(l, nullptr, nullptr));
    EXPECT_EQ(EAGAIN, errno);
    int nb = dyco_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr = Loopback(port);
    int r = dyco_connect(nb, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS) << strerror(errno);
    for (int fd : {p.a, p.b, l, nb}) {
      dyco_close(fd);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(NetioSocketTest, RcvTimeoAndSndTimeoAreHonoured) {
  Ticker t;
  t.Start(5);
  Go([&] {
    Pair p = TcpPair();
    timeval tv = {0, 80 * 1000};
    ASSERT_EQ(0, dyco_setsockopt(p.b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    char c;
    double start = NowMs();
    EXPECT_EQ(-1, dyco_recv(p.b, &c, 1, 0));
    EXPECT_EQ(EAGAIN, errno);
    double took = NowMs() - start;
    EXPECT_GE(took, 79);
    EXPECT_LT(took, 5000);
    EXPECT_GE(t.ticks, 3) << "the scheduler was blocked";

    // Nobody reads p.b: the send fills the buffers, then times out and
    // reports what went.
    ASSERT_EQ(0, dyco_setsockopt(p.a, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    std::string big = Pattern(32 << 20, 3);
    ssize_t n = dyco_send(p.a, big.data(), big.size(), 0);
    EXPECT_GT(n, 0);
    EXPECT_LT(n, static_cast<ssize_t>(big.size()));
    dyco_close(p.a);
    dyco_close(p.b);
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

// A thread blocked in recv(2) with SO_RCVTIMEO that runs late gets the
// data that came before its deadline: the kernel looks at the queue before
// the timeout. So does a coroutine whose thread was busy (no coroutine
// yielded) from before its deadline to after it.
TEST_F(NetioSocketTest, DataInTimeWinsOverASoRcvtimeoPassedWhileBusy) {
  Pair p = TcpPair();
  timeval tv = {0, 20 * 1000};
  ASSERT_EQ(0, dyco_setsockopt(p.b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  char got[4] = {};
  ssize_t r = 0;
  int err = 0;
  Go([&] {
    r = dyco_recv(p.b, got, sizeof got, 0);
    err = errno;
  });
  Go([&] {
    ASSERT_EQ(2, dyco_send(p.a, "ok", 2, 0));
    const double start = NowMs();
    while (NowMs() - start < 60) {  // busy past the reader's deadline
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2, r) << strerror(err);
  EXPECT_STREQ("ok", got);
  dyco_close(p.a);
  dyco_close(p.b);
}

TEST_F(NetioSocketTest, CloseWakesWaitersWithEbadfAndTheNumberWorksAgain) {
  Pair p, q;
  int waiter_errno = 0;
  ssize_t waiter_result = 0;
  Go([&] {
    p = TcpPair();
    Go([&] {
      char c;
      waiter_result = dyco_recv(p.b, &c, 1, 0);
      waiter_errno = errno;
    });
    dyco_coroutine_sleep(10);  // the waiter is waiting now
    const int old = p.b;
    EXPECT_EQ(0, dyco_close(p.b));
    dyco_coroutine_sleep(1);
    EXPECT_EQ(-1, waiter_result);
    EXPECT_EQ(EBADF, waiter_errno);
    dyco_close(p.a);
    // The next sockets get the old numbers; waiting on them works at once.
    q = TcpPair();
    EXPECT_TRUE(q.a == old || q.b == old);
    Go([&] { dyco_send(q.a, "hi", 2, 0); });
    char buf[2];
    EXPECT_EQ(2, dyco_recv(q.b, buf, 2, MSG_WAITALL));
    dyco_close(q.a);
    dyco_close(q.b);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(NetioSocketTest, PipesYieldBothWaysAndBigWritesDoNotBlockTheThread) {
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  const std::string big = Pattern(1 << 20, 11);
  std::string got;
  Go([&] {
    char buf[3000];
    ssize_t n;
    while ((n = dyco_read(fds[0], buf, sizeof buf)) > 0) {
      got.append(buf, static_cast<size_t>(n));
    }
    dyco_close(fds[0]);
  });
  Go([&] {
    EXPECT_EQ(static_cast<ssize_t>(big.size()),
              dyco_write(fds[1], big.data(), big.size()));
    struct iovec iov[2] = {{const_cast<char *>("ab"), 2},
                           {const_cast<char *>("cd"), 2}};
    EXPECT_EQ(4, dyco_writev(fds[1], iov, 2));
    dyco_close(fds[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(got == big + "abcd") << got.size();
}

TEST_F(NetioSocketTest, VectorAndMessageCallsRoundTrip) {
  Go([&] {
    Pair p = TcpPair();
    char a[] = "hello ", b[] = "world";
    struct iovec out[2] = {{a, 6}, {b, 5}};
    EXPECT_EQ(11, dyco_writev(p.a, out, 2));
    char x[4], y[7];
    struct iovec in[2] = {{x, 4}, {y, 7}};
    ssize_t n = 0;
    while (n < 11) {
      struct iovec rest[2];
      memcpy(rest, in, sizeof rest);
      ssize_t r = dyco_readv(p.b, in, 2);
      ASSERT_GT(r, 0);
      n += r;
      if (n < 11) {  // loopback delivers it whole; keep it simple otherwise
        FAIL() << "short readv";
      }
    }
    EXPECT_EQ("hell", std::string(x, 4));
    EXPECT_EQ("o world", std::string(y, 7));

    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = out;
    m.msg_iovlen = 2;
    EXPECT_EQ(11, dyco_sendmsg(p.b, &m, 0));
    char back[11];
    struct iovec bi = {back, 11};
    struct msghdr rm;
    memset(&rm, 0, sizeof rm);
    rm.msg_iov = &bi;
    rm.msg_iovlen = 1;
    EXPECT_EQ(11, dyco_recvmsg(p.a, &rm, MSG_WAITALL));
    EXPECT_EQ("hello world", std::string(back, 11));
    dyco_close(p.a);
    dyco_close(p.b);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(NetioSocketTest, DatagramsGoWholeWithSendtoAndRecvfrom) {
  int s = -1, c = -1, port = -1;
  Go([&] {
    s = dyco_socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a = Loopback(0);
    ASSERT_EQ(0, bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a));
    port = dyco_test::PortOf(s);
    c = dyco_socket(AF_INET, SOCK_DGRAM, 0);
    Go([&] {
      dyco_coroutine_sleep(10);
      sockaddr_in to = Loopback(port);
      EXPECT_EQ(5, dyco_sendto(c, "12345", 5, 0,
                               reinterpret_cast<sockaddr *>(&to), sizeof to));
      EXPECT_EQ(3, dyco_sendto(c, "678", 3, 0,
                               reinterpret_cast<sockaddr *>(&to), sizeof to));
    });
    char buf[16];
    sockaddr_in from;
    socklen_t flen = sizeof from;
    EXPECT_EQ(5, dyco_recvfrom(s, buf, sizeof buf, 0,
                               reinterpret_cast<sockaddr *>(&from), &flen));
    EXPECT_EQ(dyco_test::PortOf(c), ntohs(from.sin_port));
    EXPECT_EQ(3, dyco_recv(s, buf, sizeof buf, MSG_WAITALL));
    dyco_close(s);
    dyco_close(c);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

// Outside a coroutine the calls block like libc, even on a socket dyco made
// non-blocking inside one.
TEST_F(NetioSocketTest, OutsideACoroutineCallsBlockLikeLibc) {
  Pair p;
  Go([&] { p = TcpPair(); });
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_TRUE(fcntl(p.a, F_GETFL) & O_NONBLOCK);  // dyco's doing
  std::thread writer([&] {
    usleep(50 * 1000);
    EXPECT_EQ(3, send(p.b, "abc", 3, 0));
  });
  char buf[3];
  const double start = NowMs();
  EXPECT_EQ(3, dyco_recv(p.a, buf, 3, MSG_WAITALL));
  EXPECT_GE(NowMs() - start, 40);
  writer.join();
  // And on a thread without a scheduler at all.
  std::thread reader([&] {
    EXPECT_EQ(nullptr, dyco_schedule_self());
    char c;
    EXPECT_EQ(1, dyco_read(p.a, &c, 1));
    EXPECT_EQ('z', c);
  });
  usleep(30 * 1000);
  EXPECT_EQ(1, send(p.b, "z", 1, 0));
  reader.join();
  dyco_close(p.a);
  dyco_close(p.b);
}

TEST_F(NetioSocketTest, PollWaitsForAnyOfSeveralFdsWithoutBlocking) {
  Ticker t;
  t.Start(5);
  int p1[2], p2[2];
  Go([&] {
    ASSERT_EQ(0, pipe(p1));
    ASSERT_EQ(0, pipe(p2));
    Go([&] {
      dyco_coroutine_sleep(60);
      dyco_write(p2[1], "x", 1);
    });
    struct pollfd fds[3] = {
        {p1[0], POLLIN, 0}, {-1, POLLIN, 0}, {p2[0], POLLIN, 0}};
    const double start = NowMs();
    EXPECT_EQ(1, dyco_poll(fds, 3, 5000));
    EXPECT_GE(NowMs() - start, 55);
    EXPECT_EQ(0, fds[0].revents);
    EXPECT_EQ(0, fds[1].revents);
    EXPECT_EQ(POLLIN, fds[2].revents);
    EXPECT_GE(t.ticks, 5);
    for (int fd : {p1[0], p1[1], p2[0], p2[1]}) {
      dyco_close(fd);
    }
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

}  // namespace
