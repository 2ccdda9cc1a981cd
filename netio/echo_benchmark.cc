// dyco — netio layer benchmark: loopback echo, 1,000 connections, one
// server thread, seven servers side by side: dyco through the libc hooks
// (blocking-style code) on the epoll and on the io_uring back end, dyco's
// explicit API, a hand-written edge-triggered epoll loop with one buffer
// for all connections, the same loop with a buffer per connection (as
// blocking-style code has), a thread per connection, and a hand-written
// io_uring loop (multishot accept and receives into provided buffers, sends
// through the ring: the ceiling of an io_uring design). One client thread
// drives them all the same way (its own epoll loop, one request in flight per
// connection). The server runs on CPU 0, the client on CPU 1.
//
// The servers are up at once and take turns: each round runs a batch
// of echoes on every server, in a new random order each round, and the
// ratios to the epoll loops are taken within a round. A shared machine's
// noise comes and goes over seconds; a round takes about a second, so what
// it does to one server in a round it mostly does to the others too.
//
//   echo_benchmark [--rounds=N] [--batch=N] [--sizes=64,4096]
//       the table (defaults: 21 rounds of 20,000 echoes, 64 B and 4 KiB;
//       sizes up to 16 KiB)
//   echo_benchmark --fixed=VARIANT:SIZE:N
//       one run of N echoes on one server (VARIANT hook, explicit, epoll,
//       hook_uring, uring_loop, epoll_own or threads), printing the server
//       thread's id, for strace -ff.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tools/testing/echo_workload.h"
#include "tools/testing/figures.h"

