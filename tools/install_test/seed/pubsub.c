/* dyco — seed-style test: publish-subscribe, one publisher and three
 * subscribers that want 2, 5 and 6 messages. The publisher publishes five
 * in a row; each publish waits until every subscriber took it, so every
 * subscriber that subscribes again gets the next one: 2, 5 and 5 messages,
 * the sixth subscription times out. */
#include "dyco/dyco_coroutine.h"

static int received[3];
static int last_ret[3];
static ssize_t published[5];

static void subscriber(void *arg) {
  int idx = *(int *)arg;
  int times[3] = {2, 5, 6};
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_pubsubchannel *psc = udata;
  char buf[64];
  for (int i = 0; i < times[idx]; i++) {
    int ret = (int)dyco_pubsub_subscribe(psc, buf, 64, 300);
    last_ret[idx] = ret;
    if (ret > 0) {
      char want[64];
      int len = sprintf(want, "message %d", i);
      DYCO_MUST(ret == len && memcmp(buf, want, (size_t)len) == 0);
      printf("[subscriber] I am coro %d. I receive {%.*s}\n",
             dyco_coroutine_coroID(), ret, buf);
      received[idx]++;
    } else {
      printf("[subscriber] I am coro %d. ret = %d\n", dyco_coroutine_coroID(),
             ret);
    }
  }
}

static void publisher(void *arg) {
  (void)arg;
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_pubsubchannel *psc = udata;
  dyco_coroutine_sleep(50);
  char msg[64];
  for (int i = 0; i < 5; i++) {
    int len = sprintf(msg, "message %d", i);
    published[i] = dyco_pubsub_publish(psc, msg, (size_t)len);
    printf("[publisher] I am coro %d. message %d is sent\n",
           dyco_coroutine_coroID(), i);
  }
}

int main(void) {
  int idx[3] = {0, 1, 2};
  dyco_coroutine_create(publisher, NULL);
  for (int i = 0; i < 3; i++) {
    dyco_coroutine_create(subscriber, idx + i);
  }
  dyco_pubsubchannel *psc = dyco_pubsub_create(64);
  DYCO_MUST(psc != NULL);
  dyco_schedule_setUdata(psc);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  for (int i = 0; i < 5; i++) {
    DYCO_MUST(published[i] == 9);
  }
  DYCO_MUST(received[0] == 2 && received[1] == 5 && received[2] == 5);
  DYCO_MUST(last_ret[2] < 0); /* the sixth never came: timed out */
  /* Nobody subscribes now. */
  DYCO_MUST(dyco_pubsub_publish(psc, "x", 1) == 0);
  dyco_pubsub_destroy(&psc);
  printf("pubsub: passed\n");
  return 0;
}
