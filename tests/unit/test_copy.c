/* SPDX-License-Identifier: MIT */
/*
 * test_copy.c - afile_copy(): contents and metadata (mode, xattrs, ACL,
 * mtime, owner), refusals, progress and cancellation.
 */
#include "helpers.h"

#include <sys/time.h>

static void
set_mtime(struct h_ctx *c, const char *name, time_t sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};

	assert_int_equal(utimensat(c->dfd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void
assert_mtime(struct h_ctx *c, const char *name, time_t sec, long nsec)
{
	struct stat st;

	h_lstat(c, name, &st);
	if (st.st_mtim.tv_sec != sec || st.st_mtim.tv_nsec != nsec)
		fail_msg("%s: mtime %lld.%09ld, expected %lld.%09ld", name,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		    (long long)sec, nsec);
}

static void
test_contents_and_metadata(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "src", "source contents\n");
	h_chmod(c, "src", 0751);
	h_setxattr(c, "src", "user.afile.copy", "meta", 4);
	set_mtime(c, "src", 1000000000, 123456789);
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "dst", 0, NULL));
	assert_file(c, "dst", "source contents\n");
	assert_mode(c, "dst", 0751);
	assert_xattr(c, "dst", "user.afile.copy", "meta", 4);
	assert_mtime(c, "dst", 1000000000, 123456789);
	/* The source is untouched. */
	assert_file(c, "src", "source contents\n");
	assert_mode(c, "src", 0751);
	assert_mtime(c, "src", 1000000000, 123456789);
	assert_entries(c, ".", "dst", "src");
}

static void
test_replace_takes_source_metadata(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "src", "new");
	h_chmod(c, "src", 0600);
	set_mtime(c, "src", 1234567890, 0);
	h_puts(c, "dst", "old destination contents");
	h_chmod(c, "dst", 0644);
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "dst", 0, NULL));
	assert_file(c, "dst", "new");
	assert_mode(c, "dst", 0600);
	assert_mtime(c, "dst", 1234567890, 0);
	assert_entries(c, ".", "dst", "src");
}

static void
test_acl_copied(void **state)
{
	struct h_ctx *c = *state;
	void *want, *got;
	size_t nw = 0, ng = 0;

	h_puts(c, "src", "x");
	if (h_system("setfacl -m u:%d:r '%s' 2>/dev/null", H_OTHER,
		h_path(c, "src")) != 0)
		h_skip("setfacl failed: no POSIX ACL support on /tmp?");
	want = h_getxattr(c, "src", "system.posix_acl_access", &nw);
	assert_non_null(want);
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "dst", 0, NULL));
	got = h_getxattr(c, "dst", "system.posix_acl_access", &ng);
	if (got == NULL)
		fail_msg("the copy has no ACL");
	assert_int_equal(ng, nw);
	assert_memory_equal(got, want, nw);
	free(want);
	free(got);
}

static void
test_owner_copied_as_root(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	h_puts(c, "src", "x");
	h_chown(c, "src", H_OTHER, H_OTHER);
	h_chmod(c, "src", 04755);
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "dst", 0, NULL));
	h_lstat(c, "dst", &st);
	assert_int_equal(st.st_uid, H_OTHER);
	assert_int_equal(st.st_gid, H_OTHER);
	/* The set-user-ID bit survives the chown (mode applied after). */
	assert_mode(c, "dst", 04755);
}

static int
copy_src_to_mine(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_copy(c->dfd, "src", c->dfd, "mine/dst", 0, NULL);
}

static void
test_owner_not_settable_is_not_an_error(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	/* Like cp -p: an unprivileged copy of another user's file is ours. */
	h_puts(c, "src", "readable");
	h_chmod(c, "src", 0644);
	h_chown(c, "src", H_OTHER, H_OTHER);
	h_mkdir(c, "mine", 0755);
	h_chown(c, "mine", H_NOBODY, H_NOBODY);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, copy_src_to_mine, NULL));
	assert_file(c, "mine/dst", "readable");
	h_lstat(c, "mine/dst", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_mode(c, "mine/dst", 0644);
	assert_entries(c, "mine", "dst");
}

