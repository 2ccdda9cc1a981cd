// dyco — soak: mixed load for a long time (tools/soak.sh runs it), sampled
// every interval: RSS, open fds, live coroutines, requests, failures and the
// p99 latency of the interval. Writes a CSV and an SVG chart; exits 1 when
// a request failed or when RSS or the fd count drifted by more than the
// allowed fraction between the end of the warm-up and the end.
//
// The load, on four dyco threads with the hooks linked:
// - a plain echo server and a TLS echo server (one thread);
// - clients that open a connection, echo a few messages of random size and
//   close it (churn), plain and TLS, at a paced rate (one thread);
// - channels, timers, a coroutine pool and cross-thread spawns (two
//   threads): a ping-pong through an unbuffered shared channel, sleepers
//   with random durations, pool coroutines, spawns into the server thread.
//
//   soak --seconds N --interval S --warmup W --csv F --svg F [--drift 0.01]
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/testing/process.h"

extern "C" {
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/pool.h"
#include "sched/schedule.h"
#include "sync/chan.h"
#include "sync/flags.h"
#include "tls/ssl.h"
}

namespace {

double NowMs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

std::atomic<bool> stopping{false};
std::atomic<long> requests{0}, failures{0};
std::atomic<int> coroutines[4];  // each thread's live coroutines, published

// Latencies of the current interval, in microseconds.
std::mutex lat_lock;
std::vector<uint32_t> latencies;

void Record(double us) {
  std::lock_guard<std::mutex> g(lat_lock);
  latencies.push_back(static_cast<uint32_t>(us));
}

void Fail(const char *what) {
  if (failures.fetch_add(1) < 20) {
    fprintf(stderr, "soak: %s failed: %s\n", what, strerror(errno));
  }
}

// Publishes this thread's coroutine count every 100 ms until the end.
void Publisher(int slot) {
  while (!stopping.load()) {
    coroutines[slot] = dyco_schedule_getCoroCount();
    dyco_coroutine_sleep(100);
  }
}

int plain_port, tls_port;
int plain_lfd, tls_lfd;
SSL_CTX *server_ctx, *client_ctx;

// --- Server thread
// ---------------------------------------------------------------

void PlainSession(void *arg) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  char buf[16384];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    if (send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
      break;
    }
  }
  close(fd);
}

void TlsSession(void *arg) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  SSL *ssl = SSL_new(server_ctx);
  SSL_set_fd(ssl, fd);
  if (dyco_SSL_acceptTimeout(ssl, 5000) == 1) {
    char buf[16384];
    int n;
    while ((n = dyco_SSL_readTimeout(ssl, buf, sizeof buf, 30000)) > 0) {
      if (dyco_SSL_write(ssl, buf, n) != n) {
        break;
      }
    }
    dyco_SSL_shutdownTimeout(ssl, 1000);
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
}

