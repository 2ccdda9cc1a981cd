// dyco — asym layer tests without a scheduler: generators, udata, nesting,
// shared and private stacks, errors, 100,000 create/free cycles.
#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <vector>

#include "gtest/gtest.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "asym/asymcoro.h"
#include "context/context.h"
}

namespace {

// Under a sanitizer frames are bigger.
const size_t kStack = dyco_test::Slow() ? 256 * 1024 : 64 * 1024;

// Runs a std::function as an asymmetric coroutine (the object must outlive
// the coroutine).
void RunFunction(void *arg) { (*static_cast<std::function<void()> *>(arg))(); }

int Make(std::function<void()> *f, bool shared) {
  int cid = dyco_asymcoro_create(RunFunction, f);
  if (cid > 0 && !shared) {
    EXPECT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, kStack));
  }
  return cid;
}

class AsymTest : public ::testing::TestWithParam<bool> {
 protected:
  bool Shared() const { return GetParam(); }
  void SetUp() override {
    ASSERT_EQ(0, dyco_asymcoro_getStats(&before_));
    ASSERT_EQ(nullptr, dyco_schedule_self());
  }
  void TearDown() override {
    dyco_asymcoro_stats after;
    ASSERT_EQ(0, dyco_asymcoro_getStats(&after));
    EXPECT_EQ(before_.coroutines, after.coroutines) << "coroutines left over";
    EXPECT_EQ(before_.private_stacks, after.private_stacks) << "stacks held";
    EXPECT_EQ(before_.pools, after.pools) << "pools left over";
  }
  dyco_asymcoro_stats before_;
};

INSTANTIATE_TEST_SUITE_P(Stacks, AsymTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "Shared" : "Private";
                         });

// --- Generators -------------------------------------------------------------

// The canonical use: each resume produces the next Fibonacci number,
// handed over through the coroutine's udata.
void Fibonacci(void *arg) {
  const int count = *static_cast<int *>(arg);
  int64_t *out;
  ASSERT_EQ(0, dyco_asymcoro_getUdata(dyco_asymcoro_coroID(), (void **)&out));
  int64_t a = 0, b = 1;
  for (int i = 0; i < count; ++i) {
    *out = b;
    dyco_asymcoroyield();
    int64_t next = a + b;
    a = b;
    b = next;
  }
}

TEST_P(AsymTest, AGeneratorYieldsItsValuesThroughUdata) {
  int count = 40;
  int64_t value = 0;
  int cid = dyco_asymcoro_create(Fibonacci, &count);
  ASSERT_GT(cid, 0);
  if (!Shared()) {
    ASSERT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, kStack));
  }
  ASSERT_EQ(0, dyco_asymcoro_setUdata(cid, &value));
  std::vector<int64_t> got;
  int r;
  while ((r = dyco_asymcororesume(cid)) > 0) {
    EXPECT_EQ(cid, r);
    got.push_back(value);
  }
  EXPECT_EQ(0, r);  // finished
  ASSERT_EQ(40u, got.size());
  EXPECT_EQ(1, got[0]);
  EXPECT_EQ(1, got[1]);
  EXPECT_EQ(2, got[2]);
  EXPECT_EQ(102334155, got[39]);
  // Finished: resuming again is an error, and so is after free.
  EXPECT_EQ(-ENODATA, dyco_asymcororesume(cid));
  void *u = nullptr;
  EXPECT_EQ(0, dyco_asymcoro_getUdata(cid, &u));  // still there until freed
  EXPECT_EQ(&value, u);
  dyco_asymcoro_free(cid);
  EXPECT_EQ(-ESRCH, dyco_asymcororesume(cid));
  EXPECT_EQ(-ESRCH, dyco_asymcoro_getUdata(cid, &u));
  EXPECT_EQ(-ESRCH, dyco_asymcoro_setUdata(cid, &value));
  dyco_asymcoro_free(cid);  // ignored
}

