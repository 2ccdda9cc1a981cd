// dyco — sched layer tests: the shared stack keeps every coroutine's bytes
// across switches; private stacks; checkStack; overflow reports that name
// the coroutine; 100,000 guarded private stacks alive at once.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

extern "C" {
#include "base/thread.h"
#include "context/context.h"
}

namespace {

using dyco_test::Go;
using dyco_test::SchedTest;

// Fills a local array with a pattern of its own, yields many times, and
// checks the pattern (and a deeper frame's) each time it comes back.
__attribute__((noinline)) int Pattern(int seed, int depth) {
  volatile uint32_t local[64];
  for (int i = 0; i < 64; ++i) {
    local[i] = static_cast<uint32_t>(seed * 7919 + i);
  }
  int bad = 0;
  if (depth > 0) {
    bad += Pattern(seed + 1, depth - 1);
  }
  for (int round = 0; round < 20; ++round) {
    dyco_coroutine_yield();
    for (int i = 0; i < 64; ++i) {
      if (local[i] != static_cast<uint32_t>(seed * 7919 + i)) {
        bad++;
      }
    }
  }
  return bad;
}

TEST_F(SchedTest, SharedStackContentsSurviveManySwitches) {
  int bad = 0;
  int finished = 0;
  for (int c = 0; c < 200; ++c) {
    Go([&bad, &finished, c] {
      // Different depths: each coroutine leaves a different amount of
      // stack to save.
      bad += Pattern(c * 100, c % 7);
      finished++;
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(200, finished);
  EXPECT_EQ(0, bad);
  dyco_schedule_stats st;
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  // Coroutines really did take turns on one stack.
  EXPECT_GT(st.shared_stack_saves, 200u * 20);
}

TEST_F(SchedTest, TheSameCoroutineAgainCopiesNothing) {
  Go([] {
    dyco_schedule_stats before, after;
    ASSERT_EQ(0, dyco_schedule_getStats(&before));
    for (int i = 0; i < 100; ++i) {
      dyco_coroutine_yield();  // alone
    }
    ASSERT_EQ(0, dyco_schedule_getStats(&after));
    EXPECT_EQ(before.shared_stack_saves, after.shared_stack_saves);
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, MixedPrivateAndSharedStacksKeepTheirContents) {
  int bad = 0;
  int finished = 0;
  for (int c = 0; c < 60; ++c) {
    int cid = Go([&bad, &finished, c] {
      bad += Pattern(c, c % 5);
      finished++;
    });
    if (c % 3 == 0) {
      ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 64 * 1024));
    }
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(60, finished);
  EXPECT_EQ(0, bad);
}

// Ends the calling coroutine from `depth` calls down, with a frame full of
// its own pattern on the way.
__attribute__((noinline)) void EndDeep(int seed, int depth) {
  volatile uint32_t local[48];
  for (int i = 0; i < 48; ++i) {
    local[i] = static_cast<uint32_t>(seed + i);
  }
  if (depth > 0) {
    // seed + 1, read back from the frame.
    EndDeep(static_cast<int>(local[47]) - 46, depth - 1);
  }
  dyco_coroutine_abort();
}

// A coroutine ending on the shared stack starts the next one there at once
// when that one has not started (its first frame is made where the ending
// one's first frames lie): each starts with its own argument and locals,
// in creation order (of their starts), whether the one before returned or
// ended from deep down; one that yields keeps its frames, and so does a
// started coroutine waiting meanwhile.
TEST_F(SchedTest, AnEndingCoroutineStartsTheNextFreshOneOnTheSharedStack) {
  constexpr int kBatch = 50;
  constexpr int kBatches = 20;
  std::vector<int> order;
  int bad = 0;
  int sum = 0;
  int waiter_bad = -1;
  Go([&waiter_bad] { waiter_bad = Pattern(4242, 3); });
  int spawner = Go([&] {
    for (int b = 0; b < kBatches; ++b) {
      for (int i = 0; i < kBatch; ++i) {
        const int n = b * kBatch + i;
        Go([&order, &bad, &sum, n] {
          volatile uint32_t local[32];
          for (int k = 0; k < 32; ++k) {
            local[k] = static_cast<uint32_t>(n * 31 + k);
          }
          order.push_back(n);
          if (n % 4 == 1) {
            dyco_coroutine_yield();  // suspended: its frames saved
          }
          for (int k = 0; k < 32; ++k) {
            if (local[k] != static_cast<uint32_t>(n * 31 + k)) {
              bad++;
            }
          }
          sum += n;
          if (n % 3 == 0) {
            EndDeep(n, n % 5);
          }
        });
      }
      dyco_coroutine_yield();
    }
  });
  ASSERT_EQ(1, dyco_coroutine_setStack(spawner, nullptr, 64 * 1024));
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(static_cast<size_t>(kBatch * kBatches), order.size());
  for (int n = 0; n < kBatch * kBatches; ++n) {
    ASSERT_EQ(n, order[n]);
  }
  EXPECT_EQ(0, bad);
  EXPECT_EQ(kBatch * kBatches * (kBatch * kBatches - 1) / 2, sum);
  EXPECT_EQ(0, waiter_bad);
  dyco_schedule_stats st;
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_EQ(0u, st.coroutines);
  EXPECT_EQ(st.created, st.finished);
}

TEST_F(SchedTest, SetStackGetStackAndCancel) {
  int cid = Go([] {
    void *p;
    size_t n;
    EXPECT_EQ(1, dyco_coroutine_getStack(dyco_coroutine_coroID(), &p, &n));
    // Running on it: the address of a local is inside.
    char here;
    EXPECT_GT(&here, static_cast<char *>(p));
    EXPECT_LT(&here, static_cast<char *>(p) + n);
  });
  void *p = nullptr;
  size_t n = 0;
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, &p, &n));  // shared
  EXPECT_EQ(static_cast<size_t>(DYCO_SCHEDULE_STACK_DEFAULT), n);
  ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 100 * 1000));
  ASSERT_EQ(1, dyco_coroutine_getStack(cid, &p, &n));
  EXPECT_GE(n, 100u * 1000);  // rounded up to pages
  EXPECT_NE(nullptr, p);
  // Cancel, then set again: the last word counts.
  ASSERT_EQ(0, dyco_coroutine_setStack(cid, nullptr, 0));
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, nullptr, nullptr));
  ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 64 * 1024));
  // A small size is rounded up (to DYCO_CONTEXT_STACK_MIN and pages).
  ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 100));
  ASSERT_EQ(1, dyco_coroutine_getStack(cid, &p, &n));
  EXPECT_GE(n, static_cast<size_t>(DYCO_CONTEXT_STACK_MIN));
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-ESRCH, dyco_coroutine_setStack(cid, nullptr, 64 * 1024));
  EXPECT_EQ(-ESRCH, dyco_coroutine_getStack(cid, &p, &n));
}