void Listener(void *arg) {
  const bool tls = arg != nullptr;
  const int lfd = tls ? tls_lfd : plain_lfd;
  while (!stopping.load()) {
    int fd = accept(lfd, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EBADF || errno == EINVAL) {
        return;
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int cid = dyco_coroutine_create(
        tls ? TlsSession : PlainSession,
        reinterpret_cast<void *>(static_cast<intptr_t>(fd)));
    if (cid < 0) {
      close(fd);
      Fail("create");
      continue;
    }
    dyco_coroutine_setStack(cid, nullptr, 64 * 1024);
  }
}

void Stopper(void *) {
  while (!stopping.load()) {
    dyco_coroutine_sleep(50);
  }
  close(plain_lfd);
  close(tls_lfd);
}

// --- Client thread
// ---------------------------------------------------------------

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv = {30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

uint32_t Rand(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

void PlainClient(void *arg) {
  uint32_t seed = static_cast<uint32_t>(reinterpret_cast<intptr_t>(arg)) + 7;
  std::vector<char> out(8192), in(8192);
  while (!stopping.load()) {
    int fd = Connect(plain_port);
    if (fd < 0) {
      Fail("connect");
      dyco_coroutine_sleep(10);
      continue;
    }
    int echoes = 1 + static_cast<int>(Rand(&seed) % 8);
    for (int k = 0; k < echoes; ++k) {
      size_t n = 1 + Rand(&seed) % out.size();
      for (size_t i = 0; i < n; ++i) {
        out[i] = static_cast<char>(i + k);
      }
      double t0 = NowMs();
      if (send(fd, out.data(), n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) {
        Fail("send");
        break;
      }
      size_t have = 0;
      while (have < n) {
        ssize_t r = recv(fd, in.data() + have, n - have, 0);
        if (r <= 0) {
          break;
        }
        have += static_cast<size_t>(r);
      }
      if (have != n || memcmp(in.data(), out.data(), n) != 0) {
        Fail("echo");
        break;
      }
      Record((NowMs() - t0) * 1000);
      requests++;
      dyco_coroutine_sleep(Rand(&seed) % 20);  // paced, not flat out
    }
    close(fd);
  }
}

void TlsClient(void *arg) {
  uint32_t seed = static_cast<uint32_t>(reinterpret_cast<intptr_t>(arg)) + 99;
  char out[4096], in[4096];
  while (!stopping.load()) {
    int fd = Connect(tls_port);
    if (fd < 0) {
      Fail("connect (tls)");
      dyco_coroutine_sleep(10);
      continue;
    }
    SSL *ssl = SSL_new(client_ctx);
    SSL_set_fd(ssl, fd);
    if (dyco_SSL_connect(ssl) != 1) {
      Fail("handshake");
    } else {
      for (int k = 0; k < 4; ++k) {
        int n = 1 + static_cast<int>(Rand(&seed) % sizeof out);
        memset(out, 'a' + k, static_cast<size_t>(n));
        double t0 = NowMs();
        int have = 0;
        if (dyco_SSL_write(ssl, out, n) != n) {
          Fail("tls write");
          break;
        }
        while (have < n) {
          int r = dyco_SSL_read(ssl, in + have, n - have);
          if (r <= 0) {
            break;
          }
          have += r;
        }
        if (have != n || memcmp(in, out, static_cast<size_t>(n)) != 0) {
          Fail("tls echo");
          break;
        }
        Record((NowMs() - t0) * 1000);
        requests++;
        dyco_coroutine_sleep(Rand(&seed) % 50);
      }
      dyco_SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }
}

// --- Channels, timers, pools, spawns -----------------------------------------

dyco_chan *pingpong;
std::atomic<int> server_sched{0};
std::atomic<long> spawns_ran{0}, spawns_sent{0};

void PingSide(void *arg) {
  const bool sender = arg != nullptr;
  long v = 0;
  while (!stopping.load()) {
    int r = sender ? dyco_chan_send(pingpong, &v, 100)
                   : dyco_chan_recv(pingpong, &v, 100);
    if (r < 0 && r != -ETIMEDOUT) {
      errno = -r;
      Fail("channel");
      return;
    }
    if (r >= 0 && sender) {
      v++;
      requests++;
      if (v % 8 == 0) {
        dyco_coroutine_sleep(1);
      }
    }
  }
}

void Sleeper(void *arg) {
  uint32_t seed = static_cast<uint32_t>(reinterpret_cast<intptr_t>(arg)) + 3;
  while (!stopping.load()) {
    double t0 = NowMs();
    uint32_t ms = Rand(&seed) % 30;
    dyco_coroutine_sleep(ms);
    if (NowMs() - t0 < ms - 0.5) {
      errno = 0;
      Fail("sleep woke early");
    }
  }
}

void PoolWork(void *) { dyco_coroutine_sleep(1); }

void PoolDriver(void *) {
  dyco_coropool *pool = dyco_coropool_create(32, 32 * 1024);
  if (pool == nullptr) {
    Fail("pool create");
    return;
  }
  while (!stopping.load()) {
    if (dyco_coropool_obtain(pool, PoolWork, nullptr, 100) < 0) {
      Fail("pool obtain");
    }
    requests++;
    dyco_coroutine_sleep(1);
  }
  while (dyco_coropool_available(pool) < 32) {
    dyco_coroutine_sleep(5);
  }
  dyco_coropool_destroy(&pool);
}

void SpawnedWork(void *) { spawns_ran++; }

void Spawner(void *) {
  while (server_sched.load() == 0) {  // the server thread has not begun yet
    dyco_coroutine_sleep(1);
  }
  while (!stopping.load()) {
    if (dyco_schedule_spawnById(server_sched.load(), SpawnedWork, nullptr) ==
        0) {
      spawns_sent++;
    } else {
      Fail("spawn");
    }
    dyco_coroutine_sleep(2);
  }
}

// --- Sampling
// --------------------------------------------------------------------

struct Sample {
  double t;
  long rss, req, fail;
  int fds, coros;
  double p99;
};

void WriteSvg(const char *path, const std::vector<Sample> &s, double warm) {
  FILE *f = fopen(path, "w");
  if (f == nullptr || s.empty()) {
    return;
  }
  const int w = 800, h = 200, pad = 50;
  const double tmax = std::max(1.0, s.back().t);
  struct Series {
    const char *name;
    const char *color;
    double (*get)(const Sample &);
  } series[] = {
      {"RSS (KiB)", "#1f77b4", [](const Sample &x) { return double(x.rss); }},
      {"open fds", "#2ca02c", [](const Sample &x) { return double(x.fds); }},
      {"coroutines", "#9467bd",
       [](const Sample &x) { return double(x.coros); }},
      {"p99 latency (us)", "#d62728", [](const Sample &x) { return x.p99; }},
  };
  const int n = sizeof series / sizeof series[0];
  fprintf(f,
          "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
          "font-family='sans-serif' font-size='12'>\n",
          w + 2 * pad, n * (h + pad) + pad);
  for (int k = 0; k < n; ++k) {
    double lo = 1e300, hi = -1e300;
    for (const Sample &x : s) {
      lo = std::min(lo, series[k].get(x));
      hi = std::max(hi, series[k].get(x));
    }
    if (hi <= lo) {
      hi = lo + 1;
    }
    const int y0 = pad + k * (h + pad);
    fprintf(f,
            "<text x='%d' y='%d'>%s: %.0f .. %.0f</text>\n"
            "<rect x='%d' y='%d' width='%d' height='%d' fill='none' "
            "stroke='#ccc'/>\n",
            pad, y0 - 8, series[k].name, lo, hi, pad, y0, w, h);
    int wx = pad + static_cast<int>(warm / tmax * w);
    fprintf(f,
            "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#999' "
            "stroke-dasharray='4'/>\n",
            wx, y0, wx, y0 + h);
    fprintf(f, "<polyline fill='none' stroke='%s' points='", series[k].color);
    for (const Sample &x : s) {
      fprintf(f, "%.1f,%.1f ", pad + x.t / tmax * w,
              y0 + h - (series[k].get(x) - lo) / (hi - lo) * h);
    }
    fprintf(f, "'/>\n");
  }
  fprintf(f, "</svg>\n");
  fclose(f);
}

// Resident KiB per mapping (start address -> name, KiB), from
// /proc/self/smaps: the warm-up's end and the end are compared, so that
// the note can say which mapping grew (a heap arena, a stack cache chunk,
// a library's data).
struct Mapping {
  std::string name;
  long kib;
  unsigned long size_kib;
  std::vector<unsigned char> resident;  // mincore, per page
};
std::map<unsigned long, Mapping> Smaps() {
  std::map<unsigned long, Mapping> m;
  FILE *f = fopen("/proc/self/smaps", "r");
  if (f == nullptr) {
    return m;
  }
  char line[512];
  unsigned long cur = 0;
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long lo, hi;
    char perms[8];
    int name_at = 0;
    // A mapping's header ("lo-hi perms offset dev inode [name]"): no field
    // line ("Rss:  12 kB") has a hex range first.
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &name_at) ==
        3) {
      std::string name = name_at > 0 ? std::string(line + name_at) : "";
      while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) {
        name.pop_back();
      }
      if (name.empty()) {
        name = "[anon " + std::string(perms) + "]";
      }
      cur = lo;
      m[cur] = {name, 0, (hi - lo) / 1024};
    } else if (strncmp(line, "Rss:", 4) == 0) {
      m[cur].kib = atol(line + 4);
    }
  }
  fclose(f);
  const long page = sysconf(_SC_PAGESIZE);
  for (auto &kv : m) {
    if (kv.second.name.compare(0, 5, "[anon") == 0) {
      kv.second.resident.resize(kv.second.size_kib * 1024 / page);
      if (mincore(reinterpret_cast<void *>(kv.first), kv.second.size_kib * 1024,
                  kv.second.resident.data()) != 0) {
        kv.second.resident.clear();
      }
    }
  }
  return m;
}

// The pages of a mapping that became resident between a and b, as runs
// (offset from the mapping's start, pages): where inside it the growth is.
void PrintNewPages(unsigned long at, const Mapping &a, const Mapping &b) {
  if (a.resident.size() != b.resident.size() || a.resident.empty()) {
    return;
  }
  const long page = sysconf(_SC_PAGESIZE);
  printf("    pages of %lx resident at the end only (offset KiB: pages):", at);
  int shown = 0;
  for (size_t i = 0; i < b.resident.size() && shown < 40;) {
    if ((b.resident[i] & 1) && !(a.resident[i] & 1)) {
      size_t j = i;
      while (j < b.resident.size() && (b.resident[j] & 1) &&
             !(a.resident[j] & 1)) {
        j++;
      }
      printf(" %zu:%zu", i * page / 1024, j - i);
      shown++;
      i = j;
    } else {
      i++;
    }
  }
  printf("\n");
}

void PrintGrowth(const std::map<unsigned long, Mapping> &a,
                 const std::map<unsigned long, Mapping> &b) {
  std::vector<std::pair<long, std::string>> d;
  for (const auto &kv : b) {
    auto it = a.find(kv.first);
    long before = it == a.end() ? 0 : it->second.kib;
    if (kv.second.kib != before) {
      char buf[96];
      snprintf(buf, sizeof buf, "%lx (%lu KiB mapped) ", kv.first,
               kv.second.size_kib);
      d.push_back({kv.second.kib - before, buf + kv.second.name});
    }
  }
  for (const auto &kv : a) {
    if (b.find(kv.first) == b.end() && kv.second.kib != 0) {
      char buf[64];
      snprintf(buf, sizeof buf, "%lx ", kv.first);
      d.push_back({-kv.second.kib, buf + kv.second.name + " (gone)"});
    }
  }
  std::sort(d.begin(), d.end(), [](const auto &x, const auto &y) {
    return labs(x.first) > labs(y.first);
  });
  printf(
      "soak: resident KiB per mapping, the warm-up's end -> the end (%zu "
      "changed):\n",
      d.size());
  for (size_t i = 0; i < d.size() && i < 15; ++i) {
    printf("  %+6ld KiB  %s\n", d[i].first, d[i].second.c_str());
  }
  for (const auto &kv : b) {
    auto it = a.find(kv.first);
    if (it != a.end() && kv.second.kib - it->second.kib >= 32) {
      PrintNewPages(kv.first, it->second, kv.second);
    }
  }
}

// Where a soak thread's own stack is, for reading PrintGrowth's report.
void ShowThreadStack(const char *who) {
  pthread_attr_t a;
  void *lo = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
  }
  printf("soak: thread %s: its own stack at %lx (%zu KiB)\n", who,
         reinterpret_cast<unsigned long>(lo), size / 1024);
}

