// dyco — lost wake-ups and races across threads, in the spirit of Photon's
// stress tests: four threads hand coroutines and messages to each other
// (cross-thread spawns, shared unbuffered and buffered channels, a mutex
// with a condition variable, a semaphore, waitgroups) with short random
// timeouts racing the wake-ups. Asserts that nothing is lost or duplicated
// and that the mutex excludes, runs rounds until the scheduler has taken
// every race path it counts (sched/internal/sched.h), and has a watchdog
// that dumps every thread's coroutines and aborts instead of hanging.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sync/chan.h"
#include "sync/cond.h"
#include "sync/flags.h"
#include "sync/mutex.h"
#include "sync/semaphore.h"
#include "sync/waitgroup.h"

// The scheduler's race-path counters (sched/internal/sched.h).
extern uint64_t dyco__race_hits[];
}

namespace {

using dyco_test::NowMs;

constexpr int kThreads = 4;
constexpr int kRaces = 6;
const char *const kRaceNames[kRaces] = {
    "a waker found its waiter claimed (by a timeout)",
    "a timer found its waiter claimed (by a wake)",
    "a wake carried to another thread",
    "another thread's waker lost the claim",
    "a push woke a scheduler asleep in its poll",
    "the last look before sleeping found mail",
};

// The path the directed test below takes on purpose.
constexpr int kTimerLostRace = 1;

// A tiny per-coroutine random source (xorshift).
struct Rng {
  uint32_t x;
  explicit Rng(uint32_t seed) : x(seed * 2654435761u + 1) {}
  uint32_t Next() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  }
  int Timeout() { return static_cast<int>(Next() % 3); }  // 0, 1 or 2 ms
};

struct Round {
  // Sizes of one round.
  int tokens_per_producer;
  int permits_per_thread;
  int increments_per_worker;
  int spawn_rounds;
  static constexpr int kSpawnsPerRound = 6;

  dyco_chan *unbuffered = nullptr;
  dyco_chan *buffered = nullptr;
  dyco_mutex *mu = nullptr;
  dyco_cond *cv = nullptr;
  dyco_semaphore *sem = nullptr;
  std::mutex wg_lock;
  std::vector<dyco_waitgroup *> groups;  // destroyed after the round

  long total_tokens = 0;
  std::unique_ptr<std::atomic<uint8_t>[]> seen;
  std::atomic<long> received{0}, duplicates{0}, bad{0};
  std::atomic<long> permits_taken{0};
  long counter = 0;  // under mu
  std::atomic<int> inside{0}, overlaps{0};
  std::atomic<long> cond_wakes{0};
  std::atomic<long> spawned_ran{0};
  std::atomic<int> sched_ids[kThreads];
  std::atomic<int> ready_threads{0};
  std::atomic<int> finished_threads{0};
  std::atomic<int> coordinators_done{0};

  long Total(int per, int n) const { return static_cast<long>(per) * n; }
};

void Producer(Round *r, int first, Rng rng) {
  for (int k = 0; k < r->tokens_per_producer; ++k) {
    int tok = first + k;
    dyco_chan *ch = tok % 2 == 0 ? r->unbuffered : r->buffered;
    for (;;) {
      int e = dyco_chan_send(ch, &tok, rng.Timeout());
      if (e == 0) {
        break;
      }
      if (e != -ETIMEDOUT) {
        r->bad++;
        return;
      }
    }
  }
}

void Consumer(Round *r, Rng rng) {
  while (r->received.load() < r->total_tokens) {
    dyco_chan *ch = rng.Next() % 2 == 0 ? r->unbuffered : r->buffered;
    int v = -1;
    int e = dyco_chan_recv(ch, &v, rng.Timeout());
    if (e == 1) {
      if (v < 0 || v >= r->total_tokens || r->seen[v].exchange(1) != 0) {
        r->duplicates++;
      }
      r->received++;
    } else if (e != -ETIMEDOUT) {
      r->bad++;
      return;
    }
  }
}

void Taker(Round *r, long total, Rng rng) {
  while (r->permits_taken.load() < total) {
    int e = dyco_semaphore_wait(r->sem, rng.Timeout());
    if (e == 0) {
      r->permits_taken++;
    } else if (e != -ETIMEDOUT) {
      r->bad++;
      return;
    }
  }
}

