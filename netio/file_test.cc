// dyco — netio layer tests: file I/O through the hooks never stalls the
// scheduler. 100 coroutines write and read files (tmpfs and disk, O_DIRECT
// where the file system takes it) while a ticker measures its longest wait;
// results byte-exact; errors as libc's. Under each poller back end.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/file.h"
#include "sched/poller.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;

constexpr int kCoroutines = 100;
constexpr size_t kChunk = 64 * 1024;

// Bytes per file: DYCO_FILE_BYTES (the large test sets 1 GiB), else 32 MiB.
size_t FileBytes() {
  const char *e = getenv("DYCO_FILE_BYTES");
  size_t n = e != nullptr ? strtoull(e, nullptr, 0) : (size_t)32 << 20;
  size_t unit = kCoroutines * kChunk;
  return std::max(unit, n / unit * unit);
}

const char *poller_name = "";
const char *GetParamName() { return poller_name; }

bool UringAvailable() {
  bool yes = false;
  dyco_schedule_setPoller(DYCO_POLLER_URING);
  std::thread t([&] {
    yes = dyco_schedule_getPoller() == DYCO_POLLER_URING;
    dyco_schedule_free(dyco_schedule_self());
  });
  t.join();
  dyco_schedule_setPoller(DYCO_POLLER_DEFAULT);
  return yes;
}

// Runs f on a fresh thread whose scheduler has back end `kind`.
void OnThread(int kind, const std::function<void()> &f) {
  ASSERT_EQ(0, dyco_schedule_setPoller(kind));
  std::thread t([&] {
    ASSERT_EQ(kind, dyco_schedule_getPoller());
    f();
    dyco_schedule_free(dyco_schedule_self());
  });
  t.join();
  dyco_schedule_setPoller(DYCO_POLLER_DEFAULT);
}

// The byte at offset `at` of the test file: every 8-byte word holds its
// own offset, mixed, so a block in the wrong place cannot match.
void Fill(char *p, size_t n, uint64_t at) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w = (at + i) * 0x9E3779B97F4A7C15ull;
    memcpy(p + i, &w, 8);
  }
}

class FileTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
#if defined(DYCO_VALGRIND)
    // valgrind passes io_uring's system calls through but does not see
    // what the kernel writes through the ring (a read's bytes, a statx):
    // memcheck would take them for uninitialised.
    if (GetParam() == DYCO_POLLER_URING) {
      GTEST_SKIP() << "valgrind does not see the kernel's writes through "
                      "io_uring: the epoll run covers the file path";
    }
#endif
    if (GetParam() == DYCO_POLLER_URING && !UringAvailable()) {
      GTEST_SKIP() << "no io_uring in this build or kernel: the epoll run "
                      "covers the file path";
    }
  }
};

// Milliseconds this thread has spent waiting for a CPU (runnable, not
// running: the second field of its schedstat), or 0 where the kernel does
// not say. Read with plain system calls, past the hooks.
double RunqueueWaitMs(int fd) {
  char b[128];
  long n = fd >= 0 ? syscall(SYS_pread64, fd, b, sizeof b - 1, 0) : -1;
  if (n <= 0) {
    return 0;
  }
  b[n] = 0;
  unsigned long long run = 0, wait = 0;
  return sscanf(b, "%llu %llu", &run, &wait) == 2 ? wait / 1e6 : 0;
}

// A ticker that sleeps 1 ms at a time and keeps its longest wait, less the
// time its thread waited for a CPU meanwhile (the machine may be shared
// with parallel builds: the scheduler cannot help that).
struct Ticker {
  bool stop = false;
  double max_gap = 0;
  double max_raw_gap = 0;
  int ticks = 0;
  void Start() {
    Go([this] {
      int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/schedstat",
                            O_RDONLY | O_CLOEXEC);
      double last = NowMs();
      double last_wait = RunqueueWaitMs(fd);
      while (!stop) {
        dyco_coroutine_sleep(1);
        double now = NowMs();
        double waited = RunqueueWaitMs(fd);
        max_raw_gap = std::max(max_raw_gap, now - last);
        max_gap = std::max(max_gap, (now - last) - (waited - last_wait));
        last = now;
        last_wait = waited;
        ticks++;
      }
      if (fd >= 0) {
        syscall(SYS_close, fd);
      }
    });
  }
};

