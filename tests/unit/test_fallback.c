/* SPDX-License-Identifier: MIT */
/*
 * test_fallback.c - the core checks again with the Linux features
 * switched off, so that the POSIX fallback paths (named temporary files,
 * link+unlink instead of RENAME_NOREPLACE, read/write copies) are tested
 * on Linux.
 *
 * Entries of the internal syscall table (src/sys.h) are swapped for
 * fakes that fail the way a kernel or file system without the feature
 * does: openat(O_TMPFILE), renameat2, FICLONE and copy_file_range.  Two
 * groups run the same tests with different errnos, since old kernels and
 * file systems report a missing feature differently.  The teardown
 * restores the table with afile__sys_reset().
 *
 * State: cfg points at the configuration of the running group.
 */
#include "helpers.h"

#include "sys.h"

struct fallback_cfg {
	const char *name;
	int tmpfile_errno;   /* O_TMPFILE fails with this */
	int renameat2_errno; /* renameat2 fails with this */
	int renameat2_any;   /* ... even without flags (no syscall at all) */
	int ficlone_errno;
	int cfr_errno;
};

static const struct fallback_cfg cfg_nosys = {
    "ENOSYS", EOPNOTSUPP, ENOSYS, 1, EOPNOTSUPP, ENOSYS};
static const struct fallback_cfg cfg_old_fs = {
    "EINVAL", EISDIR, EINVAL, 0, EINVAL, EOPNOTSUPP};
static const struct fallback_cfg *cfg;

/* How often each fake refused, so that a test can show it was reached. */
static int hits_tmpfile, hits_renameat2, hits_ficlone, hits_cfr;

/* Whether the directory fsync fake is on, and the file fsync fake. */
static int dir_fsync_einval;
static int file_fsync_eio;

static int
fake_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		hits_tmpfile++;
		errno = cfg->tmpfile_errno;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
fake_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	if (flags != 0 || cfg->renameat2_any) {
		hits_renameat2++;
		errno = cfg->renameat2_errno;
		return -1;
	}
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
fake_ficlone(int dst_fd, int src_fd)
{
	(void)dst_fd;
	(void)src_fd;
	hits_ficlone++;
	errno = cfg->ficlone_errno;
	return -1;
}

static ssize_t
fake_copy_file_range(int in_fd, off_t *in_off, int out_fd, off_t *out_off,
    size_t len, unsigned int flags)
{
	(void)in_fd;
	(void)in_off;
	(void)out_fd;
	(void)out_off;
	(void)len;
	(void)flags;
	hits_cfr++;
	errno = cfg->cfr_errno;
	return -1;
}

static int
fake_sync(int fd, int (*real)(int))
{
	struct stat st;

	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode) && dir_fsync_einval) {
			errno = EINVAL;
			return -1;
		}
		if (S_ISREG(st.st_mode) && file_fsync_eio) {
			errno = EIO;
			return -1;
		}
	}
	return real(fd);
}

static int
fake_fsync(int fd)
{
	return fake_sync(fd, afile__sys_default.fsync);
}

static int
fake_fdatasync(int fd)
{
	return fake_sync(fd, afile__sys_default.fdatasync);
}

static int
group_nosys(void **state)
{
	(void)state;
	cfg = &cfg_nosys;
	return 0;
}

static int
group_old_fs(void **state)
{
	(void)state;
	cfg = &cfg_old_fs;
	return 0;
}

