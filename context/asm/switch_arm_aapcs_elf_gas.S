/* dyco — context layer: the switch for 32-bit arm, AAPCS hard-float, ELF,
 * GNU as. Saves r4-r11, lr, d8-d15 and FPSCR's control bits; nothing else. */
#include "context/internal/asm.h"
#include "context/internal/switch.h"

#if defined(__arm__) && defined(__ARM_PCS_VFP)

/*
 * The frame a suspended context leaves at its saved stack pointer (sp):
 *
 *   sp + 0x64  | return address (lr) | <- popped into pc
 *   sp + 0x60  | FPSCR               |    (in the r12 slot)
 *   sp + 0x5c  | r11 (fp)            |
 *   ...        | ...                 |
 *   sp + 0x40  | r4                  |
 *   sp + 0x38  | d15                 |
 *   ...        | ...                 |
 *   sp + 0x00  | d8                  |
 *
 * 104 bytes, so sp keeps the 8-byte alignment AAPCS asks at calls. A new
 * context's frame has the trampoline as return address, fn in r4, arg in r5
 * and fp = 0; it sits 16 zeroed bytes below the 16-byte aligned top, so
 * that the trampoline starts 16-byte aligned with a zero "return address"
 * above it for the unwinder (below).
 *
 * Unwinding: 32-bit arm unwinds at run time (_Unwind_Backtrace, glibc's
 * backtrace, C++ exceptions) with the EHABI tables (.fnstart, .save,
 * .vsave), and in debuggers with the CFI, which goes to .debug_frame as
 * gcc's does. The trampoline's entry says its caller's lr is the zero word
 * above it: an unwinder finds no function at 0 and stops there; its CFI
 * marks lr undefined. There is no BTI or PAC on 32-bit arm application
 * cores, hence no landing pads and no GNU property note.
 */

        .syntax unified
        .arch   armv7-a
        .fpu    vfpv3-d16
        .arm
        .cfi_sections .debug_frame
        .text

/* Saves the state on this stack and stores sp in *r0 (its first word).
 * With ehabi=0 it leaves out the EHABI directives (for a function that
 * cannot be unwound through). */
        .macro  SWITCH_SAVE ehabi=1
        vmrs    r12, fpscr
        push    {r4-r12, lr}
        .if \ehabi
        .save   {r4-r12, lr}
        .endif
        .cfi_adjust_cfa_offset 40
        .cfi_rel_offset r4, 0
        .cfi_rel_offset r5, 4
        .cfi_rel_offset r6, 8
        .cfi_rel_offset r7, 12
        .cfi_rel_offset r8, 16
        .cfi_rel_offset r9, 20
        .cfi_rel_offset r10, 24
        .cfi_rel_offset r11, 28
        .cfi_rel_offset lr, 36
        vpush   {d8-d15}
        .if \ehabi
        .vsave  {d8-d15}
        .endif
        .cfi_adjust_cfa_offset 64
        .cfi_rel_offset d8, 0
        .cfi_rel_offset d9, 8
        .cfi_rel_offset d10, 16
        .cfi_rel_offset d11, 24
        .cfi_rel_offset d12, 32
        .cfi_rel_offset d13, 40
        .cfi_rel_offset d14, 48
        .cfi_rel_offset d15, 56

        str     sp, [r0]                /* from->sp = sp */
        .endm

