/* dyco — netio layer: the libc hooks. Each libc name below replaces
 * libc's, yields inside coroutines and is libc everywhere else. */

/* These definitions replace libc's functions: no fortified inline copies
 * of them may be in sight. */
#undef _FORTIFY_SOURCE

#include "netio/hook.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "netio/internal/io.h"
#include "netio/socket.h"
#include "sched/coroutine.h"

/* glibc passes socket addresses as transparent unions to C with GNU
 * extensions on: reach the pointer inside. */
#if defined(__USE_GNU) && !defined(__cplusplus)
#define DYCO__SA(a) ((a).__sockaddr__)
#else
#define DYCO__SA(a) (a)
#endif

/* --- Turning the hooks off for one coroutine --------------------------- */

static int off_key = -1;
static int off_used; /* set once any coroutine turned its hooks off */
static pthread_once_t off_once = PTHREAD_ONCE_INIT;

static void make_off_key(void) { dyco_coroutine_keyCreate(&off_key, NULL); }

/* 1 when the calling code runs in a coroutine whose hooks are on. */
static inline int hooked(void) {
  if (!dyco__net_in_coroutine()) {
    return 0;
  }
  return !__atomic_load_n(&off_used, __ATOMIC_RELAXED) ||
         dyco_coroutine_getLocal(off_key) == NULL;
}

int dyco_hook_disable(void) {
  if (!dyco__net_in_coroutine()) {
    return -EPERM;
  }
  pthread_once(&off_once, make_off_key);
  if (off_key < 0) {
    return -ENOMEM;
  }
  __atomic_store_n(&off_used, 1, __ATOMIC_RELAXED);
  return dyco_coroutine_setLocal(off_key, (void *)1);
}

int dyco_hook_enable(void) {
  if (!dyco__net_in_coroutine()) {
    return -EPERM;
  }
  if (!__atomic_load_n(&off_used, __ATOMIC_RELAXED)) {
    return 0;
  }
  return dyco_coroutine_setLocal(off_key, NULL);
}

int dyco_hook_isEnabled(void) { return hooked(); }

/* --- Sockets ------------------------------------------------------------- */

int socket(int domain, int type, int protocol) {
  return dyco__net_socket(domain, type, protocol, hooked());
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len) {
  return dyco__net_accept4(fd, DYCO__SA(addr), len, 0, hooked());
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len, int flags) {
  return dyco__net_accept4(fd, DYCO__SA(addr), len, flags, hooked());
}

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  return dyco__net_connect(fd, DYCO__SA(addr), len, hooked());
}

int close(int fd) { return dyco__net_close(fd); }

ssize_t recv(int fd, void *buf, size_t len, int flags) {
  return dyco__net_recvfrom(fd, buf, len, flags, NULL, NULL, hooked());
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
  return dyco__net_sendto(fd, buf, len, flags, NULL, 0, hooked());
}

ssize_t recvfrom(int fd, void *__restrict buf, size_t len, int flags,
                 __SOCKADDR_ARG addr, socklen_t *__restrict alen) {
  return dyco__net_recvfrom(fd, buf, len, flags, DYCO__SA(addr), alen,
                            hooked());
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags,
               __CONST_SOCKADDR_ARG addr, socklen_t alen) {
  return dyco__net_sendto(fd, buf, len, flags, DYCO__SA(addr), alen, hooked());
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  return dyco__net_recvmsg(fd, msg, flags, hooked());
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  return dyco__net_sendmsg(fd, msg, flags, hooked());
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  return dyco__net_setsockopt(fd, level, name, val, len);
}

/* --- read and write ------------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t n) {
  return dyco__net_read(fd, buf, n, hooked());
}

ssize_t write(int fd, const void *buf, size_t n) {
  return dyco__net_write(fd, buf, n, hooked());
}

ssize_t readv(int fd, const struct iovec *iov, int cnt) {
  return dyco__net_readv(fd, iov, cnt, hooked());
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  return dyco__net_writev(fd, iov, cnt, hooked());
}

/* --- fcntl and dup ------------------------------------------------------- */

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return dyco__net_fcntl(fd, cmd, (long)(intptr_t)arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return dyco__net_fcntl(fd, cmd, (long)(intptr_t)arg);
}

int dup(int fd) { return dyco__net_dup(fd); }

int dup2(int fd, int to) { return dyco__net_dup3(fd, to, 0, 1); }

int dup3(int fd, int to, int flags) { return dyco__net_dup3(fd, to, flags, 0); }

/* --- Waiting on several fds ---------------------------------------------- */

int poll(struct pollfd *fds, nfds_t n, int timeout) {
  return dyco__net_poll(fds, n, timeout, hooked());
}

int select(int n, fd_set *__restrict rd, fd_set *__restrict wr,
           fd_set *__restrict ex, struct timeval *__restrict tv) {
  return dyco__net_select(n, rd, wr, ex, tv, hooked());
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
  return dyco__net_epoll_wait(epfd, ev, max, timeout, hooked());
}

/* --- Sleeping ------------------------------------------------------------- */

int nanosleep(const struct timespec *req, struct timespec *rem) {
  return dyco__net_nanosleep(req, rem, hooked());
}

int usleep(useconds_t us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  return dyco__net_nanosleep(&ts, NULL, hooked());
}

