// dyco — sync layer benchmark: channels, select, semaphore and mutex, within
// and across threads, each beside the context layer's raw switch.
#include <stdio.h>

#include <atomic>
#include <thread>

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"
#include "tools/testing/fiber_bench.h"
#include "tools/testing/waitq_bench.h"

extern "C" {
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"
#include "sync/chan.h"
#include "sync/channel.h"
#include "sync/mutex.h"
#include "sync/select.h"
#include "sync/semaphore.h"
}

namespace {

constexpr size_t kPrivateStack = 16 * 1024;

// Runs two coroutines to completion on this thread's scheduler, on private
// stacks or on the shared stack.
void RunPair(proc_coroutine a, proc_coroutine b, void *arg,
             bool private_stacks) {
  int ca = dyco_coroutine_create(a, arg);
  int cb = dyco_coroutine_create(b, arg);
  if (private_stacks) {
    dyco_coroutine_setStack(ca, nullptr, kPrivateStack);
    dyco_coroutine_setStack(cb, nullptr, kPrivateStack);
  }
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
}

// Runs fn(arg) alone, on a private stack, on a fresh scheduler.
void RunOne(proc_coroutine fn, void *arg) {
  int cid = dyco_coroutine_create(fn, arg);
  dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
}

// --- Unbuffered channel ping-pong ------------------------------------------

struct ChanPingPong {
  benchmark::State *state;
  dyco_chan *ping;
  dyco_chan *pong;
};

void ChanPonger(void *arg) {
  auto *p = static_cast<ChanPingPong *>(arg);
  long v;
  while (dyco_chan_recv(p->ping, &v, -1) == 1) {
    v++;
    dyco_chan_send(p->pong, &v, -1);
  }
}

void ChanPinger(void *arg) {
  auto *p = static_cast<ChanPingPong *>(arg);
  long v = 0;
  for (auto _ : *p->state) {
    dyco_chan_send(p->ping, &v, -1);
    dyco_chan_recv(p->pong, &v, -1);
  }
  benchmark::DoNotOptimize(v);
  dyco_chan_close(p->ping);
}

void ChanPingPongBench(benchmark::State &state, bool private_stacks,
                       size_t capacity) {
  ChanPingPong p{&state, dyco_chan_create(sizeof(long), capacity, 0),
                 dyco_chan_create(sizeof(long), capacity, 0)};
  RunPair(ChanPonger, ChanPinger, &p, private_stacks);
  dyco_chan_destroy(&p.ping);
  dyco_chan_destroy(&p.pong);
  dyco_bench::OpsPerIteration(state, 2);  // two messages per round trip
}

void BM_ChanUnbufferedPingPong(benchmark::State &state) {
  ChanPingPongBench(state, true, 0);
}
void BM_ChanUnbufferedPingPongSharedStack(benchmark::State &state) {
  ChanPingPongBench(state, false, 0);
}

// --- The seed's half-duplex channel, ping-pong -------------------------------

struct HalfDuplex {
  benchmark::State *state;
  dyco_channel *ping;
  dyco_channel *pong;
  bool stop;
};

void HalfPonger(void *arg) {
  auto *p = static_cast<HalfDuplex *>(arg);
  char buf[16];
  for (;;) {
    if (dyco_channel_recv(p->ping, buf, sizeof buf, -1) <= 0 || p->stop) {
      return;
    }
    dyco_channel_send(p->pong, buf, 8, -1);
  }
}

void HalfPinger(void *arg) {
  auto *p = static_cast<HalfDuplex *>(arg);
  char buf[16] = "ping";
  for (auto _ : *p->state) {
    dyco_channel_send(p->ping, buf, 8, -1);
    dyco_channel_recv(p->pong, buf, sizeof buf, -1);
  }
  p->stop = true;
  dyco_channel_send(p->ping, buf, 8, -1);
}

void BM_HalfDuplexPingPong(benchmark::State &state) {
  HalfDuplex p{&state, dyco_channel_create(16), dyco_channel_create(16), false};
  RunPair(HalfPonger, HalfPinger, &p, true);
  dyco_channel_destroy(&p.ping);
  dyco_channel_destroy(&p.pong);
  dyco_bench::OpsPerIteration(state, 2);
}

// --- Select: the ponger selects over its channel and an idle one ------------

struct SelectPingPong {
  benchmark::State *state;
  dyco_chan *ping;
  dyco_chan *idle;
  dyco_chan *pong;
};

void SelectPonger(void *arg) {
  auto *p = static_cast<SelectPingPong *>(arg);
  long v = 0;
  dyco_select_case cases[2] = {{p->ping, DYCO_SELECT_RECV, &v, 0},
                               {p->idle, DYCO_SELECT_RECV, &v, 0}};
  for (;;) {
    int i = dyco_select(cases, 2, -1);
    if (i != 0 || cases[0].result != 1) {
      return;
    }
    v++;
    dyco_chan_send(p->pong, &v, -1);
  }
}

void SelectPinger(void *arg) {
  auto *p = static_cast<SelectPingPong *>(arg);
  long v = 0;
  for (auto _ : *p->state) {
    dyco_chan_send(p->ping, &v, -1);
    dyco_chan_recv(p->pong, &v, -1);
  }
  dyco_chan_close(p->ping);
}

void BM_SelectPingPong(benchmark::State &state) {
  SelectPingPong p{&state, dyco_chan_create(sizeof(long), 0, 0),
                   dyco_chan_create(sizeof(long), 0, 0),
                   dyco_chan_create(sizeof(long), 0, 0)};
  RunPair(SelectPonger, SelectPinger, &p, true);
  dyco_chan_destroy(&p.ping);
  dyco_chan_destroy(&p.idle);
  dyco_chan_destroy(&p.pong);
  dyco_bench::OpsPerIteration(state, 2);
}

// --- Buffered channel throughput: a producer and a consumer ------------------

struct Buffered {
  benchmark::State *state;
  dyco_chan *ch;
};

void Producer(void *arg) {
  auto *p = static_cast<Buffered *>(arg);
  long v = 0;
  for (auto _ : *p->state) {
    dyco_chan_send(p->ch, &v, -1);
    v++;
  }
  dyco_chan_close(p->ch);
}

void Consumer(void *arg) {
  auto *p = static_cast<Buffered *>(arg);
  long v;
  while (dyco_chan_recv(p->ch, &v, -1) == 1) {
    benchmark::DoNotOptimize(v);
  }
}

void BM_ChanBufferedThroughput(benchmark::State &state) {
  Buffered p{&state, dyco_chan_create(sizeof(long),
                                      static_cast<size_t>(state.range(0)), 0)};
  RunPair(Producer, Consumer, &p, true);
  dyco_chan_destroy(&p.ch);
}

// --- Semaphore -----------------------------------------------------------

struct SemRun {
  benchmark::State *state;
  dyco_semaphore *a;
  dyco_semaphore *b;
  bool stop;
};

void SemUncontended(void *arg) {
  auto *p = static_cast<SemRun *>(arg);
  for (auto _ : *p->state) {
    dyco_semaphore_wait(p->a, -1);
    dyco_semaphore_signal(p->a);
  }
}

void BM_SemaphoreUncontended(benchmark::State &state) {
  SemRun p{&state, dyco_semaphore_create(1), nullptr, false};
  RunOne(SemUncontended, &p);
  dyco_semaphore_destroy(&p.a);
}

void SemPonger(void *arg) {
  auto *p = static_cast<SemRun *>(arg);
  for (;;) {
    dyco_semaphore_wait(p->a, -1);
    if (p->stop) {
      return;
    }
    dyco_semaphore_signal(p->b);
  }
}

void SemPinger(void *arg) {
  auto *p = static_cast<SemRun *>(arg);
  for (auto _ : *p->state) {
    dyco_semaphore_signal(p->a);
    dyco_semaphore_wait(p->b, -1);
  }
  p->stop = true;
  dyco_semaphore_signal(p->a);
}

void BM_SemaphorePingPong(benchmark::State &state) {
  SemRun p{&state, dyco_semaphore_create(0), dyco_semaphore_create(0), false};
  RunPair(SemPonger, SemPinger, &p, true);
  dyco_semaphore_destroy(&p.a);
  dyco_semaphore_destroy(&p.b);
  dyco_bench::OpsPerIteration(state, 2);  // two wait/signal hand-offs
}

// --- Mutex -----------------------------------------------------------------

struct MutexRun {
  benchmark::State *state;
  dyco_mutex *m;
  bool stop;
};

void MutexUncontended(void *arg) {
  auto *p = static_cast<MutexRun *>(arg);
  for (auto _ : *p->state) {
    dyco_mutex_lock(p->m, -1);
    dyco_mutex_unlock(p->m);
  }
}

void BM_MutexUncontended(benchmark::State &state) {
  MutexRun p{&state, dyco_mutex_create(0), false};
  RunOne(MutexUncontended, &p);
  dyco_mutex_destroy(&p.m);
}

// Two coroutines that each hold the mutex across a yield: every lock finds
// it held and waits; every unlock hands it to the other.
void MutexOther(void *arg) {
  auto *p = static_cast<MutexRun *>(arg);
  while (!p->stop) {
    dyco_mutex_lock(p->m, -1);
    dyco_coroutine_yield();
    dyco_mutex_unlock(p->m);
  }
}

void MutexDriver(void *arg) {
  auto *p = static_cast<MutexRun *>(arg);
  for (auto _ : *p->state) {
    dyco_mutex_lock(p->m, -1);
    dyco_coroutine_yield();
    dyco_mutex_unlock(p->m);
  }
  p->stop = true;
}

void BM_MutexContended(benchmark::State &state) {
  MutexRun p{&state, dyco_mutex_create(0), false};
  RunPair(MutexOther, MutexDriver, &p, true);
  dyco_mutex_destroy(&p.m);
  dyco_bench::OpsPerIteration(state, 2);  // a lock/unlock by each
}

// --- Across threads: an unbuffered shared channel ping-pong -----------------

void BM_ChanCrossThreadPingPong(benchmark::State &state) {
  dyco_chan *ping = dyco_chan_create(sizeof(long), 0, DYCO_SYNC_SHARED);
  dyco_chan *pong = dyco_chan_create(sizeof(long), 0, DYCO_SYNC_SHARED);
  static ChanPingPong p;
  p = ChanPingPong{&state, ping, pong};
  std::thread other([] {
    int cid = dyco_coroutine_create(ChanPonger, &p);
    dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
    dyco_schedule_run();
  });
  int cid = dyco_coroutine_create(ChanPinger, &p);
  dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  other.join();
  dyco_chan_destroy(&ping);
  dyco_chan_destroy(&pong);
  dyco_bench::OpsPerIteration(state, 2);
}

// The same with each thread kept busy by a coroutine that yields until the
// ping-pong ends: a wake-up goes through the other scheduler's inbox without
// waking its thread from epoll_wait.
std::atomic<bool> busy_stop;

void Busy(void *) {
  while (!busy_stop.load(std::memory_order_relaxed)) {
    dyco_coroutine_yield();
  }
}

void BusyPinger(void *arg) {
  ChanPinger(arg);
  busy_stop = true;
}

void BM_ChanCrossThreadPingPongBusy(benchmark::State &state) {
  dyco_chan *ping = dyco_chan_create(sizeof(long), 0, DYCO_SYNC_SHARED);
  dyco_chan *pong = dyco_chan_create(sizeof(long), 0, DYCO_SYNC_SHARED);
  static ChanPingPong p;
  p = ChanPingPong{&state, ping, pong};
  busy_stop = false;
  std::thread other([] {
    int cid = dyco_coroutine_create(ChanPonger, &p);
    dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
    dyco_coroutine_create(Busy, nullptr);
    dyco_schedule_run();
  });
  int cid = dyco_coroutine_create(BusyPinger, &p);
  dyco_coroutine_setStack(cid, nullptr, kPrivateStack);
  dyco_coroutine_create(Busy, nullptr);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  other.join();
  dyco_chan_destroy(&ping);
  dyco_chan_destroy(&pong);
  dyco_bench::OpsPerIteration(state, 2);
}

constexpr int kReps = 5;
DYCO_BENCH_RAW_SWITCH()->Repetitions(kReps)->ReportAggregatesOnly(true);
DYCO_BENCH_WAITQ_WAKE_UP()->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(dyco_bench::BM_BoostFiberChannel)
    ->Name("BM_BoostFiberChannel")
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_ChanUnbufferedPingPong)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_ChanUnbufferedPingPongSharedStack)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_HalfDuplexPingPong)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_SelectPingPong)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_ChanBufferedThroughput)
    ->Arg(64)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_SemaphoreUncontended)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_SemaphorePingPong)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_MutexUncontended)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_MutexContended)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_ChanCrossThreadPingPong)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();