/* With sp at a suspended context's frame and the value in r2: restores
 * everything but lr and the registers popped with it, value into r0. How
 * to leave is each caller's own. The live FPSCR is the leaving context's. */
        .macro  SWITCH_RESTORE
        vpop    {d8-d15}
        .cfi_adjust_cfa_offset -64
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
        /* Restore FPSCR only where its control bits (trap enables, Len,
         * Stride, RMode, FZ, DN, AHP: mask 0x07ff9f00) differ: vmsr is
         * slow. Its status bits are caller-saved and not compared. */
        ldr     r12, [sp, #0x20]
        vmrs    r3, fpscr
        eor     r3, r3, r12
        movw    r1, #0x9f00
        movt    r1, #0x07ff
        tst     r3, r1
        beq     1f
        vmsr    fpscr, r12
1:      mov     r0, r2
        pop     {r4-r12, lr}
        .cfi_adjust_cfa_offset -40
        .cfi_restore r4
        .cfi_restore r5
        .cfi_restore r6
        .cfi_restore r7
        .cfi_restore r8
        .cfi_restore r9
        .cfi_restore r10
        .cfi_restore r11
        .cfi_restore lr
        .endm

/* The body of both switches: save, load *to's sp, restore. */
        .macro  SWITCH_BODY
        .fnstart
        .cfi_startproc
        SWITCH_SAVE
        ldr     sp, [r1]                /* sp = to->sp */
        SWITCH_RESTORE
        .endm

/* void *dyco__context_switch_asm(dyco_context *from,   r0
 *                                dyco_context *to,     r1
 *                                void *value)          r2  -> r0
 * Leaves through a plain indirect branch, which the return-stack predictor
 * does not see (it would expect the call that entered this switch). */
        .globl  dyco__context_switch_asm
        .hidden dyco__context_switch_asm
        .type   dyco__context_switch_asm, %function
        .p2align 2
dyco__context_switch_asm:
        SWITCH_BODY
        mov     r3, lr
        .cfi_register lr, r3
        bx      r3
        .cfi_endproc
        .fnend
        .size   dyco__context_switch_asm, .-dyco__context_switch_asm

/* The same, leaving as a return: right for the return-stack predictor when
 * every context switches from the same call site (a scheduler). */
        .globl  dyco__context_switch_ret_asm
        .hidden dyco__context_switch_ret_asm
        .type   dyco__context_switch_ret_asm, %function
        .p2align 2
dyco__context_switch_ret_asm:
        SWITCH_BODY
        bx      lr
        .cfi_endproc
        .fnend
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
/* void *dyco_context_switch_sp_via(void **from_sp,              r0
 *                                  void *stack,                 r1
 *                                  size_t size,                 r2
 *                                  void **(*fn)(void *arg),     r3
 *                                  void *arg)                   [sp]
 * Saves the running context as the switch does and stores its sp in
 * *from_sp; moves to the top of [stack, stack + size) (aligned down to 16)
 * and calls fn(arg) there; resumes the context whose saved sp is in *fn's
 * result, returning NULL there, by the same return as the switch. fn is C
 * and leaves FPSCR as it found it: the leaving context's, which the restore
 * compares with. Not unwindable (EHABI cannot say that sp moved to another
 * stack); in the CFI, lr is undefined while fn runs. */
        .globl  dyco_context_switch_sp_via
        .type   dyco_context_switch_sp_via, %function
        .p2align 2
dyco_context_switch_sp_via:
        .fnstart
        .cantunwind
        .cfi_startproc
        SWITCH_SAVE ehabi=0
        ldr     r4, [sp, #0x68]         /* arg, above the frame */
        .cfi_remember_state
        add     r1, r1, r2
        bic     r1, r1, #15
        mov     sp, r1                  /* onto the scratch stack's top */
        .cfi_undefined lr               /* unwinders stop here */
        mov     r0, r4
        blx     r3                      /* r0 = fn(arg): where to go */
        ldr     sp, [r0]
        .cfi_restore_state
        mov     r2, #0                  /* the value: NULL */
        SWITCH_RESTORE
        bx      lr
        .cfi_endproc
        .fnend
        .size   dyco_context_switch_sp_via, .-dyco_context_switch_sp_via
#endif

/* void *dyco__context_make_asm(void *top,              r0 (16-aligned)
 *                              dyco_context_fn fn,     r1
 *                              void *arg,              r2
 *                              const dyco_context_fpmodes *modes)
 *                                                      r3  -> r0 (sp) */
        .globl  dyco__context_make_asm
        .hidden dyco__context_make_asm
        .type   dyco__context_make_asm, %function
        .p2align 2
dyco__context_make_asm:
        .fnstart
        .cfi_startproc
        ldr     r3, [r3]                /* the FPSCR it starts with */
        sub     r0, r0, #0x78           /* the frame, 16 bytes below top */
        str     r3, [r0, #0x60]
        str     r1, [r0, #0x40]         /* r4 = fn */
        str     r2, [r0, #0x44]         /* r5 = arg */
        mov     r3, #0
        add     r12, r0, #0x40
1:      str     r3, [r12, #-4]!         /* d8-d15 = 0 */
        cmp     r12, r0
        bne     1b
        str     r3, [r0, #0x48]         /* r6 */
        str     r3, [r0, #0x4c]         /* r7 */
        str     r3, [r0, #0x50]         /* r8 */
        str     r3, [r0, #0x54]         /* r9 */
        str     r3, [r0, #0x58]         /* r10 */
        str     r3, [r0, #0x5c]         /* r11 (fp): ends the chain */
        str     r3, [r0, #0x68]         /* 16 zero bytes above the frame */
        str     r3, [r0, #0x6c]
        str     r3, [r0, #0x70]
        str     r3, [r0, #0x74]
        adr     r12, dyco__context_trampoline
        str     r12, [r0, #0x64]        /* return address */
        bx      lr
        .cfi_endproc
        .fnend
        .size   dyco__context_make_asm, .-dyco__context_make_asm

/* Where a new context starts: sp is 16-byte aligned, 16 zero bytes above
 * it, r4 = fn, r5 = arg. For the EHABI unwinder, this frame holds its
 * caller's lr in the highest of those words (as if it had pushed lr and
 * then 12 bytes): 0, where no function is, and unwinding stops. Its unwind
 * entries start one instruction early: while a switch is about to start a
 * new context, the return address in the frame is the trampoline itself,
 * and unwinders look up the instruction before a return address. */
        .globl  dyco__context_trampoline
        .hidden dyco__context_trampoline
        .type   dyco__context_trampoline, %function
        .p2align 2
        .fnstart
        .save   {lr}
        .pad    #12
        .cfi_startproc
        .cfi_def_cfa_offset 16
        .cfi_undefined lr
        nop                     @ see above
dyco__context_trampoline:
        mov     r0, r5
        blx     r4
        /* fn returned: there is no caller to go back to. */
        bl      dyco__context_returned
        udf     #0
        .cfi_endproc
        .fnend
        .size   dyco__context_trampoline, .-dyco__context_trampoline

/* Where a context resumes after dyco_context_ontop, reached by the switch's
 * bx lr: sp points at fn, then at the lr the context was suspended with;
 * r0 holds the value the switch passed. It calls fn(value) as if the
 * suspended switch call had called it: fn returns to that lr, and its
 * result is what the switch returns. */
        .globl  dyco__context_ontop_trampoline
        .hidden dyco__context_ontop_trampoline
        .type   dyco__context_ontop_trampoline, %function
        .p2align 2
        .fnstart
        .cantunwind
        .cfi_startproc
        .cfi_def_cfa_offset 8
        .cfi_offset lr, -4
        nop                     @ see the trampoline
dyco__context_ontop_trampoline:
        pop     {r12, lr}
        .cfi_def_cfa_offset 0
        .cfi_restore lr
        bx      r12
        .cfi_endproc
        .fnend
        .size   dyco__context_ontop_trampoline, .-dyco__context_ontop_trampoline

#endif /* __arm__ && __ARM_PCS_VFP */

        .section .note.GNU-stack, "", %progbits
