// dyco — benchmarks only: a wake-up through one of the sched layer's wait
// queues, two coroutines of one thread waking each other in turn. The sched
// benchmark reports it; the sync benchmark prints it for reference.
#ifndef DYCO_TOOLS_TESTING_WAITQ_BENCH_H_
#define DYCO_TOOLS_TESTING_WAITQ_BENCH_H_

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"

extern "C" {
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"
}

namespace dyco_bench {

struct WaitqPingPong {
  benchmark::State *state;
  dyco_waitq q[2];
  bool stop;
};

inline void WaitqPonger(void *arg) {
  auto *p = static_cast<WaitqPingPong *>(arg);
  for (;;) {
    dyco_waitq_wait(&p->q[1], -1, nullptr);
    if (p->stop) {
      return;
    }
    dyco_waitq_wakeOne(&p->q[0], 0);
  }
}

inline void WaitqPinger(void *arg) {
  auto *p = static_cast<WaitqPingPong *>(arg);
  for (auto _ : *p->state) {
    dyco_waitq_wakeOne(&p->q[1], 0);
    dyco_waitq_wait(&p->q[0], -1, nullptr);
  }
  p->stop = true;
  dyco_waitq_wakeOne(&p->q[1], 0);
}

// Both coroutines on private stacks of 16 KiB; two wake-ups per round trip.
inline void BM_WaitqWakeUp(benchmark::State &state) {
  WaitqPingPong p;
  p.state = &state;
  p.stop = false;
  dyco_waitq_init(&p.q[0], nullptr);
  dyco_waitq_init(&p.q[1], nullptr);
  int a = dyco_coroutine_create(WaitqPonger, &p);
  int b = dyco_coroutine_create(WaitqPinger, &p);
  dyco_coroutine_setStack(a, nullptr, 16 * 1024);
  dyco_coroutine_setStack(b, nullptr, 16 * 1024);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  OpsPerIteration(state, 2);
}

}  // namespace dyco_bench

#define DYCO_BENCH_WAITQ_WAKE_UP() \
  BENCHMARK(dyco_bench::BM_WaitqWakeUp)->Name("BM_WaitqWakeUp")

#endif  // DYCO_TOOLS_TESTING_WAITQ_BENCH_H_
