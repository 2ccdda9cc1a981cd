// dyco — context layer benchmark: ns per switch for dyco's assembly switch,
// its ucontext fallback, glibc's swapcontext and boost.context's jump_fcontext.
#include <stdio.h>
#include <ucontext.h>

#include <boost/context/detail/fcontext.hpp>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"

extern "C" {
#include "context/context.h"
#include "context/internal/switch.h"
}

namespace {

namespace bctx = boost::context::detail;

constexpr size_t kStack = 64 * 1024;

// Each benchmark iteration is a round trip: two switches.
void CountSwitches(benchmark::State &state) {
  dyco_bench::OpsPerIteration(state, 2);
}

// dyco's public switch (the assembly one unless --config=ucontext).
dyco_context pub_main, pub_ctx;
void PublicBody(void *) {
  for (;;) {
    dyco_context_switch(&pub_ctx, &pub_main, nullptr);
  }
}
void BM_DycoSwitch(benchmark::State &state) {
  std::vector<char> stack(kStack);
  dyco_context_make(&pub_ctx, stack.data(), stack.size(), PublicBody, nullptr);
  for (auto _ : state) {
    dyco_context_switch(&pub_main, &pub_ctx, nullptr);
  }
  CountSwitches(state);
}

// The same switch leaving with `ret`: slower in this ping-pong, whose two
// sides switch from different places (see docs/context.md).
void *sp_main, *sp_ctx;
void SpBody(void *) {
  for (;;) {
    dyco_context_switch_sp(&sp_ctx, &sp_main, nullptr);
  }
}
void BM_DycoSwitchSp(benchmark::State &state) {
  std::vector<char> stack(kStack);
  dyco_context made{};
  dyco_context_make(&made, stack.data(), stack.size(), SpBody, nullptr);
  sp_ctx = made.sp;
  for (auto _ : state) {
    dyco_context_switch_sp(&sp_main, &sp_ctx, nullptr);
  }
  CountSwitches(state);
}

// The ucontext fallback, called directly whatever the build chose.
dyco_context uc_main, uc_ctx;
void UcBody(void *) {
  for (;;) {
    dyco__context_switch_uc(&uc_ctx, &uc_main, nullptr);
  }
}
void BM_DycoUcontextSwitch(benchmark::State &state) {
  std::vector<char> stack(kStack);
  uc_ctx = dyco_context{};
  uc_ctx.stack = stack.data();
  uc_ctx.stack_size = stack.size();
  dyco__context_make_uc(&uc_ctx, stack.data() + stack.size(), UcBody, nullptr);
  for (auto _ : state) {
    dyco__context_switch_uc(&uc_main, &uc_ctx, nullptr);
  }
  CountSwitches(state);
}

// glibc's swapcontext, raw.
ucontext_t sc_main, sc_ctx;
void SwapBody() {
  for (;;) {
    swapcontext(&sc_ctx, &sc_main);
  }
}
void BM_GlibcSwapcontext(benchmark::State &state) {
  std::vector<char> stack(kStack);
  getcontext(&sc_ctx);
  sc_ctx.uc_stack.ss_sp = stack.data();
  sc_ctx.uc_stack.ss_size = stack.size();
  sc_ctx.uc_link = nullptr;
  makecontext(&sc_ctx, SwapBody, 0);
  for (auto _ : state) {
    swapcontext(&sc_main, &sc_ctx);
  }
  CountSwitches(state);
}

// boost.context's jump_fcontext, the fastest widely used switch.
void BoostBody(bctx::transfer_t t) {
  for (;;) {
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
}
void BM_BoostJumpFcontext(benchmark::State &state) {
  std::vector<char> stack(kStack);
  bctx::fcontext_t ctx =
      bctx::make_fcontext(stack.data() + stack.size(), stack.size(), BoostBody);
  bctx::transfer_t t = bctx::jump_fcontext(ctx, nullptr);
  for (auto _ : state) {
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
  CountSwitches(state);
}

// Each figure is the median of 9 repetitions, interleaved at random.
constexpr int kReps = 9;
BENCHMARK(BM_DycoSwitch)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_DycoSwitchSp)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_DycoUcontextSwitch)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_GlibcSwapcontext)->Repetitions(kReps)->ReportAggregatesOnly(true);
BENCHMARK(BM_BoostJumpFcontext)->Repetitions(kReps)->ReportAggregatesOnly(true);

}  // namespace

int main(int argc, char **argv) {
  dyco_bench::PrintMachine("context layer benchmark");
  dyco_bench::InitializeInterleaved(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  // Per switch (one way), each to boost.context's jump_fcontext, linked
  // the same way (statically, called directly).
  auto boost = [](const char *name, const char *label, const char *target,
                  double max_ratio) {
    dyco_bench::Row r{name, label, target, max_ratio};
    r.baseline = "BM_BoostJumpFcontext";
    r.baseline_label = "boost";
    return r;
  };
  const dyco_bench::Row rows[] = {
      boost("BM_DycoSwitch", "dyco_context_switch", "<= 1.0x boost", 1.0),
      boost("BM_DycoSwitchSp", "dyco_context_switch_sp (ret)", "<= 1.0x boost",
            1.0),
      boost("BM_DycoUcontextSwitch", "dyco ucontext fallback", "", 0),
      boost("BM_GlibcSwapcontext", "glibc swapcontext", "", 0),
      boost("BM_BoostJumpFcontext", "boost jump_fcontext", "", 0),
  };
  dyco_bench::PrintTable(recorder, "context", rows);
  benchmark::Shutdown();
  return 0;
}