// Floating-point modes: a coroutine starts with the modes its creator had
// when it created it, not with its first resumer's (its context is made at
// the first resume), and keeps its own across resumes; the resumer keeps
// its own.
TEST_P(AsymTest, FpModesStartAsTheCreatorsAndStayEachOnesOwn) {
  const int saved = fegetround();
  ASSERT_EQ(0, fesetround(FE_DOWNWARD));
  int first = -1, later = -1;
  std::function<void()> f = [&] {
    first = fegetround();
    fesetround(FE_TOWARDZERO);
    dyco_asymcoroyield();
    later = fegetround();
  };
  int cid = Make(&f, Shared());
  ASSERT_GT(cid, 0);
  ASSERT_EQ(0, fesetround(FE_UPWARD));  // the resumer's, after creating it
  EXPECT_EQ(cid, dyco_asymcororesume(cid));
  EXPECT_EQ(FE_DOWNWARD, first);
  EXPECT_EQ(FE_UPWARD, fegetround());
  EXPECT_EQ(0, dyco_asymcororesume(cid));
  EXPECT_EQ(FE_TOWARDZERO, later);
  EXPECT_EQ(FE_UPWARD, fegetround());
  dyco_asymcoro_free(cid);
  fesetround(saved);
}

TEST_P(AsymTest, ValuesGoBothWaysThroughUdata) {
  // The caller puts a number in, the coroutine doubles it in place.
  struct Box {
    int in;
    int out;
  } box{0, 0};
  std::function<void()> body = [] {
    Box *b;
    int self = dyco_asymcoro_coroID();
    ASSERT_EQ(0, dyco_asymcoro_getUdata(self, (void **)&b));
    for (;;) {
      b->out = b->in * 2;
      if (b->in < 0) {
        return;
      }
      dyco_asymcoroyield();
    }
  };
  int cid = Make(&body, Shared());
  ASSERT_EQ(0, dyco_asymcoro_setUdata(cid, &box));
  for (int i = 1; i <= 100; ++i) {
    box.in = i;
    ASSERT_EQ(cid, dyco_asymcororesume(cid));
    EXPECT_EQ(2 * i, box.out);
  }
  box.in = -5;
  EXPECT_EQ(0, dyco_asymcororesume(cid));
  EXPECT_EQ(-10, box.out);
  dyco_asymcoro_free(cid);
}

TEST_P(AsymTest, CoroIDAndYieldOutsideACoroutine) {
  EXPECT_EQ(-EPERM, dyco_asymcoro_coroID());
  dyco_asymcoroyield();  // does nothing
  int seen = 0;
  int cid = 0;
  std::function<void()> body = [&] { seen = dyco_asymcoro_coroID(); };
  cid = Make(&body, Shared());
  EXPECT_EQ(0, dyco_asymcororesume(cid));
  EXPECT_EQ(cid, seen);
  EXPECT_EQ(-EPERM, dyco_asymcoro_coroID());
  dyco_asymcoro_free(cid);
}

TEST_P(AsymTest, BadArguments) {
  EXPECT_EQ(-EINVAL, dyco_asymcoro_create(nullptr, nullptr));
  EXPECT_EQ(-ESRCH, dyco_asymcororesume(0));
  EXPECT_EQ(-ESRCH, dyco_asymcororesume(-3));
  EXPECT_EQ(-ESRCH, dyco_asymcororesume(12345));
  EXPECT_EQ(-ESRCH, dyco_asymcoro_setStack(12345, nullptr, kStack));
  EXPECT_EQ(-ESRCH, dyco_asymcoro_getStack(12345, nullptr, nullptr));
  EXPECT_EQ(-EINVAL, dyco_asymcoro_getUdata(12345, nullptr));
  EXPECT_EQ(-ESRCH, dyco_coroutine_isasymmetric(12345));
  dyco_asymcoro_free(12345);
  std::function<void()> body = [] {};
  int cid = Make(&body, true);
  EXPECT_EQ(1, dyco_coroutine_isasymmetric(cid));
  EXPECT_EQ(-EINVAL, dyco_asymcoro_setStack(cid, nullptr, SIZE_MAX));
  EXPECT_EQ(-EINVAL,
            dyco_asymcoro_setStack(cid, nullptr, DYCO_STACK_SIZE_MAX + 1));
  char mine[64];
  EXPECT_EQ(-EINVAL, dyco_asymcoro_setStack(cid, mine, SIZE_MAX));
  EXPECT_EQ(-EINVAL, dyco_asymcoro_setStack(cid, mine, sizeof mine));
  EXPECT_EQ(0, dyco_asymcoro_getStack(cid, nullptr, nullptr));  // unchanged
  dyco_asymcoro_free(cid);
  EXPECT_EQ(-ESRCH, dyco_coroutine_isasymmetric(cid));
}

