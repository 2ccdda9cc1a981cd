/* dyco — seed-style test: the half-duplex channel. The seed's alice and
 * bob: bob sends three messages after a while; alice receives the first,
 * sleeps, receives the others (bob's second send waited for her); then
 * alice sends twice with nobody receiving: the first goes into the empty
 * channel at once, the second times out. */
#include "dyco/dyco_coroutine.h"

static char got[3][64];
static ssize_t got_len[3];
static ssize_t alice_sent[2];
static ssize_t bob_sent[3];

static void alice(void *arg) {
  (void)arg;
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_channel *c = udata;
  for (int i = 0; i < 3; i++) {
    got_len[i] = dyco_channel_recv(c, got[i], 64, -1);
    printf("[alice] I am coro %d. recv {%.*s}, ret = %ld\n",
           dyco_coroutine_coroID(), (int)got_len[i], got[i], (long)got_len[i]);
    if (i == 0) {
      dyco_coroutine_sleep(100);
    }
  }
  char *msg1 = "is any one there?";
  char *msg2 = "xxxxyyyyzzzz";
  alice_sent[0] = dyco_channel_send(c, msg1, strlen(msg1), 100);
  printf("[alice] I am coro %d. send {%s}, ret = %ld\n",
         dyco_coroutine_coroID(), msg1, (long)alice_sent[0]);
  alice_sent[1] = dyco_channel_send(c, msg2, strlen(msg2), 100);
  printf("[alice] I am coro %d. send {%s}, ret = %ld\n",
         dyco_coroutine_coroID(), msg2, (long)alice_sent[1]);
}

static void bob(void *arg) {
  (void)arg;
  void *udata;
  dyco_schedule_getUdata(&udata);
  dyco_channel *c = udata;
  dyco_coroutine_sleep(50);
  char *msgs[3] = {"hello", "world", "!"};
  for (int i = 0; i < 3; i++) {
    bob_sent[i] = dyco_channel_send(c, msgs[i], strlen(msgs[i]), -1);
    printf("[bob] I am coro %d. send {%s}, ret = %ld\n",
           dyco_coroutine_coroID(), msgs[i], (long)bob_sent[i]);
  }
}

int main(void) {
  dyco_coroutine_create(alice, NULL);
  dyco_coroutine_create(bob, NULL);
  dyco_channel *c = dyco_channel_create(64);
  DYCO_MUST(c != NULL);
  dyco_schedule_setUdata(c);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  DYCO_MUST(got_len[0] == 5 && memcmp(got[0], "hello", 5) == 0);
  DYCO_MUST(got_len[1] == 5 && memcmp(got[1], "world", 5) == 0);
  DYCO_MUST(got_len[2] == 1 && got[2][0] == '!');
  DYCO_MUST(bob_sent[0] == 5 && bob_sent[1] == 5 && bob_sent[2] == 1);
  DYCO_MUST(alice_sent[0] == 17); /* into the empty channel */
  DYCO_MUST(alice_sent[1] < 0);   /* nobody took the first: timed out */
  dyco_channel_destroy(&c);
  DYCO_MUST(c == NULL);
  printf("channel: passed\n");
  return 0;
}
