/* SPDX-License-Identifier: MIT */
/*
 * test_probe.c - afile_probe() (src/probe.c): argument checks, findings
 * that follow what the syscall table lets work, the documented error when
 * the probe file cannot be created, and nothing left behind.  The real
 * file systems are in tests/realfs/probe.sh and tests/gluster/gluster.sh.
 *
 * The mount fields come from a mountinfo the table opens in place of
 * /proc's (by device, by longest path prefix, none); each primitive is
 * made to fail or to lie (succeed without doing its job) in turn, and
 * only its bit must go; the failures that stop the probe return their
 * error with the findings cleared and no probe file left.
 */
#include "helpers.h"

#include "internal.h"
#include "sys.h"

#include <sys/sysmacros.h>

static unsigned long magic;
static bool fake_magic, refuse_rename2, refuse_ofd, refuse_create;

/* The primitives' other answers; reset by setup(). */
static struct {
	const char *mountinfo; /* opened instead of /proc/self/mountinfo */
	bool no_readlink;      /* readlink of /proc/self/fd/N fails */
	bool tmpfile_refused;  /* O_TMPFILE: EOPNOTSUPP */
	int link_err;          /* linkat of the O_TMPFILE fails with this */
	bool no_proc_link;     /* linkat through /proc/self/fd: ENOENT */
	int names_taken;       /* O_EXCL creates of temp names: EEXIST... */
	int names_after;       /* ...after this many succeeded */
	int fsync_err;         /* fsync of a regular file fails with this */
	int dirsync_err;       /* fsync of a directory fails with this */
	bool lock_shared_only; /* OFD locks "succeed" but exclude nobody */
	int reopen_err;        /* O_RDWR reopen of the probe file fails */
	int ficlone;           /* 1: clones 4096 bytes, 2: clones nothing */
	int rename_mode;       /* 1: NOREPLACE replaces, 2: EXCHANGE no-op */
	int rename_nr_after;   /* 3: NOREPLACE refuses, the move then fails */
	int fstatat_err;       /* fstatat of the probe file fails */
	int malloc_fail;       /* the Nth malloc from now fails (1: next) */
	int write_err;         /* write fails with this */
	int dotdir_err;        /* openat(".", O_DIRECTORY) fails with this */
	int fstatat_after;     /* fstatat_err spares this many first */
	int magic_err;         /* statfs fails with this */
	int fstat_dir_err;     /* fstat of a directory fails with this */
	int fstat_file_err;    /* fstat of a regular file fails with this */
} S;

static int
fake_fs_magic(int fd, unsigned long *ret)
{
	if (S.magic_err) {
		errno = S.magic_err;
		return -1;
	}
	if (!fake_magic)
		return afile__sys_default.fs_magic(fd, ret);
	*ret = magic;
	return 0;
}

static int
fake_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	if (refuse_rename2) {
		errno = EINVAL;
		return -1;
	}
	/* A file system that ignores the flag, or only says it swapped. */
	if (S.rename_mode == 1 && flags == RENAME_NOREPLACE)
		return afile__sys_default.renameat2(sdfd, src, ddfd, dst, 0);
	if (S.rename_mode == 2 && flags == RENAME_EXCHANGE)
		return 0;
	if (S.rename_mode == 3 && flags == RENAME_NOREPLACE &&
	    S.rename_nr_after-- <= 0) {
		errno = EIO;
		return -1;
	}
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
fake_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	if (refuse_ofd) {
		errno = EINVAL;
		return -1;
	}
	if (S.lock_shared_only)
		return 0;
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

