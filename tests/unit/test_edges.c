/* SPDX-License-Identifier: MIT */
/*
 * test_edges.c - the edges the other tests leave: argument checks, the
 * transaction life cycle around an open writer, and the paths taken when
 * the kernel or the file system answers unusually.
 *
 * Method: each unusual answer is produced by swapping one entry of the
 * syscall table (afile__sys) for a shim that gives that answer for the
 * calls it targets and passes the others to the real call; the teardown
 * restores the table.  Each test then checks the promised outcome (return
 * code, error detail, file contents and metadata, no temp left), not
 * merely that the code ran: these branches were found by the coverage
 * report (scripts/coverage.sh), and a test that only executed them would
 * let a broken fallback pass.
 */
#include "helpers.h"

#include <dirent.h>
#include <sys/xattr.h>

#include "internal.h"
#include "sys.h"

/* ------------------------------------------------------------------
 * Shims: one global configuration, reset by the teardown
 * ------------------------------------------------------------------ */

static struct {
	int tmpfile_err;    /* openat(O_TMPFILE) fails with this */
	int syncfs_err;     /* syncfs fails with this */
	int dirsync_err;    /* fsync of a directory fails with this */
	int fallocate_err;  /* fallocate fails with this */
	int cfr_err;        /* copy_file_range fails with this */
	int renameat2_err;  /* renameat2 with flags fails with this */
	bool ficlone_ok;    /* FICLONE "succeeds" without copying */
	bool beneath_nosys; /* openat2(RESOLVE_BENEATH) is missing */
	bool names_taken;   /* every temp name is taken already (EEXIST) */
	/* Extended attributes read by path (llistxattr, lgetxattr). */
	int list_err;           /* llistxattr fails with this */
	int list_erange;        /* sized llistxattr: ERANGE this many times */
	const char *extra_name; /* listed after the real names */
	const char *get_name;   /* lgetxattr of this name... */
	int get_err;            /* ...fails with this (size 0 call) */
	int get_sized_err;      /* ...or only the sized call fails */
	int get_erange;         /* sized lgetxattr: ERANGE this many times */
	bool asked_extra;       /* lgetxattr was asked for extra_name */
	const char *set_prefix; /* fsetxattr of names with this prefix... */
	int set_err;            /* ...fails with this */
	unsigned long calls;    /* calls of the shims that count */
	/* Named temps (.afile-tmp) and staged temps (.afile-txn). */
	int temp_lock;    /* 1: a sweeper holds it once, 2: no locks, 3: a
			     sweeper removed it before the lock (once) */
	int temp_err;     /* creating a named temp fails with this */
	int txn_taken;    /* this many staged temp names are taken */
	int txn_err;      /* then creating one fails with this */
	int temp_hits;    /* temp_lock 1 or 3 happened */
	int temp_creates; /* named temps created */
} S;

static int
s_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (S.tmpfile_err && (flags & O_TMPFILE) == O_TMPFILE) {
		errno = S.tmpfile_err;
		return -1;
	}
	if (S.names_taken && (flags & O_CREAT) && (flags & O_EXCL) &&
	    strstr(path, ".afile-tmp")) {
		errno = EEXIST;
		return -1;
	}
	if ((flags & O_CREAT) && strstr(path, ".afile-tmp"))
		S.temp_creates++;
	if (S.temp_err && (flags & O_CREAT) && strstr(path, ".afile-tmp")) {
		errno = S.temp_err;
		return -1;
	}
	if ((S.txn_taken || S.txn_err) && (flags & O_CREAT) &&
	    strstr(path, AFILE__TXN_SUFFIX)) {
		errno = S.txn_taken > 0 ? EEXIST : S.txn_err;
		S.txn_taken -= S.txn_taken > 0;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
s_syncfs(int fd)
{
	S.calls++;
	if (S.syncfs_err) {
		errno = S.syncfs_err;
		return -1;
	}
	return afile__sys_default.syncfs(fd);
}

static int
s_fsync(int fd)
{
	struct stat st;

	if (S.dirsync_err && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = S.dirsync_err;
		return -1;
	}
	S.calls++;
	return afile__sys_default.fsync(fd);
}

static int
s_fallocate(int fd, int mode, off_t off, off_t len)
{
	S.calls++;
	errno = S.fallocate_err;
	return S.fallocate_err
	    ? -1
	    : afile__sys_default.fallocate(fd, mode, off, len);
}

static ssize_t
s_cfr(int in_fd, off_t *in_off, int out_fd, off_t *out_off, size_t len,
    unsigned int flags)
{
	S.calls++;
	if (S.cfr_err) {
		errno = S.cfr_err;
		return -1;
	}
	return afile__sys_default.copy_file_range(
	    in_fd, in_off, out_fd, out_off, len, flags);
}

static int
s_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	if (flags && S.renameat2_err) {
		S.calls++;
		errno = S.renameat2_err;
		return -1;
	}
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
s_ficlone(int dst, int src)
{
	(void)dst;
	(void)src;
	return 0;
}

static int
s_openat2_beneath(int dfd, const char *path, int flags)
{
	(void)dfd;
	(void)path;
	(void)flags;
	S.calls++;
	errno = ENOSYS;
	return -1;
}

static int
s_linkat(int sd, const char *src, int dd, const char *dst, int flags)
{
	if (S.names_taken && strstr(dst, ".afile-tmp")) {
		errno = EEXIST;
		return -1;
	}
	return afile__sys_default.linkat(sd, src, dd, dst, flags);
}

static ssize_t
s_llistxattr(const char *path, char *list, size_t size)
{
	size_t extra = S.extra_name ? strlen(S.extra_name) + 1 : 0;
	ssize_t n;

	if (S.list_err) {
		errno = S.list_err;
		return -1;
	}
	if (size && S.list_erange > 0) {
		S.list_erange--;
		errno = ERANGE;
		return -1;
	}
	n = afile__sys_default.llistxattr(path, size ? list : NULL, 0);
	if (n < 0 || !size)
		return n < 0 ? n : n + (ssize_t)extra;
	if ((size_t)n + extra > size) {
		errno = ERANGE;
		return -1;
	}
	n = afile__sys_default.llistxattr(path, list, size);
	if (n >= 0 && extra) {
		memcpy(list + n, S.extra_name, extra);
		n += (ssize_t)extra;
	}
	return n;
}

static ssize_t
s_lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	if (S.extra_name && !strcmp(name, S.extra_name)) {
		S.asked_extra = true;
		if (!S.get_name || strcmp(name, S.get_name)) {
			if (size)
				memcpy(value, "v", 1);
			return 1;
		}
	}
	if (S.get_name && !strcmp(name, S.get_name)) {
		if (S.get_err) {
			errno = S.get_err;
			return -1;
		}
		if (size && S.get_sized_err) {
			errno = S.get_sized_err;
			return -1;
		}
		if (size && S.get_erange > 0) {
			S.get_erange--;
			errno = ERANGE;
			return -1;
		}
	}
	return afile__sys_default.lgetxattr(path, name, value, size);
}

