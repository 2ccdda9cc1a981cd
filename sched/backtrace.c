/* dyco — sched layer: backtraces of coroutines, running or suspended.
 *
 * A suspended coroutine's frames are walked from inside it: the context
 * layer's dyco_context_ontop makes it call `walk` on top of its frames when
 * it is resumed; the walker resumes it at once, walk runs glibc's
 * backtrace() there and switches straight back, and the walker puts the
 * coroutine's saved state (the bytes at its stack pointer, and the pointer)
 * back as they were: none of its code runs, and nothing of the walk stays.
 *
 * The switches go through a small context of their own (the walker), on a
 * stack mapped for the call: a coroutine on the shared stack must have its
 * bytes copied in first, which would overwrite the caller's frames when the
 * caller itself runs on the shared stack. The walker installs it, walks it,
 * and installs the caller again before it goes back. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unwind.h>

#include "base/fatal.h"
#include "sched/internal/sched.h"

/* Stack a walk needs below a coroutine's frames: backtrace() and libgcc's
 * unwinder use a few KiB. */
#define WALK_ROOM (16 * 1024)
/* The walker's own stack. */
#define WALKER_STACK (64 * 1024)
/* Frames backtrace() may find, dyco's own included. */
#define WALK_FRAMES 128

const void *dyco__function_of(const void *pc) {
  Dl_info info;
  return dladdr(pc, &info) != 0 && info.dli_saddr != NULL ? info.dli_saddr : pc;
}

int dyco__frames_user(void *const *frames, int n, const void **in_func) {
  for (int i = 1; i < n; i++) {
    if (dyco__in_co_main((uintptr_t)frames[i])) {
      /* co_main called the coroutine's function, frames[i - 1]. */
      if (in_func != NULL) {
        *in_func = frames[i - 1];
      }
      return i;
    }
  }
  if (in_func != NULL) {
    *in_func = NULL;
  }
  return n;
}

typedef struct func_scan {
  uintptr_t prev; /* the frame the unwinder found last */
  const void *in_func;
  int left; /* frames it may still look at */
} func_scan;

