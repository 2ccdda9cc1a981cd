// dyco — sync layer tests: the coroutine mutex (exclusion across yields,
// FIFO hand-off, owners, timeouts, destroy) and condition variables.
#include <errno.h>

#include <deque>
#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

TEST_F(SchedTest, AMutexKeepsOthersOutAcrossYields) {
  dyco_mutex *m = dyco_mutex_create(0);
  ASSERT_NE(nullptr, m);
  int inside = 0, most = 0, total = 0;
  for (int i = 0; i < 5; ++i) {
    Go([&] {
      for (int n = 0; n < 20; ++n) {
        ASSERT_EQ(0, dyco_mutex_lock(m, -1));
        inside++;
        most = std::max(most, inside);
        dyco_coroutine_yield();  // the pthread trap: fine here
        total++;
        inside--;
        ASSERT_EQ(0, dyco_mutex_unlock(m));
      }
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, most);
  EXPECT_EQ(100, total);
  dyco_mutex_destroy(&m);
  EXPECT_EQ(nullptr, m);
}

TEST_F(SchedTest, UnlockHandsTheMutexToTheLongestWaiter) {
  dyco_mutex *m = dyco_mutex_create(0);
  std::string order;
  Go([&] {
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    dyco_coroutine_yield();  // the others queue up
    order += "h";
    ASSERT_EQ(0, dyco_mutex_unlock(m));
    // Handed over: neither the old holder nor a newcomer gets it now.
    EXPECT_EQ(-EPERM, dyco_mutex_unlock(m));
    EXPECT_EQ(-ETIMEDOUT, dyco_mutex_lock(m, 0));
  });
  for (int i = 0; i < 3; ++i) {
    Go([&, i] {
      ASSERT_EQ(0, dyco_mutex_lock(m, -1));
      order += std::to_string(i);
      ASSERT_EQ(0, dyco_mutex_unlock(m));
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("h012", order);
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, MutexOwnerChecks) {
  dyco_mutex *m = dyco_mutex_create(0);
  Go([&] {
    EXPECT_EQ(-EPERM, dyco_mutex_unlock(m));  // not locked
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    EXPECT_EQ(-EDEADLK, dyco_mutex_lock(m, -1));
    Go([&] {
      EXPECT_EQ(-EPERM, dyco_mutex_unlock(m));  // another coroutine's
      EXPECT_EQ(0, dyco_mutex_lock(m, -1));
      EXPECT_EQ(0, dyco_mutex_unlock(m));
    });
    dyco_coroutine_yield();
    EXPECT_EQ(0, dyco_mutex_unlock(m));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // The thread itself, outside any coroutine, may hold it too.
  EXPECT_EQ(0, dyco_mutex_lock(m, -1));
  EXPECT_EQ(-EDEADLK, dyco_mutex_lock(m, -1));
  EXPECT_EQ(0, dyco_mutex_unlock(m));
  EXPECT_EQ(-EINVAL, dyco_mutex_lock(nullptr, 0));
  EXPECT_EQ(-EINVAL, dyco_mutex_unlock(nullptr));
  errno = 0;
  EXPECT_EQ(nullptr, dyco_mutex_create(0x10));
  EXPECT_EQ(EINVAL, errno);
  dyco_mutex_destroy(&m);
  dyco_mutex_destroy(&m);
  dyco_mutex_destroy(nullptr);
}

TEST_F(SchedTest, MutexTimeoutsLeaveNothingBehind) {
  dyco_mutex *m = dyco_mutex_create(0);
  std::string trace;
  Go([&] {
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    dyco_coroutine_sleep(40);
    ASSERT_EQ(0, dyco_mutex_unlock(m));
    trace += "u";
  });
  Go([&] {
    const double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_mutex_lock(m, 0));
    EXPECT_EQ(-ETIMEDOUT, dyco_mutex_lock(m, 15));
    EXPECT_GE(NowMs() - start, 14.5);
    trace += "t";
  });
  Go([&] {
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));  // gets it; the timed-out one did not
    trace += "l";
    ASSERT_EQ(0, dyco_mutex_unlock(m));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("tul", trace);
  // Outside a coroutine it cannot wait.
  Go([&] {
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    dyco_schedcall_stop();
    dyco_coroutine_yield();
    ASSERT_EQ(0, dyco_mutex_unlock(m));
  });
  ASSERT_EQ(1, dyco_schedule_run());
  EXPECT_EQ(-EPERM, dyco_mutex_lock(m, -1));
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, DestroyWakesMutexWaitersWithEidrm) {
  dyco_mutex *m = dyco_mutex_create(0);
  int canceled = 0;
  Go([&] {
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    dyco_coroutine_yield();
    dyco_mutex *mine = m;
    dyco_mutex_destroy(&mine);  // the holder destroys it
  });
  for (int i = 0; i < 3; ++i) {
    Go([&] { canceled += dyco_mutex_lock(m, -1) == -EIDRM; });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(3, canceled);
}

// --- Condition variables
// ------------------------------------------------------

TEST_F(SchedTest, ConditionVariableProducerConsumer) {
  dyco_mutex *m = dyco_mutex_create(0);
  dyco_cond *cv = dyco_cond_create(0);
  ASSERT_NE(nullptr, cv);
  std::deque<int> q;
  std::vector<int> got;
  bool done = false;
  for (int c = 0; c < 3; ++c) {
    Go([&] {
      ASSERT_EQ(0, dyco_mutex_lock(m, -1));
      for (;;) {
        while (q.empty() && !done) {
          ASSERT_EQ(0, dyco_cond_wait(cv, m, -1));
        }
        if (q.empty()) {
          break;
        }
        got.push_back(q.front());
        q.pop_front();
        dyco_mutex_unlock(m);
        dyco_coroutine_yield();
        dyco_mutex_lock(m, -1);
      }
      ASSERT_EQ(0, dyco_mutex_unlock(m));
    });
  }
  Go([&] {
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(0, dyco_mutex_lock(m, -1));
      q.push_back(i);
      dyco_cond_signal(cv);
      ASSERT_EQ(0, dyco_mutex_unlock(m));
      if (i % 4 == 0) {
        dyco_coroutine_yield();
      }
    }
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    done = true;
    dyco_cond_broadcast(cv);
    ASSERT_EQ(0, dyco_mutex_unlock(m));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(50u, got.size());
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(i, got[i]);
  }
  dyco_cond_destroy(&cv);
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, SignalWakesOneInOrderBroadcastWakesAll) {
  dyco_mutex *m = dyco_mutex_create(0);
  dyco_cond *cv = dyco_cond_create(0);
  std::string order;
  for (int i = 0; i < 4; ++i) {
    Go([&, i] {
      ASSERT_EQ(0, dyco_mutex_lock(m, -1));
      ASSERT_EQ(0, dyco_cond_wait(cv, m, -1));
      order += std::to_string(i);
      ASSERT_EQ(0, dyco_mutex_unlock(m));
    });
  }
  Go([&] {
    EXPECT_EQ(1, dyco_cond_signal(cv));
    dyco_coroutine_yield();
    EXPECT_EQ(1, dyco_cond_signal(cv));
    dyco_coroutine_yield();
    EXPECT_EQ("01", order);
    EXPECT_EQ(2, dyco_cond_broadcast(cv));
    EXPECT_EQ(0, dyco_cond_signal(cv));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("0123", order);
  dyco_cond_destroy(&cv);
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, CondWaitTimesOutHoldingTheMutexAgain) {
  dyco_mutex *m = dyco_mutex_create(0);
  dyco_cond *cv = dyco_cond_create(0);
  Go([&] {
    ASSERT_EQ(0, dyco_mutex_lock(m, -1));
    EXPECT_EQ(-ETIMEDOUT, dyco_cond_wait(cv, m, 0));
    const double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_cond_wait(cv, m, 20));
    EXPECT_GE(NowMs() - start, 19.5);
    EXPECT_EQ(-EDEADLK, dyco_mutex_lock(m, 0));  // held again
    EXPECT_EQ(0, dyco_mutex_unlock(m));
    // Waiting needs the mutex held.
    EXPECT_EQ(-EPERM, dyco_cond_wait(cv, m, 10));
    EXPECT_EQ(-EINVAL, dyco_cond_wait(nullptr, m, 10));
    EXPECT_EQ(-EINVAL, dyco_cond_wait(cv, nullptr, 10));
  });
  // While the waiter slept, the mutex was free for others.
  Go([&] {
    dyco_coroutine_sleep(5);
    EXPECT_EQ(0, dyco_mutex_lock(m, 0));
    EXPECT_EQ(0, dyco_mutex_unlock(m));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // Outside a coroutine it cannot wait.
  ASSERT_EQ(0, dyco_mutex_lock(m, -1));
  EXPECT_EQ(-EPERM, dyco_cond_wait(cv, m, -1));
  EXPECT_EQ(0, dyco_mutex_unlock(m));
  EXPECT_EQ(-EINVAL, dyco_cond_signal(nullptr));
  EXPECT_EQ(-EINVAL, dyco_cond_broadcast(nullptr));
  errno = 0;
  EXPECT_EQ(nullptr, dyco_cond_create(2));
  EXPECT_EQ(EINVAL, errno);
  dyco_cond_destroy(&cv);
  dyco_cond_destroy(&cv);
  dyco_cond_destroy(nullptr);
  dyco_mutex_destroy(&m);
}

TEST_F(SchedTest, DestroyingACondWakesItsWaitersWithTheMutexHeld) {
  dyco_mutex *m = dyco_mutex_create(0);
  dyco_cond *cv = dyco_cond_create(0);
  int canceled = 0;
  for (int i = 0; i < 3; ++i) {
    Go([&] {
      ASSERT_EQ(0, dyco_mutex_lock(m, -1));
      canceled += dyco_cond_wait(cv, m, -1) == -EIDRM;
      EXPECT_EQ(0, dyco_mutex_unlock(m));  // held again
    });
  }
  Go([&] {
    dyco_coroutine_yield();
    dyco_cond_destroy(&cv);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(3, canceled);
  dyco_mutex_destroy(&m);
}

}  // namespace
