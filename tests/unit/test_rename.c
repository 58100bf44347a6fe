/* SPDX-License-Identifier: MIT */
/*
 * test_rename.c - afile_rename(): plain, NOREPLACE, EXCHANGE, symlinks,
 * directories, and moves across file systems (a tmpfs mounted in the
 * test directory, since /tmp may be on the same file system).
 */
#include "helpers.h"

static void
test_plain(void **state)
{
	struct h_ctx *c = *state;
	struct stat before, after;
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got = 77;

	h_puts(c, "a", "contents of a");
	h_chmod(c, "a", 0640);
	h_lstat(c, "a", &before);
	o.ret_sync = &got;
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "b", 0, &o));
	assert_int_equal(got, AFILE_SYNC_FULL);
	h_lstat(c, "b", &after);
	/* A rename, not a copy: the same inode. */
	assert_int_equal(after.st_ino, before.st_ino);
	assert_file(c, "b", "contents of a");
	assert_mode(c, "b", 0640);
	assert_entries(c, ".", "b");
}

static void
test_replaces(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "a", "new");
	h_puts(c, "b", "old");
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "b", 0, NULL));
	assert_file(c, "b", "new");
	assert_entries(c, ".", "b");
}

static void
test_across_directories(void **state)
{
	struct h_ctx *c = *state;
	int d1, d2;

	h_mkdir(c, "d1", 0755);
	h_mkdir(c, "d2", 0755);
	h_puts(c, "d1/a", "moved");
	d1 = openat(c->dfd, "d1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d2 = openat(c->dfd, "d2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d1 >= 0 && d2 >= 0);
	assert_ok(afile_rename(d1, "a", d2, "b", 0, NULL));
	close(d1);
	close(d2);
	assert_ok(afile_rename(
	    AT_FDCWD, h_path(c, "d2/b"), AT_FDCWD, h_path(c, "d1/c"), 0, NULL));
	assert_file(c, "d1/c", "moved");
	assert_entries(c, "d1", "c");
	assert_empty_dir(c, "d2");
}

static void
test_noreplace(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "a", "A");
	h_puts(c, "b", "B");
	r = afile_rename(c->dfd, "a", c->dfd, "b", AFILE_NOREPLACE, &o);
	assert_err(r, -EEXIST);
	assert_errinfo(&e, r);
	assert_file(c, "a", "A");
	assert_file(c, "b", "B");
	/* A dangling symlink at the destination exists too. */
	h_symlink(c, "nowhere", "dangling");
	assert_err(afile_rename(
		       c->dfd, "a", c->dfd, "dangling", AFILE_NOREPLACE, NULL),
	    -EEXIST);
	assert_ok(
	    afile_rename(c->dfd, "a", c->dfd, "c", AFILE_NOREPLACE, NULL));
	assert_file(c, "c", "A");
	assert_entries(c, ".", "b", "c", "dangling");
}

static void
test_exchange(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "a", "A");
	h_chmod(c, "a", 0600);
	h_puts(c, "b", "BB");
	h_chmod(c, "b", 0644);
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "b", AFILE_EXCHANGE, NULL));
	assert_file(c, "a", "BB");
	assert_mode(c, "a", 0644);
	assert_file(c, "b", "A");
	assert_mode(c, "b", 0600);
	/* A file and a directory can swap too. */
	h_mkdir(c, "d", 0755);
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "d", AFILE_EXCHANGE, NULL));
	assert_file(c, "d", "BB");
	assert_empty_dir(c, "a");
	/* Both must exist. */
	r = afile_rename(c->dfd, "b", c->dfd, "missing", AFILE_EXCHANGE, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(
	    afile_rename(c->dfd, "missing", c->dfd, "b", AFILE_EXCHANGE, NULL),
	    -ENOENT);
	assert_file(c, "b", "A");
	assert_entries(c, ".", "a", "b", "d");
}

static void
test_both_flags(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "a", "A");
	h_puts(c, "b", "B");
	assert_err(afile_rename(c->dfd, "a", c->dfd, "b",
		       AFILE_NOREPLACE | AFILE_EXCHANGE, NULL),
	    -EINVAL);
	assert_err(afile_rename(c->dfd, "a", c->dfd, "c",
		       AFILE_NOREPLACE | AFILE_EXCHANGE, NULL),
	    -EINVAL);
	assert_file(c, "a", "A");
	assert_file(c, "b", "B");
	assert_entries(c, ".", "a", "b");
}

