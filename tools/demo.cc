// dyco — the demo: the comparison dyco-coroutine only showed as pictures.
// The same loopback echo workload served by dyco (plain blocking code with
// the hooks, on the epoll and on the io_uring back end), a hand-written
// epoll loop and a thread per connection, and
// the cost of a context switch beside boost.context and swapcontext; a
// table with ratios, and the same as an SVG bar chart.
//
//   tools/bazel run -c opt //tools:demo -- [--connections=N] [--requests=N]
//       [--sizes=64,4096] [--runs=N] [--svg=FILE]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/detail/fcontext.hpp>
#include <string>
#include <vector>

#include "tools/testing/echo_workload.h"
#include "tools/testing/figures.h"

extern "C" {
#include "context/context.h"
}

namespace {

namespace bctx = boost::context::detail;

struct Options {
  int connections = 200;
  long requests = 60000;
  std::vector<size_t> sizes = {64, 4096};
  int runs = 3;
  std::string svg = "dyco_demo.svg";
};

bool Flag(const char *arg, const char *name, const char **value) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=') {
    return false;
  }
  *value = arg + n + 1;
  return true;
}

Options Parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const char *v;
    if (Flag(argv[i], "--connections", &v)) {
      o.connections = atoi(v);
    } else if (Flag(argv[i], "--requests", &v)) {
      o.requests = atol(v);
    } else if (Flag(argv[i], "--runs", &v)) {
      o.runs = atoi(v);
    } else if (Flag(argv[i], "--svg", &v)) {
      o.svg = v;
    } else if (Flag(argv[i], "--sizes", &v)) {
      o.sizes.clear();
      for (const char *p = v; *p != '\0';) {
        o.sizes.push_back(strtoul(p, const_cast<char **>(&p), 10));
        if (*p == ',') {
          ++p;
        }
      }
    } else {
      fprintf(stderr,
              "usage: demo [--connections=N] [--requests=N] [--sizes=64,4096] "
              "[--runs=N] [--svg=FILE]\n");
      exit(2);
    }
  }
  if (o.connections < 1 || o.requests < 1 || o.runs < 1 || o.sizes.empty()) {
    fprintf(stderr, "demo: every count must be at least 1\n");
    exit(2);
  }
  // `bazel run` starts us in our runfiles: a relative file is meant for
  // the directory the command was typed in.
  const char *cwd = getenv("BUILD_WORKING_DIRECTORY");
  if (o.svg[0] != '/' && cwd != nullptr) {
    o.svg = std::string(cwd) + "/" + o.svg;
  }
  return o;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// --- Context switches: ns per switch, two contexts ping-ponging
// ---------------

constexpr long kSwitches = 2000000;

dyco_context dmain, dctx;
void DycoBody(void *) {
  for (;;) {
    dyco_context_switch(&dctx, &dmain, nullptr);
  }
}
double DycoSwitch() {
  static std::vector<char> stack(64 * 1024);
  dyco_context_make(&dctx, stack.data(), stack.size(), DycoBody, nullptr);
  double t = NowNs();
  for (long i = 0; i < kSwitches / 2; ++i) {
    dyco_context_switch(&dmain, &dctx, nullptr);
  }
  return (NowNs() - t) / kSwitches;
}

void BoostBody(bctx::transfer_t t) {
  for (;;) {
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
}
double BoostSwitch() {
  static std::vector<char> stack(64 * 1024);
  bctx::fcontext_t c =
      bctx::make_fcontext(stack.data() + stack.size(), stack.size(), BoostBody);
  bctx::transfer_t t = bctx::jump_fcontext(c, nullptr);
  double start = NowNs();
  for (long i = 0; i < kSwitches / 2; ++i) {
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
  return (NowNs() - start) / kSwitches;
}

ucontext_t umain, uctx;
void SwapBody() {
  for (;;) {
    swapcontext(&uctx, &umain);
  }
}
double Swapcontext() {
  static std::vector<char> stack(64 * 1024);
  getcontext(&uctx);
  uctx.uc_stack.ss_sp = stack.data();
  uctx.uc_stack.ss_size = stack.size();
  uctx.uc_link = nullptr;
  makecontext(&uctx, SwapBody, 0);
  const long n = kSwitches / 100;  // a system call each: far slower
  double t = NowNs();
  for (long i = 0; i < n / 2; ++i) {
    swapcontext(&umain, &uctx);
  }
  return (NowNs() - t) / n;
}

// --- The table and the chart
// --------------------------------------------------------

struct Bar {
  std::string group;
  std::string label;
  double value;
  bool ours;
};

std::string Escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

// Horizontal bars, one block per group, each scaled to its group's largest.
void WriteSvg(const std::string &path, const std::string &title,
              const std::vector<Bar> &bars, const char *machine) {
  const int width = 900, left = 330, bar_h = 22, gap = 8;
  std::vector<std::string> groups;
  for (const Bar &b : bars) {
    if (std::find(groups.begin(), groups.end(), b.group) == groups.end()) {
      groups.push_back(b.group);
    }
  }
  int height = 70 + static_cast<int>(groups.size()) * 40 +
               static_cast<int>(bars.size()) * (bar_h + gap) + 30;
  FILE *f = fopen(path.c_str(), "w");
  if (f == nullptr) {
    fprintf(stderr, "demo: cannot write %s\n", path.c_str());
    return;
  }
  fprintf(
      f,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"sans-serif\" font-size=\"13\">\n",
      width, height);
  fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  fprintf(f,
          "<text x=\"20\" y=\"30\" font-size=\"18\" "
          "font-weight=\"bold\">%s</text>\n",
          Escape(title).c_str());
  fprintf(f, "<text x=\"20\" y=\"50\" fill=\"#555\">%s</text>\n",
          Escape(machine).c_str());
  int y = 70;
  for (const std::string &g : groups) {
    double top = 0;
    for (const Bar &b : bars) {
      if (b.group == g) {
        top = std::max(top, b.value);
      }
    }
    y += 25;
    fprintf(f, "<text x=\"20\" y=\"%d\" font-weight=\"bold\">%s</text>\n", y,
            Escape(g).c_str());
    y += 12;
    for (const Bar &b : bars) {
      if (b.group != g) {
        continue;
      }
      int w =
          top > 0 ? static_cast<int>((width - left - 120) * b.value / top) : 0;
      fprintf(f, "<text x=\"20\" y=\"%d\">%s</text>\n", y + 16,
              Escape(b.label).c_str());
      fprintf(
          f,
          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n",
          left, y, std::max(w, 1), bar_h, b.ours ? "#2a7ab0" : "#b0b0b0");
      fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", left + w + 6, y + 16,
              Escape(b.value >= 1000
                         ? std::to_string(static_cast<long>(b.value + 0.5))
                         : std::to_string(b.value).substr(0, 5))
                  .c_str());
      y += bar_h + gap;
    }
  }
  fprintf(f, "</svg>\n");
  fclose(f);
}

}  // namespace

