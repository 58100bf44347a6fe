/* SPDX-License-Identifier: MIT */
/*
 * test_writer.c - the streaming writer: open/write/fd/commit/free, its
 * state diagram (terminal after commit, poisoned after a failed write),
 * and the promise that nothing is visible before commit and nothing is
 * left after free.
 *
 * The poisoning tests swap entries of the internal syscall table
 * (src/sys.h); the teardown restores it.
 */
#include "helpers.h"

#include "sys.h"

static const char NEW[] = "streamed contents\n";

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

static void
test_open_write_commit(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_non_null(w);
	assert_ok(afile_writer_write(w, "streamed ", 9));
	assert_ok(afile_writer_write(w, NULL, 0));
	assert_ok(afile_writer_write(w, "contents\n", 9));
	/* Nothing is visible before the commit. */
	assert_false(h_exists(c, "f"));
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_replace_visible_only_at_commit(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got = 77;

	h_puts(c, "f", "old");
	h_chmod(c, "f", 0604);
	o.ret_sync = &got;
	assert_ok(afile_writer_open(c->dfd, "f", 0, &o, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	assert_file(c, "f", "old");
	assert_ok(afile_writer_commit(w));
	assert_int_equal(got, AFILE_SYNC_FULL);
	assert_file(c, "f", NEW);
	assert_mode(c, "f", 0604);
	afile_writer_free(w);
	assert_entries(c, ".", "f");
}

static void
test_large_streamed(void **state)
{
	struct h_ctx *c = *state;
	size_t chunk = 65536 + 7, n = 80, i;
	char *data = malloc(chunk * n);
	struct afile_writer *w = NULL;
	struct afile_opts o = AFILE_OPTS_INIT;

	assert_non_null(data);
	h_pattern(data, chunk * n, 12);
	o.size_hint = chunk * n;
	assert_ok(afile_writer_open(c->dfd, "big", 0, &o, &w));
	for (i = 0; i < n; i++)
		assert_ok(afile_writer_write(w, data + i * chunk, chunk));
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	assert_file_mem(c, "big", data, chunk * n);
	free(data);
	assert_entries(c, ".", "big");
}

static void
test_size_hint_larger_than_data(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	struct afile_opts o = AFILE_OPTS_INIT;

	/* The reservation must not become part of the file. */
	o.size_hint = 1024 * 1024;
	assert_ok(afile_writer_open(c->dfd, "f", 0, &o, &w));
	assert_ok(afile_writer_write(w, "short", 5));
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	assert_file(c, "f", "short");
}

static void
test_fd(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	int fd;

	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	fd = afile_writer_fd(w);
	assert_true(fd >= 0);
	assert_int_equal(afile_writer_fd(w), fd);
	/* The offset is shared between write(2) and afile_writer_write(). */
	assert_int_equal(write(fd, "ab", 2), 2);
	assert_ok(afile_writer_write(w, "cd", 2));
	assert_int_equal(write(fd, "ef", 2), 2);
	assert_ok(afile_writer_commit(w));
	assert_err(afile_writer_fd(w), -EINVAL);
	afile_writer_free(w);
	assert_file(c, "f", "abcdef");
	assert_entries(c, ".", "f");
}

static void
test_free_without_commit(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	/* New file: never created. */
	assert_ok(afile_writer_open(c->dfd, "new", 0, NULL, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	afile_writer_free(w);
	assert_empty_dir(c, ".");
	/* Existing file: unchanged. */
	h_puts(c, "f", "old");
	w = NULL;
	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	afile_writer_free(w);
	assert_file(c, "f", "old");
	/* Freed right after open, nothing written. */
	w = NULL;
	assert_ok(
	    afile_writer_open(c->dfd, "f", AFILE_BREAK_HARDLINKS, NULL, &w));
	afile_writer_free(w);
	assert_file(c, "f", "old");
	assert_entries(c, ".", "f");
}

static void
test_terminal_after_commit(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_ok(afile_writer_write(w, "one", 3));
	assert_ok(afile_writer_commit(w));
	assert_err(afile_writer_commit(w), -EINVAL);
	assert_err(afile_writer_write(w, "two", 3), -EINVAL);
	assert_err(afile_writer_fd(w), -EINVAL);
	afile_writer_free(w);
	assert_file(c, "f", "one");
	assert_entries(c, ".", "f");
}

static void
test_terminal_after_failed_commit(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	int r;

	/* A NOREPLACE target that appears between open and commit. */
	assert_ok(afile_writer_open(c->dfd, "f", AFILE_NOREPLACE, NULL, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	h_puts(c, "f", "intruder");
	r = afile_writer_commit(w);
	assert_err(r, -EEXIST);
	assert_file(c, "f", "intruder");
	/* Only free is valid now; every other call is refused. */
	r = afile_writer_commit(w);
	if (r != -EINVAL && r != AFILE_EPOISONED)
		fail_msg("commit after a failed commit: got %d (%s)", r,
		    afile_err_name(r));
	r = afile_writer_write(w, "x", 1);
	if (r != -EINVAL && r != AFILE_EPOISONED)
		fail_msg("write after a failed commit: got %d (%s)", r,
		    afile_err_name(r));
	afile_writer_free(w);
	assert_file(c, "f", "intruder");
	assert_entries(c, ".", "f");
}

static void
test_free_null(void **state)
{
	(void)state;
	afile_writer_free(NULL);
}

static void
test_null_writer(void **state)
{
	(void)state;
	assert_err(afile_writer_write(NULL, "x", 1), -EINVAL);
	assert_err(afile_writer_fd(NULL), -EINVAL);
	assert_err(afile_writer_commit(NULL), -EINVAL);
}

static void
test_write_null_buffer(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_err(afile_writer_write(w, NULL, 1), -EINVAL);
	afile_writer_free(w);
	assert_empty_dir(c, ".");
}

/* Open and check the documented state after a failed open. */
static int
open_checked(
    int dfd, const char *path, unsigned int flags, const struct afile_opts *o)
{
	struct afile_writer *w = (struct afile_writer *)&w;
	int r = afile_writer_open(dfd, path, flags, o, &w);

	if (r == 0) {
		afile_writer_free(w);
		return 0;
	}
	if (w != NULL)
		fail_msg("afile_writer_open failed (%s) but left *ret_writer "
			 "set",
		    afile_err_name(r));
	return r;
}

static void
test_open_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "f", "old");
	r = open_checked(c->dfd, "f", AFILE_NOREPLACE, &o);
	assert_err(r, -EEXIST);
	assert_errinfo(&e, r);
	h_mkdir(c, "d", 0755);
	assert_err(open_checked(c->dfd, "d", 0, NULL), -EISDIR);
	assert_err(open_checked(c->dfd, "nodir/f", 0, NULL), -ENOENT);
	assert_err(open_checked(c->dfd, "f/g", 0, NULL), -ENOTDIR);
	assert_int_equal(mkfifoat(c->dfd, "fifo", 0644), 0);
	alarm(20);
	r = open_checked(c->dfd, "fifo", 0, NULL);
	alarm(0);
	assert_err(r, AFILE_ENOTREG);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "f2", 0), 0);
	assert_err(open_checked(c->dfd, "f", 0, NULL), AFILE_EHARDLINKS);
	h_symlink(c, "loop", "loop");
	assert_err(open_checked(c->dfd, "loop", 0, NULL), -ELOOP);
	assert_file(c, "f", "old");
	assert_entries(c, ".", "d", "f", "f2", "fifo", "loop");
}

static void
test_open_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	assert_err(afile_writer_open(c->dfd, "f", 0, NULL, NULL), -EINVAL);
	assert_err(open_checked(c->dfd, NULL, 0, NULL), -EINVAL);
	assert_err(open_checked(c->dfd, "", 0, NULL), -EINVAL);
	assert_err(open_checked(c->dfd, "f/", 0, NULL), -EINVAL);
	assert_err(open_checked(c->dfd, "..", 0, NULL), -EINVAL);
	assert_err(open_checked(c->dfd, "f", 0x80000000u, NULL), -EINVAL);
	o.size = sizeof(o) - sizeof(void *);
	assert_err(open_checked(c->dfd, "f", 0, &o), -EINVAL);
	o.size = sizeof(o);
	o.sync = 99;
	assert_err(open_checked(c->dfd, "f", 0, &o), -EINVAL);
	assert_empty_dir(c, ".");
}

static int
open_in_sub(struct h_ctx *c, void *arg)
{
	(void)arg;
	return open_checked(c->dfd, "sub/f", 0, NULL);
}

static void
test_open_refuses_before_data(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	/* No write permission: refused at open. */
	h_mkdir(c, "sub", 0755);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, open_in_sub, NULL), -EACCES);
	assert_empty_dir(c, "sub");
	/* An owner the user cannot restore: refused at open. */
	h_chmod(c, "sub", 0777);
	h_puts(c, "sub/f", "old");
	h_chmod(c, "sub/f", 0666);
	h_chown(c, "sub/f", H_OTHER, H_OTHER);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, open_in_sub, NULL), -EPERM);
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
}

