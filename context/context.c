/* dyco — context layer: the public API over the chosen switch, plus the
 * notes AddressSanitizer, ThreadSanitizer and valgrind need about stacks. */
#include "context/context.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fatal.h"
#include "base/hints.h"
#include "context/internal/switch.h"

#if defined(__x86_64__)
#include <cpuid.h>

unsigned char dyco__context_mxcsr_load_always;

/* AMD's and Hygon's cores load MXCSR in a few cycles whatever its value;
 * Intel's take about 50 ns when its flags change (the switch compares
 * first there). CPUID leaf 0 names the vendor: "AuthenticAMD" and
 * "HygonGenuine" start with "Auth" and "Hygo" in ebx. */
__attribute__((constructor)) static void context_pick_mxcsr_policy(void) {
  unsigned int eax = 0;
  unsigned int ebx = 0;
  unsigned int ecx = 0;
  unsigned int edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) {
    return;
  }
  dyco__context_mxcsr_load_always =
      ebx == 0x68747541u /* "Auth" */ || ebx == 0x6f677948u /* "Hygo" */;
}
#endif

#if defined(DYCO_CONTEXT_UCONTEXT) || !DYCO__CONTEXT_HAVE_ASM
#define USE_UCONTEXT 1
#else
#define USE_UCONTEXT 0
#endif

/* A tool dyco is built for (--config=asan, tsan, valgrind): its notes are
 * compiled into every switch. Otherwise the tools are looked for once, at
 * run time (dyco_context_tools), and only dyco_context_switch_tools,
 * dyco_context_make, dyco_context_destroy and the stack helpers tell them:
 * the plain switch stays as it is. */
#if defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
#define BUILT_FOR_TOOL 1
#else
#define BUILT_FOR_TOOL 0
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
#define HAVE_VALGRIND 1
#elif !BUILT_FOR_TOOL && defined(__has_include)
/* valgrind's client requests are a few instructions that do nothing
 * outside valgrind; cross toolchains do not have the header. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND 1
#endif
#endif
#ifndef HAVE_VALGRIND
#define HAVE_VALGRIND 0
#endif

#if !BUILT_FOR_TOOL
/* The sanitizers' runtimes, when the program was built with one: weak, so
 * that they are NULL in a program without. dyco itself is not instrumented:
 * it only tells the runtime about its stacks. */
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size) __attribute__((weak));
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old)
    __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size)
    __attribute__((weak));
void __asan_get_shadow_mapping(size_t *shadow_scale, size_t *shadow_offset)
    __attribute__((weak));
void *__tsan_get_current_fiber(void) __attribute__((weak));
void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
void __tsan_switch_to_fiber(void *fiber, unsigned flags) __attribute__((weak));
#endif

void dyco__context_returned(void) {
  dyco__fatal(
      "context function returned; a context's function must switch away for "
      "good instead");
}

/* --- Which tools ----------------------------------------------------------
 */

/* The tools found at run time (plain builds), -1 until looked for. Looking
 * twice finds the same, so a race is harmless. */
static int found_tools = -1;

static int find_tools(void) {
  int t = 0;
#if !BUILT_FOR_TOOL
  if (__sanitizer_start_switch_fiber != NULL &&
      __sanitizer_finish_switch_fiber != NULL &&
      __asan_unpoison_memory_region != NULL &&
      __asan_get_shadow_mapping != NULL) {
    t = DYCO_CONTEXT_TOOL_ASAN;
  } else if (__tsan_get_current_fiber != NULL && __tsan_create_fiber != NULL &&
             __tsan_destroy_fiber != NULL && __tsan_switch_to_fiber != NULL) {
    t = DYCO_CONTEXT_TOOL_TSAN;
  }
#if HAVE_VALGRIND
  else if (RUNNING_ON_VALGRIND) {
    t = DYCO_CONTEXT_TOOL_VALGRIND;
  }
#endif
#endif
  return t;
}

int dyco_context_tools(void) {
  int t = __atomic_load_n(&found_tools, __ATOMIC_RELAXED);
  if (DYCO__UNLIKELY(t < 0)) {
    t = find_tools();
    __atomic_store_n(&found_tools, t, __ATOMIC_RELAXED);
  }
  return t;
}

