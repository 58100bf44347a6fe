/* SPDX-License-Identifier: MIT */
/*
 * fault.c - counting, failing shims over the library's syscall table.
 *
 * Layers, from the library down:
 *	afile__sys (shims: count, fail, shorten)
 *	  -> base  (hide kernel features)
 *	    -> afile__sys_default (the real calls)
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "fault.h"
#include "sys.h"

enum id {
	ID_OPENAT,
	ID_CLOSE,
	ID_READ,
	ID_WRITE,
	ID_PWRITE,
	ID_FSYNC,
	ID_FDATASYNC,
	ID_FSTAT,
	ID_FSTATAT,
	ID_READLINKAT,
	ID_RENAMEAT,
	ID_RENAMEAT2,
	ID_LINKAT,
	ID_UNLINKAT,
	ID_FALLOCATE,
	ID_FICLONE,
	ID_CFR,
	ID_FCHMOD,
	ID_FCHOWN,
	ID_FUTIMENS,
	ID_FLISTXATTR,
	ID_FGETXATTR,
	ID_FSETXATTR,
	ID_LLISTXATTR,
	ID_LGETXATTR,
	ID_FCNTL_LOCK,
	ID_FLOCK,
	ID_GETDENTS64,
	ID_GETRANDOM,
	ID_MALLOC,
	ID_REALLOC,
};

static const char *const names[] = {"openat", "close", "read", "write",
    "pwrite", "fsync", "fdatasync", "fstat", "fstatat", "readlinkat",
    "renameat", "renameat2", "linkat", "unlinkat", "fallocate", "ficlone",
    "copy_file_range", "fchmod", "fchown", "futimens", "flistxattr",
    "fgetxattr", "fsetxattr", "llistxattr", "lgetxattr", "fcntl_lock", "flock",
    "getdents64", "getrandom", "malloc", "realloc"};

static struct afile__sys base;
static unsigned int hidden;

static struct {
	bool armed;
	unsigned long n, calls, fired;
	int err;
	enum fault_mode mode;
	int persist_id;
	const char *site;
} F = {.persist_id = -1};

static bool
is_short_mode(void)
{
	return F.mode == FAULT_SHORT_ONCE || F.mode == FAULT_SHORT_PERSIST;
}

/* Does this call fail (or, in a short mode, transfer less)? */
static bool
hit(enum id id, bool transfer)
{
	if (!F.armed || (is_short_mode() && !transfer))
		return false;
	F.calls++;
	if (F.persist_id == (int)id) {
		F.fired++;
		return true;
	}
	if (F.calls != F.n)
		return false;
	if (F.mode == FAULT_KILL)
		_exit(FAULT_KILLED); /* a process crash right before the call */
	F.fired++;
	if (!F.site)
		F.site = names[id];
	if (F.mode == FAULT_PERSIST || F.mode == FAULT_SHORT_PERSIST)
		F.persist_id = (int)id;
	return true;
}

/* Fail a call: -1 and the armed errno. */
#define FAIL_IF(id)                    \
	do {                           \
		if (hit(id, false)) {  \
			errno = F.err; \
			return -1;     \
		}                      \
	} while (0)

/* ---- base layer: hide features ---- */

