/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the syscall table and its -errno wrappers.
 *
 * This is the only file of the library that calls the OS.  Everything
 * else goes through afile__sys (see sys.h), so that a test can fail the
 * n-th call with any errno, make writes short, switch a kernel feature off
 * or stand in a simulated file system.
 *
 * Invariants:
 *   1. The table entries keep the libc convention (-1 and errno); only the
 *      wrappers here read errno, and they return -errno.
 *   2. EINTR is retried for calls that are safe to repeat (open, read,
 *      write, sync, stat, ...), at most AFILE__EINTR_MAX times in a row.
 *      close is never retried: on Linux the descriptor is released even
 *      when close reports EINTR, and a retry could close a descriptor
 *      another thread just received (SQLite robust_close, musl close.c).
 *   3. A failed fsync is never retried either: after a write-back error
 *      the kernel may drop the dirty pages and mark them clean, so a second
 *      fsync can succeed without the data being on disk ("fsyncgate",
 *      PostgreSQL 2018).  The caller must poison its handle.
 *   4. A write that makes no progress is -EIO, so that a broken device
 *      cannot turn a write loop into a busy loop (LMDB).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_XATTR
#include <sys/xattr.h>
#endif
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif
#ifdef HAVE_FICLONE
#include <linux/fs.h>
#endif
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif
#ifdef HAVE_FSTATFS
#include <sys/vfs.h>
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 0x0001
#endif

#include "stats.h"
#include "sys.h"

/* ------------------------------------------------------------------
 * Fixed-signature shims over variadic or missing libc functions
 * ------------------------------------------------------------------ */

static int
sys_openat(int dfd, const char *path, int flags, mode_t mode)
{
	return openat(dfd, path, flags, mode);
}

static int
sys_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
#ifdef HAVE_RENAMEAT2
	return renameat2(sdfd, src, ddfd, dst, flags);
#elif defined(SYS_renameat2)
	return (int)syscall(SYS_renameat2, sdfd, src, ddfd, dst, flags);
