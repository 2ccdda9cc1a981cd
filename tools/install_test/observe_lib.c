/* dyco — install test: a library that knows nothing of dyco, for the
 * observation test. observe_lib_wait blocks in read() on a pipe (a wait
 * under the hooks); observe_lib_crunch computes for a while without giving
 * up the CPU, as a codec or a key derivation would. */
#include "observe_lib.h"

#include <time.h>
#include <unistd.h>

int observe_lib_wait(int fd) {
  char c = 0;
  ssize_t n = read(fd, &c, 1);
  /* Not a tail call: this frame stays under read's while it waits. */
  __asm__ volatile("" : : : "memory");
  return n == 1 ? c : -1;
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

unsigned observe_lib_crunch(double ms, const volatile int *stop) {
  const double end = cpu_ms() + ms;
  unsigned h = 2166136261u;
  while (cpu_ms() < end && (stop == NULL || !*stop)) {
    for (int i = 0; i < 1000; i++) {
      h = (h ^ (unsigned)i) * 16777619u;
    }
  }
  __asm__ volatile("" : : : "memory");
  return h;
}