static int
s_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	if (S.set_prefix &&
	    !strncmp(name, S.set_prefix, strlen(S.set_prefix))) {
		errno = S.set_err;
		return -1;
	}
	return afile__sys_default.fsetxattr(fd, name, value, size, flags);
}

/* The name of the named temp open as @fd, or NULL. */
static const char *
temp_name_of(int fd, char *buf, size_t n)
{
	char proc[64];
	ssize_t len;
	const char *base;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	len = readlink(proc, buf, n - 1);
	if (len < 0)
		return NULL;
	buf[len] = '\0';
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	return strstr(base, ".afile-tmp") && !strstr(base, "(deleted)") ? base
									: NULL;
}

static int
s_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	char buf[PATH_MAX];
	const char *name;

	if (S.temp_lock && fl->l_type == F_WRLCK &&
	    (name = temp_name_of(fd, buf, sizeof(buf))) != NULL) {
		if (S.temp_lock == 2) {
			errno = ENOLCK;
			return -1;
		}
		if (S.temp_lock == 3) {
			assert_int_equal(unlink(buf), 0);
			S.temp_lock = 0;
			S.temp_hits++;
			return afile__sys_default.fcntl_lock(fd, cmd, fl);
		}
		S.temp_lock = 0;
		S.temp_hits++;
		errno = EAGAIN;
		return -1;
	}
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

static void
install(void)
{
	afile__sys.fcntl_lock = s_fcntl_lock;
	afile__sys.openat = s_openat;
	afile__sys.syncfs = s_syncfs;
	afile__sys.fsync = s_fsync;
	afile__sys.fallocate = s_fallocate;
	afile__sys.copy_file_range = s_cfr;
	afile__sys.renameat2 = s_renameat2;
	if (S.ficlone_ok)
		afile__sys.ficlone = s_ficlone;
	if (S.beneath_nosys)
		afile__sys.openat2_beneath = s_openat2_beneath;
	afile__sys.linkat = s_linkat;
	afile__sys.llistxattr = s_llistxattr;
	afile__sys.lgetxattr = s_lgetxattr;
	afile__sys.fsetxattr = s_fsetxattr;
}

static int
setup(void **state)
{
	memset(&S, 0, sizeof(S));
	return h_setup(state);
}

static int
teardown(void **state)
{
	afile__sys_reset();
	memset(&S, 0, sizeof(S));
	return h_teardown(state);
}

/* No staged temp (.afile-txn) left: h_teardown checks only .afile-tmp. */
static void
assert_no_txn_temps(const struct h_ctx *c, const char *dir)
{
	struct dirent *e;
	DIR *d;
	int fd = openat(c->dfd, dir, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, AFILE__TXN_SUFFIX))
			fail_msg("staged temp %s/%s left", dir, e->d_name);
	closedir(d);
}

/* ------------------------------------------------------------------
 * Argument checks
 * ------------------------------------------------------------------ */

static int
keep_fn(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)ctx;
	(void)old;
	(void)old_len;
	(void)w;
	return AFILE_UPDATE_KEEP;
}