#else
	(void)sdfd, (void)src, (void)ddfd, (void)dst, (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

static int
sys_fallocate(int fd, int mode, off_t off, off_t len)
{
#ifdef HAVE_FALLOCATE
	return fallocate(fd, mode, off, len);
#else
	(void)fd, (void)mode, (void)off, (void)len;
	errno = EOPNOTSUPP;
	return -1;
#endif
}

static int
sys_ficlone(int dst_fd, int src_fd)
{
#ifdef HAVE_FICLONE
	return ioctl(dst_fd, FICLONE, src_fd);
#else
	(void)dst_fd, (void)src_fd;
	errno = EOPNOTSUPP;
	return -1;
#endif
}

static ssize_t
sys_copy_file_range(int in_fd, off_t *in_off, int out_fd, off_t *out_off,
    size_t len, unsigned int flags)
{
#ifdef HAVE_COPY_FILE_RANGE
	return copy_file_range(in_fd, in_off, out_fd, out_off, len, flags);
#else
	(void)in_fd, (void)in_off, (void)out_fd, (void)out_off, (void)len;
	(void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

#ifdef HAVE_XATTR
static ssize_t
sys_flistxattr(int fd, char *list, size_t size)
{
	return flistxattr(fd, list, size);
}

static ssize_t
sys_fgetxattr(int fd, const char *name, void *value, size_t size)
{
	return fgetxattr(fd, name, value, size);
}

static int
sys_fsetxattr(
    int fd, const char *name, const void *value, size_t size, int flags)
{
	return fsetxattr(fd, name, value, size, flags);
}

static ssize_t
sys_llistxattr(const char *path, char *list, size_t size)
{
	return llistxattr(path, list, size);
}

static ssize_t
sys_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	return lgetxattr(path, name, value, size);
}
#else
static ssize_t
sys_flistxattr(int fd, char *list, size_t size)
{
	(void)fd, (void)list, (void)size;
	errno = ENOTSUP;
	return -1;
}

static ssize_t
sys_fgetxattr(int fd, const char *name, void *value, size_t size)
{
	(void)fd, (void)name, (void)value, (void)size;
	errno = ENOTSUP;
	return -1;
}

static int
sys_fsetxattr(
    int fd, const char *name, const void *value, size_t size, int flags)
{
	(void)fd, (void)name, (void)value, (void)size, (void)flags;
	errno = ENOTSUP;
	return -1;
}

static ssize_t
sys_llistxattr(const char *path, char *list, size_t size)
{
	(void)path, (void)list, (void)size;
	errno = ENOTSUP;
	return -1;
}

static ssize_t
sys_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	(void)path, (void)name, (void)value, (void)size;
	errno = ENOTSUP;
	return -1;
}
#endif

static int
sys_syncfs(int fd)
{
#if defined(SYS_syncfs)
	return (int)syscall(SYS_syncfs, fd);
#else
	(void)fd;
	errno = ENOSYS;
	return -1;
#endif
}

static int
sys_fs_magic(int fd, unsigned long *ret)
{
#ifdef HAVE_FSTATFS
	struct statfs st;

	if (fstatfs(fd, &st) < 0)
		return -1;
	*ret = (unsigned long)st.f_type;
	return 0;
#else
	(void)fd, (void)ret;
	errno = ENOSYS;
	return -1;
#endif
}

static ssize_t
sys_read_sysctl_fs(const char *name, char *buf, size_t n)
{
	char path[64];
	ssize_t r;
	int fd, e;

	if (snprintf(path, sizeof(path), "/proc/sys/fs/%s", name) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	r = read(fd, buf, n);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static int
sys_openat2_beneath(int dfd, const char *path, int flags)
{
#if defined(SYS_openat2) && defined(HAVE_LINUX_OPENAT2_H)
	struct open_how how = {
	    .flags = (uint64_t)(unsigned int)flags, .resolve = RESOLVE_BENEATH};

	return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
#else
	(void)dfd, (void)path, (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

static int
sys_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	return fcntl(fd, cmd, fl);
}

static int
sys_flock(int fd, int op)
{
	return flock(fd, op);
}

static ssize_t
sys_getdents64(int fd, void *buf, size_t n)
{
#if defined(SYS_getdents64)
	return (ssize_t)syscall(SYS_getdents64, fd, buf, n);
#else
	(void)fd, (void)buf, (void)n;
	errno = ENOSYS;
	return -1;
#endif
}

static int
sys_getrlimit(int resource, struct rlimit *rl)
{
#ifdef __GLIBC__
	/* glibc's prototype takes an enum; the table takes the int. */
	return getrlimit((__rlimit_resource_t)resource, rl);
#else
	return getrlimit(resource, rl);
#endif
}

static ssize_t
sys_getrandom(void *buf, size_t n, unsigned int flags)
{
#ifdef HAVE_GETRANDOM
	return getrandom(buf, n, flags);
#else
	(void)buf, (void)n, (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Local trampolines for the libc functions of the table: an initializer
 * holding a libc function's address needs a symbol lookup at load time
 * for each of the two tables (50 lookups, a third of the CLI's start-up
 * over /bin/true); a local function's address is a relative relocation,
 * and its call to libc binds lazily, on first use.
 */
#define TRAMPOLINE(ret, name, params, args) \
	static ret lc_##name params         \
	{                                   \
		return name args;           \
	}
TRAMPOLINE(int, close, (int fd), (fd))
TRAMPOLINE(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))
TRAMPOLINE(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
TRAMPOLINE(
    ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
TRAMPOLINE(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
TRAMPOLINE(int, fsync, (int fd), (fd))
TRAMPOLINE(int, fdatasync, (int fd), (fd))
TRAMPOLINE(int, ftruncate, (int fd, off_t len), (fd, len))
TRAMPOLINE(int, fstat, (int fd, struct stat *st), (fd, st))
TRAMPOLINE(
    int, fstatat, (int d, const char *p, struct stat *st, int f), (d, p, st, f))
TRAMPOLINE(ssize_t, readlinkat, (int d, const char *p, char *b, size_t n),
    (d, p, b, n))
TRAMPOLINE(int, renameat, (int sd, const char *s, int dd, const char *t),
    (sd, s, dd, t))
TRAMPOLINE(int, linkat, (int sd, const char *s, int dd, const char *t, int f),
    (sd, s, dd, t, f))
TRAMPOLINE(int, unlinkat, (int d, const char *p, int f), (d, p, f))
TRAMPOLINE(int, fchmod, (int fd, mode_t m), (fd, m))
TRAMPOLINE(int, fchown, (int fd, uid_t u, gid_t g), (fd, u, g))
TRAMPOLINE(int, futimens, (int fd, const struct timespec t[2]), (fd, t))
TRAMPOLINE(int, mkdirat, (int d, const char *p, mode_t m), (d, p, m))
TRAMPOLINE(
    int, nanosleep, (const struct timespec *q, struct timespec *r), (q, r))
TRAMPOLINE(pid_t, getpid, (void), ())
TRAMPOLINE(uid_t, geteuid, (void), ())
TRAMPOLINE(int, clock_gettime, (clockid_t c, struct timespec *t), (c, t))
TRAMPOLINE(void *, malloc, (size_t n), (n))
TRAMPOLINE(void *, realloc, (void *p, size_t n), (p, n))
#undef TRAMPOLINE

static void
lc_free(void *p)
{
	free(p);
}

/* The real system calls, listed once for both tables below. */
#define SYS_REAL                                                             \
	{                                                                    \
		.openat = sys_openat, .close = lc_close, .read = lc_read,    \
		.write = lc_write, .pwrite = lc_pwrite, .fsync = lc_fsync,   \
		.fdatasync = lc_fdatasync, .fstat = lc_fstat,                \
		.fstatat = lc_fstatat, .readlinkat = lc_readlinkat,          \
		.renameat = lc_renameat, .renameat2 = sys_renameat2,         \
		.linkat = lc_linkat, .unlinkat = lc_unlinkat,                \
		.fallocate = sys_fallocate, .ficlone = sys_ficlone,          \
		.copy_file_range = sys_copy_file_range, .fchmod = lc_fchmod, \
		.fchown = lc_fchown, .futimens = lc_futimens,                \
		.flistxattr = sys_flistxattr, .fgetxattr = sys_fgetxattr,    \
		.fsetxattr = sys_fsetxattr, .llistxattr = sys_llistxattr,    \
		.lgetxattr = sys_lgetxattr, .syncfs = sys_syncfs,            \
		.fs_magic = sys_fs_magic, .mkdirat = lc_mkdirat,             \
		.openat2_beneath = sys_openat2_beneath,                      \
		.fcntl_lock = sys_fcntl_lock, .flock = sys_flock,            \
		.getdents64 = sys_getdents64, .nanosleep = lc_nanosleep,     \
		.getpid = lc_getpid, .getrlimit = sys_getrlimit,             \
		.getrandom = sys_getrandom, .geteuid = lc_geteuid,           \
		.read_sysctl_fs = sys_read_sysctl_fs,                        \
		.clock_gettime = lc_clock_gettime, .malloc = lc_malloc,      \
		.realloc = lc_realloc, .free = lc_free, .pread = lc_pread,   \
		.ftruncate = lc_ftruncate,                                   \
	}

const struct afile__sys afile__sys_default = SYS_REAL;
struct afile__sys afile__sys = SYS_REAL;

void
afile__sys_reset(void)
{
	afile__sys = afile__sys_default;
}

/* ------------------------------------------------------------------
 * Wrappers
 * ------------------------------------------------------------------ */

/*
 * Retry an expression while it fails with EINTR, a bounded number of
 * times (invariant 2).  RES must be a variable of the call's type.
 */
#define RETRY_EINTR(res, call)                                   \
	do {                                                     \
		unsigned int tries_ = 0;                         \
		for (;;) {                                       \
			(res) = (call);                          \
			if ((res) != -1 || errno != EINTR ||     \
			    ++tries_ >= AFILE__EINTR_MAX)        \
				break;                           \
			afile__stat_add(AFILE__STAT_RETRIES, 1); \
		}                                                \
	} while (0)

int
afile__openat(int dfd, const char *path, int flags, mode_t mode)
{
	int fd;

	RETRY_EINTR(fd, afile__sys.openat(dfd, path, flags | O_CLOEXEC, mode));
	return fd < 0 ? -errno : fd;
}

int
afile__close(int fd)
{
	/* Invariant 2: the descriptor is gone even on EINTR; never retry. */
	if (afile__sys.close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

void
afile__close_quiet(int fd)
{
	if (fd >= 0)
		(void)afile__close(fd);
}

ssize_t
afile__read(int fd, void *buf, size_t n)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.read(fd, buf, n));
	return r < 0 ? -errno : r;
}

int
afile__write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t r;

	while (n > 0) {
		RETRY_EINTR(r, afile__sys.write(fd, p, n));
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* invariant 4 */
		if ((size_t)r < n)
			afile__stat_add(AFILE__STAT_RETRIES, 1);
		p += r;
		n -= (size_t)r;
		afile__stat_add(AFILE__STAT_BYTES_WRITTEN, (uint64_t)r);
	}
	return 0;
}

int
afile__pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	ssize_t r;

	if (off > (uint64_t)INT64_MAX - n)
		return -EFBIG;
	while (n > 0) {
		RETRY_EINTR(r, afile__sys.pwrite(fd, p, n, (off_t)off));
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* invariant 4 */
		if ((size_t)r < n)
			afile__stat_add(AFILE__STAT_RETRIES, 1);
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
		afile__stat_add(AFILE__STAT_BYTES_WRITTEN, (uint64_t)r);
	}
	return 0;
}

int
afile__fsync(int fd, bool data_only)
{
	uint64_t t0 = afile__now_ns();
	int r;

	/*
	 * EINTR is safe to retry (nothing was reported lost); any other
	 * failure is final (invariant 3).
	 */
	if (data_only)
		RETRY_EINTR(r, afile__sys.fdatasync(fd));
	else
		RETRY_EINTR(r, afile__sys.fsync(fd));
	if (r < 0)
		r = -errno;
	afile__stat_add(AFILE__STAT_SYNCS, 1);
	afile__stat_add(AFILE__STAT_SYNC_NS, afile__now_ns() - t0);
	return r;
}

int
afile__fsync_dir(int dfd)
{
	uint64_t t0 = afile__now_ns();
	int r;

	RETRY_EINTR(r, afile__sys.fsync(dfd));
	if (r < 0)
		r = -errno;
	afile__stat_add(AFILE__STAT_DIR_SYNCS, 1);
	afile__stat_add(AFILE__STAT_SYNC_NS, afile__now_ns() - t0);
	return r;
}

int
afile__fs_magic(int fd, unsigned long *ret_magic)
{
	int r;

	RETRY_EINTR(r, afile__sys.fs_magic(fd, ret_magic));
	return r < 0 ? -errno : 0;
}

int
afile__sysctl_fs(const char *name)
{
	char buf[16];
	ssize_t n;
	int v = 0;

	RETRY_EINTR(n, afile__sys.read_sysctl_fs(name, buf, sizeof(buf) - 1));
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	for (char *p = buf; *p >= '0' && *p <= '9' && v < 1000; p++)
		v = v * 10 + (*p - '0');
	return v;
}

int
afile__syncfs(int fd)
{
	uint64_t t0 = afile__now_ns();
	int r;

	/* As fsync (invariant 3): EINTR retried, any other failure final. */
	RETRY_EINTR(r, afile__sys.syncfs(fd));
	if (r < 0)
		r = -errno;
	afile__stat_add(AFILE__STAT_SYNCS, 1);
	afile__stat_add(AFILE__STAT_SYNC_NS, afile__now_ns() - t0);
	return r;
}

int
afile__mkdirat(int dfd, const char *path, mode_t mode)
{
	int r;

	RETRY_EINTR(r, afile__sys.mkdirat(dfd, path, mode));
	return r < 0 ? -errno : 0;
}

int
afile__openat_beneath(int dfd, const char *path, int flags)
{
	int fd;

	RETRY_EINTR(
	    fd, afile__sys.openat2_beneath(dfd, path, flags | O_CLOEXEC));
	return fd < 0 ? -errno : fd;
}

int
afile__fstat(int fd, struct stat *st)
{
	int r;

	RETRY_EINTR(r, afile__sys.fstat(fd, st));
	return r < 0 ? -errno : 0;
}

int
afile__fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	int r;

	RETRY_EINTR(r, afile__sys.fstatat(dfd, path, st, flags));
	return r < 0 ? -errno : 0;
}

ssize_t
afile__readlinkat(int dfd, const char *path, char *buf, size_t n)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.readlinkat(dfd, path, buf, n));
	return r < 0 ? -errno : r;
}

int
afile__renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	int r;

	if (flags == 0)
		RETRY_EINTR(r, afile__sys.renameat(sdfd, src, ddfd, dst));
	else
		RETRY_EINTR(
		    r, afile__sys.renameat2(sdfd, src, ddfd, dst, flags));
	return r < 0 ? -errno : 0;
}

int
afile__linkat(int sdfd, const char *src, int ddfd, const char *dst, int flags)
{
	int r;

	RETRY_EINTR(r, afile__sys.linkat(sdfd, src, ddfd, dst, flags));
	return r < 0 ? -errno : 0;
}

int
afile__unlinkat(int dfd, const char *path, int flags)
{
	int r;

	RETRY_EINTR(r, afile__sys.unlinkat(dfd, path, flags));
	return r < 0 ? -errno : 0;
}

void
afile__unlink_signal_safe(int dfd, const char *path)
{
	int saved = errno;

	(void)afile__sys.unlinkat(dfd, path, 0);
	errno = saved;
}

int
afile__fallocate(int fd, uint64_t len)
{
	int r;

	if (len > (uint64_t)INT64_MAX)
		return -EFBIG;
	/*
	 * KEEP_SIZE: reserve blocks without changing the size, so that a
	 * writer that ends up shorter than announced has no trailing zeros.
	 */
	RETRY_EINTR(
	    r, afile__sys.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)len));
	return r < 0 ? -errno : 0;
}

