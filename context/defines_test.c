/* dyco — context layer test: a target that depends on dyco without dyco's
 * flags (a plain cc_test) reads context/context.h as dyco's sources do. */
#include <stdio.h>

#include "context/context.h"

extern const int dyco_test_sp_only_in_dyco;
extern const int dyco_test_tool_in_dyco;

int main(void) {
  const int tool_here =
#if defined(DYCO_ASAN)
      DYCO_CONTEXT_TOOL_ASAN
#elif defined(DYCO_TSAN)
      DYCO_CONTEXT_TOOL_TSAN
#elif defined(DYCO_VALGRIND)
      DYCO_CONTEXT_TOOL_VALGRIND
#else
      0
#endif
      ;
  printf(
      "DYCO_CONTEXT_SP_ONLY: %d in dyco, %d here; tool: %d in dyco, %d here\n",
      dyco_test_sp_only_in_dyco, DYCO_CONTEXT_SP_ONLY, dyco_test_tool_in_dyco,
      tool_here);
  if (dyco_test_sp_only_in_dyco != DYCO_CONTEXT_SP_ONLY ||
      dyco_test_tool_in_dyco != tool_here) {
    fprintf(stderr, "a dependent sees other tool macros than dyco\n");
    return 1;
  }
  return 0;
}
