// dyco — sched layer tests: cancellation and deadlines at every wait point
// sched has (a table), their rules (later waits, uncancel, the mask, ready
// and running targets, per-call timeouts), and cancels across threads.
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// The gate: coroutine cid is suspended at a wait point.
bool Suspended(int cid) {
  dyco_coroutine_info info;
  return dyco_coroutine_getInfo(cid, &info) == 0 &&
         (info.state == DYCO_COROUTINE_WAITING ||
          info.state == DYCO_COROUTINE_SLEEPING);
}

// Ms the slow configs may add to "at once".
double Slack() { return dyco_test::Slow() ? 200 : 20; }

// One wait point: what it needs around it, the call that blocks (for 10 s
// unless cancelled), and what it returns when cancelled and past a deadline.
struct Point {
  std::string name;
  std::function<int()> block;
  int cancelled;
  int expired;
};

// The resources the wait points block on, one set per cell.
struct Things {
  int p[2] = {-1, -1};
  dyco_waitq q;
  dyco_spinlock lock = DYCO_SPINLOCK_INIT;
  dyco_waitq locked;
  dyco_waitq other;
  dyco_coropool *pool = nullptr;
  dyco_waitq pool_hold;  // the pool's one coroutine waits here
  Things() {
    EXPECT_EQ(0, pipe(p));
    dyco_waitq_init(&q, nullptr);
    dyco_waitq_init(&locked, &lock);
    dyco_waitq_init(&other, nullptr);
    dyco_waitq_init(&pool_hold, nullptr);
  }
  ~Things() {
    close(p[0]);
    close(p[1]);
    if (pool != nullptr) {
      dyco_waitq_wakeAll(&pool_hold, 0);
    }
  }
};

void Hold(void *arg) {
  dyco_waitq_wait(static_cast<dyco_waitq *>(arg), -1, nullptr);
}

std::vector<Point> Points(Things *t) {
  const int kLong = 10000;
  return {
      {"waitq_wait", [t] { return dyco_waitq_wait(&t->q, kLong, nullptr); },
       -ECANCELED, -ETIMEDOUT},
      {"waitq_wait_locked",
       [t] {
         dyco_spinlock_lock(&t->lock);
         int r = dyco_waitq_wait(&t->locked, kLong, nullptr);
         dyco_spinlock_unlock(&t->lock);  // held again on return
         return r;
       },
       -ECANCELED, -ETIMEDOUT},
      {"waitq_waitAny",
       [t] {
         dyco_waitq *qs[2] = {&t->q, &t->other};
         return dyco_waitq_waitAny(qs, 2, kLong, nullptr, nullptr);
       },
       -ECANCELED, -ETIMEDOUT},
      {"fd_wait", [t] { return dyco_fd_wait(t->p[0], EPOLLIN, kLong); },
       -ECANCELED, -ETIMEDOUT},
      {"fd_poll",
       [t] {
         struct pollfd pf = {t->p[0], POLLIN, 0};
         return dyco_fd_poll(&pf, 1, kLong, nullptr);
       },
       -ECANCELED, -ETIMEDOUT},
      {"fd_poll_no_fd", [] { return dyco_fd_poll(nullptr, 0, -1, nullptr); },
       -ECANCELED, -ETIMEDOUT},
      {"waitRead", [t] { return dyco_coroutine_waitRead(t->p[0], kLong); },
       -ECANCELED, -ETIMEDOUT},
      {"sleep",
       [] {
         double t0 = NowMs();
         dyco_coroutine_sleep(kLong);
         // Returns nothing: it ended early, and the state says why.
         return NowMs() - t0 < kLong / 2 ? dyco_coroutine_checkCancel() : 1;
       },
       -ECANCELED, -ETIMEDOUT},
      {"coropool_obtain",
       [t] {
         if (t->pool == nullptr) {
           t->pool = dyco_coropool_create(1, 0);
           EXPECT_GT(dyco_coropool_obtain(t->pool, Hold, &t->pool_hold, 0), 0);
         }
         int r = dyco_coropool_obtain(t->pool, Hold, &t->pool_hold, kLong);
         return r < 0 ? -errno : r;
       },
       // The seed's -1 with errno; its 0 of a timeout for a deadline.
       -ECANCELED, 0},
  };
}

