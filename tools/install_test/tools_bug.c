/* dyco — install test: programs with a real bug inside coroutines, which
 * the user's own tools must still report when dyco's switches and copies
 * are hidden from them. argv[1] picks the bug:
 *   stack   a write one past a local array, in a coroutine on the shared
 *           stack, after its frame was copied out and back (AddressSanitizer)
 *   heap    a write one past a malloc'ed block (AddressSanitizer, valgrind)
 *   uninit  a branch on a local never set, after the frame was copied out
 *           and back (valgrind)
 *   race    two threads' coroutines add to one counter without a lock
 *           (ThreadSanitizer) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dyco.h"

static volatile int past_the_end = 16;
static volatile int counter;

static void overflow_stack(void *arg) {
  (void)arg;
  char buf[16];
  memset(buf, 'x', sizeof buf);
  dyco_coroutine_sleep(1); /* another coroutine takes the shared stack */
  buf[past_the_end] = 'y';
  printf("%c\n", buf[0]);
}

static void overflow_heap(void *arg) {
  (void)arg;
  char *p = malloc(16);
  dyco_coroutine_sleep(1);
  p[past_the_end] = 'y';
  printf("%p\n", (void *)p);
  free(p);
}

static void branch_on_uninit(void *arg) {
  (void)arg;
  volatile int never_set;
  dyco_coroutine_sleep(1);
  if (never_set > 0) {
    printf("positive\n");
  }
}

/* Both threads' writes overlap in time: each thread's scheduler is set up
 * (under a lock of dyco's, which orders the two set-ups) well before it
 * writes, and writes for a while. */
static void add_unlocked(void *arg) {
  (void)arg;
  dyco_coroutine_sleep(20);
  for (int i = 0; i < 40; i++) {
    counter = counter + 1;
    dyco_coroutine_sleep(1);
  }
}

static void *racer(void *arg) {
  (void)arg;
  dyco_coroutine_create(add_unlocked, NULL);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
  return NULL;
}

int main(int argc, char **argv) {
  const char *bug = argc > 1 ? argv[1] : "";
  proc_coroutine f = NULL;
  if (strcmp(bug, "stack") == 0) {
    f = overflow_stack;
  } else if (strcmp(bug, "heap") == 0) {
    f = overflow_heap;
  } else if (strcmp(bug, "uninit") == 0) {
    f = branch_on_uninit;
  } else if (strcmp(bug, "race") == 0) {
    pthread_t a, b;
    pthread_create(&a, NULL, racer, NULL);
    pthread_create(&b, NULL, racer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%d\n", counter);
    return 0;
  } else {
    fprintf(stderr, "usage: tools_bug stack|heap|uninit|race\n");
    return 2;
  }
  for (int i = 0; i < 3; i++) {
    dyco_coroutine_create(f, NULL);
  }
  dyco_schedule_run();
  return 0;
}
