/* SPDX-License-Identifier: MIT */
/*
 * test_locks.c - lock semantics across processes and handles.
 *
 * Timeouts (only their lower bound is checked: a machine may be slow, never
 * early), shared and exclusive modes, per-handle exclusion within one
 * process, locks on absent targets and through symlinks, AFILE_LOCK on a
 * one-shot write, afile_update() keeping or aborting, and a lock handed
 * to a child through afile_lock_fd().
 */
#include "stress.h"

#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#define EX AFILE_LOCK_EXCLUSIVE
#define SH AFILE_LOCK_SHARED

/* Try @name once in @mode from a fresh handle; return the result. */
static int
try_lock(struct h_ctx *c, const char *name, unsigned int mode)
{
	struct afile_lock *l = NULL;
	int r = afile_lock_acquire(c->dfd, name, mode, 0, &l);

	if (r == 0)
		afile_lock_release(l);
	else if (l != NULL)
		return -9999; /* a failure must leave *ret_lock NULL */
	return r;
}

static void
test_timeouts(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = (void *)1;
	struct s_child k;
	uint64_t t0, dt;

	s_hold(c, &k, "f", EX);
	t0 = s_now_ns();
	assert_err(afile_lock_acquire(c->dfd, "f", EX, 200, &l), -ETIMEDOUT);
	dt = s_now_ns() - t0;
	assert_null(l);
	s_figures(
	    "lock timeout 200 ms: returned after %.1f ms", (double)dt / 1e6);
	assert_true(dt >= 200u * 1000000u);
	t0 = s_now_ns();
	assert_err(afile_lock_acquire(c->dfd, "f", SH, 1, &l), -ETIMEDOUT);
	assert_true(s_now_ns() - t0 >= 1000000u);
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	assert_err(try_lock(c, "f", SH), -EAGAIN);
	s_release(&k);
	assert_ok(try_lock(c, "f", EX));
}

static void
test_bad_args(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;

	assert_err(afile_lock_acquire(c->dfd, "f", EX, -2, &l), -EINVAL);
	assert_err(afile_lock_acquire(c->dfd, "f", 0, 0, &l), -EINVAL);
	assert_err(afile_lock_acquire(c->dfd, "f", 3, 0, &l), -EINVAL);
	assert_err(afile_lock_acquire(c->dfd, "f", EX, 0, NULL), -EINVAL);
	assert_null(l);
	assert_err(afile_lock_fd(NULL), -EINVAL);
	afile_lock_release(NULL);
}

static void
test_shared_shared(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;
	struct s_child k;

	s_hold(c, &k, "f", SH);
	assert_ok(afile_lock_acquire(c->dfd, "f", SH, 0, &l));
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	afile_lock_release(l);
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	s_release(&k);
	assert_ok(try_lock(c, "f", EX));
}

static void
test_exclusive_blocks_shared(void **state)
{
	struct h_ctx *c = *state;
	struct s_child k;

	s_hold(c, &k, "f", EX);
	assert_err(try_lock(c, "f", SH), -EAGAIN);
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	s_release(&k);
	assert_ok(try_lock(c, "f", SH));
}

/* Check that the lock is busy, then wait for it with @arg's timeout. */
static int
waiter(struct h_ctx *c, int rd, int wr, void *arg)
{
	int timeout = (int)(intptr_t)arg;
	struct afile_lock *l = NULL;
	int r;

	(void)rd;
	r = afile_lock_acquire(c->dfd, "f", EX, 0, &l);
	if (r != -EAGAIN) {
		fprintf(stderr, "waiter: try gave %s, not EAGAIN\n",
		    afile_err_name(r));
		return 1;
	}
	if (s_send(wr) < 0)
		return 1;
	r = afile_lock_acquire(c->dfd, "f", EX, timeout, &l);
	if (r < 0) {
		fprintf(stderr, "waiter: %s\n", afile_strerror(r));
		return 1;
	}
	if (s_send(wr) < 0)
		return 1;
	afile_lock_release(l);
	return 0;
}

/* A waiter gets the lock when the holder lets go: blocking and polling. */
static void
waits_for_release(struct h_ctx *c, int timeout)
{
	struct s_child holder, w;

	s_hold(c, &holder, "f", EX);
	s_spawn(c, &w, waiter, (void *)(intptr_t)timeout);
	s_wait(&w); /* it found the lock busy */
	s_release(&holder);
	s_wait(&w); /* it got it */
	s_reap_ok(&w);
	assert_ok(try_lock(c, "f", EX));
}

static void
test_wait_blocking(void **state)
{
	waits_for_release(*state, -1);
}

static void
test_wait_polling(void **state)
{
	waits_for_release(*state, INT_MAX);
}

