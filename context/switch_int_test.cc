// dyco — context layer test: dyco_context_switch_int hands back the int the
// other side passed, negative ones included, in every build (the assembly
// switch under another declared type, or the C fallback).
#include <stdint.h>

#include <vector>

#include "gtest/gtest.h"

extern "C" {
#include "context/context.h"
}

namespace {

struct Gen {
  dyco_context self;
  dyco_context caller;
  std::vector<char> stack;
};

// Passes 1, -2, 3, -4, ... and finally INT32_MIN and INT32_MAX back.
void Counter(void *arg) {
  auto *g = static_cast<Gen *>(arg);
  for (int i = 1; i <= 10; ++i) {
    int v = (i % 2 == 0) ? -i : i;
    dyco_context_switch(&g->self, &g->caller, (void *)(intptr_t)v);
  }
  dyco_context_switch(&g->self, &g->caller, (void *)(intptr_t)INT32_MIN);
  dyco_context_switch(&g->self, &g->caller, (void *)(intptr_t)INT32_MAX);
  for (;;) {
    dyco_context_switch(&g->self, &g->caller, nullptr);
  }
}

TEST(ContextSwitchInt, ReturnsTheIntTheOtherSidePassed) {
  Gen g{};
  g.stack.resize(64 * 1024);
  ASSERT_EQ(0, dyco_context_make(&g.self, g.stack.data(), g.stack.size(),
                                 Counter, &g));
  for (int i = 1; i <= 10; ++i) {
    int want = (i % 2 == 0) ? -i : i;
    EXPECT_EQ(want, dyco_context_switch_int(&g.caller, &g.self, nullptr));
  }
  EXPECT_EQ(INT32_MIN, dyco_context_switch_int(&g.caller, &g.self, nullptr));
  EXPECT_EQ(INT32_MAX, dyco_context_switch_int(&g.caller, &g.self, nullptr));
  EXPECT_EQ(0, dyco_context_switch_int(&g.caller, &g.self, nullptr));
  dyco_context_destroy(&g.self);
}

}  // namespace
