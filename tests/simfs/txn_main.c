/* SPDX-License-Identifier: MIT */
/*
 * txn_main.c - simfs-txn: the transactions of txn_workloads.c at every
 * crash point, in every legal crash state, judged after recovery; the
 * mutation self-test of the transaction protocol's syncs; and a blind
 * run (recovery skipped) that must see violations.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "harness.h"

#define N_TXN n_txn_workloads

/*
 * Mutation self-test: each sync call of each workload is dropped in turn
 * (SIMFS_MUT_SKIP), and some crash state must then violate the
 * invariants.  The sync is named by simfs_sync_desc() (what it synced,
 * numbered when repeated), so that the list of explained survivors below
 * names protocol steps, not call indexes.  An unexplained survivor, or a
 * listed one that is killed, fails the test: the list stays true.
 */
static const struct {
	const char *workload, *site, *why;
} survivors[] = {
    /*
     * The retire: the journal's unlink made durable.  Without it a
     * journal can come back, and recovery redoes what is already done;
     * only a later call that undoes the change can see that, which
     * txn-rename-then-move-back does (its only mutant, and killed).
     * A journal of puts only is retired without it (src/txn.c,
     * invariant 2; txn-puts-twice and txn-puts-then-write check that).
     */
    {"txn-put-create-remove-rename", "fsync dir d/.atomicfile #3",
	"the retire; killed in txn-rename-then-move-back"},
    /*
     * A commit refused at its checks (step 2) after the staged files were
     * synced (step 1): they are only ever removed, so their sync is not
     * needed there.
     */
    {"txn-commit-refused", "syncfs",
	"the staged files' sync before a commit its checks refuse"},
    {"txn-put-create-remove-rename-fuse", "fsync dir d/.atomicfile #3",
	"the retire; killed in txn-rename-then-move-back"},
    {"txn-recover-redo", "fsync dir d/.atomicfile",
	"the retire; killed in txn-rename-then-move-back"},
    /*
     * The destination directory of a cross-directory rename when
     * nothing else changed in it: the model makes a rename durable with
     * a sync of either directory (crash-testing.md §2.3 rule 2, as
     * journaled file systems commit it in one transaction), so the
     * source directory's sync covers it.  Kept: POSIX does not promise
     * that.
     */
    {"txn-put-create-remove-rename", "fsync dir d/sub",
	"equivalent in the model: a rename is durable with either "
	"directory"},
    {"txn-put-create-remove-rename-fuse", "fsync dir d/sub",
	"equivalent in the model: a rename is durable with either "
	"directory"},
};

#define N_SURVIVORS (sizeof(survivors) / sizeof(survivors[0]))

/*
 * txn-rename-then-move-back exists for the retire's sync: its checks
 * cannot tell the state before the transaction from the last one, so
 * only that site is mutated there.
 */
#define RETIRE_ONLY "fsync dir d/.atomicfile #2"

static const char *
explained(const char *workload, const char *site)
{
	for (size_t k = 0; k < N_SURVIVORS; k++)
		if (!strcmp(workload, survivors[k].workload) &&
		    !strcmp(site, survivors[k].site))
			return survivors[k].why;
	return NULL;
}

