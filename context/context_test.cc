// dyco — context layer tests: values passed both ways, many contexts, the
// ABI's callee-saved state across a switch, stack alignment, deep recursion.
#include <errno.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unwind.h>

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

extern "C" {
#include "context/context.h"
#include "context/internal/abi_test_helpers.h"
#include "context/internal/switch.h"
}

namespace {

#if defined(__x86_64__) || defined(__i386__)
// MXCSR without needing -msse on i386.
unsigned GetCsr() {
  unsigned v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return v;
}
void SetCsr(unsigned v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }
#endif

// Under a sanitizer every frame is much larger.
#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
constexpr size_t kStackSize = 256 * 1024;
#else
constexpr size_t kStackSize = 64 * 1024;
#endif

struct Stack {
  explicit Stack(size_t size = kStackSize) : bytes(size) {}
  void *base() { return bytes.data(); }
  size_t size() const { return bytes.size(); }
  std::vector<char> bytes;
};

// --- the switch's entry points ----------------------------------------------

// Every way to switch: the public switch, the stack-pointer-only ones the
// scheduler uses (in builds where they may be used: leaving by `ret`, and
// by a jump for starts and ends), and the one for tools found at run time.
// The tests below that take an Entry run for each.
// kSwitchSpVia: dyco_context_switch_sp_via with a function that only says
// where to go (it passes NULL, never the value).
enum class Entry {
  kSwitch,
  kSwitchSp,
  kSwitchSpJump,
  kSwitchSpVia,
  kSwitchTools
};

std::vector<Entry> AllEntries() {
  std::vector<Entry> all = {Entry::kSwitch};
#if DYCO_CONTEXT_SP_ONLY
  all.push_back(Entry::kSwitchSp);
  all.push_back(Entry::kSwitchSpJump);
  all.push_back(Entry::kSwitchSpVia);
#endif
  all.push_back(Entry::kSwitchTools);
  return all;
}

std::string EntryName(const ::testing::TestParamInfo<Entry> &info) {
  switch (info.param) {
    case Entry::kSwitch:
      return "switch";
    case Entry::kSwitchSp:
      return "switch_sp";
    case Entry::kSwitchSpJump:
      return "switch_sp_jump";
    case Entry::kSwitchSpVia:
      return "switch_sp_via";
    case Entry::kSwitchTools:
      return "switch_tools";
  }
  return "?";
}

// dyco_context_switch_sp_via's function for a plain switch: go to the
// context arg, having run on the scratch stack.
alignas(16) char via_stack[64 * 1024];
int via_calls;
void **ViaTo(void *arg) {
  char here;
  if (&here < via_stack || &here >= via_stack + sizeof via_stack) {
    abort();  // not on the stack it was given
  }
  via_calls++;
  return &static_cast<dyco_context *>(arg)->sp;
}

// Switches from `from` to `to` through the entry point.
void *Switch(Entry e, dyco_context *from, dyco_context *to, void *value) {
  switch (e) {
    case Entry::kSwitch:
      return dyco_context_switch(from, to, value);
    case Entry::kSwitchSp:
      return dyco_context_switch_sp(&from->sp, &to->sp, value);
    case Entry::kSwitchSpJump:
      return dyco_context_switch_sp_jump(&from->sp, &to->sp, value);
    case Entry::kSwitchSpVia:
      return dyco_context_switch_sp_via(&from->sp, via_stack, sizeof via_stack,
                                        ViaTo, to);
    case Entry::kSwitchTools:
      return dyco_context_switch_tools(&from->sp, &to->sp, value, from, to);
  }
  abort();
}

class EntryTest : public ::testing::TestWithParam<Entry> {};

// --- values both ways -----------------------------------------------------

struct PingPong {
  dyco_context main{};
  dyco_context ctx{};
  std::vector<intptr_t> seen_by_ctx;
};

void PingPongBody(void *arg) {
  auto *p = static_cast<PingPong *>(arg);
  intptr_t v = 0;
  for (;;) {
    // Answer each value with its double; remember what arrived.
    intptr_t got = reinterpret_cast<intptr_t>(
        dyco_context_switch(&p->ctx, &p->main, reinterpret_cast<void *>(v)));
    p->seen_by_ctx.push_back(got);
    v = got * 2;
  }
}

TEST(ContextTest, PassesValuesBothWays) {
  PingPong p;
  Stack stack;
  ASSERT_EQ(0, dyco_context_make(&p.ctx, stack.base(), stack.size(),
                                 PingPongBody, &p));
  // The first switch starts the body, which answers 0 at once.
  EXPECT_EQ(nullptr, dyco_context_switch(&p.main, &p.ctx, nullptr));
  for (intptr_t i = 1; i <= 1000; ++i) {
    void *answer =
        dyco_context_switch(&p.main, &p.ctx, reinterpret_cast<void *>(i));
    ASSERT_EQ(i * 2, reinterpret_cast<intptr_t>(answer));
  }
  ASSERT_EQ(1000u, p.seen_by_ctx.size());
  for (intptr_t i = 1; i <= 1000; ++i) {
    EXPECT_EQ(i, p.seen_by_ctx[i - 1]);
  }
  dyco_context_destroy(&p.ctx);
}

// --- the stack-pointer-only switch ------------------------------------------

#if DYCO_CONTEXT_SP_ONLY
struct SpOnly {
  void *main_sp = nullptr;
  void *ctx_sp = nullptr;
  intptr_t sum = 0;
};

void SpOnlyBody(void *arg) {
  auto *p = static_cast<SpOnly *>(arg);
  for (;;) {
    auto v = reinterpret_cast<intptr_t>(dyco_context_switch_sp(
        &p->ctx_sp, &p->main_sp, reinterpret_cast<void *>(p->sum)));
    p->sum += v;
  }
}

TEST(ContextTest, SwitchSpKeepsOnlyTheStackPointer) {
  SpOnly p;
  Stack stack;
  dyco_context made{};
  ASSERT_EQ(
      0, dyco_context_make(&made, stack.base(), stack.size(), SpOnlyBody, &p));
  p.ctx_sp = made.sp;
  EXPECT_EQ(0, reinterpret_cast<intptr_t>(
                   dyco_context_switch_sp(&p.main_sp, &p.ctx_sp, nullptr)));
  intptr_t expect = 0;
  for (intptr_t i = 1; i <= 100; ++i) {
    expect += i;
    auto got = reinterpret_cast<intptr_t>(dyco_context_switch_sp(
        &p.main_sp, &p.ctx_sp, reinterpret_cast<void *>(i)));
    ASSERT_EQ(expect, got);
  }
  dyco_context_destroy(&made);
}
#endif

// --- many contexts in a ring -------------------------------------------

struct Ring {
  dyco_context main{};
  std::vector<dyco_context> ctx;
  std::vector<int> visits;
  std::vector<int> order;  // which context ran, in turn (first rounds only)
  int rounds = 0;
};

struct RingMember {
  Ring *ring;
  size_t index;
};

void RingBody(void *arg) {
  auto *m = static_cast<RingMember *>(arg);
  Ring *r = m->ring;
  const size_t n = r->ctx.size();
  for (int round = 0; round < r->rounds; ++round) {
    r->visits[m->index]++;
    if (r->order.size() < 2 * n) {
      r->order.push_back(static_cast<int>(m->index));
    }
    // Each context hands over to the next; the last one of a round hands
    // over to the first, and after the last round to main.
    dyco_context *next;
    if (m->index + 1 < n) {
      next = &r->ctx[m->index + 1];
    } else if (round + 1 < r->rounds) {
      next = &r->ctx[0];
    } else {
      next = &r->main;
    }
    dyco_context_switch(&r->ctx[m->index], next, nullptr);
  }
  // Every member ends parked in its last switch: the test frees the stacks
  // without resuming them.
  abort();
}

TEST(ContextTest, TenThousandContextsInARing) {
#if defined(DYCO_TSAN)
  // ThreadSanitizer counts each context as a thread and stops at 8128.
  constexpr size_t kCount = 4000;
#else
  constexpr size_t kCount = 10000;
#endif
  constexpr size_t kRingStack = 16 * 1024;
  Ring ring;
  ring.rounds = 3;
  ring.ctx.resize(kCount);
  ring.visits.assign(kCount, 0);
  std::vector<RingMember> members(kCount);
  std::vector<char> stacks(kCount * kRingStack);
  for (size_t i = 0; i < kCount; ++i) {
    members[i] = RingMember{&ring, i};
    ASSERT_EQ(0, dyco_context_make(&ring.ctx[i], &stacks[i * kRingStack],
                                   kRingStack, RingBody, &members[i]));
  }
  dyco_context_switch(&ring.main, &ring.ctx[0], nullptr);
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(3, ring.visits[i]) << i;
  }
  ASSERT_EQ(2 * kCount, ring.order.size());
  for (size_t i = 0; i < 2 * kCount; ++i) {
    ASSERT_EQ(static_cast<int>(i % kCount), ring.order[i]);
  }
  for (auto &c : ring.ctx) {
    dyco_context_destroy(&c);
  }
}

