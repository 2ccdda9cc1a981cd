// dyco — sched layer tests: the stall watchdog reports a busy loop once,
// naming it and where it is now, and stays quiet for a loop that yields
// (dyco_coroutine_yieldIfLong) and for a scheduler that sleeps.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

// What the callback saw (it runs on the watchdog's reporting thread).
std::mutex seen_lock;
std::vector<dyco_stall> seen;

void Collect(const dyco_stall *st, void *arg) {
  (void)arg;
  std::lock_guard<std::mutex> g(seen_lock);
  seen.push_back(*st);
}

size_t SeenCount() {
  std::lock_guard<std::mutex> g(seen_lock);
  return seen.size();
}

std::atomic<unsigned> sink{0};

// The busy work, kept out of line so that it shows in the backtrace.
extern "C" __attribute__((noinline)) void dyco_test_spin(double until) {
  while (NowMs() < until) {
    sink.fetch_add(1, std::memory_order_relaxed);
  }
}

// Spins 300 ms; with `arg` (a flag another thread raises once the report is
// out), on in 10 ms steps until the flag is up, 10 s at most (on a loaded
// machine the watchdog's thread may first look after 300 ms).
extern "C" __attribute__((noinline)) void dyco_test_busy(void *arg) {
  if (arg == nullptr) {
    dyco_test_spin(NowMs() + (dyco_test::Slow() ? 1500 : 300));
    // Not a tail call (-O2 made it one): the report names this function.
    __asm__ volatile("" : : : "memory");
    return;
  }
  const auto *reported = static_cast<const std::atomic<bool> *>(arg);
  const double end = NowMs() + 10000;
  while (!reported->load() && NowMs() < end) {
    dyco_test_spin(NowMs() + 10);
  }
}

// Spins 300 ms (as dyco_test_busy does) at the bottom of `depth` frames
// of its own, deeper than a stall's 32: as deep as library code goes
// (OpenSSL's key decoding runs some 30 frames deep).
extern "C" __attribute__((noinline)) int dyco_test_deep(int depth) {
  if (depth == 0) {
    dyco_test_spin(NowMs() + (dyco_test::Slow() ? 1500 : 300));
    return 0;
  }
  // Work after the call keeps it from being a tail call.
  return dyco_test_deep(depth - 1) + static_cast<int>(sink.load() & 1);
}

extern "C" __attribute__((noinline)) void dyco_test_deep_busy(void *arg) {
  (void)arg;
  sink.fetch_add(static_cast<unsigned>(dyco_test_deep(60)));
}

std::string SymbolOf(const void *p) {
  Dl_info info;
  if (p != nullptr && dladdr(p, &info) != 0 && info.dli_sname != nullptr) {
    return info.dli_sname;
  }
  return "";
}

// A stall's frames, innermost first, by name (the address where dladdr
// knows none).
std::string Where(const dyco_stall &st) {
  std::string where;
  for (int i = 0; i < st.nframes; i++) {
    std::string name = SymbolOf(st.frames[i]);
    if (name.empty()) {
      char hex[32];
      snprintf(hex, sizeof hex, "%p", st.frames[i]);
      name = hex;
    }
    where += " " + name;
  }
  return where;
}

class WatchdogTest : public SchedTest {
 protected:
  // The first watchdog of a process starts its reporting thread and pipe,
  // which stay for the life of the process: started before any test takes
  // its count of open fds.
  static void SetUpTestSuite() {
    std::thread([] {
      EXPECT_EQ(0, dyco_schedule_setWatchdog(1000, nullptr, nullptr));
      EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
      dyco_schedule_free(dyco_schedule_self());
    }).join();
  }

  void SetUp() override {
    SchedTest::SetUp();
    std::lock_guard<std::mutex> g(seen_lock);
    seen.clear();
  }
};

// Waits (at most 5 s) until the reporting thread has delivered n reports.
bool AwaitReports(size_t n) {
  const double end = NowMs() + 5000;
  while (SeenCount() < n && NowMs() < end) {
    usleep(1000);
  }
  return SeenCount() >= n;
}

