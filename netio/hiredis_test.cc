// dyco — netio layer tests: hiredis's synchronous API, unmodified, made
// concurrent by the hooks, against a redis-server the test starts on
// 127.0.0.1 and stops.
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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

}  // namespace
