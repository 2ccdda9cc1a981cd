// dyco — sched layer tests: wait queues (FIFO wakes, timeouts that leave no
// trace, close, waiting on several queues) and waits on file descriptors.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

TEST_F(SchedTest, WaitQueueWakesInArrivalOrderWithTheWakersValue) {
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  std::vector<std::pair<int, intptr_t>> woke;
  for (int i = 0; i < 4; ++i) {
    Go([&, i] {
      intptr_t v = -1;
      ASSERT_EQ(0, dyco_waitq_wait(&q, -1, &v));
      woke.emplace_back(i, v);
    });
  }
  Go([&] {
    EXPECT_EQ(1, dyco_waitq_hasWaiter(&q));
    EXPECT_EQ(1, dyco_waitq_wakeOne(&q, 100));
    EXPECT_EQ(1, dyco_waitq_wakeOne(&q, 101));
    EXPECT_EQ(2, dyco_waitq_wakeAll(&q, 102));
    EXPECT_EQ(0, dyco_waitq_wakeOne(&q, 103));
    EXPECT_EQ(0, dyco_waitq_hasWaiter(&q));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(4u, woke.size());
  EXPECT_EQ(std::make_pair(0, intptr_t{100}), woke[0]);
  EXPECT_EQ(std::make_pair(1, intptr_t{101}), woke[1]);
  EXPECT_EQ(std::make_pair(2, intptr_t{102}), woke[2]);
  EXPECT_EQ(std::make_pair(3, intptr_t{102}), woke[3]);
}

TEST_F(SchedTest, ATimedOutWaiterLeavesNothingBehind) {
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  std::string trace;
  Go([&] {
    const double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_waitq_wait(&q, 30, nullptr));
    EXPECT_GE(NowMs() - start, 29.5);
    trace += "t";
  });
  Go([&] {
    intptr_t v = 0;
    EXPECT_EQ(0, dyco_waitq_wait(&q, -1, &v));
    EXPECT_EQ(7, v);
    trace += "w";
  });
  Go([&] {
    dyco_coroutine_sleep(60);
    // The first waiter timed out: the wake goes to the second, not into the
    // void.
    EXPECT_EQ(1, dyco_waitq_wakeOne(&q, 7));
    EXPECT_EQ(0, dyco_waitq_wakeOne(&q, 8));
    EXPECT_EQ(nullptr, q.head);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("tw", trace);
  EXPECT_EQ(0, q.refs);
}

TEST_F(SchedTest, ATimeoutAndAWakeInTheSameInstantGiveExactlyOneOutcome) {
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  int woken = 0, timed_out = 0;
  for (int i = 0; i < 200; ++i) {
    Go([&] {
      int r = dyco_waitq_wait(&q, 10, nullptr);
      if (r == 0) {
        woken++;
      }
      if (r == -ETIMEDOUT) {
        timed_out++;
      }
    });
  }
  int handed = 0;
  Go([&] {
    // Busy past the deadline: timers are due, but the loop has not fired
    // them; each wake must still either land or be refused.
    const double start = NowMs();
    while (NowMs() - start < 15) {
    }
    for (int i = 0; i < 100; ++i) {
      handed += dyco_waitq_wakeOne(&q, 0);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(200, woken + timed_out);
  EXPECT_EQ(handed, woken);
}

TEST_F(SchedTest, TimeoutZeroDoesNotWait) {
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  Go([&] {
    EXPECT_EQ(-ETIMEDOUT, dyco_waitq_wait(&q, 0, nullptr));
    EXPECT_EQ(nullptr, q.head);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

struct Closable {
  dyco_waitq q;
  bool released = false;
};

void Release(void *p) { static_cast<Closable *>(p)->released = true; }

TEST_F(SchedTest, CloseWakesEveryWaiterAndTheLastOneOutReleases) {
  Closable c;
  dyco_waitq_init(&c.q, nullptr);
  int gone = 0;
  for (int i = 0; i < 3; ++i) {
    Go([&] {
      intptr_t v = 0;
      EXPECT_EQ(-EIDRM, dyco_waitq_wait(&c.q, -1, &v));
      EXPECT_EQ(-ECANCELED, v);
      gone++;
    });
  }
  Go([&] {
    // Three still queued: release comes from the last of them.
    EXPECT_EQ(0, dyco_waitq_close(&c.q, -ECANCELED, Release, &c));
    EXPECT_FALSE(c.released);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(3, gone);
  EXPECT_TRUE(c.released);
  // A queue nobody waits on can be freed at once.
  Closable idle;
  dyco_waitq_init(&idle.q, nullptr);
  EXPECT_EQ(1, dyco_waitq_close(&idle.q, 0, Release, &idle));
  EXPECT_FALSE(idle.released);
}

TEST_F(SchedTest, CloseAfterATimeoutFiredStillReleasesOnce) {
  Closable c;
  dyco_waitq_init(&c.q, nullptr);
  Go([&] { EXPECT_EQ(-EIDRM, dyco_waitq_wait(&c.q, 5, nullptr)); });
  Go([&] {
    // The waiter ran first and waits now (no sleep to hope for it: on a
    // busy machine a 1 ms sleep can end in the same pass as the waiter's
    // deadline). Stay busy past its deadline, then yield as an urgent
    // coroutine: the loop fires the waiter's timer, and this one closes the
    // queue before the timed-out waiter is back.
    const double start = NowMs();
    while (NowMs() - start < 15) {
    }
    ASSERT_EQ(0, dyco_coroutine_setUrgent(dyco_coroutine_coroID()));
    dyco_coroutine_yield();
    EXPECT_FALSE(c.released);
    EXPECT_EQ(0, dyco_waitq_close(&c.q, 0, Release, &c));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(c.released);
}

TEST_F(SchedTest, WaitAnyTakesTheFirstWakeAndLeavesTheOtherQueues) {
  dyco_waitq a, b, c;
  dyco_waitq_init(&a, nullptr);
  dyco_waitq_init(&b, nullptr);
  dyco_waitq_init(&c, nullptr);
  int index = -1;
  intptr_t value = 0;
  Go([&] {
    dyco_waitq *qs[] = {&a, &b, &c};
    index = dyco_waitq_waitAny(qs, 3, -1, &value, nullptr);
  });
  Go([&] {
    EXPECT_EQ(1, dyco_waitq_wakeOne(&b, 42));
    // Its nodes in a and c are claimed: nothing to wake there.
    EXPECT_EQ(0, dyco_waitq_wakeOne(&a, 1));
    EXPECT_EQ(0, dyco_waitq_hasWaiter(&c));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, index);
  EXPECT_EQ(42, value);
  EXPECT_EQ(nullptr, a.head);
  EXPECT_EQ(nullptr, b.head);
  EXPECT_EQ(nullptr, c.head);
  EXPECT_EQ(0, a.refs + b.refs + c.refs);
}

TEST_F(SchedTest, WaitAnyTimesOutAndReportsClosedQueues) {
  dyco_waitq a, b;
  dyco_waitq_init(&a, nullptr);
  dyco_waitq_init(&b, nullptr);
  Go([&] {
    dyco_waitq *qs[] = {&a, &b};
    EXPECT_EQ(-ETIMEDOUT, dyco_waitq_waitAny(qs, 2, 20, nullptr, nullptr));
    uint64_t closed = 0;
    intptr_t v = 0;
    EXPECT_EQ(0, dyco_waitq_waitAny(qs, 2, -1, &v, &closed));
    EXPECT_EQ(1u, closed);
    EXPECT_EQ(9, v);
    EXPECT_EQ(-EINVAL, dyco_waitq_waitAny(qs, 0, -1, nullptr, nullptr));
    EXPECT_EQ(-EINVAL, dyco_waitq_waitAny(qs, 65, -1, nullptr, nullptr));
  });
  Go([&] {
    dyco_coroutine_sleep(40);
    EXPECT_EQ(0, dyco_waitq_close(&a, 9, nullptr, nullptr));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(nullptr, b.head);
}

// --- file descriptors
// ------------------------------------------------------------

struct Pipe {
  Pipe() { EXPECT_EQ(0, pipe2(fd, O_NONBLOCK)); }
  ~Pipe() {
    if (fd[0] >= 0) {
      close(fd[0]);
    }
    if (fd[1] >= 0) {
      close(fd[1]);
    }
  }
  int fd[2];
};

TEST_F(SchedTest, WaitReadReturnsWhenDataArrivesAndTimesOutOtherwise) {
  Pipe p;
  Go([&] {
    const double start = NowMs();
    EXPECT_EQ(0, dyco_coroutine_waitRead(p.fd[0], 30));
    EXPECT_GE(NowMs() - start, 29.5);
    EXPECT_EQ(0, dyco_coroutine_waitRead(p.fd[0], 0));
    int r = dyco_coroutine_waitRead(p.fd[0], 2000);
    EXPECT_TRUE(r & EPOLLIN) << r;
    char c;
    EXPECT_EQ(1, read(p.fd[0], &c, 1));
    // Already readable: returns at once.
    r = dyco_coroutine_waitRead(p.fd[0], -1);
    EXPECT_TRUE(r & EPOLLIN) << r;
  });
  Go([&] {
    dyco_coroutine_sleep(60);
    EXPECT_EQ(2, write(p.fd[1], "ab", 2));
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, WaitWriteAndWaitRWTimeOutOnAFullPipe) {
  Pipe p;
  char buf[4096] = {};
  while (write(p.fd[1], buf, sizeof buf) > 0) {
  }
  Go([&] {
    EXPECT_EQ(0, dyco_coroutine_waitWrite(p.fd[1], 20));
    EXPECT_EQ(0, dyco_coroutine_waitRW(p.fd[1], 20));
    int r = dyco_coroutine_waitWrite(p.fd[1], 2000);
    EXPECT_TRUE(r & EPOLLOUT) << r;
  });
  Go([&] {
    dyco_coroutine_sleep(60);
    char sink[65536];
    while (read(p.fd[0], sink, sizeof sink) > 0) {
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, TwoReadersOnOneFdBothWake) {
  Pipe p;
  int woke = 0;
  for (int i = 0; i < 2; ++i) {
    Go([&] {
      int r = dyco_coroutine_waitRead(p.fd[0], 2000);
      EXPECT_TRUE(r & EPOLLIN) << r;
      woke++;
    });
  }
  Go([&] {
    dyco_coroutine_sleep(10);
    EXPECT_EQ(1, write(p.fd[1], "x", 1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2, woke);
}

TEST_F(SchedTest, AReaderAndAWriterOnOneFdWakeForTheirOwnEvents) {
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
  char buf[4096] = {};
  while (write(sv[0], buf, sizeof buf) > 0) {
  }
  std::string trace;
  Go([&] {
    int r = dyco_coroutine_waitRead(sv[0], 3000);
    EXPECT_TRUE(r & EPOLLIN) << r;
    trace += "r";
  });
  Go([&] {
    int r = dyco_coroutine_waitWrite(sv[0], 3000);
    EXPECT_TRUE(r & EPOLLOUT) << r;
    trace += "w";
  });
  Go([&] {
    dyco_coroutine_sleep(20);
    // Make room first: only the writer may wake.
    char sink[1 << 16];
    while (read(sv[1], sink, sizeof sink) > 0) {
    }
    // Until one of them has woken (2 s at most: a loaded machine may keep
    // this thread off the CPU past a short sleep, whose timer then comes
    // before the poll that sees the room).
    for (int i = 0; i < 200 && trace.empty(); i++) {
      dyco_coroutine_sleep(10);
    }
    EXPECT_EQ("w", trace);
    EXPECT_EQ(1, write(sv[1], "x", 1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("wr", trace);
  close(sv[0]);
  close(sv[1]);
}

TEST_F(SchedTest, ClosingAnFdWakesItsWaitersWithEbadfAndTheNumberWorksAgain) {
  Pipe p;
  int fd = p.fd[0];
  int r1 = 0, r2 = 0;
  Go([&] { r1 = dyco_fd_wait(fd, EPOLLIN, -1); });
  Go([&] { r2 = dyco_coroutine_waitRW(fd, -1); });
  Go([&] {
    dyco_coroutine_sleep(10);
    dyco_fd_closing(fd);
    close(fd);
    p.fd[0] = -1;
    // The number comes back for a new pipe: waiting on it works at once.
    int again[2];
    ASSERT_EQ(0, pipe2(again, O_NONBLOCK));
    ASSERT_EQ(fd, again[0]);
    Go([again] {
      dyco_coroutine_sleep(10);
      EXPECT_EQ(1, write(again[1], "y", 1));
    });
    int r = dyco_fd_wait(again[0], EPOLLIN, 2000);
    EXPECT_TRUE(r & EPOLLIN) << r;
    close(again[0]);
    close(again[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-EBADF, r1);
  EXPECT_EQ(-EBADF, r2);
}

TEST_F(SchedTest, BadAndUnpollableFds) {
  Go([] {
    EXPECT_EQ(-EBADF, dyco_coroutine_waitRead(-1, 10));
    EXPECT_EQ(-EBADF, dyco_coroutine_waitRead(1000000, 10));
    EXPECT_EQ(-EBADF, dyco_fd_wait(-3, EPOLLIN, 10));
    EXPECT_EQ(-EINVAL, dyco_fd_wait(0, 0, 10));
    // A regular file is always ready, as poll says.
    char name[] = "/tmp/dyco_wait_test_XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    unlink(name);
    EXPECT_TRUE(dyco_coroutine_waitRead(fd, 1000) & EPOLLIN);
    EXPECT_EQ(EPOLLIN, dyco_fd_wait(fd, EPOLLIN, 1000));
    close(fd);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, FdWaitsThatTimeOutReturnEtimedout) {
  // dyco's own waits say -ETIMEDOUT (docs/errors.md); the seed's
  // waitRead/Write/RW keep their documented 0.
  Pipe p;
  Go([&] {
    EXPECT_EQ(-ETIMEDOUT, dyco_fd_wait(p.fd[0], EPOLLIN, 0));
    double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_fd_wait(p.fd[0], EPOLLIN, 20));
    EXPECT_GE(NowMs() - start, 19);
    struct pollfd fds[2] = {{p.fd[0], POLLIN, 0}, {-1, POLLIN, 0}};
    EXPECT_EQ(-ETIMEDOUT, dyco_fd_poll(fds, 2, 0, nullptr));
    start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_fd_poll(fds, 2, 20, nullptr));
    EXPECT_GE(NowMs() - start, 19);
    EXPECT_EQ(0, fds[0].revents);
    EXPECT_EQ(-ETIMEDOUT, dyco_fd_poll(nullptr, 0, 5, nullptr));
    EXPECT_EQ(0, dyco_coroutine_waitRead(p.fd[0], 0));
    EXPECT_EQ(0, dyco_coroutine_waitRead(p.fd[0], 20));
    EXPECT_EQ(0, dyco_coroutine_waitRW(p.fd[0], 20));
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

// The thread busy (no coroutine yields) from before a wait's deadline to
// after it, while the fd became ready before it: the wait ends with the
// event, as a thread blocked in recv(2) with SO_RCVTIMEO that runs late
// gets the data that came in time (the kernel looks at the queue before the
// timeout). Both ways the scheduler comes back: with a coroutine still ready
// (a poll without sleeping), and with none (the poll that may sleep).
TEST_F(SchedTest, AnFdReadyInTimeWinsOverADeadlinePassedWhileTheThreadWasBusy) {
  Pipe pipes[2];  // both open throughout: no fd number used twice
  for (const bool another_ready : {true, false}) {
    SCOPED_TRACE(another_ready ? "a coroutine still ready" : "none ready");
    Pipe &p = pipes[another_ready];
    int r = 0;
    bool busy_done = false;
    Go([&] {
      r = dyco_fd_wait(p.fd[0], EPOLLIN, 20);
      EXPECT_TRUE(busy_done);  // it did not run before the busy one ended
    });
    Go([&] {
      ASSERT_EQ(1, write(p.fd[1], "z", 1));
      const double start = NowMs();
      while (NowMs() - start < 60) {  // past the waiter's deadline, busy
      }
      busy_done = true;
      if (another_ready) {
        dyco_coroutine_yield();  // still ready when the scheduler looks
      }
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(EPOLLIN, r & EPOLLIN);
  }
}

TEST_F(SchedTest, ManyWaitsOnOneFd) {
  Pipe p;
  Go([&] {
    for (int i = 0; i < 50; ++i) {
      int r = dyco_fd_wait(p.fd[0], EPOLLIN, 1000);
      ASSERT_TRUE(r & EPOLLIN);
      char c;
      ASSERT_EQ(1, read(p.fd[0], &c, 1));
    }
  });
  Go([&] {
    for (int i = 0; i < 50; ++i) {
      dyco_coroutine_yield();
      ASSERT_EQ(1, write(p.fd[1], "z", 1));
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

}  // namespace