static int
setup(void **state)
{
	int r = h_setup(state);

	dir_fsync_einval = 0;
	file_fsync_eio = 0;
	hits_tmpfile = hits_renameat2 = hits_ficlone = hits_cfr = 0;
	afile__sys.openat = fake_openat;
	afile__sys.renameat2 = fake_renameat2;
	afile__sys.ficlone = fake_ficlone;
	afile__sys.copy_file_range = fake_copy_file_range;
	afile__sys.fsync = fake_fsync;
	afile__sys.fdatasync = fake_fdatasync;
	return r;
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

static const char NEW[] = "new contents\n";

static void
test_write_new(void **state)
{
	struct h_ctx *c = *state;

	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	/* The fallback was taken, not skipped by some other route. */
	assert_true(hits_tmpfile > 0);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static int
write_with_umask(struct h_ctx *c, void *arg)
{
	(void)arg;
	umask(027);
	return afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL);
}

static void
test_write_new_mode(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	/* The named temporary file's 0600 must not leak into the result. */
	assert_ok(h_run_child(c, write_with_umask, NULL));
	assert_mode(c, "f", 0640);
	o.mode = 0755;
	assert_ok(
	    afile_write(c->dfd, "g", NEW, strlen(NEW), AFILE_SET_MODE, &o));
	assert_mode(c, "g", 0755);
	assert_entries(c, ".", "f", "g");
}

static void
test_write_replace(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", "old contents, longer than the new ones");
	h_chmod(c, "f", 0604);
	h_setxattr(c, "f", "user.fallback", "kept", 4);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	assert_file(c, "f", NEW);
	assert_mode(c, "f", 0604);
	assert_xattr(c, "f", "user.fallback", "kept", 4);
	assert_entries(c, ".", "f");
}

static void
test_write_replace_owner(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	h_puts(c, "f", "old");
	h_chown(c, "f", H_OTHER, H_OTHER);
	h_chmod(c, "f", 04750);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	h_lstat(c, "f", &st);
	assert_int_equal(st.st_uid, H_OTHER);
	assert_int_equal(st.st_gid, H_OTHER);
	assert_mode(c, "f", 04750);
	assert_entries(c, ".", "f");
}

static void
test_create(void **state)
{
	struct h_ctx *c = *state;

	assert_ok(
	    afile_write(c->dfd, "f", NEW, strlen(NEW), AFILE_NOREPLACE, NULL));
	assert_file(c, "f", NEW);
	assert_err(
	    afile_write(c->dfd, "f", "x", 1, AFILE_NOREPLACE, NULL), -EEXIST);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_name_max(void **state)
{
	struct h_ctx *c = *state;
	char name[NAME_MAX + 1];

	/* The temporary name beside it must be shortened, not fail. */
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	assert_ok(afile_write(c->dfd, name, "1", 1, 0, NULL));
	assert_ok(afile_write(c->dfd, name, "2", 1, 0, NULL));
	assert_err(
	    afile_write(c->dfd, name, "3", 1, AFILE_NOREPLACE, NULL), -EEXIST);
	assert_file(c, name, "2");
	name[0] = '.';
	assert_ok(afile_write(c->dfd, name, "4", 1, AFILE_NOREPLACE, NULL));
	assert_ok(afile_write(c->dfd, name, "5", 1, 0, NULL));
	assert_ok(afile_copy(c->dfd, name, c->dfd, name + 1, 0, NULL));
	assert_file(c, name + 1, "5");
	assert_ok(afile_patch(c->dfd, name, 0, "4", 1, 0, NULL));
	assert_file(c, name, "4");
	{
		char other[NAME_MAX + 1];

		memset(other, 'n', NAME_MAX);
		other[NAME_MAX] = '\0';
		assert_entries(c, ".", other, name, name + 1);
	}
}

static void
test_symlink_and_hardlinks(void **state)
{
	struct h_ctx *c = *state;

	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/t", "old");
	h_symlink(c, "sub/t", "link");
	assert_ok(afile_write(c->dfd, "link", NEW, strlen(NEW), 0, NULL));
	assert_file(c, "sub/t", NEW);
	assert_int_equal(linkat(c->dfd, "sub/t", c->dfd, "sub/t2", 0), 0);
	assert_err(
	    afile_write(c->dfd, "link", "x", 1, 0, NULL), AFILE_EHARDLINKS);
	assert_ok(
	    afile_write(c->dfd, "link", "x", 1, AFILE_BREAK_HARDLINKS, NULL));
	assert_file(c, "sub/t", "x");
	assert_file(c, "sub/t2", NEW);
	assert_entries(c, ".", "link", "sub");
	assert_entries(c, "sub", "t", "t2");
}

static void
test_write_fsync_error_leaves_nothing(void **state)
{
	struct h_ctx *c = *state;
	int r;

	h_puts(c, "f", "old");
	file_fsync_eio = 1;
	r = afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL);
	if (r != -EIO && r != AFILE_EPOISONED)
		fail_msg("got %d (%s), expected -EIO", r, afile_err_name(r));
	r = afile_write(c->dfd, "g", NEW, strlen(NEW), AFILE_NOREPLACE, NULL);
	if (r != -EIO && r != AFILE_EPOISONED)
		fail_msg("got %d (%s), expected -EIO", r, afile_err_name(r));
	file_fsync_eio = 0;
	assert_file(c, "f", "old");
	assert_entries(c, ".", "f");
}

static void
test_writer(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	int fd;

	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	fd = afile_writer_fd(w);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ab", 2), 2);
	assert_ok(afile_writer_write(w, "cd", 2));
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	assert_file(c, "f", "abcd");
	/* Freed without commit: the named temporary file goes too. */
	w = NULL;
	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_ok(afile_writer_write(w, "lost", 4));
	afile_writer_free(w);
	assert_file(c, "f", "abcd");
	w = NULL;
	assert_ok(afile_writer_open(c->dfd, "new", AFILE_NOREPLACE, NULL, &w));
	afile_writer_free(w);
	assert_entries(c, ".", "f");
}

static void
test_writer_noreplace_race(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	assert_ok(afile_writer_open(c->dfd, "f", AFILE_NOREPLACE, NULL, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	h_puts(c, "f", "intruder");
	assert_err(afile_writer_commit(w), -EEXIST);
	afile_writer_free(w);
	assert_file(c, "f", "intruder");
	assert_entries(c, ".", "f");
}

static void
test_copy(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 3 * 1024 * 1024 + 333;
	char *data = malloc(len);

	assert_non_null(data);
	h_pattern(data, len, 21);
	h_put(c, "src", data, len, 0751);
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "dst", 0, NULL));
	assert_file_mem(c, "dst", data, len);
	assert_mode(c, "dst", 0751);
	assert_true(hits_ficlone > 0);
	assert_true(hits_cfr > 0);
	assert_err(
	    afile_copy(c->dfd, "src", c->dfd, "dst", AFILE_NOREPLACE, NULL),
	    -EEXIST);
	assert_ok(
	    afile_copy(c->dfd, "src", c->dfd, "dst2", AFILE_NOREPLACE, NULL));
	assert_file_mem(c, "dst2", data, len);
	free(data);
	h_puts(c, "empty", "");
	assert_ok(afile_copy(c->dfd, "empty", c->dfd, "dst", 0, NULL));
	assert_file(c, "dst", "");
	assert_entries(c, ".", "dst", "dst2", "empty", "src");
}

static void
test_copy_across_file_systems(void **state)
{
	struct h_ctx *c = *state;

	h_mount_tmpfs(c, "mnt");
	h_puts(c, "src", "across");
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "mnt/dst", 0, NULL));
	assert_file(c, "mnt/dst", "across");
	assert_entries(c, "mnt", "dst");
}

