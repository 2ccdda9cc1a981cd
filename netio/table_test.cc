// dyco — netio layer tests: the behaviour table of docs/netio.md. Every
// hooked call that can wait, in every situation of the table, run twice
// with the same events: the libc way (a thread without a scheduler calling
// libc's own function, found past the hooks) and the dyco way (a coroutine
// calling the hook). Return value, errno and timing class must agree; where
// Linux gives a thread nothing defined (a close while it waits), dyco's
// answer is the one libc gives for the call on a closed fd.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "netio/internal/net_testing.h"
#include "tools/testing/fixture.h"

extern "C" {
#include "netio/hook.h"
// glibc's _FORTIFY_SOURCE entry points (hooked too).
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int fcntl64(int fd, int cmd, ...);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       sockaddr *addr, socklen_t *alen);
int __poll_chk(pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(pollfd *fds, nfds_t n, const timespec *timeout,
                const sigset_t *mask, size_t fdslen);
}

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::Scaled;

// --- The two ways to call ------------------------------------------------

// The functions a call uses: libc's own, or the hooks.
struct Fns {
  decltype(&::read) read;
  decltype(&::readv) readv;
  decltype(&::recv) recv;
  decltype(&::recvfrom) recvfrom;
  decltype(&::recvmsg) recvmsg;
  int (*recvmmsg)(int, mmsghdr *, unsigned, int, timespec *);
  decltype(&::__read_chk) read_chk;
  decltype(&::__recv_chk) recv_chk;
  decltype(&::__recvfrom_chk) recvfrom_chk;
  decltype(&::write) write;
  decltype(&::writev) writev;
  decltype(&::send) send;
  decltype(&::sendto) sendto;
  decltype(&::sendmsg) sendmsg;
  int (*sendmmsg)(int, mmsghdr *, unsigned, int);
  ssize_t (*sendfile)(int, int, off_t *, size_t);
  ssize_t (*sendfile64)(int, int, off64_t *, size_t);
  ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
  int (*accept)(int, sockaddr *, socklen_t *);
  int (*accept4)(int, sockaddr *, socklen_t *, int);
  int (*connect)(int, const sockaddr *, socklen_t);
  decltype(&::poll) poll;
  int (*ppoll)(pollfd *, nfds_t, const timespec *, const sigset_t *);
  int (*select)(int, fd_set *, fd_set *, fd_set *, timeval *);
  int (*pselect)(int, fd_set *, fd_set *, fd_set *, const timespec *,
                 const sigset_t *);
  decltype(&::__poll_chk) poll_chk;
  decltype(&::__ppoll_chk) ppoll_chk;
  decltype(&::epoll_wait) epoll_wait;
  decltype(&::epoll_pwait) epoll_pwait;
  int (*epoll_pwait2)(int, epoll_event *, int, const timespec *,
                      const sigset_t *);
  decltype(&::nanosleep) nanosleep;
  decltype(&::usleep) usleep;
  decltype(&::sleep) sleep;
};

#define HOOK(name) f.name = &::name
Fns Hooks() {
  Fns f;
  HOOK(read);
  HOOK(readv);
  HOOK(recv);
  HOOK(recvfrom);
  HOOK(recvmsg);
  f.recvmmsg = &::recvmmsg;
  f.read_chk = &::__read_chk;
  f.recv_chk = &::__recv_chk;
  f.recvfrom_chk = &::__recvfrom_chk;
  HOOK(write);
  HOOK(writev);
  HOOK(send);
  HOOK(sendto);
  HOOK(sendmsg);
  f.sendmmsg = &::sendmmsg;
  f.sendfile = &::sendfile;
  f.sendfile64 = &::sendfile64;
  f.splice = &::splice;
  f.accept = &::accept;
  f.accept4 = &::accept4;
  f.connect = &::connect;
  HOOK(poll);
  f.ppoll = &::ppoll;
  f.select = &::select;
  f.pselect = &::pselect;
  f.poll_chk = &::__poll_chk;
  f.ppoll_chk = &::__ppoll_chk;
  HOOK(epoll_wait);
  HOOK(epoll_pwait);
  f.epoll_pwait2 = &::epoll_pwait2;
  HOOK(nanosleep);
  HOOK(usleep);
  HOOK(sleep);
  return f;
}
#undef HOOK

// libc's own function, past the hooks (dlsym RTLD_NEXT); the hook where
// there is none (a static program): outside coroutines it is libc.
template <typename T>
void Next(T *slot, const char *name) {
  void *p = dlsym(RTLD_NEXT, name);
  if (p != nullptr) {
    *slot = reinterpret_cast<T>(p);
  }
}

Fns Libc() {
  Fns f = Hooks();
  Next(&f.read, "read");
  Next(&f.readv, "readv");
  Next(&f.recv, "recv");
  Next(&f.recvfrom, "recvfrom");
  Next(&f.recvmsg, "recvmsg");
  Next(&f.recvmmsg, "recvmmsg");
  Next(&f.read_chk, "__read_chk");
  Next(&f.recv_chk, "__recv_chk");
  Next(&f.recvfrom_chk, "__recvfrom_chk");
  Next(&f.write, "write");
  Next(&f.writev, "writev");
  Next(&f.send, "send");
  Next(&f.sendto, "sendto");
  Next(&f.sendmsg, "sendmsg");
  Next(&f.sendmmsg, "sendmmsg");
  Next(&f.sendfile, "sendfile");
  Next(&f.sendfile64, "sendfile64");
  Next(&f.splice, "splice");
  Next(&f.accept, "accept");
  Next(&f.accept4, "accept4");
  Next(&f.connect, "connect");
  Next(&f.poll, "poll");
  Next(&f.ppoll, "ppoll");
  Next(&f.select, "select");
  Next(&f.pselect, "pselect");
  Next(&f.poll_chk, "__poll_chk");
  Next(&f.ppoll_chk, "__ppoll_chk");
  Next(&f.epoll_wait, "epoll_wait");
  Next(&f.epoll_pwait, "epoll_pwait");
  Next(&f.epoll_pwait2, "epoll_pwait2");
  Next(&f.nanosleep, "nanosleep");
  Next(&f.usleep, "usleep");
  Next(&f.sleep, "sleep");
  return f;
}

// What a call did.
struct Out {
  long ret = -2;
  int err = 0;
  double ms = 0;  // how long it took
  // How long after the events' clock started the call began (a loaded
  // machine can start it late; the events keep their times).
  double begun = 0;
  long aux = 0;  // revents, bytes, what is left of a timeout ...
  // (dyco) another coroutine's turns while the call was under way: any at
  // all shows the call let the thread go.
  int ticks = 0;
};

// A call: makes it with f, sets ret (and aux) in o.
using Call = std::function<void(const Fns &f, Out &o)>;

// Something that happens while the call waits: at `at` ms after the call
// began, from another thread (libc) or coroutine (dyco), unless
// `thread` asks for a thread in both (a signal to the caller's thread).
struct Event {
  double at;
  std::function<void(pthread_t caller)> act;
  bool thread = false;
};

// The kernel's id of the thread that makes the call (set by RunLibc's and
// RunDyco's thread as it starts).
std::atomic<pid_t> caller_tid{0};

// Runs e's events on a thread of their own, in time order, then says done.
std::thread EventThread(std::vector<Event> ev, bool only_threads,
                        pthread_t caller, double start,
                        std::atomic<bool> *done) {
  std::stable_sort(ev.begin(), ev.end(),
                   [](const Event &a, const Event &b) { return a.at < b.at; });
  return std::thread([ev, only_threads, caller, start, done] {
    for (const Event &e : ev) {
      if (only_threads && !e.thread) {
        continue;
      }
      double wait = start + e.at - NowMs();
      if (wait > 0) {
        usleep(static_cast<useconds_t>(wait * 1000));
      }
      e.act(caller);
    }
    done->store(true);
  });
}

Out RunLibc(const Call &call, const std::vector<Event> &ev) {
  static const Fns libc = Libc();
  Out o;
  std::atomic<bool> events_done{false};
  std::atomic<bool> started{false};
  std::atomic<double> start{0};
  std::thread t([&] {
    caller_tid = static_cast<pid_t>(syscall(SYS_gettid));
    started = true;
    while (start.load() == 0) {
      usleep(100);
    }
    const double begin = NowMs();
    o.begun = begin - start.load();
    errno = 0;
    call(libc, o);
    o.err = errno;
    o.ms = NowMs() - begin;
    while (!events_done.load()) {  // a signal must find this thread alive
      usleep(1000);
    }
  });
  pthread_t caller = t.native_handle();
  while (!started) {
    usleep(100);
  }
  start = NowMs();
  std::thread e = EventThread(ev, false, caller, start.load(), &events_done);
  e.join();
  t.join();
  return o;
}

