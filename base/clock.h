/* dyco — base layer: the monotonic clock every timeout is measured on.
 * clock_gettime(CLOCK_MONOTONIC) answers from the vDSO: no system call. */
#ifndef DYCO_BASE_CLOCK_H_
#define DYCO_BASE_CLOCK_H_

#include <stdint.h>
#include <time.h>

/* dyco__now_ns returns the time on CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t dyco__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* dyco__now_ms returns the time on CLOCK_MONOTONIC in milliseconds. */
static inline uint64_t dyco__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif /* DYCO_BASE_CLOCK_H_ */
