// dyco — tls layer tests: the stall watchdog catches a real OpenSSL bulk
// transfer (TLS 1.3 between two SSL objects joined by a BIO pair, all in
// one coroutine: pure CPU, never a wait), and yieldIfLong in its loop cures
// it.
#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/testing/fixture.h"

namespace {

using dyco_test::Go;
using dyco_test::NowMs;
using dyco_test::SchedTest;

std::mutex seen_lock;
std::vector<dyco_stall> seen;

void Collect(const dyco_stall *st, void *arg) {
  (void)arg;
  std::lock_guard<std::mutex> g(seen_lock);
  seen.push_back(*st);
}

size_t SeenCount() {
  std::lock_guard<std::mutex> g(seen_lock);
  return seen.size();
}

std::string CertDir() {
  const char *t = getenv("TEST_TMPDIR");
  std::string d = std::string(t != nullptr ? t : "/tmp") + "/wd_certs";
  std::string cmd = "mkdir -p " + d +
                    " && openssl req -x509 -newkey ec -pkeyopt "
                    "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                    "/CN=localhost -keyout " +
                    d + "/key.pem -out " + d + "/cert.pem >/dev/null 2>&1";
  EXPECT_EQ(0, system(cmd.c_str()));
  return d;
}

// A TLS 1.3 session between two SSL objects through a BIO pair, and a bulk
// transfer over it, 64 KiB records at a time, until `bytes` have crossed.
// yield_ms > 0: dyco_coroutine_yieldIfLong(yield_ms) after each record.
extern "C" __attribute__((noinline)) void dyco_test_tls_bulk(size_t bytes,
                                                             int yield_ms) {
  // With yield_ms, the setup is cut too: under ThreadSanitizer making the
  // contexts, the handshake and the buffers (their first touch) came to
  // 30 ms of CPU in one run. The first call only starts the measure.
  auto maybe_yield = [yield_ms] {
    if (yield_ms > 0) {
      EXPECT_GE(dyco_coroutine_yieldIfLong(static_cast<uint32_t>(yield_ms)), 0);
    }
  };
  maybe_yield();
  static std::string dir = CertDir();
  SSL_CTX *sctx = SSL_CTX_new(TLS_method());
  SSL_CTX *cctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);
  SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
  ASSERT_EQ(1, SSL_CTX_use_certificate_file(sctx, (dir + "/cert.pem").c_str(),
                                            SSL_FILETYPE_PEM));
  ASSERT_EQ(1, SSL_CTX_use_PrivateKey_file(sctx, (dir + "/key.pem").c_str(),
                                           SSL_FILETYPE_PEM));
  maybe_yield();
  SSL *server = SSL_new(sctx);
  SSL *client = SSL_new(cctx);
  BIO *sb = nullptr, *cb = nullptr;
  ASSERT_EQ(1, BIO_new_bio_pair(&sb, 1 << 20, &cb, 1 << 20));
  SSL_set_bio(server, sb, sb);
  SSL_set_bio(client, cb, cb);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  maybe_yield();
  for (int i = 0; i < 100 && (!SSL_is_init_finished(server) ||
                              !SSL_is_init_finished(client));
       i++) {
    SSL_do_handshake(client);
    maybe_yield();
    SSL_do_handshake(server);
    maybe_yield();
  }
  ASSERT_TRUE(SSL_is_init_finished(server) && SSL_is_init_finished(client));
  maybe_yield();
  std::vector<char> out(64 * 1024, 'x'), in(64 * 1024);
  maybe_yield();
  size_t moved = 0;
  while (moved < bytes) {
    ASSERT_EQ(static_cast<int>(out.size()),
              SSL_write(server, out.data(), static_cast<int>(out.size())));
    size_t got = 0;
    while (got < out.size()) {
      int n = SSL_read(client, in.data(), static_cast<int>(in.size()));
      ASSERT_GT(n, 0);
      got += static_cast<size_t>(n);
    }
    moved += got;
    maybe_yield();
  }
  SSL_free(server);
  SSL_free(client);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
}

struct Bulk {
  size_t bytes;
  int yield_ms;
};

extern "C" __attribute__((noinline)) void dyco_test_tls_coroutine(void *arg) {
  const Bulk *b = static_cast<const Bulk *>(arg);
  dyco_test_tls_bulk(b->bytes, b->yield_ms);
}