void Giver(Round *r, Rng rng) {
  for (int k = 0; k < r->permits_per_thread; ++k) {
    dyco_semaphore_signal(r->sem);
    if (rng.Next() % 16 == 0) {
      dyco_coroutine_sleep(1);  // takers time out now and then
    }
  }
}

void Incrementer(Round *r, Rng rng) {
  for (int k = 0; k < r->increments_per_worker;) {
    int e = dyco_mutex_lock(r->mu, 1 + rng.Timeout());
    if (e == -ETIMEDOUT) {
      continue;
    }
    if (e != 0) {
      r->bad++;
      return;
    }
    if (r->inside.fetch_add(1) != 0) {
      r->overlaps++;
    }
    r->counter++;
    if (rng.Next() % 4 == 0) {
      dyco_coroutine_yield();  // hold it across a switch now and then
    }
    r->inside--;
    dyco_cond_broadcast(r->cv);
    dyco_mutex_unlock(r->mu);
    k++;
  }
}

void CondWaiter(Round *r, long final_count, Rng rng) {
  if (dyco_mutex_lock(r->mu, -1) != 0) {
    r->bad++;
    return;
  }
  while (r->counter < final_count) {
    int e = dyco_cond_wait(r->cv, r->mu, 1 + rng.Timeout());
    if (e == 0) {
      r->cond_wakes++;
    } else if (e != -ETIMEDOUT) {
      r->bad++;
      return;  // the mutex is not held after an error
    }
  }
  dyco_mutex_unlock(r->mu);
}

struct SpawnArg {
  Round *r;
  dyco_waitgroup *wg;
  uint32_t seed;
};

void Spawned(void *p) {
  auto *a = static_cast<SpawnArg *>(p);
  Round *r = a->r;
  dyco_waitgroup *wg = a->wg;
  Rng rng(a->seed);
  delete a;
  if (dyco_waitgroup_add(wg, dyco_coroutine_coroID()) != 1) {
    r->bad++;
  }
  if (rng.Next() % 2 == 0) {
    dyco_coroutine_sleep(rng.Next() % 2);
  } else {
    dyco_coroutine_yield();
  }
  r->spawned_ran++;
  if (dyco_waitgroup_done(wg) != 1) {
    r->bad++;
  }
}

void Coordinator(Round *r, int t, Rng rng) {
  for (int k = 0; k < r->spawn_rounds; ++k) {
    dyco_waitgroup *wg = dyco_waitgroup_createShared(Round::kSpawnsPerRound);
    {
      std::lock_guard<std::mutex> g(r->wg_lock);
      r->groups.push_back(wg);
    }
    for (int j = 0; j < Round::kSpawnsPerRound; ++j) {
      int to =
          (t + 1 + static_cast<int>(rng.Next() % (kThreads - 1))) % kThreads;
      auto *a = new SpawnArg{r, wg, rng.Next()};
      if (dyco_schedule_spawnById(r->sched_ids[to].load(), Spawned, a) != 0) {
        delete a;
        r->bad++;
      }
    }
    for (;;) {
      int e = dyco_waitgroup_wait(wg, Round::kSpawnsPerRound, rng.Timeout());
      if (e >= Round::kSpawnsPerRound) {
        break;
      }
      if (e != -ETIMEDOUT) {
        r->bad++;
        r->coordinators_done++;
        return;
      }
    }
  }
  r->coordinators_done++;
}

// Keeps its thread's scheduler running until every thread is done
// spawning into it (a scheduler whose run has returned takes no spawns).
void Keeper(Round *r) {
  while (r->coordinators_done.load() < kThreads) {
    dyco_coroutine_sleep(1);
  }
}

