// dyco — sync layer tests: select. Exactly one case, random among ready
// ones, waiting, timeouts, closed and destroyed channels.
#include <errno.h>

#include <set>
#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

dyco_select_case Recv(dyco_chan *ch, int *into) {
  return dyco_select_case{ch, DYCO_SELECT_RECV, into, -99};
}

dyco_select_case Send(dyco_chan *ch, int *from) {
  return dyco_select_case{ch, DYCO_SELECT_SEND, from, -99};
}

TEST_F(SchedTest, SelectTakesExactlyOneOfSeveralReadyCases) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 4, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 4, 0);
  dyco_chan *out = dyco_chan_create(sizeof(int), 4, 0);
  Go([&] {
    int one = 1, two = 2, three = 3;
    EXPECT_EQ(0, dyco_chan_send(a, &one, 0));
    EXPECT_EQ(0, dyco_chan_send(b, &two, 0));
    int x = 0, y = 0;
    dyco_select_case cs[] = {Recv(a, &x), Recv(b, &y), Send(out, &three)};
    int i = dyco_select(cs, 3, -1);
    ASSERT_GE(i, 0);
    ASSERT_LT(i, 3);
    // Exactly one happened, and only its case says so.
    EXPECT_EQ(1, dyco_chan_len(a) + dyco_chan_len(b) - dyco_chan_len(out));
    EXPECT_EQ(i == 0 ? 1 : 0, 1 - dyco_chan_len(a));
    EXPECT_EQ(i == 1 ? 1 : 0, 1 - dyco_chan_len(b));
    EXPECT_EQ(i == 2 ? 1 : 0, dyco_chan_len(out));
    EXPECT_EQ(i == 0 ? 1 : 0, x);
    EXPECT_EQ(i == 1 ? 2 : 0, y);
    for (int k = 0; k < 3; ++k) {
      if (k == i) {
        EXPECT_EQ(k == 2 ? 0 : 1, cs[k].result);
      } else {
        EXPECT_EQ(-99, cs[k].result);
      }
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
  dyco_chan_destroy(&out);
}

TEST_F(SchedTest, SelectChoosesAtRandomAmongReadyCases) {
  dyco_chan *ch[3];
  for (auto &c : ch) {
    c = dyco_chan_create(sizeof(int), 1, 0);
  }
  int hits[3] = {0, 0, 0};
  Go([&] {
    for (int round = 0; round < 300; ++round) {
      int v = round;
      for (auto *c : ch) {
        if (dyco_chan_len(c) == 0) {
          dyco_chan_send(c, &v, 0);
        }
      }
      int x;
      dyco_select_case cs[] = {Recv(ch[0], &x), Recv(ch[1], &x),
                               Recv(ch[2], &x)};
      int i = dyco_select(cs, 3, 0);
      ASSERT_GE(i, 0);
      hits[i]++;
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  for (int h : hits) {
    EXPECT_GT(h, 30) << "a ready case starves";
  }
  for (auto &c : ch) {
    dyco_chan_destroy(&c);
  }
}

TEST_F(SchedTest, SelectWaitsForTheFirstCaseThatBecomesPossible) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  int index = -1, x = 0;
  Go([&] {
    dyco_select_case cs[] = {Recv(a, &x), Recv(b, &x)};
    index = dyco_select(cs, 2, -1);
    EXPECT_EQ(1, cs[index].result);
  });
  Go([&] {
    int v = 42;
    EXPECT_EQ(0, dyco_chan_send(b, &v, 0));  // the select waits on b
    // It took b: it is no longer waiting on a.
    EXPECT_EQ(-ETIMEDOUT, dyco_chan_send(a, &v, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, index);
  EXPECT_EQ(42, x);
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

TEST_F(SchedTest, ASelectedSendGoesToAReceiverThatComesLater) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  int index = -1, got = 0;
  Go([&] {
    int v = 5, x = 0;
    dyco_select_case cs[] = {Send(a, &v), Recv(b, &x)};
    v = 5;
    index = dyco_select(cs, 2, -1);
    EXPECT_EQ(0, cs[0].result);
    v = 6;  // the value was copied when the select queued
  });
  Go([&] { EXPECT_EQ(1, dyco_chan_recv(a, &got, -1)); });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, index);
  EXPECT_EQ(5, got);
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

TEST_F(SchedTest, ASenderThatFindsTheSelectWonElsewhereIsNotLost) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  int x = 0, index = -1, later = 0;
  Go([&] {
    dyco_select_case cs[] = {Recv(a, &x), Recv(b, &x)};
    index = dyco_select(cs, 2, -1);
  });
  // Both senders run before the select does again: the first wins it, the
  // second finds its cell taken and must wait for another receiver.
  Go([&] {
    int v = 1;
    EXPECT_EQ(0, dyco_chan_send(a, &v, -1));
  });
  Go([&] {
    int v = 2;
    EXPECT_EQ(0, dyco_chan_send(b, &v, -1));
  });
  Go([&] {
    dyco_coroutine_sleep(5);
    EXPECT_EQ(1, dyco_chan_recv(b, &later, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, index);
  EXPECT_EQ(1, x);
  EXPECT_EQ(2, later);
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

TEST_F(SchedTest, TwoSelectsRaceForOneValue) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  int taken = 0, timed_out = 0;
  for (int i = 0; i < 2; ++i) {
    Go([&] {
      int x = 0;
      dyco_select_case cs[] = {Recv(a, &x), Recv(b, &x)};
      int r = dyco_select(cs, 2, 30);
      taken += r >= 0;
      timed_out += r == -ETIMEDOUT;
    });
  }
  Go([&] {
    int v = 9;
    EXPECT_EQ(0, dyco_chan_send(b, &v, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, taken);
  EXPECT_EQ(1, timed_out);
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

TEST_F(SchedTest, SelectTimeouts) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *full = dyco_chan_create(sizeof(int), 1, 0);
  Go([&] {
    int v = 1, x;
    EXPECT_EQ(0, dyco_chan_send(full, &v, 0));
    dyco_select_case cs[] = {Recv(a, &x), Send(full, &v)};
    double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_select(cs, 2, 0));
    EXPECT_LT(NowMs() - start, 1000);
    start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_select(cs, 2, 25));
    EXPECT_GE(NowMs() - start, 24.5);
    // Nothing stayed queued: the channels behave as if it never waited.
    EXPECT_EQ(-ETIMEDOUT, dyco_chan_send(a, &v, 0));
    EXPECT_EQ(1, dyco_chan_len(full));
    EXPECT_EQ(1, dyco_chan_recv(full, &x, 0));
    EXPECT_EQ(-ETIMEDOUT, dyco_chan_recv(full, &x, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&full);
}

TEST_F(SchedTest, SelectOnClosedChannels) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  Go([&] {
    int x = 0, v = 1;
    dyco_chan_close(a);
    dyco_select_case r[] = {Recv(a, &x), Recv(b, &x)};
    EXPECT_EQ(0, dyco_select(r, 2, -1));
    EXPECT_EQ(0, r[0].result);  // closed
    dyco_select_case s[] = {Send(a, &v), Recv(b, &x)};
    EXPECT_EQ(0, dyco_select(s, 2, -1));
    EXPECT_EQ(-EPIPE, s[0].result);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

TEST_F(SchedTest, CloseOrDestroyWhileASelectWaits) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *c = dyco_chan_create(sizeof(int), 0, 0);
  int first = -1, second = -1, r1 = -99, r2 = -99;
  Go([&] {
    int x, v = 3;
    dyco_select_case cs[] = {Recv(a, &x), Recv(b, &x)};
    first = dyco_select(cs, 2, -1);
    r1 = cs[first].result;
    dyco_select_case ds[] = {Send(c, &v), Recv(b, &x)};
    second = dyco_select(ds, 2, -1);
    r2 = ds[second].result;
  });
  Go([&] {
    dyco_coroutine_yield();
    EXPECT_EQ(0, dyco_chan_close(b));
    dyco_coroutine_yield();
    dyco_coroutine_yield();
    dyco_chan_destroy(&c);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, first);
  EXPECT_EQ(0, r1);
  // b is closed: the second select takes it at once.
  EXPECT_EQ(1, second);
  EXPECT_EQ(0, r2);
  dyco_chan_destroy(&a);
  dyco_chan_destroy(&b);
}

TEST_F(SchedTest, DestroyWhileASelectWaitsOnIt) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 0, 0);
  dyco_chan *b = dyco_chan_create(sizeof(int), 0, 0);
  int index = -1, result = -99;
  Go([&] {
    int x, v = 1;
    dyco_select_case cs[] = {Recv(a, &x), Send(b, &v)};
    index = dyco_select(cs, 2, -1);
    result = cs[index].result;
  });
  Go([&] {
    dyco_coroutine_yield();
    dyco_chan_destroy(&b);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, index);
  EXPECT_EQ(-EIDRM, result);
  dyco_chan_destroy(&a);
}

TEST_F(SchedTest, SelectSkipsNullChannelsAndChecksItsArguments) {
  dyco_chan *a = dyco_chan_create(sizeof(int), 1, 0);
  Go([&] {
    int v = 4, x = 0;
    dyco_select_case cs[] = {Recv(nullptr, &x), Send(a, &v)};
    EXPECT_EQ(1, dyco_select(cs, 2, 0));
    dyco_select_case none[] = {Recv(nullptr, &x)};
    EXPECT_EQ(-EINVAL, dyco_select(none, 1, 0));
    EXPECT_EQ(-EINVAL, dyco_select(cs, 0, 0));
    EXPECT_EQ(-EINVAL, dyco_select(cs, DYCO_SELECT_MAX + 1, 0));
    EXPECT_EQ(-EINVAL, dyco_select(nullptr, 1, 0));
    dyco_select_case bad[] = {{a, 7, &x, 0}};
    EXPECT_EQ(-EINVAL, dyco_select(bad, 1, 0));
    dyco_select_case nosrc[] = {{a, DYCO_SELECT_SEND, nullptr, 0}};
    EXPECT_EQ(-EINVAL, dyco_select(nosrc, 1, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // Outside a coroutine: fine until it would wait.
  int x = 0;
  dyco_select_case cs[] = {Recv(a, &x)};
  EXPECT_EQ(0, dyco_select(cs, 1, -1));
  EXPECT_EQ(4, x);
  EXPECT_EQ(-EPERM, dyco_select(cs, 1, -1));
  dyco_chan_destroy(&a);
}

TEST_F(SchedTest, OneChannelInSeveralCasesAndManyCases) {
  dyco_chan *chans[DYCO_SELECT_MAX];
  for (auto &c : chans) {
    c = dyco_chan_create(sizeof(int), 0, 0);
  }
  int index = -1, x = 0;
  std::vector<int> into(DYCO_SELECT_MAX, 0);
  Go([&] {
    dyco_select_case cs[DYCO_SELECT_MAX];
    for (int i = 0; i < DYCO_SELECT_MAX; ++i) {
      // The last two cases name the same channel.
      cs[i] = Recv(chans[i == DYCO_SELECT_MAX - 1 ? i - 1 : i], &into[i]);
    }
    index = dyco_select(cs, DYCO_SELECT_MAX, -1);
    x = into[index];
  });
  Go([&] {
    int v = 77;
    EXPECT_EQ(0, dyco_chan_send(chans[DYCO_SELECT_MAX - 2], &v, 0));
    // Both of its cases were queued; only one took the value.
    EXPECT_EQ(-ETIMEDOUT, dyco_chan_send(chans[DYCO_SELECT_MAX - 2], &v, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(index == DYCO_SELECT_MAX - 2 || index == DYCO_SELECT_MAX - 1);
  EXPECT_EQ(77, x);
  for (auto &c : chans) {
    dyco_chan_destroy(&c);
  }
}

}  // namespace
