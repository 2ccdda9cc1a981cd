// dyco — asym layer tests with a scheduler: resumed by its coroutines, they
// sleep and wait in it, hold the shared stack, and are killed with them.
#include <errno.h>
#include <stdint.h>

#include <functional>
#include <memory>
#include <vector>

#include "tools/testing/fixture.h"

extern "C" {
#include "asym/asymcoro.h"
}

namespace {

using dyco_test::Go;
using dyco_test::SchedTest;

const size_t kStack = dyco_test::Slow() ? 256 * 1024 : 64 * 1024;

void RunFunction(void *arg) { (*static_cast<std::function<void()> *>(arg))(); }

// An asymmetric coroutine running f, on the shared stack or a private one.
// The function object lives until the test ends.
int Asym(std::function<void()> f, bool shared) {
  int cid = dyco_asymcoro_create(RunFunction, dyco_test::Keep(std::move(f)));
  if (cid > 0 && !shared) {
    EXPECT_EQ(1, dyco_asymcoro_setStack(cid, nullptr, kStack));
  }
  return cid;
}

class AsymSchedTest : public SchedTest {
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
  }
  dyco_asymcoro_stats before_;
};

// Each resume hands out the next Fibonacci number through udata.
void Fibonacci(void *arg) {
  const int count = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  int64_t *out;
  if (dyco_asymcoro_getUdata(dyco_asymcoro_coroID(), (void **)&out) != 0) {
    return;
  }
  int64_t a = 0, b = 1;
  for (int i = 0; i < count; ++i) {
    *out = b;
    dyco_asymcoroyield();
    int64_t next = a + b;
    a = b;
    b = next;
  }
}

std::vector<int64_t> FibonacciNumbers(int n) {
  std::vector<int64_t> v;
  int64_t a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    v.push_back(b);
    int64_t next = a + b;
    a = b;
    b = next;
  }
  return v;
}

// Fills a local array, gives up the CPU `rounds` times through the
// scheduler, and counts the words that changed meanwhile.
__attribute__((noinline)) int SchedPattern(int seed, int rounds) {
  volatile uint32_t local[128];
  for (int i = 0; i < 128; ++i) {
    local[i] = static_cast<uint32_t>(seed * 7919 + i);
  }
  int bad = 0;
  for (int r = 0; r < rounds; ++r) {
    if (r % 3 == 2) {
      dyco_coroutine_sleep(1);
    } else {
      dyco_coroutine_yield();
    }
    for (int i = 0; i < 128; ++i) {
      bad += local[i] != static_cast<uint32_t>(seed * 7919 + i);
    }
  }
  return bad;
}

TEST_F(AsymSchedTest, GeneratorsInsideSymmetricCoroutines) {
  constexpr int kN = 12;
  constexpr int kCount = 30;
  const std::vector<int64_t> expect = FibonacciNumbers(kCount);
  int wrong = 0;
  int done = 0;
  for (int c = 0; c < kN; ++c) {
    int scid = Go([&, c] {
      int64_t value = 0;
      int gen = dyco_asymcoro_create(
          Fibonacci, reinterpret_cast<void *>(intptr_t{kCount}));
      ASSERT_GT(gen, 0);
      if (c % 2 == 1) {
        ASSERT_EQ(1, dyco_asymcoro_setStack(gen, nullptr, kStack));
      }
      dyco_asymcoro_setUdata(gen, &value);
      int i = 0;
      int r;
      while ((r = dyco_asymcororesume(gen)) > 0) {
        wrong += value != expect[i++];
        // The scheduler runs the others meanwhile.
        if (i % 2) {
          dyco_coroutine_yield();
        } else {
          dyco_coroutine_sleep(1);
        }
      }
      wrong += r != 0 || i != kCount;
      dyco_asymcoro_free(gen);
      done++;
    });
    if (c % 3 == 0) {
      ASSERT_EQ(1, dyco_coroutine_setStack(scid, nullptr, kStack));
    }
    Go([c, &wrong] { wrong += SchedPattern(c, 10); });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kN, done);
  EXPECT_EQ(0, wrong);
}