BENCHMARK(BM_ChanCrossThreadPingPongBusy)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();

}  // namespace

int main(int argc, char **argv) {
  dyco_bench::PrintMachine("sync layer benchmark");
  dyco_bench::InitializeInterleaved(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  const dyco_bench::Row rows[] = {
      {"BM_RawSwitch", "raw switch (context layer)", ""},
      {"BM_WaitqWakeUp", "sched wait-queue wake-up (reference)", ""},
      {"BM_ChanUnbufferedPingPong", "unbuffered chan ping-pong, per message",
       "<= 40 ns", 0, 40},
      {"BM_ChanUnbufferedPingPongSharedStack", "  the same on the shared stack",
       ""},
      {"BM_HalfDuplexPingPong", "half-duplex channel ping-pong, per message",
       ""},
      {"BM_SelectPingPong", "ping-pong through a 2-case select, per message",
       ""},
      {"BM_ChanBufferedThroughput/64", "buffered chan (cap 64), per message",
       ""},
      {"BM_SemaphoreUncontended", "semaphore wait+signal, uncontended", ""},
      {"BM_SemaphorePingPong", "semaphore hand-off between coroutines", ""},
      {"BM_MutexUncontended", "mutex lock+unlock, uncontended", ""},
      {"BM_MutexContended", "mutex lock+unlock, contended (hand-off)", ""},
      {"BM_ChanCrossThreadPingPong/real_time",
       "chan ping-pong across 2 threads, per message", ""},
      {"BM_ChanCrossThreadPingPongBusy/real_time",
       "  the same, both threads busy (no epoll sleep)", ""},
      {"BM_BoostFiberChannel",
       "boost.fiber: unbuffered channel ping-pong, per message", ""},
  };
  dyco_bench::PrintTable(recorder, "sync", rows);
  const double fc = recorder.NsPerOp("BM_BoostFiberChannel");
  if (fc > 0) {
    printf("\n  boost.fiber / dyco: unbuffered channel %.2fx\n",
           fc / recorder.NsPerOp("BM_ChanUnbufferedPingPong"));
  }
  benchmark::Shutdown();
  return 0;
}