Out RunDyco(const Call &call, const std::vector<Event> &ev,
            bool ticker = false) {
  static const Fns hooks = Hooks();
  Out o;
  std::atomic<bool> events_done{false};
  std::atomic<double> start{0};
  std::atomic<bool> ready{false};
  std::thread t([&] {
    caller_tid = static_cast<pid_t>(syscall(SYS_gettid));
    bool stop = false;
    bool in_call = false;
    if (ticker) {
      Go([&] {
        while (!stop) {
          dyco_coroutine_sleep(2);
          if (in_call) {
            o.ticks++;
          }
        }
      });
    }
    Go([&] {
      ready = true;
      while (start.load() == 0) {
        dyco_coroutine_yield();
      }
      const double begin = NowMs();
      o.begun = begin - start.load();
      errno = 0;
      in_call = true;
      call(hooks, o);
      in_call = false;
      o.err = errno;
      o.ms = NowMs() - begin;
      stop = true;
    });
    for (const Event &e : ev) {
      if (e.thread) {
        continue;
      }
      Go([&] {
        while (start.load() == 0) {
          dyco_coroutine_yield();
        }
        double wait = start.load() + e.at - NowMs();
        if (wait > 0) {
          dyco_coroutine_sleep(static_cast<uint32_t>(wait));
        }
        // With a ticker, the event also waits for its first turn during the
        // call: a call that began late on a loaded machine would otherwise
        // be answered before the ticker's next 2 ms timer. A call that
        // blocked the thread never lets this coroutine run at all.
        while (ticker && !stop && o.ticks == 0) {
          dyco_coroutine_sleep(1);
        }
        e.act(pthread_self());
      });
    }
    EXPECT_EQ(0, dyco_schedule_run());
    while (!events_done.load()) {  // a signal must find this thread alive
      usleep(1000);
    }
    dyco_schedule_free(dyco_schedule_self());
  });
  while (!ready) {
    usleep(100);
  }
  start = NowMs();
  std::thread e =
      EventThread(ev, true, t.native_handle(), start.load(), &events_done);
  e.join();
  t.join();
  return o;
}

// Timing classes: at once, at the first event (its time), at a later one.
enum class When { kAtOnce, kAt, kLater };

// Judged on the events' clock: a call that began late (by `begun` ms) has
// less far to go to each event.
When ClassOf(double ms, double first, double later, double begun = 0) {
  if (ms < (first - begun) * 0.5) {
    return When::kAtOnce;
  }
  if (later > 0 && begun + ms >= later * 0.9) {
    return When::kLater;
  }
  return When::kAt;
}

When ClassOf(const Out &o, double first, double later) {
  return ClassOf(o.ms, first, later, o.begun);
}

const char *Name(When w) {
  return w == When::kAtOnce ? "at once"
         : w == When::kAt   ? "at the first event"
                            : "at a later event";
}

// Whether the two runs agree (as ExpectSame checks).
bool Same(const Out &libc, const Out &dyco, double first, double later = 0) {
  return libc.ret == dyco.ret && (libc.ret >= 0 || libc.err == dyco.err) &&
         libc.aux == dyco.aux &&
         ClassOf(libc, first, later) == ClassOf(dyco, first, later);
}

// With DYCO_TABLE_PRINT set, each cell's outcome goes to stderr (what the
// table in docs/netio.md says).
void Print(const char *who, const Out &o, double first, double later) {
  if (getenv("DYCO_TABLE_PRINT") == nullptr) {
    return;
  }
  const ::testing::TestInfo *t =
      ::testing::UnitTest::GetInstance()->current_test_info();
  fprintf(stderr, "CELL %s.%s %s ret=%ld errno=%s aux=%ld when=%s\n",
          t->test_suite_name(), t->name(), who, o.ret,
          o.ret < 0 ? strerrorname_np(o.err) : "-", o.aux,
          Name(ClassOf(o, first, later)));
}

// The two runs agree: return, errno (when it failed), timing class.
void ExpectSame(const Out &libc, const Out &dyco, double first,
                double later = 0) {
  Print("libc", libc, first, later);
  Print("dyco", dyco, first, later);
  EXPECT_EQ(libc.ret, dyco.ret)
      << "libc " << strerror(libc.err) << ", dyco " << strerror(dyco.err);
  if (libc.ret < 0) {
    EXPECT_EQ(libc.err, dyco.err)
        << "libc " << strerror(libc.err) << ", dyco " << strerror(dyco.err);
  }
  EXPECT_EQ(libc.aux, dyco.aux);
  When wl = ClassOf(libc, first, later);
  When wd = ClassOf(dyco, first, later);
  EXPECT_EQ(wl, wd) << "libc " << Name(wl) << " (" << libc.ms
                    << " ms, begun at " << libc.begun << "), dyco " << Name(wd)
                    << " (" << dyco.ms << " ms, begun at " << dyco.begun << ")";
}

// --- Fixtures shared by the rows ------------------------------------------

// Writes to a shut-down socket return EPIPE rather than end the test.
const bool sigpipe_ignored = signal(SIGPIPE, SIG_IGN) != SIG_ERR;

// Event times, scaled for slow machines.
// Under valgrind the first event comes later still: its threads run one at
// a time, and a setup (filling the fd table, starting a thread) can take
// 100 ms there, which at 200 ms made a call that waits look as if it
// returned at once. The later event need not move as far.
#if defined(DYCO_VALGRIND)
double T1() { return 400; }
double T2() { return 1000; }
#else
double T1() { return Scaled(40); }
double T2() { return Scaled(160); }
#endif

std::atomic<int> handled{0};

void OnSignal(int) { handled++; }

// A SIGUSR1 handler with or without SA_RESTART, for one test.
struct Handler {
  struct sigaction old;
  explicit Handler(bool restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = OnSignal;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
  }
  ~Handler() { sigaction(SIGUSR1, &old, nullptr); }
};

// Whether thread `tid` of this process sleeps in a system call now (its
// /proc syscall file names one; "running" while it runs or waits for a
// CPU).
bool AsleepInSyscall(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE *f = fopen(path, "r");
  if (f == nullptr) {
    return true;  // no such file: nothing to wait for
  }
  char word[32] = "";
  bool asleep = fscanf(f, "%31s", word) == 1 && strcmp(word, "running") != 0;
  fclose(f);
  return asleep;
}

// A SIGUSR1 for the caller's thread once it sleeps in a system call, as a
// thread blocked in the call (libc) or a scheduler with every coroutine
// waiting (dyco) does. dyco's connect to a full Unix backlog tries again
// every 8 ms, and on a loaded machine its thread can spend much of that
// waiting for a CPU between two tries, where a signal interrupts nothing,
// as one that finds a thread running its own code (docs/netio.md): CI's
// parallel run failed five tries in a row so. Waits 1 s at most.
Event Signal(double at) {
  return Event{at,
               [](pthread_t caller) {
                 const pid_t tid = caller_tid.load();
                 const double give_up = NowMs() + 1000;
                 while (!AsleepInSyscall(tid) && NowMs() < give_up) {
                   usleep(50);
                 }
                 pthread_kill(caller, SIGUSR1);
               },
               true};
}

// A connected TCP pair on 127.0.0.1, made the libc way: [0] the caller's
// end, [1] its peer.
struct Tcp {
  int fd[2] = {-1, -1};
  Tcp() {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int port = dyco_test::BindAndListen(l);
    fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = dyco_test::Loopback(port);
    EXPECT_EQ(0, connect(fd[0], reinterpret_cast<sockaddr *>(&a), sizeof a));
    fd[1] = accept(l, nullptr, nullptr);
    close(l);
  }
  ~Tcp() {
    for (int f : fd) {
      if (f >= 0) {
        close(f);
      }
    }
  }
  // The end whose close an event already made.
  void Forget(int i) { fd[i] = -1; }
};

void SetTimeout(int fd, int name, int ms) {
  timeval tv = {ms / 1000, (ms % 1000) * 1000};
  ASSERT_EQ(0, setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv));
}

void SetNonBlocking(int fd) {
  ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
}

// Fills the fd table (a lowered RLIMIT_NOFILE) for the life of the object.
struct FullFdTable {
  struct rlimit old;
  std::vector<int> held;
  FullFdTable() {
    getrlimit(RLIMIT_NOFILE, &old);
    struct rlimit low = old;
    low.rlim_cur = 512;
    setrlimit(RLIMIT_NOFILE, &low);
    for (;;) {
      int fd = dup(2);
      if (fd < 0) {
        break;
      }
      held.push_back(fd);
    }
  }
  ~FullFdTable() {
    for (int fd : held) {
      close(fd);
    }
    setrlimit(RLIMIT_NOFILE, &old);
  }
};