static int
fake_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (refuse_create &&
	    ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)) {
		errno = EACCES;
		return -1;
	}
	if (S.mountinfo && !strcmp(path, "/proc/self/mountinfo"))
		path = S.mountinfo;
	if (S.tmpfile_refused && (flags & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (S.names_taken && (flags & O_CREAT) && (flags & O_EXCL) &&
	    strstr(path, ".afile-tmp")) {
		if (S.names_after > 0) {
			S.names_after--;
		} else {
			S.names_taken--;
			errno = EEXIST;
			return -1;
		}
	}
	if (S.reopen_err && !(flags & O_CREAT) &&
	    (flags & O_ACCMODE) == O_RDWR && strstr(path, ".afile-tmp")) {
		errno = S.reopen_err;
		return -1;
	}
	if (S.dotdir_err && !strcmp(path, ".") && (flags & O_DIRECTORY) &&
	    (flags & O_TMPFILE) != O_TMPFILE) {
		errno = S.dotdir_err;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static ssize_t
fake_readlinkat(int dfd, const char *path, char *buf, size_t n)
{
	if (S.no_readlink && !strncmp(path, "/proc/self/fd/", 14)) {
		errno = ENOENT;
		return -1;
	}
	return afile__sys_default.readlinkat(dfd, path, buf, n);
}

static int
fake_linkat(int sd, const char *src, int dd, const char *dst, int flags)
{
	if (S.link_err) {
		errno = S.link_err;
		return -1;
	}
	if (S.no_proc_link && !strncmp(src, "/proc/self/fd/", 14)) {
		errno = ENOENT;
		return -1;
	}
	return afile__sys_default.linkat(sd, src, dd, dst, flags);
}

static int
fake_fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 &&
	    (S_ISDIR(st.st_mode) ? S.dirsync_err : S.fsync_err)) {
		errno = S_ISDIR(st.st_mode) ? S.dirsync_err : S.fsync_err;
		return -1;
	}
	return afile__sys_default.fsync(fd);
}

static int
fake_ficlone(int dst, int src)
{
	(void)src;
	if (!S.ficlone)
		return afile__sys_default.ficlone(dst, src);
	return S.ficlone == 1 ? ftruncate(dst, 4096) : 0;
}

static int
fake_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	if (S.fstatat_err && strstr(path, ".afile-tmp") &&
	    S.fstatat_after-- <= 0) {
		errno = S.fstatat_err;
		return -1;
	}
	return afile__sys_default.fstatat(dfd, path, st, flags);
}

static int
fake_fstat(int fd, struct stat *st)
{
	int r = afile__sys_default.fstat(fd, st);

	if (r == 0 &&
	    (S_ISDIR(st->st_mode)          ? S.fstat_dir_err
		    : S_ISREG(st->st_mode) ? S.fstat_file_err
					   : 0)) {
		errno =
		    S_ISDIR(st->st_mode) ? S.fstat_dir_err : S.fstat_file_err;
		return -1;
	}
	return r;
}

static void *
fake_malloc(size_t n)
{
	if (S.malloc_fail && --S.malloc_fail == 0)
		return NULL;
	return afile__sys_default.malloc(n);
}

static ssize_t
fake_write(int fd, const void *buf, size_t n)
{
	if (S.write_err) {
		errno = S.write_err;
		return -1;
	}
	return afile__sys_default.write(fd, buf, n);
}

static int
setup(void **state)
{
	int r = h_setup(state);

	fake_magic = refuse_rename2 = refuse_ofd = refuse_create = false;
	memset(&S, 0, sizeof(S));
	afile__sys.fs_magic = fake_fs_magic;
	afile__sys.renameat2 = fake_renameat2;
	afile__sys.fcntl_lock = fake_fcntl_lock;
	afile__sys.openat = fake_openat;
	afile__sys.readlinkat = fake_readlinkat;
	afile__sys.linkat = fake_linkat;
	afile__sys.ficlone = fake_ficlone;
	afile__sys.fstatat = fake_fstatat;
	afile__sys.malloc = fake_malloc;
	afile__sys.write = fake_write;
	afile__sys.fsync = fake_fsync;
	afile__sys.fstat = fake_fstat;
	return r;
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

static void
test_arguments(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	assert_int_equal(afile_probe(c->dfd, NULL, 0, &p), -EINVAL);
	assert_int_equal(afile_probe(c->dfd, "", 0, &p), -EINVAL);
	assert_int_equal(afile_probe(c->dfd, ".", 0, NULL), -EINVAL);
	assert_int_equal(afile_probe(c->dfd, ".", 0x100, &p), -EINVAL);
	p.size = sizeof(p) - 1;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -EINVAL);
	p.size = sizeof(p);
	assert_int_equal(afile_probe(c->dfd, "missing", 0, &p), -ENOENT);
	assert_int_equal(afile_probe(c->dfd, "missing/x", 0, &p), -ENOENT);
}

