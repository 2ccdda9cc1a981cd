// dyco — benchmarks and the demo only: the loopback echo workload. Five
// servers (dyco through the hooks, dyco's explicit API, a hand-written
// edge-triggered epoll loop reading into one buffer or into a buffer per
// connection, a thread per connection), one server thread each, and the
// client that drives them all alike.
#include "tools/testing/echo_workload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "netio/hook.h"
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
}
#include "tools/testing/loopback.h"

namespace dyco_echo {

namespace {

// The server gets CPU 0, the client CPU 1: every server, however many
// threads it has, runs on one core.
using dyco_bench::NoDelay;
using dyco_bench::PinTo;

constexpr size_t kServerBuffer = 16384;
constexpr size_t kCoroutineStack = 64 * 1024;

void Die(const char *what) {
  perror(what);
  abort();
}

// --- The servers
// --------------------------------------------------------------

struct Server {
  int listener = -1;
  int port = 0;
  int connections = 0;
  std::thread thread;
  pid_t tid = 0;
};

// One connection's echo, written as blocking code. With libc's calls it is
// what a user writes with the hooks linked (and the thread-per-connection
// server's thread body); with dyco_recv/dyco_send/dyco_close it uses dyco's
// explicit API. The calls are template arguments, so each instance calls
// them directly.
template <ssize_t (*Recv)(int, void *, size_t, int),
          ssize_t (*Send)(int, const void *, size_t, int), int (*Close)(int)>
void EchoUntilClosed(int fd) {
  char buf[kServerBuffer];
  ssize_t n;
  while ((n = Recv(fd, buf, sizeof buf, 0)) > 0) {
    if (Send(fd, buf, static_cast<size_t>(n), 0) != n) {
      break;
    }
  }
  Close(fd);
}

void HookConnection(void *arg) {
  EchoUntilClosed<recv, send, close>(
      static_cast<int>(reinterpret_cast<intptr_t>(arg)));
}

void ExplicitConnection(void *arg) {
  EchoUntilClosed<dyco_recv, dyco_send, dyco_close>(
      static_cast<int>(reinterpret_cast<intptr_t>(arg)));
}

// Accepts s->connections clients, each served by a coroutine running
// Connection on a private stack.
template <int (*Accept)(int, sockaddr *, socklen_t *),
          void (*Connection)(void *)>
void AcceptLoop(void *arg) {
  Server *s = static_cast<Server *>(arg);
  for (int i = 0; i < s->connections; ++i) {
    int c = Accept(s->listener, nullptr, nullptr);
    if (c < 0) {
      Die("accept");
    }
    NoDelay(c);
    int cid = dyco_coroutine_create(Connection,
                                    reinterpret_cast<void *>(intptr_t{c}));
    dyco_coroutine_setStack(cid, nullptr, kCoroutineStack);
  }
}

void RunDyco(Server *s, Variant v) {
  int cid = dyco_coroutine_create(
      v == kHook ? AcceptLoop<accept, HookConnection>
                 : AcceptLoop<dyco_accept, ExplicitConnection>,
      s);
  dyco_coroutine_setStack(cid, nullptr, kCoroutineStack);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
}

// A hand-written edge-triggered epoll loop, the way the epoll(7) manual
// says: every fd registered once (EPOLLIN | EPOLLOUT | EPOLLET), read until
// EAGAIN, what cannot be written at once kept until EPOLLOUT. It reads into
// one buffer for all connections, or (own_buffers) into each connection's
// own, as blocking-style code does: that one shows what a buffer per
// connection costs, apart from how the connections are served.
struct EpollConn {
  int fd;
  std::string pending;
  char *own;  // own_buffers: kServerBuffer bytes
};

bool FlushPending(EpollConn *c) {
  while (!c->pending.empty()) {
    ssize_t w = write(c->fd, c->pending.data(), c->pending.size());
    if (w < 0) {
      return errno == EAGAIN;
    }
    c->pending.erase(0, static_cast<size_t>(w));
  }
  return true;
}

void RunEpoll(Server *s, bool own_buffers) {
  int ep = epoll_create1(0);
  fcntl(s->listener, F_SETFL, O_NONBLOCK);
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, s->listener, &ev);
  int accepted = 0, open = 0;
  std::vector<epoll_event> events(1024);
  char shared[kServerBuffer];
  while (accepted < s->connections || open > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      EpollConn *c = static_cast<EpollConn *>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(s->listener, nullptr, nullptr, SOCK_NONBLOCK)) >=
               0) {
          NoDelay(fd);
          EpollConn *nc = new EpollConn{
              fd, {}, own_buffers ? new char[kServerBuffer] : nullptr};
          epoll_event cev = {};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          cev.data.ptr = nc;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          ++accepted;
          ++open;
        }
        continue;
      }
      char *buf = own_buffers ? c->own : shared;
      bool alive = true;
      if (events[i].events & EPOLLOUT) {
        alive = FlushPending(c);
      }
      if (alive && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        for (;;) {
          ssize_t r = read(c->fd, buf, kServerBuffer);
          if (r > 0) {
            if (!c->pending.empty()) {
              c->pending.append(buf, static_cast<size_t>(r));
              continue;
            }
            ssize_t w = write(c->fd, buf, static_cast<size_t>(r));
            if (w < 0 && errno != EAGAIN) {
              alive = false;
              break;
            }
            if (w < r) {
              c->pending.assign(buf + (w > 0 ? w : 0),
                                static_cast<size_t>(r - (w > 0 ? w : 0)));
            }
            continue;
          }
          if (r < 0 && errno == EAGAIN) {
            break;
          }
          alive = false;  // end of stream or error
          break;
        }
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

// A thread per connection, plain blocking calls.
void RunThreads(Server *s) {
  std::vector<pthread_t> threads;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < s->connections; ++i) {
    int c = accept(s->listener, nullptr, nullptr);
    if (c < 0) {
      Die("accept");
    }
    NoDelay(c);
    pthread_t t;
    int err = pthread_create(
        &t, &attr,
        [](void *arg) -> void * {
          EchoUntilClosed<recv, send, close>(
              static_cast<int>(reinterpret_cast<intptr_t>(arg)));
          return nullptr;
        },
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

void StartServer(Server *s, Variant v, int connections) {
  s->connections = connections;
  s->listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s->listener, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(s->listener, 4096) != 0) {
    Die("bind/listen");
  }
  socklen_t len = sizeof a;
  getsockname(s->listener, reinterpret_cast<sockaddr *>(&a), &len);
  s->port = ntohs(a.sin_port);
  s->thread = std::thread([s, v] {
    s->tid = static_cast<pid_t>(syscall(SYS_gettid));
    PinTo(0);
    switch (v) {
      case kHook:
      case kExplicit:
        RunDyco(s, v);
        break;
      case kEpoll:
      case kEpollOwnBuffers:
        RunEpoll(s, v == kEpollOwnBuffers);
        break;
      case kThreads:
        RunThreads(s);
        break;
    }
    close(s->listener);
  });
}

// --- The client ------------------------------------------------------------

struct ClientConn {
  int fd;
  size_t got;  // bytes of the current echo received
};

struct Client {
  int ep = -1;
  size_t size = 0;
  std::string msg;
  std::vector<ClientConn> conns;
  std::vector<char> buf;

  void Connect(int port, int connections, size_t message_size) {
    PinTo(1);
    size = message_size;
    msg = std::string(size, 'x');
    buf.resize(size);
    ep = epoll_create1(0);
    conns.resize(static_cast<size_t>(connections));
    for (int i = 0; i < connections; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = {};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        Die("connect");
      }
      NoDelay(fd);
      // Close with a reset: no TIME_WAIT piling up across runs.
      linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      fcntl(fd, F_SETFL, O_NONBLOCK);
      conns[i] = {fd, 0};
      epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  // Runs n echoes (one in flight per connection); all connections idle
  // before and after.
  void Run(long n) {
    long issued = 0, done = 0;
    for (auto &c : conns) {
      if (issued < n) {
        Send(c);
        ++issued;
      }
    }
    epoll_event events[1024];
    while (done < n) {
      int k = epoll_wait(ep, events, 1024, -1);
      for (int i = 0; i < k; ++i) {
        ClientConn &c = conns[events[i].data.u32];
        ssize_t r = read(c.fd, buf.data(), size - c.got);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) {
            continue;
          }
          Die("client read");
        }
        c.got += static_cast<size_t>(r);
        if (c.got == size) {
          c.got = 0;
          ++done;
          if (issued < n) {
            Send(c);
            ++issued;
          }
        }
      }
    }
  }

  void Send(ClientConn &c) {
    if (write(c.fd, msg.data(), size) != static_cast<ssize_t>(size)) {
      Die("client write");  // an idle socket takes a 4 KiB message whole
    }
  }

  void Close() {
    for (auto &c : conns) {
      close(c.fd);
    }
    close(ep);
  }
};

double CpuSeconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

}  // namespace