// A peer reset: the peer closes with SO_LINGER {1, 0} (an RST).
void Reset(int fd) {
  linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

// --- Emulators -------------------------------------------------------------

bool Emulated() { return getenv("DYCO_TEST_EMULATED") != nullptr; }

// qemu-user does not interrupt a blocked system call as the kernel does (a
// read interrupted under qemu-i386 returns -1 with errno 0): the EINTR
// cells are checked on the host and under the sanitizers.
#define SKIP_EINTR_UNDER_EMULATION()                                       \
  if (Emulated()) {                                                        \
    GTEST_SKIP() << "qemu-user does not emulate interrupted system calls " \
                    "as Linux runs them";                                  \
  }

// --- The families' common runner -------------------------------------------

// A row of a family: a call on the family's context (its fds).
template <typename Ctx>
struct RowOf {
  const char *name;
  std::function<void(const Fns &f, Ctx &c, Out &o)> call;
};

// Runs a scenario the libc way (run_way(0)) and the dyco way (run_way(1))
// and judges that they agree. A scenario on which they disagree is run
// again, up to `tries` times in all, and the last try judged: a stall of
// the whole machine (seen in CI under a sanitizer, a second or more) can put
// one run's call in another timing class, where a real difference shows in
// every try. Each retry says so on stderr. Returns the dyco way's outcome.
template <typename RunWay>
Out Agree(const char *name, RunWay run_way, double first, double later = 0,
          int tries = 3) {
  Out r[2];
  for (int attempt = 1;; ++attempt) {
    r[0] = run_way(0);
    r[1] = run_way(1);
    if (Same(r[0], r[1], first, later) || attempt >= tries) {
      break;
    }
    fprintf(stderr,
            "%s: try %d disagreed (libc ret %ld %s, %s; dyco ret %ld %s, %s): "
            "again\n",
            name, attempt, r[0].ret, r[0].ret < 0 ? strerror(r[0].err) : "",
            Name(ClassOf(r[0], first, later)), r[1].ret,
            r[1].ret < 0 ? strerror(r[1].err) : "",
            Name(ClassOf(r[1], first, later)));
  }
  ExpectSame(r[0], r[1], first, later);
  return r[1];
}

// The same scenario the libc way then the dyco way, each with a fresh
// context: setup(ctx, events) arranges it. The two must agree (Agree).
template <typename Ctx, typename Setup>
Out RunBoth(const RowOf<Ctx> &row, Setup setup, double first, double later = 0,
            bool ticker = false, int tries = 3) {
  return Agree(
      row.name,
      [&](int way) {
        auto c = std::make_shared<Ctx>();
        std::vector<Event> ev;
        setup(*c, ev);
        auto fn = row.call;
        Call call = [fn, c](const Fns &f, Out &o) { fn(f, *c, o); };
        return way == 0 ? RunLibc(call, ev) : RunDyco(call, ev, ticker);
      },
      first, later, tries);
}

// RunBoth, for a scenario whose dyco side polls with a timer (a connect to
// a Unix listener's full backlog, which has no readiness to wait for): a
// signal that lands in the instant a poll ends (or while the thread waits
// for a CPU after it) finds the thread between sleeps, and interrupts
// nothing, as one that finds a thread running. Up to five tries; each must
// be a real run.
template <typename Ctx, typename Setup>
void RunBothTries(const RowOf<Ctx> &row, Setup setup, double first,
                  double later) {
  RunBoth(row, setup, first, later, false, 5);
}

// RunBoth with the fd table full when the call is made (filled by the
// first event, the call waiting for it), and freed at `free_at`.
template <typename Ctx, typename Setup>
Out RunBothFull(const RowOf<Ctx> &row, Setup setup, double first,
                double free_at) {
  auto gate = std::make_shared<std::atomic<int>>(0);
  RowOf<Ctx> gated = {row.name,
                      [fn = row.call, gate](const Fns &f, Ctx &c, Out &o) {
                        while (gate->load() == 0) {
                          usleep(500);  // yields inside a coroutine
                        }
                        fn(f, c, o);
                      }};
  return RunBoth(
      gated,
      [setup, gate, free_at](Ctx &c, std::vector<Event> &ev) {
        gate->store(0);
        setup(c, ev);
        auto full = std::make_shared<std::unique_ptr<FullFdTable>>();
        ev.insert(ev.begin(), Event{0, [full, gate](pthread_t) {
                                      full->reset(new FullFdTable);
                                      gate->store(1);
                                    }});
        ev.push_back(Event{free_at, [full](pthread_t) { full->reset(); }});
      },
      first);
}

// A test name from a call's name (no leading underscores).
std::string TestName(const char *name) {
  std::string n = name;
  while (!n.empty() && n[0] == '_') {
    n.erase(0, 1);
  }
  for (char &ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) {
      ch = '_';
    }
  }
  return n;
}

// --- Reads ----------------------------------------------------------------

struct Row {
  const char *name;
  std::function<void(const Fns &f, int fd, Out &o)> call;
};

std::vector<Row> Reads() {
  return {
      {"read",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         o.ret = f.read(fd, b, sizeof b);
       }},
      {"readv",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         iovec v = {b, sizeof b};
         o.ret = f.readv(fd, &v, 1);
       }},
      {"recv",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         o.ret = f.recv(fd, b, sizeof b, 0);
       }},
      {"recvfrom",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         o.ret = f.recvfrom(fd, b, sizeof b, 0, nullptr, nullptr);
       }},
      {"recvmsg",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         iovec v = {b, sizeof b};
         msghdr m = {};
         m.msg_iov = &v;
         m.msg_iovlen = 1;
         o.ret = f.recvmsg(fd, &m, 0);
       }},
      {"recvmmsg",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         iovec v = {b, sizeof b};
         mmsghdr m = {};
         m.msg_hdr.msg_iov = &v;
         m.msg_hdr.msg_iovlen = 1;
         o.ret = f.recvmmsg(fd, &m, 1, 0, nullptr);
         o.aux = o.ret == 1 ? m.msg_len : 0;
       }},
      {"__read_chk",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         o.ret = f.read_chk(fd, b, sizeof b, sizeof b);
       }},
      {"__recv_chk",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         o.ret = f.recv_chk(fd, b, sizeof b, sizeof b, 0);
       }},
      {"__recvfrom_chk",
       [](const Fns &f, int fd, Out &o) {
         char b[16];
         o.ret = f.recvfrom_chk(fd, b, sizeof b, sizeof b, 0, nullptr, nullptr);
       }},
  };
}

class ReadTable : public ::testing::TestWithParam<int> {
 protected:
  const Row &row() {
    static const std::vector<Row> rows = Reads();
    return rows[static_cast<size_t>(GetParam())];
  }
  // The same scenario the libc way and the dyco way.
  template <typename Setup>
  void Both(Setup setup, double first, double later = 0, bool ticker = false,
            Out *dyco_out = nullptr) {
    Out d = Agree(
        row().name,
        [&](int way) {
          Tcp p;
          std::vector<Event> ev;
          setup(p, ev);
          int fd = p.fd[0];
          auto fn = row().call;
          Call call = [fn, fd](const Fns &f, Out &o) { fn(f, fd, o); };
          Out o = way == 0 ? RunLibc(call, ev) : RunDyco(call, ev, ticker);
          if (p.fd[0] >= 0 && !dyco_test::IsOpen(p.fd[0])) {
            p.Forget(0);
          }
          if (p.fd[1] >= 0 && !dyco_test::IsOpen(p.fd[1])) {
            p.Forget(1);
          }
          return o;
        },
        first, later);
    if (dyco_out != nullptr) {
      *dyco_out = d;
    }
  }
};

Event Write(int fd, double at, const char *what = "hello") {
  return Event{at, [fd, what](pthread_t) {
                 EXPECT_EQ(static_cast<ssize_t>(strlen(what)),
                           write(fd, what, strlen(what)));
               }};
}

// Outside a coroutine (a thread with no scheduler) the hook is libc.
TEST_P(ReadTable, OutsideACoroutine) {
  static const Fns hooks = Hooks();
  static const Fns libc = Libc();
  Agree(
      row().name,
      [&](int way) {
        Tcp p;
        int fd = p.fd[0];
        auto fn = row().call;
        const Fns &f = way == 0 ? libc : hooks;
        std::vector<Event> ev = {Write(p.fd[1], T1())};
        return RunLibc([&f, fn, fd](const Fns &, Out &o) { fn(f, fd, o); }, ev);
      },
      T1());
}

TEST_P(ReadTable, Inside) {
  Out d;
  Both([](Tcp &p,
          std::vector<Event> &ev) { ev.push_back(Write(p.fd[1], T1())); },
       T1(), 0, true, &d);
  EXPECT_GE(d.ticks, 1) << "the call blocked the thread";
}

TEST_P(ReadTable, NonBlockingFd) {
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        SetNonBlocking(p.fd[0]);
        ev.push_back(Write(p.fd[1], T1()));
      },
      T1());
}

TEST_P(ReadTable, SoRcvtimeo) {
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        SetTimeout(p.fd[0], SO_RCVTIMEO, static_cast<int>(T1()));
        ev.push_back(Write(p.fd[1], T2()));
      },
      T1(), T2());
}

