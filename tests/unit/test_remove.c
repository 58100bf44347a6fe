/* SPDX-License-Identifier: MIT */
/*
 * test_remove.c - afile_remove(): removes a name (a symlink itself), and
 * every refusal leaves the name in place.
 */
#include "helpers.h"

static void
test_removes(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got = 77;

	h_puts(c, "f", "x");
	h_puts(c, "keep", "y");
	assert_ok(afile_remove(c->dfd, "f", 0, NULL));
	assert_entries(c, ".", "keep");
	h_puts(c, "g", "x");
	o.ret_sync = &got;
	assert_ok(afile_remove(AT_FDCWD, h_path(c, "g"), 0, &o));
	assert_int_equal(got, AFILE_SYNC_FULL);
	assert_entries(c, ".", "keep");
	assert_file(c, "keep", "y");
}

static void
test_removes_special_files(void **state)
{
	struct h_ctx *c = *state;

	/* The name goes, whatever it names (except a directory). */
	assert_int_equal(mkfifoat(c->dfd, "fifo", 0644), 0);
	assert_ok(afile_remove(c->dfd, "fifo", 0, NULL));
	h_puts(c, "ro", "x");
	h_chmod(c, "ro", 0);
	assert_ok(afile_remove(c->dfd, "ro", 0, NULL));
	assert_empty_dir(c, ".");
}

static void
test_hardlink(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", "shared");
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "other", 0), 0);
	assert_ok(afile_remove(c->dfd, "f", 0, NULL));
	assert_file(c, "other", "shared");
	assert_entries(c, ".", "other");
}

static void
test_symlink_removed_itself(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "target", "stays");
	h_symlink(c, "target", "link");
	assert_ok(afile_remove(c->dfd, "link", 0, NULL));
	assert_file(c, "target", "stays");
	assert_entries(c, ".", "target");
	h_symlink(c, "missing", "dangling");
	assert_ok(afile_remove(c->dfd, "dangling", 0, NULL));
	h_symlink(c, "loop", "loop");
	assert_ok(afile_remove(c->dfd, "loop", 0, NULL));
	/* A symlink to a directory is a name like any other. */
	h_mkdir(c, "d", 0755);
	h_symlink(c, "d", "dlink");
	assert_ok(afile_remove(c->dfd, "dlink", 0, NULL));
	assert_entries(c, ".", "d", "target");
}

static void
test_missing(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	r = afile_remove(c->dfd, "missing", 0, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(afile_remove(c->dfd, "nodir/f", 0, NULL), -ENOENT);
	h_puts(c, "file", "x");
	assert_err(afile_remove(c->dfd, "file/f", 0, NULL), -ENOTDIR);
	assert_entries(c, ".", "file");
}

static void
test_directory(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_mkdir(c, "empty", 0755);
	h_mkdir(c, "full", 0755);
	h_puts(c, "full/f", "x");
	r = afile_remove(c->dfd, "empty", 0, &o);
	assert_err(r, -EISDIR);
	assert_errinfo(&e, r);
	assert_err(afile_remove(c->dfd, "full", 0, NULL), -EISDIR);
	assert_entries(c, ".", "empty", "full");
	assert_entries(c, "full", "f");
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	static const char *const bad_paths[] = {
	    "", "f/", ".", "..", "d/.", "d/.."};
	size_t i;

	h_puts(c, "f", "x");
	h_mkdir(c, "d", 0755);
	assert_err(afile_remove(c->dfd, NULL, 0, NULL), -EINVAL);
	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		int r = afile_remove(c->dfd, bad_paths[i], 0, NULL);

		if (r != -EINVAL)
			fail_msg("path \"%s\": got %d (%s), expected -EINVAL",
			    bad_paths[i], r, afile_err_name(r));
	}
	/* No flags are defined yet. */
	assert_err(afile_remove(c->dfd, "f", 1, NULL), -EINVAL);
	assert_err(afile_remove(c->dfd, "f", 0x80000000u, NULL), -EINVAL);
	o.size = 3;
	assert_err(afile_remove(c->dfd, "f", 0, &o), -EINVAL);
	o.size = sizeof(o);
	o.sync = 99;
	assert_err(afile_remove(c->dfd, "f", 0, &o), -EINVAL);
	assert_entries(c, ".", "d", "f");
}

static void
test_name_too_long(void **state)
{
	struct h_ctx *c = *state;
	char name[NAME_MAX + 2];

	memset(name, 'a', NAME_MAX + 1);
	name[NAME_MAX + 1] = '\0';
	assert_err(afile_remove(c->dfd, name, 0, NULL), -ENAMETOOLONG);
	name[NAME_MAX] = '\0';
	h_puts(c, name, "x");
	assert_ok(afile_remove(c->dfd, name, 0, NULL));
	assert_empty_dir(c, ".");
}

static int
remove_sub_f(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_remove(c->dfd, "sub/f", 0, NULL);
}

static void
test_no_permission(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/f", "x");
	h_chmod(c, "sub/f", 0666);
	assert_err(
	    h_run_as(c, H_NOBODY, H_NOBODY, remove_sub_f, NULL), -EACCES);
	assert_entries(c, "sub", "f");
}

static void
test_sticky_directory(void **state)
{
	struct h_ctx *c = *state;
	int r;

	h_require_root();
	h_mkdir(c, "sub", 01777);
	h_puts(c, "sub/f", "x");
	h_chown(c, "sub/f", H_OTHER, H_OTHER);
	r = h_run_as(c, H_NOBODY, H_NOBODY, remove_sub_f, NULL);
	if (r != -EPERM && r != -EACCES)
		fail_msg("got %d (%s), expected -EPERM or -EACCES", r,
		    afile_err_name(r));
	assert_entries(c, "sub", "f");
	/* The user's own file may go. */
	h_chown(c, "sub/f", H_NOBODY, H_NOBODY);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, remove_sub_f, NULL));
	assert_empty_dir(c, "sub");
}

static void
test_read_only_fs(void **state)
{
	struct h_ctx *c = *state;

	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/f", "x");
	h_remount_ro(c, "mnt");
	assert_err(afile_remove(c->dfd, "mnt/f", 0, NULL), -EROFS);
	assert_entries(c, "mnt", "f");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_removes),
	    T(test_removes_special_files),
	    T(test_hardlink),
	    T(test_symlink_removed_itself),
	    T(test_missing),
	    T(test_directory),
	    T(test_bad_args),
	    T(test_name_too_long),
	    T(test_no_permission),
	    T(test_sticky_directory),
	    T(test_read_only_fs),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
