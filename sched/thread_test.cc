// dyco — sched layer tests across threads: one scheduler per thread,
// coroutines handed to another thread's scheduler, wait queues shared by
// threads (wakes from any thread, a lost-wake-up stress), thread exit.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

// A flag a coroutine can wait for, set from any thread.
struct Gate {
  dyco_spinlock lock = DYCO_SPINLOCK_INIT;
  dyco_waitq q;
  bool open = false;
  Gate() { dyco_waitq_init(&q, &lock); }
  void Wait() {
    dyco_spinlock_lock(&lock);
    while (!open) {
      if (dyco_waitq_wait(&q, -1, nullptr) != 0) {
        break;
      }
    }
    dyco_spinlock_unlock(&lock);
  }
  void Open() {
    dyco_spinlock_lock(&lock);
    open = true;
    dyco_waitq_wakeAll(&q, 0);
    dyco_spinlock_unlock(&lock);
  }
};

struct SpawnTarget {
  std::atomic<int> ran{0};
  std::atomic<int> on_wrong_thread{0};
  pthread_t thread;
};

void Spawned(void *arg) {
  auto *t = static_cast<SpawnTarget *>(arg);
  if (!pthread_equal(pthread_self(), t->thread)) {
    t->on_wrong_thread++;
  }
  dyco_coroutine_yield();  // a real coroutine of that scheduler
  t->ran++;
}

TEST_F(SchedTest, SpawnHandsCoroutinesToAnotherThreadsScheduler) {
  SpawnTarget target;
  Gate gate;
  std::atomic<dyco_schedule *> theirs{nullptr};
  std::atomic<int> their_id{0};
  std::thread worker([&] {
    target.thread = pthread_self();
    Go([&] { gate.Wait(); });
    theirs = dyco_schedule_self();
    their_id = dyco_schedule_schedID();
    EXPECT_EQ(0, dyco_schedule_run());
  });
  while (theirs.load() == nullptr) {
    std::this_thread::yield();
  }
  const int kEach = 500;
  // From a plain thread and from this thread (which has no scheduler).
  std::thread other([&] {
    for (int i = 0; i < kEach; ++i) {
      ASSERT_EQ(0, dyco_schedule_spawn(theirs, Spawned, &target));
    }
  });
  for (int i = 0; i < kEach; ++i) {
    ASSERT_EQ(0, dyco_schedule_spawnById(their_id, Spawned, &target));
  }
  other.join();
  while (target.ran.load() < 2 * kEach) {
    std::this_thread::yield();
  }
  gate.Open();
  worker.join();
  EXPECT_EQ(2 * kEach, target.ran.load());
  EXPECT_EQ(0, target.on_wrong_thread.load());
  // The worker has exited: its scheduler is gone.
  EXPECT_EQ(-ESRCH, dyco_schedule_spawnById(their_id, Spawned, &target));
  EXPECT_EQ(-ESRCH, dyco_schedule_spawnById(-1, Spawned, &target));
  EXPECT_EQ(-EINVAL, dyco_schedule_spawn(nullptr, Spawned, &target));
  EXPECT_EQ(nullptr, dyco_schedule_self());
}

