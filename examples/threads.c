/* dyco example: one scheduler per thread, one port each.
 * Three threads each run their own scheduler and an echo server on a port
 * of their own; clients on the main thread's scheduler talk to all three.
 * A coroutine is also handed to each thread with dyco_schedule_spawn. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "dyco.h"

#define THREADS 3

static _Atomic int ports[THREADS];
static _Atomic(dyco_schedule *) scheds[THREADS];
static _Atomic int spawned_ran;
static int replies;

static void serve(void *arg) {
  int fd = (int)(long)arg;
  char buf[256];
  ssize_t n = dyco_recv(fd, buf, sizeof buf, 0);
  if (n > 0) {
    char out[300];
    int m = snprintf(out, sizeof out, "scheduler %d: %.*s",
                     dyco_schedule_schedID(), (int)n, buf);
    dyco_send(fd, out, (size_t)m, 0);
  }
  dyco_close(fd);
}

static void server(void *arg) {
  long t = (long)arg;
  int lfd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &len);
  listen(lfd, 16);
  ports[t] = ntohs(a.sin_port);
  int fd = dyco_accept(lfd, NULL, NULL);
  if (fd >= 0) {
    serve((void *)(long)fd);
  }
  dyco_close(lfd);
}

static void *thread_main(void *arg) {
  long t = (long)arg;
  dyco_coroutine_create(server, (void *)t);
  scheds[t] = dyco_schedule_self();
  dyco_schedule_run();
  return NULL;
}

static void handed_over(void *arg) {
  (void)arg;
  spawned_ran++;
}

static void client(void *arg) {
  long t = (long)arg;
  while (ports[t] == 0) {
    dyco_coroutine_sleep(1);
  }
  int fd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)ports[t])};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (dyco_connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
    dyco_send(fd, "hello", 5, 0);
    char buf[300];
    ssize_t n = dyco_recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = '\0';
      printf("thread %ld answered: %s\n", t, buf);
      replies++;
    }
  }
  dyco_close(fd);
}

int main(void) {
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; t++) {
    pthread_create(&th[t], NULL, thread_main, (void *)t);
  }
  for (long t = 0; t < THREADS; t++) {
    while (scheds[t] == NULL) {
    }
    dyco_schedule_spawn(scheds[t], handed_over, NULL);
    dyco_coroutine_create(client, (void *)t);
  }
  printf("main thread: scheduler %d\n", dyco_schedule_schedID());
  dyco_schedule_run();
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
  }
  printf("%d replies from %d threads; %d coroutines handed over ran\n", replies,
         THREADS, spawned_ran);
  return replies == THREADS && spawned_ran == THREADS ? 0 : 1;
}