static void
test_missing_source(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "b", "B");
	r = afile_rename(c->dfd, "missing", c->dfd, "b", 0, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(
	    afile_rename(c->dfd, "missing", c->dfd, "c", AFILE_NOREPLACE, NULL),
	    -ENOENT);
	assert_err(
	    afile_rename(c->dfd, "b", c->dfd, "nodir/c", 0, NULL), -ENOENT);
	assert_err(afile_rename(c->dfd, "b", c->dfd, "b/c", 0, NULL), -ENOTDIR);
	assert_file(c, "b", "B");
	assert_entries(c, ".", "b");
}

static void
test_symlink_not_followed(void **state)
{
	struct h_ctx *c = *state;
	char buf[32];
	ssize_t n;

	h_puts(c, "target", "T");
	h_symlink(c, "target", "link");
	assert_ok(afile_rename(c->dfd, "link", c->dfd, "link2", 0, NULL));
	n = readlinkat(c->dfd, "link2", buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "target", 6);
	assert_file(c, "target", "T");
	/* A symlink at the destination is replaced, not followed. */
	h_puts(c, "new", "N");
	assert_ok(afile_rename(c->dfd, "new", c->dfd, "link2", 0, NULL));
	assert_file(c, "link2", "N");
	assert_file(c, "target", "T");
	assert_entries(c, ".", "link2", "target");
}

static void
test_directories(void **state)
{
	struct h_ctx *c = *state;

	h_mkdir(c, "d", 0755);
	h_puts(c, "d/f", "inside");
	assert_ok(afile_rename(c->dfd, "d", c->dfd, "e", 0, NULL));
	assert_file(c, "e/f", "inside");
	h_puts(c, "file", "x");
	assert_err(afile_rename(c->dfd, "file", c->dfd, "e", 0, NULL), -EISDIR);
	assert_err(
	    afile_rename(c->dfd, "e", c->dfd, "file", 0, NULL), -ENOTDIR);
	/* Into itself. */
	assert_err(
	    afile_rename(c->dfd, "e", c->dfd, "e/sub", 0, NULL), -EINVAL);
	assert_entries(c, ".", "e", "file");
	assert_entries(c, "e", "f");
}

static void
test_same_name(void **state)
{
	struct h_ctx *c = *state;

	/* rename(2) of a name onto itself succeeds and changes nothing. */
	h_puts(c, "a", "A");
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "a", 0, NULL));
	assert_file(c, "a", "A");
	assert_entries(c, ".", "a");
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	h_puts(c, "a", "A");
	assert_err(afile_rename(c->dfd, NULL, c->dfd, "b", 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, "a", c->dfd, NULL, 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, "", c->dfd, "b", 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, "a", c->dfd, "", 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, "a/", c->dfd, "b", 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, "a", c->dfd, "b/", 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, ".", c->dfd, "b", 0, NULL), -EINVAL);
	assert_err(afile_rename(c->dfd, "a", c->dfd, "..", 0, NULL), -EINVAL);
	assert_err(
	    afile_rename(c->dfd, "a", c->dfd, "b", 0x80000000u, NULL), -EINVAL);
	assert_err(
	    afile_rename(c->dfd, "a", c->dfd, "b", AFILE_SET_MODE << 4, NULL),
	    -EINVAL);
	o.size = sizeof(o) + 1;
	assert_err(afile_rename(c->dfd, "a", c->dfd, "b", 0, &o), -EINVAL);
	o.size = sizeof(o);
	o.sync = 99;
	assert_err(afile_rename(c->dfd, "a", c->dfd, "b", 0, &o), -EINVAL);
	assert_entries(c, ".", "a");
}

static int
rename_in_sub(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_rename(c->dfd, "sub/a", c->dfd, "sub/b", 0, NULL);
}

static void
test_no_permission(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/a", "A");
	assert_err(
	    h_run_as(c, H_NOBODY, H_NOBODY, rename_in_sub, NULL), -EACCES);
	assert_entries(c, "sub", "a");
}

