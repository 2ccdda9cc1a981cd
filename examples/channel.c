/* dyco example: the half-duplex channel.
 * A producer sends numbered messages to two consumers through one channel:
 * each message goes to exactly one receiver, in order; a send returns only
 * when the channel was empty or a receiver took the message ("half-duplex":
 * one message in the channel at a time). Destroying the channel wakes the
 * receivers still waiting, with 0 ("closed"). */
#include <stdio.h>
#include <string.h>

#include "dyco.h"

static dyco_channel *chan;
static int received[2];

static void consumer(void *arg) {
  long id = (long)arg;
  char buf[32];
  ssize_t n;
  while ((n = dyco_channel_recv(chan, buf, sizeof buf, -1)) > 0) {
    printf("consumer %ld got \"%.*s\"\n", id, (int)n, buf);
    received[id]++;
  }
  printf("consumer %ld: channel closed (recv returned %zd)\n", id, n);
}

static void producer(void *arg) {
  (void)arg;
  for (int i = 0; i < 6; i++) {
    char msg[32];
    int n = snprintf(msg, sizeof msg, "message %d", i);
    dyco_channel_send(chan, msg, (size_t)n, -1);
  }
  char big[64] = {0};
  printf("a message larger than the channel: send returned %zd\n",
         dyco_channel_send(chan, big, sizeof big, 0));
  dyco_coroutine_sleep(10);
  dyco_channel_destroy(&chan);
}

int main(void) {
  chan = dyco_channel_create(32); /* messages of up to 32 bytes */
  dyco_coroutine_create(consumer, (void *)0L);
  dyco_coroutine_create(consumer, (void *)1L);
  dyco_coroutine_create(producer, NULL);
  dyco_schedule_run();
  printf("%d messages delivered, each to one consumer\n",
         received[0] + received[1]);
  return received[0] + received[1] == 6 ? 0 : 1;
}
