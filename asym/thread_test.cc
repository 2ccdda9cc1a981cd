// dyco — asym layer tests with threads: each has its own coroutines, and a
// thread that exits frees what it left (asan's leak checker sees to it).
#include <errno.h>
#include <stdint.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

extern "C" {
#include "asym/asymcoro.h"
#include "sched/schedule.h"
}

namespace {

const size_t kStack = 128 * 1024;

void Counter(void *arg) {
  int *n = static_cast<int *>(arg);
  for (;;) {
    ++*n;
    dyco_asymcoroyield();
  }
}

std::atomic<int> failures{0};

void Check(bool ok) {
  if (!ok) {
    failures++;
  }
}

// Runs in a thread of its own; leaves things behind on purpose.
void Worker(int seed, bool leave_scheduler) {
  int n = 0;
  // Generators, interleaved on the shared stack and on private ones.
  std::vector<int> cids;
  for (int i = 0; i < 8; ++i) {
    int cid = dyco_asymcoro_create(Counter, &n);
    Check(cid > 0);
    if (i % 2) {
      Check(dyco_asymcoro_setStack(cid, nullptr, kStack) == 1);
    }
    cids.push_back(cid);
  }
  for (int round = 0; round < 200; ++round) {
    for (int cid : cids) {
      Check(dyco_asymcororesume(cid) == cid);
    }
  }
  Check(n == 8 * 200);
  // Create/free cycles.
  for (int i = 0; i < 2000; ++i) {
    int cid = dyco_asymcoro_create(Counter, &n);
    Check(dyco_asymcororesume(cid) == cid);
    dyco_asymcoro_free(cid);
  }
  // A pool with one coroutine out.
  dyco_coropool *cp = dyco_asymcpool_create(4, kStack);
  Check(cp != nullptr);
  Check(dyco_asymcpool_obtain(cp, Counter, &n, 0) > 0);
  if (leave_scheduler) {
    // A scheduler coroutine suspended inside an asymmetric coroutine, and
    // the scheduler never freed: the thread's exit frees both.
    static thread_local int sleeper;
    sleeper = dyco_asymcoro_create(
        [](void *) { dyco_coroutine_sleep(3600 * 1000); }, nullptr);
    Check(dyco_asymcoro_setStack(sleeper, nullptr, kStack) == 1);
    dyco_coroutine_create([](void *) { dyco_asymcororesume(sleeper); },
                          nullptr);
    dyco_coroutine_create(
        [](void *) {
          dyco_coroutine_sleep(2);
          dyco_schedcall_stop();
        },
        nullptr);
    Check(dyco_schedule_run() == 1);
  }
  (void)seed;
  // Everything else stays: 8 suspended generators, the pool.
}

TEST(AsymThreadTest, EachThreadHasItsOwnAndFreesThemAtExit) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(Worker, i, false);
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(0, failures.load());
}

TEST(AsymThreadTest, AThreadLeavesASchedulerInsideAnAsymmetricCoroutine) {
  // One thread after the other: the scheduler closes its epoll fd with a
  // raw system call, which ThreadSanitizer does not see, so another
  // thread's scheduler that got the same fd number meanwhile would look
  // like a data race to it.
  for (int i = 0; i < 3; ++i) {
    std::thread(Worker, i, true).join();
  }
  EXPECT_EQ(0, failures.load());
}

TEST(AsymThreadTest, ACidMeansNothingInAnotherThread) {
  int n = 0;
  int cid = dyco_asymcoro_create(Counter, &n);
  ASSERT_GT(cid, 0);
  int other = 0;
  std::thread([&] { other = dyco_asymcororesume(cid); }).join();
  EXPECT_EQ(-ESRCH, other);
  EXPECT_EQ(cid, dyco_asymcororesume(cid));
  EXPECT_EQ(1, n);
  dyco_asymcoro_free(cid);
}

}  // namespace
