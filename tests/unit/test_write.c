/* SPDX-License-Identifier: MIT */
/*
 * test_write.c - afile_write(): create, replace, symlinks, refusals and
 * every error a caller can provoke.
 *
 * Each test runs in its own directory (helpers.h); the teardown fails a
 * test that leaves a temporary file or leaks a descriptor.  Metadata
 * preservation in depth is in test_meta.c.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char NEW[] = "new contents\n";

static void
test_new_file(void **state)
{
	struct h_ctx *c = *state;

	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_new_file_absolute_path(void **state)
{
	struct h_ctx *c = *state;

	assert_ok(
	    afile_write(AT_FDCWD, h_path(c, "f"), NEW, strlen(NEW), 0, NULL));
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_new_file_relative_to_cwd(void **state)
{
	struct h_ctx *c = *state;
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(cwd >= 0);
	assert_int_equal(fchdir(c->dfd), 0);
	assert_ok(afile_write(AT_FDCWD, "f", NEW, strlen(NEW), 0, NULL));
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_empty_null_buffer(void **state)
{
	struct h_ctx *c = *state;

	assert_ok(afile_write(c->dfd, "f", NULL, 0, 0, NULL));
	assert_file(c, "f", "");
	h_puts(c, "g", "old");
	assert_ok(afile_write(c->dfd, "g", NULL, 0, 0, NULL));
	assert_file(c, "g", "");
	assert_entries(c, ".", "f", "g");
}

static void
test_binary_and_large(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 5 * 1024 * 1024 + 123;
	char *buf = malloc(len);

	assert_non_null(buf);
	h_pattern(buf, len, 1);
	assert_ok(afile_write(c->dfd, "big", buf, len, 0, NULL));
	assert_file_mem(c, "big", buf, len);
	/* Replacing a large file with a small one must truncate. */
	assert_ok(afile_write(c->dfd, "big", "x", 1, 0, NULL));
	assert_file(c, "big", "x");
	h_pattern(buf, len, 2);
	assert_ok(afile_write(c->dfd, "big", buf, len, 0, NULL));
	assert_file_mem(c, "big", buf, len);
	free(buf);
	assert_entries(c, ".", "big");
}

struct umask_arg {
	mode_t mask;
	const char *name;
};

static int
write_with_umask(struct h_ctx *c, void *arg)
{
	struct umask_arg *a = arg;

	umask(a->mask);
	return afile_write(c->dfd, a->name, NEW, strlen(NEW), 0, NULL);
}

static void
test_new_file_mode_follows_umask(void **state)
{
	struct h_ctx *c = *state;
	struct umask_arg a022 = {022, "f022"}, a077 = {077, "f077"};
	struct umask_arg a0 = {0, "f000"};

	assert_ok(h_run_child(c, write_with_umask, &a022));
	assert_ok(h_run_child(c, write_with_umask, &a077));
	assert_ok(h_run_child(c, write_with_umask, &a0));
	assert_mode(c, "f022", 0644);
	assert_mode(c, "f077", 0600);
	assert_mode(c, "f000", 0666);
	assert_file(c, "f022", NEW);
	assert_entries(c, ".", "f000", "f022", "f077");
}

static void
test_replace(void **state)
{
	struct h_ctx *c = *state;
	struct stat before, after;

	h_puts(c, "f", "old contents that are longer than the new ones\n");
	h_chmod(c, "f", 0640);
	h_lstat(c, "f", &before);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	assert_file(c, "f", NEW);
	h_lstat(c, "f", &after);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(after.st_gid, before.st_gid);
	assert_int_equal(after.st_nlink, 1);
	assert_entries(c, ".", "f");
}

static void
test_replace_keeps_unusual_modes(void **state)
{
	struct h_ctx *c = *state;
	static const mode_t modes[] = {
	    0, 0400, 0444, 0600, 0700, 0751, 01644, 02755, 04755, 06777};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		h_puts(c, "f", "old");
		h_chmod(c, "f", modes[i]);
		assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
		assert_mode(c, "f", modes[i]);
		h_chmod(c, "f", 0600); /* readable by the check if not root */
		assert_file(c, "f", NEW);
		assert_int_equal(unlinkat(c->dfd, "f", 0), 0);
	}
	assert_empty_dir(c, ".");
}

