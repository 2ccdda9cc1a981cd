// dyco — sched layer benchmark: yield through the scheduler, spawn-run-end
// of an empty coroutine, a wake-up, and memory per idle coroutine, each
// beside the context layer's raw switch, in one run.
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"
#include "tools/testing/fiber_bench.h"
#include "tools/testing/waitq_bench.h"

extern "C" {
#include "sched/coroutine.h"
#include "sched/pool.h"
#include "sched/schedule.h"
#include "sched/wait.h"
}

namespace {

constexpr size_t kPrivateStack = 16 * 1024;

// --- Yield: 1,000 ready coroutines, each yields in turn --------------------

struct YieldRun {
  benchmark::State *state;
  bool stop;
};

void Yielder(void *arg) {
  auto *r = static_cast<YieldRun *>(arg);
  while (!r->stop) {
    dyco_coroutine_yield();
  }
}

// The driver is one of the n: each of its iterations is one round in
// which every coroutine yields once.
void YieldDriver(void *arg) {
  auto *r = static_cast<YieldRun *>(arg);
  for (auto _ : *r->state) {
    dyco_coroutine_yield();
  }
  r->stop = true;
}

void YieldBench(benchmark::State &state, bool private_stacks) {
  const int n = static_cast<int>(state.range(0));
  YieldRun run{&state, false};
  for (int i = 0; i < n - 1; ++i) {
    int cid = dyco_coroutine_create(Yielder, &run);
    if (private_stacks) {
      dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
    }
  }
  int cid = dyco_coroutine_create(YieldDriver, &run);
  if (private_stacks) {
    dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
  }
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  dyco_bench::OpsPerIteration(state, n);
}

void BM_YieldPrivateStacks(benchmark::State &state) { YieldBench(state, true); }
void BM_YieldSharedStack(benchmark::State &state) { YieldBench(state, false); }

// The same, every coroutine (the driver too) yielding from one call site,
// as the raw switch's two contexts resume each other through one switch
// each. In the benchmark above the driver and the others call yield from
// two functions: each return out of yield then lands where the other one
// was, and the return predictor (which expects the caller that just
// called) misses every time when only two take turns. This row shows that
// cost apart from the scheduler's.
struct OneSiteTurn {
  YieldRun *run;
  bool driver;
};

void OneSiteYielder(void *arg) {
  auto *t = static_cast<OneSiteTurn *>(arg);
  YieldRun *r = t->run;
  while (!r->stop) {
    if (t->driver && !r->state->KeepRunning()) {
      r->stop = true;
    }
    dyco_coroutine_yield();
  }
}

// n coroutines on private stacks running fn (OneSiteYielder or the like),
// the last one the driver.
void OneSiteBench(benchmark::State &state, void (*fn)(void *)) {
  const int n = static_cast<int>(state.range(0));
  YieldRun run{&state, false};
  std::vector<OneSiteTurn> turns(n, OneSiteTurn{&run, false});
  turns[n - 1].driver = true;
  for (int i = 0; i < n; ++i) {
    int cid = dyco_coroutine_create(fn, &turns[i]);
    dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
  }
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  dyco_bench::OpsPerIteration(state, n);
}

void BM_YieldOneCallSite(benchmark::State &state) {
  OneSiteBench(state, OneSiteYielder);
}

// The same from one call site three calls down: each turn returns up
// through the three callers and calls down again, as code that waits inside
// helpers does (the returns after a switch are the return predictor's to
// guess: all right when the coroutine that left was suspended the same
// way).
__attribute__((noinline)) int DeepYield3() {
  int r = dyco_coroutine_yield();
  benchmark::ClobberMemory();
  return r;
}
__attribute__((noinline)) int DeepYield2() {
  int r = DeepYield3();
  benchmark::ClobberMemory();
  return r + 1;
}
__attribute__((noinline)) int DeepYield1() {
  int r = DeepYield2();
  benchmark::ClobberMemory();
  return r + 1;
}

void DeepYielder(void *arg) {
  auto *t = static_cast<OneSiteTurn *>(arg);
  YieldRun *r = t->run;
  while (!r->stop) {
    if (t->driver && !r->state->KeepRunning()) {
      r->stop = true;
    }
    benchmark::DoNotOptimize(DeepYield1());
  }
}

void BM_YieldThreeCallsDown(benchmark::State &state) {
  OneSiteBench(state, DeepYielder);
}

// --- Create, run and finish an empty coroutine -------------------------------

void Empty(void *) {}

struct SpawnRun {
  benchmark::State *state;
  dyco_coropool *pool;
  int how;
};

// The driver (on a private stack) creates empty coroutines in batches and
// yields to let them run and end, one straight after the other, as a
// server spawning a coroutine per request does.
constexpr int kBatch = 64;

void SpawnDriver(void *arg) {
  auto *r = static_cast<SpawnRun *>(arg);
  while (r->state->KeepRunningBatch(kBatch)) {
    for (int i = 0; i < kBatch; ++i) {
      int cid;
      if (r->how == 0) {
        cid = dyco_coroutine_create(Empty, nullptr);
      } else if (r->how == 1) {
        cid = dyco_coropool_obtain(r->pool, Empty, nullptr, 0);
      } else {
        cid = dyco_coroutine_create(Empty, nullptr);
        dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
      }
      benchmark::DoNotOptimize(cid);
    }
    dyco_coroutine_yield();
  }
}

void SpawnBench(benchmark::State &state, int how) {
  SpawnRun run{&state, nullptr, how};
  if (how == 1) {
    run.pool = dyco_coropool_create(kBatch, kPrivateStack);
  }
  int cid = dyco_coroutine_create(SpawnDriver, &run);
  dyco_coroutine_setStack(cid, nullptr, 64 * 1024);
  dyco_schedule_run();
  if (run.pool != nullptr) {
    dyco_coropool_destroy(&run.pool);
  }
  dyco_schedule_free(dyco_schedule_self());
}

void BM_SpawnSharedStack(benchmark::State &state) { SpawnBench(state, 0); }
void BM_SpawnFromPool(benchmark::State &state) { SpawnBench(state, 1); }
void BM_SpawnCachedStack(benchmark::State &state) { SpawnBench(state, 2); }

// --- Memory per idle coroutine
// ---------------------------------------------------

long RssKiB(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, field, n) == 0) {
      v = atol(line + n);
    }
  }
  fclose(f);
  return v;
}

