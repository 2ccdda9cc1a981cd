// dyco — tests only: a fixture that gives each test a fresh scheduler and
// frees it afterwards, and small helpers every layer's tests use.
#ifndef DYCO_TOOLS_TESTING_FIXTURE_H_
#define DYCO_TOOLS_TESTING_FIXTURE_H_

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "tools/testing/process.h"

extern "C" {
#include "sched/coroutine.h"
#include "sched/pool.h"
#include "sched/schedule.h"
#include "sched/wait.h"
}

namespace dyco_test {

// Milliseconds on the monotonic clock.
inline double NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The function objects of Go(): kept until the test ends, so that those of
// coroutines that are killed (and never return) are not leaked.
inline std::mutex &FunctionsLock() {
  static std::mutex m;
  return m;
}
inline std::vector<std::unique_ptr<std::function<void()>>> &Functions() {
  static std::vector<std::unique_ptr<std::function<void()>>> v;
  return v;
}

inline std::function<void()> *Keep(std::function<void()> f) {
  auto *heap = new std::function<void()>(std::move(f));
  std::lock_guard<std::mutex> g(FunctionsLock());
  Functions().emplace_back(heap);
  return heap;
}

// Runs a std::function as a coroutine.
inline void RunFunction(void *arg) {
  (*static_cast<std::function<void()> *>(arg))();
}

inline int Go(std::function<void()> f) {
  return dyco_coroutine_create(RunFunction, Keep(std::move(f)));
}

inline int GoUrgent(std::function<void()> f) {
  return dyco_coroutine_create_urgent(RunFunction, Keep(std::move(f)));
}

// Set by --config=i386, whose qemu hangs in fork.
inline bool NoFork() { return getenv("DYCO_TEST_NO_FORK") != nullptr; }

// Under a sanitizer or an emulator everything is slower and bigger.
inline bool Slow() {
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
  return true;
#else
  return getenv("DYCO_TEST_EMULATED") != nullptr;
#endif
}

// How many coroutines a test may keep alive at once, at most `wanted`.
// ThreadSanitizer makes each coroutine's context a fiber, which it counts
// as a thread (context/context.c): it dies past 8,128 live ones, and each
// switch costs it time in proportion to how many there are (6,000 took 15 s
// where 2,000 took 2). Under it the count is capped, with a line saying so.
inline int MostAlive(int wanted) {
#if defined(DYCO_TSAN)
  const int kTsanCap = 4000;
  if (wanted > kTsanCap) {
    printf(
        "note: %d coroutines alive at once, not %d: ThreadSanitizer "
        "counts each as a thread and allows 8,128\n",
        kTsanCap, wanted);
    return kTsanCap;
  }
#endif
  return wanted;
}

// Every test ends as it began: no scheduler, no coroutine and no fd left
// over (the scheduler's own epoll and eventfd go with it). Heap blocks are
// LeakSanitizer's and valgrind's to find, at the end of the program.
class SchedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(nullptr, dyco_schedule_self());
    fds_before_ = OpenFds();
  }
  void TearDown() override {
    dyco_schedule *s = dyco_schedule_self();
    if (s != nullptr) {
      EXPECT_EQ(0, dyco_schedule_getCoroCount()) << "coroutines left over";
      dyco_schedule_free(s);
    }
    EXPECT_EQ(nullptr, dyco_schedule_self());
    {
      std::lock_guard<std::mutex> g(FunctionsLock());
      Functions().clear();
    }
    std::set<int> after = OpenFds();
    for (int fd : after) {
      if (fds_before_.count(fd) == 0) {
        char path[64], target[256] = {0};
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (readlink(path, target, sizeof target - 1) < 0) {
          target[0] = 0;
        }
        ADD_FAILURE() << "fd " << fd << " (" << target << ") left open";
      }
    }
  }

 private:
  std::set<int> fds_before_;
};

}  // namespace dyco_test

#endif  // DYCO_TOOLS_TESTING_FIXTURE_H_