/* The findings on the test directory, and the directory unchanged. */
static void
test_findings(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	h_puts(c, "file", "x");
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_int_equal(p.size, sizeof(p));
	assert_true(p.fstype[0] != '\0');
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_true(p.works & AFILE_PROBE_OFD_LOCKS);
	if (p.kind & AFILE_PROBE_VOLATILE)
		assert_int_equal(p.durability, AFILE_SYNC_NONE);
	else if (p.works & AFILE_PROBE_DIR_FSYNC)
		assert_int_equal(p.durability, AFILE_SYNC_FULL);
	assert_entries(c, ".", "file");
	/* A file's directory is probed, with the same findings. */
	struct afile_probe q = {.size = sizeof(q)};
	assert_int_equal(afile_probe(c->dfd, "file", 0, &q), 0);
	assert_int_equal(q.works, p.works);
	assert_string_equal(q.fstype, p.fstype);
	assert_entries(c, ".", "file");
}

/* What the table makes fail is found missing, nothing else changes. */
static void
test_refused_primitives(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	refuse_rename2 = refuse_ofd = true;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_false(p.works & AFILE_PROBE_RENAME_NOREPLACE);
	assert_false(p.works & AFILE_PROBE_RENAME_EXCHANGE);
	assert_false(p.works & AFILE_PROBE_OFD_LOCKS);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_empty_dir(c, ".");
}

/*
 * A refused directory fsync, then a refused file fsync too, found
 * missing, with the durability each leaves (on a file system that keeps
 * data: ext4's magic, whatever the test directory is on).
 */
static void
test_refused_syncs(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	fake_magic = true;
	magic = 0xEF53UL;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_true(p.works & AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_FULL);
	S.dirsync_err = EINVAL; /* as FUSE refuses it */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_false(p.works & AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_DATA);
	S.fsync_err = EIO; /* a dead disk */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_false(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_false(p.works & AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	assert_empty_dir(c, ".");
}

/* The kind follows fstype.c's table: FUSE is neither local nor syncfs. */
static void
test_kinds(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	fake_magic = true;
	magic = 0x65735546UL; /* fuse */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_string_equal(p.fstype, "fuse");
	assert_int_equal(p.magic, magic);
	assert_true(p.kind & AFILE_PROBE_FUSE);
	assert_false(p.kind & (AFILE_PROBE_LOCAL | AFILE_PROBE_VOLATILE));
	assert_false(p.works & AFILE_PROBE_SYNCFS);
	magic = 0x6969UL; /* nfs */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.kind & AFILE_PROBE_NETWORK);
	assert_true(p.kind & AFILE_PROBE_SHARED);
	magic = 0x01021994UL; /* tmpfs */
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_true(p.kind & AFILE_PROBE_VOLATILE);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	magic = 0x12345678UL;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), 0);
	assert_string_equal(p.fstype, "unknown");
	assert_int_equal(p.kind, 0);
	assert_empty_dir(c, ".");
}

/* No probe file: the documented error, the identity still filled. */
static void
test_cannot_create(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	refuse_create = true;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -EACCES);
	assert_true(p.fstype[0] != '\0');
	assert_int_equal(p.works & ~AFILE_PROBE_SYNCFS, 0);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	assert_empty_dir(c, ".");
}

/* ------------------------------------------------------------------
 * The mount, from a mountinfo that the table opens instead of /proc's
 * ------------------------------------------------------------------ */

static char mi_path[PATH_MAX + 16];

/* Write "mi" beside the probed directory "d" and point the probe at it. */
static void
put_mountinfo(struct h_ctx *c, const char *text)
{
	h_mkdir(c, "d", 0755);
	h_put(c, "mi", text, strlen(text), 0644);
	snprintf(mi_path, sizeof(mi_path), "%s/mi", c->dir);
	S.mountinfo = mi_path;
}

/* "MAJ:MIN" of the test directory's file system. */
static void
dev_of(struct h_ctx *c, char *buf, size_t n)
{
	struct stat st;

	h_lstat(c, ".", &st);
	snprintf(buf, n, "%u:%u", major(st.st_dev), minor(st.st_dev));
}

/*
 * Matched by device, past lines that are not mount lines; the FUSE
 * subtypes that several machines mount at once are shared.
 */