ssize_t
afile__pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	size_t done = 0;
	ssize_t r;

	if (off > (uint64_t)INT64_MAX - n)
		return -EFBIG;
	while (done < n) {
		RETRY_EINTR(r,
		    afile__sys.pread(
			fd, p + done, n - done, (off_t)(off + done)));
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
		afile__stat_add(AFILE__STAT_BYTES_READ, (uint64_t)r);
	}
	return (ssize_t)done;
}

int
afile__ftruncate(int fd, uint64_t len)
{
	int r;

	if (len > (uint64_t)INT64_MAX)
		return -EFBIG;
	RETRY_EINTR(r, afile__sys.ftruncate(fd, (off_t)len));
	return r < 0 ? -errno : 0;
}

int
afile__ficlone(int dst_fd, int src_fd)
{
	int r;

	RETRY_EINTR(r, afile__sys.ficlone(dst_fd, src_fd));
	return r < 0 ? -errno : 0;
}

ssize_t
afile__copy_file_range(
    int in_fd, uint64_t *in_off, int out_fd, uint64_t *out_off, size_t len)
{
	off_t io = (off_t)*in_off, oo = (off_t)*out_off;
	ssize_t r;

	RETRY_EINTR(
	    r, afile__sys.copy_file_range(in_fd, &io, out_fd, &oo, len, 0));
	if (r < 0)
		return -errno;
	*in_off = (uint64_t)io;
	*out_off = (uint64_t)oo;
	afile__stat_add(AFILE__STAT_BYTES_WRITTEN, (uint64_t)r);
	return r;
}

