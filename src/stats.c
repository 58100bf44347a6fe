/* SPDX-License-Identifier: MIT */
/*
 * stats.c - process-wide counters.
 *
 * These counters are the library's only mutable global state.  They are
 * monotonic, updated with relaxed atomic additions (no ordering is needed:
 * each counter is read on its own), and never influence behaviour, so
 * they cannot make one thread's operation depend on another's.
 */
#include <errno.h>
#include <stdatomic.h>

#include "atomicfile.h"
#include "stats.h"

static _Atomic uint64_t counters[AFILE__STAT_COUNT];

void
afile__stat_add(enum afile__stat which, uint64_t n)
{
	atomic_fetch_add_explicit(&counters[which], n, memory_order_relaxed);
}

static uint64_t
get(enum afile__stat which)
{
	return atomic_load_explicit(&counters[which], memory_order_relaxed);
}

int
afile_stats_get(struct afile_stats *ret_stats)
{
	if (!ret_stats || ret_stats->size != sizeof(*ret_stats))
		return -EINVAL;
	ret_stats->ops = get(AFILE__STAT_OPS);
	ret_stats->failures = get(AFILE__STAT_FAILURES);
	ret_stats->bytes_written = get(AFILE__STAT_BYTES_WRITTEN);
	ret_stats->bytes_read = get(AFILE__STAT_BYTES_READ);
	ret_stats->syncs = get(AFILE__STAT_SYNCS);
	ret_stats->dir_syncs = get(AFILE__STAT_DIR_SYNCS);
	ret_stats->retries = get(AFILE__STAT_RETRIES);
	ret_stats->recoveries = get(AFILE__STAT_RECOVERIES);
	ret_stats->sync_ns = get(AFILE__STAT_SYNC_NS);
	return 0;
}