static void
test_bad_arguments(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_cleanup_report rep = {.size = sizeof(rep) - 1};
	struct afile_errinfo e;
	static char longpath[PATH_MAX + 10];
	struct afile_item item = {.path = "f", .buf = NULL, .len = 1};

	o.err = &e;
	o.lock_wait_ms = AFILE_LOCK_TRY - 1;
	assert_err(afile_write(c->dfd, "f", "x", 1, 0, &o), -EINVAL);
	assert_string_equal(e.step, "check options");
	o.lock_wait_ms = 0;
	o.mode = 010644; /* not a permission bit */
	assert_err(
	    afile_write(c->dfd, "f", "x", 1, AFILE_SET_MODE, &o), -EINVAL);
	assert_string_equal(e.step, "check options");
	assert_err(
	    afile_write(c->dfd, "f", "x", 1, AFILE_SET_MODE, NULL), -EINVAL);
	memset(longpath, 'a', sizeof(longpath) - 1);
	assert_err(
	    afile_write(c->dfd, longpath, "x", 1, 0, NULL), -ENAMETOOLONG);
	assert_false(h_exists(c, "f"));

	/* "/NAME": the directory part is the root itself. */
	assert_err(afile_remove(AT_FDCWD, "/afile-edges-no-such-file", 0, NULL),
	    -ENOENT);

	assert_err(afile_cleanup(c->dfd, NULL, 0, 0, NULL), -EINVAL);
	assert_err(afile_cleanup(c->dfd, "", 0, 0, NULL), -EINVAL);
	assert_err(afile_cleanup(c->dfd, ".", 0, 0x100, NULL), -EINVAL);
	assert_err(afile_cleanup(c->dfd, ".", 0, 0, &rep), -EINVAL);

	h_puts(c, "f", "old");
	assert_err(afile_update(c->dfd, "f", NULL, NULL, 0, NULL), -EINVAL);
	assert_ok(afile_update(c->dfd, "f", keep_fn, NULL, 0, NULL));
	assert_file(c, "f", "old");
	assert_int_equal(afile_lock_fd(NULL), -EINVAL);

	assert_err(afile_write_many(c->dfd, NULL, 1, 0, NULL), -EINVAL);
	assert_err(afile_write_many(c->dfd, &item, 1, 0, NULL), -EINVAL);
	assert_file(c, "f", "old");
}

static void
test_txn_bad_arguments(void **state)
{
	struct h_ctx *c = *state;
	struct afile_recover_report rr = {.size = 1};
	struct afile_lock *l = (void *)1;
	struct afile_txn *t = (void *)1;
	struct afile_writer *w;

	assert_err(afile_txn_begin(c->dfd, NULL, 0, NULL, &t), -EINVAL);
	assert_null(t);
	assert_err(afile_txn_begin(c->dfd, "", 0, NULL, &t), -EINVAL);
	assert_err(afile_txn_begin(c->dfd, ".", 0, NULL, NULL), -EINVAL);
	assert_err(afile_txn_put(NULL, "a", "x", 1, 0), -EINVAL);
	assert_err(afile_txn_writer(NULL, "a", 0, &w), -EINVAL);
	assert_null(w);
	assert_err(afile_txn_remove(NULL, "a", 0), -EINVAL);
	assert_err(afile_txn_rename(NULL, "a", "b", 0), -EINVAL);
	assert_err(afile_txn_commit(NULL), -EINVAL);
	afile_txn_free(NULL);

	assert_err(afile_recover(c->dfd, ".", 0, &rr), -EINVAL);
	assert_err(afile_recover(c->dfd, NULL, 0, NULL), -EINVAL);
	assert_err(afile_recover(c->dfd, "missing", 0, NULL), -ENOENT);
	rr.size = sizeof(rr);
	rr.action = -1;
	assert_ok(afile_recover(c->dfd, ".", 0, &rr)); /* never used */
	assert_int_equal(rr.action, AFILE_RECOVER_NONE);
	assert_false(h_exists(c, ".atomicfile"));

	assert_err(afile_txn_snapshot(c->dfd, ".", -2, &l), -EINVAL);
	assert_null(l);
	assert_err(afile_txn_snapshot(c->dfd, NULL, 0, &l), -EINVAL);
	assert_err(afile_txn_snapshot(c->dfd, ".", 0, NULL), -EINVAL);
	assert_err(afile_txn_snapshot(c->dfd, "missing", 0, &l), -ENOENT);
	assert_err(afile_txn_snapshot(c->dfd, "", 0, &l), -EINVAL);

	/* An empty transaction commits nothing and journals nothing. */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_commit(t));
	assert_err(afile_txn_commit(t), -EINVAL); /* done */
	assert_err(afile_txn_put(t, "a", "x", 1, 0), -EINVAL);
	afile_txn_free(t);
	assert_entries(c, ".atomicfile", ".txn.afile-lock");

	/* A commit applying (its apply lock held): busy, nothing held. */
	{
		struct afile_lock *apply, *snap = NULL;

		assert_ok(afile_lock_acquire(c->dfd, ".atomicfile/apply",
		    AFILE_LOCK_EXCLUSIVE, 0, &apply));
		assert_err(afile_txn_snapshot(c->dfd, ".", 0, &snap), -EAGAIN);
		assert_null(snap);
		assert_err(
		    afile_txn_snapshot(c->dfd, ".", 1, &snap), -ETIMEDOUT);
		assert_null(snap);
		afile_lock_release(apply);
		assert_ok(afile_txn_snapshot(c->dfd, ".", 0, &snap));
		afile_lock_release(snap);
	}
	assert_entries(
	    c, ".atomicfile", ".apply.afile-lock", ".txn.afile-lock");
}

