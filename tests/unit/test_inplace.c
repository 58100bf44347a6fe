/* SPDX-License-Identifier: MIT */
/*
 * test_inplace.c - AFILE_INPLACE patches and afile_patchv(): the bytes,
 * the inode kept, the redo log kept, replay of an interrupted patch (by
 * afile_read(), afile_patch(), afile_patch_recover()), torn and stale
 * logs, a failed patch before and after its commit point, the
 * cooperating read's shared lock, and the errors.
 */
#include <sys/file.h>
#include <sys/wait.h>

#include "helpers.h"
#include "redo.h"
#include "sys.h"

static const char TEN[] = "0123456789";
#define REDO ".f.afile-redo"
#define LOCK ".f.afile-lock"

static ino_t
ino_of(struct h_ctx *c, const char *name)
{
	struct stat st;

	h_lstat(c, name, &st);
	return st.st_ino;
}

static off_t
size_of(struct h_ctx *c, const char *name)
{
	struct stat st;

	h_lstat(c, name, &st);
	return st.st_size;
}

static void
test_bytes(void **state)
{
	struct h_ctx *c = *state;
	ino_t ino;

	h_puts(c, "f", TEN);
	ino = ino_of(c, "f");
	assert_ok(afile_patch(c->dfd, "f", 3, "AB", 2, AFILE_INPLACE, NULL));
	assert_file(c, "f", "012AB56789");
	/* Growing, and past the end with a hole. */
	assert_ok(afile_patch(c->dfd, "f", 9, "XYZ", 3, AFILE_INPLACE, NULL));
	assert_file(c, "f", "012AB5678XYZ");
	assert_ok(afile_patch(c->dfd, "f", 14, "!", 1, AFILE_INPLACE, NULL));
	assert_file_mem(c, "f", "012AB5678XYZ\0\0!", 15);
	assert_int_equal(ino_of(c, "f"), ino);
	/* The log stays, holding the records until a checkpoint. */
	assert_true(size_of(c, REDO) > 0);
	assert_entries(c, ".", LOCK, REDO, "f");
	h_assert_no_temps(c->dir, __FILE__, __LINE__);
}

static void
test_patchv(void **state)
{
	struct h_ctx *c = *state;
	const struct afile_range rg[] = {{0, "a", 1}, {5, "bcd", 3},
	    {6, "X", 1}, {12, "end", 3}, {2, NULL, 0}};

	h_puts(c, "f", TEN);
	assert_ok(afile_patchv(c->dfd, "f", rg, 5, AFILE_INPLACE, NULL));
	assert_file_mem(c, "f", "a1234bXd89\0\0end", 15);
	/* The copy mode takes the same vector. */
	h_puts(c, "g", TEN);
	assert_ok(afile_patchv(c->dfd, "g", rg, 5, 0, NULL));
	assert_file_mem(c, "g", "a1234bXd89\0\0end", 15);
	assert_ok(afile_patchv(c->dfd, "g", NULL, 0, AFILE_INPLACE, NULL));
	assert_err(
	    afile_patchv(c->dfd, "g", NULL, 1, AFILE_INPLACE, NULL), -EINVAL);
	assert_err(afile_patchv(c->dfd, "g", rg, 65537, 0, NULL), -EINVAL);
	assert_file_mem(c, "g", "a1234bXd89\0\0end", 15);
}

/* Child: die (as by kill -9) before a write. */
static int die_at_pwrite;

static ssize_t
pwrite_dies(int fd, const void *b, size_t n, off_t off)
{
	if (--die_at_pwrite == 0)
		_exit(0);
	return afile__sys_default.pwrite(fd, b, n, off);
}

/* Child: die (as by kill -9) before the second range reaches the file. */
static ssize_t
pwrite_dies_in_place(int fd, const void *b, size_t n, off_t off)
{
	if (n == 4 && off == 8 && !memcmp(b, "YYYY", 4))
		_exit(0);
	return afile__sys_default.pwrite(fd, b, n, off);
}

/*
 * The same patch of f as it is, over its log as it is, in a child that
 * dies before its @n-th pwrite, or with @n 0 half-way in place (its
 * record committed, "XX" in the file, "YYYY" not).
 */
static void
patch_dies_at(struct h_ctx *c, int n)
{
	const struct afile_range rg[] = {{2, "XX", 2}, {8, "YYYY", 4}};
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		die_at_pwrite = n;
		afile__sys.pwrite = n ? pwrite_dies : pwrite_dies_in_place;
		(void)afile_patchv(c->dfd, "f", rg, 2, AFILE_INPLACE, NULL);
		_exit(1); /* the write was not reached */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Run a patch of a new f in a child that dies before its @n-th pwrite: 1
 * the marker "pending", 2 the new log's zeros, 3 its header, 4 the record,
 * (the sync), 5 and 6 the two ranges in place, 7 the marker "applied".
 */
static void
crash_at(struct h_ctx *c, int n)
{
	/* A new log: f is rewritten behind the library's back here. */
	(void)unlinkat(c->dfd, REDO, 0);
	h_puts(c, "f", TEN);
	patch_dies_at(c, n);
}

/* afile_read() of f gives @want, @n bytes. */
static void
assert_read(struct h_ctx *c, const char *want, size_t n)
{
	void *buf;
	size_t len;

	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);
	free(buf);
}

static void
test_recover_by_read(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	/* Committed, half written in place: the read replays the record. */
	crash_at(c, 6);
	assert_file(c, "f", "01XX456789");
	assert_read(c, "01XX4567YYYY", 12);
	assert_file(c, "f", "01XX4567YYYY");
	/* Before the record: nothing to replay, the file is old. */
	crash_at(c, 4);
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, 10);
	free(buf);
	assert_file(c, "f", TEN);
	/*
	 * A later patch, over a marker that said "applied" (same boot and
	 * mount): killed half-way in place, it is replayed all the same.
	 */
	assert_ok(afile_patch(c->dfd, "f", 0, "a", 1, AFILE_INPLACE, NULL));
	patch_dies_at(c, 0);
	assert_file(c, "f", "a1XX456789");
	assert_read(c, "a1XX4567YYYY", 12);
}

/* Child: die (as by kill -9) in the log's sync, its record written. */
static int
fdatasync_dies(int fd)
{
	(void)fd;
	_exit(0);
}

/* Is @fd open on a file whose name ends in @name? */
static bool
open_on(int fd, const char *name)
{
	char link[64], path[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= (ssize_t)strlen(name))
		return false;
	path[n] = '\0';
	return !strcmp(path + n - strlen(name), name);
}

/* Is @fd open on f's redo log? */
static bool
is_log(int fd)
{
	return open_on(fd, REDO);
}

