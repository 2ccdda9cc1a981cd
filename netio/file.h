/* dyco — netio layer: file I/O that never stalls the scheduler. Inside a
 * coroutine each call goes to the scheduler's io_uring, or to the
 * blocking-call pool under the epoll back end; outside one it is libc's. */
#ifndef DYCO_NETIO_FILE_H_
#define DYCO_NETIO_FILE_H_

#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct statx;

/* Every function below mirrors the libc call of the same name: same
 * arguments, same result, -1 with errno on error (the errno values of the
 * libc call: EBADF for an fd that is not open or not open for that
 * direction, EISDIR for a read of a directory, ENOSPC, EIO, EINVAL, EFAULT
 * ... as the kernel reports them), and never EINTR (disk I/O is not
 * interrupted by signals). Inside a coroutine the call suspends only the
 * calling coroutine: the other coroutines of its thread run until the
 * operation completes, on the scheduler's io_uring (docs/poller.md) or, with
 * the epoll back end, on a thread of the blocking-call pool
 * (netio/blocking.h). A buffer on the scheduler's shared stack is copied
 * through a heap buffer, so any buffer works. Outside a coroutine the
 * calls are the plain system calls and block the thread. With the hooks
 * (//netio:hook), read, write, pread, pwrite, readv, writev, fsync,
 * fdatasync, open, openat, close, statx and (64-bit targets) fstat reach
 * these for regular files and block devices. Each may additionally fail
 * with ENOMEM when no memory is left for the operation's record. */

/* dyco_file_read reads up to n bytes at the file position; the count read
 * (0 at end of file) or -1. */
ssize_t dyco_file_read(int fd, void *buf, size_t n);
/* dyco_file_write writes up to n bytes at the file position (at the end
 * with O_APPEND); the count written or -1 (ENOSPC, EFBIG, EBADF...). */
ssize_t dyco_file_write(int fd, const void *buf, size_t n);
/* dyco_file_pread / dyco_file_pwrite read and write at offset off without
 * moving the file position; the count or -1 (EINVAL for a negative off,
 * ESPIPE for a pipe or socket). */
ssize_t dyco_file_pread(int fd, void *buf, size_t n, off_t off);
ssize_t dyco_file_pwrite(int fd, const void *buf, size_t n, off_t off);
/* dyco_file_readv / dyco_file_writev: readv and writev at the file
 * position; the count or -1 (EINVAL for cnt < 0 or > IOV_MAX). */
ssize_t dyco_file_readv(int fd, const struct iovec *iov, int cnt);
ssize_t dyco_file_writev(int fd, const struct iovec *iov, int cnt);
/* dyco_file_fsync / dyco_file_fdatasync: 0 once the data (and, for fsync,
 * the metadata) is on stable storage, or -1 (EBADF, EIO, EINVAL for an fd
 * that cannot be synced). */
int dyco_file_fsync(int fd);
int dyco_file_fdatasync(int fd);
/* dyco_file_open / dyco_file_openat open path (relative to dirfd for
 * openat) as open(2); mode is used with O_CREAT or O_TMPFILE. The new fd
 * or -1 (ENOENT, EACCES, EISDIR, EMFILE, ...). */
int dyco_file_open(const char *path, int flags, mode_t mode);
int dyco_file_openat(int dirfd, const char *path, int flags, mode_t mode);
/* dyco_file_close closes fd as close(2), first waking the coroutines that
 * wait on it with EBADF. 0 or -1 (EBADF; EIO from a file system that
 * reports a write error at close). */
int dyco_file_close(int fd);
/* dyco_file_statx: statx(2). 0 or -1 (ENOENT, EBADF, EINVAL...). */
int dyco_file_statx(int dirfd, const char *path, int flags, unsigned mask,
                    struct statx *buf);
/* dyco_file_fstat: fstat(2). 0 or -1 (EBADF). */
int dyco_file_fstat(int fd, struct stat *st);

#ifdef __cplusplus
}
#endif

#endif /* DYCO_NETIO_FILE_H_ */
