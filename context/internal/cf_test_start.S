/* dyco — context layer, tests only: the program entry of cf_protection_test,
 * which links without the distribution's start files (they carry no IBT or
 * BTI note, so no program linked with them is marked), and on aarch64 a
 * function without a landing pad, to see BTI enforced. */
#include "context/internal/asm.h"

#if defined(__x86_64__) && defined(DYCO_TEST_OWN_START)
/* glibc's own _start, with a landing pad: main's address, argc, argv, no
 * init or fini (glibc 2.34 runs them itself), rtld_fini, the stack end. */
        .text
        .globl  _start
        .type   _start, @function
_start:
        DYCO_PAD_CALL
        xorl    %ebp, %ebp
        movq    %rdx, %r9
        popq    %rsi
        movq    %rsp, %rdx
        andq    $-16, %rsp
        pushq   %rax
        pushq   %rsp
        xorl    %r8d, %r8d
        xorl    %ecx, %ecx
        leaq    main(%rip), %rdi
        call    *__libc_start_main@GOTPCREL(%rip)
        hlt
        .size   _start, .-_start

#elif defined(__aarch64__) && defined(DYCO_TEST_OWN_START)
        .text
        .globl  _start
        .type   _start, %function
_start:
        DYCO_PAD_CALL
        mov     x29, #0
        mov     x30, #0
        mov     x5, x0
        ldr     x1, [sp]
        add     x2, sp, #8
        mov     x6, sp
        mov     x3, #0
        mov     x4, #0
        adrp    x0, :got:main
        ldr     x0, [x0, #:got_lo12:main]
        bl      __libc_start_main
        brk     #0
        .size   _start, .-_start
#endif

#if defined(__aarch64__)
/* int dyco_test_no_pad(void): returns 1; starts without bti c, so calling
 * it through a pointer faults in a page BTI guards. */
        .text
        .globl  dyco_test_no_pad
        .type   dyco_test_no_pad, %function
        .p2align 2
dyco_test_no_pad:
        mov     w0, #1
        ret
        .size   dyco_test_no_pad, .-dyco_test_no_pad
#endif

        DYCO_GNU_PROPERTY_NOTE

        .section .note.GNU-stack, "", %progbits
