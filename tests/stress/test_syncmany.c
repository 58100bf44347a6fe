/* SPDX-License-Identifier: MIT */
/*
 * test_syncmany.c - syncmany.c's pool of sync threads, from several
 * callers at once.
 *
 * Transactions and afile_write_many() make their staged files durable
 * with an fsync each, issued from a pool of threads inside the call
 * (syncmany.c), wherever syncfs is not trusted (FUSE, NFS, ...) or the
 * system holds much dirty data.  Here the syscall table reports 1 GiB of
 * dirty data, so that every batch takes the pool on any file system; the
 * sync entries stay the real ones (with them swapped the pool would run
 * on the caller alone).  Several threads then commit transactions and
 * batches at once: each in its own root, and all of them in one shared
 * root, where their transactions queue on its lock.  Under tsan.sh this
 * gives ThreadSanitizer the pool: workers sharing the item counter and
 * the error slot, the statistics, the callers' state read after the join.
 */
#include "stress.h"

#include <pthread.h>

#include "sys.h"

#define THREADS 3
#define ROUNDS  6
#define FILES   12 /* per transaction and per batch: a pool of 6 */

struct worker {
	pthread_t tid;
	struct h_ctx *c;
	int index;
	int failed;
};

static int
lots_dirty(uint64_t *ret)
{
	*ret = 1024u * 1024u; /* KiB: above syncmany.c's 128 MiB */
	return 0;
}

/* ext4 wherever the test directory is (a tmpfs /tmp always syncfs). */
static int
ext4_magic(int fd, unsigned long *ret)
{
	(void)fd;
	*ret = 0xEF53UL;
	return 0;
}

static void
contents(char *buf, size_t n, int who, int round, int file)
{
	snprintf(buf, n, "thread %d round %d file %d\n", who, round, file);
}

/* One transaction of FILES files under @root; 0 or the error. */
static int
one_txn(struct worker *wk, const char *root, int round)
{
	struct afile_txn *t = NULL;
	char name[32], data[64];
	int r;

	r = afile_txn_begin(wk->c->dfd, root, 0, NULL, &t);
	for (int f = 0; r == 0 && f < FILES; f++) {
		snprintf(name, sizeof(name), "t%d-%02d", wk->index, f);
		contents(data, sizeof(data), wk->index, round, f);
		r = afile_txn_put(t, name, data, strlen(data), 0);
	}
	if (r == 0)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	return r;
}

/* One afile_write_many() of FILES files in the thread's directory. */
static int
one_batch(struct worker *wk, int round)
{
	struct afile_item items[FILES];
	char names[FILES][32], data[FILES][64];

	for (int f = 0; f < FILES; f++) {
		snprintf(names[f], sizeof(names[f]), "w%d/%02d", wk->index, f);
		contents(data[f], sizeof(data[f]), wk->index, round, f);
		items[f] =
		    (struct afile_item){names[f], data[f], strlen(data[f])};
	}
	return afile_write_many(wk->c->dfd, items, FILES, 0, NULL);
}

static void *
committer(void *arg)
{
	struct worker *wk = arg;
	char root[16];

	snprintf(root, sizeof(root), "r%d", wk->index);
	for (int round = 0; round < ROUNDS && !wk->failed; round++) {
		const char *step = "own root";
		int r = one_txn(wk, root, round);

		if (r == 0) {
			step = "shared root";
			r = one_txn(wk, "shared", round);
		}
		if (r == 0) {
			step = "write_many";
			r = one_batch(wk, round);
		}
		if (r < 0) {
			fprintf(stderr, "thread %d round %d: %s: %s\n",
			    wk->index, round, step, afile_strerror(r));
			wk->failed = 1;
		}
	}
	return NULL;
}

static void
test_pool_under_callers(void **state)
{
	struct h_ctx *c = *state;
	struct worker wk[THREADS];
	struct afile_stats before = {.size = sizeof(before)};
	struct afile_stats after = {.size = sizeof(after)};
	char name[32], want[64];

	assert_int_equal(mkdirat(c->dfd, "shared", 0755), 0);
	for (int i = 0; i < THREADS; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		assert_int_equal(mkdirat(c->dfd, name, 0755), 0);
		snprintf(name, sizeof(name), "w%d", i);
		assert_int_equal(mkdirat(c->dfd, name, 0755), 0);
	}
	assert_int_equal(afile_stats_get(&before), 0);
	afile__sys.dirty_kib = lots_dirty;
	afile__sys.fs_magic = ext4_magic;
	for (int i = 0; i < THREADS; i++) {
		wk[i] = (struct worker){.c = c, .index = i};
		assert_int_equal(
		    pthread_create(&wk[i].tid, NULL, committer, &wk[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(wk[i].tid, NULL), 0);
	afile__sys_reset();
	assert_int_equal(afile_stats_get(&after), 0);
	for (int i = 0; i < THREADS; i++)
		assert_false(wk[i].failed);

	/* The last round of everyone, everywhere. */
	for (int i = 0; i < THREADS; i++)
		for (int f = 0; f < FILES; f++) {
			contents(want, sizeof(want), i, ROUNDS - 1, f);
			snprintf(name, sizeof(name), "r%d/t%d-%02d", i, i, f);
			assert_file(c, name, want);
			snprintf(name, sizeof(name), "shared/t%d-%02d", i, f);
			assert_file(c, name, want);
			snprintf(name, sizeof(name), "w%d/%02d", i, f);
			assert_file(c, name, want);
		}
	/*
	 * The pool's path, not one syncfs per batch: at least an fsync per
	 * staged file (syncfs would have been a handful per commit).
	 */
	assert_true(
	    after.syncs - before.syncs >= 3u * THREADS * ROUNDS * FILES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_pool_under_callers, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