// A stack the cache hands out again starts each of its users at the same
// depth: the colour (the few cache lines by which a cached stack's start is
// moved, so that stack tops do not share cache sets) belongs to the stack,
// not to the coroutine. Coloured by coroutine, a reused stack's resident
// pages crept down as users with larger offsets came by (the soak's RSS
// drift, docs/reliability.md).
TEST_F(SchedTest, ACachedStackStartsEachUserAtTheSameDepth) {
  std::vector<uintptr_t> stacks, frames;
  std::vector<int> cids;
  Go([&] {
    for (int i = 0; i < 8; ++i) {
      int done = 0;
      int cid = Go([&] {
        void *p = nullptr;
        size_t n = 0;
        EXPECT_EQ(1, dyco_coroutine_getStack(dyco_coroutine_coroID(), &p, &n));
        stacks.push_back(reinterpret_cast<uintptr_t>(p));
        frames.push_back(
            reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
        done = 1;
      });
      ASSERT_GT(cid, 0);
      cids.push_back(cid);
      ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 64 * 1024));
      while (!done) {
        dyco_coroutine_yield();
      }
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(8u, frames.size());
  for (size_t i = 1; i < frames.size(); ++i) {
    EXPECT_NE(cids[0], cids[i]);
    EXPECT_EQ(stacks[0], stacks[i]) << "the cache gave another stack";
    EXPECT_EQ(frames[0], frames[i]) << "user " << i << " of the same stack";
  }
}

// Coroutines on guarded stacks of the cache start at depths spread over
// many cache lines (their tops would otherwise share one set of the data
// cache, and a yield among 1,000 ready cost 8.0 ns instead of 5.9), each
// within a 16th of its stack. Until 2026-12-01 the offsets that would have
// taken more than a 16th fell back to 0: half the 16 KiB stacks started at
// the same line.
TEST_F(SchedTest, StackTopsAreSpreadOverCacheLines) {
  constexpr int kCoroutines = 64;
  constexpr size_t kSize = 16 * 1024;
  std::vector<size_t> depth;
  std::vector<size_t> size;
  for (int i = 0; i < kCoroutines; ++i) {
    int cid = Go([&] {
      void *p = nullptr;
      size_t n = 0;
      EXPECT_EQ(1, dyco_coroutine_getStack(dyco_coroutine_coroID(), &p, &n));
      const uintptr_t top = reinterpret_cast<uintptr_t>(p) + n;
      depth.push_back(top -
                      reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
      size.push_back(n);
      dyco_coroutine_yield();  // all alive at once: each its own stack
    });
    ASSERT_GT(cid, 0);
    ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, kSize));
  }
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_EQ(static_cast<size_t>(kCoroutines), depth.size());
  std::map<size_t, int> at;
  const size_t least = *std::min_element(depth.begin(), depth.end());
  for (int i = 0; i < kCoroutines; ++i) {
    EXPECT_LE(depth[i] - least, size[i] / 16) << "coroutine " << i;
    at[(depth[i] - least) / 64]++;
  }
  int most = 0;
  for (const auto &kv : at) {
    most = std::max(most, kv.second);
  }
  // 16 offsets for a 16 KiB stack: about 4 of 64 at each.
  EXPECT_GE(at.size(), 10u);
  EXPECT_LE(most, kCoroutines / 4) << "too many stacks start at one line";
}

TEST_F(SchedTest, SetStackAfterTheStartIsRefused) {
  Go([] {
    EXPECT_EQ(-EBUSY,
              dyco_coroutine_setStack(dyco_coroutine_coroID(), nullptr, 65536));
  });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, AStackOfYourOwn) {
  std::vector<char> mine(128 * 1024);
  bool inside = false;
  int cid = Go([&] {
    char here;
    inside = &here > mine.data() && &here < mine.data() + mine.size();
  });
  ASSERT_EQ(1, dyco_coroutine_setStack(cid, mine.data(), mine.size()));
  void *p;
  size_t n;
  ASSERT_EQ(1, dyco_coroutine_getStack(cid, &p, &n));
  EXPECT_EQ(mine.data(), p);
  EXPECT_EQ(mine.size(), n);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(inside);
}

// Recurses, checking the stack on the way down, until checkStack says stop.
__attribute__((noinline)) int RecurseUntilFull(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (dyco_coroutine_checkStack() == 1) {
    return depth;
  }
  // After the call, so that the frame lives across it (no tail call).
  int deeper = RecurseUntilFull(depth + 1);
  return frame[0] == static_cast<char>(depth) ? deeper : -1;
}

TEST_F(SchedTest, CheckStackSaysStopBeforeTheEnd) {
  int shared_depth = 0;
  int private_depth = 0;
  Go([&] {
    EXPECT_EQ(0, dyco_coroutine_checkStack());
    shared_depth = RecurseUntilFull(0);
  });
  int cid = Go([&] { private_depth = RecurseUntilFull(0); });
  ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 64 * 1024));
  ASSERT_EQ(0, dyco_schedule_run());
  // 7/8 of 256 KiB and of 64 KiB with ~0.5 KiB frames (more under asan).
  EXPECT_GT(shared_depth, 40);
  EXPECT_GT(private_depth, 10);
  EXPECT_GT(shared_depth, private_depth * 2);
}

