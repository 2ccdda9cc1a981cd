// dyco — netio layer tests: hiredis's synchronous API, unmodified, made
// concurrent by the hooks, against a redis-server the test starts on
// 127.0.0.1 and stops.
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/hook.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;

constexpr const char *kRedis = "/usr/bin/redis-server";

// One redis-server for the whole suite.
class HiredisTest : public dyco_test::SchedTest {
 protected:
  static void SetUpTestSuite() {
    if (access(kRedis, X_OK) != 0) {
      return;
    }
    port_ = dyco_test::ClosedPort();
    const char *tmp = getenv("TEST_TMPDIR");
    std::string dir = tmp != nullptr ? tmp : "/tmp";
    std::string port = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      execl(kRedis, kRedis, "--port", port.c_str(), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", dir.c_str(),
            "--loglevel", "warning", static_cast<char *>(nullptr));
      _exit(127);
    }
    // Wait until it answers (outside coroutines: plain blocking hiredis).
    for (int i = 0; i < 500; ++i) {
      redisContext *c = redisConnect("127.0.0.1", port_);
      if (c != nullptr && c->err == 0) {
        redisReply *r = static_cast<redisReply *>(redisCommand(c, "PING"));
        bool up = r != nullptr && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        redisFree(c);
        if (up) {
          return;
        }
      } else if (c != nullptr) {
        redisFree(c);
      }
      usleep(10 * 1000);
    }
    StopServer();
  }

  static void TearDownTestSuite() { StopServer(); }

  static void StopServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  void SetUp() override {
    dyco_test::SchedTest::SetUp();
    // tools/bazel installs redis-server: without it the test fails.
    ASSERT_GT(pid_, 0) << "no redis-server could be started from " << kRedis;
  }

  static redisContext *Connect() {
    redisContext *c = redisConnect("127.0.0.1", port_);
    EXPECT_NE(nullptr, c);
    EXPECT_EQ(0, c->err) << c->errstr;
    return c;
  }

  static int port_;
  static pid_t pid_;
};

int HiredisTest::port_ = -1;
pid_t HiredisTest::pid_ = -1;

// 200 coroutines each BLPOP their own empty key with a 0.5 s timeout: one
// after another that is 100 s; concurrently about 0.5 s.
TEST_F(HiredisTest, TwoHundredBlockingPopsTimeOutTogether) {
  constexpr int kClients = 200;
  int nils = 0;
  const double start = NowMs();
  for (int i = 0; i < kClients; ++i) {
    Go([&, i] {
      redisContext *c = Connect();
      redisReply *r = static_cast<redisReply *>(
          redisCommand(c, "BLPOP dyco:empty:%d 0.5", i));
      ASSERT_NE(nullptr, r) << c->errstr;
      EXPECT_EQ(REDIS_REPLY_NIL, r->type);
      nils += r->type == REDIS_REPLY_NIL;
      freeReplyObject(r);
      redisFree(c);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  const double took = NowMs() - start;
  EXPECT_EQ(kClients, nils);
  EXPECT_GE(took, 490);
  EXPECT_LT(took, 5000) << "the pops ran one after another";
}

TEST_F(HiredisTest, TwoHundredClientsGetTheirOwnValuesBack) {
  constexpr int kClients = 200;
  int right = 0;
  for (int i = 0; i < kClients; ++i) {
    Go([&, i] {
      redisContext *c = Connect();
      const std::string key = "dyco:key:" + std::to_string(i);
      const std::string value = dyco_test::Pattern(100 + i, i);
      for (int round = 0; round < 5; ++round) {
        const std::string v = value + std::to_string(round);
        redisReply *r = static_cast<redisReply *>(redisCommand(
            c, "SET %b %b", key.data(), key.size(), v.data(), v.size()));
        ASSERT_NE(nullptr, r);
        freeReplyObject(r);
        r = static_cast<redisReply *>(
            redisCommand(c, "GET %b", key.data(), key.size()));
        ASSERT_NE(nullptr, r);
        ASSERT_EQ(REDIS_REPLY_STRING, r->type);
        EXPECT_EQ(v, std::string(r->str, r->len));
        right += v == std::string(r->str, r->len);
        freeReplyObject(r);
      }
      redisFree(c);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kClients * 5, right);
}

// A coroutine blocked in hiredis's BLPOP (its read inside libhiredis.so)
// is cancelled: redisCommand returns within a few ms with hiredis's I/O
// error naming ECANCELED; the context is cleanly failed (hiredis drops a
// context after an I/O error), a new one works, and no fd is left.
TEST_F(HiredisTest, ABlockingPopIsCancelledAtOnce) {
  ASSERT_GT(dyco_schedule_create(0, 0), 0);  // its own fds, counted apart
  const int before = dyco_test::FdCount();
  bool got_reply = true;
  int err = 0;
  std::string errstr;
  std::string pong;
  double cancelled_at = 0, returned_at = 0;
  bool sent = false;
  int cid = Go([&] {
    redisContext *c = Connect();
    sent = true;
    redisReply *r =
        static_cast<redisReply *>(redisCommand(c, "BLPOP dyco:cancel 10"));
    returned_at = NowMs();
    got_reply = r != nullptr;
    err = c->err;
    errstr = c->errstr;
    freeReplyObject(r);
    redisFree(c);
    EXPECT_EQ(1, dyco_coroutine_uncancel());
    c = Connect();
    r = static_cast<redisReply *>(redisCommand(c, "PING"));
    ASSERT_NE(nullptr, r);
    pong.assign(r->str, r->len);
    freeReplyObject(r);
    redisFree(c);
  });
  Go([&] {
    dyco_coroutine_info info;
    while (!sent || dyco_coroutine_getInfo(cid, &info) != 0 ||
           info.state != DYCO_COROUTINE_WAITING) {
      dyco_coroutine_sleep(1);
    }
    dyco_coroutine_sleep(10);  // the server holds the pop
    cancelled_at = NowMs();
    ASSERT_EQ(0, dyco_coroutine_cancel(cid));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_FALSE(got_reply);
  EXPECT_EQ(REDIS_ERR_IO, err);
  EXPECT_EQ(strerror(ECANCELED), errstr);
  EXPECT_LT(returned_at - cancelled_at, dyco_test::Slow() ? 200 : 20);
  EXPECT_EQ("PONG", pong);
  EXPECT_EQ(before, dyco_test::FdCount());
}

// The same pop under a deadline 50 ms ahead: ETIMEDOUT at the deadline.
TEST_F(HiredisTest, ADeadlineEndsABlockingPop) {
  double took = 0;
  std::string errstr;
  Go([&] {
    redisContext *c = Connect();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
                   static_cast<uint64_t>(ts.tv_nsec);
    // Measured from the instant the deadline counts from (ts), not after
    // it: the thread may be preempted in between.
    const double t0 = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    ASSERT_EQ(0, dyco_coroutine_setDeadline(now + 50000000u));
    redisReply *r =
        static_cast<redisReply *>(redisCommand(c, "BLPOP dyco:deadline 10"));
    took = NowMs() - t0;
    EXPECT_EQ(nullptr, r);
    errstr = c->errstr;
    freeReplyObject(r);
    redisFree(c);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(strerror(ETIMEDOUT), errstr);
  EXPECT_GE(took, 49.999);  // never before the deadline
  EXPECT_LT(took, dyco_test::Slow() ? 1000 : 100);
}

}  // namespace