static void
test_mount_by_dev(void **state)
{
	static const char *const shared[] = {"fuse.glusterfs", "fuse.ceph-fuse",
	    "fuse.ceph", "fuse.juicefs", "fuse.moosefs", "fuse.lizardfs",
	    "fuse.beegfs"};
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};
	char dev[32], text[2048];

	dev_of(c, dev, sizeof(dev));
	fake_magic = true;
	magic = 0x65735546UL; /* fuse */
	for (size_t i = 0; i <= sizeof(shared) / sizeof(shared[0]); i++) {
		const char *type = i < sizeof(shared) / sizeof(shared[0])
		    ? shared[i]
		    : "fuse.sshfs";

		snprintf(text, sizeof(text),
		    "too short\n"
		    "1 2 123456789012345678901234567890123:1 / /x rw - t s o\n"
		    "3 2 %s / /x rw no separator in this line at all\n"
		    "4 2 %s / /x rw a b c d -\n"
		    "5 2 x:y / /x rw - wrong dev rw\n"
		    "8 2 0:999 / x rw 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 "
		    "17 "
		    "18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 "
		    "37 "
		    "38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 "
		    "57 "
		    "58 59 60 61 62 - over sixty-four fields\n"
		    "6 2 %s / /mnt rw shared:7 - %s srv:/vol rw\n"
		    "7 2 %s / /mnt2 rw - later src2 rw\n",
		    dev, dev, dev, type, dev);
		if (i == 0)
			put_mountinfo(c, text);
		else
			h_put(c, "mi", text, strlen(text), 0644);
		memset(&p, 0, sizeof(p));
		p.size = sizeof(p);
		assert_int_equal(afile_probe(c->dfd, "d", 0, &p), 0);
		/* The first line of the device wins. */
		assert_string_equal(p.mount_type, type);
		assert_string_equal(p.mount_source, "srv:/vol");
		assert_true(p.kind & AFILE_PROBE_FUSE);
		if (i < sizeof(shared) / sizeof(shared[0]))
			assert_int_equal(
			    p.kind & (AFILE_PROBE_SHARED | AFILE_PROBE_NETWORK),
			    AFILE_PROBE_SHARED | AFILE_PROBE_NETWORK);
		else
			assert_false(p.kind &
			    (AFILE_PROBE_SHARED | AFILE_PROBE_NETWORK));
		assert_empty_dir(c, "d");
	}
}

/*
 * No line of the device (btrfs subvolumes): the longest mount point that
 * is a prefix of the directory's path, the later of two equal ones.
 */
static void
test_mount_by_prefix(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};
	char text[6 * PATH_MAX + 512];

	/*
	 * The directory probed is "dd": "d" is a longer prefix of its path
	 * as a string, but not as a path.
	 */
	snprintf(text, sizeof(text),
	    "1 0 0:999 / / rw - rootfs root rw\n"
	    "2 0 0:999 / %s rw - parent psrc rw\n"
	    "3 0 0:999 / %sx rw - sibling xsrc rw\n"
	    "4 0 0:999 / %s/d rw - string-prefix csrc rw\n"
	    "5 0 0:999 / / rw - shorter s rw\n"
	    "6 0 0:999 / %s rw - later lsrc rw\n"
	    "7 0 0:999 / %s/dd/deeper rw - deeper dsrc rw",
	    c->dir, c->dir, c->dir, c->dir, c->dir);
	put_mountinfo(c, text);
	h_mkdir(c, "dd", 0755);
	assert_int_equal(afile_probe(c->dfd, "dd", 0, &p), 0);
	assert_string_equal(p.mount_type, "later");
	assert_string_equal(p.mount_source, "lsrc");
	assert_int_equal(afile_probe(c->dfd, "d", 0, &p), 0);
	assert_string_equal(p.mount_type, "string-prefix");
	assert_empty_dir(c, "dd");

	/* Without the directory's path no prefix can match. */
	S.no_readlink = true;
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	assert_int_equal(afile_probe(c->dfd, "d", 0, &p), 0);
	assert_string_equal(p.mount_type, "");
	assert_string_equal(p.mount_source, "");
	assert_true(p.fstype[0] != '\0');
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_empty_dir(c, "d");
}

/* No /proc, or a mountinfo that cannot be read: the fields stay empty. */
static void
test_no_mountinfo(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	h_mkdir(c, "d", 0755);
	S.mountinfo = "/nonexistent/mountinfo";
	assert_int_equal(afile_probe(c->dfd, "d", 0, &p), 0);
	assert_string_equal(p.mount_type, "");
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	/* A directory in its place: open succeeds, the read fails. */
	snprintf(mi_path, sizeof(mi_path), "%s/d", c->dir);
	S.mountinfo = mi_path;
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	assert_int_equal(afile_probe(c->dfd, "d", 0, &p), 0);
	assert_string_equal(p.mount_type, "");
	assert_string_equal(p.mount_source, "");
	assert_empty_dir(c, "d");
}

