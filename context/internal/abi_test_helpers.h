/* dyco — context layer, tests only: assembly helpers that check the switch
 * keeps the ABI's callee-saved registers, in the spirit of BoringSSL's. */
#ifndef DYCO_CONTEXT_INTERNAL_ABI_TEST_HELPERS_H_
#define DYCO_CONTEXT_INTERNAL_ABI_TEST_HELPERS_H_

#include <stdint.h>

#include "context/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The callee-saved registers of the architecture, in a fixed order:
 *   x86_64:  gpr = rbx rbp r12 r13 r14 r15
 *   i386:    gpr = ebx esi edi ebp
 *   arm:     gpr = r4 r5 r6 r7 r8 r9 r10 r11; fpr = d8-d15
 *   aarch64: gpr = x19-x28 x29;               fpr = d8-d15 */
typedef struct dyco_test_regs {
  uintptr_t gpr[12];
  uint64_t fpr[8];
} dyco_test_regs;

#if defined(__x86_64__)
#define DYCO_TEST_NGPR 6
#define DYCO_TEST_NFPR 0
#elif defined(__i386__)
#define DYCO_TEST_NGPR 4
#define DYCO_TEST_NFPR 0
#elif defined(__arm__)
#define DYCO_TEST_NGPR 8
#define DYCO_TEST_NFPR 8
#elif defined(__aarch64__)
#define DYCO_TEST_NGPR 11
#define DYCO_TEST_NFPR 8
#endif

/* Loads the callee-saved registers from *in and fills the caller-saved ones
 * that carry no argument with garbage, calls fn(args[0], ..., args[4]) (fn
 * is a switch: dyco_context_switch and dyco_context_switch_sp take the
 * first three, dyco_context_switch_tools all five), stores the callee-saved
 * registers it then finds into *out, restores its caller's, and returns
 * what fn returned. */
void *dyco_test_abi_call(const dyco_test_regs *in, dyco_test_regs *out,
                         const void *fn, void *const args[5]);

/* The caller's stack pointer at the call. */
uintptr_t dyco_test_caller_sp(void);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_CONTEXT_INTERNAL_ABI_TEST_HELPERS_H_ */
