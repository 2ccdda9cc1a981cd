/* dyco — context layer, tests only: the ABI check helpers for each
 * architecture (see abi_test_helpers.h for what they do). */
#include "context/internal/asm.h"

/* What the caller-saved registers that carry no argument hold at the call:
 * a switch must not depend on them. */
#define POISON 0x5ca1ab1edeadbeef
#define POISON32 0xdeadbeef

#if defined(__x86_64__)
        .text
        .globl  dyco_test_abi_call
        .type   dyco_test_abi_call, @function
dyco_test_abi_call:     /* rdi in, rsi out, rdx fn, rcx args */
        .cfi_startproc
        DYCO_PAD_CALL
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        pushq   %rsi                    /* out; rsp is now 16-aligned */
        .cfi_adjust_cfa_offset 8
        movq    0x00(%rdi), %rbx
        movq    0x08(%rdi), %rbp
        movq    0x10(%rdi), %r12
        movq    0x18(%rdi), %r13
        movq    0x20(%rdi), %r14
        movq    0x28(%rdi), %r15
        movq    %rdx, %r11              /* fn */
        movq    %rcx, %r10              /* args */
        movq    0x00(%r10), %rdi
        movq    0x08(%r10), %rsi
        movq    0x10(%r10), %rdx
        movq    0x18(%r10), %rcx
        movq    0x20(%r10), %r8
        movabsq $POISON, %rax
        movq    %rax, %r9
        movq    %rax, %r10
        call    *%r11
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        movq    %rbx, 0x00(%rsi)
        movq    %rbp, 0x08(%rsi)
        movq    %r12, 0x10(%rsi)
        movq    %r13, 0x18(%rsi)
        movq    %r14, 0x20(%rsi)
        movq    %r15, 0x28(%rsi)
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   dyco_test_abi_call, .-dyco_test_abi_call

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, @function
dyco_test_caller_sp:
        DYCO_PAD_CALL
        leaq    8(%rsp), %rax
        ret
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp

#elif defined(__i386__)
        .text
        .globl  dyco_test_abi_call
        .type   dyco_test_abi_call, @function
dyco_test_abi_call:     /* 4 in, 8 out, 12 fn, 16 args */
        DYCO_PAD_CALL
        pushl   %ebp
        pushl   %ebx
        pushl   %esi
        pushl   %edi                    /* in at 20, args at 32 */
        subl    $8, %esp                /* in at 28, args at 40 */
        movl    40(%esp), %eax
        pushl   16(%eax)
        pushl   12(%eax)
        pushl   8(%eax)
        pushl   4(%eax)
        pushl   0(%eax)                 /* esp 16-aligned; in at 48 */
        movl    48(%esp), %ecx
        movl    0x0(%ecx), %ebx
        movl    0x4(%ecx), %esi
        movl    0x8(%ecx), %edi
        movl    0xc(%ecx), %ebp
        movl    56(%esp), %eax          /* fn */
        movl    $POISON32, %ecx
        movl    %ecx, %edx
        call    *%eax
        addl    $28, %esp               /* out at 24 */
        movl    24(%esp), %ecx
        movl    %ebx, 0x0(%ecx)
        movl    %esi, 0x4(%ecx)
        movl    %edi, 0x8(%ecx)
        movl    %ebp, 0xc(%ecx)
        popl    %edi
        popl    %esi
        popl    %ebx
        popl    %ebp
        ret
        .size   dyco_test_abi_call, .-dyco_test_abi_call

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, @function
dyco_test_caller_sp:
        DYCO_PAD_CALL
        leal    4(%esp), %eax
        ret
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp

#elif defined(__arm__)
        .syntax unified
        .arch   armv7-a
        .fpu    vfpv3-d16
        .arm
        .text
        .globl  dyco_test_abi_call
        .type   dyco_test_abi_call, %function
dyco_test_abi_call:     /* r0 in, r1 out, r2 fn, r3 args */
        .fnstart
        push    {r1, r4-r11, lr}        /* 40 bytes */
        .save   {r1, r4-r11, lr}
        vpush   {d8-d15}                /* out now at [sp, #64] */
        .vsave  {d8-d15}
        sub     sp, sp, #8              /* the fifth argument */
        .pad    #8
        mov     lr, r0
        mov     r12, r2                 /* fn */
        ldr     r0, [r3, #16]
        str     r0, [sp]
        ldm     lr, {r4-r11}
        add     lr, lr, #48
        vldm    lr, {d8-d15}
        ldm     r3, {r0-r3}
        blx     r12
        add     sp, sp, #8
        ldr     r1, [sp, #64]           /* out */
        stm     r1, {r4-r11}
        add     r1, r1, #48
        vstm    r1, {d8-d15}
        vpop    {d8-d15}
        pop     {r1, r4-r11, pc}
        .fnend
        .size   dyco_test_abi_call, .-dyco_test_abi_call

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, %function
dyco_test_caller_sp:
        .fnstart
        mov     r0, sp
        bx      lr
        .fnend
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp

#elif defined(__aarch64__)
        .text
        .globl  dyco_test_abi_call
        .type   dyco_test_abi_call, %function
dyco_test_abi_call:     /* x0 in, x1 out, x2 fn, x3 args */
        .cfi_startproc
        DYCO_PAD_CALL
        DYCO_PAC_SIGN_LR
        DYCO_CFI_RA_SIGNED
        stp     x29, x30, [sp, #-0xb0]!
        .cfi_adjust_cfa_offset 0xb0
        .cfi_rel_offset x29, 0
        .cfi_rel_offset x30, 8
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
        mov     x16, x2                 /* fn */
        ldr     x4, [x3, #0x20]
        ldp     x0, x1, [x3, #0x00]
        ldp     x2, x3, [x3, #0x10]
        movz    x5, #0xbeef
        movk    x5, #0xdead, lsl #16
        movk    x5, #0xab1e, lsl #32
        movk    x5, #0x5ca1, lsl #48
        mov     x6, x5
        mov     x7, x5
        mov     x8, x5
        mov     x9, x5
        mov     x10, x5
        mov     x11, x5
        mov     x12, x5
        mov     x13, x5
        mov     x14, x5
        mov     x15, x5
        mov     x17, x5
        blr     x16
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
        .cfi_adjust_cfa_offset -0xb0
        .cfi_restore x29
        .cfi_restore x30
        DYCO_PAC_AUTH_LR
        DYCO_CFI_RA_SIGNED
        ret
        .cfi_endproc
        .size   dyco_test_abi_call, .-dyco_test_abi_call

        .globl  dyco_test_caller_sp
        .type   dyco_test_caller_sp, %function
dyco_test_caller_sp:
        DYCO_PAD_CALL
        mov     x0, sp
        ret
        .size   dyco_test_caller_sp, .-dyco_test_caller_sp
#endif

        DYCO_GNU_PROPERTY_NOTE

        .section .note.GNU-stack, "", %progbits
