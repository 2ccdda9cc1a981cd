// dyco — tls layer tests: echo over TLS 1.2 and 1.3 between coroutines (200
// connections on one thread), against real `openssl s_client` and
// `openssl s_server` processes, key updates, peers that stall, reset or
// never answer, and the calls outside coroutines.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

extern "C" {
#include "tls/ssl.h"
}

namespace {

// A peer that goes away makes the next write raise SIGPIPE; servers ignore
// it (as every server must; see docs/tls.md) and see EPIPE instead.
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

// --- certificates and contexts
// ------------------------------------------------

std::string Dir() {
  const char *t = getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

// A self-signed certificate for "localhost", made once by the openssl tool.
const std::string &CertDir() {
  static std::string dir = [] {
    std::string d = Dir() + "/tls_certs";
    std::string cmd = "mkdir -p " + d +
                      " && openssl req -x509 -newkey ec -pkeyopt "
                      "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                      "/CN=localhost -keyout " +
                      d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "could not make a cert";
    }
    return d;
  }();
  return dir;
}

struct Ctx {
  SSL_CTX *server = nullptr;
  SSL_CTX *client = nullptr;
  explicit Ctx(int version) {
    server = SSL_CTX_new(TLS_method());
    client = SSL_CTX_new(TLS_method());
    for (SSL_CTX *c : {server, client}) {
      SSL_CTX_set_min_proto_version(c, version);
      SSL_CTX_set_max_proto_version(c, version);
    }
    std::string d = CertDir();
    EXPECT_EQ(1, SSL_CTX_use_certificate_file(server, (d + "/cert.pem").c_str(),
                                              SSL_FILETYPE_PEM));
    EXPECT_EQ(1, SSL_CTX_use_PrivateKey_file(server, (d + "/key.pem").c_str(),
                                             SSL_FILETYPE_PEM));
    // The client checks the server's certificate against it.
    EXPECT_EQ(1, SSL_CTX_load_verify_locations(
                     client, (d + "/cert.pem").c_str(), nullptr));
    SSL_CTX_set_verify(client, SSL_VERIFY_PEER, nullptr);
  }
  ~Ctx() {
    SSL_CTX_free(server);
    SSL_CTX_free(client);
  }
};

// --- sockets, made by hand (this layer stands on sched only) -----------------

int Listen(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(0, bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a));
  EXPECT_EQ(0, listen(fd, 1024));
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// Accepts in a coroutine, waiting in the scheduler.
int Accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 || errno != EAGAIN) {
      return fd;
    }
    if (dyco_fd_wait(lfd, EPOLLIN, 5000) <= 0) {
      return -1;
    }
  }
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) {
    return fd;
  }
  // Every close of an fd a coroutine waited on goes through
  // dyco_fd_closing (the netio layer's dyco_close and hooks do that).
  if (errno != EINPROGRESS || dyco_fd_wait(fd, EPOLLOUT, 5000) <= 0) {
    dyco_fd_closing(fd);
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    dyco_fd_closing(fd);
    close(fd);
    return -1;
  }
  return fd;
}

void CloseFd(int fd) {
  dyco_fd_closing(fd);
  close(fd);
}

void Close(SSL *ssl, int fd) {
  if (ssl != nullptr) {
    SSL_free(ssl);
  }
  CloseFd(fd);
}

std::string Payload(int seed, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (seed * 31 + i) % 26);
  }
  return s;
}

// Reads exactly n bytes (or fails).
bool ReadFull(SSL *ssl, char *buf, int n) {
  int got = 0;
  while (got < n) {
    int r = dyco_SSL_read(ssl, buf + got, n - got);
    if (r <= 0) {
      return false;
    }
    got += r;
  }
  return true;
}

// --- echo between coroutines
// ----------------------------------------------------

struct EchoStats {
  int served = 0;
  int clients_ok = 0;
  int failures = 0;
};

void ServeEcho(SSL_CTX *ctx, int fd, EchoStats *st) {
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (dyco_SSL_accept(ssl) != 1) {
    st->failures++;
    Close(ssl, fd);
    return;
  }
  char buf[16384];
  for (;;) {
    int n = dyco_SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    if (dyco_SSL_write(ssl, buf, n) != n) {
      st->failures++;
      break;
    }
  }
  st->served++;
  Close(ssl, fd);
}