// --- Stacks -----------------------------------------------------------------

// Fills a local array with a pattern of its own, yields `rounds` times and
// counts the words that changed meanwhile (and a deeper frame's).
__attribute__((noinline)) int Pattern(int seed, int depth, int rounds) {
  volatile uint32_t local[64];
  for (int i = 0; i < 64; ++i) {
    local[i] = static_cast<uint32_t>(seed * 7919 + i);
  }
  int bad = 0;
  if (depth > 0) {
    bad += Pattern(seed + 1, depth - 1, rounds);
  }
  for (int r = 0; r < rounds; ++r) {
    dyco_asymcoroyield();
    for (int i = 0; i < 64; ++i) {
      if (local[i] != static_cast<uint32_t>(seed * 7919 + i)) {
        bad++;
      }
    }
  }
  return bad;
}

TEST_P(AsymTest, InterleavedCoroutinesKeepTheirStacks) {
  // 20 coroutines of different depths resumed round-robin: on the shared
  // stack each resume copies the last one off and this one on.
  constexpr int kN = 20;
  int bad = 0;
  std::vector<std::function<void()>> bodies;
  bodies.reserve(kN);
  std::vector<int> cids;
  for (int c = 0; c < kN; ++c) {
    bodies.emplace_back([&bad, c] { bad += Pattern(c * 100, c % 6, 30); });
    cids.push_back(Make(&bodies.back(), Shared()));
  }
  dyco_asymcoro_stats st0, st1;
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st0));
  int alive = kN;
  while (alive > 0) {
    alive = 0;
    for (int cid : cids) {
      int r = dyco_asymcororesume(cid);
      if (r > 0) {
        alive++;
      } else {
        EXPECT_TRUE(r == 0 || r == -ENODATA) << r;
      }
    }
  }
  EXPECT_EQ(0, bad);
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st1));
  if (Shared()) {
    EXPECT_GT(st1.shared_saves - st0.shared_saves, kN * 30u);
  } else {
    EXPECT_EQ(st1.shared_saves, st0.shared_saves);
  }
  for (int cid : cids) {
    dyco_asymcoro_free(cid);
  }
}

TEST_P(AsymTest, TheSameCoroutineAgainCopiesNothing) {
  int count = 80;
  int64_t v;
  int cid = dyco_asymcoro_create(Fibonacci, &count);
  dyco_asymcoro_setUdata(cid, &v);
  if (!Shared()) {
    ASSERT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, kStack));
  }
  dyco_asymcoro_stats st0, st1;
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st0));
  while (dyco_asymcororesume(cid) > 0) {
  }
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st1));
  EXPECT_EQ(st0.shared_saves, st1.shared_saves);
  dyco_asymcoro_free(cid);
}

