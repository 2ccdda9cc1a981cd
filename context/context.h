/* dyco — context layer: the raw switch between execution contexts.
 * Make a context that runs fn(arg) on a stack you own; switch between two. */
#ifndef DYCO_CONTEXT_CONTEXT_H_
#define DYCO_CONTEXT_CONTEXT_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The smallest stack dyco_context_make accepts, in bytes. The switch itself
 * needs about 200 bytes (x86_64: 64, aarch64: 176, arm: 104, ucontext: one
 * ucontext_t, about 1 KiB); the rest is for fn and whatever it calls. Real
 * code wants 16 KiB or more, and sanitizers several times that. */
#define DYCO_CONTEXT_STACK_MIN 4096

/* The alignment dyco_context_make gives the stack fn starts on: 16 bytes on
 * every supported architecture (the strictest ABI among them, x86_64 and
 * aarch64, wants 16; i386 as gcc builds it for Linux also wants 16; arm
 * wants 8). The stack you pass need not be aligned: make rounds its top
 * down and its size accordingly. */
#define DYCO_CONTEXT_STACK_ALIGN 16

/* The function a new context runs. It must not return: when it has no more
 * work it switches to another context for good. If it returns anyway, dyco
 * prints "dyco: context function returned" on stderr and aborts, because the
 * context has nowhere to go. */
typedef void (*dyco_context_fn)(void *arg);

/* An execution context. A zero-initialised dyco_context stands for "the
 * context that is running now" (a thread's own stack, say): pass it as
 * `from` and the switch fills it in. Treat every field as read-only. */
typedef struct dyco_context {
  void *sp;          /* where the suspended context's state is saved */
  void *stack;       /* lowest address of its stack, NULL when unknown */
  size_t stack_size; /* bytes from `stack` to the top, 0 when unknown */
  void *tool;        /* sanitizer or valgrind bookkeeping */
} dyco_context;

/* dyco_context_make prepares `ctx` to run fn(arg) on the stack
 * [stack, stack + size) the first time something switches to it. Nothing
 * runs and nothing blocks. Returns 0, or -EINVAL when ctx, stack or fn is
 * NULL or size (after aligning the top) is below DYCO_CONTEXT_STACK_MIN.
 * The stack must stay valid until the context has been destroyed; it is
 * used from the top down and has no guard of its own. */
int dyco_context_make(dyco_context *ctx, void *stack, size_t size,
                      dyco_context_fn fn, void *arg);

/* The floating-point modes a context starts with, as the hardware keeps
 * them: MXCSR and the x87 control word on x86, FPSCR on arm, FPCR on
 * aarch64 (rounding direction, flush-to-zero, exception masks, x87
 * precision). Opaque: take it from dyco_context_fpmodes_get. */
typedef struct dyco_context_fpmodes {
  unsigned int word[2];
} dyco_context_fpmodes;

/* dyco_context_fpmodes_get stores the calling thread's floating-point modes
 * in *modes (zeros on an architecture where dyco keeps none); a NULL modes
 * is ignored. */
void dyco_context_fpmodes_get(dyco_context_fpmodes *modes);

/* dyco_context_make_modes is dyco_context_make for a context that starts
 * with `modes` rather than with the caller's: a context made on behalf of
 * someone else, later (a scheduler that makes a coroutine's context at its
 * first run gives it the modes its creator had). modes must not be NULL
 * (-EINVAL). */
int dyco_context_make_modes(dyco_context *ctx, void *stack, size_t size,
                            dyco_context_fn fn, void *arg,
                            const dyco_context_fpmodes *modes);

/* dyco_context_switch saves the running context into `from` and resumes
 * `to`, passing it `value`. It returns when some context later switches back
 * to `from`, and returns the value that switch passed. `to` must be a context
 * made by dyco_context_make or saved by an earlier switch, and must not be
 * running. The value passed by the first switch into a new context is not
 * seen by anyone. Saves exactly the registers the ABI makes callee-saved and
 * the floating-point control state (MXCSR and x87 control word; FPSCR or
 * FPCR), so a switch looks to the caller like an ordinary function call. */
void *dyco_context_switch(dyco_context *from, dyco_context *to, void *value);

/* dyco_context_switch_int is dyco_context_switch for contexts that pass
 * ints ((void *)(intptr_t) of one, as the value of dyco_context_switch):
 * it returns that int. Every supported ABI returns an int in the low part of
 * the register that returns a pointer, so with the assembly switch this is
 * the very same code, and a function that returns what it returns can end
 * with a jump into it rather than a call (asym's resume does: a switch never
 * returns to the call that entered it, so a `ret` after it would miss the
 * return predictor). */
int dyco_context_switch_int(dyco_context *from, dyco_context *to, void *value);

/* dyco_context_destroy releases what a context holds besides its stack
 * (sanitizer and valgrind bookkeeping). Call it for a context made by
 * dyco_context_make once it will never run again, from another context. The
 * stack is yours to free. Accepts NULL. */
