/* dyco — seed-style test: a network program mixing hiredis, DNS and a
 * timer, all in blocking style. It starts a redis-server on 127.0.0.1 (as
 * the seed's example talked to one); one coroutine runs hiredis's
 * synchronous API (the hooks make it yield), one resolves names with
 * gethostbyname and getaddrinfo, one counts timerfd ticks through
 * dyco_epoll_*. All three make progress together. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sys/timerfd.h>

#include "dyco/dyco_coroutine.h"

static int port;
static int redis_rounds;
static int dns_rounds;
static int ticks;
static int done;

static void redis(void *arg) {
  (void)arg;
  printf("[redis] I am coro %d.\n", dyco_coroutine_coroID());
  redisContext *c = NULL;
  for (int i = 0; i < 500; i++) { /* until the server answers */
    c = redisConnect("127.0.0.1", port);
    if (c != NULL && c->err == 0) {
      break;
    }
    redisFree(c);
    c = NULL;
    dyco_coroutine_sleep(10);
  }
  DYCO_MUST(c != NULL);
  redisReply *reply = redisCommand(c, "PING");
  assert(reply != NULL);
  printf("PING: %s\n", reply->str);
  freeReplyObject(reply);
  for (int i = 0; i < 200; i++) {
    reply = redisCommand(c, "SET Key Value%d", i);
    DYCO_MUST(reply != NULL && reply->type == REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    reply = redisCommand(c, "GET Key");
    char want[32];
    snprintf(want, sizeof want, "Value%d", i);
    DYCO_MUST(reply != NULL && reply->type == REDIS_REPLY_STRING &&
              strcmp(reply->str, want) == 0);
    freeReplyObject(reply);
    reply = redisCommand(c, "DEL Key");
    DYCO_MUST(reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
              reply->integer == 1);
    freeReplyObject(reply);
    redis_rounds++;
  }
  redisFree(c);
  done++;
}

static void dns(void *arg) {
  (void)arg;
  printf("[dns] I am coro %d.\n", dyco_coroutine_coroID());
  for (int i = 0; i < 10; i++) {
    struct hostent *h = gethostbyname("localhost");
    DYCO_MUST(h != NULL && h->h_length > 0);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    DYCO_MUST(getaddrinfo("localhost", "6379", &hints, &res) == 0);
    DYCO_MUST(res != NULL && res->ai_family == AF_INET);
    freeaddrinfo(res);
    dns_rounds++;
  }
  done++;
}

static void timer(void *arg) {
  (void)arg;
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec t = {{0, 2000000}, {0, 2000000}}; /* every 2 ms */
  timerfd_settime(tfd, 0, &t, NULL);
  struct epoll_event ev, events[3];
  ev.events = EPOLLIN | EPOLLERR | EPOLLHUP;
  ev.data.fd = tfd;
  DYCO_MUST(dyco_epoll_init() == 0);
  DYCO_MUST(dyco_epoll_add(tfd, &ev) == 0);
  while (done < 2) {
    int nevents = dyco_epoll_wait(events, 3, 100);
    for (int i = 0; i < nevents; i++) {
      uint64_t cnt;
      if (read(events[i].data.fd, &cnt, sizeof cnt) == sizeof cnt) {
        ticks++;
      }
    }
  }
  dyco_epoll_del(tfd, NULL);
  dyco_epoll_destroy();
  close(tfd);
}

/* A port nobody listens on now, for the server. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  port = free_port();
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  pid_t server = fork();
  if (server == 0) {
    execl("/usr/bin/redis-server", "redis-server", "--port", portstr, "--bind",
          "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
          "--loglevel", "warning", (char *)NULL);
    _exit(127);
  }
  DYCO_MUST(server > 0);
  dyco_coroutine_create(timer, NULL);
  dyco_coroutine_create(dns, NULL);
  dyco_coroutine_create(redis, NULL);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  kill(server, SIGTERM);
  int status;
  DYCO_MUST(dyco_signal_waitchild(server, &status, 3000) == server);
  DYCO_MUST(redis_rounds == 200 && dns_rounds == 10);
  DYCO_MUST(ticks >= 2);
  printf("network: passed (%d timer ticks meanwhile)\n", ticks);
  return 0;
}