/* Parent: was the log synced before the replay wrote "XX" into f? */
static int syncs_seen, wrote_unsynced;

static int
fdatasync_counts(int fd)
{
	/* Only a sync of the log counts. */
	if (is_log(fd))
		syncs_seen++;
	return afile__sys_default.fdatasync(fd);
}

static ssize_t
pwrite_checks(int fd, const void *b, size_t n, off_t off)
{
	if (n == 2 && off == 2 && !memcmp(b, "XX", 2) && !syncs_seen)
		wrote_unsynced++;
	return afile__sys_default.pwrite(fd, b, n, off);
}

static void
test_replay_syncs_first(void **state)
{
	const struct afile_range rg[] = {{2, "XX", 2}, {8, "YYYY", 4}};
	struct h_ctx *c = *state;
	int status;
	void *buf;
	size_t len;
	pid_t pid;

	(void)unlinkat(c->dfd, REDO, 0);
	h_puts(c, "f", TEN);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		afile__sys.fdatasync = fdatasync_dies;
		afile__sys.fsync = fdatasync_dies;
		(void)afile_patchv(c->dfd, "f", rg, 2, AFILE_INPLACE, NULL);
		_exit(1); /* the sync was not reached */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/*
	 * The whole record is in the page cache, never synced: the reader
	 * replays it, but only once it is durable (a power cut after an
	 * unsynced replay could keep "XX" in f and lose the record).
	 */
	syncs_seen = wrote_unsynced = 0;
	afile__sys.fdatasync = fdatasync_counts;
	afile__sys.fsync = fdatasync_counts;
	afile__sys.pwrite = pwrite_checks;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	afile__sys_reset();
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "01XX4567YYYY", 12);
	free(buf);
	assert_true(syncs_seen > 0);
	assert_int_equal(wrote_unsynced, 0);
}

/* Append '!' to the old contents it is given. */
static int
append_bang(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	size_t *seen = ctx;
	int r;

	*seen = old_len;
	r = afile_writer_write(w, old, old_len);
	return r ? r : afile_writer_write(w, "!", 1);
}

/* afile_update() builds on the old version, never on half a patch. */
static void
test_recover_by_update(void **state)
{
	struct h_ctx *c = *state;
	size_t seen = 0;

	crash_at(c, 6);
	assert_file(c, "f", "01XX456789");
	assert_ok(afile_update(c->dfd, "f", append_bang, &seen, 0, NULL));
	assert_int_equal(seen, 12);
	assert_file(c, "f", "01XX4567YYYY!");
}

static void
test_recover_by_patch(void **state)
{
	struct h_ctx *c = *state;

	crash_at(c, 6);
	assert_ok(afile_patch(c->dfd, "f", 0, "Z", 1, AFILE_INPLACE, NULL));
	assert_file(c, "f", "Z1XX4567YYYY");
	/* The copy mode recovers too, before it copies. */
	crash_at(c, 6);
	assert_ok(afile_patch(c->dfd, "f", 0, "C", 1, 0, NULL));
	assert_file(c, "f", "C1XX4567YYYY");
	/*
	 * Before the marker "applied": the patch stands, replayed again;
	 * afile_patch_recover() then folds the log into the file.
	 */
	crash_at(c, 7);
	assert_file(c, "f", "01XX4567YYYY");
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 1);
	assert_file(c, "f", "01XX4567YYYY");
	assert_int_equal(size_of(c, REDO), 0);
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 0);
}

/*
 * Put @len bytes of @rec as f's log, as a crash could have left it: the
 * marker then is not clean (a patch writes it "pending" before it changes
 * the log), so the sidecar is emptied too.
 */
static void
put_log(struct h_ctx *c, const char *rec, size_t len)
{
	h_put(c, REDO, rec, len, 0644);
	h_put(c, LOCK, "", 0, 0644);
}

static void
test_torn_and_stale(void **state)
{
	struct h_ctx *c = *state;
	char *rec, *got;
	size_t len, n;
	void *buf;

	crash_at(c, 6);
	rec = h_slurp(c, REDO, &len);
	/*
	 * Cut short: torn, so never committed (its bytes never reached the
	 * file, but this one's did, half): not replayed.
	 */
	put_log(c, rec, 1024 + 50);
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 0);
	assert_file(c, "f", "01XX456789");
	assert_int_equal(size_of(c, REDO), 0);
	/* A flipped byte in the record, found by a read. */
	rec[1024 + 90] ^= 1;
	put_log(c, rec, len);
	assert_ok(afile_read(c->dfd, "f", &buf, &n, 0, NULL));
	assert_int_equal(n, 10);
	free(buf);
	/* The same record intact: replayed. */
	rec[1024 + 90] ^= 1;
	put_log(c, rec, len);
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 1);
	assert_file(c, "f", "01XX4567YYYY");
	/* Valid, but of the inode that f was before a replace: stale. */
	put_log(c, rec, len);
	assert_ok(afile_write(c->dfd, "f", "replaced", 8, 0, NULL));
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 0);
	assert_file(c, "f", "replaced");
	assert_int_equal(size_of(c, REDO), 0);
	got = h_slurp(c, "f", &n);
	free(got);
	free(rec);
}

static int fail_pwrite_at;

static ssize_t
pwrite_fails(int fd, const void *b, size_t n, off_t off)
{
	if (--fail_pwrite_at == 0) {
		errno = EIO;
		return -1;
	}
	return afile__sys_default.pwrite(fd, b, n, off);
}

static void
test_rollback(void **state)
{
	struct h_ctx *c = *state;
	const struct afile_range rg[] = {{2, "XX", 2}, {8, "YYYY", 4}};
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	/*
	 * 1: the marker "pending"; 2: the log's zeros; 3: its header; 4: the
	 * record: before the commit point, the file stays old.  5, 6: a range
	 * in place, after the commit point: the call fails, and the next read
	 * replays the patch.  7: the marker "applied": the patch is whole and
	 * durable, the next read replays it again.
	 */
	for (int at = 1; at <= 7; at++) {
		void *buf;
		size_t len;

		h_puts(c, "f", TEN);
		(void)unlinkat(c->dfd, REDO, 0);
		fail_pwrite_at = at;
		afile__sys.pwrite = pwrite_fails;
		r = afile_patchv(c->dfd, "f", rg, 2, AFILE_INPLACE, &o);
		afile__sys_reset();
		if (at == 7) {
			assert_ok(r);
		} else {
			assert_err(r, -EIO);
			assert_errinfo(&e, r);
		}
		if (at <= 4)
			assert_file(c, "f", TEN);
		assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
		assert_int_equal(len, at <= 4 ? 10 : 12);
		free(buf);
	}
}