static int
mutation(const struct simfs_opts *o)
{
	unsigned int killed = 0, mutants = 0, kept = 0;
	int bad = 0;

	for (unsigned int i = 0; i < N_TXN; i++) {
		const struct workload *w = &txn_workloads[i];
		struct result res;

		run_workload(w, o, true, &res);
		/* "Use syncfs on FUSE" (issue 9) must be caught. */
		if (w->features & SIMFS_FUSE) {
			struct simfs_opts m = *o;
			struct result mr;

			m.mutant = SIMFS_MUT_TRUST_SYNCFS;
			run_workload(w, &m, true, &mr);
			mutants++;
			killed += mr.failures != 0;
			if (!mr.failures) {
				printf("FAIL simfs-txn mutation: workload=%s "
				       "mutant=trust-syncfs: trusting syncfs "
				       "on FUSE goes unnoticed\n",
				    w->name);
				bad = 1;
			}
		}
		for (unsigned int n = 1; n <= res.syncs && n <= 64; n++) {
			const char *site = res.sync_site[n - 1];
			const char *why = explained(w->name, site);
			struct simfs_opts m = *o;
			struct result mr;

			if (!strcmp(w->name, "txn-rename-then-move-back") &&
			    strcmp(site, RETIRE_ONLY))
				continue;
			m.mutant = SIMFS_MUT_SKIP;
			m.mutant_n = n;
			run_workload(w, &m, true, &mr);
			mutants++;
			killed += mr.failures != 0;
			if (mr.failures && why) {
				printf("FAIL simfs-txn mutation: workload=%s "
				       "mutant=skip:%u (\"%s\") is killed now: "
				       "remove it from the survivors list\n",
				    w->name, n, site);
				bad = 1;
			} else if (!mr.failures && !why) {
				printf("FAIL simfs-txn mutation: workload=%s "
				       "mutant=skip:%u: dropping \"%s\" goes "
				       "unnoticed\n",
				    w->name, n, site);
				printf("  replay: simfs_txn %s skip %u\n",
				    w->name, n);
				bad = 1;
			} else if (!mr.failures) {
				printf("survivor workload=%s skip:%u \"%s\": "
				       "%s\n",
				    w->name, n, site, why);
				kept++;
			}
		}
	}
	printf("simfs-txn mutation: %u of %u mutants killed, %u survivors "
	       "explained%s\n",
	    killed, mutants, kept, bad ? " -- FAIL" : "");
	return bad;
}

int
main(int argc, char **argv)
{
	struct simfs_opts o = {.seed = 0x5eed};
	uint64_t total = 0, points = 0;
	int bad = 0;

	/* Replay one mutant: simfs_txn WORKLOAD skip N. */
	for (unsigned int i = 0; argc == 4 && i < N_TXN; i++) {
		struct simfs_opts m = {.seed = o.seed,
		    .mutant = SIMFS_MUT_SKIP,
		    .mutant_n = (unsigned int)strtoul(argv[3], NULL, 10)};
		struct result res;

		if (strcmp(argv[1], txn_workloads[i].name))
			continue;
		run_workload(&txn_workloads[i], &m, true, &res);
		printf("mutant %s: %s\n", res.failures ? "killed" : "SURVIVED",
		    res.sync_site[m.mutant_n - 1 < 64 ? m.mutant_n - 1 : 0]);
		return res.failures ? 0 : 1;
	}
	for (unsigned int i = 0; i < N_TXN; i++) {
		const struct workload *w = &txn_workloads[i];
		struct result res;

		/* Replay: simfs_txn WORKLOAD checks that one alone. */
		if (argc > 1 && strcmp(argv[1], w->name))
			continue;
		run_workload(w, &o, false, &res);
		printf("%-30s ret=%d points=%" PRIu64 " states=%" PRIu64
		       " syncs=%u failing-points=%" PRIu64 "\n",
		    w->name, res.ret, res.points, res.states, res.syncs,
		    res.failures);
		if (res.ret != 0) {
			printf("FAIL simfs workload=%s: the call returned %s\n",
			    w->name, afile_err_name(res.ret));
			bad = 1;
		}
		if (res.failures || res.ret) {
			printf("  replay: simfs_txn %s\n", w->name);
			bad = 1;
		}
		total += res.states;
		points += res.points;
	}
	if (argc > 1)
		return bad;

	bad |= mutation(&o);

	/*
	 * Self-test: without recovery an interrupted transaction must show
	 * (a mix of old and new, or a leftover), else the checks are blind.
	 */
	txn_skip_recovery = true;
	harness_tag = "EXPECTED (self-test, recovery skipped)";
	for (unsigned int i = 0; i < N_TXN; i++) {
		struct result res;

		run_workload(&txn_workloads[i], &o, true, &res);
		if (!res.failures) {
			printf("FAIL simfs workload=%s: no violation without "
			       "recovery: the checks are blind\n",
			    txn_workloads[i].name);
			bad = 1;
		}
	}
	txn_skip_recovery = false;
	harness_tag = NULL;

	printf("simfs-txn: %" PRIu64 " crash states checked at %" PRIu64
	       " crash points: %s\n",
	    total, points, bad ? "FAIL" : "ok");
	return bad;
}
