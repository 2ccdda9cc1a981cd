/* dyco example: publish-subscribe, one publisher and three subscribers.
 * Each subscribe covers one message: every subscriber waiting when a
 * message is published gets it; publishing with nobody subscribed returns
 * 0. */
#include <stdio.h>

#include "dyco.h"

static dyco_pubsubchannel *ps;
static int got;

static void subscriber(void *arg) {
  long id = (long)arg;
  for (int i = 0; i < 2; i++) {
    char buf[64];
    ssize_t n = dyco_pubsub_subscribe(ps, buf, sizeof buf, 1000);
    if (n > 0) {
      printf("subscriber %ld got \"%.*s\"\n", id, (int)n, buf);
      got++;
    }
  }
}

static void publisher(void *arg) {
  (void)arg;
  printf("publish with nobody subscribed returns %zd\n",
         dyco_pubsub_publish(ps, "too early", 9));
  for (int i = 0; i < 2; i++) {
    dyco_coroutine_yield(); /* let the subscribers subscribe again */
    char msg[32];
    int n = snprintf(msg, sizeof msg, "news %d", i);
    ssize_t sent = dyco_pubsub_publish(ps, msg, (size_t)n);
    printf("published \"%s\" (%zd bytes) to every waiting subscriber\n", msg,
           sent);
  }
}

int main(void) {
  ps = dyco_pubsub_create(64);
  dyco_coroutine_create(publisher, NULL);
  for (long i = 0; i < 3; i++) {
    dyco_coroutine_create(subscriber, (void *)i);
  }
  dyco_schedule_run();
  dyco_pubsub_destroy(&ps);
  printf("%d deliveries (2 messages x 3 subscribers)\n", got);
  return got == 6 ? 0 : 1;
}
