/* dyco — tests only: a function with a frame far larger than a stack's
 * default guard, built without -fstack-clash-protection (see sched/BUILD),
 * as code compiled without dyco's flags would be. */
int dyco_test_unprobed_frame(int i);

int dyco_test_unprobed_frame(int i) {
  volatile char big[54 * 1024];
  big[i] = 1; /* the lowest byte first: below the stack, in the guard */
  big[sizeof big - 1 - (unsigned)i] = 2;
  return big[i] + big[sizeof big - 1 - (unsigned)i];
}
