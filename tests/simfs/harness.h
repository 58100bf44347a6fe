/* SPDX-License-Identifier: MIT */
/*
 * harness.h - run a workload on simfs once, then check every crash state.
 */
#ifndef AFILE_TEST_SIMFS_HARNESS_H
#define AFILE_TEST_SIMFS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "simfs.h"

/*
 * A workload: @setup builds the initial tree (made durable before the
 * run), @run makes one library call, @check judges one crash state and
 * returns NULL or what is wrong.  @acked: the call had returned 0 before
 * the crash, so its result must be durable.
 */
struct workload {
	const char *name;
	unsigned int features; /* SIMFS_NO_* */
	bool mutate;           /* part of the mutation self-test */
	/*
	 * A known library bug this workload exposes (reported, not fixed
	 * here): its violations are expected, and its passing is an error,
	 * so that the mark is removed with the fix.
	 */
	const char *finding;
	void (*setup)(struct simfs *fs);
	int (*run)(void);
	const char *(*check)(struct simfs *crashed, bool acked);
};

extern const struct workload workloads[];
extern const unsigned int n_workloads;

/* Transactions (txn_workloads.c); their checks run afile_recover() first. */
extern const struct workload txn_workloads[];
extern const unsigned int n_txn_workloads;
/* Set: the transaction checks skip recovery (a blindness self-test). */
extern bool txn_skip_recovery;

struct result {
	int ret;           /* what the library call returned */
	uint64_t states;   /* crash states checked */
	uint64_t points;   /* crash points */
	uint64_t failures; /* crash points with a violating state */
	unsigned int syncs;
	unsigned int file_syncs;
	bool sync_is_file[64];
	char sync_site[64][96]; /* simfs_sync_desc() of each */
	unsigned int faults;    /* injected (o->fault_at) */
	size_t open_fds;        /* descriptors left open by the call */
	size_t ncalls;
	const char *calls[2048]; /* simfs_event_call() of each event */
};

/*
 * Run @w under the mutant or fault in @o (features and seed are taken
 * from @w and @o), check every crash point (from o->fault_at on when a
 * fault is set: the earlier ones are those of the clean run) and print a
 * one-line reproducer for the first violation of each failing point (up to 10);
 * @stop_first ends the run at the first violation (mutation testing).
 */
void run_workload(const struct workload *w, const struct simfs_opts *o,
    bool stop_first, struct result *res);

/*
 * Called by a workload's @run once the call whose result must be durable
 * has returned 0 (a transaction's commit, before its free): every crash
 * point from here on is checked as acknowledged.
 */
void harness_acked(void);

/*
 * While a check runs: the crash point is the end of the run and the run
 * returned 0 (every call of it acknowledged, not only the first).
 */
extern bool harness_returned;

/* Replaces "FAIL" in reproducer lines (a self-test expecting violations). */
extern const char *harness_tag;

#endif