int main(int argc, char **argv) {
  Options o = Parse(argc, argv);
  dyco_echo::RaiseFdLimit();
  const dyco_echo::Variant variants[] = {
      dyco_echo::kHook, dyco_echo::kHookUring, dyco_echo::kEpoll,
      dyco_echo::kThreads};
  constexpr int kVariants = 4;
  constexpr int kEpollRow = 2;  // the ratios' base
  const int steps = static_cast<int>(o.sizes.size()) * kVariants * o.runs + 1;
  int step = 0;
  printf("dyco demo: %d connections, %ld requests per run, %d runs (median)\n",
         o.connections, o.requests, o.runs);
  dyco_bench::PrintMachine("");

  // rps[size][variant]
  std::vector<std::vector<double>> rps(o.sizes.size(),
                                       std::vector<double>(kVariants));
  for (size_t s = 0; s < o.sizes.size(); ++s) {
    std::vector<std::vector<double>> samples(kVariants);
    // Runs interleaved, so that noise on a shared machine hits all alike.
    for (int r = 0; r < o.runs; ++r) {
      for (int v = 0; v < kVariants; ++v) {
        printf("[%2d/%d] echo %5zu B, %-28s ", ++step, steps, o.sizes[s],
               dyco_echo::VariantLabel(variants[v]));
        fflush(stdout);
        dyco_echo::Session session(variants[v], o.connections, o.sizes[s]);
        double x = session.Run(o.requests).requests_per_s;
        samples[v].push_back(x);
        printf("%10.0f requests/s\n", x);
      }
    }
    for (int v = 0; v < kVariants; ++v) {
      rps[s][v] = Median(samples[v]);
    }
  }

  printf("[%2d/%d] context switches: dyco, boost.context, swapcontext\n",
         ++step, steps);
  std::vector<double> dyco_ns, boost_ns, swap_ns;
  for (int r = 0; r < 5; ++r) {
    dyco_ns.push_back(DycoSwitch());
    boost_ns.push_back(BoostSwitch());
    swap_ns.push_back(Swapcontext());
  }
  const double dsw = Median(dyco_ns), bsw = Median(boost_ns),
               ssw = Median(swap_ns);

  printf("\nEcho, one server thread, %d connections (median of %d runs)\n",
         o.connections, o.runs);
  printf("  %-30s", "server");
  for (size_t size : o.sizes) {
    printf("  %8zu B req/s  vs epoll", size);
  }
  printf("\n");
  for (int v = 0; v < kVariants; ++v) {
    printf("  %-30s", dyco_echo::VariantLabel(variants[v]));
    for (size_t s = 0; s < o.sizes.size(); ++s) {
      printf("  %16.0f  %6.2fx", rps[s][v], rps[s][v] / rps[s][kEpollRow]);
    }
    printf("\n");
  }
  printf("\nContext switch (two contexts ping-ponging)\n");
  printf("  %-30s %8.2f ns   %5.2fx boost\n", "dyco_context_switch", dsw,
         dsw / bsw);
  printf("  %-30s %8.2f ns   %5.2fx boost\n", "boost.context jump_fcontext",
         bsw, 1.0);
  printf("  %-30s %8.2f ns   %5.2fx boost\n", "glibc swapcontext", ssw,
         ssw / bsw);

  std::vector<Bar> bars;
  for (size_t s = 0; s < o.sizes.size(); ++s) {
    std::string g = "Echo requests per second, " + std::to_string(o.sizes[s]) +
                    "-byte messages (higher is better)";
    for (int v = 0; v < kVariants; ++v) {
      bars.push_back(
          {g, dyco_echo::VariantLabel(variants[v]), rps[s][v], v <= 1});
    }
  }
  std::string g = "Nanoseconds per context switch (lower is better)";
  bars.push_back({g, "dyco_context_switch", dsw, true});
  bars.push_back({g, "boost.context jump_fcontext", bsw, false});
  bars.push_back({g, "glibc swapcontext", ssw, false});
  char machine[160];
  snprintf(machine, sizeof machine,
           "%d connections, %ld requests per run, median of %d runs; %ld CPUs",
           o.connections, o.requests, o.runs, sysconf(_SC_NPROCESSORS_ONLN));
  WriteSvg(o.svg, "dyco: blocking-style code at the speed of an epoll loop",
           bars, machine);
  printf("\nchart: %s\n", o.svg.c_str());
  return 0;
}