static void
test_errors(void **state)
{
	struct h_ctx *c = *state;

	assert_err(
	    afile_patch(c->dfd, "f", 0, "x", 1, AFILE_INPLACE, NULL), -ENOENT);
	h_mkdir(c, "d", 0755);
	assert_err(
	    afile_patch(c->dfd, "d", 0, "x", 1, AFILE_INPLACE, NULL), -EISDIR);
	h_puts(c, "f", TEN);
	assert_err(afile_patch(c->dfd, "f", 0, "x", 1,
		       AFILE_INPLACE | AFILE_BREAK_HARDLINKS, NULL),
	    -EINVAL);
	assert_err(
	    afile_patch(c->dfd, "f", UINT64_MAX, "x", 1, AFILE_INPLACE, NULL),
	    -EFBIG);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "other", 0), 0);
	assert_err(afile_patch(c->dfd, "f", 0, "x", 1, AFILE_INPLACE, NULL),
	    AFILE_EHARDLINKS);
	assert_file(c, "f", TEN);
	assert_err(afile_patch_recover(c->dfd, "nope", 0, NULL), -ENOENT);
	h_symlink(c, "f", "link");
	assert_err(afile_patch(c->dfd, "link", 0, "x", 1,
		       AFILE_INPLACE | AFILE_NOFOLLOW, NULL),
	    -ELOOP);
}

static void
test_symlink(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", TEN);
	h_symlink(c, "f", "link");
	assert_ok(afile_patch(c->dfd, "link", 0, "L", 1, AFILE_INPLACE, NULL));
	assert_file(c, "f", "L123456789");
	assert_entries(c, ".", LOCK, REDO, "f", "link");
	/* A read through the link finds the log beside f. */
	crash_at(c, 6);
	assert_ok(afile_read(c->dfd, "link", &buf, &len, 0, NULL));
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "01XX4567YYYY", 12);
	free(buf);
}

/* afile_read() asks for the shared lock on the file it reads. */
static int read_locks, read_lock_type;

static int
fcntl_spy(int fd, int cmd, struct flock *fl)
{
	read_locks++;
	read_lock_type = fl->l_type;
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

static void
test_read_lock(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", TEN);
	afile__sys.fcntl_lock = fcntl_spy;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	afile__sys_reset();
	free(buf);
	assert_int_equal(read_locks, 1);
	assert_int_equal(read_lock_type, F_RDLCK);
	/* Held by a reader: an in-place patcher cannot take it. */
	{
		int fd = openat(c->dfd, "f", O_RDONLY);
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd2 = openat(c->dfd, "f", O_RDWR);

		assert_true(fd >= 0 && fd2 >= 0);
		assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
		assert_int_equal(fcntl(fd2, F_OFD_SETLK, &w), -1);
		close(fd2);
		close(fd);
	}
}

static void
test_sync_none(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 0, "x", 1, AFILE_INPLACE, NULL));
	o.sync = AFILE_SYNC_NONE;
	assert_ok(afile_stats_get(&s0));
	assert_ok(afile_patch(c->dfd, "f", 1, "y", 1, AFILE_INPLACE, &o));
	assert_ok(afile_stats_get(&s1));
	assert_int_equal(s1.syncs + s1.dir_syncs, s0.syncs + s0.dir_syncs);
	/* One sync (the log's) once the log exists. */
	assert_ok(afile_patch(c->dfd, "f", 2, "z", 1, AFILE_INPLACE, NULL));
	assert_ok(afile_stats_get(&s0));
	assert_int_equal(s0.syncs + s0.dir_syncs, s1.syncs + s1.dir_syncs + 1);
	assert_file(c, "f", "xyz3456789");
}

static ssize_t
sysctl_one(const char *name, char *buf, size_t n)
{
	(void)name;
	return snprintf(buf, n, "1\n");
}

/*
 * A record planted by another user in a sticky directory: its checksum
 * is no signature, so it must never be applied to root's file.
 */
static void
test_planted_record(void **state)
{
	struct h_ctx *c = *state;
	char *rec;
	size_t len, n;
	void *buf;

	h_require_root();
	/* A valid log of f (which holds half the patch), taken away. */
	crash_at(c, 6);
	rec = h_slurp(c, REDO, &len);
	h_put(c, REDO, "", 0, 0644);
	h_mkdir(c, "s", 0755);
	h_chmod(c, "s", 01777);
	assert_int_equal(renameat(c->dfd, "f", c->dfd, "s/f"), 0);
	h_put(c, "s/" REDO, rec, len, 0644);
	h_chown(c, "s/" REDO, H_NOBODY, H_NOBODY);
	afile__sys.read_sysctl_fs = sysctl_one;
	/* A read ignores it, a patch refuses to go on; the file stays. */
	assert_ok(afile_read(c->dfd, "s/f", &buf, &n, 0, NULL));
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "01XX456789", 10);
	free(buf);
	assert_err(afile_patch(c->dfd, "s/f", 0, "x", 1, AFILE_INPLACE, NULL),
	    AFILE_EPROTECTED);
	assert_file(c, "s/f", "01XX456789");
	/* An update ignores it too, and builds on the bytes it reads. */
	assert_ok(afile_update(c->dfd, "s/f", append_bang, &n, 0, NULL));
	assert_int_equal(n, 10);
	afile__sys_reset();
	assert_file(c, "s/f", "01XX456789!");
	free(rec);
}

/* ------------------------------------------------------------------
 * What stops a patch or a recovery before the log is looked at
 * ------------------------------------------------------------------ */

static struct {
	ino_t ino;        /* the file "f" */
	int rdwr_err;     /* its O_RDWR open fails with this */
	int log_err;      /* opening its redo log fails with this */
	int lock_err;     /* locking its inode fails with this */
	bool fstat_after; /* the fstat after its lock fails */
	bool locked;
} F;

static bool
is_f(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_ino == F.ino;
}

static int
f_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (F.rdwr_err && !strcmp(path, "f") && (flags & O_ACCMODE) == O_RDWR) {
		errno = F.rdwr_err;
		return -1;
	}
	if (F.log_err && strstr(path, ".afile-redo")) {
		errno = F.log_err;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
f_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	if (is_f(fd) && fl->l_type != F_UNLCK) {
		if (F.lock_err) {
			errno = F.lock_err;
			return -1;
		}
		F.locked = true;
	}
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

static int
f_fstat(int fd, struct stat *st)
{
	if (F.fstat_after && F.locked && is_f(fd)) {
		errno = EIO;
		return -1;
	}
	return afile__sys_default.fstat(fd, st);
}

/* The library's fstat of a descriptor without its timestamps. */
static int
f_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	if ((flags & AT_EMPTY_PATH) && !*path)
		return f_fstat(dfd, st);
	return afile__sys_default.fstatat(dfd, path, st, flags);
}

