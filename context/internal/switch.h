/* dyco — context layer, private: the switch implementations side by side.
 * context.c picks one for the public API; benchmarks and tests reach both. */
#ifndef DYCO_CONTEXT_INTERNAL_SWITCH_H_
#define DYCO_CONTEXT_INTERNAL_SWITCH_H_

/* 1 when this architecture has a hand-written switch (x86_64, i386, arm,
 * aarch64), 0 when only the ucontext one exists. */
#if defined(__x86_64__) || defined(__i386__) || \
    (defined(__arm__) && defined(__ARM_PCS_VFP)) || defined(__aarch64__)
#define DYCO__CONTEXT_HAVE_ASM 1
#else
#define DYCO__CONTEXT_HAVE_ASM 0
#endif

/* 1 when the public dyco_context_switch is the assembly switch itself (the
 * .S file defines it as an alias): no sanitizer needs telling about the
 * switch and the ucontext fallback is not forced. */
#if DYCO__CONTEXT_HAVE_ASM && !defined(DYCO_CONTEXT_UCONTEXT) && \
    !defined(DYCO_ASAN) && !defined(DYCO_TSAN)
#define DYCO__CONTEXT_DIRECT_SWITCH 1
#else
#define DYCO__CONTEXT_DIRECT_SWITCH 0
#endif

/* 1 when the .S file defines dyco_context_resume_sp itself; elsewhere it is
 * a switch whose saved state nothing resumes (context.c). */
#if DYCO__CONTEXT_DIRECT_SWITCH && defined(__x86_64__)
#define DYCO__CONTEXT_RESUME_ASM 1
#else
#define DYCO__CONTEXT_RESUME_ASM 0
#endif

#ifndef __ASSEMBLER__

#include "context/context.h"

/* The public promise must match what is built. */
#if DYCO_CONTEXT_VIA_ONE_SWITCH && !DYCO__CONTEXT_DIRECT_SWITCH
#error "DYCO_CONTEXT_VIA_ONE_SWITCH without the assembly switch"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Internal to libcontext: hidden from the dynamic symbol table. */
#pragma GCC visibility push(hidden)

#if DYCO__CONTEXT_HAVE_ASM
/* Lays out a first frame below `top` (aligned to DYCO_CONTEXT_STACK_ALIGN)
 * so that switching to the returned stack pointer starts fn(arg) in the
 * trampoline, with the floating-point modes `modes`. Defined in
 * context/asm/switch_*.S. */
void *dyco__context_make_asm(void *top, dyco_context_fn fn, void *arg,
                             const dyco_context_fpmodes *modes);

/* Saves the callee-saved state on the running stack, stores the stack
 * pointer in from->sp, loads to->sp, restores, and returns `value` there.
 * It touches nothing but those two words, so the same code serves callers
 * that keep bare stack pointers. Two ways to leave: an indirect jump
 * (dyco__context_switch_asm, behind dyco_context_switch), or `ret`
 * (dyco__context_switch_ret_asm, behind dyco_context_switch_sp), which the
 * return predictor gets right when every context switches from one call
 * site, as a scheduler's coroutines do. */
void *dyco__context_switch_asm(dyco_context *from, dyco_context *to,
                               void *value);
void *dyco__context_switch_ret_asm(void **from_sp, void *const *to_sp,
                                   void *value);

/* Where every new context starts: calls fn(arg) from the registers the
 * first frame set. Unwinders stop at its frame. Not to be called; declared
 * for the tests. */
void dyco__context_trampoline(void);
#endif

#if defined(__x86_64__)
/* Nonzero where the switch loads MXCSR at every switch rather than compare
 * it first (AMD and Hygon cores, see switch_x86_64_sysv_elf_gas.S). Set
 * once, before main, by context.c; 0 (compare first) is right everywhere,
 * only slower there. */
extern unsigned char dyco__context_mxcsr_load_always;
#endif

/* Where a context resumes after dyco_context_ontop: pops fn and the return
 * address the context was suspended with (two words above the restored
 * frame), then jumps to fn(value) with that return address. Not to be
 * called. */
void dyco__context_ontop_trampoline(void);

/* The frame each switch_*.S draws at a suspended context's stack pointer:
 * its size (what the switch pops when it resumes the context, return
 * address included) and where in it the return address is. */
#if defined(__x86_64__)
#define DYCO__CONTEXT_FRAME_SIZE 0x40
#define DYCO__CONTEXT_FRAME_RA 0x38
#elif defined(__i386__)
#define DYCO__CONTEXT_FRAME_SIZE 0x1c
#define DYCO__CONTEXT_FRAME_RA 0x18
#elif defined(__arm__)
#define DYCO__CONTEXT_FRAME_SIZE 0x68
#define DYCO__CONTEXT_FRAME_RA 0x64
#elif defined(__aarch64__)
#define DYCO__CONTEXT_FRAME_SIZE 0xb0
#define DYCO__CONTEXT_FRAME_RA 0x58
#endif

/* The ucontext fallback: the same contract, built on makecontext and
 * swapcontext (so each switch costs a sigprocmask system call). */
int dyco__context_make_uc(dyco_context *ctx, void *top, dyco_context_fn fn,
                          void *arg, const dyco_context_fpmodes *modes);
void *dyco__context_switch_uc(dyco_context *from, dyco_context *to,
                              void *value);
void *dyco__context_switch_uc_sp(void **from_sp, void *to_sp, void *value);
void *dyco__context_stack_low_uc(const dyco_context *ctx);

/* Called by every trampoline when a context function returns: reports and
 * aborts (the context has nowhere to go). */
void dyco__context_returned(void)
    __attribute__((noreturn, visibility("hidden")));

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* __ASSEMBLER__ */

#endif /* DYCO_CONTEXT_INTERNAL_SWITCH_H_ */