int
afile__fchmod(int fd, mode_t mode)
{
	int r;

	RETRY_EINTR(r, afile__sys.fchmod(fd, mode));
	return r < 0 ? -errno : 0;
}

int
afile__fchown(int fd, uid_t uid, gid_t gid)
{
	int r;

	RETRY_EINTR(r, afile__sys.fchown(fd, uid, gid));
	return r < 0 ? -errno : 0;
}

int
afile__futimens(int fd, const struct timespec times[2])
{
	int r;

	RETRY_EINTR(r, afile__sys.futimens(fd, times));
	return r < 0 ? -errno : 0;
}

ssize_t
afile__flistxattr(int fd, char *list, size_t size)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.flistxattr(fd, list, size));
	return r < 0 ? -errno : r;
}

ssize_t
afile__fgetxattr(int fd, const char *name, void *value, size_t size)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.fgetxattr(fd, name, value, size));
	return r < 0 ? -errno : r;
}

ssize_t
afile__llistxattr(const char *path, char *list, size_t size)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.llistxattr(path, list, size));
	return r < 0 ? -errno : r;
}

ssize_t
afile__lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.lgetxattr(path, name, value, size));
	return r < 0 ? -errno : r;
}

int
afile__fsetxattr(int fd, const char *name, const void *value, size_t size)
{
	int r;

	RETRY_EINTR(r, afile__sys.fsetxattr(fd, name, value, size, 0));
	return r < 0 ? -errno : 0;
}

