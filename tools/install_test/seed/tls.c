/* dyco — seed-style test: a TLS echo server and its clients, in one
 * program, with dyco_SSL_accept, dyco_SSL_connect, dyco_SSL_read and
 * dyco_SSL_write; OpenSSL comes with the seed's header. A ticker counts
 * sleeps meanwhile: the handshakes and reads yield. Usage: tls CERT KEY. */
#include <arpa/inet.h>

#include "dyco/dyco_coroutine.h"

static const char *cert_file;
static const char *key_file;
static unsigned short port;
static int echoed;
static int clients_done;
static int ticks;

static void sslconnection(void *arg) {
  SSL *ssl = arg;
  int fd = SSL_get_fd(ssl);
  char buf[1024];
  int len;
  if (dyco_SSL_accept(ssl) != 1) {
    ERR_print_errors_fp(stderr);
    DYCO_ABORT();
  }
  while ((len = dyco_SSL_read(ssl, buf, sizeof buf)) > 0) {
    DYCO_MUST(dyco_SSL_write(ssl, buf, len) == len);
  }
  SSL_shutdown(ssl);
  close(fd);
  SSL_free(ssl);
}

static void sslserver(void *arg) {
  (void)arg;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  DYCO_MUST(ctx != NULL);
  DYCO_MUST(SSL_CTX_use_certificate_file(ctx, cert_file, SSL_FILETYPE_PEM) > 0);
  DYCO_MUST(SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) > 0);
  int listenfd = socket(PF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  DYCO_MUST(bind(listenfd, (struct sockaddr *)&addr, sizeof addr) == 0);
  DYCO_MUST(listen(listenfd, 10) == 0);
  getsockname(listenfd, (struct sockaddr *)&addr, &len);
  port = ntohs(addr.sin_port);
  for (int i = 0; i < 2; i++) {
    len = sizeof addr;
    int client = accept(listenfd, (struct sockaddr *)&addr, &len);
    DYCO_MUST(client >= 0);
    printf("Connection: %s:%d\n", inet_ntoa(addr.sin_addr),
           ntohs(addr.sin_port));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, client);
    dyco_coroutine_create(sslconnection, ssl);
  }
  close(listenfd);
  SSL_CTX_free(ctx); /* the connections hold their own references */
}

static void sslclient(void *arg) {
  (void)arg;
  while (port == 0) {
    dyco_coroutine_sleep(1);
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int fd = socket(PF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = inet_addr("127.0.0.1");
  DYCO_MUST(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  int ret = dyco_SSL_connect(ssl);
  printf("ret = %d\n", ret);
  DYCO_MUST(ret == 1);
  printf("Connected with %s encryption\n", SSL_get_cipher(ssl));
  const char *msg = "Hello. I'm SSL Client.";
  for (int i = 0; i < 3; i++) {
    char buf[1024];
    DYCO_MUST(dyco_SSL_write(ssl, msg, (int)strlen(msg)) == (int)strlen(msg));
    int len = dyco_SSL_read(ssl, buf, sizeof buf);
    DYCO_MUST(len == (int)strlen(msg) && memcmp(buf, msg, (size_t)len) == 0);
    printf("Receive from server: %.*s\n", len, buf);
    echoed++;
    dyco_coroutine_sleep(5);
  }
  SSL_shutdown(ssl);
  close(fd);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  clients_done++;
}

static void ticker(void *arg) {
  (void)arg;
  while (clients_done < 2) {
    dyco_coroutine_sleep(1);
    ticks++;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    printf("usage: tls CERT KEY\n");
    return 2;
  }
  cert_file = argv[1];
  key_file = argv[2];
  dyco_coroutine_create(sslserver, NULL);
  dyco_coroutine_create(sslclient, NULL);
  dyco_coroutine_create(sslclient, NULL);
  dyco_coroutine_create(ticker, NULL);
  printf("[+] scheduler start running.\n");
  DYCO_MUST(dyco_schedule_run() == 0);
  printf("[-] scheduler stopped.\n");
  DYCO_MUST(echoed == 6 && ticks >= 3);
  printf("tls: passed\n");
  return 0;
}
