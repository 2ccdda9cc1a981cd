/* dyco — install test: the observation test's library (observe_lib.c). */
#ifndef DYCO_INSTALL_TEST_OBSERVE_LIB_H_
#define DYCO_INSTALL_TEST_OBSERVE_LIB_H_

/* Reads one byte from fd, blocking: the byte, or -1. */
int observe_lib_wait(int fd);

/* Computes for ms of the thread's CPU time, or until *stop (when stop is
 * not NULL) is set. */
unsigned observe_lib_crunch(double ms, const volatile int *stop);

#endif