TEST_P(AsymTest, SetStackGetStackAndCancel) {
  bool inside = false;
  void *p = nullptr;
  size_t n = 0;
  std::function<void()> body = [&] {
    char here;
    inside =
        &here > static_cast<char *>(p) && &here < static_cast<char *>(p) + n;
    dyco_asymcoroyield();
  };
  int cid = dyco_asymcoro_create(RunFunction, &body);
  ASSERT_EQ(0, dyco_asymcoro_getStack(cid, &p, &n));  // shared
  EXPECT_EQ(static_cast<size_t>(DYCO_ASYMCORO_SHARED_STACK), n);
  EXPECT_NE(nullptr, p);
  ASSERT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, 100 * 1000));
  ASSERT_EQ(1, dyco_asymcoro_getStack(cid, &p, &n));
  EXPECT_GE(n, 100u * 1000);  // rounded up to pages
  // Cancel, then set again: the last word counts.
  ASSERT_EQ(0, dyco_asymcoro_setStack(cid, nullptr, 0));
  ASSERT_EQ(0, dyco_asymcoro_getStack(cid, nullptr, nullptr));
  if (!Shared()) {
    ASSERT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, kStack));
  }
  EXPECT_EQ(Shared() ? 0 : 1, dyco_asymcoro_getStack(cid, &p, &n));
  ASSERT_EQ(cid, dyco_asymcororesume(cid));
  EXPECT_TRUE(inside);
  // Resumed once: too late to change.
  EXPECT_EQ(-EBUSY, dyco_asymcoro_setStack(cid, nullptr, kStack));
  EXPECT_EQ(0, dyco_asymcororesume(cid));
  dyco_asymcoro_free(cid);
}

TEST_P(AsymTest, AStackOfYourOwn) {
  std::vector<char> mine(kStack);
  bool inside = false;
  std::function<void()> body = [&] {
    char here;
    inside = &here > mine.data() && &here < mine.data() + mine.size();
  };
  int cid = dyco_asymcoro_create(RunFunction, &body);
  ASSERT_EQ(1, dyco_asymcoro_setStack(cid, mine.data(), mine.size()));
  void *p;
  size_t n;
  ASSERT_EQ(1, dyco_asymcoro_getStack(cid, &p, &n));
  EXPECT_EQ(mine.data(), p);
  EXPECT_EQ(mine.size(), n);
  EXPECT_EQ(0, dyco_asymcororesume(cid));
  EXPECT_TRUE(inside);
  dyco_asymcoro_free(cid);
}

// --- Nesting ----------------------------------------------------------------

// Level i resumes level i + 1 (up to `levels`), yielding between resumes;
// each level checks its own locals every time it runs again.
struct Chain {
  int levels;
  bool shared;
  std::vector<int> cids;
  std::vector<int> visits;
  int bad = 0;
};

Chain *the_chain;

void ChainLevel(void *arg) {
  const int level = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  Chain *c = the_chain;
  volatile int mine[16];
  for (int i = 0; i < 16; ++i) {
    mine[i] = level * 1000 + i;
  }
  for (int round = 0; round < 3; ++round) {
    c->visits[level]++;
    if (level + 1 < c->levels) {
      int r = dyco_asymcororesume(c->cids[level + 1]);
      if (r != c->cids[level + 1] && !(round == 2 && r == 0)) {
        c->bad++;
      }
    }
    for (int i = 0; i < 16; ++i) {
      c->bad += mine[i] != level * 1000 + i;
    }
    if (round < 2) {
      dyco_asymcoroyield();
    }
  }
}

void RunChain(Chain *c) {
  the_chain = c;
  c->visits.assign(c->levels, 0);
  for (int i = 0; i < c->levels; ++i) {
    int cid =
        dyco_asymcoro_create(ChainLevel, reinterpret_cast<void *>(intptr_t{i}));
    ASSERT_GT(cid, 0);
    // Mixed: every third level on a private stack when not all shared.
    if (!c->shared && i % 3 != 1) {
      ASSERT_EQ(1, dyco_asymcoro_setStack(
                       cid, nullptr,
                       32 * 1024 + (dyco_test::Slow() ? 96 * 1024 : 0)));
    }
    c->cids.push_back(cid);
  }
  EXPECT_EQ(c->cids[0], dyco_asymcororesume(c->cids[0]));
  EXPECT_EQ(c->cids[0], dyco_asymcororesume(c->cids[0]));
  EXPECT_EQ(0, dyco_asymcororesume(c->cids[0]));
}

