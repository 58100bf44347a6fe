/* SPDX-License-Identifier: MIT */
/*
 * test_small.c - what a small replace skips, and that skipping keeps
 * every guarantee (issue 11): an fchown to the owner the temp already
 * has, an fchmod to the mode it was born with, the temp name, lock and
 * rename of a file that did not exist, a getrandom per temp name (a key
 * per process, which a forked child must not share), the sweep at every
 * replace, and a directory open per item of a batch.  Each test counts
 * the calls through the syscall table and checks the result on disk.
 */
#include "helpers.h"

#include <sys/wait.h>
#include <sys/xattr.h>

#include "internal.h"
#include "sys.h"

static int n_fchown, n_fchmod, n_rename, n_link;

static int
count_fchown(int fd, uid_t uid, gid_t gid)
{
	n_fchown++;
	return afile__sys_default.fchown(fd, uid, gid);
}

static int
count_fchmod(int fd, mode_t mode)
{
	n_fchmod++;
	return afile__sys_default.fchmod(fd, mode);
}

static int
count_renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags)
{
	n_rename++;
	return afile__sys_default.renameat2(sdfd, src, ddfd, dst, flags);
}

static int
count_renameat(int sdfd, const char *src, int ddfd, const char *dst)
{
	n_rename++;
	return afile__sys_default.renameat(sdfd, src, ddfd, dst);
}

static int
count_linkat(int sdfd, const char *src, int ddfd, const char *dst, int flags)
{
	n_link++;
	return afile__sys_default.linkat(sdfd, src, ddfd, dst, flags);
}

static void
counting(void)
{
	n_fchown = n_fchmod = n_rename = n_link = 0;
	afile__sys.fchown = count_fchown;
	afile__sys.fchmod = count_fchmod;
	afile__sys.renameat2 = count_renameat2;
	afile__sys.renameat = count_renameat;
	afile__sys.linkat = count_linkat;
}