static void
test_large_and_empty(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 4 * 1024 * 1024 + 17;
	char *data = malloc(len);

	assert_non_null(data);
	h_pattern(data, len, 3);
	h_put(c, "big", data, len, 0644);
	assert_ok(afile_copy(c->dfd, "big", c->dfd, "big2", 0, NULL));
	assert_file_mem(c, "big2", data, len);
	free(data);
	h_puts(c, "empty", "");
	assert_ok(afile_copy(c->dfd, "empty", c->dfd, "big2", 0, NULL));
	assert_file(c, "big2", "");
	assert_entries(c, ".", "big", "big2", "empty");
}

static void
test_sparse_source(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 1024 * 1024 + 10;
	char *want = calloc(1, len);
	int fd;

	assert_non_null(want);
	memcpy(want + len - 10, "0123456789", 10);
	fd = openat(c->dfd, "sparse", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "0123456789", 10, (off_t)(len - 10)), 10);
	close(fd);
	assert_ok(afile_copy(c->dfd, "sparse", c->dfd, "copy", 0, NULL));
	assert_file_mem(c, "copy", want, len);
	free(want);
}

static void
test_across_directories(void **state)
{
	struct h_ctx *c = *state;
	int a, b;

	h_mkdir(c, "a", 0755);
	h_mkdir(c, "b", 0755);
	h_puts(c, "a/src", "x");
	a = openat(c->dfd, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	b = openat(c->dfd, "b", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(a >= 0 && b >= 0);
	assert_ok(afile_copy(a, "src", b, "dst", 0, NULL));
	close(a);
	close(b);
	assert_ok(afile_copy(AT_FDCWD, h_path(c, "a/src"), AT_FDCWD,
	    h_path(c, "b/dst2"), 0, NULL));
	assert_file(c, "b/dst", "x");
	assert_file(c, "b/dst2", "x");
	assert_entries(c, "a", "src");
	assert_entries(c, "b", "dst", "dst2");
}

static void
test_noreplace(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "src", "new");
	h_puts(c, "dst", "old");
	r = afile_copy(c->dfd, "src", c->dfd, "dst", AFILE_NOREPLACE, &o);
	assert_err(r, -EEXIST);
	assert_errinfo(&e, r);
	assert_file(c, "dst", "old");
	assert_ok(
	    afile_copy(c->dfd, "src", c->dfd, "dst2", AFILE_NOREPLACE, NULL));
	assert_file(c, "dst2", "new");
	assert_entries(c, ".", "dst", "dst2", "src");
}

static void
test_symlinks(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	/* The source is followed; the destination too, unless NOFOLLOW. */
	h_puts(c, "real", "real contents");
	h_symlink(c, "real", "srclink");
	h_puts(c, "dtarget", "old");
	h_symlink(c, "dtarget", "dstlink");
	assert_ok(afile_copy(c->dfd, "srclink", c->dfd, "dstlink", 0, NULL));
	assert_file(c, "dtarget", "real contents");
	h_lstat(c, "dstlink", &st);
	assert_true(S_ISLNK(st.st_mode));
	assert_ok(afile_copy(
	    c->dfd, "real", c->dfd, "dstlink", AFILE_NOFOLLOW, NULL));
	h_lstat(c, "dstlink", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_file(c, "dstlink", "real contents");
	assert_entries(c, ".", "dstlink", "dtarget", "real", "srclink");
}

static void
test_source_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "dst", "old");
	r = afile_copy(c->dfd, "missing", c->dfd, "dst", 0, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(
	    afile_copy(c->dfd, "missing", c->dfd, "new", 0, NULL), -ENOENT);
	h_mkdir(c, "dir", 0755);
	/*
	 * A directory is not a file to copy: -EISDIR, as afile_write()
	 * reports for a directory (AFILE_ENOTREG would also be honest).
	 */
	r = afile_copy(c->dfd, "dir", c->dfd, "new", 0, &o);
	if (r != -EISDIR && r != AFILE_ENOTREG)
		fail_msg(
		    "source a directory: got %d (%s)", r, afile_err_name(r));
	assert_errinfo(&e, r);
	r = afile_copy(c->dfd, "dir", c->dfd, "dst", 0, NULL);
	if (r != -EISDIR && r != AFILE_ENOTREG)
		fail_msg(
		    "source a directory: got %d (%s)", r, afile_err_name(r));
	/* A FIFO source must be refused, not opened (that would block). */
	assert_int_equal(mkfifoat(c->dfd, "fifo", 0644), 0);
	alarm(20);
	r = afile_copy(c->dfd, "fifo", c->dfd, "new", 0, NULL);
	alarm(0);
	assert_err(r, AFILE_ENOTREG);
	assert_file(c, "dst", "old");
	assert_entries(c, ".", "dir", "dst", "fifo");
}

static void
test_destination_errors(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "src", "x");
	h_mkdir(c, "dir", 0755);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "dir", 0, NULL), -EISDIR);
	assert_err(
	    afile_copy(c->dfd, "src", c->dfd, "nodir/dst", 0, NULL), -ENOENT);
	assert_err(
	    afile_copy(c->dfd, "src", c->dfd, "src/dst", 0, NULL), -ENOTDIR);
	h_puts(c, "linked", "old");
	assert_int_equal(linkat(c->dfd, "linked", c->dfd, "other", 0), 0);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "linked", 0, NULL),
	    AFILE_EHARDLINKS);
	assert_file(c, "linked", "old");
	assert_ok(afile_copy(
	    c->dfd, "src", c->dfd, "linked", AFILE_BREAK_HARDLINKS, NULL));
	assert_file(c, "linked", "x");
	assert_file(c, "other", "old");
	assert_entries(c, ".", "dir", "linked", "other", "src");
	assert_empty_dir(c, "dir");
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	h_puts(c, "src", "x");
	assert_err(afile_copy(c->dfd, "src", c->dfd, NULL, 0, NULL), -EINVAL);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "", 0, NULL), -EINVAL);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "dst/", 0, NULL), -EINVAL);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "..", 0, NULL), -EINVAL);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "dst", 0x80000000u, NULL),
	    -EINVAL);
	o.size = sizeof(o) / 2;
	assert_err(afile_copy(c->dfd, "src", c->dfd, "dst", 0, &o), -EINVAL);
	o.size = sizeof(o);
	o.sync = 99;
	assert_err(afile_copy(c->dfd, "src", c->dfd, "dst", 0, &o), -EINVAL);
	assert_entries(c, ".", "src");
}

