// dyco — context layer benchmark: ns per switch for dyco's assembly switch,
// its ucontext fallback, glibc's swapcontext and boost.context's jump_fcontext.
#include <fenv.h>
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

// --- The floating-point state of the two sides -----------------------------
//
// A switch keeps each side's floating-point control state (MXCSR and the x87
// control word on x86). The cases, each measured with dyco's switch and with
// boost.context's:
//   kAlike:       both sides have the same MXCSR, status flags included.
//   kFlagsDiffer: the context cleared its status flags when it started,
//                 while the main side's "precision" flag is set (it did an
//                 inexact division, as any program doing floating-point
//                 arithmetic soon does): the two sides' saved MXCSR differ
//                 in a flag the ABI makes caller-saved, which a switch need
//                 not restore.
//   kModeDiffers: the context rounds upward, the main side to nearest: the
//                 two sides' control state differs and every switch must
//                 load the other side's.
// The main side sets its flags before it makes the context, which starts
// with its maker's MXCSR. They cannot be cleared on the main side: the
// benchmark library's own arithmetic when the timed loop starts sets the
// precision flag again, and which side's flags then differ would depend on
// it.
enum FpCase { kAlike, kFlagsDiffer, kModeDiffers };

volatile double fp_one = 1.0, fp_sink;

// What the main side does before it makes the context.
void MainFpStart() { fp_sink = fp_one / 3.0; }

// What the context does once, when it starts.
void ContextFpStart(FpCase c) {
  if (c == kFlagsDiffer) {
    feclearexcept(FE_ALL_EXCEPT);
  } else if (c == kModeDiffers) {
    fesetround(FE_UPWARD);
  }
}

// --- dyco_context_switch, two contexts ping-ponging -------------------------

// dyco's public switch (the assembly one unless --config=ucontext).
dyco_context pub_main, pub_ctx;
template <FpCase kFp>
void PublicBody(void *) {
  ContextFpStart(kFp);
  for (;;) {
    dyco_context_switch(&pub_ctx, &pub_main, nullptr);
  }
}
template <FpCase kFp>
void BM_DycoSwitchFp(benchmark::State &state) {
  std::vector<char> stack(kStack);
  MainFpStart();
  dyco_context_make(&pub_ctx, stack.data(), stack.size(), PublicBody<kFp>,
                    nullptr);
  for (auto _ : state) {
    dyco_context_switch(&pub_main, &pub_ctx, nullptr);
  }
  CountSwitches(state);
}
void BM_DycoSwitch(benchmark::State &state) { BM_DycoSwitchFp<kAlike>(state); }
void BM_DycoSwitchFlagsDiffer(benchmark::State &state) {
  BM_DycoSwitchFp<kFlagsDiffer>(state);
}
void BM_DycoSwitchModeDiffers(benchmark::State &state) {
  BM_DycoSwitchFp<kModeDiffers>(state);
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
  MainFpStart();
  dyco_context made{};
  dyco_context_make(&made, stack.data(), stack.size(), SpBody, nullptr);
  sp_ctx = made.sp;
  for (auto _ : state) {
    dyco_context_switch_sp(&sp_main, &sp_ctx, nullptr);
  }
  CountSwitches(state);
}

// --- Two contexts switching from one call site ------------------------------
//
// The pattern dyco_context_switch_sp is made for: both contexts run the same
// code and switch through the same call (as a scheduler's coroutines all
// suspend inside yield), so every `ret` goes where the processor's return
// predictor expects. Each context counts its own iterations; the one that
// sees the end goes back to the main side.

enum SiteSwitch { kJmp, kRet };

struct SameSite {
  dyco_context main{};
  void *sp[2] = {nullptr, nullptr};
  benchmark::State *state = nullptr;
  int finished = 0;
};
SameSite same_site;

