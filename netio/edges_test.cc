// dyco — netio layer tests: the hooks at their edges. A wait costs no fd
// (poll, select, with the fd table full); nfds beyond 32 bits; a datagram
// reader stopped by shutdown; fds closed behind dyco's back; the hooks for
// ppoll, pselect, epoll_pwait(2), recvmmsg, sendmmsg, sendfile, splice; a
// close on one thread waking the waiters of every thread.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
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
using dyco_test::NowMs;
using dyco_test::Pattern;
using dyco_test::Scaled;
using dyco_test::SchedTest;
using dyco_test::Ticker;

using NetioEdgeTest = SchedTest;

// Yields until n coroutines of this scheduler wait (on fds or queues): the
// gate a test opens before it acts on their waits. Gives up after a few
// seconds (a wait that never began is the test's failure to report, not a
// reason to hang).
void UntilWaiting(uint64_t n) {
  const double start = NowMs();
  while (NowMs() - start < Scaled(3000)) {
    dyco_schedule_stats st;
    ASSERT_EQ(0, dyco_schedule_getStats(&st));
    if (st.by_state[DYCO_COROUTINE_WAITING] >= n) {
      return;
    }
    dyco_coroutine_yield();
  }
}

// Fills the fd table (under a lowered RLIMIT_NOFILE) while f runs.
template <typename F>
void WithNoFreeFd(F f) {
  struct rlimit old;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
  struct rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
  std::vector<int> held;
  for (;;) {
    int fd = dup(2);
    if (fd < 0) {
      ASSERT_EQ(EMFILE, errno);
      break;
    }
    held.push_back(fd);
  }
  f();
  for (int fd : held) {
    close(fd);
  }
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
}

// --- A wait never costs an fd --------------------------------------------

// libpq waits with poll(POLLIN|POLLERR); others wait on two fds, select,
// POLLPRI, POLLRDHUP. While 50 coroutines wait, the process holds not one
// fd more than before; each wakes with exactly the revents poll gives.
TEST_F(NetioEdgeTest, PollAndSelectWaitsCostNoFd) {
  constexpr int kWaiters = 50;
  std::vector<std::array<int, 2>> pairs(kWaiters);
  for (auto &p : pairs) {
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, p.data()));
  }
  int quiet[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, quiet));
  ASSERT_GT(dyco_schedule_create(0, 0), 0);  // its own fds, before counting
  const int before = dyco_test::FdCount();
  int during = -1;
  std::vector<int> ret(kWaiters, -2);
  std::vector<short> rev(kWaiters, -1);
  for (int i = 0; i < kWaiters; ++i) {
    Go([&, i] {
      const int fd = pairs[i][0];
      switch (i % 5) {
        case 0: {  // libpq's wait
          pollfd p = {fd, POLLIN | POLLERR, 0};
          ret[i] = poll(&p, 1, -1);
          rev[i] = p.revents;
          break;
        }
        case 1: {
          pollfd p[2] = {{quiet[0], POLLIN, 0}, {fd, POLLIN, 0}};
          ret[i] = poll(p, 2, -1);
          rev[i] = static_cast<short>(p[1].revents | (p[0].revents << 8));
          break;
        }
        case 2: {
          fd_set rd;
          FD_ZERO(&rd);
          FD_SET(fd, &rd);
          FD_SET(quiet[0], &rd);
          ret[i] = select(std::max(fd, quiet[0]) + 1, &rd, nullptr, nullptr,
                          nullptr);
          rev[i] = static_cast<short>(FD_ISSET(fd, &rd) ? POLLIN : 0) |
                   static_cast<short>(FD_ISSET(quiet[0], &rd) ? 0x100 : 0);
          break;
        }
        case 3: {
          pollfd p = {fd, POLLIN | POLLPRI, 0};
          ret[i] = poll(&p, 1, -1);
          rev[i] = p.revents;
          break;
        }
        default: {
          pollfd p = {fd, POLLIN | POLLRDHUP, 0};
          ret[i] = poll(&p, 1, -1);
          rev[i] = p.revents;
          break;
        }
      }
    });
  }
  Go([&] {
    UntilWaiting(kWaiters);
    during = dyco_test::FdCount();
    for (auto &p : pairs) {
      EXPECT_EQ(1, write(p[1], "x", 1));
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(before, during) << "fds held by " << kWaiters << " waits";
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_EQ(1, ret[i]) << i;
    EXPECT_EQ(POLLIN, rev[i]) << i;
  }
  for (auto &p : pairs) {
    close(p[0]);
    close(p[1]);
  }
  close(quiet[0]);
  close(quiet[1]);
}

// With no fd free, poll and select still wait (libc's never say EMFILE).
TEST_F(NetioEdgeTest, PollAndSelectWaitWithTheFdTableFull) {
  int a[2], quiet[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, a));
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, quiet));
  ASSERT_GT(dyco_schedule_create(0, 0), 0);
  int polled = -2, selected = -2, poll_errno = 0, select_errno = 0;
  short rev = 0;
  bool in_rd = false;
  WithNoFreeFd([&] {
    Go([&] {
      pollfd p[2] = {{quiet[0], POLLIN, 0}, {a[0], POLLIN | POLLERR, 0}};
      polled = poll(p, 2, static_cast<int>(Scaled(5000)));
      poll_errno = errno;
      rev = p[1].revents;
      char c;
      EXPECT_EQ(1, read(a[0], &c, 1));
      fd_set rd;
      FD_ZERO(&rd);
      FD_SET(a[0], &rd);
      FD_SET(quiet[0], &rd);
      timeval tv = {5, 0};
      selected =
          select(std::max(a[0], quiet[0]) + 1, &rd, nullptr, nullptr, &tv);
      select_errno = errno;
      in_rd = FD_ISSET(a[0], &rd);
    });
    Go([&] {
      UntilWaiting(1);
      EXPECT_EQ(1, write(a[1], "x", 1));
      dyco_coroutine_sleep(10);
      UntilWaiting(1);
      EXPECT_EQ(1, write(a[1], "y", 1));
    });
    ASSERT_EQ(0, dyco_schedule_run());
  });
  EXPECT_EQ(1, polled) << strerror(poll_errno);
  EXPECT_EQ(POLLIN, rev);
  EXPECT_EQ(1, selected) << strerror(select_errno);
  EXPECT_TRUE(in_rd);
  for (int fd : {a[0], a[1], quiet[0], quiet[1]}) {
    close(fd);
  }
}