// Runs fn(nullptr) as the one coroutine, with a 50 ms watchdog reporting to
// Collect, until it has ended and its report has come; *cid gets its id.
void RunUntilReported(proc_coroutine fn, int *cid) {
  ASSERT_EQ(0, dyco_schedule_setWatchdog(50, Collect, nullptr));
  *cid = dyco_coroutine_create(fn, nullptr);
  ASSERT_GT(*cid, 0);
  ASSERT_EQ(0, dyco_schedule_run());
  ASSERT_TRUE(AwaitReports(1));
}

TEST_F(WatchdogTest, ABusyLoopIsReportedOnceWithWhereItIsNow) {
  int cid = 0;
  ASSERT_NO_FATAL_FAILURE(RunUntilReported(dyco_test_busy, &cid));
  usleep(100 * 1000);  // a second report would have come by now
  std::lock_guard<std::mutex> g(seen_lock);
  ASSERT_EQ(1u, seen.size()) << "reported more than once";
  const dyco_stall &st = seen[0];
  EXPECT_EQ(cid, st.cid);
  EXPECT_EQ(dyco_schedule_schedID(), st.sched_id);
  EXPECT_GE(st.ran_ms, 50u);
  EXPECT_LT(st.ran_ms, dyco_test::Slow() ? 1500u : 300u);
  EXPECT_EQ(reinterpret_cast<const void *>(dyco_test_busy), st.func)
      << Where(st);
  ASSERT_GE(st.nframes, 2) << Where(st);
  // Innermost first: the spin (or what it calls), down to the function.
  bool spin = false;
  for (int i = 0; i < st.nframes; i++) {
    spin |= SymbolOf(st.frames[i]) == "dyco_test_spin";
  }
  EXPECT_TRUE(spin);
  EXPECT_EQ("dyco_test_busy", SymbolOf(st.frames[st.nframes - 1]));
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
}

// Stalled 60 frames deep: the report keeps the innermost 32 frames and
// still names the coroutine's function, found below them.
TEST_F(WatchdogTest, AStallDeeperThanItsFramesStillNamesItsFunction) {
  int cid = 0;
  ASSERT_NO_FATAL_FAILURE(RunUntilReported(dyco_test_deep_busy, &cid));
  std::lock_guard<std::mutex> g(seen_lock);
  ASSERT_EQ(1u, seen.size());
  const dyco_stall &st = seen[0];
  EXPECT_EQ(cid, st.cid);
  EXPECT_EQ(reinterpret_cast<const void *>(dyco_test_deep_busy), st.func)
      << Where(st);
  ASSERT_EQ(DYCO_STALL_FRAMES, st.nframes) << Where(st);
  // The innermost frames: the spin (or what it calls), then the recursion.
  bool spin = false;
  for (int i = 0; i < 8; i++) {
    spin |= SymbolOf(st.frames[i]) == "dyco_test_spin";
  }
  EXPECT_TRUE(spin) << Where(st);
  EXPECT_EQ("dyco_test_deep", SymbolOf(st.frames[st.nframes - 1]));
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
}

double ThreadCpuMs() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 +
         static_cast<double>(ts.tv_nsec) / 1e6;
}

// Spins for ms of this thread's CPU time.
extern "C" __attribute__((noinline)) void dyco_test_spin_cpu(double ms) {
  const double until = ThreadCpuMs() + ms;
  while (ThreadCpuMs() < until) {
    sink.fetch_add(1, std::memory_order_relaxed);
  }
}