/* One bad call poisons a transaction: it then changes nothing. */
enum bad {
	BAD_PUT_FLAGS,
	BAD_PUT_BUF,
	BAD_PUT_ABSOLUTE,
	BAD_PUT_DOTDOT,
	BAD_PUT_ADIR,
	BAD_PUT_LONG_NAME,
	BAD_WRITER_RET,
	BAD_WRITER_FLAGS,
	BAD_REMOVE_FLAGS,
	BAD_REMOVE_NULL,
	BAD_REMOVE_DOT,
	BAD_RENAME_FLAGS,
	BAD_RENAME_NULL,
	BAD_RENAME_FROM,
	BAD_N
};

static int
bad_call(struct afile_txn *t, enum bad b, char *longname)
{
	struct afile_writer *w;

	switch (b) {
	case BAD_PUT_FLAGS:
		return afile_txn_put(t, "a", "x", 1, AFILE_NOFOLLOW);
	case BAD_PUT_BUF:
		return afile_txn_put(t, "a", NULL, 1, 0);
	case BAD_PUT_ABSOLUTE:
		return afile_txn_put(t, "/a", "x", 1, 0);
	case BAD_PUT_DOTDOT:
		return afile_txn_create(t, "../a", "x", 1, 0);
	case BAD_PUT_ADIR:
		return afile_txn_put(t, ".atomicfile/journal", "x", 1, 0);
	case BAD_PUT_LONG_NAME:
		return afile_txn_put(t, longname, "x", 1, 0);
	case BAD_WRITER_RET:
		return afile_txn_writer(t, "a", 0, NULL);
	case BAD_WRITER_FLAGS:
		return afile_txn_writer(t, "a", AFILE_EXCHANGE, &w);
	case BAD_REMOVE_FLAGS:
		return afile_txn_remove(t, "a", AFILE_NOFOLLOW);
	case BAD_REMOVE_NULL:
		return afile_txn_remove(t, NULL, 0);
	case BAD_REMOVE_DOT:
		return afile_txn_remove(t, "sub/./a", 0);
	case BAD_RENAME_FLAGS:
		return afile_txn_rename(t, "a", "b", AFILE_NOREPLACE);
	case BAD_RENAME_NULL:
		return afile_txn_rename(t, "a", NULL, 0);
	case BAD_RENAME_FROM:
		return afile_txn_rename(t, "", "b", 0);
	case BAD_N:
		break;
	}
	return 0;
}

static void
test_txn_poisoned_by_bad_call(void **state)
{
	struct h_ctx *c = *state;
	char longname[NAME_MAX + 2];

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	h_puts(c, "a", "old");
	for (int b = 0; b < BAD_N; b++) {
		struct afile_txn *t;
		int r, want = b == BAD_PUT_LONG_NAME ? -ENAMETOOLONG : -EINVAL;

		assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
		assert_ok(afile_txn_put(t, "first", "1", 1, 0));
		r = bad_call(t, (enum bad)b, longname);
		if (r != want)
			fail_msg(
			    "FAIL bad call %d returned %s, not %s; rerun: "
			    "AFILE_TEST_FILTER=test_txn_poisoned_by_bad_call "
			    "afile_unit_edges",
			    b, afile_err_name(r), afile_err_name(want));
		assert_err(afile_txn_put(t, "b", "x", 1, 0), AFILE_EPOISONED);
		assert_err(afile_txn_commit(t), AFILE_EPOISONED);
		assert_err(afile_txn_commit(t), -EINVAL);
		afile_txn_free(t);
		assert_file(c, "a", "old");
		assert_false(h_exists(c, "first"));
		assert_false(h_exists(c, "b"));
		assert_no_txn_temps(c, ".");
	}
}

/* ------------------------------------------------------------------
 * A transaction's streamed writer, left open
 * ------------------------------------------------------------------ */