// Linux leaves a thread blocked on a socket another thread closed
// (POSIX: unspecified); dyco's waiter gets what libc answers for the call
// on the closed fd: EBADF, when the close comes.
TEST_P(ReadTable, ClosedWhileWaiting) {
  Tcp p;
  int fd = p.fd[0];
  auto fn = row().call;
  Out d = RunDyco([fn, fd](const Fns &f, Out &o) { fn(f, fd, o); },
                  {Event{T1(), [fd](pthread_t) { close(fd); }}});
  p.Forget(0);
  Print("dyco", d, T1(), 0);
  EXPECT_EQ(-1, d.ret);
  EXPECT_EQ(EBADF, d.err);
  EXPECT_EQ(When::kAt, ClassOf(d, T1(), 0)) << d.ms;
  Out l = RunLibc([fn](const Fns &f, Out &o) { fn(f, 1 << 20, o); }, {});
  EXPECT_EQ(l.ret, d.ret);
  EXPECT_EQ(l.err, d.err);
}

TEST_P(ReadTable, ShutdownWhileWaiting) {
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        int fd = p.fd[0];
        ev.push_back(Event{T1(), [fd](pthread_t) { shutdown(fd, SHUT_RDWR); }});
      },
      T1());
}

TEST_P(ReadTable, PeerReset) {
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        int peer = p.fd[1];
        ev.push_back(Event{T1(), [peer](pthread_t) { Reset(peer); }});
      },
      T1());
}

// SA_RESTART: the call goes on and gets the data; without: EINTR; with
// SO_RCVTIMEO: EINTR even under SA_RESTART (signal(7)).
TEST_P(ReadTable, EintrWithSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(Write(p.fd[1], T2()));
      },
      T1(), T2());
}

TEST_P(ReadTable, EintrWithoutSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(false);
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(Write(p.fd[1], T2()));
      },
      T1(), T2());
}

TEST_P(ReadTable, EintrWithSaRestartAndSoRcvtimeo) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  Both(
      [](Tcp &p, std::vector<Event> &ev) {
        SetTimeout(p.fd[0], SO_RCVTIMEO, 5000);
        ev.push_back(Signal(T1()));
        ev.push_back(Write(p.fd[1], T2()));
      },
      T1(), T2());
}

// A row of the read table as a row on a TCP pair.
RowOf<Tcp> TcpRow(const Row &r) {
  return {r.name,
          [fn = r.call](const Fns &f, Tcp &p, Out &o) { fn(f, p.fd[0], o); }};
}

TEST_P(ReadTable, FdTableFull) {
  RunBothFull(
      TcpRow(row()),
      [](Tcp &p, std::vector<Event> &ev) {
        ev.push_back(Write(p.fd[1], T1()));
      },
      T1(), T1() + 10);
}

INSTANTIATE_TEST_SUITE_P(Calls, ReadTable,
                         ::testing::Range(0, static_cast<int>(Reads().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Reads()[i.param].name);
                         });

// --- Writes ---------------------------------------------------------------

// A TCP pair whose caller's end has a full send buffer (small buffers,
// filled), a 1 KiB file for sendfile and a pipe holding 1 KiB for splice.
// Each call writes 1 KiB, which fits once the peer read what was there.
// A Unix stream pair by default (its sender blocks exactly while its
// buffer is full), a TCP pair with tiny buffers for a peer reset.
struct Pair {
  int fd[2] = {-1, -1};
  explicit Pair(bool tcp) {
    if (tcp) {
      Tcp t;
      fd[0] = t.fd[0];
      fd[1] = t.fd[1];
      t.Forget(0);
      t.Forget(1);
      int small = 4096;
      setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
      setsockopt(fd[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    } else {
      EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fd));
    }
  }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) {
        close(f);
      }
    }
  }
  void Forget(int i) { fd[i] = -1; }
};

struct Full {
  Pair p;
  size_t queued = 0;  // bytes sitting in the buffers
  int file = -1;
  int pipe[2] = {-1, -1};
  explicit Full(bool tcp = false) : p(tcp) {
    char junk[65536];
    memset(junk, 'j', sizeof junk);
    for (int calm = 0; calm < 3;) {
      ssize_t n = send(p.fd[0], junk, sizeof junk, MSG_DONTWAIT);
      if (n > 0) {
        queued += static_cast<size_t>(n);
        calm = 0;
      } else {
        calm++;
        usleep(5000);
      }
    }
    char path[] = "/tmp/dyco_table_XXXXXX";
    file = mkstemp(path);
    unlink(path);
    char kb[1024];
    memset(kb, 'k', sizeof kb);
    EXPECT_EQ(1024, write(file, kb, sizeof kb));
    lseek(file, 0, SEEK_SET);
    EXPECT_EQ(0, ::pipe(pipe));
    EXPECT_EQ(1024, write(pipe[1], kb, sizeof kb));
  }
  ~Full() {
    close(file);
    close(pipe[0]);
    close(pipe[1]);
  }
};

// The peer reads what was queued: room for the call's 1 KiB.
Event Drain(const std::shared_ptr<Full> &c, double at) = delete;
Event DrainOf(int peer, size_t bytes, double at) {
  return Event{at, [peer, bytes](pthread_t) {
                 std::vector<char> b(65536);
                 size_t got = 0;
                 while (got < bytes) {
                   ssize_t n = read(peer, b.data(), b.size());
                   if (n <= 0) {
                     break;
                   }
                   got += static_cast<size_t>(n);
                 }
               }};
}

using WriteRow = RowOf<Full>;

std::vector<WriteRow> Writes() {
  static const char kb[1024] = {};
  return {
      {"write", [](const Fns &f, Full &c,
                   Out &o) { o.ret = f.write(c.p.fd[0], kb, sizeof kb); }},
      {"writev",
       [](const Fns &f, Full &c, Out &o) {
         iovec v[2] = {{const_cast<char *>(kb), 512},
                       {const_cast<char *>(kb) + 512, 512}};
         o.ret = f.writev(c.p.fd[0], v, 2);
       }},
      {"send", [](const Fns &f, Full &c,
                  Out &o) { o.ret = f.send(c.p.fd[0], kb, sizeof kb, 0); }},
      {"sendto",
       [](const Fns &f, Full &c, Out &o) {
         o.ret = f.sendto(c.p.fd[0], kb, sizeof kb, 0, nullptr, 0);
       }},
      {"sendmsg",
       [](const Fns &f, Full &c, Out &o) {
         iovec v = {const_cast<char *>(kb), sizeof kb};
         msghdr m = {};
         m.msg_iov = &v;
         m.msg_iovlen = 1;
         o.ret = f.sendmsg(c.p.fd[0], &m, 0);
       }},
      {"sendmmsg",
       [](const Fns &f, Full &c, Out &o) {
         iovec v = {const_cast<char *>(kb), sizeof kb};
         mmsghdr m = {};
         m.msg_hdr.msg_iov = &v;
         m.msg_hdr.msg_iovlen = 1;
         o.ret = f.sendmmsg(c.p.fd[0], &m, 1, 0);
         o.aux = o.ret == 1 ? m.msg_len : 0;
       }},
      {"sendfile",
       [](const Fns &f, Full &c, Out &o) {
         off_t off = 0;
         o.ret = f.sendfile(c.p.fd[0], c.file, &off, 1024);
         o.aux = off;
       }},
      {"sendfile64",
       [](const Fns &f, Full &c, Out &o) {
         off64_t off = 0;
         o.ret = f.sendfile64(c.p.fd[0], c.file, &off, 1024);
         o.aux = off;
       }},
      {"splice",
       [](const Fns &f, Full &c, Out &o) {
         o.ret = f.splice(c.pipe[0], nullptr, c.p.fd[0], nullptr, 1024, 0);
       }},
  };
}

class WriteTable : public ::testing::TestWithParam<int> {
 protected:
  const WriteRow &row() {
    static const std::vector<WriteRow> rows = Writes();
    return rows[static_cast<size_t>(GetParam())];
  }
};

TEST_P(WriteTable, OutsideACoroutine) {
  // The hook outside a coroutine against libc, both on plain threads.
  static const Fns hooks = Hooks();
  static const Fns libc = Libc();
  Agree(
      row().name,
      [&](int way) {
        auto c = std::make_shared<Full>();
        const Fns &f = way == 0 ? libc : hooks;
        auto fn = row().call;
        return RunLibc([&f, fn, c](const Fns &, Out &o) { fn(f, *c, o); },
                       {DrainOf(c->p.fd[1], c->queued, T1())});
      },
      T1());
}

TEST_P(WriteTable, Inside) {
  Out d = RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T1()));
      },
      T1(), 0, true);
  EXPECT_GE(d.ticks, 1) << "the call blocked the thread";
}

TEST_P(WriteTable, NonBlockingFd) {
  RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        SetNonBlocking(c.p.fd[0]);
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T1()));
      },
      T1());
}

TEST_P(WriteTable, SoSndtimeo) {
  RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        SetTimeout(c.p.fd[0], SO_SNDTIMEO, static_cast<int>(T1()));
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T2()));
      },
      T1(), T2());
}

