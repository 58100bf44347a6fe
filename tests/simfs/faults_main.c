/* SPDX-License-Identifier: MIT */
/*
 * faults_main.c - simfs-faults: faults combined with power cuts.
 *
 * For every workload (the single-file operations of workloads.c and the
 * transactions of txn_workloads.c): run it once clean to learn its calls;
 * then, for every call N and every errno of that call's row of the matrix
 * (crash-testing.md §3c), fail call N once, and again persistently (every
 * later call of the same name fails too), and check every crash state at
 * every point from N on, judged by the workload's own invariants (after
 * recovery for transactions).  A failed fsync, fdatasync or syncfs
 * follows Linux's "fsyncgate" behaviour in simfs: what it covered may or
 * may not be on disk and no later sync forces it, so a library that
 * retried a failed sync and went on would publish data that can be lost.
 *
 * Also checked on each run: the fault fired (the numbering is sound); a
 * single EINTR is invisible (the call returns what the clean run did);
 * no descriptor is left open.
 *
 * Each write is also made short (half its bytes), once and from then on:
 * the library must loop, invisibly.
 *
 * Replay one case: simfs_faults WORKLOAD N ERRNO-NAME|short once|persist
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h>

#include "atomicfile.h"
#include "harness.h"

static const int on_open[] = {
    ENOSPC, EDQUOT, EACCES, EROFS, EMFILE, EIO, EINTR, 0};
static const int on_write[] = {ENOSPC, EDQUOT, EIO, EFBIG, EINTR, 0};
static const int on_sync[] = {EIO, ENOSPC, EDQUOT, EROFS, EINTR, 0};
static const int on_name[] = {
    ENOSPC, EDQUOT, EIO, EACCES, EROFS, EMLINK, EINTR, 0};
static const int on_unlink[] = {EIO, EACCES, EROFS, EBUSY, EINTR, 0};
static const int on_mkdir[] = {ENOSPC, EDQUOT, EIO, EINTR, 0};
static const int on_meta[] = {EPERM, EIO, EROFS, EINTR, 0};
static const int on_other[] = {EIO, EINTR, 0};

static const int *
matrix(const char *call)
{
	if (!strcmp(call, "openat"))
		return on_open;
	if (!strcmp(call, "write"))
		return on_write;
	if (!strcmp(call, "fsync") || !strcmp(call, "fdatasync") ||
	    !strcmp(call, "syncfs"))
		return on_sync;
	if (!strcmp(call, "rename") || !strcmp(call, "linkat"))
		return on_name;
	if (!strcmp(call, "unlinkat"))
		return on_unlink;
	if (!strcmp(call, "mkdirat"))
		return on_mkdir;
	if (!strcmp(call, "fchmod") || !strcmp(call, "fchown"))
		return on_meta;
	return on_other;
}

static uint64_t runs, states, syncfaults;

/* One fault run: 0 if every check held. */
static int
one(const struct workload *w, int clean_ret, size_t n, const char *call,
    int err, bool persist, bool shrt)
{
	struct simfs_opts o = {.seed = 0x5eed,
	    .fault_at = n,
	    .fault_err = err,
	    .fault_persist = persist,
	    .fault_short = shrt};
	const char *spec = shrt ? "short" : strerrorname_np(err);
	struct result res;
	int bad = 0;

	run_workload(w, &o, false, &res);
	runs++;
	states += res.states;
	if (!strcmp(call, "fsync") || !strcmp(call, "fdatasync") ||
	    !strcmp(call, "syncfs"))
		syncfaults++;
	if (res.failures)
		bad = 1; /* the harness printed the state */
	if (!res.faults) {
		printf("FAIL simfs-faults workload=%s fault=%zu:%s:%s: the "
		       "fault never fired (call %zu is %s in the clean run)\n",
		    w->name, n, spec, persist ? "persist" : "once", n, call);
		bad = 1;
	}
	if (((err == EINTR && !persist) || shrt) && res.ret != clean_ret) {
		printf("FAIL simfs-faults workload=%s fault=%zu:%s:%s: "
		       "%s at %s was not invisible: %s instead of %s\n",
		    w->name, n, spec, persist ? "persist" : "once",
		    shrt ? "a short write" : "an EINTR", call,
		    afile_err_name(res.ret), afile_err_name(clean_ret));
		bad = 1;
	}
	if (res.open_fds) {
		printf("FAIL simfs-faults workload=%s fault=%zu:%s:%s: %zu "
		       "descriptor(s) left open after %s failed\n",
		    w->name, n, spec, persist ? "persist" : "once",
		    res.open_fds, call);
		bad = 1;
	}
	if (bad)
		printf("  replay: simfs_faults %s %zu %s %s\n", w->name, n,
		    spec, persist ? "persist" : "once");
	return bad;
}