static void
test_replace_keeps_owner_group(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	h_puts(c, "f", "old");
	h_chown(c, "f", H_OTHER, H_OTHER);
	h_chmod(c, "f", 0640);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	h_lstat(c, "f", &st);
	assert_int_equal(st.st_uid, H_OTHER);
	assert_int_equal(st.st_gid, H_OTHER);
	assert_mode(c, "f", 0640);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_replace_keeps_xattr(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", "old");
	h_setxattr(c, "f", "user.afile.test", "value", 5);
	h_setxattr(c, "f", "user.afile.empty", "", 0);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	assert_xattr(c, "f", "user.afile.test", "value", 5);
	assert_xattr(c, "f", "user.afile.empty", "", 0);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_replace_keeps_acl(void **state)
{
	struct h_ctx *c = *state;
	void *before, *after;
	size_t nb = 0, na = 0;
	struct stat st0, st1;

	h_puts(c, "f", "old");
	if (h_system("setfacl -m u:%d:rw,g:%d:r '%s' 2>/dev/null", H_OTHER,
		H_OTHER, h_path(c, "f")) != 0)
		h_skip("setfacl failed: no POSIX ACL support on /tmp?");
	before = h_getxattr(c, "f", "system.posix_acl_access", &nb);
	assert_non_null(before);
	h_lstat(c, "f", &st0);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	after = h_getxattr(c, "f", "system.posix_acl_access", &na);
	if (after == NULL)
		fail_msg("the ACL of the replaced file is gone");
	assert_int_equal(na, nb);
	assert_memory_equal(after, before, nb);
	h_lstat(c, "f", &st1);
	assert_int_equal(st1.st_mode, st0.st_mode);
	free(before);
	free(after);
	assert_file(c, "f", NEW);
	assert_entries(c, ".", "f");
}

static void
test_set_mode(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;

	o.mode = 0;
	assert_ok(
	    afile_write(c->dfd, "zero", NEW, strlen(NEW), AFILE_SET_MODE, &o));
	assert_mode(c, "zero", 0);
	h_chmod(c, "zero", 0600); /* readable by the check when not root */
	assert_file(c, "zero", NEW);

	o.mode = 04755;
	assert_ok(
	    afile_write(c->dfd, "suid", NEW, strlen(NEW), AFILE_SET_MODE, &o));
	assert_mode(c, "suid", 04755);

	/* On replace the given mode wins over the old one. */
	h_puts(c, "old", "old");
	h_chmod(c, "old", 0644);
	assert_ok(
	    afile_write(c->dfd, "old", NEW, strlen(NEW), AFILE_SET_MODE, &o));
	assert_mode(c, "old", 04755);
	assert_file(c, "old", NEW);
	o.mode = 0;
	assert_ok(afile_write(c->dfd, "old", "x", 1, AFILE_SET_MODE, &o));
	assert_mode(c, "old", 0);
	h_chmod(c, "old", 0600);
	assert_file(c, "old", "x");
	assert_entries(c, ".", "old", "suid", "zero");
}

static int
write_set_mode_umask(struct h_ctx *c, void *arg)
{
	struct afile_opts o = AFILE_OPTS_INIT;

	(void)arg;
	/* AFILE_SET_MODE is exact: the umask must not mask it. */
	umask(077);
	o.mode = 0666;
	return afile_write(c->dfd, "f", NEW, strlen(NEW), AFILE_SET_MODE, &o);
}

static void
test_set_mode_ignores_umask(void **state)
{
	struct h_ctx *c = *state;

	assert_ok(h_run_child(c, write_set_mode_umask, NULL));
	assert_mode(c, "f", 0666);
	assert_entries(c, ".", "f");
}

static void
test_noreplace(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	assert_ok(
	    afile_write(c->dfd, "f", NEW, strlen(NEW), AFILE_NOREPLACE, NULL));
	assert_file(c, "f", NEW);
	r = afile_write(c->dfd, "f", "other", 5, AFILE_NOREPLACE, &o);
	assert_err(r, -EEXIST);
	assert_errinfo(&e, r);
	assert_file(c, "f", NEW);
	/* A symlink, even a dangling one, exists too. */
	h_symlink(c, "nowhere", "dangling");
	assert_err(afile_write(c->dfd, "dangling", "x", 1,
		       AFILE_NOREPLACE | AFILE_NOFOLLOW, NULL),
	    -EEXIST);
	assert_entries(c, ".", "dangling", "f");
}

static void
test_nofollow_replaces_link(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_puts(c, "target", "target contents");
	h_symlink(c, "target", "link");
	assert_ok(afile_write(
	    c->dfd, "link", NEW, strlen(NEW), AFILE_NOFOLLOW, NULL));
	h_lstat(c, "link", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_file(c, "link", NEW);
	assert_file(c, "target", "target contents");
	assert_entries(c, ".", "link", "target");
}

static void
test_follows_symlink(void **state)
{
	struct h_ctx *c = *state;
	char buf[64];
	ssize_t n;

	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/target", "target contents");
	h_chmod(c, "sub/target", 0604);
	h_symlink(c, "sub/target", "link");
	h_symlink(c, "link", "link2");
	assert_ok(afile_write(c->dfd, "link2", NEW, strlen(NEW), 0, NULL));
	n = readlinkat(c->dfd, "link", buf, sizeof(buf));
	assert_int_equal(n, strlen("sub/target"));
	assert_memory_equal(buf, "sub/target", (size_t)n);
	n = readlinkat(c->dfd, "link2", buf, sizeof(buf));
	assert_int_equal(n, strlen("link"));
	assert_file(c, "sub/target", NEW);
	assert_mode(c, "sub/target", 0604);
	/* The temporary file belongs beside the target, not the link. */
	assert_entries(c, ".", "link", "link2", "sub");
	assert_entries(c, "sub", "target");
}

static void
test_follows_absolute_symlink(void **state)
{
	struct h_ctx *c = *state;

	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/target", "target contents");
	h_symlink(c, h_path(c, "sub/target"), "link");
	assert_ok(afile_write(c->dfd, "link", NEW, strlen(NEW), 0, NULL));
	assert_file(c, "sub/target", NEW);
	assert_entries(c, ".", "link", "sub");
	assert_entries(c, "sub", "target");
}

static void
test_dangling_symlink_creates_target(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_mkdir(c, "sub", 0755);
	h_symlink(c, "sub/missing", "link");
	assert_ok(afile_write(c->dfd, "link", NEW, strlen(NEW), 0, NULL));
	h_lstat(c, "link", &st);
	assert_true(S_ISLNK(st.st_mode));
	assert_file(c, "sub/missing", NEW);
	assert_entries(c, ".", "link", "sub");
	assert_entries(c, "sub", "missing");
}

static void
test_symlink_loop(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_symlink(c, "b", "a");
	h_symlink(c, "a", "b");
	r = afile_write(c->dfd, "a", NEW, strlen(NEW), 0, &o);
	assert_err(r, -ELOOP);
	assert_errinfo(&e, r);
	h_symlink(c, "self", "self");
	assert_err(afile_write(c->dfd, "self", "x", 1, 0, NULL), -ELOOP);
	assert_entries(c, ".", "a", "b", "self");
}

static void
test_directory_target(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_mkdir(c, "d", 0755);
	r = afile_write(c->dfd, "d", NEW, strlen(NEW), 0, &o);
	assert_err(r, -EISDIR);
	assert_errinfo(&e, r);
	assert_err(
	    afile_write(c->dfd, "d", NEW, strlen(NEW), AFILE_NOFOLLOW, NULL),
	    -EISDIR);
	/* Through a symlink too. */
	h_symlink(c, "d", "l");
	assert_err(
	    afile_write(c->dfd, "l", NEW, strlen(NEW), 0, NULL), -EISDIR);
	assert_entries(c, ".", "d", "l");
	assert_empty_dir(c, "d");
}

static void
test_fifo_target(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct stat st;
	int r;

	o.err = &e;
	assert_int_equal(mkfifoat(c->dfd, "fifo", 0644), 0);
	/* A library that opened the FIFO would block: fail loudly instead. */
	alarm(20);
	r = afile_write(c->dfd, "fifo", NEW, strlen(NEW), 0, &o);
	alarm(0);
	assert_err(r, AFILE_ENOTREG);
	assert_errinfo(&e, r);
	h_lstat(c, "fifo", &st);
	assert_true(S_ISFIFO(st.st_mode));
	assert_entries(c, ".", "fifo");
}

static void
test_device_target(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	/* A private copy of /dev/null, so nothing outside the test changes. */
	assert_int_equal(
	    mknodat(c->dfd, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_err(afile_write(c->dfd, "null", NEW, strlen(NEW), 0, NULL),
	    AFILE_ENOTREG);
	h_lstat(c, "null", &st);
	assert_true(S_ISCHR(st.st_mode));
	assert_entries(c, ".", "null");
}

static void
test_socket_target(void **state)
{
	struct h_ctx *c = *state;

	/* mknod of a socket inode needs no privilege. */
	assert_int_equal(mknodat(c->dfd, "sock", S_IFSOCK | 0644, 0), 0);
	assert_err(afile_write(c->dfd, "sock", NEW, strlen(NEW), 0, NULL),
	    AFILE_ENOTREG);
	assert_entries(c, ".", "sock");
}

static void
test_hardlinks(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct stat st;
	int r;

	o.err = &e;
	h_puts(c, "f", "old");
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "other", 0), 0);
	r = afile_write(c->dfd, "f", NEW, strlen(NEW), 0, &o);
	assert_err(r, AFILE_EHARDLINKS);
	assert_errinfo(&e, r);
	assert_file(c, "f", "old");
	assert_file(c, "other", "old");
	h_lstat(c, "f", &st);
	assert_int_equal(st.st_nlink, 2);

	assert_ok(afile_write(
	    c->dfd, "f", NEW, strlen(NEW), AFILE_BREAK_HARDLINKS, NULL));
	assert_file(c, "f", NEW);
	assert_file(c, "other", "old");
	h_lstat(c, "f", &st);
	assert_int_equal(st.st_nlink, 1);
	h_lstat(c, "other", &st);
	assert_int_equal(st.st_nlink, 1);
	assert_entries(c, ".", "f", "other");
}

static void
test_missing_directory(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	r = afile_write(c->dfd, "nodir/f", NEW, strlen(NEW), 0, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	assert_err(afile_write(c->dfd, "a/b/c/f", NEW, strlen(NEW),
		       AFILE_NOREPLACE, NULL),
	    -ENOENT);
	/* A symlink to a missing directory. */
	h_symlink(c, "nodir/f", "link");
	assert_err(
	    afile_write(c->dfd, "link", NEW, strlen(NEW), 0, NULL), -ENOENT);
	assert_entries(c, ".", "link");
}

static void
test_path_through_file(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_puts(c, "file", "x");
	r = afile_write(c->dfd, "file/f", NEW, strlen(NEW), 0, &o);
	assert_err(r, -ENOTDIR);
	assert_errinfo(&e, r);
	assert_file(c, "file", "x");
	assert_entries(c, ".", "file");
}

static int
write_sub_f(struct h_ctx *c, void *arg)
{
	unsigned int flags = arg != NULL ? *(unsigned int *)arg : 0;

	return afile_write(c->dfd, "sub/f", NEW, strlen(NEW), flags, NULL);
}

static void
test_no_permission(void **state)
{
	struct h_ctx *c = *state;
	unsigned int noreplace = AFILE_NOREPLACE;

	h_require_root();
	h_mkdir(c, "sub", 0755);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EACCES);
	assert_err(
	    h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, &noreplace), -EACCES);
	assert_empty_dir(c, "sub");
	/* A file the user may write, in a directory it may not. */
	h_puts(c, "sub/f", "old");
	h_chmod(c, "sub/f", 0666);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EACCES);
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
	/* Search permission missing on the directory. */
	h_chmod(c, "sub", 0776);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EACCES);
	h_chmod(c, "sub", 0755);
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
}