TEST_P(WriteTable, ClosedWhileWaiting) {
  auto c = std::make_shared<Full>();
  int fd = c->p.fd[0];
  auto fn = row().call;
  Out d = RunDyco([fn, c](const Fns &f, Out &o) { fn(f, *c, o); },
                  {Event{T1(), [fd](pthread_t) { close(fd); }}});
  c->p.Forget(0);
  Print("dyco", d, T1(), 0);
  EXPECT_EQ(-1, d.ret);
  EXPECT_EQ(EBADF, d.err);
  EXPECT_EQ(When::kAt, ClassOf(d, T1(), 0)) << d.ms;
}

TEST_P(WriteTable, ShutdownWhileWaiting) {
  RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        int fd = c.p.fd[0];
        ev.push_back(Event{T1(), [fd](pthread_t) { shutdown(fd, SHUT_RDWR); }});
      },
      T1());
}

// Over TCP: the peer's RST while the writer waits for room.
struct FullTcp : Full {
  FullTcp() : Full(true) {}
};

TEST_P(WriteTable, PeerReset) {
  const WriteRow &r = row();
  RowOf<FullTcp> tcp_row = {
      r.name, [r](const Fns &f, FullTcp &c, Out &o) { r.call(f, c, o); }};
  RunBoth(
      tcp_row,
      [](FullTcp &c, std::vector<Event> &ev) {
        int peer = c.p.fd[1];
        c.p.Forget(1);
        ev.push_back(Event{T1(), [peer](pthread_t) { Reset(peer); }});
      },
      T1());
}

TEST_P(WriteTable, EintrWithSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T2()));
      },
      T1(), T2());
}

TEST_P(WriteTable, EintrWithoutSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(false);
  RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T2()));
      },
      T1(), T2());
}

TEST_P(WriteTable, EintrWithSaRestartAndSoSndtimeo) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBoth(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        SetTimeout(c.p.fd[0], SO_SNDTIMEO, 5000);
        ev.push_back(Signal(T1()));
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T2()));
      },
      T1(), T2());
}

TEST_P(WriteTable, FdTableFull) {
  RunBothFull(
      row(),
      [](Full &c, std::vector<Event> &ev) {
        ev.push_back(DrainOf(c.p.fd[1], c.queued, T1()));
      },
      T1(), T1() + 10);
}

INSTANTIATE_TEST_SUITE_P(Calls, WriteTable,
                         ::testing::Range(0, static_cast<int>(Writes().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Writes()[i.param].name);
                         });

// --- accept ---------------------------------------------------------------

struct Listener {
  int l = -1;
  int port = -1;
  std::vector<int> clients;
  Listener() {
    l = socket(AF_INET, SOCK_STREAM, 0);
    port = dyco_test::BindAndListen(l);
  }
  ~Listener() {
    if (dyco_test::IsOpen(l)) {
      close(l);
    }
    for (int c : clients) {
      close(c);
    }
  }
};

// A client connects at `at` (and, with reset, sends an RST right after).
Event ConnectTo(Listener &ls, double at, bool reset = false) {
  int port = ls.port;
  std::vector<int> *clients = &ls.clients;
  return Event{at, [port, clients, reset](pthread_t) {
                 int c = socket(AF_INET, SOCK_STREAM, 0);
                 sockaddr_in a = dyco_test::Loopback(port);
                 EXPECT_EQ(
                     0, connect(c, reinterpret_cast<sockaddr *>(&a), sizeof a));
                 if (reset) {
                   Reset(c);
                 } else {
                   clients->push_back(c);
                 }
               }};
}

using AcceptRow = RowOf<Listener>;

std::vector<AcceptRow> Accepts() {
  auto done = [](int fd, Out &o) {
    o.ret = fd >= 0 ? 0 : -1;
    if (fd >= 0) {
      close(fd);
    }
  };
  return {
      {"accept", [done](const Fns &f, Listener &c,
                        Out &o) { done(f.accept(c.l, nullptr, nullptr), o); }},
      {"accept4",
       [done](const Fns &f, Listener &c, Out &o) {
         done(f.accept4(c.l, nullptr, nullptr, SOCK_CLOEXEC), o);
       }},
  };
}

class AcceptTable : public ::testing::TestWithParam<int> {
 protected:
  const AcceptRow &row() {
    static const std::vector<AcceptRow> rows = Accepts();
    return rows[static_cast<size_t>(GetParam())];
  }
};

TEST_P(AcceptTable, OutsideACoroutine) {
  static const Fns hooks = Hooks();
  static const Fns libc = Libc();
  Agree(
      row().name,
      [&](int way) {
        auto c = std::make_shared<Listener>();
        const Fns &f = way == 0 ? libc : hooks;
        auto fn = row().call;
        return RunLibc([&f, fn, c](const Fns &, Out &o) { fn(f, *c, o); },
                       {ConnectTo(*c, T1())});
      },
      T1());
}

TEST_P(AcceptTable, Inside) {
  Out d = RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        ev.push_back(ConnectTo(c, T1()));
      },
      T1(), 0, true);
  EXPECT_GE(d.ticks, 1) << "the call blocked the thread";
}

TEST_P(AcceptTable, NonBlockingFd) {
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        SetNonBlocking(c.l);
        ev.push_back(ConnectTo(c, T1()));
      },
      T1());
}

TEST_P(AcceptTable, SoRcvtimeo) {
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        SetTimeout(c.l, SO_RCVTIMEO, static_cast<int>(T1()));
        ev.push_back(ConnectTo(c, T2()));
      },
      T1(), T2());
}

TEST_P(AcceptTable, ClosedWhileWaiting) {
  auto c = std::make_shared<Listener>();
  int fd = c->l;
  auto fn = row().call;
  Out d = RunDyco([fn, c](const Fns &f, Out &o) { fn(f, *c, o); },
                  {Event{T1(), [fd](pthread_t) { close(fd); }}});
  Print("dyco", d, T1(), 0);
  EXPECT_EQ(-1, d.ret);
  EXPECT_EQ(EBADF, d.err);
  EXPECT_EQ(When::kAt, ClassOf(d, T1(), 0)) << d.ms;
}

TEST_P(AcceptTable, ShutdownWhileWaiting) {
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        int fd = c.l;
        ev.push_back(Event{T1(), [fd](pthread_t) { shutdown(fd, SHUT_RDWR); }});
      },
      T1());
}

// A client that connects and resets before it is accepted: accept still
// returns its connection (Linux keeps it queued).
TEST_P(AcceptTable, PeerReset) {
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        ev.push_back(ConnectTo(c, T1(), true));
      },
      T1());
}

TEST_P(AcceptTable, EintrWithSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(ConnectTo(c, T2()));
      },
      T1(), T2());
}

TEST_P(AcceptTable, EintrWithoutSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(false);
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(ConnectTo(c, T2()));
      },
      T1(), T2());
}

TEST_P(AcceptTable, EintrWithSaRestartAndSoRcvtimeo) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBoth(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        SetTimeout(c.l, SO_RCVTIMEO, 5000);
        ev.push_back(Signal(T1()));
        ev.push_back(ConnectTo(c, T2()));
      },
      T1(), T2());
}

// No fd free when accept is called: EMFILE at once, even with no
// connection yet (libc's accept takes its fd number before it waits).
TEST_P(AcceptTable, FdTableFull) {
#if defined(DYCO_VALGRIND)
  // valgrind keeps the fd limit itself (its own fds sit above it): the
  // kernel's accept finds a free fd and waits for the connection, which
  // valgrind then refuses with EMFILE; libc's call is not Linux's here.
  GTEST_SKIP() << "valgrind, not the kernel, enforces RLIMIT_NOFILE: libc's "
                  "accept waits for a connection before its EMFILE";
#endif
  RunBothFull(
      row(),
      [](Listener &c, std::vector<Event> &ev) {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        c.clients.push_back(client);
        int port = c.port;
        ev.push_back(Event{T1(), [client, port](pthread_t) {
                             sockaddr_in a = dyco_test::Loopback(port);
                             connect(client, reinterpret_cast<sockaddr *>(&a),
                                     sizeof a);
                           }});
      },
      T1(), T1() + 10);
}

INSTANTIATE_TEST_SUITE_P(Calls, AcceptTable,
                         ::testing::Range(0,
                                          static_cast<int>(Accepts().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Accepts()[i.param].name);
                         });

// --- connect --------------------------------------------------------------

// A Unix stream listener whose backlog is full: a blocking connect to it
// waits until the listener accepts (Linux's unix_wait_for_peer).
struct Backlog {
  int l = -1;
  sockaddr_un addr = {};
  socklen_t len = 0;
  int fd = -1;  // the caller's socket
  std::vector<int> queued;
  Backlog() {
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    // Autobind: the kernel picks a unique abstract name (tests of other
    // processes, in other pid namespaces, share the namespace of names).
    addr.sun_family = AF_UNIX;
    EXPECT_EQ(
        0, bind(l, reinterpret_cast<sockaddr *>(&addr), sizeof(sa_family_t)));
    len = sizeof addr;
    EXPECT_EQ(0, getsockname(l, reinterpret_cast<sockaddr *>(&addr), &len));
    EXPECT_EQ(0, listen(l, 0));
    for (;;) {
      int q = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (connect(q, reinterpret_cast<sockaddr *>(&addr), len) != 0) {
        close(q);
        break;
      }
      queued.push_back(q);
    }
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
  }
  ~Backlog() {
    for (int f : {l, fd}) {
      if (f >= 0 && dyco_test::IsOpen(f)) {
        close(f);
      }
    }
    for (int q : queued) {
      close(q);
    }
  }
};

