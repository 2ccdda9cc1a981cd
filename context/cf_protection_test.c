/* dyco — context layer test: a program built with -fcf-protection=full (x86)
 * or -mbranch-protection=standard (aarch64) keeps its IBT / BTI mark with
 * dyco's switch in it, every entry point is a landing pad, and it runs. */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context/context.h"
#include "context/internal/switch.h"

static int failures;

#define EXPECT(cond, ...)                                     \
  do {                                                        \
    if (!(cond)) {                                            \
      failures++;                                             \
      fprintf(stderr, "%s:%d: failed: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                           \
      fputc('\n', stderr);                                    \
    }                                                         \
  } while (0)

#if defined(__LP64__)
#define PROPERTY_ALIGN 8
#else
#define PROPERTY_ALIGN 4
#endif

/* The bits of property `type` in the GNU property note at p, or -1. */
__attribute__((unused)) static long PropertyIn(const unsigned char *p,
                                               uint32_t type) {
  const unsigned char *d = p + sizeof(ElfW(Nhdr)) + 4;
  uint32_t size;
  memcpy(&size, p + 4, 4); /* n_descsz */
  const unsigned char *end = d + size;
  while (d + 8 <= end) {
    uint32_t pr_type, pr_size;
    memcpy(&pr_type, d, 4);
    memcpy(&pr_size, d + 4, 4);
    if (pr_type == type && pr_size == 4) {
      uint32_t bits;
      memcpy(&bits, d + 8, 4);
      return bits;
    }
    d += 8 + ((pr_size + PROPERTY_ALIGN - 1) & ~(uint32_t)(PROPERTY_ALIGN - 1));
  }
  return -1;
}

/* The bits of the program's GNU property `type` (the linker's AND over
 * every object linked in), or -1 when the program has no such property.
 * Looked for in the notes of every PT_NOTE segment: GNU ld also gives the
 * property its own PT_GNU_PROPERTY, gold does not. */
__attribute__((unused)) static long ProgramProperty(uint32_t type) {
  const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
  const size_t n = getauxval(AT_PHNUM);
  uintptr_t bias = 0;
  for (size_t i = 0; i < n; i++) {
    if (ph[i].p_type == PT_PHDR) {
      bias = (uintptr_t)ph - ph[i].p_vaddr;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (ph[i].p_type != PT_NOTE) {
      continue;
    }
    const size_t align = ph[i].p_align > 4 ? ph[i].p_align : 4;
    const unsigned char *p = (const unsigned char *)(bias + ph[i].p_vaddr);
    const unsigned char *end = p + ph[i].p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      memcpy(&note, p, sizeof note);
      if (note.n_type == NT_GNU_PROPERTY_TYPE_0 && note.n_namesz == 4 &&
          memcmp(p + sizeof note, "GNU", 4) == 0) {
        return PropertyIn(p, type);
      }
      size_t len =
          sizeof note + ((note.n_namesz + 3) & ~(size_t)3) + note.n_descsz;
      p += (len + align - 1) & ~(align - 1);
    }
  }
  return -1;
}

/* 1 when the function starts with a landing pad for calls (jump: 0) or
 * for jumps (jump: 1). */
static int StartsWithPad(const void *fn, int jump) {
  uint32_t insn;
  memcpy(&insn, fn, 4);
#if defined(__x86_64__)
  (void)jump;
  return insn == 0xfa1e0ff3; /* endbr64 */
#elif defined(__i386__)
  (void)jump;
  return insn == 0xfb1e0ff3; /* endbr32 */
#elif defined(__aarch64__)
  if (jump) {
    return insn == 0xd503249f || insn == 0xd50324df; /* bti j, bti jc */
  }
  return insn == 0xd503245f || insn == 0xd50324df || /* bti c, bti jc */
         insn == 0xd503233f || insn == 0xd503237f;   /* paciasp, pacibsp */
#else
  (void)insn;
  (void)jump;
  return 1; /* no landing pads on this architecture */
#endif
}

#define PAD(fn, jump) {#fn, (const void *)(uintptr_t)&fn, jump}

static void CheckLandingPads(void) {
  const struct {
    const char *name;
    const void *fn;
    int jump;
  } entries[] = {
      PAD(dyco_context_make, 0),
      PAD(dyco_context_switch, 0),
      PAD(dyco_context_switch_sp, 0),
      PAD(dyco_context_resume_sp, 0),
      PAD(dyco_context_switch_tools, 0),
      PAD(dyco_context_destroy, 0),
      PAD(dyco_context_stack_low, 0),
      PAD(dyco_context_tools, 0),
      PAD(dyco_context_stack_extra, 0),
      PAD(dyco_context_stack_save, 0),
      PAD(dyco_context_stack_restore, 0),
      PAD(dyco_context_stack_reuse, 0),
      PAD(dyco_context_implementation, 0),
#if DYCO__CONTEXT_HAVE_ASM
      PAD(dyco__context_make_asm, 0),
      PAD(dyco__context_switch_asm, 0),
      PAD(dyco__context_switch_ret_asm, 0),
      PAD(dyco__context_trampoline, 1),
      PAD(dyco__context_ontop_trampoline, 1),
#endif
      PAD(dyco_context_ontop, 0),
  };
  for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
    EXPECT(StartsWithPad(entries[i].fn, entries[i].jump),
           "%s does not start with a landing pad", entries[i].name);
  }
}

/* Switches through pointers (indirect calls, which IBT and BTI check),
 * into a new context (the trampoline) and back, by each entry point. */
typedef void *(*switch_fn)(dyco_context *, dyco_context *, void *);
typedef void *(*switch_sp_fn)(void **, void *const *, void *);
typedef void *(*switch_tools_fn)(void **, void *const *, void *, dyco_context *,
                                 dyco_context *);

static switch_fn volatile do_switch = dyco_context_switch;
static switch_sp_fn volatile do_switch_sp = dyco_context_switch_sp;
static switch_tools_fn volatile do_switch_tools = dyco_context_switch_tools;

static dyco_context main_ctx, ctx;
static int entry; /* 0: switch, 1: switch_sp, 2: switch_tools */

static void *SwitchBy(dyco_context *from, dyco_context *to, void *value) {
  if (entry == 1) {
    return do_switch_sp(&from->sp, &to->sp, value);
  }
  if (entry == 2) {
    return do_switch_tools(&from->sp, &to->sp, value, from, to);
  }
  return do_switch(from, to, value);
}

static void Body(void *arg) {
  (void)arg;
  intptr_t v = 0;
  for (;;) {
    v = (intptr_t)SwitchBy(&ctx, &main_ctx, (void *)(v * 2));
  }
}

/* Run on top of the suspended context: reached through the ontop
 * trampoline's indirect branch, and returning with the return address the
 * trampoline authenticated (aarch64 with PAC). */
static void *PlusOne(void *value) { return (void *)((intptr_t)value + 1); }

static void RunSwitches(void) {
  static char stack[64 * 1024];
  for (entry = 0; entry < 3; entry++) {
    if (entry == 1 && !DYCO_CONTEXT_SP_ONLY) {
      continue;
    }
    EXPECT(dyco_context_make(&ctx, stack, sizeof stack, Body, NULL) == 0,
           "make");
    SwitchBy(&main_ctx, &ctx, NULL);
    for (intptr_t i = 1; i <= 100; i++) {
      intptr_t got = (intptr_t)SwitchBy(&main_ctx, &ctx, (void *)i);
      EXPECT(got == 2 * i, "entry %d: %ld for %ld", entry, (long)got, (long)i);
    }
#if DYCO__CONTEXT_HAVE_ASM && \
    (defined(DYCO_VALGRIND) || defined(DYCO_CONTEXT_UCONTEXT))
    /* A build for valgrind (ontop would bypass its notes of each switch) or
     * with the ucontext switch: ontop refuses (context.h); the ontop
     * trampoline's landing pad is checked above all the same. */
    EXPECT(dyco_context_ontop(&ctx.sp, PlusOne) == -ENOTSUP, "ontop refused");
    if (entry == 0) {
      printf("ontop: refused in this build, as context.h says\n");
    }
#elif DYCO__CONTEXT_HAVE_ASM
    EXPECT(dyco_context_ontop(&ctx.sp, PlusOne) == 0, "ontop");
    intptr_t got = (intptr_t)SwitchBy(&main_ctx, &ctx, (void *)20);
    EXPECT(got == 42, "entry %d: %ld after ontop", entry, (long)got);
#endif
    dyco_context_destroy(&ctx);
  }
}

#if defined(__aarch64__)
#ifndef HWCAP2_BTI
#define HWCAP2_BTI (1 << 17)
#endif
int dyco_test_no_pad(void);

/* Whether BTI is enforced here: a call through a pointer to a function
 * without a landing pad faults in a child process. */
static const char *BtiEnforced(long bits) {
  if (bits < 0 || !(bits & GNU_PROPERTY_AARCH64_FEATURE_1_BTI)) {
    return "no (the program is not marked BTI)";
  }
  if (!(getauxval(AT_HWCAP2) & HWCAP2_BTI)) {
    return "no (the processor has no BTI)";
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int (*volatile f)(void) = dyco_test_no_pad;
    _exit(f() == 1 ? 0 : 2);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    return "unknown (fork failed)";
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGILL) {
    return "yes (a call to a function without a landing pad faults)";
  }
  return "no (a call to a function without a landing pad runs)";
}
#endif

int main(void) {
  printf("switch: %s\n", dyco_context_implementation());
#if defined(__x86_64__) || defined(__i386__)
  long bits = ProgramProperty(GNU_PROPERTY_X86_FEATURE_1_AND);
  printf("x86 feature property: %ld (IBT %d, SHSTK %d)\n", bits,
         bits > 0 && (bits & GNU_PROPERTY_X86_FEATURE_1_IBT) != 0,
         bits > 0 && (bits & GNU_PROPERTY_X86_FEATURE_1_SHSTK) != 0);
#if defined(DYCO_TEST_OWN_START)
  EXPECT(bits > 0 && (bits & GNU_PROPERTY_X86_FEATURE_1_IBT),
         "the program lost its IBT mark");
  /* The switch changes stacks without telling a shadow stack: the note
   * must not claim SHSTK (docs/context.md). */
  EXPECT(bits < 0 || !(bits & GNU_PROPERTY_X86_FEATURE_1_SHSTK),
         "the program claims SHSTK");
#else
  printf(
      "(linked with the distribution's start files, which carry no "
      "property: not checked)\n");
#endif
#elif defined(__aarch64__)
  long bits = ProgramProperty(GNU_PROPERTY_AARCH64_FEATURE_1_AND);
  printf("aarch64 feature property: %ld (BTI %d, PAC %d)\n", bits,
         bits > 0 && (bits & GNU_PROPERTY_AARCH64_FEATURE_1_BTI) != 0,
         bits > 0 && (bits & GNU_PROPERTY_AARCH64_FEATURE_1_PAC) != 0);
#if defined(DYCO_TEST_OWN_START)
  EXPECT(bits > 0 && (bits & GNU_PROPERTY_AARCH64_FEATURE_1_BTI) &&
             (bits & GNU_PROPERTY_AARCH64_FEATURE_1_PAC),
         "the program lost its BTI or PAC mark");
#endif
#endif
  CheckLandingPads();
  RunSwitches();
#if defined(__aarch64__)
  printf("BTI enforced while the switches ran: %s\n", BtiEnforced(bits));
#endif
  printf("%s\n", failures ? "FAILED" : "passed");
  return failures != 0;
}