template <SiteSwitch kKind>
__attribute__((noinline)) void Hop(void **from, void **to) {
  if (kKind == kJmp) {
    dyco_context_switch(reinterpret_cast<dyco_context *>(from),
                        reinterpret_cast<dyco_context *>(to), nullptr);
  } else {
    dyco_context_switch_sp(from, to, nullptr);
  }
  benchmark::ClobberMemory();
}

template <SiteSwitch kKind>
void SameSiteBody(void *arg) {
  const int me = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  SameSite *p = &same_site;
  for (;;) {
    if (!p->state->KeepRunning()) {
      p->finished = 1;
      Hop<kKind>(&p->sp[me], &p->main.sp);
    }
    Hop<kKind>(&p->sp[me], &p->sp[1 - me]);
  }
}

template <SiteSwitch kKind>
void BM_SameSite(benchmark::State &state) {
  std::vector<char> stacks(2 * kStack);
  same_site = SameSite{};
  same_site.state = &state;
  MainFpStart();
  for (int i = 0; i < 2; i++) {
    dyco_context made{};
    dyco_context_make(&made, stacks.data() + i * kStack, kStack,
                      SameSiteBody<kKind>,
                      reinterpret_cast<void *>(intptr_t{i}));
    same_site.sp[i] = made.sp;
  }
  dyco_context_switch(&same_site.main,
                      reinterpret_cast<dyco_context *>(&same_site.sp[0]),
                      nullptr);
  dyco_bench::OpsPerIteration(state, 1);
}
void BM_DycoSwitchSameSite(benchmark::State &state) {
  BM_SameSite<kJmp>(state);
}
void BM_DycoSwitchSpSameSite(benchmark::State &state) {
  BM_SameSite<kRet>(state);
}

// --- The ucontext fallback and glibc ----------------------------------------

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
  dyco_context_fpmodes modes;
  dyco_context_fpmodes_get(&modes);
  dyco__context_make_uc(&uc_ctx, stack.data() + stack.size(), UcBody, nullptr,
                        &modes);
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

// --- boost.context
// ------------------------------------------------------------

