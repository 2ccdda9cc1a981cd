// dyco — netio layer benchmark: loopback echo, 1,000 connections, one
// server thread, four servers side by side: dyco through the libc hooks
// (blocking-style code), dyco's explicit API, a hand-written edge-triggered
// epoll loop, and a thread per connection. One client thread drives them
// all the same way (its own epoll loop, one request in flight per
// connection). The server runs on CPU 0, the client on CPU 1.
//
//   echo_benchmark                      the table (google benchmark flags ok)
//   echo_benchmark --fixed=VARIANT:SIZE:N
//       one fixed run of N echoes (VARIANT hook|explicit|epoll|threads),
//       printing the server thread's id, for strace -ff.
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
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "context/internal/bench.h"

extern "C" {
#include "netio/hook.h"
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
}

namespace {

constexpr int kConnections = 1000;
constexpr int kBatch = 50000;  // echoes per benchmark iteration
constexpr size_t kServerBuffer = 16384;
constexpr size_t kCoroutineStack = 64 * 1024;

enum Variant { kHook, kExplicit, kEpoll, kThreads };

const char *VariantName(Variant v) {
  switch (v) {
    case kHook:
      return "hook";
    case kExplicit:
      return "explicit";
    case kEpoll:
      return "epoll";
    case kThreads:
      return "threads";
  }
  return "?";
}

void Die(const char *what) {
  perror(what);
  abort();
}

// The server gets CPU 0, the client CPU 1 (threads the server starts
// inherit its CPU): every server, however many threads it has, runs on one
// core. Nothing is pinned on a machine with one CPU.
void PinTo(int cpu) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// --- The servers
// --------------------------------------------------------------

struct Server {
  int listener = -1;
  int port = 0;
  std::thread thread;
  pid_t tid = 0;
};

// dyco, blocking-style code: what a user writes with the hooks linked.
void HookConnection(void *arg) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  char buf[kServerBuffer];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    if (send(fd, buf, static_cast<size_t>(n), 0) != n) {
      break;
    }
  }
  close(fd);
}

void HookAccept(void *arg) {
  const int listener = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  for (int i = 0; i < kConnections; ++i) {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) {
      Die("accept");
    }
    NoDelay(c);
    int cid = dyco_coroutine_create(HookConnection,
                                    reinterpret_cast<void *>(intptr_t{c}));
    dyco_coroutine_setStack(cid, nullptr, kCoroutineStack);
  }
}

// dyco's explicit API.
void ExplicitConnection(void *arg) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  char buf[kServerBuffer];
  ssize_t n;
  while ((n = dyco_recv(fd, buf, sizeof buf, 0)) > 0) {
    if (dyco_send(fd, buf, static_cast<size_t>(n), 0) != n) {
      break;
    }
  }
  dyco_close(fd);
}

void ExplicitAccept(void *arg) {
  const int listener = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  for (int i = 0; i < kConnections; ++i) {
    int c = dyco_accept(listener, nullptr, nullptr);
    if (c < 0) {
      Die("dyco_accept");
    }
    NoDelay(c);
    int cid = dyco_coroutine_create(ExplicitConnection,
                                    reinterpret_cast<void *>(intptr_t{c}));
    dyco_coroutine_setStack(cid, nullptr, kCoroutineStack);
  }
}

void RunDyco(Server *s, Variant v) {
  int cid =
      dyco_coroutine_create(v == kHook ? HookAccept : ExplicitAccept,
                            reinterpret_cast<void *>(intptr_t{s->listener}));
  dyco_coroutine_setStack(cid, nullptr, kCoroutineStack);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
}

