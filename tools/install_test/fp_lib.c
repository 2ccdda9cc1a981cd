/* dyco — install test: a shared library that knows nothing of dyco (as
 * libpq or libcurl would not): it sets a rounding mode, divides, blocks in
 * read(2), divides again, and reports the modes it finds afterwards. It
 * leaves its modes set, as a library may. */
#include "fp_lib.h"

#include <fenv.h>
#include <unistd.h>
#include <xmmintrin.h>

int fp_work(int mode, unsigned csr, int fd, struct fp_result *r) {
  if (fesetround(mode) != 0) {
    return -1;
  }
  if (csr != 0) {
    _mm_setcsr(csr); /* SSE only: the x87 control word stays as it is */
  }
  volatile double one = 1.0;
  volatile double three = 3.0;
  r->before = one / three;
  char c;
  if (read(fd, &c, 1) != 1) {
    return -2;
  }
  r->after = one / three;
  r->mode = fegetround();
  r->csr = _mm_getcsr() & 0xffc0u; /* MXCSR's control bits */
  return 0;
}
