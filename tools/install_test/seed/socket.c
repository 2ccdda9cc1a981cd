/* dyco — seed-style test: a socket echo server and its clients, in one
 * program. The server uses the dyco_socket family (dyco_socket,
 * dyco_accept, dyco_recv, dyco_send, dyco_close); three clients use the
 * plain libc calls, which the hooks make yield. Each client sends three
 * lines and gets each back. */
#include <arpa/inet.h>

#include "dyco/dyco_coroutine.h"

static unsigned short port;
static int echoed;
static int served;

static void server_reader(void *arg) {
  int fd = *(int *)arg;
  free(arg);
  char buf[1024];
  for (;;) {
    ssize_t ret = dyco_recv(fd, buf, sizeof buf, 0);
    if (ret <= 0) {
      break;
    }
    DYCO_MUST(dyco_send(fd, buf, (size_t)ret, 0) == ret);
  }
  dyco_close(fd);
  served++;
}

static void server(void *arg) {
  (void)arg;
  int fd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  assert(fd > 0);
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof local;
  DYCO_MUST(bind(fd, (struct sockaddr *)&local, sizeof local) == 0);
  DYCO_MUST(listen(fd, 20) == 0);
  DYCO_MUST(getsockname(fd, (struct sockaddr *)&local, &len) == 0);
  port = ntohs(local.sin_port);
  printf("listen port : %d\n", port);
  for (int i = 0; i < 3; i++) {
    struct sockaddr_in remote;
    len = sizeof remote;
    int cli_fd = dyco_accept(fd, (struct sockaddr *)&remote, &len);
    DYCO_MUST(cli_fd >= 0);
    int *client = malloc(sizeof(int));
    *client = cli_fd;
    dyco_coroutine_create(server_reader, client);
  }
  dyco_close(fd);
}

static void client(void *arg) {
  int id = *(int *)arg;
  while (port == 0) {
    dyco_coroutine_sleep(1);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = inet_addr("127.0.0.1");
  DYCO_MUST(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  for (int i = 0; i < 3; i++) {
    char msg[64], buf[64];
    int len = snprintf(msg, sizeof msg, "Hello %d.%d. I'm TCP Client.", id, i);
    DYCO_MUST(send(fd, msg, (size_t)len, 0) == len);
    int got = 0;
    while (got < len) {
      ssize_t r = recv(fd, buf + got, sizeof buf - (size_t)got, 0);
      DYCO_MUST(r > 0);
      got += (int)r;
    }
    DYCO_MUST(got == len && memcmp(buf, msg, (size_t)len) == 0);
    printf("echo recv length : %d\n", got);
    echoed++;
    dyco_coroutine_sleep(5);
  }
  close(fd);
}

int main(void) {
  int ids[3] = {0, 1, 2};
  dyco_coroutine_create(server, NULL);
  for (int i = 0; i < 3; i++) {
    dyco_coroutine_create(client, ids + i);
  }
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  DYCO_MUST(echoed == 9 && served == 3);
  printf("socket: passed\n");
  return 0;
}