void RunEcho(int version, int connections, int messages) {
  Ctx ctx(version);
  int port;
  int lfd = Listen(&port);
  EchoStats st;
  Go([&] {
    for (int i = 0; i < connections; ++i) {
      int fd = Accept(lfd);
      ASSERT_GE(fd, 0);
      Go([&, fd] { ServeEcho(ctx.server, fd, &st); });
    }
  });
  for (int c = 0; c < connections; ++c) {
    Go([&, c] {
      int fd = Connect(port);
      ASSERT_GE(fd, 0);
      SSL *ssl = SSL_new(ctx.client);
      SSL_set_fd(ssl, fd);
      SSL_set_tlsext_host_name(ssl, "localhost");
      ASSERT_EQ(1, dyco_SSL_connect(ssl)) << ERR_get_error();
      EXPECT_EQ(version, SSL_version(ssl));
      bool ok = true;
      for (int m = 0; m < messages && ok; ++m) {
        // Sizes from a byte to more than one full record.
        size_t n = 1 + (static_cast<size_t>(c) * 7919 + m * 104729) % 20000;
        std::string out = Payload(c * 1000 + m, n);
        ok = dyco_SSL_write(ssl, out.data(), static_cast<int>(n)) ==
             static_cast<int>(n);
        std::string in(n, '\0');
        ok = ok && ReadFull(ssl, &in[0], static_cast<int>(n)) && in == out;
      }
      if (ok) {
        st.clients_ok++;
      }
      dyco_SSL_shutdown(ssl);
      Close(ssl, fd);
    });
  }
  ASSERT_EQ(0, dyco_schedule_run());
  CloseFd(lfd);
  EXPECT_EQ(connections, st.clients_ok);
  EXPECT_EQ(connections, st.served);
  EXPECT_EQ(0, st.failures);
}

TEST_F(SchedTest, TwoHundredTls13EchoConnectionsOnOneThread) {
  RunEcho(TLS1_3_VERSION, 200, 10);
}

TEST_F(SchedTest, TwoHundredTls12EchoConnectionsOnOneThread) {
  RunEcho(TLS1_2_VERSION, 200, 10);
}