/* The tool the notes below are for: the one built for, or the one found. */
static inline int tool(void) {
#if defined(DYCO_ASAN)
  return DYCO_CONTEXT_TOOL_ASAN;
#elif defined(DYCO_TSAN)
  return DYCO_CONTEXT_TOOL_TSAN;
#elif defined(DYCO_VALGRIND)
  return DYCO_CONTEXT_TOOL_VALGRIND;
#else
  return dyco_context_tools();
#endif
}

/* --- AddressSanitizer --------------------------------------------------- */

#if defined(DYCO_ASAN)
#define asan_start __sanitizer_start_switch_fiber
#define asan_finish __sanitizer_finish_switch_fiber
#define asan_unpoison __asan_unpoison_memory_region
#elif !BUILT_FOR_TOOL
#define asan_start(a, b, c) __sanitizer_start_switch_fiber(a, b, c)
#define asan_finish(a, b, c) __sanitizer_finish_switch_fiber(a, b, c)
#define asan_unpoison(a, n) __asan_unpoison_memory_region(a, n)
#endif

#if defined(DYCO_ASAN) || !BUILT_FOR_TOOL
/* The context that switched last on this thread: the resumed side learns
 * from AddressSanitizer the bounds of the stack it came from, and a context
 * that started life as a zero-initialised `from` gets them here. */
static __thread dyco_context *asan_leaving;

static void asan_arrived(void *fake_stack) {
  const void *bottom = NULL;
  size_t size = 0;
  asan_finish(fake_stack, &bottom, &size);
  dyco_context *prev = asan_leaving;
  if (prev != NULL && prev->stack == NULL) {
    prev->stack = (void *)bottom;
    prev->stack_size = size;
  }
}
#endif

/* --- A new context's first steps under a sanitizer ---------------------- */

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
#if defined(DYCO_ASAN) || !BUILT_FOR_TOOL
  if (tool() == DYCO_CONTEXT_TOOL_ASAN) {
    asan_arrived(NULL);
  }
#endif
  fn(arg);
  dyco__context_returned();
}

void dyco_context_fpmodes_get(dyco_context_fpmodes *modes) {
  if (modes == NULL) {
    return;
  }
  modes->word[0] = 0;
  modes->word[1] = 0;
#if defined(__x86_64__) || defined(__i386__)
  /* Stored where they go, never read back here: a load of what `stmxcsr`
   * just wrote waits for the store, which takes about 4 ns on AMD cores
   * (a coroutine's spawn reads its creator's modes; measured there). The
   * control word fills the low half of word[1], zeroed above ("+m" keeps
   * that store). */
  __asm__ volatile("stmxcsr %0\n\tfnstcw %1"
                   : "=m"(modes->word[0]), "+m"(modes->word[1]));
#elif defined(__aarch64__)
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  modes->word[0] = (unsigned int)fpcr;
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
  unsigned int fpscr;
  __asm__ volatile("vmrs %0, fpscr" : "=r"(fpscr));
  modes->word[0] = fpscr;
#endif
}

static int make(dyco_context *ctx, void *stack, size_t size, dyco_context_fn fn,
                void *arg, const dyco_context_fpmodes *modes);

int dyco_context_make(dyco_context *ctx, void *stack, size_t size,
                      dyco_context_fn fn, void *arg) {
  dyco_context_fpmodes modes;
  dyco_context_fpmodes_get(&modes);
  return make(ctx, stack, size, fn, arg, &modes);
}

int dyco_context_make_modes(dyco_context *ctx, void *stack, size_t size,
                            dyco_context_fn fn, void *arg,
                            const dyco_context_fpmodes *modes) {
  if (modes == NULL) {
    return -EINVAL;
  }
  return make(ctx, stack, size, fn, arg, modes);
}