// A slice is measured in CPU time: 8 ms of work, 300 ms with the thread
// asleep in a system call no hook sees (the time a loaded system gives
// other threads counts the same way), 8 ms more: 16 ms of a 20 ms
// threshold, no report (on the wall clock it would be 316 ms); then 60 ms
// of work in one slice is reported, with ran_ms counted the same way.
TEST_F(WatchdogTest, OnlyCpuTimeCountsTowardAStall) {
  ASSERT_EQ(0, dyco_schedule_setWatchdog(20, Collect, nullptr));
  bool first_done = false;
  Go([&] {
    dyco_test_spin_cpu(8);
    struct timespec nap = {0, 300 * 1000 * 1000};
    while (syscall(SYS_nanosleep, &nap, &nap) != 0) {
    }
    dyco_test_spin_cpu(8);
    first_done = true;
    dyco_coroutine_yield();
    // Reported only now, if the sleep counted.
    usleep(50 * 1000);
    EXPECT_EQ(0u, SeenCount());
    dyco_test_spin_cpu(60);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_TRUE(first_done);
  ASSERT_TRUE(AwaitReports(1));
  std::lock_guard<std::mutex> g(seen_lock);
  ASSERT_EQ(1u, seen.size());
  EXPECT_GE(seen[0].ran_ms, 20u);
  EXPECT_LE(seen[0].ran_ms, 60u);
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
}

// Without a callback the report goes to stderr.
TEST_F(WatchdogTest, TheDefaultReportGoesToStderr) {
  char path[] = "/tmp/dyco-watchdog-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  fflush(stderr);
  int saved = dup(2);
  ASSERT_EQ(2, dup2(fd, 2));
  ASSERT_EQ(0, dyco_schedule_setWatchdog(50, nullptr, nullptr));
  // The busy coroutine spins until this thread has seen the report (10 s
  // at most); `text` is what the file held last.
  std::atomic<bool> reported{false};
  std::string text;
  std::thread reader([&] {
    const double end = NowMs() + 10000;
    char buf[8192];
    while (!reported.load() && NowMs() < end) {
      usleep(1000);
      ssize_t n = pread(fd, buf, sizeof buf, 0);
      text.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
      reported = text.find("dyco_test_spin") != std::string::npos;
    }
  });
  EXPECT_GT(dyco_coroutine_create(dyco_test_busy, &reported), 0);
  EXPECT_EQ(0, dyco_schedule_run());
  reader.join();
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
  dup2(saved, 2);
  close(saved);
  close(fd);
  fprintf(stderr, "%s", text.c_str());
  EXPECT_NE(std::string::npos, text.find("dyco: watchdog: coroutine"));
  EXPECT_NE(std::string::npos, text.find("in dyco_test_busy"));
  EXPECT_NE(std::string::npos, text.find("dyco_test_spin"));
}

// The same work cut by yieldIfLong, beside another coroutine that needs
// the CPU now and then: no report, and the other one ran meanwhile.
TEST_F(WatchdogTest, YieldIfLongKeepsTheWatchdogQuiet) {
  ASSERT_EQ(0, dyco_schedule_setWatchdog(50, Collect, nullptr));
  int yields = 0, ticks = 0;
  bool done = false;
  Go([&] {
    // At least 300 ms, and on until both counts reach 10 (a loaded machine
    // gives the thread a third of a CPU and the ticker a turn at every
    // other yield: 4 in 300 ms were seen), for 10 s at most.
    const double begin = NowMs();
    const double least = begin + (dyco_test::Slow() ? 1500 : 300);
    const double most = begin + 10000;
    while (NowMs() < most && (NowMs() < least || yields < 10 || ticks < 10)) {
      dyco_test_spin(NowMs() + 0.2);
      int r = dyco_coroutine_yieldIfLong(10);
      ASSERT_GE(r, 0);
      yields += r;
    }
    done = true;
  });
  Go([&] {
    while (!done) {
      ticks++;
      dyco_coroutine_sleep(1);
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_GE(yields, 10);
  EXPECT_GE(ticks, 10);
  usleep(100 * 1000);
  EXPECT_EQ(0u, SeenCount());
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
  EXPECT_EQ(-EPERM, dyco_coroutine_yieldIfLong(1));
}

// A scheduler that sleeps with the watchdog on is neither woken by it nor
// reported, and its waits see no EINTR.
TEST_F(WatchdogTest, ASleepingSchedulerIsLeftAlone) {
  ASSERT_EQ(0, dyco_schedule_setWatchdog(5, Collect, nullptr));
  int p[2];
  ASSERT_EQ(0, pipe(p));
  int r = 1;
  Go([&] { r = dyco_fd_wait(p[0], EPOLLIN | DYCO_FD_EINTR, 200); });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-ETIMEDOUT, r);
  EXPECT_EQ(0u, SeenCount());
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
  close(p[0]);
  close(p[1]);
}

}  // namespace
