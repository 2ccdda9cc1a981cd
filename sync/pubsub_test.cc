// dyco — sync layer tests: publish-subscribe. Every current subscriber,
// nobody, one message per subscription, timeouts, destroy.
#include <errno.h>
#include <stdint.h>

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

TEST_F(SchedTest, PubsubConstructorsReturnNullWithErrno) {
  // As every constructor of dyco (docs/errors.md).
  errno = 0;
  EXPECT_EQ(nullptr, dyco_pubsub_create(SIZE_MAX));
  EXPECT_EQ(ENOMEM, errno);
  errno = 0;
  EXPECT_EQ(nullptr, dyco_pubsub_createShared(SIZE_MAX));
  EXPECT_EQ(ENOMEM, errno);
}

TEST_F(SchedTest, DestroyWakesSubscribersWithEidrm) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  int destroyed = 0;
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
        destroyed += r == -EIDRM;
      });
    }
    EXPECT_EQ(3, Publish(ps, "one"));
    dyco_coroutine_yield();
    dyco_pubsub_destroy(&ps);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("one", early);
  EXPECT_EQ(3, destroyed);
}

TEST_F(SchedTest, BackToBackPublishesReachEverySubscriber) {
  // The seed's example: one publisher sends five messages in a row to
  // subscribers that want 2, 5 and 6 of them.
  dyco_pubsubchannel *ps = dyco_pubsub_create(64);
  const int want[3] = {2, 5, 6};
  std::vector<std::vector<std::string>> got(3);
  std::vector<ssize_t> last(3);
  for (int i = 0; i < 3; ++i) {
    Go([&, i] {
      for (int k = 0; k < want[i]; ++k) {
        ssize_t r;
        std::string m = Subscribe(ps, 200, &r);
        last[i] = r;
        if (r > 0) {
          got[i].push_back(m);
        }
      }
    });
  }
  std::vector<ssize_t> sent;
  Go([&] {
    dyco_coroutine_sleep(5);
    for (int k = 0; k < 5; ++k) {
      sent.push_back(Publish(ps, "message " + std::to_string(k)));
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  const std::vector<std::string> all = {"message 0", "message 1", "message 2",
                                        "message 3", "message 4"};
  EXPECT_EQ((std::vector<ssize_t>{9, 9, 9, 9, 9}), sent);
  EXPECT_EQ((std::vector<std::string>{"message 0", "message 1"}), got[0]);
  EXPECT_EQ(all, got[1]);
  EXPECT_EQ(all, got[2]);
  EXPECT_EQ(9, last[0]);
  EXPECT_EQ(9, last[1]);
  EXPECT_EQ(-ETIMEDOUT, last[2]);  // the sixth never came
  dyco_pubsub_destroy(&ps);
}

TEST_F(SchedTest, PublishReturnsOnceEverySubscriberTookIt) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  std::string trace;
  for (int i = 0; i < 2; ++i) {
    Go([&, i] {
      ssize_t r;
      Subscribe(ps, -1, &r);
      trace += i == 0 ? "s" : "t";
    });
  }
  Go([&] {
    trace += "p";
    EXPECT_EQ(1, Publish(ps, "x"));
    trace += "P";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("pstP", trace);
  dyco_pubsub_destroy(&ps);
}

TEST_F(SchedTest, PublishOutsideACoroutineDoesNotWait) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  std::string got;
  Go([&] {
    ssize_t r;
    got = Subscribe(ps, -1, &r);
  });
  Go([] { dyco_schedcall_stop(); });  // once the subscriber waits
  ASSERT_EQ(1, dyco_schedule_run());
  EXPECT_EQ(4, Publish(ps, "main"));  // from the thread: back at once
  EXPECT_EQ("", got);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("main", got);
  dyco_pubsub_destroy(&ps);
}

TEST_F(SchedTest, DestroyWhileAPublisherWaitsLetsItFinish) {
  dyco_pubsubchannel *ps = dyco_pubsub_create(8);
  dyco_pubsubchannel *handle = ps;
  std::string got;
  ssize_t sent = -1;
  std::string trace;
  Go([&] {
    ssize_t r;
    got = Subscribe(ps, -1, &r);  // woken by the publish, runs after D
    trace += "S";
  });
  Go([&] {
    sent = Publish(ps, "last");  // waits for S
    trace += "P";
  });
  Go([&] {
    dyco_pubsub_destroy(&handle);  // while P waits and S is on its way
    trace += "D";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("DSP", trace);
  EXPECT_EQ(4, sent);
  EXPECT_EQ("last", got);
  EXPECT_EQ(nullptr, handle);
  // The leak checkers (--config=asan, valgrind) see that it was freed.
}

}  // namespace
