/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the syscall table; its -errno wrappers are in wrap.c.
 *
 * This is the only file of the library that calls the OS.  Everything
 * else goes through afile__sys (see sys.h), so that a test can fail the
 * n-th call with any errno, make writes short, switch a kernel feature off
 * or stand in a simulated file system.
 *
 * Invariants:
 *   1. The table entries keep the libc convention (-1 and errno); only the
 *      wrappers (wrap.c) read errno, and they return -errno.
 *   2. A shim for a call the build or the kernel lacks fails with the
 *      errno the kernel would give (ENOSYS, EOPNOTSUPP, ENOTSUP), so
 *      that the callers' fallbacks are the same code whichever is
 *      missing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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

/*
 * The *xattrat calls of Linux 6.13, where the C library's headers know
 * them.  Not numbered by hand: tools that do not know them yet (this
 * machine's strace names them syscall_0x1d1) cannot inject kills at
 * them, and cli-kill9's plans then fail.
 */

#ifdef SYS_listxattrat
/* Set once the kernel said ENOSYS: no further try in this process. */
static _Atomic int no_xattrat;

struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/*
 * "/proc/self/fd/N/NAME" (how meta.c names a file in an open directory)
 * into N and NAME; false for any other path.
 */
static bool
proc_fd_path(const char *path, int *ret_dfd, const char **ret_name)
{
	static const char pre[] = "/proc/self/fd/";
	const char *p = path + sizeof(pre) - 1;
	long fd = 0;

	if (strncmp(path, pre, sizeof(pre) - 1) || *p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9' && fd < 1L << 30; p++)
		fd = fd * 10 + (*p - '0');
	if (*p != '/' || !p[1] || strchr(p + 1, '/'))
		return false;
	*ret_dfd = (int)fd;
	*ret_name = p + 1;
	return true;
}
#endif

/*
 * By name in an open directory, the /proc magic link costs a walk of
 * /proc on every call: where the kernel has listxattrat and getxattrat,
 * the same lookup is done relative to the descriptor (same result, same
 * errors, the name not followed).
 */
static ssize_t
sys_llistxattr(const char *path, char *list, size_t size)
{
#ifdef SYS_listxattrat
	const char *name;
	ssize_t r;
	int dfd;

	if (!no_xattrat && proc_fd_path(path, &dfd, &name)) {
		r = syscall(SYS_listxattrat, dfd, name, AT_SYMLINK_NOFOLLOW,
		    list, size);
		if (r >= 0 || errno != ENOSYS)
			return r;
		no_xattrat = 1;
	}
#endif
	return llistxattr(path, list, size);
}

static ssize_t
sys_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
#ifdef SYS_listxattrat
	struct xattr_args_v0 args = {
	    .value = (uint64_t)(uintptr_t)value, .size = (uint32_t)size};
	const char *file;
	ssize_t r;
	int dfd;

	if (!no_xattrat && size <= UINT32_MAX &&
	    proc_fd_path(path, &dfd, &file)) {
		r = syscall(SYS_getxattrat, dfd, file, AT_SYMLINK_NOFOLLOW,
		    name, &args, sizeof(args));
		if (r >= 0 || errno != ENOSYS)
			return r;
		no_xattrat = 1;
	}
#endif
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

/* FS_IOC_GETVERSION: the inode's generation, new when a number is reused. */
static int
sys_file_gen(int fd, uint64_t *ret)
{
#ifndef FS_IOC_GETVERSION
#define FS_IOC_GETVERSION _IOR('v', 1, long)
#endif
	int v = 0; /* the kernel writes an int (ext4, xfs, btrfs) */

	/*
	 * Through syscall(2): musl's ioctl() takes the request as an int,
	 * which this one (bit 31 set) overflows.
	 */
	if (syscall(SYS_ioctl, fd, (unsigned long)FS_IOC_GETVERSION, &v) < 0)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/*
 * statx of @path: its size, and the unique id of the mount it was reached
 * through (STATX_MNT_ID_UNIQUE, Linux 6.8; 0 before), from the kernel's
 * struct statx read as bytes (no libc needs to know the field).
 */
static int
sys_stat_mnt(
    int dfd, const char *path, int flags, uint64_t *size, uint64_t *mnt)
{
#ifdef SYS_statx
	uint64_t b[32]; /* struct statx: 256 bytes */
	uint32_t mask;

	memset(b, 0, sizeof(b));
	if (syscall(SYS_statx, dfd, path, flags, 0x200u | 0x4000u, b) < 0)
		return -1;
	memcpy(&mask, b, sizeof(mask));
	*size = b[5];                      /* stx_size, offset 40 */
	*mnt = mask & 0x4000u ? b[18] : 0; /* stx_mnt_id, offset 144 */
	return 0;
#else
	(void)dfd, (void)path, (void)flags, (void)size, (void)mnt;
	errno = ENOSYS;
	return -1;
#endif
}

static int
sys_sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	return sync_file_range(fd, off, n, flags);
}

/* A whole small file under /proc or /sys: one read loop, then close. */
static ssize_t
sys_read_kfile(const char *path, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r = 0;
	int fd, e;

	if (strncmp(path, "/proc/", 6) != 0 && strncmp(path, "/sys/", 5) != 0) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : (ssize_t)got;
}

static ssize_t
sys_read_boot_id(char *buf, size_t n)
{
	return sys_read_kfile("/proc/sys/kernel/random/boot_id", buf, n);
}

/* Dirty: + Writeback: of /proc/meminfo. */
static int
sys_dirty_kib(uint64_t *ret)
{
	char buf[4096];
	unsigned long long v;
	uint64_t sum = 0;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int seen = 0;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? EIO : errno;
		return -1;
	}
	buf[n] = 0;
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if ((sscanf(p, "Dirty: %llu kB", &v) == 1 ||
			sscanf(p, "Writeback: %llu kB", &v) == 1)) {
			sum += v;
			seen++;
		}
	}
	if (seen == 0) {
		errno = ENOSYS;
		return -1;
	}
	*ret = sum;
	return 0;
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