TEST_P(AsymTest, NestedCoroutinesYieldToTheirResumer) {
  Chain c;
  c.levels = 12;
  c.shared = Shared();
  RunChain(&c);
  EXPECT_EQ(0, c.bad);
  for (int i = 0; i < c.levels; ++i) {
    EXPECT_EQ(3, c.visits[i]) << i;
  }
  for (int cid : c.cids) {
    EXPECT_EQ(-ENODATA, dyco_asymcororesume(cid));
    dyco_asymcoro_free(cid);
  }
}

TEST_P(AsymTest, NestingWorksToTheDocumentedDepth) {
  Chain c;
  c.levels = DYCO_ASYMCORO_DEPTH_MAX;
  c.shared = Shared();
  RunChain(&c);
  EXPECT_EQ(0, c.bad);
  EXPECT_EQ(3, c.visits[DYCO_ASYMCORO_DEPTH_MAX - 1]);
  for (int cid : c.cids) {
    dyco_asymcoro_free(cid);
  }
}

TEST_P(AsymTest, OneLevelDeeperIsRefused) {
  struct Deep {
    int depth = 0;
    int refused = 0;
    std::vector<int> cids;
  } d;
  static Deep *deep;
  deep = &d;
  auto level = [](void *) {
    Deep *x = deep;
    int next = ++x->depth;
    if (next == static_cast<int>(x->cids.size())) {
      return;
    }
    int r = dyco_asymcororesume(x->cids[next]);
    if (r == -ELOOP) {
      x->refused = next + 1;  // the depth it would have had
    }
  };
  for (int i = 0; i < DYCO_ASYMCORO_DEPTH_MAX + 1; ++i) {
    int cid = dyco_asymcoro_create(level, nullptr);
    if (!Shared()) {
      ASSERT_EQ(1, dyco_asymcoro_setStack(
                       cid, nullptr,
                       32 * 1024 + (dyco_test::Slow() ? 96 * 1024 : 0)));
    }
    d.cids.push_back(cid);
  }
  EXPECT_EQ(0, dyco_asymcororesume(d.cids[0]));
  EXPECT_EQ(DYCO_ASYMCORO_DEPTH_MAX + 1, d.refused);
  for (int cid : d.cids) {
    dyco_asymcoro_free(cid);
  }
}

TEST_P(AsymTest, ResumingARunningCoroutineIsRefused) {
  int outer = 0, inner = 0;
  int self_r = 0, outer_r = 0;
  std::function<void()> in = [&] {
    outer_r = dyco_asymcororesume(outer);  // resumed me
    self_r = dyco_asymcororesume(inner);   // myself
  };
  std::function<void()> out = [&] { EXPECT_EQ(0, dyco_asymcororesume(inner)); };
  outer = Make(&out, Shared());
  inner = Make(&in, Shared());
  EXPECT_EQ(0, dyco_asymcororesume(outer));
  EXPECT_EQ(-EBUSY, outer_r);
  EXPECT_EQ(-EBUSY, self_r);
  dyco_asymcoro_free(outer);
  dyco_asymcoro_free(inner);
}

TEST_P(AsymTest, FreeingARunningCoroutineIsRefused) {
  int cid = 0;
  std::function<void()> body = [&] {
    dyco_asymcoro_free(cid);  // says so on stderr, does nothing
    dyco_asymcoroyield();
  };
  cid = Make(&body, Shared());
  EXPECT_EQ(cid, dyco_asymcororesume(cid));
  EXPECT_EQ(0, dyco_asymcororesume(cid));
  dyco_asymcoro_free(cid);
}

TEST_P(AsymTest, FreeingASuspendedCoroutineDropsIt) {
  int steps = 0;
  std::function<void()> body = [&] {
    for (;;) {
      steps++;
      dyco_asymcoroyield();
    }
  };
  int cid = Make(&body, Shared());
  EXPECT_EQ(cid, dyco_asymcororesume(cid));
  EXPECT_EQ(cid, dyco_asymcororesume(cid));
  dyco_asymcoro_free(cid);
  EXPECT_EQ(-ESRCH, dyco_asymcororesume(cid));
  EXPECT_EQ(2, steps);
  // Never resumed at all: free as well.
  int fresh = Make(&body, Shared());
  dyco_asymcoro_free(fresh);
  EXPECT_EQ(2, steps);
}

