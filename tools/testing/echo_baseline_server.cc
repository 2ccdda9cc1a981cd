// dyco — benchmarks and the demo only: the echo workload's baseline servers,
// a program of their own that links no dyco code (no hooks, no scheduler):
// a hand-written edge-triggered epoll loop (one buffer for all connections,
// or a buffer per connection) and a thread per connection, all on libc.
//
//   echo_baseline_server epoll|epoll_own|threads CONNECTIONS
//
// It listens on a free loopback port, prints the port on a line of its own,
// pins itself to CPU 0, serves CONNECTIONS connections and exits when all
// of them have closed.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tools/testing/loopback.h"

namespace {

using dyco_bench::EchoUntilClosed;
using dyco_bench::kEchoServerBuffer;
using dyco_bench::NoDelay;

void Die(const char *what) {
  perror(what);
  exit(1);
}

// The epoll loop the way the epoll(7) manual says, with the syscall policy
// of dyco's own path: every fd registered once (EPOLLIN | EPOLLOUT |
// EPOLLRDHUP | EPOLLET); a read that fills less than the buffer has taken
// all there was, so the loop does not read again to hear EAGAIN (the next
// bytes raise a new edge); what cannot be written at once waits for
// EPOLLOUT. With own_buffers each connection reads into a buffer of its
// own, as blocking-style code does (one on each coroutine's or thread's
// stack): that variant shows what a buffer per connection costs.
struct Conn {
  int fd;
  std::string pending;
  char *own;  // own_buffers: kEchoServerBuffer bytes
};

bool FlushPending(Conn *c) {
  while (!c->pending.empty()) {
    ssize_t w = write(c->fd, c->pending.data(), c->pending.size());
    if (w < 0) {
      return errno == EAGAIN;
    }
    c->pending.erase(0, static_cast<size_t>(w));
  }
  return true;
}

// Reads what fd has and echoes it; false when the connection is over.
bool Echo(Conn *c, char *buf) {
  for (;;) {
    ssize_t r = read(c->fd, buf, kEchoServerBuffer);
    if (r <= 0) {
      return r < 0 && errno == EAGAIN;  // 0: end of stream
    }
    if (!c->pending.empty()) {
      c->pending.append(buf, static_cast<size_t>(r));
    } else {
      ssize_t w = write(c->fd, buf, static_cast<size_t>(r));
      if (w < 0 && errno != EAGAIN) {
        return false;
      }
      if (w < r) {
        const size_t sent = w > 0 ? static_cast<size_t>(w) : 0;
        c->pending.assign(buf + sent, static_cast<size_t>(r) - sent);
      }
    }
    if (static_cast<size_t>(r) < kEchoServerBuffer) {
      return true;  // short read: drained, wait for the next edge
    }
  }
}

void RunEpoll(int listener, int connections, bool own_buffers) {
  int ep = epoll_create1(0);
  fcntl(listener, F_SETFL, O_NONBLOCK);
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  int accepted = 0, open = 0;
  std::vector<epoll_event> events(1024);
  static char shared[kEchoServerBuffer];
  while (accepted < connections || open > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      Conn *c = static_cast<Conn *>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          NoDelay(fd);
          Conn *nc = new Conn{
              fd, {}, own_buffers ? new char[kEchoServerBuffer] : nullptr};
          epoll_event cev = {};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = nc;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          ++accepted;
          ++open;
        }
        continue;
      }
      bool alive = true;
      if (events[i].events & EPOLLOUT) {
        alive = FlushPending(c);
      }
      if (alive && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        alive = Echo(c, own_buffers ? c->own : shared);
      }
      if (!alive) {
        close(c->fd);  // also leaves the epoll set
        delete[] c->own;
        delete c;
        --open;
      }
    }
  }
  close(ep);
}

void *ThreadBody(void *arg) {
  EchoUntilClosed<recv, send, close>(
      static_cast<int>(reinterpret_cast<intptr_t>(arg)));
  return nullptr;
}

// A thread per connection, plain blocking calls.
void RunThreads(int listener, int connections) {
  std::vector<pthread_t> threads;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < connections; ++i) {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) {
      Die("accept");
    }
    NoDelay(c);
    pthread_t t;
    int err = pthread_create(&t, &attr, ThreadBody,
                             reinterpret_cast<void *>(intptr_t{c}));
    if (err != 0) {
      errno = err;
      Die("pthread_create");
    }
    threads.push_back(t);
  }
  pthread_attr_destroy(&attr);
  for (pthread_t t : threads) {
    pthread_join(t, nullptr);
  }
}

}  // namespace

int main(int argc, char **argv) {
  const char *variant = argc == 3 ? argv[1] : "";
  const int connections = argc == 3 ? atoi(argv[2]) : 0;
  const bool epoll = strcmp(variant, "epoll") == 0;
  const bool epoll_own = strcmp(variant, "epoll_own") == 0;
  const bool threads = strcmp(variant, "threads") == 0;
  if (connections <= 0 || !(epoll || epoll_own || threads)) {
    fprintf(stderr,
            "usage: echo_baseline_server epoll|epoll_own|threads "
            "CONNECTIONS\n");
    return 2;
  }
  dyco_bench::RaiseFdLimit();
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(listener, 4096) != 0) {
    Die("bind/listen");
  }
  socklen_t len = sizeof a;
  getsockname(listener, reinterpret_cast<sockaddr *>(&a), &len);
  dyco_bench::PinTo(0);
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  if (threads) {
    RunThreads(listener, connections);
  } else {
    RunEpoll(listener, connections, epoll_own);
  }
  close(listener);
  return 0;
}