static void
test_owner_not_restorable(void **state)
{
	struct h_ctx *c = *state;
	unsigned int best = AFILE_OWNER_BEST_EFFORT;
	struct stat st;

	h_require_root();
	/* World-writable, not sticky: only the owner check can refuse. */
	h_mkdir(c, "sub", 0777);
	h_puts(c, "sub/f", "old");
	h_chmod(c, "sub/f", 0666);
	h_chown(c, "sub/f", H_OTHER, H_OTHER);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EPERM);
	assert_file(c, "sub/f", "old");
	h_lstat(c, "sub/f", &st);
	assert_int_equal(st.st_uid, H_OTHER);
	assert_entries(c, "sub", "f");

	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, &best));
	assert_file(c, "sub/f", NEW);
	h_lstat(c, "sub/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_mode(c, "sub/f", 0666);
	assert_entries(c, "sub", "f");
}

static void
test_group_not_restorable(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	/* Same owner, but a group the user is not a member of. */
	h_mkdir(c, "sub", 0777);
	h_puts(c, "sub/f", "old");
	h_chmod(c, "sub/f", 0664);
	h_chown(c, "sub/f", H_NOBODY, H_OTHER);
	assert_err(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL), -EPERM);
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
}

static void
test_unprivileged_owner_ok(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	/* The user's own file in the user's own directory: no refusal. */
	h_mkdir(c, "sub", 0755);
	h_chown(c, "sub", H_NOBODY, H_NOBODY);
	h_puts(c, "sub/f", "old");
	h_chmod(c, "sub/f", 0640);
	h_chown(c, "sub/f", H_NOBODY, H_NOBODY);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL));
	assert_file(c, "sub/f", NEW);
	assert_mode(c, "sub/f", 0640);
	h_lstat(c, "sub/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_int_equal(st.st_gid, H_NOBODY);
	assert_entries(c, "sub", "f");
}

