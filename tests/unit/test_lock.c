/* SPDX-License-Identifier: MIT */
/*
 * test_lock.c - afile_lock_acquire() and the sidecar locks of src/lock.c
 * when the system answers unusually: a lock that frees up during the
 * wait or fails there, no random source for the backoff's jitter, a
 * sidecar that can only be opened read-only, a sidecar replaced (or
 * gone) between its open and its lock, no memory for the handle.
 *
 * The monotonic clock is virtual (the backoff's sleeps move it and take
 * no time), so the waits cost nothing and assert no timing.
 */
#include "helpers.h"

#include "internal.h"
#include "sys.h"

#define SIDECAR ".f.afile-lock"

static struct {
	uint64_t slept_ns; /* the virtual clock */
	int busy;          /* this many lock attempts answer EAGAIN... */
	int then_err;      /* ...then this error (0: the real lock) */
	int attempts;      /* lock attempts seen */
	bool no_random;    /* getrandom fails */
	int create_err;    /* O_CREAT opens of the sidecar fail with this */
	int stat_gone;     /* this many stats of the sidecar: ENOENT */
	int stat_err;      /* stats of the sidecar fail with this */
	bool malloc_fails; /* the next malloc fails */
} S;

static int
s_fcntl_lock(int fd, int cmd, struct flock *fl)
{
	if (fl->l_type != F_UNLCK) {
		S.attempts++;
		if (S.busy > 0) {
			S.busy--;
			errno = EAGAIN;
			return -1;
		}
		if (S.then_err) {
			errno = S.then_err;
			return -1;
		}
	}
	return afile__sys_default.fcntl_lock(fd, cmd, fl);
}

static ssize_t
s_getrandom(void *buf, size_t n, unsigned int flags)
{
	if (S.no_random) {
		errno = ENOSYS;
		return -1;
	}
	return afile__sys_default.getrandom(buf, n, flags);
}

static int
s_openat(int dfd, const char *path, int flags, mode_t mode)
{
	if (S.create_err && (flags & O_CREAT) && !strcmp(path, SIDECAR)) {
		errno = S.create_err;
		return -1;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
s_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	if (!strcmp(path, SIDECAR)) {
		if (S.stat_gone > 0) {
			S.stat_gone--;
			errno = ENOENT;
			return -1;
		}
		if (S.stat_err) {
			errno = S.stat_err;
			return -1;
		}
	}
	return afile__sys_default.fstatat(dfd, path, st, flags);
}

static void *
s_malloc(size_t n)
{
	if (S.malloc_fails) {
		S.malloc_fails = false;
		return NULL;
	}
	return afile__sys_default.malloc(n);
}

static int
s_clock_gettime(clockid_t clk, struct timespec *ts)
{
	int r = afile__sys_default.clock_gettime(clk, ts);

	if (r == 0 && clk == CLOCK_MONOTONIC) {
		uint64_t ns = (uint64_t)ts->tv_nsec + S.slept_ns % 1000000000u;

		ts->tv_sec +=
		    (time_t)(S.slept_ns / 1000000000u + ns / 1000000000u);
		ts->tv_nsec = (long)(ns % 1000000000u);
	}
	return r;
}

static int
s_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)rem;
	S.slept_ns +=
	    (uint64_t)req->tv_sec * 1000000000u + (uint64_t)req->tv_nsec;
	return 0;
}

static int
setup(void **state)
{
	memset(&S, 0, sizeof(S));
	afile__sys.fcntl_lock = s_fcntl_lock;
	afile__sys.getrandom = s_getrandom;
	afile__sys.openat = s_openat;
	afile__sys.fstatat = s_fstatat;
	afile__sys.malloc = s_malloc;
	afile__sys.clock_gettime = s_clock_gettime;
	afile__sys.nanosleep = s_nanosleep;
	return h_setup(state);
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

/* Is "f"'s sidecar free for an exclusive lock now? */
static bool
lock_free(struct h_ctx *c)
{
	struct afile_lock *l;
	int r = afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l);

	if (r == 0)
		afile_lock_release(l);
	return r == 0;
}

/* The wait: a lock that frees up, one that fails, one that never does. */
static void
test_wait(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;

	S.busy = 3;
	assert_ok(
	    afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 1000, &l));
	assert_non_null(l);
	assert_int_equal(S.attempts, 4);
	assert_true(S.slept_ns > 0 && S.slept_ns < 1000000000u);
	afile_lock_release(l);
	/* Busy, then an error that is not "held": that error, at once. */
	S.busy = 2;
	S.then_err = ENOLCK;
	l = NULL;
	assert_err(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_SHARED, 1000, &l),
	    -ENOLCK);
	assert_null(l);
	/* Never free, and no random source for the jitter: the deadline. */
	S.then_err = 0;
	S.busy = 1000000;
	S.no_random = true;
	S.slept_ns = 0;
	S.attempts = 0;
	assert_err(
	    afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 50, &l),
	    -ETIMEDOUT);
	assert_null(l);
	assert_true(S.attempts > 2 && S.slept_ns > 0); /* it did wait */
	S.busy = 0;
	assert_true(lock_free(c));
	assert_entries(c, ".", SIDECAR);
}

/* A sidecar that cannot be created or written: shared locks still work. */
static void
test_read_only_sidecar(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL, *l2 = NULL;
	int errs[] = {EROFS, EACCES};

	assert_true(lock_free(c)); /* the sidecar exists from here */
	for (size_t i = 0; i < 2; i++) {
		S.create_err = errs[i];
		assert_ok(
		    afile_lock_acquire(c->dfd, "f", AFILE_LOCK_SHARED, 0, &l));
		assert_ok(
		    afile_lock_acquire(c->dfd, "f", AFILE_LOCK_SHARED, 0, &l2));
		afile_lock_release(l2);
		/* An exclusive lock needs it open for writing. */
		assert_err(afile_lock_acquire(
			       c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l2),
		    -errs[i]);
		assert_null(l2);
		S.create_err = 0;
		/* The shared lock from the read-only open does exclude. */
		assert_false(lock_free(c));
		afile_lock_release(l);
		assert_true(lock_free(c));
	}
	assert_entries(c, ".", SIDECAR);
}

/* Invariant 1: the locked sidecar must still be the one by its name. */
static void
test_sidecar_replaced(void **state)
{
	struct h_ctx *c = *state;
	struct afile_lock *l = NULL;

	/* Gone once after the lock: opened and locked again. */
	S.stat_gone = 1;
	assert_ok(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l));
	assert_int_equal(S.attempts, 2);
	afile_lock_release(l);
	/* Gone every time: give up rather than loop. */
	S.stat_gone = 1000;
	l = NULL;
	assert_err(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    -ENOLCK);
	assert_null(l);
	S.stat_gone = 0;
	/* It cannot be checked: an error, nothing held. */
	S.stat_err = EIO;
	assert_err(
	    afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l), -EIO);
	assert_null(l);
	S.stat_err = 0;
	assert_true(lock_free(c));
	/* No memory for the handle: nothing held either. */
	S.malloc_fails = true;
	assert_err(afile_lock_acquire(c->dfd, "f", AFILE_LOCK_EXCLUSIVE, 0, &l),
	    -ENOMEM);
	assert_null(l);
	assert_true(lock_free(c));
	assert_entries(c, ".", SIDECAR);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_wait),
	    T(test_read_only_sidecar),
	    T(test_sidecar_replaced),
	};
#undef T

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
