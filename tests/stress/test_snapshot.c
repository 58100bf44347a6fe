/* SPDX-License-Identifier: MIT */
/*
 * test_snapshot.c - transactions are all or nothing to concurrent readers.
 *
 * A writer process commits transactions that put the same sequence number
 * into two files, "a" and "sub/b", of one root.  Reader processes take
 * afile_txn_snapshot() and read both files: under the snapshot they must
 * always hold the same number (a reader never sees half a transaction),
 * and the numbers must never go backwards.  Meanwhile a third process
 * commits transactions of a counter in the same root, so that the root
 * lock is contended.
 */
#include "stress.h"

#define TXNS    200
#define READERS 2

static long
number(struct h_ctx *c, const char *path)
{
	void *buf = NULL;
	size_t len = 0;
	long v = -1;

	if (afile_read(c->dfd, path, &buf, &len, 0, NULL) == 0)
		v = strtol(buf, NULL, 10);
	free(buf);
	return v;
}

static int
writer(struct h_ctx *c, int rd, int wr, void *arg)
{
	(void)wr;
	(void)arg;
	if (s_recv(rd) < 0)
		return 1;
	for (int i = 1; i <= TXNS; i++) {
		struct afile_txn *t = NULL;
		char num[32];
		int n = snprintf(num, sizeof(num), "%d\n", i);
		int r = afile_txn_begin(c->dfd, ".", 0, NULL, &t);

		if (r == 0)
			r = afile_txn_put(t, "a", num, (size_t)n, 0);
		if (r == 0)
			r = afile_txn_put(t, "sub/b", num, (size_t)n, 0);
		if (r == 0)
			r = afile_txn_commit(t);
		afile_txn_free(t);
		if (r < 0) {
			fprintf(stderr, "txn %d: %s\n", i, afile_strerror(r));
			return 1;
		}
	}
	return 0;
}

static int
reader(struct h_ctx *c, int rd, int wr, void *arg)
{
	long last = 0, reads = 0;

	(void)wr;
	(void)arg;
	if (s_recv(rd) < 0)
		return 1;
	while (last < TXNS) {
		struct afile_lock *l = NULL;
		long a, b;
		int r = afile_txn_snapshot(c->dfd, ".", -1, &l);

		if (r < 0) {
			fprintf(stderr, "snapshot: %s\n", afile_strerror(r));
			return 1;
		}
		a = number(c, "a");
		b = number(c, "sub/b");
		afile_lock_release(l);
		reads++;
		if (a != b || a < last) {
			fprintf(stderr, "snapshot saw a=%ld b=%ld (last %ld)\n",
			    a, b, last);
			return 1;
		}
		last = a;
	}
	fprintf(stderr, "# reader: %ld consistent snapshots\n", reads);
	return 0;
}

static int
counter(struct h_ctx *c, int rd, int wr, void *arg)
{
	(void)wr;
	(void)arg;
	if (s_recv(rd) < 0)
		return 1;
	for (int i = 1; i <= TXNS / 2; i++) {
		struct afile_txn *t = NULL;
		char num[32];
		int n = snprintf(num, sizeof(num), "%d\n", i);
		int r = afile_txn_begin(c->dfd, ".", 0, NULL, &t);

		if (r == 0)
			r = afile_txn_put(t, "count", num, (size_t)n, 0);
		if (r == 0)
			r = afile_txn_commit(t);
		afile_txn_free(t);
		if (r < 0)
			return 1;
	}
	return 0;
}

static void
test_snapshot(void **state)
{
	struct h_ctx *c = *state;
	struct s_child w, k, rd[READERS];

	assert_int_equal(mkdirat(c->dfd, "sub", 0755), 0);
	assert_int_equal(afile_write(c->dfd, "a", "0\n", 2, 0, NULL), 0);
	assert_int_equal(afile_write(c->dfd, "sub/b", "0\n", 2, 0, NULL), 0);
	s_spawn(c, &w, writer, NULL);
	s_spawn(c, &k, counter, NULL);
	for (int i = 0; i < READERS; i++)
		s_spawn(c, &rd[i], reader, NULL);
	s_tell(&w);
	s_tell(&k);
	for (int i = 0; i < READERS; i++)
		s_tell(&rd[i]);
	s_reap_ok(&w);
	s_reap_ok(&k);
	for (int i = 0; i < READERS; i++)
		s_reap_ok(&rd[i]);
	assert_int_equal(number(c, "a"), TXNS);
	assert_int_equal(number(c, "sub/b"), TXNS);
	assert_int_equal(number(c, "count"), TXNS / 2);
	s_figures("snapshot: %d transactions of 2 files, %d readers, no "
		  "torn view",
	    TXNS, READERS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_snapshot, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
