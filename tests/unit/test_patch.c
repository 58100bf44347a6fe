/* SPDX-License-Identifier: MIT */
/*
 * test_patch.c - afile_patch(): a byte range replaced with pwrite
 * semantics (middle, end, past the end with a hole), metadata kept, and
 * the errors.
 */
#include "helpers.h"

static const char TEN[] = "0123456789";

static void
test_middle(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 3, "AB", 2, 0, NULL));
	assert_file(c, "f", "012AB56789");
	assert_ok(afile_patch(c->dfd, "f", 0, "X", 1, 0, NULL));
	assert_file(c, "f", "X12AB56789");
	/* Up to the last byte exactly. */
	assert_ok(afile_patch(c->dfd, "f", 8, "YZ", 2, 0, NULL));
	assert_file(c, "f", "X12AB567YZ");
	assert_entries(c, ".", "f");
}

static void
test_at_end(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 10, "XYZ", 3, 0, NULL));
	assert_file(c, "f", "0123456789XYZ");
	/* Overlapping the end grows the file. */
	assert_ok(afile_patch(c->dfd, "f", 12, "!!!", 3, 0, NULL));
	assert_file(c, "f", "0123456789XY!!!");
	assert_entries(c, ".", "f");
}

static void
test_beyond_eof(void **state)
{
	struct h_ctx *c = *state;
	char want[23];

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 20, "END", 3, 0, NULL));
	memcpy(want, TEN, 10);
	memset(want + 10, 0, 10);
	memcpy(want + 20, "END", 3);
	assert_file_mem(c, "f", want, sizeof(want));
	/* Into an empty file. */
	h_puts(c, "e", "");
	assert_ok(afile_patch(c->dfd, "e", 5, "x", 1, 0, NULL));
	assert_file_mem(c, "e", "\0\0\0\0\0x", 6);
	assert_entries(c, ".", "e", "f");
}

static void
test_empty_patch(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	assert_ok(afile_patch(c->dfd, "f", 4, NULL, 0, 0, NULL));
	assert_file(c, "f", TEN);
	assert_entries(c, ".", "f");
}

static void
test_large_file(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 6 * 1024 * 1024 + 3;
	char *data = malloc(len), patch[5000];

	assert_non_null(data);
	h_pattern(data, len, 5);
	h_put(c, "big", data, len, 0644);
	h_pattern(patch, sizeof(patch), 6);
	assert_ok(afile_patch(c->dfd, "big", 3 * 1024 * 1024 - 100, patch,
	    sizeof(patch), 0, NULL));
	memcpy(data + 3 * 1024 * 1024 - 100, patch, sizeof(patch));
	assert_file_mem(c, "big", data, len);
	free(data);
	assert_entries(c, ".", "big");
}

static void
test_metadata_kept(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	h_chmod(c, "f", 0640);
	h_setxattr(c, "f", "user.afile.patch", "kept", 4);
	assert_ok(afile_patch(c->dfd, "f", 1, "-", 1, 0, NULL));
	assert_file(c, "f", "0-23456789");
	assert_mode(c, "f", 0640);
	assert_xattr(c, "f", "user.afile.patch", "kept", 4);
	h_chmod(c, "f", 04711);
	assert_ok(afile_patch(c->dfd, "f", 2, "+", 1, 0, NULL));
	assert_mode(c, "f", 04711);
	assert_entries(c, ".", "f");
}

static void
test_owner_kept(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	h_puts(c, "f", TEN);
	h_chown(c, "f", H_OTHER, H_OTHER);
	h_chmod(c, "f", 02750);
	assert_ok(afile_patch(c->dfd, "f", 0, "a", 1, 0, NULL));
	h_lstat(c, "f", &st);
	assert_int_equal(st.st_uid, H_OTHER);
	assert_int_equal(st.st_gid, H_OTHER);
	assert_mode(c, "f", 02750);
	assert_file(c, "f", "a123456789");
}

static void
test_symlinks(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_puts(c, "target", TEN);
	h_symlink(c, "target", "link");
	assert_ok(afile_patch(c->dfd, "link", 0, "L", 1, 0, NULL));
	assert_file(c, "target", "L123456789");
	h_lstat(c, "link", &st);
	assert_true(S_ISLNK(st.st_mode));
	/* AFILE_NOFOLLOW: a symlink is not an existing regular file. */
	assert_true(
	    afile_patch(c->dfd, "link", 0, "N", 1, AFILE_NOFOLLOW, NULL) < 0);
	assert_file(c, "target", "L123456789");
	h_lstat(c, "link", &st);
	assert_true(S_ISLNK(st.st_mode));
	h_symlink(c, "missing", "dangling");
	assert_err(
	    afile_patch(c->dfd, "dangling", 0, "x", 1, 0, NULL), -ENOENT);
	assert_entries(c, ".", "dangling", "link", "target");
}