// The coroutines of thread t in one round.
void Thread(Round *r, int t) {
  r->sched_ids[t] = dyco_schedule_schedID();
  r->ready_threads++;
  while (r->ready_threads.load() < kThreads) {
    std::this_thread::yield();  // every id is known before any spawn
  }
  const long increments = r->Total(r->increments_per_worker, 2 * kThreads);
  const long permits = r->Total(r->permits_per_thread, kThreads);
  for (int p = 0; p < 2; ++p) {
    int first = (t * 2 + p) * r->tokens_per_producer;
    dyco_test::Go([r, first, t, p] { Producer(r, first, Rng(t * 16 + p)); });
    dyco_test::Go([r, t, p] { Consumer(r, Rng(t * 16 + 4 + p)); });
    dyco_test::Go([r, t, p] { Incrementer(r, Rng(t * 16 + 8 + p)); });
    dyco_test::Go(
        [r, permits, t, p] { Taker(r, permits, Rng(t * 16 + 10 + p)); });
  }
  dyco_test::Go([r, t] { Giver(r, Rng(t * 16 + 12)); });
  dyco_test::Go(
      [r, increments, t] { CondWaiter(r, increments, Rng(t * 16 + 13)); });
  dyco_test::Go([r, t] { Coordinator(r, t, Rng(t * 16 + 14)); });
  dyco_test::Go([r] { Keeper(r); });
  EXPECT_EQ(0, dyco_schedule_run());
  r->finished_threads++;
}

void DumpEveryThread(Round *r) {
  for (int t = 0; t < kThreads; ++t) {
    dyco_schedule_spawnById(
        r->sched_ids[t].load(),
        [](void *) {
          fprintf(stderr, "--- scheduler %d\n", dyco_schedule_schedID());
          dyco_schedule_dump(stderr);
        },
        nullptr);
  }
}

