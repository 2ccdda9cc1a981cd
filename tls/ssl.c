/* dyco — tls layer: each OpenSSL call is retried after waiting in the
 * scheduler for what it wants (readable or writable socket). */
#include "tls/ssl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

#include "base/clock.h"
#include "sched/wait.h"

/* Marks an SSL whose socket dyco has made non-blocking (ex_data). */
static int nonblocking_index = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void make_index(void) {
  __atomic_store_n(&nonblocking_index,
                   SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL),
                   __ATOMIC_RELEASE);
}

static int prepare(SSL *ssl) {
  if (ssl == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (__atomic_load_n(&nonblocking_index, __ATOMIC_ACQUIRE) < 0) {
    pthread_once(&index_once, make_index);
  }
  if (SSL_get_ex_data(ssl, nonblocking_index) != NULL) {
    return 0;
  }
  int fd = SSL_get_fd(ssl);
  if (fd < 0) {
    errno = EBADF;
    return -1;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return -1;
  }
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return -1;
  }
  SSL_set_ex_data(ssl, nonblocking_index, (void *)(uintptr_t)1);
  /* A read that meets a non-application record goes on reading, so that
   * SSL_ERROR_WANT_READ always means the socket said EAGAIN: the wait for
   * the next edge is then right. (BoringSSL always does.) */
  SSL_set_mode(ssl, SSL_MODE_AUTO_RETRY);
  return 0;
}

/* Waits for fd to be ready for `events`: in the scheduler inside a
 * coroutine, in poll otherwise. > 0 ready, 0 (poll) or -ETIMEDOUT
 * (dyco_fd_wait) timed out, < 0 -errno. */
static int wait_fd(int fd, uint32_t events, int timeout) {
  int r = dyco_fd_wait(fd, events, timeout);
  if (r != -EPERM) {
    return r;
  }
  struct pollfd p;
  p.fd = fd;
  p.events = events & EPOLLIN ? POLLIN : POLLOUT;
  p.revents = 0;
  for (;;) {
    r = poll(&p, 1, timeout);
    if (r >= 0) {
      return r;
    }
    if (errno != EINTR) {
      return -errno;
    }
  }
}

enum op { OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE, OP_SHUTDOWN };

static int call(SSL *ssl, enum op op, void *buf, int num) {
  switch (op) {
    case OP_ACCEPT:
      return SSL_accept(ssl);
    case OP_CONNECT:
      return SSL_connect(ssl);
    case OP_READ:
      return SSL_read(ssl, buf, num);
    case OP_WRITE:
      return SSL_write(ssl, buf, num);
    case OP_SHUTDOWN:
      return SSL_shutdown(ssl);
  }
  return -1;
}

/* Calls op until it stops wanting the socket, waiting in between. */
static int drive(SSL *ssl, enum op op, void *buf, int num, int timeout) {
  if (prepare(ssl) != 0) {
    return -1;
  }
  const int64_t deadline = timeout > 0 ? (int64_t)dyco__now_ms() + timeout : 0;
  for (;;) {
    /* SSL_get_error needs an empty error queue before the call; emptying
     * an empty one costs more than looking at it. */
    if (ERR_peek_error() != 0) {
      ERR_clear_error();
    }
    int r = call(ssl, op, buf, num);
    if (r > 0) {
      return r;
    }
    /* SSL_shutdown's 0 (peer's close_notify not there yet) is an answer,
     * not a want; the caller calls again to wait for it. */
    if (op == OP_SHUTDOWN && r == 0) {
      return 0;
    }
    int err = SSL_get_error(ssl, r);
    uint32_t events;
    if (err == SSL_ERROR_WANT_READ) {
      events = EPOLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = EPOLLOUT;
    } else {
      return r;
    }
    int left = -1;
    if (timeout == 0) {
      left = 0;
    } else if (timeout > 0) {
      int64_t rest = deadline - (int64_t)dyco__now_ms();
      left = rest > 0 ? (int)rest : 0;
    }
    int w = left == 0 ? 0 : wait_fd(SSL_get_fd(ssl), events, left);
    if (w == 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (w < 0) {
      errno = -w;
      return -1;
    }
  }
}

int dyco_SSL_accept(SSL *ssl) { return drive(ssl, OP_ACCEPT, NULL, 0, -1); }

int dyco_SSL_connect(SSL *ssl) { return drive(ssl, OP_CONNECT, NULL, 0, -1); }

int dyco_SSL_read(SSL *ssl, void *buf, int num) {
  return drive(ssl, OP_READ, buf, num, -1);
}

int dyco_SSL_write(SSL *ssl, const void *buf, int num) {
  return drive(ssl, OP_WRITE, (void *)buf, num, -1);
}

int dyco_SSL_shutdown(SSL *ssl) { return drive(ssl, OP_SHUTDOWN, NULL, 0, -1); }

int dyco_SSL_acceptTimeout(SSL *ssl, int timeout) {
  return drive(ssl, OP_ACCEPT, NULL, 0, timeout);
}

int dyco_SSL_connectTimeout(SSL *ssl, int timeout) {
  return drive(ssl, OP_CONNECT, NULL, 0, timeout);
}

int dyco_SSL_readTimeout(SSL *ssl, void *buf, int num, int timeout) {
  return drive(ssl, OP_READ, buf, num, timeout);
}

int dyco_SSL_writeTimeout(SSL *ssl, const void *buf, int num, int timeout) {
  return drive(ssl, OP_WRITE, (void *)buf, num, timeout);
}

int dyco_SSL_shutdownTimeout(SSL *ssl, int timeout) {
  return drive(ssl, OP_SHUTDOWN, NULL, 0, timeout);
}