static void
test_replace_unreadable_own_file(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	/*
	 * Replacing needs write and search permission on the directory only
	 * (rename(2)); the owner of a write-only or mode 0 file may replace
	 * it, and its mode is kept.
	 */
	h_mkdir(c, "sub", 0755);
	h_chown(c, "sub", H_NOBODY, H_NOBODY);
	h_puts(c, "sub/f", "old");
	h_chown(c, "sub/f", H_NOBODY, H_NOBODY);
	h_chmod(c, "sub/f", 0200);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL));
	assert_file(c, "sub/f", NEW);
	assert_mode(c, "sub/f", 0200);
	h_chmod(c, "sub/f", 0);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL));
	assert_mode(c, "sub/f", 0);
	h_lstat(c, "sub/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_entries(c, "sub", "f");
}

static void
test_sticky_directory(void **state)
{
	struct h_ctx *c = *state;
	unsigned int best = AFILE_OWNER_BEST_EFFORT;
	int r;

	h_require_root();
	h_mkdir(c, "sub", 01777);
	h_puts(c, "sub/f", "old");
	h_chmod(c, "sub/f", 0666);
	h_chown(c, "sub/f", H_OTHER, H_OTHER);
	r = h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL);
	if (r != -EPERM && r != -EACCES)
		fail_msg("sticky directory: got %d (%s), expected -EPERM or "
			 "-EACCES",
		    r, afile_err_name(r));
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
	/* Even when the owner may change, the sticky bit forbids. */
	r = h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, &best);
	if (r != -EPERM && r != -EACCES)
		fail_msg("sticky directory with AFILE_OWNER_BEST_EFFORT: got "
			 "%d (%s), expected -EPERM or -EACCES",
		    r, afile_err_name(r));
	assert_file(c, "sub/f", "old");
	assert_entries(c, "sub", "f");
}