void dyco_context_destroy(dyco_context *ctx);

/* dyco_context_stack_low returns the lowest stack address a suspended
 * context still uses: every byte from there to the top of its stack is part
 * of its state, nothing below is. A shared-stack scheduler saves and restores
 * exactly that range. NULL for NULL. */
void *dyco_context_stack_low(const dyco_context *ctx);

/* 1 when dyco_context_switch_sp may be used: in builds without a sanitizer
 * or valgrind compiled in (DYCO_ASAN, DYCO_TSAN, DYCO_VALGRIND), which need
 * each context's stack bounds and bookkeeping at every switch. Such a plain
 * build still tells a tool it finds at run time: see dyco_context_tools. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
#define DYCO_CONTEXT_SP_ONLY 0
#else
#define DYCO_CONTEXT_SP_ONLY 1
#endif

/* 1 when dyco_context_switch_sp_via (below) is one switch: the assembly
 * switch (x86_64, i386, 32-bit arm hard-float, aarch64) rather than the
 * ucontext one, in a build where DYCO_CONTEXT_SP_ONLY is 1. When 0 it runs
 * fn in a context of its own, two switches: a scheduler may as well make
 * those through its own loop. */
#if DYCO_CONTEXT_SP_ONLY && !defined(DYCO_CONTEXT_UCONTEXT) &&           \
    (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
     (defined(__arm__) && defined(__ARM_PCS_VFP)))
#define DYCO_CONTEXT_VIA_ONE_SWITCH 1
#else
#define DYCO_CONTEXT_VIA_ONE_SWITCH 0
#endif

/* dyco_context_switch_sp is dyco_context_switch for callers that keep only
 * the `sp` member of each suspended context (8 bytes instead of a whole
 * dyco_context, for a scheduler holding millions of them). It stores the
 * running context's state in *from_sp and resumes the context whose state
 * is in *to_sp, passing `value`; it returns when something switches back,
 * with the value that switch passed. Make contexts with dyco_context_make
 * and keep their `sp`. Only when DYCO_CONTEXT_SP_ONLY is 1.
 * It leaves with a return instruction where dyco_context_switch leaves with
 * an indirect jump: the processor's return predictor then guesses right
 * when every context switches from the same call site, as a scheduler's
 * coroutines do (about 3 times faster there), and wrong when they switch
 * from different places, as a generator and its caller do (where
 * dyco_context_switch is faster). Both save the same state. */
void *dyco_context_switch_sp(void **from_sp, void *const *to_sp, void *value);

/* dyco_context_switch_sp_jump is dyco_context_switch_sp leaving with an
 * indirect jump, as dyco_context_switch does (on aarch64 the two are one).
 * For the switches a scheduler makes from a call that never returns (the
 * end of a context) or into a context that has not started: there the
 * return predictor's guess is always wrong, while the branch predictor,
 * which sees the same target again and again, is right. The same state,
 * conditions and results as dyco_context_switch_sp. */
void *dyco_context_switch_sp_jump(void **from_sp, void *const *to_sp,
                                  void *value);

/* dyco_context_resume_sp resumes the context whose state is in *to_sp,
 * passing `value`, and saves nothing of the running one, which is left for
 * good: nothing can switch back to it (its stack may be freed or reused as
 * soon as the resumed context runs). For the switch that ends a context:
 * it costs less than a switch that saves what will never be resumed (on
 * AMD cores, where reading MXCSR takes about 4 ns, most of a switch). The
 * resumed context gets its own registers and floating-point modes back, as
 * from any switch; it leaves by an indirect jump, as
 * dyco_context_switch_sp_jump does. Only when DYCO_CONTEXT_SP_ONLY is 1.
 * Never returns. */
void dyco_context_resume_sp(void *const *to_sp, void *value)
    __attribute__((noreturn));

/* dyco_context_switch_sp_via saves the running context into *from_sp (as
 * dyco_context_switch_sp does), then calls fn(arg) on the stack
 * [stack, stack + size) — memory nothing else uses meanwhile, at least
 * DYCO_CONTEXT_STACK_MIN bytes — and resumes the context whose saved stack
 * pointer is at the address fn returns (which may be from_sp itself),
 * passing it NULL. For a scheduler that must copy stacks between leaving
 * one context and resuming the next (a shared stack: the leaving
 * context's frames are saved and the next one's put back where they ran),
 * in one switch instead of two through a third context: fn runs on
 * neither. fn must not switch contexts, nor use anything on the leaving
 * context's stack. With the assembly switch (x86_64, i386, arm, aarch64)
 * it is one switch and leaves as dyco_context_switch_sp does, by a return
 * (a resumed context suspended by the same call as the leaving one is
 * predicted); with the ucontext one fn runs in a context made on `stack`,
 * with two switches. Only when DYCO_CONTEXT_SP_ONLY is 1. Returns (in the
 * leaving context, when something resumes it) the value of that switch. */
