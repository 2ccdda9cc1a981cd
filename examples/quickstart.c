/* dyco example: the README's quick start, kept compiling (a server that
 * runs until stopped, so it is built, not run, by the tests). */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dyco.h" /* deps: //:dyco and //netio:hook */

static dyco_chan *served; /* one int per finished connection */

static void session(void *arg) {
  int fd = (int)(long)arg, one = 1;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    send(fd, buf, (size_t)n, 0);
  }
  close(fd);
  dyco_chan_send(served, &one, -1);
}

static void listener(void *arg) {
  (void)arg;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7000)};
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  listen(lfd, 1024);
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    int cid = dyco_coroutine_create(session, (void *)(long)fd);
    /* Its own stack: session's 4 KiB buffer is not copied at each switch. */
    dyco_coroutine_setStack(cid, NULL, 64 * 1024);
  }
}

static void reporter(void *arg) {
  (void)arg;
  int one, total = 0;
  while (dyco_chan_recv(served, &one, -1) > 0) {
    printf("%d served\n", total += one);
  }
}

int main(void) {
  served = dyco_chan_create(sizeof(int), 64, 0);
  dyco_coroutine_create(listener, NULL);
  dyco_coroutine_create(reporter, NULL);
  return dyco_schedule_run();
}
