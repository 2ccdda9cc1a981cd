// dyco — asym layer benchmark: resume+yield round trips and create+free
// (from a pool, or not), each beside the context layer's raw switch.
#include <stdio.h>

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"

extern "C" {
#include "asym/asymcoro.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
}

namespace {

constexpr size_t kStack = 64 * 1024;

// A generator that never ends: each resume is one round trip.
void Forever(void *) {
  for (;;) {
    dyco_asymcoroyield();
  }
}

// Resumes cid once per iteration.
void RoundTrips(benchmark::State &state, int cid) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(dyco_asymcororesume(cid));
  }
}

int MakeForever(bool shared) {
  int cid = dyco_asymcoro_create(Forever, nullptr);
  if (!shared) {
    dyco_asymcoro_setStack(cid, nullptr, kStack);
  }
  return cid;
}

void BM_ResumeYieldPrivate(benchmark::State &state) {
  int cid = MakeForever(false);
  RoundTrips(state, cid);
  dyco_asymcoro_free(cid);
}

void BM_ResumeYieldShared(benchmark::State &state) {
  int cid = MakeForever(true);
  RoundTrips(state, cid);
  dyco_asymcoro_free(cid);
}

// Two generators on the shared stack, resumed in turn: every resume copies
// the other one's bytes off the stack and this one's on.
void BM_ResumeYieldSharedInterleaved(benchmark::State &state) {
  int a = MakeForever(true);
  int b = MakeForever(true);
  for (auto _ : state) {
    benchmark::DoNotOptimize(dyco_asymcororesume(a));
    benchmark::DoNotOptimize(dyco_asymcororesume(b));
  }
  dyco_bench::OpsPerIteration(state, 2);
  dyco_asymcoro_free(a);
  dyco_asymcoro_free(b);
}

// Round trips from one asymmetric coroutine to another it resumed.
struct Nested {
  benchmark::State *state;
  int inner;
};

void NestedOuter(void *arg) {
  auto *n = static_cast<Nested *>(arg);
  RoundTrips(*n->state, n->inner);
}

void BM_ResumeYieldNested(benchmark::State &state) {
  Nested n{&state, MakeForever(false)};
  int outer = dyco_asymcoro_create(NestedOuter, &n);
  dyco_asymcoro_setStack(outer, nullptr, kStack);
  dyco_asymcororesume(outer);
  dyco_asymcoro_free(outer);
  dyco_asymcoro_free(n.inner);
}

// Round trips from a coroutine of a running scheduler.
struct InSched {
  benchmark::State *state;
  int cid;
};

void BM_ResumeYieldInScheduler(benchmark::State &state) {
  InSched r{&state, MakeForever(false)};
  int s = dyco_coroutine_create(
      [](void *arg) {
        auto *x = static_cast<InSched *>(arg);
        RoundTrips(*x->state, x->cid);
      },
      &r);
  dyco_coroutine_setStack(s, nullptr, kStack);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  dyco_asymcoro_free(r.cid);
}

// --- Create and free -----------------------------------------------------

void Empty(void *) {}

void BM_PoolObtainReturn(benchmark::State &state) {
  dyco_coropool *cp = dyco_asymcpool_create(8, kStack);
  for (auto _ : state) {
    int cid = dyco_asymcpool_obtain(cp, Empty, nullptr, 0);
    benchmark::DoNotOptimize(cid);
    dyco_asymcpool_return(cid);
  }
  dyco_asymcpool_destroy(&cp);
}

void BM_PoolObtainRunReturn(benchmark::State &state) {
  dyco_coropool *cp = dyco_asymcpool_create(8, kStack);
  for (auto _ : state) {
    int cid = dyco_asymcpool_obtain(cp, Empty, nullptr, 0);
    benchmark::DoNotOptimize(dyco_asymcororesume(cid));
    dyco_asymcpool_return(cid);
  }
  dyco_asymcpool_destroy(&cp);
}

void BM_CreateFreeShared(benchmark::State &state) {
  for (auto _ : state) {
    int cid = dyco_asymcoro_create(Empty, nullptr);
    benchmark::DoNotOptimize(cid);
    dyco_asymcoro_free(cid);
  }
}

void BM_CreateRunFreeShared(benchmark::State &state) {
  for (auto _ : state) {
    int cid = dyco_asymcoro_create(Empty, nullptr);
    benchmark::DoNotOptimize(dyco_asymcororesume(cid));
    dyco_asymcoro_free(cid);
  }
}

void BM_CreateRunFreeCachedStack(benchmark::State &state) {
  for (auto _ : state) {
    int cid = dyco_asymcoro_create(Empty, nullptr);
    dyco_asymcoro_setStack(cid, nullptr, kStack);
    benchmark::DoNotOptimize(dyco_asymcororesume(cid));
    dyco_asymcoro_free(cid);
  }
}

// Timings are noisy on a shared machine: each is the median of 5 runs.
constexpr int kReps = 5;
DYCO_BENCH_RAW_SWITCH()->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_ResumeYieldPrivate)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_ResumeYieldShared)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_ResumeYieldSharedInterleaved)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_ResumeYieldNested)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_ResumeYieldInScheduler)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_PoolObtainReturn)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_PoolObtainRunReturn)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_CreateFreeShared)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_CreateRunFreeShared)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_CreateRunFreeCachedStack)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);

}  // namespace

int main(int argc, char **argv) {
  dyco_bench::PrintMachine("asym layer benchmark");
  dyco_bench::InitializeInterleaved(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  const dyco_bench::Row rows[] = {
      {"BM_RawSwitch", "raw switch (context layer), one way", ""},
      {"BM_ResumeYieldPrivate", "resume+yield round trip, private stack",
       "<= 2x raw", 2},
      {"BM_ResumeYieldShared", "resume+yield round trip, shared stack",
       "<= 2x raw", 2},
      {"BM_ResumeYieldSharedInterleaved",
       "  two on the shared stack, in turn (copies)", ""},
      {"BM_ResumeYieldNested", "  asymmetric resumes asymmetric", ""},
      {"BM_ResumeYieldInScheduler", "  from a scheduler coroutine", ""},
      {"BM_PoolObtainReturn", "create+free from a pool (obtain+return)",
       "<= 60 ns", 0, 60},
      {"BM_PoolObtainRunReturn", "  obtain+run to the end+return", ""},
      {"BM_CreateFreeShared", "create+free, shared stack", ""},
      {"BM_CreateRunFreeShared", "  create+run to the end+free", ""},
      {"BM_CreateRunFreeCachedStack", "  the same on a cached private stack",
       ""},
  };
  dyco_bench::PrintTable(recorder, "asym", rows);
  printf(
      "\n(libaco's resume+yield round trip is about 17 ns on this class of "
      "machine.)\n");
  benchmark::Shutdown();
  return 0;
}