/* The owner is applied only where the temp does not have it already. */
static void
test_owner_applied_only_when_it_differs(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	h_require_root();
	h_puts(c, "mine", "old");
	h_puts(c, "theirs", "old");
	h_chown(c, "theirs", H_NOBODY, H_NOBODY);
	counting();
	assert_ok(afile_write(c->dfd, "mine", "new", 3, 0, NULL));
	assert_int_equal(n_fchown, 0);
	assert_ok(afile_write(c->dfd, "theirs", "new", 3, 0, NULL));
	assert_int_equal(n_fchown, 1);
	afile__sys_reset();
	assert_file(c, "theirs", "new");
	h_lstat(c, "theirs", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_int_equal(st.st_gid, H_NOBODY);
	h_lstat(c, "mine", &st);
	assert_int_equal(st.st_uid, 0);
}

/*
 * The mode is applied at commit only where the temp was not born with
 * it: the umask took bits, set-ID bits (a write clears them), an ACL.
 */
static void
test_mode_applied_only_when_needed(void **state)
{
	struct h_ctx *c = *state;
	mode_t old = umask(0);

	h_puts(c, "f", "old");
	h_chmod(c, "f", 0664);
	counting();
	assert_ok(afile_write(c->dfd, "f", "new", 3, 0, NULL));
	assert_int_equal(n_fchmod, 0);
	assert_mode(c, "f", 0664);

	umask(077); /* takes 064 of the mode the temp is created with */
	assert_ok(afile_write(c->dfd, "f", "newer", 5, 0, NULL));
	assert_int_equal(n_fchmod, 1);
	assert_mode(c, "f", 0664);

	umask(0);
	h_chmod(c, "f", 04755);
	n_fchmod = 0;
	assert_ok(afile_write(c->dfd, "f", "newest", 6, 0, NULL));
	assert_int_equal(n_fchmod, 1);
	assert_mode(c, "f", 04755);
	afile__sys_reset();
	umask(old);
	assert_file(c, "f", "newest");
}

/* Attributes are still read by name, now relative to the directory. */
static void
test_xattrs_read_beside_the_directory(void **state)
{
	struct h_ctx *c = *state;

	h_puts(c, "f", "old");
	h_setxattr(c, "f", "user.kept", "value", 5);
	h_chmod(c, "f", 0200); /* writable, not readable: no open needed */
	assert_ok(afile_write(c->dfd, "f", "new", 3, 0, NULL));
	assert_xattr(c, "f", "user.kept", "value", 5);
	assert_mode(c, "f", 0200);
}

/* A new file is linked under its name: no temp name, no rename. */
static void
test_new_file_linked_directly(void **state)
{
	struct h_ctx *c = *state;

	counting();
	assert_ok(afile_write(c->dfd, "new", "data", 4, 0, NULL));
	assert_true(n_link >= 1); /* 2 where AT_EMPTY_PATH is refused */
	assert_int_equal(n_rename, 0);
	assert_ok(afile_write(c->dfd, "new", "more", 4, 0, NULL));
	assert_int_equal(n_rename, 1);
	afile__sys_reset();
	assert_file(c, "new", "more");
	assert_entries(c, ".", "new");
}

/* Created by someone else meanwhile: replaced, as a replace does. */
static void
test_new_file_created_meanwhile(void **state)
{
	struct h_ctx *c = *state;
	struct afile_writer *w = NULL;

	assert_ok(afile_writer_open(c->dfd, "n", 0, NULL, &w));
	assert_ok(afile_writer_write(w, "writer", 6));
	h_puts(c, "n", "someone else");
	assert_ok(afile_writer_commit(w));
	afile_writer_free(w);
	assert_file(c, "n", "writer");
	assert_entries(c, ".", "n");
}

/* Unnamed temps: a sweep at the first replace and every 32nd after. */
static void
test_sweep_amortized(void **state)
{
	int due = 0;

	(void)state;
	for (int i = 0; i < 64; i++)
		due += afile__sweep_due(false);
	assert_int_equal(due, 2);
	for (int i = 0; i < 64; i++)
		assert_true(afile__sweep_due(true));
}

/*
 * The per-process key of temp names is not inherited: a forked child
 * makes other names than its parent does (siblings in lockstep made
 * the same ones when it was: stress-versions).
 */
static void
test_names_differ_after_fork(void **state)
{
	char parent[NAME_MAX + 1], child[NAME_MAX + 1], first[NAME_MAX + 1];
	int fds[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(afile__tmp_name("t", ".afile-tmp", first), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ssize_t n = -1;

		if (afile__tmp_name("t", ".afile-tmp", child) == 0)
			n = write(fds[1], child, sizeof(child));
		_exit(n == (ssize_t)sizeof(child) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child, sizeof(child)), sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(afile__tmp_name("t", ".afile-tmp", parent), 0);
	assert_string_not_equal(parent, first);
	if (!strcmp(child, parent) || !strcmp(child, first))
		fail_msg("a forked child named its temp %s as its parent did",
		    child);
}

/*
 * A batch shares one descriptor of its directory among plain names; a
 * symlink is still followed, names with a slash still resolved.
 */
static void
test_many_shared_directory(void **state)
{
	struct h_ctx *c = *state;
	struct afile_item items[] = {
	    {.path = "a", .buf = "A", .len = 1},
	    {.path = "link", .buf = "L", .len = 1},
	    {.path = "sub/b", .buf = "B", .len = 1},
	    {.path = "old", .buf = "O", .len = 1},
	};
	struct stat st;

	h_mkdir(c, "sub", 0755);
	h_puts(c, "target", "t");
	h_symlink(c, "target", "link");
	h_puts(c, "old", "o");
	h_chmod(c, "old", 0640);
	assert_ok(afile_write_many(c->dfd, items, 4, 0, NULL));
	assert_file(c, "a", "A");
	assert_file(c, "target", "L");
	assert_file(c, "sub/b", "B");
	assert_file(c, "old", "O");
	assert_mode(c, "old", 0640);
	h_lstat(c, "link", &st);
	assert_true(S_ISLNK(st.st_mode));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, h_setup, h_teardown)
	    T(test_owner_applied_only_when_it_differs),
	    T(test_mode_applied_only_when_needed),
	    T(test_xattrs_read_beside_the_directory),
	    T(test_new_file_linked_directly),
	    T(test_new_file_created_meanwhile),
	    T(test_sweep_amortized),
	    T(test_names_differ_after_fork),
	    T(test_many_shared_directory),
#undef T
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
