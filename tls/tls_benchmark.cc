// dyco — tls layer benchmark: TLS handshakes per second and echo round
// trips of 64-byte and 16 KiB records, one server thread, served by dyco
// coroutines and by a hand-written non-blocking OpenSSL epoll loop.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/testing/bench.h"
#include "tools/testing/loopback.h"

extern "C" {
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "sched/wait.h"
#include "tls/ssl.h"
}

namespace {

// The server thread and the client (this thread) each get a core of their
// own when there are two, so that every server variant is measured alike.
using dyco_bench::NoDelay;
using dyco_bench::PinTo;

// --- keys, contexts, sockets
// ---------------------------------------------------

struct Keys {
  SSL_CTX *server;
  SSL_CTX *client;
};

const Keys &TheKeys() {
  static Keys k = [] {
    std::string d = "/tmp/dyco_tls_bench";
    std::string cmd = "mkdir -p " + d +
                      " && openssl req -x509 -newkey ec -pkeyopt "
                      "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                      "/CN=localhost -keyout " +
                      d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) {
      abort();
    }
    Keys keys;
    keys.server = SSL_CTX_new(TLS_method());
    keys.client = SSL_CTX_new(TLS_method());
    SSL_CTX_use_certificate_file(keys.server, (d + "/cert.pem").c_str(),
                                 SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(keys.server, (d + "/key.pem").c_str(),
                                SSL_FILETYPE_PEM);
    // Full handshakes every time: no session resumption.
    SSL_CTX_set_session_cache_mode(keys.server, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_cache_mode(keys.client, SSL_SESS_CACHE_OFF);
#if !defined(OPENSSL_IS_BORINGSSL)
    SSL_CTX_set_num_tickets(keys.server, 0);
#endif
    return keys;
  }();
  return k;
}

int Listen(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
  listen(fd, 4096);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// --- server 1: dyco coroutines, one per connection
// -------------------------------

constexpr size_t kConnectionStack = 128 * 1024;

struct DycoServer {
  int lfd;
  std::atomic<bool> stop{false};
  std::thread thread;
};

void DycoConnection(void *arg) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  SSL *ssl = SSL_new(TheKeys().server);
  SSL_set_fd(ssl, fd);
  if (dyco_SSL_accept(ssl) == 1) {
    char buf[16384];
    for (;;) {
      int n = dyco_SSL_read(ssl, buf, sizeof buf);
      if (n <= 0 || dyco_SSL_write(ssl, buf, n) != n) {
        break;
      }
    }
  }
  SSL_free(ssl);
  dyco_fd_closing(fd);
  close(fd);
}

void DycoAcceptor(void *arg) {
  auto *srv = static_cast<DycoServer *>(arg);
  while (!srv->stop.load(std::memory_order_relaxed)) {
    int fd = accept4(srv->lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN) {
        dyco_fd_wait(srv->lfd, EPOLLIN, 50);
      }
      continue;
    }
    NoDelay(fd);
    int cid = dyco_coroutine_create(
        DycoConnection, reinterpret_cast<void *>(static_cast<intptr_t>(fd)));
    // Its own stack, as a server with a 16 KiB buffer per connection would
    // choose: on the shared stack every switch would copy the buffer.
    dyco_coroutine_setStack(cid, nullptr, kConnectionStack);
  }
  dyco_schedcall_abort();  // connections still open are cut
}

void StartDyco(DycoServer *srv) {
  srv->thread = std::thread([srv] {
    PinTo(1);
    dyco_coroutine_create(DycoAcceptor, srv);
    dyco_schedule_run();
  });
}

// --- server 2: a hand-written edge-triggered epoll loop
// --------------------------

struct LoopConn {
  SSL *ssl;
  int fd;
  bool handshaken;
  std::string pending;  // echo bytes not yet written
};

struct LoopServer {
  int lfd;
  std::atomic<bool> stop{false};
  std::thread thread;
};

// Drives one connection as far as it goes; false when it is finished.
bool LoopDrive(LoopConn *c) {
  if (!c->handshaken) {
    int r = SSL_accept(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
    c->handshaken = true;
  }
  char buf[16384];
  for (;;) {
    while (!c->pending.empty()) {
      int w = SSL_write(c->ssl, c->pending.data(),
                        static_cast<int>(c->pending.size()));
      if (w <= 0) {
        int e = SSL_get_error(c->ssl, w);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
      }
      c->pending.erase(0, static_cast<size_t>(w));
    }
    int n = SSL_read(c->ssl, buf, sizeof buf);
    if (n <= 0) {
      int e = SSL_get_error(c->ssl, n);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
    c->pending.assign(buf, static_cast<size_t>(n));
  }
}

void RunLoop(LoopServer *srv) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, srv->lfd, &ev);
  std::map<int, std::unique_ptr<LoopConn>> conns;
  epoll_event evs[256];
  while (!srv->stop.load(std::memory_order_relaxed)) {
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.ptr == nullptr) {
        for (;;) {
          int fd =
              accept4(srv->lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            break;
          }
          NoDelay(fd);
          auto c = std::make_unique<LoopConn>();
          c->fd = fd;
          c->ssl = SSL_new(TheKeys().server);
          c->handshaken = false;
          SSL_set_fd(c->ssl, fd);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLET;
          cev.data.ptr = c.get();
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          LoopConn *raw = c.get();
          conns[fd] = std::move(c);
          if (!LoopDrive(raw)) {
            SSL_free(raw->ssl);
            close(fd);
            conns.erase(fd);
          }
        }
        continue;
      }
      auto *c = static_cast<LoopConn *>(evs[i].data.ptr);
      if (!LoopDrive(c)) {
        int fd = c->fd;
        SSL_free(c->ssl);
        close(fd);
        conns.erase(fd);
      }
    }
  }
  for (auto &kv : conns) {
    SSL_free(kv.second->ssl);
    close(kv.first);
  }
  close(ep);
}

