/* dyco — context layer: the portable switch, on makecontext/swapcontext.
 * Slower (swapcontext makes a sigprocmask system call) but runs anywhere. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "context/internal/switch.h"

/* A suspended context's state lives on its own stack, in the frame of the
 * switch that suspended it (or, for a new context, just below the top of its
 * stack): ctx->sp points at one of these. */
typedef struct uc_frame {
  ucontext_t uc;
  void *value; /* what the switch that resumes this context passes */
  dyco_context_fn fn;
  void *arg;
  dyco_context_fpmodes modes; /* a new context's, set by its entry */
#if defined(__i386__)
  unsigned int mxcsr; /* glibc's i386 ucontext keeps the x87 state only */
#endif
} uc_frame;

#if defined(__i386__)
static unsigned int get_mxcsr(void) {
  unsigned int v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return v;
}
static void set_mxcsr(unsigned int v) {
  __asm__ volatile("ldmxcsr %0" : : "m"(v));
}
#endif

/* Installs the floating-point modes a new context starts with (getcontext
 * took its maker's, where it keeps them at all). */
static void set_modes(const dyco_context_fpmodes *m) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned int mxcsr = m->word[0];
  unsigned short cw = (unsigned short)m->word[1];
  __asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(cw));
#elif defined(__aarch64__)
  uint64_t fpcr = m->word[0];
  __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
  __asm__ volatile("vmsr fpscr, %0" : : "r"(m->word[0]));
#else
  (void)m;
#endif
}

/* makecontext passes only ints: a pointer travels as two halves. */
static void uc_entry(unsigned int hi, unsigned int lo) {
  uintptr_t bits = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
  uc_frame *frame = (uc_frame *)bits;
  set_modes(&frame->modes);
  frame->fn(frame->arg);
  dyco__context_returned();
}

int dyco__context_make_uc(dyco_context *ctx, void *top, dyco_context_fn fn,
                          void *arg, const dyco_context_fpmodes *modes) {
  uintptr_t at = ((uintptr_t)top - sizeof(uc_frame)) &
                 ~(uintptr_t)(DYCO_CONTEXT_STACK_ALIGN - 1);
  uc_frame *frame = (uc_frame *)at;
  if ((char *)frame < (char *)ctx->stack + 1024) {
    return -1;
  }
  memset(frame, 0, sizeof *frame);
  if (getcontext(&frame->uc) != 0) {
    return -1;
  }
  frame->fn = fn;
  frame->arg = arg;
  frame->modes = *modes;
  frame->uc.uc_link = NULL;
  frame->uc.uc_stack.ss_sp = ctx->stack;
  frame->uc.uc_stack.ss_size = (size_t)((char *)frame - (char *)ctx->stack);
  uintptr_t bits = (uintptr_t)frame;
  makecontext(&frame->uc, (void (*)(void))uc_entry, 2,
              (unsigned int)(bits >> 16 >> 16), (unsigned int)bits);
  /* makecontext has placed the stack pointer; uc_stack serves no more.
   * Emptied, it keeps AddressSanitizer's swapcontext wrapper from wiping
   * the whole stack's shadow (red zones of live frames included) at each
   * switch to it and back: dyco tells the sanitizer about its stacks
   * itself. */
  frame->uc.uc_stack.ss_sp = NULL;
  frame->uc.uc_stack.ss_size = 0;
  ctx->sp = frame;
  return 0;
}

void *dyco__context_switch_uc(dyco_context *from, dyco_context *to,
                              void *value) {
  return dyco__context_switch_uc_sp(&from->sp, to->sp, value);
}

void *dyco__context_switch_uc_sp(void **from_sp, void *to_sp, void *value) {
  uc_frame self;
  uc_frame *dest = (uc_frame *)to_sp;
  dest->value = value;
  /* swapcontext installs the signal mask the target saved; the mask is the
   * thread's, not the context's, so the target gets the current one. */
  pthread_sigmask(SIG_SETMASK, NULL, &dest->uc.uc_sigmask);
  *from_sp = &self;
#if defined(__i386__)
  self.mxcsr = get_mxcsr();
#endif
  /* swapcontext does not fill uc_stack in: empty, not stack garbage, when
   * AddressSanitizer's wrapper reads it on the way back here (see make). */
  self.uc.uc_stack.ss_sp = NULL;
  self.uc.uc_stack.ss_size = 0;
  self.uc.uc_stack.ss_flags = 0;
  swapcontext(&self.uc, &dest->uc);
#if defined(__i386__)
  set_mxcsr(self.mxcsr);
#endif
  return self.value;
}

/* The lowest address a suspended context uses is the stack pointer its
 * ucontext saved, where the architecture's name for it is known; otherwise
 * a generous margin below the frame. */
void *dyco__context_stack_low_uc(const dyco_context *ctx) {
  const uc_frame *frame = (const uc_frame *)ctx->sp;
  uintptr_t sp;
#if defined(__x86_64__)
  sp = (uintptr_t)frame->uc.uc_mcontext.gregs[REG_RSP];
#elif defined(__i386__)
  sp = (uintptr_t)frame->uc.uc_mcontext.gregs[REG_ESP];
#elif defined(__aarch64__)
  sp = (uintptr_t)frame->uc.uc_mcontext.sp;
#elif defined(__arm__)
  sp = (uintptr_t)frame->uc.uc_mcontext.arm_sp;
#else
  sp = 0;
#endif
  /* A new context's ucontext holds the sp it starts with, a saved one the
   * sp of the switch's caller; both are below the frame. Where the
   * architecture's name for it is unknown, keep a generous margin. */
  uintptr_t low = (uintptr_t)frame;
  if (sp != 0) {
    if (sp < low) {
      low = sp;
    }
  } else {
    low -= 1024;
  }
  if (ctx->stack != NULL && low < (uintptr_t)ctx->stack) {
    low = (uintptr_t)ctx->stack;
  }
  return (void *)low;
}