static int
sweep(const struct workload *w)
{
	static struct result clean;
	int bad = 0;

	run_workload(w, &(struct simfs_opts){.seed = 0x5eed}, false, &clean);
	if (clean.ret || clean.failures) {
		printf("FAIL simfs-faults workload=%s: the clean run is not "
		       "clean (%s)\n",
		    w->name, afile_err_name(clean.ret));
		return 1;
	}
	for (size_t n = 1; n <= clean.ncalls && n <= 2048; n++) {
		const char *call = clean.calls[n - 1];

		for (const int *e = matrix(call); *e; e++) {
			bad |= one(w, clean.ret, n, call, *e, false, false);
			/* A persistent EINTR only spins the retry bound. */
			if (*e != EINTR)
				bad |=
				    one(w, clean.ret, n, call, *e, true, false);
		}
		if (!strcmp(call, "write")) {
			bad |= one(w, clean.ret, n, call, EIO, false, true);
			bad |= one(w, clean.ret, n, call, EIO, true, true);
		}
	}
	return bad;
}

static int
errno_of(const char *name)
{
	for (int e = 1; e < 200; e++)
		if (strerrorname_np(e) && !strcmp(strerrorname_np(e), name))
			return e;
	return 0;
}

/*
 * Left out of the default sweep (CI time; run them by name): the FUSE
 * variants (25-70 s each, the same code as their ext4 twins but for the
 * per-file syncs), write-replace-data (write-replace's code with one
 * sync less), txn-abandoned and txn-commit-refused (100+ s each: ctest
 * runs them as simfs-faults-abandoned and -refused, beside the main
 * sweep), txn-puts-twice and txn-puts-then-write (two calls each, so
 * several times txn-2puts; simfs-txn checks them without faults, with
 * every sync mutated), and the in-place patch's recover, no-boot-id,
 * checkpoint and patcher variants (40-220 s: the first patch's unsynced
 * writes stay pending across the second).  Run those four by hand before
 * changing inplace.c: on 2026-12-07 the checkpoint variant found a lost
 * acknowledged patch (a "durable" marker of a patch without boot id
 * trusted after a cut that lost the next "pending") that the default
 * sweep had let through since the marker moved to the sidecar.
 */
static bool
slow(const char *name)
{
	static const char *const v[] = {"write-many-fuse", "txn-2puts-fuse",
	    "txn-put-create-remove-rename-fuse", "update-fuse",
	    "write-replace-data", "txn-abandoned", "txn-commit-refused",
	    "txn-puts-twice", "txn-puts-then-write", "patch-inplace-recover",
	    "patch-inplace-noboot", "patch-inplace-checkpoint",
	    "patch-inplace-patcher"};

	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
		if (!strcmp(v[k], name))
			return true;
	return false;
}

static const struct workload *
find(const char *name)
{
	for (unsigned int i = 0; i < n_workloads; i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	for (unsigned int i = 0; i < n_txn_workloads; i++)
		if (!strcmp(txn_workloads[i].name, name))
			return &txn_workloads[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	int bad = 0;

	if (argc == 5) {
		/* Replay one case. */
		const struct workload *w = find(argv[1]);
		bool shrt = !strcmp(argv[3], "short");
		int err = shrt ? EIO : errno_of(argv[3]);
		static struct result clean;

		if (!w || !err) {
			fprintf(stderr, "unknown workload or errno\n");
			return 2;
		}
		run_workload(
		    w, &(struct simfs_opts){.seed = 0x5eed}, false, &clean);
		printf("calls of the clean run:");
		for (size_t k = 0; k < clean.ncalls && k < 2048; k++)
			printf(" %zu:%s", k + 1, clean.calls[k]);
		printf("\n");
		return one(w, clean.ret, strtoul(argv[2], NULL, 10),
		    clean.calls[strtoul(argv[2], NULL, 10) - 1], err,
		    !strcmp(argv[4], "persist"), shrt);
	}
	/* simfs_faults WORKLOAD: that one's sweep alone (any workload). */
	if (argc == 2 && !find(argv[1])) {
		fprintf(stderr, "unknown workload\n");
		return 2;
	}
	for (unsigned int i = 0; i < n_workloads; i++)
		if (argc == 2 ? !strcmp(argv[1], workloads[i].name)
			      : !slow(workloads[i].name))
			bad |= sweep(&workloads[i]);
	for (unsigned int i = 0; i < n_txn_workloads; i++)
		if (argc == 2 ? !strcmp(argv[1], txn_workloads[i].name)
			      : !slow(txn_workloads[i].name))
			bad |= sweep(&txn_workloads[i]);
	printf("simfs-faults: %" PRIu64 " fault runs (%" PRIu64
	       " of them failing a sync), %" PRIu64
	       " crash states checked after the faults: %s\n",
	    runs, syncfaults, states, bad ? "FAIL" : "ok");
	return bad;
}
