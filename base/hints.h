/* dyco — base layer: branch hints. The one definition of likely/unlikely for
 * every layer's C sources, and of the functions that go back to their
 * caller by a jump (for the return predictor). */
#ifndef DYCO_BASE_HINTS_H_
#define DYCO_BASE_HINTS_H_

/* DYCO__LIKELY(x) and DYCO__UNLIKELY(x) are x (as 0 or 1), telling the
 * compiler which way a test almost always goes. */
#define DYCO__LIKELY(x) __builtin_expect(!!(x), 1)
#define DYCO__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* DYCO__RETURN_BY_JUMP(type, name, params) opens the definition of the
 * global function `type name params` whose body follows, for a call in
 * which a coroutine may be suspended (a yield, a wait). On x86_64 `name`
 * becomes a stub that calls the body (a hidden function of its own) and
 * goes back to its caller by a `ret` when the last call of such a stub on
 * this thread came from the same place, by an indirect jump otherwise.
 * Why: after a switch the processor's return predictor holds the calls of
 * the coroutine that left, not of the one resumed. The returns inside the
 * call are still guessed right when both were suspended the same way (the
 * same body), but the one to the caller lands where the resumed coroutine
 * had called. When it called from the same place as the one that left (a
 * hundred connections parked at the same line), the `ret` is guessed
 * right, and so are the returns above it: the stub returns. When it called
 * from elsewhere (a producer and a consumer, a generator and its user
 * taking turns) the `ret` was missed every time: the stub jumps, and the
 * indirect jump's predictor learns its target from the path that led
 * there. A jump leaves the predictor's entry for the call unused, so the
 * returns above it are guessed one entry off: not worse, since they were
 * the other coroutine's anyway, but the reason a jump is not always taken
 * (a yield three calls down, always jumping: 12.0 -> 32.6 ns among 2 and
 * 11.2 -> 33.7 among 100, sched_benchmark on an AMD EPYC Zen 4,
 * docs/sched.md).
 * Called on the thread's shared stack (dyco__return_plain), the stub steps
 * aside: it jumps to the body, which returns as a plain function would.
 * There every byte of a suspended coroutine's frames is copied off and
 * back at each switch, and the stub's 16 bytes made a yield among 1,000
 * coroutines 2.6 ns slower (192 bytes copied each way instead of 208).
 * Like the context switch (docs/context.md), the stub's entry is a landing
 * pad for IBT and its jump is `notrack`; a shadow stack would refuse it, as
 * it refuses the switch.
 * Only for functions whose arguments all travel in registers (at most six
 * integers or pointers, no structure by value): the stub moves the stack
 * by 16 bytes. Elsewhere it is the plain definition. Use:
 *   DYCO__RETURN_BY_JUMP(int, dyco_x_wait, (dyco_x *x, int timeout)) {
 *     ...
 *   }
 * A function whose common case does not wait gives the stub only its
 * waiting part, reached by a tail call (the caller's return address is
 * then the stub's): a stub costs about 1.5 ns on a call that does not
 * switch (a buffered channel, an uncontended mutex).
 * One such function calls another's body, DYCO__BODY(name), not the stub:
 * a stub called inside another's body would leave the last call's place at
 * the inner call, and the outer stub would then always jump. */
#if defined(__x86_64__)
/* The thread's word for the stubs: where their caller's stack is plain (a
 * shared stack: [plain_lo, plain_lo + plain_len)), and where the last stub
 * was called from. The layout is the stubs'. */
typedef struct dyco__return_tls {
  unsigned long plain_lo;
  unsigned long plain_len;
  unsigned long site;
} dyco__return_tls;
extern __thread dyco__return_tls dyco__return_state
    __attribute__((tls_model("initial-exec")));

/* dyco__return_plain makes [lo, lo + len) the calling thread's shared stack
 * for the stubs (len 0: none). */
static inline void dyco__return_plain(const void *lo, unsigned long len) {
  dyco__return_state.plain_lo = (unsigned long)lo;
  dyco__return_state.plain_len = len;
}

/* clang-format off */
#define DYCO__RETURN_BY_JUMP(type, name, params)                        \
  type name params;                                                     \
  __asm__("  .pushsection .text\n"                                      \
          "  .globl " #name "\n"                                        \
          "  .type " #name ", @function\n"                              \
          "  .p2align 4\n"                                              \
          #name ":\n"                                                   \
          "  .cfi_startproc\n"                                          \
          "  endbr64\n"                                                 \
          /* r10, r11: no argument travels there */                     \
          "  movq dyco__return_state@gottpoff(%rip), %r11\n"            \
          "  movq %rsp, %r10\n"                                         \
          "  subq %fs:(%r11), %r10\n"                                   \
          "  cmpq %fs:8(%r11), %r10\n"                                  \
          "  jb dyco__body_" #name "\n"  /* on the shared stack */      \
          "  movq (%rsp), %r10\n"                                       \
          "  movq %r10, %fs:16(%r11)\n"  /* the last call's place */    \
          "  subq $8, %rsp\n"            /* 16-byte aligned at a call */ \
          "  .cfi_adjust_cfa_offset 8\n"                                \
          "  call dyco__body_" #name "\n"                               \
          "  addq $8, %rsp\n"                                           \
          "  .cfi_adjust_cfa_offset -8\n"                               \
          /* rcx, rdx: the result is in rax */                          \
          "  movq dyco__return_state@gottpoff(%rip), %rcx\n"            \
          "  movq (%rsp), %rdx\n"                                       \
          "  cmpq %fs:16(%rcx), %rdx\n"                                 \
          "  jne 1f\n"                                                  \
          "  ret\n"                                                     \
          "1:\n"                                                        \
          "  popq %rcx\n"                                               \
          "  .cfi_adjust_cfa_offset -8\n"                               \
          "  .cfi_register rip, rcx\n"                                  \
          "  notrack jmp *%rcx\n"                                       \
          "  .cfi_endproc\n"                                            \
          "  .size " #name ", .-" #name "\n"                            \
          "  .popsection\n");                                           \
  __attribute__((visibility("hidden"))) type dyco__body_##name params; \
  type dyco__body_##name params
/* clang-format on */
#define DYCO__BODY(name) dyco__body_##name
#else
static inline void dyco__return_plain(const void *lo, unsigned long len) {
  (void)lo;
  (void)len;
}
#define DYCO__RETURN_BY_JUMP(type, name, params) \
  type name params;                              \
  type name params
#define DYCO__BODY(name) name
#endif

#endif /* DYCO_BASE_HINTS_H_ */
