// dyco — fault injection over the whole runtime (--config=faults only).
//
// A workload of coroutines, timers, a channel, a mutex, a semaphore, a
// coroutine pool, loopback sockets through the hooks, TLS over a socket
// pair, the blocking-call pool, a signal, a child and a dump runs cleanly to
// count, per
// kind, the calls dyco makes (base/fault.h); then, for every kind, every
// call N and every plausible errno, it runs in a child process of its own
// with the Nth call failing. Each child asserts: no crash, no hang, every
// dyco call it made returned success or an error (no other outcome), the
// coroutines that could start all ran to their end, the ticker kept
// ticking, and fds and heap are back at their level once the scheduler is
// freed. The parent prints the table of points covered.
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#define DYCO__FAULT_IMPL 1  // the declarations, not the macros
#include "base/fault.h"
#include "gtest/gtest.h"
#include "tools/testing/fixture.h"
#include "tools/testing/process.h"

extern "C" {
#include "netio/blocking.h"
#include "netio/signal.h"
#include "sync/chan.h"
#include "sync/mutex.h"
#include "sync/semaphore.h"
#include "tls/ssl.h"
}

namespace {

// What the workload saw.
struct Seen {
  int started = 0;   // coroutines whose function began
  int finished = 0;  // and reached its end
  int ticks = 0;     // of the ticker, which must reach kTicks
  bool ticker = false;
  int errors = 0;  // dyco calls that reported an error
  int bad = 0;     // dyco calls that reported something else
  std::string first_bad;
};

constexpr int kTicks = 3;
Seen *seen;

void Bad(const char *what, long got) {
  if (seen->bad++ == 0) {
    seen->first_bad = std::string(what) + " returned " + std::to_string(got);
  }
}

// A dyco call's negative errno or -1/errno: counted as an error when it is
// one dyco documents for resource failures, as bad otherwise.
void Check(const char *what, long rc, bool minus_one_errno = false) {
  if (rc >= 0) {
    return;
  }
  int e = minus_one_errno ? (rc == -1 ? errno : 0) : static_cast<int>(-rc);
  switch (e) {
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case EINTR:
    case ENOBUFS:
    case ECONNABORTED:
    case ETIMEDOUT:
    case EPIPE:
    case ECONNRESET:
    case EIDRM:
    case ENOSPC:
    case EPERM:
    case ECANCELED:
      seen->errors++;
      return;
    default:
      Bad(what, e);
  }
}

struct Coro {
  static void Begin() { seen->started++; }
  static void End() { seen->finished++; }
};

void Ticker(void *) {
  Coro::Begin();
  for (int i = 0; i < kTicks; ++i) {
    dyco_coroutine_sleep(1);
    seen->ticks++;
  }
  Coro::End();
}

struct Shared {
  dyco_chan *chan = nullptr;
  dyco_mutex *mu = nullptr;
  dyco_semaphore *sem = nullptr;
  int listener = -1;
  int port = 0;
  int counter = 0;
};
Shared *shared;

void Producer(void *) {
  Coro::Begin();
  for (int i = 0; i < 10; ++i) {
    int rc = dyco_chan_send(shared->chan, &i, 1000);
    Check("dyco_chan_send", rc);
    if (rc < 0) {
      break;
    }
  }
  dyco_chan_close(shared->chan);
  Coro::End();
}

void Consumer(void *) {
  Coro::Begin();
  for (;;) {
    int v;
    int rc = dyco_chan_recv(shared->chan, &v, 1000);
    if (rc == -EPIPE || rc == -EIDRM || rc == 0) {
      break;  // closed and drained (0: closed, as documented)
    }
    Check("dyco_chan_recv", rc);
    if (rc < 0) {
      break;
    }
  }
  Coro::End();
}

void Locker(void *) {
  Coro::Begin();
  for (int i = 0; i < 5; ++i) {
    int rc = dyco_mutex_lock(shared->mu, 1000);
    Check("dyco_mutex_lock", rc);
    if (rc == 0) {
      shared->counter++;
      dyco_coroutine_sleep(0);
      Check("dyco_mutex_unlock", dyco_mutex_unlock(shared->mu));
    }
    rc = dyco_semaphore_signal(shared->sem);
    Check("dyco_semaphore_signal", rc);
  }
  Coro::End();
}

void Waiter(void *) {
  Coro::Begin();
  for (int i = 0; i < 5; ++i) {
    int rc = dyco_semaphore_wait(shared->sem, 1000);
    Check("dyco_semaphore_wait", rc);
  }
  Coro::End();
}

void Server(void *) {
  Coro::Begin();
  for (int i = 0; i < 2; ++i) {
    int c = accept4(shared->listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      Check("accept4", -1, true);
      if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
          errno == ENOBUFS || errno == EINTR || errno == ECONNABORTED) {
        continue;  // the client's connection waits in the backlog: the
                   // client gives up on its own timeout
      }
      break;  // EAGAIN: the listener's SO_RCVTIMEO, a client that never came
    }
    char buf[64];
    ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n > 0) {
      ssize_t w = send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
      if (w < 0) {
        Check("send", -1, true);
      }
    } else if (n < 0) {
      Check("recv", -1, true);
    }
    close(c);
  }
  Coro::End();
}