// boost.context's jump_fcontext, the fastest widely used switch. It saves
// and loads MXCSR and the x87 control word at every switch.
template <FpCase kFp>
void BoostBody(bctx::transfer_t t) {
  ContextFpStart(kFp);
  for (;;) {
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
}
template <FpCase kFp>
void BM_BoostFp(benchmark::State &state) {
  std::vector<char> stack(kStack);
  MainFpStart();
  bctx::fcontext_t ctx = bctx::make_fcontext(stack.data() + stack.size(),
                                             stack.size(), BoostBody<kFp>);
  bctx::transfer_t t = bctx::jump_fcontext(ctx, nullptr);
  for (auto _ : state) {
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
  CountSwitches(state);
}
void BM_BoostJumpFcontext(benchmark::State &state) {
  BM_BoostFp<kAlike>(state);
}
void BM_BoostFlagsDiffer(benchmark::State &state) {
  BM_BoostFp<kFlagsDiffer>(state);
}
void BM_BoostModeDiffers(benchmark::State &state) {
  BM_BoostFp<kModeDiffers>(state);
}

// boost's switch in the one-call-site pattern above.
bctx::fcontext_t boost_site_main;
benchmark::State *boost_site_state;
__attribute__((noinline)) bctx::transfer_t BoostHop(bctx::fcontext_t to) {
  bctx::transfer_t t = bctx::jump_fcontext(to, nullptr);
  benchmark::ClobberMemory();
  return t;
}
void BoostSameSiteBody(bctx::transfer_t t) {
  // The first context starts from main and starts the second (whose fctx
  // main passed); the second starts from the first.
  if (t.data != nullptr) {
    boost_site_main = t.fctx;
    t = BoostHop(static_cast<bctx::fcontext_t>(t.data));
  }
  for (;;) {
    if (!boost_site_state->KeepRunning()) {
      BoostHop(boost_site_main);
    }
    t = BoostHop(t.fctx);
  }
}
void BM_BoostSameSite(benchmark::State &state) {
  std::vector<char> stacks(2 * kStack);
  boost_site_state = &state;
  MainFpStart();
  bctx::fcontext_t a =
      bctx::make_fcontext(stacks.data() + kStack, kStack, BoostSameSiteBody);
  bctx::fcontext_t b = bctx::make_fcontext(stacks.data() + 2 * kStack, kStack,
                                           BoostSameSiteBody);
  bctx::jump_fcontext(a, b);
  dyco_bench::OpsPerIteration(state, 1);
}

// Each figure is the median of 9 repetitions, interleaved at random.
constexpr int kReps = 9;
#define DYCO_CONTEXT_BENCH(fn) \
  BENCHMARK(fn)->Repetitions(kReps)->ReportAggregatesOnly(true)
DYCO_CONTEXT_BENCH(BM_DycoSwitch);
DYCO_CONTEXT_BENCH(BM_DycoSwitchFlagsDiffer);
DYCO_CONTEXT_BENCH(BM_DycoSwitchModeDiffers);
DYCO_CONTEXT_BENCH(BM_DycoSwitchSp);
DYCO_CONTEXT_BENCH(BM_DycoSwitchSameSite);
DYCO_CONTEXT_BENCH(BM_DycoSwitchSpSameSite);
DYCO_CONTEXT_BENCH(BM_DycoUcontextSwitch);
DYCO_CONTEXT_BENCH(BM_GlibcSwapcontext);
DYCO_CONTEXT_BENCH(BM_BoostJumpFcontext);
DYCO_CONTEXT_BENCH(BM_BoostFlagsDiffer);
DYCO_CONTEXT_BENCH(BM_BoostModeDiffers);
DYCO_CONTEXT_BENCH(BM_BoostSameSite);

}  // namespace

int main(int argc, char **argv) {
  dyco_bench::PrintMachine("context layer benchmark");
  dyco_bench::InitializeInterleaved(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  // Per switch (one way), each to boost.context's jump_fcontext in the same
  // case, linked the same way (statically, called directly).
  auto row = [](const char *name, const char *label, const char *baseline,
                const char *baseline_label, const char *target,
                double max_ratio) {
    dyco_bench::Row r{name, label, target, max_ratio};
    r.baseline = baseline;
    r.baseline_label = baseline_label;
    return r;
  };
  const char *boost = "BM_BoostJumpFcontext";
  const dyco_bench::Row rows[] = {
      row("BM_DycoSwitch", "dyco_context_switch", boost, "boost",
          "<= 1.0x boost", 1.0),
      row("BM_DycoSwitchFlagsDiffer", "  FP flags differ", "BM_DycoSwitch",
          "dyco, alike", "<= 1.1x alike", 1.1),
      row("BM_DycoSwitchModeDiffers", "  rounding modes differ",
          "BM_BoostModeDiffers", "boost, modes", "<= 1.0x boost", 1.0),
      row("BM_DycoSwitchSp", "dyco_context_switch_sp (ret), ping-pong", boost,
          "boost", "", 0),
      row("BM_DycoSwitchSameSite", "dyco_context_switch, one call site",
          "BM_BoostSameSite", "boost, site", "", 0),
      row("BM_DycoSwitchSpSameSite", "dyco_context_switch_sp, one call site",
          "BM_BoostSameSite", "boost, site", "<= 1.0x boost", 1.0),
      row("BM_DycoUcontextSwitch", "dyco ucontext fallback", boost, "boost", "",
          0),
      row("BM_GlibcSwapcontext", "glibc swapcontext", boost, "boost", "", 0),
      row("BM_BoostJumpFcontext", "boost jump_fcontext", boost, "boost", "", 0),
      row("BM_BoostFlagsDiffer", "  FP flags differ", boost, "boost", "", 0),
      row("BM_BoostModeDiffers", "  rounding modes differ", boost, "boost", "",
          0),
      row("BM_BoostSameSite", "  one call site", boost, "boost", "", 0),
  };
  dyco_bench::PrintTable(recorder, "context", rows);
  benchmark::Shutdown();
  return 0;
}
