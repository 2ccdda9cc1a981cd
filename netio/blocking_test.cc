// dyco — netio layer tests: dyco_blocking_call's worker pool, and DNS
// lookups (getaddrinfo, gethostbyname through the hooks) from many
// coroutines while the scheduler keeps running.
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/blocking.h"
#include "netio/hook.h"
#include "netio/socket.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;
using dyco_test::Ticker;

using NetioBlockingTest = SchedTest;

// The longest the scheduler may look stalled: the sanitizers and qemu are
// slow, and the machine is shared.
double StallLimitMs() { return dyco_test::Slow() ? 1000 : 250; }

struct Call {
  pthread_t thread;
  int sleep_ms;
};

intptr_t SleepAndSayWhere(void *arg) {
  Call *c = static_cast<Call *>(arg);
  c->thread = pthread_self();
  usleep(static_cast<useconds_t>(c->sleep_ms) * 1000);  // blocks the worker
  errno = EDOM;
  return 42;
}

TEST_F(NetioBlockingTest, CallsRunOnWorkersWhileTheSchedulerRuns) {
  constexpr int kCalls = 8;
  std::vector<Call> calls(kCalls);
  Ticker t;
  t.Start(1);
  const pthread_t self = pthread_self();
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    Go([&, i] {
      calls[i].sleep_ms = 100;
      errno = 0;
      EXPECT_EQ(42, dyco_blocking_call(SleepAndSayWhere, &calls[i]));
      EXPECT_EQ(EDOM, errno);
      EXPECT_FALSE(pthread_equal(self, calls[i].thread));
      if (++done == kCalls) {
        t.stop = true;
      }
    });
  }
  const double start = NowMs();
  ASSERT_EQ(0, dyco_schedule_run());
  // In parallel on the pool (8 workers), not one after another (800 ms).
  EXPECT_LT(NowMs() - start, 600);
  EXPECT_LT(t.longest_gap_ms, StallLimitMs());
}

TEST_F(NetioBlockingTest,
       OutsideACoroutineOrWithArgOnTheSharedStackItRunsHere) {
  Call c = {};
  EXPECT_EQ(42, dyco_blocking_call(SleepAndSayWhere, &c));
  EXPECT_TRUE(pthread_equal(pthread_self(), c.thread));
  bool same_thread = false;
  Go([&] {
    Call local = {};  // on the shared stack: cannot go to another thread
    EXPECT_EQ(42, dyco_blocking_call(SleepAndSayWhere, &local));
    same_thread = pthread_equal(pthread_self(), local.thread);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(same_thread);
  errno = 0;
  EXPECT_EQ(-1, dyco_blocking_call(nullptr, nullptr));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(-EINVAL, dyco_blocking_setWorkers(0));
  EXPECT_EQ(8, dyco_blocking_setWorkers(8));
}

TEST_F(NetioBlockingTest,
       ManyCoroutinesResolveAtOnceWithoutStallingTheScheduler) {
  const int kLookups = dyco_test::Slow() ? 20 : 100;
  Ticker t;
  t.Start(1);
  int ok = 0, done = 0;
  for (int i = 0; i < kLookups; ++i) {
    Go([&, i] {
      addrinfo hints;
      memset(&hints, 0, sizeof hints);
      hints.ai_family = AF_INET;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo *res = nullptr;
      // Half through the hook, half through dyco's own call.
      int r = i % 2 == 0 ? getaddrinfo("localhost", "80", &hints, &res)
                         : dyco_getaddrinfo("localhost", "80", &hints, &res);
      EXPECT_EQ(0, r) << gai_strerror(r);
      if (r == 0 && res != nullptr) {
        const sockaddr_in *a = reinterpret_cast<sockaddr_in *>(res->ai_addr);
        EXPECT_EQ(htonl(INADDR_LOOPBACK), a->sin_addr.s_addr);
        EXPECT_EQ(80, ntohs(a->sin_port));
        ++ok;
        freeaddrinfo(res);
      }
      if (++done == kLookups) {
        t.stop = true;
      }
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kLookups, ok);
  EXPECT_LT(t.longest_gap_ms, StallLimitMs());
}

TEST_F(NetioBlockingTest, GethostbynameGivesEachCoroutineItsOwnResult) {
  constexpr int kLookups = 10;
  int ok = 0;
  for (int i = 0; i < kLookups; ++i) {
    Go([&] {
      hostent *h = gethostbyname("localhost");
      ASSERT_NE(nullptr, h);
      dyco_coroutine_yield();  // others look up meanwhile
      ASSERT_EQ(AF_INET, h->h_addrtype);
      in_addr a;
      memcpy(&a, h->h_addr_list[0], sizeof a);
      EXPECT_EQ(htonl(INADDR_LOOPBACK), a.s_addr);
      ++ok;
      EXPECT_EQ(nullptr, gethostbyname("no-such-host.invalid"));
      EXPECT_NE(0, h_errno);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kLookups, ok);
  // Outside coroutines: libc's own.
  hostent *h = gethostbyname("localhost");
  ASSERT_NE(nullptr, h);
  EXPECT_EQ(AF_INET, h->h_addrtype);
}

}  // namespace
