// dyco — asym layer tests: pools. Obtain, run, return, resize, destroy,
// waiting for a coroutine in a scheduler coroutine, 100,000 cycles.
#include <errno.h>
#include <fenv.h>

#include <functional>
#include <utility>
#include <vector>

#include "tools/testing/fixture.h"

extern "C" {
#include "asym/asymcoro.h"
}

namespace {

using dyco_test::Go;
using dyco_test::SchedTest;

const size_t kStack = dyco_test::Slow() ? 256 * 1024 : 32 * 1024;

class AsymPoolTest : public SchedTest {
 protected:
  void SetUp() override {
    SchedTest::SetUp();
    ASSERT_EQ(0, dyco_asymcoro_getStats(&before_));
  }
  void TearDown() override {
    SchedTest::TearDown();
    dyco_asymcoro_stats after;
    ASSERT_EQ(0, dyco_asymcoro_getStats(&after));
    EXPECT_EQ(before_.coroutines, after.coroutines) << "coroutines left over";
    EXPECT_EQ(before_.private_stacks, after.private_stacks) << "stacks held";
    EXPECT_EQ(before_.pools, after.pools) << "pools left over";
  }
  dyco_asymcoro_stats before_;
};

void CountTwice(void *arg) {
  int *n = static_cast<int *>(arg);
  ++*n;
  dyco_asymcoroyield();
  ++*n;
}

TEST_F(AsymPoolTest, ObtainRunReturn) {
  for (size_t stack : {kStack, size_t{0}}) {
    dyco_coropool *cp = dyco_asymcpool_create(3, stack);
    ASSERT_NE(nullptr, cp);
    EXPECT_EQ(3, dyco_asymcpool_available(cp));
    dyco_asymcoro_stats st;
    ASSERT_EQ(0, dyco_asymcoro_getStats(&st));
    EXPECT_EQ(before_.private_stacks + (stack ? 3 : 0), st.private_stacks);
    int n[3] = {0, 0, 0};
    int cids[3];
    for (int i = 0; i < 3; ++i) {
      cids[i] = dyco_asymcpool_obtain(cp, CountTwice, &n[i], 0);
      ASSERT_GT(cids[i], 0);
      EXPECT_EQ(1, dyco_coroutine_isasymmetric(cids[i]));
      EXPECT_EQ(stack ? 1 : 0,
                dyco_asymcoro_getStack(cids[i], nullptr, nullptr));
      // The pool owns the stack.
      EXPECT_EQ(-EBUSY, dyco_asymcoro_setStack(cids[i], nullptr, kStack));
    }
    EXPECT_EQ(0, dyco_asymcpool_available(cp));
    // None free: outside a scheduler coroutine obtain never waits.
    errno = 0;
    EXPECT_EQ(-1, dyco_asymcpool_obtain(cp, CountTwice, &n[0], 100));
    EXPECT_EQ(EAGAIN, errno);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(cids[i], dyco_asymcororesume(cids[i]));
    }
    EXPECT_EQ(0, dyco_asymcororesume(cids[0]));
    EXPECT_EQ(2, n[0]);
    EXPECT_EQ(1, n[1]);
    // Returned finished, suspended, and (below) never resumed.
    dyco_asymcpool_return(cids[0]);
    dyco_asymcpool_return(cids[1]);
    EXPECT_EQ(-ESRCH, dyco_asymcororesume(cids[0]));
    EXPECT_EQ(-ESRCH, dyco_asymcororesume(cids[1]));
    EXPECT_EQ(2, dyco_asymcpool_available(cp));
    int again = dyco_asymcpool_obtain(cp, CountTwice, &n[1], 0);
    ASSERT_GT(again, 0);
    dyco_asymcoro_free(again);  // free returns a pool's coroutine too
    EXPECT_EQ(2, dyco_asymcpool_available(cp));
    dyco_asymcpool_return(cids[2]);
    EXPECT_EQ(3, dyco_asymcpool_available(cp));
    EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
    EXPECT_EQ(nullptr, cp);
  }
}

void NoteRounding(void *arg) {
  int *first = static_cast<int *>(arg);
  *first = fegetround();
  fesetround(FE_UPWARD);  // its own: never the next user's of the slot
  dyco_asymcoroyield();
}

// A pool coroutine starts with the rounding its obtainer had at obtain,
// as dyco_asymcoro_create's do: not the resumer's, and not what the
// slot's previous coroutine left.
TEST_F(AsymPoolTest, FpModesStartAsTheObtainers) {
  const int saved = fegetround();
  for (size_t stack : {kStack, size_t{0}}) {
    dyco_coropool *cp = dyco_asymcpool_create(1, stack);
    ASSERT_NE(nullptr, cp);
    for (int mode : {FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST}) {
      ASSERT_EQ(0, fesetround(mode));
      int first = -1;
      int cid = dyco_asymcpool_obtain(cp, NoteRounding, &first, 0);
      ASSERT_GT(cid, 0);
      ASSERT_EQ(0, fesetround(FE_UPWARD));  // the resumer's
      EXPECT_EQ(cid, dyco_asymcororesume(cid));
      EXPECT_EQ(mode, first) << "stack " << stack;
      EXPECT_EQ(FE_UPWARD, fegetround());
      ASSERT_EQ(0, fesetround(FE_TONEAREST));
      EXPECT_EQ(0, dyco_asymcororesume(cid));  // it ends
      EXPECT_EQ(FE_TONEAREST, fegetround());
      dyco_asymcpool_return(cid);
    }
    EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
  }
  fesetround(saved);
}

