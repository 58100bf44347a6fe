/* SPDX-License-Identifier: MIT */
/*
 * patch.c - afile_patch() and afile_patchv(): check the ranges, then
 * change them in place behind a redo log (AFILE_INPLACE, inplace.c)
 * or in a copy of the file that replaces it (ops.c).
 *
 * Invariants:
 *   1. Every argument is checked before anything is opened: a bad range
 *      changes nothing and names the path.
 *   2. This file only chooses; each protocol lives beside its recovery
 *      (inplace.c) or beside the other one-shot operations (ops.c), and
 *      the read path of ops.c uses inplace.c's cooperating open, so the
 *      choice sits above both.
 */
#include <errno.h>

#include "internal.h"

int
afile_patchv(int dirfd, const char *path, const struct afile_range *ranges,
    size_t n, unsigned int flags, const struct afile_opts *opts)
{
	unsigned int allowed = (flags & AFILE_INPLACE)
	    ? AFILE_INPLACE | AFILE_NOFOLLOW | AFILE_LOCK
	    : AFILE_NOFOLLOW | AFILE_BREAK_HARDLINKS | AFILE_OWNER_BEST_EFFORT |
		AFILE_LOCK;
	struct afile__op op;
	int r;

	r = afile__op_init(&op, flags, allowed, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	if ((!ranges && n) || n > AFILE__PATCH_MAX_RANGES || !path)
		return afile__op_done(
		    &op, afile__fail(&op, -EINVAL, "check arguments", path));
	for (size_t i = 0; i < n; i++) {
		if (!ranges[i].buf && ranges[i].len)
			return afile__op_done(&op,
			    afile__fail(&op, -EINVAL, "check arguments", path));
		if (ranges[i].offset > (uint64_t)INT64_MAX - ranges[i].len)
			return afile__op_done(&op,
			    afile__fail(&op, -EFBIG, "check arguments", path));
	}
	if (flags & AFILE_INPLACE)
		return afile__op_done(&op,
		    afile__inplace_patch(&op, dirfd, path, ranges, n, flags));
	return afile__op_done(
	    &op, afile__patch_copy(&op, dirfd, path, ranges, n, flags));
}

int
afile_patch(int dirfd, const char *path, uint64_t offset, const void *buf,
    size_t len, unsigned int flags, const struct afile_opts *opts)
{
	const struct afile_range rg = {
	    .offset = offset, .buf = buf, .len = len};

	return afile_patchv(dirfd, path, &rg, 1, flags, opts);
}
