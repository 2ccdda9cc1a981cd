/* dyco — install test: two coroutines call fp_lib (a separate library)
 * with different modes: one rounds upward (x87 and SSE), the other
 * changes MXCSR alone (rounding downward, flush-to-zero), so that some
 * switches find the x87 control words alike and only MXCSR differing.
 * Each blocks in its read (hooked: the other runs meanwhile) and must find
 * its own modes and result after it; the thread keeps its own although
 * the library leaves its modes set. The waker, created by main, first runs
 * right after a worker changed its modes: it starts with main's (its
 * creator's), not the worker's. Prints "fp modes: ok". */
#include <fenv.h>
#include <stdio.h>
#include <unistd.h>
#include <xmmintrin.h>

#include "dyco.h"
#include "fp_lib.h"

struct job {
  int mode;
  unsigned csr;
  int fd;
  int rc;
  struct fp_result r;
};

static int pipes[2][2];
static int order; /* how many workers were in their read when the waker ran */
static int waiting;
static int waker_round = -1; /* the modes the waker started with */
static unsigned waker_csr;

static void worker(void *arg) {
  struct job *j = arg;
  waiting++;
  j->rc = fp_work(j->mode, j->csr, j->fd, &j->r);
}

/* Runs after both workers blocked (they were created first). */
static void waker(void *arg) {
  (void)arg;
  waker_round = fegetround();
  waker_csr = _mm_getcsr() & 0xffc0u;
  order = waiting;
  if (write(pipes[1][1], "x", 1) != 1 || write(pipes[0][1], "x", 1) != 1) {
    order = -1;
  }
}

int main(void) {
  if (pipe(pipes[0]) != 0 || pipe(pipes[1]) != 0) {
    return 2;
  }
  /* MXCSR: 0x1f80 all exceptions masked, 0x4000 / 0x2000 rounding up /
   * down, 0x8000 flush-to-zero. */
  const unsigned want[2] = {0x1f80u | 0x4000u, 0x1f80u | 0x2000u | 0x8000u};
  struct job j[2] = {{FE_UPWARD, 0, pipes[0][0], -9, {0}},
                     {FE_TONEAREST, want[1], pipes[1][0], -9, {0}}};
  dyco_coroutine_create(worker, &j[0]);
  dyco_coroutine_create(worker, &j[1]);
  dyco_coroutine_create(waker, NULL);
  dyco_schedule_run();
  int bad = order != 2;
  for (int i = 0; i < 2; ++i) {
    printf("%s: rc %d, 1/3 %.17g then %.17g, mode %#x, mxcsr %#x\n",
           i == 0 ? "upward" : "downward", j[i].rc, j[i].r.before, j[i].r.after,
           (unsigned)j[i].r.mode, j[i].r.csr);
    bad |= j[i].rc != 0 || j[i].r.before != j[i].r.after ||
           j[i].r.mode != j[i].mode || j[i].r.csr != want[i];
  }
  bad |= !(j[0].r.after > j[1].r.after); /* upward rounds above downward */
  printf("waker started with mode %#x, mxcsr %#x\n", (unsigned)waker_round,
         waker_csr);
  bad |= waker_round != FE_TONEAREST || waker_csr != 0x1f80u;
  bad |= fegetround() != FE_TONEAREST || (_mm_getcsr() & 0xffc0u) != 0x1f80u;
  printf("fp modes: %s (both blocked before the wake: %s)\n",
         bad ? "FAIL" : "ok", order == 2 ? "yes" : "no");
  return bad;
}