static void
test_sticky_directory_own_file(void **state)
{
	struct h_ctx *c = *state;

	h_require_root();
	h_mkdir(c, "sub", 01777);
	h_puts(c, "sub/f", "old");
	h_chown(c, "sub/f", H_NOBODY, H_NOBODY);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL));
	assert_file(c, "sub/f", NEW);
	/* And a new file in a sticky directory. */
	assert_int_equal(unlinkat(c->dfd, "sub/f", 0), 0);
	assert_ok(h_run_as(c, H_NOBODY, H_NOBODY, write_sub_f, NULL));
	assert_file(c, "sub/f", NEW);
	assert_entries(c, "sub", "f");
}

static void
test_read_only_fs(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/f", "old");
	h_remount_ro(c, "mnt");
	r = afile_write(c->dfd, "mnt/f", NEW, strlen(NEW), 0, &o);
	assert_err(r, -EROFS);
	assert_errinfo(&e, r);
	assert_err(
	    afile_write(c->dfd, "mnt/new", NEW, strlen(NEW), 0, NULL), -EROFS);
	assert_err(afile_write(c->dfd, "mnt/new", NEW, strlen(NEW),
		       AFILE_NOREPLACE, NULL),
	    -EROFS);
	assert_file(c, "mnt/f", "old");
	assert_entries(c, "mnt", "f");
}