static void
test_bad_source_args(void **state)
{
	struct h_ctx *c = *state;

	/*
	 * The source path follows the same rules as every path (last in the
	 * list: a library that passes NULL on to the kernel dies here under
	 * UBSan, and should not take the other tests with it).
	 */
	h_puts(c, "src", "x");
	assert_err(afile_copy(c->dfd, "", c->dfd, "dst", 0, NULL), -EINVAL);
	assert_err(afile_copy(c->dfd, "src/", c->dfd, "dst", 0, NULL), -EINVAL);
	assert_err(afile_copy(c->dfd, NULL, c->dfd, "dst", 0, NULL), -EINVAL);
	assert_entries(c, ".", "src");
}

struct progress {
	uint64_t calls, last_done, last_total;
	int bad;             /* done went backwards or beyond total */
	uint64_t stop_after; /* cancel on this call, 0 never */
};

static int
on_progress(uint64_t done, uint64_t total, void *ctx)
{
	struct progress *p = ctx;

	if (done < p->last_done || done > total)
		p->bad = 1;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
	return p->stop_after != 0 && p->calls >= p->stop_after;
}

static void
test_progress(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct progress p = {0};
	size_t len = 2 * 1024 * 1024 + 5;
	char *data = malloc(len);

	assert_non_null(data);
	h_pattern(data, len, 9);
	h_put(c, "src", data, len, 0644);
	o.progress = on_progress;
	o.progress_ctx = &p;
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "dst", 0, &o));
	assert_file_mem(c, "dst", data, len);
	free(data);
	assert_true(p.calls >= 1);
	assert_false(p.bad);
	assert_int_equal(p.last_done, len);
	assert_int_equal(p.last_total, len);
	assert_entries(c, ".", "dst", "src");
}

