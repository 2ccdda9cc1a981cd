// dyco — benchmarks only: what the loopback benchmarks (netio's echo, tls)
// do to their threads and sockets so that every server is measured alike.
#ifndef DYCO_TOOLS_TESTING_LOOPBACK_H_
#define DYCO_TOOLS_TESTING_LOOPBACK_H_

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
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

}  // namespace dyco_bench

#endif  // DYCO_TOOLS_TESTING_LOOPBACK_H_
