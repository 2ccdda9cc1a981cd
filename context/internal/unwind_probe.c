/* dyco — context layer, tests only: the program gdb_unwind_test.sh runs
 * under gdb: a context started by the assembly make, both assembly switches
 * in both directions, the two sides in different rounding modes. */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>

#include "context/internal/switch.h"

static dyco_context main_ctx, ctx;

/* Where gdb looks at the backtrace of a running context. */
__attribute__((noinline)) void dyco_test_in_context(void);
__attribute__((noinline)) void dyco_test_in_context(void) {
  __asm__ volatile("" ::: "memory");
}

static void Body(void *arg) {
  (void)arg;
  /* The two sides' floating-point control state differs: each switch
   * takes its out-of-line path and loads it. */
  fesetround(FE_UPWARD);
  dyco_test_in_context();
  for (;;) {
    dyco__context_switch_asm(&ctx, &main_ctx, NULL);
    dyco__context_switch_ret_asm(&ctx.sp, &main_ctx.sp, NULL);
  }
}

int main(void) {
  static _Alignas(16) char stack[64 * 1024];
  /* The assembly make whatever switch the build chose for the public API. */
  dyco_context_fpmodes modes;
  dyco_context_fpmodes_get(&modes);
  ctx.sp = dyco__context_make_asm(stack + sizeof stack, Body, NULL, &modes);
  for (int i = 0; i < 2; i++) {
    dyco__context_switch_asm(&main_ctx, &ctx, NULL);
    dyco__context_switch_ret_asm(&main_ctx.sp, &ctx.sp, NULL);
  }
  puts("unwind probe: done");
  return 0;
}
