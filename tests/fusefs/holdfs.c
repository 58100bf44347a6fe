/* SPDX-License-Identifier: MIT */
/*
 * holdfs.c - a FUSE file system that loses what was not synced.
 *
 * A passthrough over a backing directory (the "disk") whose file data
 * reaches the disk only when an fsync or fdatasync reaches THAT file:
 * until then written bytes and size changes live in this process's
 * memory, as in a server's cache.  Killing the process (SIGKILL) is the
 * power cut: whatever was not synced is gone, and the backing directory
 * is what the next mount sees.  syncfs(2) on FUSE reaches no daemon
 * (the kernel sends FUSE_SYNCFS only for virtiofs), so a library that
 * trusts syncfs here loses data, exactly as on the FUSE file systems of
 * issue 9.
 *
 * Model limits (conservative only for data): names, links, modes and
 * xattrs pass through at once (metadata is never lost); a new file is
 * empty on the disk until it is synced.  The power-loss simulator
 * (tests/simfs) models lost directory entries.
 *
 * Switches (before the FUSE options):
 *   --no-dirsync      fsync of a directory fails with EINVAL
 *   --no-rename-flags renameat2 with flags fails with EINVAL
 * O_TMPFILE is always refused (libfuse 3.14 has no tmpfile operation, the
 * kernel answers EOPNOTSUPP).
 *
 * Usage: holdfs [--no-dirsync] [--no-rename-flags] BACKING MNT [-f ...]
 * Single-threaded (run with -s): no locking is needed.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static int bfd = -1;         /* the backing directory */
static char broot[PATH_MAX]; /* its path, for the xattr calls */
static bool no_dirsync, no_rename_flags;

/* Held data of one backing inode (whole contents: test files are small). */
struct node {
	ino_t ino;
	char *data;
	size_t len, cap;
	struct node *next;
};
static struct node *nodes;

static const char *
rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static struct node *
find(ino_t ino)
{
	for (struct node *n = nodes; n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void
drop(ino_t ino)
{
	for (struct node **p = &nodes; *p; p = &(*p)->next)
		if ((*p)->ino == ino) {
			struct node *n = *p;
			*p = n->next;
			free(n->data);
			free(n);
			return;
		}
}

static int
grow(struct node *n, size_t len)
{
	if (len > n->cap) {
		size_t cap = n->cap ? n->cap : 4096;
		char *d;

		while (cap < len)
			cap *= 2;
		d = realloc(n->data, cap);
		if (!d)
			return -ENOMEM;
		n->data = d;
		n->cap = cap;
	}
	if (len > n->len)
		memset(n->data + n->len, 0, len - n->len);
	n->len = len;
	return 0;
}

/* The held state of @fd's inode, loaded from the disk on first change. */
static int
load(int fd, struct node **ret)
{
	struct stat st;
	struct node *n;
	ssize_t r;

	if (fstat(fd, &st) < 0)
		return -errno;
	n = find(st.st_ino);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->ino = st.st_ino;
		if (grow(n, (size_t)st.st_size) < 0) {
			free(n);
			return -ENOMEM;
		}
		r = st.st_size ? pread(fd, n->data, n->len, 0) : 0;
		if (r < 0 || (size_t)r != n->len) {
			free(n->data);
			free(n);
			return r < 0 ? -errno : -EIO;
		}
		n->next = nodes;
		nodes = n;
	}
	*ret = n;
	return 0;
}

static void
overlay(struct stat *st)
{
	struct node *n = S_ISREG(st->st_mode) ? find(st->st_ino) : NULL;

	if (n) {
		st->st_size = (off_t)n->len;
		st->st_blocks = (blkcnt_t)((n->len + 511) / 512);
	}
}

static int
h_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r = fi ? fstat((int)fi->fh, st)
		   : fstatat(bfd, rel(path), st, AT_SYMLINK_NOFOLLOW);

	if (r < 0)
		return -errno;
	overlay(st);
	return 0;
}

static int
h_readlink(const char *path, char *buf, size_t n)
{
	ssize_t r = readlinkat(bfd, rel(path), buf, n - 1);

	if (r < 0)
		return -errno;
	buf[r] = 0;
	return 0;
}

