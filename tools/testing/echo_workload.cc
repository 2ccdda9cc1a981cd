// dyco — benchmarks and the demo only: the loopback echo workload. Five
// servers (dyco through the hooks, dyco's explicit API, and three
// baselines that link no dyco code and run as a process of their own,
// tools/testing/echo_baseline_server.cc: a hand-written edge-triggered
// epoll loop reading into one buffer or into a buffer per connection, a
// thread per connection), and the client that drives them all alike.
#include "tools/testing/echo_workload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "netio/hook.h"
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/poller.h"
#include "sched/schedule.h"
}
#include "tools/testing/loopback.h"

namespace dyco_echo {

namespace {

// The server gets CPU 0, the client CPU 1: every server, however many
// threads it has, runs on one core.
using dyco_bench::NoDelay;
using dyco_bench::PinTo;

constexpr size_t kCoroutineStack = 64 * 1024;

void Die(const char *what) {
  perror(what);
  abort();
}

// --- The servers
// --------------------------------------------------------------

// A dyco server runs on a thread of this process; a baseline server is a
// process of its own (child).
struct Server {
  int listener = -1;
  int port = 0;
  int connections = 0;
  std::thread thread;
  pid_t tid = 0;
  pid_t child = 0;
};

using dyco_bench::EchoUntilClosed;

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

// Makes this thread's scheduler with the poller back end v asks for. The
// choice is process-wide for the schedulers made while it holds: one thread
// at a time.
void MakeScheduler(Variant v) {
  static std::mutex mu;
  std::lock_guard<std::mutex> g(mu);
  dyco_schedule_setPoller(v == kHookUring ? DYCO_POLLER_URING
                                          : DYCO_POLLER_EPOLL);
  dyco_schedule_getPoller();  // makes the scheduler
  dyco_schedule_setPoller(DYCO_POLLER_DEFAULT);
}

void RunDyco(Server *s, Variant v) {
  MakeScheduler(v);
  int cid = dyco_coroutine_create(
      v != kExplicit ? AcceptLoop<accept, HookConnection>
                     : AcceptLoop<dyco_accept, ExplicitConnection>,
      s);
  dyco_coroutine_setStack(cid, nullptr, kCoroutineStack);
  dyco_schedule_run();
  dyco_schedule_free(dyco_schedule_self());
}

// The baseline servers' program (tools/testing:echo_baseline_server), in
// the runfiles of the benchmark or demo that runs this workload.
std::string BaselineServerPath() {
  const char *rel = "dyco/tools/testing/echo_baseline_server";
  std::vector<std::string> dirs;
  if (const char *d = getenv("RUNFILES_DIR")) {
    dirs.push_back(d);
  }
  if (const char *d = getenv("TEST_SRCDIR")) {
    dirs.push_back(d);
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    dirs.push_back(std::string(exe) + ".runfiles");
  }
  for (const std::string &d : dirs) {
    std::string p = d + "/" + rel;
    if (access(p.c_str(), X_OK) == 0) {
      return p;
    }
  }
  fprintf(stderr, "echo workload: %s not found in the runfiles\n", rel);
  abort();
}

// Starts a baseline server as a process of its own (it links no dyco code)
// and reads the port it listens on.
void StartBaseline(Server *s, Variant v, int connections) {
  const std::string path = BaselineServerPath();
  const std::string count = std::to_string(connections);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    Die("pipe2");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  char *argv[] = {const_cast<char *>(path.c_str()),
                  const_cast<char *>(VariantName(v)),
                  const_cast<char *>(count.c_str()), nullptr};
  int err = posix_spawn(&s->child, path.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (err != 0) {
    errno = err;
    Die("posix_spawn");
  }
  char line[32] = {};
  size_t got = 0;
  while (got < sizeof line - 1 && memchr(line, '\n', got) == nullptr) {
    ssize_t r = read(out[0], line + got, sizeof line - 1 - got);
    if (r <= 0) {
      Die("echo_baseline_server did not say its port");
    }
    got += static_cast<size_t>(r);
  }
  close(out[0]);
  s->port = atoi(line);
  s->tid = s->child;
}

void StartServer(Server *s, Variant v, int connections) {
  s->connections = connections;
  if (v != kHook && v != kExplicit && v != kHookUring) {
    StartBaseline(s, v, connections);
    return;
  }
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
    RunDyco(s, v);
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

// Whether a scheduler asked for io_uring gets it here (a kernel or a
// seccomp profile may refuse it; the cross builds have no liburing).
bool UringAvailable() {
  static const bool yes = [] {
    bool got = false;
    std::thread t([&got] {
      MakeScheduler(kHookUring);
      got = dyco_schedule_getPoller() == DYCO_POLLER_URING;
      dyco_schedule_free(dyco_schedule_self());
    });
    t.join();
    return got;
  }();
  return yes;
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
    case kHookUring:
      return "hook_uring";
    case kUringLoop:
      return "uring_loop";
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
    case kHookUring:
      return UringAvailable() ? "dyco, hooks + io_uring"
                              : "dyco, hooks + io_uring (epoll)";
    case kUringLoop:
      return "hand-written io_uring loop";
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
  if (impl_->server.child != 0) {
    int status;
    waitpid(impl_->server.child, &status, 0);
  } else {
    impl_->server.thread.join();
  }
  delete impl_;
}

Result Session::Run(long requests) {
  // A baseline server's CPU time is its process's. A dyco server runs in
  // this process, whose client is this thread: every other thread's CPU
  // time is the server's. Either way the kernel's loopback work done on
  // the server's behalf is included.
  clockid_t server_clock = CLOCK_PROCESS_CPUTIME_ID;
  const bool child = impl_->server.child != 0;
  if (child && clock_getcpuclockid(impl_->server.child, &server_clock) != 0) {
    Die("clock_getcpuclockid");
  }
  const double process0 = CpuSeconds(server_clock);
  const double client0 = child ? 0 : CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const double wall0 = CpuSeconds(CLOCK_MONOTONIC);
  impl_->client.Run(requests);
  const double wall = CpuSeconds(CLOCK_MONOTONIC) - wall0;
  const double server =
      CpuSeconds(server_clock) - process0 -
      (child ? 0 : CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - client0);
  Result r;
  r.requests_per_s = static_cast<double>(requests) / wall;
  r.server_cpu_us = server * 1e6 / static_cast<double>(requests);
  return r;
}

pid_t Session::ServerThread() const { return impl_->server.tid; }

void RaiseFdLimit() { dyco_bench::RaiseFdLimit(); }

}  // namespace dyco_echo