/* Fields longer than struct afile_probe holds are cut, NUL-terminated. */
static void
test_mount_long_fields(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};
	char dev[32], type[100], src[400], text[1024];

	dev_of(c, dev, sizeof(dev));
	memset(type, 't', sizeof(type) - 1);
	type[sizeof(type) - 1] = '\0';
	memset(src, 's', sizeof(src) - 1);
	src[sizeof(src) - 1] = '\0';
	snprintf(
	    text, sizeof(text), "1 2 %s / /m rw - %s %s rw\n", dev, type, src);
	put_mountinfo(c, text);
	assert_int_equal(afile_probe(c->dfd, "d", 0, &p), 0);
	assert_int_equal(strlen(p.mount_type), sizeof(p.mount_type) - 1);
	assert_memory_equal(p.mount_type, type, sizeof(p.mount_type) - 1);
	assert_int_equal(strlen(p.mount_source), sizeof(p.mount_source) - 1);
	assert_empty_dir(c, "d");
}

/* ------------------------------------------------------------------
 * The first file, and each primitive's refusal
 * ------------------------------------------------------------------ */

static unsigned int
probe_works(struct h_ctx *c, struct afile_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	assert_int_equal(afile_probe(c->dfd, ".", 0, p), 0);
	assert_empty_dir(c, ".");
	return p->works;
}

/* Without O_TMPFILE or its link, a named temp; names taken are retried. */
static void
test_first_file_fallbacks(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p;
	unsigned int all = probe_works(c, &p);

	assert_true(all & AFILE_PROBE_TMPFILE);
	S.tmpfile_refused = true;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_TMPFILE);
	S.tmpfile_refused = false;
	/* No /proc: linked by AT_EMPTY_PATH, which needs privilege. */
	S.no_proc_link = true;
	assert_int_equal(probe_works(c, &p),
	    geteuid() == 0 ? all : all & ~AFILE_PROBE_TMPFILE);
	S.no_proc_link = false;
	S.link_err = EPERM;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_TMPFILE);
	/* Every link name taken: eight tries, then a named temp. */
	S.link_err = EEXIST;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_TMPFILE);
	S.tmpfile_refused = true;
	S.link_err = 0;
	S.names_taken = 1;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_TMPFILE);
	assert_int_equal(S.names_taken, 0);
	/* No name free at all: the probe cannot start. */
	S.names_taken = 1000;
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -EEXIST);
	assert_int_equal(p.works & ~AFILE_PROBE_SYNCFS, 0);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	assert_empty_dir(c, ".");
}

/* Each primitive that fails or lies is found missing, and only it. */
static void
test_primitives_refused_one_by_one(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p;
	unsigned int all = probe_works(c, &p);
	unsigned int renames =
	    AFILE_PROBE_RENAME_NOREPLACE | AFILE_PROBE_RENAME_EXCHANGE;

	assert_false(all & AFILE_PROBE_REFLINK); /* not on the test's fs */
	assert_int_equal(p.durability, AFILE_SYNC_FULL);
	assert_true(all & renames);

	S.fsync_err = EIO;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_FILE_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	S.fsync_err = 0;
	S.dirsync_err = EINVAL;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_DIR_FSYNC);
	assert_int_equal(p.durability, AFILE_SYNC_DATA);
	S.dirsync_err = 0;
	/* Locks that exclude nobody are no locks. */
	S.lock_shared_only = true;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_OFD_LOCKS);
	S.lock_shared_only = false;
	S.reopen_err = EMFILE;
	assert_int_equal(probe_works(c, &p), all & ~AFILE_PROBE_OFD_LOCKS);
	S.reopen_err = 0;
	/* A clone counts when it holds the bytes. */
	S.ficlone = 1;
	assert_int_equal(probe_works(c, &p), all | AFILE_PROBE_REFLINK);
	S.ficlone = 2;
	assert_int_equal(probe_works(c, &p), all);
	S.ficlone = 0;
	/* NOREPLACE that replaces; EXCHANGE that swaps nothing. */
	S.rename_mode = 1;
	assert_int_equal(probe_works(c, &p), all & ~renames);
	S.rename_mode = 2;
	assert_int_equal(
	    probe_works(c, &p), all & ~AFILE_PROBE_RENAME_EXCHANGE);
	/* NOREPLACE refuses the existing name but cannot move to a free one. */
	S.rename_mode = 3;
	S.rename_nr_after = 1;
	assert_int_equal(
	    probe_works(c, &p), all & ~AFILE_PROBE_RENAME_NOREPLACE);
	S.rename_mode = 0;
	S.fstatat_err = EIO;
	assert_int_equal(
	    probe_works(c, &p), all & ~AFILE_PROBE_RENAME_EXCHANGE);
	S.fstatat_err = 0;
	/* The third name (the free one for NOREPLACE) cannot be made. */
	S.tmpfile_refused = true;
	S.names_after = 2;
	S.names_taken = 8;
	assert_int_equal(probe_works(c, &p),
	    all & ~(AFILE_PROBE_TMPFILE | AFILE_PROBE_RENAME_NOREPLACE));
	/* Nor the second: no clone, rename or exchange is tried. */
	S.names_after = 1;
	S.names_taken = 8;
	assert_int_equal(probe_works(c, &p),
	    all & ~(AFILE_PROBE_TMPFILE | renames | AFILE_PROBE_REFLINK));
}