// --- Many
// ---------------------------------------------------------------------

TEST_P(AsymTest, AHundredThousandCreateFreeCyclesLeaveNothingBehind) {
  // Under a sanitizer, a tenth: ThreadSanitizer makes and destroys a fiber
  // a cycle (about 0.2 ms each). 10,000 is still more than the 8,128 fibers
  // it allows alive, so a fiber that outlived its coroutine would show.
  const int kCycles = dyco_test::Slow() ? 10000 : 100000;
  int ran = 0;
  std::function<void()> body = [&] {
    ran++;
    dyco_asymcoroyield();
    ran++;
  };
  dyco_asymcoro_stats st0, st1;
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st0));
  int last = 0;
  for (int i = 0; i < kCycles; ++i) {
    int cid = Make(&body, Shared());
    ASSERT_GT(cid, 0);
    EXPECT_NE(last, cid);
    last = cid;
    if (i % 3 != 2) {  // some never run, some stop halfway, most finish
      ASSERT_EQ(cid, dyco_asymcororesume(cid));
      if (i % 3 == 0) {
        ASSERT_EQ(0, dyco_asymcororesume(cid));
      }
    }
    dyco_asymcoro_free(cid);
    ASSERT_EQ(-ESRCH, dyco_asymcororesume(cid));
  }
  ASSERT_EQ(0, dyco_asymcoro_getStats(&st1));
  EXPECT_EQ(st0.coroutines, st1.coroutines);
  EXPECT_EQ(st0.created + kCycles, st1.created);
  EXPECT_EQ(st0.freed + kCycles, st1.freed);
  EXPECT_EQ(st0.private_stacks, st1.private_stacks);
  EXPECT_LE(st1.cached_stacks, st0.cached_stacks + 1);  // one reused
  EXPECT_EQ(st0.saved_bytes, st1.saved_bytes);
  int expect = 0;
  for (int i = 0; i < kCycles; ++i) {
    expect += i % 3 == 0 ? 2 : i % 3 == 1 ? 1 : 0;
  }
  EXPECT_EQ(expect, ran);
}

TEST_P(AsymTest, ManyAliveAtOnce) {
  const int kCount = dyco_test::MostAlive(Shared() ? 20000 : 2000);
  int64_t sum = 0;
  std::function<void()> body = [&] {
    sum += dyco_asymcoro_coroID() & 1;
    dyco_asymcoroyield();
    sum += 1;
  };
  std::vector<int> cids;
  for (int i = 0; i < kCount; ++i) {
    int cid = dyco_asymcoro_create(RunFunction, &body);
    ASSERT_GT(cid, 0);
    if (!Shared()) {
      ASSERT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, 16 * 1024));
    }
    cids.push_back(cid);
  }
  for (int cid : cids) {
    ASSERT_EQ(cid, dyco_asymcororesume(cid));
  }
  for (int cid : cids) {
    ASSERT_EQ(0, dyco_asymcororesume(cid));
    dyco_asymcoro_free(cid);
  }
  EXPECT_GE(sum, kCount);
}

// --- Sizes at their edges, and overflows ------------------------------------

void CountC(void *arg) {
  ++*static_cast<int *>(arg);
  dyco_asymcoroyield();
  ++*static_cast<int *>(arg);
}

