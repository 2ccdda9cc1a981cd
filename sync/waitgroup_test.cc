// dyco — sync layer tests: waitgroups. Waiting for all or for a partial
// target, members that never joined or finish twice, timeouts, destroy.
#include <errno.h>

#include <string>
#include <vector>

#include "sync/internal/sync_testing.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

TEST_F(SchedTest, WaitForEveryMember) {
  dyco_waitgroup *wg = dyco_waitgroup_create(4);
  ASSERT_NE(nullptr, wg);
  int finished = 0;
  int result = -1;
  Go([&] {
    for (int i = 0; i < 5; ++i) {
      int cid = Go([&, i] {
        dyco_coroutine_sleep(2 * i + 1);
        finished++;
        EXPECT_EQ(1, dyco_waitgroup_done(wg));
      });
      EXPECT_EQ(1, dyco_waitgroup_add(wg, cid));
    }
    result = dyco_waitgroup_wait(wg, -1, -1);
    EXPECT_EQ(5, finished);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(5, result);
  dyco_waitgroup_destroy(&wg);
  EXPECT_EQ(nullptr, wg);
}

TEST_F(SchedTest, PartialTargetsWakeWhenReached) {
  dyco_waitgroup *wg = dyco_waitgroup_create(0);
  std::string trace;
  std::vector<int> members;
  // Each member finishes when its gate opens: one at a time, in order.
  std::vector<dyco_semaphore *> gates;
  for (int i = 0; i < 5; ++i) {
    gates.push_back(dyco_semaphore_create(0));
    members.push_back(Go([&, i] {
      ASSERT_EQ(0, dyco_semaphore_wait(gates[i], -1));
      trace += "d" + std::to_string(i + 1) + " ";
      EXPECT_EQ(1, dyco_waitgroup_done(wg));
    }));
  }
  for (int cid : members) {
    ASSERT_EQ(1, dyco_waitgroup_add(wg, cid));
  }
  // Waiters for 3, 1, all and 4, queued in that order.
  for (int target : {3, 1, -1, 4}) {
    Go([&, target] {
      int r = dyco_waitgroup_wait(wg, target, -1);
      trace += "w" + std::to_string(target) + "=" + std::to_string(r) + " ";
    });
  }
  Go([&] {
    for (dyco_semaphore *g : gates) {
      dyco_semaphore_signal(g);
      for (int i = 0; i < 3; ++i) {
        dyco_coroutine_yield();  // the member, then whoever it woke
      }
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("d1 w1=1 d2 d3 w3=3 d4 w4=4 d5 w-1=5 ", trace);
  // Reached already: no waiting.
  Go([&] {
    EXPECT_EQ(5, dyco_waitgroup_wait(wg, 2, 0));
    EXPECT_EQ(5, dyco_waitgroup_wait(wg, -1, 0));
    EXPECT_EQ(-ETIMEDOUT, dyco_waitgroup_wait(wg, 6, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  for (dyco_semaphore *&g : gates) {
    dyco_semaphore_destroy(&g);
  }
  dyco_waitgroup_destroy(&wg);
}

TEST_F(SchedTest, DoneFromAStrangerOrTwiceIsAnErrorNotAMiscount) {
  dyco_waitgroup *wg = dyco_waitgroup_create(2);
  int member = Go([&] {
    EXPECT_EQ(1, dyco_waitgroup_done(wg));
    EXPECT_EQ(-EALREADY, dyco_waitgroup_done(wg));
  });
  Go([&] { EXPECT_EQ(-ESRCH, dyco_waitgroup_done(wg)); });
  int other = Go([&] {
    dyco_coroutine_sleep(10);
    EXPECT_EQ(1, dyco_waitgroup_done(wg));
  });
  ASSERT_EQ(1, dyco_waitgroup_add(wg, member));
  ASSERT_EQ(0, dyco_waitgroup_add(wg, member));  // a member already
  ASSERT_EQ(1, dyco_waitgroup_add(wg, other));
  EXPECT_EQ(-ESRCH, dyco_waitgroup_add(wg, 999999));
  EXPECT_EQ(-ESRCH, dyco_waitgroup_add(wg, -1));
  int seen_at_first = -1;
  Go([&] {
    dyco_coroutine_yield();
    // The stranger and the second done changed nothing: one of two.
    seen_at_first = dyco_waitgroup_wait(wg, 2, 0);
    EXPECT_EQ(2, dyco_waitgroup_wait(wg, -1, -1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-ETIMEDOUT, seen_at_first);
  EXPECT_EQ(-EPERM, dyco_waitgroup_done(wg));  // not a coroutine
  dyco_waitgroup_destroy(&wg);
}

TEST_F(SchedTest, WaitgroupTimeoutsLeaveNothingBehind) {
  dyco_waitgroup *wg = dyco_waitgroup_create(0);
  int member = Go([&] {
    dyco_coroutine_sleep(40);
    EXPECT_EQ(1, dyco_waitgroup_done(wg));
  });
  ASSERT_EQ(1, dyco_waitgroup_add(wg, member));
  std::string trace;
  Go([&] {
    const double start = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_waitgroup_wait(wg, 1, 10));
    EXPECT_EQ(-ETIMEDOUT, dyco_waitgroup_wait(wg, -1, 10));
    EXPECT_GE(NowMs() - start, 19.5);
    trace += "t";
  });
  Go([&] {
    EXPECT_EQ(1, dyco_waitgroup_wait(wg, 1, 5000));
    trace += "w";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("tw", trace);
  dyco_waitgroup_destroy(&wg);
}

TEST_F(SchedTest, AGroupWithoutMembersIsAllDone) {
  dyco_waitgroup *wg = dyco_waitgroup_create(0);
  Go([&] {
    EXPECT_EQ(0, dyco_waitgroup_wait(wg, -1, -1));
    EXPECT_EQ(-ETIMEDOUT, dyco_waitgroup_wait(wg, 1, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-EPERM, dyco_waitgroup_wait(wg, 1, -1));
  EXPECT_EQ(-EINVAL, dyco_waitgroup_wait(nullptr, 1, -1));
  EXPECT_EQ(-EINVAL, dyco_waitgroup_add(nullptr, 1));
  EXPECT_EQ(-EINVAL, dyco_waitgroup_done(nullptr));
  dyco_waitgroup_destroy(&wg);
  dyco_waitgroup_destroy(&wg);
  dyco_waitgroup_destroy(nullptr);
}

TEST_F(SchedTest, DestroyWakesWaitgroupWaitersWithEidrm) {
  dyco_waitgroup *wg = dyco_waitgroup_create(0);
  int member = Go([&] { dyco_coroutine_sleep(50); });
  ASSERT_EQ(1, dyco_waitgroup_add(wg, member));
  int canceled = 0;
  for (int target : {1, -1, 1, -1}) {
    Go([&, target] {
      canceled += dyco_waitgroup_wait(wg, target, -1) == -EIDRM;
    });
  }
  Go([&] {
    dyco_coroutine_yield();
    dyco_waitgroup_destroy(&wg);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(4, canceled);
}

TEST_F(SchedTest, AWaitgroupGrowsPastItsSuggestedSize) {
  dyco_waitgroup *wg = dyco_waitgroup_create(1);
  const int kMembers = 300;
  int result = -1;
  Go([&] {
    for (int i = 0; i < kMembers; ++i) {
      int cid = Go([&] {
        dyco_coroutine_yield();
        EXPECT_EQ(1, dyco_waitgroup_done(wg));
      });
      ASSERT_EQ(1, dyco_waitgroup_add(wg, cid));
    }
    result = dyco_waitgroup_wait(wg, -1, -1);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kMembers, result);
  dyco_waitgroup_destroy(&wg);
}

}  // namespace