static void
test_txn_writer_left_open(void **state)
{
	struct h_ctx *c = *state;
	struct afile_txn *t;
	struct afile_writer *w;

	h_puts(c, "a", "old");

	/* Commit while the writer is open: refused, nothing changes. */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_writer(t, "a", 0, &w));
	assert_ok(afile_writer_write(w, "new", 3));
	assert_err(afile_txn_commit(t), -EINVAL);
	afile_writer_free(w);
	afile_txn_free(t);
	assert_file(c, "a", "old");
	assert_no_txn_temps(c, ".");

	/* The writer freed uncommitted: the transaction is abandoned. */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_put(t, "b", "b", 1, 0));
	assert_ok(afile_txn_writer(t, "a", 0, &w));
	assert_ok(afile_writer_write(w, "new", 3));
	afile_writer_free(w);
	assert_err(afile_txn_commit(t), AFILE_EPOISONED);
	afile_txn_free(t);
	assert_file(c, "a", "old");
	assert_false(h_exists(c, "b"));
	assert_no_txn_temps(c, ".");

	/* The transaction freed first: the writer is orphaned, can only fail.
	 */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_writer(t, "c", AFILE_NOREPLACE, &w));
	assert_ok(afile_writer_write(w, "new", 3));
	afile_txn_free(t);
	assert_true(afile_writer_write(w, "more", 4) < 0);
	assert_true(afile_writer_commit(w) < 0);
	afile_writer_free(w);
	assert_false(h_exists(c, "c"));
	assert_file(c, "a", "old");
	assert_no_txn_temps(c, ".");
}

/* ------------------------------------------------------------------
 * Transactions where the kernel lacks something
 * ------------------------------------------------------------------ */

static void
commit_two_dirs(struct h_ctx *c, int want)
{
	struct afile_txn *t;
	int r;

	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_put(t, "a", "new a", 5, 0));
	assert_ok(afile_txn_put(t, "sub/b", "new b", 5, 0));
	assert_ok(afile_txn_remove(t, "gone", 0));
	r = afile_txn_commit(t);
	afile_txn_free(t);
	assert_err(r, want);
	assert_no_txn_temps(c, ".");
	assert_no_txn_temps(c, "sub");
}

static void
test_txn_without_syncfs(void **state)
{
	struct h_ctx *c = *state;
	struct afile_item items[2] = {
	    {"a", "batch a", 7}, {"sub/b", "batch b", 7}};

	h_mkdir(c, "sub", 0755);
	h_puts(c, "a", "old a");
	h_puts(c, "sub/b", "old b");
	h_puts(c, "gone", "x");

	/* syncfs fails: nothing committed, nothing left. */
	S.syncfs_err = EIO;
	install();
	commit_two_dirs(c, -EIO);
	assert_file(c, "a", "old a");
	assert_file(c, "sub/b", "old b");
	assert_true(h_exists(c, "gone"));
	assert_err(afile_write_many(c->dfd, items, 2, 0, NULL), -EIO);
	assert_file(c, "a", "old a");

	/* No syncfs at all: an fsync per temp and directory instead. */
	S.syncfs_err = ENOSYS;
	S.calls = 0;
	commit_two_dirs(c, 0);
	assert_file(c, "a", "new a");
	assert_file(c, "sub/b", "new b");
	assert_false(h_exists(c, "gone"));
	assert_true(S.calls >= 5); /* syncfs, 2 temps, 2 dirs, journal... */
	assert_ok(afile_write_many(c->dfd, items, 2, 0, NULL));
	assert_file(c, "a", "batch a");
	assert_file(c, "sub/b", "batch b");
}

static void
test_txn_without_openat2(void **state)
{
	struct h_ctx *c = *state;
	struct afile_txn *t;

	h_mkdir(c, "sub", 0755);
	h_mkdir(c, "sub/deeper", 0755);
	h_symlink(c, "sub", "link");
	S.beneath_nosys = true;
	install();

	/* One component at a time, as openat2 would resolve it. */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_put(t, "sub/deeper/f", "deep", 4, 0));
	assert_ok(afile_txn_commit(t));
	afile_txn_free(t);
	assert_file(c, "sub/deeper/f", "deep");
	assert_true(S.calls > 0);

	/*
	 * A symlink on the way is refused (it could lead out of the root).
	 * The walk's O_DIRECTORY|O_NOFOLLOW makes Linux say ENOTDIR.
	 */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_err(afile_txn_put(t, "link/deeper/f", "x", 1, 0), -ENOTDIR);
	afile_txn_free(t);
	assert_false(h_exists(c, "sub/deeper/f.afile-txn"));
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_err(afile_txn_put(t, "nodir/f", "x", 1, 0), -ENOENT);
	afile_txn_free(t);
	assert_file(c, "sub/deeper/f", "deep");
	assert_no_txn_temps(c, "sub/deeper");
}

static void
test_txn_precheck_refusals(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_txn *t;

	o.err = &e;
	h_mkdir(c, "d", 0755);
	h_puts(c, "f", "f");
	/* A rename onto a directory, a remove of a directory. */
	assert_ok(afile_txn_begin(c->dfd, ".", 0, &o, &t));
	assert_ok(afile_txn_put(t, "p", "p", 1, 0));
	assert_ok(afile_txn_rename(t, "f", "d", 0));
	assert_err(afile_txn_commit(t), -EISDIR);
	assert_string_equal(e.step, "check target");
	afile_txn_free(t);
	assert_ok(afile_txn_begin(c->dfd, ".", 0, &o, &t));
	assert_ok(afile_txn_remove(t, "d", 0));
	assert_err(afile_txn_commit(t), -EISDIR);
	afile_txn_free(t);
	assert_file(c, "f", "f");
	assert_false(h_exists(c, "p"));
	assert_no_txn_temps(c, ".");
}

