/* dyco example: a network program in blocking style.
 * With the hooks linked, hiredis's blocking calls, getaddrinfo and a timer
 * all run at once on one thread against a redis-server this example
 * starts on 127.0.0.1: ten coroutines each block in BLPOP for 300 ms, ten
 * more SET and GET their own keys, one resolves "localhost", and a ticker
 * shows the thread never stalls. */
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dyco.h"

static int port;
static int blpops_done, setgets_ok, ticks;
static double longest_gap_ms;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void blpop(void *arg) {
  long id = (long)arg;
  redisContext *c = redisConnect("127.0.0.1", port);
  if (c == NULL || c->err) {
    return;
  }
  redisReply *r =
      redisCommand(c, "BLPOP queue:%ld 0.3", id); /* blocks 300 ms */
  if (r != NULL) {
    blpops_done++;
    freeReplyObject(r);
  }
  redisFree(c);
}

static void setget(void *arg) {
  long id = (long)arg;
  redisContext *c = redisConnect("127.0.0.1", port);
  if (c == NULL || c->err) {
    return;
  }
  char value[32];
  snprintf(value, sizeof value, "value-%ld", id);
  freeReplyObject(redisCommand(c, "SET key:%ld %s", id, value));
  redisReply *r = redisCommand(c, "GET key:%ld", id);
  if (r != NULL && r->type == REDIS_REPLY_STRING &&
      strcmp(r->str, value) == 0) {
    setgets_ok++;
  }
  freeReplyObject(r);
  redisFree(c);
}

static void resolve(void *arg) {
  (void)arg;
  struct addrinfo *res = NULL;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  if (getaddrinfo("localhost", "6379", &hints, &res) == 0) { /* off-thread */
    printf("getaddrinfo(\"localhost\") answered while the others waited\n");
    freeaddrinfo(res);
  }
}

static void ticker(void *arg) {
  (void)arg;
  double last = now_ms();
  while (blpops_done < 10) {
    dyco_coroutine_sleep(10);
    double t = now_ms();
    if (t - last > longest_gap_ms) {
      longest_gap_ms = t - last;
    }
    last = t;
    ticks++;
  }
}

static pid_t start_redis(void) {
  for (port = 20000 + getpid() % 20000;; port++) {
    pid_t pid = fork();
    if (pid == 0) {
      char p[16];
      snprintf(p, sizeof p, "%d", port);
      if (freopen("/dev/null", "w", stdout) == NULL) {
        _exit(127);
      }
      execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", (char *)NULL);
      _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* until it answers */
      redisContext *c = redisConnect("127.0.0.1", port);
      int up = c != NULL && !c->err;
      redisFree(c);
      if (up) {
        return pid;
      }
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        break; /* port taken: next */
      }
      usleep(20000);
    }
  }
}

int main(void) {
  pid_t redis = start_redis(); /* before any coroutine: plain blocking calls */
  double start = now_ms();
  for (long i = 0; i < 10; i++) {
    dyco_coroutine_create(blpop, (void *)i);
  }
  for (long i = 0; i < 10; i++) {
    dyco_coroutine_create(setget, (void *)i);
  }
  dyco_coroutine_create(resolve, NULL);
  dyco_coroutine_create(ticker, NULL);
  dyco_schedule_run();
  double total = now_ms() - start;
  kill(redis, SIGTERM);
  waitpid(redis, NULL, 0);
  printf("10 BLPOPs of 300 ms done in %.0f ms in all (not 3000)\n", total);
  printf(
      "%d of 10 SET/GET pairs got their own value; ticker ticked %d times, "
      "longest gap %.0f ms\n",
      setgets_ok, ticks, longest_gap_ms);
  return blpops_done == 10 && setgets_ok == 10 && total < 2000 ? 0 : 1;
}