static _Unwind_Reason_Code scan_frame(struct _Unwind_Context *uc, void *arg) {
  func_scan *f = (func_scan *)arg;
  const uintptr_t pc = (uintptr_t)_Unwind_GetIP(uc);
  if (f->prev != 0 && dyco__in_co_main(pc)) {
    f->in_func = (const void *)f->prev;
    return _URC_END_OF_STACK;
  }
  f->prev = pc;
  return --f->left > 0 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

const void *dyco__unwind_in_func(void) {
  /* Nothing but the unwinder's own state on the stack, however deep the
   * coroutine is; the bound only stops a corrupt chain of frames. */
  func_scan f = {0, NULL, 4096};
  (void)_Unwind_Backtrace(scan_frame, &f);
  return f.in_func;
}

#if DYCO_CONTEXT_SP_ONLY
typedef struct walk_job {
  dyco_schedule *s;
  dyco_coroutine *co; /* the coroutine to walk */
  void **back;        /* where the caller's stack pointer is */
  void *walker_sp;    /* the walker's, while co runs walk */
  void *dead_sp;      /* walk's, never resumed */
  void *frames[WALK_FRAMES];
  int n;
  int err;
} walk_job;

/* Runs on top of co's frames (dyco_context_ontop), with the job as the
 * value the walker's switch passed, and goes back to the walker for good:
 * the walker puts co's frame back as it was. */
static void *walk(void *value) {
  walk_job *j = (walk_job *)value;
  j->n = backtrace(j->frames, WALK_FRAMES);
  dyco_context_switch_sp(&j->dead_sp, &j->walker_sp, NULL);
  dyco__fatal("dyco_coroutine_backtrace: a walk was resumed");
}

/* The walker: brings co's frames onto its stack, walks them, puts the
 * caller's back, and returns to the caller for good. */
static void walker(void *arg) {
  walk_job *j = (walk_job *)arg;
  dyco_schedule *s = j->s;
  dyco_coroutine *caller = s->running;
  dyco_coroutine *co = j->co;
  char *low;
  char *bottom;
  if (!(co->flags & DYCO__F_PRIVATE) && s->occupant != co) {
    j->err = dyco__shared_install(s, co);
  }
  if (j->err == 0) {
    low = (char *)co->ctx.sp;
    bottom = (co->flags & DYCO__F_PRIVATE) ? co->ext->stack : s->shared.stack;
    if (!dyco__co_on_own_stack(s, co, low)) {
      j->err = -ENOTSUP; /* suspended on a stack not its own */
    } else if ((size_t)(low - bottom) < WALK_ROOM) {
      j->err = -ENOSPC;
    } else {
      /* What the walk overwrites: the saved state at sp, which goes back
       * afterwards, with sp. Nothing above it is touched. */
      char *top = bottom + ((co->flags & DYCO__F_PRIVATE) ? co->ext->stack_size
                                                          : s->shared.size);
      size_t keep = DYCO_CONTEXT_FRAME_MAX;
      if ((size_t)(top - low) < keep) {
        keep = (size_t)(top - low);
      }
      char state[DYCO_CONTEXT_FRAME_MAX];
      memcpy(state, low, keep);
      j->err = dyco_context_ontop(&co->ctx.sp, walk);
      if (j->err == 0) {
        dyco_context_switch_sp(&j->walker_sp, &co->ctx.sp, j);
        memcpy(low, state, keep);
      }
      co->ctx.sp = low;
    }
  }
  /* The caller's frames back on the shared stack, if that is where it
   * runs. */
  if (caller != NULL && !(caller->flags & DYCO__F_PRIVATE) &&
      s->occupant != caller) {
    int err = dyco__shared_install(s, caller);
    if (err != 0) {
      dyco__fatal(
          "dyco_coroutine_backtrace: cannot copy the caller's stack "
          "back");
    }
  }
  dyco_context_switch_sp(&j->walker_sp, j->back, NULL);
  dyco__fatal("dyco_coroutine_backtrace: the walker was resumed");
}

/* Walks a suspended coroutine: its frames into found[0..*count). */
static int walk_suspended(dyco_schedule *s, dyco_coroutine *co, void **found,
                          int *count) {
  char *stack = mmap(NULL, WALKER_STACK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    return -ENOMEM;
  }
  /* The job lives at the bottom of the walker's mapping, not on the
   * caller's stack: when the caller runs on the shared stack, its bytes are
   * away while the walk runs. */
  walk_job *j = (walk_job *)(void *)stack;
  memset(j, 0, sizeof *j);
  const size_t job_size = (sizeof *j + 63) & ~(size_t)63;
  /* The first call of backtrace() loads libgcc's unwinder, which takes
   * more stack than a walk: here, on the caller's. */
  void *warm[2];
  backtrace(warm, 2);
  dyco_context walker_ctx;
  memset(&walker_ctx, 0, sizeof walker_ctx);
  int err = dyco_context_make(&walker_ctx, stack + job_size,
                              WALKER_STACK - job_size, walker, j);
  if (err == 0) {
    /* A caller on the shared stack switches from its own record, so that
     * the walker can copy its bytes away and back like any occupant's. */
    dyco_coroutine *caller = s->running;
    void *here = NULL;
    j->s = s;
    j->co = co;
    j->back = caller != NULL ? &caller->ctx.sp : &here;
    dyco_context_switch_sp(j->back, &walker_ctx.sp, NULL);
    err = j->err;
    *count = j->n;
    memcpy(found, j->frames, (size_t)j->n * sizeof(void *));
    dyco_context_destroy(&walker_ctx);
  }
  munmap(stack, WALKER_STACK);
  return err;
}
#endif /* DYCO_CONTEXT_SP_ONLY */

int dyco_coroutine_backtrace(int cid, void **frames, int max) {
  if (frames == NULL || max < 1) {
    return -EINVAL;
  }
  dyco_schedule *s = dyco__tls_sched;
  dyco_coroutine *co = dyco__co_find(s, cid);
  if (co == NULL) {
    return -ESRCH;
  }
  if (!(co->flags & DYCO__F_STARTED)) {
    return 0;
  }
  void *found[WALK_FRAMES];
  int count;
  if (co == s->running) {
    count = backtrace(found, WALK_FRAMES);
  } else {
#if DYCO_CONTEXT_SP_ONLY
    if (s->tools) {
      return -ENOTSUP;
    }
    int err = walk_suspended(s, co, found, &count);
    if (err != 0) {
      return err;
    }
#else
    return -ENOTSUP;
#endif
  }
  /* The first frame is this function's, or walk's. */
  const int skip = 1;
  int depth = dyco__frames_user(found, count, NULL);
  int n = depth > skip ? depth - skip : 0;
  if (n > max) {
    n = max;
  }
  memcpy(frames, found + skip, (size_t)n * sizeof(void *));
  return n;
}
