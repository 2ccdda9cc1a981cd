/* dyco example: a TLS server and its clients on one thread.
 * The server hands each connection to a coroutine that runs the handshake
 * and echoes with dyco_SSL_accept/read/write; 20 client coroutines connect
 * at once, check the server's certificate and every echoed byte. The
 * certificate is made here with the openssl tool. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dyco.h"

#define CLIENTS 20

static SSL_CTX *server_ctx, *client_ctx;
static int port, clients_ok;

static void serve(void *arg) {
  int fd = (int)(long)arg;
  SSL *ssl = SSL_new(server_ctx);
  SSL_set_fd(ssl, fd);
  if (dyco_SSL_acceptTimeout(ssl, 5000) == 1) {
    char buf[1024];
    int n;
    while ((n = dyco_SSL_read(ssl, buf, sizeof buf)) > 0) {
      if (dyco_SSL_write(ssl, buf, n) != n) {
        break;
      }
    }
    dyco_SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  dyco_close(fd);
}

static void listener(void *arg) {
  (void)arg;
  int lfd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  listen(lfd, 64);
  for (int i = 0; i < CLIENTS; i++) {
    int fd = dyco_accept(lfd, NULL, NULL);
    if (fd >= 0) {
      dyco_coroutine_create(serve, (void *)(long)fd);
    }
  }
  dyco_close(lfd);
}

static void client(void *arg) {
  long id = (long)arg;
  while (port == 0) {
    dyco_coroutine_yield();
  }
  int fd = dyco_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (dyco_connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    return;
  }
  SSL *ssl = SSL_new(client_ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (dyco_SSL_connectTimeout(ssl, 5000) == 1) {
    char out[64], in[64];
    int n = snprintf(out, sizeof out, "secret number %ld", id);
    int got = 0;
    if (dyco_SSL_write(ssl, out, n) == n) {
      while (got < n) {
        int r = dyco_SSL_read(ssl, in + got, n - got);
        if (r <= 0) {
          break;
        }
        got += r;
      }
    }
    if (got == n && memcmp(in, out, (size_t)n) == 0) {
      clients_ok++;
    }
    if (id == 0) {
      printf("client 0: %s over %s\n", SSL_get_version(ssl),
             SSL_get_cipher(ssl));
    }
    dyco_SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  dyco_close(fd);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  char dir[] = "/tmp/dyco_tls_example_XXXXXX";
  if (mkdtemp(dir) == NULL) {
    return 1;
  }
  char cmd[512], cert[128], key[128];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
           "-nodes "
           "-days 1 -subj /CN=localhost -keyout %s -out %s >/dev/null 2>&1",
           key, cert);
  if (system(cmd) != 0) {
    return 1;
  }
  server_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_file(server_ctx, cert, SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(server_ctx, key, SSL_FILETYPE_PEM);
  client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(client_ctx, cert, NULL);
  SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);

  dyco_coroutine_create(listener, NULL);
  for (long i = 0; i < CLIENTS; i++) {
    dyco_coroutine_create(client, (void *)i);
  }
  dyco_schedule_run();
  printf("%d of %d TLS clients verified the server and got their bytes back\n",
         clients_ok, CLIENTS);
  SSL_CTX_free(server_ctx);
  SSL_CTX_free(client_ctx);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) {
    return 1;
  }
  return clients_ok == CLIENTS ? 0 : 1;
}