// A hand-written edge-triggered epoll loop, the way the epoll(7) manual
// says: every fd registered once (EPOLLIN | EPOLLOUT | EPOLLET), read until
// EAGAIN, what cannot be written at once kept until EPOLLOUT.
struct EpollConn {
  int fd;
  std::string pending;
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

void RunEpoll(Server *s) {
  int ep = epoll_create1(0);
  fcntl(s->listener, F_SETFL, O_NONBLOCK);
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, s->listener, &ev);
  int accepted = 0, open = 0;
  std::vector<epoll_event> events(1024);
  char buf[kServerBuffer];
  while (accepted < kConnections || open > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      EpollConn *c = static_cast<EpollConn *>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(s->listener, nullptr, nullptr, SOCK_NONBLOCK)) >=
               0) {
          NoDelay(fd);
          EpollConn *nc = new EpollConn{fd, {}};
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
        for (;;) {
          ssize_t r = read(c->fd, buf, sizeof buf);
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
  for (int i = 0; i < kConnections; ++i) {
    int c = accept(s->listener, nullptr, nullptr);
    if (c < 0) {
      Die("accept");
    }
    NoDelay(c);
    pthread_t t;
    int err = pthread_create(
        &t, &attr,
        [](void *arg) -> void * {
          const int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
          char buf[kServerBuffer];
          ssize_t n;
          while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
            if (send(fd, buf, static_cast<size_t>(n), 0) != n) {
              break;
            }
          }
          close(fd);
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

void StartServer(Server *s, Variant v) {
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
        RunEpoll(s);
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

  void Connect(int port, size_t message_size) {
    PinTo(1);
    size = message_size;
    msg = std::string(size, 'x');
    buf.resize(size);
    ep = epoll_create1(0);
    conns.resize(kConnections);
    for (int i = 0; i < kConnections; ++i) {
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

void Echo(benchmark::State &state, Variant v) {
  const size_t size = static_cast<size_t>(state.range(0));
  Server s;
  StartServer(&s, v);
  Client c;
  c.Connect(s.port, size);
  c.Run(kConnections);  // warm up: every connection served once
  // The client is this thread; every other thread's CPU time is the
  // server's (the kernel's loopback work included).
  const double process0 = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const double client0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  for (auto _ : state) {
    c.Run(kBatch);
  }
  const double server = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process0 -
                        (CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - client0);
  state.counters["server_cpu_us"] =
      server * 1e6 / (static_cast<double>(state.iterations()) * kBatch);
  c.Close();
  s.thread.join();
  dyco_bench::OpsPerIteration(state, kBatch);
  state.counters["requests_per_s"] =
      benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_EchoHook(benchmark::State &state) { Echo(state, kHook); }
void BM_EchoExplicit(benchmark::State &state) { Echo(state, kExplicit); }
void BM_EchoEpoll(benchmark::State &state) { Echo(state, kEpoll); }
void BM_EchoThreads(benchmark::State &state) { Echo(state, kThreads); }

constexpr int kReps = 7;
#define DYCO_ECHO(fn)              \
  BENCHMARK(fn)                    \
      ->Arg(64)                    \
      ->Arg(4096)                  \
      ->Iterations(2)              \
      ->Repetitions(kReps)         \
      ->ReportAggregatesOnly(true) \
      ->UseRealTime()              \
      ->Unit(benchmark::kMillisecond)
DYCO_ECHO(BM_EchoHook);
DYCO_ECHO(BM_EchoExplicit);
DYCO_ECHO(BM_EchoEpoll);
DYCO_ECHO(BM_EchoThreads);

int FixedRun(const char *spec) {
  char name[32];
  size_t size;
  long n;
  if (sscanf(spec, "%31[a-z]:%zu:%ld", name, &size, &n) != 3) {
    fprintf(stderr, "--fixed=VARIANT:SIZE:N\n");
    return 2;
  }
  Variant v;
  if (strcmp(name, "hook") == 0) {
    v = kHook;
  } else if (strcmp(name, "explicit") == 0) {
    v = kExplicit;
  } else if (strcmp(name, "epoll") == 0) {
    v = kEpoll;
  } else if (strcmp(name, "threads") == 0) {
    v = kThreads;
  } else {
    fprintf(stderr, "unknown variant %s\n", name);
    return 2;
  }
  Server s;
  StartServer(&s, v);
  Client c;
  c.Connect(s.port, size);
  c.Run(kConnections);
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  c.Run(n);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  c.Close();
  s.thread.join();
  const double secs = static_cast<double>(t1.tv_sec - t0.tv_sec) +
                      (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%s: %ld echoes of %zu bytes, %.0f/s; server thread %d\n",
         VariantName(v), n, size, static_cast<double>(n) / secs,
         static_cast<int>(s.tid));
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  // Two sockets per connection, and the threads variant's threads.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--fixed=", 8) == 0) {
      return FixedRun(argv[i] + 8);
    }
  }
  // The machine is shared: interleave the runs of the variants so that
  // noise spreads over all of them, unless told otherwise.
  std::vector<char *> args(argv, argv + argc);
  bool interleave_given = false;
  for (char *a : args) {
    interleave_given |=
        strncmp(a, "--benchmark_enable_random_interleaving", 38) == 0;
  }
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!interleave_given) {
    args.push_back(interleave);
  }
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  printf(
      "\nloopback echo, %d connections, one server thread; client: one "
      "thread, one epoll loop (medians)\n",
      kConnections);
  printf("  %-34s %11s %11s %11s %11s\n", "server", "64 B", "4 KiB", "64 B",
         "4 KiB");
  printf("  %-34s %11s %11s %11s %11s\n", "", "req/s", "req/s", "srv us/req",
         "srv us/req");
  struct Row {
    const char *bench;
    const char *label;
  } rows[] = {
      {"BM_EchoHook", "dyco, libc hooks (blocking style)"},
      {"BM_EchoExplicit", "dyco, dyco_recv/dyco_send"},
      {"BM_EchoEpoll", "hand-written edge-triggered epoll"},
      {"BM_EchoThreads", "thread per connection"},
  };
  auto name = [](const char *bench, int size) {
    return std::string(bench) + "/" + std::to_string(size) + "/real_time";
  };
  auto rps = [&](const char *bench, int size) {
    const double ns = recorder.NsPerOp(name(bench, size));
    return ns > 0 ? 1e9 / ns : 0.0;
  };
  auto cpu = [&](const char *bench, int size) {
    return recorder.Counter(name(bench, size), "server_cpu_us");
  };
  for (const Row &r : rows) {
    printf("  %-34s %11.0f %11.0f %11.2f %11.2f\n", r.label, rps(r.bench, 64),
           rps(r.bench, 4096), cpu(r.bench, 64), cpu(r.bench, 4096));
  }
  printf("\n  %-34s %11s %11s %11s %11s  %s\n", "dyco / epoll loop", "64 B",
         "4 KiB", "64 B", "4 KiB", "target");
  printf("  %-34s %11s %11s %11s %11s\n", "", "req/s", "req/s", "work/req",
         "work/req");
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  for (const Row &r : {rows[0], rows[1]}) {
    // work/req: how many requests dyco serves with the server CPU time the
    // epoll loop needs for one (the epoll loop's us/req over dyco's).
    printf("  %-34s %11.2f %11.2f %11.2f %11.2f  >= 1.00\n", r.label,
           ratio(rps(r.bench, 64), rps("BM_EchoEpoll", 64)),
           ratio(rps(r.bench, 4096), rps("BM_EchoEpoll", 4096)),
           ratio(cpu("BM_EchoEpoll", 64), cpu(r.bench, 64)),
           ratio(cpu("BM_EchoEpoll", 4096), cpu(r.bench, 4096)));
  }
  benchmark::Shutdown();
  return 0;
}
