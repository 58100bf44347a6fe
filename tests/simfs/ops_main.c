/* SPDX-License-Identifier: MIT */
/*
 * ops_main.c - simfs-ops: every single-file operation, every crash point,
 * every legal crash state (sampled above SIMFS_EXHAUSTIVE_MAX pending
 * micro-ops) must satisfy the invariants of workloads.c.
 *
 * Replay one workload: simfs_ops NAME.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "atomicfile.h"
#include "harness.h"

int
main(int argc, char **argv)
{
	struct simfs_opts o = {.seed = 0x5eed};
	uint64_t total = 0, points = 0;
	int bad = 0;

	for (unsigned int i = 0; i < n_workloads; i++) {
		struct result res;

		/* Replay: simfs_ops WORKLOAD runs that one alone. */
		if (argc > 1 && strcmp(argv[1], workloads[i].name))
			continue;
		run_workload(&workloads[i], &o, false, &res);
		printf("%-24s ret=%d points=%" PRIu64 " states=%" PRIu64
		       " syncs=%u failing-points=%" PRIu64 "\n",
		    workloads[i].name, res.ret, res.points, res.states,
		    res.syncs, res.failures);
		if (res.ret != 0) {
			printf("FAIL simfs workload=%s: the call returned %s\n",
			    workloads[i].name, afile_err_name(res.ret));
			bad = 1;
		}
		if (workloads[i].finding) {
			printf("%s simfs workload=%s: known finding: %s\n",
			    res.failures ? "FINDING"
					 : "FAIL (fixed? remove "
					   "the mark)",
			    workloads[i].name, workloads[i].finding);
			if (!res.failures)
				bad = 1;
		} else if (res.failures) {
			bad = 1;
		}
		if (res.failures || res.ret)
			printf("  replay: simfs_ops %s\n", workloads[i].name);
		total += res.states;
		points += res.points;
	}
	printf("simfs-ops: %" PRIu64 " crash states checked at %" PRIu64
	       " crash points: %s\n",
	    total, points, bad ? "FAIL" : "ok");
	return bad;
}
