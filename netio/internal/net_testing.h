// dyco — netio layer, tests only: loopback sockets and small helpers shared
// by netio's tests.
#ifndef DYCO_NETIO_INTERNAL_NET_TESTING_H_
#define DYCO_NETIO_INTERNAL_NET_TESTING_H_

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tools/testing/fixture.h"

namespace dyco_test {

// A coroutine that ticks every ms_per_tick until stopped, remembering the
// longest gap between two ticks: how long the scheduler was held up. Lives
// in the test's frame (not a coroutine's: those share one stack).
struct Ticker {
  int ticks = 0;
  double longest_gap_ms = 0;
  bool stop = false;
  void Start(uint32_t ms_per_tick = 2) {
    Go([this, ms_per_tick] {
      double last = NowMs();
      while (!stop) {
        dyco_coroutine_sleep(ms_per_tick);
        double now = NowMs();
        longest_gap_ms = std::max(longest_gap_ms, now - last);
        last = now;
        ++ticks;
      }
    });
  }
};

// 127.0.0.1:port.
inline sockaddr_in Loopback(int port) {
  sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// The port a bound socket has.
inline int PortOf(int fd) {
  sockaddr_in a;
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
    return -1;
  }
  return ntohs(a.sin_port);
}

// Binds fd (a TCP socket) to 127.0.0.1 on a free port and listens; returns
// the port, or -1.
inline int BindAndListen(int fd, int backlog = 1024) {
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(fd, backlog) != 0) {
    return -1;
  }
  return PortOf(fd);
}

// A port nothing listens on (bound, then closed at once).
inline int ClosedPort() {
  int fd = static_cast<int>(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a = Loopback(0);
  bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
  int port = PortOf(fd);
  ::close(fd);
  return port;
}

// A pattern of n bytes that differs for every seed and offset.
inline std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  unsigned x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}

// Whether fd is open.
inline bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

// How many fds the process has open (the entries of /proc/self/fd, less
// the one that reads it).
inline int FdCount() {
  DIR *d = opendir("/proc/self/fd");
  if (d == nullptr) {
    return -1;
  }
  int n = 0;
  while (readdir(d) != nullptr) {
    n++;
  }
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own fd
}

// Time limits scale with the machine: emulators and sanitizers are slow.
inline double Scaled(double ms) { return Slow() ? ms * 5 : ms; }

}  // namespace dyco_test

#endif  // DYCO_NETIO_INTERNAL_NET_TESTING_H_