static void
test_same_process(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *a = NULL, *b = NULL;

	/* Locks are per handle, not per process: like two processes. */
	assert_ok(afile_lock_acquire(c->dfd, "f", EX, 0, &a));
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	assert_err(try_lock(c, "f", SH), -EAGAIN);
	afile_lock_release(a);
	assert_ok(afile_lock_acquire(c->dfd, "f", SH, 0, &a));
	assert_ok(afile_lock_acquire(c->dfd, "f", SH, 0, &b));
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	afile_lock_release(a);
	assert_err(try_lock(c, "f", EX), -EAGAIN);
	afile_lock_release(b);
	assert_ok(try_lock(c, "f", EX));
}

static void
test_missing_target(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;
	struct s_child k;

	assert_ok(afile_lock_acquire(c->dfd, "nofile", EX, 0, &l));
	assert_false(h_exists(c, "nofile"));
	assert_true(h_exists(c, ".nofile.afile-lock"));
	assert_err(try_lock(c, "nofile", EX), -EAGAIN);
	afile_lock_release(l);
	/* The sidecar is reused, also by another process. */
	s_hold(c, &k, "nofile", EX);
	assert_err(try_lock(c, "nofile", SH), -EAGAIN);
	s_release(&k);
	assert_entries(c, ".", ".nofile.afile-lock");
}

static void
test_symlink(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;
	struct s_child k;

	h_mkdir(c, "sub", 0755);
	h_puts(c, "sub/real", "data");
	h_symlink(c, "sub/real", "link");
	h_symlink(c, "missing", "dangling");
	/* Through the link in this process, the target in another. */
	assert_ok(afile_lock_acquire(c->dfd, "link", EX, 0, &l));
	assert_true(h_exists(c, "sub/.real.afile-lock"));
	assert_false(h_exists(c, ".link.afile-lock"));
	assert_err(try_lock(c, "sub/real", SH), -EAGAIN);
	afile_lock_release(l);
	s_hold(c, &k, "sub/real", EX);
	assert_err(try_lock(c, "link", EX), -EAGAIN);
	s_release(&k);
	/* A dangling link locks the name it points to. */
	assert_ok(afile_lock_acquire(c->dfd, "dangling", SH, 0, &l));
	assert_err(try_lock(c, "missing", EX), -EAGAIN);
	afile_lock_release(l);
	assert_false(h_exists(c, "missing"));
	assert_entries(
	    c, ".", "sub", "link", "dangling", ".missing.afile-lock");
	assert_entries(c, "sub", "real", ".real.afile-lock");
}

static void
assert_unchanged(struct h_ctx *c, const struct stat *before)
{
	struct stat st;

	h_lstat(c, "f", &st);
	assert_int_equal(st.st_ino, before->st_ino);
	assert_file(c, "f", "old");
}

static void
locked_write(struct h_ctx *c)
{
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo e;
	struct s_child k;
	struct stat before;
	uint64_t t0;

	o.err = &e;
	h_puts(c, "f", "old");
	h_lstat(c, "f", &before);
	s_hold(c, &k, "f", EX);

	o.lock_wait_ms = AFILE_LOCK_TRY;
	assert_err(afile_write(c->dfd, "f", "new", 3, AFILE_LOCK, &o), -EAGAIN);
	assert_errinfo(&e, -EAGAIN);
	assert_unchanged(c, &before);

	o.lock_wait_ms = 100;
	t0 = s_now_ns();
	assert_err(
	    afile_write(c->dfd, "f", "new", 3, AFILE_LOCK, &o), -ETIMEDOUT);
	assert_true(s_now_ns() - t0 >= 100u * 1000000u);
	assert_unchanged(c, &before);

	o.lock_wait_ms = AFILE_LOCK_TRY;
	assert_err(
	    afile_update(c->dfd, "f", s_increment, NULL, 0, &o), -EAGAIN);
	assert_unchanged(c, &before);
	assert_int_equal(s_count_temps(c, "f", NULL, 0), 0);

	/* The lock is advisory: a write without AFILE_LOCK goes through. */
	assert_ok(afile_write(c->dfd, "f", "new", 3, 0, NULL));
	assert_file(c, "f", "new");
	s_release(&k);
	o.lock_wait_ms = AFILE_LOCK_TRY;
	assert_ok(afile_write(c->dfd, "f", "newer", 5, AFILE_LOCK, &o));
	assert_file(c, "f", "newer");
}

static void
test_locked_write(void **state)
{
	locked_write(*state);
}

static void
test_locked_write_named(void **state)
{
	s_named_temps();
	locked_write(*state);
}

static int
keep(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)ctx;
	(void)old;
	(void)old_len;
	/* What was written before KEEP must not be published either. */
	if (afile_writer_write(w, "ignored", 7) < 0)
		return -EIO;
	return AFILE_UPDATE_KEEP;
}