void Client(void *) {
  Coro::Begin();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Check("socket", -1, true);
    Coro::End();
    return;
  }
  struct timeval tv = {0, 300000};  // a server that lost its accept
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(shared->port));
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    Check("connect", -1, true);
  } else if (send(fd, "ping", 4, MSG_NOSIGNAL) != 4) {
    Check("send", -1, true);
  } else {
    char buf[8];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      Check("recv", -1, true);
    } else if (n > 0 && (n != 4 || memcmp(buf, "ping", 4) != 0)) {
      Bad("echo", n);
    }
  }
  close(fd);
  Coro::End();
}

intptr_t Add(void *arg) { return reinterpret_cast<intptr_t>(arg) + 1; }

void Blocker(void *) {
  Coro::Begin();
  intptr_t r = dyco_blocking_call(Add, reinterpret_cast<void *>(41));
  if (r != 42) {
    Check("dyco_blocking_call", r, true);
  }
  Coro::End();
}

void PoolTask(void *) {
  Coro::Begin();
  dyco_coroutine_sleep(0);
  Coro::End();
}

void Pooler(void *) {
  Coro::Begin();
  dyco_coropool *cp = dyco_coropool_create(2, 64 * 1024);
  if (cp == nullptr) {
    Check("dyco_coropool_create", -1, true);
  } else {
    for (int i = 0; i < 4; ++i) {
      int cid = dyco_coropool_obtain(cp, PoolTask, nullptr, 1000);
      if (cid < 0) {
        Check("dyco_coropool_obtain", -1, true);
      }
    }
    dyco_coroutine_sleep(2);
    Check("dyco_coropool_destroy", dyco_coropool_destroy(&cp));
  }
  Coro::End();
}

// A signal taken through dyco's signalfd, and a child reaped through its
// pidfd wait.
void Signaller(void *) {
  Coro::Begin();
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  int rc = dyco_signal_init(&mask);
  Check("dyco_signal_init", rc);
  if (rc == 0) {
    raise(SIGUSR1);
    struct signalfd_siginfo si;
    rc = dyco_signal_wait(&si, 1000);
    Check("dyco_signal_wait", rc);
    if (rc > 0 && si.ssi_signo != SIGUSR1) {
      Bad("dyco_signal_wait's signal", si.ssi_signo);
    }
    dyco_signal_destroy();
  }
  pid_t pid = fork();
  if (pid == 0) {
    _exit(7);
  }
  if (pid > 0) {
    int status = 0;
    rc = dyco_signal_waitchild(pid, &status, 5000);
    Check("dyco_signal_waitchild", rc);
    if (rc < 0) {
      waitpid(pid, &status, 0);  // still ours to reap
    } else if (rc != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
      Bad("dyco_signal_waitchild's status", status);
    }
  }
  Coro::End();
}

// TLS 1.3 over a socket pair: a handshake and one message each way.
SSL_CTX *server_ctx;
SSL_CTX *client_ctx;
int tls_fds[2] = {-1, -1};

void TlsSide(void *arg) {
  Coro::Begin();
  const bool server = arg != nullptr;
  SSL *ssl = SSL_new(server ? server_ctx : client_ctx);
  if (ssl == nullptr) {
    Coro::End();
    return;
  }
  SSL_set_fd(ssl, tls_fds[server ? 0 : 1]);
  int rc = server ? dyco_SSL_acceptTimeout(ssl, 2000)
                  : dyco_SSL_connectTimeout(ssl, 2000);
  if (rc == 1) {
    char buf[8];
    if (server) {
      rc = dyco_SSL_readTimeout(ssl, buf, sizeof buf, 2000);
      if (rc == 4) {
        rc = dyco_SSL_writeTimeout(ssl, buf, 4, 2000);
      }
    } else {
      rc = dyco_SSL_writeTimeout(ssl, "tls!", 4, 2000);
      if (rc == 4) {
        rc = dyco_SSL_readTimeout(ssl, buf, sizeof buf, 2000);
        if (rc == 4 && memcmp(buf, "tls!", 4) != 0) {
          Bad("the TLS echo", rc);
        }
      }
    }
  }
  if (rc <= 0) {
    seen->errors++;  // OpenSSL's own report; the other side times out
    ERR_clear_error();
  }
  // The peer may be gone: no close_notify wait.
  SSL_set_quiet_shutdown(ssl, 1);
  SSL_free(ssl);
  Coro::End();
}

