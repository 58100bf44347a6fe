/* SPDX-License-Identifier: MIT */
/*
 * probe.c - afile_probe(): what the file system holding a path supports.
 *
 * The facts come from two places.  What a file system type may be trusted
 * with (syncfs, memory only, FUSE, network) is fstype.c's table; what a
 * given mount actually does is found by trying each primitive in the
 * directory, because a FUSE or network file system is whatever its
 * server makes of it: the same "fuse" magic number covers sshfs, which
 * has no O_TMPFILE, and GlusterFS, whose locks are the server's.
 *
 * Invariants:
 *   1. Everything the probe creates has a temp name
 *      (.afile-probe.XXXXXXXXXXXX.afile-tmp), so that a probe killed
 *      half-way leaves only what afile_cleanup() removes; every name is
 *      removed before returning, on every path.
 *   2. A primitive that fails is a finding, not an error: only what stops
 *      the probing itself (resolving the path, creating the first file)
 *      is returned.
 *   3. /proc/self/mountinfo is read through sys.c like any other file;
 *      without /proc the mount fields stay empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "internal.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define PROBE_TARGET "afile-probe"
#define PROBE_BYTES  4096

/* Copy @len bytes of @s into @dst (size @n), NUL-terminated, cut to fit. */
static void
copy_field(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

/*
 * One line of mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [OPTIONAL...] - TYPE SOURCE SUPEROPTS".  Matches when MAJ:MIN is @dev,
 * or, with @dir, when MOUNTPOINT is a longer prefix of @dir than *@best.
 * Fills the mount fields on a match.
 */
static bool
match_mount(const char *line, size_t len, dev_t dev, const char *dir,
    size_t *best, struct afile_probe *p)
{
	const char *f[64], *end = line + len, *s = line;
	size_t flen[64], n = 0, sep, mlen;
	unsigned int maj, min;
	char num[32];

	while (s < end && n < 64) {
		const char *e = memchr(s, ' ', (size_t)(end - s));

		if (!e)
			e = end;
		f[n] = s;
		flen[n++] = (size_t)(e - s);
		s = e + 1;
	}
	if (n < 10 || flen[2] >= sizeof(num))
		return false;
	for (sep = 6; sep < n && !(flen[sep] == 1 && f[sep][0] == '-'); sep++)
		;
	if (sep + 2 >= n)
		return false;
	if (dir) {
		/* "/" is a prefix of everything; "/a" of "/a" and "/a/b". */
		mlen = flen[4];
		if (mlen == 1 && f[4][0] == '/')
			mlen = 0;
		/* Equal: a later mount hides an earlier one. */
		if (*best != SIZE_MAX && mlen < *best)
			return false;
		if (strncmp(dir, f[4], mlen) != 0 ||
		    (dir[mlen] != '/' && dir[mlen] != '\0'))
			return false;
		*best = mlen;
	} else {
		memcpy(num, f[2], flen[2]);
		num[flen[2]] = '\0';
		if (sscanf(num, "%u:%u", &maj, &min) != 2 ||
		    makedev(maj, min) != dev)
			return false;
	}
	copy_field(
	    p->mount_type, sizeof(p->mount_type), f[sep + 1], flen[sep + 1]);
	copy_field(p->mount_source, sizeof(p->mount_source), f[sep + 2],
	    flen[sep + 2]);
	return true;
}

/*
 * Invariant 3.  The mount whose device is @dev; where none is (btrfs
 * reports a device per subvolume), the one whose mount point is the
 * longest prefix of the directory's path.
 */
static void
find_mount(int dfd, dev_t dev, struct afile_probe *p)
{
	char *buf = NULL, *line, *nl, proc[64], dir[4096];
	size_t len = 0, best = SIZE_MAX;
	ssize_t dlen;
	int fd, pass;

	fd = afile__openat(AT_FDCWD, "/proc/self/mountinfo", O_RDONLY, 0);
	if (fd < 0)
		return;
	if (afile__read_fd(fd, &buf, &len) < 0)
		buf = NULL;
	afile__close_quiet(fd);
	if (!buf)
		return;
	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
	dlen = afile__readlinkat(AT_FDCWD, proc, dir, sizeof(dir) - 1);
	dir[dlen > 0 ? dlen : 0] = '\0';
	for (pass = 0; pass < 2 && !p->mount_type[0]; pass++) {
		if (pass == 1 && dir[0] != '/')
			break;
		for (line = buf; line < buf + len; line = nl + 1) {
			nl = memchr(line, '\n', len - (size_t)(line - buf));
			if (!nl)
				nl = buf + len;
			if (match_mount(line, (size_t)(nl - line), dev,
				pass ? dir : NULL, &best, p) &&
			    !pass)
				break;
		}
	}
	afile__free(buf);
}

static unsigned int
kind_of(const struct afile__fstype *fs, const struct afile_probe *p)
{
	unsigned int kind = 0;

	if (fs->flags & AFILE__FS_VOLATILE)
		kind |= AFILE_PROBE_VOLATILE;
	else if (fs->flags & AFILE__FS_SYNCFS)
		kind |= AFILE_PROBE_LOCAL;
	if (fs->flags & AFILE__FS_FUSE)
		kind |= AFILE_PROBE_FUSE;
	if (fs->flags & AFILE__FS_NETWORK)
		kind |= AFILE_PROBE_NETWORK | AFILE_PROBE_SHARED;
	/* FUSE file systems that several machines mount at once. */
	if ((kind & AFILE_PROBE_FUSE) &&
	    (strcmp(p->mount_type, "fuse.glusterfs") == 0 ||
		strcmp(p->mount_type, "fuse.ceph-fuse") == 0 ||
		strcmp(p->mount_type, "fuse.ceph") == 0 ||
		strcmp(p->mount_type, "fuse.juicefs") == 0 ||
		strcmp(p->mount_type, "fuse.moosefs") == 0 ||
		strcmp(p->mount_type, "fuse.lizardfs") == 0 ||
		strcmp(p->mount_type, "fuse.beegfs") == 0))
		kind |= AFILE_PROBE_SHARED | AFILE_PROBE_NETWORK;
	return kind;
}

/* A new named temp in @dfd, its name in @name; -errno on failure. */
static int
named_tmp(int dfd, char name[NAME_MAX + 1])
{
	int fd = -EEXIST, r;

	for (int i = 0; i < 8 && fd == -EEXIST; i++) {
		r = afile__tmp_name(PROBE_TARGET, AFILE__TMP_SUFFIX, name);
		if (r < 0)
			return r;
		fd = afile__openat(dfd, name,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, 0600);
	}
	if (fd < 0)
		name[0] = '\0';
	return fd;
}

/*
 * The first file: O_TMPFILE and a link to a temp name, else a named
 * temp.  Returns its descriptor, its name in @name.
 */
static int
first_file(int dfd, char name[NAME_MAX + 1], unsigned int *works)
{
	int fd, r = -EOPNOTSUPP;

	name[0] = '\0';
#ifdef O_TMPFILE
	fd = afile__openat(dfd, ".", O_TMPFILE | O_RDWR, 0600);
	if (fd >= 0) {
		struct afile__tmp t = {.fd = fd, .slot = -1};

		for (int i = 0; i < 8; i++) {
			r = afile__tmp_name(
			    PROBE_TARGET, AFILE__TMP_SUFFIX, name);
			if (r == 0)
				r = afile__tmp_link(dfd, &t, name);
			if (r != -EEXIST)
				break;
		}
		if (r == 0) {
			*works |= AFILE_PROBE_TMPFILE;
			return fd;
		}
		name[0] = '\0';
		afile__close_quiet(fd);
	}
#endif
	(void)r;
	return named_tmp(dfd, name);
}

static void
fill_data(char *buf)
{
	for (size_t k = 0; k < PROBE_BYTES; k++)
		buf[k] = (char)('a' + k % 26);
}

/* Try each primitive on the file @fd named @a in @dfd. */
static void
probe_primitives(int dfd, int fd, char *a, unsigned int *works)
{
	char b[NAME_MAX + 1], c[NAME_MAX + 1];
	struct stat sa, sb;
	int fb, fc, r;

	if (afile__fsync(fd, false) == 0)
		*works |= AFILE_PROBE_FILE_FSYNC;
	if (afile__ofd_lock(fd, F_WRLCK) == 0) {
		/* A second description must be refused while it is held. */
		int again = afile__openat(dfd, a, O_RDWR | O_NOFOLLOW, 0);

		if (again >= 0) {
			if (afile__ofd_lock(again, F_WRLCK) < 0)
				*works |= AFILE_PROBE_OFD_LOCKS;
			afile__close_quiet(again);
		}
		(void)afile__ofd_lock(fd, F_UNLCK);
	}
	if (afile__fsync_dir(dfd) == 0)
		*works |= AFILE_PROBE_DIR_FSYNC;
	fb = named_tmp(dfd, b);
	if (fb < 0)
		return;
	/* Reflink: a clone of @a holds @a's bytes. */
	if (afile__ficlone(fb, fd) == 0 && afile__fstat(fb, &sb) == 0 &&
	    sb.st_size == PROBE_BYTES)
		*works |= AFILE_PROBE_REFLINK;
	afile__close_quiet(fb);
	/* RENAME_NOREPLACE must refuse an existing name, then move. */
	r = afile__renameat2(dfd, a, dfd, b, RENAME_NOREPLACE);
	if (r == -EEXIST) {
		fc = named_tmp(dfd, c);
		if (fc >= 0) {
			afile__close_quiet(fc);
			(void)afile__unlinkat(dfd, c, 0);
			if (afile__renameat2(
				dfd, a, dfd, c, RENAME_NOREPLACE) == 0) {
				*works |= AFILE_PROBE_RENAME_NOREPLACE;
				memcpy(a, c, NAME_MAX + 1);
			}
		}
	}
	/* RENAME_EXCHANGE must swap the two inodes. */
	if (afile__fstatat(dfd, a, &sa, AT_SYMLINK_NOFOLLOW) == 0 &&
	    afile__renameat2(dfd, a, dfd, b, RENAME_EXCHANGE) == 0) {
		if (afile__fstatat(dfd, b, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    sb.st_ino == sa.st_ino)
			*works |= AFILE_PROBE_RENAME_EXCHANGE;
	}
	(void)afile__unlinkat(dfd, b, 0);
}

/* A directory: @path itself, or the directory of a file at @path. */
static int
open_dir(struct afile__op *op, int dirfd, const char *path, int *ret_dfd)
{
	struct afile__target t;
	int fd, r;

	fd = afile__openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOCTTY, 0);
	if (fd >= 0) {
		*ret_dfd = fd;
		return 0;
	}
	if (fd != -ENOTDIR)
		return afile__fail(op, fd, "open directory", path);
	/* afile__target_open() opens the file's directory for us to keep. */
	r = afile__target_open(op, dirfd, path, true, &t);
	if (r < 0)
		return r;
	*ret_dfd = t.dfd;
	return 0;
}

int
afile_probe(
    int dirfd, const char *path, unsigned int flags, struct afile_probe *ret)
{
	const struct afile__fstype *fs;
	const char *why;
	char a[NAME_MAX + 1], *data = NULL;
	struct afile__op op;
	struct stat st;
	size_t size;
	int dfd = -1, fd = -1, r;

	r = afile__op_init(&op, flags, 0, NULL);
	if (r == 0 && (!ret || !path || !*path || ret->size != sizeof(*ret)))
		r = afile__fail(&op, -EINVAL, "check arguments", path);
	if (r < 0)
		return afile__op_done(&op, r);
	size = ret->size;
	memset(ret, 0, sizeof(*ret));
	ret->size = size;
	ret->durability = AFILE_SYNC_NONE;
	a[0] = '\0';
	r = open_dir(&op, dirfd, path, &dfd);
	if (r < 0)
		return afile__op_done(&op, r);
	(void)afile__fstype_of(dfd, &fs);
	ret->magic = fs->magic;
	copy_field(
	    ret->fstype, sizeof(ret->fstype), fs->name, strlen(fs->name));
	if (afile__fstat(dfd, &st) == 0)
		find_mount(dfd, st.st_dev, ret);
	ret->kind = kind_of(fs, ret);
	if (fs->flags & AFILE__FS_SYNCFS)
		ret->works |= AFILE_PROBE_SYNCFS;
	if (afile__one_flush_why(dfd, &why))
		ret->works |= AFILE_PROBE_ONE_FLUSH;

	fd = first_file(dfd, a, &ret->works);
	if (fd < 0) {
		r = afile__fail(&op, fd, "create temporary file", path);
		goto out;
	}
	data = afile__malloc(PROBE_BYTES);
	if (!data) {
		r = afile__fail(&op, -ENOMEM, "probe", path);
		goto out;
	}
	fill_data(data);
	r = afile__write_all(fd, data, PROBE_BYTES);
	if (r < 0) {
		r = afile__fail(&op, r, "write temporary file", path);
		goto out;
	}
	probe_primitives(dfd, fd, a, &ret->works);
	if (ret->kind & AFILE_PROBE_VOLATILE ||
	    !(ret->works & AFILE_PROBE_FILE_FSYNC))
		ret->durability = AFILE_SYNC_NONE;
	else if (!(ret->works & AFILE_PROBE_DIR_FSYNC))
		ret->durability = AFILE_SYNC_DATA;
	else
		ret->durability = AFILE_SYNC_FULL;
out:
	/* Invariant 1. */
	if (a[0])
		(void)afile__unlinkat(dfd, a, 0);
	if (fd >= 0)
		afile__close_quiet(fd);
	afile__free(data);
	afile__close_quiet(dfd);
	if (r < 0) {
		ret->works &= AFILE_PROBE_SYNCFS | AFILE_PROBE_ONE_FLUSH;
		ret->durability = AFILE_SYNC_NONE;
	}
	return afile__op_done(&op, r);
}