namespace {

using dyco_echo::kEpoll;
using dyco_echo::kEpollOwnBuffers;
using dyco_echo::kExplicit;
using dyco_echo::kHook;
using dyco_echo::kHookUring;
using dyco_echo::kThreads;
using dyco_echo::kUringLoop;
using dyco_echo::Variant;

constexpr int kConnections = 1000;
constexpr Variant kVariants[] = {
    kHook,    kExplicit,  kEpoll,    kEpollOwnBuffers,
    kThreads, kHookUring, kUringLoop};
constexpr int kNumVariants = 7;
constexpr int kUring = 5;           // kHookUring's
constexpr int kUringByHand = 6;     // kUringLoop's
constexpr int kLoop = 2;            // kEpoll's index in kVariants
constexpr int kLoopOwnBuffers = 3;  // kEpollOwnBuffers's

struct Options {
  int rounds = 21;
  long batch = 20000;
  std::vector<size_t> sizes = {64, 4096};
};

// The q-quantile of xs (0 <= q <= 1), interpolated.
double Quantile(std::vector<double> xs, double q) {
  if (xs.empty()) {
    return 0;
  }
  std::sort(xs.begin(), xs.end());
  const double at = q * static_cast<double>(xs.size() - 1);
  const size_t lo = static_cast<size_t>(at);
  const size_t hi = std::min(lo + 1, xs.size() - 1);
  return xs[lo] + (xs[hi] - xs[lo]) * (at - static_cast<double>(lo));
}

struct Samples {
  std::vector<double> rps[kNumVariants];
  std::vector<double> cpu[kNumVariants];  // server CPU us per request
};

Samples Measure(size_t size, const Options &o, std::mt19937 *rng) {
  std::unique_ptr<dyco_echo::Session> sessions[kNumVariants];
  for (int v = 0; v < kNumVariants; ++v) {
    sessions[v].reset(new dyco_echo::Session(kVariants[v], kConnections, size));
  }
  int order[kNumVariants] = {0, 1, 2, 3, 4, 5, 6};
  Samples out;
  for (int r = -1; r < o.rounds; ++r) {  // round -1 warms up, unrecorded
    std::shuffle(order, order + kNumVariants, *rng);
    for (int v : order) {
      dyco_echo::Result x = sessions[v]->Run(o.batch);
      if (r >= 0) {
        out.rps[v].push_back(x.requests_per_s);
        out.cpu[v].push_back(x.server_cpu_us);
      }
    }
    fprintf(stderr, "\r%zu B: round %d/%d", size, r + 1, o.rounds);
  }
  fprintf(stderr, "\n");
  return out;
}

// Per round: v's requests/s over loop e's, and e's server CPU per request
// over v's (how many requests v serves with the CPU time e needs for one).
void Ratios(const Samples &s, int v, int e, std::vector<double> *rps,
            std::vector<double> *work) {
  for (size_t r = 0; r < s.rps[v].size(); ++r) {
    rps->push_back(s.rps[v][r] / s.rps[e][r]);
    work->push_back(s.cpu[e][r] / s.cpu[v][r]);
  }
}

int Table(const Options &o) {
  dyco_bench::PrintMachine("netio layer benchmark: loopback echo");
  std::mt19937 rng(std::random_device{}());
  std::vector<Samples> all;
  for (size_t size : o.sizes) {
    all.push_back(Measure(size, o, &rng));
  }
  printf(
      "\nloopback echo, %d connections, one server thread; client: one "
      "thread, one epoll loop\n%d rounds of %ld echoes per server, the "
      "servers in random order each round (medians over rounds)\n\n",
      kConnections, o.rounds, o.batch);
  const char *labels[kNumVariants] = {"dyco, libc hooks (blocking style)",
                                      "dyco, dyco_recv/dyco_send",
                                      "hand-written edge-triggered epoll",
                                      "  the same, buffer per connection",
                                      "thread per connection",
                                      "dyco, libc hooks, io_uring",
                                      "hand-written io_uring loop"};
  printf("  %-34s", "server");
  for (size_t size : o.sizes) {
    printf(" %7zu B req/s  srv us/req", size);
  }
  printf("\n");
  for (int v = 0; v < kNumVariants; ++v) {
    printf("  %-34s", labels[v]);
    for (const Samples &s : all) {
      printf(" %13.0f  %10.2f", Quantile(s.rps[v], 0.5),
             Quantile(s.cpu[v], 0.5));
    }
    printf("\n");
  }
  struct Block {
    const char *title;
    int base;
    std::vector<int> rows;
  } blocks[] = {
      {"against the epoll loop (one buffer): the target, >= 1.00 (io_uring: "
       ">= 1.15)",
       kLoop,
       {0, 1, kUring, kUringByHand, kLoopOwnBuffers}},
      {"against the epoll loop with a buffer per connection (the same "
       "memory as dyco's)",
       kLoopOwnBuffers,
       {0, 1}},
  };
  for (const Block &b : blocks) {
    printf("\n  %s\n  per round: median [25th-75th percentile]\n", b.title);
    printf("  %-34s", "");
    for (size_t size : o.sizes) {
      printf(" %7zu B req/s       work/req        ", size);
    }
    printf("\n");
    for (int v : b.rows) {
      printf("  %-34s", labels[v]);
      for (size_t i = 0; i < all.size(); ++i) {
        std::vector<double> rps, work;
        Ratios(all[i], v, b.base, &rps, &work);
        const double median = Quantile(rps, 0.5);
        printf(" %5.2f [%4.2f-%4.2f]  %5.2f [%4.2f-%4.2f]", median,
               Quantile(rps, 0.25), Quantile(rps, 0.75), Quantile(work, 0.5),
               Quantile(work, 0.25), Quantile(work, 0.75));
        if (b.base == kLoop && (v == 0 || v == 1 || v == kUring)) {
          const double target = v == kUring ? 1.15 : 1.0;
          char figure[128], spread[64];
          snprintf(figure, sizeof figure,
                   "echo %zu B, %d connections: %s / epoll loop (req/s)",
                   o.sizes[i], kConnections, labels[v]);
          snprintf(spread, sizeof spread, "IQR %.2f-%.2f", Quantile(rps, 0.25),
                   Quantile(rps, 0.75));
          dyco_bench::EmitFigure(
              "netio", figure, median, "x", spread, median, "epoll loop",
              v == kUring ? ">= 1.15" : ">= 1.00", median >= target);
        }
      }
      printf("\n");
    }
  }
  return 0;
}

int FixedRun(const char *spec) {
  char name[32];
  size_t size;
  long n;
  if (sscanf(spec, "%31[a-z_]:%zu:%ld", name, &size, &n) != 3 || n <= 0) {
    fprintf(stderr, "--fixed=VARIANT:SIZE:N\n");
    return 2;
  }
  int found = -1;
  for (int v = 0; v < kNumVariants; ++v) {
    if (strcmp(name, dyco_echo::VariantName(kVariants[v])) == 0) {
      found = v;
    }
  }
  if (found < 0) {
    fprintf(stderr,
            "unknown variant %s "
            "(hook|explicit|epoll|epoll_own|threads|hook_uring|uring_loop)\n",
            name);
    return 2;
  }
  const Variant v = kVariants[found];
  dyco_echo::Session session(v, kConnections, size);
  dyco_echo::Result r = session.Run(n);
  printf(
      "%s: %ld echoes of %zu bytes, %.0f/s, server CPU %.2f us/echo; server "
      "thread %d\n",
      dyco_echo::VariantName(v), n, size, r.requests_per_s, r.server_cpu_us,
      static_cast<int>(session.ServerThread()));
  return 0;
}

int Usage() {
  fprintf(stderr,
          "usage: echo_benchmark [--rounds=N] [--batch=N] "
          "[--sizes=64,4096]\n"
          "       echo_benchmark --fixed=VARIANT:SIZE:N\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  dyco_echo::RaiseFdLimit();
  Options o;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    char *end = nullptr;
    if (strncmp(a, "--fixed=", 8) == 0) {
      return FixedRun(a + 8);
    } else if (strncmp(a, "--rounds=", 9) == 0) {
      o.rounds = static_cast<int>(strtol(a + 9, &end, 10));
      if (*end != '\0' || o.rounds < 1) {
        return Usage();
      }
    } else if (strncmp(a, "--batch=", 8) == 0) {
      o.batch = strtol(a + 8, &end, 10);
      if (*end != '\0' || o.batch < 1) {
        return Usage();
      }
    } else if (strncmp(a, "--sizes=", 8) == 0) {
      o.sizes.clear();
      const char *p = a + 8;
      for (;;) {
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v == 0 || v > 16384) {
          return Usage();
        }
        o.sizes.push_back(v);
        if (*end == '\0') {
          break;
        }
        if (*end != ',') {
          return Usage();
        }
        p = end + 1;
      }
    } else {
      return Usage();
    }
  }
  return Table(o);
}
