/* dyco example: urgent coroutines.
 * An urgent coroutine runs before every ready normal one, whenever it is
 * ready; one that yields waits for the others' turn, so nobody starves. */
#include <stdio.h>

#include "dyco.h"

static void normal(void *arg) {
  for (int i = 0; i < 2; i++) {
    printf("normal %s\n", (const char *)arg);
    dyco_coroutine_yield();
  }
}

static void urgent(void *arg) {
  for (int i = 0; i < 2; i++) {
    printf("URGENT %s\n", (const char *)arg);
    dyco_coroutine_yield();
  }
}

int main(void) {
  dyco_coroutine_create(normal, "a");
  dyco_coroutine_create(normal, "b");
  dyco_coroutine_create_urgent(urgent, "x");
  return dyco_schedule_run();
}
