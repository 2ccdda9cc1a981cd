/* dyco — the compatibility header for programs written for dyco-coroutine:
 * #include "dyco/dyco_coroutine.h" gives them what that project's header did.
 *
 * New code includes "dyco.h" instead. This header is dyco.h plus what the
 * seed's header gave a program besides its API (docs/compat.md lists it):
 *
 *  - _GNU_SOURCE, defined here when the program did not define it and no
 *    system header has been included yet (it only has an effect before the
 *    first one, and defining it later would claim what glibc did not set
 *    up). Programs that include a system header first and need a GNU
 *    extension define _GNU_SOURCE themselves (or compile with
 *    -D_GNU_SOURCE), as with any other header.
 *  - the system headers it included: stdio, stdlib, limits, string, unistd,
 *    fcntl, errno, pthread, signal, time, poll, epoll, signalfd, wait,
 *    eventfd, socket, dlfcn, assert (and stdint, stdatomic); OpenSSL's ssl.h
 *    and err.h with the dyco_SSL_* calls whenever OpenSSL's headers are
 *    there.
 *  - DYCO_VERSION, dyco_version(), DYCO_ABORT(), DYCO_MUST(x),
 *    DYCO_MUSTNOT(x), DYCO_WARNIF(x, msg) and the configuration constants
 *    DYCO_MAX_EVENTS, DYCO_MAX_STACKSIZE, DYCO_DEFAULT_STACKSIZE,
 *    DYCO_DEFAULT_TIMEOUT, DYCO_DEFAULT_CHANNELSIZE, DYCO_URGENT_MAXEXEC,
 *    DYCO_URGENT_MAXWAIT.
 *
 * Unlike the seed's header it does not define NDEBUG: a program's asserts
 * stay as the program's build says. The seed built with its libc hooks
 * always on: link the hooks too (pkg-config dyco-hook, or Bazel's
 * @dyco//:dyco_coroutine), see README's "Without Bazel". */
#ifndef DYCO_DYCO_DYCO_COROUTINE_H_
#define DYCO_DYCO_DYCO_COROUTINE_H_

#if !defined(_GNU_SOURCE) && !defined(_FEATURES_H)
#define _GNU_SOURCE 1
#endif

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifndef __cplusplus
#include <stdatomic.h>
#endif

#include "dyco.h"

/* OpenSSL, and the seed's dyco_SSL_* calls on it, whenever OpenSSL's
 * headers are there for the target (dyco.h declares them, with the rest of
 * tls/ssl.h, under DYCO_HAVE_TLS, which pkg-config's flags and Bazel's
 * //:dyco set where dyco has TLS; the installed library always has it). */
#if !defined(DYCO_HAVE_TLS) && defined(__has_include)
#if __has_include(<openssl/ssl.h>) && __has_include(<openssl/opensslconf.h>)
#define DYCO__COMPAT_OPENSSL 1
#endif
#endif
#if defined(DYCO_HAVE_TLS) || defined(DYCO__COMPAT_OPENSSL)
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif
#if defined(DYCO__COMPAT_OPENSSL)
#ifdef __cplusplus
extern "C" {
#endif
int dyco_SSL_accept(SSL *ssl);
int dyco_SSL_connect(SSL *ssl);
int dyco_SSL_read(SSL *ssl, void *buf, int num);
int dyco_SSL_write(SSL *ssl, const void *buf, int num);
#ifdef __cplusplus
}
#endif
#endif

/* The seed's version string: the seed release whose API this matches. */
#define DYCO_VERSION "v2.1.1"

static inline const char *dyco_version(void) { return DYCO_VERSION; }

/* The seed's configuration constants, with the seed's values. dyco takes
 * its own limits from elsewhere (its headers say which); these are for
 * programs that size their own buffers by them. */
#define DYCO_MAX_EVENTS 1024
#define DYCO_MAX_STACKSIZE (64 * 1024)
#define DYCO_DEFAULT_STACKSIZE (16 * 1024)
#define DYCO_DEFAULT_TIMEOUT 10000000
#define DYCO_DEFAULT_CHANNELSIZE 256
#define DYCO_URGENT_MAXEXEC 128
#define DYCO_URGENT_MAXWAIT 128

/* The seed's schedulers had a shared stack of DYCO_MAX_STACKSIZE bytes
 * unless told otherwise (dyco's own default is larger), and seed programs
 * count on it: a stack check that stops a recursion at 7/8 of it, say.
 * Every file that includes this header sets it before main runs; a
 * scheduler that already exists keeps its stack, and dyco_schedule_create
 * with a size of its own still picks another. */
__attribute__((constructor)) static void dyco__compat_stack(void) {
  dyco_schedule_setDefaultStack(DYCO_MAX_STACKSIZE);
}

/* The seed's quick start passed a `dyco_semaphore **` where the seed's
 * calls take a `void **` (dyco_coroutine_getUdata(cid, &sem)): C converts
 * between the two only with a cast, and a compiler warns without one. These
 * macros make the cast, for every seed call that hands back a pointer; the
 * functions themselves are unchanged ((dyco_coroutine_getUdata)(...) calls
 * them directly). */
#define dyco_coroutine_getUdata(cid, udata) \
  dyco_coroutine_getUdata((cid), (void **)(udata))
#define dyco_coroutine_getStack(cid, stackptr, stacksize) \
  dyco_coroutine_getStack((cid), (void **)(stackptr), (stacksize))
#define dyco_schedule_getUdata(udata) dyco_schedule_getUdata((void **)(udata))
#define dyco_asymcoro_getUdata(cid, udata) \
  dyco_asymcoro_getUdata((cid), (void **)(udata))
#define dyco_asymcoro_getStack(cid, stackptr, stacksize) \
  dyco_asymcoro_getStack((cid), (void **)(stackptr), (stacksize))

/* The seed's checks: print where on stdout and exit(1). DYCO_MUST and
 * DYCO_MUSTNOT are statements, as in the seed (an if without braces);
 * DYCO_WARNIF prints msg and carries on. */
#define DYCO_ABORT()                                                        \
  do {                                                                      \
    printf("[x] error occurs in %s:%s:%d\n", __FILE__, __func__, __LINE__); \
    exit(1);                                                                \
  } while (0)
#define DYCO_MUST(logic)                                                 \
  if (!(logic)) {                                                        \
    printf("[?] condition is not met in %s:%s:%d\n", __FILE__, __func__, \
           __LINE__);                                                    \
    exit(1);                                                             \
  }
#define DYCO_MUSTNOT(logic)                                              \
  if ((logic)) {                                                         \
    printf("[?] condition is not met in %s:%s:%d\n", __FILE__, __func__, \
           __LINE__);                                                    \
    exit(1);                                                             \
  }
#define DYCO_WARNIF(logic, msg)                                           \
  if ((logic)) {                                                          \
    printf("[!] warning in %s:%s:%d: %s\n", __FILE__, __func__, __LINE__, \
           msg);                                                          \
  }

#endif /* DYCO_DYCO_DYCO_COROUTINE_H_ */