static void
test_open_read_only_fs(void **state)
{
	struct h_ctx *c = *state;

	h_mount_tmpfs(c, "mnt");
	h_remount_ro(c, "mnt");
	assert_err(open_checked(c->dfd, "mnt/f", 0, NULL), -EROFS);
	assert_empty_dir(c, "mnt");
}

static void
test_size_hint_too_large(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	/* A reservation the file system cannot give fails at open. */
	h_mount_tmpfs(c, "mnt");
	o.size_hint = 64 * 1024 * 1024;
	r = open_checked(c->dfd, "mnt/f", 0, &o);
	assert_err(r, -ENOSPC);
	assert_empty_dir(c, "mnt");
}

static void
test_write_no_space(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	char chunk[65536];
	int r = 0, i;

	/* Without a size hint the full disk shows in a write: poisoned. */
	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/f", "old");
	memset(chunk, 'x', sizeof(chunk));
	assert_ok(afile_writer_open(c->dfd, "mnt/f", 0, NULL, &w));
	for (i = 0; i < 1000 && r == 0; i++)
		r = afile_writer_write(w, chunk, sizeof(chunk));
	assert_err(r, -ENOSPC);
	assert_err(afile_writer_write(w, "x", 1), AFILE_EPOISONED);
	assert_err(afile_writer_commit(w), AFILE_EPOISONED);
	afile_writer_free(w);
	assert_file(c, "mnt/f", "old");
	assert_entries(c, "mnt", "f");
}

