/* SPDX-License-Identifier: MIT */
/*
 * test_counter.c - no lost updates: many processes increment one counter.
 *
 * Eight processes each call afile_update() 200 times on one decimal
 * counter file, all released at once by the parent.  afile_update() holds
 * the target's exclusive lock across the read and the publication, so
 * the final value must be exactly 8 * 200: a single lost update (two
 * processes reading the same value) shows as a smaller number, and a torn
 * file makes the next increment fail with -EBADMSG.
 */
#include "stress.h"

#define PROCS 8
#define OPS   200

static int
incrementer(struct h_ctx *c, int rd, int wr, void *arg)
{
	struct afile_errinfo e;
	struct afile_opts o = AFILE_OPTS_INIT;

	(void)wr;
	(void)arg;
	o.err = &e;
	/* Start together with the others, for the most contention. */
	if (s_recv(rd) < 0)
		return 1;
	for (int i = 0; i < OPS; i++) {
		int r =
		    afile_update(c->dfd, "counter", s_increment, NULL, 0, &o);

		if (r < 0) {
			fprintf(stderr, "update %d: %s (%s %s)\n", i,
			    afile_strerror(r), e.step, e.path);
			return 1;
		}
	}
	return 0;
}

static void
test_counter(void **state)
{
	struct h_ctx *c = *state;
	struct s_child k[PROCS];
	uint64_t t0, t1;
	long v;

	for (int i = 0; i < PROCS; i++)
		s_spawn(c, &k[i], incrementer, NULL);
	t0 = s_now_ns();
	for (int i = 0; i < PROCS; i++)
		s_tell(&k[i]);
	for (int i = 0; i < PROCS; i++)
		s_reap_ok(&k[i]);
	t1 = s_now_ns();
	v = s_counter_value(c, "counter");
	s_figures("counter: %d processes, %d operations, %ld lost updates, "
		  "%.2f s, %.0f updates/s",
	    PROCS, PROCS * OPS, (long)(PROCS * OPS) - v,
	    (double)(t1 - t0) / 1e9,
	    (double)(PROCS * OPS) / ((double)(t1 - t0) / 1e9));
	assert_int_equal(v, PROCS * OPS);
	/* The sidecar stays; nothing else is left. */
	assert_entries(c, ".", "counter", ".counter.afile-lock");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_counter, s_setup, s_teardown),
	};

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