// The listener accepts one: room for the waiting connect.
Event AcceptOne(int l, double at) {
  return Event{at, [l](pthread_t) {
                 int c = accept(l, nullptr, nullptr);
                 if (c >= 0) {
                   close(c);
                 }
               }};
}

using ConnectRow = RowOf<Backlog>;

std::vector<ConnectRow> Connects() {
  return {{"connect", [](const Fns &f, Backlog &b, Out &o) {
             o.ret =
                 f.connect(b.fd, reinterpret_cast<sockaddr *>(&b.addr), b.len);
           }}};
}

class ConnectTable : public ::testing::TestWithParam<int> {
 protected:
  const ConnectRow &row() {
    static const std::vector<ConnectRow> rows = Connects();
    return rows[static_cast<size_t>(GetParam())];
  }
};

TEST_P(ConnectTable, OutsideACoroutine) {
  static const Fns hooks = Hooks();
  static const Fns libc = Libc();
  Agree(
      row().name,
      [&](int way) {
        auto c = std::make_shared<Backlog>();
        const Fns &f = way == 0 ? libc : hooks;
        auto fn = row().call;
        return RunLibc([&f, fn, c](const Fns &, Out &o) { fn(f, *c, o); },
                       {AcceptOne(c->l, T1())});
      },
      T1());
}

TEST_P(ConnectTable, Inside) {
  Out d = RunBoth(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        ev.push_back(AcceptOne(c.l, T1()));
      },
      T1(), 0, true);
  EXPECT_GE(d.ticks, 1) << "the call blocked the thread";
}

TEST_P(ConnectTable, NonBlockingFd) {
  RunBoth(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        SetNonBlocking(c.fd);
        ev.push_back(AcceptOne(c.l, T1()));
      },
      T1());
}

TEST_P(ConnectTable, SoSndtimeo) {
  RunBoth(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        SetTimeout(c.fd, SO_SNDTIMEO, static_cast<int>(T1()));
        ev.push_back(AcceptOne(c.l, T2()));
      },
      T1(), T2());
}

TEST_P(ConnectTable, ClosedWhileWaiting) {
  auto c = std::make_shared<Backlog>();
  int fd = c->fd;
  auto fn = row().call;
  Out d = RunDyco([fn, c](const Fns &f, Out &o) { fn(f, *c, o); },
                  {Event{T1(), [fd](pthread_t) { close(fd); }}});
  Print("dyco", d, T1(), 0);
  EXPECT_EQ(-1, d.ret);
  EXPECT_EQ(EBADF, d.err);
  EXPECT_EQ(When::kAt, ClassOf(d, T1(), 0)) << d.ms;
}

TEST_P(ConnectTable, ShutdownWhileWaiting) {
  RunBoth(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        int fd = c.fd;
        ev.push_back(Event{T1(), [fd](pthread_t) { shutdown(fd, SHUT_RDWR); }});
        ev.push_back(AcceptOne(c.l, T2()));
      },
      T1(), T2());
}

// The peer (the listener) goes away while the connect waits.
TEST_P(ConnectTable, PeerGone) {
  RunBoth(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        int l = c.l;
        ev.push_back(Event{T1(), [l](pthread_t) { close(l); }});
      },
      T1());
}

TEST_P(ConnectTable, EintrWithSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBothTries(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(AcceptOne(c.l, T2()));
      },
      T1(), T2());
}

TEST_P(ConnectTable, EintrWithoutSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(false);
  RunBothTries(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(AcceptOne(c.l, T2()));
      },
      T1(), T2());
}

TEST_P(ConnectTable, EintrWithSaRestartAndSoSndtimeo) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBothTries(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        SetTimeout(c.fd, SO_SNDTIMEO, 5000);
        ev.push_back(Signal(T1()));
        ev.push_back(AcceptOne(c.l, T2()));
      },
      T1(), T2());
}

TEST_P(ConnectTable, FdTableFull) {
  RunBothFull(
      row(),
      [](Backlog &c, std::vector<Event> &ev) {
        ev.push_back(AcceptOne(c.l, T1() + 20));
      },
      T1() + 20, T1());
}

INSTANTIATE_TEST_SUITE_P(Calls, ConnectTable,
                         ::testing::Range(0,
                                          static_cast<int>(Connects().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Connects()[i.param].name);
                         });

// --- poll, select and the epoll_wait family --------------------------------

// A TCP pair and an epoll instance watching the caller's end for EPOLLIN.
struct Watched {
  Tcp p;
  int ep = -1;
  Watched() {
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = p.fd[0];
    EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, p.fd[0], &ev));
  }
  ~Watched() {
    if (dyco_test::IsOpen(ep)) {
      close(ep);
    }
  }
};

using PollRow = RowOf<Watched>;

// Each waits at most T2 for fd[0] to be readable; aux: what it reported.
std::vector<PollRow> Polls() {
  auto ms = [] { return static_cast<int>(T2()); };
  auto ts = [] {
    timespec t;
    t.tv_sec = static_cast<time_t>(T2() / 1000);
    t.tv_nsec = static_cast<long>(T2() - t.tv_sec * 1000) * 1000000L;
    return t;
  };
  auto sets = [](Watched &c, fd_set *rd) {
    FD_ZERO(rd);
    FD_SET(c.p.fd[0], rd);
    return c.p.fd[0] + 1;
  };
  return {
      {"poll",
       [ms](const Fns &f, Watched &c, Out &o) {
         pollfd p = {c.p.fd[0], POLLIN, 0};
         o.ret = f.poll(&p, 1, ms());
         o.aux = p.revents;
       }},
      {"ppoll",
       [ts](const Fns &f, Watched &c, Out &o) {
         pollfd p = {c.p.fd[0], POLLIN, 0};
         timespec t = ts();
         o.ret = f.ppoll(&p, 1, &t, nullptr);
         o.aux = p.revents;
       }},
      {"select",
       [ms, sets](const Fns &f, Watched &c, Out &o) {
         fd_set rd;
         int n = sets(c, &rd);
         timeval tv = {0, ms() * 1000};
         tv.tv_sec = tv.tv_usec / 1000000;
         tv.tv_usec %= 1000000;
         o.ret = f.select(n, &rd, nullptr, nullptr, &tv);
         o.aux = o.ret > 0 && FD_ISSET(c.p.fd[0], &rd);
       }},
      {"pselect",
       [ts, sets](const Fns &f, Watched &c, Out &o) {
         fd_set rd;
         int n = sets(c, &rd);
         timespec t = ts();
         o.ret = f.pselect(n, &rd, nullptr, nullptr, &t, nullptr);
         o.aux = o.ret > 0 && FD_ISSET(c.p.fd[0], &rd);
       }},
      {"__poll_chk",
       [ms](const Fns &f, Watched &c, Out &o) {
         pollfd p = {c.p.fd[0], POLLIN, 0};
         o.ret = f.poll_chk(&p, 1, ms(), sizeof p);
         o.aux = p.revents;
       }},
      {"__ppoll_chk",
       [ts](const Fns &f, Watched &c, Out &o) {
         pollfd p = {c.p.fd[0], POLLIN, 0};
         timespec t = ts();
         o.ret = f.ppoll_chk(&p, 1, &t, nullptr, sizeof p);
         o.aux = p.revents;
       }},
      {"epoll_wait",
       [ms](const Fns &f, Watched &c, Out &o) {
         epoll_event ev[4];
         o.ret = f.epoll_wait(c.ep, ev, 4, ms());
         o.aux = o.ret > 0 ? ev[0].events : 0;
       }},
      {"epoll_pwait",
       [ms](const Fns &f, Watched &c, Out &o) {
         epoll_event ev[4];
         sigset_t none;
         sigemptyset(&none);
         o.ret = f.epoll_pwait(c.ep, ev, 4, ms(), &none);
         o.aux = o.ret > 0 ? ev[0].events : 0;
       }},
      {"epoll_pwait2",
       [ts](const Fns &f, Watched &c, Out &o) {
         epoll_event ev[4];
         timespec t = ts();
         o.ret = f.epoll_pwait2(c.ep, ev, 4, &t, nullptr);
         o.aux = o.ret > 0 ? ev[0].events : 0;
       }},
  };
}

class PollTable : public ::testing::TestWithParam<int> {
 protected:
  const PollRow &row() {
    static const std::vector<PollRow> rows = Polls();
    return rows[static_cast<size_t>(GetParam())];
  }
  bool IsEpoll() { return strncmp(row().name, "epoll", 5) == 0; }
};