// Resets the peak (VmHWM) to the current RSS.
void ResetPeak() {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f != nullptr) {
    fputs("5", f);
    fclose(f);
  }
}

struct MemRun {
  long count;
  long before;
  double bytes_each;
  double peak_bytes_each;
};

void Sleeper(void *) { dyco_coroutine_sleep(3600 * 1000); }

void Measure(void *arg) {
  auto *m = static_cast<MemRun *>(arg);
  // Every sleeper has run once and is asleep now.
  long now = RssKiB("VmRSS:");
  long peak = RssKiB("VmHWM:");
  m->bytes_each = (now - m->before) * 1024.0 / m->count;
  m->peak_bytes_each = (peak - m->before) * 1024.0 / m->count;
  dyco_schedcall_abort();
}

MemRun SleepingCoroutines(long count) {
  MemRun m{count, 0, 0, 0};
  dyco_schedule_create(0, 0);
  ResetPeak();
  m.before = RssKiB("VmRSS:");
  for (long i = 0; i < count; ++i) {
    dyco_coroutine_create(Sleeper, nullptr);
  }
  dyco_coroutine_create(Measure, &m);
  dyco_schedule_run();
  return m;
}

void BM_MemorySleepingSharedStack(benchmark::State &state) {
  MemRun m{};
  for (auto _ : state) {
    m = SleepingCoroutines(state.range(0));
  }
  state.counters["bytes_each"] = m.bytes_each;
  state.counters["peak_bytes_each"] = m.peak_bytes_each;
  state.counters["GiB_total"] =
      m.peak_bytes_each * static_cast<double>(state.range(0)) / (1 << 30);
}

void BM_PrivateStacksAlive(benchmark::State &state) {
  long alive = 0;
  for (auto _ : state) {
    dyco_schedule_create(0, 0);
    const long n = state.range(0);
    static long count;
    count = 0;
    for (long i = 0; i < n; ++i) {
      int cid = dyco_coroutine_create(
          [](void *) {
            count++;
            dyco_coroutine_sleep(3600 * 1000);
          },
          nullptr);
      if (cid <= 0 ||
          dyco_coroutine_setStack(cid, nullptr, kPrivateStack) != 1) {
        break;
      }
    }
    dyco_coroutine_create(
        [](void *p) {
          *static_cast<long *>(p) = count;
          dyco_schedcall_abort();
        },
        &alive);
    dyco_schedule_run();
  }
  state.counters["alive"] = static_cast<double>(alive);
}

