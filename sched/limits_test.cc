// dyco — sched layer tests: every size and count at its edges. Small sizes
// are rounded up and run, absurd ones are refused at once with -EINVAL or
// -ENOMEM, no fd left means -EMFILE, never a crash or a hang.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

extern "C" {
#include "context/context.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

size_t Page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// A plain C function, with the smallest frames: runs on the smallest stacks.
void Count(void *arg) {
  ++*static_cast<int *>(arg);
  dyco_coroutine_yield();
  ++*static_cast<int *>(arg);
}

TEST_F(SchedTest, SizesNearSizeMaxAreRefusedAtOnce) {
  EXPECT_EQ(-EINVAL, dyco_schedule_create(SIZE_MAX, 0));
  EXPECT_EQ(-EINVAL, dyco_schedule_create(SIZE_MAX - Page() + 2, 0));
  EXPECT_EQ(-EINVAL, dyco_schedule_create(DYCO_STACK_SIZE_MAX + 1, 0));
  int ran = 0;
  int cid = dyco_coroutine_create(Count, &ran);
  ASSERT_GT(cid, 0);
  EXPECT_EQ(-EINVAL, dyco_coroutine_setStack(cid, nullptr, SIZE_MAX));
  EXPECT_EQ(-EINVAL,
            dyco_coroutine_setStack(cid, nullptr, SIZE_MAX - Page() + 2));
  EXPECT_EQ(-EINVAL,
            dyco_coroutine_setStack(cid, nullptr, DYCO_STACK_SIZE_MAX + 1));
  // Memory of the caller's that would wrap around the address space.
  char mine[64];
  EXPECT_EQ(-EINVAL, dyco_coroutine_setStack(cid, mine, SIZE_MAX));
  // Nothing was set: it still runs on the shared stack.
  EXPECT_EQ(0, dyco_coroutine_getStack(cid, nullptr, nullptr));
  EXPECT_EQ(nullptr, dyco_coropool_create(2, SIZE_MAX));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(nullptr, dyco_coropool_create(2, DYCO_STACK_SIZE_MAX + 1));
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2, ran);
}

TEST_F(SchedTest, ADefaultStackAboveTheMaximumIsRefusedWhenSet) {
  // Refused at the call that asks for it (it returned 0 and left every
  // implicit scheduler creation failing with -EINVAL later).
  EXPECT_EQ(-EINVAL, dyco_schedule_setDefaultStack(DYCO_STACK_SIZE_MAX + 1));
  EXPECT_EQ(-EINVAL, dyco_schedule_setDefaultStack(SIZE_MAX));
  int ran = 0;
  ASSERT_GT(dyco_coroutine_create(Count, &ran), 0);  // the default still holds
  size_t size = 0;
  ASSERT_EQ(0, dyco_coroutine_getStack(dyco_coroutine_create(Count, &ran),
                                       nullptr, &size));
  EXPECT_EQ(static_cast<size_t>(DYCO_SCHEDULE_STACK_DEFAULT), size);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(4, ran);
  EXPECT_EQ(0, dyco_schedule_setDefaultStack(DYCO_STACK_SIZE_MAX));
  EXPECT_EQ(0, dyco_schedule_setDefaultStack(0));
}

