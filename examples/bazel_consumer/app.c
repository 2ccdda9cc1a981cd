/* A program in another Bazel workspace, built against single dyco targets
 * (@dyco//sched, @dyco//sync, @dyco//netio:hook): a producer and a consumer
 * coroutine talk through a channel while plain usleep yields. */
#include <stdio.h>
#include <unistd.h>

#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sync/chan.h"

static dyco_chan *chan;
static int total;

static void producer(void *arg) {
  (void)arg;
  for (int i = 1; i <= 3; i++) {
    usleep(1000); /* the libc call: yields, through @dyco//netio:hook */
    dyco_chan_send(chan, &i, -1);
  }
  dyco_chan_close(chan);
}

static void consumer(void *arg) {
  (void)arg;
  int v, sum = 0;
  while (dyco_chan_recv(chan, &v, -1) > 0) {
    printf("got %d\n", v);
    sum += v;
  }
  total = sum;
  printf("consumer: sum %d\n", sum);
}

int main(void) {
  chan = dyco_chan_create(sizeof(int), 0, 0);
  dyco_coroutine_create(producer, NULL);
  dyco_coroutine_create(consumer, NULL);
  int r = dyco_schedule_run();
  dyco_chan_destroy(&chan);
  return r == 0 && total == 6 ? 0 : 1;
}
