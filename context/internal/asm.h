/* dyco — context layer, private: what every assembly file of dyco uses for
 * control-flow protection (landing pads, return-address signing, the GNU
 * property note). Assembler only: not for clang-format. */
#ifndef DYCO_CONTEXT_INTERNAL_ASM_H_
#define DYCO_CONTEXT_INTERNAL_ASM_H_

#ifdef __ASSEMBLER__
/* clang-format off */

/* --- Landing pads ---------------------------------------------------------
 * An indirect call or jump may only land on one when the program runs with
 * Intel IBT or Arm BTI enforced; elsewhere they execute as NOPs (endbr64,
 * endbr32 and bti are in the hint space), so they are always emitted.
 * DYCO_PAD_CALL opens every function another object may call (through a
 * pointer or a PLT, which jumps); DYCO_PAD_JUMP is for a place reached by
 * an indirect jump. */
#if defined(__x86_64__)
#define DYCO_PAD_CALL endbr64
#define DYCO_PAD_JUMP endbr64
#elif defined(__i386__)
#define DYCO_PAD_CALL endbr32
#define DYCO_PAD_JUMP endbr32
#elif defined(__aarch64__)
#define DYCO_PAD_CALL hint 34 /* bti c */
#define DYCO_PAD_JUMP hint 36 /* bti j */
#else
#define DYCO_PAD_CALL
#define DYCO_PAD_JUMP
#endif

/* --- Return-address signing (aarch64) -------------------------------------
 * In a build with -mbranch-protection=pac-ret (or standard), as the C code
 * around it signs its own, a switch signs the return address it saves in a
 * suspended context's frame with the stack pointer the context had at the
 * call, and authenticates it when the context resumes: a return address
 * overwritten in a suspended stack then faults instead of running. The
 * instructions are hints (NOPs without pointer authentication).
 *   DYCO_PAC_SIGN_LR  signs x30 with sp (paciasp or pacibsp; also a
 *                     landing pad for calls, like bti c);
 *   DYCO_PAC_AUTH_LR  authenticates x30 with sp (autiasp or autibsp);
 *   DYCO_PAC_SIGN_X17 signs x17 with x16 (pacia1716 or pacib1716). */
#if defined(__aarch64__) && defined(__ARM_FEATURE_PAC_DEFAULT) && \
    (__ARM_FEATURE_PAC_DEFAULT & 3) != 0
#define DYCO_PAC 1
#if __ARM_FEATURE_PAC_DEFAULT & 1 /* key A */
#define DYCO_PAC_SIGN_LR hint 25  /* paciasp */
#define DYCO_PAC_AUTH_LR hint 29  /* autiasp */
#define DYCO_PAC_SIGN_X17 hint 8  /* pacia1716 */
#else                             /* key B */
#define DYCO_PAC_SIGN_LR hint 27  /* pacibsp */
#define DYCO_PAC_AUTH_LR hint 31  /* autibsp */
#define DYCO_PAC_SIGN_X17 hint 10 /* pacib1716 */
#endif
/* The unwinder must strip the signature from x30 between the two. */
#define DYCO_CFI_RA_SIGNED .cfi_negate_ra_state
#else
#define DYCO_PAC 0
#define DYCO_PAC_SIGN_LR
#define DYCO_PAC_AUTH_LR
#define DYCO_PAC_SIGN_X17
#define DYCO_CFI_RA_SIGNED
#endif

/* --- The GNU property note ------------------------------------------------
 * The linker marks a program (or shared library) IBT or BTI only when every
 * object in it says it is ready: an assembly file without this note would
 * take the mark away from a whole program built with -fcf-protection or
 * -mbranch-protection. It is emitted in the builds that ask for it, as the
 * compiler does for C, and says only what the file really does:
 *   x86: IBT (landing pads), never SHSTK: a switch leaves on another stack
 *        than it was called on, which a shadow stack would refuse (see
 *        docs/context.md, "Control-flow protection");
 *   aarch64: BTI (landing pads, and no indirect jump onto a place that has
 *        none), and PAC when return addresses are signed. */
#if defined(__x86_64__) || defined(__i386__)
#if defined(__CET__) && (__CET__ & 1)
#define DYCO_PROPERTY_TYPE 0xc0000002 /* GNU_PROPERTY_X86_FEATURE_1_AND */
#define DYCO_PROPERTY_BITS 1          /* IBT */
#endif
#elif defined(__aarch64__)
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT == 1
#define DYCO_PROPERTY_TYPE 0xc0000000 /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
#define DYCO_PROPERTY_BITS (1 | (DYCO_PAC << 1)) /* BTI, PAC */
#elif DYCO_PAC
#define DYCO_PROPERTY_TYPE 0xc0000000
#define DYCO_PROPERTY_BITS 2 /* PAC */
#endif
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define DYCO_PROPERTY_ALIGN 3 /* 8 bytes on ELF64 */
#else
#define DYCO_PROPERTY_ALIGN 2
#endif

#if defined(DYCO_PROPERTY_TYPE)
#define DYCO_GNU_PROPERTY_NOTE                                           \
        .pushsection .note.gnu.property, "a";                            \
        .p2align DYCO_PROPERTY_ALIGN;                                    \
        .long 4;                     /* name size: "GNU" */              \
        .long 4f - 3f;               /* descriptor size */               \
        .long 5;                     /* NT_GNU_PROPERTY_TYPE_0 */        \
        .asciz "GNU";                                                    \
3:      .long DYCO_PROPERTY_TYPE;                                        \
        .long 4;                     /* the property's size */           \
        .long DYCO_PROPERTY_BITS;                                        \
        .p2align DYCO_PROPERTY_ALIGN;                                    \
4:      .popsection
#else
#define DYCO_GNU_PROPERTY_NOTE
#endif

/* clang-format on */
#endif /* __ASSEMBLER__ */

#endif /* DYCO_CONTEXT_INTERNAL_ASM_H_ */