static void
test_txn_unsynced_rename_then_put(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_txn *t;

	/* AFILE_SYNC_NONE from the first transaction of a fresh root on. */
	o.sync = AFILE_SYNC_NONE;
	h_puts(c, "x", "moved");
	assert_ok(afile_txn_begin(c->dfd, ".", 0, &o, &t));
	/* The rename produces y: the put after it replaces that y. */
	assert_ok(afile_txn_rename(t, "x", "y", 0));
	assert_ok(afile_txn_remove(t, "y", 0));
	assert_ok(afile_txn_create(t, "y", "created", 7, 0));
	assert_ok(afile_txn_commit(t));
	afile_txn_free(t);
	assert_false(h_exists(c, "x"));
	assert_file(c, "y", "created");
	assert_no_txn_temps(c, ".");
}

/* ------------------------------------------------------------------
 * Fallbacks for each "not supported" answer
 * ------------------------------------------------------------------ */

static void
test_unsupported_answers(void **state)
{
	struct h_ctx *c = *state;
	static const int tmpfile_errs[] = {EOPNOTSUPP, EISDIR, EINVAL};
	static const int falloc_errs[] = {EOPNOTSUPP, ENOSYS, EINVAL};
	static const int cfr_errs[] = {
	    EXDEV, ENOSYS, EOPNOTSUPP, EINVAL, EBADF};
	static const int rename_errs[] = {ENOSYS, EINVAL, ENOTSUP};
	static char big[128 * 1024];
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got_sync = 99;
	char name[32];

	install();
	h_pattern(big, sizeof(big), 7);
	for (size_t i = 0; i < sizeof(tmpfile_errs) / sizeof(int); i++) {
		S.tmpfile_err = tmpfile_errs[i];
		snprintf(name, sizeof(name), "tmpfile%zu", i);
		assert_ok(afile_write(c->dfd, "t", name, 8, 0, NULL));
		assert_file_mem(c, "t", name, 8);
	}
	S.tmpfile_err = 0;
	for (size_t i = 0; i < sizeof(falloc_errs) / sizeof(int); i++) {
		S.fallocate_err = falloc_errs[i];
		S.calls = 0;
		big[0] = (char)i;
		assert_ok(
		    afile_write(c->dfd, "big", big, sizeof(big), 0, NULL));
		assert_file_mem(c, "big", big, sizeof(big));
		assert_true(S.calls > 0);
	}
	S.fallocate_err = EIO; /* a real failure is one */
	big[0] = 'x';
	assert_err(afile_write(c->dfd, "big", big, sizeof(big), 0, NULL), -EIO);
	big[0] = 2; /* the last write that succeeded */
	assert_file_mem(c, "big", big, sizeof(big));
	S.fallocate_err = 0;
	for (size_t i = 0; i < sizeof(cfr_errs) / sizeof(int); i++) {
		S.cfr_err = cfr_errs[i];
		snprintf(name, sizeof(name), "copy%zu", i);
		assert_ok(afile_copy(c->dfd, "big", c->dfd, name, 0, NULL));
		assert_file_mem(c, name, big, sizeof(big));
	}
	S.cfr_err = 0;
	/* Creates without renameat2, through named temps and link(). */
	S.tmpfile_err = EOPNOTSUPP;
	for (size_t i = 0; i < sizeof(rename_errs) / sizeof(int); i++) {
		S.renameat2_err = rename_errs[i];
		S.calls = 0;
		snprintf(name, sizeof(name), "new%zu", i);
		assert_ok(afile_write(
		    c->dfd, name, "created", 7, AFILE_NOREPLACE, NULL));
		assert_file(c, name, "created");
		assert_true(S.calls > 0);
		assert_err(afile_write(
			       c->dfd, name, "again", 5, AFILE_NOREPLACE, NULL),
		    -EEXIST);
	}
	/* A directory that cannot be synced: the weaker level is reported. */
	S.tmpfile_err = 0;
	S.renameat2_err = ENOSYS;
	S.dirsync_err = EINVAL;
	assert_ok(afile_rename(
	    c->dfd, "new0", c->dfd, "moved", AFILE_NOREPLACE, NULL));
	assert_file(c, "moved", "created");
	assert_false(h_exists(c, "new0"));
	S.dirsync_err = ENOTSUP;
	o.ret_sync = &got_sync;
	assert_ok(afile_write(c->dfd, "t", "synced?", 7, 0, &o));
	assert_int_equal(got_sync, AFILE_SYNC_DATA);
	assert_file(c, "t", "synced?");
}

static int
cancel(uint64_t done, uint64_t total, void *ctx)
{
	(void)done;
	(void)total;
	(*(int *)ctx)++;
	return 1;
}