// The reports seen: how long, and where, innermost first.
std::string Described() {
  std::lock_guard<std::mutex> g(seen_lock);
  std::string out;
  for (const dyco_stall &st : seen) {
    out += "ran " + std::to_string(st.ran_ms) + " ms:";
    for (int i = 0; i < st.nframes; i++) {
      Dl_info info;
      const bool named =
          dladdr(st.frames[i], &info) != 0 && info.dli_sname != nullptr;
      out += std::string(" ") + (named ? info.dli_sname : "?");
    }
    out += "\n";
  }
  return out;
}

class TlsWatchdogTest : public SchedTest {
 protected:
  // The first watchdog of a process starts its reporting thread and pipe,
  // which stay for the life of the process: started before any test takes
  // its count of open fds.
  static void SetUpTestSuite() {
    std::thread([] {
      EXPECT_EQ(0, dyco_schedule_setWatchdog(1000, nullptr, nullptr));
      EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
      dyco_schedule_free(dyco_schedule_self());
    }).join();
  }

  void SetUp() override {
    SchedTest::SetUp();
    std::lock_guard<std::mutex> g(seen_lock);
    seen.clear();
  }
};

// Enough bytes for well over the threshold of encryption and decryption.
// OpenSSL itself is not instrumented under the sanitizers and runs at full
// speed there (64 MiB took 51 ms under ASan): fewer bytes only where all
// code is slow, under valgrind or an emulator.
size_t Bytes() {
#if defined(DYCO_VALGRIND)
  return 64u << 20;
#else
  return getenv("DYCO_TEST_EMULATED") != nullptr ? (64u << 20) : (256u << 20);
#endif
}

TEST_F(TlsWatchdogTest, ABulkTransferIsReported) {
  ASSERT_EQ(0, dyco_schedule_setWatchdog(30, Collect, nullptr));
  static Bulk b = {Bytes(), 0};
  const double t0 = NowMs();
  int cid = dyco_coroutine_create(dyco_test_tls_coroutine, &b);
  ASSERT_GT(cid, 0);
  ASSERT_EQ(0, dyco_schedule_run());
  const double took = NowMs() - t0;
  fprintf(stderr, "tls: %zu MiB through a BIO pair in %.0f ms\n", b.bytes >> 20,
          took);
  const double end = NowMs() + 5000;
  while (SeenCount() == 0 && NowMs() < end) {
    usleep(1000);
  }
  ASSERT_LT(60, took) << "too fast to stall: raise Bytes()";
  std::lock_guard<std::mutex> g(seen_lock);
  ASSERT_EQ(1u, seen.size());
  EXPECT_EQ(cid, seen[0].cid);
  EXPECT_EQ(reinterpret_cast<const void *>(dyco_test_tls_coroutine),
            seen[0].func);
  EXPECT_GE(seen[0].ran_ms, 30u);
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
}

// The watchdog's threshold when yieldIfLong(5) runs in the loop: 30 ms,
// six times the yield's. valgrind runs one thread at a time, some 50 times
// slower, and may keep the watchdog's or the scheduler's thread off the
// CPU for tens of ms: there the threshold is 250 ms.
uint32_t CureThresholdMs() {
#if defined(DYCO_VALGRIND)
  printf(
      "note: stall threshold 250 ms, not 30: valgrind serializes the "
      "threads and is some 50 times slower\n");
  return 250;
#else
  return 30;
#endif
}

TEST_F(TlsWatchdogTest, YieldIfLongCuresIt) {
  ASSERT_EQ(0, dyco_schedule_setWatchdog(CureThresholdMs(), Collect, nullptr));
  static Bulk b = {Bytes(), 5};
  int ticks = 0;
  bool done = false;
  double started = 0, ended = 0, max_gap = 0;
  Go([&] {
    started = NowMs();
    dyco_test_tls_coroutine(&b);
    ended = NowMs();
    done = true;
  });
  Go([&] {
    double last = NowMs();
    while (!done) {
      ticks++;
      dyco_coroutine_sleep(1);
      const double now = NowMs();
      max_gap = std::max(max_gap, now - last);
      last = now;
    }
  });
  ASSERT_EQ(0, dyco_schedule_run());
  usleep(100 * 1000);
  EXPECT_EQ(0u, SeenCount()) << Described();
  // The ticker ran all along: no wait near the whole transfer's length (a
  // count of ticks would depend on how fast this machine encrypts).
  EXPECT_GE(ticks, 1);
  EXPECT_LT(max_gap, std::max(25.0, (ended - started) / 2))
      << "the transfer took " << ended - started << " ms";
  EXPECT_EQ(0, dyco_schedule_setWatchdog(0, nullptr, nullptr));
}

}  // namespace