// --- running on a stack the scheduler does not own ----------------------
// The scheduler as the thread's driver (base/thread.h): what a layer that
// runs a coroutine's code on stacks of its own (asym) relies on.

// What asym does: a coroutine switches to a context on a stack of its own
// making, and sleeps and yields there, while it still counts as running.
struct Excursion {
  dyco_context home;
  dyco_context away;
  std::vector<char> stack;
  int rounds;
  int second_call;
  size_t used_away;
  int check_away;
};

void AwayBody(void *arg) {
  auto *x = static_cast<Excursion *>(arg);
  for (int i = 0; i < x->rounds; ++i) {
    if (i % 4 == 3) {
      dyco_coroutine_sleep(1);
    } else {
      dyco_coroutine_yield();
    }
  }
  // From the foreign stack a second call changes nothing: the own stack is
  // still in use from where the coroutine left it.
  dyco_context elsewhere{};
  x->second_call = dyco__thread_leave(&elsewhere);
  dyco_coroutine_info info;
  dyco_coroutine_getInfo(dyco_coroutine_coroID(), &info);
  x->used_away = info.stack_used;
  x->check_away = dyco_coroutine_checkStack();
  dyco_context_switch(&x->away, &x->home, nullptr);
}

// Fills a local array, spends a while on a foreign stack, and counts the
// words of the array that changed meanwhile.
__attribute__((noinline)) int GoAway(int seed, int rounds, size_t *used,
                                     int *check, int *second) {
  volatile uint32_t local[256];
  for (int i = 0; i < 256; ++i) {
    local[i] = static_cast<uint32_t>(seed * 104729 + i);
  }
  Excursion x{};
  x.stack.resize(256 * 1024);
  x.rounds = rounds;
  EXPECT_EQ(0, dyco_context_make(&x.away, x.stack.data(), x.stack.size(),
                                 AwayBody, &x));
  EXPECT_EQ(dyco_coroutine_coroID(), dyco__thread_leave(&x.home));
  dyco_context_switch(&x.home, &x.away, nullptr);
  dyco_context_destroy(&x.away);
  *used = x.used_away;
  *check = x.check_away;
  *second = x.second_call;
  int bad = 0;
  for (int i = 0; i < 256; ++i) {
    if (local[i] != static_cast<uint32_t>(seed * 104729 + i)) {
      bad++;
    }
  }
  return bad;
}