static int
base_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if ((hidden & FEAT_NO_TMPFILE) && (flags & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
base_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	if (hidden & FEAT_NO_RENAMEAT2) {
		errno = ENOSYS;
		return -1;
	}
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
base_ficlone(int dst, int src)
{
	if (hidden & FEAT_NO_FICLONE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return afile__sys_default.ficlone(dst, src);
}

static ssize_t
base_cfr(int in_fd, off_t *in_off, int out_fd, off_t *out_off, size_t len,
    unsigned int flags)
{
	if (hidden & FEAT_NO_CFR) {
		errno = ENOSYS;
		return -1;
	}
	return afile__sys_default.copy_file_range(
	    in_fd, in_off, out_fd, out_off, len, flags);
}

/* ---- shims ---- */

static int
s_openat(int dfd, const char *path, int flags, mode_t mode)
{
	FAIL_IF(ID_OPENAT);
	return base.openat(dfd, path, flags, mode);
}

static int
s_close(int fd)
{
	/* Linux releases the descriptor even when close reports an error. */
	int r = base.close(fd);

	FAIL_IF(ID_CLOSE);
	return r;
}

static size_t
shorter(size_t n)
{
	return n > 1 ? n / 2 : n;
}

static ssize_t
s_read(int fd, void *buf, size_t n)
{
	if (hit(ID_READ, true)) {
		if (is_short_mode())
			return base.read(fd, buf, shorter(n));
		errno = F.err;
		return -1;
	}
	return base.read(fd, buf, n);
}

static ssize_t
s_write(int fd, const void *buf, size_t n)
{
	if (hit(ID_WRITE, true)) {
		if (is_short_mode())
			return base.write(fd, buf, shorter(n));
		errno = F.err;
		return -1;
	}
	return base.write(fd, buf, n);
}

static ssize_t
s_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (hit(ID_PWRITE, true)) {
		if (is_short_mode())
			return base.pwrite(fd, buf, shorter(n), off);
		errno = F.err;
		return -1;
	}
	return base.pwrite(fd, buf, n, off);
}

static ssize_t
s_cfr(int in_fd, off_t *in_off, int out_fd, off_t *out_off, size_t len,
    unsigned int flags)
{
	if (hit(ID_CFR, true)) {
		if (is_short_mode())
			return base.copy_file_range(in_fd, in_off, out_fd,
			    out_off, shorter(len), flags);
		errno = F.err;
		return -1;
	}
	return base.copy_file_range(in_fd, in_off, out_fd, out_off, len, flags);
}

static int
s_fsync(int fd)
{
	FAIL_IF(ID_FSYNC);
	return base.fsync(fd);
}

static int
s_fdatasync(int fd)
{
	FAIL_IF(ID_FDATASYNC);
	return base.fdatasync(fd);
}

static int
s_fstat(int fd, struct stat *st)
{
	FAIL_IF(ID_FSTAT);
	return base.fstat(fd, st);
}

static int
s_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	FAIL_IF(ID_FSTATAT);
	return base.fstatat(dfd, path, st, flags);
}

static ssize_t
s_readlinkat(int dfd, const char *path, char *buf, size_t n)
{
	FAIL_IF(ID_READLINKAT);
	return base.readlinkat(dfd, path, buf, n);
}

static int
s_renameat(int sdfd, const char *src, int ddfd, const char *dst)
{
	FAIL_IF(ID_RENAMEAT);
	return base.renameat(sdfd, src, ddfd, dst);
}

static int
s_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	FAIL_IF(ID_RENAMEAT2);
	return base.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
s_linkat(int sdfd, const char *src, int ddfd, const char *dst, int flags)
{
	FAIL_IF(ID_LINKAT);
	return base.linkat(sdfd, src, ddfd, dst, flags);
}

static int
s_unlinkat(int dfd, const char *path, int flags)
{
	FAIL_IF(ID_UNLINKAT);
	return base.unlinkat(dfd, path, flags);
}

static int
s_fallocate(int fd, int mode, off_t off, off_t len)
{
	FAIL_IF(ID_FALLOCATE);
	return base.fallocate(fd, mode, off, len);
}

static int
s_ficlone(int dst, int src)
{
	FAIL_IF(ID_FICLONE);
	return base.ficlone(dst, src);
}

static int
s_fchmod(int fd, mode_t mode)
{
	FAIL_IF(ID_FCHMOD);
	return base.fchmod(fd, mode);
}

static int
s_fchown(int fd, uid_t uid, gid_t gid)
{
	FAIL_IF(ID_FCHOWN);
	return base.fchown(fd, uid, gid);
}

static int
s_futimens(int fd, const struct timespec ts[2])
{
	FAIL_IF(ID_FUTIMENS);
	return base.futimens(fd, ts);
}

static ssize_t
s_flistxattr(int fd, char *list, size_t size)
{
	FAIL_IF(ID_FLISTXATTR);
	return base.flistxattr(fd, list, size);
}

static ssize_t
s_fgetxattr(int fd, const char *name, void *value, size_t size)
{
	FAIL_IF(ID_FGETXATTR);
	return base.fgetxattr(fd, name, value, size);
}

static int
s_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	FAIL_IF(ID_FSETXATTR);
	return base.fsetxattr(fd, name, value, size, flags);
}

