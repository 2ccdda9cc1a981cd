// dyco — sched layer tests: creation, scheduling order, urgency, yield,
// sleep, stop and run again, abort, udata, introspection, misuse.
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "context/context.h"
#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::GoUrgent;
using dyco_test::NowMs;
using dyco_test::SchedTest;

TEST_F(SchedTest, CreateReturnsDistinctPositiveIdsAndRunRunsThemAll) {
  std::vector<int> ran;
  std::vector<int> ids;
  for (int i = 0; i < 5; ++i) {
    int cid = Go([&ran, i] { ran.push_back(i); });
    ASSERT_GT(cid, 0);
    ids.push_back(cid);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids.end(), std::adjacent_find(ids.begin(), ids.end()));
  EXPECT_EQ(5, dyco_schedule_getCoroCount());
  EXPECT_EQ(0, dyco_schedule_run());
  EXPECT_EQ((std::vector<int>{0, 1, 2, 3, 4}), ran);
  EXPECT_EQ(0, dyco_schedule_getCoroCount());
}

TEST_F(SchedTest, CoroIdIsTheRunningCoroutinesId) {
  int seen = 0;
  int cid = Go([&seen] { seen = dyco_coroutine_coroID(); });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(cid, seen);
}

TEST_F(SchedTest, YieldRoundRobinsInCreationOrder) {
  std::string trace;
  for (char name : std::string("abc")) {
    Go([&trace, name] {
      for (int i = 0; i < 3; ++i) {
        trace += name;
        EXPECT_EQ(0, dyco_coroutine_yield());
      }
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("abcabcabc", trace);
}

TEST_F(SchedTest, CoroutinesCreatedByACoroutineRunAfterTheReadyOnes) {
  std::string trace;
  Go([&trace] {
    trace += "a";
    Go([&trace] { trace += "c"; });
    dyco_coroutine_yield();
    trace += "d";
  });
  Go([&trace] { trace += "b"; });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("abcd", trace);
}

TEST_F(SchedTest, UrgentCoroutinesRunBeforeNormalOnes) {
  std::string trace;
  Go([&trace] { trace += "n1 "; });
  Go([&trace] { trace += "n2 "; });
  GoUrgent([&trace] { trace += "u1 "; });
  int later = Go([&trace] { trace += "n3(urgent) "; });
  ASSERT_EQ(0, dyco_coroutine_setUrgent(later));
  // Setting urgency applies the next time it becomes ready: n3 was queued
  // as normal already.
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("u1 n1 n2 n3(urgent) ", trace);
}

TEST_F(SchedTest, AnUrgentCoroutineThatYieldsDoesNotStarveTheOthers) {
  std::string trace;
  for (char name : std::string("ab")) {
    Go([&trace, name] {
      for (int i = 0; i < 3; ++i) {
        trace += name;
        dyco_coroutine_yield();
      }
    });
  }
  int urgent = Go([&trace] {
    for (int i = 0; i < 3; ++i) {
      trace += "U";
      dyco_coroutine_yield();
    }
  });
  ASSERT_EQ(0, dyco_coroutine_setUrgent(urgent));
  ASSERT_EQ(0, dyco_schedule_run());
  // Round 1 in creation order (U was queued as normal); from then on U
  // leads every round, and a and b still run once per round.
  EXPECT_EQ("abUUabUab", trace);
}

TEST_F(SchedTest, AnUrgentCoroutineWokenMidRoundRunsNext) {
  std::string trace;
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  GoUrgent([&] {
    dyco_waitq_wait(&q, -1, nullptr);
    trace += "U";
  });
  Go([&] {
    trace += "a";
    dyco_waitq_wakeOne(&q, 0);
    dyco_coroutine_yield();
    trace += "a";
  });
  Go([&] { trace += "b"; });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("aUba", trace);
}

TEST_F(SchedTest, UnsetUrgentMakesItNormalAgain) {
  std::string trace;
  int cid = GoUrgent([&trace] {
    trace += "x";
    dyco_coroutine_unsetUrgent(dyco_coroutine_coroID());
    dyco_coroutine_yield();
    trace += "x";
  });
  ASSERT_GT(cid, 0);
  Go([&trace] {
    trace += "y";
    dyco_coroutine_yield();
    trace += "y";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("xyxy", trace);
}

TEST_F(SchedTest, SleepWakesInDeadlineOrderAndNotEarly) {
  std::vector<std::pair<int, double>> woke;
  const double start = NowMs();
  for (int ms : {60, 20, 40, 0}) {
    Go([&woke, ms] {
      dyco_coroutine_sleep(static_cast<uint32_t>(ms));
      woke.emplace_back(ms, NowMs());
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(4u, woke.size());
  EXPECT_EQ(0, woke[0].first);
  EXPECT_EQ(20, woke[1].first);
  EXPECT_EQ(40, woke[2].first);
  EXPECT_EQ(60, woke[3].first);
  for (auto &w : woke) {
    EXPECT_GE(w.second - start, w.first - 0.5) << "woke early: " << w.first;
  }
  // All in one go: the total is the longest sleep, not the sum.
  EXPECT_LT(woke.back().second - start, 60 + 1000);
}

TEST_F(SchedTest, ManySleepersShareOneThread) {
  int done = 0;
  const double start = NowMs();
  for (int i = 0; i < 1000; ++i) {
    Go([&done] {
      dyco_coroutine_sleep(50);
      done++;
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1000, done);
  EXPECT_GE(NowMs() - start, 49.5);
}

TEST_F(SchedTest, SleepOutsideACoroutineSleepsTheThread) {
  const double start = NowMs();
  dyco_coroutine_sleep(20);
  EXPECT_GE(NowMs() - start, 19.5);
}

TEST_F(SchedTest, StopSuspendsTheCallerAtOnceAndRunAgainCarriesOn) {
  std::string trace;
  Go([&trace] {
    trace += "a";
    dyco_schedcall_stop();
    // Only in the next run, behind the coroutines that were ready.
    trace += "A";
  });
  Go([&trace] {
    trace += "b";
    dyco_coroutine_yield();
    trace += "B";
  });
  ASSERT_EQ(1, dyco_schedule_run());
  EXPECT_EQ("a", trace);
  EXPECT_EQ(2, dyco_schedule_getCoroCount());
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("abAB", trace);
}

TEST_F(SchedTest, StopThenSleepKeepsItsTiming) {
  // The seed's stop-then-abort program: a coroutine stops the scheduler,
  // the thread does something else for a while, runs the scheduler again,
  // and only then does the coroutine's next sleep begin.
  const double unit = dyco_test::Slow() ? 100 : 30;
  double stopped_at = 0, resumed_at = 0, woke_at = 0;
  Go([&] {
    dyco_schedcall_stop();
    resumed_at = NowMs();
    dyco_coroutine_sleep(static_cast<uint32_t>(unit));
    woke_at = NowMs();
  });
  ASSERT_EQ(1, dyco_schedule_run());
  stopped_at = NowMs();
  EXPECT_EQ(0, resumed_at);  // it did not run on after stop
  dyco_coroutine_sleep(static_cast<uint32_t>(2 * unit));  // the thread sleeps
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_GE(resumed_at - stopped_at, 2 * unit - 0.5);
  EXPECT_GE(woke_at - resumed_at, unit - 0.5);
}

TEST_F(SchedTest, StopFromASleeperLeavesTheOthersSleeping) {
  int woke = 0;
  Go([&woke] {
    dyco_coroutine_sleep(10);
    dyco_schedcall_stop();
    woke++;
  });
  Go([&woke] {
    dyco_coroutine_sleep(200);
    woke++;
  });
  ASSERT_EQ(1, dyco_schedule_run());
  EXPECT_EQ(0, woke);  // the stopper is suspended in stop
  EXPECT_EQ(2, dyco_schedule_getCoroCount());
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2, woke);
}

TEST_F(SchedTest, AbortKillsEveryCoroutineAndFreesTheScheduler) {
  const int kCount = dyco_test::MostAlive(dyco_test::Slow() ? 20000 : 200000);
  int reached = 0;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_GT(Go([&reached] {
                dyco_coroutine_sleep(60000);
                reached++;  // never: abort comes first
              }),
              0);
  }
  // Some waiting on a queue, some on a pipe, some never started.
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  for (int i = 0; i < 10; ++i) {
    Go([&q] { dyco_waitq_wait(&q, -1, nullptr); });
    Go([fds] { dyco_coroutine_waitRead(fds[0], -1); });
  }
  Go([kCount] {
    dyco_coroutine_sleep(5);
    EXPECT_EQ(kCount + 20 + 1 + 10, dyco_schedule_getCoroCount());
    dyco_schedcall_abort();
    ADD_FAILURE() << "abort returned";
  });
  for (int i = 0; i < 10; ++i) {
    Go([] { dyco_coroutine_sleep(1000); });
  }
  EXPECT_EQ(-ECANCELED, dyco_schedule_run());
  EXPECT_EQ(0, reached);
  EXPECT_EQ(nullptr, dyco_schedule_self());
  EXPECT_EQ(0, dyco_schedule_getCoroCount());
  // As the seed: run again says so, until something new is set up.
  EXPECT_EQ(-ECANCELED, dyco_schedule_run());
  EXPECT_EQ(nullptr, dyco_schedule_self());
  int ran = 0;
  Go([&ran] { ran = 1; });
  EXPECT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, ran);
  close(fds[0]);
  close(fds[1]);
  // The leak checker (--config=asan) verifies nothing was left behind.
}

TEST_F(SchedTest, AbortOfOneCoroutineEndsOnlyIt) {
  std::string trace;
  Go([&trace] {
    trace += "a";
    dyco_coroutine_abort();
    trace += "never";
  });
  Go([&trace] {
    dyco_coroutine_yield();
    trace += "b";
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ("ab", trace);
}

TEST_F(SchedTest, FreeKillsCoroutinesThatNeverRan) {
  int ran = 0;
  for (int i = 0; i < 100; ++i) {
    Go([&ran] { ran++; });
  }
  EXPECT_EQ(100, dyco_schedule_getCoroCount());
  dyco_schedule_free(dyco_schedule_self());
  EXPECT_EQ(0, ran);
  EXPECT_EQ(nullptr, dyco_schedule_self());
}

TEST_F(SchedTest, UdataRoundTrips) {
  int a = 1, b = 2;
  int cid = Go([&a] {
    void *p = nullptr;
    ASSERT_EQ(0, dyco_coroutine_getUdata(dyco_coroutine_coroID(), &p));
    EXPECT_EQ(&a, p);
  });
  void *p = &b;
  ASSERT_EQ(0, dyco_coroutine_getUdata(cid, &p));
  EXPECT_EQ(nullptr, p);
  ASSERT_EQ(0, dyco_coroutine_setUdata(cid, &a));
  ASSERT_EQ(0, dyco_coroutine_getUdata(cid, &p));
  EXPECT_EQ(&a, p);
  EXPECT_EQ(-EINVAL, dyco_coroutine_getUdata(cid, nullptr));
  ASSERT_EQ(0, dyco_schedule_setUdata(&b));
  ASSERT_EQ(0, dyco_schedule_getUdata(&p));
  EXPECT_EQ(&b, p);
  ASSERT_EQ(0, dyco_schedule_run());
  // Ended: the id is no longer valid.
  EXPECT_EQ(-ESRCH, dyco_coroutine_getUdata(cid, &p));
  EXPECT_EQ(-ESRCH, dyco_coroutine_setUdata(cid, &a));
}

TEST_F(SchedTest, SchedCountCountsEveryTurn) {
  int cid = Go([] {
    for (int i = 0; i < 4; ++i) {
      dyco_coroutine_yield();
    }
  });
  EXPECT_EQ(0, dyco_coroutine_getSchedCount(cid));
  int observed = -1;
  Go([&observed, cid] {
    dyco_coroutine_yield();
    observed = dyco_coroutine_getSchedCount(cid);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2, observed);
  EXPECT_EQ(-ESRCH, dyco_coroutine_getSchedCount(cid));
}

// Coroutines that only yield to each other go from round to round without
// the loop; these check that the loop still comes whenever it has work.
TEST_F(SchedTest, ALoneYielderGoesOnAndCountsItsTurns) {
  int cid = Go([] {
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(0, dyco_coroutine_yield());
    }
  });
  int turns = -1;
  dyco_schedule_stats st;
  Go([&turns, &st, cid] {
    // Runs at the first one's first yield; after it ends, the first one
    // yields 99 times with no one else ready: its turns still count, as do
    // the stats' resumptions.
    turns = dyco_coroutine_getSchedCount(cid);
    ASSERT_EQ(0, dyco_schedule_getStats(&st));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, turns);  // the second one ran after the first one's 1st turn
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_EQ(101u + 1u, st.switches);  // 101 turns + the second's one
}

TEST_F(SchedTest, YieldersDoNotKeepATimerFromFiring) {
  bool woke = false;
  int spins = 0;
  Go([&woke] {
    dyco_coroutine_sleep(5);
    woke = true;
  });
  for (int i = 0; i < 2; ++i) {
    Go([&woke, &spins] {
      while (!woke) {
        spins++;
        dyco_coroutine_yield();
      }
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(woke);
  EXPECT_GT(spins, 2);
}

TEST_F(SchedTest, YieldersDoNotKeepAnFdOrAnotherThreadWaiting) {
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  bool got_fd = false;
  std::atomic<bool> spawned_ran{false};
  Go([&got_fd, &fds] {
    char c = 0;
    EXPECT_GT(dyco_coroutine_waitRead(fds[0], -1), 0);
    EXPECT_EQ(1, read(fds[0], &c, 1));
    got_fd = c == 'x';
  });
  for (int i = 0; i < 2; ++i) {
    Go([&got_fd, &spawned_ran] {
      const double give_up = NowMs() + 10000;  // fails below, never hangs
      while ((!got_fd || !spawned_ran.load()) && NowMs() < give_up) {
        dyco_coroutine_yield();
      }
    });
  }
  int sched_id = dyco_schedule_schedID();
  std::thread other([&fds, &spawned_ran, sched_id] {
    ASSERT_EQ(1, write(fds[1], "x", 1));
    static std::atomic<bool> *flag;
    flag = &spawned_ran;
    ASSERT_EQ(0, dyco_schedule_spawnById(
                     sched_id, [](void *) { flag->store(true); }, nullptr));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  other.join();
  EXPECT_TRUE(got_fd);
  EXPECT_TRUE(spawned_ran.load());
  close(fds[0]);
  close(fds[1]);
}

TEST_F(SchedTest, StopEndsTheRunWhileOthersYield) {
  bool stop = false;
  for (int i = 0; i < 2; ++i) {
    Go([&stop] {
      while (!stop) {
        dyco_coroutine_yield();
      }
    });
  }
  Go([] {
    dyco_coroutine_yield();
    dyco_schedcall_stop();
  });
  ASSERT_EQ(1, dyco_schedule_run());
  stop = true;
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, StaleIdsAreRejected) {
  int first = Go([] {});
  ASSERT_EQ(0, dyco_schedule_run());
  // Reuse many slots: the old id never names a new coroutine.
  for (int i = 0; i < 5000; ++i) {
    int cid = Go([] {});
    ASSERT_NE(first, cid);
    ASSERT_EQ(0, dyco_schedule_run());
  }
  EXPECT_EQ(-ESRCH, dyco_coroutine_getSchedCount(first));
  EXPECT_EQ(-ESRCH, dyco_coroutine_setUrgent(0));
  EXPECT_EQ(-ESRCH, dyco_coroutine_setUrgent(-5));
}

TEST_F(SchedTest, ScheduleCreateWorksBeforeAndAfterCoroutines) {
  // The seed returned the scheduler's id (> 0) on success.
  const int id = dyco_schedule_create(64 * 1024, 100);
  ASSERT_GT(id, 0);
  EXPECT_EQ(id, dyco_schedule_schedID());
  void *stack = nullptr;
  size_t size = 0;
  int cid = Go([] { dyco_coroutine_yield(); });
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, &stack, &size));
  EXPECT_EQ(64u * 1024, size);
  // Nothing started on the shared stack yet: it can still change.
  ASSERT_EQ(id, dyco_schedule_create(128 * 1024, 0));
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, &stack, &size));
  EXPECT_EQ(128u * 1024, size);
  Go([] {
    // Started coroutines live on it now.
    EXPECT_EQ(-EBUSY, dyco_schedule_create(256 * 1024, 0));
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, SmallSharedStacksAreRoundedUpNotRefused) {
  // The seed accepted any size; a tiny one becomes the smallest usable.
  ASSERT_GT(dyco_schedule_create(100, 0), 0);
  size_t size = 0;
  int ran = 0;
  int cid = Go([&ran] { ran = 1; });
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, nullptr, &size));
  EXPECT_EQ(static_cast<size_t>(DYCO_CONTEXT_STACK_MIN), size);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, ran);
}

TEST_F(SchedTest, DefaultStackAppliesToSchedulersMadeLater) {
  ASSERT_EQ(0, dyco_schedule_setDefaultStack(64 * 1024));
  size_t mine = 0, theirs = 0;
  int cid = Go([] {});
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, nullptr, &mine));
  std::thread t([&theirs] {
    ASSERT_GT(dyco_schedule_create(0, 0), 0);
    int other = Go([] {});
    dyco_coroutine_getStack(other, nullptr, &theirs);
    EXPECT_EQ(0, dyco_schedule_run());
    dyco_schedule_free(dyco_schedule_self());
  });
  t.join();
  ASSERT_EQ(0, dyco_schedule_setDefaultStack(0));
  EXPECT_EQ(64u * 1024, mine);
  EXPECT_EQ(64u * 1024, theirs);
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_schedule_free(dyco_schedule_self());
  cid = Go([] {});
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, nullptr, &mine));
  EXPECT_EQ(static_cast<size_t>(DYCO_SCHEDULE_STACK_DEFAULT), mine);
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, ScheduleIdsAreUniquePerThread) {
  int mine = dyco_schedule_schedID();
  ASSERT_GT(mine, 0);
  EXPECT_EQ(mine, dyco_schedule_schedID());
  int theirs = 0;
  std::thread t([&theirs] {
    theirs = dyco_schedule_schedID();
    dyco_schedule_free(dyco_schedule_self());
  });
  t.join();
  EXPECT_GT(theirs, 0);
  EXPECT_NE(mine, theirs);
}

// Floating-point modes: like a thread's (C11 7.6), a coroutine starts with
// the modes its creator had when it created it, not with those of whoever
// runs just before its first run (its context is made then), and each
// keeps its own across switches. On private stacks, the shared stack, and
// a pool's.
void FpModesStartAsTheCreators(int stack_kind) {
  const int saved = fegetround();
  ASSERT_EQ(0, fesetround(FE_TONEAREST));
  int a_after = -1, b_start = -1, c_start = -1, p_start = -1;
  dyco_coropool *pool = nullptr;
  if (stack_kind == 2) {
    pool = dyco_coropool_create(2, 64 * 1024);
    ASSERT_NE(nullptr, pool);
  }
  auto go = [&](std::function<void()> f) {
    int cid = Go(std::move(f));
    if (stack_kind == 1) {
      EXPECT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 64 * 1024));
    }
    return cid;
  };
  // Created by the thread (round to nearest), B first runs right after A
  // has turned downward and yielded.
  go([&] {
    EXPECT_EQ(FE_TONEAREST, fegetround());
    fesetround(FE_DOWNWARD);
    // C, created now, inherits downward; so does a pool coroutine.
    go([&] { c_start = fegetround(); });
    if (pool != nullptr) {
      EXPECT_LT(
          0,
          dyco_coropool_obtain(
              pool, [](void *arg) { *static_cast<int *>(arg) = fegetround(); },
              &p_start, 0));
    }
    dyco_coroutine_yield();
    a_after = fegetround();
  });
  go([&] {
    b_start = fegetround();
    fesetround(FE_UPWARD);  // its own, left as it is when it ends
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(FE_TONEAREST, b_start);
  EXPECT_EQ(FE_DOWNWARD, c_start);
  EXPECT_EQ(FE_DOWNWARD, a_after);
  if (pool != nullptr) {
    EXPECT_EQ(FE_DOWNWARD, p_start);
    EXPECT_EQ(0, dyco_coropool_destroy(&pool));
  }
  // The thread keeps its own.
  EXPECT_EQ(FE_TONEAREST, fegetround());
  fesetround(saved);
}

TEST_F(SchedTest, FpModesStartAsTheCreatorsOnTheSharedStack) {
  FpModesStartAsTheCreators(0);
}
TEST_F(SchedTest, FpModesStartAsTheCreatorsOnPrivateStacks) {
  FpModesStartAsTheCreators(1);
}
TEST_F(SchedTest, FpModesStartAsTheCreatorsInAPool) {
  FpModesStartAsTheCreators(2);
}

TEST_F(SchedTest, MisuseOutsideACoroutineReturnsErrors) {
  EXPECT_EQ(-EPERM, dyco_coroutine_yield());
  EXPECT_EQ(-EPERM, dyco_coroutine_coroID());
  EXPECT_EQ(-EPERM, dyco_coroutine_checkStack());
  EXPECT_EQ(-EPERM, dyco_coroutine_waitRead(0, 0));
  EXPECT_EQ(-EPERM, dyco_coroutine_waitWrite(1, 10));
  EXPECT_EQ(-EPERM, dyco_coroutine_waitRW(1, -1));
  EXPECT_EQ(-EPERM, dyco_fd_wait(0, EPOLLIN, 10));
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  EXPECT_EQ(-EPERM, dyco_waitq_wait(&q, 10, nullptr));
  EXPECT_EQ(-EINVAL, dyco_coroutine_create(nullptr, nullptr));
  dyco_coroutine_abort();  // does nothing
  dyco_schedcall_stop();   // does nothing
  dyco_schedcall_abort();  // does nothing
  EXPECT_EQ(-ESRCH, dyco_coroutine_setStack(12345, nullptr, 65536));
  int key;
  ASSERT_EQ(0, dyco_coroutine_keyCreate(&key, nullptr));
  EXPECT_EQ(-EPERM, dyco_coroutine_setLocal(key, &key));
  EXPECT_EQ(nullptr, dyco_coroutine_getLocal(key));
  EXPECT_EQ(0, dyco_coroutine_keyDelete(key));
  // From inside a coroutine, run and free refuse.
  Go([] {
    EXPECT_EQ(-EDEADLK, dyco_schedule_run());
    dyco_schedule_free(dyco_schedule_self());  // prints why, does nothing
    EXPECT_NE(nullptr, dyco_schedule_self());
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, SigprocmaskChangesTheThreadMask) {
  sigset_t add, old, now;
  sigemptyset(&add);
  sigaddset(&add, SIGUSR2);
  Go([&] { EXPECT_EQ(0, dyco_schedcall_sigprocmask(SIG_BLOCK, &add, &old)); });
  ASSERT_EQ(0, dyco_schedule_run());
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  EXPECT_TRUE(sigismember(&now, SIGUSR2));
  EXPECT_FALSE(sigismember(&old, SIGUSR2));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(-EINVAL, dyco_schedcall_sigprocmask(12345, &add, nullptr));
}

TEST_F(SchedTest, LoopwaitBoundsHowLongTheSchedulerSleeps) {
  // A coroutine waits on a queue nobody wakes; with a 10 ms loopwait the
  // loop keeps coming round (polls grow) instead of sleeping for ever.
  ASSERT_GT(dyco_schedule_create(0, 10), 0);
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  Go([&q] { EXPECT_EQ(-ETIMEDOUT, dyco_waitq_wait(&q, 100, nullptr)); });
  ASSERT_EQ(0, dyco_schedule_run());
  dyco_schedule_stats st;
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_GE(st.polls, 5u);
}

// --- introspection ----------------------------------------------------------

TEST_F(SchedTest, InfoStatsAndDumpDescribeEveryCoroutine) {
  int fds[2];
  ASSERT_EQ(0, pipe(fds));
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  int sleeper = Go([] { dyco_coroutine_sleep(1000); });
  int reader = Go([fds] { dyco_coroutine_waitRead(fds[0], 5000); });
  int waiter = Go([&q] { dyco_waitq_wait(&q, -1, nullptr); });
  int fresh = Go([] {});
  dyco_coroutine_info info;
  ASSERT_EQ(0, dyco_coroutine_getInfo(fresh, &info));
  EXPECT_EQ(DYCO_COROUTINE_NEW, info.state);
  EXPECT_EQ(-EINVAL, dyco_coroutine_getInfo(fresh, nullptr));
  EXPECT_EQ(-ESRCH, dyco_coroutine_getInfo(99999, &info));
  Go([&] {
    dyco_coroutine_info i;
    ASSERT_EQ(0, dyco_coroutine_getInfo(sleeper, &i));
    EXPECT_EQ(DYCO_COROUTINE_SLEEPING, i.state);
    EXPECT_EQ(DYCO_WAIT_SLEEP, i.wait);
    EXPECT_GT(i.timeout_ms, 500);
    EXPECT_GT(i.stack_used, 0u);
    EXPECT_EQ(0, i.private_stack);
    ASSERT_EQ(0, dyco_coroutine_getInfo(reader, &i));
    EXPECT_EQ(DYCO_COROUTINE_WAITING, i.state);
    EXPECT_EQ(DYCO_WAIT_READ, i.wait);
    EXPECT_EQ(fds[0], i.fd);
    ASSERT_EQ(0, dyco_coroutine_getInfo(waiter, &i));
    EXPECT_EQ(DYCO_WAIT_QUEUE, i.wait);
    EXPECT_EQ(&q, i.queue);
    EXPECT_EQ(-1, i.timeout_ms);
    ASSERT_EQ(0, dyco_coroutine_getInfo(dyco_coroutine_coroID(), &i));
    EXPECT_EQ(DYCO_COROUTINE_RUNNING, i.state);

    dyco_schedule_stats st;
    ASSERT_EQ(0, dyco_schedule_getStats(&st));
    EXPECT_EQ(4u, st.coroutines);  // fresh has ended
    EXPECT_EQ(1u, st.by_state[DYCO_COROUTINE_SLEEPING]);
    EXPECT_EQ(2u, st.by_state[DYCO_COROUTINE_WAITING]);
    EXPECT_EQ(1u, st.by_state[DYCO_COROUTINE_RUNNING]);
    EXPECT_GE(st.switches, 4u);

    {  // (destroyed before the abort below, which unwinds nothing)
      char *buf = nullptr;
      size_t len = 0;
      FILE *out = open_memstream(&buf, &len);
      EXPECT_EQ(4, dyco_schedule_dump(out));
      fclose(out);
      std::string text(buf, len);
      free(buf);
      EXPECT_NE(std::string::npos, text.find("sleeping"));
      EXPECT_NE(std::string::npos, text.find("read"));
      EXPECT_NE(std::string::npos, text.find("queue"));
      EXPECT_NE(std::string::npos, text.find("running"));
      EXPECT_NE(std::string::npos, text.find(std::to_string(reader)));
    }

    dyco_waitq_wakeAll(&q, 0);
    EXPECT_EQ(1, write(fds[1], "x", 1));
    dyco_schedcall_abort();
  });
  EXPECT_EQ(-ECANCELED, dyco_schedule_run());
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(-ESRCH, dyco_schedule_dump(stdout));
  dyco_schedule_stats st;
  EXPECT_EQ(-ESRCH, dyco_schedule_getStats(&st));
}

// --- coroutine-local storage -----------------------------------------------

std::vector<std::string> *destroyed;

void RecordDestroy(void *v) {
  destroyed->push_back(*static_cast<std::string *>(v));
  delete static_cast<std::string *>(v);
}

TEST_F(SchedTest, LocalsArePerCoroutineAndDestroyedAtTheEnd) {
  std::vector<std::string> log;
  destroyed = &log;
  int key;
  ASSERT_EQ(0, dyco_coroutine_keyCreate(&key, RecordDestroy));
  for (const char *name : {"one", "two"}) {
    Go([key, name] {
      EXPECT_EQ(nullptr, dyco_coroutine_getLocal(key));
      ASSERT_EQ(0, dyco_coroutine_setLocal(key, new std::string(name)));
      dyco_coroutine_yield();
      auto *mine = static_cast<std::string *>(dyco_coroutine_getLocal(key));
      ASSERT_NE(nullptr, mine);
      EXPECT_EQ(name, *mine);
    });
  }
  // A coroutine that is killed still has its destructor run.
  Go([key] {
    dyco_coroutine_setLocal(key, new std::string("killed"));
    dyco_coroutine_sleep(100000);
  });
  Go([] {
    dyco_coroutine_sleep(1);
    dyco_schedcall_abort();
  });
  EXPECT_EQ(-ECANCELED, dyco_schedule_run());
  std::sort(log.begin(), log.end());
  EXPECT_EQ((std::vector<std::string>{"killed", "one", "two"}), log);
  EXPECT_EQ(0, dyco_coroutine_keyDelete(key));
  EXPECT_EQ(-EINVAL, dyco_coroutine_keyDelete(key));
  EXPECT_EQ(-EINVAL, dyco_coroutine_keyCreate(nullptr, nullptr));
}

TEST_F(SchedTest, ADeletedKeyReadsAsNullAndItsValuesAreForgotten) {
  std::vector<std::string> log;
  destroyed = &log;
  int key;
  ASSERT_EQ(0, dyco_coroutine_keyCreate(&key, RecordDestroy));
  std::string keep("kept");
  Go([&, key] {
    ASSERT_EQ(0, dyco_coroutine_setLocal(key, &keep));
    ASSERT_EQ(0, dyco_coroutine_keyDelete(key));
    EXPECT_EQ(nullptr, dyco_coroutine_getLocal(key));
    EXPECT_EQ(-EINVAL, dyco_coroutine_setLocal(key, &keep));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(log.empty());  // no destructor for a deleted key's value
}

TEST_F(SchedTest, KeysRunOutCleanly) {
  std::vector<int> keys;
  int k;
  while (dyco_coroutine_keyCreate(&k, nullptr) == 0) {
    keys.push_back(k);
  }
  EXPECT_GE(keys.size(), 1u);
  EXPECT_LE(keys.size(), static_cast<size_t>(DYCO_COROUTINE_KEYS_MAX));
  EXPECT_EQ(-EAGAIN, dyco_coroutine_keyCreate(&k, nullptr));
  for (int key : keys) {
    EXPECT_EQ(0, dyco_coroutine_keyDelete(key));
  }
}

}  // namespace
