// dyco — sync layer tests: Go-style channels. Hand-offs, buffers, FIFO,
// close, len/cap, timeouts that leave nothing behind, destroy.
#include <errno.h>
#include <string.h>

#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

int SendInt(dyco_chan *ch, int v, int timeout = -1) {
  return dyco_chan_send(ch, &v, timeout);
}

// The received value, or INT32_MIN - r for a return r other than 1.
int RecvInt(dyco_chan *ch, int timeout = -1, int *ret = nullptr) {
  int v = -12345;
  int r = dyco_chan_recv(ch, &v, timeout);
  if (ret != nullptr) {
    *ret = r;
  }
  return r == 1 ? v : -1000000 + r;
}

TEST_F(SchedTest, AnUnbufferedSendWaitsForAReceiver) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 0, 0);
  ASSERT_NE(nullptr, ch);
  EXPECT_EQ(0, dyco_chan_cap(ch));
  std::string trace;
  Go([&] {
    trace += "s ";
    EXPECT_EQ(0, SendInt(ch, 7));
    trace += "sent ";
  });
  Go([&] {
    trace += "r ";
    EXPECT_EQ(0, dyco_chan_len(ch));
    EXPECT_EQ(7, RecvInt(ch));
    trace += "got ";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // The sender waited for the receiver; the receiver took the value from
  // the waiting sender without waiting itself.
  EXPECT_EQ("s r got sent ", trace);
  dyco_chan_destroy(&ch);
  EXPECT_EQ(nullptr, ch);
}

TEST_F(SchedTest, AnUnbufferedSendToAWaitingReceiverDoesNotWait) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 0, 0);
  std::string trace;
  Go([&] {
    EXPECT_EQ(3, RecvInt(ch));
    trace += "got ";
  });
  Go([&] {
    EXPECT_EQ(0, SendInt(ch, 3, 0));  // a receiver waits: no need to
    trace += "sent ";
    EXPECT_EQ(-ETIMEDOUT, SendInt(ch, 4, 0));  // nobody waits any more
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("sent got ", trace);
  dyco_chan_destroy(&ch);
}

TEST_F(SchedTest, ABufferedSendWaitsOnlyWhenFull) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 3, 0);
  std::string trace;
  Go([&] {
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(0, SendInt(ch, i));
      trace += "s" + std::to_string(i) + " ";
    }
  });
  Go([&] {
    EXPECT_EQ(3, dyco_chan_len(ch));
    EXPECT_EQ(3, dyco_chan_cap(ch));
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(i, RecvInt(ch));
      trace += "r" + std::to_string(i) + " ";
    }
    EXPECT_EQ(0, dyco_chan_len(ch));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // Three fit; the fourth waited, and its value moved into the buffer when
  // r0 made room (r3 finds it there before the sender has even run again);
  // the fifth was sent only once the fourth sender ran.
  EXPECT_EQ("s0 s1 s2 r0 r1 r2 r3 s3 s4 r4 ", trace);
  dyco_chan_destroy(&ch);
}

