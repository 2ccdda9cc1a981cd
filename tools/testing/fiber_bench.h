// dyco — benchmarks only: boost.fiber (Debian's libboost-fiber-dev), the peer
// baseline for the sched and sync benchmarks. The same three workloads as
// dyco's, written the way boost.fiber's documentation does them, on its
// default round-robin scheduler: yield among n ready fibers, create + run
// + end of an empty fiber (on a pooled stack, as dyco's pool), and an
// unbuffered channel ping-pong.
#ifndef DYCO_TOOLS_TESTING_FIBER_BENCH_H_
#define DYCO_TOOLS_TESTING_FIBER_BENCH_H_

#include <boost/fiber/all.hpp>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"

namespace dyco_bench {

constexpr size_t kFiberStack = 16 * 1024;

// Yield: n fibers; the driver is one of them, each of its iterations a
// round in which every fiber yields once (as BM_YieldPrivateStacks).
inline void BM_BoostFiberYield(benchmark::State &state) {
  const int n = static_cast<int>(state.range(0));
  boost::fibers::pooled_fixedsize_stack stacks(kFiberStack);
  bool stop = false;
  std::vector<boost::fibers::fiber> fibers;
  fibers.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n - 1; ++i) {
    fibers.emplace_back(std::allocator_arg, stacks, [&stop] {
      while (!stop) {
        boost::this_fiber::yield();
      }
    });
  }
  fibers.emplace_back(std::allocator_arg, stacks, [&state, &stop] {
    for (auto _ : state) {
      boost::this_fiber::yield();
    }
    stop = true;
  });
  for (auto &f : fibers) {
    f.join();
  }
  OpsPerIteration(state, n);
}

// Create + run + end of an empty fiber, in batches of 64 created one after
// the other and left to run (as BM_SpawnFromPool).
inline void BM_BoostFiberSpawn(benchmark::State &state) {
  constexpr int kBatch = 64;
  boost::fibers::pooled_fixedsize_stack stacks(kFiberStack);
  boost::fibers::fiber driver(std::allocator_arg, stacks, [&state, &stacks] {
    while (state.KeepRunningBatch(kBatch)) {
      for (int i = 0; i < kBatch; ++i) {
        boost::fibers::fiber(std::allocator_arg, stacks, [] {}).detach();
      }
      boost::this_fiber::yield();
    }
  });
  driver.join();
  // Let the last batch end before the stacks' pool goes.
  boost::this_fiber::yield();
}

// Unbuffered channel ping-pong between two fibers, per message (as
// BM_ChanUnbufferedPingPong).
inline void BM_BoostFiberChannel(benchmark::State &state) {
  boost::fibers::unbuffered_channel<long> ping, pong;
  boost::fibers::pooled_fixedsize_stack stacks(kFiberStack);
  boost::fibers::fiber ponger(std::allocator_arg, stacks, [&] {
    long v;
    while (ping.pop(v) == boost::fibers::channel_op_status::success) {
      pong.push(v + 1);
    }
  });
  boost::fibers::fiber pinger(std::allocator_arg, stacks, [&] {
    long v = 0;
    for (auto _ : state) {
      ping.push(v);
      pong.pop(v);
    }
    benchmark::DoNotOptimize(v);
    ping.close();
  });
  pinger.join();
  ponger.join();
  OpsPerIteration(state, 2);  // two messages per round trip
}

}  // namespace dyco_bench

#endif  // DYCO_TOOLS_TESTING_FIBER_BENCH_H_
