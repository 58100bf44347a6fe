/* SPDX-License-Identifier: MIT */
/*
 * test_patcher.c - afile_patcher_*: in-place patches through descriptors
 * kept open.  The bytes and the checks of afile_patchv(AFILE_INPLACE); no
 * open or close per patch; no lock held between patches; a name replaced,
 * removed or made again, a log or sidecar removed, a log grown by another
 * writer, all seen by the next patch; a failed patch that leaves the file
 * as it was and the next patch working; a patcher killed half-way
 * replayed by the next read; no stat that asks for timestamps.
 */
#include <sys/wait.h>

#include "helpers.h"
#include "redo.h"
#include "sys.h"

static const char TEN[] = "0123456789";
#define REDO ".f.afile-redo"
#define LOCK ".f.afile-lock"

static int
patch1(struct afile_patcher *p, uint64_t off, const char *s)
{
	const struct afile_range rg = {off, s, strlen(s)};

	return afile_patcher_patchv(p, &rg, 1);
}

static struct afile_patcher *
open_f(struct h_ctx *c)
{
	struct afile_patcher *p = NULL;

	assert_ok(afile_patcher_open(c->dfd, "f", 0, NULL, &p));
	assert_non_null(p);
	return p;
}

/* A patcher of a new f that does not wait for locks. */
static struct afile_patcher *
open_f_try(struct h_ctx *c)
{
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_patcher *p = NULL;

	h_puts(c, "f", TEN);
	o.lock_wait_ms = AFILE_LOCK_TRY;
	assert_ok(afile_patcher_open(c->dfd, "f", 0, &o, &p));
	return p;
}

static void
test_bytes_and_checks(void **state)
{
	struct h_ctx *c = *state;
	const struct afile_range rg[] = {{0, "a", 1}, {12, "end", 3}};
	struct afile_patcher *p = (void *)1;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct stat before, after;

	o.err = &e;
	assert_err(afile_patcher_open(c->dfd, "f", 0, &o, &p), -ENOENT);
	assert_null(p);
	assert_string_equal(e.step, "open");
	h_mkdir(c, "d", 0755);
	assert_err(afile_patcher_open(c->dfd, "d", 0, NULL, &p), -EISDIR);
	h_puts(c, "f", TEN);
	h_symlink(c, "f", "l");
	assert_err(
	    afile_patcher_open(c->dfd, "l", AFILE_NOFOLLOW, NULL, &p), -ELOOP);
	assert_err(
	    afile_patcher_open(c->dfd, "f", AFILE_INPLACE, NULL, &p), -EINVAL);
	assert_err(afile_patcher_open(c->dfd, NULL, 0, NULL, &p), -EINVAL);
	assert_err(afile_patcher_open(c->dfd, "f", 0, NULL, NULL), -EINVAL);
	assert_int_equal(link(h_path(c, "f"), h_path(c, "hard")), 0);
	assert_err(
	    afile_patcher_open(c->dfd, "f", 0, NULL, &p), AFILE_EHARDLINKS);
	assert_int_equal(unlinkat(c->dfd, "hard", 0), 0);
	assert_err(afile_patcher_patchv(NULL, rg, 1), -EINVAL);
	afile_patcher_free(NULL);

	h_lstat(c, "f", &before);
	/* Through the symlink: the file it leads to. */
	assert_ok(afile_patcher_open(c->dfd, "l", 0, NULL, &p));
	assert_ok(patch1(p, 3, "AB"));
	assert_file(c, "f", "012AB56789");
	assert_ok(afile_patcher_patchv(p, rg, 2));
	assert_file_mem(c, "f", "a12AB56789\0\0end", 15);
	assert_ok(afile_patcher_patchv(p, NULL, 0));
	assert_err(afile_patcher_patchv(p, NULL, 1), -EINVAL);
	assert_err(afile_patcher_patchv(p, rg, 65537), -EINVAL);
	const struct afile_range far = {UINT64_MAX - 1, "xy", 2};
	assert_err(afile_patcher_patchv(p, &far, 1), -EFBIG);
	assert_file_mem(c, "f", "a12AB56789\0\0end", 15);
	afile_patcher_free(p);
	h_lstat(c, "f", &after);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_entries(c, ".", LOCK, REDO, "d", "f", "l");
}

