// dyco — sync layer tests: publish-subscribe. Every current subscriber,
// nobody, one message per subscription, timeouts, destroy.
#include <errno.h>

#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

ssize_t Publish(dyco_pubsubchannel *ps, const std::string &s) {
  return dyco_pubsub_publish(ps, const_cast<char *>(s.data()), s.size());
}

std::string Subscribe(dyco_pubsubchannel *ps, int timeout, ssize_t *r) {
  char buf[64];
  *r = dyco_pubsub_subscribe(ps, buf, sizeof buf, timeout);
  return *r > 0 ? std::string(buf, static_cast<size_t>(*r)) : std::string();
}

TEST_F(SchedTest, APublishReachesEveryCurrentSubscriber) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(64);
  ASSERT_NE(nullptr, ps);
  std::vector<std::string> got(3);
  for (int i = 0; i < 3; ++i) {
    Go([&, i] {
      ssize_t r;
      got[i] = Subscribe(ps, -1, &r);
      EXPECT_EQ(5, r);
    });
  }
  Go([&] {
    EXPECT_EQ(5, Publish(ps, "hello"));
    // The subscriptions are used up: nobody is left for the next one.
    EXPECT_EQ(0, Publish(ps, "again"));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ((std::vector<std::string>{"hello", "hello", "hello"}), got);
  dyco_pubsub_destroy(&ps);
  EXPECT_EQ(nullptr, ps);
}

TEST_F(SchedTest, NobodySubscribedNothingPublished) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  std::string got;
  Go([&] { EXPECT_EQ(0, Publish(ps, "early")); });
  Go([&] {
    ssize_t r;
    got = Subscribe(ps, 2000, &r);  // does not get "early"
  });
  Go([&] {
    dyco_coroutine_yield();
    EXPECT_EQ(4, Publish(ps, "late"));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("late", got);
  dyco_pubsub_destroy(&ps);
}

TEST_F(SchedTest, SubscribersThatComeBackGetTheNextMessage) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  std::vector<std::string> got;
  Go([&] {
    for (int i = 0; i < 3; ++i) {
      ssize_t r;
      got.push_back(Subscribe(ps, -1, &r));
    }
  });
  Go([&] {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(2, Publish(ps, "m" + std::to_string(i)));
      dyco_coroutine_yield();  // let the subscriber come back
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ((std::vector<std::string>{"m0", "m1", "m2"}), got);
  dyco_pubsub_destroy(&ps);
}

TEST_F(SchedTest, PubsubTimeoutsAndSizes) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  Go([&] {
    ssize_t r;
    Subscribe(ps, 0, &r);
    EXPECT_EQ(-ETIMEDOUT, r);
    const double start = NowMs();
    Subscribe(ps, 20, &r);
    EXPECT_EQ(-ETIMEDOUT, r);
    EXPECT_GE(NowMs() - start, 19.5);
    // The timed-out subscription left nothing behind.
    EXPECT_EQ(0, Publish(ps, "x"));
    EXPECT_EQ(-EMSGSIZE, Publish(ps, "123456789"));
    EXPECT_EQ(-EINVAL, dyco_pubsub_publish(ps, nullptr, 1));
    char c = 'c';
    EXPECT_EQ(-EINVAL, dyco_pubsub_publish(ps, &c, 0));
    EXPECT_EQ(-EINVAL, dyco_pubsub_publish(nullptr, &c, 1));
    char small[4];
    EXPECT_EQ(-EINVAL, dyco_pubsub_subscribe(ps, small, sizeof small, -1));
    EXPECT_EQ(-EINVAL, dyco_pubsub_subscribe(nullptr, small, 8, -1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  char buf[8];
  EXPECT_EQ(-EPERM, dyco_pubsub_subscribe(ps, buf, sizeof buf, -1));
  dyco_pubsub_destroy(&ps);
  dyco_pubsub_destroy(&ps);
  dyco_pubsub_destroy(nullptr);
}

TEST_F(SchedTest, DestroyWakesSubscribersWithClosed) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  int closed = 0;
  std::string early;
  Go([&] {
    ssize_t r;
    early = Subscribe(ps, -1, &r);  // handed a message before the destroy
  });
  Go([&] {
    dyco_coroutine_yield();
    for (int i = 0; i < 3; ++i) {
      Go([&] {
        ssize_t r;
        Subscribe(ps, -1, &r);
        closed += r == 0;
      });
    }
    EXPECT_EQ(3, Publish(ps, "one"));
    dyco_coroutine_yield();
    dyco_pubsub_destroy(&ps);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("one", early);
  EXPECT_EQ(3, closed);
}

}  // namespace
