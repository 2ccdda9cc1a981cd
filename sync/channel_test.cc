// dyco — sync layer tests: the seed's half-duplex channel. One slot, FIFO,
// sizes, every timeout path, destroy while waiting, the shared stack.
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

ssize_t Send(dyco_channel *ch, const std::string &s, int timeout = -1) {
  return dyco_channel_send(ch, const_cast<char *>(s.data()), s.size(), timeout);
}

std::string Recv(dyco_channel *ch, int timeout = -1, ssize_t *ret = nullptr) {
  char buf[64];
  ssize_t n = dyco_channel_recv(ch, buf, sizeof buf, timeout);
  if (ret != nullptr) {
    *ret = n;
  }
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

TEST_F(SchedTest, ChannelConstructorsReturnNullWithErrno) {
  // As every constructor of dyco (docs/errors.md).
  errno = 0;
  EXPECT_EQ(nullptr, dyco_channel_create(SIZE_MAX));
  EXPECT_EQ(ENOMEM, errno);
  errno = 0;
  EXPECT_EQ(nullptr, dyco_channel_createShared(SIZE_MAX));
  EXPECT_EQ(ENOMEM, errno);
}

TEST_F(SchedTest, SendReturnsAtOnceWhenTheSlotIsFreeAndWaitsWhenItIsTaken) {
  dyco_channel *ch = dyco_channel_create(64);
  ASSERT_NE(nullptr, ch);
  std::string trace;
  Go([&] {
    EXPECT_EQ(5, Send(ch, "first"));  // the slot was free
    trace += "s1 ";
    EXPECT_EQ(6, Send(ch, "second"));  // waits until "first" is taken
    trace += "s2 ";
  });
  Go([&] {
    trace += "r? ";
    EXPECT_EQ("first", Recv(ch));
    trace += "r1 ";
    EXPECT_EQ("second", Recv(ch));
    trace += "r2 ";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // The second send returned only after the receiver took the first.
  EXPECT_EQ("s1 r? r1 r2 s2 ", trace);
  dyco_channel_destroy(&ch);
  EXPECT_EQ(nullptr, ch);
}

TEST_F(SchedTest, AWaitingReceiverGetsTheMessageStraightAway) {
  dyco_channel *ch = dyco_channel_create(64);
  std::string trace;
  Go([&] {
    EXPECT_EQ("hello", Recv(ch));
    trace += "r ";
  });
  Go([&] {
    EXPECT_EQ(5, Send(ch, "hello"));
    trace += "s1 ";
    // The receiver took it: the slot is free again.
    EXPECT_EQ(5, Send(ch, "world", 0));
    trace += "s2 ";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("s1 s2 r ", trace);
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, ReceiversAreServedInArrivalOrderAndMessagesInSendingOrder) {
  dyco_channel *ch = dyco_channel_create(16);
  std::vector<std::string> got(4);
  for (int i = 0; i < 4; ++i) {
    Go([&, i] { got[i] = Recv(ch); });
  }
  Go([&] {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(2, Send(ch, "m" + std::to_string(i)));
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ((std::vector<std::string>{"m0", "m1", "m2", "m3"}), got);
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, SendersAreServedInArrivalOrder) {
  dyco_channel *ch = dyco_channel_create(16);
  std::vector<std::string> got;
  Go([&] { EXPECT_EQ(2, Send(ch, "s0")); });  // fills the slot
  for (int i = 1; i < 4; ++i) {
    Go([&, i] { EXPECT_EQ(2, Send(ch, "s" + std::to_string(i))); });
  }
  Go([&] {
    for (int i = 0; i < 4; ++i) {
      got.push_back(Recv(ch));
    }
    std::string none = Recv(ch, 0);
    EXPECT_EQ("", none);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ((std::vector<std::string>{"s0", "s1", "s2", "s3"}), got);
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, MessagesKeepTheirLengthAndBytes) {
  dyco_channel *ch = dyco_channel_create(32);
  Go([&] {
    std::string a(32, 'a');
    std::string b("\0x\0", 3);
    EXPECT_EQ(32, Send(ch, a));
    EXPECT_EQ(3, Send(ch, b));
    EXPECT_EQ(1, Send(ch, "z"));
  });
  Go([&] {
    EXPECT_EQ(std::string(32, 'a'), Recv(ch));
    EXPECT_EQ(std::string("\0x\0", 3), Recv(ch));
    EXPECT_EQ("z", Recv(ch));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, SizeLimitsAndBadArguments) {
  dyco_channel *ch = dyco_channel_create(8);
  char buf[16] = "0123456789";
  Go([&] {
    EXPECT_EQ(-EMSGSIZE, dyco_channel_send(ch, buf, 9, -1));
    EXPECT_EQ(-EINVAL, dyco_channel_send(ch, buf, 0, -1));
    EXPECT_EQ(-EINVAL, dyco_channel_send(ch, nullptr, 1, -1));
    EXPECT_EQ(-EINVAL, dyco_channel_send(nullptr, buf, 1, -1));
    EXPECT_EQ(8, dyco_channel_send(ch, buf, 8, -1));
    // The receiver's buffer must hold the largest message.
    char small[4];
    EXPECT_EQ(-EINVAL, dyco_channel_recv(ch, small, sizeof small, -1));
    EXPECT_EQ(-EINVAL, dyco_channel_recv(ch, nullptr, 8, -1));
    EXPECT_EQ(-EINVAL, dyco_channel_recv(nullptr, buf, 8, -1));
    char out[8];
    EXPECT_EQ(8, dyco_channel_recv(ch, out, sizeof out, -1));
    EXPECT_EQ(0, memcmp(out, buf, 8));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_channel_destroy(&ch);
  dyco_channel_destroy(&ch);      // NULL: ignored
  dyco_channel_destroy(nullptr);  // ignored
}

TEST_F(SchedTest, EveryTimeoutPathOfTheHalfDuplexChannel) {
  dyco_channel *ch = dyco_channel_create(16);
  Go([&] {
    ssize_t r = 0;
    // Receive on an empty channel: 0 does not wait, > 0 waits that long.
    double start = NowMs();
    EXPECT_EQ("", Recv(ch, 0, &r));
    EXPECT_EQ(-ETIMEDOUT, r);
    EXPECT_LT(NowMs() - start, 1000);
    start = NowMs();
    EXPECT_EQ("", Recv(ch, 30, &r));
    EXPECT_EQ(-ETIMEDOUT, r);
    EXPECT_GE(NowMs() - start, 29.5);
    // Send on a full one: the same, and the message is not sent.
    EXPECT_EQ(1, Send(ch, "a"));
    EXPECT_EQ(-ETIMEDOUT, Send(ch, "b", 0));
    start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, Send(ch, "c", 30));
    EXPECT_GE(NowMs() - start, 29.5);
    EXPECT_EQ("a", Recv(ch, 0));
    EXPECT_EQ("", Recv(ch, 0, &r));
    EXPECT_EQ(-ETIMEDOUT, r);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, TimedOutWaitersLeaveNothingBehind) {
  dyco_channel *ch = dyco_channel_create(16);
  std::string trace;
  // A receiver times out; the message sent after goes to the next one.
  Go([&] {
    ssize_t r;
    Recv(ch, 10, &r);
    EXPECT_EQ(-ETIMEDOUT, r);
    trace += "t ";
  });
  Go([&] {
    EXPECT_EQ("x", Recv(ch, 5000));
    trace += "r ";
  });
  Go([&] {
    dyco_coroutine_sleep(40);
    EXPECT_EQ(1, Send(ch, "x"));
    // A sender times out on a full slot; its message is gone with it.
    EXPECT_EQ(1, Send(ch, "y"));
    EXPECT_EQ(-ETIMEDOUT, Send(ch, "z", 10));
    EXPECT_EQ("y", Recv(ch, 0));
    ssize_t r;
    EXPECT_EQ("", Recv(ch, 0, &r));
    EXPECT_EQ(-ETIMEDOUT, r);
    trace += "s ";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // The sender waited in its timed-out send: the receiver ran meanwhile.
  EXPECT_EQ("t r s ", trace);
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, DestroyWakesWaitingSendersAndReceiversWithClosed) {
  // Receivers waiting on an empty channel.
  dyco_channel *empty = dyco_channel_create(16);
  // Senders waiting on a full one.
  dyco_channel *full = dyco_channel_create(16);
  int closed = 0;
  for (int i = 0; i < 3; ++i) {
    Go([&] {
      ssize_t r;
      Recv(empty, -1, &r);
      closed += r == 0;
    });
  }
  Go([&] { EXPECT_EQ(1, Send(full, "a")); });
  for (int i = 0; i < 3; ++i) {
    Go([&] { closed += Send(full, "b") == 0; });
  }
  Go([&] {
    dyco_coroutine_sleep(10);
    dyco_channel_destroy(&empty);
    dyco_channel_destroy(&full);
    EXPECT_EQ(nullptr, empty);
    EXPECT_EQ(nullptr, full);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(6, closed);
}

TEST_F(SchedTest, DestroyAfterAReceiverWasHandedAMessageStillDeliversIt) {
  dyco_channel *ch = dyco_channel_create(16);
  std::string got;
  Go([&] { got = Recv(ch); });
  Go([&] {
    EXPECT_EQ(4, Send(ch, "last"));
    // The receiver has the message but has not run yet.
    dyco_channel_destroy(&ch);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("last", got);
}

TEST_F(SchedTest, ReceiversOnTheSharedStackGetTheirOwnMessages) {
  // Every coroutine here runs on the shared stack with its buffer in its
  // frame: a waker must never write there while the owner is switched out.
  dyco_channel *ch = dyco_channel_create(48);
  const int kReceivers = 20;
  int ok = 0;
  for (int i = 0; i < kReceivers; ++i) {
    Go([&, i] {
      char canary[64];
      memset(canary, 'c', sizeof canary);
      char buf[48];
      memset(buf, 0, sizeof buf);
      ssize_t n = dyco_channel_recv(ch, buf, sizeof buf, -1);
      std::string want = "message number " + std::to_string(i);
      EXPECT_EQ(static_cast<ssize_t>(want.size()), n);
      EXPECT_EQ(want, std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
      for (char c : canary) {
        ASSERT_EQ('c', c);
      }
      ok++;
    });
  }
  Go([&] {
    for (int i = 0; i < kReceivers; ++i) {
      std::string m = "message number " + std::to_string(i);
      EXPECT_EQ(static_cast<ssize_t>(m.size()), Send(ch, m));
      dyco_coroutine_yield();
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kReceivers, ok);
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, OutsideACoroutineTheChannelWorksUntilItWouldWait) {
  dyco_channel *ch = dyco_channel_create(16);
  EXPECT_EQ(2, Send(ch, "ab"));              // the slot was free
  EXPECT_EQ(-EPERM, Send(ch, "cd", -1));     // would wait
  EXPECT_EQ(-ETIMEDOUT, Send(ch, "cd", 0));  // does not wait
  EXPECT_EQ("ab", Recv(ch, -1));
  ssize_t r;
  EXPECT_EQ("", Recv(ch, -1, &r));
  EXPECT_EQ(-EPERM, r);
  dyco_channel_destroy(&ch);
}

TEST_F(SchedTest, ADefaultSizeForZero) {
  dyco_channel *ch = dyco_channel_create(0);
  std::string big(1024, 'q');
  Go([&] {
    EXPECT_EQ(1024, Send(ch, big));
    EXPECT_EQ(-EMSGSIZE, Send(ch, big + "q"));
    char buf[1024];
    EXPECT_EQ(1024, dyco_channel_recv(ch, buf, sizeof buf, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_channel_destroy(&ch);
}

}  // namespace