void Dumper(void *) {
  Coro::Begin();
  FILE *devnull = fopen("/dev/null", "w");
  if (devnull != nullptr) {
    Check("dyco_schedule_dump", dyco_schedule_dump(devnull));
    fclose(devnull);
  }
  Coro::End();
}

// Creates a coroutine, private-stacked when asked; counts a failure.
int Create(proc_coroutine fn, bool private_stack = false) {
  int cid = dyco_coroutine_create(fn, nullptr);
  if (cid < 0) {
    Check("dyco_coroutine_create", cid);
    return cid;
  }
  if (private_stack) {
    int rc = dyco_coroutine_setStack(cid, nullptr, 128 * 1024);
    if (rc < 0) {
      Check("dyco_coroutine_setStack", rc);
    }
  }
  return cid;
}

// One run of the workload. Returns false when it could not be judged.
void RunWorkload(Seen *s) {
  seen = s;
  Shared sh;
  shared = &sh;
  int id = dyco_schedule_create(0, 0);
  if (id < 0) {
    Check("dyco_schedule_create", id);
    return;
  }
  sh.chan = dyco_chan_create(sizeof(int), 2, 0);
  sh.mu = dyco_mutex_create(0);
  sh.sem = dyco_semaphore_create(0);
  if (sh.chan == nullptr || sh.mu == nullptr || sh.sem == nullptr) {
    Check("dyco_chan/mutex/semaphore_create", -1, true);
  }
  sh.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sh.listener >= 0) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(sh.listener, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        listen(sh.listener, 16) != 0 ||
        getsockname(sh.listener, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
      Bad("bind/listen", errno);
    }
    sh.port = ntohs(a.sin_port);
    // accept gives up as libc's does: a client whose socket failed never
    // connects.
    struct timeval tv = {0, 300000};
    setsockopt(sh.listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  } else {
    Check("socket", -1, true);
  }
  s->ticker = Create(Ticker) > 0;
  if (sh.chan != nullptr) {
    Create(Producer);
    Create(Consumer);
  }
  if (sh.mu != nullptr && sh.sem != nullptr) {
    Create(Locker, true);
    Create(Waiter);
  }
  if (sh.listener >= 0) {
    Create(Server, true);
    Create(Client, true);
    Create(Client);
  }
  Create(Blocker, true);
  Create(Pooler);
  Create(Dumper);
  Create(Signaller);
  if (server_ctx != nullptr &&
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tls_fds) == 0) {
    if (dyco_coroutine_create(TlsSide, &tls_fds) < 0 ||
        dyco_coroutine_create(TlsSide, nullptr) < 0) {
      seen->errors++;
    }
  } else if (server_ctx != nullptr) {
    Check("socketpair", -1, true);
  }
  int rc = dyco_schedule_run();
  Check("dyco_schedule_run", rc);
  for (int &fd : tls_fds) {
    if (fd >= 0) {
      close(fd);
      fd = -1;
    }
  }
  if (sh.listener >= 0) {
    close(sh.listener);
  }
  dyco_chan_destroy(&sh.chan);
  dyco_mutex_destroy(&sh.mu);
  dyco_semaphore_destroy(&sh.sem);
  dyco_schedule *sched = dyco_schedule_self();
  if (sched != nullptr) {
    dyco_schedule_free(sched);
  }
}

size_t HeapInUse() { return mallinfo2().uordblks; }

// Child exit codes.
enum {
  kOk = 0,
  kBadResult = 10,
  kNotFinished = 11,
  kTickerStarved = 12,
  kFdLeak = 13,
  kHeapLeak = 14,
  kNotFired = 15,
};

const char *Outcome(int status) {
  static char buf[64];
  if (WIFSIGNALED(status)) {
    snprintf(
        buf, sizeof buf, "%s",
        WTERMSIG(status) == SIGALRM ? "hang" : strsignal(WTERMSIG(status)));
    return buf;
  }
  switch (WEXITSTATUS(status)) {
    case kOk:
      return "ok";
    case kBadResult:
      return "a call returned what it may not";
    case kNotFinished:
      return "a coroutine did not finish";
    case kTickerStarved:
      return "the ticker starved";
    case kFdLeak:
      return "fd leak";
    case kHeapLeak:
      return "heap leak";
    case kNotFired:
      return "not reached";
  }
  snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
  return buf;
}