/*
 * fstatat(), or with AFILE__AT_NOTIME (sys.h) a statx that leaves out the
 * timestamps, read from the kernel's struct statx as bytes (no libc needs
 * to know it); where the kernel has no statx, plain fstatat.
 */
static int
lc_fstatat(int d, const char *p, struct stat *st, int f)
{
#ifdef SYS_statx
	/* TYPE MODE NLINK UID GID INO SIZE BLOCKS: no ATIME, MTIME, CTIME. */
	const unsigned int want = 0x71fu;
	uint32_t u32[4];
	uint64_t b[32]; /* struct statx: 256 bytes */
	uint16_t mode;

	if (f & AFILE__AT_NOTIME) {
		f &= ~AFILE__AT_NOTIME;
		memset(b, 0, sizeof(b));
		if (syscall(SYS_statx, d, p, f, want, b) == 0) {
			memset(st, 0, sizeof(*st));
			memcpy(u32, (char *)b + 4, sizeof(uint32_t));
			st->st_blksize = (blksize_t)u32[0];
			memcpy(u32, (char *)b + 16, 3 * sizeof(uint32_t));
			st->st_nlink = (nlink_t)u32[0];
			st->st_uid = (uid_t)u32[1];
			st->st_gid = (gid_t)u32[2];
			memcpy(&mode, (char *)b + 28, sizeof(mode));
			st->st_mode = (mode_t)mode;
			st->st_ino = (ino_t)b[4];       /* offset 32 */
			st->st_size = (off_t)b[5];      /* offset 40 */
			st->st_blocks = (blkcnt_t)b[6]; /* offset 48 */
			memcpy(u32, (char *)b + 128, 4 * sizeof(uint32_t));
			st->st_rdev = makedev(u32[0], u32[1]);
			st->st_dev = makedev(u32[2], u32[3]);
			return 0;
		}
		/* EPERM: a seccomp filter of old container runtimes. */
		if (errno != ENOSYS && errno != EPERM)
			return -1;
	}
#endif
	return fstatat(d, p, st, f & ~AFILE__AT_NOTIME);
}
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
#define SYS_REAL                                                               \
	{                                                                      \
		.openat = sys_openat, .close = lc_close, .read = lc_read,      \
		.write = lc_write, .pwrite = lc_pwrite, .fsync = lc_fsync,     \
		.fdatasync = lc_fdatasync, .fstat = lc_fstat,                  \
		.fstatat = lc_fstatat, .readlinkat = lc_readlinkat,            \
		.renameat = lc_renameat, .renameat2 = sys_renameat2,           \
		.linkat = lc_linkat, .unlinkat = lc_unlinkat,                  \
		.fallocate = sys_fallocate, .ficlone = sys_ficlone,            \
		.copy_file_range = sys_copy_file_range, .fchmod = lc_fchmod,   \
		.fchown = lc_fchown, .futimens = lc_futimens,                  \
		.flistxattr = sys_flistxattr, .fgetxattr = sys_fgetxattr,      \
		.fsetxattr = sys_fsetxattr, .llistxattr = sys_llistxattr,      \
		.lgetxattr = sys_lgetxattr, .syncfs = sys_syncfs,              \
		.fs_magic = sys_fs_magic, .dirty_kib = sys_dirty_kib,          \
		.mkdirat = lc_mkdirat, .openat2_beneath = sys_openat2_beneath, \
		.fcntl_lock = sys_fcntl_lock, .flock = sys_flock,              \
		.getdents64 = sys_getdents64, .nanosleep = lc_nanosleep,       \
		.getpid = lc_getpid, .getrlimit = sys_getrlimit,               \
		.getrandom = sys_getrandom, .geteuid = lc_geteuid,             \
		.read_sysctl_fs = sys_read_sysctl_fs,                          \
		.clock_gettime = lc_clock_gettime, .malloc = lc_malloc,        \
		.realloc = lc_realloc, .free = lc_free, .pread = lc_pread,     \
		.ftruncate = lc_ftruncate, .file_gen = sys_file_gen,           \
		.read_boot_id = sys_read_boot_id, .stat_mnt = sys_stat_mnt,    \
		.sync_file_range = sys_sync_file_range,                        \
		.read_kfile = sys_read_kfile,                                  \
	}

