/* dyco example: an echo server and its clients with dyco's explicit API.
 * One thread: a listening coroutine hands each connection to a coroutine
 * of its own; 50 client coroutines each send 20 messages and check every
 * byte comes back in order. dyco_accept, dyco_recv, dyco_send and
 * dyco_connect yield where the libc calls would block. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dyco.h"

#define CLIENTS 50
#define MESSAGES 20

static int port;
static int clients_ok;

static void serve(void *arg) {
  int fd = (int)(long)arg;
  char buf[4096];
  ssize_t n;
  while ((n = dyco_recv(fd, buf, sizeof buf, 0)) > 0) {
    if (dyco_send(fd, buf, (size_t)n, 0) != n) {
      break;
    }
  }
  dyco_close(fd);
}

static void listener(void *arg) {
  (void)arg;
  int lfd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  listen(lfd, 128);
  for (int i = 0; i < CLIENTS; i++) {
    int fd = dyco_accept(lfd, NULL, NULL);
    if (fd >= 0) {
      dyco_coroutine_create(serve, (void *)(long)fd);
    }
  }
  dyco_close(lfd);
}

static void client(void *arg) {
  long id = (long)arg;
  while (port == 0) {
    dyco_coroutine_yield();
  }
  int fd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (dyco_connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    return;
  }
  int ok = 1;
  for (int m = 0; m < MESSAGES && ok; m++) {
    char out[64], in[64];
    int n = snprintf(out, sizeof out, "client %ld message %d", id, m);
    ok = dyco_send(fd, out, (size_t)n, 0) == n;
    int got = 0;
    while (ok && got < n) {
      ssize_t r = dyco_recv(fd, in + got, (size_t)(n - got), 0);
      ok = r > 0;
      got += ok ? (int)r : 0;
    }
    ok = ok && memcmp(in, out, (size_t)n) == 0;
  }
  dyco_close(fd);
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
  printf("%d of %d clients got all %d echoes back in order, on one thread\n",
         clients_ok, CLIENTS, MESSAGES);
  return clients_ok == CLIENTS ? 0 : 1;
}
