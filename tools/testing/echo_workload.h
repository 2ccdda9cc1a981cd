// dyco — benchmarks and the demo only: the loopback echo workload, five
// servers on one server thread each and one client.
#ifndef DYCO_TOOLS_TESTING_ECHO_WORKLOAD_H_
#define DYCO_TOOLS_TESTING_ECHO_WORKLOAD_H_

#include <stddef.h>
#include <sys/types.h>

namespace dyco_echo {

// kEpollOwnBuffers: the epoll loop reading into a buffer per connection
// (blocking-style code has one on each coroutine's or thread's stack)
// instead of one buffer for all.
// kHookUring: kHook on a scheduler with the io_uring poller back end (or
// epoll where the kernel refuses io_uring: VariantLabel says which).
// kUringLoop: a hand-written io_uring loop (multishot accept and receives
// into provided buffers, sends through the ring), no dyco code; on a kernel
// without io_uring its process fails to start.
enum Variant {
  kHook,
  kExplicit,
  kEpoll,
  kThreads,
  kEpollOwnBuffers,
  kHookUring,
  kUringLoop
};

// "hook", "explicit", "epoll", "threads", "epoll_own", "hook_uring",
// "uring_loop".
const char *VariantName(Variant v);
// For tables: "dyco, blocking code + hooks", ...
const char *VariantLabel(Variant v);

struct Result {
  double requests_per_s;
  double server_cpu_us;  // server CPU time (its thread(s) and the kernel's
                         // work on their behalf) per request
};

// A server of one variant (pinned to CPU 0 when there are two): dyco's on
// a thread of this process, the baselines as a process of their own that
// links no dyco code. `connections` client connections are driven from the
// calling thread (pinned to CPU 1), one request of `size` bytes in flight
// on each.
class Session {
 public:
  Session(Variant v, int connections, size_t size);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // Runs `requests` echoes; all connections are idle before and after.
  Result Run(long requests);
  // The server thread's id (a baseline's process id), for strace -f -p.
  pid_t ServerThread() const;

 private:
  struct Impl;
  Impl *impl_;
};

// Two sockets per connection, and the threads variant's threads.
void RaiseFdLimit();

}  // namespace dyco_echo

#endif  // DYCO_TOOLS_TESTING_ECHO_WORKLOAD_H_
