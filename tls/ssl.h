/* dyco — tls layer: TLS on OpenSSL 3 or BoringSSL inside coroutines.
 * Drive an SSL * on a socket; every WANT_READ / WANT_WRITE yields. */
#ifndef DYCO_TLS_SSL_H_
#define DYCO_TLS_SSL_H_

#include <openssl/ssl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Each call below takes an SSL * whose fd is a socket (SSL_set_fd) and makes
 * that socket non-blocking the first time it sees it. Inside a coroutine,
 * whenever OpenSSL wants to read or write the socket (during a handshake, a
 * read, a write, a renegotiation or a TLS 1.3 key update, including a write
 * needed by a read), the coroutine waits in its scheduler and other
 * coroutines run. Outside a coroutine the calls block the thread (in poll),
 * as the plain OpenSSL calls would on a blocking socket. They return what the
 * OpenSSL call returns: use SSL_get_error as usual. The variants with a
 * timeout give up after timeout ms (-1: no limit) and then return -1 with
 * errno ETIMEDOUT (SSL_get_error then says SSL_ERROR_WANT_READ or
 * SSL_ERROR_WANT_WRITE: the call can be repeated). When the socket is closed
 * through dyco (on any thread) while a call waits, it returns -1 with errno
 * EBADF; when the wait cannot be registered with the scheduler's epoll, -1
 * with errno ENOMEM or ENOSPC. Before any OpenSSL call, dyco's own checks: -1
 * with errno EINVAL for a NULL ssl, EBADF for an SSL without an fd, or
 * fcntl's errno when the socket cannot be made non-blocking. The same sources
 * build against OpenSSL 3 and BoringSSL (--config=boringssl). */

/* dyco_SSL_accept runs the server side of the handshake, waiting (yielding)
 * until it is done: 1 when it is, <= 0 on failure (SSL_get_error tells
 * why). */
int dyco_SSL_accept(SSL *ssl);

/* dyco_SSL_connect runs the client side of the handshake, waiting as
 * dyco_SSL_accept does: 1 when done, <= 0 on failure. */
int dyco_SSL_connect(SSL *ssl);

/* dyco_SSL_read reads up to num bytes, as SSL_read: > 0 bytes read, <= 0
 * on close or error. Waits until at least one byte is there. */
int dyco_SSL_read(SSL *ssl, void *buf, int num);

/* dyco_SSL_write writes num bytes, as SSL_write (all of them unless
 * partial writes were enabled): > 0 bytes written, <= 0 on error. */
int dyco_SSL_write(SSL *ssl, const void *buf, int num);

/* dyco_SSL_shutdown sends close_notify and, as SSL_shutdown, returns 0
 * when the peer's close_notify has not arrived yet (call again to wait for
 * it), 1 when both have been sent, < 0 on error. */
int dyco_SSL_shutdown(SSL *ssl);

/* dyco_SSL_acceptTimeout, dyco_SSL_connectTimeout, dyco_SSL_readTimeout,
 * dyco_SSL_writeTimeout and dyco_SSL_shutdownTimeout are the calls above
 * with a limit of timeout ms (-1: none). When it passes they return -1 with
 * errno == ETIMEDOUT; SSL_get_error then says WANT_READ or WANT_WRITE, and
 * the call may be repeated. */
int dyco_SSL_acceptTimeout(SSL *ssl, int timeout);
int dyco_SSL_connectTimeout(SSL *ssl, int timeout);
int dyco_SSL_readTimeout(SSL *ssl, void *buf, int num, int timeout);
int dyco_SSL_writeTimeout(SSL *ssl, const void *buf, int num, int timeout);
int dyco_SSL_shutdownTimeout(SSL *ssl, int timeout);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_TLS_SSL_H_ */