// In a child: two clean runs (the first loads what stays loaded), then the
// armed one. Writes the calls counted per kind to `out` when asked. Cold:
// the armed run is the first, where dyco sets up what stays (the blocking
// pool's threads, tables that grow once); its leaks cannot be told from
// that, so they are not checked.
int Child(int kind, long nth, int err, int out, bool cold) {
  mallopt(M_ARENA_MAX, 1);
  alarm(dyco_test::Slow() ? 60 : 15);
  for (int i = 0; i < (cold ? 0 : 2); ++i) {
    Seen warm;
    RunWorkload(&warm);
    if (warm.bad != 0 || warm.errors != 0 || warm.finished != warm.started ||
        warm.ticks != kTicks) {
      fprintf(stderr, "clean run: %s, %d errors, %d/%d finished, %d ticks\n",
              warm.first_bad.c_str(), warm.errors, warm.finished, warm.started,
              warm.ticks);
      return kBadResult;
    }
  }
  const std::set<int> fds = dyco_test::OpenFds();
  const size_t heap = HeapInUse();
  Seen s;
  dyco__fault_arm(kind, nth, err);
  RunWorkload(&s);
  bool fired = dyco__fault_fired() != 0;
  if (out >= 0) {
    long counts[DYCO_FAULT_KINDS];
    for (int k = 0; k < DYCO_FAULT_KINDS; ++k) {
      counts[k] = dyco__fault_calls(k);
    }
    if (write(out, counts, sizeof counts) != sizeof counts) {
      return kBadResult;
    }
  }
  dyco__fault_arm(0, 0, 0);
  if (s.bad != 0) {
    fprintf(stderr, "%s\n", s.first_bad.c_str());
    return kBadResult;
  }
  if (s.finished != s.started) {
    return kNotFinished;
  }
  if (s.ticker && s.ticks != kTicks) {
    return kTickerStarved;
  }
  if (!cold && dyco_test::OpenFds() != fds) {
    return kFdLeak;
  }
  if (!cold && HeapInUse() > heap) {
    fprintf(stderr, "heap %zu -> %zu\n", heap, HeapInUse());
    return kHeapLeak;
  }
  if (nth > 0 && !fired) {
    return kNotFired;
  }
  return kOk;
}