/* What a patch asks of the kernel, counted. */
static int opens, closes;

static int
openat_counts(int dfd, const char *path, int flags, mode_t mode)
{
	opens++;
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
close_counts(int fd)
{
	closes++;
	return afile__sys_default.close(fd);
}

static void
test_no_open_per_patch(void **state)
{
	struct h_ctx *c = *state;
	struct afile_patcher *p;
	int fds = h_count_fds();

	h_puts(c, "f", TEN);
	p = open_f(c);
	assert_ok(patch1(p, 0, "x")); /* creates the log */
	afile__sys.openat = openat_counts;
	afile__sys.close = close_counts;
	for (int i = 0; i < 20; i++)
		assert_ok(patch1(p, (uint64_t)i % 10, "y"));
	afile__sys_reset();
	assert_int_equal(opens, 0);
	assert_int_equal(closes, 0);
	assert_file(c, "f", "yyyyyyyyyy");
	afile_patcher_free(p);
	assert_int_equal(h_count_fds(), fds);
}

/* No lock is held between patches; each patch takes the sidecar's. */
static void
test_locks_per_patch(void **state)
{
	struct h_ctx *c = *state;
	struct afile_patcher *p = open_f_try(c);
	struct afile_lock *l = NULL;

	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	assert_err(patch1(p, 0, "x"), -EAGAIN);
	afile_lock_release(l);
	assert_file(c, "f", TEN);
	assert_ok(patch1(p, 0, "x"));
	/* The patch let go of its locks. */
	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	afile_lock_release(l);
	assert_ok(afile_patch(c->dfd, "f", 1, "z", 1, AFILE_INPLACE, NULL));
	assert_file(c, "f", "xz23456789");
	afile_patcher_free(p);
}

/* Each patch goes to the file the name leads to now. */
static void
test_follows_name(void **state)
{
	struct h_ctx *c = *state;
	struct afile_patcher *p;
	int old;

	h_puts(c, "f", TEN);
	p = open_f(c);
	assert_ok(patch1(p, 0, "a"));
	old = openat(c->dfd, "f", O_RDONLY | O_CLOEXEC);
	assert_true(old >= 0);
	assert_ok(afile_write(c->dfd, "f", "new file", 8, 0, NULL));
	assert_ok(patch1(p, 0, "N"));
	assert_file(c, "f", "New file");
	/* The replaced file kept its bytes. */
	char buf[11] = {0};
	assert_int_equal(pread(old, buf, 10, 0), 10);
	assert_string_equal(buf, "a123456789");
	close(old);
	assert_int_equal(unlinkat(c->dfd, "f", 0), 0);
	assert_err(patch1(p, 0, "x"), -ENOENT);
	h_mkdir(c, "f", 0755);
	assert_err(patch1(p, 0, "x"), -EISDIR);
	assert_int_equal(unlinkat(c->dfd, "f", AT_REMOVEDIR), 0);
	h_puts(c, "f", "again");
	assert_ok(patch1(p, 0, "A"));
	assert_file(c, "f", "Again");
	afile_patcher_free(p);
}

/*
 * f loses every unsynced write (as after a power cut: back to @orig, @n
 * bytes) and its marker: afile_read() then replays the log alone, and
 * must give @want.
 */
static void
replay_alone(struct h_ctx *c, const char *orig, const char *want, size_t n)
{
	static const char zero[AFILE__REDO_MARK_LEN];
	int fd = openat(c->dfd, "f", O_WRONLY | O_CLOEXEC);
	int mfd = openat(c->dfd, LOCK, O_WRONLY | O_CLOEXEC);
	void *buf;
	size_t len;

	assert_true(fd >= 0 && mfd >= 0);
	assert_int_equal(pwrite(fd, orig, n, 0), (ssize_t)n);
	assert_int_equal(pwrite(mfd, zero, sizeof(zero), AFILE__REDO_MARK_OFF),
	    (ssize_t)sizeof(zero));
	close(fd);
	close(mfd);
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);
	free(buf);
}

/*
 * The log as its name leads to it: removed by hand, the next record goes
 * to a new one; grown by another writer, no record of it is overwritten.
 */