TEST_F(SchedTest, WaitingSendersAndReceiversAreServedFirstComeFirstServed) {
  for (size_t cap : {0, 1, 4}) {
    dyco_chan *ch = dyco_chan_create(sizeof(int), cap, 0);
    std::vector<int> first(4, -1);
    std::vector<int> rest;
    // Receivers queue up first, in order; then senders flood in, in order.
    for (int i = 0; i < 4; ++i) {
      Go([&, i] { first[i] = RecvInt(ch); });
    }
    for (int i = 0; i < 10; ++i) {
      Go([&, i] { EXPECT_EQ(0, SendInt(ch, i)); });
    }
    Go([&] {
      for (int i = 4; i < 10; ++i) {
        rest.push_back(RecvInt(ch));
      }
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ((std::vector<int>{0, 1, 2, 3}), first) << "capacity " << cap;
    EXPECT_EQ((std::vector<int>{4, 5, 6, 7, 8, 9}), rest) << "capacity " << cap;
    dyco_chan_destroy(&ch);
  }
}

TEST_F(SchedTest, CloseDrainsTheBufferThenReportsClosed) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 4, 0);
  Go([&] {
    EXPECT_EQ(0, SendInt(ch, 1));
    EXPECT_EQ(0, SendInt(ch, 2));
    EXPECT_EQ(0, dyco_chan_close(ch));
    EXPECT_EQ(-EALREADY, dyco_chan_close(ch));
    EXPECT_EQ(-EPIPE, SendInt(ch, 3));
    EXPECT_EQ(-EPIPE, SendInt(ch, 3, 0));
    EXPECT_EQ(2, dyco_chan_len(ch));
    EXPECT_EQ(1, RecvInt(ch));
    EXPECT_EQ(2, RecvInt(ch));
    int r;
    RecvInt(ch, -1, &r);
    EXPECT_EQ(0, r);
    RecvInt(ch, 0, &r);
    EXPECT_EQ(0, r);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&ch);
}

TEST_F(SchedTest, CloseWakesWaitingSendersWithEpipeAndReceiversWithClosed) {
  dyco_chan *full = dyco_chan_create(sizeof(int), 1, 0);
  dyco_chan *empty = dyco_chan_create(sizeof(int), 0, 0);
  int senders = 0, receivers = 0;
  Go([&] { EXPECT_EQ(0, SendInt(full, 1)); });
  for (int i = 0; i < 3; ++i) {
    Go([&] { senders += SendInt(full, 2) == -EPIPE; });
    Go([&] {
      int r;
      RecvInt(empty, -1, &r);
      receivers += r == 0;
    });
  }
  Go([&] {
    dyco_coroutine_sleep(5);
    EXPECT_EQ(0, dyco_chan_close(full));
    EXPECT_EQ(0, dyco_chan_close(empty));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(3, senders);
  EXPECT_EQ(3, receivers);
  // The value buffered before the close is still there; the waiting
  // senders' values are not.
  Go([&] {
    EXPECT_EQ(1, RecvInt(full));
    int r;
    RecvInt(full, -1, &r);
    EXPECT_EQ(0, r);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&full);
  dyco_chan_destroy(&empty);
}

TEST_F(SchedTest, DestroyWakesEveryWaiterWithEidrm) {
  // Not the close's -EPIPE and 0: the code of every destroyed primitive.
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  int woke = 0;
  for (int i = 0; i < 3; ++i) {
    Go([&] { woke += SendInt(a, 1) == -EIDRM; });
    Go([&] {
      int r;
      RecvInt(b, -1, &r);
      woke += r == -EIDRM;
    });
  }
  Go([&] {
    dyco_coroutine_yield();
    dyco_chan_destroy(&a);
    dyco_chan_destroy(&b);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(6, woke);
}

TEST_F(SchedTest, EveryTimeoutPathOfAGoStyleChannel) {
  dyco_chan *unbuf = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *buf = dyco_chan_create(sizeof(int), 1, 0);
  Go([&] {
    int r;
    for (dyco_chan *ch : {unbuf, buf}) {
      double start = NowMs();
      RecvInt(ch, 0, &r);
      EXPECT_EQ(-ETIMEDOUT, r);
      RecvInt(ch, 25, &r);
      EXPECT_EQ(-ETIMEDOUT, r);
      EXPECT_GE(NowMs() - start, 24.5);
    }
    double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, SendInt(unbuf, 1, 0));
    EXPECT_EQ(-ETIMEDOUT, SendInt(unbuf, 1, 25));
    EXPECT_GE(NowMs() - start, 24.5);
    EXPECT_EQ(0, SendInt(buf, 1, 0));
    start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, SendInt(buf, 2, 0));
    EXPECT_EQ(-ETIMEDOUT, SendInt(buf, 2, 25));
    EXPECT_GE(NowMs() - start, 24.5);
    // Nothing of the timed-out sends stayed behind.
    EXPECT_EQ(1, RecvInt(buf, 0));
    RecvInt(buf, 0, &r);
    EXPECT_EQ(-ETIMEDOUT, r);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&unbuf);
  dyco_chan_destroy(&buf);
}

TEST_F(SchedTest, TimedOutWaitersNeverSwallowAValue) {
  dyco_chan *ch = dyco_chan_create(sizeof(int), 0, 0);
  std::vector<int> got;
  // Receivers with short timeouts interleaved with patient ones.
  for (int i = 0; i < 6; ++i) {
    Go([&, i] {
      int r;
      int v = RecvInt(ch, i % 2 == 0 ? 5 : 5000, &r);
      if (i % 2 == 0) {
        EXPECT_EQ(-ETIMEDOUT, r);
      } else {
        got.push_back(v);
      }
    });
  }
  Go([&] {
    dyco_coroutine_sleep(30);  // the impatient ones are gone
    for (int v = 1; v <= 3; ++v) {
      EXPECT_EQ(0, SendInt(ch, v, 0));  // each finds a patient receiver
    }
    EXPECT_EQ(-ETIMEDOUT, SendInt(ch, 4, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ((std::vector<int>{1, 2, 3}), got);
  dyco_chan_destroy(&ch);
}

TEST_F(SchedTest, AWakeAndATimeoutInTheSameInstantGiveOneOutcome) {
  // Receivers whose deadline passes while the sender is busy: each send
  // either reaches a receiver that reports the value, or finds none.
  dyco_chan *ch = dyco_chan_create(sizeof(int), 0, 0);
  int received = 0, timed_out = 0, delivered = 0;
  for (int i = 0; i < 100; ++i) {
    Go([&] {
      int r;
      RecvInt(ch, 5, &r);
      received += r == 1;
      timed_out += r == -ETIMEDOUT;
    });
  }
  Go([&] {
    const double start = NowMs();
    while (NowMs() - start < 10) {
    }
    for (int i = 0; i < 50; ++i) {
      delivered += SendInt(ch, i, 0) == 0;
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(100, received + timed_out);
  EXPECT_EQ(delivered, received);
  dyco_chan_destroy(&ch);
}

struct Big {
  char bytes[200];
};

TEST_F(SchedTest, LargeElementsAndSignalChannels) {
  dyco_chan *big = dyco_chan_create(sizeof(Big), 2, 0);
  dyco_chan *sig = dyco_chan_create(0, 0, 0);
  Go([&] {
    for (int i = 0; i < 5; ++i) {
      Big b;
      memset(b.bytes, 'a' + i, sizeof b.bytes);
      EXPECT_EQ(0, dyco_chan_send(big, &b, -1));
    }
    EXPECT_EQ(0, dyco_chan_send(sig, nullptr, -1));
  });
  Go([&] {
    for (int i = 0; i < 5; ++i) {
      Big b;
      EXPECT_EQ(1, dyco_chan_recv(big, &b, -1));
      for (char c : b.bytes) {
        ASSERT_EQ('a' + i, c);
      }
    }
    EXPECT_EQ(1, dyco_chan_recv(sig, nullptr, -1));
    // A value may be dropped.
    EXPECT_EQ(-ETIMEDOUT, dyco_chan_recv(big, nullptr, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&big);
  dyco_chan_destroy(&sig);
}

TEST_F(SchedTest, BadArgumentsOfGoStyleChannels) {
  errno = 0;
  EXPECT_EQ(nullptr, dyco_chan_create(4, 0, 0x100));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(nullptr, dyco_chan_create(SIZE_MAX / 2, 4, 0));
  EXPECT_EQ(ENOMEM, errno);
  dyco_chan *ch = dyco_chan_create(sizeof(int), 1, 0);
  int v = 0;
  EXPECT_EQ(-EINVAL, dyco_chan_send(nullptr, &v, 0));
  EXPECT_EQ(-EINVAL, dyco_chan_send(ch, nullptr, 0));
  EXPECT_EQ(-EINVAL, dyco_chan_recv(nullptr, &v, 0));
  EXPECT_EQ(-EINVAL, dyco_chan_close(nullptr));
  EXPECT_EQ(-EINVAL, dyco_chan_len(nullptr));
  EXPECT_EQ(-EINVAL, dyco_chan_cap(nullptr));
  // Outside a coroutine: fine until it would wait.
  EXPECT_EQ(0, dyco_chan_send(ch, &v, -1));
  EXPECT_EQ(-EPERM, dyco_chan_send(ch, &v, -1));
  EXPECT_EQ(1, dyco_chan_recv(ch, &v, -1));
  EXPECT_EQ(-EPERM, dyco_chan_recv(ch, &v, 100));
  dyco_chan_destroy(&ch);
  dyco_chan_destroy(&ch);
  dyco_chan_destroy(nullptr);
}

TEST_F(SchedTest, ManyProducersAndConsumersLoseAndDuplicateNothing) {
  for (size_t cap : {0, 1, 7}) {
    dyco_chan *ch = dyco_chan_create(sizeof(int), cap, 0);
    const int kProducers = 8, kEach = 200;
    std::vector<int> seen(kProducers * kEach, 0);
    int closed = 0;
    for (int p = 0; p < kProducers; ++p) {
      Go([&, p] {
        for (int i = 0; i < kEach; ++i) {
          EXPECT_EQ(0, SendInt(ch, p * kEach + i));
          if (i % 7 == p % 7) {
            dyco_coroutine_yield();
          }
        }
      });
    }
    for (int c = 0; c < 5; ++c) {
      Go([&] {
        int v, r;
        while ((v = RecvInt(ch, -1, &r)), r == 1) {
          seen[v]++;
          if (v % 5 == 0) {
            dyco_coroutine_yield();
          }
        }
        closed += r == 0;
      });
    }
    Go([&] {
      // Close once everything was taken.
      for (;;) {
        int total = 0;
        for (int n : seen) {
          total += n;
        }
        if (total == kProducers * kEach) {
          break;
        }
        dyco_coroutine_sleep(1);
      }
      dyco_chan_close(ch);
    });
    ASSERT_EQ(0, dyco_schedule_run());
    for (int n : seen) {
      ASSERT_EQ(1, n) << "capacity " << cap;
    }
    EXPECT_EQ(5, closed);
    dyco_chan_destroy(&ch);
  }
}

}  // namespace
