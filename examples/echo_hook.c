/* dyco example: the same echo server written as plain blocking code.
 * With //netio:hook linked, accept, recv, send and connect are the libc
 * ones: inside coroutines they yield instead of blocking, so one thread
 * serves every client at once. Code written for threads runs unchanged. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dyco.h"

#define CLIENTS 50
#define MESSAGES 20

static int port;
static int clients_ok;

static void serve(void *arg) {
  int fd = (int)(long)arg;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) { /* plain libc calls */
    if (send(fd, buf, (size_t)n, 0) != n) {
      break;
    }
  }
  close(fd);
}

static void listener(void *arg) {
  (void)arg;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  listen(lfd, 128);
  for (int i = 0; i < CLIENTS; i++) {
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
      dyco_coroutine_create(serve, (void *)(long)fd);
    }
  }
  close(lfd);
}

static void client(void *arg) {
  long id = (long)arg;
  while (port == 0) {
    dyco_coroutine_yield();
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    return;
  }
  int ok = 1;
  for (int m = 0; m < MESSAGES && ok; m++) {
    char out[64], in[64];
    int n = snprintf(out, sizeof out, "client %ld message %d", id, m);
    ok = send(fd, out, (size_t)n, 0) == n;
    int got = 0;
    while (ok && got < n) {
      ssize_t r = recv(fd, in + got, (size_t)(n - got), 0);
      ok = r > 0;
      got += ok ? (int)r : 0;
    }
    ok = ok && memcmp(in, out, (size_t)n) == 0;
  }
  close(fd);
  if (ok) {
    clients_ok++;
  }
}

int main(void) {
  dyco_coroutine_create(listener, NULL);
  for (long i = 0; i < CLIENTS; i++) {
    dyco_coroutine_create(client, (void *)i);
  }
  dyco_schedule_run();
  printf(
      "%d of %d clients got all %d echoes back in order, blocking code on one "
      "thread\n",
      clients_ok, CLIENTS, MESSAGES);
  return clients_ok == CLIENTS ? 0 : 1;
}