static int make(dyco_context *ctx, void *stack, size_t size, dyco_context_fn fn,
                void *arg, const dyco_context_fpmodes *modes) {
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
  const int t = tool();
  if (t != 0) {
#if defined(DYCO_ASAN) || !BUILT_FOR_TOOL
    if (t == DYCO_CONTEXT_TOOL_ASAN) {
      /* A reused stack may still carry poison from frames that never
       * returned. */
      asan_unpoison(stack, size);
    }
#endif
    if (t == DYCO_CONTEXT_TOOL_ASAN || t == DYCO_CONTEXT_TOOL_TSAN) {
      top -= sizeof(entry_args) + DYCO_CONTEXT_STACK_ALIGN;
      top &= ~(uintptr_t)(DYCO_CONTEXT_STACK_ALIGN - 1);
      entry_args *e = (entry_args *)top;
      e->fn = fn;
      e->arg = arg;
      fn = tool_entry;
      arg = e;
    }
#if defined(DYCO_TSAN)
    ctx->tool = __tsan_create_fiber(0);
#elif !BUILT_FOR_TOOL
    if (t == DYCO_CONTEXT_TOOL_TSAN) {
      ctx->tool = __tsan_create_fiber(0);
    }
#endif
#if HAVE_VALGRIND
    if (t == DYCO_CONTEXT_TOOL_VALGRIND) {
      /* A reused stack: memcheck still thinks its old frames are gone. */
      VALGRIND_MAKE_MEM_UNDEFINED(stack, size);
      /* Stored plus one, so that a valid id 0 is not mistaken for none. */
      ctx->tool =
          (void *)(uintptr_t)(1 + VALGRIND_STACK_REGISTER(
                                      (char *)stack, (char *)stack + size));
    }
#endif
  }
#if USE_UCONTEXT
  if (dyco__context_make_uc(ctx, (void *)top, fn, arg, modes) != 0) {
    return -EINVAL;
  }
#else
  ctx->sp = dyco__context_make_asm((void *)top, fn, arg, modes);
#endif
  return 0;
}

/* The bare switch between two saved stack pointers, whichever this build
 * has. */
static inline void *raw_switch(void **from_sp, void *const *to_sp,
                               void *value) {
#if USE_UCONTEXT
  return dyco__context_switch_uc_sp(from_sp, *to_sp, value);
#else
  return dyco__context_switch_ret_asm(from_sp, to_sp, value);
#endif
}

/* The switch with every note the tool in use needs; from and to say what
 * the tool knows of each side, *from_sp and *to_sp hold their state. */
static void *noted_switch(void **from_sp, void *const *to_sp, void *value,
                          dyco_context *from, dyco_context *to) {
  const int t = tool();
#if defined(DYCO_ASAN) || !BUILT_FOR_TOOL
  if (t == DYCO_CONTEXT_TOOL_ASAN) {
    asan_leaving = from;
    asan_start(&from->tool, to->stack, to->stack_size);
    void *result = raw_switch(from_sp, to_sp, value);
    asan_arrived(from->tool);
    return result;
  }
#endif
#if defined(DYCO_TSAN) || !BUILT_FOR_TOOL
  if (t == DYCO_CONTEXT_TOOL_TSAN) {
    if (from->tool == NULL) {
      from->tool = __tsan_get_current_fiber();
    }
    __tsan_switch_to_fiber(to->tool, 0);
  }
#endif
  (void)t;
  (void)from;
  (void)to;
  return raw_switch(from_sp, to_sp, value);
}

#if !DYCO__CONTEXT_DIRECT_SWITCH
void *dyco_context_switch(dyco_context *from, dyco_context *to, void *value) {
#if BUILT_FOR_TOOL
  return noted_switch(&from->sp, &to->sp, value, from, to);
#else
  return raw_switch(&from->sp, &to->sp, value);
#endif
}

/* Without a tool and with the assembly switch, the .S file defines this
 * name as the switch itself. Here: the ucontext switch, or (with a tool
 * configured, where dyco never calls it since it bypasses the tool) the
 * assembly one. */
void *dyco_context_switch_sp(void **from_sp, void *const *to_sp, void *value) {
  return raw_switch(from_sp, to_sp, value);
}

/* Leaving by a jump: the assembly switch touches only the two words. */
void *dyco_context_switch_sp_jump(void **from_sp, void *const *to_sp,
                                  void *value) {
#if USE_UCONTEXT
  return raw_switch(from_sp, to_sp, value);
#else
  return dyco__context_switch_asm((dyco_context *)(void *)from_sp,
                                  (dyco_context *)(void *)to_sp, value);
#endif
}

/* The .S file makes this name another for the assembly switch itself: here
 * the conversion is a real call's. */
int dyco_context_switch_int(dyco_context *from, dyco_context *to, void *value) {
  return (int)(intptr_t)dyco_context_switch(from, to, value);
}
#endif /* !DYCO__CONTEXT_DIRECT_SWITCH */