static void
test_no_space(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	size_t len = 24 * 1024 * 1024; /* more than the 16 MiB tmpfs */
	char *big;
	int r;

	o.err = &e;
	h_mount_tmpfs(c, "mnt");
	h_puts(c, "mnt/f", "old");
	big = calloc(1, len);
	assert_non_null(big);
	r = afile_write(c->dfd, "mnt/f", big, len, 0, &o);
	assert_err(r, -ENOSPC);
	assert_errinfo(&e, r);
	assert_err(
	    afile_write(c->dfd, "mnt/new", big, len, AFILE_NOREPLACE, NULL),
	    -ENOSPC);
	free(big);
	assert_file(c, "mnt/f", "old");
	assert_entries(c, "mnt", "f");
	/* The space is free again: nothing was left holding it. */
	assert_ok(afile_write(c->dfd, "mnt/f", NEW, strlen(NEW), 0, NULL));
	assert_file(c, "mnt/f", NEW);
}

static void
make_name(char *buf, size_t len, char ch)
{
	memset(buf, ch, len);
	buf[len] = '\0';
}

static void
test_name_max(void **state)
{
	struct h_ctx *c = *state;
	char name[NAME_MAX + 1], dotname[NAME_MAX + 1];

	make_name(name, NAME_MAX, 'a');
	assert_ok(afile_write(c->dfd, name, NEW, strlen(NEW), 0, NULL));
	assert_file(c, name, NEW);
	/* Replace, where a temporary name beside it is needed. */
	assert_ok(afile_write(c->dfd, name, "second", 6, 0, NULL));
	assert_file(c, name, "second");
	assert_err(afile_write(c->dfd, name, "third", 5, AFILE_NOREPLACE, NULL),
	    -EEXIST);
	/* A hidden name of the maximal length. */
	make_name(dotname, NAME_MAX, 'b');
	dotname[0] = '.';
	assert_ok(afile_write(
	    c->dfd, dotname, NEW, strlen(NEW), AFILE_NOREPLACE, NULL));
	assert_ok(afile_write(c->dfd, dotname, "x", 1, 0, NULL));
	assert_file(c, dotname, "x");
	assert_file(c, name, "second");
	assert_entries(c, ".", name, dotname);
}

static void
test_name_too_long(void **state)
{
	struct h_ctx *c = *state;
	char name[NAME_MAX + 2], path[NAME_MAX + 8];
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	o.err = &e;
	make_name(name, NAME_MAX + 1, 'a');
	r = afile_write(c->dfd, name, NEW, strlen(NEW), 0, &o);
	assert_err(r, -ENAMETOOLONG);
	assert_errinfo(&e, r);
	assert_err(
	    afile_write(c->dfd, name, NEW, strlen(NEW), AFILE_NOREPLACE, NULL),
	    -ENAMETOOLONG);
	/* A too long directory component. */
	snprintf(path, sizeof(path), "%s/f", name);
	assert_err(afile_write(c->dfd, path, NEW, strlen(NEW), 0, NULL),
	    -ENAMETOOLONG);
	assert_empty_dir(c, ".");
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	size_t i;
	static const char *const bad_paths[] = {
	    "", "f/", "sub/", ".", "..", "sub/.", "sub/..", "./"};

	h_mkdir(c, "sub", 0755);
	assert_err(afile_write(c->dfd, NULL, "x", 1, 0, NULL), -EINVAL);
	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		int r = afile_write(c->dfd, bad_paths[i], "x", 1, 0, NULL);

		if (r != -EINVAL)
			fail_msg("path \"%s\": got %d (%s), expected -EINVAL",
			    bad_paths[i], r, afile_err_name(r));
	}
	/* NULL buffer with a length. */
	assert_err(afile_write(c->dfd, "f", NULL, 1, 0, NULL), -EINVAL);
	/* Unknown flag bits. */
	assert_err(
	    afile_write(c->dfd, "f", "x", 1, 0x80000000u, NULL), -EINVAL);
	assert_err(afile_write(c->dfd, "f", "x", 1, 0x0100u, NULL), -EINVAL);
	o.size = sizeof(o) - 1;
	assert_err(afile_write(c->dfd, "f", "x", 1, 0, &o), -EINVAL);
	o.size = 0;
	assert_err(afile_write(c->dfd, "f", "x", 1, 0, &o), -EINVAL);
	o.size = sizeof(o) + 8;
	assert_err(afile_write(c->dfd, "f", "x", 1, 0, &o), -EINVAL);
	o.size = sizeof(o);
	o.sync = 99;
	assert_err(afile_write(c->dfd, "f", "x", 1, 0, &o), -EINVAL);
	o.sync = 3;
	assert_err(afile_write(c->dfd, "f", "x", 1, 0, &o), -EINVAL);
	/* A directory descriptor that is not open. */
	assert_err(afile_write(-1, "f", "x", 1, 0, NULL), -EBADF);
	assert_entries(c, ".", "sub");
	assert_empty_dir(c, "sub");
}