static void
test_patch(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 2 * 1024 * 1024;
	char *data = malloc(len + 10);

	assert_non_null(data);
	h_puts(c, "f", "0123456789");
	h_chmod(c, "f", 0640);
	assert_ok(afile_patch(c->dfd, "f", 3, "AB", 2, 0, NULL));
	assert_file(c, "f", "012AB56789");
	assert_mode(c, "f", 0640);
	assert_ok(afile_patch(c->dfd, "f", 12, "Z", 1, 0, NULL));
	assert_file_mem(c, "f", "012AB56789\0\0Z", 13);
	h_pattern(data, len, 22);
	h_put(c, "big", data, len, 0644);
	assert_ok(
	    afile_patch(c->dfd, "big", len - 3, "0123456789", 10, 0, NULL));
	memcpy(data + len - 3, "0123456789", 10);
	assert_file_mem(c, "big", data, len + 7);
	free(data);
	assert_err(afile_patch(c->dfd, "missing", 0, "x", 1, 0, NULL), -ENOENT);
	assert_entries(c, ".", "big", "f");
}

static void
test_rename(void **state)
{
	struct h_ctx *c = *state;
	int r;

	h_puts(c, "a", "A");
	h_puts(c, "b", "B");
	assert_err(
	    afile_rename(c->dfd, "a", c->dfd, "b", AFILE_NOREPLACE, NULL),
	    -EEXIST);
	assert_file(c, "a", "A");
	assert_file(c, "b", "B");
	assert_ok(
	    afile_rename(c->dfd, "a", c->dfd, "c", AFILE_NOREPLACE, NULL));
	assert_file(c, "c", "A");
	assert_false(h_exists(c, "a"));
	assert_ok(afile_rename(c->dfd, "c", c->dfd, "b", 0, NULL));
	assert_file(c, "b", "A");
	/* Without renameat2, an exchange cannot be done atomically. */
	h_puts(c, "a", "A2");
	r = afile_rename(c->dfd, "a", c->dfd, "b", AFILE_EXCHANGE, NULL);
	if (cfg->renameat2_any)
		assert_err(r, -ENOTSUP);
	else if (r != -ENOTSUP && r != -EINVAL)
		fail_msg("exchange with renameat2 failing EINVAL: got %d (%s)",
		    r, afile_err_name(r));
	assert_file(c, "a", "A2");
	assert_file(c, "b", "A");
	assert_entries(c, ".", "a", "b");
}