// Whether thread tid is blocked in epoll_wait (or, where /proc does not
// say which system call, blocked at all), within 10 s.
bool BlockedInPoll(pid_t tid) {
  const std::string dir = "/proc/self/task/" + std::to_string(tid);
  const double deadline = NowMs() + 10000;
  while (NowMs() < deadline) {
    char buf[512] = {0};
    FILE *f = fopen((dir + "/stat").c_str(), "r");
    if (f == nullptr) {
      return false;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    const char *paren = strrchr(buf, ')');
    bool sleeping =
        n > 0 && paren != nullptr && paren[1] == ' ' && paren[2] == 'S';
    long nr = -1;
    f = fopen((dir + "/syscall").c_str(), "r");
    if (f != nullptr) {
      if (fscanf(f, "%ld", &nr) != 1) {
        nr = -1;
      }
      fclose(f);
    }
    bool in_poll = nr < 0 || nr == SYS_epoll_pwait
#ifdef SYS_epoll_wait
                   || nr == SYS_epoll_wait
#endif
#ifdef SYS_epoll_pwait2
                   || nr == SYS_epoll_pwait2
#endif
#ifdef SYS_io_uring_enter
                   || nr == SYS_io_uring_enter
#endif
        ;
    if (sleeping && in_poll) {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

TEST_F(SchedTest, ASleepingSchedulerWakesForASpawnAtOnce) {
  Gate gate;
  std::atomic<dyco_schedule *> theirs{nullptr};
  std::atomic<double> ran_at{0};
  std::atomic<pid_t> tid{0};
  std::thread worker([&] {
    Go([&] { gate.Wait(); });
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    theirs = dyco_schedule_self();
    dyco_schedule_run();
  });
  while (theirs.load() == nullptr) {
    std::this_thread::yield();
  }
  // Asleep now, as the kernel says of its thread: blocked in the poller's
  // wait (the only place it can block here), not merely "after a while".
  ASSERT_TRUE(BlockedInPoll(tid.load()));
  const double sent = NowMs();
  static std::atomic<double> *stamp;
  stamp = &ran_at;
  ASSERT_EQ(0, dyco_schedule_spawn(
                   theirs, [](void *) { stamp->store(NowMs()); }, nullptr));
  while (ran_at.load() == 0) {
    std::this_thread::yield();
  }
  gate.Open();
  worker.join();
  // Woken by the eventfd, not by some timeout (there is none).
  EXPECT_LT(ran_at.load() - sent, 1000);
}

TEST_F(SchedTest, AWaitQueueSharedByThreadsWakesEachWaiterOnItsOwnThread) {
  const int kThreads = 3;
  const int kWaiters = 50;
  dyco_spinlock lock = DYCO_SPINLOCK_INIT;
  dyco_waitq q;
  dyco_waitq_init(&q, &lock);
  std::atomic<int> waiting{0};
  std::atomic<int> woke_right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      pthread_t me = pthread_self();
      for (int i = 0; i < kWaiters; ++i) {
        Go([&, me] {
          dyco_spinlock_lock(&lock);
          waiting++;
          intptr_t v = 0;
          int r = dyco_waitq_wait(&q, -1, &v);
          dyco_spinlock_unlock(&lock);
          if (r == 0 && v == 77 && pthread_equal(me, pthread_self())) {
            woke_right++;
          }
        });
      }
      EXPECT_EQ(0, dyco_schedule_run());
    });
  }
  while (waiting.load() < kThreads * kWaiters) {
    std::this_thread::yield();
  }
  // This thread has no scheduler: it wakes them one at a time.
  int woken = 0;
  while (woken < kThreads * kWaiters) {
    dyco_spinlock_lock(&lock);
    woken += dyco_waitq_wakeOne(&q, 77);
    dyco_spinlock_unlock(&lock);
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(kThreads * kWaiters, woke_right.load());
  EXPECT_EQ(nullptr, q.head);
  EXPECT_EQ(0, q.refs);
}

// A counting semaphore on a shared wait queue: every permit handed to a
// waiter that can no longer take it (it timed out) must go back to the
// count, or to another waiter. Supply must equal demand at the end.
struct Sem {
  dyco_spinlock lock = DYCO_SPINLOCK_INIT;
  dyco_waitq q;
  long count = 0;
  Sem() { dyco_waitq_init(&q, &lock); }
  // 1: got a permit; 0: timed out.
  int Wait(int timeout) {
    dyco_spinlock_lock(&lock);
    if (count > 0) {
      count--;
      dyco_spinlock_unlock(&lock);
      return 1;
    }
    int r = dyco_waitq_wait(&q, timeout, nullptr);
    dyco_spinlock_unlock(&lock);
    return r == 0 ? 1 : 0;
  }
  void Signal() {
    dyco_spinlock_lock(&lock);
    if (!dyco_waitq_wakeOne(&q, 0)) {
      count++;
    }
    dyco_spinlock_unlock(&lock);
  }
};

TEST_F(SchedTest, NoWakeIsLostAcrossThreads) {
  const int kThreads = 3;
  const int kTakersPerThread = 40;
  const int kTakesEach = dyco_test::Slow() ? 25 : 100;
  const int kTotal = kThreads * kTakersPerThread * kTakesEach;
  Sem sem;
  std::atomic<long> taken{0};
  std::atomic<long> timeouts{0};
  std::atomic<bool> stuck{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTakersPerThread; ++i) {
        Go([&, i, t] {
          for (int n = 0; n < kTakesEach;) {
            // Short timeouts on purpose: many expire as a permit arrives.
            if (sem.Wait(1 + (i + t) % 3)) {
              n++;
              taken++;
            } else {
              timeouts++;
            }
          }
        });
      }
      // Each thread also signals, from a coroutine.
      Go([&] {
        for (int n = 0; n < kTotal / kThreads; ++n) {
          sem.Signal();
          // Pauses, so that takers time out now and then, some just as a
          // permit comes their way.
          if (n % 8 == 0) {
            dyco_coroutine_sleep(1 + n % 3);
          }
        }
      });
      EXPECT_EQ(0, dyco_schedule_run());
    });
  }
  // A watchdog fails the test instead of letting it hang.
  std::thread watchdog([&] {
    const double start = NowMs();
    while (taken.load() < kTotal) {
      if (NowMs() - start > 60000) {
        stuck = true;
        // Hand out what is missing so that everything ends.
        for (long i = 0; i < kTotal; ++i) {
          sem.Signal();
        }
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  for (auto &t : threads) {
    t.join();
  }
  watchdog.join();
  EXPECT_FALSE(stuck.load()) << "permits were lost";
  EXPECT_EQ(kTotal, taken.load());
  EXPECT_EQ(0, sem.count);
  EXPECT_GT(timeouts.load(), 0) << "the race was not exercised";
}

TEST_F(SchedTest, EachThreadHasItsOwnSchedulerFreedWhenItExits) {
  std::atomic<int> ids[4];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int n = 0;
      for (int i = 0; i < 100; ++i) {
        Go([&n] { n++; });
      }
      ids[t] = dyco_schedule_schedID();
      EXPECT_EQ(0, dyco_schedule_run());
      EXPECT_EQ(100, n);
      // Leave coroutines behind: the thread's exit frees them.
      for (int i = 0; i < 10; ++i) {
        Go([] {});
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  for (int a = 0; a < 4; ++a) {
    for (int b = a + 1; b < 4; ++b) {
      EXPECT_NE(ids[a].load(), ids[b].load());
    }
    EXPECT_EQ(-ESRCH, dyco_schedule_spawnById(ids[a], [](void *) {}, nullptr));
  }
}

}  // namespace