int ListenOn(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(fd, 1024) != 0) {
    perror("listen");
    exit(2);
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

}  // namespace

int main(int argc, char **argv) {
  double seconds = 3600, interval = 10, warmup = 300, drift = 0.01;
  const char *csv = "soak.csv", *svg = "soak.svg", *certdir = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") {
      seconds = atof(argv[i + 1]);
    } else if (a == "--interval") {
      interval = atof(argv[i + 1]);
    } else if (a == "--warmup") {
      warmup = atof(argv[i + 1]);
    } else if (a == "--drift") {
      drift = atof(argv[i + 1]);
    } else if (a == "--csv") {
      csv = argv[i + 1];
    } else if (a == "--svg") {
      svg = argv[i + 1];
    } else if (a == "--certs") {
      certdir = argv[i + 1];
    } else {
      fprintf(stderr, "soak: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  plain_lfd = ListenOn(&plain_port);
  tls_lfd = ListenOn(&tls_port);
  server_ctx = SSL_CTX_new(TLS_server_method());
  client_ctx = SSL_CTX_new(TLS_client_method());
  std::string cert = std::string(certdir) + "/cert.pem";
  std::string key = std::string(certdir) + "/key.pem";
  if (SSL_CTX_use_certificate_file(server_ctx, cert.c_str(),
                                   SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(server_ctx, key.c_str(), SSL_FILETYPE_PEM) !=
          1) {
    fprintf(stderr, "soak: no certificate in %s\n", certdir);
    return 2;
  }
  pingpong = dyco_chan_create(sizeof(long), 0, DYCO_SYNC_SHARED);

  std::vector<std::thread> threads;
  threads.emplace_back([] {
    ShowThreadStack("servers");
    server_sched = dyco_schedule_schedID();
    dyco_coroutine_create(Listener, nullptr);
    dyco_coroutine_create(Listener, reinterpret_cast<void *>(1));
    dyco_coroutine_create(Stopper, nullptr);
    dyco_coroutine_create([](void *) { Publisher(0); }, nullptr);
    dyco_schedule_run();
  });
  threads.emplace_back([] {
    ShowThreadStack("clients");
    for (intptr_t i = 0; i < 40; ++i) {
      int cid = dyco_coroutine_create(PlainClient, reinterpret_cast<void *>(i));
      dyco_coroutine_setStack(cid, nullptr, 64 * 1024);
    }
    for (intptr_t i = 0; i < 4; ++i) {
      int cid = dyco_coroutine_create(TlsClient, reinterpret_cast<void *>(i));
      dyco_coroutine_setStack(cid, nullptr, 64 * 1024);
    }
    dyco_coroutine_create([](void *) { Publisher(1); }, nullptr);
    dyco_schedule_run();
  });
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([t] {
      ShowThreadStack(t == 0 ? "misc 0" : "misc 1");
      dyco_coroutine_create(PingSide,
                            t == 0 ? reinterpret_cast<void *>(1) : nullptr);
      for (intptr_t i = 0; i < 50; ++i) {
        dyco_coroutine_create(Sleeper, reinterpret_cast<void *>(i + 100 * t));
      }
      if (t == 0) {
        dyco_coroutine_create(PoolDriver, nullptr);
      } else {
        dyco_coroutine_create(Spawner, nullptr);
      }
      if (t == 0) {
        dyco_coroutine_create([](void *) { Publisher(2); }, nullptr);
      } else {
        dyco_coroutine_create([](void *) { Publisher(3); }, nullptr);
      }
      dyco_schedule_run();
    });
  }

  FILE *out = fopen(csv, "w");
  if (out == nullptr) {
    perror(csv);
    return 2;
  }
  fprintf(out,
          "seconds,rss_kib,fds,coroutines,requests,failures,p99_us,"
          "malloc_in_use_kib,malloc_held_kib\n");
  // A snapshot taken now and dropped at the warm-up's end, so that the one
  // taken then reuses its heap blocks: the report must not be what grows.
  std::map<unsigned long, Mapping> at_warm, at_start = Smaps();
  std::vector<Sample> samples;
  const double start = NowMs();
  long last_req = 0;
  for (double next = interval; next <= seconds; next += interval) {
    while (NowMs() - start < next * 1000) {
      usleep(100000);
    }
    std::vector<uint32_t> lat;
    {
      std::lock_guard<std::mutex> g(lat_lock);
      lat.swap(latencies);
    }
    double p99 = 0;
    if (!lat.empty()) {
      size_t k = lat.size() * 99 / 100;
      std::nth_element(lat.begin(), lat.begin() + k, lat.end());
      p99 = lat[k];
    }
    Sample s = {next,
                dyco_test::RssKiB(),
                requests.load() - last_req,
                failures.load(),
                static_cast<int>(dyco_test::OpenFds().size()),
                coroutines[0] + coroutines[1] + coroutines[2] + coroutines[3],
                p99};
    last_req = requests.load();
    samples.push_back(s);
    struct mallinfo2 mi = mallinfo2();
    long in_use = static_cast<long>((mi.uordblks + mi.hblkhd) / 1024);
    long held = static_cast<long>((mi.arena + mi.hblkhd) / 1024);
    if (at_warm.empty() && next > warmup) {
      at_start.clear();
      at_warm = Smaps();
    }
    fprintf(out, "%.0f,%ld,%d,%d,%ld,%ld,%.0f,%ld,%ld\n", s.t, s.rss, s.fds,
            s.coros, s.req, s.fail, s.p99, in_use, held);
    fflush(out);
    printf(
        "%6.0f s  RSS %7ld KiB  fds %4d  coroutines %5d  requests %7ld  "
        "failures %ld  p99 %6.0f us  malloc %ld/%ld KiB\n",
        s.t, s.rss, s.fds, s.coros, s.req, s.fail, s.p99, in_use, held);
    fflush(stdout);
  }
  fclose(out);
  if (!at_warm.empty()) {
    PrintGrowth(at_warm, Smaps());
  }
  stopping = true;
  for (auto &t : threads) {
    t.join();
  }
  WriteSvg(svg, samples, warmup);

  // Drift: the samples after the warm-up, first against last (medians of
  // three at each end, so that one busy moment does not decide).
  int rc = 0;
  std::vector<Sample> after;
  for (const Sample &s : samples) {
    if (s.t > warmup) {
      after.push_back(s);
    }
  }
  if (after.size() >= 6) {
    auto med = [](long a, long b, long c) {
      return std::max(std::min(a, b), std::min(std::max(a, b), c));
    };
    size_t n = after.size();
    long rss0 = med(after[0].rss, after[1].rss, after[2].rss);
    long rss1 = med(after[n - 3].rss, after[n - 2].rss, after[n - 1].rss);
    long fd0 = med(after[0].fds, after[1].fds, after[2].fds);
    long fd1 = med(after[n - 3].fds, after[n - 2].fds, after[n - 1].fds);
    double rss_drift = double(rss1 - rss0) / rss0;
    double fd_drift = double(fd1 - fd0) / fd0;
    printf(
        "soak: after warm-up RSS %ld -> %ld KiB (%+.2f%%), fds %ld -> %ld "
        "(%+.2f%%), requests %ld, failures %ld, spawns %ld/%ld\n",
        rss0, rss1, rss_drift * 100, fd0, fd1, fd_drift * 100, requests.load(),
        failures.load(), spawns_ran.load(), spawns_sent.load());
    if (rss_drift > drift || fd_drift > drift) {
      printf("soak: FAIL: drift above %.1f%%\n", drift * 100);
      rc = 1;
    }
  } else {
    printf("soak: too few samples after the warm-up to judge drift\n");
    rc = 1;
  }
  if (failures.load() != 0) {
    printf("soak: FAIL: %ld failed requests\n", failures.load());
    rc = 1;
  }
  if (rc == 0) {
    printf("soak: ok\n");
  }
  return rc;
}