static int
h_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	int fd = openat(bfd, rel(path), O_RDONLY | O_DIRECTORY);
	struct dirent *e;
	DIR *d;

	(void)off, (void)fi, (void)flags;
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(d)))
		if (fill(buf, e->d_name, NULL, 0, 0))
			break;
	closedir(d);
	return 0;
}

static int
h_mkdir(const char *path, mode_t mode)
{
	return mkdirat(bfd, rel(path), mode) < 0 ? -errno : 0;
}

static int
h_unlink(const char *path)
{
	return unlinkat(bfd, rel(path), 0) < 0 ? -errno : 0;
}

static int
h_rmdir(const char *path)
{
	return unlinkat(bfd, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int
h_symlink(const char *to, const char *path)
{
	return symlinkat(to, bfd, rel(path)) < 0 ? -errno : 0;
}

static int
h_rename(const char *from, const char *to, unsigned int flags)
{
	if (flags && no_rename_flags)
		return -EINVAL;
	return syscall(SYS_renameat2, bfd, rel(from), bfd, rel(to), flags) < 0
	    ? -errno
	    : 0;
}

static int
h_link(const char *from, const char *to)
{
	return linkat(bfd, rel(from), bfd, rel(to), 0) < 0 ? -errno : 0;
}

static int
h_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int r =
	    fi ? fchmod((int)fi->fh, mode) : fchmodat(bfd, rel(path), mode, 0);

	return r < 0 ? -errno : 0;
}

static int
h_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int r = fi ? fchown((int)fi->fh, uid, gid)
		   : fchownat(bfd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);

	return r < 0 ? -errno : 0;
}

static int
h_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node *n;
	int fd = fi ? (int)fi->fh : openat(bfd, rel(path), O_RDONLY);
	int r;

	if (fd < 0)
		return -errno;
	r = load(fd, &n);
	if (r == 0)
		r = grow(n, (size_t)size);
	if (r == 0 && (size_t)size < n->len)
		n->len = (size_t)size;
	if (!fi)
		close(fd);
	return r;
}

static int
h_utimens(
    const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int r = fi ? futimens((int)fi->fh, tv)
		   : utimensat(bfd, rel(path), tv, AT_SYMLINK_NOFOLLOW);

	return r < 0 ? -errno : 0;
}

static int
open_flags(int flags)
{
	/* Read access for loading; truncation and appends are ours. */
	flags &= ~(O_TRUNC | O_APPEND | O_CREAT | O_EXCL);
	if ((flags & O_ACCMODE) != O_RDONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags | O_NOFOLLOW;
}

static int
h_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(bfd, rel(path), open_flags(fi->flags));

	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int
h_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct stat st;
	int fd = openat(
	    bfd, rel(path), open_flags(fi->flags) | O_CREAT | O_EXCL, mode);

	if (fd < 0)
		return -errno;
	/* A new inode: whatever was held for a reused number is stale. */
	if (fstat(fd, &st) == 0)
		drop(st.st_ino);
	fi->fh = (uint64_t)fd;
	return 0;
}

static int
h_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct stat st;
	struct node *n;
	ssize_t r;

	(void)path;
	if (fstat((int)fi->fh, &st) < 0)
		return -errno;
	n = find(st.st_ino);
	if (!n) {
		r = pread((int)fi->fh, buf, size, off);
		return r < 0 ? -errno : (int)r;
	}
	if ((size_t)off >= n->len)
		return 0;
	if (size > n->len - (size_t)off)
		size = n->len - (size_t)off;
	memcpy(buf, n->data + off, size);
	return (int)size;
}

static int
h_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct node *n;
	size_t end = (size_t)off + size;
	int r = load((int)fi->fh, &n);

	(void)path;
	if (r == 0 && end > n->len)
		r = grow(n, end);
	if (r < 0)
		return r;
	memcpy(n->data + off, buf, size);
	return (int)size;
}

static int
h_statfs(const char *path, struct statvfs *sv)
{
	int fd = openat(bfd, rel(path), O_RDONLY | O_PATH);
	int r;

	if (fd < 0)
		return -errno;
	r = fstatvfs(fd, sv);
	close(fd);
	return r < 0 ? -errno : 0;
}

