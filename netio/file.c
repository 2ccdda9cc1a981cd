/* dyco — netio layer: file I/O on the scheduler's io_uring, or on the
 * blocking-call pool with the epoll back end (netio/file.h). */
#include "netio/file.h"

#include <errno.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/sys.h"
#include "netio/blocking.h"
#include "netio/internal/io.h"
#include "sched/coroutine.h"
#include "sched/poller.h"

/* The most one read or write moves, as Linux's MAX_RW_COUNT. */
#define MAX_RW 0x7ffff000u

enum {
  OP_READ,
  OP_WRITE,
  OP_READV,
  OP_WRITEV,
  OP_FSYNC,
  OP_FDATASYNC,
  OP_OPENAT,
  OP_CLOSE,
  OP_STATX
};

/* One operation. On the heap, with everything it points to, while its
 * coroutine waits: the coroutine's stack may be the shared one, which the
 * other coroutines use meanwhile. */
typedef struct fop {
  int op;
  int fd; /* the dirfd of openat and statx */
  int flags;
  unsigned mask; /* statx */
  unsigned mode; /* openat */
  void *buf;
  size_t len;  /* bytes; iovecs for readv/writev */
  int64_t off; /* -1: at the file position */
  const char *path;
  struct statx *stx;
} fop;

/* The operation as plain system calls: -1 with errno on error. */
static long run_sys(const fop *f) {
  size_t n = f->len > MAX_RW ? MAX_RW : f->len;
  switch (f->op) {
    case OP_READ:
    case OP_WRITE: {
      if (f->off < 0) {
        return f->op == OP_READ ? dyco__sys_read(f->fd, f->buf, n)
                                : dyco__sys_write(f->fd, f->buf, n);
      }
      /* pread and pwrite as preadv and pwritev of one vector: their offset
       * is passed the same way on every architecture. */
      struct iovec v = {f->buf, n};
      const uint64_t off = (uint64_t)f->off;
      return syscall(f->op == OP_READ ? SYS_preadv : SYS_pwritev, f->fd, &v, 1,
                     (unsigned long)off, (unsigned long)(off >> 16 >> 16));
    }
    case OP_READV:
      return dyco__sys_readv(f->fd, (const struct iovec *)f->buf, (int)f->len);
    case OP_WRITEV:
      return dyco__sys_writev(f->fd, (const struct iovec *)f->buf, (int)f->len);
    case OP_FSYNC:
      return syscall(SYS_fsync, f->fd);
    case OP_FDATASYNC:
      return syscall(SYS_fdatasync, f->fd);
    case OP_OPENAT:
      return syscall(SYS_openat, f->fd, f->path, f->flags, f->mode);
    case OP_CLOSE:
      return dyco__sys_close(f->fd);
    case OP_STATX:
      return syscall(SYS_statx, f->fd, f->path, f->flags, f->mask, f->stx);
  }
  errno = EINVAL;
  return -1;
}

static intptr_t run_on_worker(void *arg) {
  return (intptr_t)run_sys((const fop *)arg);
}