// --- callee-saved registers ------------------------------------------------

#if defined(DYCO_TEST_NGPR)
// The switch through the ABI harness: callee-saved registers from *in,
// caller-saved ones filled with garbage, callee-saved ones found after the
// switch returns into *out.
void *AbiSwitch(Entry e, const dyco_test_regs *in, dyco_test_regs *out,
                dyco_context *from, dyco_context *to, void *value) {
  void *args[5] = {from, to, value, nullptr, nullptr};
  const void *fn = nullptr;
  switch (e) {
    case Entry::kSwitch:
      fn = reinterpret_cast<const void *>(&dyco_context_switch);
      break;
    case Entry::kSwitchSp:
      fn = reinterpret_cast<const void *>(&dyco_context_switch_sp);
      args[0] = &from->sp;
      args[1] = &to->sp;
      break;
    case Entry::kSwitchSpJump:
      fn = reinterpret_cast<const void *>(&dyco_context_switch_sp_jump);
      args[0] = &from->sp;
      args[1] = &to->sp;
      break;
    case Entry::kSwitchSpVia:
      fn = reinterpret_cast<const void *>(&dyco_context_switch_sp_via);
      args[0] = &from->sp;
      args[1] = via_stack;
      args[2] = reinterpret_cast<void *>(sizeof via_stack);
      args[3] = reinterpret_cast<void *>(&ViaTo);
      args[4] = to;
      break;
    case Entry::kSwitchTools:
      fn = reinterpret_cast<const void *>(&dyco_context_switch_tools);
      args[0] = &from->sp;
      args[1] = &to->sp;
      args[3] = from;
      args[4] = to;
      break;
  }
  return dyco_test_abi_call(in, out, fn, args);
}

struct AbiCheck {
  Entry entry;
  dyco_context main{};
  dyco_context other{};
  dyco_test_regs other_in{};
  dyco_test_regs other_out{};
  int other_rounds = 0;
  bool other_ok = true;
};

dyco_test_regs RandomRegs(std::mt19937_64 &rng) {
  dyco_test_regs r;
  memset(&r, 0, sizeof r);
  for (auto &g : r.gpr) {
    g = static_cast<uintptr_t>(rng());
  }
  for (auto &f : r.fpr) {
    f = rng();
  }
  return r;
}

bool SameRegs(const dyco_test_regs &a, const dyco_test_regs &b) {
  for (int i = 0; i < DYCO_TEST_NGPR; ++i) {
    if (a.gpr[i] != b.gpr[i]) {
      return false;
    }
  }
  for (int i = 0; i < DYCO_TEST_NFPR; ++i) {
    if (a.fpr[i] != b.fpr[i]) {
      return false;
    }
  }
  return true;
}

void AbiOther(void *arg) {
  auto *c = static_cast<AbiCheck *>(arg);
  std::mt19937_64 rng(7);
  for (;;) {
    // Switch back to main with other register values of our own, and check
    // they are all there when main switches back here.
    c->other_in = RandomRegs(rng);
    AbiSwitch(c->entry, &c->other_in, &c->other_out, &c->other, &c->main,
              nullptr);
    if (!SameRegs(c->other_in, c->other_out)) {
      c->other_ok = false;
    }
    c->other_rounds++;
  }
}

// Both sides keep every callee-saved register across the switch, whatever
// the caller-saved ones held at the call, and the value passed arrives.
TEST_P(EntryTest, CalleeSavedRegistersSurviveASwitch) {
  AbiCheck c;
  c.entry = GetParam();
  Stack stack;
  ASSERT_EQ(
      0, dyco_context_make(&c.other, stack.base(), stack.size(), AbiOther, &c));
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    dyco_test_regs in = RandomRegs(rng);
    dyco_test_regs out;
    memset(&out, 0, sizeof out);
    void *got = AbiSwitch(c.entry, &in, &out, &c.main, &c.other,
                          reinterpret_cast<void *>(0x5a));
    EXPECT_EQ(nullptr, got);
    ASSERT_TRUE(SameRegs(in, out)) << "round " << round;
    // Values the other side loaded must not be what we got back.
    if (round > 0) {
      ASSERT_FALSE(SameRegs(in, c.other_in));
    }
  }
  EXPECT_EQ(199, c.other_rounds);
  EXPECT_TRUE(c.other_ok);
  dyco_context_destroy(&c.other);
}
#endif

// --- floating-point control state ----------------------------------------

struct FpCheck {
  Entry entry;
  dyco_context main{};
  dyco_context other{};
  int other_round_seen = -1;
  bool other_ok = true;
#if defined(__x86_64__) || defined(__i386__)
  unsigned other_csr_bits = 0;
#endif
};

volatile double fp_one = 1.0, fp_sink;

