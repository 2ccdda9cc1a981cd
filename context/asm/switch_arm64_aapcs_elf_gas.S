/* dyco — context layer: the switch for aarch64, AAPCS64, ELF, GNU as.
 * Saves x19-x30, d8-d15 (the low halves AAPCS64 preserves) and FPCR. */
#include "context/internal/switch.h"

#if defined(__aarch64__)

/*
 * The frame a suspended context leaves at its saved stack pointer (sp):
 *
 *   sp + 0xa8  | unused             |
 *   sp + 0xa0  | FPCR               |
 *   sp + 0x90  | d14, d15           |
 *   sp + 0x80  | d12, d13           |
 *   sp + 0x70  | d10, d11           |
 *   sp + 0x60  | d8, d9             |
 *   sp + 0x50  | x29 (fp), x30 (lr) | <- lr is where the switch returns to
 *   sp + 0x40  | x27, x28           |
 *   sp + 0x30  | x25, x26           |
 *   sp + 0x20  | x23, x24           |
 *   sp + 0x10  | x21, x22           |
 *   sp + 0x00  | x19, x20           |
 *
 * 176 bytes, so sp stays 16-byte aligned as AAPCS64 requires at all times.
 * A new context's frame has the trampoline in lr, fn in x19, arg in x20 and
 * fp = 0; after the switch its sp is the 16-byte aligned top.
 */

        .text

/* The body of both switches: save the state on this stack, store sp in
 * *from (its first word), load *to's, restore, value into x0. How to leave
 * (to x30) is each switch's own. */
        .macro  SWITCH_BODY
        .cfi_startproc
        sub     sp, sp, #0xb0
        .cfi_adjust_cfa_offset 0xb0
        stp     x19, x20, [sp, #0x00]
        stp     x21, x22, [sp, #0x10]
        stp     x23, x24, [sp, #0x20]
        stp     x25, x26, [sp, #0x30]
        stp     x27, x28, [sp, #0x40]
        stp     x29, x30, [sp, #0x50]
        .cfi_rel_offset x29, 0x50
        .cfi_rel_offset x30, 0x58
        stp     d8, d9, [sp, #0x60]
        stp     d10, d11, [sp, #0x70]
        stp     d12, d13, [sp, #0x80]
        stp     d14, d15, [sp, #0x90]
        mrs     x9, fpcr
        str     x9, [sp, #0xa0]

        mov     x10, sp
        str     x10, [x0]               /* from->sp = sp */
        ldr     x10, [x1]               /* sp = to->sp */
        mov     sp, x10

        ldp     x19, x20, [sp, #0x00]
        ldp     x21, x22, [sp, #0x10]
        ldp     x23, x24, [sp, #0x20]
        ldp     x25, x26, [sp, #0x30]
        ldp     x27, x28, [sp, #0x40]
        ldp     x29, x30, [sp, #0x50]
        ldp     d8, d9, [sp, #0x60]
        ldp     d10, d11, [sp, #0x70]
        ldp     d12, d13, [sp, #0x80]
        ldp     d14, d15, [sp, #0x90]
        /* Write FPCR only when it differs: msr fpcr is slow on many cores.
         * x9 still holds the value the leaving context had. */
        ldr     x10, [sp, #0xa0]
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x10
1:      add     sp, sp, #0xb0
        mov     x0, x2
        .endm

/* void *dyco__context_switch_asm(dyco_context *from,   x0
 *                                dyco_context *to,     x1
 *                                void *value)          x2  -> x0
 * Leaves through a plain indirect branch, which the return-stack predictor
 * does not see (it would expect the call that entered this switch). */
        .globl  dyco__context_switch_asm
        .hidden dyco__context_switch_asm
        .type   dyco__context_switch_asm, %function
        .p2align 4
dyco__context_switch_asm:
        SWITCH_BODY
        br      x30
        .cfi_endproc
        .size   dyco__context_switch_asm, .-dyco__context_switch_asm

/* The same, leaving with `ret`: right for the return-stack predictor when
 * every context switches from the same call site (a scheduler). */
        .globl  dyco__context_switch_ret_asm
        .hidden dyco__context_switch_ret_asm
        .type   dyco__context_switch_ret_asm, %function
        .p2align 4
dyco__context_switch_ret_asm:
        SWITCH_BODY
        ret
        .cfi_endproc
        .size   dyco__context_switch_ret_asm, .-dyco__context_switch_ret_asm

#if DYCO__CONTEXT_DIRECT_SWITCH
/* No tool needs telling about switches: the public names are the switches
 * themselves (dyco_context_switch_sp's arguments differ only in C type). */
        .globl  dyco_context_switch
        .type   dyco_context_switch, %function
        .set    dyco_context_switch, dyco__context_switch_asm
        .globl  dyco_context_switch_sp
        .type   dyco_context_switch_sp, %function
        .set    dyco_context_switch_sp, dyco__context_switch_ret_asm
/* dyco_context_switch_int: the same switch, declared as returning the int
 * passed in the low part of the return register. */
        .globl  dyco_context_switch_int
        .type   dyco_context_switch_int, %function
        .set    dyco_context_switch_int, dyco__context_switch_asm
#endif

/* void *dyco__context_make_asm(void *top,              x0 (16-aligned)
 *                              dyco_context_fn fn,     x1
 *                              void *arg)              x2  -> x0 (sp) */
        .globl  dyco__context_make_asm
        .hidden dyco__context_make_asm
        .type   dyco__context_make_asm, %function
        .p2align 4
dyco__context_make_asm:
        .cfi_startproc
        sub     x0, x0, #0xb0           /* the frame sits just below top */
        stp     x1, x2, [x0, #0x00]     /* x19 = fn, x20 = arg */
        stp     xzr, xzr, [x0, #0x10]
        stp     xzr, xzr, [x0, #0x20]
        stp     xzr, xzr, [x0, #0x30]
        stp     xzr, xzr, [x0, #0x40]
        adr     x9, dyco__context_trampoline
        stp     xzr, x9, [x0, #0x50]    /* fp = 0 ends the chain; lr */
        stp     xzr, xzr, [x0, #0x60]
        stp     xzr, xzr, [x0, #0x70]
        stp     xzr, xzr, [x0, #0x80]
        stp     xzr, xzr, [x0, #0x90]
        mrs     x9, fpcr                /* start with the caller's modes */
        stp     x9, xzr, [x0, #0xa0]
        ret
        .cfi_endproc
        .size   dyco__context_make_asm, .-dyco__context_make_asm

/* Where a new context starts: sp is 16-byte aligned, x19 = fn, x20 = arg.
 * The return address is marked undefined so debuggers stop unwinding here. */
        .type   dyco__context_trampoline, %function
        .p2align 4
dyco__context_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x0, x20
        blr     x19
        /* fn returned: there is no caller to go back to. */
        bl      dyco__context_returned
        brk     #0
        .cfi_endproc
        .size   dyco__context_trampoline, .-dyco__context_trampoline

#endif /* __aarch64__ */

        .section .note.GNU-stack, "", %progbits