/* The operation on the scheduler's ring: -1 with errno on error. */
static long run_ring(const fop *f) {
  dyco_uring_op o;
  memset(&o, 0, sizeof o);
  o.fd = f->fd;
  switch (f->op) {
    case OP_READ:
    case OP_WRITE:
      o.opcode = f->op == OP_READ ? IORING_OP_READ : IORING_OP_WRITE;
      o.addr = (uint64_t)(uintptr_t)f->buf;
      o.len = (uint32_t)(f->len > MAX_RW ? MAX_RW : f->len);
      o.off = (uint64_t)f->off; /* -1: the file position */
      break;
    case OP_READV:
    case OP_WRITEV:
      o.opcode = f->op == OP_READV ? IORING_OP_READV : IORING_OP_WRITEV;
      o.addr = (uint64_t)(uintptr_t)f->buf;
      o.len = (uint32_t)f->len;
      o.off = (uint64_t)f->off;
      break;
    case OP_FSYNC:
    case OP_FDATASYNC:
      o.opcode = IORING_OP_FSYNC;
      o.op_flags = f->op == OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0;
      break;
    case OP_OPENAT:
      o.opcode = IORING_OP_OPENAT;
      o.addr = (uint64_t)(uintptr_t)f->path;
      o.len = f->mode;
      o.op_flags = (uint32_t)f->flags;
      break;
    case OP_CLOSE:
      o.opcode = IORING_OP_CLOSE;
      break;
    case OP_STATX:
      o.opcode = IORING_OP_STATX;
      o.addr = (uint64_t)(uintptr_t)f->path;
      o.len = f->mask;
      o.off = (uint64_t)(uintptr_t)f->stx;
      o.op_flags = (uint32_t)f->flags;
      break;
  }
  /* At the file position: io_uring's offset -1 leaves the position where it
   * was after an O_DIRECT transfer that completes asynchronously (ext4,
   * Linux 6.x), so the position is read and moved here instead. An
   * O_APPEND write goes to the end whatever the offset, and leaves the
   * position there. */
  int64_t pos = -1;
  int append = 0;
  if ((f->op == OP_READ || f->op == OP_WRITE || f->op == OP_READV ||
       f->op == OP_WRITEV) &&
      f->off < 0) {
    if (f->op == OP_WRITE || f->op == OP_WRITEV) {
      int fl = dyco__sys_fcntl(f->fd, F_GETFL, 0);
      append = fl >= 0 && (fl & O_APPEND);
    }
    if (!append) {
      pos = (int64_t)lseek64(f->fd, 0, SEEK_CUR);
      if (pos >= 0) {
        o.off = (uint64_t)pos;
      }
    }
  }
  long r = dyco_uring_call(&o);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  if (pos >= 0 && r > 0) {
    lseek64(f->fd, (off64_t)(pos + r), SEEK_SET);
  } else if (append && r > 0) {
    lseek64(f->fd, 0, SEEK_END);
  }
  return r;
}

/* f (on the heap) for the running coroutine: on the ring, or a worker. */
static long run_async(fop *f) {
  if (dyco_schedule_getPoller() == DYCO_POLLER_URING) {
    return run_ring(f);
  }
  return (long)dyco_blocking_call(run_on_worker, f);
}

/* 1 when [p, p + n) overlaps the shared stack the running coroutine is
 * on. */
static int on_shared_stack(const void *p, size_t n) {
  void *base = NULL;
  size_t size = 0;
  if (dyco_coroutine_getStack(dyco_coroutine_coroID(), &base, &size) != 0 ||
      base == NULL) {
    return 0; /* a private stack stays in place while it waits */
  }
  const char *lo = (const char *)base;
  const char *c = (const char *)p;
  return c < lo + size && c + n > lo;
}

/* A heap copy of a buffer on the shared stack, aligned for O_DIRECT. */
static void *bounce_alloc(size_t n) {
  return aligned_alloc(4096, (n + 4095) & ~(size_t)4095);
}

static ssize_t xfer(int op, int fd, void *buf, size_t n, int64_t off) {
  fop *f = (fop *)calloc(1, sizeof *f);
  if (f == NULL) {
    errno = ENOMEM;
    return -1;
  }
  f->op = op;
  f->fd = fd;
  f->buf = buf;
  f->len = n > MAX_RW ? MAX_RW : n;
  f->off = off;
  void *bounce = NULL;
  if (f->len > 0 && on_shared_stack(buf, f->len)) {
    bounce = bounce_alloc(f->len);
    if (bounce == NULL) {
      free(f);
      errno = ENOMEM;
      return -1;
    }
    if (op == OP_WRITE) {
      memcpy(bounce, buf, f->len);
    }
    f->buf = bounce;
  }
  long r = run_async(f);
  int err = errno;
  if (bounce != NULL) {
    if (op == OP_READ && r > 0) {
      memcpy(buf, bounce, (size_t)r);
    }
    free(bounce);
  }
  free(f);
  errno = err;
  return r;
}

static ssize_t xfer_sync(int op, int fd, void *buf, size_t n, int64_t off) {
  fop f;
  memset(&f, 0, sizeof f);
  f.op = op;
  f.fd = fd;
  f.buf = buf;
  f.len = n;
  f.off = off;
  return run_sys(&f);
}

ssize_t dyco_file_read(int fd, void *buf, size_t n) {
  if (!dyco__net_in_coroutine()) {
    return xfer_sync(OP_READ, fd, buf, n, -1);
  }
  return xfer(OP_READ, fd, buf, n, -1);
}