static void
test_set_mode_and_nofollow(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct stat st;

	h_puts(c, "target", "target");
	h_symlink(c, "target", "link");
	o.mode = 0640;
	assert_ok(afile_writer_open(
	    c->dfd, "link", AFILE_SET_MODE | AFILE_NOFOLLOW, &o, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	h_lstat(c, "link", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_mode(c, "link", 0640);
	assert_file(c, "link", NEW);
	assert_file(c, "target", "target");
	assert_entries(c, ".", "link", "target");
}

/* A write(2) replacement that fails with EIO: poisons the writer. */
static ssize_t
write_eio(int fd, const void *buf, size_t n)
{
	(void)fd;
	(void)buf;
	(void)n;
	errno = EIO;
	return -1;
}

static ssize_t
pwrite_eio(int fd, const void *buf, size_t n, off_t off)
{
	(void)fd;
	(void)buf;
	(void)n;
	(void)off;
	errno = EIO;
	return -1;
}

static void
test_poisoned_after_write_error(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	h_puts(c, "f", "old");
	assert_ok(afile_writer_open(c->dfd, "f", 0, NULL, &w));
	assert_ok(afile_writer_write(w, "good", 4));
	afile__sys.write = write_eio;
	afile__sys.pwrite = pwrite_eio;
	assert_err(afile_writer_write(w, "bad", 3), -EIO);
	afile__sys_reset();
	/* The kernel is fine again, but the writer must stay poisoned. */
	assert_err(afile_writer_write(w, "more", 4), AFILE_EPOISONED);
	assert_err(afile_writer_fd(w), AFILE_EPOISONED);
	assert_err(afile_writer_commit(w), AFILE_EPOISONED);
	afile_writer_free(w);
	assert_file(c, "f", "old");
	assert_entries(c, ".", "f");
}

static int
fsync_eio(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static void
test_commit_sync_error(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "f", "old");
	assert_ok(afile_writer_open(c->dfd, "f", 0, &o, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	afile__sys.fsync = fsync_eio;
	afile__sys.fdatasync = fsync_eio;
	r = afile_writer_commit(w);
	afile__sys_reset();
	if (r != -EIO && r != AFILE_EPOISONED)
		fail_msg("commit with a failing fsync: got %d (%s)", r,
		    afile_err_name(r));
	assert_errinfo(&e, r);
	assert_true(afile_writer_commit(w) < 0);
	afile_writer_free(w);
	assert_file(c, "f", "old");
	assert_entries(c, ".", "f");
}

static int
fsync_dir_eio(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return afile__sys_default.fsync(fd);
}

static void
test_commit_dir_sync_error(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	/* Published but not known durable: the one documented exception. */
	o.err = &e;
	h_puts(c, "f", "old");
	assert_ok(afile_writer_open(c->dfd, "f", 0, &o, &w));
	assert_ok(afile_writer_write(w, NEW, strlen(NEW)));
	afile__sys.fsync = fsync_dir_eio;
	r = afile_writer_commit(w);
	afile__sys_reset();
	assert_err(r, AFILE_EUNSYNCED);
	assert_errinfo(&e, r);
	assert_int_equal(e.cause, -EIO);
	afile_writer_free(w);
	assert_file(c, "f", NEW);
	/* The same through the one-shot call, for a new file. */
	afile__sys.fsync = fsync_dir_eio;
	r = afile_write(c->dfd, "g", NEW, strlen(NEW), AFILE_NOREPLACE, &o);
	afile__sys_reset();
	assert_err(r, AFILE_EUNSYNCED);
	assert_errinfo(&e, r);
	assert_int_equal(e.cause, -EIO);
	assert_file(c, "g", NEW);
	assert_entries(c, ".", "f", "g");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, teardown)
	    T(test_open_write_commit),
	    T(test_replace_visible_only_at_commit),
	    T(test_large_streamed),
	    T(test_size_hint_larger_than_data),
	    T(test_fd),
	    T(test_free_without_commit),
	    T(test_terminal_after_commit),
	    T(test_terminal_after_failed_commit),
	    T(test_free_null),
	    T(test_null_writer),
	    T(test_write_null_buffer),
	    T(test_open_errors),
	    T(test_open_bad_args),
	    T(test_open_refuses_before_data),
	    T(test_open_read_only_fs),
	    T(test_size_hint_too_large),
	    T(test_write_no_space),
	    T(test_set_mode_and_nofollow),
	    T(test_poisoned_after_write_error),
	    T(test_commit_sync_error),
	    T(test_commit_dir_sync_error),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
