/* dyco — context layer: the public API over the chosen switch, plus the
 * notes AddressSanitizer, ThreadSanitizer and valgrind need about stacks. */
#include "context/context.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "context/internal/switch.h"

#if defined(DYCO_CONTEXT_UCONTEXT) || !DYCO__CONTEXT_HAVE_ASM
#define USE_UCONTEXT 1
#else
#define USE_UCONTEXT 0
#endif

#if defined(DYCO_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(DYCO_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(DYCO_VALGRIND)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

#if defined(DYCO_ASAN) || defined(DYCO_TSAN)
#define NEEDS_ENTRY 1
#else
#define NEEDS_ENTRY 0
#endif

void dyco__context_returned(void) {
  fputs(
      "dyco: context function returned; a context's function must switch "
      "away for good instead\n",
      stderr);
  abort();
}

#if defined(DYCO_ASAN)
/* The context that switched last on this thread: the resumed side learns
 * from AddressSanitizer the bounds of the stack it came from, and a context
 * that started life as a zero-initialised `from` gets them here. */
static __thread dyco_context *asan_leaving;

static void asan_arrived(void *fake_stack) {
  const void *bottom = NULL;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
  dyco_context *prev = asan_leaving;
  if (prev != NULL && prev->stack == NULL) {
    prev->stack = (void *)bottom;
    prev->stack_size = size;
  }
}
#endif

#if NEEDS_ENTRY
/* Under a sanitizer a new context starts here, tells the tool it arrived,
 * then runs fn(arg). The two words sit at the top of the context's stack. */
typedef struct entry_args {
  dyco_context_fn fn;
  void *arg;
} entry_args;

static void tool_entry(void *p) {
  entry_args *e = (entry_args *)p;
  dyco_context_fn fn = e->fn;
  void *arg = e->arg;
#if defined(DYCO_ASAN)
  asan_arrived(NULL);
#endif
  fn(arg);
  dyco__context_returned();
}
#endif

int dyco_context_make(dyco_context *ctx, void *stack, size_t size,
                      dyco_context_fn fn, void *arg) {
  if (ctx == NULL || stack == NULL || fn == NULL) {
    return -EINVAL;
  }
  uintptr_t top =
      ((uintptr_t)stack + size) & ~(uintptr_t)(DYCO_CONTEXT_STACK_ALIGN - 1);
  if (top < (uintptr_t)stack ||
      top - (uintptr_t)stack < DYCO_CONTEXT_STACK_MIN) {
    return -EINVAL;
  }
  ctx->stack = stack;
  ctx->stack_size = size;
  ctx->tool = NULL;
#if defined(DYCO_ASAN)
  /* A reused stack may still carry poison from frames that never returned. */
  ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
#if NEEDS_ENTRY
  top -= sizeof(entry_args) + DYCO_CONTEXT_STACK_ALIGN;
  top &= ~(uintptr_t)(DYCO_CONTEXT_STACK_ALIGN - 1);
  entry_args *e = (entry_args *)top;
  e->fn = fn;
  e->arg = arg;
  fn = tool_entry;
  arg = e;
#endif
#if defined(DYCO_TSAN)
  ctx->tool = __tsan_create_fiber(0);
#endif
#if defined(DYCO_VALGRIND)
  /* A reused stack: memcheck still thinks its old frames are gone. */
  VALGRIND_MAKE_MEM_UNDEFINED(stack, size);
  /* Stored plus one, so that a valid id 0 is not mistaken for none. */
  ctx->tool = (void *)(uintptr_t)(1 + VALGRIND_STACK_REGISTER(
                                          (char *)stack, (char *)stack + size));
#endif
#if USE_UCONTEXT
  if (dyco__context_make_uc(ctx, (void *)top, fn, arg) != 0) {
    return -EINVAL;
  }
#else
  ctx->sp = dyco__context_make_asm((void *)top, fn, arg);
#endif
  return 0;
}

#if !DYCO__CONTEXT_DIRECT_SWITCH
void *dyco_context_switch(dyco_context *from, dyco_context *to, void *value) {
#if defined(DYCO_ASAN)
  asan_leaving = from;
  __sanitizer_start_switch_fiber(&from->tool, to->stack, to->stack_size);
#endif
#if defined(DYCO_TSAN)
  if (from->tool == NULL) {
    from->tool = __tsan_get_current_fiber();
  }
  __tsan_switch_to_fiber(to->tool, 0);
#endif
#if USE_UCONTEXT
  void *result = dyco__context_switch_uc(from, to, value);
#else
  void *result = dyco__context_switch_asm(from, to, value);
#endif
#if defined(DYCO_ASAN)
  asan_arrived(from->tool);
#endif
  return result;
}
#endif /* !DYCO__CONTEXT_DIRECT_SWITCH */

#if !DYCO__CONTEXT_DIRECT_SWITCH
/* Without a tool and with the assembly switch, the .S file defines this
 * name as the switch itself. Here: the ucontext switch, or (with a tool
 * configured, where dyco never calls it since it bypasses the tool) the
 * assembly one. */
void *dyco_context_switch_sp(void **from_sp, void *const *to_sp, void *value) {
#if USE_UCONTEXT
  return dyco__context_switch_uc_sp(from_sp, *to_sp, value);
#else
  return dyco__context_switch_ret_asm(from_sp, to_sp, value);
#endif
}
#endif

void dyco_context_destroy(dyco_context *ctx) {
  if (ctx == NULL) {
    return;
  }
#if defined(DYCO_TSAN)
  if (ctx->tool != NULL && ctx->tool != __tsan_get_current_fiber()) {
    __tsan_destroy_fiber(ctx->tool);
  }
#endif
#if defined(DYCO_VALGRIND)
  if (ctx->tool != NULL) {
    VALGRIND_STACK_DEREGISTER((uintptr_t)ctx->tool - 1);
  }
#endif
  ctx->tool = NULL;
  ctx->sp = NULL;
}

void *dyco_context_stack_low(const dyco_context *ctx) {
  if (ctx == NULL) {
    return NULL;
  }
#if USE_UCONTEXT
  return dyco__context_stack_low_uc(ctx);
#else
  return ctx->sp;
#endif
}

const char *dyco_context_implementation(void) {
#if USE_UCONTEXT
  return "ucontext";
#elif defined(__x86_64__)
  return "x86_64";
#elif defined(__i386__)
  return "i386";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "arm";
#endif
}