static void
test_errinfo_only_on_failure(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	int r;

	memset(&e, 0x5a, sizeof(e));
	o.err = &e;
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, &o));
	/* Untouched on success. */
	assert_int_equal(e.code, 0x5a5a5a5a);
	r = afile_write(c->dfd, "nodir/f", NEW, strlen(NEW), 0, &o);
	assert_err(r, -ENOENT);
	assert_errinfo(&e, r);
	/* Bad arguments are failures too. */
	o.sync = 99;
	r = afile_write(c->dfd, "f", NEW, strlen(NEW), 0, &o);
	assert_err(r, -EINVAL);
	assert_errinfo(&e, r);
	assert_file(c, "f", NEW);
}

static void
test_sync_levels(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int got;
	static const unsigned int levels[] = {
	    AFILE_SYNC_FULL, AFILE_SYNC_DATA, AFILE_SYNC_NONE};

	o.ret_sync = &got;
	for (size_t i = 0; i < 3; i++) {
		char data[32];

		snprintf(data, sizeof(data), "level %u", levels[i]);
		o.sync = levels[i];
		got = 77;
		assert_ok(afile_write(c->dfd, "f", data, strlen(data), 0, &o));
		assert_int_equal(got, levels[i]);
		assert_file(c, "f", data);
		got = 77;
		assert_ok(afile_write(
		    c->dfd, "g", data, strlen(data), AFILE_NOREPLACE, &o));
		assert_int_equal(got, levels[i]);
		assert_int_equal(unlinkat(c->dfd, "g", 0), 0);
	}
	assert_entries(c, ".", "f");
}

static void
test_replaced_inode_is_new(void **state)
{
	struct h_ctx *c = *state;
	size_t len = 0;
	char *got;
	int fd;

	/* A reader that has the old file open keeps the old version. */
	h_puts(c, "f", "old version");
	fd = openat(c->dfd, "f", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_ok(afile_write(c->dfd, "f", NEW, strlen(NEW), 0, NULL));
	got = malloc(64);
	assert_non_null(got);
	len = (size_t)read(fd, got, 64);
	close(fd);
	assert_int_equal(len, strlen("old version"));
	assert_memory_equal(got, "old version", len);
	free(got);
	assert_file(c, "f", NEW);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_new_file),
	    T(test_new_file_absolute_path),
	    T(test_new_file_relative_to_cwd),
	    T(test_empty_null_buffer),
	    T(test_binary_and_large),
	    T(test_new_file_mode_follows_umask),
	    T(test_replace),
	    T(test_replace_keeps_unusual_modes),
	    T(test_replace_keeps_owner_group),
	    T(test_replace_keeps_xattr),
	    T(test_replace_keeps_acl),
	    T(test_set_mode),
	    T(test_set_mode_ignores_umask),
	    T(test_noreplace),
	    T(test_nofollow_replaces_link),
	    T(test_follows_symlink),
	    T(test_follows_absolute_symlink),
	    T(test_dangling_symlink_creates_target),
	    T(test_symlink_loop),
	    T(test_directory_target),
	    T(test_fifo_target),
	    T(test_device_target),
	    T(test_socket_target),
	    T(test_hardlinks),
	    T(test_missing_directory),
	    T(test_path_through_file),
	    T(test_no_permission),
	    T(test_owner_not_restorable),
	    T(test_group_not_restorable),
	    T(test_unprivileged_owner_ok),
	    T(test_replace_unreadable_own_file),
	    T(test_sticky_directory),
	    T(test_sticky_directory_own_file),
	    T(test_read_only_fs),
	    T(test_no_space),
	    T(test_name_max),
	    T(test_name_too_long),
	    T(test_bad_args),
	    T(test_errinfo_only_on_failure),
	    T(test_sync_levels),
	    T(test_replaced_inode_is_new),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
