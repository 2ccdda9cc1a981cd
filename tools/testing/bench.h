// dyco — benchmarks only: a reporter that keeps each result for a summary
// table, and the raw context switch every layer's benchmark is measured by.
#ifndef DYCO_TOOLS_TESTING_BENCH_H_
#define DYCO_TOOLS_TESTING_BENCH_H_

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/testing/figures.h"

extern "C" {
#include "context/context.h"
}

namespace dyco_bench {

// benchmark::Initialize, with the repetitions of all benchmarks interleaved
// in random order unless the command line says otherwise: the machine is
// shared, and interleaving spreads its noise over every variant compared
// instead of letting it fall on whichever ran at a bad moment.
inline void InitializeInterleaved(int *argc, char **argv) {
  static std::vector<char *> args;
  args.assign(argv, argv + *argc);
  bool given = false;
  for (char *a : args) {
    given |=
        std::string(a).rfind("--benchmark_enable_random_interleaving", 0) == 0;
  }
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!given) {
    args.push_back(interleave);
  }
  *argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(argc, args.data());
}

// Says how many operations one benchmark iteration performs, so that the
// summary can print time per operation.
inline void OpsPerIteration(benchmark::State &state, double ops) {
  state.counters["ops_per_iter"] = ops;
}

// Prints what google benchmark prints and remembers each run's time per
// operation (the median when --benchmark_repetitions is given).
class Recorder : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run> &runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run &run : runs) {
      if (run.error_occurred) {
        continue;
      }
      std::string name = run.benchmark_name();
      const bool median =
          run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "stddev") {
        // Its counters are aggregated too (ops_per_iter's deviation is 0):
        // it is divided by the median's operations per iteration later.
        std::string base = BaseName(name.substr(0, name.size() - 7));
        stddev_[base] = NsOf(run);
        continue;
      }
      if (run.run_type == Run::RT_Aggregate && !median) {
        continue;
      }
      if (median) {
        name = name.substr(0, name.size() - 7);  // "_median"
      }
      name = BaseName(name);
      if (!median && medians_.count(name)) {
        continue;
      }
      ns_[name] = NsOf(run);
      ops_[name] = Ops(run);
      for (const auto &c : run.counters) {
        counters_[name][c.first] = c.second.value;
      }
      if (median) {
        medians_[name] = true;
      }
    }
  }

  // A benchmark's name without google benchmark's "/repeats:N" and
  // "/iterations:N": what NsPerOp and Counter take.
  static std::string BaseName(std::string name) {
    for (const char *tag : {"/repeats:", "/iterations:"}) {
      size_t at = name.find(tag);
      if (at == std::string::npos) {
        continue;
      }
      size_t end = name.find('/', at + 1);
      name.erase(at, end == std::string::npos ? std::string::npos : end - at);
    }
    return name;
  }

  // Nanoseconds per operation of the named benchmark, 0 if it did not run.
  double NsPerOp(const std::string &name) const {
    auto it = ns_.find(name);
    return it == ns_.end() ? 0 : it->second;
  }

  // The standard deviation over repetitions of the named benchmark's ns
  // per operation, 0 when it ran once.
  double StddevNs(const std::string &name) const {
    auto it = stddev_.find(name);
    auto ops = ops_.find(name);
    return it == stddev_.end() || ops == ops_.end() ? 0
                                                    : it->second / ops->second;
  }

  // A counter the named benchmark reported, 0 if none.
  double Counter(const std::string &name, const std::string &counter) const {
    auto it = counters_.find(name);
    if (it == counters_.end()) {
      return 0;
    }
    auto c = it->second.find(counter);
    return c == it->second.end() ? 0 : c->second;
  }

 private:
  static double Ops(const Run &run) {
    auto it = run.counters.find("ops_per_iter");
    return it != run.counters.end() && it->second.value > 0 ? it->second.value
                                                            : 1;
  }

  // ns per iteration, divided by its operations (1 for an aggregate whose
  // ops_per_iter counter is not a count).
  static double NsOf(const Run &run) {
    return run.GetAdjustedRealTime() *
           benchmark::GetTimeUnitMultiplier(benchmark::kNanosecond) /
           benchmark::GetTimeUnitMultiplier(run.time_unit) / Ops(run);
  }

  std::map<std::string, double> ns_;
  std::map<std::string, double> stddev_;  // ns per iteration
  std::map<std::string, double> ops_;
  std::map<std::string, std::map<std::string, double>> counters_;
  std::map<std::string, bool> medians_;
};