unsigned int sleep(unsigned int seconds) {
  struct timespec ts = {(time_t)seconds, 0}, rem = {0, 0};
  if (dyco__net_nanosleep(&ts, &rem, hooked()) == 0) {
    return 0;
  }
  return (unsigned int)rem.tv_sec + (rem.tv_nsec > 0);
}

/* --- glibc's _FORTIFY_SOURCE entry points --------------------------------
 * Code built with -D_FORTIFY_SOURCE (most distribution libraries) calls
 * these instead of read, recv, recvfrom and poll when it knows the size of
 * the buffer. */

void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *__restrict buf, size_t n, size_t buflen,
                       int flags, __SOCKADDR_ARG addr,
                       socklen_t *__restrict alen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  if (n > buflen) {
    __chk_fail();
  }
  return dyco__net_read(fd, buf, n, hooked());
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) {
    __chk_fail();
  }
  return dyco__net_recvfrom(fd, buf, n, flags, NULL, NULL, hooked());
}

ssize_t __recvfrom_chk(int fd, void *__restrict buf, size_t n, size_t buflen,
                       int flags, __SOCKADDR_ARG addr,
                       socklen_t *__restrict alen) {
  if (n > buflen) {
    __chk_fail();
  }
  return dyco__net_recvfrom(fd, buf, n, flags, DYCO__SA(addr), alen, hooked());
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
  if (fdslen / sizeof *fds < n) {
    __chk_fail();
  }
  return dyco__net_poll(fds, n, timeout, hooked());
}

/* --- DNS -------------------------------------------------------------------
 * glibc resolves inside getaddrinfo with calls no symbol hook reaches: the
 * hooks run the whole lookup on a worker thread instead. The real functions
 * are found with dlsym(RTLD_NEXT) in dynamic programs; a static program
 * (DYCO_HOOK_WRAP_DNS, see the BUILD file) links with
 * -Wl,--wrap=getaddrinfo,--wrap=gethostbyname, and the linker hands libc's
 * functions over as __real_*. */

typedef struct hostent *(*dyco__gethostbyname_fn)(const char *);

#if defined(DYCO_HOOK_WRAP_DNS)
int __real_getaddrinfo(const char *__restrict node,
                       const char *__restrict service,
                       const struct addrinfo *__restrict hints,
                       struct addrinfo **__restrict res);
struct hostent *__real_gethostbyname(const char *name);
int __wrap_getaddrinfo(const char *__restrict node,
                       const char *__restrict service,
                       const struct addrinfo *__restrict hints,
                       struct addrinfo **__restrict res);
struct hostent *__wrap_gethostbyname(const char *name);
#define DYCO__HOOK_GETADDRINFO __wrap_getaddrinfo
#define DYCO__HOOK_GETHOSTBYNAME __wrap_gethostbyname

static dyco__net_getaddrinfo_fn real_getaddrinfo(void) {
  return __real_getaddrinfo;
}

static dyco__gethostbyname_fn real_gethostbyname(void) {
  return __real_gethostbyname;
}
#else
#define DYCO__HOOK_GETADDRINFO getaddrinfo
#define DYCO__HOOK_GETHOSTBYNAME gethostbyname

static dyco__net_getaddrinfo_fn gai_next;
static dyco__gethostbyname_fn ghbn_next;

static dyco__net_getaddrinfo_fn real_getaddrinfo(void) {
  dyco__net_getaddrinfo_fn f = __atomic_load_n(&gai_next, __ATOMIC_ACQUIRE);
  if (f == NULL) {
    f = (dyco__net_getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    __atomic_store_n(&gai_next, f, __ATOMIC_RELEASE);
  }
  return f;
}

static dyco__gethostbyname_fn real_gethostbyname(void) {
  dyco__gethostbyname_fn f = __atomic_load_n(&ghbn_next, __ATOMIC_ACQUIRE);
  if (f == NULL) {
    f = (dyco__gethostbyname_fn)dlsym(RTLD_NEXT, "gethostbyname");
    __atomic_store_n(&ghbn_next, f, __ATOMIC_RELEASE);
  }
  return f;
}
#endif

/* Where no real function can be found (a static program linked without
 * --wrap), lookups fail instead of calling themselves for ever. */
static int no_getaddrinfo(const char *node, const char *service,
                          const struct addrinfo *hints, struct addrinfo **res) {
  (void)node;
  (void)service;
  (void)hints;
  (void)res;
  errno = ENOSYS;
  return EAI_SYSTEM;
}

__attribute__((constructor)) static void hook_init(void) {
  dyco__net_getaddrinfo_fn f = real_getaddrinfo();
  dyco__net_real_getaddrinfo = f != NULL ? f : no_getaddrinfo;
}

int DYCO__HOOK_GETADDRINFO(const char *__restrict node,
                           const char *__restrict service,
                           const struct addrinfo *__restrict hints,
                           struct addrinfo **__restrict res) {
  if (hooked()) {
    return dyco_getaddrinfo(node, service, hints, res);
  }
  dyco__net_getaddrinfo_fn f = real_getaddrinfo();
  return (f != NULL ? f : no_getaddrinfo)(node, service, hints, res);
}

struct hostent *DYCO__HOOK_GETHOSTBYNAME(const char *name) {
  if (hooked()) {
    return dyco_gethostbyname(name);
  }
  dyco__gethostbyname_fn f = real_gethostbyname();
  if (f == NULL) {
    h_errno = NO_RECOVERY;
    return NULL;
  }
  return f(name);
}
