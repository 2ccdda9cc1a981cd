// dyco — benchmarks and the demo only: what every figure is printed with
// (the machine, the date) and how it reaches tools/bench_all.sh's table.
// No dependencies: the echo workload's baselines and the demo use it too.
#ifndef DYCO_TOOLS_TESTING_FIGURES_H_
#define DYCO_TOOLS_TESTING_FIGURES_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <string>

namespace dyco_bench {

// The CPU's model name, as /proc/cpuinfo gives it, with its family and
// model numbers: a virtual machine's name may say only "AMD EPYC", which
// Zen 3 (family 25) and Zen 5 (family 26) cores both report.
inline std::string CpuModel() {
  std::string model = "unknown CPU";
  std::string family;
  std::string number;
  if (FILE *f = fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (fgets(line, sizeof line, f) != nullptr) {
      const char *colon = strchr(line, ':');
      if (colon == nullptr || colon[1] == '\0') {
        if (line[0] == '\n') {
          break;  // the first CPU's block has ended
        }
        continue;
      }
      std::string value = colon + 2;
      value.erase(value.find_last_not_of(" \n") + 1);
      if (strncmp(line, "model name", 10) == 0) {
        model = value;
      } else if (strncmp(line, "cpu family", 10) == 0) {
        family = value;
      } else if (strncmp(line, "model\t", 6) == 0) {
        number = value;
      }
    }
    fclose(f);
  }
  if (!family.empty() && !number.empty()) {
    model += " (family " + family + ", model " + number + ")";
  }
  return model;
}

// PrintMachine prints what every figure must be read with: the CPU model,
// the CPUs, the kernel and the date. Every benchmark prints it first.
inline void PrintMachine(const char *what) {
  utsname u;
  uname(&u);
  char date[32];
  time_t now = time(nullptr);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  printf("%s%smachine: %s, %ld CPUs, Linux %s; %s\n\n", what,
         *what != '\0' ? "\n" : "", CpuModel().c_str(),
         sysconf(_SC_NPROCESSORS_ONLN), u.release, date);
  fflush(stdout);
}

// A figure for tools/bench_all.sh's table, appended as a tab-separated line
// to the file $DYCO_BENCH_TSV names (nothing when it is unset): layer,
// figure, value, unit, spread (as text: "sd 0.1" for a standard deviation
// over repetitions, "IQR 0.98-1.03" for quartiles over rounds), ratio to
// its baseline (0: none), the baseline, the target, and pass / FAIL / "-"
// when the figure has no target.
inline void EmitFigure(const char *layer, const std::string &figure,
                       double value, const char *unit,
                       const std::string &spread, double ratio,
                       const std::string &baseline, const std::string &target,
                       int pass) {
  const char *path = getenv("DYCO_BENCH_TSV");
  if (path == nullptr || *path == '\0') {
    return;
  }
  if (FILE *f = fopen(path, "a")) {
    fprintf(f, "%s\t%s\t%.4g\t%s\t%s\t%.3f\t%s\t%s\t%s\n", layer,
            figure.c_str(), value, unit, spread.c_str(), ratio,
            baseline.c_str(), target.c_str(),
            pass < 0 ? "-"
            : pass   ? "pass"
                     : "FAIL");
    fclose(f);
  }
}

}  // namespace dyco_bench

#endif  // DYCO_TOOLS_TESTING_FIGURES_H_