/* Patch "f" in place; its error detail in *@e. */
static int
patch_f(struct h_ctx *c, struct afile_errinfo *e, int wait_ms)
{
	struct afile_opts o = AFILE_OPTS_INIT;

	o.err = e;
	o.lock_wait_ms = wait_ms;
	return afile_patch(c->dfd, "f", 0, "xy", 2, AFILE_INPLACE, &o);
}

static void
assert_failed_at(const struct afile_errinfo *e, int r, const char *step)
{
	assert_int_equal(e->code, r);
	assert_string_equal(e->step, step);
	assert_non_null(strstr(e->path, "f"));
}

static void
test_entry_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_lock *l;
	char name[NAME_MAX + 1];
	int r;

	h_puts(c, "f", TEN);
	F.ino = ino_of(c, "f");
	afile__sys.openat = f_openat;
	afile__sys.fcntl_lock = f_fcntl_lock;
	afile__sys.fstat = f_fstat;
	afile__sys.fstatat = f_fstatat;

	/* Each step of taking hold of the file, failing in turn. */
	F.rdwr_err = EACCES;
	assert_err(r = patch_f(c, &e, 0), -EACCES);
	assert_failed_at(&e, r, "open");
	F.rdwr_err = 0;
	F.lock_err = ENOLCK;
	assert_err(r = patch_f(c, &e, 0), -ENOLCK);
	assert_failed_at(&e, r, "lock");
	F.lock_err = 0;
	F.fstat_after = true;
	assert_err(r = patch_f(c, &e, 0), -EIO);
	assert_failed_at(&e, r, "read metadata");
	F.fstat_after = F.locked = false;
	F.log_err = EACCES;
	assert_err(r = patch_f(c, &e, 0), -EACCES);
	assert_failed_at(&e, r, "open redo log");
	/* The same steps for a recovery. */
	assert_err(afile_patch_recover(c->dfd, "f", 0, NULL), -EACCES);
	F.log_err = 0;
	F.lock_err = ENOLCK;
	assert_err(afile_patch_recover(c->dfd, "f", 0, NULL), -ENOLCK);
	F.lock_err = 0;
	afile__sys_reset();
	assert_file(c, "f", TEN);
	assert_entries(c, ".", LOCK, "f");

	/* The sidecar held by another: refused at once with a try. */
	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	r = patch_f(c, &e, AFILE_LOCK_TRY);
	afile_lock_release(l);
	assert_true(r < 0);
	assert_int_equal(e.code, r);
	assert_file(c, "f", TEN);
	assert_entries(c, ".", LOCK, "f");

	/* A name of NAME_MAX: its log's name is cut and hashed. */
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	h_puts(c, name, TEN);
	assert_ok(afile_patch(c->dfd, name, 0, "x", 1, AFILE_INPLACE, NULL));
	assert_int_equal(afile_patch_recover(c->dfd, name, 0, NULL), 0);
	assert_file(c, name, "x123456789");
}

/* Neither a patch nor a recovery for what is not a regular file. */
static void
test_not_regular(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts bad = AFILE_OPTS_INIT;

	assert_int_equal(mkfifoat(c->dfd, "p", 0644), 0);
	assert_err(afile_patch(c->dfd, "p", 0, "x", 1, AFILE_INPLACE, NULL),
	    AFILE_ENOTREG);
	assert_err(afile_patch_recover(c->dfd, "p", 0, NULL), AFILE_ENOTREG);
	h_mkdir(c, "d", 0755);
	assert_err(afile_patch_recover(c->dfd, "d", 0, NULL), -EISDIR);
	h_puts(c, "f", TEN);
	h_symlink(c, "f", "link");
	assert_err(
	    afile_patch_recover(c->dfd, "link", AFILE_NOFOLLOW, NULL), -ELOOP);
	/* Arguments: flags it does not take, options of another size. */
	assert_err(afile_patch_recover(c->dfd, "f", AFILE_LOCK, NULL), -EINVAL);
	bad.size = 1;
	assert_err(afile_patch_recover(c->dfd, "f", 0, &bad), -EINVAL);
	/* Nothing to recover: 0, and nothing created. */
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 0);
	assert_entries(c, ".", "p", "d", "f", "link");
}

/* A reader where locks fail: refused, unless locks are unsupported. */
static int read_lock_err;

static int
read_lock_fails(int fd, int cmd, struct flock *fl)
{
	if (fl->l_type == F_RDLCK) {
		errno = read_lock_err;
		return -1;
	}
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

/* flock(), the fallback where OFD locks are missing (EINVAL), too. */
static int
read_flock_fails(int fd, int op)
{
	if ((op & ~LOCK_NB) == LOCK_SH) {
		errno = read_lock_err;
		return -1;
	}
	return afile__sys_default.flock(fd, op);
}

static void
test_read_lock_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	void *buf;
	size_t len;

	o.err = &e;
	h_puts(c, "f", TEN);
	afile__sys.fcntl_lock = read_lock_fails;
	afile__sys.flock = read_flock_fails;
	read_lock_err = EIO;
	assert_err(afile_read(c->dfd, "f", &buf, &len, 0, &o), -EIO);
	assert_string_equal(e.step, "lock");
	assert_non_null(strstr(e.path, "f"));
	/* No locks on this file system: no in-place patch can run either. */
	read_lock_err = EINVAL;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, 10);
	free(buf);
	read_lock_err = ENOLCK;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	free(buf);
	read_lock_err = EOPNOTSUPP;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	free(buf);
	afile__sys_reset();
	assert_entries(c, ".", "f");
}

/*
 * A log left beside the file (here a torn one: only its length says
 * "pending") is recovered before a read or an update; when that recovery
 * cannot even open the file, the read and the update fail with its error.
 */
static void
test_pending_record_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	size_t seen = 0;
	void *buf;
	size_t len;

	o.err = &e;
	h_puts(c, "f", TEN);
	h_put(c, REDO, "torn", 4, 0644);
	F.ino = ino_of(c, "f");
	afile__sys.openat = f_openat;
	F.rdwr_err = EACCES;
	assert_err(afile_read(c->dfd, "f", &buf, &len, 0, &o), -EACCES);
	assert_failed_at(&e, -EACCES, "open");
	assert_err(
	    afile_update(c->dfd, "f", append_bang, &seen, 0, &o), -EACCES);
	assert_failed_at(&e, -EACCES, "open");
	afile__sys_reset();
	assert_file(c, "f", TEN);
	assert_int_equal(seen, 0);
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, 10);
	assert_memory_equal(buf, TEN, 10);
	free(buf);
}

