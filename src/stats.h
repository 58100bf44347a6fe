/* SPDX-License-Identifier: MIT */
/*
 * stats.h - process-wide counters behind afile_stats_get().
 */
#ifndef AFILE_STATS_H
#define AFILE_STATS_H

#include <stdint.h>

#include "sys.h"

enum afile__stat {
	AFILE__STAT_OPS,
	AFILE__STAT_FAILURES,
	AFILE__STAT_BYTES_WRITTEN,
	AFILE__STAT_BYTES_READ,
	AFILE__STAT_SYNCS,
	AFILE__STAT_DIR_SYNCS,
	AFILE__STAT_RETRIES,
	AFILE__STAT_RECOVERIES,
	AFILE__STAT_SYNC_NS,
	AFILE__STAT_COUNT
};

AFILE_HIDDEN void afile__stat_add(enum afile__stat which, uint64_t n);

#endif /* AFILE_STATS_H */
