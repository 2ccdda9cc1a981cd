// dyco — network chaos: 10,000 connections on loopback against three
// servers on one dyco thread (one written with the hooks, one with the
// explicit dyco_* API, one with TLS), from clients on another dyco thread
// that behave well and badly: clean close, keep-alive, RST (SO_LINGER 0),
// half-close, slowloris, shutdown of both directions, a client that
// vanishes or stalls in the TLS handshake, and server reads and writes
// cancelled by a close from another coroutine. Asserts that every
// well-behaved client is answered byte for byte, that every bad one is
// dealt with as the server says, that fds (and, without sanitizers, RSS)
// return to their level after a warm-up, and that no coroutine is left
// waiting.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tools/testing/fixture.h"
#include "tools/testing/process.h"

extern "C" {
#include "netio/socket.h"
#include "sched/coroutine.h"
#include "sched/schedule.h"
#include "tls/ssl.h"
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(DYCO_ASAN) || defined(DYCO_TSAN) || defined(DYCO_VALGRIND)
#define CHAOS_SANITIZED 1
#else
#define CHAOS_SANITIZED 0
#endif

namespace {

const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

using dyco_test::NowMs;

// A client that went silent in the middle of a request (half a line, half
// a ClientHello) is dropped after this long; under a sanitizer or an
// emulator a handshake among a hundred others can take longer than 200 ms.
const int kServerTimeoutMs = dyco_test::Slow() ? 5000 : 200;
// Between requests, and once a TLS client's hello is in, a client may take
// ten times as long, as a server's keep-alive patience exceeds its patience
// with a request begun: the process as a whole can stall for seconds (under
// ThreadSanitizer on a loaded machine one did, and every connection in flight
// at that moment was dropped: a CI run of 2026-12-03).
const int kServerIdleMs = 10 * kServerTimeoutMs;
constexpr size_t kStack = 64 * 1024;

// --- What the servers send ---------------------------------------------------

inline char PatternByte(size_t i, size_t n) {
  return static_cast<char>((i * 7 + n) & 0xff);
}

// --- Counters
// ------------------------------------------------------------------

struct ServerCounts {
  int answered = 0;         // ECHO requests answered (plain servers)
  int read_cancelled = 0;   // a HOLD session's recv ended by close: EBADF
  int write_cancelled = 0;  // a SINK session's send ended by close: EBADF
  int timed_out = 0;        // a silent client dropped (EAGAIN)
  int reset = 0;            // ECONNRESET / EPIPE seen
  int eof = 0;              // a client closed cleanly
  int bad = 0;              // anything else: a failure
  int tls_served = 0;       // TLS sessions that ended cleanly
  int tls_refused = 0;      // TLS handshakes that failed
  int sessions = 0;         // sessions started, all kinds
};

struct ClientCounts {
  std::atomic<int> expected_holds{0}, expected_sinks{0};
  std::atomic<int> expected_tls_ok{0}, expected_tls_bad{0};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::mutex lock;
  std::vector<std::string> failures;  // the first few, for the message
  void Fail(int i, const std::string &what) {
    failed++;
    std::lock_guard<std::mutex> g(lock);
    if (failures.size() < 10) {
      failures.push_back("connection " + std::to_string(i) + ": " + what +
                         " (errno " + strerror(errno) + ")");
    }
  }
};

// --- The servers (their own thread and scheduler)
// ------------------------------

struct Server;

struct SessionArg {
  Server *server;
  int fd;
  int kind;  // 0 hooks, 1 explicit API, 2 TLS
};

struct Server {
  int lfd[3] = {-1, -1, -1};
  int port[3] = {0, 0, 0};
  SSL_CTX *ctx = nullptr;
  ServerCounts counts;
  std::vector<int> to_close;  // HOLD and SINK sessions' fds: the closer's
  bool stopping = false;
  int control[2] = {-1, -1};  // the test's commands: 'c' count, 's' stop
  int reply[2] = {-1, -1};    // the answers to 'c'
};

// One line ("OP n\n") through the calls the server kind uses. Returns its
// length, 0 at EOF, -1 with errno on error. Bytes past the line stay in
// buf.
struct LineReader {
  char buf[256];
  size_t have = 0;
};

template <typename RecvFn>
ssize_t ReadLine(LineReader *r, RecvFn recv_fn, std::string *line) {
  for (;;) {
    void *nl = memchr(r->buf, '\n', r->have);
    if (nl != nullptr) {
      size_t len = static_cast<size_t>(static_cast<char *>(nl) - r->buf);
      line->assign(r->buf, len);
      memmove(r->buf, r->buf + len + 1, r->have - len - 1);
      r->have -= len + 1;
      return static_cast<ssize_t>(len + 1);
    }
    if (r->have == sizeof r->buf) {
      errno = EPROTO;
      return -1;
    }
    ssize_t n = recv_fn(r->buf + r->have, sizeof r->buf - r->have);
    if (n <= 0) {
      return n;
    }
    r->have += static_cast<size_t>(n);
  }
}

void CountError(ServerCounts *c, int err) {
  if (err == ECONNRESET || err == EPIPE) {
    c->reset++;
  } else if (err == EAGAIN || err == EWOULDBLOCK) {
    c->timed_out++;
  } else {
    c->bad++;
    fprintf(stderr, "server: unexpected error %s\n", strerror(err));
  }
}

template <typename SendFn>
int SendAll(SendFn send_fn, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send_fn(p, n);
    if (w < 0) {
      return -1;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// The plain servers' session: kind 0 calls libc (hooked), kind 1 dyco_*.
void PlainSession(void *arg) {
  auto *a = static_cast<SessionArg *>(arg);
  Server *s = a->server;
  const int fd = a->fd;
  const bool hooks = a->kind == 0;
  delete a;
  s->counts.sessions++;
  LineReader r;
  // The patience (SO_RCVTIMEO): kServerTimeoutMs with part of a line in,
  // kServerIdleMs between lines.
  int patience = 0;
  auto recv_fn = [fd, hooks, &r, &patience](void *b, size_t n) {
    const int ms = r.have == 0 ? kServerIdleMs : kServerTimeoutMs;
    if (ms != patience) {
      timeval tv = {ms / 1000, (ms % 1000) * 1000};
      if (hooks) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      } else {
        dyco_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      }
      patience = ms;
    }
    return hooks ? recv(fd, b, n, 0) : dyco_recv(fd, b, n, 0);
  };
  auto send_fn = [fd, hooks](const void *b, size_t n) {
    return hooks ? send(fd, b, n, MSG_NOSIGNAL)
                 : dyco_send(fd, b, n, MSG_NOSIGNAL);
  };
  std::string line;
  std::vector<char> out;
  for (;;) {
    ssize_t n = ReadLine(&r, recv_fn, &line);
    if (n == 0) {
      s->counts.eof++;
      break;
    }
    if (n < 0) {
      CountError(&s->counts, errno);
      break;
    }
    if (line.rfind("ECHO ", 0) == 0) {
      size_t len = strtoul(line.c_str() + 5, nullptr, 10);
      out.resize(len);
      for (size_t i = 0; i < len; ++i) {
        out[i] = PatternByte(i, len);
      }
      if (SendAll(send_fn, out.data(), len) != 0) {
        CountError(&s->counts, errno);
        break;
      }
      s->counts.answered++;
      continue;
    }
    if (line == "HOLD" || line == "SINK") {
      // Another coroutine closes fd while this one is blocked on it: the
      // blocked call ends with EBADF, and fd is no longer this session's.
      s->to_close.push_back(fd);
      if (line == "HOLD") {
        char c;
        ssize_t got = recv_fn(&c, 1);
        if (got == -1 && errno == EBADF) {
          s->counts.read_cancelled++;
        } else {
          s->counts.bad++;
          fprintf(stderr, "server: HOLD's recv returned %zd (%s)\n", got,
                  strerror(errno));
        }
      } else {
        // A blocking send that the close interrupts after part of the chunk
        // returns that part (as it would for a signal): fd must not be
        // used again, its number may name a new connection already.
        std::vector<char> chunk(65536, 'x');
        ssize_t w;
        while ((w = send_fn(chunk.data(), chunk.size())) ==
               static_cast<ssize_t>(chunk.size())) {
        }
        if (w >= 0 || errno == EBADF) {
          s->counts.write_cancelled++;
        } else {
          s->counts.bad++;
          fprintf(stderr, "server: SINK's send failed with %s\n",
                  strerror(errno));
        }
      }
      return;  // closed by the closer
    }
    s->counts.bad++;
    fprintf(stderr, "server: bad request '%s'\n", line.c_str());
    break;
  }
  if (hooks) {
    close(fd);
  } else {
    dyco_close(fd);
  }
}

// Waits until the client's first TLS record (the ClientHello a
// well-behaved client sends whole) is all in, and leaves it there for
// SSL_accept: kServerIdleMs for its first bytes, then kServerTimeoutMs for
// the rest. false when it does not come, or the client went away.
bool HelloIn(int fd) {
  double deadline = NowMs() + kServerIdleMs;
  bool begun = false;
  unsigned char buf[5 + 16384];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      return false;
    }
    if (n >= 5 && n >= 5 + ((buf[3] << 8) | buf[4])) {
      return true;
    }
    if (n > 0 && !begun) {
      begun = true;
      deadline = NowMs() + kServerTimeoutMs;
    }
    const double left = deadline - NowMs();
    if (left <= 0) {
      return false;
    }
    if (n < 0) {
      pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(left) + 1);  // the first bytes
    } else {
      dyco_coroutine_sleep(10);  // part of it: the rest
    }
  }
}