int RunChild(int kind, long nth, int err, long *counts, bool cold = false) {
  int p[2] = {-1, -1};
  if (counts != nullptr && pipe(p) != 0) {
    return -1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (p[0] >= 0) {
      close(p[0]);
    }
    _exit(Child(kind, nth, err, p[1], cold));
  }
  if (p[1] >= 0) {
    close(p[1]);
  }
  if (counts != nullptr) {
    ssize_t n = read(p[0], counts, sizeof(long) * DYCO_FAULT_KINDS);
    close(p[0]);
    if (n != static_cast<ssize_t>(sizeof(long) * DYCO_FAULT_KINDS)) {
      memset(counts, 0, sizeof(long) * DYCO_FAULT_KINDS);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// The errnos each kind may plausibly fail with.
std::vector<int> ErrnosOf(int kind) {
  switch (kind) {
    case DYCO_FAULT_MALLOC:
    case DYCO_FAULT_MMAP:
    case DYCO_FAULT_MPROTECT:
      return {ENOMEM};
    case DYCO_FAULT_MADVISE:
      return {ENOMEM, EINVAL};
    case DYCO_FAULT_EPOLL_CTL:
      return {ENOMEM, ENOSPC};
    case DYCO_FAULT_PTHREAD_CREATE:
      return {EAGAIN};
    case DYCO_FAULT_EPOLL_CREATE:
      return {EMFILE, ENFILE, ENOMEM};
    case DYCO_FAULT_EPOLL_WAIT:
      return {EINTR};
    case DYCO_FAULT_EVENTFD:
    case DYCO_FAULT_PIPE:
    case DYCO_FAULT_SIGNALFD:
    case DYCO_FAULT_PIDFD:
      return {EMFILE, ENFILE};
    case DYCO_FAULT_SOCKET:
      return {EMFILE, ENFILE, ENOBUFS};
    case DYCO_FAULT_ACCEPT:
      return {EMFILE, ENFILE, ECONNABORTED, EINTR};
    case DYCO_FAULT_READ:
    case DYCO_FAULT_WRITE:
      return {EINTR};
    case DYCO_FAULT_URING_SETUP:
      return {ENOMEM, EPERM};
  }
  return {};
}

TEST(FaultTest, EveryCallOfEveryKindFailsCleanly) {
  // A certificate for the TLS pair, and the two contexts: made once, here;
  // every child inherits them.
  const char *t = getenv("TEST_TMPDIR");
  const std::string d = std::string(t != nullptr ? t : "/tmp") + "/fault_certs";
  const std::string cmd =
      "mkdir -p " + d +
      " && openssl req -x509 -newkey ec -pkeyopt "
      "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost "
      "-keyout " +
      d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1";
  ASSERT_EQ(0, system(cmd.c_str()));
  server_ctx = SSL_CTX_new(TLS_server_method());
  client_ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(1, SSL_CTX_use_certificate_file(
                   server_ctx, (d + "/cert.pem").c_str(), SSL_FILETYPE_PEM));
  ASSERT_EQ(1, SSL_CTX_use_PrivateKey_file(server_ctx, (d + "/key.pem").c_str(),
                                           SSL_FILETYPE_PEM));
  SSL_CTX_set_num_tickets(server_ctx, 0);
  // DYCO_FAULT_ONE=kind,n,errno runs that one point (to debug it).
  if (const char *one = getenv("DYCO_FAULT_ONE")) {
    int kind = 0, err = 0, cold = 0;
    long n = 0;
    ASSERT_LE(3, sscanf(one, "%d,%ld,%d,%d", &kind, &n, &err, &cold));
    double t0 = dyco_test::NowMs();
    int st = RunChild(kind, n, err, nullptr, cold != 0);
    printf("%s call %ld errno %d: %s in %.0f ms\n", dyco__fault_name(kind), n,
           err, Outcome(st), dyco_test::NowMs() - t0);
    return;
  }
  long warm_counts[DYCO_FAULT_KINDS], cold_counts[DYCO_FAULT_KINDS];
  int status = RunChild(0, 0, 0, warm_counts);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kOk)
      << "the clean run: " << Outcome(status);
  status = RunChild(0, 0, 0, cold_counts, true);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kOk)
      << "the clean cold run: " << Outcome(status);
  // Each call N of each kind; past kMaxPoints, a sample spread over the
  // rest (the last call included).
  const long kMaxPoints = dyco_test::Slow() ? 40 : 150;
  int points = 0, failed = 0, not_reached = 0;
  printf("%-16s %-5s %6s %-14s %7s %s\n", "kind", "run", "calls", "errno",
         "points", "outcome");
  for (int pass = 0; pass < 2; ++pass) {
    const bool cold = pass == 1;
    long *counts = cold ? cold_counts : warm_counts;
    for (int kind = 0; kind < DYCO_FAULT_KINDS; ++kind) {
      for (int err : ErrnosOf(kind)) {
        std::vector<long> ns;
        const long total = counts[kind];
        for (long n = 1; n <= total; ++n) {
          if (total <= kMaxPoints || n <= kMaxPoints / 2 || n == total ||
              n % ((total + kMaxPoints - 1) / (kMaxPoints / 2)) == 0) {
            ns.push_back(n);
          }
        }
        int bad_here = 0;
        std::string first;
        for (long n : ns) {
          int st = RunChild(kind, n, err, nullptr, cold);
          points++;
          if (WIFEXITED(st) && WEXITSTATUS(st) == kNotFired) {
            // The counts of some kinds (the poller's waits) depend on timing:
            // this run made fewer calls than the counting one.
            not_reached++;
            continue;
          }
          if (!(WIFEXITED(st) && WEXITSTATUS(st) == kOk)) {
            failed++;
            if (bad_here++ == 0) {
              first =
                  std::string(Outcome(st)) + " at call " + std::to_string(n);
            }
          }
        }
        printf("%-16s %-5s %6ld %-14s %7zu %s\n", dyco__fault_name(kind),
               cold ? "cold" : "warm", total, strerrorname_np(err), ns.size(),
               ns.empty() ? "(dyco makes no such call here)"
               : bad_here == 0
                   ? "ok"
                   : (std::to_string(bad_here) + " failed, first: " + first)
                         .c_str());
        EXPECT_EQ(0, bad_here)
            << dyco__fault_name(kind) << " " << (cold ? "cold " : "")
            << strerrorname_np(err) << ": " << first;
      }
    }
  }
  printf(
      "fault points: %d run (%d not reached: fewer calls that time), "
      "%d failed\n",
      points, not_reached, failed);
}

}  // namespace