// One line of a layer's summary: a benchmark, its label, its target as
// text ("" for none) and, to check it, the largest ratio to the baseline
// benchmark and/or the most ns it may take (0: not checked).
struct Row {
  const char *name;
  const char *label;
  const char *target;
  double max_ratio = 0;
  double max_ns = 0;
  const char *baseline = "BM_RawSwitch";
  const char *baseline_label = "raw switch";
};

// PrintTable prints a layer's summary: each row's time per operation in ns,
// its spread and its ratio to the row's baseline (BM_RawSwitch unless the
// row says otherwise), and its target with pass or FAIL; each row is also
// emitted for tools/bench_all.sh.
template <size_t N>
void PrintTable(const Recorder &recorder, const char *layer,
                const Row (&rows)[N]) {
  int width = 0;
  for (const Row &r : rows) {
    width = std::max(width, static_cast<int>(strlen(r.label)));
  }
  char title[64];
  snprintf(title, sizeof title, "%s (%s switch)", layer,
           dyco_context_implementation());
  printf("\n%-*s %9s  %7s  %7s  %-13s target\n", width + 2, title, "ns", "+-sd",
         "ratio", "to");
  for (const Row &r : rows) {
    const double ns = recorder.NsPerOp(r.name);
    if (ns <= 0) {
      continue;  // filtered out
    }
    const double sd = recorder.StddevNs(r.name);
    const double base = recorder.NsPerOp(r.baseline);
    const double ratio = base > 0 ? ns / base : 0;
    int pass = -1;
    if (r.max_ratio > 0 || r.max_ns > 0) {
      pass = (r.max_ratio <= 0 || (base > 0 && ratio <= r.max_ratio)) &&
             (r.max_ns <= 0 || ns <= r.max_ns);
    }
    printf("  %-*s %9.2f  %7.2f  %6.2fx  %-13s %s%s\n", width, r.label, ns, sd,
           ratio, r.baseline_label, r.target,
           pass < 0 ? ""
           : pass   ? "  pass"
                    : "  FAIL");
    std::string label = r.label;
    label.erase(0, label.find_first_not_of(' '));
    char spread[32];
    snprintf(spread, sizeof spread, "sd %.2g", sd);
    EmitFigure(layer, label, ns, "ns", spread, ratio, r.baseline_label,
               r.target, pass);
  }
}

// The raw switch: dyco_context_switch, two contexts ping-ponging (in
// builds without a sanitizer it is the assembly switch itself). Registered
// by every layer's benchmark as BM_RawSwitch.
inline dyco_context raw_main, raw_ctx;
inline void RawBody(void *) {
  for (;;) {
    dyco_context_switch(&raw_ctx, &raw_main, nullptr);
  }
}
inline void BM_RawSwitch(benchmark::State &state) {
  static std::vector<char> stack(64 * 1024);
  dyco_context_make(&raw_ctx, stack.data(), stack.size(), RawBody, nullptr);
  for (auto _ : state) {
    dyco_context_switch(&raw_main, &raw_ctx, nullptr);
  }
  OpsPerIteration(state, 2);
}

}  // namespace dyco_bench

#define DYCO_BENCH_RAW_SWITCH() \
  BENCHMARK(dyco_bench::BM_RawSwitch)->Name("BM_RawSwitch")

#endif  // DYCO_TOOLS_TESTING_BENCH_H_
