/* dyco — context layer: the switch for i386, System V ABI, ELF, GNU as.
 * Saves ebx, esi, edi, ebp, MXCSR and the x87 control word; nothing else. */
#include "context/internal/asm.h"
#include "context/internal/switch.h"

#if defined(__i386__)

/*
 * The frame a suspended context leaves at its saved stack pointer (sp):
 *
 *   sp + 0x18  | return address   | <- where the switch returns to
 *   sp + 0x14  | ebp              |
 *   sp + 0x10  | ebx              |
 *   sp + 0x0c  | esi              |
 *   sp + 0x08  | edi              |
 *   sp + 0x04  | x87 control word |    (2 bytes, 2 unused)
 *   sp + 0x00  | MXCSR            |
 *
 * A new context's frame has the trampoline as return address, fn in ebx,
 * arg in esi and ebp = 0. After the switch, esp is 16-byte aligned; the
 * trampoline pushes arg so that esp is 16-byte aligned at the `call`, as
 * gcc's i386 Linux ABI expects.
 *
 * As on x86_64, the floating-point control state is loaded only when it
 * differs from the leaving context's (MXCSR's control bits, mask 0xffc0, or
 * the x87 control word); each entry point starts with endbr32; the jump
 * that resumes a context is `notrack`; the CFI describes every instruction.
 */

        .text

/* Saves the state on this stack (the frame above). */
        .macro  SWITCH_SAVE
        leal    -0x18(%esp), %esp
        .cfi_adjust_cfa_offset 0x18
        stmxcsr (%esp)
        fnstcw  0x04(%esp)
        movl    %edi, 0x08(%esp)
        .cfi_rel_offset edi, 0x08
        movl    %esi, 0x0c(%esp)
        .cfi_rel_offset esi, 0x0c
        movl    %ebx, 0x10(%esp)
        .cfi_rel_offset ebx, 0x10
        movl    %ebp, 0x14(%esp)
        .cfi_rel_offset ebp, 0x14
        .endm

/* The body of both switches: save the state on this stack, store esp in
 * *from (its first word), load *to's, restore, load the return address into
 * ecx and the value into eax. How to leave is each switch's own. */
        .macro  SWITCH_BODY
        .cfi_startproc
        DYCO_PAD_CALL
        SWITCH_SAVE
        movl    0x1c(%esp), %eax        /* from */
        movl    0x20(%esp), %ecx        /* to */
        movl    0x24(%esp), %edx        /* value, read before leaving */
        movl    %esp, (%eax)            /* from->sp = esp */
        movl    %esp, %eax              /* the leaving frame, to compare */
        movl    (%ecx), %esp            /* esp = to->sp */

        /* Load the x87 control word and MXCSR only if either differs: the
         * control word as a whole, MXCSR's control bits. Each load reads
         * what one store wrote (a wider one could not be forwarded). */
        movzwl  0x04(%esp), %ecx
        cmpw    0x04(%eax), %cx
        jne     1f
        movl    (%esp), %ecx
        xorl    (%eax), %ecx
        testl   $0xffc0, %ecx
        jnz     1f
2:      SWITCH_RESTORE
        .endm

/* The restore: the return address into ecx, the callee-saved registers,
 * the value (edx) into eax. */
        .macro  SWITCH_RESTORE
        movl    0x18(%esp), %ecx
        movl    0x08(%esp), %edi
        movl    0x0c(%esp), %esi
        movl    0x10(%esp), %ebx
        movl    0x14(%esp), %ebp
        movl    %edx, %eax
        .endm

/* The out-of-line part of SWITCH_BODY: the two sides' floating-point modes
 * differ. */
        .macro  SWITCH_LOAD_FP
1:      ldmxcsr (%esp)
        fldcw   0x04(%esp)
        jmp     2b
        .endm

/* The callee-saved registers hold the resumed context's values again. */
        .macro  CFI_RESTORED
        .cfi_restore edi
        .cfi_restore esi
        .cfi_restore ebx
        .cfi_restore ebp
        .endm