TEST_P(PollTable, OutsideACoroutine) {
  static const Fns hooks = Hooks();
  static const Fns libc = Libc();
  Agree(
      row().name,
      [&](int way) {
        auto c = std::make_shared<Watched>();
        const Fns &f = way == 0 ? libc : hooks;
        auto fn = row().call;
        return RunLibc([&f, fn, c](const Fns &, Out &o) { fn(f, *c, o); },
                       {Write(c->p.fd[1], T1())});
      },
      T1(), T2());
}

TEST_P(PollTable, Inside) {
  Out d = RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        ev.push_back(Write(c.p.fd[1], T1()));
      },
      T1(), T2(), true);
  if (d.ret == -1 && d.err == ENOSYS) {
    return;  // epoll_pwait2 where the kernel (or qemu) lacks it: as libc
  }
  EXPECT_GE(d.ticks, 1) << "the call blocked the thread";
}

// Nothing ready within the time: 0 when it passes.
TEST_P(PollTable, Timeout) {
  RunBoth(row(), [](Watched &, std::vector<Event> &) {}, T2() * 0.5, T2());
}

// poll never looks at O_NONBLOCK, nor at socket timeouts.
TEST_P(PollTable, NonBlockingFd) {
  RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        SetNonBlocking(c.p.fd[0]);
        ev.push_back(Write(c.p.fd[1], T1()));
      },
      T1(), T2());
}

TEST_P(PollTable, SoRcvtimeo) {
  RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        SetTimeout(c.p.fd[0], SO_RCVTIMEO, 5);
        ev.push_back(Write(c.p.fd[1], T1()));
      },
      T1(), T2());
}

// The polled fd closed while the call waits. poll: POLLNVAL, select:
// EBADF, when the close comes (a thread's call would see it at its next
// scan; libc answers so for an fd already closed). The epoll family: the
// fd leaves the set and the wait goes on, exactly as libc's.
TEST_P(PollTable, ClosedWhileWaiting) {
  if (IsEpoll()) {
    RunBoth(
        row(),
        [](Watched &c, std::vector<Event> &ev) {
          int fd = c.p.fd[0];
          c.p.Forget(0);
          ev.push_back(Event{T1(), [fd](pthread_t) { close(fd); }});
        },
        T1(), T2());
    return;
  }
  auto c = std::make_shared<Watched>();
  int fd = c->p.fd[0];
  auto fn = row().call;
  Out d = RunDyco([fn, c](const Fns &f, Out &o) { fn(f, *c, o); },
                  {Event{T1(), [fd](pthread_t) { close(fd); }}});
  // What libc answers for the fd once closed.
  Out l = RunLibc([fn, c](const Fns &f, Out &o) { fn(f, *c, o); }, {});
  c->p.Forget(0);
  Print("libc-on-closed", l, T1(), T2());
  Print("dyco", d, T1(), T2());
  EXPECT_EQ(l.ret, d.ret);
  EXPECT_EQ(l.aux, d.aux);
  if (l.ret < 0) {
    EXPECT_EQ(l.err, d.err);
  }
  EXPECT_EQ(When::kAt, ClassOf(d, T1(), T2())) << d.ms;
}

TEST_P(PollTable, ShutdownWhileWaiting) {
  RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        int fd = c.p.fd[0];
        ev.push_back(Event{T1(), [fd](pthread_t) { shutdown(fd, SHUT_RDWR); }});
      },
      T1(), T2());
}

TEST_P(PollTable, PeerReset) {
  RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        int peer = c.p.fd[1];
        c.p.Forget(1);
        ev.push_back(Event{T1(), [peer](pthread_t) { Reset(peer); }});
      },
      T1(), T2());
}

// poll, select and epoll_wait are never restarted: EINTR either way.
TEST_P(PollTable, EintrWithSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(Write(c.p.fd[1], T2() * 0.8));
      },
      T1(), T2() * 0.8);
}

TEST_P(PollTable, EintrWithoutSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(false);
  RunBoth(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        ev.push_back(Signal(T1()));
        ev.push_back(Write(c.p.fd[1], T2() * 0.8));
      },
      T1(), T2() * 0.8);
}

TEST_P(PollTable, FdTableFull) {
  RunBothFull(
      row(),
      [](Watched &c, std::vector<Event> &ev) {
        ev.push_back(Write(c.p.fd[1], T1()));
      },
      T1(), T1() + 10);
}

INSTANTIATE_TEST_SUITE_P(Calls, PollTable,
                         ::testing::Range(0, static_cast<int>(Polls().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Polls()[i.param].name);
                         });

// --- Sleeps ------------------------------------------------------------------

struct Nothing {};

using SleepRow = RowOf<Nothing>;

// nanosleep and usleep for T2; sleep for a second. aux: nanosleep's rem
// set (> 0) or not.
std::vector<SleepRow> Sleeps() {
  return {
      {"nanosleep",
       [](const Fns &f, Nothing &, Out &o) {
         const long ms = static_cast<long>(T2());  // a second or more too
         timespec req = {ms / 1000, (ms % 1000) * 1000000L};
         timespec rem = {0, 0};
         o.ret = f.nanosleep(&req, &rem);
         o.aux = rem.tv_sec > 0 || rem.tv_nsec > 0;
       }},
      {"usleep",
       [](const Fns &f, Nothing &, Out &o) {
         o.ret = f.usleep(static_cast<useconds_t>(T2() * 1000));
       }},
      {"sleep", [](const Fns &f, Nothing &,
                   Out &o) { o.ret = static_cast<long>(f.sleep(1)); }},
  };
}

class SleepTable : public ::testing::TestWithParam<int> {
 protected:
  const SleepRow &row() {
    static const std::vector<SleepRow> rows = Sleeps();
    return rows[static_cast<size_t>(GetParam())];
  }
  double Length() { return strcmp(row().name, "sleep") == 0 ? 1000 : T2(); }
};

TEST_P(SleepTable, OutsideACoroutine) {
  static const Fns hooks = Hooks();
  static const Fns libc = Libc();
  Agree(
      row().name,
      [&](int way) {
        auto c = std::make_shared<Nothing>();
        const Fns &f = way == 0 ? libc : hooks;
        auto fn = row().call;
        return RunLibc([&f, fn, c](const Fns &, Out &o) { fn(f, *c, o); }, {});
      },
      Length());
}

TEST_P(SleepTable, Inside) {
  Out d =
      RunBoth(row(), [](Nothing &, std::vector<Event> &) {}, Length(), 0, true);
  EXPECT_GE(d.ticks, 1) << "the call blocked the thread";
}

// A sleep is never restarted: EINTR (sleep: the whole seconds left).
TEST_P(SleepTable, EintrWithSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(true);
  RunBoth(
      row(),
      [](Nothing &, std::vector<Event> &ev) { ev.push_back(Signal(T1())); },
      T1(), Length());
}

TEST_P(SleepTable, EintrWithoutSaRestart) {
  SKIP_EINTR_UNDER_EMULATION();
  Handler h(false);
  RunBoth(
      row(),
      [](Nothing &, std::vector<Event> &ev) { ev.push_back(Signal(T1())); },
      T1(), Length());
}

TEST_P(SleepTable, FdTableFull) {
  RunBothFull(
      row(), [](Nothing &, std::vector<Event> &) {}, Length(), Length() * 0.5);
}

INSTANTIATE_TEST_SUITE_P(Calls, SleepTable,
                         ::testing::Range(0, static_cast<int>(Sleeps().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Sleeps()[i.param].name);
                         });

// --- Calls that never wait: they make, close, or change fds -----------------

// libc's function of that name past the hooks, or the hook.
template <typename T>
T Pick(T hook, const char *name, bool libc) {
  if (libc) {
    void *p = dlsym(RTLD_NEXT, name);
    if (p != nullptr) {
      return reinterpret_cast<T>(p);
    }
  }
  return hook;
}

// What such a call works on, made before the fd table may fill up: a spare
// fd, a stream over another, a high fd for closefrom, a socket.
struct Spare {
  int fd = -1;
  FILE *file = nullptr;
  int high = -1;
  int sock = -1;
  Spare() {
    fd = dup(2);
    file = fdopen(dup(2), "w");
    high = dup2(2, 1000);
    sock = socket(AF_INET, SOCK_STREAM, 0);
  }
  ~Spare() {
    for (int f : {fd, high, sock}) {
      if (f >= 0 && dyco_test::IsOpen(f)) {
        close(f);
      }
    }
  }
};

// ret: 0 when the call made an fd (closed again) or succeeded, -1 else.
void Made(int fd, Out &o) {
  o.ret = fd >= 0 ? 0 : -1;
  if (fd >= 0) {
    close(fd);
  }
}

struct PlainRow {
  const char *name;
  std::function<void(bool libc, Spare &c, Out &o)> call;
};

