/* dyco — install test: two coroutines each make one request through the
 * stand-in library, and nothing else. The program's own code calls no
 * function dyco hooks: only the library does. With the hooks linked (or
 * preloaded) the two requests wait together. Prints the time taken. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dyco.h"
#include "standin.h"

static int port;
static int answers;

static void client(void *arg) {
  (void)arg;
  char buf[64];
  if (standin_request(port, buf, sizeof buf) > 0) {
    answers++;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: standin_app PORT\n");
    return 2;
  }
  port = atoi(argv[1]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  dyco_coroutine_create(client, NULL);
  dyco_coroutine_create(client, NULL);
  if (dyco_schedule_run() != 0) {
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  long ms =
      (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
  printf("%d answers in %ld ms\n", answers, ms);
  return answers == 2 ? 0 : 1;
}