// --- nfds beyond 32 bits --------------------------------------------------

// The kernel takes nfds as an unsigned int: 2^32 + 2 polls two entries,
// 2^32 none (a sleep); above RLIMIT_NOFILE it says EINVAL.
TEST_F(NetioEdgeTest, PollWithNfdsBeyond32BitsAnswersAsTheKernel) {
  if (sizeof(nfds_t) < 8) {
    GTEST_SKIP() << "nfds_t has 32 bits here";
  }
#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
  // The sanitizers' poll interceptor (which runs before the hook) reads
  // all nfds entries, where the kernel truncates nfds to 32 bits.
  GTEST_SKIP() << "the sanitizer's poll interceptor reads nfds entries";
#endif
#if defined(DYCO_VALGRIND)
  // So does valgrind's check of poll's and ppoll's arguments: it walks
  // all nfds entries off the end of the array.
  GTEST_SKIP() << "valgrind checks all nfds entries of poll's array";
#endif
  int a[2];
  ASSERT_EQ(0, pipe(a));
  ASSERT_EQ(1, write(a[1], "x", 1));
  // Through a volatile: the compiler rightly warns about such a call.
  const uint64_t big = static_cast<uint64_t>(1) << 32;
  volatile nfds_t wrap2 = static_cast<nfds_t>(big | 2);
  volatile nfds_t wrap0 = static_cast<nfds_t>(big);
  pollfd outside[2] = {{a[0], POLLIN, 0}, {a[1], POLLOUT, 0}};
  const int r_outside = poll(outside, wrap2, 0);
  ASSERT_EQ(2, r_outside);
  struct rlimit rl;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
  // Above RLIMIT_NOFILE: the kernel's EINVAL (qemu-user checks the memory
  // first: EFAULT). Whatever it is here, the same inside.
  volatile nfds_t too_many = rl.rlim_cur + 1;
  errno = 0;
  const int r_too_many = poll(outside, too_many, 10);
  const int e_too_many = errno;
  Go([&] {
    pollfd inside[2] = {{a[0], POLLIN, 0}, {a[1], POLLOUT, 0}};
    EXPECT_EQ(r_outside, poll(inside, wrap2, 0));
    EXPECT_EQ(outside[0].revents, inside[0].revents);
    EXPECT_EQ(outside[1].revents, inside[1].revents);
    const double start = NowMs();
    EXPECT_EQ(0, poll(inside, wrap0, 30));
    EXPECT_GE(NowMs() - start, 29);
    EXPECT_EQ(r_too_many, poll(inside, too_many, 10));
    EXPECT_EQ(e_too_many, errno);
    if (getenv("DYCO_TEST_EMULATED") == nullptr) {
      EXPECT_EQ(-1, r_too_many);
      EXPECT_EQ(EINVAL, e_too_many);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(a[0]);
  close(a[1]);
}

// --- A datagram reader stopped by shutdown -------------------------------

struct DgramRead {
  const char *name;
  std::function<long(int)> call;
};

std::vector<DgramRead> DgramReads() {
  return {
      {"recvfrom",
       [](int fd) {
         char b[16];
         return static_cast<long>(
             recvfrom(fd, b, sizeof b, 0, nullptr, nullptr));
       }},
      {"recv",
       [](int fd) {
         char b[16];
         return static_cast<long>(recv(fd, b, sizeof b, 0));
       }},
      {"read",
       [](int fd) {
         char b[16];
         return static_cast<long>(read(fd, b, sizeof b));
       }},
      {"recvmsg",
       [](int fd) {
         char b[16];
         iovec v = {b, sizeof b};
         msghdr m = {};
         m.msg_iov = &v;
         m.msg_iovlen = 1;
         return static_cast<long>(recvmsg(fd, &m, 0));
       }},
      {"recvmmsg",
       [](int fd) {
         char b[16];
         iovec v = {b, sizeof b};
         mmsghdr m = {};
         m.msg_hdr.msg_iov = &v;
         m.msg_hdr.msg_iovlen = 1;
         return static_cast<long>(recvmmsg(fd, &m, 1, 0, nullptr));
       }},
  };
}

// A datagram socket: UDP on 127.0.0.1 or a Unix pair; [0] reads, and
// [1] sends to it.
std::array<int, 2> DgramPair(int domain) {
  std::array<int, 2> p = {-1, -1};
  if (domain == AF_UNIX) {
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, p.data()));
    return p;
  }
  p[0] = socket(AF_INET, SOCK_DGRAM, 0);
  p[1] = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = dyco_test::Loopback(0);
  EXPECT_EQ(0, bind(p[0], reinterpret_cast<sockaddr *>(&a), sizeof a));
  a = dyco_test::Loopback(dyco_test::PortOf(p[0]));
  EXPECT_EQ(0, connect(p[1], reinterpret_cast<sockaddr *>(&a), sizeof a));
  return p;
}

// libc's blocking read of a datagram socket shut down for reading while it
// waits, or before, returns 0 (a common way to stop a datagram reader).
TEST_F(NetioEdgeTest, ADatagramReaderStoppedByShutdownReturnsZero) {
  for (const DgramRead &r : DgramReads()) {
    for (int domain : {AF_INET, AF_UNIX}) {
      SCOPED_TRACE(std::string(r.name) +
                   (domain == AF_UNIX ? " unix" : " udp"));
      // libc, in a thread: 0 once the shutdown comes.
      std::array<int, 2> t = DgramPair(domain);
      long libc = -2;
      std::thread reader([&] { libc = r.call(t[0]); });
      usleep(20 * 1000);
      shutdown(t[0], SHUT_RD);
      reader.join();
      EXPECT_EQ(std::string(r.name) == "recvmmsg" ? 1 : 0, libc);
      close(t[0]);
      close(t[1]);
      // dyco, in a coroutine: the same, at once.
      std::array<int, 2> c = DgramPair(domain);
      long got = -2, again = -2;
      double took = 0;
      bool done = false;
      Go([&] {
        const double start = NowMs();
        got = r.call(c[0]);
        took = NowMs() - start;
        again = r.call(c[0]);  // and every time after
        done = true;
      });
      Go([&] {
        UntilWaiting(1);
        shutdown(c[0], SHUT_RD);
        // Had the reader gone on waiting, datagrams free it (and fail the
        // test) rather than hanging it.
        const double start = NowMs();
        while (!done) {
          dyco_coroutine_sleep(10);
          if (NowMs() - start > Scaled(3000)) {
            send(c[1], "!", 1, 0);
          }
        }
      });
      ASSERT_EQ(0, dyco_schedule_run());
      // 0, or for recvmmsg one empty datagram (and so on, each time).
      EXPECT_EQ(libc, got);
      EXPECT_EQ(libc, again);
      EXPECT_LT(took, Scaled(1000));
      close(c[0]);
      close(c[1]);
    }
  }
}

// --- fds closed behind dyco's back ---------------------------------------

enum class Closer { kFclose, kCloseRange, kRawClose };
enum class Maker { kPipe, kOpenFifo, kRawPipe };

const char *Name(Closer c) {
  return c == Closer::kFclose       ? "fclose"
         : c == Closer::kCloseRange ? "close_range"
                                    : "syscall(SYS_close)";
}

const char *Name(Maker m) {
  return m == Maker::kPipe       ? "pipe"
         : m == Maker::kOpenFifo ? "open(fifo)"
                                 : "syscall(SYS_pipe2)";
}

// A coroutine waits on a socket (so the scheduler registers it), its
// number is closed without dyco's close and reused by another kind of fd;
// a read of the new fd then waits and gets what is written to it.
void StaleCase(Closer closer, Maker maker, double bound_ms) {
  SCOPED_TRACE(std::string(Name(closer)) + " then " + Name(maker));
  std::string fifo =
      std::string(getenv("TEST_TMPDIR") != nullptr ? getenv("TEST_TMPDIR")
                                                   : "/tmp") +
      "/dyco_stale_fifo";
  unlink(fifo.c_str());
  ASSERT_EQ(0, mkfifo(fifo.c_str(), 0600));
  int num = -1;
  int writer_fd = -1;
  ssize_t got = -2;
  int got_errno = 0;
  double took = 0;
  bool done = false;
  // In the test's frame: a coroutine's locals are not there while it waits
  // on the shared stack.
  int sv[2] = {-1, -1};
  int p[2] = {-1, -1};
  Go([&] {
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    Go([&] {
      UntilWaiting(1);
      EXPECT_EQ(1, write(sv[1], "a", 1));
    });
    char c;
    ASSERT_EQ(1, read(sv[0], &c, 1));  // waited: registered
    num = sv[0];
    switch (closer) {
      case Closer::kFclose: {
        FILE *f = fdopen(sv[0], "r");
        ASSERT_NE(nullptr, f);
        fclose(f);
        break;
      }
      case Closer::kCloseRange:
        ASSERT_EQ(0, close_range(static_cast<unsigned>(num),
                                 static_cast<unsigned>(num), 0));
        break;
      case Closer::kRawClose:
        ASSERT_EQ(0, syscall(SYS_close, num));
        break;
    }
    switch (maker) {
      case Maker::kPipe:
        ASSERT_EQ(0, pipe(p));
        break;
      case Maker::kOpenFifo:
        p[0] = p[1] = open(fifo.c_str(), O_RDWR);
        break;
      case Maker::kRawPipe:
        ASSERT_EQ(0, syscall(SYS_pipe2, p, 0));
        break;
    }
    ASSERT_EQ(num, p[0]) << "the number was not reused";
    writer_fd = p[1];
    Go([&] {
      UntilWaiting(1);
      EXPECT_EQ(1, write(writer_fd, "b", 1));
    });
    const double start = NowMs();
    got = read(num, &c, 1);
    got_errno = errno;
    took = NowMs() - start;
    done = true;
    close(num);
    if (writer_fd != num) {
      close(writer_fd);
    }
    close(sv[1]);
  });
  // Had the read hung, this frees it (with EBADF, failing the test).
  Go([&] {
    const double start = NowMs();
    while (!done && NowMs() - start < Scaled(8000)) {
      dyco_coroutine_sleep(10);
    }
    if (!done) {
      dyco_fd_closing(num);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, got) << strerror(got_errno);
  EXPECT_LT(took, bound_ms);
  unlink(fifo.c_str());
}

// Closed by fclose, close_range or a raw close, reused by pipe or open: the
// hooks that close and make fds tell dyco, and the next wait works at once.
TEST_F(NetioEdgeTest, AnFdClosedBehindDycosBackDoesNotHangTheNextWait) {
  for (Closer c : {Closer::kFclose, Closer::kCloseRange, Closer::kRawClose}) {
    for (Maker m : {Maker::kPipe, Maker::kOpenFifo}) {
      StaleCase(c, m, Scaled(1000));
    }
  }
}

// Closed and reused by raw system calls, which no hook sees: the scheduler
// verifies the registration of a wait that lasts (within two seconds) and
// repairs it.
TEST_F(NetioEdgeTest, AStaleRegistrationIsRepairedWithinTwoSeconds) {
  StaleCase(Closer::kRawClose, Maker::kRawPipe, Scaled(3000));
}

// Closed by a raw system call while a coroutine waits on it, and not
// reused: the wait ends with EBADF within two seconds, not never.
TEST_F(NetioEdgeTest, AWaitOnAnFdClosedRawEndsWithEbadf) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  ssize_t got = -2;
  int got_errno = 0;
  double took = 0;
  bool done = false;
  Go([&] {
    const double start = NowMs();
    char c;
    got = read(sv[0], &c, 1);
    got_errno = errno;
    took = NowMs() - start;
    done = true;
  });
  Go([&] {
    UntilWaiting(1);
    ASSERT_EQ(0, syscall(SYS_close, sv[0]));
    const double start = NowMs();
    while (!done && NowMs() - start < Scaled(8000)) {
      dyco_coroutine_sleep(10);
    }
    if (!done) {
      dyco_fd_closing(sv[0]);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-1, got);
  EXPECT_EQ(EBADF, got_errno);
  EXPECT_LT(took, Scaled(3000));
  close(sv[1]);
}

// --- The calls that used to block the thread ------------------------------

// Each call waits inside a coroutine while the others run (the ticker
// ticks), for what a thread provides 50 ms later, and returns what libc
// returns for it.
TEST_F(NetioEdgeTest, PpollPselectEpollPwaitAndPwait2Yield) {
  Ticker t;
  t.Start();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  auto later = [&] {
    return std::thread([&] {
      usleep(50 * 1000);
      EXPECT_EQ(1, write(sv[1], "x", 1));
    });
  };
  auto drain = [&] {
    char c;
    EXPECT_EQ(1, read(sv[0], &c, 1));
  };
  Go([&] {
    {
      std::thread w = later();
      const int ticks = t.ticks;
      pollfd p = {sv[0], POLLIN, 0};
      sigset_t mask;
      sigemptyset(&mask);
      EXPECT_EQ(1, ppoll(&p, 1, nullptr, &mask));
      EXPECT_EQ(POLLIN, p.revents);
      EXPECT_GE(t.ticks - ticks, 5) << "ppoll blocked the thread";
      w.join();
      drain();
    }
    {
      std::thread w = later();
      const int ticks = t.ticks;
      fd_set rd;
      FD_ZERO(&rd);
      FD_SET(sv[0], &rd);
      timespec ts = {5, 0};
      EXPECT_EQ(1, pselect(sv[0] + 1, &rd, nullptr, nullptr, &ts, nullptr));
      EXPECT_TRUE(FD_ISSET(sv[0], &rd));
      EXPECT_EQ(5, ts.tv_sec);  // pselect leaves it alone
      EXPECT_GE(t.ticks - ticks, 5) << "pselect blocked the thread";
      w.join();
      drain();
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = sv[0];
    ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev));
    {
      std::thread w = later();
      const int ticks = t.ticks;
      epoll_event out[4];
      EXPECT_EQ(1, epoll_pwait(ep, out, 4, 5000, nullptr));
      EXPECT_EQ(sv[0], out[0].data.fd);
      EXPECT_GE(t.ticks - ticks, 5) << "epoll_pwait blocked the thread";
      w.join();
      drain();
    }
    {
      std::thread w = later();
      const int ticks = t.ticks;
      epoll_event out[4];
      timespec ts = {5, 0};
      int r = epoll_pwait2(ep, out, 4, &ts, nullptr);
      w.join();
      if (r == -1 && errno == ENOSYS) {
        // An emulator without it: libc says so too.
      } else {
        EXPECT_EQ(1, r);
        EXPECT_GE(t.ticks - ticks, 5) << "epoll_pwait2 blocked the thread";
        drain();
      }
    }
    close(ep);
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[0]);
  close(sv[1]);
}

// ppoll's, pselect's and epoll_pwait's mask is in force while they wait,
// as libc's: a
// signal the thread blocks and the mask unblocks interrupts them (EINTR);
// without the mask it stays pending and they go on.
std::atomic<int> usr2{0};
void OnUsr2(int) { usr2++; }

TEST(NetioMaskTest, PpollPselectAndEpollPwaitWaitWithTheirMask) {
  struct sigaction sa = {}, old;
  sa.sa_handler = OnUsr2;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, &old);
  const char *names[] = {"ppoll", "pselect", "epoll_pwait"};
  for (int call = 0; call < 3; ++call) {
    for (int with_mask = 0; with_mask < 2; ++with_mask) {
      SCOPED_TRACE(
          std::string(names[call]) +
          (with_mask ? " with a mask unblocking SIGUSR2" : " without a mask"));
      int sv[2];
      ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
      int r = -2, err = 0;
      std::atomic<bool> waiting{false};
      std::atomic<bool> finished{false};
      std::thread t([&] {
        sigset_t block;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &block, nullptr);
        Go([&] {
          sigset_t open;
          pthread_sigmask(SIG_BLOCK, nullptr, &open);
          sigdelset(&open, SIGUSR2);
          waiting = true;
          if (call == 0) {
            pollfd p = {sv[0], POLLIN, 0};
            r = ppoll(&p, 1, nullptr, with_mask ? &open : nullptr);
          } else if (call == 2) {
            int ep = epoll_create1(EPOLL_CLOEXEC);
            epoll_event ev = {};
            ev.events = EPOLLIN;
            epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
            epoll_event out;
            r = epoll_pwait(ep, &out, 1, -1, with_mask ? &open : nullptr);
            err = errno;
            close(ep);
            errno = err;
          } else {
            fd_set rd;
            FD_ZERO(&rd);
            FD_SET(sv[0], &rd);
            r = pselect(sv[0] + 1, &rd, nullptr, nullptr, nullptr,
                        with_mask ? &open : nullptr);
          }
          err = errno;
          finished = true;
        });
        EXPECT_EQ(0, dyco_schedule_run());
        dyco_schedule_free(dyco_schedule_self());
        // Whatever is still pending goes before the thread ends.
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGUSR2) == 1) {
          int sig;
          sigwait(&block, &sig);
        }
      });
      while (!waiting) {
        usleep(1000);
      }
      usleep(static_cast<useconds_t>(Scaled(30)) * 1000);
      pthread_kill(t.native_handle(), SIGUSR2);
      usleep(static_cast<useconds_t>(Scaled(60)) * 1000);
      const bool early = finished;
      EXPECT_EQ(1, write(sv[1], "x", 1));  // frees the one still waiting
      t.join();
      if (with_mask) {
        EXPECT_TRUE(early);
        EXPECT_EQ(-1, r);
        EXPECT_EQ(EINTR, err);
      } else {
        EXPECT_FALSE(early);
        EXPECT_EQ(1, r);
      }
      close(sv[0]);
      close(sv[1]);
    }
  }
  sigaction(SIGUSR2, &old, nullptr);
}

