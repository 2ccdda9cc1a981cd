/* dyco — context layer: the switch for x86_64, System V ABI, ELF, GNU as.
 * Saves rbx, rbp, r12-r15, MXCSR and the x87 control word; nothing else. */
#include "context/internal/asm.h"
#include "context/internal/switch.h"

#if defined(__x86_64__)

/*
 * The frame a suspended context leaves at its saved stack pointer (sp):
 *
 *   sp + 0x38  | return address   | <- where the switch returns to
 *   sp + 0x30  | rbp              |
 *   sp + 0x28  | rbx              |
 *   sp + 0x20  | r15              |
 *   sp + 0x18  | r14              |
 *   sp + 0x10  | r13              |
 *   sp + 0x08  | r12              |
 *   sp + 0x04  | x87 control word |    (2 bytes, 2 unused)
 *   sp + 0x00  | MXCSR            |
 *
 * A new context's frame has the trampoline as return address, fn in r12,
 * arg in r13 and rbp = 0. After the switch, rsp is 16-byte aligned, so the
 * trampoline's `call` gives fn the alignment the ABI promises at entry
 * (rsp + 8 a multiple of 16).
 *
 * The floating-point control state is loaded only when it differs from the
 * leaving context's: MXCSR's control bits (mask 0xffc0: rounding, flush to
 * zero, denormals are zero, exception masks) or the x87 control word. Its
 * status flags (bits 0-5) are caller-saved in the ABI and not compared:
 * loading an MXCSR whose flags differ costs about 50 ns on Intel cores, and
 * the flags of two contexts differ as soon as one of them did an inexact
 * division. On AMD cores (dyco__context_mxcsr_load_always, set at start-up
 * from CPUID) MXCSR is loaded at every switch instead, without a compare:
 * there `ldmxcsr` costs a few cycles whatever it loads, while reading back
 * what `stmxcsr` just wrote waits for the store (measured per switch: Zen 3
 * 7.7 -> 6.2 ns, Zen 5 6.4 -> 4.8 ns).
 * The x87 control word is compared on every CPU (`fldcw` is slow on all).
 *
 * Control-flow protection: each entry point starts with endbr64; the
 * indirect jump that resumes a context is `notrack`, because it lands after
 * a call, where no compiler puts a landing pad (see docs/context.md).
 * Unwinding: the CFI describes every instruction; after the stack pointer
 * is switched it describes the resumed context's frame, which has the same
 * layout.
 */

        .text

/* Saves the state on this stack (the frame above) and stores rsp in *rdi
 * (its first word). */
        .macro  SWITCH_SAVE
        leaq    -0x38(%rsp), %rsp
        .cfi_adjust_cfa_offset 0x38
        stmxcsr (%rsp)
        fnstcw  0x04(%rsp)
        movq    %r12, 0x08(%rsp)
        .cfi_rel_offset r12, 0x08
        movq    %r13, 0x10(%rsp)
        .cfi_rel_offset r13, 0x10
        movq    %r14, 0x18(%rsp)
        .cfi_rel_offset r14, 0x18
        movq    %r15, 0x20(%rsp)
        .cfi_rel_offset r15, 0x20
        movq    %rbx, 0x28(%rsp)
        .cfi_rel_offset rbx, 0x28
        movq    %rbp, 0x30(%rsp)
        .cfi_rel_offset rbp, 0x30
        movq    %rsp, (%rdi)            /* from->sp = rsp */
        .endm

/* The body of both switches: save the state, load *to's stack pointer,
 * restore, load the return address into r8 and the value into rax. How to
 * leave is each switch's own. */
        .macro  SWITCH_BODY
        .cfi_startproc
        DYCO_PAD_CALL
        SWITCH_SAVE
        movq    %rsp, %r9               /* the leaving frame, to compare */
        movq    (%rsi), %rsp            /* rsp = to->sp */

        movq    0x38(%rsp), %r8
        FP_COMPARE 0x04(%r9), (%r9)
        SWITCH_RESTORE
        .endm