/* What stops the probe itself: an error, nothing left behind. */
static void
test_probe_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p = {.size = sizeof(p)};

	S.write_err = ENOSPC;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -ENOSPC);
	assert_int_equal(p.works & ~AFILE_PROBE_SYNCFS, 0);
	assert_int_equal(p.durability, AFILE_SYNC_NONE);
	assert_empty_dir(c, ".");
	S.write_err = 0;
	S.malloc_fail = 1;
	assert_int_equal(afile_probe(c->dfd, ".", 0, &p), -ENOMEM);
	assert_int_equal(p.works & ~AFILE_PROBE_SYNCFS, 0);
	assert_empty_dir(c, ".");
	S.malloc_fail = 0;
	/* A file's directory that cannot be opened. */
	h_puts(c, "file", "x");
	S.dotdir_err = EMFILE;
	assert_int_equal(afile_probe(c->dfd, "file", 0, &p), -EMFILE);
	S.dotdir_err = 0;
	/* A file in a subdirectory: that directory is probed. */
	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/f", "y");
	assert_int_equal(afile_probe(c->dfd, "sub/f", 0, &p), 0);
	assert_true(p.works & AFILE_PROBE_FILE_FSYNC);
	assert_entries(c, "sub", "f");
	assert_entries(c, ".", "file", "sub");
}

/* No statfs: nothing is trusted, the primitives are still tried. */
static void
test_no_statfs(void **state)
{
	struct h_ctx *c = *state;
	struct afile_probe p;
	int errs[] = {EIO, ENOSYS};

	for (size_t i = 0; i < 2; i++) {
		S.magic_err = errs[i];
		assert_true(probe_works(c, &p) & AFILE_PROBE_FILE_FSYNC);
		assert_string_equal(p.fstype, "unknown");
		assert_int_equal(p.kind, 0);
		assert_false(p.works & AFILE_PROBE_SYNCFS);
		assert_int_equal(p.durability, AFILE_SYNC_FULL);
	}
	/* No fstat of the directory: no device to find the mount by. */
	S.magic_err = 0;
	S.fstat_dir_err = EIO;
	assert_true(probe_works(c, &p) & AFILE_PROBE_FILE_FSYNC);
	assert_string_equal(p.mount_type, "");
	S.fstat_dir_err = 0;
	/* A clone whose size cannot be read is no clone. */
	S.ficlone = 1;
	S.fstat_file_err = EIO;
	assert_false(probe_works(c, &p) & AFILE_PROBE_REFLINK);
	S.fstat_file_err = 0;
	S.ficlone = 0;
	/* EXCHANGE done, but the swap cannot be checked: not found. */
	S.fstatat_err = EIO;
	S.fstatat_after = 1;
	assert_false(probe_works(c, &p) & AFILE_PROBE_RENAME_EXCHANGE);
	assert_true(p.works & AFILE_PROBE_RENAME_NOREPLACE);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_arguments),
	    T(test_findings),
	    T(test_refused_primitives),
	    T(test_refused_syncs),
	    T(test_kinds),
	    T(test_cannot_create),
	    T(test_mount_by_dev),
	    T(test_mount_by_prefix),
	    T(test_no_mountinfo),
	    T(test_mount_long_fields),
	    T(test_first_file_fallbacks),
	    T(test_primitives_refused_one_by_one),
	    T(test_probe_errors),
	    T(test_no_statfs),
	};
#undef T

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
