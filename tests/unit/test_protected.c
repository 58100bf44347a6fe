/* SPDX-License-Identifier: MIT */
/*
 * test_protected.c - sticky directories others can write (issue 13).
 *
 * Another user (uid 65534) plants, in a 01777 directory like /tmp, a
 * symlink, a file, a lock sidecar or a journal directory; root's calls
 * must refuse as the kernel would (fs.protected_symlinks,
 * fs.protected_regular, fs.protected_fifos) instead of following, reusing
 * or replaying it.  The switches are set per test through the syscall
 * table's read_sysctl_fs entry (restored by the teardown), so that other
 * tests on the machine see no change; test_real_sysctl sets the real one
 * under /proc/sys/fs and puts it back.  Planting as another user needs
 * root: the tests skip otherwise (fail under AFILE_REQUIRE_PRIV_TESTS=1).
 */
#include "helpers.h"

#include "sys.h"

/* The values read_sysctl_fs reports; < 0 makes the read fail (ENOENT). */
static int fake_symlinks, fake_regular, fake_fifos;

static ssize_t
fake_sysctl(const char *name, char *buf, size_t n)
{
	int v = !strcmp(name, "protected_symlinks") ? fake_symlinks
	    : !strcmp(name, "protected_regular")    ? fake_regular
	    : !strcmp(name, "protected_fifos")      ? fake_fifos
						    : -1;

	if (v < 0) {
		errno = ENOENT;
		return -1;
	}
	return snprintf(buf, n, "%d\n", v);
}