TEST_F(SchedTest, KeyUpdatesInTheMiddleOfTraffic) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  EchoStats st;
  Go([&] { ServeEcho(ctx.server, sv[0], &st); });
  Go([&] {
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, sv[1]);
    ASSERT_EQ(1, dyco_SSL_connect(ssl));
    for (int round = 0; round < 20; ++round) {
      // Ask the peer to update its keys too: it must write while reading.
      ASSERT_EQ(1, SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED));
      std::string out = Payload(round, 100000);
      ASSERT_EQ(100000, dyco_SSL_write(ssl, out.data(), 100000));
      std::string in(100000, '\0');
      ASSERT_TRUE(ReadFull(ssl, &in[0], 100000));
      ASSERT_EQ(out, in);
    }
    dyco_SSL_shutdown(ssl);
    Close(ssl, sv[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(1, st.served);
  EXPECT_EQ(0, st.failures);
}

// An error some earlier call left in the thread's OpenSSL error queue must
// not turn the next call's "want read" into a failure.
TEST_F(SchedTest, AStaleErrorInTheQueueDoesNotFailAWaitingRead) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  Go([&] {
    SSL *ssl = SSL_new(ctx.server);
    SSL_set_fd(ssl, sv[0]);
    ASSERT_EQ(1, dyco_SSL_accept(ssl));
    dyco_coroutine_sleep(20);  // the client's read has to wait
    EXPECT_EQ(5, dyco_SSL_write(ssl, "hello", 5));
    dyco_SSL_shutdown(ssl);
    Close(ssl, sv[0]);
  });
  int got = -1;
  char buf[8] = {0};
  Go([&] {
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, sv[1]);
    ASSERT_EQ(1, dyco_SSL_connect(ssl));
#if defined(OPENSSL_IS_BORINGSSL)
    OPENSSL_PUT_ERROR(SSL, SSL_R_BAD_LENGTH);
#else
    ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
#endif
    ASSERT_NE(0u, ERR_peek_error());
    got = dyco_SSL_read(ssl, buf, 5);
    Close(ssl, sv[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(5, got);
  EXPECT_STREQ("hello", buf);
}

TEST_F(SchedTest, ShutdownExchangesCloseNotify) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  int server_read = 1, server_shutdown = -1, client_second = -1;
  Go([&] {
    SSL *ssl = SSL_new(ctx.server);
    SSL_set_fd(ssl, sv[0]);
    ASSERT_EQ(1, dyco_SSL_accept(ssl));
    char c;
    server_read = dyco_SSL_read(ssl, &c, 1);  // the client's close_notify
    EXPECT_EQ(SSL_ERROR_ZERO_RETURN, SSL_get_error(ssl, server_read));
    server_shutdown = dyco_SSL_shutdown(ssl);
    Close(ssl, sv[0]);
  });
  Go([&] {
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, sv[1]);
    ASSERT_EQ(1, dyco_SSL_connect(ssl));
    EXPECT_EQ(0, dyco_SSL_shutdown(ssl));    // sent ours, theirs not yet in
    client_second = dyco_SSL_shutdown(ssl);  // waits for theirs
    Close(ssl, sv[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(0, server_read);
  EXPECT_EQ(1, server_shutdown);
  EXPECT_EQ(1, client_second);
}

// --- real peers
// -------------------------------------------------------------------

TEST_F(SchedTest, ADycoServerAnswersOpensslSClient) {
  if (dyco_test::NoFork()) {
    GTEST_SKIP() << "no fork here";
  }
  Ctx ctx(TLS1_3_VERSION);
  int port;
  int lfd = Listen(&port);
  std::string got;
  std::thread client([&] {
    std::string cmd =
        "printf 'hello dyco\\n' | timeout 20 openssl s_client "
        "-quiet -ign_eof -verify_return_error -CAfile " +
        CertDir() + "/cert.pem -servername localhost -connect 127.0.0.1:" +
        std::to_string(port) + " 2>/dev/null";
    FILE *p = popen(cmd.c_str(), "r");
    char buf[256];
    while (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) {
      got += buf;
    }
    if (p != nullptr) {
      pclose(p);
    }
  });
  Go([&] {
    int fd = Accept(lfd);
    ASSERT_GE(fd, 0);
    SSL *ssl = SSL_new(ctx.server);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(1, dyco_SSL_acceptTimeout(ssl, 10000));
    char line[64] = {};
    int n = dyco_SSL_readTimeout(ssl, line, sizeof line - 1, 10000);
    ASSERT_GT(n, 0);
    std::string reply = "dyco heard: " + std::string(line, n);
    EXPECT_EQ(
        static_cast<int>(reply.size()),
        dyco_SSL_write(ssl, reply.data(), static_cast<int>(reply.size())));
    dyco_SSL_shutdownTimeout(ssl, 2000);
    Close(ssl, fd);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  client.join();
  CloseFd(lfd);
  EXPECT_EQ("dyco heard: hello dyco\n", got);
}

TEST_F(SchedTest, ADycoClientTalksToOpensslSServer) {
  if (dyco_test::NoFork()) {
    GTEST_SKIP() << "no fork here";
  }
  Ctx ctx(TLS1_2_VERSION);
  // A free port: take one, release it, and give it to s_server.
  int port;
  close(Listen(&port));
  pid_t server = fork();
  if (server == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    std::string cert = CertDir() + "/cert.pem", key = CertDir() + "/key.pem";
    std::string accept = std::to_string(port);
    execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(), "-cert",
           cert.c_str(), "-key", key.c_str(), "-rev", "-naccept", "1",
           (char *)nullptr);
    _exit(127);
  }
  std::string reply;
  Go([&] {
    int fd = -1;
    // Until the server listens.
    for (int i = 0; i < 200 && fd < 0; ++i) {
      fd = Connect(port);
      if (fd < 0) {
        dyco_coroutine_sleep(25);
      }
    }
    ASSERT_GE(fd, 0);
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    ASSERT_EQ(1, dyco_SSL_connectTimeout(ssl, 10000));
    const char msg[] = "stressed\n";
    ASSERT_EQ(9, dyco_SSL_write(ssl, msg, 9));
    char buf[64];
    // -rev answers each line reversed.
    while (reply.find('\n') == std::string::npos) {
      int n = dyco_SSL_readTimeout(ssl, buf, sizeof buf, 10000);
      if (n <= 0) {
        break;
      }
      reply.append(buf, n);
    }
    Close(ssl, fd);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  EXPECT_EQ("desserts\n", reply);
}

// --- bad peers
// ---------------------------------------------------------------------

TEST_F(SchedTest, APeerThatStopsMidHandshakeTimesOut) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  Go([&] {
    // The first bytes of a TLS record, then nothing.
    const unsigned char partial[] = {0x16, 0x03, 0x01, 0x01, 0x00, 0x01};
    ASSERT_EQ(6, write(sv[1], partial, sizeof partial));
  });
  Go([&] {
    SSL *ssl = SSL_new(ctx.server);
    SSL_set_fd(ssl, sv[0]);
    const double start = NowMs();
    EXPECT_EQ(-1, dyco_SSL_acceptTimeout(ssl, 100));
    EXPECT_EQ(ETIMEDOUT, errno);
    EXPECT_GE(NowMs() - start, 99.0);
    EXPECT_EQ(SSL_ERROR_WANT_READ, SSL_get_error(ssl, -1));
    Close(ssl, sv[0]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  close(sv[1]);
}

TEST_F(SchedTest, APeerThatResetsTheConnectionFailsTheHandshake) {
  Ctx ctx(TLS1_3_VERSION);
  int port;
  int lfd = Listen(&port);
  int result = 1;
  Go([&] {
    int fd = Accept(lfd);
    ASSERT_GE(fd, 0);
    SSL *ssl = SSL_new(ctx.server);
    SSL_set_fd(ssl, fd);
    result = dyco_SSL_acceptTimeout(ssl, 5000);
    Close(ssl, fd);
  });
  Go([&] {
    int fd = Connect(port);
    ASSERT_GE(fd, 0);
    dyco_coroutine_sleep(10);
    linger l{1, 0};  // close with a reset
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    CloseFd(fd);
  });
  const double start = NowMs();
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_LE(result, 0);
  EXPECT_LT(NowMs() - start, 4000);  // an error, not the timeout
  CloseFd(lfd);
}

TEST_F(SchedTest, AServerThatNeverAnswersTimesOutTheClient) {
  Ctx ctx(TLS1_2_VERSION);
  int port;
  int lfd = Listen(&port);
  Go([&] {
    int fd = Accept(lfd);  // accepts, then says nothing
    ASSERT_GE(fd, 0);
    // Silent for longer than the bound below: the client's end comes from
    // its own 100 ms timeout, not from this close.
    dyco_coroutine_sleep(dyco_test::Slow() ? 3000 : 300);
    CloseFd(fd);
  });
  Go([&] {
    int fd = Connect(port);
    ASSERT_GE(fd, 0);
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, fd);
    const double start = NowMs();
    EXPECT_EQ(-1, dyco_SSL_connectTimeout(ssl, 100));
    EXPECT_EQ(ETIMEDOUT, errno);
    EXPECT_LT(NowMs() - start, dyco_test::Slow() ? 2500 : 250);
    Close(ssl, fd);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  CloseFd(lfd);
}

TEST_F(SchedTest, ClosingTheSocketWakesAWaitingReadWithEbadf) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  SSL *server = nullptr;
  int r = 0, err = 0;
  Go([&] {
    server = SSL_new(ctx.server);
    SSL_set_fd(server, sv[0]);
    ASSERT_EQ(1, dyco_SSL_accept(server));
    char c;
    r = dyco_SSL_read(server, &c, 1);
    err = errno;
  });
  Go([&] {
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, sv[1]);
    ASSERT_EQ(1, dyco_SSL_connect(ssl));
    dyco_coroutine_sleep(20);
    dyco_fd_closing(sv[0]);  // the server's socket goes away under it
    SSL_free(ssl);
    close(sv[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-1, r);
  EXPECT_EQ(EBADF, err);
  SSL_free(server);
  close(sv[0]);
}

// A read waiting for the peer is cancelled: -1 with errno ECANCELED at
// once; past a deadline, ETIMEDOUT at the deadline.
TEST_F(SchedTest, CancelAndDeadlineEndAWaitingRead) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  SSL *server = nullptr;
  int r = 0, err = 0, r2 = 0, err2 = 0;
  double cancelled_at = 0, woke_at = 0, took = 0;
  bool reading = false, done = false;
  int cid = Go([&] {
    server = SSL_new(ctx.server);
    SSL_set_fd(server, sv[0]);
    ASSERT_EQ(1, dyco_SSL_accept(server));
    char c;
    reading = true;
    r = dyco_SSL_read(server, &c, 1);
    err = errno;
    woke_at = NowMs();
    EXPECT_EQ(1, dyco_coroutine_uncancel());
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
                   static_cast<uint64_t>(ts.tv_nsec);
    // The time is measured from the instant the deadline counts from, not
    // after setting it: the thread may be preempted in between.
    const double t0 = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    ASSERT_EQ(0, dyco_coroutine_setDeadline(now + 30000000u));
    r2 = dyco_SSL_read(server, &c, 1);
    err2 = errno;
    took = NowMs() - t0;
    done = true;
  });
  Go([&] {
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, sv[1]);
    ASSERT_EQ(1, dyco_SSL_connect(ssl));
    dyco_coroutine_info info;
    while (!reading || dyco_coroutine_getInfo(cid, &info) != 0 ||
           info.state != DYCO_COROUTINE_WAITING) {
      dyco_coroutine_sleep(1);
    }
    cancelled_at = NowMs();
    ASSERT_EQ(0, dyco_coroutine_cancel(cid));
    while (!done) {
      dyco_coroutine_sleep(1);
    }
    SSL_free(ssl);
    close(sv[1]);
  });
  ASSERT_EQ(0, dyco_schedule_run());
  EXPECT_EQ(-1, r);
  EXPECT_EQ(ECANCELED, err);
  EXPECT_LT(woke_at - cancelled_at, 50);
  EXPECT_EQ(-1, r2);
  EXPECT_EQ(ETIMEDOUT, err2);
  EXPECT_GE(took, 29.999);  // never before the deadline
  EXPECT_LT(took, 500);
  SSL_free(server);
  close(sv[0]);
}

TEST_F(SchedTest, OutsideACoroutineTheCallsBlockLikeOpenssl) {
  Ctx ctx(TLS1_3_VERSION);
  int sv[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  std::string got;
  // A plain thread (no scheduler) is the client.
  std::thread client([&] {
    SSL *ssl = SSL_new(ctx.client);
    SSL_set_fd(ssl, sv[1]);
    EXPECT_EQ(1, dyco_SSL_connect(ssl));
    EXPECT_EQ(5, dyco_SSL_write(ssl, "ping!", 5));
    char buf[8];
    int n = dyco_SSL_read(ssl, buf, sizeof buf);
    if (n > 0) {
      got.assign(buf, n);
    }
    SSL_free(ssl);
    close(sv[1]);
  });
  EchoStats st;
  Go([&] { ServeEcho(ctx.server, sv[0], &st); });
  ASSERT_EQ(0, dyco_schedule_run());
  client.join();
  EXPECT_EQ("ping!", got);
  EXPECT_EQ(1, st.served);
}

TEST(TlsTest, BadArguments) {
  errno = 0;
  EXPECT_EQ(-1, dyco_SSL_accept(nullptr));
  EXPECT_EQ(EINVAL, errno);
  SSL_CTX *c = SSL_CTX_new(TLS_method());
  SSL *ssl = SSL_new(c);  // no fd
  EXPECT_EQ(-1, dyco_SSL_connect(ssl));
  EXPECT_EQ(EBADF, errno);
  SSL_free(ssl);
  SSL_CTX_free(c);
}

}  // namespace