void *dyco_context_switch_sp_via(void **from_sp, void *stack, size_t size,
                                 void **(*fn)(void *arg), void *arg);

/* dyco_context_ontop makes the suspended context whose saved stack pointer
 * is *sp call fn(value) first when it is next resumed, before it goes on
 * from where it was suspended. fn runs on that context's stack, as if the
 * switch call that suspended it had called fn: `value` is what the resuming
 * switch passed, and what fn returns is what that suspended switch call
 * returns. fn may itself switch away (the context is then suspended inside
 * fn, and *sp is updated as by any switch); it runs only once. It uses two
 * words of the stack below *sp, then what fn needs. *sp is updated.
 * Use: look at a suspended context from inside it (a backtrace of its
 * frames, as dyco_schedule_dump does). To leave the context as it was
 * instead, once fn has switched away for good: copy the bytes at *sp, up
 * to DYCO_CONTEXT_FRAME_MAX of them (not past the stack's top), before the
 * call, and back afterwards, with *sp as it was.
 * Returns 0, -EINVAL for a NULL sp, *sp or fn, -ENOTSUP with the ucontext
 * switch or when a sanitizer or valgrind watches switches (a build for a
 * tool, or dyco_context_tools() not 0), whose notes of each switch fn would
 * bypass. Never blocks. */
int dyco_context_ontop(void **sp, void *(*fn)(void *value));

/* The most bytes a suspended context's saved state takes at its stack
 * pointer, on any architecture (the frame of aarch64's switch). */
#define DYCO_CONTEXT_FRAME_MAX 176

/* --- Tools that watch stacks, found at run time ------------------------ */

/* What dyco_context_tools returns. */
#define DYCO_CONTEXT_TOOL_ASAN 1     /* AddressSanitizer's runtime */
#define DYCO_CONTEXT_TOOL_TSAN 2     /* ThreadSanitizer's runtime */
#define DYCO_CONTEXT_TOOL_VALGRIND 4 /* running on valgrind */

/* dyco_context_tools says which tool a plain build of dyco (one without
 * DYCO_ASAN, DYCO_TSAN or DYCO_VALGRIND) found in the process: a program
 * built with -fsanitize=address or -fsanitize=thread (the sanitizer's
 * runtime is there), or one run under valgrind. 0 when none, and always 0
 * in a build for a tool (whose dyco_context_switch tells the tool itself).
 * Looked for once; a few instructions afterwards. Never blocks.
 * When it is not 0, contexts must be made with dyco_context_make into a
 * dyco_context that is kept (not just its sp) and destroyed with
 * dyco_context_destroy, every switch must go through
 * dyco_context_switch_tools, and copies of a suspended stack through
 * dyco_context_stack_save and dyco_context_stack_restore: then the tool reports
 * nothing about dyco's switches and copies, and still reports what the program
 * itself does wrong. Nothing of this costs the switches anything when it is 0.
 */
int dyco_context_tools(void);

/* dyco_context_switch_tools is dyco_context_switch_sp (same *from_sp and
 * *to_sp) for when dyco_context_tools() is not 0: from and to are the
 * dyco_context records of the two sides, whose stack, stack_size and tool
 * members tell the tool about each (their sp is not used). A zero-
 * initialised `from` stands for the context running now, as for
 * dyco_context_switch. Works in every build. */
void *dyco_context_switch_tools(void **from_sp, void *const *to_sp, void *value,
                                dyco_context *from, dyco_context *to);

/* dyco_context_stack_save copies the n bytes of a suspended context's
 * stack at `stack` to buf, as a shared-stack scheduler does, and
 * dyco_context_stack_restore copies them back; buf holds n +
 * dyco_context_stack_extra(n) bytes. memcpy when no tool is there.
 * Otherwise AddressSanitizer does not check the copies (a suspended stack
 * holds its frames' poisoned red zones) and buf keeps its record of them,
 * so that they catch overflows again once restored; valgrind's memcheck
 * does not take the restore for a write below a stack pointer. */
size_t dyco_context_stack_extra(size_t n);
void dyco_context_stack_save(void *buf, const void *stack, size_t n);
void dyco_context_stack_restore(void *stack, const void *buf, size_t n);

/* dyco_context_stack_reuse tells the tool that [stack, stack + size) holds
 * no frame any more (its owner's frames are saved elsewhere, another
 * context's are about to be copied in): AddressSanitizer forgets the
 * poison those frames left. Nothing when no tool is there. */
void dyco_context_stack_reuse(void *stack, size_t size);

/* dyco_context_implementation names the switch in use: "x86_64", "i386",
 * "arm", "aarch64" or "ucontext". */
const char *dyco_context_implementation(void);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_CONTEXT_CONTEXT_H_ */