static int
h_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

/* The one way held data reaches the disk. */
static int
h_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct stat st;
	struct node *n;
	int fd = (int)fi->fh, r;
	char proc[64];
	ssize_t w;

	(void)path, (void)datasync;
	if (fstat(fd, &st) < 0)
		return -errno;
	n = find(st.st_ino);
	if (!n)
		return 0;
	/* The data may have come through another (writable) descriptor. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	fd = open(proc, O_WRONLY);
	if (fd < 0)
		return -errno;
	w = ftruncate(fd, (off_t)n->len) < 0 ? -1
	    : n->len                         ? pwrite(fd, n->data, n->len, 0)
					     : 0;
	r = w < 0 ? -errno : (size_t)w != n->len ? -EIO : 0;
	close(fd);
	if (r == 0)
		drop(st.st_ino);
	return r;
}

static int
h_opendir(const char *path, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	return 0;
}

static int
h_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path, (void)datasync, (void)fi;
	return no_dirsync ? -EINVAL : 0;
}

static int
xpath(const char *path, char *out)
{
	int n = snprintf(out, PATH_MAX, "%s%s", broot, path);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int
h_setxattr(
    const char *path, const char *name, const char *val, size_t n, int flags)
{
	char p[PATH_MAX];
	int r = xpath(path, p);

	return r ? r : lsetxattr(p, name, val, n, flags) < 0 ? -errno : 0;
}

static int
h_getxattr(const char *path, const char *name, char *val, size_t n)
{
	char p[PATH_MAX];
	int r = xpath(path, p);
	ssize_t g;

	if (r)
		return r;
	g = lgetxattr(p, name, val, n);
	return g < 0 ? -errno : (int)g;
}

static int
h_listxattr(const char *path, char *list, size_t n)
{
	char p[PATH_MAX];
	int r = xpath(path, p);
	ssize_t g;

	if (r)
		return r;
	g = llistxattr(p, list, n);
	return g < 0 ? -errno : (int)g;
}

static int
h_removexattr(const char *path, const char *name)
{
	char p[PATH_MAX];
	int r = xpath(path, p);

	return r ? r : lremovexattr(p, name) < 0 ? -errno : 0;
}

static void *
h_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ops = {
    .init = h_init,
    .getattr = h_getattr,
    .readlink = h_readlink,
    .readdir = h_readdir,
    .mkdir = h_mkdir,
    .unlink = h_unlink,
    .rmdir = h_rmdir,
    .symlink = h_symlink,
    .rename = h_rename,
    .link = h_link,
    .chmod = h_chmod,
    .chown = h_chown,
    .truncate = h_truncate,
    .utimens = h_utimens,
    .open = h_open,
    .create = h_create,
    .read = h_read,
    .write = h_write,
    .statfs = h_statfs,
    .release = h_release,
    .fsync = h_fsync,
    .opendir = h_opendir,
    .fsyncdir = h_fsyncdir,
    .setxattr = h_setxattr,
    .getxattr = h_getxattr,
    .listxattr = h_listxattr,
    .removexattr = h_removexattr,
};

int
main(int argc, char **argv)
{
	int k = 1;

	for (; k < argc && strncmp(argv[k], "--", 2) == 0; k++) {
		if (strcmp(argv[k], "--no-dirsync") == 0)
			no_dirsync = true;
		else if (strcmp(argv[k], "--no-rename-flags") == 0)
			no_rename_flags = true;
		else
			break;
	}
	if (argc - k < 2) {
		fprintf(stderr,
		    "usage: holdfs [--no-dirsync] "
		    "[--no-rename-flags] BACKING MNT [FUSE-OPTIONS]\n");
		return 2;
	}
	if (!realpath(argv[k], broot)) {
		perror(argv[k]);
		return 1;
	}
	bfd = open(broot, O_RDONLY | O_DIRECTORY);
	if (bfd < 0) {
		perror(argv[k]);
		return 1;
	}
	argv[k] = argv[0];
	return fuse_main(argc - k, argv + k, &ops, NULL);
}
