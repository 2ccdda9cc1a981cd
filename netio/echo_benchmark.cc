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
#include "tools/testing/bench.h"
#include "tools/testing/echo_workload.h"

extern "C" {
#include "netio/hook.h"
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
}

namespace {

using dyco_echo::kEpoll;
using dyco_echo::kExplicit;
using dyco_echo::kHook;
using dyco_echo::kThreads;
using dyco_echo::Variant;

constexpr int kConnections = 1000;
constexpr int kBatch = 50000;  // echoes per benchmark iteration

void Echo(benchmark::State &state, Variant v) {
  const size_t size = static_cast<size_t>(state.range(0));
  dyco_echo::Session session(v, kConnections, size);
  double cpu = 0;
  for (auto _ : state) {
    cpu += session.Run(kBatch).server_cpu_us;
  }
  state.counters["server_cpu_us"] =
      cpu / static_cast<double>(state.iterations());
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
  dyco_echo::Session session(v, kConnections, size);
  dyco_echo::Result r = session.Run(n);
  printf("%s: %ld echoes of %zu bytes, %.0f/s; server thread %d\n",
         dyco_echo::VariantName(v), n, size, r.requests_per_s,
         static_cast<int>(session.ServerThread()));
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  dyco_echo::RaiseFdLimit();
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--fixed=", 8) == 0) {
      return FixedRun(argv[i] + 8);
    }
  }
  dyco_bench::InitializeInterleaved(&argc, argv);
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
