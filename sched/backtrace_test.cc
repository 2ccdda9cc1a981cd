// dyco — sched layer tests: backtraces of suspended and running coroutines
// (dyco_coroutine_backtrace and the dump), on private and shared stacks, and
// that the coroutines walked go on exactly as if nothing had looked.
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <unwind.h>

#include <string>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::SchedTest;

// Backtraces of suspended coroutines are read from inside them, which only
// the hand-written switches allow, and not while a tool watches switches.
bool CanWalkSuspended() {
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND) || \
    defined(DYCO_CONTEXT_UCONTEXT)
  return false;
#else
  return true;
#endif
}

// Whether addresses in this program get names from dladdr (-rdynamic; the
// statically linked i386 build has none).
bool Named(void *fn) {
  Dl_info info;
  return dladdr(fn, &info) != 0 && info.dli_sname != nullptr;
}

}  // namespace

// The coroutines' functions, parked at different wait points. Not static,
// with C names, so that the dump can name them.
extern "C" {

struct BtState {
  int pipe[2] = {-1, -1};
  dyco_waitq q;
  int reader = 0, queued = 0, sleeper = 0, tiny = 0;
  char got_byte = 0;
  intptr_t got_value = 0;
  int queued_rc = -1;
  int sleep_cancelled = 0;
  int tiny_rc = -1;
  int order = 0;
  int reader_done = 0, queued_done = 0, sleeper_done = 0;
};

BtState *bt_state;

__attribute__((noinline)) void dyco_bt_test_reader(void *) {
  BtState *st = bt_state;
  if (dyco_coroutine_waitRead(st->pipe[0], -1) > 0) {
    if (read(st->pipe[0], &st->got_byte, 1) != 1) {
      st->got_byte = 0;
    }
  }
  st->reader_done = ++st->order;
}

__attribute__((noinline)) void dyco_bt_test_queued(void *) {
  BtState *st = bt_state;
  st->queued_rc = dyco_waitq_wait(&st->q, -1, &st->got_value);
  st->queued_done = ++st->order;
}

__attribute__((noinline)) void dyco_bt_test_sleeper(void *) {
  BtState *st = bt_state;
  dyco_coroutine_sleep(60000);
  st->sleep_cancelled = dyco_coroutine_checkCancel() == -ECANCELED;
  st->sleeper_done = ++st->order;
}

__attribute__((noinline)) void dyco_bt_test_tiny(void *) {
  BtState *st = bt_state;
  st->tiny_rc = dyco_waitq_wait(&st->q, -1, nullptr);
}

// Records its own backtrace, taken where it runs.
struct OwnFrames {
  void *frames[64];
  int n = 0;
};

OwnFrames *own_frames;

__attribute__((noinline)) void dyco_bt_test_own(void *) {
  OwnFrames *f = own_frames;
  f->n = backtrace(f->frames, 64);
  __asm__ volatile("" : : : "memory");  // not a tail call
}

// The scheduler's test of whether a return address lies in co_main, where
// every coroutine's frames end (sched/internal/sched.h; the tests do not
// include its C).
int dyco__in_co_main(uintptr_t pc);

// Two coroutines that yield from two functions and take turns: each
// writes its turn into a shared log, with a value kept in a local across
// every yield.
struct TurnState {
  int log[64];
  int n = 0;
  int rounds = 0;
  int rc_sum = 0;
  long kept[2] = {0, 0};
};

TurnState *turn_state;

__attribute__((noinline)) void dyco_bt_test_yield_a(void *) {
  TurnState *st = turn_state;
  long mine = 0x5a5a5a5a;
  for (int i = 0; i < st->rounds; ++i) {
    st->log[st->n++] = 1;
    st->rc_sum += dyco_coroutine_yield();
    mine += i;
  }
  st->kept[0] = mine;
}

__attribute__((noinline)) void dyco_bt_test_yield_b(void *) {
  TurnState *st = turn_state;
  long mine = -7;
  for (int i = 0; i < st->rounds; ++i) {
    st->log[st->n++] = 2;
    st->rc_sum += dyco_coroutine_yield();
    mine -= i;
  }
  st->kept[1] = mine;
}

}  // extern "C"