#if !DYCO__CONTEXT_RESUME_ASM
/* Where the assembly does not define it: the switch by a jump, into a
 * saved state that nothing can resume (no one else knows where it is). */
void dyco_context_resume_sp(void *const *to_sp, void *value) {
  void *abandoned;
  dyco_context_switch_sp_jump(&abandoned, to_sp, value);
  dyco__fatal("a context left by dyco_context_resume_sp was resumed");
}
#endif

#if !DYCO__CONTEXT_DIRECT_SWITCH
/* dyco_context_switch_sp_via without its assembly: fn runs in a
 * context made on the given stack, which switches on to where fn says. */
typedef struct via_call {
  void **(*fn)(void *);
  void *arg;
} via_call;

static void via_run(void *p) {
  /* p is in the leaving context's frame, which fn may overwrite: read it
   * first. */
  via_call c = *(via_call *)p;
  void **to = c.fn(c.arg);
  void *abandoned;
  raw_switch(&abandoned, to, NULL);
  dyco__fatal("the stack of a dyco_context_switch_sp_via was resumed");
}

void *dyco_context_switch_sp_via(void **from_sp, void *stack, size_t size,
                                 void **(*fn)(void *arg), void *arg) {
  via_call c = {fn, arg};
  dyco_context via;
  if (dyco_context_make(&via, stack, size, via_run, &c) != 0) {
    dyco__fatal("dyco_context_switch_sp_via: no stack of %zu bytes", size);
  }
  return raw_switch(from_sp, (void *const *)&via.sp, NULL);
}
#endif

void *dyco_context_switch_tools(void **from_sp, void *const *to_sp, void *value,
                                dyco_context *from, dyco_context *to) {
  return noted_switch(from_sp, to_sp, value, from, to);
}

void dyco_context_destroy(dyco_context *ctx) {
  if (ctx == NULL) {
    return;
  }
  if (ctx->tool != NULL) {
    const int t = tool();
#if defined(DYCO_TSAN) || !BUILT_FOR_TOOL
    if (t == DYCO_CONTEXT_TOOL_TSAN &&
        ctx->tool != __tsan_get_current_fiber()) {
      __tsan_destroy_fiber(ctx->tool);
    }
#endif
#if HAVE_VALGRIND
    if (t == DYCO_CONTEXT_TOOL_VALGRIND) {
      VALGRIND_STACK_DEREGISTER((uintptr_t)ctx->tool - 1);
    }
#endif
    (void)t;
  }
  ctx->tool = NULL;
  ctx->sp = NULL;
}

/* --- Copies of suspended stacks ------------------------------------------ */

/* A copy no sanitizer checks or intercepts: the bytes of a suspended stack
 * include the poisoned red zones of its frames. A plain loop, which the
 * compiler must not turn back into a call to memcpy. */
__attribute__((no_sanitize_address, no_sanitize_thread,
               optimize("no-tree-loop-distribute-patterns"))) static void
unchecked_copy(char *to, const char *from, size_t n) {
  for (size_t i = 0; i < n; i++) {
    to[i] = from[i];
  }
}

#if !BUILT_FOR_TOOL
/* AddressSanitizer's shadow of [p, p + n): one byte per granule. A
 * suspended stack's copy keeps it too, so that the red zones of its frames
 * still catch overflows once it is copied back. */
static char *asan_shadow(const void *p, size_t n, size_t *count) {
  size_t scale = 0, offset = 0;
  __asan_get_shadow_mapping(&scale, &offset);
  uintptr_t lo = (uintptr_t)p >> scale;
  uintptr_t hi = n != 0 ? ((uintptr_t)p + n - 1) >> scale : lo - 1;
  *count = (size_t)(hi + 1 - lo);
  return (char *)(lo + offset);
}
#endif

size_t dyco_context_stack_extra(size_t n) {
#if !BUILT_FOR_TOOL
  if (tool() == DYCO_CONTEXT_TOOL_ASAN) {
    return n / 8 + 2; /* the shadow: granules are 8 bytes or more */
  }
#endif
  (void)n;
  return 0;
}

void dyco_context_stack_save(void *buf, const void *stack, size_t n) {
  const int t = tool();
  if (t == DYCO_CONTEXT_TOOL_ASAN || t == DYCO_CONTEXT_TOOL_TSAN) {
    unchecked_copy((char *)buf, (const char *)stack, n);
#if !BUILT_FOR_TOOL
    if (t == DYCO_CONTEXT_TOOL_ASAN) {
      size_t count;
      const char *shadow = asan_shadow(stack, n, &count);
      unchecked_copy((char *)buf + n, shadow, count);
    }
#endif
    return;
  }
  memcpy(buf, stack, n);
}