static void
test_log_by_name(void **state)
{
	struct h_ctx *c = *state;
	static char orig[20000], want[20000], big[12000];
	struct afile_patcher *p;

	memset(orig, 'o', sizeof(orig));
	memcpy(want, orig, sizeof(want));
	h_put(c, "f", orig, sizeof(orig), 0644);
	p = open_f(c);
	assert_ok(patch1(p, 0, "a"));
	want[0] = 'a';
	assert_int_equal(unlinkat(c->dfd, REDO, 0), 0);
	assert_ok(patch1(p, 1, "b"));
	want[1] = 'b';
	want[0] = 'o'; /* its record went with the log, lost with the file's */
	assert_true(h_exists(c, REDO));
	replay_alone(c, orig, want, sizeof(want));
	/* Another writer grows the log past the size the patcher saw. */
	memset(big, 'k', sizeof(big));
	assert_ok(afile_patch(
	    c->dfd, "f", 3000, big, sizeof(big), AFILE_INPLACE, NULL));
	memset(want + 3000, 'k', sizeof(big));
	assert_ok(patch1(p, 3, "P"));
	assert_ok(afile_patch(c->dfd, "f", 4, "Q", 1, AFILE_INPLACE, NULL));
	assert_ok(patch1(p, 5, "R"));
	memcpy(want + 3, "PQR", 3);
	replay_alone(c, orig, want, sizeof(want));
	afile_patcher_free(p);
}

/*
 * Descriptors closed twice: a close of a number that the spied calls
 * closed before and no spied open has returned since (another thread could
 * have been given it meanwhile).
 */
static bool was_closed[1024];
static int closed_twice;

static int
openat_tracks(int dfd, const char *path, int flags, mode_t mode)
{
	int fd = afile__sys_default.openat(dfd, path, flags, mode);

	if (fd >= 0 && fd < 1024)
		was_closed[fd] = false;
	return fd;
}

static int
close_tracks(int fd)
{
	if (fd >= 0 && fd < 1024) {
		closed_twice += was_closed[fd];
		was_closed[fd] = true;
	}
	return afile__sys_default.close(fd);
}

/* A sidecar removed between patches: the lock is taken on a new one. */
static void
test_sidecar_removed(void **state)
{
	struct h_ctx *c = *state;
	struct afile_patcher *p = open_f_try(c);
	struct afile_lock *l = NULL;

	assert_ok(patch1(p, 0, "a"));
	assert_int_equal(unlinkat(c->dfd, LOCK, 0), 0);
	/* Whoever holds the new sidecar's lock holds the patcher off. */
	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	afile__sys.openat = openat_tracks;
	afile__sys.close = close_tracks;
	assert_err(patch1(p, 1, "b"), -EAGAIN);
	afile__sys_reset();
	assert_int_equal(closed_twice, 0);
	afile_lock_release(l);
	assert_ok(patch1(p, 1, "b"));
	assert_file(c, "f", "ab23456789");
	replay_alone(c, TEN, "ab23456789", 10);
	afile_patcher_free(p);
}

static int fail_datasync;

static int
fdatasync_fails(int fd)
{
	if (fail_datasync) {
		fail_datasync = 0;
		errno = EIO;
		return -1;
	}
	return afile__sys_default.fdatasync(fd);
}

/* A failed patch changes nothing, and the next one works. */
static void
test_failed_patch(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	struct afile_patcher *p = NULL;
	int fds = h_count_fds();

	o.err = &e;
	h_puts(c, "f", TEN);
	assert_ok(afile_patcher_open(c->dfd, "f", 0, &o, &p));
	assert_ok(patch1(p, 0, "a"));
	afile__sys.fdatasync = fdatasync_fails;
	fail_datasync = 1;
	assert_err(patch1(p, 1, "b"), -EIO);
	assert_string_equal(e.step, "sync redo log");
	assert_string_equal(e.path, "f");
	assert_file(c, "f", "a123456789");
	assert_ok(patch1(p, 2, "c"));
	afile__sys_reset();
	assert_file(c, "f", "a1c3456789");
	replay_alone(c, TEN, "a1c3456789", 10);
	afile_patcher_free(p);
	assert_int_equal(h_count_fds(), fds);
}

