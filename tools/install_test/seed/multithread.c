/* dyco — seed-style test: one scheduler per thread, one port each. Two
 * threads, pinned where they may run, each serve an echo port from a
 * coroutine on a stack of the thread's own and run two clients of it; the
 * schedulers have different ids. */
/* The seed's header first, as in the seed's example: it then defines
 * _GNU_SOURCE before any system header, for cpu_set_t and
 * pthread_setaffinity_np. */
/* clang-format off */
#include "dyco/dyco_coroutine.h"
#include <arpa/inet.h>
/* clang-format on */

struct thread_arg {
  pthread_t tid;
  unsigned short port;
  int sched_id;
  int echoed;
  int served;
};

static void server_reader(void *arg) {
  int fd = (int)(long)arg;
  char buf[256];
  ssize_t r;
  while ((r = dyco_recv(fd, buf, sizeof buf, 0)) > 0) {
    dyco_send(fd, buf, (size_t)r, 0);
  }
  dyco_close(fd);
}

static void server(void *arg) {
  struct thread_arg *args = arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert(fd > 0);
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof local;
  DYCO_MUST(bind(fd, (struct sockaddr *)&local, sizeof local) == 0);
  listen(fd, 100);
  getsockname(fd, (struct sockaddr *)&local, &len);
  args->port = ntohs(local.sin_port);
  printf("[thread %lu] listen port : %d\n", (unsigned long)pthread_self(),
         args->port);
  for (int i = 0; i < 2; i++) {
    int cli_fd = dyco_accept(fd, NULL, NULL);
    DYCO_MUST(cli_fd >= 0);
    dyco_coroutine_create(server_reader, (void *)(long)cli_fd);
    args->served++;
  }
  dyco_close(fd);
}

static void client(void *arg) {
  struct thread_arg *args = arg;
  while (args->port == 0) {
    dyco_coroutine_sleep(1);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(args->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  DYCO_MUST(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  char buf[64];
  DYCO_MUST(send(fd, "ping", 4, 0) == 4);
  DYCO_MUST(recv(fd, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0);
  args->echoed++;
  close(fd);
}

static void *tfunc(void *arg) {
  struct thread_arg *args = arg;
  /* The seed's multithread example pinned its threads: the GNU calls its
   * header made available. */
  cpu_set_t cpuset;
  CPU_ZERO(&cpuset);
  DYCO_MUST(pthread_getaffinity_np(pthread_self(), sizeof cpuset, &cpuset) ==
            0);
  DYCO_MUST(pthread_setaffinity_np(pthread_self(), sizeof cpuset, &cpuset) ==
            0);
  int cid = dyco_coroutine_create(server, args);
  char stack[16384];
  DYCO_MUST(dyco_coroutine_setStack(cid, stack, sizeof stack) == 1);
  dyco_coroutine_create(client, args);
  dyco_coroutine_create(client, args);
  args->sched_id = dyco_schedule_schedID();
  DYCO_MUST(dyco_schedule_run() == 0);
  return NULL;
}

int main(void) {
  struct thread_arg args[2];
  memset(args, 0, sizeof args);
  for (int i = 0; i < 2; i++) {
    DYCO_MUST(pthread_create(&args[i].tid, NULL, tfunc, &args[i]) == 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(args[i].tid, NULL);
  }
  for (int i = 0; i < 2; i++) {
    DYCO_MUST(args[i].echoed == 2 && args[i].served == 2);
    DYCO_MUST(args[i].sched_id > 0);
  }
  DYCO_MUST(args[0].sched_id != args[1].sched_id);
  DYCO_MUST(args[0].port != args[1].port);
  printf("multithread: passed\n");
  return 0;
}