TEST_F(SchedTest, LeaveStackKeepsTheOwnStackWhileOnAnother) {
  int bad = 0;
  int finished = 0;
  int wrong_use = 0;
  int wrong_check = 0;
  int wrong_second = 0;
  for (int c = 0; c < 40; ++c) {
    int cid = Go([&, c] {
      size_t used;
      int check;
      int second;
      bad += GoAway(c, 12, &used, &check, &second);
      // At least the array, far less than the whole stack.
      if (used < 256 * sizeof(uint32_t) || used > 64 * 1024) {
        wrong_use++;
      }
      wrong_check += check != 0;
      wrong_second += second != dyco_coroutine_coroID();
      finished++;
    });
    if (c % 4 == 0) {
      ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 128 * 1024));
    }
    // Others take the shared stack meanwhile.
    Go([&bad, c] { bad += Pattern(c * 31, c % 5); });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(40, finished);
  EXPECT_EQ(0, bad);
  EXPECT_EQ(0, wrong_use);
  EXPECT_EQ(0, wrong_check);
  EXPECT_EQ(0, wrong_second);
  dyco_schedule_stats st;
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_GT(st.shared_stack_saves, 40u * 12);
}

TEST_F(SchedTest, LeaveStackOutsideACoroutine) {
  dyco_context c{};
  EXPECT_EQ(0, dyco__thread_leave(&c));  // no driver: nothing to tell
  Go([] { EXPECT_EQ(-EINVAL, dyco__thread_leave(nullptr)); });
  ASSERT_EQ(0, dyco_schedule_run());
}

