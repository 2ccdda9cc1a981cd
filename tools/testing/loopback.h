// dyco — benchmarks only: what the loopback benchmarks (netio's echo, tls)
// do to their threads and sockets so that every server is measured alike,
// and the echo workload's connection body. No dyco code: the baseline
// servers, which must share none, use it too.
#ifndef DYCO_TOOLS_TESTING_LOOPBACK_H_
#define DYCO_TOOLS_TESTING_LOOPBACK_H_

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace dyco_bench {

// Pins the calling thread to cpu (threads it starts later inherit it), so
// that a server and its client each have a core of their own. Nothing is
// pinned on a machine with one CPU.
inline void PinTo(int cpu) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Sends small messages at once instead of waiting to coalesce them (Nagle).
inline void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Raises the soft limit on open files to the hard one: a thousand
// connections take two fds each, and threads servers more.
inline void RaiseFdLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// The echo workload's server buffer: what one read may take.
constexpr size_t kEchoServerBuffer = 16384;

// One connection's echo, written as blocking code: what a user writes with
// dyco's hooks linked (Recv = recv...), with dyco's explicit API (dyco_recv
// ...), or for a thread per connection. The calls are template arguments,
// so each instance calls them directly.
template <ssize_t (*Recv)(int, void *, size_t, int),
          ssize_t (*Send)(int, const void *, size_t, int), int (*Close)(int)>
void EchoUntilClosed(int fd) {
  char buf[kEchoServerBuffer];
  ssize_t n;
  while ((n = Recv(fd, buf, sizeof buf, 0)) > 0) {
    if (Send(fd, buf, static_cast<size_t>(n), 0) != n) {
      break;
    }
  }
  Close(fd);
}

}  // namespace dyco_bench

#endif  // DYCO_TOOLS_TESTING_LOOPBACK_H_