/* void *dyco__context_switch_asm(dyco_context *from,   4(%esp)
 *                                dyco_context *to,     8(%esp)
 *                                void *value)          12(%esp) -> eax
 * Leaves with an indirect jump: the return-stack predictor is not consulted
 * (it would expect the call that entered this switch). */
        .globl  dyco__context_switch_asm
        .hidden dyco__context_switch_asm
        .type   dyco__context_switch_asm, @function
        .p2align 4
dyco__context_switch_asm:
        SWITCH_BODY
        .cfi_remember_state
        leal    0x1c(%esp), %esp        /* the frame and the return address */
        .cfi_def_cfa_offset 0
        .cfi_register eip, ecx
        CFI_RESTORED
        notrack jmp *%ecx
        .cfi_restore_state
        SWITCH_LOAD_FP
        .cfi_endproc
        .size   dyco__context_switch_asm, .-dyco__context_switch_asm

/* The same, leaving with `ret`: right for the return-stack predictor when
 * every context switches from the same call site (a scheduler). */
        .globl  dyco__context_switch_ret_asm
        .hidden dyco__context_switch_ret_asm
        .type   dyco__context_switch_ret_asm, @function
        .p2align 4
        .macro  LEAVE_BY_RET
        .cfi_remember_state
        leal    0x18(%esp), %esp
        .cfi_def_cfa_offset 4
        CFI_RESTORED
        ret
        .cfi_restore_state
        .endm
dyco__context_switch_ret_asm:
        SWITCH_BODY
        LEAVE_BY_RET
        SWITCH_LOAD_FP
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
/* void *dyco_context_switch_sp_via(void **from_sp,              4(%esp)
 *                                  void *stack,                 8(%esp)
 *                                  size_t size,                 12(%esp)
 *                                  void **(*fn)(void *arg),     16(%esp)
 *                                  void *arg)                   20(%esp)
 * Saves the running context as the switch does and stores its esp in
 * *from_sp; moves to the top of [stack, stack + size) (aligned down to 16)
 * and calls fn(arg) there; resumes the context whose saved esp is in *fn's
 * result, returning NULL there, by `ret`. The leaving context's
 * floating-point modes are kept in edi/esi (saved already) across fn,
 * whose work may overwrite the leaving frame (a shared stack's next
 * owner). */
        .globl  dyco_context_switch_sp_via
        .type   dyco_context_switch_sp_via, @function
        .p2align 4
dyco_context_switch_sp_via:
        .cfi_startproc
        DYCO_PAD_CALL
        SWITCH_SAVE
        movl    0x1c(%esp), %eax        /* from_sp */
        movl    %esp, (%eax)
        movl    (%esp), %edi            /* the leaving MXCSR */
        movzwl  0x04(%esp), %esi        /* and x87 control word */
        movl    0x20(%esp), %eax        /* stack */
        addl    0x24(%esp), %eax        /* + size */
        movl    0x28(%esp), %ecx        /* fn */
        movl    0x2c(%esp), %edx        /* arg */
        .cfi_remember_state
        andl    $-16, %eax
        movl    %eax, %esp              /* onto the scratch stack's top */
        .cfi_undefined eip              /* unwinders stop here */
        subl    $12, %esp
        pushl   %edx                    /* esp 16-aligned at the call */
        call    *%ecx                   /* eax = fn(arg): where to go */
        movl    (%eax), %esp
        .cfi_restore_state
        xorl    %edx, %edx              /* the value: NULL */
        cmpw    0x04(%esp), %si
        jne     1f
        movl    (%esp), %ecx
        xorl    %edi, %ecx
        testl   $0xffc0, %ecx
        jnz     1f
2:      SWITCH_RESTORE
        LEAVE_BY_RET
        SWITCH_LOAD_FP
        .cfi_endproc
        .size   dyco_context_switch_sp_via, .-dyco_context_switch_sp_via