TEST_F(SchedTest, TheSchedulerDrivesTheThreadOnlyWhileItRuns) {
  dyco__thread *self = dyco__thread_self();
  EXPECT_EQ(self, dyco__thread_self());
  EXPECT_EQ(nullptr, self->driver);
  EXPECT_EQ(0, dyco__thread_running());
  dyco__runner *inside = nullptr;
  dyco__runner unset{};
  dyco__runner *other_thread = &unset;
  int running = 0, cid = 0;
  cid = Go([&] {
    inside = self->driver;
    running = dyco__thread_running();
    // Per thread: another thread has no driver meanwhile.
    std::thread([&other_thread] {
      other_thread = dyco__thread_self()->driver;
    }).join();
    dyco_schedcall_stop();
    dyco_coroutine_yield();
  });
  ASSERT_EQ(1, dyco_schedule_run());
  EXPECT_NE(nullptr, inside);
  EXPECT_EQ(cid, running);
  EXPECT_EQ(nullptr, other_thread);
  EXPECT_EQ(nullptr, self->driver);  // stopped: the coroutine is suspended
  EXPECT_EQ(0, dyco__thread_running());
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(nullptr, self->driver);
}

// --- overflow reports
// ---------------------------------------------------------

volatile int overflow_limit = 1 << 30;  // never reached: a guard is

__attribute__((noinline)) int Overflow(int depth) {
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  if (depth > overflow_limit) {
    return frame[0];
  }
  int deeper = Overflow(depth + 1);
  return deeper + frame[0];
}

void OverflowPrivate() {
  int cid = dyco_test::Go([] { Overflow(0); });
  dyco_coroutine_setStack(cid, nullptr, 32 * 1024);
  dyco_schedule_run();
}

void OverflowShared() {
  dyco_schedule_create(64 * 1024, 0);
  dyco_test::Go([] {});
  dyco_test::Go([] { Overflow(0); });
  dyco_schedule_run();
}

TEST(SchedDeathTest, OverflowingAPrivateStackNamesTheCoroutine) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(OverflowPrivate(),
               "dyco: coroutine [0-9]+ overflowed its 32768-byte stack "
               "\\(private");
}

TEST(SchedDeathTest, OverflowingTheSharedStackNamesTheCoroutine) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(OverflowShared(),
               "dyco: coroutine [0-9]+ overflowed its 65536-byte stack "
               "\\(the shared stack");
}

void OverflowPool() {
  dyco_coropool *cp = dyco_coropool_create(2, 32 * 1024);
  dyco_coropool_obtain(cp, [](void *) { Overflow(0); }, nullptr, 0);
  dyco_schedule_run();
}

TEST(SchedDeathTest, OverflowingAPoolStackNamesTheCoroutine) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(OverflowPool(),
               "dyco: coroutine [0-9]+ overflowed its 32768-byte stack "
               "\\(private");
}

// A fault that is not an overflow (in a pool coroutine, on a private stack,
// on the shared stack) reaches whatever handled SIGSEGV before dyco: the
// process dies of the signal itself (under AddressSanitizer or
// ThreadSanitizer, of its report), with no word from dyco.
#if defined(DYCO_ASAN)
#define ORDINARY_CRASH ::testing::KilledBySignal(SIGABRT)
#define ORDINARY_REPORT "AddressSanitizer: SEGV"
#elif defined(DYCO_TSAN)
// ThreadSanitizer's handler reports and exits with its exitcode (66 by
// default; .bazelrc's TSAN_OPTIONS keep it).
#define ORDINARY_CRASH ::testing::ExitedWithCode(66)
#define ORDINARY_REPORT "ThreadSanitizer: SEGV on unknown address"
#else
#define ORDINARY_CRASH ::testing::KilledBySignal(SIGSEGV)
// Nothing at all; under qemu-user, only qemu's own line about the signal.
#define ORDINARY_REPORT                                                 \
  (getenv("DYCO_TEST_EMULATED") != nullptr                              \
       ? "^qemu: uncaught target signal 11 \\(Segmentation fault\\) - " \
         "core dumped\n$"                                               \
       : "^$")
#endif

// A write to a page nobody may touch, far from any stack (not a null
// pointer, which UndefinedBehaviorSanitizer would report first).
void WildWrite(void *) {
  void *p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int *>(p) = 1;
}