// A barrier for the coroutines of one scheduler.
struct Gate {
  dyco_waitq q;
  int left;
  explicit Gate(int n) : left(n) { dyco_waitq_init(&q, nullptr); }
  void Arrive() {
    if (--left == 0) {
      dyco_waitq_wakeAll(&q, 0);
    } else {
      dyco_waitq_wait(&q, -1, nullptr);
    }
  }
};

// 100 coroutines write a file of FileBytes() in `dir` (each its own
// stripe, with pwrite; O_DIRECT when `direct`), sync it, then read another
// coroutine's stripe back with read and readv and check every byte, while
// a ticker runs.
void Workload(const std::string &dir, bool direct) {
  const size_t total = FileBytes();
  const size_t stripe = total / kCoroutines;
  std::string path = dir + "/dyco_file_test_XXXXXX";
  int tmp = mkstemp(&path[0]);
  ASSERT_GE(tmp, 0) << dir << ": " << strerror(errno);
  close(tmp);
  const int oflags = direct ? O_DIRECT : 0;
  // The window timed starts once every coroutine exists, with its buffers
  // touched: a coroutine's first run (its stack mapped and touched) and
  // the first touch of memory are not file I/O, and under TSan (shadow
  // pages faulted in and cleared) one round of them took 400 ms on an AMD
  // EPYC guest. The last to arrive starts the ticker and the clock.
  std::vector<char *> bufs(kCoroutines), wants(kCoroutines);
  for (int i = 0; i < kCoroutines; ++i) {
    bufs[i] = static_cast<char *>(aligned_alloc(4096, kChunk));
    wants[i] = static_cast<char *>(malloc(kChunk));
    memset(bufs[i], 0, kChunk);
    memset(wants[i], 0, kChunk);
  }
  Ticker ticker;
  Gate ready(kCoroutines);
  Gate written(kCoroutines);
  Gate finished(kCoroutines);
  int bad = 0;
  size_t checked = 0;
  int arrived = 0;
  double t0 = 0;
  for (int i = 0; i < kCoroutines; ++i) {
    Go([&, i] {
      if (++arrived == kCoroutines) {
        ticker.Start();
        t0 = NowMs();
      }
      ready.Arrive();
      char *buf = bufs[i];
      int fd = open(path.c_str(), O_RDWR | oflags);
      EXPECT_GE(fd, 0) << strerror(errno);
      const uint64_t base = (uint64_t)i * stripe;
      for (size_t at = 0; at < stripe; at += kChunk) {
        Fill(buf, kChunk, base + at);
        ssize_t w = pwrite(fd, buf, kChunk, (off_t)(base + at));
        if (w != (ssize_t)kChunk) {
          ADD_FAILURE() << "pwrite " << w << " " << strerror(errno);
          break;
        }
      }
      EXPECT_EQ(0, fdatasync(fd));
      EXPECT_EQ(0, close(fd));
      written.Arrive();
      // Another's stripe, sequentially: read, and readv in two halves.
      const uint64_t other = (uint64_t)((i + 1) % kCoroutines) * stripe;
      char *want = wants[i];
      fd = open(path.c_str(), O_RDONLY | oflags);
      EXPECT_GE(fd, 0) << strerror(errno);
      struct stat st;
      EXPECT_EQ(0, fstat(fd, &st));
      EXPECT_EQ((off_t)total, st.st_size);
      EXPECT_EQ((off_t)other, lseek(fd, (off_t)other, SEEK_SET));
      for (size_t at = 0; at < stripe; at += kChunk) {
        ssize_t r;
        if ((at / kChunk) % 2 == 0) {
          r = read(fd, buf, kChunk);
        } else {
          struct iovec v[2] = {{buf, kChunk / 2},
                               {buf + kChunk / 2, kChunk / 2}};
          r = readv(fd, v, 2);
        }
        if (r != (ssize_t)kChunk) {
          ADD_FAILURE() << "read " << r << " " << strerror(errno);
          break;
        }
        Fill(want, kChunk, other + at);
        bad += memcmp(want, buf, kChunk) != 0;
        checked += kChunk;
      }
      EXPECT_EQ(0, close(fd));
      finished.Arrive();
      if (i == 0) {
        ticker.stop = true;
      }
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  const double ms = NowMs() - t0;
  unlink(path.c_str());
  for (int i = 0; i < kCoroutines; ++i) {
    free(bufs[i]);
    free(wants[i]);
  }
  EXPECT_EQ(0, bad);
  EXPECT_EQ(total, checked);
  // The ticker kept ticking: its longest wait, less the time the thread
  // waited for a CPU, is a few rounds of the 100 coroutines' copying (some
  // ms; a thread blocked in the disk's I/O would wait for each write and
  // sync).
  // A stalled thread would keep the ticker waiting for about the whole run;
  // the bound leaves room for a machine busy with other tests (22 ms was
  // seen at 20 in CI's parallel run).
  const double limit = std::max(dyco_test::Scaled(20), ms / 3);
  EXPECT_LT(ticker.max_gap, limit)
      << dir << (direct ? " O_DIRECT" : "") << ": " << total << " bytes in "
      << ms << " ms, " << ticker.ticks << " ticks";
  printf(
      "%s%s, %s: %zu MiB written and read back in %.0f ms; ticker's "
      "longest wait %.2f ms (%.2f ms with the waits for a CPU) over %d "
      "ticks\n",
      dir.c_str(), direct ? " O_DIRECT" : "", GetParamName(), total >> 20, ms,
      ticker.max_gap, ticker.max_raw_gap, ticker.ticks);
}

// Whether dir's file system takes O_DIRECT.
bool DirectWorks(const std::string &dir) {
  std::string path = dir + "/dyco_direct_XXXXXX";
  int fd = mkstemp(&path[0]);
  if (fd < 0) {
    return false;
  }
  close(fd);
  fd = open(path.c_str(), O_RDWR | O_DIRECT);
  unlink(path.c_str());
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

std::string DiskDir() {
  const char *t = getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

TEST_P(FileTest, HundredCoroutinesOnTmpfsNeverStallTheTicker) {
  if (access("/dev/shm", W_OK) != 0) {
    GTEST_SKIP() << "no writable /dev/shm";
  }
  poller_name = GetParam() == DYCO_POLLER_URING ? "io_uring" : "epoll";
  OnThread(GetParam(), [] { Workload("/dev/shm", false); });
  if (DirectWorks("/dev/shm")) {
    OnThread(GetParam(), [] { Workload("/dev/shm", true); });
  }
}

TEST_P(FileTest, HundredCoroutinesOnDiskNeverStallTheTicker) {
  poller_name = GetParam() == DYCO_POLLER_URING ? "io_uring" : "epoll";
  const std::string dir = DiskDir();
  OnThread(GetParam(), [&] { Workload(dir, false); });
  if (DirectWorks(dir)) {
    OnThread(GetParam(), [&] { Workload(dir, true); });
  } else {
    printf("%s: no O_DIRECT on this file system\n", dir.c_str());
  }
}

// The outcome of a call: its result and errno.
struct Out {
  long ret;
  int err;
  bool operator==(const Out &o) const {
    return ret == o.ret && (ret >= 0 || err == o.err);
  }
};

std::ostream &operator<<(std::ostream &os, const Out &o) {
  return os << o.ret << " (" << (o.ret < 0 ? strerror(o.err) : "-") << ")";
}

template <typename F>
Out Call(F f) {
  errno = 0;
  long r = f();
  return Out{r, errno};
}

// Each call in a coroutine (the ring or the pool) and outside (libc).
void ExpectSameAsLibc(const std::function<long()> &f, const char *what) {
  Out libc = Call(f);
  Out dyco{0, 0};
  Go([&] { dyco = Call(f); });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(libc, dyco) << what;
}

TEST_P(FileTest, ErrorsAreLibcs) {
  OnThread(GetParam(), [] {
    const std::string dir = DiskDir();
    std::string path = dir + "/dyco_err_XXXXXX";
    int fd = mkstemp(&path[0]);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(3, write(fd, "abc", 3));
    close(fd);
    int ro = open(path.c_str(), O_RDONLY);
    int wo = open(path.c_str(), O_WRONLY);
    int dirfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(ro, 0);
    ASSERT_GE(wo, 0);
    ASSERT_GE(dirfd, 0);
    int closed = dup(ro);
    close(closed);
    char buf[8];
    ExpectSameAsLibc([&] { return (long)read(closed, buf, 8); }, "read EBADF");
    ExpectSameAsLibc([&] { return (long)write(ro, "x", 1); },
                     "write on O_RDONLY");
    ExpectSameAsLibc([&] { return (long)read(wo, buf, 8); },
                     "read on O_WRONLY");
    ExpectSameAsLibc([&] { return (long)pread(ro, buf, 8, -1); },
                     "pread at -1");
    ExpectSameAsLibc([&] { return (long)pread(ro, buf, 8, 1); }, "pread");
    ExpectSameAsLibc([&] { return (long)read(dirfd, buf, 8); },
                     "read of a directory");
    ExpectSameAsLibc([&] { return (long)open(dir.c_str(), O_WRONLY); },
                     "open a directory for writing");
    ExpectSameAsLibc([&] { return (long)open("/nonexistent/x", O_RDONLY); },
                     "open ENOENT");
    ExpectSameAsLibc([&] { return (long)fsync(closed); }, "fsync EBADF");
    ExpectSameAsLibc([&] { return (long)close(closed); }, "close EBADF");
    struct stat st;
    ExpectSameAsLibc([&] { return (long)fstat(closed, &st); }, "fstat EBADF");
    // Byte-exact reads of a small file from a buffer on the stack (the
    // shared one: copied through the heap).
    std::string got;
    Go([&] {
      char b[8] = {0};
      EXPECT_EQ(3, pread(ro, b, sizeof b, 0));
      got.assign(b, 3);
      struct stat s2;
      EXPECT_EQ(0, fstat(ro, &s2));
      EXPECT_EQ(3, s2.st_size);
      EXPECT_TRUE(S_ISREG(s2.st_mode));
    });
    ASSERT_EQ(0, dyco_schedule_run());
    EXPECT_EQ("abc", got);
    close(ro);
    close(wo);
    close(dirfd);
    unlink(path.c_str());
  });
}

// ENOSPC from a full tmpfs: mounted in a child's own mount namespace (as
// root, or in a user namespace), skipped where neither is allowed.
TEST_P(FileTest, EnospcFromAFullTmpfs) {
  if (dyco_test::NoFork()) {
    GTEST_SKIP() << "no fork under this emulator";
  }
#if defined(DYCO_TSAN)
  // The child (its own mount namespace) starts the blocking pool's threads,
  // which TSan refuses after a fork of a threaded process.
  GTEST_SKIP() << "ThreadSanitizer: no new threads after a threaded fork";
#endif
  std::string dir = DiskDir() + "/dyco_small_XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(&dir[0]));
  const int kind = GetParam();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 &&
        unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      _exit(77);
    }
    // Source and type are ignored for a propagation change; "none" rather
    // than NULL, which valgrind checks as a string all the same.
    mount("none", "/", "none", MS_REC | MS_PRIVATE, nullptr);
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") != 0) {
      _exit(77);
    }
    dyco_schedule_setPoller(kind);
    auto fill = [&](const char *name) -> int {
      std::string p = dir + "/" + name;
      int fd = open(p.c_str(), O_WRONLY | O_CREAT, 0600);
      if (fd < 0) {
        return -1;
      }
      static char block[16384];
      for (;;) {
        ssize_t w = write(fd, block, sizeof block);
        if (w < 0) {
          int e = errno;
          close(fd);
          unlink(p.c_str());
          return e;
        }
      }
    };
    int libc = fill("libc");
    int dyco = 0;
    Go([&] { dyco = fill("dyco"); });
    dyco_schedule_run();
    if (dyco_schedule_getPoller() != kind) {
      _exit(3);
    }
    _exit(libc == ENOSPC && dyco == ENOSPC ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(pid, waitpid(pid, &status, 0));
  rmdir(dir.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    GTEST_SKIP() << "cannot mount a tmpfs here (no root, no user namespaces)";
  }
  EXPECT_EQ(0, WEXITSTATUS(status))
      << "1: a write did not fail with ENOSPC; 3: wrong back end";
}

INSTANTIATE_TEST_SUITE_P(
    Pollers, FileTest, ::testing::Values(DYCO_POLLER_EPOLL, DYCO_POLLER_URING),
    [](const ::testing::TestParamInfo<int> &i) {
      return std::string(i.param == DYCO_POLLER_URING ? "io_uring" : "epoll");
    });

}  // namespace