static void
test_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	r = afile_patch(c->dfd, "missing", 0, "x", 1, 0, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(afile_patch(c->dfd, "nodir/f", 0, "x", 1, 0, NULL), -ENOENT);
	h_mkdir(c, "d", 0755);
	assert_err(afile_patch(c->dfd, "d", 0, "x", 1, 0, NULL), -EISDIR);
	assert_int_equal(mkfifoat(c->dfd, "fifo", 0644), 0);
	alarm(20);
	r = afile_patch(c->dfd, "fifo", 0, "x", 1, 0, NULL);
	alarm(0);
	assert_err(r, AFILE_ENOTREG);
	h_puts(c, "f", TEN);
	assert_err(afile_patch(c->dfd, "f/g", 0, "x", 1, 0, NULL), -ENOTDIR);
	/* offset + len overflows. */
	r = afile_patch(c->dfd, "f", UINT64_MAX, "x", 1, 0, &o);
	assert_err(r, -EFBIG);
	assert_errinfo(&e, r);
	assert_err(afile_patch(c->dfd, "f", UINT64_MAX - 1, "xyz", 3, 0, NULL),
	    -EFBIG);
	assert_file(c, "f", TEN);
	assert_entries(c, ".", "d", "f", "fifo");
}

static void
test_hardlinks(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", TEN);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "other", 0), 0);
	assert_err(
	    afile_patch(c->dfd, "f", 0, "x", 1, 0, NULL), AFILE_EHARDLINKS);
	assert_file(c, "f", TEN);
	assert_ok(
	    afile_patch(c->dfd, "f", 0, "x", 1, AFILE_BREAK_HARDLINKS, NULL));
	assert_file(c, "f", "x123456789");
	assert_file(c, "other", TEN);
	assert_entries(c, ".", "f", "other");
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	h_puts(c, "f", TEN);
	assert_err(afile_patch(c->dfd, NULL, 0, "x", 1, 0, NULL), -EINVAL);
	assert_err(afile_patch(c->dfd, "", 0, "x", 1, 0, NULL), -EINVAL);
	assert_err(afile_patch(c->dfd, "f/", 0, "x", 1, 0, NULL), -EINVAL);
	assert_err(afile_patch(c->dfd, "f", 0, NULL, 1, 0, NULL), -EINVAL);
	assert_err(
	    afile_patch(c->dfd, "f", 0, "x", 1, 0x80000000u, NULL), -EINVAL);
	o.size = 0;
	assert_err(afile_patch(c->dfd, "f", 0, "x", 1, 0, &o), -EINVAL);
	o.size = sizeof(o);
	o.sync = 99;
	assert_err(afile_patch(c->dfd, "f", 0, "x", 1, 0, &o), -EINVAL);
	assert_file(c, "f", TEN);
	assert_entries(c, ".", "f");
}

static int
patch_sub_f(struct h_ctx *c, void *arg)
{
	unsigned int flags = arg != NULL ? *(unsigned int *)arg : 0;

	return afile_patch(c->dfd, "sub/f", 0, "x", 1, flags, NULL);
}

static void
test_no_permission(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/f", TEN);
	h_chmod(c, "sub/f", 0666);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, patch_sub_f, NULL), -EACCES);
	assert_file(c, "sub/f", TEN);
	assert_entries(c, "sub", "f");
}

static void
test_owner_not_restorable(void **state)
{
	struct h_ctx *c = *state;
	unsigned int best = AFILE_OWNER_BEST_EFFORT;
	struct stat st;

	h_require_root();
	h_mkdir(c, "sub", 0777);
	h_puts(c, "sub/f", TEN);
	h_chmod(c, "sub/f", 0666);
	h_chown(c, "sub/f", H_OTHER, H_OTHER);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, patch_sub_f, NULL), -EPERM);
	assert_file(c, "sub/f", TEN);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, patch_sub_f, &best));
	assert_file(c, "sub/f", "x123456789");
	h_lstat(c, "sub/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_entries(c, "sub", "f");
}

static void
test_read_only_fs(void **state)
{
	struct h_ctx *c = *state;

	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/f", TEN);
	h_remount_ro(c, "mnt");
	assert_err(afile_patch(c->dfd, "mnt/f", 0, "x", 1, 0, NULL), -EROFS);
	assert_file(c, "mnt/f", TEN);
	assert_entries(c, "mnt", "f");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_middle),
	    T(test_at_end),
	    T(test_beyond_eof),
	    T(test_empty_patch),
	    T(test_large_file),
	    T(test_metadata_kept),
	    T(test_owner_kept),
	    T(test_symlinks),
	    T(test_errors),
	    T(test_hardlinks),
	    T(test_bad_args),
	    T(test_no_permission),
	    T(test_owner_not_restorable),
	    T(test_read_only_fs),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