static void
test_sticky_directory(void **state)
{
	struct h_ctx *c = *state;
	int r;

	h_require_root();
	h_mkdir(c, "sub", 01777);
	h_puts(c, "sub/a", "A");
	h_chown(c, "sub/a", H_OTHER, H_OTHER);
	r = h_run_as(c, H_NOBODY, H_NOBODY, rename_in_sub, NULL);
	if (r != -EPERM && r != -EACCES)
		fail_msg("got %d (%s), expected -EPERM or -EACCES", r,
		    afile_err_name(r));
	assert_entries(c, "sub", "a");
}

static void
test_read_only_fs(void **state)
{
	struct h_ctx *c = *state;

	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/a", "A");
	h_remount_ro(c, "mnt");
	assert_err(
	    afile_rename(c->dfd, "mnt/a", c->dfd, "mnt/b", 0, NULL), -EROFS);
	assert_entries(c, "mnt", "a");
}

static void
test_across_file_systems(void **state)
{
	struct h_ctx *c = *state;
	struct timespec ts[2] = {{1400000000, 42}, {1400000000, 42}};
	struct stat st;
	size_t len = 3 * 1024 * 1024 + 1;
	char *data;

	h_mount_tmpfs(c, "mnt");
	data = malloc(len);
	assert_non_null(data);
	h_pattern(data, len, 11);
	h_put(c, "a", data, len, 0640);
	assert_int_equal(utimensat(c->dfd, "a", ts, 0), 0);
	h_chown(c, "a", H_OTHER, H_OTHER);
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "mnt/b", 0, NULL));
	assert_file_mem(c, "mnt/b", data, len);
	free(data);
	assert_mode(c, "mnt/b", 0640);
	h_lstat(c, "mnt/b", &st);
	assert_int_equal(st.st_uid, H_OTHER);
	assert_int_equal(st.st_gid, H_OTHER);
	assert_int_equal(st.st_mtim.tv_sec, 1400000000);
	assert_int_equal(st.st_mtim.tv_nsec, 42);
	assert_entries(c, ".", "mnt");
	assert_entries(c, "mnt", "b");
	/* And back, replacing an existing file. */
	h_puts(c, "back", "old");
	assert_ok(afile_rename(c->dfd, "mnt/b", c->dfd, "back", 0, NULL));
	assert_mode(c, "back", 0640);
	assert_empty_dir(c, "mnt");
	assert_entries(c, ".", "back", "mnt");
}

static void
test_across_file_systems_refusals(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_mount_tmpfs(c, "mnt");
	h_puts(c, "a", "A");
	h_puts(c, "mnt/b", "B");
	r = afile_rename(c->dfd, "a", c->dfd, "mnt/b", AFILE_NOREPLACE, &o);
	assert_err(r, -EEXIST);
	assert_errinfo(&e, r);
	r = afile_rename(c->dfd, "a", c->dfd, "mnt/b", AFILE_EXCHANGE, &o);
	assert_err(r, -EXDEV);
	assert_errinfo(&e, r);
	h_mkdir(c, "d", 0755);
	r = afile_rename(c->dfd, "d", c->dfd, "mnt/d", 0, &o);
	assert_err(r, -EXDEV);
	assert_errinfo(&e, r);
	/* The destination is a directory. */
	h_mkdir(c, "mnt/dir", 0755);
	assert_err(
	    afile_rename(c->dfd, "a", c->dfd, "mnt/dir", 0, NULL), -EISDIR);
	/* A move with NOREPLACE to a free name works. */
	assert_ok(
	    afile_rename(c->dfd, "a", c->dfd, "mnt/c", AFILE_NOREPLACE, NULL));
	assert_file(c, "mnt/c", "A");
	assert_file(c, "mnt/b", "B");
	assert_entries(c, ".", "d", "mnt");
	assert_entries(c, "mnt", "b", "c", "dir");
}