void FpOther(void *arg) {
  auto *c = static_cast<FpCheck *>(arg);
  // A new context starts with the modes its maker had: upward.
  if (fegetround() != FE_UPWARD) {
    c->other_ok = false;
  }
  fesetround(FE_TOWARDZERO);
#if defined(__x86_64__) || defined(__i386__)
  // Flush-to-zero and denormals-are-zero, in MXCSR only.
  SetCsr(GetCsr() | 0x8040);
  c->other_csr_bits = GetCsr() & 0xffc0;
#endif
  for (int round = 0;; ++round) {
    // An inexact division: this side's status flags differ from main's,
    // which clears its own every round.
    fp_sink = fp_one / 3.0;
    Switch(c->entry, &c->other, &c->main, nullptr);
    if (fegetround() != FE_TOWARDZERO) {
      c->other_ok = false;
    }
#if defined(__x86_64__) || defined(__i386__)
    if ((GetCsr() & 0xffc0) != c->other_csr_bits) {
      c->other_ok = false;
    }
#endif
    c->other_round_seen = round;
  }
}

// The x86_64 switch compares MXCSR before loading it, or (AMD, Hygon) loads
// it at every switch: each test below runs under both policies, whichever
// CPU runs it, and finds the one CPUID picked in place afterwards.
class MxcsrPolicies {
 public:
#if defined(__x86_64__)
  static constexpr int kCount = 2;
  explicit MxcsrPolicies(int i) : saved_(dyco__context_mxcsr_load_always) {
    dyco__context_mxcsr_load_always = static_cast<unsigned char>(i);
  }
  ~MxcsrPolicies() { dyco__context_mxcsr_load_always = saved_; }

 private:
  unsigned char saved_;
#else
  static constexpr int kCount = 1;
  explicit MxcsrPolicies(int) {}
#endif
};

void FpControlStateSurvives(Entry entry);

// A context that changed its rounding mode (and, on x86, flush-to-zero)
// keeps it across switches, and the other side keeps its own, whether the
// two sides' status flags differ or not.
TEST_P(EntryTest, FloatingPointControlStateSurvivesASwitch) {
  for (int policy = 0; policy < MxcsrPolicies::kCount; ++policy) {
    SCOPED_TRACE(policy);
    MxcsrPolicies p(policy);
    FpControlStateSurvives(GetParam());
  }
}

void FpControlStateSurvives(Entry entry) {
  const int saved = fegetround();
#if defined(__x86_64__) || defined(__i386__)
  const unsigned saved_csr = GetCsr();
#endif
  ASSERT_EQ(0, fesetround(FE_UPWARD));
  FpCheck c;
  c.entry = entry;
  Stack stack;
  ASSERT_EQ(
      0, dyco_context_make(&c.other, stack.base(), stack.size(), FpOther, &c));
  for (int round = 0; round < 10; ++round) {
    // Main changes its own mode between rounds; the other side keeps its
    // own, and main finds its own again after every round trip.
    const int mine = round % 2 ? FE_DOWNWARD : FE_UPWARD;
    ASSERT_EQ(0, fesetround(mine));
    feclearexcept(FE_ALL_EXCEPT);
    Switch(c.entry, &c.main, &c.other, nullptr);
    EXPECT_EQ(mine, fegetround()) << round;
#if defined(__x86_64__) || defined(__i386__)
    EXPECT_EQ(0u, GetCsr() & 0x8040) << round;
    EXPECT_EQ(mine == FE_UPWARD ? 0x4000u : 0x2000u, GetCsr() & 0x6000)
        << round;
#endif
  }
  Switch(c.entry, &c.main, &c.other, nullptr);
  EXPECT_EQ(9, c.other_round_seen);
  EXPECT_TRUE(c.other_ok);
  fesetround(saved);
#if defined(__x86_64__) || defined(__i386__)
  SetCsr(saved_csr);
#endif
  dyco_context_destroy(&c.other);
}

