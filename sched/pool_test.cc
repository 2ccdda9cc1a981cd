// dyco — sched layer tests: coroutine pools under contention, with
// timeouts, resized while in use, destroyed with waiters, outside coroutines.
#include <errno.h>

#include <string>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

struct Job {
  int *running;
  int *peak;
  int *done;
  int ms;
};

void Work(void *arg) {
  Job *j = static_cast<Job *>(arg);
  (*j->running)++;
  if (*j->running > *j->peak) {
    *j->peak = *j->running;
  }
  dyco_coroutine_sleep(static_cast<uint32_t>(j->ms));
  (*j->running)--;
  (*j->done)++;
}

TEST_F(SchedTest, APoolRunsAtMostItsSizeAtOnce) {
  for (size_t stack : {size_t{0}, size_t{64 * 1024}}) {
    dyco_coropool *cp = dyco_coropool_create(3, stack);
    ASSERT_NE(nullptr, cp);
    EXPECT_EQ(3, dyco_coropool_available(cp));
    int running = 0, peak = 0, done = 0;
    Job job{&running, &peak, &done, 5};
    int obtained = 0;
    Go([&] {
      for (int i = 0; i < 12; ++i) {
        int cid = dyco_coropool_obtain(cp, Work, &job, -1);
        ASSERT_GT(cid, 0);
        obtained++;
        // A pool coroutine keeps the pool's stack.
        void *p;
        size_t n;
        EXPECT_EQ(stack != 0 ? 1 : 0, dyco_coroutine_getStack(cid, &p, &n));
        EXPECT_EQ(-EBUSY, dyco_coroutine_setStack(cid, nullptr, 65536));
      }
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(12, obtained);
    EXPECT_EQ(12, done);
    EXPECT_EQ(3, peak);
    EXPECT_EQ(3, dyco_coropool_available(cp));
    EXPECT_EQ(0, dyco_coropool_destroy(&cp));
    EXPECT_EQ(nullptr, cp);
  }
}

TEST_F(SchedTest, ObtainTimesOutWhenTheyAreAllBusy) {
  dyco_coropool *cp = dyco_coropool_create(1, 0);
  ASSERT_NE(nullptr, cp);
  int running = 0, peak = 0, done = 0;
  Job slow{&running, &peak, &done, 200};
  Go([&] {
    ASSERT_GT(dyco_coropool_obtain(cp, Work, &slow, -1), 0);
    EXPECT_EQ(0, dyco_coropool_available(cp));
    EXPECT_EQ(0, dyco_coropool_obtain(cp, Work, &slow, 0));
    const double start = NowMs();
    EXPECT_EQ(0, dyco_coropool_obtain(cp, Work, &slow, 30));
    EXPECT_GE(NowMs() - start, 29.5);
    // Waiting long enough gets one.
    EXPECT_GT(dyco_coropool_obtain_urgent(cp, Work, &slow, 1000), 0);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2, done);
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

TEST_F(SchedTest, ManyObtainersShareAPoolInArrivalOrder) {
  dyco_coropool *cp = dyco_coropool_create(2, 32 * 1024);
  ASSERT_NE(nullptr, cp);
  std::vector<int> order;
  int running = 0, peak = 0, done = 0;
  Job job{&running, &peak, &done, 3};
  for (int i = 0; i < 10; ++i) {
    Go([&, i] {
      ASSERT_GT(dyco_coropool_obtain(cp, Work, &job, -1), 0);
      order.push_back(i);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(10, done);
  EXPECT_EQ(2, peak);
  ASSERT_EQ(10u, order.size());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(i, order[i]);
  }
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

TEST_F(SchedTest, ResizeWhileInUse) {
  dyco_coropool *cp = dyco_coropool_create(2, 32 * 1024);
  ASSERT_NE(nullptr, cp);
  int running = 0, peak = 0, done = 0;
  Job job{&running, &peak, &done, 20};
  Go([&] {
    for (int i = 0; i < 2; ++i) {
      ASSERT_GT(dyco_coropool_obtain(cp, Work, &job, -1), 0);
    }
    EXPECT_EQ(0, dyco_coropool_available(cp));
    // Grow: two more at once.
    ASSERT_EQ(cp, dyco_coropool_resize(cp, 4));
    EXPECT_EQ(2, dyco_coropool_available(cp));
    for (int i = 0; i < 2; ++i) {
      ASSERT_GT(dyco_coropool_obtain(cp, Work, &job, 0), 0);
    }
    dyco_coroutine_yield();  // let them start
    EXPECT_EQ(4, running);
    // Shrink below what runs: the busy ones finish, none is free until
    // fewer than one run.
    ASSERT_EQ(cp, dyco_coropool_resize(cp, 1));
    EXPECT_EQ(0, dyco_coropool_available(cp));
    EXPECT_EQ(0, dyco_coropool_obtain(cp, Work, &job, 0));
    ASSERT_GT(dyco_coropool_obtain(cp, Work, &job, -1), 0);
    EXPECT_EQ(0, running);  // it waited for all four to finish
    dyco_coroutine_yield();
    EXPECT_EQ(1, running);
    EXPECT_EQ(nullptr, dyco_coropool_resize(cp, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(5, done);
  EXPECT_EQ(4, peak);
  EXPECT_EQ(1, dyco_coropool_available(cp));
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

TEST_F(SchedTest, DestroyWakesWaitersAndLetsBusyOnesFinish) {
  dyco_coropool *cp = dyco_coropool_create(1, 0);
  ASSERT_NE(nullptr, cp);
  int running = 0, peak = 0, done = 0;
  Job job{&running, &peak, &done, 30};
  int waiter_result = 1, waiter_errno = 0;
  Go([&] {
    ASSERT_GT(dyco_coropool_obtain(cp, Work, &job, -1), 0);
    Go([&] {
      waiter_result = dyco_coropool_obtain(cp, Work, &job, -1);
      waiter_errno = errno;
    });
    dyco_coroutine_yield();  // the waiter waits now
    dyco_coropool *doomed = cp;
    EXPECT_EQ(0, dyco_coropool_destroy(&doomed));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  // The seed's -1 for every error; errno says which.
  EXPECT_EQ(-1, waiter_result);
  EXPECT_EQ(EIDRM, waiter_errno);
  EXPECT_EQ(1, done);  // the busy one finished its job
}

TEST_F(SchedTest, OutsideACoroutineObtainNeverWaits) {
  dyco_coropool *cp = dyco_coropool_create(1, 0);
  ASSERT_NE(nullptr, cp);
  int running = 0, peak = 0, done = 0;
  Job job{&running, &peak, &done, 1};
  ASSERT_GT(dyco_coropool_obtain(cp, Work, &job, -1), 0);
  errno = 0;
  EXPECT_EQ(-1, dyco_coropool_obtain(cp, Work, &job, -1));
  EXPECT_EQ(EAGAIN, errno);
  errno = 0;
  EXPECT_EQ(-1, dyco_coropool_obtain_urgent(cp, Work, &job, 1000));
  EXPECT_EQ(EAGAIN, errno);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, done);
  EXPECT_GT(dyco_coropool_obtain(cp, Work, &job, 0), 0);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

TEST_F(SchedTest, BadPoolArguments) {
  EXPECT_EQ(nullptr, dyco_coropool_create(0, 0));
  EXPECT_EQ(nullptr, dyco_coropool_create(-1, 0));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(-EINVAL, dyco_coropool_available(nullptr));
  errno = 0;
  EXPECT_EQ(-1, dyco_coropool_obtain(nullptr, Work, nullptr, 0));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(nullptr, dyco_coropool_resize(nullptr, 3));
  EXPECT_EQ(-EINVAL, dyco_coropool_destroy(nullptr));
  dyco_coropool *none = nullptr;
  EXPECT_EQ(-EINVAL, dyco_coropool_destroy(&none));
  dyco_coropool *cp = dyco_coropool_create(1, 0);
  ASSERT_NE(nullptr, cp);
  errno = 0;
  EXPECT_EQ(-1, dyco_coropool_obtain(cp, nullptr, nullptr, 0));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

}  // namespace
