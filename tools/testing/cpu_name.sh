# dyco — sourced by the benchmark scripts (tools/bench_all.sh,
# tools/bench_http.sh, tools/soak.sh): cpu_name prints the CPU's model name
# with its family and model numbers, as tools/testing/figures.h does for
# the benchmarks themselves (a virtual machine's name may be only
# "AMD EPYC", which Zen 3 and Zen 5 cores both report).
cpu_name() {
  awk -F': ' '/^model name/ { n = $2 } /^cpu family/ { f = $2 }
    /^model\t/ { m = $2 } /^$/ { exit }
    END {
      printf "%s", (n != "" ? n : "unknown CPU")
      if (f != "" && m != "") printf " (family %s, model %s)", f, m
    }' /proc/cpuinfo
}