static void
test_copy_cancelled(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	int calls = 0;

	o.progress = cancel;
	o.progress_ctx = &calls;
	h_puts(c, "src", "source data");
	h_puts(c, "dst", "old");
	/* Cancelled after a clone, and after a read/write copy. */
	S.ficlone_ok = true;
	install();
	assert_err(afile_copy(c->dfd, "src", c->dfd, "dst", 0, &o), -ECANCELED);
	assert_int_equal(calls, 1);
	assert_file(c, "dst", "old");
	afile__sys_reset();
	S.ficlone_ok = false;
	S.cfr_err = ENOSYS;
	install();
	assert_err(afile_copy(c->dfd, "src", c->dfd, "new", 0, &o), -ECANCELED);
	assert_int_equal(calls, 2);
	assert_false(h_exists(c, "new"));
}

/* ------------------------------------------------------------------
 * Extended attributes read by path
 * ------------------------------------------------------------------ */

static void
replace_keeping(struct h_ctx *c, int want)
{
	static unsigned int gen;
	char data[32], *before;
	size_t len;

	before = h_slurp(c, "f", &len);
	assert_non_null(before);
	snprintf(data, sizeof(data), "version %u", ++gen);
	assert_err(afile_write(c->dfd, "f", data, strlen(data), 0, NULL), want);
	/* Replaced, or left exactly as it was. */
	assert_file(c, "f", want == 0 ? data : before);
	free(before);
}

static void
test_xattr_answers(void **state)
{
	struct h_ctx *c = *state;
	void *v;
	size_t len;

	h_puts(c, "f", "old");
	h_setxattr(c, "f", "user.keep", "k", 1);
	h_setxattr(c, "f", "user.gone", "g", 1);
	install();

	/* No /proc: the file is opened to read its attributes. */
	S.list_err = ENOENT;
	replace_keeping(c, 0);
	assert_xattr(c, "f", "user.keep", "k", 1);
	S.list_err = 0;

	/* An attribute that vanishes between list and read is skipped. */
	S.get_name = "user.gone";
	S.get_err = ENODATA;
	replace_keeping(c, 0);
	assert_xattr(c, "f", "user.keep", "k", 1);
	assert_null(h_getxattr(c, "f", "user.gone", &len));
	h_setxattr(c, "f", "user.gone", "g", 1);
	S.get_err = 0;
	S.get_sized_err = ENODATA;
	replace_keeping(c, 0);
	assert_null(h_getxattr(c, "f", "user.gone", &len));
	h_setxattr(c, "f", "user.gone", "g", 1);
	S.get_sized_err = 0;

	/* Values and lists that grow meanwhile: read again, then give up. */
	S.get_erange = 2;
	replace_keeping(c, 0);
	assert_xattr(c, "f", "user.gone", "g", 1);
	S.get_erange = 1000;
	replace_keeping(c, -ERANGE);
	S.get_erange = 0;
	S.list_erange = 2;
	replace_keeping(c, 0);
	S.list_erange = 1000;
	replace_keeping(c, -ERANGE);
	S.list_erange = 0;
	h_setxattr(c, "f", "user.keep", "k", 1);
	h_setxattr(c, "f", "user.gone", "g", 1);

	/* An unreadable user attribute fails the replace. */
	S.get_name = "user.gone";
	S.get_err = EIO;
	replace_keeping(c, -EIO);
	S.get_err = 0;

	/* security.capability is never copied, not even asked for. */
	S.get_name = NULL;
	S.extra_name = "security.capability";
	replace_keeping(c, 0);
	assert_false(S.asked_extra);

	/* A privileged attribute the caller may not read or set: skipped. */
	S.extra_name = "trusted.afile";
	S.get_name = "trusted.afile";
	S.get_err = EPERM;
	replace_keeping(c, 0);
	assert_true(S.asked_extra);
	S.get_name = NULL;
	S.set_prefix = "trusted.";
	S.set_err = EPERM;
	replace_keeping(c, 0);
	assert_xattr(c, "f", "user.keep", "k", 1);
	v = h_getxattr(c, "f", "trusted.afile", &len);
	assert_null(v);
	S.set_err = EACCES;
	replace_keeping(c, 0);
	/* The same for security.*, refused or not supported there. */
	S.extra_name = "security.afile";
	S.get_name = "security.afile";
	S.get_err = EACCES;
	S.asked_extra = false;
	replace_keeping(c, 0);
	assert_true(S.asked_extra);
	S.get_name = NULL;
	S.set_prefix = "security.";
	S.set_err = EOPNOTSUPP;
	replace_keeping(c, 0);
	assert_xattr(c, "f", "user.keep", "k", 1);
	/* ...but not a user attribute that cannot be set. */
	S.extra_name = NULL;
	S.set_prefix = "user.";
	S.set_err = EIO;
	replace_keeping(c, -EIO);
}

/* ------------------------------------------------------------------
 * Temp names: collisions and the signal-time registry
 * ------------------------------------------------------------------ */