static void
test_across_file_systems_linked_source(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	/*
	 * A hard-linked source: the copy is published and the source name
	 * removed, the other link keeps the data.
	 */
	h_mount_tmpfs(c, "mnt");
	h_puts(c, "a", "A");
	assert_int_equal(linkat(c->dfd, "a", c->dfd, "a2", 0), 0);
	assert_ok(afile_rename(c->dfd, "a", c->dfd, "mnt/b", 0, NULL));
	assert_file(c, "mnt/b", "A");
	assert_file(c, "a2", "A");
	h_lstat(c, "a2", &st);
	assert_int_equal(st.st_nlink, 1);
	assert_entries(c, ".", "a2", "mnt");
}

static int
move_to_mnt(struct h_ctx *c, void *arg)
{
	unsigned int flags = arg != NULL ? *(unsigned int *)arg : 0;

	return afile_rename(c->dfd, "sub/a", c->dfd, "mnt/a", flags, NULL);
}

static void
test_across_file_systems_owner_policy(void **state)
{
	struct h_ctx *c = *state;
	unsigned int best = AFILE_OWNER_BEST_EFFORT;
	struct stat st;

	/*
	 * An unprivileged move across file systems of another user's file:
	 * the copy cannot keep the owner, so it is refused unless
	 * AFILE_OWNER_BEST_EFFORT.
	 */
	h_mount_tmpfs(c, "mnt");
	h_chmod(c, "mnt", 0777);
	h_mkdir(c, "sub", 0777);
	h_puts(c, "sub/a", "A");
	h_chmod(c, "sub/a", 0644);
	h_chown(c, "sub/a", H_OTHER, H_OTHER);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, move_to_mnt, NULL), -EPERM);
	assert_entries(c, "sub", "a");
	assert_empty_dir(c, "mnt");
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, move_to_mnt, &best));
	assert_file(c, "mnt/a", "A");
	assert_mode(c, "mnt/a", 0644);
	h_lstat(c, "mnt/a", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_empty_dir(c, "sub");
}

static void
test_across_file_systems_source_kept(void **state)
{
	struct h_ctx *c = *state;
	unsigned int best = AFILE_OWNER_BEST_EFFORT;
	int r;

	/*
	 * The source's directory forbids removing it.  Either the library
	 * sees that first and changes nothing (-EACCES), or it copies and
	 * says AFILE_ESOURCEKEPT; never a silent success or a lost file.
	 */
	h_mount_tmpfs(c, "mnt");
	h_chmod(c, "mnt", 0777);
	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/a", "A");
	h_chown(c, "sub/a", H_NOBODY, H_NOBODY);
	r = h_run_as(c, H_NOBODY, H_NOBODY, move_to_mnt, &best);
	if (r == AFILE_ESOURCEKEPT) {
		assert_file(c, "mnt/a", "A");
		assert_entries(c, "mnt", "a");
	} else if (r == -EACCES) {
		assert_empty_dir(c, "mnt");
	} else {
		fail_msg("got %d (%s), expected -EACCES or AFILE_ESOURCEKEPT",
		    r, afile_err_name(r));
	}
	assert_file(c, "sub/a", "A");
	assert_entries(c, "sub", "a");
}

static void
test_across_file_systems_symlink(void **state)
{
	struct h_ctx *c = *state;

	/* Only a regular file is copied across; a symlink is not. */
	h_mount_tmpfs(c, "mnt");
	h_symlink(c, "target", "link");
	assert_err(
	    afile_rename(c->dfd, "link", c->dfd, "mnt/link", 0, NULL), -EXDEV);
	assert_entries(c, ".", "link", "mnt");
	assert_empty_dir(c, "mnt");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_plain),
	    T(test_replaces),
	    T(test_across_directories),
	    T(test_noreplace),
	    T(test_exchange),
	    T(test_both_flags),
	    T(test_missing_source),
	    T(test_symlink_not_followed),
	    T(test_directories),
	    T(test_same_name),
	    T(test_bad_args),
	    T(test_no_permission),
	    T(test_sticky_directory),
	    T(test_read_only_fs),
	    T(test_across_file_systems),
	    T(test_across_file_systems_refusals),
	    T(test_across_file_systems_linked_source),
	    T(test_across_file_systems_owner_policy),
	    T(test_across_file_systems_source_kept),
	    T(test_across_file_systems_symlink),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