void dyco_context_stack_restore(void *stack, const void *buf, size_t n) {
  const int t = tool();
#if HAVE_VALGRIND
  if (t == DYCO_CONTEXT_TOOL_VALGRIND) {
    /* Memcheck marks a stack's bytes below its last stack pointer as gone;
     * the copy gives them back (with the definedness they were saved
     * with). */
    VALGRIND_MAKE_MEM_UNDEFINED(stack, n);
  }
#endif
  if (t == DYCO_CONTEXT_TOOL_ASAN || t == DYCO_CONTEXT_TOOL_TSAN) {
    unchecked_copy((char *)stack, (const char *)buf, n);
#if !BUILT_FOR_TOOL
    if (t == DYCO_CONTEXT_TOOL_ASAN) {
      size_t count;
      char *shadow = asan_shadow(stack, n, &count);
      unchecked_copy(shadow, (const char *)buf + n, count);
    }
#endif
    return;
  }
  memcpy(stack, buf, n);
}

void dyco_context_stack_reuse(void *stack, size_t size) {
#if defined(DYCO_ASAN) || !BUILT_FOR_TOOL
  if (tool() == DYCO_CONTEXT_TOOL_ASAN) {
    asan_unpoison(stack, size);
  }
#endif
  (void)stack;
  (void)size;
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

/* --- Running a function on top of a suspended context ------------------ */

#if DYCO__CONTEXT_HAVE_ASM && defined(__aarch64__) && \
    defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 3) != 0
/* Signs a return address as the switch does (pacia1716 or pacib1716: x17
 * signed with the modifier in x16). */
__attribute__((unused)) static void *pac_sign(void *ra, void *modifier) {
  register void *x17 __asm__("x17") = ra;
  register void *x16 __asm__("x16") = modifier;
#if __ARM_FEATURE_PAC_DEFAULT & 1
  __asm__("hint 8" : "+r"(x17) : "r"(x16)); /* pacia1716 */
#else
  __asm__("hint 10" : "+r"(x17) : "r"(x16)); /* pacib1716 */
#endif
  return x17;
}
#else
__attribute__((unused)) static void *pac_sign(void *ra, void *modifier) {
  (void)modifier;
  return ra;
}
#endif

#if DYCO__CONTEXT_HAVE_ASM
_Static_assert(DYCO__CONTEXT_FRAME_SIZE <= DYCO_CONTEXT_FRAME_MAX,
               "DYCO_CONTEXT_FRAME_MAX covers the frame");
#endif

int dyco_context_ontop(void **sp, void *(*fn)(void *value)) {
  if (sp == NULL || *sp == NULL || fn == NULL) {
    return -EINVAL;
  }
#if USE_UCONTEXT || BUILT_FOR_TOOL || !DYCO__CONTEXT_HAVE_ASM
  return -ENOTSUP;
#else
  if (dyco_context_tools() != 0) {
    return -ENOTSUP;
  }
  /* The frame moves two words down; above it go fn and the return address
   * it had, for the ontop trampoline, which the frame now returns to. On
   * x86 the return address is the frame's last word and stays where it is;
   * on arm it is lr, inside the frame. The stack pointer keeps its
   * alignment (two words: 16 bytes on 64-bit targets, 8 on 32-bit). */
  enum { W = sizeof(void *) };
  char *old = (char *)*sp;
  char *frame = old - 2 * W;
  void *ra;
  memcpy(&ra, old + DYCO__CONTEXT_FRAME_RA, W);
  memmove(frame, old, DYCO__CONTEXT_FRAME_SIZE);
  void *tramp = pac_sign((void *)dyco__context_ontop_trampoline,
                         frame + DYCO__CONTEXT_FRAME_SIZE);
  memcpy(frame + DYCO__CONTEXT_FRAME_RA, &tramp, W);
  memcpy(frame + DYCO__CONTEXT_FRAME_SIZE, &fn, W);
  memcpy(frame + DYCO__CONTEXT_FRAME_SIZE + W, &ra, W);
  *sp = frame;
  return 0;
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