const struct afile__sys afile__sys_default = SYS_REAL;
struct afile__sys afile__sys = SYS_REAL;

void
afile__sys_reset(void)
{
	afile__sys = afile__sys_default;
}

/* Are the table's syncs the real ones (not a test's)? */
bool
afile__real_syncs(void)
{
	return afile__sys.fsync == afile__sys_default.fsync &&
	    afile__sys.fdatasync == afile__sys_default.fdatasync;
}

static void *wiped_page;

static void
make_wiped_page(void)
{
#ifdef MADV_WIPEONFORK
	long size = sysconf(_SC_PAGESIZE);
	void *p;

	if (size <= 0)
		return;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	if (madvise(p, (size_t)size, MADV_WIPEONFORK) < 0) {
		(void)munmap(p, (size_t)size);
		return;
	}
	wiped_page = p;
#endif
}

void *
afile__wiped_on_fork(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, make_wiped_page);
	return wiped_page;
}

bool
afile__sys_real(enum afile__sys_entry e)
{
	if (e == AFILE__SYS_GETDENTS)
		return afile__sys.getdents64 == afile__sys_default.getdents64;
	return afile__sys.getrandom == afile__sys_default.getrandom;
}

unsigned int
afile__parallel(void *(*fn)(void *), void *arg, unsigned int n)
{
	pthread_t th[AFILE__THREADS_MAX];
	sigset_t all, old;
	unsigned int made = 0;

	/*
	 * A table whose syncs are swapped (fault injection, the simulator)
	 * gets one worker, the caller: its call trace stays in order.
	 */
	if (!afile__real_syncs())
		n = 1;
	if (n > AFILE__THREADS_MAX)
		n = AFILE__THREADS_MAX;
	/* Workers take no signals: the caller's handlers run where it does. */
	sigfillset(&all);
	if (n > 1 && pthread_sigmask(SIG_SETMASK, &all, &old) == 0) {
		while (made + 1 < n &&
		    pthread_create(&th[made], NULL, fn, arg) == 0)
			made++;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	fn(arg);
	for (unsigned int k = 0; k < made; k++)
		pthread_join(th[k], NULL);
	return made + 1;
}
