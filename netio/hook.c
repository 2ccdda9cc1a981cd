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
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "netio/file.h"
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

void __chk_fail(void) __attribute__((noreturn));

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
    return -EAGAIN; /* no coroutine-local key was left for the setting */
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

int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
             struct timespec *timeout) {
  return (int)dyco__net_recvmmsg(fd, vec, vlen, flags, timeout, hooked());
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
  return (int)dyco__net_sendmmsg(fd, vec, vlen, flags, hooked());
}

/* --- sendfile and splice ------------------------------------------------- */

ssize_t sendfile(int out, int in, off_t *off, size_t count) {
  return dyco__net_sendfile(out, in, off, count, sizeof(off_t) == 8, hooked());
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t count) {
  return dyco__net_sendfile(out, in, off, count, 1, hooked());
}

ssize_t splice(int in, loff_t *in_off, int out, loff_t *out_off, size_t len,
               unsigned int flags) {
  return dyco__net_splice(in, in_off, out, out_off, len, flags, hooked());
}

/* --- Waiting on several fds ---------------------------------------------- */

int poll(struct pollfd *fds, nfds_t n, int timeout) {
  return dyco__net_poll(fds, n, timeout, hooked());
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
          const sigset_t *mask) {
  return dyco__net_ppoll(fds, n, timeout, mask, hooked());
}

int select(int n, fd_set *__restrict rd, fd_set *__restrict wr,
           fd_set *__restrict ex, struct timeval *__restrict tv) {
  return dyco__net_select(n, rd, wr, ex, tv, hooked());
}

int pselect(int n, fd_set *__restrict rd, fd_set *__restrict wr,
            fd_set *__restrict ex, const struct timespec *__restrict timeout,
            const sigset_t *__restrict mask) {
  return dyco__net_pselect(n, rd, wr, ex, timeout, mask, hooked());
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout) {
  return dyco__net_epoll_wait(epfd, ev, max, timeout, hooked());
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
                const sigset_t *mask) {
  return dyco__net_epoll_pwait(epfd, ev, max, timeout, mask, hooked());
}

int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                 const struct timespec *timeout, const sigset_t *mask) {
  return dyco__net_epoll_pwait2(epfd, ev, max, timeout, mask, hooked());
}

/* --- Files: regular files and block devices go to the ring or the
 * blocking-call pool inside coroutines (netio/file.c) ----------------- */

/* 1 when fd's I/O inside this coroutine goes through netio/file.c. */
static int file_io(int fd) {
  if (!hooked()) {
    return 0;
  }
  const dyco__net_fd *e = dyco__net_fd_entry(fd, 1);
  return e != NULL &&
         (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & DYCO__FD_FILE);
}