namespace {

// Whether one of the frames is a return address inside fn.
bool HasFrameIn(void *const *frames, int n, void (*fn)(void *)) {
  const auto start =
      reinterpret_cast<uintptr_t>(fn) & ~static_cast<uintptr_t>(1);
  for (int i = 0; i < n; ++i) {
    const auto pc = reinterpret_cast<uintptr_t>(frames[i]);
    if (pc > start && pc - start < 512) {
      return true;
    }
  }
  return false;
}

class BacktraceTest : public SchedTest {};

// Three coroutines parked in different places — a read wait on a private
// stack, a wait queue on the shared stack, a sleep on the shared stack —
// are walked by a fourth on the shared stack, whose bytes the walk must
// move away and back; then every one of them is woken and gets what it was
// given, in order.
TEST_F(BacktraceTest, SuspendedCoroutinesAreWalkedAndGoOnUntouched) {
  BtState st;
  bt_state = &st;
  ASSERT_EQ(0, pipe(st.pipe));
  dyco_waitq_init(&st.q, nullptr);
  st.reader = dyco_coroutine_create(dyco_bt_test_reader, nullptr);
  ASSERT_GT(st.reader, 0);
  ASSERT_EQ(1, dyco_coroutine_setStack(st.reader, nullptr, 256 * 1024));
  st.queued = dyco_coroutine_create(dyco_bt_test_queued, nullptr);
  st.sleeper = dyco_coroutine_create(dyco_bt_test_sleeper, nullptr);
  ASSERT_GT(st.queued, 0);
  ASSERT_GT(st.sleeper, 0);
  std::string dump;
  dyco_test::Go([&] {
    // The others have run to their waits: each took its turn before this.
    void *frames[64];
    int n = dyco_coroutine_backtrace(st.reader, frames, 64);
    if (!CanWalkSuspended()) {
      EXPECT_EQ(-ENOTSUP, n);
    } else {
      ASSERT_GT(n, 0);
      EXPECT_TRUE(HasFrameIn(frames, n, dyco_bt_test_reader));
      // The walk ends at the coroutine's function: nothing of dyco that
      // started it, and the function is the last frame.
      EXPECT_TRUE(HasFrameIn(frames + n - 1, 1, dyco_bt_test_reader));
      void *in_reader = frames[n - 1];
      n = dyco_coroutine_backtrace(st.queued, frames, 64);
      ASSERT_GT(n, 0);
      EXPECT_TRUE(HasFrameIn(frames, n, dyco_bt_test_queued));
      for (int i = 0; i < n; ++i) {
        EXPECT_NE(in_reader, frames[i]) << "another coroutine's frame";
      }
      n = dyco_coroutine_backtrace(st.sleeper, frames, 64);
      ASSERT_GT(n, 0);
      EXPECT_TRUE(HasFrameIn(frames, n, dyco_bt_test_sleeper));
      // At most max frames: the innermost ones.
      void *two[2];
      EXPECT_EQ(2, dyco_coroutine_backtrace(st.sleeper, two, 2));
      EXPECT_EQ(frames[0], two[0]);
      EXPECT_EQ(frames[1], two[1]);
    }
    // Its own, running.
    n = dyco_coroutine_backtrace(dyco_coroutine_coroID(), frames, 64);
    EXPECT_GT(n, 0);

    char *buf = nullptr;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    EXPECT_EQ(4, dyco_schedule_dump(out));
    fclose(out);
    dump.assign(buf, len);
    free(buf);

    // Wake each one its own way, after the walks.
    EXPECT_EQ(1, write(st.pipe[1], "z", 1));
    EXPECT_EQ(1, dyco_waitq_wakeOne(&st.q, 77));
    EXPECT_EQ(0, dyco_coroutine_cancel(st.sleeper));
  });
  EXPECT_EQ(0, dyco_schedule_run());
  EXPECT_EQ('z', st.got_byte);
  EXPECT_EQ(0, st.queued_rc);
  EXPECT_EQ(77, st.got_value);
  EXPECT_EQ(1, st.sleep_cancelled);
  EXPECT_GT(st.reader_done, 0);
  EXPECT_GT(st.queued_done, 0);
  EXPECT_GT(st.sleeper_done, 0);
  printf("%s", dump.c_str());
  if (CanWalkSuspended()) {
    EXPECT_NE(std::string::npos, dump.find("#0 "));
    EXPECT_EQ(std::string::npos, dump.find("no backtrace"));
    if (Named(reinterpret_cast<void *>(dyco_bt_test_reader))) {
      EXPECT_NE(std::string::npos, dump.find("dyco_bt_test_reader+0x"));
      EXPECT_NE(std::string::npos, dump.find("dyco_bt_test_queued+0x"));
      EXPECT_NE(std::string::npos, dump.find("dyco_bt_test_sleeper+0x"));
    }
  } else {
    EXPECT_NE(std::string::npos, dump.find("no backtrace"));
  }
  close(st.pipe[0]);
  close(st.pipe[1]);
}

// The same walk from outside any coroutine, and of coroutines on private
// stacks only; a stack with too little room left is refused, untouched.
TEST_F(BacktraceTest, WalksFromOutsideCoroutinesAndRefusesTightStacks) {
  BtState st;
  bt_state = &st;
  dyco_waitq_init(&st.q, nullptr);
  st.queued = dyco_coroutine_create(dyco_bt_test_queued, nullptr);
  ASSERT_EQ(1, dyco_coroutine_setStack(st.queued, nullptr, 128 * 1024));
  st.tiny = dyco_coroutine_create(dyco_bt_test_tiny, nullptr);
  ASSERT_EQ(1, dyco_coroutine_setStack(st.tiny, nullptr, 12 * 1024));
  void *frames[64];
  // Not started yet: no frames.
  EXPECT_EQ(0, dyco_coroutine_backtrace(st.queued, frames, 64));
  int walked = -1, tiny = -1;
  dyco_test::Go([&] {
    // Walked from the scheduler's loop: a coroutine that stops the
    // scheduler, after which the test walks from the thread's own stack.
    dyco_schedcall_stop();
  });
  EXPECT_EQ(1, dyco_schedule_run());
  walked = dyco_coroutine_backtrace(st.queued, frames, 64);
  tiny = dyco_coroutine_backtrace(st.tiny, frames + 32, 32);
  if (CanWalkSuspended()) {
    ASSERT_GT(walked, 0);
    EXPECT_TRUE(HasFrameIn(frames, walked, dyco_bt_test_queued));
    EXPECT_EQ(-ENOSPC, tiny);
  } else {
    EXPECT_EQ(-ENOTSUP, walked);
  }
  dyco_test::Go([&] { EXPECT_EQ(2, dyco_waitq_wakeAll(&st.q, 5)); });
  EXPECT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, st.queued_rc);
  EXPECT_EQ(5, st.got_value);
  EXPECT_EQ(0, st.tiny_rc);
}