#define PICK(fn) Pick(&::fn, #fn, libc)
std::vector<PlainRow> Plains() {
  static const std::string tmp =
      std::string(getenv("TEST_TMPDIR") != nullptr ? getenv("TEST_TMPDIR")
                                                   : "/tmp") +
      "/dyco_table_open";
  static const char *kTmp = tmp.c_str();
  return {
      {"socket",
       [](bool libc, Spare &, Out &o) {
         Made(PICK(socket)(AF_INET, SOCK_STREAM, 0), o);
       }},
      {"socketpair",
       [](bool libc, Spare &, Out &o) {
         int sv[2];
         o.ret = PICK(socketpair)(AF_UNIX, SOCK_STREAM, 0, sv);
         if (o.ret == 0) {
           close(sv[0]);
           close(sv[1]);
         }
       }},
      {"pipe",
       [](bool libc, Spare &, Out &o) {
         int p[2];
         o.ret = PICK(pipe)(p);
         if (o.ret == 0) {
           close(p[0]);
           close(p[1]);
         }
       }},
      {"pipe2",
       [](bool libc, Spare &, Out &o) {
         int p[2];
         o.ret = PICK(pipe2)(p, O_CLOEXEC);
         if (o.ret == 0) {
           close(p[0]);
           close(p[1]);
         }
       }},
      {"open",
       [](bool libc, Spare &, Out &o) {
         Made(Pick<int (*)(const char *, int, ...)>(&::open, "open", libc)(
                  kTmp, O_CREAT | O_RDWR, 0600),
              o);
       }},
      {"openat",
       [](bool libc, Spare &, Out &o) {
         Made(Pick<int (*)(int, const char *, int, ...)>(
                  &::openat, "openat", libc)(AT_FDCWD, kTmp, O_CREAT | O_RDWR,
                                             0600),
              o);
       }},
      {"open64",
       [](bool libc, Spare &, Out &o) {
         Made(Pick<int (*)(const char *, int, ...)>(&::open64, "open64", libc)(
                  kTmp, O_CREAT | O_RDWR, 0600),
              o);
       }},
      {"openat64",
       [](bool libc, Spare &, Out &o) {
         Made(Pick<int (*)(int, const char *, int, ...)>(
                  &::openat64, "openat64", libc)(AT_FDCWD, kTmp,
                                                 O_CREAT | O_RDWR, 0600),
              o);
       }},
      {"__open_2", [](bool libc, Spare &,
                      Out &o) { Made(PICK(__open_2)(kTmp, O_RDWR), o); }},
      {"__open64_2", [](bool libc, Spare &,
                        Out &o) { Made(PICK(__open64_2)(kTmp, O_RDWR), o); }},
      {"__openat_2",
       [](bool libc, Spare &, Out &o) {
         Made(PICK(__openat_2)(AT_FDCWD, kTmp, O_RDWR), o);
       }},
      {"__openat64_2",
       [](bool libc, Spare &, Out &o) {
         Made(PICK(__openat64_2)(AT_FDCWD, kTmp, O_RDWR), o);
       }},
      {"creat",
       [](bool libc, Spare &, Out &o) { Made(PICK(creat)(kTmp, 0600), o); }},
      {"creat64",
       [](bool libc, Spare &, Out &o) { Made(PICK(creat64)(kTmp, 0600), o); }},
      {"eventfd",
       [](bool libc, Spare &, Out &o) { Made(PICK(eventfd)(0, 0), o); }},
      {"timerfd_create",
       [](bool libc, Spare &, Out &o) {
         Made(PICK(timerfd_create)(CLOCK_MONOTONIC, 0), o);
       }},
      {"signalfd",
       [](bool libc, Spare &, Out &o) {
         sigset_t m;
         sigemptyset(&m);
         Made(PICK(signalfd)(-1, &m, 0), o);
       }},
      {"epoll_create",
       [](bool libc, Spare &, Out &o) { Made(PICK(epoll_create)(1), o); }},
      {"epoll_create1",
       [](bool libc, Spare &, Out &o) {
         Made(PICK(epoll_create1)(EPOLL_CLOEXEC), o);
       }},
      {"memfd_create",
       [](bool libc, Spare &, Out &o) { Made(PICK(memfd_create)("t", 0), o); }},
      {"inotify_init",
       [](bool libc, Spare &, Out &o) { Made(PICK(inotify_init)(), o); }},
      {"inotify_init1",
       [](bool libc, Spare &, Out &o) { Made(PICK(inotify_init1)(0), o); }},
      {"dup", [](bool libc, Spare &c, Out &o) { Made(PICK(dup)(c.fd), o); }},
      {"dup2",
       [](bool libc, Spare &c, Out &o) {
         o.ret = PICK(dup2)(c.fd, 999) == 999 ? 0 : -1;
         close(999);
       }},
      {"dup3",
       [](bool libc, Spare &c, Out &o) {
         o.ret = PICK(dup3)(c.fd, 999, O_CLOEXEC) == 999 ? 0 : -1;
         close(999);
       }},
      {"fcntl(F_DUPFD)",
       [](bool libc, Spare &c, Out &o) {
         Made(Pick<int (*)(int, int, ...)>(&::fcntl, "fcntl", libc)(c.fd,
                                                                    F_DUPFD, 0),
              o);
       }},
      {"fcntl64(F_DUPFD)",
       [](bool libc, Spare &c, Out &o) {
         Made(Pick<int (*)(int, int, ...)>(&::fcntl64, "fcntl64", libc)(
                  c.fd, F_DUPFD, 0),
              o);
       }},
      {"fcntl(F_GETFL)",
       [](bool libc, Spare &c, Out &o) {
         o.ret = Pick<int (*)(int, int, ...)>(&::fcntl, "fcntl", libc)(
                     c.sock, F_GETFL) >= 0
                     ? 0
                     : -1;
       }},
      {"setsockopt",
       [](bool libc, Spare &c, Out &o) {
         int one = 1;
         o.ret = PICK(setsockopt)(c.sock, SOL_SOCKET, SO_KEEPALIVE, &one,
                                  sizeof one);
       }},
      {"close", [](bool libc, Spare &c, Out &o) { o.ret = PICK(close)(c.fd); }},
      {"fclose",
       [](bool libc, Spare &c, Out &o) {
         o.ret = PICK(fclose)(c.file);
         c.file = nullptr;
       }},
      {"close_range",
       [](bool libc, Spare &c, Out &o) {
         o.ret = PICK(close_range)(static_cast<unsigned>(c.fd),
                                   static_cast<unsigned>(c.fd), 0);
       }},
      {"closefrom",
       [](bool libc, Spare &c, Out &o) {
         PICK(closefrom)(c.high);
         o.ret = dyco_test::IsOpen(c.high) ? -1 : 0;
       }},
      {"getaddrinfo",
       [](bool libc, Spare &, Out &o) {
         addrinfo hints = {};
         hints.ai_family = AF_INET;
         hints.ai_socktype = SOCK_STREAM;
         addrinfo *res = nullptr;
         o.ret = PICK(getaddrinfo)("localhost", "80", &hints, &res);
         if (res != nullptr) {
           o.aux = reinterpret_cast<sockaddr_in *>(res->ai_addr)->sin_port;
           freeaddrinfo(res);
         }
       }},
      {"gethostbyname",
       [](bool libc, Spare &, Out &o) {
         hostent *h = PICK(gethostbyname)("localhost");
         o.ret = h != nullptr ? 0 : -1;
         o.aux = h != nullptr ? h->h_addrtype : 0;
       }},
  };
}
#undef PICK

class PlainTable : public ::testing::TestWithParam<int> {
 protected:
  const PlainRow &row() {
    static const std::vector<PlainRow> rows = Plains();
    return rows[static_cast<size_t>(GetParam())];
  }
  // The libc way and the dyco way; with the fd table full or not. They
  // wait for nothing: ret, errno and aux must agree.
  void Compare(bool full, bool dyco_outside = false) {
    Out r[2];
    for (int way = 0; way < 2; ++way) {
      auto c = std::make_shared<Spare>();
      auto fn = row().call;
      std::unique_ptr<FullFdTable> table;
      Call call = [fn, c, way, full, &table](const Fns &, Out &o) {
        if (full) {
          table.reset(new FullFdTable);
        }
        fn(way == 0, *c, o);
        int err = errno;
        table.reset();
        errno = err;
      };
      r[way] = way == 0 || dyco_outside ? RunLibc(call, {}) : RunDyco(call, {});
      if (c->file != nullptr) {
        fclose(c->file);
        c->file = nullptr;
      }
    }
    Print("libc", r[0], 1, 0);
    Print("dyco", r[1], 1, 0);
    EXPECT_EQ(r[0].ret, r[1].ret);
    if (r[0].ret < 0) {
      EXPECT_EQ(r[0].err, r[1].err)
          << strerror(r[0].err) << " / " << strerror(r[1].err);
    }
    EXPECT_EQ(r[0].aux, r[1].aux);
  }
};

TEST_P(PlainTable, OutsideACoroutine) { Compare(false, true); }

TEST_P(PlainTable, Inside) { Compare(false); }

TEST_P(PlainTable, FdTableFull) { Compare(true); }

INSTANTIATE_TEST_SUITE_P(Calls, PlainTable,
                         ::testing::Range(0, static_cast<int>(Plains().size())),
                         [](const ::testing::TestParamInfo<int> &i) {
                           return TestName(Plains()[i.param].name);
                         });

}  // namespace