static int
abort_with(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)old;
	(void)old_len;
	if (afile_writer_write(w, "partial", 7) < 0)
		return -EIO;
	return *(const int *)ctx;
}

static void
update_keep_abort(struct h_ctx *c)
{
	struct stat before, st;
	int code = -EBADMSG, big = 2;

	h_puts(c, "f", "old");
	h_lstat(c, "f", &before);
	assert_ok(afile_update(c->dfd, "f", keep, NULL, 0, NULL));
	h_lstat(c, "f", &st);
	assert_int_equal(st.st_ino, before.st_ino);
	assert_int_equal(st.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	assert_file(c, "f", "old");

	assert_err(
	    afile_update(c->dfd, "f", abort_with, &code, 0, NULL), -EBADMSG);
	assert_unchanged(c, &before);
	assert_int_equal(s_count_temps(c, "f", NULL, 0), 0);
	assert_err(
	    afile_update(c->dfd, "f", abort_with, &big, 0, NULL), -EINVAL);
	assert_unchanged(c, &before);

	/* KEEP or an abort on an absent file creates nothing. */
	assert_ok(afile_update(c->dfd, "g", keep, NULL, 0, NULL));
	assert_err(
	    afile_update(c->dfd, "g", abort_with, &code, 0, NULL), -EBADMSG);
	assert_false(h_exists(c, "g"));
	assert_entries(c, ".", "f", ".f.afile-lock", ".g.afile-lock");
	/* And the lock was released every time. */
	assert_ok(try_lock(c, "f", EX));
	assert_ok(try_lock(c, "g", EX));
}

static void
test_update_keep_abort(void **state)
{
	update_keep_abort(*state);
}

static void
test_update_keep_abort_named(void **state)
{
	s_named_temps();
	update_keep_abort(*state);
}

static int
inheritor(struct h_ctx *c, int rd, int wr, void *arg)
{
	(void)c;
	(void)arg;
	/* Hold the inherited descriptor until told to exit. */
	if (s_send(wr) < 0)
		return 1;
	(void)s_recv(rd);
	return 0;
}

static void
test_fd_inherited_by_fork(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;
	struct s_child k;

	assert_ok(afile_lock_acquire(c->dfd, "f", EX, 0, &l));
	assert_true(afile_lock_fd(l) >= 0);
	s_spawn(c, &k, inheritor, NULL);
	s_wait(&k);
	afile_lock_release(l);
	/* The child's copy of the descriptor still carries the lock. */
	assert_err(try_lock(c, "f", SH), -EAGAIN);
	s_release(&k);
	assert_ok(try_lock(c, "f", EX));
}

static int
exec_sleep(struct h_ctx *c, int rd, int wr, void *arg)
{
	(void)c;
	(void)rd;
	(void)wr;
	(void)arg;
	/* The pipes are close-on-exec: the parent sees EOF once exec ran. */
	execlp("sleep", "sleep", "100000", (char *)NULL);
	perror("exec sleep");
	return 127;
}

/* Hand the lock to an exec()ed child, as flock(1) does, or not. */
static void
lock_across_exec(struct h_ctx *c, bool inherit)
{
	struct afile_lock *l = NULL;
	struct s_child k;
	char b;
	int fd, fl, status;

	assert_ok(afile_lock_acquire(c->dfd, "f", EX, 0, &l));
	fd = afile_lock_fd(l);
	fl = fcntl(fd, F_GETFD);
	/* The library opens every descriptor close-on-exec. */
	assert_true(fl >= 0 && (fl & FD_CLOEXEC));
	if (inherit)
		assert_int_equal(fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC), 0);
	s_spawn(c, &k, exec_sleep, NULL);
	assert_int_equal(read(k.rd, &b, 1), 0);
	afile_lock_release(l);
	if (inherit)
		assert_err(try_lock(c, "f", EX), -EAGAIN);
	else
		assert_ok(try_lock(c, "f", EX));
	kill(k.pid, SIGKILL);
	status = s_reap(&k);
	/* It was sleep that died, not a child that failed to exec. */
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_ok(try_lock(c, "f", EX));
}

static void
test_fd_inherited_by_exec(void **state)
{
	lock_across_exec(*state, true);
}

static void
test_fd_cloexec(void **state)
{
	lock_across_exec(*state, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timeouts, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_args, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_shared_shared, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_exclusive_blocks_shared, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_wait_blocking, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_wait_polling, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_same_process, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_missing_target, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(test_symlink, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_locked_write, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_locked_write_named, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_update_keep_abort, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_update_keep_abort_named, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_fd_inherited_by_fork, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_fd_inherited_by_exec, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_fd_cloexec, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