static int
setup(void **state)
{
	int r = h_setup(state);

	fake_symlinks = fake_regular = fake_fifos = 1;
	afile__sys.read_sysctl_fs = fake_sysctl;
	return r;
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

/* A sticky world-writable directory "s" and a root-only file "secret". */
static void
prepare(struct h_ctx *c)
{
	h_require_root();
	h_mkdir(c, "s", 0755);
	h_chmod(c, "s", 01777);
	h_put(c, "secret", "root only", 9, 0600);
}

/* Plant a symlink NAME -> TARGET owned by uid 65534. */
static void
plant_link(struct h_ctx *c, const char *target, const char *name)
{
	h_symlink(c, target, name);
	h_chown(c, name, H_NOBODY, H_NOBODY);
}

static void
assert_step_has(const struct afile_errinfo *e, const char *what)
{
	assert_non_null(e->step);
	if (!strstr(e->step, what)) {
		print_error("step '%s' does not name %s\n", e->step, what);
		fail();
	}
}

static void
test_symlink_planted(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_writer *w = NULL;
	struct afile_lock *l = NULL;

	prepare(c);
	o.err = &e;
	plant_link(c, "../secret", "s/planted");
	h_puts(c, "src", "copied");
	assert_err(afile_write(c->dfd, "s/planted", "evil", 4, 0, &o),
	    AFILE_EPROTECTED);
	assert_errinfo(&e, AFILE_EPROTECTED);
	assert_int_equal(e.cause, -EACCES);
	assert_step_has(&e, "fs.protected_symlinks");
	assert_string_equal(e.path, "s/planted");
	assert_err(afile_copy(c->dfd, "src", c->dfd, "s/planted", 0, NULL),
	    AFILE_EPROTECTED);
	assert_err(afile_patch(c->dfd, "s/planted", 0, "x", 1, 0, NULL),
	    AFILE_EPROTECTED);
	assert_err(afile_writer_open(c->dfd, "s/planted", 0, NULL, &w),
	    AFILE_EPROTECTED);
	assert_null(w);
	assert_err(afile_lock_acquire(
		       c->dfd, "s/planted", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    AFILE_EPROTECTED);
	assert_null(l);
	assert_err(
	    afile_write(c->dfd, "s/planted", "evil", 4, AFILE_LOCK, NULL),
	    AFILE_EPROTECTED);
	assert_file(c, "secret", "root only");
	assert_false(h_exists(c, ".secret.afile-lock"));
	assert_entries(c, "s", "planted");

	/* Unreadable switch: the rule applies. */
	fake_symlinks = -1;
	assert_err(afile_write(c->dfd, "s/planted", "evil", 4, 0, NULL),
	    AFILE_EPROTECTED);
	/* Switched off, as the kernel would, the link is followed. */
	fake_symlinks = 0;
	assert_ok(afile_write(c->dfd, "s/planted", "followed", 8, 0, NULL));
	assert_file(c, "secret", "followed");
	fake_symlinks = 1;
	/* The caller's own link, and any link outside sticky directories. */
	h_symlink(c, "../secret", "s/own");
	assert_ok(afile_write(c->dfd, "s/own", "own", 3, 0, NULL));
	assert_file(c, "secret", "own");
	h_mkdir(c, "n", 0755);
	h_chmod(c, "n", 0777);
	plant_link(c, "../secret", "n/link");
	assert_ok(afile_write(c->dfd, "n/link", "plain", 5, 0, NULL));
	assert_file(c, "secret", "plain");
	/* A link owned by the directory's owner is followed. */
	h_chown(c, "s", H_NOBODY, H_NOBODY);
	assert_ok(afile_write(c->dfd, "s/planted", "dir owner", 9, 0, NULL));
	assert_file(c, "secret", "dir owner");
}

static void
test_regular_planted(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_writer *w = NULL;
	struct afile_txn *t = NULL;
	struct stat st;
	int r;

	prepare(c);
	o.err = &e;
	h_put(c, "s/report", "planted", 7, 0666);
	h_chown(c, "s/report", H_NOBODY, H_NOBODY);
	h_puts(c, "src", "copied");
	assert_err(afile_write(c->dfd, "s/report", "secret", 6, 0, &o),
	    AFILE_EPROTECTED);
	assert_errinfo(&e, AFILE_EPROTECTED);
	assert_int_equal(e.cause, -EACCES);
	assert_step_has(&e, "fs.protected_regular");
	assert_err(afile_writer_open(c->dfd, "s/report", 0, NULL, &w),
	    AFILE_EPROTECTED);
	assert_err(afile_copy(c->dfd, "src", c->dfd, "s/report", 0, NULL),
	    AFILE_EPROTECTED);
	assert_err(afile_patch(c->dfd, "s/report", 0, "x", 1, 0, NULL),
	    AFILE_EPROTECTED);
	assert_ok(afile_txn_begin(c->dfd, "s", 0, NULL, &t));
	r = afile_txn_put(t, "report", "secret", 6, 0);
	if (r == 0)
		r = afile_txn_commit(t);
	assert_err(r, AFILE_EPROTECTED);
	afile_txn_free(t);
	assert_file(c, "s/report", "planted");
	h_lstat(c, "s/report", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_mode(c, "s/report", 0666);
	assert_entries(c, "s", "report", ".atomicfile");

	/* Switched off, the kernel would write into it: so does the library
	 * (and keeps the owner, as in any other directory). */
	fake_regular = 0;
	assert_ok(afile_write(c->dfd, "s/report", "off", 3, 0, NULL));
	assert_file(c, "s/report", "off");
	fake_regular = 1;

	/* Sticky and writable by the group only: protected_regular=2. */
	h_mkdir(c, "g", 0755);
	h_chown(c, "g", 0, H_NOBODY);
	h_chmod(c, "g", 01770);
	h_put(c, "g/f", "g", 1, 0644);
	h_chown(c, "g/f", H_NOBODY, H_NOBODY);
	assert_ok(afile_write(c->dfd, "g/f", "one", 3, 0, NULL));
	fake_regular = 2;
	assert_err(
	    afile_write(c->dfd, "g/f", "two", 3, 0, NULL), AFILE_EPROTECTED);
	assert_file(c, "g/f", "one");
	h_lstat(c, "g/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
}

/* Root editing a user's file outside sticky directories keeps its owner. */
static void
test_nonsticky_keeps_owner(void **state)
{
	struct h_ctx *c = *state;
	struct stat st;

	prepare(c);
	h_mkdir(c, "n", 0755);
	h_chmod(c, "n", 0777);
	h_put(c, "n/f", "user", 4, 0640);
	h_chown(c, "n/f", H_NOBODY, H_NOBODY);
	assert_ok(afile_write(c->dfd, "n/f", "edited", 6, 0, NULL));
	assert_file(c, "n/f", "edited");
	h_lstat(c, "n/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_int_equal(st.st_gid, H_NOBODY);
	assert_mode(c, "n/f", 0640);
	/* So does a file of the directory's owner in a sticky directory. */
	h_chown(c, "s", H_NOBODY, H_NOBODY);
	h_put(c, "s/f", "user", 4, 0640);
	h_chown(c, "s/f", H_NOBODY, H_NOBODY);
	assert_ok(afile_write(c->dfd, "s/f", "edited", 6, 0, NULL));
	h_lstat(c, "s/f", &st);
	assert_int_equal(st.st_uid, H_NOBODY);
	assert_mode(c, "s/f", 0640);
}

static void
test_sidecar_planted(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_lock *l = NULL;

	prepare(c);
	o.err = &e;
	h_puts(c, "s/f", "v");
	/* A FIFO must neither block nor hold the lock. */
	if (mkfifoat(c->dfd, "s/.f.afile-lock", 0666) < 0)
		fail_msg("mkfifo: %s", strerror(errno));
	h_chown(c, "s/.f.afile-lock", H_NOBODY, H_NOBODY);
	assert_err(
	    afile_lock_acquire(c->dfd, "s/f", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    AFILE_ENOTREG);
	assert_err(afile_lock_acquire(c->dfd, "s/f", AFILE_LOCK_SHARED, 0, &l),
	    AFILE_ENOTREG);
	assert_null(l);
	assert_ok(unlinkat(c->dfd, "s/.f.afile-lock", 0));
	/* A symlink must not redirect it. */
	plant_link(c, "../secret", "s/.f.afile-lock");
	assert_err(
	    afile_write(c->dfd, "s/f", "w", 1, AFILE_LOCK, &o), AFILE_ENOTREG);
	assert_string_equal(e.step, "open lock file");
	assert_file(c, "secret", "root only");
	assert_ok(unlinkat(c->dfd, "s/.f.afile-lock", 0));
	/* A planted regular sidecar: its owner could hold or fake the lock. */
	h_put(c, "s/.f.afile-lock", "", 0, 0644);
	h_chown(c, "s/.f.afile-lock", H_NOBODY, H_NOBODY);
	assert_err(
	    afile_lock_acquire(c->dfd, "s/f", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    AFILE_EPROTECTED);
	assert_err(afile_lock_acquire(c->dfd, "s/f", AFILE_LOCK_SHARED, 0, &l),
	    AFILE_EPROTECTED);
	assert_err(afile_write(c->dfd, "s/f", "w", 1, AFILE_LOCK, NULL),
	    AFILE_EPROTECTED);
	assert_file(c, "s/f", "v");
	/* Root's own sidecar works. */
	assert_ok(unlinkat(c->dfd, "s/.f.afile-lock", 0));
	assert_ok(
	    afile_lock_acquire(c->dfd, "s/f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	afile_lock_release(l);
}

static void
test_journal_dir_planted(void **state)
{
	struct h_ctx *c = *state;
	struct afile_recover_report rep = {.size = sizeof(rep)};
	struct afile_txn *t = NULL;
	size_t len = 0;
	void *buf = NULL;
	int rfd;

	prepare(c);
	h_mkdir(c, "s/.atomicfile", 0755);
	h_put(c, "s/.atomicfile/journal", "garbage", 7, 0644);
	h_chown(c, "s/.atomicfile/journal", H_NOBODY, H_NOBODY);
	h_chown(c, "s/.atomicfile", H_NOBODY, H_NOBODY);
	h_puts(c, "s/x", "x");
	assert_err(afile_txn_begin(c->dfd, "s", 0, NULL, &t), AFILE_EPROTECTED);
	assert_null(t);
	assert_err(afile_recover(c->dfd, "s", 0, &rep), AFILE_EPROTECTED);
	assert_entries(c, "s/.atomicfile", "journal");
	/* A reader reads what is there. */
	rfd = openat(c->dfd, "s", O_RDONLY | O_DIRECTORY);
	assert_true(rfd >= 0);
	assert_ok(afile_read(rfd, "x", &buf, &len, 0, NULL));
	assert_int_equal(len, 1);
	free(buf);
	close(rfd);
}

/* The real switch under /proc/sys/fs, set for the test and put back. */
static void
test_real_sysctl(void **state)
{
	struct h_ctx *c = *state;
	char old[16] = "";
	int fd, r;
	ssize_t n;

	prepare(c);
	afile__sys_reset();
	fd = open("/proc/sys/fs/protected_symlinks", O_RDWR);
	if (fd < 0) {
		h_skip("no writable /proc/sys/fs/protected_symlinks");
		return;
	}
	n = read(fd, old, sizeof(old) - 1);
	assert_true(n > 0);
	plant_link(c, "../secret", "s/planted");
	assert_true(pwrite(fd, "1\n", 2, 0) == 2);
	r = afile_write(c->dfd, "s/planted", "evil", 4, 0, NULL);
	assert_true(pwrite(fd, "0\n", 2, 0) == 2);
	if (r == AFILE_EPROTECTED)
		r = afile_write(c->dfd, "s/planted", "off", 3, 0, NULL);
	assert_true(pwrite(fd, old, (size_t)n, 0) == n);
	close(fd);
	assert_err(r, 0);
	assert_file(c, "secret", "off");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_symlink_planted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_regular_planted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_nonsticky_keeps_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_sidecar_planted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_journal_dir_planted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_sysctl, setup, teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