ssize_t dyco_file_write(int fd, const void *buf, size_t n) {
  if (!dyco__net_in_coroutine()) {
    return xfer_sync(OP_WRITE, fd, (void *)buf, n, -1);
  }
  return xfer(OP_WRITE, fd, (void *)buf, n, -1);
}

ssize_t dyco_file_pread(int fd, void *buf, size_t n, off_t off) {
  if (off < 0) {
    errno = EINVAL;
    return -1;
  }
  if (!dyco__net_in_coroutine()) {
    return xfer_sync(OP_READ, fd, buf, n, (int64_t)off);
  }
  return xfer(OP_READ, fd, buf, n, (int64_t)off);
}

ssize_t dyco_file_pwrite(int fd, const void *buf, size_t n, off_t off) {
  if (off < 0) {
    errno = EINVAL;
    return -1;
  }
  if (!dyco__net_in_coroutine()) {
    return xfer_sync(OP_WRITE, fd, (void *)buf, n, (int64_t)off);
  }
  return xfer(OP_WRITE, fd, (void *)buf, n, (int64_t)off);
}

static ssize_t xferv(int op, int fd, const struct iovec *iov, int cnt) {
  if (cnt < 0 || cnt > IOV_MAX) {
    errno = EINVAL;
    return -1;
  }
  if (!dyco__net_in_coroutine()) {
    return op == OP_READV ? dyco__sys_readv(fd, iov, cnt)
                          : dyco__sys_writev(fd, iov, cnt);
  }
  size_t total = 0;
  int shared = 0;
  for (int i = 0; i < cnt; i++) {
    if (iov[i].iov_len > SSIZE_MAX - total) {
      errno = EINVAL;
      return -1;
    }
    total += iov[i].iov_len;
    shared |=
        iov[i].iov_len > 0 && on_shared_stack(iov[i].iov_base, iov[i].iov_len);
  }
  if (shared) {
    /* Through one heap buffer: a readv or writev of a regular file is the
     * read or write of its vectors end to end. */
    char *all = (char *)bounce_alloc(total > 0 ? total : 1);
    if (all == NULL) {
      errno = ENOMEM;
      return -1;
    }
    size_t at = 0;
    if (op == OP_WRITEV) {
      for (int i = 0; i < cnt; i++) {
        memcpy(all + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
      }
    }
    ssize_t r = xfer(op == OP_READV ? OP_READ : OP_WRITE, fd, all, total, -1);
    int err = errno;
    if (op == OP_READV && r > 0) {
      at = 0;
      for (int i = 0; i < cnt && at < (size_t)r; i++) {
        size_t k =
            iov[i].iov_len < (size_t)r - at ? iov[i].iov_len : (size_t)r - at;
        memcpy(iov[i].iov_base, all + at, k);
        at += k;
      }
    }
    free(all);
    errno = err;
    return r;
  }
  /* The vectors themselves may be on the shared stack: copy them. */
  fop *f = (fop *)calloc(1, sizeof *f + (size_t)cnt * sizeof *iov);
  if (f == NULL) {
    errno = ENOMEM;
    return -1;
  }
  struct iovec *copy = (struct iovec *)(void *)(f + 1);
  if (cnt > 0) {
    memcpy(copy, iov, (size_t)cnt * sizeof *iov);
  }
  f->op = op;
  f->fd = fd;
  f->buf = copy;
  f->len = (size_t)cnt;
  f->off = -1;
  long r = run_async(f);
  int err = errno;
  free(f);
  errno = err;
  return r;
}

ssize_t dyco_file_readv(int fd, const struct iovec *iov, int cnt) {
  return xferv(OP_READV, fd, iov, cnt);
}

ssize_t dyco_file_writev(int fd, const struct iovec *iov, int cnt) {
  return xferv(OP_WRITEV, fd, iov, cnt);
}

/* An operation without buffers (fsync, fdatasync, close). */
static int simple(int op, int fd) {
  fop local;
  memset(&local, 0, sizeof local);
  local.op = op;
  local.fd = fd;
  if (!dyco__net_in_coroutine()) {
    return (int)run_sys(&local);
  }
  fop *f = (fop *)malloc(sizeof *f);
  if (f == NULL) {
    errno = ENOMEM;
    return -1;
  }
  *f = local;
  int r = (int)run_async(f);
  int err = errno;
  free(f);
  errno = err;
  return r;
}

int dyco_file_fsync(int fd) { return simple(OP_FSYNC, fd); }

int dyco_file_fdatasync(int fd) { return simple(OP_FDATASYNC, fd); }

int dyco_file_close(int fd) {
  dyco__net_fd_closing(fd);
  return simple(OP_CLOSE, fd);
}

/* openat and statx: a copy of the path (and of the statx result) on the
 * heap. */
static long with_path(fop *f, const char *path, struct statx *out) {
  if (!dyco__net_in_coroutine()) {
    f->path = path;
    f->stx = out;
    return run_sys(f);
  }
  if (path == NULL) {
    errno = EFAULT;
    return -1;
  }
  size_t len = strlen(path) + 1;
  fop *h = (fop *)malloc(sizeof *h + sizeof(struct statx) + len);
  if (h == NULL) {
    errno = ENOMEM;
    return -1;
  }
  *h = *f;
  h->stx = (struct statx *)(void *)(h + 1);
  char *p = (char *)(h->stx + 1);
  memcpy(p, path, len);
  h->path = p;
  long r = run_async(h);
  int err = errno;
  if (r == 0 && out != NULL) {
    memcpy(out, h->stx, sizeof *out);
  }
  free(h);
  errno = err;
  return r;
}

int dyco_file_openat(int dirfd, const char *path, int flags, mode_t mode) {
  fop f;
  memset(&f, 0, sizeof f);
  f.op = OP_OPENAT;
  f.fd = dirfd;
  f.flags = flags;
  f.mode = (unsigned)mode;
  int fd = (int)with_path(&f, path, NULL);
  if (fd >= 0) {
    dyco__net_fd_fresh(fd);
  }
  return fd;
}

int dyco_file_open(const char *path, int flags, mode_t mode) {
  return dyco_file_openat(AT_FDCWD, path, flags, mode);
}

int dyco_file_statx(int dirfd, const char *path, int flags, unsigned mask,
                    struct statx *buf) {
  if (buf == NULL) {
    errno = EFAULT;
    return -1;
  }
  fop f;
  memset(&f, 0, sizeof f);
  f.op = OP_STATX;
  f.fd = dirfd;
  f.flags = flags;
  f.mask = mask;
  return (int)with_path(&f, path, buf);
}

int dyco_file_fstat(int fd, struct stat *st) {
  if (!dyco__net_in_coroutine()) {
    return dyco__file_raw_fstat(fd, st);
  }
  struct statx x;
  if (dyco_file_statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x) != 0) {
    return -1;
  }
  memset(st, 0, sizeof *st);
  st->st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
  st->st_ino = x.stx_ino;
  st->st_mode = x.stx_mode;
  st->st_nlink = x.stx_nlink;
  st->st_uid = x.stx_uid;
  st->st_gid = x.stx_gid;
  st->st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
  st->st_size = (off_t)x.stx_size;
  st->st_blksize = (blksize_t)x.stx_blksize;
  st->st_blocks = (blkcnt_t)x.stx_blocks;
  if ((uint64_t)st->st_size != x.stx_size ||
      (uint64_t)st->st_ino != x.stx_ino) {
    errno = EOVERFLOW; /* a 32-bit struct stat without large files */
    return -1;
  }
  st->st_atim.tv_sec = x.stx_atime.tv_sec;
  st->st_atim.tv_nsec = x.stx_atime.tv_nsec;
  st->st_mtim.tv_sec = x.stx_mtime.tv_sec;
  st->st_mtim.tv_nsec = x.stx_mtime.tv_nsec;
  st->st_ctim.tv_sec = x.stx_ctime.tv_sec;
  st->st_ctim.tv_nsec = x.stx_ctime.tv_nsec;
  return 0;
}

int dyco__file_raw_fstat(int fd, struct stat *st) {
#if defined(__LP64__) && defined(SYS_fstat)
  /* The kernel's struct stat is libc's on 64-bit targets. */
  return (int)syscall(SYS_fstat, fd, st);
#else
  return fstat(fd, st);
#endif
}