TEST_F(NetioEdgeTest, RecvmmsgAndSendmmsgYield) {
  Ticker t;
  t.Start();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  int sent_before = 0;  // here: other threads read it
  Go([&] {
    // recvmmsg without MSG_WAITFORONE: waits until all vlen have come.
    std::thread w([&] {
      usleep(50 * 1000);
      EXPECT_EQ(3, write(sv[1], "one", 3));
      usleep(20 * 1000);
      EXPECT_EQ(3, write(sv[1], "two", 3));
    });
    char b[2][8];
    iovec v[2] = {{b[0], 8}, {b[1], 8}};
    mmsghdr m[2] = {};
    for (int i = 0; i < 2; ++i) {
      m[i].msg_hdr.msg_iov = &v[i];
      m[i].msg_hdr.msg_iovlen = 1;
    }
    int ticks = t.ticks;
    EXPECT_EQ(2, recvmmsg(sv[0], m, 2, 0, nullptr));
    EXPECT_EQ(3u, m[0].msg_len);
    EXPECT_EQ(3u, m[1].msg_len);
    EXPECT_EQ(0, memcmp(b[1], "two", 3));
    EXPECT_GE(t.ticks - ticks, 5) << "recvmmsg blocked the thread";
    w.join();
    // sendmmsg to a full queue: waits until the reader makes room.
    sent_before = 0;
    while (send(sv[1], "f", 1, MSG_DONTWAIT) == 1) {
      sent_before++;
    }
    ASSERT_EQ(EAGAIN, errno);
    std::thread r([&] {
      usleep(50 * 1000);
      char c;
      for (int i = 0; i < sent_before + 2; ++i) {
        EXPECT_EQ(1, read(sv[0], &c, 1));
      }
    });
    iovec out[2] = {{const_cast<char *>("a"), 1}, {const_cast<char *>("b"), 1}};
    mmsghdr sm[2] = {};
    for (int i = 0; i < 2; ++i) {
      sm[i].msg_hdr.msg_iov = &out[i];
      sm[i].msg_hdr.msg_iovlen = 1;
    }
    ticks = t.ticks;
    EXPECT_EQ(2, sendmmsg(sv[1], sm, 2, 0));
    EXPECT_EQ(1u, sm[0].msg_len);
    EXPECT_GE(t.ticks - ticks, 5) << "sendmmsg blocked the thread";
    r.join();
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[0]);
  close(sv[1]);
}

TEST_F(NetioEdgeTest, SendfileAndSpliceYield) {
  Ticker t;
  t.Start();
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  std::string path =
      std::string(getenv("TEST_TMPDIR") != nullptr ? getenv("TEST_TMPDIR")
                                                   : "/tmp") +
      "/dyco_sendfile";
  const std::string body = Pattern(256 * 1024, 7);
  {
    FILE *f = fopen(path.c_str(), "w");
    ASSERT_NE(nullptr, f);
    ASSERT_EQ(body.size(), fwrite(body.data(), 1, body.size(), f));
    fclose(f);
  }
  // The socket holds far less than the file.
  int small = 16 * 1024;
  ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
  // Here, not in the coroutine: other threads use them while it waits (and
  // its stack, the shared one, holds another coroutine's frames).
  std::string got;
  int p[2] = {-1, -1};
  Go([&] {
    // sendfile of more than the socket holds: all of it goes, waiting for
    // the reader each time the socket is full.
    int in = open(path.c_str(), O_RDONLY);
    ASSERT_GE(in, 0);
    std::thread r([&] {
      usleep(50 * 1000);
      char buf[65536];
      while (got.size() < body.size()) {
        ssize_t n = read(sv[1], buf, sizeof buf);
        ASSERT_GT(n, 0);
        got.append(buf, static_cast<size_t>(n));
      }
    });
    int ticks = t.ticks;
    off_t off = 0;
    EXPECT_EQ(static_cast<ssize_t>(body.size()),
              sendfile(sv[0], in, &off, body.size()));
    EXPECT_EQ(static_cast<off_t>(body.size()), off);
    EXPECT_GE(t.ticks - ticks, 5) << "sendfile blocked the thread";
    r.join();
    EXPECT_TRUE(got == body);
    close(in);
    // splice from a socket with nothing yet into a pipe: waits for data.
    ASSERT_EQ(0, pipe(p));
    std::thread w([&] {
      usleep(50 * 1000);
      EXPECT_EQ(5, write(sv[1], "hello", 5));
    });
    ticks = t.ticks;
    EXPECT_EQ(5, splice(sv[0], nullptr, p[1], nullptr, 4096, 0));
    EXPECT_GE(t.ticks - ticks, 5) << "splice blocked the thread";
    w.join();
    char buf[8];
    EXPECT_EQ(5, read(p[0], buf, sizeof buf));
    EXPECT_EQ(0, memcmp(buf, "hello", 5));
    // And from a pipe with nothing yet into the socket.
    std::thread w2([&] {
      usleep(50 * 1000);
      EXPECT_EQ(3, write(p[1], "abc", 3));
    });
    ticks = t.ticks;
    EXPECT_EQ(3, splice(p[0], nullptr, sv[0], nullptr, 4096, 0));
    EXPECT_GE(t.ticks - ticks, 5) << "splice blocked the thread";
    w2.join();
    EXPECT_EQ(3, read(sv[1], buf, sizeof buf));
    close(p[0]);
    close(p[1]);
    t.stop = true;
  });
  ASSERT_EQ(0, dyco_schedule_run());
  unlink(path.c_str());
  close(sv[0]);
  close(sv[1]);
}

// --- A close on any thread wakes the waiters of every thread --------------

struct Waiters {
  std::atomic<int> waiting{0};
  std::atomic<int> done{0};
  std::vector<std::pair<long, int>> results;  // (return, errno)
  std::mutex mu;
};

// A thread with a scheduler whose coroutines read, poll and recv on fd,
// telling w when all of them wait; each records what its call returned.
std::thread WaiterThread(int fd, Waiters *w, double *took, bool *stuck) {
  return std::thread([fd, w, took, stuck] {
    auto record = [w](long r, int err) {
      std::lock_guard<std::mutex> g(w->mu);
      w->results.emplace_back(r, err);
    };
    double start = 0;
    Go([&] {
      char c;
      long r = read(fd, &c, 1);
      record(r, errno);
      w->done++;
    });
    Go([&] {
      char c;
      long r = recv(fd, &c, 1, 0);
      record(r, errno);
      w->done++;
    });
    Go([&] {
      pollfd p = {fd, POLLIN, 0};
      long r = poll(&p, 1, -1);
      // POLLNVAL is poll's way of saying EBADF.
      if (r == 1 && p.revents == POLLNVAL) {
        record(-1, EBADF);
      } else {
        record(r, errno);
      }
      w->done++;
    });
    Go([&] {
      UntilWaiting(3);
      start = NowMs();
      w->waiting++;
      // Had the waiters never woken, this frees them (late: the test fails).
      while (w->done < 3 && NowMs() - start < Scaled(5000)) {
        dyco_coroutine_sleep(5);
      }
      *took = NowMs() - start;
      if (w->done < 3) {
        *stuck = true;
        dyco_fd_closing(fd);
      }
    });
    EXPECT_EQ(0, dyco_schedule_run());
    dyco_schedule_free(dyco_schedule_self());
  });
}

TEST(NetioCloseTest, ACloseOnAnyThreadWakesTheWaitersOfEveryThread) {
  for (int closer = 0; closer < 2; ++closer) {
    SCOPED_TRACE(closer == 0 ? "closed by a thread without a scheduler"
                             : "closed by a coroutine of a third thread");
    int sv[2];
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    Waiters w;
    double took[2] = {0, 0};
    bool stuck[2] = {false, false};
    std::thread a = WaiterThread(sv[0], &w, &took[0], &stuck[0]);
    std::thread b = WaiterThread(sv[0], &w, &took[1], &stuck[1]);
    while (w.waiting < 2) {
      usleep(1000);
    }
    if (closer == 0) {
      EXPECT_EQ(0, close(sv[0]));
    } else {
      std::thread c([&] {
        Go([&] { EXPECT_EQ(0, close(sv[0])); });
        EXPECT_EQ(0, dyco_schedule_run());
        dyco_schedule_free(dyco_schedule_self());
      });
      c.join();
    }
    a.join();
    b.join();
    EXPECT_FALSE(stuck[0]);
    EXPECT_FALSE(stuck[1]);
    EXPECT_LT(took[0], Scaled(1000));
    EXPECT_LT(took[1], Scaled(1000));
    ASSERT_EQ(6u, w.results.size());
    for (auto &r : w.results) {
      EXPECT_EQ(-1, r.first);
      EXPECT_EQ(EBADF, r.second);
    }
    close(sv[1]);
  }
}

}  // namespace