const char *VariantName(Variant v) {
  switch (v) {
    case kHook:
      return "hook";
    case kExplicit:
      return "explicit";
    case kEpoll:
      return "epoll";
    case kEpollOwnBuffers:
      return "epoll_own";
    case kThreads:
      return "threads";
  }
  return "?";
}

const char *VariantLabel(Variant v) {
  switch (v) {
    case kHook:
      return "dyco, blocking code + hooks";
    case kExplicit:
      return "dyco, explicit API";
    case kEpoll:
      return "hand-written epoll loop";
    case kEpollOwnBuffers:
      return "epoll loop, buffer per connection";
    case kThreads:
      return "thread per connection";
  }
  return "?";
}

struct Session::Impl {
  Server server;
  Client client;
};

Session::Session(Variant v, int connections, size_t size) : impl_(new Impl) {
  StartServer(&impl_->server, v, connections);
  impl_->client.Connect(impl_->server.port, connections, size);
  impl_->client.Run(connections);  // warm up: every connection served once
}

Session::~Session() {
  impl_->client.Close();
  impl_->server.thread.join();
  delete impl_;
}

Result Session::Run(long requests) {
  // The client is this thread; every other thread's CPU time is the
  // server's (the kernel's loopback work included).
  const double process0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const double client0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const double wall0 = CpuSeconds(CLOCK_MONOTONIC);
  impl_->client.Run(requests);
  const double wall = CpuSeconds(CLOCK_MONOTONIC) - wall0;
  const double server = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process0 -
                        (CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - client0);
  Result r;
  r.requests_per_s = static_cast<double>(requests) / wall;
  r.server_cpu_us = server * 1e6 / static_cast<double>(requests);
  return r;
}

pid_t Session::ServerThread() const { return impl_->server.tid; }

void RaiseFdLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace dyco_echo