static ssize_t
s_llistxattr(const char *path, char *list, size_t size)
{
	FAIL_IF(ID_LLISTXATTR);
	return base.llistxattr(path, list, size);
}

static ssize_t
s_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	FAIL_IF(ID_LGETXATTR);
	return base.lgetxattr(path, name, value, size);
}

static int
s_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	FAIL_IF(ID_FCNTL_LOCK);
	return base.fcntl_lock(fd, cmd, fl);
}

static int
s_flock(int fd, int op)
{
	FAIL_IF(ID_FLOCK);
	return base.flock(fd, op);
}

static ssize_t
s_getdents64(int fd, void *buf, size_t n)
{
	FAIL_IF(ID_GETDENTS64);
	return base.getdents64(fd, buf, n);
}

static ssize_t
s_getrandom(void *buf, size_t n, unsigned int flags)
{
	FAIL_IF(ID_GETRANDOM);
	return base.getrandom(buf, n, flags);
}

static void *
s_malloc(size_t n)
{
	if (hit(ID_MALLOC, false)) {
		errno = ENOMEM;
		return NULL;
	}
	return base.malloc(n);
}

static void *
s_realloc(void *p, size_t n)
{
	if (hit(ID_REALLOC, false)) {
		errno = ENOMEM;
		return NULL;
	}
	return base.realloc(p, n);
}

void
fault_install(unsigned int hide_features)
{
	hidden = hide_features;
	base = afile__sys_default;
	base.openat = base_openat;
	base.renameat2 = base_renameat2;
	base.ficlone = base_ficlone;
	base.copy_file_range = base_cfr;

	afile__sys = base;
	afile__sys.openat = s_openat;
	afile__sys.close = s_close;
	afile__sys.read = s_read;
	afile__sys.write = s_write;
	afile__sys.pwrite = s_pwrite;
	afile__sys.fsync = s_fsync;
	afile__sys.fdatasync = s_fdatasync;
	afile__sys.fstat = s_fstat;
	afile__sys.fstatat = s_fstatat;
	afile__sys.readlinkat = s_readlinkat;
	afile__sys.renameat = s_renameat;
	afile__sys.renameat2 = s_renameat2;
	afile__sys.linkat = s_linkat;
	afile__sys.unlinkat = s_unlinkat;
	afile__sys.fallocate = s_fallocate;
	afile__sys.ficlone = s_ficlone;
	afile__sys.copy_file_range = s_cfr;
	afile__sys.fchmod = s_fchmod;
	afile__sys.fchown = s_fchown;
	afile__sys.futimens = s_futimens;
	afile__sys.flistxattr = s_flistxattr;
	afile__sys.fgetxattr = s_fgetxattr;
	afile__sys.fsetxattr = s_fsetxattr;
	afile__sys.llistxattr = s_llistxattr;
	afile__sys.lgetxattr = s_lgetxattr;
	afile__sys.fcntl_lock = s_fcntl_lock;
	afile__sys.flock = s_flock;
	afile__sys.getdents64 = s_getdents64;
	afile__sys.getrandom = s_getrandom;
	afile__sys.malloc = s_malloc;
	afile__sys.realloc = s_realloc;
}

void
fault_uninstall(void)
{
	fault_disarm();
	afile__sys_reset();
}

void
fault_arm(unsigned long n, int err, enum fault_mode mode)
{
	F.armed = true;
	F.n = n;
	F.err = err;
	F.mode = mode;
	F.calls = 0;
	F.fired = 0;
	F.persist_id = -1;
	F.site = NULL;
}

void
fault_disarm(void)
{
	F.armed = false;
	F.persist_id = -1;
}

unsigned long
fault_calls(void)
{
	return F.calls;
}

unsigned long
fault_fired(void)
{
	return F.fired;
}

const char *
fault_site(void)
{
	return F.site ? F.site : "-";
}
