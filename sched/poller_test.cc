// dyco — sched layer tests: the poller's back ends. epoll when asked, io_uring
// when asked and the kernel allows it, epoll again when io_uring_setup is
// refused (a seccomp filter, as containers have), and what each one runs.
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <thread>

#include "tools/testing/fixture.h"

extern "C" {
#include "sched/poller.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;

// Whether this build has the io_uring back end and the kernel (or qemu)
// lets this process set a ring up.
bool UringAvailable() {
#if !defined(DYCO_HAVE_URING)
  return false;
#else
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  long fd = syscall(__NR_io_uring_setup, 4, &p);
  if (fd < 0) {
    return false;
  }
  close((int)fd);
  return true;
#endif
}

// Runs f on a new thread, whose scheduler is made with the poller `kind`
// asked for; restores the process-wide choice afterwards.
void OnFreshThread(int kind, const std::function<void()> &f) {
  ASSERT_EQ(0, dyco_schedule_setPoller(kind));
  std::thread t([&] { f(); });
  t.join();
  ASSERT_EQ(0, dyco_schedule_setPoller(DYCO_POLLER_DEFAULT));
}

// What every back end must run: timers, fd waits, a spawn from another
// thread into a sleeping scheduler.
void RunsTheBasics() {
  int p[2];
  ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
  std::string trace;
  double slept = 0, wrote = 0, woke = 0;
  Go([&] {
    const double t0 = NowMs();
    dyco_coroutine_sleep(30);
    slept = NowMs() - t0;
    trace += "s";
  });
  Go([&] {
    EXPECT_EQ(EPOLLIN, dyco_fd_wait(p[0], EPOLLIN, 2000) & EPOLLIN);
    woke = NowMs();
    char c = 0;
    EXPECT_EQ(1, read(p[0], &c, 1));
    trace += c;
  });
  Go([&] {
    dyco_coroutine_sleep(10);
    wrote = NowMs();
    EXPECT_EQ(1, write(p[1], "r", 1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // Each ran once. Not their order: the reader comes first in time, but a
  // scheduler thread kept off the CPU past both timers (seen under tsan on
  // a loaded machine) wakes the sleeper before it polls the pipe.
  std::sort(trace.begin(), trace.end());
  EXPECT_EQ("rs", trace);
  EXPECT_GE(woke, wrote);  // the fd woke it, not a timeout
  EXPECT_GE(slept, 29.5);
  EXPECT_LT(slept, 1000);
  // A coroutine handed over by another thread while this one sleeps in the
  // poller (with a coroutine waiting so that it has something to wait for).
  dyco_schedule *self = dyco_schedule_self();
  ASSERT_NE(nullptr, self);
  int spawned = 0;
  Go([&] { EXPECT_EQ(-ETIMEDOUT, dyco_fd_wait(p[0], EPOLLIN, 300)); });
  std::thread other([&] {
    usleep(20000);
    static int *where;
    where = &spawned;
    ASSERT_EQ(0,
              dyco_schedule_spawn(self, [](void *) { *where = 1; }, nullptr));
  });
  const double t0 = NowMs();
  ASSERT_EQ(0, dyco_schedule_run());
  other.join();
  EXPECT_EQ(1, spawned);
  EXPECT_GE(NowMs() - t0, 290);
  close(p[0]);
  close(p[1]);
}

TEST(PollerTest, EpollWhenAskedForEpoll) {
  OnFreshThread(DYCO_POLLER_EPOLL, [] {
    EXPECT_EQ(DYCO_POLLER_EPOLL, dyco_schedule_getPoller());
    long r = 1;
    Go([&] {
      dyco_uring_op op;
      memset(&op, 0, sizeof op);
      op.opcode = IORING_OP_NOP;
      r = dyco_uring_call(&op);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(-ENOSYS, r);
    RunsTheBasics();
    dyco_schedule_free(dyco_schedule_self());
  });
}

TEST(PollerTest, UringWhenAskedAndTheKernelAllowsIt) {
  if (!UringAvailable()) {
    GTEST_SKIP() << "no io_uring here (a build without liburing, qemu-user, "
                    "or a kernel that refuses it)";
  }
  OnFreshThread(DYCO_POLLER_URING, [] {
    EXPECT_EQ(DYCO_POLLER_URING, dyco_schedule_getPoller());
    // Operations of several coroutines in flight at once.
    char *path = strdup("/tmp/dyco_poller_XXXXXX");
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    free(path);
    ASSERT_EQ(8, pwrite(fd, "abcdefgh", 8, 0));
    long nop = 1;
    std::string got[4];
    for (int i = 0; i < 4; ++i) {
      Go([&, i] {
        char *buf = static_cast<char *>(malloc(2));
        dyco_uring_op op;
        memset(&op, 0, sizeof op);
        op.opcode = IORING_OP_READ;
        op.fd = fd;
        op.addr = (uintptr_t)buf;
        op.len = 2;
        op.off = (uint64_t)(2 * i);
        EXPECT_EQ(2, dyco_uring_call(&op));
        got[i].assign(buf, 2);
        free(buf);
      });
    }
    Go([&] {
      dyco_uring_op op;
      memset(&op, 0, sizeof op);
      op.opcode = IORING_OP_NOP;
      nop = dyco_uring_call(&op);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(0, nop);
    EXPECT_EQ("ab", got[0]);
    EXPECT_EQ("cd", got[1]);
    EXPECT_EQ("ef", got[2]);
    EXPECT_EQ("gh", got[3]);
    // An error comes back as a negative errno.
    long bad = 0;
    Go([&] {
      dyco_uring_op op;
      memset(&op, 0, sizeof op);
      op.opcode = IORING_OP_FSYNC;
      op.fd = 1 << 20;
      bad = dyco_uring_call(&op);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(-EBADF, bad);
    close(fd);
    RunsTheBasics();
    dyco_schedule_free(dyco_schedule_self());
  });
}

// Ring operations are wait points: a timeout, a cancel and a deadline end
// a read that would wait for ever, promptly, and the ring lets go of it.
TEST(PollerTest, RingCallsEndOnTimeoutCancelAndDeadline) {
  if (!UringAvailable()) {
    GTEST_SKIP() << "no io_uring here";
  }
  OnFreshThread(DYCO_POLLER_URING, [] {
    ASSERT_EQ(DYCO_POLLER_URING, dyco_schedule_getPoller());
    int p[2];
    ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
    static char buf[3][8];
    long r[3] = {1, 1, 1};
    double took[3] = {0, 0, 0};
    auto read_op = [&](int i) {
      dyco_uring_op op;
      memset(&op, 0, sizeof op);
      op.opcode = IORING_OP_READ;
      op.fd = p[0];
      op.addr = (uintptr_t)buf[i];
      op.len = sizeof buf[i];
      op.off = (uint64_t)-1;
      return op;
    };
    int reader = Go([&] {
      dyco_uring_op op = read_op(0);
      const double t0 = NowMs();
      r[0] = dyco_uring_call(&op);  // cancelled below
      took[0] = NowMs() - t0;
    });
    Go([&] {
      dyco_uring_op op = read_op(1);
      const double t0 = NowMs();
      r[1] = dyco_uring_callTimeout(&op, 50);
      took[1] = NowMs() - t0;
    });
    Go([&] {
      dyco_uring_op op = read_op(2);
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      dyco_coroutine_setDeadline((uint64_t)ts.tv_sec * 1000000000u +
                                 (uint64_t)ts.tv_nsec + 30000000u);
      const double t0 = NowMs();
      r[2] = dyco_uring_call(&op);
      took[2] = NowMs() - t0;
      dyco_coroutine_setDeadline(0);
    });
    Go([&] {
      dyco_coroutine_sleep(20);
      EXPECT_EQ(0, dyco_coroutine_cancel(reader));
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(-ECANCELED, r[0]);
    EXPECT_EQ(-ETIMEDOUT, r[1]);
    EXPECT_EQ(-ETIMEDOUT, r[2]);
    const double slack = dyco_test::Slow() ? 1000 : 300;
    EXPECT_LT(took[0], 20 + slack);
    EXPECT_GE(took[1], 49);
    EXPECT_LT(took[1], 50 + slack);
    EXPECT_LT(took[2], 30 + slack);
    // Nothing is left reading: what is written now is all there.
    ASSERT_EQ(3, write(p[1], "xyz", 3));
    char c[4] = {0};
    EXPECT_EQ(3, read(p[0], c, sizeof c));
    EXPECT_STREQ("xyz", c);
    close(p[0]);
    close(p[1]);
    dyco_schedule_free(dyco_schedule_self());
  });
}

// A scheduler freed while coroutines wait in the ring: the operations are
// cancelled and waited for before the coroutines and their stacks go, and
// nothing leaks (a bounce buffer for the buffer on the shared stack, the
// records): LeakSanitizer checks it under --config=asan, and the data sent
// afterwards is still in the socket (the cancelled receives took nothing).
TEST(PollerTest, FreeingASchedulerEndsItsRingOperationsFirst) {
  if (!UringAvailable()) {
    GTEST_SKIP() << "no io_uring here";
  }
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  OnFreshThread(DYCO_POLLER_URING, [&] {
    ASSERT_EQ(DYCO_POLLER_URING, dyco_schedule_getPoller());
    int waiting = 0;
    Go([&] {
      char on_stack[32];  // the shared stack: a bounce buffer
      waiting++;
      dyco_uring_recv(sv[0], on_stack, sizeof on_stack, 0, -1);
      ADD_FAILURE() << "a receive of a freed scheduler returned";
    });
    int cid = Go([&] {
      char mine[32];  // a private stack: the kernel's target itself
      waiting++;
      dyco_uring_recv(sv[0], mine, sizeof mine, 0, -1);
      ADD_FAILURE() << "a receive of a freed scheduler returned";
    });
    dyco_coroutine_setStack(cid, nullptr, 64 * 1024);
    Go([&] {
      dyco_coroutine_sleep(20);
      dyco_schedcall_stop();
    });
    EXPECT_EQ(1, dyco_schedule_run());
    EXPECT_EQ(2, waiting);
    dyco_schedule_free(dyco_schedule_self());
  });
  ASSERT_EQ(5, write(sv[1], "later", 5));
  char b[8];
  EXPECT_EQ(5, recv(sv[0], b, sizeof b, MSG_DONTWAIT));
  close(sv[0]);
  close(sv[1]);
}

// dyco_uring_recv (and dyco_uring_send): data into a private buffer and
// into one on the shared stack (a bounce buffer), the end of the stream, a
// cancel that loses no data, a close by another coroutine, and what it
// refuses.
TEST(PollerTest, RingRecvReceivesAndEndsAsRecvWould) {
  if (!UringAvailable()) {
    GTEST_SKIP() << "no io_uring here";
  }
  OnFreshThread(DYCO_POLLER_URING, [] {
    ASSERT_EQ(DYCO_POLLER_URING, dyco_schedule_getPoller());
    int sv[2];
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    std::string got;
    long unregistered = 0, eof = 1, cancelled = 0, after = 0;
    int reader = 0;
    reader = Go([&] {
      char on_stack[16];  // the shared stack: bounced
      // A regular file is not for the ring's receive: do it without.
      int file = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
      unregistered = dyco_uring_recv(file, on_stack, sizeof on_stack, 0, -1);
      close(file);
      for (int i = 0; i < 2; ++i) {
        long n = dyco_uring_recv(sv[0], on_stack, sizeof on_stack, 0, -1);
        ASSERT_GT(n, 0);
        got.append(on_stack, (size_t)n);
      }
      // Cancelled while it waits; the data written afterwards stays for
      // the next call.
      cancelled = dyco_uring_recv(sv[0], on_stack, sizeof on_stack, 0, -1);
      dyco_coroutine_uncancel();
      char *heap = static_cast<char *>(malloc(16));
      after = dyco_uring_recv(sv[0], heap, 16, 0, -1);
      if (after > 0) {
        got.append(heap, (size_t)after);
      }
      free(heap);
      eof = dyco_uring_recv(sv[0], on_stack, sizeof on_stack, 0, -1);
    });
    Go([&] {
      char hello[6] = "hello";  // on the shared stack: bounced too
      ASSERT_EQ(5, dyco_uring_send(sv[1], hello, 5, 0, -1));
      dyco_coroutine_sleep(5);
      ASSERT_EQ(6, write(sv[1], " world", 6));
      dyco_coroutine_sleep(5);
      EXPECT_EQ(0, dyco_coroutine_cancel(reader));
      dyco_coroutine_sleep(5);
      ASSERT_EQ(1, write(sv[1], "!", 1));
      dyco_coroutine_sleep(5);
      shutdown(sv[1], SHUT_WR);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(-ENOSYS, unregistered);
    EXPECT_EQ(-ECANCELED, cancelled);
    EXPECT_EQ(1, after);
    EXPECT_EQ("hello world!", got);
    EXPECT_EQ(0, eof);

    // A close by another coroutine ends the receive with EBADF.
    long closed = 0;
    Go([&] {
      char b[4];
      int other[2];
      ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other));
      static int fd;
      fd = other[0];
      static int peer;
      peer = other[1];
      Go([] {
        dyco_coroutine_sleep(10);
        dyco_fd_closing(fd);
        close(fd);
      });
      EXPECT_GT(dyco_fd_wait(fd, EPOLLOUT, -1), 0);  // registered here
      closed = dyco_uring_recv(fd, b, sizeof b, 0, -1);
      close(peer);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(-EBADF, closed);

    long bad[3] = {0, 0, 0};
    Go([&] {
      bad[0] = dyco_uring_recv(-1, nullptr, 0, 0, -1);
      bad[1] = dyco_uring_recv(sv[0], nullptr, 4, 0, -1);
      bad[2] = dyco_uring_recv(sv[0], &bad, 1, 0, 0);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(-EBADF, bad[0]);
    EXPECT_EQ(-EFAULT, bad[1]);
    EXPECT_EQ(-ETIMEDOUT, bad[2]);
    close(sv[0]);
    close(sv[1]);
    dyco_schedule_free(dyco_schedule_self());
  });
}

TEST(PollerTest, OutsideACoroutineARingCallIsRefused) {
  dyco_uring_op op;
  memset(&op, 0, sizeof op);
  EXPECT_EQ(-EPERM, dyco_uring_call(&op));
  EXPECT_EQ(-EINVAL, dyco_schedule_setPoller(7));
}

// Makes io_uring_setup fail with EPERM on the calling thread, as a
// container's seccomp profile does.
bool RefuseUringSetup() {
#if defined(__x86_64__)
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog;
  prog.len = sizeof f / sizeof f[0];
  prog.filter = f;
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
  return false;
#endif
}

TEST(PollerTest, FallsBackToEpollWhenIoUringSetupIsRefused) {
  OnFreshThread(DYCO_POLLER_URING, [] {
    if (UringAvailable()) {
      if (!RefuseUringSetup()) {
        GTEST_SKIP() << "cannot install a seccomp filter here";
      }
      struct io_uring_params p;
      memset(&p, 0, sizeof p);
      errno = 0;
      ASSERT_EQ(-1, syscall(__NR_io_uring_setup, 4, &p));
      ASSERT_EQ(EPERM, errno);
    }
    // Refused (or not in this build at all): epoll serves, fully.
    EXPECT_EQ(DYCO_POLLER_EPOLL, dyco_schedule_getPoller());
    RunsTheBasics();
    dyco_schedule_free(dyco_schedule_self());
  });
}

TEST(PollerTest, TheEnvironmentChoosesWhenTheProgramDoesNot) {
  const char *old = getenv("DYCO_POLLER");
  std::string saved = old != nullptr ? old : "";
  setenv("DYCO_POLLER", "epoll", 1);
  OnFreshThread(DYCO_POLLER_DEFAULT, [] {
    EXPECT_EQ(DYCO_POLLER_EPOLL, dyco_schedule_getPoller());
    dyco_schedule_free(dyco_schedule_self());
  });
  setenv("DYCO_POLLER", "uring", 1);
  const int want = UringAvailable() ? DYCO_POLLER_URING : DYCO_POLLER_EPOLL;
  OnFreshThread(DYCO_POLLER_DEFAULT, [&] {
    EXPECT_EQ(want, dyco_schedule_getPoller());
    dyco_schedule_free(dyco_schedule_self());
  });
  // The program's choice wins over the environment's.
  OnFreshThread(DYCO_POLLER_EPOLL, [] {
    EXPECT_EQ(DYCO_POLLER_EPOLL, dyco_schedule_getPoller());
    dyco_schedule_free(dyco_schedule_self());
  });
  if (old != nullptr) {
    setenv("DYCO_POLLER", saved.c_str(), 1);
  } else {
    unsetenv("DYCO_POLLER");
  }
}

}  // namespace