/* With rsp at the resumed frame: to 1f (SWITCH_LOAD_FP) when the x87
 * control word differs from the leaving context's (`cw`, a word) or, where
 * MXCSR is compared rather than always loaded, when MXCSR's control bits
 * differ from the leaving context's (`csr`, a long, read after `csr_read`
 * if that is given); to 2f when only MXCSR is to be loaded (AMD); on
 * otherwise. The control word as a whole, MXCSR's control bits (mask
 * 0xffc0). Each load reads what one store wrote (a wider one could not be
 * forwarded). Uses eax and ecx. */
        .macro  FP_COMPARE cw, csr, csr_read
        movzwl  0x04(%rsp), %ecx
        cmpw    \cw, %cx
        jne     1f
        cmpb    $0, dyco__context_mxcsr_load_always(%rip)
        jne     2f
        \csr_read
        movl    (%rsp), %eax
        xorl    \csr, %eax
        testl   $0xffc0, %eax
        jnz     1f
        .endm

/* The rest of the restore, the value into rax. */
        .macro  SWITCH_RESTORE
        movq    0x08(%rsp), %r12
        movq    0x10(%rsp), %r13
        movq    0x18(%rsp), %r14
        movq    0x20(%rsp), %r15
        movq    0x28(%rsp), %rbx
        movq    0x30(%rsp), %rbp
        movq    %rdx, %rax
        .endm

/* The out-of-line part of SWITCH_BODY, when the two sides' floating-point
 * modes differ: load them, then restore and leave as the switch does (a
 * copy of its end, rather than a jump back to it). */
        .macro  SWITCH_LOAD_FP leave
1:      ldmxcsr (%rsp)
        fldcw   0x04(%rsp)
        SWITCH_RESTORE
        \leave
2:      ldmxcsr (%rsp)
        SWITCH_RESTORE
        \leave
        .endm

/* The callee-saved registers hold the resumed context's values again. */
        .macro  CFI_RESTORED
        .cfi_restore r12
        .cfi_restore r13
        .cfi_restore r14
        .cfi_restore r15
        .cfi_restore rbx
        .cfi_restore rbp
        .endm

/* void *dyco__context_switch_asm(dyco_context *from,   rdi
 *                                dyco_context *to,     rsi
 *                                void *value)          rdx  -> rax
 * Leaves with an indirect jump: the return-stack predictor is not consulted
 * (it would expect the call that entered this switch). Best when the two
 * sides switch from different places, as a generator and its caller do. */
        .globl  dyco__context_switch_asm
        .hidden dyco__context_switch_asm
        .type   dyco__context_switch_asm, @function
        .p2align 4
        .macro  LEAVE_BY_JMP
        .cfi_remember_state
        leaq    0x40(%rsp), %rsp        /* the frame and the return address */
        .cfi_def_cfa_offset 0
        .cfi_register rip, r8
        CFI_RESTORED
        notrack jmp *%r8
        .cfi_restore_state
        .endm
dyco__context_switch_asm:
        SWITCH_BODY
        LEAVE_BY_JMP
        SWITCH_LOAD_FP LEAVE_BY_JMP
        .cfi_endproc
        .size   dyco__context_switch_asm, .-dyco__context_switch_asm

/* void *dyco__context_switch_ret_asm(...): the same, leaving with `ret`,
 * which the return-stack predictor gets right when every context switches
 * from the same call site, as a scheduler's coroutines do. */
        .globl  dyco__context_switch_ret_asm
        .hidden dyco__context_switch_ret_asm
        .type   dyco__context_switch_ret_asm, @function
        .p2align 4
        .macro  LEAVE_BY_RET
        .cfi_remember_state
        leaq    0x38(%rsp), %rsp
        .cfi_def_cfa_offset 8
        CFI_RESTORED
        ret
        .cfi_restore_state
        .endm
dyco__context_switch_ret_asm:
        SWITCH_BODY
        LEAVE_BY_RET
        SWITCH_LOAD_FP LEAVE_BY_RET
        .cfi_endproc
        .size   dyco__context_switch_ret_asm, .-dyco__context_switch_ret_asm