/* Paths whose log cannot be named are read without looking for one. */
static void
test_read_unnamed_records(void **state)
{
	struct h_ctx *c = *state;
	char path[4096];
	size_t k = 0;
	void *buf;
	size_t len;

	h_mkdir(c, "sub", 0755);
	assert_err(afile_read(c->dfd, ".", &buf, &len, 0, NULL), -EISDIR);
	assert_err(afile_read(c->dfd, "sub/", &buf, &len, 0, NULL), -EISDIR);
	assert_err(afile_read(c->dfd, "sub/..", &buf, &len, 0, NULL), -EISDIR);
	/* Room for the path, none for the log's name beside it. */
	h_puts(c, "f", TEN);
	while (k + 2 < sizeof(path) - 8) {
		path[k++] = '.';
		path[k++] = '/';
	}
	path[k++] = 'f';
	path[k] = '\0';
	assert_ok(afile_read(c->dfd, path, &buf, &len, 0, NULL));
	assert_int_equal(len, 10);
	free(buf);
	assert_entries(c, ".", "sub", "f");
}

/* ---- The redo log: its marker's trust, checkpoints, the fallback ---- */

extern uint64_t afile__inplace_log_max;

static unsigned int fake_boot;

static ssize_t
boot_fake(char *buf, size_t n)
{
	return snprintf(buf, n, "0000beef-0000-0000-0000-%012x", fake_boot);
}

static ssize_t
boot_missing(char *buf, size_t n)
{
	(void)buf, (void)n;
	errno = ENOENT;
	return -1;
}

static uint64_t fake_mnt;

static int
mnt_fake(int dfd, const char *path, int flags, uint64_t *size, uint64_t *mnt)
{
	int r = afile__sys_default.stat_mnt(dfd, path, flags, size, mnt);

	*mnt = fake_mnt;
	return r;
}

/* Overwrite f's bytes [2, 4) behind the library: a write a cut lost. */
static void
lose_write(struct h_ctx *c)
{
	int fd = openat(c->dfd, "f", O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "--", 2, 2), 2);
	close(fd);
}

/*
 * The marker is trusted in the boot and mount that wrote it only: a
 * reboot or a new mount replays the log (the patch's write into the file
 * was not synced and may be lost).
 */
static void
test_marker_boot_and_mount(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	h_puts(c, "f", TEN);
	afile__sys.read_boot_id = boot_fake;
	afile__sys.stat_mnt = mnt_fake;
	fake_boot = 1;
	fake_mnt = 7;
	assert_ok(afile_patch(c->dfd, "f", 2, "XX", 2, AFILE_INPLACE, NULL));
	lose_write(c);
	/* Same boot and mount: the page cache is the truth, no replay. */
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_memory_equal(buf, "01--456789", 10);
	free(buf);
	/* Another boot: replayed. */
	fake_boot = 2;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_memory_equal(buf, "01XX456789", 10);
	free(buf);
	/* Another mount in the same boot: replayed. */
	lose_write(c);
	fake_mnt = 8;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_memory_equal(buf, "01XX456789", 10);
	free(buf);
	afile__sys_reset();
}

/* Writes into the log, counted: a patch's only one is its record. */
static int log_writes;
static off_t log_write_off;

static ssize_t
pwrite_counts(int fd, const void *b, size_t n, off_t off)
{
	if (is_log(fd)) {
		log_writes++;
		log_write_off = off;
	}
	return afile__sys_default.pwrite(fd, b, n, off);
}

/*
 * The marker lives in the lock sidecar: a patch writes the log once, its
 * record right after the previous one, so that the log's sync writes one
 * range.  Without the sidecar (removed by hand) the next read replays.
 */
static void
test_marker_in_sidecar(void **state)
{
	struct h_ctx *c = *state;
	off_t end;

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 2, "XX", 2, AFILE_INPLACE, NULL));
	log_writes = 0;
	afile__sys.pwrite = pwrite_counts;
	assert_ok(afile_patch(c->dfd, "f", 4, "YY", 2, AFILE_INPLACE, NULL));
	afile__sys_reset();
	assert_int_equal(log_writes, 1);
	end = log_write_off;
	assert_true(end > 1024);
	log_writes = 0;
	afile__sys.pwrite = pwrite_counts;
	assert_ok(afile_patch(c->dfd, "f", 6, "ZZ", 2, AFILE_INPLACE, NULL));
	afile__sys_reset();
	assert_int_equal(log_writes, 1);
	assert_true(log_write_off > end);
	/* A lost marker (a removed sidecar) is not clean: replayed. */
	lose_write(c);
	assert_int_equal(unlinkat(c->dfd, LOCK, 0), 0);
	assert_read(c, "01XXYYZZ89", 10);
	assert_file(c, "f", "01XXYYZZ89");
}

/*
 * The marker speaks for one file: after the name is replaced, a patch of
 * the new file does not append to the old file's log (whose header a
 * later recovery would find foreign, losing the patch), it starts anew.
 */
static void
test_marker_names_file(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 0, "a", 1, AFILE_INPLACE, NULL));
	assert_ok(afile_write(c->dfd, "f", TEN, 10, 0, NULL));
	assert_ok(afile_patch(c->dfd, "f", 2, "XX", 2, AFILE_INPLACE, NULL));
	/* A power cut lost the unsynced write into the file. */
	lose_write(c);
	afile__sys.read_boot_id = boot_fake;
	fake_boot = 5;
	assert_read(c, "01XX456789", 10);
	afile__sys_reset();
}

/*
 * The sidecar holds what readers need: a patch that starts a log gives it
 * the file's read bits, whatever umask created it.
 */