// Each control bit on its own: the switch compares the two sides' control
// state and loads the other's only when it differs, so a bit left out of
// the comparison would leak from one context into the other.
#if defined(__x86_64__) || defined(__i386__)
// x87 control word: the exception masks, precision and rounding control,
// infinity control.
unsigned GetCw() {
  uint16_t v;
  __asm__ volatile("fnstcw %0" : "=m"(v));
  return v;
}
void SetCw(unsigned v) {
  uint16_t w = static_cast<uint16_t>(v);
  __asm__ volatile("fldcw %0" : : "m"(w));
}
// MXCSR: denormals are zero, the exception masks, rounding, flush to zero.
constexpr unsigned kCsrControl = 0xffc0;
constexpr int kCsrBits[] = {6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr int kCwBits[] = {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12};
#elif defined(__arm__)
unsigned GetCsr() {
  unsigned v;
  __asm__ volatile("vmrs %0, fpscr" : "=r"(v));
  return v;
}
void SetCsr(unsigned v) { __asm__ volatile("vmsr fpscr, %0" : : "r"(v)); }
// FPSCR's rounding mode, flush to zero, default NaN, alternative
// half-precision (its trap enables read as zero on most cores, and its
// Len and Stride must stay zero).
constexpr unsigned kCsrControl = 0x07ff9f00;
constexpr int kCsrBits[] = {22, 23, 24, 25, 26};
#elif defined(__aarch64__)
unsigned GetCsr() {
  uint64_t v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return static_cast<unsigned>(v);
}
void SetCsr(unsigned v) {
  uint64_t w = v;
  __asm__ volatile("msr fpcr, %0" : : "r"(w));
}
// FPCR has no status bits: the rounding mode, flush to zero, default NaN,
// alternative half-precision.
constexpr unsigned kCsrControl = 0xffffffff;
constexpr int kCsrBits[] = {22, 23, 24, 25, 26};
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(__arm__) || \
    defined(__aarch64__)
struct BitCheck {
  Entry entry;
  dyco_context main{};
  dyco_context other{};
  bool x87 = false;  // the bit is in the x87 control word, not MXCSR
  int bit = 0;
  unsigned other_value = 0;  // the other side's control state, as read back
  bool other_ok = true;
};

unsigned ControlState(bool x87) {
#if defined(__x86_64__) || defined(__i386__)
  if (x87) {
    return GetCw();
  }
#else
  (void)x87;
#endif
  return GetCsr() & kCsrControl;
}

void BitOther(void *arg) {
  auto *c = static_cast<BitCheck *>(arg);
  // Flip the bit, and keep what the processor (or emulator: valgrind keeps
  // only MXCSR's rounding mode) made of it.
#if defined(__x86_64__) || defined(__i386__)
  if (c->x87) {
    SetCw(GetCw() ^ (1u << c->bit));
  } else
#endif
  {
    SetCsr(GetCsr() ^ (1u << c->bit));
  }
  c->other_value = ControlState(c->x87);
  for (;;) {
    Switch(c->entry, &c->other, &c->main, nullptr);
    if (ControlState(c->x87) != c->other_value) {
      c->other_ok = false;
    }
  }
}

void CheckEveryBit(Entry entry, bool x87, const int *bits, size_t n) {
  // No status flag pending while an exception is unmasked.
  feclearexcept(FE_ALL_EXCEPT);
  const unsigned mine = ControlState(x87);
  for (size_t i = 0; i < n; ++i) {
    BitCheck c;
    c.entry = entry;
    c.x87 = x87;
    c.bit = bits[i];
    Stack stack;
    ASSERT_EQ(0, dyco_context_make(&c.other, stack.base(), stack.size(),
                                   BitOther, &c));
    for (int round = 0; round < 3; ++round) {
      Switch(entry, &c.main, &c.other, nullptr);
      ASSERT_EQ(mine, ControlState(x87))
          << (x87 ? "x87 " : "") << "bit " << c.bit << ", round " << round;
    }
    EXPECT_TRUE(c.other_ok) << (x87 ? "x87 " : "") << "bit " << c.bit;
    dyco_context_destroy(&c.other);
  }
}

TEST_P(EntryTest, EveryFloatingPointControlBitIsKept) {
  for (int policy = 0; policy < MxcsrPolicies::kCount; ++policy) {
    SCOPED_TRACE(policy);
    MxcsrPolicies p(policy);
    CheckEveryBit(GetParam(), false, kCsrBits,
                  sizeof kCsrBits / sizeof kCsrBits[0]);
#if defined(__x86_64__) || defined(__i386__)
    CheckEveryBit(GetParam(), true, kCwBits,
                  sizeof kCwBits / sizeof kCwBits[0]);
#endif
  }
}

// dyco_context_make_modes: a context made on someone else's behalf (a
// scheduler makes a coroutine's context at its first run) starts with the
// modes it is given, not with its maker's; dyco_context_make's starts with
// its maker's.
struct ModesSeen {
  Entry entry;
  dyco_context main{};
  dyco_context other{};
  int round = -1;
  unsigned csr = 0;
  unsigned cw = 0;
};

void ModesBody(void *arg) {
  auto *c = static_cast<ModesSeen *>(arg);
  c->round = fegetround();
  c->csr = GetCsr() & kCsrControl;
#if defined(__x86_64__) || defined(__i386__)
  c->cw = GetCw();
#endif
  for (;;) {
    Switch(c->entry, &c->other, &c->main, nullptr);
  }
}

#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFlushToZero = 0x8000;
#else
constexpr unsigned kFlushToZero = 1u << 24;
#endif

void StartsWithGivenModes(Entry entry) {
  const int saved = fegetround();
  const unsigned saved_csr = GetCsr();
#if defined(__x86_64__) || defined(__i386__)
  const unsigned saved_cw = GetCw();
#endif
  // The modes to give: downward, flush-to-zero (and on x86 the x87
  // precision set to single, a bit of the control word alone).
  ASSERT_EQ(0, fesetround(FE_DOWNWARD));
  SetCsr(GetCsr() | kFlushToZero);
#if defined(__x86_64__) || defined(__i386__)
  SetCw(GetCw() & ~0x300u);
  const unsigned given_cw = GetCw();
#endif
  const unsigned given_csr = GetCsr() & kCsrControl;
  dyco_context_fpmodes given;
  dyco_context_fpmodes_get(&given);
  // The maker's own: upward, no flush-to-zero, the x87 precision as it was.
  SetCsr(saved_csr);
#if defined(__x86_64__) || defined(__i386__)
  SetCw(saved_cw);
#endif
  ASSERT_EQ(0, fesetround(FE_UPWARD));
  const unsigned maker_csr = GetCsr() & kCsrControl;

  ModesSeen with;
  with.entry = entry;
  Stack stack;
  ASSERT_EQ(0, dyco_context_make_modes(&with.other, stack.base(), stack.size(),
                                       ModesBody, &with, &given));
  Switch(entry, &with.main, &with.other, nullptr);
  EXPECT_EQ(FE_DOWNWARD, with.round);
  // What the processor kept of them (valgrind keeps MXCSR's rounding
  // only, not flush-to-zero).
  EXPECT_EQ(given_csr, with.csr);
#if defined(__x86_64__) || defined(__i386__)
  EXPECT_EQ(given_cw, with.cw);
#endif
  // The maker finds its own again.
  EXPECT_EQ(FE_UPWARD, fegetround());
  EXPECT_EQ(maker_csr, GetCsr() & kCsrControl);

  ModesSeen plain;
  plain.entry = entry;
  Stack stack2;
  ASSERT_EQ(0, dyco_context_make(&plain.other, stack2.base(), stack2.size(),
                                 ModesBody, &plain));
  Switch(entry, &plain.main, &plain.other, nullptr);
  EXPECT_EQ(FE_UPWARD, plain.round);
  EXPECT_EQ(maker_csr, plain.csr);

  SetCsr(saved_csr);
#if defined(__x86_64__) || defined(__i386__)
  SetCw(saved_cw);
#endif
  fesetround(saved);
  dyco_context_destroy(&with.other);
  dyco_context_destroy(&plain.other);
}

TEST_P(EntryTest, AContextMadeWithModesStartsWithThemNotItsMakers) {
  for (int policy = 0; policy < MxcsrPolicies::kCount; ++policy) {
    SCOPED_TRACE(policy);
    MxcsrPolicies p(policy);
    StartsWithGivenModes(GetParam());
  }
}
#endif

// --- stack alignment --------------------------------------------------------

struct AlignCheck {
  Entry entry;
  dyco_context main{};
  dyco_context ctx{};
  uintptr_t sp = 1;
  bool sse_ran = false;
};

#if defined(__x86_64__) || defined(__i386__)
__attribute__((noinline, target("sse"))) void AlignedSseStore(AlignCheck *a) {
  // movaps faults on a misaligned address; the compiler puts `buf` at a
  // 16-byte boundary only if the stack it was given was aligned.
  alignas(16) float buf[4];
  _mm_store_ps(buf, _mm_set1_ps(1.5f));
  a->sse_ran = buf[3] == 1.5f;
}
#endif

void AlignBody(void *arg) {
  auto *a = static_cast<AlignCheck *>(arg);
  a->sp = dyco_test_caller_sp();
#if defined(__x86_64__) || defined(__i386__)
  AlignedSseStore(a);
#endif
  Switch(a->entry, &a->ctx, &a->main, nullptr);
  abort();
}

// A new context's function starts with the stack alignment its ABI
// promises, whichever entry point started it.
TEST_P(EntryTest, NewContextStackIsAlignedAsTheAbiRequires) {
  // Try every misalignment of the stack we hand over: make must fix it.
  for (size_t skew = 0; skew < 16; ++skew) {
    AlignCheck a;
    a.entry = GetParam();
    Stack stack;
    ASSERT_EQ(0, dyco_context_make(&a.ctx, stack.bytes.data() + skew,
                                   stack.size() - 32 + skew, AlignBody, &a));
    Switch(a.entry, &a.main, &a.ctx, nullptr);
#if defined(__arm__)
    const uintptr_t kAbiAlign = 8;
#else
    const uintptr_t kAbiAlign = 16;
#endif
    EXPECT_EQ(0u, a.sp % kAbiAlign) << "skew " << skew;
    EXPECT_GE(a.sp, reinterpret_cast<uintptr_t>(stack.bytes.data()));
    EXPECT_LT(a.sp,
              reinterpret_cast<uintptr_t>(stack.bytes.data()) + stack.size());
#if defined(__x86_64__) || defined(__i386__)
    EXPECT_TRUE(a.sse_ran);
#endif
    dyco_context_destroy(&a.ctx);
  }
}

INSTANTIATE_TEST_SUITE_P(Entries, EntryTest, ::testing::ValuesIn(AllEntries()),
                         EntryName);

// --- ending a context: dyco_context_resume_sp ---------------------------

#if DYCO_CONTEXT_SP_ONLY
// What the ending context changes before it leaves for good.
enum class EndChange { kNothing, kCsrOnly, kRounding };

struct Ending {
  void *main_sp = nullptr;
  EndChange change = EndChange::kNothing;
  intptr_t value = 0;
  int ran = 0;
};

void EndingBody(void *arg) {
  auto *e = static_cast<Ending *>(arg);
  e->ran++;
  switch (e->change) {
    case EndChange::kNothing:
      break;
    case EndChange::kCsrOnly:
#if defined(__x86_64__) || defined(__i386__)
      // Flush-to-zero and denormals-are-zero: MXCSR only, not the x87 word.
      SetCsr(GetCsr() | 0x8040);
#else
      fesetround(FE_TOWARDZERO);
#endif
      break;
    case EndChange::kRounding:
      fesetround(FE_TOWARDZERO);
      break;
  }
  fp_sink = fp_one / 3.0;  // inexact: this side's status flags differ
  dyco_context_resume_sp(&e->main_sp, reinterpret_cast<void *>(e->value));
}

// A context that ends by dyco_context_resume_sp hands the value over and
// the resumed side finds its own floating-point modes, whatever the ending
// one changed, under both MXCSR policies. Nothing of the ending context is
// kept: its stack takes the next context at once.
TEST(ContextTest, ResumeSpEndsAContextAndTheOtherSideGoesOn) {
  const int saved = fegetround();
#if defined(__x86_64__) || defined(__i386__)
  const unsigned saved_csr = GetCsr();
#endif
  Stack stack;
  int round = 0;
  for (int policy = 0; policy < MxcsrPolicies::kCount; ++policy) {
    MxcsrPolicies p(policy);
    for (EndChange change :
         {EndChange::kNothing, EndChange::kCsrOnly, EndChange::kRounding}) {
      for (int i = 0; i < 20; ++i, ++round) {
        SCOPED_TRACE(::testing::Message()
                     << "policy " << policy << " change "
                     << static_cast<int>(change) << " round " << round);
        const int mine = i % 2 ? FE_DOWNWARD : FE_UPWARD;
        ASSERT_EQ(0, fesetround(mine));
        feclearexcept(FE_ALL_EXCEPT);
        Ending e;
        e.change = change;
        e.value = 1000 + round;
        dyco_context made{};
        ASSERT_EQ(0, dyco_context_make(&made, stack.base(), stack.size(),
                                       EndingBody, &e));
        void *got = dyco_context_switch_sp(&e.main_sp, &made.sp, nullptr);
        EXPECT_EQ(1000 + round, reinterpret_cast<intptr_t>(got));
        EXPECT_EQ(1, e.ran);
        EXPECT_EQ(mine, fegetround());
#if defined(__x86_64__) || defined(__i386__)
        EXPECT_EQ(0u, GetCsr() & 0x8040);
        EXPECT_EQ(mine == FE_UPWARD ? 0x4000u : 0x2000u, GetCsr() & 0x6000);
        EXPECT_EQ(mine == FE_UPWARD ? 0x0800u : 0x0400u, GetCw() & 0x0c00);
#endif
        dyco_context_destroy(&made);
      }
    }
  }
  fesetround(saved);
#if defined(__x86_64__) || defined(__i386__)
  SetCsr(saved_csr);
#endif
}

#if defined(DYCO_TEST_NGPR)
struct EndingAbi {
  void *main_sp = nullptr;
};

void EndingAbiBody(void *arg) {
  auto *e = static_cast<EndingAbi *>(arg);
  // Registers of our own, which must not reach the resumed side.
  std::mt19937_64 rng(99);
  dyco_test_regs junk = RandomRegs(rng);
  dyco_test_regs out;
  void *args[5] = {&e->main_sp, reinterpret_cast<void *>(0x77), nullptr,
                   nullptr, nullptr};
  dyco_test_abi_call(&junk, &out,
                     reinterpret_cast<const void *>(&dyco_context_resume_sp),
                     args);
  abort();
}

// The resumed side gets every callee-saved register it switched away with,
// though the ending side's were all different when it called.
TEST(ContextTest, ResumeSpRestoresTheResumedSidesRegisters) {
  Stack stack;
  std::mt19937_64 rng(5);
  for (int round = 0; round < 50; ++round) {
    EndingAbi e;
    dyco_context made{};
    ASSERT_EQ(0, dyco_context_make(&made, stack.base(), stack.size(),
                                   EndingAbiBody, &e));
    dyco_test_regs in = RandomRegs(rng);
    dyco_test_regs out;
    memset(&out, 0, sizeof out);
    void *args[5] = {&e.main_sp, &made.sp, nullptr, nullptr, nullptr};
    void *got = dyco_test_abi_call(
        &in, &out, reinterpret_cast<const void *>(&dyco_context_switch_sp),
        args);
    EXPECT_EQ(reinterpret_cast<void *>(0x77), got);
    ASSERT_TRUE(SameRegs(in, out)) << "round " << round;
    dyco_context_destroy(&made);
  }
}
#endif
#endif

// --- unwinding --------------------------------------------------------------

// What _Unwind_Backtrace finds from inside a context: the return address of
// each frame, and how the walk ended.
struct Walk {
  dyco_context main{};
  dyco_context ctx{};
  std::vector<uintptr_t> pcs;
  int code = -1;
  uintptr_t body_pc = 0;  // an address inside WalkBody's frame
};

_Unwind_Reason_Code CollectFrame(struct _Unwind_Context *uc, void *arg) {
  auto *w = static_cast<Walk *>(arg);
  w->pcs.push_back(static_cast<uintptr_t>(_Unwind_GetIP(uc)));
  return w->pcs.size() < 64 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

__attribute__((noinline)) void WalkHere(Walk *w) {
  w->code = _Unwind_Backtrace(CollectFrame, w);
  __asm__ volatile("" ::: "memory");  // not a tail call
}

__attribute__((noinline)) void WalkBody(void *arg) {
  auto *w = static_cast<Walk *>(arg);
  WalkHere(w);
  dyco_context_switch(&w->ctx, &w->main, nullptr);
  abort();
}

// Unwinding inside a context walks its frames down to the trampoline that
// started it and stops there, without crashing or running off into the
// memory above the stack.
TEST(ContextTest, UnwindingStopsAtTheContextsFirstFrame) {
  Walk w;
  Stack stack;
  ASSERT_EQ(
      0, dyco_context_make(&w.ctx, stack.base(), stack.size(), WalkBody, &w));
  dyco_context_switch(&w.main, &w.ctx, nullptr);
  // libgcc's DWARF unwinder reports one more frame, at 0, after the
  // outermost one (glibc's backtrace drops it too).
  if (!w.pcs.empty() && w.pcs.back() == 0) {
    w.pcs.pop_back();
  }
  ASSERT_FALSE(w.pcs.empty());
  // WalkHere, WalkBody, the trampoline (and, with a sanitizer, the entry
  // that tells it about the new stack): a handful, not 64.
  EXPECT_LT(w.pcs.size(), 10u);
#if DYCO__CONTEXT_HAVE_ASM && !defined(DYCO_CONTEXT_UCONTEXT)
  const auto tramp = reinterpret_cast<uintptr_t>(&dyco__context_trampoline);
  EXPECT_GE(w.pcs.back(), tramp);
  EXPECT_LT(w.pcs.back(), tramp + 32) << "the last frame is not the trampoline";
#if defined(__arm__)
  // The EHABI unwinder ends every walk with _URC_FAILURE: it finds no
  // function at the trampoline's caller's address, 0.
  EXPECT_EQ(_URC_FAILURE, w.code);
#else
  EXPECT_EQ(_URC_END_OF_STACK, w.code);
#endif
#endif
  dyco_context_destroy(&w.ctx);
}

// --- a function on top of a suspended context ------------------------------

struct Ontop {
  Entry entry = Entry::kSwitch;
  dyco_context main{};
  dyco_context ctx{};
  Walk walk;  // what the unwinder saw from inside the function
  int fn_calls = 0;
  intptr_t fn_got = -1;                // the value the function was called with
  uintptr_t fn_local = 0;              // where a local of the function was
  std::vector<intptr_t> resumed_with;  // what each parked switch returned
};

// The function on top gets only the resuming value: the record is here.
Ontop *ontop_record;

__attribute__((noinline)) void OntopParked(Ontop *o) {
  for (intptr_t i = 0; i < 3; ++i) {
    auto v = reinterpret_cast<intptr_t>(
        Switch(o->entry, &o->ctx, &o->main, reinterpret_cast<void *>(100 + i)));
    o->resumed_with.push_back(v);
  }
  Switch(o->entry, &o->ctx, &o->main, nullptr);
  abort();
}

void OntopBody(void *arg) {
  OntopParked(static_cast<Ontop *>(arg));
  abort();
}

// Looks around from inside the suspended context, switches away from there,
// and returns what the next resume passes, plus 1000.
void *OntopLook(void *value) {
  Ontop *o = ontop_record;
  o->fn_calls++;
  o->fn_got = reinterpret_cast<intptr_t>(value);
  volatile char here = 0;
  o->fn_local = reinterpret_cast<uintptr_t>(&here);
  WalkHere(&o->walk);
  auto v = reinterpret_cast<intptr_t>(
      Switch(o->entry, &o->ctx, &o->main, reinterpret_cast<void *>(7)));
  return reinterpret_cast<void *>(v + 1000);
}

void *OntopDouble(void *value) {
  ontop_record->fn_calls++;
  return reinterpret_cast<void *>(reinterpret_cast<intptr_t>(value) * 2);
}

// dyco_context_ontop: the function runs on the suspended context's stack
// when it is next resumed, gets the resuming value, can switch away, and
// its result is what the parked switch returns; the unwinder walks from it
// through the parked frames to the context's first frame.
TEST_P(EntryTest, OntopRunsAFunctionOnASuspendedContext) {
  if (GetParam() == Entry::kSwitchSpVia) {
    GTEST_SKIP() << "dyco_context_switch_sp_via passes no value";
  }
  Ontop o;
  o.entry = GetParam();
  ontop_record = &o;
  Stack stack;
  ASSERT_EQ(
      0, dyco_context_make(&o.ctx, stack.base(), stack.size(), OntopBody, &o));
  ASSERT_EQ(100, reinterpret_cast<intptr_t>(
                     Switch(o.entry, &o.main, &o.ctx, nullptr)));
  int rc = dyco_context_ontop(&o.ctx.sp, OntopLook);
#if DYCO__CONTEXT_HAVE_ASM && !defined(DYCO_CONTEXT_UCONTEXT) && \
    !defined(DYCO_ASAN) && !defined(DYCO_TSAN) && !defined(DYCO_VALGRIND)
  ASSERT_EQ(0, rc);
#else
  ASSERT_EQ(-ENOTSUP, rc);
  dyco_context_destroy(&o.ctx);
  GTEST_SKIP() << "dyco_context_ontop is not available with "
               << dyco_context_implementation() << " or under a tool";
#endif
  // The function runs, on the context's stack, and switches back with 7.
  EXPECT_EQ(7, reinterpret_cast<intptr_t>(Switch(o.entry, &o.main, &o.ctx,
                                                 reinterpret_cast<void *>(5))));
  EXPECT_EQ(1, o.fn_calls);
  EXPECT_EQ(5, o.fn_got);
  const auto lo = reinterpret_cast<uintptr_t>(stack.base());
  EXPECT_GT(o.fn_local, lo);
  EXPECT_LT(o.fn_local, lo + stack.size());
  EXPECT_TRUE(o.resumed_with.empty());
  // Its frames: the function, the parked one, the body, the trampoline.
  if (!o.walk.pcs.empty() && o.walk.pcs.back() == 0) {
    o.walk.pcs.pop_back();
  }
  const auto parked =
      reinterpret_cast<uintptr_t>(&OntopParked) & ~static_cast<uintptr_t>(1);
  bool saw_parked = false;
  for (uintptr_t pc : o.walk.pcs) {
    saw_parked = saw_parked || (pc > parked && pc < parked + 512);
  }
  EXPECT_TRUE(saw_parked) << "the unwinder did not reach the parked frame";
  ASSERT_FALSE(o.walk.pcs.empty());
  EXPECT_LT(o.walk.pcs.size(), 10u);
  const auto tramp = reinterpret_cast<uintptr_t>(&dyco__context_trampoline);
  EXPECT_GE(o.walk.pcs.back(), tramp);
  EXPECT_LT(o.walk.pcs.back(), tramp + 32) << "the walk stopped early";
  // Resumed again, the function returns 9 + 1000 to the parked switch.
  EXPECT_EQ(101, reinterpret_cast<intptr_t>(Switch(
                     o.entry, &o.main, &o.ctx, reinterpret_cast<void *>(9))));
  ASSERT_EQ(1u, o.resumed_with.size());
  EXPECT_EQ(1009, o.resumed_with[0]);
  // A function that returns at once; and none after it ran once.
  ASSERT_EQ(0, dyco_context_ontop(&o.ctx.sp, OntopDouble));
  EXPECT_EQ(102, reinterpret_cast<intptr_t>(Switch(
                     o.entry, &o.main, &o.ctx, reinterpret_cast<void *>(21))));
  EXPECT_EQ(nullptr,
            Switch(o.entry, &o.main, &o.ctx, reinterpret_cast<void *>(33)));
  ASSERT_EQ(3u, o.resumed_with.size());
  EXPECT_EQ(42, o.resumed_with[1]);
  EXPECT_EQ(33, o.resumed_with[2]);
  EXPECT_EQ(2, o.fn_calls);
  dyco_context_destroy(&o.ctx);
}

TEST(ContextTest, OntopRejectsBadArguments) {
  void *sp = nullptr;
  EXPECT_EQ(-EINVAL, dyco_context_ontop(nullptr, OntopDouble));
  EXPECT_EQ(-EINVAL, dyco_context_ontop(&sp, OntopDouble));
  sp = &sp;
  EXPECT_EQ(-EINVAL, dyco_context_ontop(&sp, nullptr));
}

// --- deep recursion ---------------------------------------------------------

struct Deep {
  dyco_context main{};
  dyco_context ctx{};
  int depth = 0;
  uint64_t result = 0;
};

__attribute__((noinline)) uint64_t Recurse(int n, volatile char *prev) {
  volatile char frame[64];
  frame[0] = static_cast<char>(n);
  frame[63] = prev ? prev[0] : 0;
  if (n == 0) {
    return 1;
  }
  uint64_t deeper = Recurse(n - 1, frame);
  return deeper + static_cast<uint64_t>(frame[0] & 1);
}

void DeepBody(void *arg) {
  auto *d = static_cast<Deep *>(arg);
  d->result = Recurse(d->depth, nullptr);
  dyco_context_switch(&d->ctx, &d->main, nullptr);
  abort();
}

#if DYCO_CONTEXT_SP_ONLY
// dyco_context_switch_sp_via: its function runs on the stack it was given,
// neither side's, and says where to go; going back to the leaving context
// itself is a switch that returns NULL.
TEST(ContextTest, SwitchViaRunsItsFunctionOnItsStackAndGoesWhereItSays) {
  void *main_sp = nullptr;
  const int before = via_calls;
  struct Self {
    void **sp;
  };
  auto back = [](void *arg) -> void ** {
    char here;
    if (&here < via_stack || &here >= via_stack + sizeof via_stack) {
      abort();
    }
    via_calls++;
    return static_cast<Self *>(arg)->sp;
  };
  Self self{&main_sp};
  EXPECT_EQ(nullptr, dyco_context_switch_sp_via(&main_sp, via_stack,
                                                sizeof via_stack, back, &self));
  EXPECT_EQ(before + 1, via_calls);
  EXPECT_NE(nullptr, main_sp);
}

// The scheduler's use: two contexts take turns on one stack, each one's
// frames copied off it and the other's put back by the function, which
// overwrites the leaving context's frame while it runs. Each side's locals
// and floating-point modes are intact after every turn.
struct Turns {
  Stack shared;
  void *main_sp = nullptr;
  void *sp[2] = {nullptr, nullptr};
  std::vector<char> saved[2];
  int running = 0;
  int rounds[2] = {0, 0};
  bool ok = true;
};
Turns *turns;

char *TurnsTop() {
  return static_cast<char *>(turns->shared.base()) + turns->shared.size();
}

// On the scratch stack: the running side's frames off the shared stack,
// the other's back on, and where to go.
void **TurnsMove(void *) {
  Turns *t = turns;
  const int from = t->running, to = 1 - from;
  char *low = static_cast<char *>(t->sp[from]);
  t->saved[from].assign(low, TurnsTop());
  memset(low, 0xee, static_cast<size_t>(TurnsTop() - low));  // clobbered
  memcpy(TurnsTop() - t->saved[to].size(), t->saved[to].data(),
         t->saved[to].size());
  t->running = to;
  return &t->sp[to];
}

void TurnsBody(void *arg) {
  const int me = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  volatile uint64_t locals[16];
  for (int i = 0; i < 16; ++i) {
    locals[i] =
        0x1000u * static_cast<unsigned>(me + 1) + static_cast<unsigned>(i);
  }
  const int mode = me == 0 ? FE_UPWARD : FE_TOWARDZERO;
  fesetround(mode);
  for (int round = 0; round < 100; ++round) {
    dyco_context_switch_sp_via(&turns->sp[me], via_stack, sizeof via_stack,
                               TurnsMove, nullptr);
    for (int i = 0; i < 16; ++i) {
      if (locals[i] !=
          0x1000u * static_cast<unsigned>(me + 1) + static_cast<unsigned>(i)) {
        turns->ok = false;
      }
    }
    if (fegetround() != mode) {
      turns->ok = false;
    }
    turns->rounds[me]++;
  }
  fesetround(FE_TONEAREST);
  dyco_context_switch_sp(&turns->sp[me], &turns->main_sp, nullptr);
  abort();
}

TEST(ContextTest, SwitchViaHandsOneStackBetweenTwoContexts) {
  const int saved = fegetround();
  Turns t;
  turns = &t;
  // Both start on the same stack: side 0's first frame is made and kept
  // as its saved copy, then side 1's is made in its place and runs first.
  dyco_context c0, c1;
  ASSERT_EQ(0, dyco_context_make(&c0, t.shared.base(), t.shared.size(),
                                 TurnsBody, reinterpret_cast<void *>(0)));
  t.sp[0] = c0.sp;
  t.saved[0].assign(static_cast<char *>(c0.sp), TurnsTop());
  ASSERT_EQ(0, dyco_context_make(&c1, t.shared.base(), t.shared.size(),
                                 TurnsBody, reinterpret_cast<void *>(1)));
  t.sp[1] = c1.sp;
  t.running = 1;
  dyco_context_switch_sp(&t.main_sp, &t.sp[1], nullptr);
  // Side 1 went first, so it ends first, after its 100th turn.
  EXPECT_TRUE(t.ok);
  EXPECT_EQ(100, t.rounds[1]);
  EXPECT_EQ(99, t.rounds[0]);
  fesetround(saved);
}
#endif

TEST(ContextTest, DeepRecursionInsideAContext) {
  Deep d;
  d.depth = 20000;
  Stack stack(8 << 20);
  ASSERT_EQ(
      0, dyco_context_make(&d.ctx, stack.base(), stack.size(), DeepBody, &d));
  dyco_context_switch(&d.main, &d.ctx, nullptr);
  // Recurse(n) = 1 + the number of odd k in 1..n (as chars: low bit of k).
  EXPECT_EQ(1u + 10000u, d.result);
  dyco_context_destroy(&d.ctx);
}

// --- the suspended state is where stack_low says --------------------------

TEST(ContextTest, StackLowIsInsideTheStackAndBelowTheState) {
  PingPong p;
  Stack stack;
  ASSERT_EQ(0, dyco_context_make(&p.ctx, stack.base(), stack.size(),
                                 PingPongBody, &p));
  dyco_context_switch(&p.main, &p.ctx, nullptr);
  auto low = reinterpret_cast<uintptr_t>(dyco_context_stack_low(&p.ctx));
  auto base = reinterpret_cast<uintptr_t>(stack.base());
  EXPECT_GT(low, base);
  EXPECT_LT(low, base + stack.size());
  EXPECT_LE(low, reinterpret_cast<uintptr_t>(p.ctx.sp));
  // Scribbling below stack_low must not disturb the suspended context.
  memset(stack.base(), 0xa5, low - base);
  void *answer =
      dyco_context_switch(&p.main, &p.ctx, reinterpret_cast<void *>(21));
  EXPECT_EQ(42, reinterpret_cast<intptr_t>(answer));
  EXPECT_EQ(nullptr, dyco_context_stack_low(nullptr));
  dyco_context_destroy(&p.ctx);
}

// --- bad input --------------------------------------------------------------

TEST(ContextTest, MakeRejectsBadArguments) {
  dyco_context ctx{};
  Stack stack;
  EXPECT_EQ(-EINVAL, dyco_context_make(nullptr, stack.base(), stack.size(),
                                       PingPongBody, nullptr));
  EXPECT_EQ(-EINVAL, dyco_context_make(&ctx, nullptr, stack.size(),
                                       PingPongBody, nullptr));
  EXPECT_EQ(-EINVAL, dyco_context_make(&ctx, stack.base(), stack.size(),
                                       nullptr, nullptr));
  EXPECT_EQ(-EINVAL,
            dyco_context_make(&ctx, stack.base(), DYCO_CONTEXT_STACK_MIN - 1,
                              PingPongBody, nullptr));
  // A size that wraps around the address space.
  EXPECT_EQ(-EINVAL, dyco_context_make(&ctx, stack.base(), SIZE_MAX,
                                       PingPongBody, nullptr));
  dyco_context_destroy(nullptr);  // accepted
  // dyco_context_make_modes: the same checks, and the modes are required.
  dyco_context_fpmodes modes;
  dyco_context_fpmodes_get(&modes);
  dyco_context_fpmodes_get(nullptr);  // accepted, does nothing
  EXPECT_EQ(-EINVAL, dyco_context_make_modes(&ctx, stack.base(), stack.size(),
                                             PingPongBody, nullptr, nullptr));
  EXPECT_EQ(-EINVAL,
            dyco_context_make_modes(nullptr, stack.base(), stack.size(),
                                    PingPongBody, nullptr, &modes));
  EXPECT_EQ(-EINVAL, dyco_context_make_modes(&ctx, stack.base(),
                                             DYCO_CONTEXT_STACK_MIN - 1,
                                             PingPongBody, nullptr, &modes));
}

// --- tools found at run time ------------------------------------------

// Nothing in a test process is a tool dyco looks for at run time (a build
// for a tool notes every switch itself): no tool, and the tool-aware calls
// behave as the plain ones.
TEST(ContextTest, NoToolIsFoundInATestProcess) {
  EXPECT_EQ(0, dyco_context_tools());
  EXPECT_EQ(0, dyco_context_tools());  // looked for once, the same after
}

struct ToolsPair {
  dyco_context main{}, ctx{};
  int rounds = 0;
};

void ToolsBody(void *arg) {
  auto *p = static_cast<ToolsPair *>(arg);
  for (;;) {
    p->rounds++;
    dyco_context_switch_tools(&p->ctx.sp, &p->main.sp,
                              reinterpret_cast<void *>(intptr_t{p->rounds}),
                              &p->ctx, &p->main);
  }
}

TEST(ContextTest, SwitchToolsIsASwitch) {
  ToolsPair p;
  Stack stack;
  ASSERT_EQ(
      0, dyco_context_make(&p.ctx, stack.base(), stack.size(), ToolsBody, &p));
  for (intptr_t i = 1; i <= 50; ++i) {
    void *got = dyco_context_switch_tools(&p.main.sp, &p.ctx.sp, nullptr,
                                          &p.main, &p.ctx);
    ASSERT_EQ(i, reinterpret_cast<intptr_t>(got));
  }
  dyco_context_destroy(&p.ctx);
}

TEST(ContextTest, StackSaveAndRestoreRoundTrip) {
  std::vector<char> stack(3000), buf(3000 + dyco_context_stack_extra(3000));
  for (size_t i = 0; i < stack.size(); ++i) {
    stack[i] = static_cast<char>(i * 7);
  }
  dyco_context_stack_save(buf.data(), stack.data() + 5, 2995);
  std::fill(stack.begin(), stack.end(), 0);
  dyco_context_stack_reuse(stack.data(), stack.size());
  dyco_context_stack_restore(stack.data() + 5, buf.data(), 2995);
  for (size_t i = 5; i < stack.size(); ++i) {
    ASSERT_EQ(static_cast<char>(i * 7), stack[i]);
  }
  EXPECT_EQ(0, stack[4]);
}

#if defined(__x86_64__)
// The policy is picked before main from the CPU's vendor string.
TEST(ContextTest, LoadsMxcsrAlwaysOnAmdAndHygonOnly) {
  unsigned regs[4] = {};
  __asm__ volatile("cpuid"
                   : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                   : "a"(0), "c"(0));
  char vendor[13] = {};
  memcpy(vendor, &regs[1], 4);
  memcpy(vendor + 4, &regs[3], 4);
  memcpy(vendor + 8, &regs[2], 4);
  const bool amd = strcmp(vendor, "AuthenticAMD") == 0 ||
                   strcmp(vendor, "HygonGenuine") == 0;
  EXPECT_EQ(amd ? 1 : 0, dyco__context_mxcsr_load_always) << vendor;
}
#endif

TEST(ContextTest, NamesItsImplementation) {
  const char *name = dyco_context_implementation();
#if defined(DYCO_CONTEXT_UCONTEXT)
  EXPECT_STREQ("ucontext", name);
#elif defined(__x86_64__)
  EXPECT_STREQ(DYCO__CONTEXT_HAVE_ASM ? "x86_64" : "ucontext", name);
#else
  EXPECT_NE(nullptr, name);
#endif
}

// --- a function that returns -----------------------------------------------

void ReturnsAtOnce(void *) {}

void RunContextThatReturns() {
  dyco_context main{};
  dyco_context ctx{};
  static Stack stack;
  if (dyco_context_make(&ctx, stack.base(), stack.size(), ReturnsAtOnce,
                        nullptr) != 0) {
    return;
  }
  dyco_context_switch(&main, &ctx, nullptr);
}

TEST(ContextDeathTest, ReturningFromTheFunctionReportsAndAborts) {
  // Set by --config=i386: qemu-i386 7.2's fork child hangs before it runs.
  if (getenv("DYCO_TEST_NO_FORK") != nullptr) {
    GTEST_SKIP() << "no fork here";
  }
  // "fast" forks without re-executing the binary, which qemu-user cannot.
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_DEATH(RunContextThatReturns(), "dyco: context function returned");
}

}  // namespace
