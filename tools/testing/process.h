// dyco — tests and tools only: what the process holds, as /proc says it:
// its open fds and its resident memory. No gtest, no dyco code: the soak
// (tools/testing/soak.cc) uses it as the tests do.
#ifndef DYCO_TOOLS_TESTING_PROCESS_H_
#define DYCO_TOOLS_TESTING_PROCESS_H_

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <set>

namespace dyco_test {

// The process's open fds, from /proc/self/fd (without the directory's own).
inline std::set<int> OpenFds() {
  std::set<int> fds;
  DIR *d = opendir("/proc/self/fd");
  if (d == nullptr) {
    return fds;
  }
  const int self = dirfd(d);
  while (struct dirent *e = readdir(d)) {
    if (e->d_name[0] != '.' && atoi(e->d_name) != self) {
      fds.insert(atoi(e->d_name));
    }
  }
  closedir(d);
  return fds;
}

// The process's resident memory in KiB, from /proc/self/statm (0 when it
// cannot be read).
inline long RssKiB() {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f != nullptr) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
      rss = 0;
    }
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace dyco_test

#endif  // DYCO_TOOLS_TESTING_PROCESS_H_
