/* dyco — install test: fp_lib.c's one function. */
#ifndef DYCO_TOOLS_INSTALL_TEST_FP_LIB_H_
#define DYCO_TOOLS_INSTALL_TEST_FP_LIB_H_

struct fp_result {
  double before; /* 1/3 in the modes set, before the read */
  double after;  /* and after it */
  int mode;      /* fegetround() after the read */
  unsigned csr;  /* MXCSR's control bits after the read */
};

/* fp_work sets rounding `mode` (x87 and SSE), then MXCSR to `csr` unless it
 * is 0, computes, blocks in read(fd) for one byte, computes again: 0, or
 * < 0 when a step failed. */
int fp_work(int mode, unsigned csr, int fd, struct fp_result *r);

#endif