class CancelTest : public SchedTest {
 protected:
  void TearDown() override {
    dyco_coropool_destroy(&pool_);
    SchedTest::TearDown();
  }
  dyco_coropool *pool_ = nullptr;
};

// Cancelled while suspended at each point: it wakes at once with its
// ECANCELED, and the same call fails at once until uncancel.
TEST_F(CancelTest, EveryWaitPointWakesWithECANCELED) {
  Things t;
  for (const Point &p : Points(&t)) {
    SCOPED_TRACE(p.name);
    int first = 1, again = 1, after = 1;
    double cancelled_at = 0, woke_at = 0, again_ms = 1e9;
    int cid = Go([&] {
      first = p.block();
      woke_at = NowMs();
      double t0 = NowMs();
      again = p.block();
      again_ms = NowMs() - t0;
      dyco_waitq_wakeAll(&t.pool_hold, 0);  // the pool's coroutine ends
      EXPECT_EQ(1, dyco_coroutine_uncancel());
      EXPECT_EQ(0, dyco_coroutine_uncancel());
      after = dyco_coroutine_checkCancel();
    });
    ASSERT_GT(cid, 0);
    Go([&] {
      while (!Suspended(cid)) {
        dyco_coroutine_yield();
      }
      cancelled_at = NowMs();
      EXPECT_EQ(0, dyco_coroutine_cancel(cid));
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(p.cancelled, first);
    EXPECT_LT(woke_at - cancelled_at, Slack());
    EXPECT_EQ(p.cancelled, again);
    EXPECT_LT(again_ms, Slack());
    EXPECT_EQ(0, after);
  }
  pool_ = t.pool;
  t.pool = nullptr;
}

// A deadline that passes during the wait ends it with ETIMEDOUT; once past,
// the same call fails at once.
TEST_F(CancelTest, EveryWaitPointEndsAtTheDeadline) {
  Things t;
  for (const Point &p : Points(&t)) {
    SCOPED_TRACE(p.name);
    int first = 1, again = 1;
    double took = 0, again_ms = 1e9;
    Go([&] {
      double t0 = NowMs();
      ASSERT_EQ(0, dyco_coroutine_setDeadline(MonoNs() + 30 * 1000000u));
      first = p.block();
      took = NowMs() - t0;
      t0 = NowMs();
      again = p.block();
      again_ms = NowMs() - t0;
      dyco_waitq_wakeAll(&t.pool_hold, 0);  // the pool's coroutine ends
      EXPECT_EQ(-ETIMEDOUT, dyco_coroutine_checkCancel());
      EXPECT_EQ(0, dyco_coroutine_setDeadline(0));
      EXPECT_EQ(0, dyco_coroutine_checkCancel());
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(p.expired, first);
    EXPECT_GE(took, 29);
    EXPECT_LT(took, 30 + 10 * Slack());
    EXPECT_EQ(p.expired, again);
    EXPECT_LT(again_ms, Slack());
  }
  pool_ = t.pool;
  t.pool = nullptr;
}

// The earlier of the call's own timeout and the deadline ends the wait, and
// the caller can tell which.
TEST_F(CancelTest, ThePerCallTimeoutAndTheDeadlineComposeEarlierWins) {
  int p[2];
  ASSERT_EQ(0, pipe(p));
  Go([&] {
    ASSERT_EQ(0, dyco_coroutine_setDeadline(MonoNs() + 10000000000ull));
    double t0 = NowMs();
    EXPECT_EQ(0, dyco_coroutine_waitRead(p[0], 20));  // the seed's timeout
    EXPECT_EQ(-ETIMEDOUT, dyco_fd_wait(p[0], EPOLLIN, 20));
    EXPECT_EQ(0, dyco_coroutine_checkCancel());  // the call's, not ours
    EXPECT_LT(NowMs() - t0, 1000);
    uint64_t saved = 1;
    ASSERT_EQ(0, dyco_coroutine_narrowDeadline(MonoNs() + 20000000u, &saved));
    EXPECT_GT(saved, MonoNs());  // the 10 s one
    t0 = NowMs();
    EXPECT_EQ(-ETIMEDOUT, dyco_coroutine_waitRead(p[0], 10000));
    EXPECT_LT(NowMs() - t0, 1000);
    EXPECT_EQ(-ETIMEDOUT, dyco_coroutine_checkCancel());
    // A later deadline does not widen the scope's.
    uint64_t inner = 0;
    uint64_t narrowed = dyco_coroutine_getDeadline();
    ASSERT_EQ(0, dyco_coroutine_narrowDeadline(saved, &inner));
    EXPECT_EQ(narrowed, inner);
    EXPECT_EQ(narrowed, dyco_coroutine_getDeadline());
    ASSERT_EQ(0, dyco_coroutine_setDeadline(saved));
    EXPECT_EQ(saved, dyco_coroutine_getDeadline());
    EXPECT_EQ(0, dyco_coroutine_checkCancel());
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(p[0]);
  close(p[1]);
}

TEST_F(CancelTest, ReadyRunningAndSelfCancelsShowAtTheNextWait) {
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  int ready_r = 1, self_r = 1, yield_r = 1;
  // Created, not started: cancelled before it ever runs.
  int cid = Go([&] { ready_r = dyco_waitq_wait(&q, -1, nullptr); });
  ASSERT_EQ(0, dyco_coroutine_cancel(cid));
  Go([&] {
    ASSERT_EQ(0, dyco_coroutine_cancel(dyco_coroutine_coroID()));
    yield_r = dyco_coroutine_yield();  // not a wait point
    self_r = dyco_waitq_wait(&q, -1, nullptr);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-ECANCELED, ready_r);
  EXPECT_EQ(0, yield_r);
  EXPECT_EQ(-ECANCELED, self_r);
}

// A call that need not wait is not a wait point: it finishes.
TEST_F(CancelTest, ACallThatNeedNotWaitFinishes) {
  int p[2];
  ASSERT_EQ(0, pipe(p));
  ASSERT_EQ(1, write(p[1], "x", 1));
  Go([&] {
    dyco_coroutine_cancel(dyco_coroutine_coroID());
    EXPECT_GT(dyco_coroutine_waitRead(p[0], -1), 0);
    char c;
    EXPECT_EQ(1, read(p[0], &c, 1));
    EXPECT_EQ(-ECANCELED, dyco_coroutine_waitRead(p[0], -1));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(p[0]);
  close(p[1]);
}

TEST_F(CancelTest, TheMaskShieldsAndKeepsTheCancelForLater) {
  dyco_waitq q;
  dyco_waitq_init(&q, nullptr);
  int masked_r = 1, later_r = 1;
  int cid = Go([&] {
    EXPECT_EQ(0, dyco_coroutine_maskCancel(1));
    masked_r = dyco_waitq_wait(&q, -1, nullptr);
    EXPECT_EQ(1, dyco_coroutine_maskCancel(0));
    later_r = dyco_waitq_wait(&q, -1, nullptr);
  });
  Go([&] {
    while (!Suspended(cid)) {
      dyco_coroutine_yield();
    }
    ASSERT_EQ(0, dyco_coroutine_cancel(cid));
    dyco_coroutine_sleep(5);
    EXPECT_TRUE(Suspended(cid));  // not woken: masked
    dyco_waitq_wakeOne(&q, 7);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, masked_r);
  EXPECT_EQ(-ECANCELED, later_r);
}

TEST_F(CancelTest, ErrorsOutsideAndForUnknownIds) {
  EXPECT_EQ(-EPERM, dyco_coroutine_uncancel());
  EXPECT_EQ(-EPERM, dyco_coroutine_maskCancel(1));
  EXPECT_EQ(-EPERM, dyco_coroutine_checkCancel());
  EXPECT_EQ(-EPERM, dyco_coroutine_setDeadline(1));
  EXPECT_EQ(-EPERM, dyco_coroutine_narrowDeadline(1, nullptr));
  EXPECT_EQ(0u, dyco_coroutine_getDeadline());
  EXPECT_EQ(-ESRCH, dyco_coroutine_cancel(12345));
  EXPECT_EQ(-ESRCH, dyco_coroutine_cancelById(0, 1));
  EXPECT_EQ(-ESRCH, dyco_coroutine_cancelById(987654, 1));
  int id = dyco_schedule_schedID();
  ASSERT_GT(id, 0);
  EXPECT_EQ(-ESRCH, dyco_coroutine_cancelById(id, 12345));
}

// A coroutine of another thread's scheduler, cancelled by id from a thread
// outside any coroutine, wakes from its wait and from its sleep.
TEST_F(CancelTest, AcrossThreads) {
  std::atomic<int> sched_id{0}, waiter{0}, sleeper{0};
  std::atomic<int> wait_r{1}, sleep_ms{-1};
  std::thread th([&] {
    static dyco_waitq q;
    dyco_waitq_init(&q, nullptr);
    waiter = Go([&] { wait_r = dyco_waitq_wait(&q, 10000, nullptr); });
    sleeper = Go([&] {
      double t0 = NowMs();
      dyco_coroutine_sleep(10000);
      sleep_ms = static_cast<int>(NowMs() - t0);
    });
    sched_id = dyco_schedule_schedID();
    EXPECT_EQ(0, dyco_schedule_run());
    dyco_schedule_free(dyco_schedule_self());
  });
  while (sched_id.load() == 0) {
    std::this_thread::yield();
  }
  double t0 = NowMs();
  EXPECT_EQ(0, dyco_coroutine_cancelById(sched_id, waiter));
  EXPECT_EQ(0, dyco_coroutine_cancelById(sched_id, sleeper));
  th.join();
  EXPECT_LT(NowMs() - t0, 1000);
  EXPECT_EQ(-ECANCELED, wait_r.load());
  EXPECT_GE(sleep_ms.load(), 0);
  EXPECT_LT(sleep_ms.load(), 1000);
}

// Wakes from one thread and cancels from another race for coroutines that
// wait on a queue shared between threads: every wait ends with one outcome
// or the other, none is lost.
TEST_F(CancelTest, CancelsRaceWakesAcrossThreads) {
  const int kRounds = dyco_test::Slow() ? 300 : 3000;
  static dyco_spinlock lock = DYCO_SPINLOCK_INIT;
  static dyco_waitq q;
  dyco_waitq_init(&q, &lock);
  std::atomic<int> sched_id{0}, cid{0}, done{0}, woken{0}, cancelled{0};
  std::thread th([&] {
    cid = Go([&] {
      for (int i = 0; i < kRounds; i++) {
        dyco_spinlock_lock(&lock);
        int r = dyco_waitq_wait(&q, 10000, nullptr);
        dyco_spinlock_unlock(&lock);
        if (r == 0) {
          woken++;
        } else {
          ASSERT_EQ(-ECANCELED, r);
          cancelled++;
          dyco_coroutine_uncancel();
        }
      }
      done = 1;
    });
    sched_id = dyco_schedule_schedID();
    EXPECT_EQ(0, dyco_schedule_run());
    dyco_schedule_free(dyco_schedule_self());
  });
  while (sched_id.load() == 0) {
    std::this_thread::yield();
  }
  std::thread canceller([&] {
    while (!done.load()) {
      dyco_coroutine_cancelById(sched_id, cid);
      std::this_thread::yield();
    }
  });
  while (!done.load()) {
    dyco_spinlock_lock(&lock);
    dyco_waitq_wakeOne(&q, 1);
    dyco_spinlock_unlock(&lock);
    std::this_thread::yield();
  }
  canceller.join();
  th.join();
  EXPECT_EQ(kRounds, woken + cancelled);
  EXPECT_GT(cancelled.load(), 0);
}

}  // namespace