// Timings are noisy on a shared machine: each is the median of 5 runs.
constexpr int kReps = 5;
DYCO_BENCH_RAW_SWITCH()->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_YieldPrivateStacks)
    ->Arg(2)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_YieldOneCallSite)
    ->Arg(2)
    ->Arg(100)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_YieldThreeCallsDown)
    ->Arg(2)
    ->Arg(100)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_YieldSharedStack)
    ->Arg(1000)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_SpawnSharedStack)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_SpawnFromPool)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_SpawnCachedStack)->Repetitions(kReps)->ReportAggregatesOnly(true);
DYCO_BENCH_WAITQ_WAKE_UP()->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(dyco_bench::BM_BoostFiberYield)
    ->Name("BM_BoostFiberYield")
    ->Arg(1000)
    ->Arg(10000)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(dyco_bench::BM_BoostFiberSpawn)
    ->Name("BM_BoostFiberSpawn")
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_MemorySleepingSharedStack)
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemorySleepingSharedStack)
    ->Arg(10000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PrivateStacksAlive)
    ->Arg(100000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char **argv) {
  dyco_bench::PrintMachine("sched layer benchmark");
  dyco_bench::InitializeInterleaved(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  // Targets: issue 15's bar, set on an Intel Xeon (Ice Lake-SP, KVM); the
  // libaco figures are the ones measured there.
  const dyco_bench::Row rows[] = {
      {"BM_RawSwitch", "raw switch (context layer)", ""},
      {"BM_YieldPrivateStacks/2", "yield, 2 ready, private stacks",
       "<= 1.5x raw", 1.5},
      {"BM_YieldPrivateStacks/100", "yield, 100 ready, private stacks",
       "<= 1.5x raw", 1.5},
      {"BM_YieldPrivateStacks/1000", "yield, 1000 ready, private stacks",
       "<= 1.5x raw", 1.5},
      {"BM_YieldOneCallSite/2", "  2 ready, all yielding from one call site",
       ""},
      {"BM_YieldOneCallSite/100",
       "  100 ready, all yielding from one call site", ""},
      {"BM_YieldThreeCallsDown/2", "  2 ready, one call site three calls down",
       ""},
      {"BM_YieldThreeCallsDown/100",
       "  100 ready, one call site three calls down", ""},
      {"BM_YieldPrivateStacks/10000", "yield, 10000 ready, private stacks",
       "<= 45.8 ns (libaco/2)", 0, 45.8},
      {"BM_YieldSharedStack/1000", "yield, 1000 ready, shared stack",
       "<= 33.4 ns (libaco)", 0, 33.4},
      {"BM_SpawnSharedStack", "create+run+end, shared stack", "<= 40 ns", 0,
       40},
      {"BM_SpawnFromPool", "create+run+end, from a pool", "<= 40 ns", 0, 40},
      {"BM_SpawnCachedStack", "create+run+end, cached stack", "<= 40 ns", 0,
       40},
      {"BM_WaitqWakeUp", "wake-up through a wait queue", ""},
      {"BM_BoostFiberYield/1000", "boost.fiber: yield, 1000 ready", ""},
      {"BM_BoostFiberYield/10000", "boost.fiber: yield, 10000 ready", ""},
      {"BM_BoostFiberSpawn", "boost.fiber: create+run+end, pooled stack", ""},
  };
  dyco_bench::PrintTable(recorder, "sched", rows);
  const double fy = recorder.NsPerOp("BM_BoostFiberYield/1000");
  const double fs = recorder.NsPerOp("BM_BoostFiberSpawn");
  if (fy > 0 && fs > 0) {
    printf("\n  boost.fiber / dyco: yield among 1000 %.2fx, spawn %.2fx\n",
           fy / recorder.NsPerOp("BM_YieldPrivateStacks/1000"),
           fs / recorder.NsPerOp("BM_SpawnFromPool"));
  }
  printf(
      "\nmemory                                              value  target\n");
  printf("  %-46s %8.0f  <= 256 bytes\n",
         "1,000,000 sleeping coroutines, bytes each (peak)",
         recorder.Counter("BM_MemorySleepingSharedStack/1000000",
                          "peak_bytes_each"));
  printf(
      "  %-46s %8.2f  <= 3 GiB\n", "10,000,000 sleeping coroutines, GiB (peak)",
      recorder.Counter("BM_MemorySleepingSharedStack/10000000", "GiB_total"));
  printf("  %-46s %8.0f  >= 100,000\n", "guarded private stacks alive at once",
         recorder.Counter("BM_PrivateStacksAlive/100000", "alive"));
  benchmark::Shutdown();
  return 0;
}