static void
test_marker_readable(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *lock = NULL;
	struct stat st;
	mode_t old = umask(077);

	h_puts(c, "f", TEN);
	h_chmod(c, "f", 0644);
	/* The sidecar made first by a lock, under that umask. */
	assert_ok(
	    afile_lock_acquire(c->dfd, "f", AFILE_LOCK_SHARED, -1, &lock));
	afile_lock_release(lock);
	assert_int_equal(fstatat(c->dfd, LOCK, &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_ok(afile_patch(c->dfd, "f", 2, "XX", 2, AFILE_INPLACE, NULL));
	umask(old);
	assert_int_equal(fstatat(c->dfd, LOCK, &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

/* Past the log's limit a patch syncs the file and starts the log again. */
static void
test_checkpoint(void **state)
{
	struct h_ctx *c = *state;
	struct afile_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};
	uint64_t max = afile__inplace_log_max;
	char want[11] = "0123456789";
	off_t size;

	h_puts(c, "f", TEN);
	afile__inplace_log_max = 1100; /* room for one small record */
	assert_ok(afile_patch(c->dfd, "f", 0, "a", 1, AFILE_INPLACE, NULL));
	size = size_of(c, REDO);
	for (int i = 1; i < 6; i++) {
		assert_ok(afile_stats_get(&s0));
		assert_ok(afile_patch(
		    c->dfd, "f", (uint64_t)i, "b", 1, AFILE_INPLACE, NULL));
		assert_ok(afile_stats_get(&s1));
		/* The file's sync, then the log's. */
		assert_int_equal(
		    s1.syncs + s1.dir_syncs, s0.syncs + s0.dir_syncs + 2);
		/* Records overwrite the old generation's: the log stays. */
		assert_int_equal(size_of(c, REDO), size);
	}
	afile__inplace_log_max = max;
	memcpy(want, "abbbbb", 6);
	assert_file(c, "f", want);
	/* A reboot replays only the last generation: the same bytes. */
	afile__sys.read_boot_id = boot_fake;
	fake_boot = 3;
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 1);
	afile__sys_reset();
	assert_file(c, "f", want);
	assert_int_equal(size_of(c, REDO), 0);
}

/* Without a boot id (no /proc) a patch syncs the file: two syncs. */
static void
test_no_boot_id(void **state)
{
	struct h_ctx *c = *state;
	struct afile_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};
	void *buf;
	size_t len;

	h_puts(c, "f", TEN);
	afile__sys.read_boot_id = boot_missing;
	assert_ok(afile_patch(c->dfd, "f", 0, "x", 1, AFILE_INPLACE, NULL));
	assert_ok(afile_stats_get(&s0));
	assert_ok(afile_patch(c->dfd, "f", 2, "XX", 2, AFILE_INPLACE, NULL));
	assert_ok(afile_stats_get(&s1));
	/* The log, the file, and "pending" over the first's durable marker. */
	assert_int_equal(s1.syncs + s1.dir_syncs, s0.syncs + s0.dir_syncs + 3);
	/* The marker says durable: trusted in any boot, no replay. */
	lose_write(c);
	afile__sys.read_boot_id = boot_fake;
	fake_boot = 4;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_memory_equal(buf, "x1--456789", 10);
	free(buf);
	afile__sys_reset();
}

/*
 * A "durable" marker (a patch without a boot identity) is trusted after a
 * power cut, which may lose the next patch's unsynced "pending" over it
 * and keep that patch's synced record: the next patch syncs "pending"
 * before its record reaches the log.  @trace gets 'P' for a marker
 * "pending", 'A' for "applied", 'M' for a sync of the sidecar, 'L' for a
 * write of the log.
 */
static char trace[64];
static size_t ntrace;

static void
traced(char ev)
{
	if (ntrace < sizeof(trace) - 1)
		trace[ntrace++] = ev;
}

static ssize_t
pwrite_traced(int fd, const void *b, size_t n, off_t off)
{
	struct afile__redo_mark m;

	if (open_on(fd, LOCK) && off == AFILE__REDO_MARK_OFF &&
	    n == AFILE__REDO_MARK_LEN)
		traced(afile__redo_mark_parse(b, &m) ? 'A' : 'P');
	else if (is_log(fd))
		traced('L');
	return afile__sys_default.pwrite(fd, b, n, off);
}

static int
fdatasync_traced(int fd)
{
	if (open_on(fd, LOCK))
		traced('M');
	return afile__sys_default.fdatasync(fd);
}

static void
test_durable_marker_synced_over(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	afile__sys.read_boot_id = boot_missing;
	assert_ok(afile_patch(c->dfd, "f", 0, "x", 1, AFILE_INPLACE, NULL));
	afile__sys_reset();
	afile__sys.pwrite = pwrite_traced;
	afile__sys.fdatasync = fdatasync_traced;
	assert_ok(afile_patch(c->dfd, "f", 1, "y", 1, AFILE_INPLACE, NULL));
	/* A marker of this boot over it needs no sync. */
	assert_ok(afile_patch(c->dfd, "f", 2, "z", 1, AFILE_INPLACE, NULL));
	afile__sys_reset();
	trace[ntrace] = '\0';
	assert_string_equal(trace, "PMLAPLA");
	assert_file(c, "f", "xyz3456789");
}

/* ---- redo.c alone: what its parsers refuse ---- */

static void
put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
test_redo_bytes(void **state)
{
	const struct afile__redo_id id = {.dev = 9, .ino = 42, .igen = 7};
	const struct afile__redo_id other_ino = {
	    .dev = 9, .ino = 43, .igen = 7};
	const struct afile__redo_id other_gen = {
	    .dev = 9, .ino = 42, .igen = 8};
	const struct afile__redo_id other_dev = {
	    .dev = 1, .ino = 42, .igen = 7};
	const struct afile__redo_here here = {.boot = {1, 2, 3}, .mnt = 5};
	const struct afile__redo_here other_boot = {
	    .boot = {1, 2, 4}, .mnt = 5};
	const struct afile__redo_here other_mnt = {.boot = {1, 2, 3}, .mnt = 6};
	const struct afile_range rg[] = {{3, "abc", 3}, {100, "", 0}};
	unsigned char log[AFILE__REDO_REC_START], rec[128];
	unsigned char mark[AFILE__REDO_MARK_LEN];
	struct afile__redo_mark m;
	struct afile__redo_rec r;
	uint64_t new_size, off, len;
	size_t total;

	(void)state;
	/* Header: its file by st_ino and inode generation, not st_dev. */
	memset(log, 0, sizeof(log));
	afile__redo_hdr_encode(log, 77, &id);
	assert_int_equal(afile__redo_hdr_gen(log, &id), 77);
	assert_int_equal(afile__redo_hdr_gen(log, NULL), 77);
	assert_int_equal(afile__redo_hdr_gen(log, &other_dev), 77);
	assert_int_equal(afile__redo_hdr_gen(log, &other_ino), 0);
	assert_int_equal(afile__redo_hdr_gen(log, &other_gen), 0);
	log[20] ^= 1; /* st_dev, under the CRC */
	assert_int_equal(afile__redo_hdr_gen(log, &id), 0);
	log[20] ^= 1;
	log[0] = 'X';
	assert_int_equal(afile__redo_hdr_gen(log, &id), 0);
	log[0] = 'a';

	/* Marker: pending says nothing; applied here, or durable. */
	afile__redo_mark_encode(mark, 77, 1, 2000, &id, NULL, 0);
	assert_false(afile__redo_mark_parse(mark, &m));
	assert_false(afile__redo_clean(mark, &id, &here, &m));
	afile__redo_mark_encode(mark, 77, 1, 2000, &id, &here, 0);
	assert_true(afile__redo_clean(mark, &id, &here, &m));
	assert_int_equal(m.gen, 77);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.end, 2000);
	assert_true(afile__redo_clean(mark, NULL, &here, &m));
	assert_true(afile__redo_clean(mark, &other_dev, &here, &m));
	assert_false(afile__redo_clean(mark, &id, &other_boot, &m));
	assert_false(afile__redo_clean(mark, &id, &other_mnt, &m));
	assert_false(afile__redo_clean(mark, &id, NULL, &m));
	/* Of another file: another inode, or the number reused. */
	assert_false(afile__redo_clean(mark, &other_ino, &here, &m));
	assert_false(afile__redo_clean(mark, &other_gen, &here, &m));
	mark[20] ^= 1; /* under the marker's CRC */
	assert_false(afile__redo_clean(mark, &id, &here, &m));
	afile__redo_mark_encode(
	    mark, 77, 1, 2000, &id, NULL, AFILE__REDO_DURABLE);
	assert_true(afile__redo_clean(mark, &id, NULL, &m));
	/* Of no generation, or ending inside the log's head. */
	afile__redo_mark_encode(
	    mark, 0, 1, 2000, &id, NULL, AFILE__REDO_DURABLE);
	assert_false(afile__redo_clean(mark, &id, NULL, &m));
	afile__redo_mark_encode(
	    mark, 77, 1, 1000, &id, NULL, AFILE__REDO_DURABLE);
	assert_false(afile__redo_clean(mark, &id, NULL, &m));
	mark[0] = 'X';
	assert_false(afile__redo_mark_parse(mark, &m));

	/* A record, and each way one is not the chain's next link. */
	total = afile__redo_rec_size(rg, 2, 10, &new_size);
	assert_int_equal(total, AFILE__REDO_REC_HDR + 2 * 16 + 3 + 4);
	assert_int_equal(new_size, 10); /* an empty range grows nothing */
	afile__redo_rec_encode(rec, total, 77, 1, 10, new_size, rg, 2);
	assert_true(afile__redo_rec_parse(rec, total, 77, 1, &r));
	assert_int_equal(r.n, 2);
	afile__redo_rec_range(&r, 0, &off, &len);
	assert_int_equal(off, 3);
	assert_int_equal(len, 3);
	assert_memory_equal(r.bytes, "abc", 3);
	assert_false(afile__redo_rec_parse(rec, total - 1, 77, 1, &r));
	assert_false(afile__redo_rec_parse(rec, 20, 77, 1, &r));
	assert_false(afile__redo_rec_parse(rec, total, 76, 1, &r));
	assert_false(afile__redo_rec_parse(rec, total, 77, 2, &r));
	rec[total - 1] ^= 1; /* the CRC */
	assert_false(afile__redo_rec_parse(rec, total, 77, 1, &r));
	rec[total - 1] ^= 1;
	rec[0] = 'X';
	assert_false(afile__redo_rec_parse(rec, total, 77, 1, &r));
	rec[0] = 'a';
	/* Fields that a good CRC covers but that do not add up. */
	put_u64(rec + 48, 10); /* shorter than a record can be */
	afile__redo_rec_restamp(rec, total, 77, 1);
	assert_false(afile__redo_rec_parse(rec, total, 77, 1, &r));
	put_u64(rec + 48, total);
	rec[24] = 0, rec[25] = 0, rec[26] = 2; /* n = 131072 */
	afile__redo_rec_restamp(rec, total, 77, 1);
	assert_false(afile__redo_rec_parse(rec, total, 77, 1, &r));
	rec[24] = 3, rec[26] = 0; /* 3 ranges: more than the record holds */
	afile__redo_rec_restamp(rec, total, 77, 1);
	assert_false(afile__redo_rec_parse(rec, total, 77, 1, &r));
	rec[24] = 2;
	put_u64(rec + AFILE__REDO_REC_HDR + 8, 2); /* lengths sum to 2, not 3 */
	afile__redo_rec_restamp(rec, total, 77, 1);
	assert_false(afile__redo_rec_parse(rec, total, 77, 1, &r));
	put_u64(rec + AFILE__REDO_REC_HDR + 8, 3);
	afile__redo_rec_restamp(rec, total, 77, 1);
	assert_true(afile__redo_rec_parse(rec, total, 77, 1, &r));
	/* A vector whose bytes would not fit a size_t. */
	{
		const struct afile_range huge[] = {
		    {0, "x", SIZE_MAX - 10}, {0, "y", 1}};

		assert_int_equal(
		    afile__redo_rec_size(huge, 2, 0, &new_size), 0);
	}
}

/* ---- Each I/O step of a replay, a checkpoint and a commit failing ---- */

/*
 * The call @fault.call on the inode @fault.ino (or on a directory) fails
 * with @fault.err, after @fault.skip such calls went through.
 */
static struct {
	const char *call;
	ino_t ino;
	int err, skip;
	bool dir;
} fault;

static bool
fault_on(const char *call, int fd)
{
	struct stat st;

	if (!fault.err || strcmp(call, fault.call) ||
	    afile__sys_default.fstat(fd, &st) < 0 ||
	    !(fault.dir ? S_ISDIR(st.st_mode) : st.st_ino == fault.ino))
		return false;
	return fault.skip-- <= 0;
}

static int
fstat_faulty(int fd, struct stat *st)
{
	if (fault_on("fstat", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.fstat(fd, st);
}

/* An fstatat of a descriptor (AT_EMPTY_PATH) counts as its fstat. */
static int
fstatat_faulty(int dfd, const char *path, struct stat *st, int flags)
{
	if ((flags & AT_EMPTY_PATH) && !*path)
		return fstat_faulty(dfd, st);
	return afile__sys_default.fstatat(dfd, path, st, flags);
}

static ssize_t
pread_faulty(int fd, void *b, size_t n, off_t off)
{
	if (fault_on("pread", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.pread(fd, b, n, off);
}

static ssize_t
pwrite_faulty(int fd, const void *b, size_t n, off_t off)
{
	if (fault_on("pwrite", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.pwrite(fd, b, n, off);
}

static int
ftruncate_faulty(int fd, off_t len)
{
	if (fault_on("ftruncate", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.ftruncate(fd, len);
}

static int
fdatasync_faulty(int fd)
{
	if (fault_on("fdatasync", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.fdatasync(fd);
}

static int
fsync_faulty(int fd)
{
	if (fault_on("fsync", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.fsync(fd);
}

static int
fallocate_faulty(int fd, int mode, off_t off, off_t len)
{
	if (fault_on("fallocate", fd)) {
		errno = fault.err;
		return -1;
	}
	return afile__sys_default.fallocate(fd, mode, off, len);
}

/* afile_patch_recover() of f with the fault armed: its error and step. */
static void
recover_fails(struct h_ctx *c, const char *call, int skip, const char *name,
    int err, const char *step)
{
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;

	o.err = &e;
	fault.call = call;
	fault.skip = skip;
	fault.ino = ino_of(c, name);
	fault.err = err;
	assert_err(afile_patch_recover(c->dfd, "f", 0, &o), -err);
	assert_string_equal(e.step, step);
	fault.err = 0;
}

/* Arm the fault: @call on @name's inode. */
static void
arm(struct h_ctx *c, const char *call, const char *name, int err)
{
	fault.call = call;
	fault.skip = 0;
	fault.dir = false;
	fault.ino = ino_of(c, name);
	fault.err = err;
}

static void
test_replay_faults(void **state)
{
	struct h_ctx *c = *state;

	afile__sys.fstat = fstat_faulty;
	afile__sys.fstatat = fstatat_faulty;
	afile__sys.pread = pread_faulty;
	afile__sys.pwrite = pwrite_faulty;
	afile__sys.ftruncate = ftruncate_faulty;
	afile__sys.fdatasync = fdatasync_faulty;
	/* A committed patch, half in the file: each step of its replay. */
	crash_at(c, 6);
	recover_fails(c, "fstat", 0, REDO, EIO, "open redo log");
	recover_fails(c, "pread", 0, LOCK, EIO, "read redo marker");
	recover_fails(c, "pread", 0, REDO, EIO, "read redo log");
	recover_fails(c, "pwrite", 0, "f", ENOSPC, "replay redo log");
	/* Longer than the record's old size: cut back first, which fails. */
	h_puts(c, "f", "01XX456789--");
	recover_fails(c, "ftruncate", 0, "f", EIO, "replay redo log");
	assert_file(c, "f", "01XX456789--");
	/* Replayed, then the file's sync or the log's reset fails. */
	recover_fails(c, "fdatasync", 0, "f", EIO, "sync file");
	assert_file(c, "f", "01XX4567YYYY");
	recover_fails(c, "ftruncate", 0, REDO, EIO, "reset redo log");
	assert_true(size_of(c, REDO) > 0);
	assert_int_equal(afile_patch_recover(c->dfd, "f", 0, NULL), 0);
	assert_int_equal(size_of(c, REDO), 0);
	afile__sys_reset();
	assert_file(c, "f", "01XX4567YYYY");
}

/* Without a boot id the replay syncs the file: its failure is the call's. */
static void
test_replay_no_boot_sync_fails(void **state)
{
	struct h_ctx *c = *state;
	void *buf;
	size_t len;

	crash_at(c, 6);
	afile__sys.read_boot_id = boot_missing;
	afile__sys.fdatasync = fdatasync_faulty;
	arm(c, "fdatasync", "f", EIO);
	assert_err(afile_read(c->dfd, "f", &buf, &len, 0, NULL), -EIO);
	fault.err = 0;
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, 12);
	free(buf);
	afile__sys_reset();
}

/*
 * A checkpoint whose sync of the file fails: the patch fails with the
 * file untouched by it, and the earlier patches are replayed again
 * rather than retired (their pages may be clean and lost).
 */
static void
test_checkpoint_sync_fails(void **state)
{
	struct h_ctx *c = *state;
	uint64_t max = afile__inplace_log_max;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	void *buf;
	size_t len;

	o.err = &e;
	h_puts(c, "f", TEN);
	afile__inplace_log_max = 1100;
	assert_ok(afile_patch(c->dfd, "f", 0, "a", 1, AFILE_INPLACE, NULL));
	afile__sys.fdatasync = fdatasync_faulty;
	arm(c, "fdatasync", "f", EIO);
	assert_err(
	    afile_patch(c->dfd, "f", 1, "b", 1, AFILE_INPLACE, &o), -EIO);
	assert_string_equal(e.step, "sync file");
	fault.err = 0;
	afile__sys_reset();
	afile__inplace_log_max = max;
	assert_file(c, "f", "a123456789");
	/* The marker says pending: the next read replays patch "a". */
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_memory_equal(buf, "a123456789", 10);
	free(buf);
}

/*
 * The directory of a new log: a sync it refuses (EINVAL) leaves the
 * patch at AFILE_SYNC_DATA; one that fails takes the record back, the
 * file untouched.  A growing patch's reservation: unsupported is no
 * error, a failure is, before the commit point.
 */
static void
test_commit_faults(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	unsigned int got = 0;
	void *buf;
	size_t len;

	o.err = &e;
	o.ret_sync = &got;
	h_puts(c, "f", TEN);
	afile__sys.fsync = fsync_faulty;
	arm(c, "fsync", "f", EINVAL);
	fault.dir = true;
	assert_ok(afile_patch(c->dfd, "f", 0, "x", 1, AFILE_INPLACE, &o));
	assert_int_equal(got, AFILE_SYNC_DATA);
	assert_file(c, "f", "x123456789");
	(void)unlinkat(c->dfd, REDO, 0);
	fault.err = EIO;
	assert_err(
	    afile_patch(c->dfd, "f", 1, "y", 1, AFILE_INPLACE, &o), -EIO);
	assert_string_equal(e.step, "sync directory");
	fault.err = 0;
	fault.dir = false;
	assert_file(c, "f", "x123456789");
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_memory_equal(buf, "x123456789", 10);
	free(buf);
	/* The reservation of a growing patch. */
	afile__sys.fallocate = fallocate_faulty;
	arm(c, "fallocate", "f", EOPNOTSUPP);
	assert_ok(afile_patch(c->dfd, "f", 10, "ab", 2, AFILE_INPLACE, NULL));
	fault.err = ENOSPC;
	assert_err(
	    afile_patch(c->dfd, "f", 12, "cd", 2, AFILE_INPLACE, &o), -ENOSPC);
	assert_string_equal(e.step, "reserve space");
	fault.err = 0;
	afile__sys_reset();
	assert_file(c, "f", "x123456789ab");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_bytes),
	    T(test_patchv),
	    T(test_recover_by_read),
	    T(test_replay_syncs_first),
	    T(test_recover_by_update),
	    T(test_recover_by_patch),
	    T(test_torn_and_stale),
	    T(test_rollback),
	    T(test_errors),
	    T(test_symlink),
	    T(test_read_lock),
	    T(test_sync_none),
	    T(test_planted_record),
	    T(test_entry_errors),
	    T(test_not_regular),
	    T(test_read_lock_errors),
	    T(test_pending_record_errors),
	    T(test_read_unnamed_records),
	    T(test_marker_boot_and_mount),
	    T(test_marker_in_sidecar),
	    T(test_marker_names_file),
	    T(test_marker_readable),
	    T(test_checkpoint),
	    T(test_no_boot_id),
	    T(test_durable_marker_synced_over),
	    T(test_redo_bytes),
	    T(test_replay_faults),
	    T(test_replay_no_boot_sync_fails),
	    T(test_checkpoint_sync_fails),
	    T(test_commit_faults),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
