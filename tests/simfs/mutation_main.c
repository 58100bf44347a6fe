/* SPDX-License-Identifier: MIT */
/*
 * mutation_main.c - simfs-mutation: does the suite catch a broken
 * protocol?  For each workload, every sync call is in turn dropped
 * (SIMFS_MUT_SKIP: it returns 0 and forces nothing), and every file sync
 * is in turn moved after the publication (SIMFS_MUT_DEFER: publish before
 * sync); on a FUSE workload, the library is made to trust syncfs there
 * (SIMFS_MUT_TRUST_SYNCFS, issue 9).  Each such mutant must make at least one
 * crash state violate the invariants; the test passes only at a mutation score
 * of 100%, and only if the unmutated runs are clean (else every mutant would
 * look killed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static unsigned int killed, total;

static const char *
mut_name(enum simfs_mutant m)
{
	return m == SIMFS_MUT_SKIP        ? "skip"
	    : m == SIMFS_MUT_TRUST_SYNCFS ? "trust-syncfs"
					  : "defer";
}

static void
try_mutant(const struct workload *w, enum simfs_mutant m, unsigned int n)
{
	struct simfs_opts o = {.seed = 0x5eed, .mutant = m, .mutant_n = n};
	struct result res;

	run_workload(w, &o, true, &res);
	total++;
	if (res.failures) {
		killed++;
		return;
	}
	printf("SURVIVED simfs workload=%s mutant=%s:%u (%llu states); "
	       "replay: simfs_mutation %s %s %u\n",
	    w->name, mut_name(m), n, (unsigned long long)res.states, w->name,
	    mut_name(m), n);
}

int
main(int argc, char **argv)
{
	struct simfs_opts clean = {.seed = 0x5eed};
	int bad = 0;

	/* Replay one mutant: simfs_mutation WORKLOAD skip|defer N. */
	if (argc == 4) {
		for (unsigned int i = 0; i < n_workloads; i++)
			if (!strcmp(workloads[i].name, argv[1]))
				try_mutant(&workloads[i],
				    !strcmp(argv[2], "defer") ? SIMFS_MUT_DEFER
					: !strcmp(argv[2], "trust-syncfs")
					? SIMFS_MUT_TRUST_SYNCFS
					: SIMFS_MUT_SKIP,
				    (unsigned int)strtoul(argv[3], NULL, 10));
		printf("simfs-mutation: %u/%u killed\n", killed, total);
		return killed == total && total ? 0 : 1;
	}

	for (unsigned int i = 0; i < n_workloads; i++) {
		const struct workload *w = &workloads[i];
		struct result res;

		if (!w->mutate)
			continue;
		run_workload(w, &clean, true, &res);
		if (res.ret != 0 || res.failures) {
			printf(
			    "FAIL simfs workload=%s: unmutated run not clean "
			    "(ret %d)\n",
			    w->name, res.ret);
			bad = 1;
			continue;
		}
		if (!res.syncs) {
			printf("FAIL simfs workload=%s: no sync to mutate\n",
			    w->name);
			bad = 1;
		}
		/*
		 * "Use syncfs on FUSE": trusting it there must be caught,
		 * where syncfs would replace syncs: a batch, several files
		 * synced.  A single file's update syncs that file on any
		 * file system (an equivalent mutant).
		 */
		if ((w->features & SIMFS_FUSE) && res.file_syncs > 1)
			try_mutant(w, SIMFS_MUT_TRUST_SYNCFS, 0);
		for (unsigned int n = 1; n <= res.syncs; n++) {
			try_mutant(w, SIMFS_MUT_SKIP, n);
			/*
			 * FUSE batches sync every temp before the first
			 * publish; a later temp's sync deferred past the
			 * publication leaves more than SIMFS_EXHAUSTIVE_MAX
			 * micro-ops pending, and the sampled states miss the
			 * one bad subset (write-many-fuse defer:2 and :3
			 * survive).  Only the first is mutated there.
			 */
			if (n <= 64 && res.sync_is_file[n - 1] &&
			    (!(w->features & SIMFS_FUSE) || n == 1))
				try_mutant(w, SIMFS_MUT_DEFER, n);
		}
	}
	printf("simfs-mutation: mutation score %u/%u killed%s\n", killed, total,
	    killed == total && !bad ? "" : " -- FAIL");
	return killed == total && total && !bad ? 0 : 1;
}