TEST_F(AsymPoolTest, BadArguments) {
  EXPECT_EQ(nullptr, dyco_asymcpool_create(0, kStack));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(-EINVAL, dyco_asymcpool_destroy(nullptr));
  dyco_coropool *none = nullptr;
  EXPECT_EQ(-EINVAL, dyco_asymcpool_destroy(&none));
  EXPECT_EQ(-EINVAL, dyco_asymcpool_available(nullptr));
  EXPECT_EQ(nullptr, dyco_asymcpool_resize(nullptr, 3));
  errno = 0;
  EXPECT_EQ(-1, dyco_asymcpool_obtain(nullptr, CountTwice, nullptr, 0));
  EXPECT_EQ(EINVAL, errno);
  dyco_coropool *cp = dyco_asymcpool_create(1, kStack);
  EXPECT_EQ(-1, dyco_asymcpool_obtain(cp, nullptr, nullptr, 0));
  EXPECT_EQ(nullptr, dyco_asymcpool_resize(cp, 0));
  // A scheduler's pool is not an asymmetric one.
  dyco_coropool *sp = dyco_coropool_create(1, 0);
  ASSERT_NE(nullptr, sp);
  EXPECT_EQ(-EINVAL, dyco_asymcpool_available(sp));
  EXPECT_EQ(-1, dyco_asymcpool_obtain(sp, CountTwice, nullptr, 0));
  EXPECT_EQ(nullptr, dyco_asymcpool_resize(sp, 2));
  dyco_coropool *sp2 = sp;
  EXPECT_EQ(-EINVAL, dyco_asymcpool_destroy(&sp2));
  EXPECT_EQ(0, dyco_coropool_destroy(&sp));
  // ... and the scheduler's functions refuse an asymmetric pool (each
  // layer's pools say which kind they are: base/pool.h).
  errno = 0;
  EXPECT_EQ(-EINVAL, dyco_coropool_available(cp));
  EXPECT_EQ(-1, dyco_coropool_obtain(cp, CountTwice, nullptr, 0));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(-1, dyco_coropool_obtain_urgent(cp, CountTwice, nullptr, 0));
  EXPECT_EQ(nullptr, dyco_coropool_resize(cp, 2));
  dyco_coropool *cp2 = cp;
  EXPECT_EQ(-EINVAL, dyco_coropool_destroy(&cp2));
  EXPECT_EQ(cp, cp2);
  EXPECT_EQ(1, dyco_asymcpool_available(cp));
  // A coroutine of no pool: return ignores it.
  int plain = dyco_asymcoro_create(CountTwice, nullptr);
  dyco_asymcpool_return(plain);
  EXPECT_EQ(1, dyco_coroutine_isasymmetric(plain));
  dyco_asymcoro_free(plain);
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
  EXPECT_EQ(-EINVAL, dyco_asymcpool_destroy(&cp));  // now NULL
}

TEST_F(AsymPoolTest, ResizeGrowsAndShrinks) {
  dyco_coropool *cp = dyco_asymcpool_create(2, kStack);
  ASSERT_NE(nullptr, cp);
  int n = 0;
  std::vector<int> out;
  for (int i = 0; i < 2; ++i) {
    out.push_back(dyco_asymcpool_obtain(cp, CountTwice, &n, 0));
  }
  ASSERT_EQ(cp, dyco_asymcpool_resize(cp, 5));
  EXPECT_EQ(3, dyco_asymcpool_available(cp));
  dyco_asymcoro_stats st;
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st));
  EXPECT_EQ(before_.private_stacks + 5, st.private_stacks);
  for (int i = 0; i < 3; ++i) {
    out.push_back(dyco_asymcpool_obtain(cp, CountTwice, &n, 0));
    ASSERT_GT(out.back(), 0);
  }
  EXPECT_EQ(0, dyco_asymcpool_available(cp));
  // Shrink below what is out: the busy ones go when they come back.
  ASSERT_EQ(cp, dyco_asymcpool_resize(cp, 2));
  EXPECT_EQ(0, dyco_asymcpool_available(cp));
  for (int i = 0; i < 4; ++i) {
    dyco_asymcpool_return(out[i]);
  }
  EXPECT_EQ(1, dyco_asymcpool_available(cp));
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st));
  EXPECT_EQ(before_.private_stacks + 2, st.private_stacks);
  dyco_asymcpool_return(out[4]);
  EXPECT_EQ(2, dyco_asymcpool_available(cp));
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
}