#if DYCO__CONTEXT_DIRECT_SWITCH
/* No tool needs telling about switches: the public names are the switches
 * themselves (dyco_context_switch_sp's arguments differ only in C type). */
        .globl  dyco_context_switch
        .type   dyco_context_switch, @function
        .set    dyco_context_switch, dyco__context_switch_asm
        .globl  dyco_context_switch_sp
        .type   dyco_context_switch_sp, @function
        .set    dyco_context_switch_sp, dyco__context_switch_ret_asm
        .globl  dyco_context_switch_sp_jump
        .type   dyco_context_switch_sp_jump, @function
        .set    dyco_context_switch_sp_jump, dyco__context_switch_asm
/* dyco_context_switch_int: the same switch, declared as returning the int
 * passed in the low part of the return register. */
        .globl  dyco_context_switch_int
        .type   dyco_context_switch_int, @function
        .set    dyco_context_switch_int, dyco__context_switch_asm
#endif

#if DYCO__CONTEXT_DIRECT_SWITCH
/* void *dyco_context_switch_sp_via(void **from_sp,              rdi
 *                                  void *stack,                 rsi
 *                                  size_t size,                 rdx
 *                                  void **(*fn)(void *arg),     rcx
 *                                  void *arg)                   r8
 * Saves the running context as the switch does and stores its stack
 * pointer in *from_sp; moves to the top of [stack, stack + size) (aligned
 * down to 16) and calls fn(arg) there; resumes the context whose saved
 * stack pointer is in *fn's result, returning NULL there, by `ret`. The
 * leaving context's floating-point modes are kept in r13/r14 across fn,
 * whose work may overwrite the leaving frame (a shared stack's next
 * owner). */
        .globl  dyco_context_switch_sp_via
        .type   dyco_context_switch_sp_via, @function
        .p2align 4
dyco_context_switch_sp_via:
        .cfi_startproc
        DYCO_PAD_CALL
        SWITCH_SAVE
        movl    (%rsp), %r13d           /* the leaving MXCSR */
        movzwl  0x04(%rsp), %r14d       /* and x87 control word */
        .cfi_remember_state
        leaq    (%rsi,%rdx), %rsp       /* onto the scratch stack's top */
        andq    $-16, %rsp
        .cfi_undefined rip              /* unwinders stop here */
        movq    %r8, %rdi
        call    *%rcx                   /* rax = fn(arg): where to go */
        movq    (%rax), %rsp
        .cfi_restore_state
        xorl    %edx, %edx              /* the value: NULL */
        FP_COMPARE %r14w, %r13d
        SWITCH_RESTORE
        LEAVE_BY_RET
        SWITCH_LOAD_FP LEAVE_BY_RET
        .cfi_endproc
        .size   dyco_context_switch_sp_via, .-dyco_context_switch_sp_via
#endif

#if DYCO__CONTEXT_DIRECT_SWITCH
/* void dyco_context_resume_sp(void *const *to_sp,              rdi
 *                             void *value)                     rsi
 * Resumes the context whose saved stack pointer is *to_sp, passing value,
 * and saves nothing of the running one: the switch that ends a context.
 * What it skips is most of a switch's cost on AMD cores, where `stmxcsr`
 * takes about 4 ns (Zen 4, 4.2 ns a store, back to back). The leaving
 * context's floating-point modes are read into the red zone below the
 * resumed frame (nothing lives there: the resumed context is suspended),
 * the control word always (`fnstcw` is cheap), MXCSR only where it is
 * compared rather than always loaded. Leaves by a jump, as the switch into
 * a context that has not started must. */
        .globl  dyco_context_resume_sp
        .type   dyco_context_resume_sp, @function
        .p2align 4
