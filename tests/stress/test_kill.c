/* SPDX-License-Identifier: MIT */
/*
 * test_kill.c - a lock dies with its holder, at once.
 *
 * A child takes the exclusive lock and sleeps holding it; the parent sees
 * the lock busy, kills the child with SIGKILL (no handler, no cleanup code
 * runs) and, as soon as waitpid() returns, takes the lock with a single
 * try.  There is no stale lock to detect or break: the kernel released the
 * OFD lock when the child's last descriptor closed.  Also while a child
 * is in the middle of afile_update(), and for a shared lock.
 */
#include "stress.h"

#include <signal.h>

struct holder_arg {
	unsigned int mode;
};

static int
sleeper(struct h_ctx *c, int rd, int wr, void *arg)
{
	const struct holder_arg *a = arg;
	struct afile_lock *l = NULL;
	int r;

	r = afile_lock_acquire(c->dfd, "f", a->mode, -1, &l);
	if (r < 0) {
		fprintf(stderr, "child: lock: %s\n", afile_strerror(r));
		return 1;
	}
	if (s_send(wr) < 0)
		return 1;
	/* Hold it until killed; the parent never writes. */
	(void)s_recv(rd);
	return 3;
}

static void
kill_holder(struct h_ctx *c, unsigned int mode)
{
	struct holder_arg a = {.mode = mode};
	struct afile_lock *l = NULL;
	struct s_child k;
	int status;

	s_spawn(c, &k, sleeper, &a);
	s_wait(&k);
	assert_err(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    -EAGAIN);
	assert_null(l);
	assert_int_equal(kill(k.pid, SIGKILL), 0);
	status = s_reap(&k);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* One try, no waiting: the lock must already be free. */
	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	assert_non_null(l);
	afile_lock_release(l);
}

static void
test_kill_exclusive(void **state)
{
	kill_holder(*state, AFILE_LOCK_EXCLUSIVE);
}

static void
test_kill_shared(void **state)
{
	kill_holder(*state, AFILE_LOCK_SHARED);
}

/* An update callback that stops in the middle, holding the lock. */
static int
stuck(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	const int *fds = ctx;

	(void)old;
	(void)old_len;
	if (afile_writer_write(w, "partial", 7) < 0 || s_send(fds[1]) < 0)
		return -EIO;
	(void)s_recv(fds[0]);
	return -EIO;
}

static int
updater(struct h_ctx *c, int rd, int wr, void *arg)
{
	int fds[2] = {rd, wr};

	(void)arg;
	(void)afile_update(c->dfd, "f", stuck, fds, 0, NULL);
	return 3;
}

static void
test_kill_updater(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_lock *l = NULL;
	struct s_child k;
	int status;

	h_puts(c, "f", "old");
	s_spawn(c, &k, updater, NULL);
	s_wait(&k);
	assert_err(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    -EAGAIN);
	kill(k.pid, SIGKILL);
	status = s_reap(&k);
	assert_true(WIFSIGNALED(status));
	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	afile_lock_release(l);
	/* The half-done update never showed; its O_TMPFILE left nothing. */
	assert_file(c, "f", "old");
	assert_entries(c, ".", "f", ".f.afile-lock");
	/* And the next update takes the lock at the first try. */
	h_puts(c, "f", "41");
	o.lock_wait_ms = AFILE_LOCK_TRY;
	assert_ok(afile_update(c->dfd, "f", s_increment, NULL, 0, &o));
	assert_file(c, "f", "42");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_kill_exclusive, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_kill_shared, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_kill_updater, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