static int die_at_pwrite;

static ssize_t
pwrite_dies(int fd, const void *b, size_t n, off_t off)
{
	if (n == 2 && off == 8 && !memcmp(b, "YY", 2) && --die_at_pwrite == 0)
		_exit(0);
	return afile__sys_default.pwrite(fd, b, n, off);
}

/*
 * A patcher killed half-way in place, in a child of its own (a patcher's
 * locks belong to its open files, which a fork() shares): the next read
 * replays its patch, and another patcher goes on from there.
 */
static void
test_killed_half_way(void **state)
{
	struct h_ctx *c = *state;
	const struct afile_range rg[] = {{0, "XX", 2}, {8, "YY", 2}};
	struct afile_patcher *p;
	int status;
	pid_t pid;
	void *buf;
	size_t len;

	h_puts(c, "f", TEN);
	p = open_f(c);
	assert_ok(patch1(p, 4, "k"));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct afile_patcher *q = NULL;

		if (afile_patcher_open(c->dfd, "f", 0, NULL, &q) < 0 ||
		    afile_patcher_patchv(q, rg, 1) < 0)
			_exit(2);
		die_at_pwrite = 1;
		afile__sys.pwrite = pwrite_dies;
		(void)afile_patcher_patchv(q, rg, 2);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_file(c, "f", "XX23k56789");
	assert_ok(afile_read(c->dfd, "f", &buf, &len, 0, NULL));
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "XX23k567YY", 10);
	free(buf);
	assert_ok(patch1(p, 5, "m"));
	assert_file(c, "f", "XX23km67YY");
	afile_patcher_free(p);
}

/*
 * No stat of a patch asks for timestamps (sys.h, AFILE__AT_NOTIME): one
 * that did would make each write of the file stamp a fine-grained time, a
 * journal handle per write on ext4 since Linux 6.13.
 */
static int stats_with_times;

static int
fstat_counts(int fd, struct stat *st)
{
	stats_with_times++;
	return afile__sys_default.fstat(fd, st);
}

static int
fstatat_counts(int dfd, const char *path, struct stat *st, int flags)
{
	if (!(flags & AFILE__AT_NOTIME))
		stats_with_times++;
	return afile__sys_default.fstatat(dfd, path, st, flags);
}

static void
test_no_timestamps_read(void **state)
{
	struct h_ctx *c = *state;
	struct afile_patcher *p;
	struct stat a, b;
	int fd;

	h_puts(c, "f", TEN);
	p = open_f(c);
	assert_ok(patch1(p, 0, "a"));
	afile__sys.fstat = fstat_counts;
	afile__sys.fstatat = fstatat_counts;
	for (int i = 0; i < 5; i++)
		assert_ok(patch1(p, 1, "b"));
	afile__sys_reset();
	assert_int_equal(stats_with_times, 0);
	afile_patcher_free(p);
	/* What the stat without timestamps gives: all but the times. */
	fd = openat(c->dfd, "f", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_ok(afile__fstatat(fd, "", &b, AT_EMPTY_PATH | AFILE__AT_NOTIME));
	assert_int_equal(a.st_dev, b.st_dev);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_mode, b.st_mode);
	assert_int_equal(a.st_nlink, b.st_nlink);
	assert_int_equal(a.st_uid, b.st_uid);
	assert_int_equal(a.st_gid, b.st_gid);
	assert_int_equal(a.st_size, b.st_size);
	assert_int_equal(a.st_blocks, b.st_blocks);
	assert_int_equal(b.st_mtim.tv_sec, 0);
	assert_ok(afile__fstatat(c->dfd, "f", &b, AFILE__AT_NOTIME));
	assert_int_equal(a.st_ino, b.st_ino);
	assert_err(
	    afile__fstatat(c->dfd, "none", &b, AFILE__AT_NOTIME), -ENOENT);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_bytes_and_checks),
	    T(test_no_open_per_patch),
	    T(test_locks_per_patch),
	    T(test_follows_name),
	    T(test_log_by_name),
	    T(test_sidecar_removed),
	    T(test_failed_patch),
	    T(test_killed_half_way),
	    T(test_no_timestamps_read),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