void StartLoop(LoopServer *srv) {
  srv->thread = std::thread([srv] {
    PinTo(1);
    RunLoop(srv);
  });
}

// --- the client: the same for every server (blocking sockets, this thread)
// -----

struct ClientConn {
  int fd;
  SSL *ssl;
};

ClientConn Dial(int port) {
  ClientConn c;
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  NoDelay(c.fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(c.fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    abort();
  }
  c.ssl = SSL_new(TheKeys().client);
  SSL_set_fd(c.ssl, c.fd);
  if (SSL_connect(c.ssl) != 1) {
    abort();
  }
  return c;
}

void HangUp(ClientConn *c) {
  SSL_free(c->ssl);
  close(c->fd);
}

// Server kinds.
enum Kind { kDyco, kLoop };

struct Server {
  Kind kind;
  int port = 0;
  DycoServer dyco;
  LoopServer loop;
  explicit Server(Kind k) : kind(k) {
    int lfd = Listen(&port);
    if (kind == kDyco) {
      dyco.lfd = lfd;
      StartDyco(&dyco);
    } else {
      loop.lfd = lfd;
      StartLoop(&loop);
    }
  }
  ~Server() {
    if (kind == kDyco) {
      dyco.stop = true;
      dyco.thread.join();
      close(dyco.lfd);
    } else {
      loop.stop = true;
      loop.thread.join();
      close(loop.lfd);
    }
  }
};

void BM_Handshake(benchmark::State &state, Kind kind) {
  Server srv(kind);
  for (auto _ : state) {
    ClientConn c = Dial(srv.port);
    HangUp(&c);
  }
}

// 16 connections; each iteration is one echo of `size` bytes on each.
void BM_Echo(benchmark::State &state, Kind kind) {
  const int size = static_cast<int>(state.range(0));
  const int kConns = 16;
  Server srv(kind);
  std::vector<ClientConn> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(Dial(srv.port));
  }
  std::string msg(static_cast<size_t>(size), 'x');
  std::vector<char> buf(static_cast<size_t>(size));
  for (auto _ : state) {
    for (auto &c : conns) {
      SSL_write(c.ssl, msg.data(), size);
    }
    for (auto &c : conns) {
      int got = 0;
      while (got < size) {
        int n = SSL_read(c.ssl, buf.data() + got, size - got);
        if (n <= 0) {
          abort();
        }
        got += n;
      }
    }
  }
  for (auto &c : conns) {
    HangUp(&c);
  }
  dyco_bench::OpsPerIteration(state, kConns);
  state.SetBytesProcessed(state.iterations() * kConns * size * 2);
}

constexpr int kReps = 9;
BENCHMARK_CAPTURE(BM_Handshake, dyco, kDyco)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Handshake, epoll_loop, kLoop)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Echo, dyco, kDyco)
    ->Arg(64)
    ->Arg(16384)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Echo, epoll_loop, kLoop)
    ->Arg(64)
    ->Arg(16384)
    ->Repetitions(kReps)
    ->ReportAggregatesOnly(true)
    ->UseRealTime();

}  // namespace

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  dyco_bench::PrintMachine("tls layer benchmark");
  PinTo(0);
  dyco_bench::InitializeInterleaved(&argc, argv);
  dyco_bench::Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  printf(
      "\ntls (one server thread)            dyco/s    epoll loop/s   "
      "dyco/epoll  target\n");
  struct Row {
    const char *label;
    const char *dyco;
    const char *loop;
  } rows[] = {
      {"handshakes", "BM_Handshake/dyco/real_time",
       "BM_Handshake/epoll_loop/real_time"},
      {"echo, 64-byte records", "BM_Echo/dyco/64/real_time",
       "BM_Echo/epoll_loop/64/real_time"},
      {"echo, 16 KiB records", "BM_Echo/dyco/16384/real_time",
       "BM_Echo/epoll_loop/16384/real_time"},
  };
  for (const Row &r : rows) {
    double d = recorder.NsPerOp(r.dyco), l = recorder.NsPerOp(r.loop);
    double ds = d > 0 ? 1e9 / d : 0, ls = l > 0 ? 1e9 / l : 0;
    const double ratio = ls > 0 ? ds / ls : 0;
    printf("  %-30s %10.0f %14.0f %10.2f    >= 0.95\n", r.label, ds, ls, ratio);
    dyco_bench::EmitFigure("tls", std::string(r.label) + ", dyco / epoll loop",
                           ratio, "x", "", ratio, "OpenSSL epoll loop",
                           ">= 0.95", ratio >= 0.95);
  }
  benchmark::Shutdown();
  return 0;
}
