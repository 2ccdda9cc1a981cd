/* dyco — context layer, tests only: what dyco's own sources see of the
 * build's tool macros, compiled with dyco's flags (for defines_test.c). */
#include "context/context.h"

extern const int dyco_test_sp_only_in_dyco;
extern const int dyco_test_tool_in_dyco;

const int dyco_test_sp_only_in_dyco = DYCO_CONTEXT_SP_ONLY;

const int dyco_test_tool_in_dyco =
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