TEST_F(SchedTest, CountsAboveTheCoroutineLimitAreRefusedAtOnce) {
  const double start = NowMs();
  EXPECT_EQ(nullptr, dyco_coropool_create(INT_MAX, 65536));
  EXPECT_EQ(EINVAL, errno);
  EXPECT_EQ(nullptr, dyco_coropool_create(DYCO_COROUTINES_MAX + 1, 0));
  dyco_coropool *cp = dyco_coropool_create(2, 65536);
  ASSERT_NE(nullptr, cp);
  EXPECT_EQ(nullptr, dyco_coropool_resize(cp, INT_MAX));
  EXPECT_EQ(2, dyco_coropool_available(cp));  // left as it was
  // Refused, not worked through: far less than one stack per coroutine.
  EXPECT_LT(NowMs() - start, dyco_test::Slow() ? 5000 : 1000);
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

// A pool whose stacks cannot all fit the address space (on 32-bit targets)
// or the kernel's mapping limit is refused with ENOMEM, not worked through
// for minutes.
TEST_F(SchedTest, APoolTooBigForTheAddressSpaceFailsAtOnce) {
  const double start = NowMs();
  const size_t huge = sizeof(void *) == 4 ? 256u << 20 : DYCO_STACK_SIZE_MAX;
  dyco_coropool *cp = dyco_coropool_create(DYCO_COROUTINES_MAX, huge);
  EXPECT_EQ(nullptr, cp);
  EXPECT_EQ(ENOMEM, errno);
  EXPECT_LT(NowMs() - start, dyco_test::Slow() ? 5000 : 1000);
}

// The seed's programs pass small sizes (4000 bytes): rounded up, and run.
TEST_F(SchedTest, SmallSizesAreRoundedUpAndRun) {
  ASSERT_GT(dyco_schedule_create(1000, 0), 0);
  int ran = 0;
  int cid = dyco_coroutine_create(Count, &ran);
  ASSERT_GT(cid, 0);
  size_t size = 0;
  ASSERT_EQ(0, dyco_coroutine_getStack(cid, nullptr, &size));
  EXPECT_GE(size, static_cast<size_t>(DYCO_CONTEXT_STACK_MIN));
  EXPECT_EQ(0u, size % Page());
  int other = dyco_coroutine_create(Count, &ran);
  ASSERT_EQ(1, dyco_coroutine_setStack(other, nullptr, 4000));
  ASSERT_EQ(1, dyco_coroutine_getStack(other, nullptr, &size));
  EXPECT_GE(size, 4000u);
  int tiny = dyco_coroutine_create(Count, &ran);
  ASSERT_EQ(1, dyco_coroutine_setStack(tiny, nullptr, 1));
  dyco_coropool *cp = dyco_coropool_create(2, 4000);
  ASSERT_NE(nullptr, cp);
  EXPECT_GT(dyco_coropool_obtain(cp, Count, &ran, 0), 0);
  EXPECT_GT(dyco_coropool_obtain(cp, Count, &ran, 0), 0);
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(10, ran);
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

// Stacks of exactly DYCO_CONTEXT_STACK_MIN bytes, from the cache (with every
// cache-line shift the cache gives its stacks), from a pool, and the
// caller's own: every one runs.
TEST_F(SchedTest, AStackOfExactlyTheMinimumRuns) {
  int ran = 0;
  for (int i = 0; i < 64; ++i) {
    int cid = dyco_coroutine_create(Count, &ran);
    ASSERT_GT(cid, 0);
    ASSERT_EQ(1, dyco_coroutine_setStack(cid, nullptr, DYCO_CONTEXT_STACK_MIN))
        << i;
  }
  dyco_coropool *cp = dyco_coropool_create(40, DYCO_CONTEXT_STACK_MIN);
  ASSERT_NE(nullptr, cp);
  for (int i = 0; i < 40; ++i) {
    ASSERT_GT(dyco_coropool_obtain(cp, Count, &ran, 0), 0);
  }
  alignas(64) static char mine[DYCO_CONTEXT_STACK_MIN];
  int own = dyco_coroutine_create(Count, &ran);
  ASSERT_EQ(1, dyco_coroutine_setStack(own, mine, sizeof mine));
  // One byte off alignment, the caller's memory holds less than the
  // minimum once its top is aligned: refused, not crashed on.
  int off = dyco_coroutine_create(Count, &ran);
  EXPECT_EQ(-EINVAL, dyco_coroutine_setStack(off, mine + 1, sizeof mine - 1));
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(2 * (64 + 40 + 2), ran);
  EXPECT_EQ(0, dyco_coropool_destroy(&cp));
}

// Fills the fd table (under a lowered RLIMIT_NOFILE), runs f, and undoes it.
template <typename F>
void WithNoFreeFd(F f) {
  struct rlimit old;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
  struct rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
  std::vector<int> held;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  held.push_back(null);
  for (;;) {
    int fd = dup(null);
    if (fd < 0) {
      ASSERT_EQ(EMFILE, errno);
      break;
    }
    held.push_back(fd);
  }
  f();
  for (int fd : held) {
    close(fd);
  }
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
}

TEST(SchedLimitsTest, NoFreeFdMeansEmfileNotEnomem) {
  std::thread([] {
    WithNoFreeFd([] {
      int ran = 0;
      EXPECT_EQ(-EMFILE, dyco_coroutine_create(Count, &ran));
      EXPECT_EQ(-EMFILE, dyco_schedule_create(0, 0));
      EXPECT_EQ(-EMFILE, dyco_schedule_schedID());
      EXPECT_EQ(-EMFILE, dyco_schedule_run());
      EXPECT_EQ(-EMFILE, dyco_schedule_setUdata(nullptr));
      EXPECT_EQ(nullptr, dyco_coropool_create(1, 0));
      EXPECT_EQ(EMFILE, errno);
      EXPECT_EQ(nullptr, dyco_schedule_self());
    });
    // With fds again, all is well.
    int ran = 0;
    EXPECT_GT(dyco_coroutine_create(Count, &ran), 0);
    EXPECT_EQ(0, dyco_schedule_run());
    EXPECT_EQ(2, ran);
    dyco_schedule_free(dyco_schedule_self());
  }).join();
}

}  // namespace
