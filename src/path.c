/* SPDX-License-Identifier: MIT */
/*
 * path.c - from (dirfd, path) to (open directory, name).
 *
 * Every operation works on a name inside an open directory: later calls
 * are relative to that descriptor (the *at() calls), so a concurrent
 * rename of a parent directory cannot redirect the temp file, the rename
 * and the directory sync to different places, and the directory can be
 * synced after its entry changed.
 *
 * Invariants:
 *   1. On success t->dfd is a directory opened O_RDONLY (so that fsync on
 *      it works) and t->name is a single component: not empty, not "." or
 *      "..", without '/', at most NAME_MAX bytes.
 *   2. On failure nothing is open.
 *   3. With @follow, a symlink at the last component is replaced by what
 *      it names, relative to the symlink's own directory, at most
 *      MAX_SYMLINKS times (the kernel's limit), so that the caller
 *      replaces the file a user meant and keeps the link.  A dangling
 *      link resolves to a name that does not exist, which is created.
 *   4. No further than the kernel would (fs.protected_symlinks): in a
 *      sticky world-writable directory (/tmp) a symlink is followed only
 *      if its owner is the caller (the effective uid) or the directory's
 *      owner; else AFILE_EPROTECTED.  The library reads links itself, so
 *      without this it would follow a link the kernel refuses (a user's
 *      "/tmp/report -> /etc/shadow" turning root's write into an
 *      overwrite of /etc/shadow).  Directory components are resolved by
 *      the kernel, which applies its own rule to them.
 *   5. What another user planted is not reused (afile__check_planted:
 *      fs.protected_regular, fs.protected_fifos): the rule the kernel
 *      applies to O_CREAT of an existing file in a sticky directory.
 *
 * The switches are read through the syscall table at most once per call
 * (cached in struct afile__op), and only when a link or file owned by
 * someone else is met in a sticky directory: the common path costs no
 * extra system call.  Where /proc/sys cannot be read, the rule applies
 * (1, the default of the major distributions).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

#define MAX_SYMLINKS 40

enum { PROT_SYMLINKS, PROT_REGULAR, PROT_FIFOS };
static const char *const prot_name[] = {
    "protected_symlinks", "protected_regular", "protected_fifos"};

/* The effective value of one switch, read once per call. */
static int
prot_level(struct afile__op *op, int which)
{
	int v;

	if (!op->protected[which]) {
		v = afile__sysctl_fs(prot_name[which]);
		if (v < 0)
			v = 1; /* unknown: apply the rule */
		op->protected[which] = (unsigned char)(v > 254 ? 254 : v) + 1;
	}
	return op->protected[which] - 1;
}

/* Invariant 4: may the caller follow the symlink @st in @dfd? */
static int
may_follow(
    struct afile__op *op, int dfd, const struct stat *st, const char *shown)
{
	struct stat dst;
	int r;

	if (st->st_uid == afile__op_euid(op))
		return 0;
	r = afile__fstat(dfd, &dst);
	if (r < 0)
		return afile__fail(op, r, "check directory", shown);
	if ((dst.st_mode & (S_ISVTX | S_IWOTH)) != (S_ISVTX | S_IWOTH) ||
	    dst.st_uid == st->st_uid || !prot_level(op, PROT_SYMLINKS))
		return 0;
	return afile__fail_cause(op, AFILE_EPROTECTED, -EACCES,
	    "follow symlink (fs.protected_symlinks)", shown);
}

int
afile__check_planted(
    struct afile__op *op, int dfd, const struct stat *st, const char *shown)
{
	const char *step;
	struct stat dst;
	int level, r;

	if (st->st_uid == afile__op_euid(op))
		return 0;
	r = afile__fstat(dfd, &dst);
	if (r < 0)
		return afile__fail(op, r, "check directory", shown);
	if (!(dst.st_mode & S_ISVTX) || dst.st_uid == st->st_uid)
		return 0;
	if (S_ISREG(st->st_mode)) {
		level = prot_level(op, PROT_REGULAR);
		step = "refuse file planted by another user "
		       "(fs.protected_regular)";
	} else if (S_ISFIFO(st->st_mode)) {
		level = prot_level(op, PROT_FIFOS);
		step = "refuse FIFO planted by another user "
		       "(fs.protected_fifos)";
	} else {
		level = 2; /* the library's own directories: always */
		step = "refuse directory planted by another user "
		       "(sticky directory)";
	}
	if ((level >= 1 && (dst.st_mode & S_IWOTH)) ||
	    (level >= 2 && (dst.st_mode & S_IWGRP)))
		return afile__fail_cause(
		    op, AFILE_EPROTECTED, -EACCES, step, shown);
	return 0;
}

int
afile__target_check_planted(struct afile__op *op, const struct afile__target *t)
{
	if (!t->exists || S_ISLNK(t->st.st_mode))
		return 0;
	return afile__check_planted(op, t->dfd, &t->st, t->shown);
}

int
afile__open_own(struct afile__op *op, int dfd, const char *name, int flags,
    mode_t mode, struct stat *ret_st)
{
	struct afile__op quiet = *op;
	struct stat st;
	int fd, r;

	quiet.err = NULL; /* the caller words the error */
	fd = afile__openat(
	    dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, mode);
	if (fd == -ELOOP)
		return AFILE_ENOTREG; /* a symlink */
	if (fd == -EACCES) {
		/* The kernel's own fs.protected_regular may be what refused. */
		r = afile__fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (r == 0 && !S_ISREG(st.st_mode))
			return AFILE_ENOTREG; /* fs.protected_fifos */
		if (r == 0)
			r = afile__check_planted(&quiet, dfd, &st, name);
		memcpy(op->protected, quiet.protected, sizeof(op->protected));
		return r == AFILE_EPROTECTED ? r : fd;
	}
	if (fd < 0)
		return fd;
	r = afile__fstatat(fd, "", &st, AT_EMPTY_PATH | AFILE__AT_NOTIME);
	if (r == 0 && !S_ISREG(st.st_mode))
		r = AFILE_ENOTREG;
	if (r == 0)
		r = afile__check_planted(&quiet, dfd, &st, name);
	memcpy(op->protected, quiet.protected, sizeof(op->protected));
	if (r < 0) {
		afile__close_quiet(fd);
		return r;
	}
	if (ret_st)
		*ret_st = st;
	return fd;
}

