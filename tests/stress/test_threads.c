/* SPDX-License-Identifier: MIT */
/*
 * test_threads.c - threads of one process, each with its own lock handles.
 *
 * Locks belong to handles (open file descriptions), not to processes, so
 * threads of one process exclude each other exactly as processes do:
 * several threads calling afile_update() on one counter lose no update.
 * Also threads that take afile_lock_acquire() handles themselves around a
 * read and a plain afile_write(), and threads writing distinct files with
 * named temps at once (the signal-cleanup registry is shared by all
 * threads).  These are the tests that give ThreadSanitizer (tsan.sh)
 * something to look at: the library's statistics, its temp registry and
 * everything else a call touches, from several threads at once.
 */
#include "stress.h"

#include <pthread.h>

#define THREADS 4
#define OPS     150

struct worker {
	pthread_t tid;
	struct h_ctx *c;
	int index;
	int failed;
};

static void *
updater(void *arg)
{
	struct worker *wk = arg;

	for (int i = 0; i < OPS && !wk->failed; i++) {
		int r = afile_update(
		    wk->c->dfd, "counter", s_increment, NULL, 0, NULL);

		if (r < 0) {
			fprintf(stderr, "thread %d: update: %s\n", wk->index,
			    afile_strerror(r));
			wk->failed = 1;
		}
	}
	return NULL;
}

/* Read, increment and write back under an explicit lock handle. */
static void *
locker(void *arg)
{
	struct worker *wk = arg;
	int dfd = wk->c->dfd;

	for (int i = 0; i < OPS && !wk->failed; i++) {
		struct afile_lock *l = NULL;
		char *buf = NULL, out[32];
		size_t len = 0;
		int r, n;

		r = afile_lock_acquire(
		    dfd, "counter", AFILE_LOCK_EXCLUSIVE, -1, &l);
		if (r == 0)
			r = afile_read(
			    dfd, "counter", (void **)&buf, &len, 0, NULL);
		if (r == 0) {
			n = snprintf(
			    out, sizeof(out), "%ld", strtol(buf, NULL, 10) + 1);
			r = afile_write(
			    dfd, "counter", out, (size_t)n, 0, NULL);
		}
		free(buf);
		afile_lock_release(l);
		if (r < 0) {
			fprintf(stderr, "thread %d: %s\n", wk->index,
			    afile_strerror(r));
			wk->failed = 1;
		}
	}
	return NULL;
}

/* Each thread its own file, with named temps: the registry is shared. */
static void *
named_writer(void *arg)
{
	struct worker *wk = arg;
	char name[32], data[32];

	snprintf(name, sizeof(name), "file%d", wk->index);
	for (int i = 0; i < OPS && !wk->failed; i++) {
		struct afile_writer *w = NULL;
		int n = snprintf(data, sizeof(data), "%d", i), r;

		r = afile_writer_open(wk->c->dfd, name, 0, NULL, &w);
		if (r == 0)
			r = afile_writer_write(w, data, (size_t)n);
		if (r == 0)
			r = afile_writer_commit(w);
		afile_writer_free(w);
		if (r < 0) {
			fprintf(stderr, "thread %d: %s\n", wk->index,
			    afile_strerror(r));
			wk->failed = 1;
		}
	}
	return NULL;
}

static uint64_t
run_threads(struct h_ctx *c, void *(*fn)(void *))
{
	struct worker wk[THREADS];
	uint64_t t0 = s_now_ns();

	for (int i = 0; i < THREADS; i++) {
		wk[i] = (struct worker){.c = c, .index = i};
		assert_int_equal(
		    pthread_create(&wk[i].tid, NULL, fn, &wk[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(wk[i].tid, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(wk[i].failed, 0);
	return s_now_ns() - t0;
}

static void
test_update_threads(void **state)
{
	struct h_ctx *c = *state;
	uint64_t dt = run_threads(c, updater);
	long v = s_counter_value(c, "counter");

	s_figures("threads/update: %d threads, %d operations, %ld lost "
		  "updates, %.2f s",
	    THREADS, THREADS * OPS, (long)(THREADS * OPS) - v,
	    (double)dt / 1e9);
	assert_int_equal(v, THREADS * OPS);
	assert_entries(c, ".", "counter", ".counter.afile-lock");
}

static void
test_lock_threads(void **state)
{
	struct h_ctx *c = *state;
	uint64_t dt;
	long v;

	h_puts(c, "counter", "0");
	dt = run_threads(c, locker);
	v = s_counter_value(c, "counter");
	s_figures("threads/lock handles: %d threads, %d operations, %ld lost "
		  "updates, %.2f s",
	    THREADS, THREADS * OPS, (long)(THREADS * OPS) - v,
	    (double)dt / 1e9);
	assert_int_equal(v, THREADS * OPS);
}

static void
test_named_threads(void **state)
{
	struct h_ctx *c = *state;
	char want[32];

	s_named_temps();
	(void)run_threads(c, named_writer);
	snprintf(want, sizeof(want), "%d", OPS - 1);
	for (int i = 0; i < THREADS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "file%d", i);
		assert_file(c, name, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_update_threads, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_lock_threads, s_setup, s_teardown),
	    cmocka_unit_test_setup_teardown(
		test_named_threads, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