#endif

/* void *dyco__context_make_asm(void *top,              4(%esp), 16-aligned
 *                              dyco_context_fn fn,     8(%esp)
 *                              void *arg,              12(%esp)
 *                              const dyco_context_fpmodes *modes)
 *                                                      16(%esp) -> eax */
        .globl  dyco__context_make_asm
        .hidden dyco__context_make_asm
        .type   dyco__context_make_asm, @function
        .p2align 4
dyco__context_make_asm:
        .cfi_startproc
        DYCO_PAD_CALL
        movl    4(%esp), %eax
        leal    -0x1c(%eax), %eax       /* the frame sits just below top */
        movl    16(%esp), %ecx          /* the modes it starts with: */
        movl    (%ecx), %edx
        movl    %edx, (%eax)            /* MXCSR */
        movl    4(%ecx), %edx
        movl    %edx, 4(%eax)           /* x87 control word */
        movl    $0, 0x08(%eax)          /* edi */
        movl    12(%esp), %ecx
        movl    %ecx, 0x0c(%eax)        /* esi = arg */
        movl    8(%esp), %ecx
        movl    %ecx, 0x10(%eax)        /* ebx = fn */
        movl    $0, 0x14(%eax)          /* ebp: ends the frame-pointer chain */
        call    1f                      /* position-independent address */
1:      .cfi_adjust_cfa_offset 4
        popl    %ecx
        .cfi_adjust_cfa_offset -4
        addl    $(dyco__context_trampoline - 1b), %ecx
        movl    %ecx, 0x18(%eax)        /* return address */
        ret
        .cfi_endproc
        .size   dyco__context_make_asm, .-dyco__context_make_asm

/* Where a new context starts, reached by the switch's jmp or ret: esp is
 * 16-byte aligned, ebx = fn, esi = arg. The return address is marked
 * undefined so that unwinders and debuggers stop here. Its unwind entry
 * starts one instruction early: while a switch is about to start a new
 * context, the return address in the frame is the trampoline itself, and
 * unwinders look up the instruction before a return address. */
        .globl  dyco__context_trampoline
        .hidden dyco__context_trampoline
        .type   dyco__context_trampoline, @function
        .p2align 4
        .cfi_startproc
        .cfi_undefined eip
        nop                     /* see above */
dyco__context_trampoline:
        DYCO_PAD_JUMP
        subl    $12, %esp
        .cfi_adjust_cfa_offset 12
        pushl   %esi
        .cfi_adjust_cfa_offset 4
        call    *%ebx
        /* fn returned: there is no caller to go back to. esp is still
         * 16-byte aligned here. */
        call    dyco__context_returned
        hlt
        .cfi_endproc
        .size   dyco__context_trampoline, .-dyco__context_trampoline

/* Where a context resumes after dyco_context_ontop, reached by the switch's
 * jmp or ret: esp points at fn, then at the return address the context was
 * suspended with; eax holds the value the switch passed. It calls
 * fn(value) as if the suspended switch call had called it (the value goes
 * in the slot of that call's first argument, which belongs to the callee):
 * fn returns to that return address, and its result is what the switch
 * returns. Its unwind entry starts one instruction early. */
        .globl  dyco__context_ontop_trampoline
        .hidden dyco__context_ontop_trampoline
        .type   dyco__context_ontop_trampoline, @function
        .p2align 4
        .cfi_startproc
        .cfi_def_cfa_offset 8
        nop                     /* see above */
dyco__context_ontop_trampoline:
        DYCO_PAD_JUMP
        popl    %ecx
        .cfi_def_cfa_offset 4
        movl    %eax, 4(%esp)
        jmp     *%ecx
        .cfi_endproc
        .size   dyco__context_ontop_trampoline, .-dyco__context_ontop_trampoline

        DYCO_GNU_PROPERTY_NOTE

#endif /* __i386__ */

        .section .note.GNU-stack, "", %progbits