static void
test_rename_noreplace_directory(void **state)
{
	struct h_ctx *c = *state;
	int r;

	/*
	 * link() cannot move a directory, so without renameat2 a no-replace
	 * rename of one is refused (-ENOTSUP; -EINVAL passed through when
	 * renameat2 itself said EINVAL, since that is ambiguous), or answered
	 * -EEXIST when the name is taken.  Either way nothing moves.
	 */
	h_mkdir(c, "d", 0755);
	h_puts(c, "d/f", "x");
	h_mkdir(c, "e", 0755);
	r = afile_rename(c->dfd, "d", c->dfd, "e", AFILE_NOREPLACE, NULL);
	if (r != -EEXIST && r != -ENOTSUP &&
	    !(r == -EINVAL && cfg->renameat2_errno == EINVAL))
		fail_msg("got %d (%s)", r, afile_err_name(r));
	r = afile_rename(c->dfd, "d", c->dfd, "new", AFILE_NOREPLACE, NULL);
	if (r != 0 && r != -ENOTSUP &&
	    !(r == -EINVAL && cfg->renameat2_errno == EINVAL))
		fail_msg("got %d (%s)", r, afile_err_name(r));
	if (r == 0)
		assert_int_equal(renameat(c->dfd, "new", c->dfd, "d"), 0);
	assert_entries(c, ".", "d", "e");
	assert_entries(c, "d", "f");
	assert_empty_dir(c, "e");
}

static int
write_sub_f(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_write(c->dfd, "sub/f", NEW, strlen(NEW), 0, NULL);
}

static void
test_refusals_leave_nothing(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_mkdir(c, "sub", 0755);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EACCES);
	assert_empty_dir(c, "sub");
	h_chmod(c, "sub", 0777);
	h_puts(c, "sub/f", "old");
	h_chown(c, "sub/f", H_OTHER, H_OTHER);
	h_chmod(c, "sub/f", 0666);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EPERM);
	h_chmod(c, "sub", 01777);
	{
		int r = h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL);

		if (r != -EPERM && r != -EACCES)
			fail_msg("sticky: got %d (%s)", r, afile_err_name(r));
	}
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
}

static void
test_sync_levels(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got;

	o.ret_sync = &got;
	o.sync = AFILE_SYNC_NONE;
	got = 77;
	assert_ok(afile_write(c->dfd, "f", "none", 4, 0, &o));
	assert_int_equal(got, AFILE_SYNC_NONE);
	assert_file(c, "f", "none");
	o.sync = AFILE_SYNC_DATA;
	got = 77;
	assert_ok(afile_write(c->dfd, "f", "data", 4, 0, &o));
	assert_int_equal(got, AFILE_SYNC_DATA);
	assert_file(c, "f", "data");
	o.sync = AFILE_SYNC_FULL;
	got = 77;
	assert_ok(
	    afile_write(c->dfd, "f", "full", 4, AFILE_BREAK_HARDLINKS, &o));
	assert_int_equal(got, AFILE_SYNC_FULL);
	assert_file(c, "f", "full");
	assert_entries(c, ".", "f");
}

static void
test_dir_fsync_einval(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_writer *w = NULL;
	unsigned int got = 77;

	/* Some FUSE and network file systems refuse a directory fsync. */
	dir_fsync_einval = 1;
	o.ret_sync = &got;
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, &o));
	assert_int_equal(got, AFILE_SYNC_DATA);
	assert_file(c, "f", NEW);
	got = 77;
	assert_ok(
	    afile_write(c->dfd, "g", NEW, strlen(NEW), AFILE_NOREPLACE, &o));
	assert_int_equal(got, AFILE_SYNC_DATA);
	got = 77;
	assert_ok(afile_writer_open(c->dfd, "f", 0, &o, &w));
	assert_ok(afile_writer_write(w, "w", 1));
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	assert_int_equal(got, AFILE_SYNC_DATA);
	assert_file(c, "f", "w");
	got = 77;
	assert_ok(afile_remove(c->dfd, "g", 0, &o));
	assert_int_equal(got, AFILE_SYNC_DATA);
	got = 77;
	assert_ok(afile_rename(c->dfd, "f", c->dfd, "h", 0, &o));
	assert_int_equal(got, AFILE_SYNC_DATA);
	dir_fsync_einval = 0;
	assert_file(c, "h", "w");
	assert_entries(c, ".", "h");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_write_new),
	    T(test_write_new_mode),
	    T(test_write_replace),
	    T(test_write_replace_owner),
	    T(test_create),
	    T(test_name_max),
	    T(test_symlink_and_hardlinks),
	    T(test_write_fsync_error_leaves_nothing),
	    T(test_writer),
	    T(test_writer_noreplace_race),
	    T(test_copy),
	    T(test_copy_across_file_systems),
	    T(test_patch),
	    T(test_rename),
	    T(test_rename_noreplace_directory),
	    T(test_refusals_leave_nothing),
	    T(test_sync_levels),
	    T(test_dir_fsync_einval),
#undef T
	};
	int failed;

	h_init();
	failed = cmocka_run_group_tests_name(
	    "fallback-ENOSYS", tests, group_nosys, NULL);
	failed += cmocka_run_group_tests_name(
	    "fallback-old-fs", tests, group_old_fs, NULL);
	return h_main_result(failed);
}
