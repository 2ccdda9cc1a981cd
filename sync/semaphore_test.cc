// dyco — sync layer tests: semaphores. Permits, FIFO waiters, timeouts that
// take no permit, destroy, at most three in a critical section.
#include <errno.h>

#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

TEST_F(SchedTest, PermitsAreTakenAndGivenBack) {
  dyco_semaphore *sem = dyco_semaphore_create(2);
  ASSERT_NE(nullptr, sem);
  Go([&] {
    EXPECT_EQ(2, dyco_semaphore_value(sem));
    EXPECT_EQ(0, dyco_semaphore_wait(sem, -1));
    EXPECT_EQ(0, dyco_semaphore_wait(sem, 0));
    EXPECT_EQ(0, dyco_semaphore_value(sem));
    EXPECT_EQ(-ETIMEDOUT, dyco_semaphore_wait(sem, 0));
    EXPECT_EQ(0, dyco_semaphore_signal(sem));
    EXPECT_EQ(1, dyco_semaphore_value(sem));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_semaphore_destroy(&sem);
  EXPECT_EQ(nullptr, sem);
}

TEST_F(SchedTest, SignalsServeWaitersFirstComeFirstServed) {
  dyco_semaphore *sem = dyco_semaphore_create(0);
  std::string order;
  for (int i = 0; i < 4; ++i) {
    Go([&, i] {
      EXPECT_EQ(0, dyco_semaphore_wait(sem, -1));
      order += std::to_string(i);
    });
  }
  Go([&] {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(0, dyco_semaphore_signal(sem));
      // A newcomer cannot barge in: the permit went to the first waiter.
      EXPECT_EQ(-ETIMEDOUT, dyco_semaphore_wait(sem, 0));
      dyco_coroutine_yield();
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("0123", order);
  EXPECT_EQ(0, dyco_semaphore_value(sem));
  dyco_semaphore_destroy(&sem);
}

TEST_F(SchedTest, ATimedOutWaiterTakesNoPermit) {
  dyco_semaphore *sem = dyco_semaphore_create(0);
  std::string trace;
  Go([&] {
    const double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_semaphore_wait(sem, 20));
    EXPECT_GE(NowMs() - start, 19.5);
    trace += "t";
  });
  Go([&] {
    EXPECT_EQ(0, dyco_semaphore_wait(sem, -1));
    trace += "w";
  });
  Go([&] {
    dyco_coroutine_sleep(40);
    EXPECT_EQ(0, dyco_semaphore_signal(sem));  // to the patient waiter
    EXPECT_EQ(0, dyco_semaphore_signal(sem));  // to the count
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("tw", trace);
  EXPECT_EQ(1, dyco_semaphore_value(sem));
  dyco_semaphore_destroy(&sem);
}

TEST_F(SchedTest, ASignalAsTheTimeoutFiresIsNeverLost) {
  dyco_semaphore *sem = dyco_semaphore_create(0);
  int got = 0, timed_out = 0, signals = 0;
  for (int i = 0; i < 100; ++i) {
    Go([&] {
      int r = dyco_semaphore_wait(sem, 5);
      got += r == 0;
      timed_out += r == -ETIMEDOUT;
    });
  }
  Go([&] {
    const double start = NowMs();
    while (NowMs() - start < 10) {  // every deadline passes meanwhile
    }
    for (int i = 0; i < 60; ++i) {
      EXPECT_EQ(0, dyco_semaphore_signal(sem));
      signals++;
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(100, got + timed_out);
  // Supply equals demand: every permit is held by a waiter or counted.
  EXPECT_EQ(signals, got + dyco_semaphore_value(sem));
  dyco_semaphore_destroy(&sem);
}

TEST_F(SchedTest, DestroyWakesSemaphoreWaitersWithEidrm) {
  dyco_semaphore *sem = dyco_semaphore_create(0);
  int canceled = 0;
  for (int i = 0; i < 3; ++i) {
    Go([&] { canceled += dyco_semaphore_wait(sem, -1) == -EIDRM; });
  }
  Go([&] {
    dyco_coroutine_yield();
    dyco_semaphore_destroy(&sem);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(3, canceled);
}

TEST_F(SchedTest, APermitHandedOverBeforeDestroyIsKept) {
  dyco_semaphore *sem = dyco_semaphore_create(0);
  int r = -1;
  Go([&] { r = dyco_semaphore_wait(sem, -1); });
  Go([&] {
    EXPECT_EQ(0, dyco_semaphore_signal(sem));
    dyco_semaphore_destroy(&sem);  // the waiter has not run yet
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, r);
}

TEST_F(SchedTest, AtMostThreeInTheCriticalSection) {
  dyco_semaphore *sem = dyco_semaphore_create(3);
  int inside = 0, most = 0, done = 0;
  for (int i = 0; i < 10; ++i) {
    Go([&, i] {
      ASSERT_EQ(0, dyco_semaphore_wait(sem, -1));
      inside++;
      most = std::max(most, inside);
      dyco_coroutine_sleep(1 + i % 3);
      inside--;
      done++;
      ASSERT_EQ(0, dyco_semaphore_signal(sem));
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(3, most);
  EXPECT_EQ(10, done);
  EXPECT_EQ(3, dyco_semaphore_value(sem));
  dyco_semaphore_destroy(&sem);
}

TEST_F(SchedTest, SemaphoreOutsideACoroutineAndBadArguments) {
  dyco_semaphore *sem = dyco_semaphore_create(1);
  EXPECT_EQ(0, dyco_semaphore_wait(sem, -1));
  EXPECT_EQ(-EPERM, dyco_semaphore_wait(sem, -1));
  EXPECT_EQ(-ETIMEDOUT, dyco_semaphore_wait(sem, 0));
  EXPECT_EQ(0, dyco_semaphore_signal(sem));
  EXPECT_EQ(-EINVAL, dyco_semaphore_wait(nullptr, 0));
  EXPECT_EQ(-EINVAL, dyco_semaphore_signal(nullptr));
  EXPECT_EQ(-EINVAL, dyco_semaphore_value(nullptr));
  dyco_semaphore_destroy(&sem);
  dyco_semaphore_destroy(&sem);
  dyco_semaphore_destroy(nullptr);
  errno = 0;
  EXPECT_EQ(nullptr, dyco_semaphore_create(SIZE_MAX));
  EXPECT_EQ(EINVAL, errno);
}

}  // namespace
