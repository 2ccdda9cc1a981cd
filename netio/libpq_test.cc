// dyco — netio layer tests: libpq, unmodified, made concurrent by the hooks,
// against a PostgreSQL server the test starts on 127.0.0.1 and stops. libpq
// waits for its server with poll(POLLIN|POLLERR) from inside its own shared
// library: the fds 50 waiting connections hold (one socket each, nothing
// per wait), and 55 connections under `ulimit -n 64`, as threads manage.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/hook.h"
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;

constexpr const char *kBin = "/usr/lib/postgresql/15/bin";

// Runs argv as the postgres user when we are root (the server refuses to
// run as root); returns the child's pid.
pid_t Spawn(const std::vector<std::string> &argv, const std::string &log) {
  pid_t pid = fork();
  if (pid != 0) {
    return pid;
  }
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  if (geteuid() == 0) {
    passwd *pw = getpwnam("postgres");
    if (pw == nullptr || setgroups(0, nullptr) != 0 ||
        setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
      _exit(126);
    }
  }
  std::vector<char *> args;
  for (const std::string &a : argv) {
    args.push_back(const_cast<char *>(a.c_str()));
  }
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

// One server for the whole suite.
class LibpqTest : public dyco_test::SchedTest {
 protected:
  static void SetUpTestSuite() {
    // Under /tmp: the server's user (postgres, when we are root) must be
    // able to reach it, which it cannot under root's home.
    char tmpl[] = "/tmp/dyco-libpq-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return;
    }
    dir_ = tmpl;
    std::string data = dir_ + "/data";
    if (geteuid() == 0) {
      passwd *pw = getpwnam("postgres");
      if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return;
      }
    }
    std::string log = dir_ + "/log";
    int status;
    pid_t init = Spawn({std::string(kBin) + "/initdb", "-D", data, "-A",
                        "trust", "-U", "dyco", "--no-sync"},
                       log);
    waitpid(init, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return;
    }
    port_ = dyco_test::ClosedPort();
    pid_ = Spawn(
        {std::string(kBin) + "/postgres", "-D", data, "-k", dir_, "-p",
         std::to_string(port_), "-c", "listen_addresses=127.0.0.1", "-c",
         "max_connections=200", "-c", "fsync=off", "-c", "shared_buffers=16MB"},
        log);
    conninfo_ = "host=127.0.0.1 port=" + std::to_string(port_) +
                " user=dyco dbname=postgres connect_timeout=10";
    for (int i = 0; i < 1000; ++i) {
      if (PQping(conninfo_.c_str()) == PQPING_OK) {
        return;
      }
      usleep(10 * 1000);
    }
    StopServer();
  }

  static void TearDownTestSuite() {
    StopServer();
    if (!dir_.empty()) {
      std::string rm = "rm -rf '" + dir_ + "'";
      if (system(rm.c_str()) != 0) {
        fprintf(stderr, "could not remove %s\n", dir_.c_str());
      }
    }
  }

  static void StopServer() {
    if (pid_ > 0) {
      kill(pid_, SIGINT);  // fast shutdown
      int status;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  void SetUp() override {
    dyco_test::SchedTest::SetUp();
    // tools/bazel installs postgresql: without it the test fails.
    if (pid_ <= 0) {
      std::string cat = "cat '" + dir_ + "/log' >&2";
      if (system(cat.c_str()) != 0) {
        fprintf(stderr, "(no log)\n");
      }
    }
    ASSERT_GT(pid_, 0) << "no PostgreSQL server could be started from " << kBin;
  }

  static std::string dir_;
  static std::string conninfo_;
  static int port_;
  static pid_t pid_;
};

std::string LibpqTest::dir_;
std::string LibpqTest::conninfo_;
int LibpqTest::port_ = -1;
pid_t LibpqTest::pid_ = -1;

// 50 connections each waiting in PQexec (libpq's poll with POLLIN|POLLERR,
// inside libpq.so): the process holds the 50 sockets and the scheduler's
// own fds, nothing per wait; and the queries overlap.
TEST_F(LibpqTest, FiftyWaitingConnectionsHoldOneFdEach) {
  constexpr int kConns = 50;
  ASSERT_GT(dyco_schedule_create(0, 0), 0);  // its own fds, counted apart
  const int before = dyco_test::FdCount();
  std::vector<PGconn *> conns(kConns, nullptr);
  int connected = 0;
  int during = -1;
  int ok = 0;
  double start = 0, took = 0;
  std::atomic<int> waiting{0};
  for (int i = 0; i < kConns; ++i) {
    Go([&, i] {
      conns[i] = PQconnectdb(conninfo_.c_str());
      ASSERT_EQ(CONNECTION_OK, PQstatus(conns[i])) << PQerrorMessage(conns[i]);
      connected++;
      // Everyone connected: then all query at once.
      while (connected < kConns) {
        dyco_coroutine_sleep(1);
      }
      if (start == 0) {
        start = NowMs();
      }
      waiting++;
      PGresult *r = PQexec(conns[i], "SELECT pg_sleep(0.5)");
      if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        ok++;
      }
      PQclear(r);
      took = NowMs() - start;
    });
  }
  Go([&] {
    // Every connection in its wait (pg_sleep lasts 0.5 s).
    for (;;) {
      dyco_schedule_stats st;
      ASSERT_EQ(0, dyco_schedule_getStats(&st));
      if (waiting == kConns && st.by_state[DYCO_COROUTINE_WAITING] == kConns) {
        break;
      }
      dyco_coroutine_sleep(1);
    }
    during = dyco_test::FdCount();
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(kConns, ok);
  EXPECT_EQ(before + kConns, during) << "fds beyond one socket per connection";
  fprintf(stderr,
          "libpq: %d connections waiting with POLLIN|POLLERR hold %d fds: "
          "%d sockets + %d the process held before (the scheduler's epoll "
          "instance and eventfd among them), %d per wait\n",
          kConns, during, kConns, before, during - before - kConns);
  // Overlapped: far less than 50 half-second queries one after another.
  EXPECT_LT(took, 0.5 * 1000 * 10);
  for (PGconn *c : conns) {
    PQfinish(c);
  }
}

// Under `ulimit -n 64`, 55 connections made at once (each waiting in
// PQconnectdb's polls) all succeed, as they do on 55 threads.
TEST_F(LibpqTest, FiftyFiveConnectionsUnderUlimit64) {
  constexpr int kConns = 55;
  // Threads, the libc way, for comparison.
  int threads_ok = 0;
  {
    struct rlimit old, low;
    ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
    low = old;
    low.rlim_cur = 64;
    ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
    std::vector<PGconn *> conns(kConns, nullptr);
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (int i = 0; i < kConns; ++i) {
      ts.emplace_back([&, i] {
        conns[i] = PQconnectdb(conninfo_.c_str());
        if (PQstatus(conns[i]) == CONNECTION_OK) {
          ok++;
        }
      });
    }
    for (auto &t : ts) {
      t.join();
    }
    threads_ok = ok;
    for (PGconn *c : conns) {
      PQfinish(c);
    }
    ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
  }
  // Coroutines, on one thread.
  struct rlimit old, low;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
  low = old;
  low.rlim_cur = 64;
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
  std::vector<PGconn *> conns(kConns, nullptr);
  int ok = 0;
  for (int i = 0; i < kConns; ++i) {
    Go([&, i] {
      conns[i] = PQconnectdb(conninfo_.c_str());
      if (PQstatus(conns[i]) == CONNECTION_OK) {
        ok++;
      }
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  for (PGconn *c : conns) {
    PQfinish(c);
  }
  ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
  EXPECT_EQ(kConns, threads_ok);
  EXPECT_EQ(threads_ok, ok);
}

uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// After a query given up on the client's side: the server's half is
// stopped (PQcancel, itself through the hooks), and the connection, whose
// protocol state libpq cannot know any more, is made anew.
void Recover(PGconn *conn) {
  PGcancel *k = PQgetCancel(conn);
  char err[256];
  EXPECT_EQ(1, PQcancel(k, err, sizeof err)) << err;
  PQfreeCancel(k);
  PQreset(conn);
  ASSERT_EQ(CONNECTION_OK, PQstatus(conn)) << PQerrorMessage(conn);
  PGresult *r = PQexec(conn, "SELECT 1");
  EXPECT_EQ(PGRES_TUPLES_OK, PQresultStatus(r)) << PQerrorMessage(conn);
  PQclear(r);
}

// A coroutine waiting inside libpq's PQexec (pg_sleep(10): libpq polls its
// socket from inside libpq.so) is cancelled: PQexec returns within a few ms
// with libpq's error for the failed wait, naming ECANCELED; the connection
// recovers; no fd is left behind.
TEST_F(LibpqTest, AQueryInProgressIsCancelledAtOnce) {
  ASSERT_GT(dyco_schedule_create(0, 0), 0);  // its own fds, counted apart
  const int before = dyco_test::FdCount();
  PGconn *conn = nullptr;
  PGresult *res = nullptr;
  std::string error;
  double cancelled_at = 0, returned_at = 0;
  bool in_query = false;
  int cid = Go([&] {
    conn = PQconnectdb(conninfo_.c_str());
    ASSERT_EQ(CONNECTION_OK, PQstatus(conn)) << PQerrorMessage(conn);
    in_query = true;
    res = PQexec(conn, "SELECT pg_sleep(10)");
    returned_at = NowMs();
    error = PQerrorMessage(conn);
    EXPECT_EQ(1, dyco_coroutine_uncancel());
    Recover(conn);
  });
  Go([&] {
    dyco_coroutine_info info;
    while (!in_query || dyco_coroutine_getInfo(cid, &info) != 0 ||
           info.state != DYCO_COROUTINE_WAITING) {
      dyco_coroutine_sleep(1);
    }
    dyco_coroutine_sleep(20);  // well inside pg_sleep
    cancelled_at = NowMs();
    ASSERT_EQ(0, dyco_coroutine_cancel(cid));
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_NE(PGRES_TUPLES_OK, PQresultStatus(res));
  EXPECT_NE(std::string::npos, error.find(strerror(ECANCELED))) << error;
  EXPECT_LT(returned_at - cancelled_at, dyco_test::Slow() ? 200 : 20);
  fprintf(stderr,
          "libpq: cancelled PQexec returned %.2f ms after the cancel: %s",
          returned_at - cancelled_at, error.c_str());
  PQclear(res);
  PQfinish(conn);
  EXPECT_EQ(before, dyco_test::FdCount());
}

// A transaction bounded from outside libpq: a deadline 150 ms ahead ends
// the statement running in it with ETIMEDOUT, at the deadline.
TEST_F(LibpqTest, ADeadlineBoundsATransaction) {
  ASSERT_GT(dyco_schedule_create(0, 0), 0);
  const int before = dyco_test::FdCount();
  double took = 0;
  std::string error;
  ExecStatusType begin = PGRES_FATAL_ERROR, sleep_status = PGRES_TUPLES_OK;
  Go([&] {
    PGconn *conn = PQconnectdb(conninfo_.c_str());
    ASSERT_EQ(CONNECTION_OK, PQstatus(conn)) << PQerrorMessage(conn);
    const double t0 = NowMs();
    uint64_t saved = 0;
    ASSERT_EQ(0, dyco_coroutine_narrowDeadline(MonoNs() + 150000000u, &saved));
    PGresult *r = PQexec(conn, "BEGIN");
    begin = PQresultStatus(r);
    PQclear(r);
    r = PQexec(conn, "SELECT pg_sleep(10)");
    sleep_status = PQresultStatus(r);
    PQclear(r);
    took = NowMs() - t0;
    error = PQerrorMessage(conn);
    ASSERT_EQ(0, dyco_coroutine_setDeadline(saved));
    Recover(conn);
    PQfinish(conn);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(PGRES_COMMAND_OK, begin);
  EXPECT_NE(PGRES_TUPLES_OK, sleep_status);
  EXPECT_NE(std::string::npos, error.find(strerror(ETIMEDOUT))) << error;
  EXPECT_GE(took, 149);
  EXPECT_LT(took, dyco_test::Slow() ? 1000 : 200);
  fprintf(stderr, "libpq: the transaction ended after %.1f ms: %s", took,
          error.c_str());
  EXPECT_EQ(before, dyco_test::FdCount());
}

}  // namespace
