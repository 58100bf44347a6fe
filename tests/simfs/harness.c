/* SPDX-License-Identifier: MIT */
/*
 * harness.c - record a workload once on simfs, then check every state a
 * power cut could leave at every crash point.
 *
 * Execution before a crash point does not depend on the crash, so one run
 * yields the trace for all of them (no fork, no longjmp).  Crash point p
 * is "power lost after the first p system calls"; p = all of them is the
 * moment the call has returned, where an acknowledged call must be
 * durable.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "harness.h"

struct visit_ctx {
	const struct workload *w;
	const struct simfs_opts *o;
	size_t p, points;
	bool acked;
	bool print;
	const char *tag; /* FAIL, or KILLED for a mutant caught */
};

/* The run being recorded, and its first acknowledged crash point. */
static struct simfs *recording;
static size_t ack_point = SIZE_MAX;

const char *harness_tag;
bool harness_returned;

void
harness_acked(void)
{
	/* The first mark counts: acknowledged stays acknowledged. */
	if (ack_point == SIZE_MAX)
		ack_point = simfs_events(recording);
}

static const char *
mutant_name(enum simfs_mutant m)
{
	return m == SIMFS_MUT_SKIP ? "skip"
	    : m == SIMFS_MUT_DEFER ? "defer"
				   : "none";
}

static int
visit(struct simfs *crashed, size_t index, void *arg)
{
	struct visit_ctx *v = arg;
	const char *why = v->w->check(crashed, v->acked);
	char *tree;

	if (!why)
		return 0;
	if (v->print) {
		tree = simfs_describe_dir(crashed, "d");
		/* The reproducer: everything needed to rebuild this state. */
		printf("%s simfs workload=%s point=%zu/%zu state=%zu "
		       "seed=%" PRIu64 " mutant=%s:%u fault=%zu:%s:%s "
		       "acked=%d: %s; d: %s\n",
		    v->tag, v->w->name, v->p, v->points, index, v->o->seed,
		    mutant_name(v->o->mutant), v->o->mutant_n, v->o->fault_at,
		    !v->o->fault_at         ? "-"
			: v->o->fault_short ? "short"
					    : strerrorname_np(v->o->fault_err),
		    v->o->fault_persist ? "persist" : "once", v->acked, why,
		    tree);
		free(tree);
	}
	return 1;
}

void
run_workload(const struct workload *w, const struct simfs_opts *o,
    bool stop_first, struct result *res)
{
	struct simfs_opts so = *o;
	struct visit_ctx v = {.w = w,
	    .o = o,
	    .tag = o->mutant != SIMFS_MUT_NONE ? "KILLED"
		: harness_tag                  ? harness_tag
					       : "FAIL"};
	struct simfs *fs;
	unsigned int printed = 0;

	so.features = w->features;
	fs = simfs_new(&so);
	w->setup(fs);
	simfs_sync_all(fs);
	recording = fs;
	ack_point = SIZE_MAX;
	simfs_install(fs);
	res->ret = w->run();
	simfs_install(NULL);
	recording = NULL;

	res->faults = simfs_faults(fs);
	res->open_fds = simfs_open_fds(fs);
	res->ncalls = simfs_events(fs);
	for (size_t k = 0; k < res->ncalls && k < 2048; k++)
		res->calls[k] = simfs_event_call(fs, k);
	res->states = res->failures = 0;
	res->syncs = simfs_syncs(fs);
	res->file_syncs = simfs_file_syncs(fs);
	for (unsigned int n = 1; n <= res->syncs && n <= 64; n++) {
		res->sync_is_file[n - 1] = simfs_sync_is_file(fs, n);
		(void)snprintf(res->sync_site[n - 1], sizeof(res->sync_site[0]),
		    "%s", simfs_sync_desc(fs, n));
	}
	v.points = simfs_events(fs);
	res->points = v.points + 1;
	for (v.p = o->fault_at; v.p <= v.points; v.p++) {
		harness_returned = res->ret == 0 && v.p == v.points;
		v.acked = harness_returned || v.p >= ack_point;
		v.print = printed < (stop_first ? 1u : 10u);
		if (simfs_each_state(fs, v.p, visit, &v, &res->states)) {
			res->failures++;
			printed++;
			if (stop_first)
				break;
		}
	}
	harness_returned = false;
	simfs_free(fs);
}