// A coroutine suspended in dyco_coroutine_yield (which goes back to its
// caller by a jump on x86_64, not a return: base/hints.h) is walked to the
// function that called it, on a private stack and on the shared one; and
// two coroutines yielding from two functions take strict turns, each back
// in its own function with its locals as they were.
TEST_F(BacktraceTest, CoroutinesSuspendedInYieldAreWalkedAndTakeTurns) {
  TurnState st;
  st.rounds = 20;
  turn_state = &st;
  int a = dyco_coroutine_create(dyco_bt_test_yield_a, nullptr);
  ASSERT_EQ(1, dyco_coroutine_setStack(a, nullptr, 64 * 1024));
  int b = dyco_coroutine_create(dyco_bt_test_yield_b, nullptr);
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  int walked_a = -1, walked_b = -1;
  bool in_a = false, in_b = false;
  dyco_test::Go([&] {
    // a and b have run once each and yielded.
    void *frames[64];
    walked_a = dyco_coroutine_backtrace(a, frames, 64);
    in_a = walked_a > 0 && HasFrameIn(frames, walked_a, dyco_bt_test_yield_a);
    walked_b = dyco_coroutine_backtrace(b, frames, 64);
    in_b = walked_b > 0 && HasFrameIn(frames, walked_b, dyco_bt_test_yield_b);
  });
  EXPECT_EQ(0, dyco_schedule_run());
  if (CanWalkSuspended()) {
    EXPECT_TRUE(in_a) << walked_a << " frames";
    EXPECT_TRUE(in_b) << walked_b << " frames";
  } else {
    EXPECT_EQ(-ENOTSUP, walked_a);
    EXPECT_EQ(-ENOTSUP, walked_b);
  }
  ASSERT_EQ(40, st.n);
  for (int i = 0; i < st.n; ++i) {
    EXPECT_EQ(i % 2 == 0 ? 1 : 2, st.log[i]) << "turn " << i;
  }
  EXPECT_EQ(0, st.rc_sum);
  EXPECT_EQ(0x5a5a5a5a + 190, st.kept[0]);
  EXPECT_EQ(-7 - 190, st.kept[1]);
}