void TlsSession(void *arg) {
  auto *a = static_cast<SessionArg *>(arg);
  Server *s = a->server;
  const int fd = a->fd;
  delete a;
  s->counts.sessions++;
  SSL *ssl = SSL_new(s->ctx);
  SSL_set_fd(ssl, fd);
  if (!HelloIn(fd) || dyco_SSL_acceptTimeout(ssl, kServerIdleMs) != 1) {
    s->counts.tls_refused++;
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    return;
  }
  LineReader r;
  std::string line;
  auto recv_fn = [ssl](void *b, size_t n) -> ssize_t {
    int got = dyco_SSL_readTimeout(ssl, b, static_cast<int>(n), kServerIdleMs);
    return got > 0 ? got : (got == 0 ? 0 : -1);
  };
  bool clean = true;
  for (;;) {
    ssize_t n = ReadLine(&r, recv_fn, &line);
    if (n <= 0) {
      clean = SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN;
      break;
    }
    size_t len = line.rfind("ECHO ", 0) == 0
                     ? strtoul(line.c_str() + 5, nullptr, 10)
                     : 0;
    std::vector<char> out(len);
    for (size_t i = 0; i < len; ++i) {
      out[i] = PatternByte(i, len);
    }
    if (len == 0 || dyco_SSL_write(ssl, out.data(), static_cast<int>(len)) !=
                        static_cast<int>(len)) {
      clean = false;
      break;
    }
  }
  if (clean) {
    s->counts.tls_served++;
    dyco_SSL_shutdownTimeout(ssl, 1000);
  } else {
    s->counts.bad++;
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
}

struct ListenArg {
  Server *server;
  int kind;
};

void Listener(void *arg) {
  auto *la = static_cast<ListenArg *>(arg);
  Server *s = la->server;
  const int kind = la->kind;
  delete la;
  for (;;) {
    int fd = kind == 1 ? dyco_accept(s->lfd[kind], nullptr, nullptr)
                       : accept(s->lfd[kind], nullptr, nullptr);
    if (fd < 0) {
      if (errno == EBADF || errno == EINVAL || s->stopping) {
        return;  // the stopper closed the listening socket
      }
      if (errno == EMFILE || errno == ENFILE) {
        dyco_coroutine_sleep(1);
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto *a = new SessionArg{s, fd, kind};
    int cid = dyco_coroutine_create(kind == 2 ? TlsSession : PlainSession, a);
    if (cid < 0) {
      delete a;
      close(fd);
      s->counts.bad++;
      continue;
    }
    dyco_coroutine_setStack(cid, nullptr, kStack);
  }
}

// Closes the fds of the HOLD and SINK sessions, which are blocked on them
// by the time it runs (it runs only when they wait).
void Closer(void *arg) {
  auto *s = static_cast<Server *>(arg);
  while (!s->stopping || !s->to_close.empty()) {
    dyco_coroutine_sleep(2);
    std::vector<int> fds;
    fds.swap(s->to_close);
    for (int fd : fds) {
      close(fd);
    }
  }
}

void Stopper(void *arg) {
  auto *s = static_cast<Server *>(arg);
  char c;
  while (read(s->control[0], &c, 1) == 1) {
    if (c == 'c') {
      int n = dyco_schedule_getCoroCount();
      ASSERT_EQ(static_cast<ssize_t>(sizeof n),
                write(s->reply[1], &n, sizeof n));
      continue;
    }
    s->stopping = true;
    for (int &fd : s->lfd) {
      close(fd);
      fd = -1;
    }
    return;
  }
}

// The coroutines a quiet server keeps: 3 listeners, the closer, the stopper.
constexpr int kServerCoroutines = 5;

int ListenOn(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
      listen(fd, 4096) != 0) {
    ADD_FAILURE() << "listen: " << strerror(errno);
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// --- The clients (their own thread and scheduler)
// ------------------------------

struct Clients {
  Server *server;
  SSL_CTX *ctx;
  ClientCounts counts;
  int next = 0;  // the next connection's number
  int end = 0;   // this phase's end
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Never wait for ever on a server that broke: fail instead.
  timeval tv = {50, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void Reset(int fd) {
  linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

bool SendStr(int fd, const std::string &s) {
  return send(fd, s.data(), s.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(s.size());
}

bool RecvExactly(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) {
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool Verify(const std::vector<char> &got, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != PatternByte(i, n)) {
      return false;
    }
  }
  return true;
}

bool Echo(int fd, size_t n) {
  if (!SendStr(fd, "ECHO " + std::to_string(n) + "\n")) {
    return false;
  }
  std::vector<char> got(n);
  return RecvExactly(fd, got.data(), n) && Verify(got, n);
}

// Reads until the server closes: 0, or an error from a reset.
bool UntilClosed(int fd) {
  char buf[16384];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno == ECONNRESET)) {
      return true;
    }
    if (r < 0) {
      return false;
    }
  }
}

void PlainClient(Clients *c, int i) {
  const int port = c->server->port[(i / 20) % 2];
  const size_t size = static_cast<size_t>(i) * 37 % 20000 + 1;
  int fd = Connect(port);
  if (fd < 0) {
    c->counts.Fail(i, "connect");
    return;
  }
  bool ok = true;
  switch (i % 20) {
    case 8:  // a reset after a request: the server's send may fail
      ok = SendStr(fd, "ECHO " + std::to_string(size) + "\n");
      Reset(fd);
      fd = -1;
      break;
    case 9:  // a reset before anything
      Reset(fd);
      fd = -1;
      break;
    case 10:  // half-close: the answer still comes, then the server's EOF
      ok = SendStr(fd, "ECHO " + std::to_string(size) + "\n") &&
           shutdown(fd, SHUT_WR) == 0;
      if (ok) {
        std::vector<char> got(size);
        char extra;
        ok = RecvExactly(fd, got.data(), size) && Verify(got, size) &&
             recv(fd, &extra, 1, 0) == 0;
      }
      break;
    case 11:  // slowloris: half a request, then silence; the server drops it
      ok = SendStr(fd, "ECH") && UntilClosed(fd);
      break;
    case 12:  // the server's read is cancelled by a close
      c->counts.expected_holds++;
      ok = SendStr(fd, "HOLD\n") && UntilClosed(fd);
      break;
    case 13:  // the server's write is cancelled by a close
      c->counts.expected_sinks++;
      ok = SendStr(fd, "SINK\n");
      dyco_coroutine_sleep(20);
      ok = ok && UntilClosed(fd);
      break;
    case 14:  // shutdown of both directions after a request
      ok = SendStr(fd, "ECHO " + std::to_string(size) + "\n") &&
           shutdown(fd, SHUT_RDWR) == 0;
      break;
    case 15:  // connect and close
      break;
    default:  // well-behaved: one to three requests on the connection
      for (int k = 0; ok && k <= i % 3; ++k) {
        ok = Echo(fd, (size + static_cast<size_t>(k) * 4099) % 20000 + 1);
      }
      break;
  }
  if (fd >= 0) {
    close(fd);
  }
  if (ok) {
    c->counts.ok++;
  } else {
    c->counts.Fail(i, "plain case " + std::to_string(i % 20));
  }
}

void TlsClient(Clients *c, int i) {
  const int port = c->server->port[2];
  const int how = (i / 10) % 4;
  int fd = Connect(port);
  if (fd < 0) {
    c->counts.Fail(i, "connect (tls)");
    return;
  }
  bool ok = true;
  if (how < 2) {
    c->counts.expected_tls_ok++;
    SSL *ssl = SSL_new(c->ctx);
    SSL_set_fd(ssl, fd);
    ok = dyco_SSL_connect(ssl) == 1;
    const size_t n = static_cast<size_t>(i) * 131 % 30000 + 1;
    std::string req = "ECHO " + std::to_string(n) + "\n";
    ok = ok && dyco_SSL_write(ssl, req.data(), static_cast<int>(req.size())) ==
                   static_cast<int>(req.size());
    std::vector<char> got(n);
    size_t have = 0;
    while (ok && have < n) {
      int r = dyco_SSL_read(ssl, got.data() + have, static_cast<int>(n - have));
      ok = r > 0;
      have += ok ? static_cast<size_t>(r) : 0;
    }
    ok = ok && Verify(got, n);
    if (ok) {
      dyco_SSL_shutdown(ssl);  // the server's clean end needs our close_notify
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  } else {
    // A ClientHello made in memory; then the client goes away in the
    // middle of the handshake (reset after the server's first flight) or
    // stalls after half of it (the server gives up).
    c->counts.expected_tls_bad++;
    SSL *ssl = SSL_new(c->ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    SSL_connect(ssl);
    char hello[4096];
    int len = BIO_read(wb, hello, sizeof hello);
    ok = len > 0;
    if (ok && how == 2) {
      char first[64];
      ok = send(fd, hello, static_cast<size_t>(len), MSG_NOSIGNAL) == len &&
           recv(fd, first, sizeof first, 0) > 0;
      Reset(fd);
    } else if (ok) {
      ok = send(fd, hello, static_cast<size_t>(len / 2), MSG_NOSIGNAL) ==
               len / 2 &&
           UntilClosed(fd);
      close(fd);
    } else {
      close(fd);
    }
    ERR_clear_error();
    SSL_free(ssl);
  }
  if (ok) {
    c->counts.ok++;
  } else {
    c->counts.Fail(i, "tls case " + std::to_string(how));
  }
}

void Worker(void *arg) {
  auto *c = static_cast<Clients *>(arg);
  while (c->next < c->end) {
    int i = c->next++;
    if (i % 10 == 5) {
      TlsClient(c, i);
    } else {
      PlainClient(c, i);
    }
  }
}

// --- Measures ----------------------------------------------------------------

const std::string &CertDir() {
  static std::string dir = [] {
    const char *t = getenv("TEST_TMPDIR");
    std::string d = std::string(t != nullptr ? t : "/tmp") + "/chaos_certs";
    std::string cmd = "mkdir -p " + d +
                      " && openssl req -x509 -newkey ec -pkeyopt "
                      "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                      "/CN=localhost -keyout " +
                      d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "could not make a certificate";
    }
    return d;
  }();
  return dir;
}

TEST(ChaosTest, TenThousandConnectionsGoodAndBad) {
  const int total = dyco_test::Slow() ? 2000 : 10000;
  const int warmup = total / 10;

  Server server;
  ASSERT_EQ(0, pipe2(server.control, O_CLOEXEC));
  ASSERT_EQ(0, pipe2(server.reply, O_CLOEXEC));
  for (int k = 0; k < 3; ++k) {
    server.lfd[k] = ListenOn(&server.port[k]);
    ASSERT_GE(server.lfd[k], 0);
  }
  server.ctx = SSL_CTX_new(TLS_server_method());
  std::string d = CertDir();
  ASSERT_EQ(1, SSL_CTX_use_certificate_file(
                   server.ctx, (d + "/cert.pem").c_str(), SSL_FILETYPE_PEM));
  ASSERT_EQ(1, SSL_CTX_use_PrivateKey_file(server.ctx, (d + "/key.pem").c_str(),
                                           SSL_FILETYPE_PEM));
  SSL_CTX_set_num_tickets(server.ctx, 0);  // nothing unread at the end
  SSL_CTX *client_ctx = SSL_CTX_new(TLS_client_method());

  std::thread server_thread([&server] {
    for (int k = 0; k < 3; ++k) {
      dyco_coroutine_create(Listener, new ListenArg{&server, k});
    }
    dyco_coroutine_create(Closer, &server);
    dyco_coroutine_create(Stopper, &server);
    EXPECT_EQ(0, dyco_schedule_run());
    dyco_schedule_free(dyco_schedule_self());
  });

  Clients clients;
  clients.server = &server;
  clients.ctx = client_ctx;
  std::mutex m;
  std::condition_variable cv;
  int phase = 0;  // 1: warm-up done; 2: go on; 3: all done
  std::thread client_thread([&] {
    auto run_to = [&clients](int end) {
      clients.end = end;
      // Fewer at once under a sanitizer or an emulator, where a hundred
      // TLS handshakes queued on one thread can outlast the server's
      // patience.
      const int workers = dyco_test::Slow() ? 40 : 100;
      for (int w = 0; w < workers; ++w) {
        int cid = dyco_coroutine_create(Worker, &clients);
        dyco_coroutine_setStack(cid, nullptr, kStack);
      }
      EXPECT_EQ(0, dyco_schedule_run());
      dyco_schedule_free(dyco_schedule_self());  // its epoll and eventfd too
    };
    run_to(warmup);
    {
      std::unique_lock<std::mutex> g(m);
      phase = 1;
      cv.notify_all();
      cv.wait(g, [&phase] { return phase == 2; });
    }
    run_to(total);
    std::lock_guard<std::mutex> g(m);
    phase = 3;
    cv.notify_all();
  });

  // Waits until the server holds only its own coroutines (its sessions
  // have all ended), or 20 s; returns the count.
  auto quiet_server = [&server] {
    int n = -1;
    const double deadline = NowMs() + 20000;
    do {
      EXPECT_EQ(1, write(server.control[1], "c", 1));
      EXPECT_EQ(static_cast<ssize_t>(sizeof n),
                read(server.reply[0], &n, sizeof n));
      if (n == kServerCoroutines) {
        break;
      }
      usleep(10000);
    } while (NowMs() < deadline);
    return n;
  };

  double start = NowMs();
  {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&phase] { return phase == 1; });
  }
  ASSERT_EQ(kServerCoroutines, quiet_server());
  const int fds_warm = static_cast<int>(dyco_test::OpenFds().size());
  const long rss_warm = dyco_test::RssKiB();
  {
    std::lock_guard<std::mutex> g(m);
    phase = 2;
    cv.notify_all();
  }
  {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&phase] { return phase == 3; });
  }
  client_thread.join();
  const double elapsed = NowMs() - start;
  EXPECT_EQ(kServerCoroutines, quiet_server()) << "sessions left waiting";
  const int fds_end = static_cast<int>(dyco_test::OpenFds().size());
  const long rss_end = dyco_test::RssKiB();
  ASSERT_EQ(1, write(server.control[1], "s", 1));
  server_thread.join();

  const ServerCounts &sc = server.counts;
  ClientCounts &cc = clients.counts;
  printf(
      "chaos: %d connections in %.0f ms; clients ok %d failed %d; server: "
      "sessions %d answered %d eof %d reset %d timed out %d read-cancelled "
      "%d write-cancelled %d tls served %d tls refused %d bad %d; fds %d -> "
      "%d; RSS %ld -> %ld KiB\n",
      total, elapsed, cc.ok.load(), cc.failed.load(), sc.sessions, sc.answered,
      sc.eof, sc.reset, sc.timed_out, sc.read_cancelled, sc.write_cancelled,
      sc.tls_served, sc.tls_refused, sc.bad, fds_warm, fds_end, rss_warm,
      rss_end);
  for (const std::string &f : cc.failures) {
    ADD_FAILURE() << f;
  }
  EXPECT_EQ(total, cc.ok.load());
  EXPECT_EQ(0, cc.failed.load());
  EXPECT_EQ(total, sc.sessions);  // every connection reached a session
  EXPECT_EQ(0, sc.bad);
  EXPECT_EQ(cc.expected_holds.load(), sc.read_cancelled);
  EXPECT_EQ(cc.expected_sinks.load(), sc.write_cancelled);
  EXPECT_EQ(cc.expected_tls_ok.load(), sc.tls_served);
  EXPECT_EQ(cc.expected_tls_bad.load(), sc.tls_refused);
  EXPECT_EQ(fds_warm, fds_end);
#if !CHAOS_SANITIZED
  // The stack cache, malloc's arenas and the kernel's socket buffers are
  // warm after the first tenth; what remains must not grow with the rest.
  EXPECT_LE(rss_end, rss_warm + 8 * 1024) << "RSS grew";
#endif
  SSL_CTX_free(client_ctx);
  SSL_CTX_free(server.ctx);
  for (int fd : {server.control[0], server.control[1], server.reply[0],
                 server.reply[1]}) {
    close(fd);
  }
}

}  // namespace