namespace {

// A reader woken because its fd became readable, whose fd another
// coroutine closes before it runs again (and whose number a new fd takes
// at once), ends with EBADF: it must not read the new fd's data.
TEST_F(NetioEdgeTest, AReaderWokenThenClosedUnderItSeesEbadfNotTheNewFd) {
  int p1[2];
  ASSERT_EQ(0, pipe(p1));
  ssize_t got = 0;
  int err = 0;
  char c = 0;
  int reused[2] = {-1, -1};
  Go([&] {
    got = read(p1[0], &c, 1);
    err = errno;
  });
  Go([&] {
    dyco_coroutine_yield();  // the reader waits now
    ASSERT_EQ(1, write(p1[1], "a", 1));
    // Behind this one in the next round: the poll wakes the reader there.
    dyco_coroutine_yield();
    int old = p1[0];
    close(p1[0]);
    ASSERT_EQ(0, pipe(reused));
    ASSERT_EQ(old, reused[0]);  // the lowest free number: the same
    ASSERT_EQ(1, write(reused[1], "z", 1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-1, got) << "read '" << c << "'";
  EXPECT_EQ(EBADF, err);
  close(p1[1]);
  close(reused[0]);
  close(reused[1]);
}

// --- SA_RESTART beside a signal ignored with SA_SIGINFO ------------------

std::atomic<int> usr1_seen{0};

void OnUsr1(int) { usr1_seen++; }

// A read interrupted by a handler with SA_RESTART goes on waiting, as the
// kernel restarts libc's, even when another signal is ignored with
// SA_SIGINFO set (as valgrind sets its own): an ignored signal runs no
// handler. Before, dyco took it for a handler without SA_RESTART and the
// read failed with EINTR (under valgrind with EINVAL, left by a sigaction
// refused on a reserved signal).
TEST_F(NetioEdgeTest, AnIgnoredSignalWithSaSiginfoKeepsSaRestart) {
  if (getenv("DYCO_TEST_EMULATED") != nullptr) {
    // As table_test's EINTR cells: qemu-user does not interrupt a blocked
    // system call as the kernel does (and qemu-i386 crashed on this case).
    GTEST_SKIP() << "qemu-user does not emulate interrupted system calls";
  }
  struct sigaction ign, old_ign, restart, old_restart;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  ign.sa_flags = SA_SIGINFO;
  sigemptyset(&ign.sa_mask);
  ASSERT_EQ(0, sigaction(SIGUSR2, &ign, &old_ign));
  memset(&restart, 0, sizeof restart);
  restart.sa_handler = OnUsr1;
  restart.sa_flags = SA_RESTART;
  sigemptyset(&restart.sa_mask);
  ASSERT_EQ(0, sigaction(SIGUSR1, &restart, &old_restart));
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  usr1_seen = 0;
  ssize_t got = 0;
  int err = 0;
  Go([&] {
    char c = 0;
    got = read(sv[0], &c, 1);
    err = errno;
  });
  const pthread_t self = pthread_self();
  const double step = dyco_test::Slow() ? 200 : 40;
  std::thread events([&] {
    usleep(static_cast<useconds_t>(step * 1000));
    pthread_kill(self, SIGUSR1);
    usleep(static_cast<useconds_t>(step * 1000));
    EXPECT_EQ(1, ::write(sv[1], "x", 1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  events.join();
  EXPECT_EQ(1, usr1_seen.load());
  EXPECT_EQ(1, got) << strerror(err);
  sigaction(SIGUSR1, &old_restart, nullptr);
  sigaction(SIGUSR2, &old_ign, nullptr);
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