// Every backtrace stops at co_main, and only there: a return address is
// taken as co_main's exactly when it lies in co_main, whatever lies next to
// it (until 2026-12-03 any address up to 512 bytes past co_main's start
// was, and in an unoptimised i386 build the walk of a coroutine parked
// through the function laid out after co_main found no frame of its own).
TEST_F(BacktraceTest, OnlyAddressesInsideCoMainEndAWalk) {
  OwnFrames f;
  own_frames = &f;
  ASSERT_GT(dyco_coroutine_create(dyco_bt_test_own, nullptr), 0);
  EXPECT_EQ(0, dyco_schedule_run());
  ASSERT_GT(f.n, 1);
  int at = -1;
  for (int i = 0; i < f.n; ++i) {
    if (dyco__in_co_main(reinterpret_cast<uintptr_t>(f.frames[i]))) {
      EXPECT_EQ(-1, at) << "frames " << at << " and " << i
                        << " both in co_main";
      at = i;
    }
  }
  ASSERT_GE(at, 1) << "no frame in co_main among " << f.n;
  // The frame before it is the coroutine's function, which co_main called.
  EXPECT_TRUE(HasFrameIn(f.frames + at - 1, 1, dyco_bt_test_own));
  // The addresses taken as co_main's form one run around that return
  // address, which ends within the 4 KiB looked at (co_main is a few dozen
  // instructions; a few hundred under ASan).
  const auto ra = reinterpret_cast<uintptr_t>(f.frames[at]);
  uintptr_t lo = ra;
  uintptr_t hi = ra;
  int inside = 0;
  for (uintptr_t pc = ra - 2048; pc <= ra + 2048; ++pc) {
    if (dyco__in_co_main(pc)) {
      inside++;
      lo = pc < lo ? pc : lo;
      hi = pc > hi ? pc : hi;
    }
  }
  EXPECT_EQ(static_cast<uintptr_t>(inside), hi - lo + 1) << "not one run";
  EXPECT_GT(lo, ra - 2048);
  EXPECT_LT(hi, ra + 2048);
#if !defined(__arm__)
  // And exactly co_main, as the unwinder's tables have it (which take an
  // address as a return address, as dyco does: the call before it lies in
  // the function; 32-bit arm's EHABI unwinder has no such lookup).
  const void *co_main_start =
      _Unwind_FindEnclosingFunction(reinterpret_cast<void *>(ra));
  ASSERT_NE(nullptr, co_main_start);
  for (uintptr_t pc = ra - 2048; pc <= ra + 2048; ++pc) {
    const bool in_tables = _Unwind_FindEnclosingFunction(
                               reinterpret_cast<void *>(pc)) == co_main_start;
    ASSERT_EQ(in_tables, dyco__in_co_main(pc) != 0)
        << "at co_main + " << pc - ra;
  }
#endif
}

TEST_F(BacktraceTest, BadArguments) {
  void *frames[4];
  EXPECT_EQ(-ESRCH, dyco_coroutine_backtrace(1, frames, 4));
  int cid = dyco_test::Go([] {});
  EXPECT_EQ(-EINVAL, dyco_coroutine_backtrace(cid, nullptr, 4));
  EXPECT_EQ(-EINVAL, dyco_coroutine_backtrace(cid, frames, 0));
  EXPECT_EQ(-ESRCH, dyco_coroutine_backtrace(cid + 1000, frames, 4));
  EXPECT_EQ(0, dyco_schedule_run());
}

}  // namespace