static ssize_t plain_prw(int write, int fd, void *buf, size_t n, int64_t off) {
  if (off < 0) {
    errno = EINVAL;
    return -1;
  }
  struct iovec v = {buf, n};
  const uint64_t o = (uint64_t)off;
  return syscall(write ? SYS_pwritev : SYS_preadv, fd, &v, 1, (unsigned long)o,
                 (unsigned long)(o >> 16 >> 16));
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  return file_io(fd) ? dyco_file_pread(fd, buf, n, off)
                     : plain_prw(0, fd, buf, n, (int64_t)off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  return file_io(fd) ? dyco_file_pwrite(fd, buf, n, off)
                     : plain_prw(1, fd, (void *)buf, n, (int64_t)off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  if (file_io(fd) && (off_t)off == off) {
    return dyco_file_pread(fd, buf, n, (off_t)off);
  }
  return plain_prw(0, fd, buf, n, (int64_t)off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
  if (file_io(fd) && (off_t)off == off) {
    return dyco_file_pwrite(fd, buf, n, (off_t)off);
  }
  return plain_prw(1, fd, (void *)buf, n, (int64_t)off);
}

int fsync(int fd) {
  return file_io(fd) ? dyco_file_fsync(fd) : (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd) {
  return file_io(fd) ? dyco_file_fdatasync(fd)
                     : (int)syscall(SYS_fdatasync, fd);
}

int statx(int dirfd, const char *__restrict path, int flags, unsigned int mask,
          struct statx *__restrict buf) {
  if (hooked()) {
    return dyco_file_statx(dirfd, path, flags, mask, buf);
  }
  return (int)syscall(SYS_statx, dirfd, path, flags, mask, buf);
}

#if defined(__LP64__)
/* 64-bit targets only: there libc's struct stat is the kernel's. */
int fstat(int fd, struct stat *st) {
  return file_io(fd) ? dyco_file_fstat(fd, st) : dyco__file_raw_fstat(fd, st);
}

int fstat64(int fd, struct stat64 *st) { return fstat(fd, (struct stat *)st); }
#endif

/* --- Making and closing fds -----------------------------------------------
 * Whatever dyco knew of an older fd with the number a call returns (one
 * closed behind its back: a raw system call, say) is forgotten, and fds a
 * call closes are closed through dyco, wherever they are waited on. The
 * calls go to the kernel as libc's do. */

static int fresh(int fd) {
  if (fd >= 0) {
    dyco__net_fd_fresh(fd);
  }
  return fd;
}

static int fresh2(int r, const int fds[2]) {
  if (r == 0) {
    fresh(fds[0]);
    fresh(fds[1]);
  }
  return r;
}

int pipe(int fds[2]) { return fresh2((int)syscall(SYS_pipe2, fds, 0), fds); }

int pipe2(int fds[2], int flags) {
  return fresh2((int)syscall(SYS_pipe2, fds, flags), fds);
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
  return fresh2((int)syscall(SYS_socketpair, domain, type, protocol, fds), fds);
}

/* open's mode is there when the flags ask for one. */
#define DYCO__NEEDS_MODE(fl) \
  (((fl) & O_CREAT) != 0 || ((fl) & O_TMPFILE) == O_TMPFILE)

#if defined(__O_LARGEFILE)
#define DYCO__LARGEFILE __O_LARGEFILE
#else
#define DYCO__LARGEFILE 0
#endif

static int open_at(int dirfd, const char *path, int flags, mode_t mode) {
  if (hooked()) {
    /* The lookup may wait for the disk: on the ring or the pool. */
    return dyco_file_openat(dirfd, path, flags, mode);
  }
  return fresh((int)syscall(SYS_openat, dirfd, path, flags, mode));
}

static mode_t mode_arg(int flags, va_list ap) {
  return DYCO__NEEDS_MODE(flags) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  /* 64-bit targets open large files always; 32-bit ones only through
   * open64 (or a program built with 64-bit offsets, which calls it). */
  return open_at(AT_FDCWD, path,
                 sizeof(long) == 8 ? flags | DYCO__LARGEFILE : flags, mode);
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_at(AT_FDCWD, path, flags | DYCO__LARGEFILE, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_at(dirfd, path,
                 sizeof(long) == 8 ? flags | DYCO__LARGEFILE : flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  return open_at(dirfd, path, flags | DYCO__LARGEFILE, mode);
}

int creat(const char *path, mode_t mode) {
  return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode) {
  return open64(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* glibc's _FORTIFY_SOURCE entry points for open without a mode. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags) {
  if (DYCO__NEEDS_MODE(flags)) {
    __chk_fail(); /* glibc: "invalid open call: O_CREAT without mode" */
  }
  return open(path, flags);
}

int __open64_2(const char *path, int flags) {
  if (DYCO__NEEDS_MODE(flags)) {
    __chk_fail();
  }
  return open64(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags) {
  if (DYCO__NEEDS_MODE(flags)) {
    __chk_fail();
  }
  return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags) {
  if (DYCO__NEEDS_MODE(flags)) {
    __chk_fail();
  }
  return openat64(dirfd, path, flags);
}

int eventfd(unsigned int count, int flags) {
  return fresh((int)syscall(SYS_eventfd2, count, flags));
}

int timerfd_create(int clock, int flags) {
  return fresh((int)syscall(SYS_timerfd_create, clock, flags));
}

int signalfd(int fd, const sigset_t *mask, int flags) {
  int r = (int)syscall(SYS_signalfd4, fd, mask, (size_t)(_NSIG / 8), flags);
  return fd == -1 ? fresh(r) : r; /* a new one, or fd changed */
}

int epoll_create(int size) {
  if (size <= 0) {
    errno = EINVAL;
    return -1;
  }
  return fresh((int)syscall(SYS_epoll_create1, 0));
}

int epoll_create1(int flags) {
  return fresh((int)syscall(SYS_epoll_create1, flags));
}

int memfd_create(const char *name, unsigned int flags) {
  return fresh((int)syscall(SYS_memfd_create, name, flags));
}

int inotify_init(void) { return fresh((int)syscall(SYS_inotify_init1, 0)); }

int inotify_init1(int flags) {
  return fresh((int)syscall(SYS_inotify_init1, flags));
}

int close_range(unsigned int first, unsigned int last, int flags) {
  return dyco__net_close_range(first, last, flags);
}

void closefrom(int lowfd) { dyco__net_closefrom(lowfd); }

/* fclose is libc's own code (flushing the stream first): the real one runs
 * after dyco has been told. */
typedef int (*dyco__fclose_fn)(FILE *);

#if defined(DYCO_HOOK_WRAP_DNS)
/* A static program: libc's fclose is a weak name for this one. */
int _IO_new_fclose(FILE *f);
static dyco__fclose_fn real_fclose(void) { return _IO_new_fclose; }
#else
static dyco__fclose_fn fclose_next;
static dyco__fclose_fn real_fclose(void) {
  dyco__fclose_fn f = __atomic_load_n(&fclose_next, __ATOMIC_ACQUIRE);
  if (f == NULL) {
    f = (dyco__fclose_fn)dlsym(RTLD_NEXT, "fclose");
    __atomic_store_n(&fclose_next, f, __ATOMIC_RELEASE);
  }
  return f;
}
#endif

int fclose(FILE *f) {
  int fd = f != NULL ? fileno(f) : -1;
  if (fd >= 0) {
    dyco__net_fd_closing(fd);
  }
  return real_fclose()(f);
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

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *__restrict buf, size_t n, size_t buflen,
                       int flags, __SOCKADDR_ARG addr,
                       socklen_t *__restrict alen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) {
    __chk_fail();
  }
  return pread(fd, buf, n, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen) {
  if (n > buflen) {
    __chk_fail();
  }
  return pread64(fd, buf, n, off);
}

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

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                const sigset_t *mask, size_t fdslen);

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                const sigset_t *mask, size_t fdslen) {
  if (fdslen / sizeof *fds < n) {
    __chk_fail();
  }
  return dyco__net_ppoll(fds, n, timeout, mask, hooked());
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