void RunRound(Round *r, double limit_ms) {
  r->total_tokens = r->Total(r->tokens_per_producer, 2 * kThreads);
  r->seen.reset(new std::atomic<uint8_t>[r->total_tokens]);
  for (long i = 0; i < r->total_tokens; ++i) {
    r->seen[i] = 0;
  }
  r->unbuffered = dyco_chan_create(sizeof(int), 0, DYCO_SYNC_SHARED);
  r->buffered = dyco_chan_create(sizeof(int), 8, DYCO_SYNC_SHARED);
  r->mu = dyco_mutex_create(DYCO_SYNC_SHARED);
  r->cv = dyco_cond_create(DYCO_SYNC_SHARED);
  r->sem = dyco_semaphore_createShared(0);
  ASSERT_TRUE(r->unbuffered && r->buffered && r->mu && r->cv && r->sem);

  std::atomic<bool> done{false};
  std::thread watchdog([r, &done, limit_ms] {
    const double start = NowMs();
    while (!done.load()) {
      if (NowMs() - start > limit_ms) {
        fprintf(stderr,
                "stress: stuck after %.0f ms (received %ld of %ld, permits "
                "%ld, counter %ld, spawned %ld); every coroutine:\n",
                NowMs() - start, r->received.load(), r->total_tokens,
                r->permits_taken.load(), r->counter, r->spawned_ran.load());
        DumpEveryThread(r);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        fprintf(stderr, "stress: a wake-up was lost (see above)\n");
        abort();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([r, t] { Thread(r, t); });
  }
  for (auto &th : threads) {
    th.join();
  }
  done = true;
  watchdog.join();

  EXPECT_EQ(0, r->bad.load());
  EXPECT_EQ(r->total_tokens, r->received.load());
  EXPECT_EQ(0, r->duplicates.load());
  for (long i = 0; i < r->total_tokens; ++i) {
    if (r->seen[i].load() != 1) {
      ADD_FAILURE() << "token " << i << " lost";
      break;
    }
  }
  EXPECT_EQ(r->Total(r->permits_per_thread, kThreads), r->permits_taken.load());
  EXPECT_EQ(0, dyco_semaphore_value(r->sem));
  EXPECT_EQ(r->Total(r->increments_per_worker, 2 * kThreads), r->counter);
  EXPECT_EQ(0, r->overlaps.load());
  EXPECT_EQ(
      static_cast<long>(kThreads) * r->spawn_rounds * Round::kSpawnsPerRound,
      r->spawned_ran.load());

  dyco_chan_destroy(&r->unbuffered);
  dyco_chan_destroy(&r->buffered);
  dyco_cond_destroy(&r->cv);
  dyco_mutex_destroy(&r->mu);
  dyco_semaphore_destroy(&r->sem);
  for (dyco_waitgroup *wg : r->groups) {
    dyco_waitgroup_destroy(&wg);
  }
}

TEST(StressTest, NoWakeUpIsLostAndEveryRacePathIsTaken) {
  const bool slow = dyco_test::Slow();
  const double limit_ms = slow ? 180000 : 60000;
  const double budget_ms = slow ? 60000 : 20000;  // rounds until every path
#if defined(DYCO_VALGRIND)
  // valgrind runs one thread at a time, so the cross-thread races are rare
  // or impossible there: it checks the rounds for lost wake-ups and memory
  // errors, and the paths are only reported.
  const bool require_paths = false;
  const int max_rounds = 2;
#else
  const bool require_paths = true;
  const int max_rounds = 1 << 30;
#endif
  uint64_t before[kRaces];
  for (int i = 0; i < kRaces; ++i) {
    before[i] = __atomic_load_n(&dyco__race_hits[i], __ATOMIC_RELAXED);
  }
  const double start = NowMs();
  int rounds = 0;
  bool all = false;
  while (!all && rounds < max_rounds && NowMs() - start < budget_ms &&
         !HasFailure()) {
    Round r;
    r.tokens_per_producer = slow ? 300 : 1500;
    r.permits_per_thread = slow ? 400 : 2000;
    r.increments_per_worker = slow ? 100 : 500;
    r.spawn_rounds = slow ? 10 : 40;
    RunRound(&r, limit_ms);
    rounds++;
    all = true;
    for (int i = 0; i < kRaces; ++i) {
      all = all &&
            __atomic_load_n(&dyco__race_hits[i], __ATOMIC_RELAXED) > before[i];
    }
  }
  printf("stress: %d round(s) in %.0f ms; race paths taken:\n", rounds,
         NowMs() - start);
  for (int i = 0; i < kRaces; ++i) {
    uint64_t n =
        __atomic_load_n(&dyco__race_hits[i], __ATOMIC_RELAXED) - before[i];
    printf("  %-50s %10llu\n", kRaceNames[i],
           static_cast<unsigned long long>(n));
    if (require_paths) {
      EXPECT_GT(n, 0u) << "race path not taken: " << kRaceNames[i];
    }
  }
}

// The rare path on purpose: a waiter's deadline passes while its thread is
// busy, and another thread's wake claims it meanwhile. When the thread next
// looks, the wake (first in its inbox) has won: the waiter gets the permit,
// not -ETIMEDOUT, and the timer finds it claimed.
TEST(StressTest, AWakeThatBeatsTheDeadlineWinsAndTheTimerStandsDown) {
  dyco_semaphore *sem = dyco_semaphore_createShared(0);
  ASSERT_NE(nullptr, sem);
  const uint64_t before =
      __atomic_load_n(&dyco__race_hits[kTimerLostRace], __ATOMIC_RELAXED);
  std::atomic<int> stage{0};
  int result = 1;
  std::thread signaller([&] {
    while (stage.load() != 1) {
      std::this_thread::yield();
    }
    EXPECT_EQ(0, dyco_semaphore_signal(sem));  // claims the waiter
    stage = 2;
  });
  dyco_test::Go([&] { result = dyco_semaphore_wait(sem, 2); });
  dyco_test::Go([&] {
    // The waiter waits now. Hold the thread past its deadline, until the
    // other thread's wake has been sent.
    const double until = NowMs() + 10;
    stage = 1;
    while (stage.load() != 2 || NowMs() < until) {
    }
  });
  EXPECT_EQ(0, dyco_schedule_run());
  signaller.join();
  dyco_schedule_free(dyco_schedule_self());
  EXPECT_EQ(0, result) << "the wake came first: the permit is the waiter's";
  EXPECT_EQ(0, dyco_semaphore_value(sem));
  EXPECT_GT(__atomic_load_n(&dyco__race_hits[kTimerLostRace], __ATOMIC_RELAXED),
            before);
  dyco_semaphore_destroy(&sem);
}

}  // namespace
