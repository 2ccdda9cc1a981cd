/* dyco — install test: the peer the stand-in library talks to. Listens on
 * 127.0.0.1 (an ephemeral port, written to the file argv[2]), and answers
 * each connection's line after argv[1] ms, one thread per connection, until
 * killed. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long delay_ms;

static void *serve(void *arg) {
  int fd = (int)(long)arg;
  char buf[64];
  if (recv(fd, buf, sizeof buf, 0) > 0) {
    struct timespec d = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
    send(fd, "answer\n", 7, 0);
  }
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: peer DELAY_MS PORTFILE\n");
    return 2;
  }
  delay_ms = atol(argv[1]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(l, 64) != 0 || getsockname(l, (struct sockaddr *)&a, &len) != 0) {
    perror("peer");
    return 1;
  }
  /* The port file appears whole, once the socket listens. */
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
  FILE *f = fopen(tmp, "w");
  if (f == NULL || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 ||
      fclose(f) != 0 || rename(tmp, argv[2]) != 0) {
    perror("peer: port file");
    return 1;
  }
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) {
      continue;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(long)c) == 0) {
      pthread_detach(t);
    } else {
      close(c);
    }
  }
}