dyco_context_resume_sp:
        .cfi_startproc
        DYCO_PAD_CALL
        movq    (%rdi), %rsp            /* rsp = *to_sp: its frame from here */
        .cfi_def_cfa_offset 0x40
        .cfi_offset r12, -0x38
        .cfi_offset r13, -0x30
        .cfi_offset r14, -0x28
        .cfi_offset r15, -0x20
        .cfi_offset rbx, -0x18
        .cfi_offset rbp, -0x10
        movq    %rsi, %rdx              /* the value, where SWITCH_RESTORE
                                           takes it */
        movq    0x38(%rsp), %r8
        fnstcw  -0x08(%rsp)
        FP_COMPARE -0x08(%rsp), -0x10(%rsp), "stmxcsr -0x10(%rsp)"
        SWITCH_RESTORE
        LEAVE_BY_JMP
        SWITCH_LOAD_FP LEAVE_BY_JMP
        .cfi_endproc
        .size   dyco_context_resume_sp, .-dyco_context_resume_sp
#endif

/* void *dyco__context_make_asm(void *top,              rdi (16-aligned)
 *                              dyco_context_fn fn,     rsi
 *                              void *arg,              rdx
 *                              const dyco_context_fpmodes *modes)
 *                                                      rcx  -> rax (sp) */
        .globl  dyco__context_make_asm
        .hidden dyco__context_make_asm
        .type   dyco__context_make_asm, @function
        .p2align 4
dyco__context_make_asm:
        .cfi_startproc
        DYCO_PAD_CALL
        leaq    -0x40(%rdi), %rax       /* the frame sits just below top */
        movl    (%rcx), %r8d            /* the modes it starts with: */
        movl    %r8d, (%rax)            /* MXCSR */
        movl    4(%rcx), %r8d
        movl    %r8d, 4(%rax)           /* x87 control word */
        movq    %rsi, 0x08(%rax)        /* r12 = fn */
        movq    %rdx, 0x10(%rax)        /* r13 = arg */
        movq    $0, 0x18(%rax)          /* r14 */
        movq    $0, 0x20(%rax)          /* r15 */
        movq    $0, 0x28(%rax)          /* rbx */
        movq    $0, 0x30(%rax)          /* rbp: ends the frame-pointer chain */
        leaq    dyco__context_trampoline(%rip), %rcx
        movq    %rcx, 0x38(%rax)        /* return address */
        ret
        .cfi_endproc
        .size   dyco__context_make_asm, .-dyco__context_make_asm

/* Where a new context starts, reached by the switch's jmp or ret: rsp is
 * 16-byte aligned, r12 = fn, r13 = arg. The return address is marked
 * undefined so that unwinders and debuggers stop here. Its unwind entry
 * starts one instruction early: while a switch is about to start a new
 * context, the return address in the frame is the trampoline itself, and
 * unwinders look up the instruction before a return address. */
        .globl  dyco__context_trampoline
        .hidden dyco__context_trampoline
        .type   dyco__context_trampoline, @function
        .p2align 4
        .cfi_startproc
        .cfi_undefined rip
        nop                     /* see above */
dyco__context_trampoline:
        DYCO_PAD_JUMP
        movq    %r13, %rdi
        callq   *%r12
        /* fn returned: there is no caller to go back to. */
        call    dyco__context_returned
        hlt
        .cfi_endproc
        .size   dyco__context_trampoline, .-dyco__context_trampoline

/* Where a context resumes after dyco_context_ontop, reached by the switch's
 * jmp or ret: rsp points at fn, then at the return address the context was
 * suspended with; rax holds the value the switch passed. It calls
 * fn(value) as if the suspended switch call had called it: fn returns to
 * that return address, with that stack pointer and the callee-saved
 * registers the switch restored, and its result is what the switch returns.
 * Its unwind entry starts one instruction early, as the trampoline's. */
        .globl  dyco__context_ontop_trampoline
        .hidden dyco__context_ontop_trampoline
        .type   dyco__context_ontop_trampoline, @function
        .p2align 4
        .cfi_startproc
        .cfi_def_cfa_offset 16
        nop                     /* see above */
dyco__context_ontop_trampoline:
        DYCO_PAD_JUMP
        popq    %r11
        .cfi_def_cfa_offset 8
        movq    %rax, %rdi
        jmp     *%r11
        .cfi_endproc
        .size   dyco__context_ontop_trampoline, .-dyco__context_ontop_trampoline

        DYCO_GNU_PROPERTY_NOTE

#endif /* __x86_64__ */

        .section .note.GNU-stack, "", %progbits