int
afile__lock_fd(int fd, short type, bool wait)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};
	int r, op;

#ifdef F_OFD_SETLK
	RETRY_EINTR(r,
	    afile__sys.fcntl_lock(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl));
	if (r == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return -EAGAIN; /* POSIX allows either for "held" */
	if (errno != EINVAL)
		return -errno;
		/* EINVAL: a kernel or file system without OFD locks. */
#endif
	op = type == F_UNLCK ? LOCK_UN : type == F_RDLCK ? LOCK_SH : LOCK_EX;
	RETRY_EINTR(r, afile__sys.flock(fd, op | (wait ? 0 : LOCK_NB)));
	if (r == 0)
		return 0;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

ssize_t
afile__getdents(int fd, void *buf, size_t n)
{
	ssize_t r;

	RETRY_EINTR(r, afile__sys.getdents64(fd, buf, n));
	return r < 0 ? -errno : r;
}

void
afile__sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	    .tv_nsec = (long)(ns % 1000000000u)};

	/* An interrupted sleep is only a shorter one: the caller polls. */
	(void)afile__sys.nanosleep(&ts, NULL);
}

pid_t
afile__getpid(void)
{
	return afile__sys.getpid();
}

size_t
afile__fd_budget(void)
{
	struct rlimit rl;

	if (afile__sys.getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 128)
		return 64;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 20)
		return 1u << 20;
	return (size_t)rl.rlim_cur - 64;
}

int64_t
afile__now_real_s(void)
{
	struct timespec ts;

	if (afile__sys.clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec;
}

int
afile__random(void *buf, size_t n)
{
	char *p = buf;
	ssize_t r;

	while (n > 0) {
		/*
		 * GRND_NONBLOCK: a temp name must not wait for the entropy
		 * pool at early boot; the caller falls back to a weaker
		 * source, which only has to avoid collisions, not attacks
		 * (names are opened with O_EXCL).
		 */
		RETRY_EINTR(r, afile__sys.getrandom(p, n, GRND_NONBLOCK));
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

uid_t
afile__geteuid(void)
{
	return afile__sys.geteuid();
}

uint64_t
afile__now_ns(void)
{
	struct timespec ts;

	if (afile__sys.clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *
afile__malloc(size_t n)
{
	return afile__sys.malloc(n);
}

void *
afile__realloc(void *p, size_t n)
{
	return afile__sys.realloc(p, n);
}

void
afile__free(void *p)
{
	afile__sys.free(p);
}