static void
test_progress_cancel(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct progress p = {0};
	size_t len = 2 * 1024 * 1024;
	char *data = malloc(len);
	int r;

	assert_non_null(data);
	h_pattern(data, len, 4);
	h_put(c, "src", data, len, 0644);
	free(data);
	h_puts(c, "dst", "old");
	p.stop_after = 1;
	o.progress = on_progress;
	o.progress_ctx = &p;
	o.err = &e;
	r = afile_copy(c->dfd, "src", c->dfd, "dst", 0, &o);
	assert_err(r, -ECANCELED);
	assert_errinfo(&e, r);
	assert_file(c, "dst", "old");
	p.calls = 0;
	p.last_done = 0;
	assert_err(afile_copy(c->dfd, "src", c->dfd, "new", 0, &o), -ECANCELED);
	assert_entries(c, ".", "dst", "src");
}

static int
copy_to_sub(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_copy(c->dfd, "src", c->dfd, "sub/dst", 0, NULL);
}

static int
copy_from_secret(struct h_ctx *c, void *arg)
{
	(void)arg;
	return afile_copy(c->dfd, "secret", c->dfd, "mine/dst", 0, NULL);
}

static void
test_no_permission(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_puts(c, "src", "x");
	h_mkdir(c, "sub", 0755);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, copy_to_sub, NULL), -EACCES);
	assert_empty_dir(c, "sub");
	/* An unreadable source. */
	h_puts(c, "secret", "root only");
	h_chmod(c, "secret", 0600);
	h_mkdir(c, "mine", 0755);
	h_chown(c, "mine", H_NOBODY, H_NOBODY);
	assert_err(
	    h_run_as(c, H_NOBODY, H_NOBODY, copy_from_secret, NULL), -EACCES);
	assert_empty_dir(c, "mine");
}

static void
test_read_only_fs(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "src", "x");
	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/dst", "old");
	h_remount_ro(c, "mnt");
	assert_err(
	    afile_copy(c->dfd, "src", c->dfd, "mnt/dst", 0, NULL), -EROFS);
	assert_err(
	    afile_copy(c->dfd, "src", c->dfd, "mnt/new", 0, NULL), -EROFS);
	assert_file(c, "mnt/dst", "old");
	assert_entries(c, "mnt", "dst");
	/* Reading from a read-only file system is fine. */
	assert_ok(afile_copy(c->dfd, "mnt/dst", c->dfd, "copy", 0, NULL));
	assert_file(c, "copy", "old");
}

static void
test_across_file_systems(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "src", "cross");
	h_chmod(c, "src", 0640);
	set_mtime(c, "src", 1500000000, 5);
	h_mount_tmpfs(c, "mnt");
	assert_ok(afile_copy(c->dfd, "src", c->dfd, "mnt/dst", 0, NULL));
	assert_file(c, "mnt/dst", "cross");
	assert_mode(c, "mnt/dst", 0640);
	assert_mtime(c, "mnt/dst", 1500000000, 5);
	assert_entries(c, "mnt", "dst");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_contents_and_metadata),
	    T(test_replace_takes_source_metadata),
	    T(test_acl_copied),
	    T(test_owner_copied_as_root),
	    T(test_owner_not_settable_is_not_an_error),
	    T(test_large_and_empty),
	    T(test_sparse_source),
	    T(test_across_directories),
	    T(test_noreplace),
	    T(test_symlinks),
	    T(test_source_errors),
	    T(test_destination_errors),
	    T(test_bad_args),
	    T(test_progress),
	    T(test_progress_cancel),
	    T(test_no_permission),
	    T(test_read_only_fs),
	    T(test_across_file_systems),
	    T(test_bad_source_args),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
