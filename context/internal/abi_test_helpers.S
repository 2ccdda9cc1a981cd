/* dyco — context layer, tests only: the ABI check helpers for each
 * architecture (see abi_test_helpers.h for what they do). */

#if defined(__x86_64__)
        .text
        .globl  dyco_test_abi_switch
        .type   dyco_test_abi_switch, @function
dyco_test_abi_switch:   /* rdi in, rsi out, rdx from, rcx to, r8 value */
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rsi                    /* out; rsp is now 16-aligned */
        movq    0x00(%rdi), %rbx
        movq    0x08(%rdi), %rbp
        movq    0x10(%rdi), %r12
        movq    0x18(%rdi), %r13
        movq    0x20(%rdi), %r14
        movq    0x28(%rdi), %r15
        movq    %rdx, %rdi
        movq    %rcx, %rsi
        movq    %r8, %rdx
        call    dyco_context_switch@PLT
        popq    %rsi
        movq    %rbx, 0x00(%rsi)
        movq    %rbp, 0x08(%rsi)
        movq    %r12, 0x10(%rsi)
        movq    %r13, 0x18(%rsi)
        movq    %r14, 0x20(%rsi)
        movq    %r15, 0x28(%rsi)
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   dyco_test_abi_switch, .-dyco_test_abi_switch

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, @function
dyco_test_caller_sp:
        leaq    8(%rsp), %rax
        ret
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp

#elif defined(__i386__)
        .text
        .globl  dyco_test_abi_switch
        .type   dyco_test_abi_switch, @function
dyco_test_abi_switch:   /* 4 in, 8 out, 12 from, 16 to, 20 value */
        pushl   %ebp
        pushl   %ebx
        pushl   %esi
        pushl   %edi                    /* args now at 20..36 */
        movl    36(%esp), %ecx          /* value */
        movl    32(%esp), %edx          /* to */
        movl    28(%esp), %eax          /* from */
        pushl   %ecx
        pushl   %edx
        pushl   %eax                    /* esp 16-aligned; in at 32 */
        movl    32(%esp), %eax
        movl    0x0(%eax), %ebx
        movl    0x4(%eax), %esi
        movl    0x8(%eax), %edi
        movl    0xc(%eax), %ebp
        call    dyco_context_switch
        addl    $12, %esp
        movl    24(%esp), %ecx          /* out */
        movl    %ebx, 0x0(%ecx)
        movl    %esi, 0x4(%ecx)
        movl    %edi, 0x8(%ecx)
        movl    %ebp, 0xc(%ecx)
        popl    %edi
        popl    %esi
        popl    %ebx
        popl    %ebp
        ret
        .size   dyco_test_abi_switch, .-dyco_test_abi_switch

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, @function
dyco_test_caller_sp:
        leal    4(%esp), %eax
        ret
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp

#elif defined(__arm__)
        .syntax unified
        .arch   armv7-a
        .fpu    vfpv3-d16
        .arm
        .text
        .globl  dyco_test_abi_switch
        .type   dyco_test_abi_switch, %function
dyco_test_abi_switch:   /* r0 in, r1 out, r2 from, r3 to, [sp] value */
        push    {r1, r4-r11, lr}        /* 40 bytes */
        vpush   {d8-d15}                /* value now at [sp, #104] */
        ldr     r12, [sp, #104]
        mov     lr, r0
        ldm     lr, {r4-r11}
        add     lr, lr, #48
        vldm    lr, {d8-d15}
        mov     r0, r2
        mov     r1, r3
        mov     r2, r12
        bl      dyco_context_switch
        ldr     r1, [sp, #64]           /* out */
        stm     r1, {r4-r11}
        add     r1, r1, #48
        vstm    r1, {d8-d15}
        vpop    {d8-d15}
        pop     {r1, r4-r11, pc}
        .size   dyco_test_abi_switch, .-dyco_test_abi_switch

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, %function
dyco_test_caller_sp:
        mov     r0, sp
        bx      lr
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp

#elif defined(__aarch64__)
        .text
        .globl  dyco_test_abi_switch
        .type   dyco_test_abi_switch, %function
dyco_test_abi_switch:   /* x0 in, x1 out, x2 from, x3 to, x4 value */
        stp     x29, x30, [sp, #-0xb0]!
        mov     x29, sp
        stp     x19, x20, [sp, #0x10]
        stp     x21, x22, [sp, #0x20]
        stp     x23, x24, [sp, #0x30]
        stp     x25, x26, [sp, #0x40]
        stp     x27, x28, [sp, #0x50]
        stp     d8, d9, [sp, #0x60]
        stp     d10, d11, [sp, #0x70]
        stp     d12, d13, [sp, #0x80]
        stp     d14, d15, [sp, #0x90]
        str     x1, [sp, #0xa0]
        ldp     x19, x20, [x0, #0x00]
        ldp     x21, x22, [x0, #0x10]
        ldp     x23, x24, [x0, #0x20]
        ldp     x25, x26, [x0, #0x30]
        ldp     x27, x28, [x0, #0x40]
        ldr     x29, [x0, #0x50]
        ldp     d8, d9, [x0, #0x60]
        ldp     d10, d11, [x0, #0x70]
        ldp     d12, d13, [x0, #0x80]
        ldp     d14, d15, [x0, #0x90]
        mov     x0, x2
        mov     x1, x3
        mov     x2, x4
        bl      dyco_context_switch
        ldr     x1, [sp, #0xa0]
        stp     x19, x20, [x1, #0x00]
        stp     x21, x22, [x1, #0x10]
        stp     x23, x24, [x1, #0x20]
        stp     x25, x26, [x1, #0x30]
        stp     x27, x28, [x1, #0x40]
        str     x29, [x1, #0x50]
        stp     d8, d9, [x1, #0x60]
        stp     d10, d11, [x1, #0x70]
        stp     d12, d13, [x1, #0x80]
        stp     d14, d15, [x1, #0x90]
        ldp     x19, x20, [sp, #0x10]
        ldp     x21, x22, [sp, #0x20]
        ldp     x23, x24, [sp, #0x30]
        ldp     x25, x26, [sp, #0x40]
        ldp     x27, x28, [sp, #0x50]
        ldp     d8, d9, [sp, #0x60]
        ldp     d10, d11, [sp, #0x70]
        ldp     d12, d13, [sp, #0x80]
        ldp     d14, d15, [sp, #0x90]
        ldp     x29, x30, [sp], #0xb0
        ret
        .size   dyco_test_abi_switch, .-dyco_test_abi_switch

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, %function
dyco_test_caller_sp:
        mov     x0, sp
        ret
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp
#endif

        .section .note.GNU-stack, "", %progbits
