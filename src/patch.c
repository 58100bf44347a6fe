/* SPDX-License-Identifier: MIT */
/*
 * patch.c - afile_patch(), afile_patchv() and the patcher that keeps a
 * file open for many (afile_patcher_*): check the ranges, then change
 * them in place behind a redo log (AFILE_INPLACE, inplace.c) or in a
 * copy of the file that replaces it (ops.c).
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

/* Invariant 1: the ranges, checked before anything is opened. */
static int
check_ranges(struct afile__op *op, const struct afile_range *ranges, size_t n,
    const char *path)
{
	if ((!ranges && n) || n > AFILE__PATCH_MAX_RANGES || !path)
		return afile__fail(op, -EINVAL, "check arguments", path);
	for (size_t i = 0; i < n; i++) {
		if (!ranges[i].buf && ranges[i].len)
			return afile__fail(
			    op, -EINVAL, "check arguments", path);
		if (ranges[i].offset > (uint64_t)INT64_MAX - ranges[i].len)
			return afile__fail(op, -EFBIG, "check arguments", path);
	}
	return 0;
}

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
	if (r == 0)
		r = check_ranges(&op, ranges, n, path);
	if (r < 0)
		return afile__op_done(&op, r);
	if (flags & AFILE_INPLACE)
		return afile__op_done(&op,
		    afile__inplace_patch(&op, dirfd, path, ranges, n, flags));
	return afile__op_done(
	    &op, afile__patch_copy(&op, dirfd, path, ranges, n, flags));
}

int
afile_patcher_open(int dirfd, const char *path, unsigned int flags,
    const struct afile_opts *opts, struct afile_patcher **ret_patcher)
{
	struct afile__op op;
	int r;

	if (ret_patcher)
		*ret_patcher = NULL;
	r = afile__op_init(&op, flags, AFILE_NOFOLLOW, opts);
	if (r == 0 && (!path || !ret_patcher))
		r = afile__fail(&op, -EINVAL, "check arguments", path);
	if (r == 0)
		r = afile__patcher_open(&op, dirfd, path, flags, ret_patcher);
	return afile__op_done(&op, r);
}

int
afile_patcher_patchv(
    struct afile_patcher *p, const struct afile_range *ranges, size_t n)
{
	struct afile__op op;
	int r;

	if (!p)
		return -EINVAL;
	op = *afile__patcher_op(p);
	r = check_ranges(&op, ranges, n, afile__patcher_shown(p));
	if (r == 0)
		r = afile__patcher_patch(&op, p, ranges, n);
	return afile__op_done(&op, r);
}

void
afile_patcher_free(struct afile_patcher *p)
{
	afile__patcher_free(p);
}

int
afile_patch(int dirfd, const char *path, uint64_t offset, const void *buf,
    size_t len, unsigned int flags, const struct afile_opts *opts)
{
	const struct afile_range rg = {
	    .offset = offset, .buf = buf, .len = len};

	return afile_patchv(dirfd, path, &rg, 1, flags, opts);
}
