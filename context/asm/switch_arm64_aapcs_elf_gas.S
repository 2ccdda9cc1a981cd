/* dyco — context layer: the switch for aarch64, AAPCS64, ELF, GNU as.
 * Saves x19-x30, d8-d15 (the low halves AAPCS64 preserves) and FPCR. */
#include "context/internal/asm.h"
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
 *
 * FPCR is written only when it differs from the leaving context's (msr fpcr
 * is slow on many cores); FPSR, the status flags, is caller-saved.
 *
 * Control-flow protection: each entry point starts with bti c. Both entry
 * points leave with `ret`, never with an indirect branch: in a program
 * whose pages are BTI-guarded, `br` may only land on a bti instruction, and
 * the place a context resumes is the instruction after its call of the
 * switch, where no compiler puts one. (On x86_64 the first entry point
 * jumps to keep the return predictor out of it; here the two are one.) In a
 * -mbranch-protection=pac-ret build the saved return address is signed
 * with the stack pointer of the call (DYCO_PAC_SIGN_LR), and authenticated
 * when the context resumes. The CFI describes every instruction, each
 * register saved included; after the stack pointer is switched it
 * describes the resumed context's frame, which has the same layout.
 */

        .text

/* Saves the state on this stack (the frame above, FPCR also left in x9)
 * and stores sp in *x0. Entered by a call: lr is the return address. */
        .macro  SWITCH_SAVE
        DYCO_PAC_SIGN_LR
        DYCO_CFI_RA_SIGNED
        sub     sp, sp, #0xb0
        .cfi_adjust_cfa_offset 0xb0
        stp     x19, x20, [sp, #0x00]
        .cfi_rel_offset x19, 0x00
        .cfi_rel_offset x20, 0x08
        stp     x21, x22, [sp, #0x10]
        .cfi_rel_offset x21, 0x10
        .cfi_rel_offset x22, 0x18
        stp     x23, x24, [sp, #0x20]
        .cfi_rel_offset x23, 0x20
        .cfi_rel_offset x24, 0x28
        stp     x25, x26, [sp, #0x30]
        .cfi_rel_offset x25, 0x30
        .cfi_rel_offset x26, 0x38
        stp     x27, x28, [sp, #0x40]
        .cfi_rel_offset x27, 0x40
        .cfi_rel_offset x28, 0x48
        stp     x29, x30, [sp, #0x50]
        .cfi_rel_offset x29, 0x50
        .cfi_rel_offset x30, 0x58
        stp     d8, d9, [sp, #0x60]
        .cfi_rel_offset d8, 0x60
        .cfi_rel_offset d9, 0x68
        stp     d10, d11, [sp, #0x70]
        .cfi_rel_offset d10, 0x70
        .cfi_rel_offset d11, 0x78
        stp     d12, d13, [sp, #0x80]
        .cfi_rel_offset d12, 0x80
        .cfi_rel_offset d13, 0x88
        stp     d14, d15, [sp, #0x90]
        .cfi_rel_offset d14, 0x90
        .cfi_rel_offset d15, 0x98
        mrs     x9, fpcr
        str     x9, [sp, #0xa0]
        mov     x10, sp
        str     x10, [x0]               /* from->sp = sp */
        .endm

/* With sp at a suspended context's frame, x9 the leaving context's FPCR
 * and x2 the value: restores that context and returns x2 there. */
        .macro  SWITCH_FINISH
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
        /* Write FPCR only when it differs from the leaving context's. */
        ldr     x10, [sp, #0xa0]
        cmp     x9, x10
        b.ne    1f
2:      .cfi_remember_state
        add     sp, sp, #0xb0
        .cfi_def_cfa_offset 0
        .cfi_restore x19
        .cfi_restore x20
        .cfi_restore x21
        .cfi_restore x22
        .cfi_restore x23
        .cfi_restore x24
        .cfi_restore x25
        .cfi_restore x26
        .cfi_restore x27
        .cfi_restore x28
        .cfi_restore x29
        .cfi_restore x30
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
        DYCO_PAC_AUTH_LR
        DYCO_CFI_RA_SIGNED
        mov     x0, x2
        ret
        .cfi_restore_state
1:      msr     fpcr, x10
        b       2b
        .endm

/* void *dyco__context_switch_asm(dyco_context *from,   x0
 *                                dyco_context *to,     x1
 *                                void *value)          x2  -> x0
 * Saves the state on this stack, stores sp in *from (its first word), loads
 * *to's, restores, returns value there. dyco__context_switch_ret_asm (under
 * dyco_context_switch_sp) is the same code. */
        .globl  dyco__context_switch_asm
        .hidden dyco__context_switch_asm
        .type   dyco__context_switch_asm, %function
        .globl  dyco__context_switch_ret_asm
        .hidden dyco__context_switch_ret_asm
        .type   dyco__context_switch_ret_asm, %function
        .p2align 4
dyco__context_switch_asm:
dyco__context_switch_ret_asm:
        .cfi_startproc
        DYCO_PAD_CALL
        SWITCH_SAVE
        ldr     x10, [x1]               /* sp = to->sp */
        mov     sp, x10
        SWITCH_FINISH
        .cfi_endproc
        .size   dyco__context_switch_asm, .-dyco__context_switch_asm
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
        .globl  dyco_context_switch_sp_jump
        .type   dyco_context_switch_sp_jump, %function
        .set    dyco_context_switch_sp_jump, dyco__context_switch_asm
/* dyco_context_switch_int: the same switch, declared as returning the int
 * passed in the low part of the return register. */
        .globl  dyco_context_switch_int
        .type   dyco_context_switch_int, %function
        .set    dyco_context_switch_int, dyco__context_switch_asm
#endif

#if DYCO__CONTEXT_DIRECT_SWITCH
/* void *dyco_context_switch_sp_via(void **from_sp,              x0
 *                                  void *stack,                 x1
 *                                  size_t size,                 x2
 *                                  void **(*fn)(void *arg),     x3
 *                                  void *arg)                   x4
 * Saves the running context as the switch does and stores its sp in
 * *from_sp; moves to the top of [stack, stack + size) (aligned down to 16)
 * and calls fn(arg) there; resumes the context whose saved sp is in *fn's
 * result, returning NULL there. The leaving context's FPCR is kept in x19
 * (saved already) across fn, whose work may overwrite the leaving frame (a
 * shared stack's next owner). */
        .globl  dyco_context_switch_sp_via
        .type   dyco_context_switch_sp_via, %function
        .p2align 4
dyco_context_switch_sp_via:
        .cfi_startproc
        DYCO_PAD_CALL
        SWITCH_SAVE
        mov     x19, x9                 /* the leaving FPCR */
        .cfi_remember_state
        add     x10, x1, x2
        and     x10, x10, #~15
        mov     sp, x10                 /* onto the scratch stack's top */
        .cfi_undefined x30              /* unwinders stop here */
        mov     x0, x4
        blr     x3                      /* x0 = fn(arg): where to go */
        ldr     x10, [x0]
        mov     sp, x10
        .cfi_restore_state
        mov     x9, x19
        mov     x2, xzr                 /* the value: NULL */
        SWITCH_FINISH
        .cfi_endproc
        .size   dyco_context_switch_sp_via, .-dyco_context_switch_sp_via
#endif

/* void *dyco__context_make_asm(void *top,              x0 (16-aligned)
 *                              dyco_context_fn fn,     x1
 *                              void *arg,              x2
 *                              const dyco_context_fpmodes *modes)
 *                                                      x3  -> x0 (sp) */
        .globl  dyco__context_make_asm
        .hidden dyco__context_make_asm
        .type   dyco__context_make_asm, %function
        .p2align 4
dyco__context_make_asm:
        .cfi_startproc
        DYCO_PAD_CALL
        mov     x16, x0                 /* the sp the trampoline starts with */
        sub     x0, x0, #0xb0           /* the frame sits just below top */
        stp     x1, x2, [x0, #0x00]     /* x19 = fn, x20 = arg */
        stp     xzr, xzr, [x0, #0x10]
        stp     xzr, xzr, [x0, #0x20]
        stp     xzr, xzr, [x0, #0x30]
        stp     xzr, xzr, [x0, #0x40]
        adr     x17, dyco__context_trampoline
        DYCO_PAC_SIGN_X17               /* as the switch signs lr */
        stp     xzr, x17, [x0, #0x50]   /* fp = 0 ends the chain; lr */
        stp     xzr, xzr, [x0, #0x60]
        stp     xzr, xzr, [x0, #0x70]
        stp     xzr, xzr, [x0, #0x80]
        stp     xzr, xzr, [x0, #0x90]
        ldr     w9, [x3]                /* the FPCR it starts with */
        stp     x9, xzr, [x0, #0xa0]
        ret
        .cfi_endproc
        .size   dyco__context_make_asm, .-dyco__context_make_asm

/* Where a new context starts, reached by the switch's ret: sp is 16-byte
 * aligned, x19 = fn, x20 = arg. The return address is marked undefined so
 * that unwinders and debuggers stop here. Its unwind entry starts one
 * instruction early: while a switch is about to start a new context, the
 * return address in the frame is the trampoline itself, and unwinders look
 * up the instruction before a return address. The landing pad is not
 * needed by a ret; it keeps the trampoline a valid target should anything
 * jump there. */
        .globl  dyco__context_trampoline
        .hidden dyco__context_trampoline
        .type   dyco__context_trampoline, %function
        .p2align 4
        .cfi_startproc
        .cfi_undefined x30
        nop                     /* see above */
dyco__context_trampoline:
        DYCO_PAD_JUMP
        mov     x0, x20
        blr     x19
        /* fn returned: there is no caller to go back to. */
        bl      dyco__context_returned
        brk     #0
        .cfi_endproc
        .size   dyco__context_trampoline, .-dyco__context_trampoline

/* Where a context resumes after dyco_context_ontop, reached by the switch's
 * ret: sp points at fn, then at the lr the context was suspended with
 * (signed as the switch signs it, with the sp it has after this pop); x0
 * holds the value the switch passed. It calls fn(value) as if the
 * suspended switch call had called it: fn returns to that lr, and its
 * result is what the switch returns. The branch goes through x16, which a
 * function's bti c (or paciasp) accepts. */
        .globl  dyco__context_ontop_trampoline
        .hidden dyco__context_ontop_trampoline
        .type   dyco__context_ontop_trampoline, %function
        .p2align 4
        .cfi_startproc
        .cfi_def_cfa_offset 16
        .cfi_offset x30, -8
        nop                     /* see the trampoline */
dyco__context_ontop_trampoline:
        DYCO_PAD_JUMP
        ldp     x16, x30, [sp], #16
        .cfi_def_cfa_offset 0
        .cfi_restore x30
        DYCO_PAC_AUTH_LR
        br      x16
        .cfi_endproc
        .size   dyco__context_ontop_trampoline, .-dyco__context_ontop_trampoline

        DYCO_GNU_PROPERTY_NOTE

#endif /* __aarch64__ */

        .section .note.GNU-stack, "", %progbits
