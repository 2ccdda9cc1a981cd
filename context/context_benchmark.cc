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

BENCHMARK(BM_DycoSwitch);
BENCHMARK(BM_DycoSwitchSp);
BENCHMARK(BM_DycoUcontextSwitch);
BENCHMARK(BM_GlibcSwapcontext);
BENCHMARK(BM_BoostJumpFcontext);

}  // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  printf("\nswitch (%s build)         ns/switch   vs boost jump_fcontext\n",
         dyco_context_implementation());
  const double boost = recorder.NsPerOp("BM_BoostJumpFcontext");
  const char *rows[][2] = {
      {"BM_DycoSwitch", "dyco_context_switch"},
      {"BM_DycoSwitchSp", "dyco_context_switch_sp (ret)"},
      {"BM_DycoUcontextSwitch", "dyco ucontext fallback"},
      {"BM_GlibcSwapcontext", "glibc swapcontext"},
      {"BM_BoostJumpFcontext", "boost jump_fcontext"},
  };
  for (auto &row : rows) {
    const double ns = recorder.NsPerOp(row[0]);
    printf("  %-28s %9.2f   %6.2fx\n", row[1], ns, boost > 0 ? ns / boost : 0);
  }
  benchmark::Shutdown();
  return 0;
}