TEST_F(AsymSchedTest, OneGeneratorResumedByManyCoroutines) {
  // Made by the thread, resumed by eight coroutines in turn.
  int64_t value = 0;
  int gen =
      dyco_asymcoro_create(Fibonacci, reinterpret_cast<void *>(intptr_t{6}));
  ASSERT_GT(gen, 0);
  dyco_asymcoro_setUdata(gen, &value);
  std::vector<int64_t> seen;
  std::vector<int> rets;
  for (int c = 0; c < 8; ++c) {
    Go([&, c] {
      dyco_coroutine_sleep(static_cast<uint32_t>(1 + c * 2));
      int r = dyco_asymcororesume(gen);
      rets.push_back(r);
      seen.push_back(r > 0 ? value : -1);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(8u, rets.size());
  std::vector<int64_t> expect = FibonacciNumbers(6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(gen, rets[i]);
    EXPECT_EQ(expect[i], seen[i]);
  }
  EXPECT_EQ(0, rets[6]);         // it finished
  EXPECT_EQ(-ENODATA, rets[7]);  // and stays finished
  EXPECT_EQ(-ENODATA, dyco_asymcororesume(gen));
  // Back in the thread, from outside any coroutine.
  dyco_asymcoro_free(gen);
}

// An asymmetric coroutine that sleeps, yields and waits in the scheduler:
// the symmetric coroutine under it is suspended meanwhile, its stack
// pointer on the asymmetric coroutine's stack, while other coroutines take
// the scheduler's shared stack.
struct Blocker {
  dyco_waitq q;
  int woken = 0;
};

__attribute__((noinline)) int BlockInScheduler(Blocker *b, int seed) {
  volatile uint32_t mine[64];
  for (int i = 0; i < 64; ++i) {
    mine[i] = static_cast<uint32_t>(seed * 31 + i);
  }
  int bad = 0;
  for (int r = 0; r < 6; ++r) {
    switch (r % 3) {
      case 0:
        dyco_coroutine_sleep(1);
        break;
      case 1:
        dyco_coroutine_yield();
        break;
      default:
        bad += dyco_waitq_wait(&b->q, 1000, nullptr) != 0;
        break;
    }
    // The scheduler's own stack check measures the symmetric coroutine
    // (its own stack, from where it left it): far from full.
    bad += dyco_coroutine_checkStack() != 0;
    for (int i = 0; i < 64; ++i) {
      bad += mine[i] != static_cast<uint32_t>(seed * 31 + i);
    }
    dyco_asymcoroyield();
  }
  return bad;
}

void BlockingTest(bool asym_shared, bool sched_private, int n) {
  int bad = 0;
  int done = 0;
  std::vector<std::unique_ptr<Blocker>> blockers;
  for (int c = 0; c < n; ++c) {
    blockers.emplace_back(new Blocker);
    Blocker *b = blockers.back().get();
    dyco_waitq_init(&b->q, nullptr);
    int scid = Go([&, b, c, asym_shared] {
      volatile uint32_t local[200];
      for (int i = 0; i < 200; ++i) {
        local[i] = static_cast<uint32_t>(c * 977 + i);
      }
      int a =
          Asym([&bad, b, c] { bad += BlockInScheduler(b, c); }, asym_shared);
      int r;
      int rounds = 0;
      while ((r = dyco_asymcororesume(a)) > 0) {
        rounds++;
        for (int i = 0; i < 200; ++i) {
          bad += local[i] != static_cast<uint32_t>(c * 977 + i);
        }
        dyco_coroutine_yield();
      }
      bad += r != 0 || rounds != 6;
      dyco_coroutine_info info;
      ASSERT_EQ(0, dyco_coroutine_getInfo(dyco_coroutine_coroID(), &info));
      bad += info.stack_used < sizeof local || info.stack_used > 64 * 1024;
      dyco_asymcoro_free(a);
      done++;
    });
    if (sched_private) {
      ASSERT_EQ(1, dyco_coroutine_setStack(scid, nullptr, kStack));
    }
    // Wakes the blocker's wait, again and again.
    Go([b] {
      while (b->woken < 2) {  // the blocker waits twice
        b->woken += dyco_waitq_wakeOne(&b->q, 0);
        dyco_coroutine_yield();
      }
    });
    // Others keep taking the scheduler's shared stack.
    Go([&bad, c] { bad += SchedPattern(1000 + c, 12); });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(n, done);
  EXPECT_EQ(0, bad);
  dyco_schedule_stats st;
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_GT(st.shared_stack_saves, 0u);
}

TEST_F(AsymSchedTest, PrivateAsymBlocksUnderASharedStackCoroutine) {
  BlockingTest(false, false, 16);
}

TEST_F(AsymSchedTest, PrivateAsymBlocksUnderAPrivateStackCoroutine) {
  BlockingTest(false, true, 16);
}

TEST_F(AsymSchedTest, SharedAsymBlocksAloneUnderASharedStackCoroutine) {
  // One at a time may hold the asymmetric shared stack while it blocks.
  BlockingTest(true, false, 1);
}

TEST_F(AsymSchedTest, TheSharedStackIsBusyWhileItsCoroutineBlocks) {
  int first_try = 1, later = 1, private_one = 1;
  bool a_blocked = false, a_done = false;
  int a = Asym(
      [&] {
        a_blocked = true;
        dyco_coroutine_sleep(20);  // holds the shared stack meanwhile
        a_blocked = false;
      },
      true);
  int b = Asym([] { dyco_asymcoroyield(); }, true);
  int p = Asym([] { dyco_asymcoroyield(); }, false);
  Go([&] {
    EXPECT_EQ(0, dyco_asymcororesume(a));
    a_done = true;
  });
  Go([&] {
    dyco_coroutine_sleep(2);
    EXPECT_TRUE(a_blocked);
    first_try = dyco_asymcororesume(b);
    private_one = dyco_asymcororesume(p);
    while (!a_done) {
      dyco_coroutine_sleep(1);
    }
    later = dyco_asymcororesume(b);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-EBUSY, first_try);
  EXPECT_EQ(p, private_one);
  EXPECT_EQ(b, later);
  // The thread finishes them.
  EXPECT_EQ(0, dyco_asymcororesume(b));
  EXPECT_EQ(0, dyco_asymcororesume(p));
  dyco_asymcoro_free(a);
  dyco_asymcoro_free(b);
  dyco_asymcoro_free(p);
}

TEST_F(AsymSchedTest, NestedChainsUnderSeveralCoroutines) {
  // Each symmetric coroutine resumes A (shared or private), which resumes
  // B (private), which sleeps: chains of several coroutines interleave.
  int bad = 0;
  int done = 0;
  for (int c = 0; c < 8; ++c) {
    Go([&, c] {
      int inner = Asym(
          [&bad, c] {
            for (int i = 0; i < 4; ++i) {
              bad += SchedPattern(c * 3 + i, 2);
              dyco_asymcoroyield();
            }
          },
          false);
      // Only one chain can hold the asymmetric shared stack while its
      // innermost coroutine blocks: the first chain's outer one uses it.
      int outer = Asym(
          [&bad, inner] {
            int r;
            while ((r = dyco_asymcororesume(inner)) > 0) {
              dyco_asymcoroyield();
            }
            bad += r != 0;
          },
          c == 0);
      int r;
      int n = 0;
      while ((r = dyco_asymcororesume(outer)) > 0) {
        n++;
      }
      bad += r != 0 || n != 4;
      dyco_asymcoro_free(inner);
      dyco_asymcoro_free(outer);
      done++;
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(8, done);
  EXPECT_EQ(0, bad);
}

TEST_F(AsymSchedTest, AnAsymmetricCoroutineRunsTheScheduler) {
  // The thread resumes A; A runs the scheduler, whose coroutines resume
  // generators of their own and yield back and forth.
  for (bool shared : {false, true}) {
    int64_t v1 = 0;
    int got = 0, busy = 0, yield_outside = 0, id_outside = 0;
    int a = Asym(
        [&] {
          Go([&] {
            int gen = dyco_asymcoro_create(
                Fibonacci, reinterpret_cast<void *>(intptr_t{5}));
            ASSERT_EQ(1, dyco_asymcoro_setStack(gen, nullptr, kStack));
            dyco_asymcoro_setUdata(gen, &v1);
            while (dyco_asymcororesume(gen) > 0) {
              got++;
              dyco_coroutine_yield();
            }
            dyco_asymcoro_free(gen);
            // Not in an asymmetric coroutine: yield does nothing.
            dyco_asymcoroyield();
            yield_outside = 1;
            id_outside = dyco_asymcoro_coroID();
          });
          Go([&] {
            // Needs the shared stack, which A holds if A runs on it.
            int g = Asym([] {}, true);
            busy = dyco_asymcororesume(g);
            if (busy == -EBUSY) {
              dyco_asymcoro_free(g);
            } else {
              EXPECT_EQ(0, busy);
              dyco_asymcoro_free(g);
            }
          });
          EXPECT_EQ(0, dyco_schedule_run());
          dyco_asymcoroyield();
        },
        shared);
    EXPECT_EQ(a, dyco_asymcororesume(a));
    EXPECT_EQ(5, got);
    EXPECT_EQ(1, yield_outside);
    EXPECT_EQ(-EPERM, id_outside);
    EXPECT_EQ(shared ? -EBUSY : 0, busy);
    EXPECT_EQ(0, dyco_asymcororesume(a));
    dyco_asymcoro_free(a);
  }
}

TEST_F(AsymSchedTest, KilledWhenTheSchedulerIsAborted) {
  for (bool shared : {false, true}) {
    int a = Asym([] { dyco_coroutine_sleep(3600 * 1000); }, shared);
    int started = 0;
    Go([&] {
      started = 1;
      dyco_asymcororesume(a);  // never returns: killed
      ADD_FAILURE() << "resumed after the abort";
    });
    Go([] {
      dyco_coroutine_sleep(2);
      dyco_schedcall_abort();
    });
    EXPECT_EQ(-ECANCELED, dyco_schedule_run());
    EXPECT_EQ(1, started);
    EXPECT_EQ(-ECANCELED, dyco_asymcororesume(a));
    EXPECT_EQ(1, dyco_coroutine_isasymmetric(a));
    dyco_asymcoro_free(a);
    EXPECT_EQ(-ESRCH, dyco_asymcororesume(a));
    // The shared stack is free again.
    int b = Asym([] {}, true);
    EXPECT_EQ(0, dyco_asymcororesume(b));
    dyco_asymcoro_free(b);
  }
}

TEST_F(AsymSchedTest, KilledWhenTheSchedulerIsFreed) {
  int a = Asym([] { dyco_coroutine_sleep(3600 * 1000); }, false);
  int inner = Asym([] { dyco_coroutine_sleep(3600 * 1000); }, true);
  int outer = Asym([&] { dyco_asymcororesume(inner); }, false);
  Go([&] { dyco_asymcororesume(a); });
  Go([&] { dyco_asymcororesume(outer); });
  Go([] {
    dyco_coroutine_sleep(2);
    dyco_schedcall_stop();
  });
  ASSERT_EQ(1, dyco_schedule_run());
  dyco_schedule_free(dyco_schedule_self());
  for (int cid : {a, inner, outer}) {
    EXPECT_EQ(-ECANCELED, dyco_asymcororesume(cid));
    dyco_asymcoro_free(cid);
  }
}

TEST_F(AsymSchedTest, AbortFromInsideEndsTheSymmetricCoroutine) {
  int after_abort = 0, others = 0;
  int a = Asym(
      [&] {
        dyco_coroutine_sleep(1);
        dyco_coroutine_abort();  // ends the coroutine that resumed us
        after_abort = 1;
      },
      true);
  Go([&] {
    dyco_asymcororesume(a);
    after_abort = 2;
  });
  for (int i = 0; i < 5; ++i) {
    Go([&] {
      dyco_coroutine_sleep(3);
      others++;
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, after_abort);
  EXPECT_EQ(5, others);
  EXPECT_EQ(-ECANCELED, dyco_asymcororesume(a));
  dyco_asymcoro_free(a);
  int b = Asym([] {}, true);
  EXPECT_EQ(0, dyco_asymcororesume(b));
  dyco_asymcoro_free(b);
}

TEST_F(AsymSchedTest, CoroIDInsideAnAsymmetricCoroutineNamesIt) {
  // As the seed's header says: the running coroutine's cid, whoever
  // resumed it; dyco_schedule_coroID keeps naming the scheduler's.
  for (bool shared : {false, true}) {
    int inner_id = 0, inner_sched = 0, inner_asym = 0, outer_id = 0;
    int from_thread = 0, from_thread_sched = 0;
    int a = Asym(
        [&] {
          inner_id = dyco_coroutine_coroID();
          inner_sched = dyco_schedule_coroID();
          inner_asym = dyco_asymcoro_coroID();
          dyco_coroutine_sleep(1);  // waits in the scheduler meanwhile
          EXPECT_EQ(inner_id, dyco_coroutine_coroID());
        },
        shared);
    int scid = Go([&] {
      EXPECT_EQ(0, dyco_asymcororesume(a));
      outer_id = dyco_coroutine_coroID();
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(a, inner_id);
    EXPECT_EQ(a, inner_asym);
    EXPECT_EQ(scid, inner_sched);
    EXPECT_EQ(scid, outer_id);
    dyco_asymcoro_free(a);
    // Resumed by the thread itself: no scheduler coroutine at all.
    int b = Asym(
        [&] {
          from_thread = dyco_coroutine_coroID();
          from_thread_sched = dyco_schedule_coroID();
          EXPECT_EQ(1, dyco_coroutine_isasymmetric(dyco_coroutine_coroID()));
        },
        shared);
    EXPECT_EQ(0, dyco_asymcororesume(b));
    EXPECT_EQ(b, from_thread);
    EXPECT_EQ(-EPERM, from_thread_sched);
    EXPECT_EQ(-EPERM, dyco_coroutine_coroID());
    dyco_asymcoro_free(b);
  }
}

TEST_F(AsymSchedTest, IsAsymmetricTellsTheKindsApart) {
  std::vector<int> sched_ids, asym_ids;
  int from_inside = 5;
  for (int i = 0; i < 50; ++i) {
    sched_ids.push_back(Go([&] {
      from_inside = dyco_coroutine_isasymmetric(dyco_coroutine_coroID());
    }));
    asym_ids.push_back(Asym([] {}, true));
  }
  for (int cid : sched_ids) {
    EXPECT_EQ(0, dyco_coroutine_isasymmetric(cid));
    for (int other : asym_ids) {
      EXPECT_NE(cid, other);
    }
  }
  for (int cid : asym_ids) {
    EXPECT_EQ(1, dyco_coroutine_isasymmetric(cid));
    EXPECT_EQ(-ESRCH, dyco_coroutine_getSchedCount(cid));
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, from_inside);
  for (int cid : asym_ids) {
    dyco_asymcoro_free(cid);
  }
  EXPECT_EQ(-ESRCH, dyco_coroutine_isasymmetric(sched_ids[0]));
}

}  // namespace
