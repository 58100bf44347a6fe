/* SPDX-License-Identifier: MIT */
/*
 * wrap.c - the -errno wrappers over the syscall table (sys.c).
 *
 * Every afile__* wrapper of sys.h calls its entry of afile__sys, never the
 * OS (tests/check-syscalls.sh), so that a test that swaps an entry sees
 * every call.  The wrappers turn the libc convention (-1 and errno) into
 * -errno, retry EINTR where that is safe, and count statistics.
 *
 * Invariants (those of sys.c that are kept here):
 *   1. Only these wrappers read errno, and they return -errno.
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
#include <string.h>
#include <sys/file.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
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

/* A sync's result as -errno, counted with the time it took since @t0. */
static int
sync_done(int r, enum afile__stat which, uint64_t t0)
{
	if (r < 0)
		r = -errno;
	afile__stat_add(which, 1);
	afile__stat_add(AFILE__STAT_SYNC_NS, afile__now_ns() - t0);
	return r;
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
	return sync_done(r, AFILE__STAT_SYNCS, t0);
}

int
afile__fsync_dir(int dfd)
{
	uint64_t t0 = afile__now_ns();
	int r;

	RETRY_EINTR(r, afile__sys.fsync(dfd));
	return sync_done(r, AFILE__STAT_DIR_SYNCS, t0);
}

int
afile__writeback_wait(int fd)
{
	int r;

	/* As fsync (invariant 3): EINTR retried, any other failure final. */
	RETRY_EINTR(r,
	    afile__sys.sync_file_range(fd, 0, 0,
		SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		    SYNC_FILE_RANGE_WAIT_AFTER));
	return r < 0 ? -errno : 0;
}

ssize_t
afile__read_kfile(const char *path, char *buf, size_t n)
{
	ssize_t r;

	if (n == 0)
		return -EINVAL;
	RETRY_EINTR(r, afile__sys.read_kfile(path, buf, n - 1));
	if (r < 0)
		return -errno;
	buf[r] = '\0';
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
afile__dirty_kib(uint64_t *ret_kib)
{
	/* Tests that trace or simulate the syncs see a quiet machine. */
	if (!afile__real_syncs()) {
		*ret_kib = 0;
		return 0;
	}
	return afile__sys.dirty_kib(ret_kib) < 0 ? -errno : 0;
}

int
afile__syncfs(int fd)
{
	uint64_t t0 = afile__now_ns();
	int r;

	/* As fsync (invariant 3): EINTR retried, any other failure final. */
	RETRY_EINTR(r, afile__sys.syncfs(fd));
	return sync_done(r, AFILE__STAT_SYNCS, t0);
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
afile__fallocate_range(int fd, uint64_t off, uint64_t len)
{
	int r;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EFBIG;
	RETRY_EINTR(r,
	    afile__sys.fallocate(
		fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len));
	return r < 0 ? -errno : 0;
}

uint64_t
afile__file_gen(int fd)
{
	uint64_t v = 0;
	int r;

	RETRY_EINTR(r, afile__sys.file_gen(fd, &v));
	return r < 0 ? 0 : v;
}

/* Hex digits of @s (a UUID) into @out, zero-filled; false if none. */
static bool
parse_boot_id(const char *s, size_t n, unsigned char out[16])
{
	unsigned int k = 0;

	memset(out, 0, 16);
	for (size_t i = 0; i < n && k < 32; i++) {
		char c = s[i];
		unsigned int d = c >= '0' && c <= '9' ? (unsigned int)(c - '0')
		    : c >= 'a' && c <= 'f' ? (unsigned int)(c - 'a' + 10)
		    : c >= 'A' && c <= 'F' ? (unsigned int)(c - 'A' + 10)
					   : 16u;

		if (d == 16)
			continue;
		out[k / 2] = (unsigned char)(out[k / 2] | d << (k % 2 ? 0 : 4));
		k++;
	}
	return k > 0;
}

int
afile__boot_id(unsigned char out[16])
{
	static unsigned char cached[16];
	static _Atomic int have;
	bool real = afile__sys.read_boot_id == afile__sys_default.read_boot_id;
	char buf[64];
	ssize_t n;

	/* Constant for the life of the process: read once (but not the fake).
	 */
	if (real && have) {
		memcpy(out, cached, 16);
		return 0;
	}
	RETRY_EINTR(n, afile__sys.read_boot_id(buf, sizeof(buf)));
	if (n < 0)
		return -errno;
	if (!parse_boot_id(buf, (size_t)n, out))
		return -EINVAL;
	if (real) {
		memcpy(cached, out, 16);
		have = 1;
	}
	return 0;
}

int
afile__stat_mnt(
    int dfd, const char *path, int flags, uint64_t *size, uint64_t *mnt)
{
	struct stat st;
	int r;

	RETRY_EINTR(r, afile__sys.stat_mnt(dfd, path, flags, size, mnt));
	if (r == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	r = afile__fstatat(dfd, path, &st, flags);
	if (r < 0)
		return r;
	*size = (uint64_t)st.st_size;
	*mnt = 0;
	return 0;
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

int
afile__ofd_lock(int fd, short type)
{
#ifdef F_OFD_SETLK
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};
	int r;

	RETRY_EINTR(r, afile__sys.fcntl_lock(fd, F_OFD_SETLK, &fl));
	return r < 0 ? -errno : 0;
#else
	(void)fd;
	(void)type;
	return -EINVAL;
#endif
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