TEST_F(AsymPoolTest, DestroyWithCoroutinesOut) {
  dyco_coropool *cp = dyco_asymcpool_create(2, kStack);
  int n = 0;
  int a = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
  int b = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
  EXPECT_EQ(a, dyco_asymcororesume(a));
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
  // Still usable until returned.
  EXPECT_EQ(0, dyco_asymcororesume(a));
  EXPECT_EQ(b, dyco_asymcororesume(b));
  EXPECT_EQ(3, n);
  dyco_asymcpool_return(a);
  dyco_asymcoro_free(b);
}

TEST_F(AsymPoolTest, ObtainWaitsInsideASchedulerCoroutine) {
  dyco_coropool *cp = dyco_asymcpool_create(1, kStack);
  int n = 0;
  int held = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
  ASSERT_GT(held, 0);
  int timed_out = -1, waited = -1, zero = -1;
  double waited_ms = 0;
  Go([&] {
    zero = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
    double t0 = dyco_test::NowMs();
    timed_out = dyco_asymcpool_obtain(cp, CountTwice, &n, 5);
    waited_ms = dyco_test::NowMs() - t0;
    waited = dyco_asymcpool_obtain(cp, CountTwice, &n, -1);
    // Run it from here, and give it back.
    EXPECT_EQ(waited, dyco_asymcororesume(waited));
    EXPECT_EQ(0, dyco_asymcororesume(waited));
    dyco_asymcpool_return(waited);
  });
  Go([&] {
    dyco_coroutine_sleep(20);
    dyco_asymcpool_return(held);  // wakes the waiter
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, zero);
  EXPECT_EQ(0, timed_out);
  EXPECT_GE(waited_ms, 4.0);
  EXPECT_GT(waited, 0);
  EXPECT_EQ(2, n);
  EXPECT_EQ(1, dyco_asymcpool_available(cp));
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
}

TEST_F(AsymPoolTest, DestroyWakesTheWaiters) {
  dyco_coropool *cp = dyco_asymcpool_create(1, 0);
  int n = 0;
  int held = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
  std::vector<int> results;
  for (int i = 0; i < 3; ++i) {
    Go([&] {
      int r = dyco_asymcpool_obtain(cp, CountTwice, &n, -1);
      results.push_back(r < 0 ? -errno : r);
    });
  }
  Go([&] {
    dyco_coroutine_sleep(2);
    EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(3u, results.size());
  for (int r : results) {
    EXPECT_EQ(-EIDRM, r);
  }
  dyco_asymcpool_return(held);  // the pool goes with its last coroutine
}

TEST_F(AsymPoolTest, AnAsymmetricCoroutineWaitsForThePool) {
  // obtain inside an asymmetric coroutine resumed by a scheduler coroutine
  // suspends that scheduler coroutine; the pool's stacks are private.
  dyco_coropool *cp = dyco_asymcpool_create(1, kStack);
  int n = 0;
  int held = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
  int got = -1;
  errno = 0;
  int waiter = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
  EXPECT_EQ(-1, waiter);
  EXPECT_EQ(EAGAIN, errno);
  std::pair<dyco_coropool *, int *> ctx(cp, &got);
  int a = dyco_asymcoro_create(
      [](void *arg) {
        auto *c = static_cast<std::pair<dyco_coropool *, int *> *>(arg);
        *c->second = dyco_asymcpool_obtain(c->first, CountTwice, nullptr, 1000);
      },
      &ctx);
  ASSERT_EQ(1, dyco_asymcoro_setStack(a, nullptr, kStack));
  Go([&] { EXPECT_EQ(0, dyco_asymcororesume(a)); });
  Go([&] {
    dyco_coroutine_sleep(3);
    dyco_asymcpool_return(held);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_GT(got, 0);
  dyco_asymcoro_free(a);
  dyco_asymcpool_return(got);
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
}

TEST_F(AsymPoolTest, AHundredThousandObtainReturnCycles) {
  dyco_coropool *cp = dyco_asymcpool_create(4, kStack);
  ASSERT_NE(nullptr, cp);
  int n = 0;
  dyco_asymcoro_stats st0, st1;
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st0));
  // Under a sanitizer, a tenth: ThreadSanitizer makes and destroys a fiber
  // a cycle (about 0.2 ms each).
  const int kCycles = dyco_test::Slow() ? 10000 : 100000;
  for (int i = 0; i < kCycles; ++i) {
    int cid = dyco_asymcpool_obtain(cp, CountTwice, &n, 0);
    ASSERT_GT(cid, 0);
    if (i % 2 == 0) {
      ASSERT_EQ(cid, dyco_asymcororesume(cid));
    }
    dyco_asymcpool_return(cid);
  }
  EXPECT_EQ(kCycles / 2, n);
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st1));
  EXPECT_EQ(st0.coroutines, st1.coroutines);
  EXPECT_EQ(st0.private_stacks, st1.private_stacks);
  EXPECT_EQ(st0.cached_stacks, st1.cached_stacks);
  EXPECT_EQ(4, dyco_asymcpool_available(cp));
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
}

}  // namespace