TEST(SchedDeathTest, AFaultThatIsNotAnOverflowStaysAnOrdinaryCrash) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(
      {
        dyco_coroutine_create(WildWrite, nullptr);
        dyco_schedule_run();
      },
      ORDINARY_CRASH, ORDINARY_REPORT);
  EXPECT_EXIT(
      {
        int cid = dyco_coroutine_create(WildWrite, nullptr);
        dyco_coroutine_setStack(cid, nullptr, 32 * 1024);
        dyco_schedule_run();
      },
      ORDINARY_CRASH, ORDINARY_REPORT);
  EXPECT_EXIT(
      {
        dyco_coropool *cp = dyco_coropool_create(1, 32 * 1024);
        dyco_coropool_obtain(cp, WildWrite, nullptr, 0);
        dyco_schedule_run();
      },
      ORDINARY_CRASH, ORDINARY_REPORT);
}

// A frame far larger than the guard: built with -fstack-clash-protection
// (as all of dyco and its tests are), its prologue touches every page on
// the way down, so it meets the guard instead of writing into the stack
// below.
__attribute__((noinline)) int BigFrame(int i) {
  volatile char big[54 * 1024];
  big[i] = 1;
  big[sizeof big - 1 - i] = 2;
  return big[i] + big[sizeof big - 1 - i];
}

void RunBigFrameOnAPrivateStack() {
  // Neighbours below and above, so that the frame would land in a stack.
  for (int i = 0; i < 3; ++i) {
    int cid = dyco_test::Go([i] {
      if (i == 1) {
        BigFrame(0);
      }
      dyco_coroutine_yield();
    });
    dyco_coroutine_setStack(cid, nullptr, 32 * 1024);
  }
  dyco_schedule_run();
}

TEST(SchedDeathTest, AFrameLargerThanTheGuardStillHitsIt) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(RunBigFrameOnAPrivateStack(),
               "dyco: coroutine [0-9]+ overflowed its 32768-byte stack "
               "\\(private");
}

// Code built without stack-clash protection (its frames are not probed):
// a guard larger than its biggest frame catches it.
extern "C" int dyco_test_unprobed_frame(int i);

void RunUnprobedFrameBehindABigGuard() {
  dyco_schedule_setStackGuard(128 * 1024);
  int cid = dyco_test::Go([] { dyco_test_unprobed_frame(0); });
  dyco_coroutine_setStack(cid, nullptr, 32 * 1024);
  dyco_schedule_run();
}

TEST(SchedDeathTest, TheGuardSizeIsASetting) {
  EXPECT_EQ(static_cast<size_t>(DYCO_STACK_GUARD_DEFAULT),
            dyco_schedule_getStackGuard());
  EXPECT_EQ(-EINVAL, dyco_schedule_setStackGuard(DYCO_STACK_GUARD_MAX + 1));
  EXPECT_EQ(static_cast<size_t>(DYCO_STACK_GUARD_DEFAULT),
            dyco_schedule_getStackGuard());
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(RunUnprobedFrameBehindABigGuard(),
               "dyco: coroutine [0-9]+ overflowed its 32768-byte stack "
               "\\(private");
}

// --- many guarded private stacks
// ----------------------------------------------

TEST_F(SchedTest, AHundredThousandGuardedPrivateStacksAtOnce) {
  dyco_schedule_stats st;
  ASSERT_GT(dyco_schedule_create(0, 0), 0);
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  // With guard regions all of them fit the kernel's mapping limit; with the
  // mprotect fallback (an emulator, an old kernel) fewer do.
  const int kCount = dyco_test::MostAlive(st.guard_regions ? 100000 : 20000);
  int alive = 0;
  int peak = 0;
  int done = 0;
  for (int i = 0; i < kCount; ++i) {
    int cid = Go([&] {
      alive++;
      if (alive > peak) {
        peak = alive;
      }
      dyco_coroutine_sleep(20);
      alive--;
      done++;
    });
    ASSERT_GT(cid, 0);
    ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, 16 * 1024)) << i;
  }
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_EQ(static_cast<uint64_t>(kCount), st.private_stacks);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kCount, done);
  EXPECT_EQ(kCount, peak);
  ASSERT_EQ(0, dyco_schedule_getStats(&st));
  EXPECT_EQ(0u, st.private_stacks);
  EXPECT_GE(st.cached_stacks, static_cast<uint64_t>(kCount));
}

}  // namespace