// The seed's small sizes run (rounded up), and so does a stack of exactly
// DYCO_CONTEXT_STACK_MIN bytes, from the cache, a pool, or the caller.
TEST(AsymSizeTest, SmallAndMinimalStacksRun) {
  int ran = 0;
  std::vector<int> cids;
  for (size_t size : {static_cast<size_t>(1), static_cast<size_t>(4000),
                      static_cast<size_t>(DYCO_CONTEXT_STACK_MIN)}) {
    int cid = dyco_asymcoro_create(CountC, &ran);
    ASSERT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, size));
    size_t n = 0;
    ASSERT_EQ(1, dyco_asymcoro_getStack(cid, nullptr, &n));
    EXPECT_GE(n, static_cast<size_t>(DYCO_CONTEXT_STACK_MIN));
    cids.push_back(cid);
  }
  alignas(64) static char mine[DYCO_CONTEXT_STACK_MIN];
  int own = dyco_asymcoro_create(CountC, &ran);
  ASSERT_EQ(1, dyco_asymcoro_setStack(own, mine, sizeof mine));
  cids.push_back(own);
  dyco_coropool *cp = dyco_asymcpool_create(2, 4000);
  ASSERT_NE(nullptr, cp);
  cids.push_back(dyco_asymcpool_obtain(cp, CountC, &ran, 0));
  for (int cid : cids) {
    ASSERT_EQ(cid, dyco_asymcororesume(cid));
    ASSERT_EQ(0, dyco_asymcororesume(cid));
    dyco_asymcoro_free(cid);
  }
  EXPECT_EQ(2 * 5, ran);
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
}

TEST(AsymSizeTest, AbsurdSizesAndCountsAreRefusedAtOnce) {
  const double start = dyco_test::NowMs();
  EXPECT_EQ(nullptr, dyco_asymcpool_create(2, SIZE_MAX));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(nullptr, dyco_asymcpool_create(INT32_MAX, 65536));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(nullptr,
            dyco_asymcpool_create(
                DYCO_ASYMCORO_MAX,
                sizeof(void *) == 4 ? 256u << 20 : DYCO_STACK_SIZE_MAX));
  EXPECT_EQ(ENOMEM, errno);
  dyco_coropool *cp = dyco_asymcpool_create(1, 65536);
  ASSERT_NE(nullptr, cp);
  EXPECT_EQ(nullptr, dyco_asymcpool_resize(cp, INT32_MAX));
  EXPECT_EQ(1, dyco_asymcpool_available(cp));
  EXPECT_EQ(0, dyco_asymcpool_destroy(&cp));
  EXPECT_LT(dyco_test::NowMs() - start, dyco_test::Slow() ? 5000 : 1000);
}

volatile int asym_overflow_limit = 1 << 30;  // never reached: a guard is

__attribute__((noinline)) int AsymOverflow(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  if (depth > asym_overflow_limit) {
    return frame[0];
  }
  int deeper = AsymOverflow(depth + 1);
  return deeper + frame[0];
}

void AsymOverflowBody(void *) { AsymOverflow(0); }

void OverflowAsym(bool pool, bool under_scheduler) {
  auto run = [pool] {
    int cid;
    if (pool) {
      dyco_coropool *cp = dyco_asymcpool_create(1, 32 * 1024);
      cid = dyco_asymcpool_obtain(cp, AsymOverflowBody, nullptr, 0);
    } else {
      cid = dyco_asymcoro_create(AsymOverflowBody, nullptr);
      dyco_asymcoro_setStack(cid, nullptr, 32 * 1024);
    }
    dyco_asymcororesume(cid);
  };
  if (under_scheduler) {
    dyco_test::Go(run);
    dyco_schedule_run();
  } else {
    run();
  }
}

// An asymmetric coroutine's private stack (setStack's or a pool's) is
// guarded like a scheduler coroutine's, and its overflow is reported the
// same way: resumed by the thread or by a scheduler's coroutine.
TEST(AsymDeathTest, OverflowingAPrivateStackNamesTheCoroutine) {
  GTEST_FLAG_SET(death_test_style, "fast");
  const char *report =
      "dyco: coroutine [0-9]+ overflowed its 32768-byte stack \\(private";
  EXPECT_DEATH(OverflowAsym(false, false), report);
  EXPECT_DEATH(OverflowAsym(true, false), report);
  EXPECT_DEATH(OverflowAsym(false, true), report);
  EXPECT_DEATH(OverflowAsym(true, true), report);
}

TEST(AsymDeathTest, OverflowingTheSharedStackNamesTheCoroutine) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(
      {
        int cid = dyco_asymcoro_create(AsymOverflowBody, nullptr);
        dyco_asymcororesume(cid);
      },
      "dyco: coroutine [0-9]+ overflowed its 262144-byte stack");
}

}  // namespace