/*
 * Split @buf (modified) into a directory part and a last component.
 * Returns 0 or -EINVAL for a path whose last component is unusable.
 */
static int
split(char *buf, const char **ret_dir, const char **ret_base)
{
	char *slash = strrchr(buf, '/');

	if (!slash) {
		*ret_dir = ".";
		*ret_base = buf;
	} else if (slash == buf) {
		*ret_dir = "/";
		*ret_base = buf + 1;
	} else {
		*slash = '\0';
		*ret_dir = buf;
		*ret_base = slash + 1;
	}
	if (!**ret_base || !strcmp(*ret_base, ".") || !strcmp(*ret_base, ".."))
		return -EINVAL;
	if (strlen(*ret_base) > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

void
afile__target_close(struct afile__target *t)
{
	if (!t->borrowed)
		afile__close_quiet(t->dfd);
	t->dfd = -1;
}

/* Fill @t's view of @name in @t->dfd. */
static int
look(struct afile__op *op, struct afile__target *t)
{
	int r = afile__fstatat(t->dfd, t->name, &t->st, AT_SYMLINK_NOFOLLOW);

	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "check target", t->shown);
	t->exists = r == 0;
	return 0;
}

int
afile__target_at(
    struct afile__op *op, int dfd, const char *name, struct afile__target *t)
{
	size_t len = name ? strlen(name) : 0;

	memset(t, 0, sizeof(*t));
	t->dfd = -1;
	if (!len || len > NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return afile__fail(op, -EINVAL, "check path", name);
	memcpy(t->name, name, len + 1);
	memcpy(t->shown, name, len + 1);
	t->dfd = dfd;
	t->borrowed = true;
	return look(op, t);
}

/* afile__target_open(); @stat_flags for the lstat of each component. */
static int
target_open(struct afile__op *op, int dirfd, const char *path, bool follow,
    int stat_flags, struct afile__target *t)
{
	char buf[sizeof(t->shown)];
	const char *dir, *base;
	int cur = dirfd, dfd, r;
	unsigned int hops = 0;
	size_t len;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	t->dfd = -1;
	if (!path || !*path)
		return afile__fail(op, -EINVAL, "check path", "");
	len = strlen(path);
	if (len >= sizeof(buf))
		return afile__fail(op, -ENAMETOOLONG, "check path", "");
	if (path[len - 1] == '/')
		return afile__fail(op, -EINVAL, "check path", path);
	memcpy(buf, path, len + 1);

	for (;;) {
		memcpy(t->shown, buf, strlen(buf) + 1);
		r = split(buf, &dir, &base);
		if (r < 0) {
			if (cur != dirfd)
				afile__close_quiet(cur);
			r = afile__fail(op, r, "check path", t->shown);
			goto fail;
		}
		r = afile__openat(cur, dir, O_RDONLY | O_DIRECTORY, 0);
		if (cur != dirfd)
			afile__close_quiet(cur);
		cur = dirfd;
		if (r < 0) {
			r = afile__fail(op, r, "open directory", t->shown);
			goto fail;
		}
		dfd = r;
		r = afile__fstatat(
		    dfd, base, &t->st, AT_SYMLINK_NOFOLLOW | stat_flags);
		if (r < 0 && r != -ENOENT) {
			afile__close_quiet(dfd);
			r = afile__fail(op, r, "check target", t->shown);
			goto fail;
		}
		t->exists = r == 0;
		if (!follow || !t->exists || !S_ISLNK(t->st.st_mode)) {
			t->dfd = dfd;
			memcpy(t->name, base, strlen(base) + 1);
			return 0;
		}
		if (++hops > MAX_SYMLINKS) {
			afile__close_quiet(dfd);
			r = afile__fail(op, -ELOOP, "follow symlink", t->shown);
			goto fail;
		}
		r = may_follow(op, dfd, &t->st, t->shown);
		if (r < 0) {
			afile__close_quiet(dfd);
			goto fail;
		}
		n = afile__readlinkat(dfd, base, buf, sizeof(buf));
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			afile__close_quiet(dfd);
			r = afile__fail(op, n < 0 ? (int)n : -ENAMETOOLONG,
			    "read symlink", t->shown);
			goto fail;
		}
		buf[n] = '\0';
		/* "dir/" names a directory: let the check below say so. */
		while (n > 1 && buf[n - 1] == '/')
			buf[--n] = '\0';
		/* Relative targets are relative to the link's directory. */
		cur = dfd;
	}
fail:
	memset(t->name, 0, sizeof(t->name));
	t->dfd = -1;
	return r;
}

int
afile__target_open(struct afile__op *op, int dirfd, const char *path,
    bool follow, struct afile__target *t)
{
	return target_open(op, dirfd, path, follow, 0, t);
}

int
afile__target_open_notime(struct afile__op *op, int dirfd, const char *path,
    bool follow, struct afile__target *t)
{
	return target_open(op, dirfd, path, follow, AFILE__AT_NOTIME, t);
}
