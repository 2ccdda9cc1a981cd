/* dyco — base layer: the fatal-error report, one line on stderr and abort,
 * for every layer. */
#include "base/fatal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void dyco__fatal(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  /* One write: lines of several threads do not interleave. */
  fprintf(stderr, "dyco: %s\n", line);
  abort();
}