static void
test_temp_name_collisions(void **state)
{
	struct h_ctx *c = *state;
	char name[NAME_MAX + 1];
	int fd;

	h_puts(c, "f", "old");
	/*
	 * A live writer's temp.  Names differ at every try (one random
	 * draw per process, then a counter): the shim says all are taken.
	 */
	assert_ok(afile__tmp_name("f", AFILE__TMP_SUFFIX, name));
	fd = openat(c->dfd, name, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	/* Locked, as a live writer's temp is: the sweep leaves it. */
	{
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

		assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
	}
	S.names_taken = true;
	install();
	/* O_TMPFILE, then a name for the rename: taken. */
	assert_err(afile_write(c->dfd, "f", "new", 3, 0, NULL), -EEXIST);
	/* Named temps from the start: taken too. */
	S.tmpfile_err = EOPNOTSUPP;
	assert_err(afile_write(c->dfd, "f", "new", 3, 0, NULL), -EEXIST);
	assert_file(c, "f", "old");
	assert_true(h_exists(c, name));
	close(fd);
	assert_int_equal(unlinkat(c->dfd, name, 0), 0);
}

static int
child_cleanup_on_signal(struct h_ctx *c, void *arg)
{
	(void)c;
	(void)arg;
	afile_cleanup_on_signal(); /* another process: not its temps */
	return 0;
}

/*
 * Named temps (no O_TMPFILE): one a sweeper holds or removed first is let
 * go for another name; without locks it is kept; a creation that fails
 * otherwise is the call's error.  Staged temps: a taken name is retried,
 * another failure poisons the transaction.
 */
static void
test_named_temp_answers(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	struct afile_txn *t;

	o.err = &e;
	h_puts(c, "f", "old");
	S.tmpfile_err = EOPNOTSUPP;
	install();
	for (int mode = 1; mode <= 3; mode++) {
		S.temp_lock = mode;
		S.temp_hits = S.temp_creates = 0;
		assert_ok(afile_write(c->dfd, "f", "new", 3, 0, NULL));
		assert_file(c, "f", "new");
		assert_int_equal(S.temp_hits, mode == 2 ? 0 : 1);
		/* Let go for another name, except without locks. */
		assert_int_equal(S.temp_creates, mode == 2 ? 1 : 2);
		h_puts(c, "f", "old");
	}
	S.temp_lock = 0;
	S.temp_err = EACCES;
	assert_err(afile_write(c->dfd, "f", "new", 3, 0, &o), -EACCES);
	assert_string_equal(e.step, "create temporary file");
	assert_file(c, "f", "old");
	S.temp_err = 0;
	assert_entries(c, ".", "f");

	S.txn_taken = 2;
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_ok(afile_txn_put(t, "f", "txn", 3, 0));
	assert_ok(afile_txn_commit(t));
	afile_txn_free(t);
	assert_file(c, "f", "txn");
	assert_int_equal(S.txn_taken, 0);
	S.txn_err = ENOSPC;
	assert_ok(afile_txn_begin(c->dfd, ".", 0, NULL, &t));
	assert_err(afile_txn_put(t, "f", "no room", 7, 0), -ENOSPC);
	assert_err(afile_txn_commit(t), AFILE_EPOISONED);
	afile_txn_free(t);
	S.txn_err = 0;
	assert_file(c, "f", "txn");
	assert_no_txn_temps(c, ".");
}

static void
test_cleanup_on_signal(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w;
	char name[NAME_MAX + 1];
	DIR *d;
	struct dirent *e;
	int n = 0;

	S.tmpfile_err = EOPNOTSUPP; /* named temps are registered */
	install();
	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_ok(afile_writer_write(w, "data", 4));
	d = opendir(c->dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, AFILE__TMP_SUFFIX)) {
			snprintf(name, sizeof(name), "%s", e->d_name);
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
	assert_int_equal(h_run_child(c, child_cleanup_on_signal, NULL), 0);
	assert_true(h_exists(c, name));
	afile_cleanup_on_signal();
	assert_false(h_exists(c, name));
	afile_writer_free(w);
	assert_false(h_exists(c, "f"));
}

/* ------------------------------------------------------------------
 * Sticky directories
 * ------------------------------------------------------------------ */

static int
child_replace_sticky(struct h_ctx *c, void *arg)
{
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo *e = arg;
	int r;

	o.err = e;
	r = afile_write(c->dfd, "sticky/f", "mine", 4, 0, &o);
	/* The step is checked by the parent through the return code. */
	return r == -EPERM && !strcmp(e->step, "check sticky directory") ? 1
									 : r;
}

static void
test_sticky_directory(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;

	h_require_root();
	h_mkdir(c, "sticky", 0755);
	h_chmod(c, "sticky", 01777);
	h_puts(c, "sticky/f", "theirs");
	h_chown(c, "sticky/f", H_OTHER, H_OTHER);
	h_chmod(c, "sticky/f", 0666);
	/* Writable, but in /tmp-like directories only its owner may replace. */
	assert_int_equal(
	    h_run_as(c, H_NOBODY, H_NOBODY, child_replace_sticky, &e), 1);
	assert_file(c, "sticky/f", "theirs");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_poisoned_by_bad_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_writer_left_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_without_syncfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_without_openat2, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_precheck_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txn_unsynced_rename_then_put, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_unsupported_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_copy_cancelled, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_xattr_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_temp_name_collisions, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_named_temp_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cleanup_on_signal, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_sticky_directory, setup, teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
